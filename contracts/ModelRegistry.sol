// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {SCALAR_FIELD as BN254_SCALAR_FIELD, NotProvider, ModelIsRetired} from "./Common.sol";

/// @title Registry of committed models
/// @author zkml-market
/// @notice A provider registers a model by its commitment (the Poseidon hash of its quantized
/// weights and architecture), names a Groth16 verifier for each statement it can prove, sets a
/// price per prediction, and records the hash of its setup transcript. The commitment, the
/// verifiers and the transcript never change; the price can, and the model can be retired.
contract ModelRegistry {
    /// @notice The statements a model can be proved to satisfy (index into `verifiers`).
    enum Statement {
        Inference,
        Accuracy,
        Retrieval
    }

    /// @dev Fields used by every fulfil sit in three slots: (provider, price),
    /// (inference verifier, retired), commitment.
    /// @notice Everything recorded about a model.
    struct Model {
        address provider;
        uint96 price;
        address inferenceVerifier;
        bool retired;
        uint256 modelCommitment;
        address accuracyVerifier;
        address retrievalVerifier;
        bytes32 architectureHash;
        bytes32 transcriptHash;
        string metadataURI;
    }

    /// @notice BN254 scalar field order: a commitment is a public input, so it must be below it.
    /// @dev Common.sol's constant, exposed as a getter as before (the getter also keeps the
    /// selector table, and so fulfil's dispatch gas, as it was).
    uint256 public constant SCALAR_FIELD = BN254_SCALAR_FIELD;

    /// @notice Number of models registered so far; model ids are 1..modelCount.
    uint256 public modelCount;
    mapping(uint256 => Model) private _models;

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
    /// @notice The price does not fit the 96-bit price field.
    /// @param price the price given
    error PriceTooLarge(uint256 price);

    /// @notice A model was registered.
    /// @param modelId the new model
    /// @param provider its provider (the caller)
    /// @param modelCommitment commitment to its quantized weights
    /// @param architectureHash hash of its architecture
    /// @param verifiers its verifier per statement (Inference, Accuracy, Retrieval)
    /// @param price wei per prediction
    /// @param transcriptHash hash of its setup ceremony transcript
    /// @param metadataURI where its public description lives
    event ModelRegistered(
        uint256 indexed modelId,
        address indexed provider,
        uint256 modelCommitment,
        bytes32 architectureHash,
        address[3] verifiers,
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
    /// @param price wei per prediction
    /// @param transcriptHash hash of the setup ceremony transcript
    /// @param metadataURI where the model's public description lives
    /// @return modelId the new model's id (ids start at 1)
    function registerModel(
        uint256 modelCommitment,
        bytes32 architectureHash,
        address[3] calldata verifiers,
        uint256 price,
        bytes32 transcriptHash,
        string calldata metadataURI
    ) external returns (uint256 modelId) {
        if (modelCommitment >= SCALAR_FIELD) revert CommitmentOutOfField(modelCommitment);
        if (price > type(uint96).max) revert PriceTooLarge(price);
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
        m.price = uint96(price);
        m.inferenceVerifier = verifiers[uint256(Statement.Inference)];
        m.modelCommitment = modelCommitment;
        m.accuracyVerifier = verifiers[uint256(Statement.Accuracy)];
        m.retrievalVerifier = verifiers[uint256(Statement.Retrieval)];
        m.architectureHash = architectureHash;
        m.transcriptHash = transcriptHash;
        m.metadataURI = metadataURI;
        emit ModelRegistered(
            modelId, msg.sender, modelCommitment, architectureHash, verifiers, price, transcriptHash, metadataURI
        );
        _afterRegister(modelId, msg.sender);
    }

    /// @notice Change a model's price per prediction (open requests keep the price they paid).
    /// @param modelId the model
    /// @param newPrice wei per prediction
    function setPrice(uint256 modelId, uint256 newPrice) external {
        Model storage m = _ownModel(modelId);
        if (newPrice > type(uint96).max) revert PriceTooLarge(newPrice);
        uint256 oldPrice = m.price;
        m.price = uint96(newPrice);
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

    /// @dev Hook for a contract built on the registry, run after each registration.
    function _afterRegister(uint256 modelId, address provider) internal virtual {}

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
