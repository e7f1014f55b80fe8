// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {SCALAR_FIELD as BN254_SCALAR_FIELD, NotProvider, ModelIsRetired} from "./Common.sol";
import {IGroth16BatchVerifier} from "./IGroth16BatchVerifier.sol";

/// @title Registry of committed models
/// @author zkml-market
/// @notice A provider registers a model by its commitment (the Poseidon hash of its quantized
/// weights and architecture), names a Groth16 verifier for each statement it can prove, sets a
/// price per prediction, and records the hash of its setup transcript. It may add batch
/// verifiers: one Groth16 proof then answers up to N requests at once. The commitment, the
/// verifiers (batch verifiers included: each of them can settle any request, so a consumer
/// checks them all before it pays) and the transcript never change; the price can, and the
/// model can be retired.
contract ModelRegistry {
    /// @notice The statements a model can be proved to satisfy (index into `verifiers`).
    enum Statement {
        Inference,
        Accuracy,
        Retrieval
    }

    /// @dev openRequest reads one slot, (provider, price, retired, sellsInference); a fulfil
    /// adds (inference verifier) and the commitment.
    /// @notice Everything recorded about a model.
    struct Model {
        address provider;
        uint80 price;
        bool retired;
        bool sellsInference;
        address inferenceVerifier;
        uint256 modelCommitment;
        address accuracyVerifier;
        address retrievalVerifier;
        bytes32 architectureHash;
        bytes32 transcriptHash;
        string metadataURI;
        address[] batchVerifiers;
    }

    /// @notice The largest batch one proof may answer (the settled-status bitmap of a request
    /// group holds 64 entries).
    uint256 public constant MAX_BATCH = 64;
    /// @notice A batch statement's labels are public inputs LABELS_PER_INPUT at a time, each
    /// LABEL_BITS bits wide, the first lowest (prover.circuit.statements.pack_labels).
    uint256 public constant LABELS_PER_INPUT = 15;
    /// @notice Bits of one packed label.
    uint256 public constant LABEL_BITS = 16;

    /// @notice BN254 scalar field order: a commitment is a public input, so it must be below it.
    /// @dev Common.sol's constant, exposed as a getter as before (the getter also keeps the
    /// selector table, and so fulfil's dispatch gas, as it was).
    uint256 public constant SCALAR_FIELD = BN254_SCALAR_FIELD;

    /// @notice Number of models registered so far; model ids are 1..modelCount.
    uint256 public modelCount;
    mapping(uint256 => Model) private _models;
    /// @dev model id => batch size => the verifier of that batch statement
    mapping(uint256 => mapping(uint256 => address)) private _batchVerifiers;

    /// @notice No model has this id.
    /// @param modelId the id asked for
    error UnknownModel(uint256 modelId);
    /// @notice The commitment is not a BN254 scalar field element.
    /// @param modelCommitment the commitment given
    error CommitmentOutOfField(uint256 modelCommitment);
    /// @notice A model must name at least one verifier.
    error NoVerifier();
    /// @notice The address named as a verifier has no code.
    /// @param verifier the address given
    error VerifierNotDeployed(address verifier);
    /// @notice The price does not fit the 80-bit price field.
    /// @param price the price given
    error PriceTooLarge(uint256 price);
    /// @notice A batch verifier's statement is not a batched inference of 2..MAX_BATCH requests
    /// (batchInputCount(N) public inputs), or its batch size is named twice, or the model has no
    /// inference verifier for single requests.
    /// @param verifier the batch verifier given
    /// @param publicInputs the number of public inputs it reports
    error BadBatchVerifier(address verifier, uint256 publicInputs);

    /// @notice A model was registered.
    /// @param modelId the new model
    /// @param provider its provider (the caller)
    /// @param modelCommitment commitment to its quantized weights
    /// @param architectureHash hash of its architecture
    /// @param verifiers its verifier per statement (Inference, Accuracy, Retrieval)
    /// @param batchVerifiers its verifiers of batched inference statements
    /// @param price wei per prediction
    /// @param transcriptHash hash of its setup ceremony transcript
    /// @param metadataURI where its public description lives
    event ModelRegistered(
        uint256 indexed modelId,
        address indexed provider,
        uint256 modelCommitment,
        bytes32 architectureHash,
        address[3] verifiers,
        address[] batchVerifiers,
        uint256 price,
        bytes32 transcriptHash,
        string metadataURI
    );
    /// @notice A model's price per prediction changed.
    /// @param modelId the model
    /// @param oldPrice the price before (wei)
    /// @param newPrice the price now (wei)
    event PriceChanged(uint256 indexed modelId, uint256 oldPrice, uint256 newPrice);
    /// @notice A model was retired.
    /// @param modelId the model
    event ModelRetired(uint256 indexed modelId);

    /// @notice Register a model; the caller becomes its provider.
    /// @param modelCommitment commitment to the quantized weights (a BN254 scalar)
    /// @param architectureHash hash of the model's architecture
    /// @param verifiers verifier per statement (Inference, Accuracy, Retrieval); zero = unsupported
    /// @param batchVerifiers verifiers of batched inference statements (IGroth16BatchVerifier),
    /// at most one per batch size; empty when every proof answers one request
    /// @param price wei per prediction
    /// @param transcriptHash hash of the setup ceremony transcript
    /// @param metadataURI where the model's public description lives
    /// @return modelId the new model's id (ids start at 1)
    function registerModel(
        uint256 modelCommitment,
        bytes32 architectureHash,
        address[3] calldata verifiers,
        address[] calldata batchVerifiers,
        uint256 price,
        bytes32 transcriptHash,
        string calldata metadataURI
    ) external returns (uint256 modelId) {
        if (modelCommitment >= SCALAR_FIELD) revert CommitmentOutOfField(modelCommitment);
        if (price > type(uint80).max) revert PriceTooLarge(price);
        bool any;
        for (uint256 i = 0; i < 3; ++i) {
            if (verifiers[i] == address(0)) continue;
            if (verifiers[i].code.length == 0) revert VerifierNotDeployed(verifiers[i]);
            any = true;
        }
        if (!any) revert NoVerifier();

        modelId = ++modelCount;
        Model storage m = _models[modelId];
        m.provider = msg.sender;
        m.price = uint80(price);
        m.inferenceVerifier = verifiers[uint256(Statement.Inference)];
        m.sellsInference = m.inferenceVerifier != address(0);
        if (batchVerifiers.length != 0) _registerBatchVerifiers(modelId, m, batchVerifiers);
        m.modelCommitment = modelCommitment;
        m.accuracyVerifier = verifiers[uint256(Statement.Accuracy)];
        m.retrievalVerifier = verifiers[uint256(Statement.Retrieval)];
        m.architectureHash = architectureHash;
        m.transcriptHash = transcriptHash;
        m.metadataURI = metadataURI;
        emit ModelRegistered(
            modelId,
            msg.sender,
            modelCommitment,
            architectureHash,
            verifiers,
            batchVerifiers,
            price,
            transcriptHash,
            metadataURI
        );
        _afterRegister(modelId, msg.sender);
    }

    /// @notice Change a model's price per prediction (open requests keep the price they paid).
    /// @param modelId the model
    /// @param newPrice wei per prediction
    function setPrice(uint256 modelId, uint256 newPrice) external {
        Model storage m = _ownModel(modelId);
        if (newPrice > type(uint80).max) revert PriceTooLarge(newPrice);
        uint256 oldPrice = m.price;
        m.price = uint80(newPrice);
        emit PriceChanged(modelId, oldPrice, newPrice);
    }

    /// @notice Retire a model: it takes no new requests; requests already open can still be
    /// fulfilled or refunded.
    /// @param modelId the model
    function retire(uint256 modelId) external {
        Model storage m = _ownModel(modelId);
        if (m.retired) revert ModelIsRetired(modelId);
        m.retired = true;
        emit ModelRetired(modelId);
    }

    /// @notice Everything recorded about a model.
    /// @param modelId the model
    /// @return the model's record
    function model(uint256 modelId) external view returns (Model memory) {
        return _existing(modelId);
    }

    /// @notice The verifier a model names for a statement (zero when unsupported).
    /// @param modelId the model
    /// @param statement which statement
    /// @return the verifier's address
    function verifierFor(uint256 modelId, Statement statement) external view returns (address) {
        Model storage m = _existing(modelId);
        if (statement == Statement.Inference) return m.inferenceVerifier;
        if (statement == Statement.Accuracy) return m.accuracyVerifier;
        return m.retrievalVerifier;
    }

    /// @notice What a marketplace needs to sell and check one prediction, in one call.
    /// @param modelId the model
    /// @return provider who is paid
    /// @return verifier the inference verifier (zero when unsupported)
    /// @return modelCommitment the first public input of every inference proof
    /// @return price wei per prediction
    /// @return retired whether the model takes new requests
    function inferenceTerms(uint256 modelId)
        external
        view
        returns (address provider, address verifier, uint256 modelCommitment, uint256 price, bool retired)
    {
        Model storage m = _existing(modelId);
        return (m.provider, m.inferenceVerifier, m.modelCommitment, m.price, m.retired);
    }

    /// @notice The verifier of a model's batched inference statement of `batchSize` requests
    /// (zero when it has none).
    /// @param modelId the model
    /// @param batchSize requests per proof
    /// @return the verifier's address
    function batchVerifierFor(uint256 modelId, uint256 batchSize) public view returns (address) {
        _existing(modelId);
        return _batchVerifiers[modelId][batchSize];
    }

    /// @notice Public inputs of the batch statement of `batchSize` requests: the model
    /// commitment, the input commitments, the packed labels, the outputs' digest.
    /// @param batchSize requests per proof
    /// @return the count
    function batchInputCount(uint256 batchSize) public pure returns (uint256) {
        return 2 + batchSize + (batchSize + LABELS_PER_INPUT - 1) / LABELS_PER_INPUT;
    }

    /// @dev Record the batch verifiers of a new model, each under the batch size its statement
    /// has (batchInputCount); refuse a size out of range, named twice, or without the
    /// single-request verifier beside it.
    function _registerBatchVerifiers(uint256 modelId, Model storage m, address[] calldata batchVerifiers) private {
        for (uint256 i = 0; i < batchVerifiers.length; ++i) {
            address v = batchVerifiers[i];
            if (v.code.length == 0) revert VerifierNotDeployed(v);
            uint256 inputs = IGroth16BatchVerifier(v).publicInputCount();
            // inputs - 2 = N + ceil(N / 15) lies in [N (1 + 1/15), N (1 + 1/15) + 1): this rounds
            // down to N
            uint256 size = inputs > 1 ? ((inputs - 2) * LABELS_PER_INPUT) / (LABELS_PER_INPUT + 1) : 0;
            bool fits = inputs == batchInputCount(size) && size >= 2 && size <= MAX_BATCH;
            if (!fits || !m.sellsInference || _batchVerifiers[modelId][size] != address(0)) {
                revert BadBatchVerifier(v, inputs);
            }
            _batchVerifiers[modelId][size] = v;
            m.batchVerifiers.push(v);
        }
    }

    /// @dev Hook for a contract built on the registry, run after each registration.
    function _afterRegister(uint256 modelId, address provider) internal virtual {}

    /// @dev A model's first storage slot as one word (zero for an id never registered): what
    /// opening a request reads.
    function _modelWord(uint256 modelId) internal view returns (uint256 word) {
        Model storage m = _models[modelId];
        assembly ("memory-safe") {
            word := sload(m.slot)
        }
    }

    /// @dev The record of an existing model (reverts UnknownModel otherwise).
    function _existing(uint256 modelId) internal view returns (Model storage m) {
        m = _models[modelId];
        if (m.provider == address(0)) revert UnknownModel(modelId);
    }

    /// @dev The record of an existing model of the caller's (reverts NotProvider otherwise).
    function _ownModel(uint256 modelId) private view returns (Model storage m) {
        m = _existing(modelId);
        if (m.provider != msg.sender) revert NotProvider(modelId, msg.sender);
    }
}
