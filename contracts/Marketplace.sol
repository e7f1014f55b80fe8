// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {RequestStatus, UnknownRequest, RequestNotOpen, ModelIsRetired} from "./Common.sol";
import {DeadlinePassed, DeadlineNotReached, InvalidProof} from "./Common.sol";
import {IGroth16Verifier} from "./IGroth16Verifier.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {PullPayments} from "./PullPayments.sol";

/// @title Pay-per-verified-prediction escrow
/// @author zkml-market
/// @notice The marketplace is the registry of the models it sells (it extends ModelRegistry),
/// so a fulfil reads the model's terms without a call to another contract. A consumer escrows exactly a model's price with the commitment to its input and a
/// deadline. A Groth16 proof that the committed model maps that input to a label and an output
/// commitment releases the escrow to the model's provider; after the deadline an unanswered
/// request is refunded to the consumer. Money leaves only through `withdraw` (pull payments).
contract Marketplace is ModelRegistry, PullPayments {
    /// @notice A consumer's escrowed request for one prediction.
    /// @dev Slot 0 packs what every step reads: consumer, deadline, model id, status.
    struct Request {
        address consumer;
        uint40 deadline;
        uint48 modelId;
        RequestStatus status;
        uint256 escrow;
        uint256 inputCommitment;
        uint256 label;
        uint256 outputCommitment;
    }

    /// @notice The label and output commitment of a request not yet answered: no field element
    /// equals it, so it cannot be mistaken for a result.
    uint256 public constant NO_RESULT = type(uint256).max;

    /// @notice Number of requests opened so far; request ids are 1..requestCount.
    uint256 public requestCount;
    mapping(uint256 => Request) private _requests;

    /// @notice The model names no inference verifier.
    /// @param modelId the model
    error InferenceUnsupported(uint256 modelId);
    /// @notice The payment must equal the model's price exactly.
    /// @param expected the model's price
    /// @param sent the value sent
    error WrongPayment(uint256 expected, uint256 sent);
    /// @notice The deadline must lie in the future (and fit 40 bits).
    /// @param deadline the deadline given
    error BadDeadline(uint256 deadline);
    /// @notice The model id does not fit the request record.
    /// @param modelId the model id given
    error ModelIdTooLarge(uint256 modelId);
    /// @notice A public input is not a BN254 scalar field element.
    /// @param value the input given
    error PublicInputOutOfField(uint256 value);
    /// @notice Only the request's consumer may do this.
    /// @param requestId the request
    /// @param caller who tried
    error NotConsumer(uint256 requestId, address caller);

    /// @notice A consumer escrowed the price of a prediction.
    /// @param requestId the new request
    /// @param modelId the model asked
    /// @param consumer who escrowed
    /// @param inputCommitment commitment to the (salted) input
    /// @param escrow the wei escrowed (the model's price)
    /// @param deadline unix time after which an unanswered request can be refunded
    event RequestOpened(
        uint256 indexed requestId,
        uint256 indexed modelId,
        address indexed consumer,
        uint256 inputCommitment,
        uint256 escrow,
        uint256 deadline
    );
    /// @notice A valid proof answered a request; its escrow is now owed to the model's provider.
    /// @param requestId the request
    /// @param label the proved label
    /// @param outputCommitment the proved output commitment
    event RequestFulfilled(uint256 indexed requestId, uint256 label, uint256 outputCommitment);
    /// @notice An unanswered request was refunded; the escrow is now owed to the consumer.
    /// @param requestId the request
    /// @param consumer who is owed the escrow
    /// @param amount the wei owed back
    event RequestRefunded(uint256 indexed requestId, address indexed consumer, uint256 amount);

    /// @notice Escrow exactly the model's price for a prediction on a committed input.
    /// @param modelId the registered model
    /// @param inputCommitment commitment to the (salted) input, a BN254 scalar
    /// @param deadline unix time after which an unanswered request can be refunded
    /// @return requestId the new request's id (ids start at 1)
    function openRequest(uint256 modelId, uint256 inputCommitment, uint256 deadline)
        external
        payable
        returns (uint256 requestId)
    {
        Model storage m = _existing(modelId);
        if (m.retired) revert ModelIsRetired(modelId);
        if (m.inferenceVerifier == address(0)) revert InferenceUnsupported(modelId);
        if (msg.value != m.price) revert WrongPayment(m.price, msg.value);
        if (inputCommitment >= SCALAR_FIELD) revert PublicInputOutOfField(inputCommitment);
        if (deadline <= block.timestamp || deadline > type(uint40).max) revert BadDeadline(deadline);
        if (modelId > type(uint48).max) revert ModelIdTooLarge(modelId);

        requestId = ++requestCount;
        _requests[requestId] = Request({
            consumer: msg.sender,
            deadline: uint40(deadline),
            modelId: uint48(modelId),
            status: RequestStatus.Open,
            escrow: msg.value,
            inputCommitment: inputCommitment,
            // the consumer pre-pays the result slots (written non-zero now, overwritten by
            // fulfil): fulfil then costs 5k gas per slot instead of 22k
            label: NO_RESULT,
            outputCommitment: NO_RESULT
        });
        emit RequestOpened(requestId, modelId, msg.sender, inputCommitment, msg.value, deadline);
    }

    /// @notice Answer a request with a Groth16 proof of (model commitment, input commitment,
    /// label, output commitment); on success the escrow is owed to the model's provider.
    /// Anyone may submit the proof: the payment goes to the provider either way.
    /// @param requestId the open request
    /// @param a proof point A
    /// @param b proof point B, G2 coordinates as (imaginary, real)
    /// @param c proof point C
    /// @param label the predicted label
    /// @param outputCommitment commitment to the model's output
    function fulfil(
        uint256 requestId,
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256 label,
        uint256 outputCommitment
    ) external {
        if (label >= SCALAR_FIELD) revert PublicInputOutOfField(label);
        if (outputCommitment >= SCALAR_FIELD) revert PublicInputOutOfField(outputCommitment);
        Request storage r = _open(requestId);
        if (block.timestamp > r.deadline) revert DeadlinePassed(requestId, r.deadline);
        Model storage m = _existing(r.modelId);
        uint256[4] memory pub = [m.modelCommitment, r.inputCommitment, label, outputCommitment];
        if (!IGroth16Verifier(m.inferenceVerifier).verifyProof(a, b, c, pub)) revert InvalidProof(requestId);
        address provider = m.provider;

        uint256 amount = r.escrow;
        r.status = RequestStatus.Fulfilled;
        r.escrow = 0;
        r.label = label;
        r.outputCommitment = outputCommitment;
        _credit(provider, amount);
        emit RequestFulfilled(requestId, label, outputCommitment);
    }

    /// @notice Return the escrow of an unanswered request whose deadline has passed; the
    /// consumer then withdraws it.
    /// @param requestId the open request
    function refund(uint256 requestId) external {
        Request storage r = _open(requestId);
        if (msg.sender != r.consumer) revert NotConsumer(requestId, msg.sender);
        if (block.timestamp <= r.deadline) revert DeadlineNotReached(requestId, r.deadline);

        uint256 amount = r.escrow;
        r.status = RequestStatus.Refunded;
        r.escrow = 0;
        _credit(msg.sender, amount);
        emit RequestRefunded(requestId, msg.sender, amount);
    }

    /// @notice A request's full record.
    /// @param requestId the request
    /// @return the request
    function request(uint256 requestId) external view returns (Request memory) {
        Request storage r = _requests[requestId];
        if (r.status == RequestStatus.None) revert UnknownRequest(requestId);
        return r;
    }

    /// @dev A provider pays its credit slot when it registers, so that the fulfil which pays it
    /// first costs no more than the later ones.
    function _afterRegister(uint256, address provider) internal override {
        _enroll(provider);
    }

    /// @dev The record of an open request (reverts UnknownRequest or RequestNotOpen otherwise).
    function _open(uint256 requestId) private view returns (Request storage r) {
        r = _requests[requestId];
        if (r.status == RequestStatus.None) revert UnknownRequest(requestId);
        if (r.status != RequestStatus.Open) revert RequestNotOpen(requestId, r.status);
    }
}
