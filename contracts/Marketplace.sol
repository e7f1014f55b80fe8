// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ModelRegistry} from "./ModelRegistry.sol";

/// @notice The snarkjs calldata ABI of a Groth16 verifier for a four-input statement.
interface IInferenceVerifier {
    function verifyProof(
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256[4] calldata pubSignals
    ) external view returns (bool);
}

/// @title Pay-per-verified-prediction escrow
/// @notice The marketplace is the registry of the models it sells (it extends ModelRegistry),
/// so a fulfil reads the model's terms without a call to another contract. A consumer escrows exactly a model's price with the commitment to its input and a
/// deadline. A Groth16 proof that the committed model maps that input to a label and an output
/// commitment releases the escrow to the model's provider; after the deadline an unanswered
/// request is refunded to the consumer. Money leaves only through `withdraw` (pull payments).
contract Marketplace is ModelRegistry {
    enum Status {
        None,
        Open,
        Fulfilled,
        Refunded
    }

    /// @dev Slot 0 packs what every step reads: consumer, deadline, model id, status.
    struct Request {
        address consumer;
        uint40 deadline;
        uint48 modelId;
        Status status;
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
    /// @dev What each account can withdraw, plus one once the account is known (a provider from
    /// its first registration): crediting then rewrites a non-zero slot (5k gas) instead of
    /// filling an empty one (22k), also after a withdrawal, which leaves the one in place.
    mapping(address => uint256) private _owedPlusOne;
    mapping(uint256 => Request) private _requests;

    /// @notice The model names no inference verifier.
    error InferenceUnsupported(uint256 modelId);
    /// @notice The payment must equal the model's price exactly.
    error WrongPayment(uint256 expected, uint256 sent);
    /// @notice The deadline must lie in the future (and fit 40 bits).
    error BadDeadline(uint256 deadline);
    /// @notice The model id does not fit the request record.
    error ModelIdTooLarge(uint256 modelId);
    /// @notice A public input is not a BN254 scalar field element.
    error PublicInputOutOfField(uint256 value);
    /// @notice No request has this id.
    error UnknownRequest(uint256 requestId);
    /// @notice The request was already fulfilled or refunded.
    error RequestNotOpen(uint256 requestId, Status status);
    /// @notice The deadline passed: the request can only be refunded now.
    error DeadlinePassed(uint256 requestId, uint256 deadline);
    /// @notice The deadline has not passed yet: the provider may still answer.
    error DeadlineNotReached(uint256 requestId, uint256 deadline);
    /// @notice Only the request's consumer may do this.
    error NotConsumer(uint256 requestId, address caller);
    /// @notice The proof does not verify for this request's public inputs.
    error InvalidProof(uint256 requestId);
    /// @notice The caller is owed nothing.
    error NothingToWithdraw(address account);
    /// @notice Sending the ether failed (the receiver reverted); the credit is kept.
    error TransferFailed(address account, uint256 amount);

    /// @notice A consumer escrowed the price of a prediction.
    event RequestOpened(
        uint256 indexed requestId,
        uint256 indexed modelId,
        address indexed consumer,
        uint256 inputCommitment,
        uint256 escrow,
        uint256 deadline
    );
    /// @notice A valid proof answered a request; its escrow is now owed to the model's provider.
    event RequestFulfilled(uint256 indexed requestId, uint256 label, uint256 outputCommitment);
    /// @notice An unanswered request was refunded; the escrow is now owed to the consumer.
    event RequestRefunded(uint256 indexed requestId, address indexed consumer, uint256 amount);
    /// @notice An account withdrew what it was owed.
    event Withdrawn(address indexed account, uint256 amount);

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
            status: Status.Open,
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
        Request storage r = _open(requestId);
        if (block.timestamp > r.deadline) revert DeadlinePassed(requestId, r.deadline);
        if (label >= SCALAR_FIELD) revert PublicInputOutOfField(label);
        if (outputCommitment >= SCALAR_FIELD) revert PublicInputOutOfField(outputCommitment);
        Model storage m = _existing(r.modelId);
        uint256[4] memory pub = [m.modelCommitment, r.inputCommitment, label, outputCommitment];
        if (!IInferenceVerifier(m.inferenceVerifier).verifyProof(a, b, c, pub)) revert InvalidProof(requestId);
        address provider = m.provider;

        uint256 amount = r.escrow;
        r.status = Status.Fulfilled;
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
        r.status = Status.Refunded;
        r.escrow = 0;
        _credit(msg.sender, amount);
        emit RequestRefunded(requestId, msg.sender, amount);
    }

    /// @notice Send the caller everything it is owed.
    /// @return amount the wei sent
    function withdraw() external returns (uint256 amount) {
        amount = owed(msg.sender);
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        // effects before the interaction: a re-entering receiver finds nothing owed
        _owedPlusOne[msg.sender] = 1;
        emit Withdrawn(msg.sender, amount);
        (bool sent,) = payable(msg.sender).call{value: amount}("");
        if (!sent) revert TransferFailed(msg.sender, amount);
    }

    /// @notice Wei an account can withdraw.
    /// @param account the account
    /// @return the amount owed
    function owed(address account) public view returns (uint256) {
        uint256 stored = _owedPlusOne[account];
        return stored == 0 ? 0 : stored - 1;
    }

    /// @notice A request's full record.
    /// @param requestId the request
    /// @return the request
    function request(uint256 requestId) external view returns (Request memory) {
        Request storage r = _requests[requestId];
        if (r.status == Status.None) revert UnknownRequest(requestId);
        return r;
    }

    function _credit(address account, uint256 amount) private {
        uint256 stored = _owedPlusOne[account];
        _owedPlusOne[account] = (stored == 0 ? 1 : stored) + amount;
    }

    /// @dev Providers are known from their first registration on (see _owedPlusOne).
    function _afterRegister(uint256, address provider) internal override {
        if (_owedPlusOne[provider] == 0) _owedPlusOne[provider] = 1;
    }

    function _open(uint256 requestId) private view returns (Request storage r) {
        r = _requests[requestId];
        if (r.status == Status.None) revert UnknownRequest(requestId);
        if (r.status != Status.Open) revert RequestNotOpen(requestId, r.status);
    }
}
