// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ModelRegistry} from "../ModelRegistry.sol";
import {IStatementVerifier} from "./IStatementVerifier.sol";
import {PullPayments} from "./PullPayments.sol";

/// @title Trustless retrieval: paid requests over committed corpora, settled by proofs
/// @notice A corpus is registered by its commitment (a Poseidon commitment to its item hashes)
/// and size. A requester pays for a request naming a model, a corpus and a class. The model's
/// provider answers before the deadline with a Groth16 retrieval proof of (model commitment,
/// corpus commitment, class + 2^32 * returned size, returned-set commitment); a valid proof
/// records the returned set's commitment and size and pays the provider. The requester checks
/// the items delivered off-chain against that commitment. An unanswered request is refunded
/// after its deadline. Money leaves only through `withdraw` (pull payments).
contract RetrievalMarket is PullPayments {
    enum Status {
        None,
        Open,
        Fulfilled,
        Refunded
    }

    struct Corpus {
        address owner;
        uint256 commitment;
        uint256 size;
    }

    struct Request {
        address requester;
        uint40 deadline;
        Status status;
        uint256 modelId;
        uint256 corpusId;
        uint256 class;
        uint256 payment;
        uint256 returnedSetCommitment;
        uint256 returnedSize;
    }

    /// @notice The class fills the low 32 bits of the third public input, the size the rest.
    uint256 public constant CLASS_BITS = 32;

    /// @notice The registry whose models answer requests.
    ModelRegistry public immutable registry;
    uint256 public corpusCount;
    uint256 public requestCount;
    mapping(uint256 => Corpus) private _corpora;
    mapping(uint256 => Request) private _requests;

    error BadCorpus(uint256 commitment, uint256 size);
    error UnknownCorpus(uint256 corpusId);
    error RetrievalUnsupported(uint256 modelId);
    error ModelIsRetired(uint256 modelId);
    error BadRequest(uint256 class, uint256 payment, uint256 deadline);
    error UnknownRequest(uint256 requestId);
    error RequestNotOpen(uint256 requestId, Status status);
    error NotProvider(uint256 modelId, address caller);
    error NotRequester(uint256 requestId, address caller);
    error DeadlinePassed(uint256 requestId, uint256 deadline);
    error DeadlineNotReached(uint256 requestId, uint256 deadline);
    error InvalidProof(uint256 requestId);

    event CorpusRegistered(uint256 indexed corpusId, address indexed owner, uint256 commitment, uint256 size);
    event RequestOpened(
        uint256 indexed requestId,
        uint256 indexed modelId,
        uint256 indexed corpusId,
        address requester,
        uint256 class,
        uint256 payment,
        uint256 deadline
    );
    event RequestFulfilled(uint256 indexed requestId, uint256 returnedSetCommitment, uint256 returnedSize);
    event RequestRefunded(uint256 indexed requestId, address indexed requester, uint256 amount);

    /// @param registry_ the model registry
    constructor(ModelRegistry registry_) {
        registry = registry_;
    }

    /// @notice Register a corpus by its commitment and number of items.
    /// @param commitment Poseidon commitment to the corpus's item hashes, in corpus order
    /// @param size number of items
    /// @return corpusId the new corpus's id (ids start at 1)
    function registerCorpus(uint256 commitment, uint256 size) external returns (uint256 corpusId) {
        if (commitment >= SCALAR_FIELD || size == 0 || size >= 2 ** CLASS_BITS) revert BadCorpus(commitment, size);
        corpusId = ++corpusCount;
        _corpora[corpusId] = Corpus(msg.sender, commitment, size);
        emit CorpusRegistered(corpusId, msg.sender, commitment, size);
    }

    /// @notice Pay (the value sent) for every item of a corpus that a model labels as a class.
    /// @param modelId a model naming a retrieval verifier
    /// @param corpusId a registered corpus
    /// @param class the requested class (below 2^32)
    /// @param deadline unix time after which an unanswered request can be refunded
    /// @return requestId the new request's id (ids start at 1)
    function request(uint256 modelId, uint256 corpusId, uint256 class, uint256 deadline)
        external
        payable
        returns (uint256 requestId)
    {
        if (registry.verifierFor(modelId, ModelRegistry.Statement.Retrieval) == address(0)) {
            revert RetrievalUnsupported(modelId);
        }
        (,,,, bool retired) = registry.inferenceTerms(modelId);
        if (retired) revert ModelIsRetired(modelId);
        if (_corpora[corpusId].owner == address(0)) revert UnknownCorpus(corpusId);
        if (class >= 2 ** CLASS_BITS || msg.value == 0 || deadline <= block.timestamp || deadline > type(uint40).max) {
            revert BadRequest(class, msg.value, deadline);
        }
        requestId = ++requestCount;
        _requests[requestId] = Request({
            requester: msg.sender,
            deadline: uint40(deadline),
            status: Status.Open,
            modelId: modelId,
            corpusId: corpusId,
            class: class,
            payment: msg.value,
            returnedSetCommitment: 0,
            returnedSize: 0
        });
        emit RequestOpened(requestId, modelId, corpusId, msg.sender, class, msg.value, deadline);
    }

    /// @notice Answer a request with a retrieval proof; the payment is then owed to the
    /// model's provider. Only the provider answers (it delivers the items off-chain).
    /// @param requestId the open request
    /// @param a proof point A
    /// @param b proof point B, G2 coordinates as (imaginary, real)
    /// @param c proof point C
    /// @param returnedSetCommitment commitment to the returned items (see prover.circuit.retrieval)
    /// @param returnedSize number of returned items
    function fulfil(
        uint256 requestId,
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256 returnedSetCommitment,
        uint256 returnedSize
    ) external {
        Request storage r = _open(requestId);
        (address provider,, uint256 modelCommitment,,) = registry.inferenceTerms(r.modelId);
        if (msg.sender != provider) revert NotProvider(r.modelId, msg.sender);
        if (block.timestamp > r.deadline) revert DeadlinePassed(requestId, r.deadline);
        Corpus storage corpus = _corpora[r.corpusId];
        if (returnedSize > corpus.size || returnedSetCommitment >= SCALAR_FIELD) revert InvalidProof(requestId);
        address verifier = registry.verifierFor(r.modelId, ModelRegistry.Statement.Retrieval);
        uint256[4] memory pub =
            [modelCommitment, corpus.commitment, r.class + (returnedSize << CLASS_BITS), returnedSetCommitment];
        if (!IStatementVerifier(verifier).verifyProof(a, b, c, pub)) revert InvalidProof(requestId);

        r.status = Status.Fulfilled;
        r.returnedSetCommitment = returnedSetCommitment;
        r.returnedSize = returnedSize;
        owed[provider] += r.payment;
        emit RequestFulfilled(requestId, returnedSetCommitment, returnedSize);
    }

    /// @notice After the deadline the requester takes back the payment of an unanswered request.
    /// @param requestId the open request
    function refund(uint256 requestId) external {
        Request storage r = _open(requestId);
        if (msg.sender != r.requester) revert NotRequester(requestId, msg.sender);
        if (block.timestamp <= r.deadline) revert DeadlineNotReached(requestId, r.deadline);
        r.status = Status.Refunded;
        owed[msg.sender] += r.payment;
        emit RequestRefunded(requestId, msg.sender, r.payment);
    }

    /// @notice A registered corpus.
    /// @param corpusId the corpus
    /// @return the corpus record
    function corpus(uint256 corpusId) external view returns (Corpus memory) {
        if (_corpora[corpusId].owner == address(0)) revert UnknownCorpus(corpusId);
        return _corpora[corpusId];
    }

    /// @notice A request's record.
    /// @param requestId the request
    /// @return the request record
    function requestOf(uint256 requestId) external view returns (Request memory) {
        Request storage r = _requests[requestId];
        if (r.status == Status.None) revert UnknownRequest(requestId);
        return r;
    }

    function _open(uint256 requestId) private view returns (Request storage r) {
        r = _requests[requestId];
        if (r.status == Status.None) revert UnknownRequest(requestId);
        if (r.status != Status.Open) revert RequestNotOpen(requestId, r.status);
    }
}
