// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {SCALAR_FIELD, RequestStatus, UnknownRequest, RequestNotOpen, ModelIsRetired} from "../Common.sol";
import {NotProvider, DeadlinePassed, DeadlineNotReached, InvalidProof} from "../Common.sol";
import {IGroth16Verifier} from "../IGroth16Verifier.sol";
import {ModelRegistry} from "../ModelRegistry.sol";
import {PullPayments} from "../PullPayments.sol";

/// @title Trustless retrieval: paid requests over committed corpora, settled by proofs
/// @author zkml-market
/// @notice A corpus is registered by its commitment (a Poseidon commitment to its item hashes)
/// and size. A requester pays for a request naming a model, a corpus and a class. The model's
/// provider answers before the deadline with a Groth16 retrieval proof of (model commitment,
/// corpus commitment, class + 2^32 * returned size, returned-set commitment); a valid proof
/// records the returned set's commitment and size and pays the provider. The requester checks
/// the items delivered off-chain against that commitment. An unanswered request is refunded
/// after its deadline. Money leaves only through `withdraw` (pull payments).
contract RetrievalMarket is PullPayments {
    /// @notice A registered corpus: who registered it, its commitment and its number of items.
    struct Corpus {
        address owner;
        uint256 commitment;
        uint256 size;
    }

    /// @notice A paid retrieval request and, once fulfilled, the returned set's commitment and size.
    struct Request {
        address requester;
        uint40 deadline;
        RequestStatus status;
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
    /// @notice Number of corpora registered so far; ids are 1..corpusCount.
    uint256 public corpusCount;
    /// @notice Number of requests opened so far; ids are 1..requestCount.
    uint256 public requestCount;
    mapping(uint256 => Corpus) private _corpora;
    mapping(uint256 => Request) private _requests;

    /// @notice A corpus needs a commitment below the field and 1..2^32-1 items.
    /// @param commitment the commitment given
    /// @param size the size given
    error BadCorpus(uint256 commitment, uint256 size);
    /// @notice No corpus has this id.
    /// @param corpusId the id asked for
    error UnknownCorpus(uint256 corpusId);
    /// @notice The model names no retrieval verifier.
    /// @param modelId the model
    error RetrievalUnsupported(uint256 modelId);
    /// @notice A request needs a class below 2^32, a non-zero payment and a deadline in the
    /// future that fits 40 bits.
    /// @param class the class given
    /// @param payment the value sent
    /// @param deadline the deadline given
    error BadRequest(uint256 class, uint256 payment, uint256 deadline);
    /// @notice Only the request's requester may do this.
    /// @param requestId the request
    /// @param caller who tried
    error NotRequester(uint256 requestId, address caller);

    /// @notice A corpus was registered.
    /// @param corpusId its id
    /// @param owner who registered it
    /// @param commitment the Poseidon commitment to its item hashes
    /// @param size its number of items
    event CorpusRegistered(uint256 indexed corpusId, address indexed owner, uint256 commitment, uint256 size);
    /// @notice A requester paid for the items of a corpus that a model labels as a class.
    /// @param requestId the new request
    /// @param modelId the model that defines a match
    /// @param corpusId the corpus searched
    /// @param requester who paid
    /// @param class the requested class
    /// @param payment the wei paid
    /// @param deadline unix time after which an unanswered request can be refunded
    event RequestOpened(
        uint256 indexed requestId,
        uint256 indexed modelId,
        uint256 indexed corpusId,
        address requester,
        uint256 class,
        uint256 payment,
        uint256 deadline
    );
    /// @notice A valid retrieval proof answered a request; its payment is now owed to the provider.
    /// @param requestId the request
    /// @param returnedSetCommitment commitment to the returned items
    /// @param returnedSize number of returned items
    event RequestFulfilled(uint256 indexed requestId, uint256 returnedSetCommitment, uint256 returnedSize);
    /// @notice An unanswered request was refunded; its payment is now owed to the requester.
    /// @param requestId the request
    /// @param requester who is owed the payment
    /// @param amount the wei owed back
    event RequestRefunded(uint256 indexed requestId, address indexed requester, uint256 amount);

    /// @notice Deploy a retrieval market over a registry's models.
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
            status: RequestStatus.Open,
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
        if (!IGroth16Verifier(verifier).verifyProof(a, b, c, pub)) revert InvalidProof(requestId);

        r.status = RequestStatus.Fulfilled;
        r.returnedSetCommitment = returnedSetCommitment;
        r.returnedSize = returnedSize;
        _credit(provider, r.payment);
        emit RequestFulfilled(requestId, returnedSetCommitment, returnedSize);
    }

    /// @notice After the deadline the requester takes back the payment of an unanswered request.
    /// @param requestId the open request
    function refund(uint256 requestId) external {
        Request storage r = _open(requestId);
        if (msg.sender != r.requester) revert NotRequester(requestId, msg.sender);
        if (block.timestamp <= r.deadline) revert DeadlineNotReached(requestId, r.deadline);
        r.status = RequestStatus.Refunded;
        _credit(msg.sender, r.payment);
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
        if (r.status == RequestStatus.None) revert UnknownRequest(requestId);
        return r;
    }

    /// @dev The record of an open request (reverts UnknownRequest or RequestNotOpen otherwise).
    function _open(uint256 requestId) private view returns (Request storage r) {
        r = _requests[requestId];
        if (r.status == RequestStatus.None) revert UnknownRequest(requestId);
        if (r.status != RequestStatus.Open) revert RequestNotOpen(requestId, r.status);
    }
}
