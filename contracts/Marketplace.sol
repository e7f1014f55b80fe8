// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {RequestStatus, UnknownRequest, RequestNotOpen, ModelIsRetired} from "./Common.sol";
import {DeadlinePassed, DeadlineNotReached, InvalidProof} from "./Common.sol";
import {IGroth16BatchVerifier} from "./IGroth16BatchVerifier.sol";
import {IGroth16Verifier} from "./IGroth16Verifier.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {PullPayments} from "./PullPayments.sol";

/// @title Pay-per-verified-prediction escrow
/// @author zkml-market
/// @notice The marketplace is the registry of the models it sells (it extends ModelRegistry),
/// so a fulfil reads the model's terms without a call to another contract. A consumer escrows
/// a model's price per input with the commitments to its inputs and a deadline. A Groth16 proof
/// that the committed model maps an input to a label and an output commitment releases that
/// input's escrow to the model's provider; after the deadline an unanswered request is refunded
/// to the consumer. Money leaves only through `withdraw` (pull payments).
///
/// Requests are lean: `openRequest` (one input) and `openRequests` (up to MAX_BATCH inputs for
/// one model) write one storage slot, keyed by the hash of the terms (model, consumer, price,
/// deadline, input commitments), which holds the status of each input. The terms themselves
/// live in the RequestsOpened event; fulfil and refund take them back as calldata and are
/// checked against the hash.
///
/// A request's id is its group's id plus its index in the group: a group id is the terms'
/// hash with its low 6 bits cleared, so the first (or only) request of a group has the
/// group's id. `fulfilBatch` answers up to N requests, of any groups of the same model, with
/// one proof of the model's batch statement of N; it settles those still open and in time and
/// skips the others (refunded, already fulfilled, late), so one stale request neither blocks
/// the rest nor is paid twice; it reverts only when it would settle nothing.
///
/// Once every request of a group is settled its slot is deleted: the gas refund for clearing
/// it pays for most of the settlement's write, and a settled request's status then comes from
/// its RequestFulfilled or RequestRefunded event (`requestStatus` says None). The same terms
/// can then be opened again as a new group. A replay of the old proof could settle it, but only
/// with the answer proved for that very input, the model's answer the consumer asked for again.
///
/// A batch proof's output commitments are one public input, their digest (see
/// `prover.circuit.statements`); the contract records the commitments beside it in
/// BatchFulfilled, and a consumer checks its own against that digest off-chain.
contract Marketplace is ModelRegistry, PullPayments {
    /// @notice What a consumer agreed to for a group of requests: the request ids are derived
    /// from it, and fulfil and refund present it again.
    struct Terms {
        uint256 modelId;
        address consumer;
        uint256 price;
        uint256 deadline;
        uint256[] inputCommitments;
    }

    /// @notice A Groth16 proof in the verifiers' calling convention.
    struct Proof {
        uint256[2] a;
        uint256[2][2] b;
        uint256[2] c;
    }

    /// @notice One request answered by a batch proof.
    /// @dev `pick` is `group << 8 | index`: request `index` of the batch's `group`-th terms.
    struct Answer {
        uint256 pick;
        uint256 label;
    }

    /// @notice A batch's output commitments, one per answer, and the public input that stands
    /// for them all: the digest of the list padded to the batch size by repeating its last.
    struct Outputs {
        uint256 digest;
        uint256[] commitments;
    }

    /// @dev group id => bit 255: the group exists; bits 248-254: its size; bits 2i, 2i+1: the
    /// status of request i (0 open, 1 fulfilled, 2 refunded)
    mapping(uint256 => uint256) private _groups;

    uint256 private constant EXISTS = 1 << 255;
    uint256 private constant INDEX_BITS = 6;
    uint256 private constant INDEX_MASK = (1 << INDEX_BITS) - 1;
    uint256 private constant FULFILLED = 1;
    uint256 private constant REFUNDED = 2;

    /// @notice The model names no inference verifier.
    /// @param modelId the model
    error InferenceUnsupported(uint256 modelId);
    /// @notice The payment must equal the model's price times the number of inputs exactly.
    /// @param expected the wei due
    /// @param sent the value sent
    error WrongPayment(uint256 expected, uint256 sent);
    /// @notice The deadline must lie in the future.
    /// @param deadline the deadline given
    error BadDeadline(uint256 deadline);
    /// @notice A public input is not a BN254 scalar field element.
    /// @param value the input given
    error PublicInputOutOfField(uint256 value);
    /// @notice A group holds 1 to MAX_BATCH inputs.
    /// @param count the number given
    error BadGroupSize(uint256 count);
    /// @notice These exact terms were opened before: salt the input commitment afresh.
    /// @param groupId the existing group
    error RequestExists(uint256 groupId);
    /// @notice No request of the batch was open and in time: the fulfil would settle nothing.
    error NothingToSettle();
    /// @notice The model registered no verifier for batches of this size.
    /// @param modelId the model
    /// @param batchSize the batch size asked for
    error NoBatchVerifier(uint256 modelId, uint256 batchSize);
    /// @notice A batch answers 1 to batchSize requests.
    /// @param answers the number of requests answered
    /// @param batchSize the proof's batch size
    error BadBatch(uint256 answers, uint256 batchSize);
    /// @notice A batch names one output commitment per answer.
    /// @param outputs the number of output commitments given
    /// @param answers the number of answers
    error BadOutputs(uint256 outputs, uint256 answers);
    /// @notice The pick names a group or an index the batch does not hold.
    /// @param pick the pick given
    error BadPick(uint256 pick);
    /// @notice A request of the batch is for another model than the proof's.
    /// @param requestId the request
    /// @param modelId the proof's model
    error WrongModel(uint256 requestId, uint256 modelId);
    /// @notice A batch's label does not fit its LABEL_BITS bits (no model has that many classes).
    /// @param label the label given
    error LabelOutOfRange(uint256 label);
    /// @notice Only the request's consumer may do this.
    /// @param requestId the request
    /// @param caller who tried
    error NotConsumer(uint256 requestId, address caller);

    /// @notice A consumer escrowed the price of one prediction (openRequest): a group of one.
    /// @param requestId the new request (and its group)
    /// @param modelId the model asked
    /// @param consumer who escrowed
    /// @param price the wei escrowed (the model's price)
    /// @param deadline unix time after which an unanswered request can be refunded
    /// @param inputCommitment commitment to the (salted) input
    event RequestOpened(
        uint256 indexed requestId,
        uint256 indexed modelId,
        address consumer,
        uint256 price,
        uint256 deadline,
        uint256 inputCommitment
    );
    /// @notice A consumer escrowed the price of `inputCommitments.length` predictions
    /// (openRequests); their request ids are `groupId` + 0, 1, ...
    /// @param groupId the new group (and the id of its first request)
    /// @param modelId the model asked
    /// @param consumer who escrowed
    /// @param price the wei escrowed per request (the model's price)
    /// @param deadline unix time after which unanswered requests can be refunded
    /// @param inputCommitments commitments to the (salted) inputs
    event RequestsOpened(
        uint256 indexed groupId,
        uint256 indexed modelId,
        address indexed consumer,
        uint256 price,
        uint256 deadline,
        uint256[] inputCommitments
    );
    /// @notice A valid proof answered a request; its escrow is now owed to the model's provider.
    /// @param requestId the request
    /// @param label the proved label
    /// @param outputCommitment the output commitment: proved by fulfil, or by fulfilBatch through
    /// the digest of its BatchFulfilled event (in the same transaction)
    event RequestFulfilled(uint256 indexed requestId, uint256 label, uint256 outputCommitment);
    /// @notice A batch proof was verified: its output commitments, one per answer in slot order
    /// (padded to batchSize by repeating the last), have this digest, which the proof proved.
    /// @param modelId the model
    /// @param batchSize the batch statement proved
    /// @param outputsDigest the proof's public input for the outputs
    /// @param outputCommitments the answers' output commitments, in slot order
    event BatchFulfilled(
        uint256 indexed modelId, uint256 batchSize, uint256 outputsDigest, uint256[] outputCommitments
    );
    /// @notice An unanswered request was refunded; the escrow is now owed to the consumer.
    /// @param requestId the request
    /// @param consumer who is owed the escrow
    /// @param amount the wei owed back
    event RequestRefunded(uint256 indexed requestId, address indexed consumer, uint256 amount);

    /// @notice Escrow exactly the model's price for a prediction on a committed input.
    /// @dev The group of one written by hand: the terms hashed as `_hashTerms` hashes them
    /// (abi.encode with a one-element array), and the lean RequestOpened event, on the path
    /// every single prediction takes.
    /// @param modelId the registered model
    /// @param inputCommitment commitment to the (salted) input, a BN254 scalar
    /// @param deadline unix time after which an unanswered request can be refunded
    /// @return requestId the new request's id (its group's)
    function openRequest(uint256 modelId, uint256 inputCommitment, uint256 deadline)
        external
        payable
        returns (uint256 requestId)
    {
        uint256 price = _priceOfNew(modelId, deadline);
        if (msg.value != price) revert WrongPayment(price, msg.value);
        if (inputCommitment >= SCALAR_FIELD) revert PublicInputOutOfField(inputCommitment);
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, modelId)
            mstore(add(p, 0x20), caller())
            mstore(add(p, 0x40), price)
            mstore(add(p, 0x60), deadline)
            mstore(add(p, 0x80), 0xa0) // the array's offset
            mstore(add(p, 0xa0), 1) // its length
            mstore(add(p, 0xc0), inputCommitment)
            requestId := and(keccak256(p, 0xe0), not(63)) // INDEX_MASK
        }
        if (_groups[requestId] != 0) revert RequestExists(requestId);
        _groups[requestId] = EXISTS | (1 << 248);
        emit RequestOpened(requestId, modelId, msg.sender, price, deadline, inputCommitment);
    }

    /// @notice Escrow the model's price for each of up to MAX_BATCH committed inputs, in one slot.
    /// @param modelId the registered model
    /// @param inputCommitments commitments to the (salted) inputs, BN254 scalars
    /// @param deadline unix time after which unanswered requests can be refunded
    /// @return groupId the new group's id: the requests are groupId + 0, 1, ...
    function openRequests(uint256 modelId, uint256[] calldata inputCommitments, uint256 deadline)
        external
        payable
        returns (uint256 groupId)
    {
        return _openGroup(modelId, inputCommitments, deadline);
    }

    /// @notice Answer one request with a Groth16 proof of (model commitment, input commitment,
    /// label, output commitment); on success its escrow is owed to the model's provider.
    /// Anyone may submit the proof: the payment goes to the provider either way.
    /// @param terms the terms the request was opened with
    /// @param index the request's index in its group (0 for a single request)
    /// @param a proof point A
    /// @param b proof point B, G2 coordinates as (imaginary, real)
    /// @param c proof point C
    /// @param label the predicted label
    /// @param outputCommitment commitment to the model's output
    function fulfil(
        Terms calldata terms,
        uint256 index,
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256 label,
        uint256 outputCommitment
    ) external {
        if (label >= SCALAR_FIELD) revert PublicInputOutOfField(label);
        if (outputCommitment >= SCALAR_FIELD) revert PublicInputOutOfField(outputCommitment);
        (uint256 groupId, uint256 state) = _group(terms);
        if (index >= terms.inputCommitments.length) revert UnknownRequest(groupId + index);
        uint256 requestId = groupId + index;
        RequestStatus status = _statusAt(state, index);
        if (status != RequestStatus.Open) revert RequestNotOpen(requestId, status);
        if (block.timestamp > terms.deadline) revert DeadlinePassed(requestId, terms.deadline);
        Model storage m = _existing(terms.modelId);
        uint256[4] memory pub = [m.modelCommitment, terms.inputCommitments[index], label, outputCommitment];
        if (!IGroth16Verifier(m.inferenceVerifier).verifyProof(a, b, c, pub)) revert InvalidProof(requestId);

        _settle(groupId, state | (FULFILLED << (2 * index)));
        _credit(m.provider, terms.price);
        emit RequestFulfilled(requestId, label, outputCommitment);
    }

    /// @notice Answer up to `batchSize` requests for one model with one proof of its batch
    /// statement: public inputs (model commitment, the input commitments, the labels packed, the
    /// outputs' digest), a short batch padded by repeating its last answer. Settles the answered
    /// requests that are open and in time, skips the others (a group no longer held, every
    /// request of it settled, included); the sum of their escrows is owed to the provider.
    /// @param modelId the model every answered request is for
    /// @param batchSize the batch statement proved (a registered batch size)
    /// @param proof the Groth16 proof
    /// @param groups the terms of the groups the answered requests belong to
    /// @param answers the answers, in the proof's slot order
    /// @param outputs the answers' output commitments (same order) and their digest
    function fulfilBatch(
        uint256 modelId,
        uint256 batchSize,
        Proof calldata proof,
        Terms[] calldata groups,
        Answer[] calldata answers,
        Outputs calldata outputs
    ) external {
        uint256[] memory ids = _verifiedBatch(modelId, batchSize, proof, groups, answers, outputs.digest);
        uint256[] calldata commitments = outputs.commitments;
        if (commitments.length != answers.length) revert BadOutputs(commitments.length, answers.length);
        uint256 paid;
        uint256 n = answers.length;
        for (uint256 j = 0; j < n; ++j) {
            uint256 pick = answers[j].pick;
            (uint256 g, uint256 shift) = (pick >> 8, 2 * (pick & 0xff));
            uint256 id = ids[g];
            uint256 state = _groups[id]; // read again: an earlier answer may have settled it
            // gone (all settled), this one settled, or late
            if (state == 0 || (state >> shift) & 3 != 0 || block.timestamp > groups[g].deadline) continue;
            _settle(id, state | (FULFILLED << shift));
            paid += groups[g].price;
            emit RequestFulfilled(id + (pick & 0xff), answers[j].label, commitments[j]);
        }
        if (paid == 0) revert NothingToSettle();
        emit BatchFulfilled(modelId, batchSize, outputs.digest, commitments);
        _credit(_existing(modelId).provider, paid);
    }

    /// @notice Return the escrow of every unanswered request of a group whose deadline has
    /// passed; the consumer then withdraws it.
    /// @param terms the terms the group was opened with
    function refund(Terms calldata terms) external {
        (uint256 groupId, uint256 state) = _group(terms);
        if (msg.sender != terms.consumer) revert NotConsumer(groupId, msg.sender);
        if (block.timestamp <= terms.deadline) revert DeadlineNotReached(groupId, terms.deadline);
        uint256 count;
        uint256 n = terms.inputCommitments.length;
        for (uint256 i = 0; i < n; ++i) {
            if (_statusAt(state, i) != RequestStatus.Open) continue;
            state |= REFUNDED << (2 * i);
            ++count;
            emit RequestRefunded(groupId + i, msg.sender, terms.price);
        }
        if (count == 0) revert RequestNotOpen(groupId, _statusAt(state, 0));
        _settle(groupId, state);
        _credit(msg.sender, terms.price * count);
    }

    /// @notice The id a group of these terms has (whether or not it was opened).
    /// @param terms the terms
    /// @return the group id, also the id of its first request
    function groupIdOf(Terms calldata terms) external pure returns (uint256) {
        return _groupId(terms);
    }

    /// @notice A request's status (None for an id no group holds, and for the requests of a
    /// group all settled: their events tell how).
    /// @param requestId the request
    /// @return its status
    function requestStatus(uint256 requestId) external view returns (RequestStatus) {
        uint256 index = requestId & INDEX_MASK;
        uint256 state = _groups[requestId - index];
        if (state == 0 || index >= (state >> 248) & 0x7f) return RequestStatus.None;
        return _statusAt(state, index);
    }

    /// @dev A provider pays its credit slot when it registers, so that the fulfil which pays it
    /// first costs no more than the later ones.
    function _afterRegister(uint256, address provider) internal override {
        _enroll(provider);
    }

    /// @dev Open a group: check the model and the terms, write its one slot, emit its terms.
    function _openGroup(uint256 modelId, uint256[] calldata inputs, uint256 deadline)
        private
        returns (uint256 groupId)
    {
        uint256 count = inputs.length;
        if (count == 0 || count > MAX_BATCH) revert BadGroupSize(count);
        uint256 price = _priceOfNew(modelId, deadline);
        if (msg.value != price * count) revert WrongPayment(price * count, msg.value);
        for (uint256 i = 0; i < count; ++i) {
            if (inputs[i] >= SCALAR_FIELD) revert PublicInputOutOfField(inputs[i]);
        }
        groupId = _hashTerms(modelId, msg.sender, price, deadline, inputs);
        if (_groups[groupId] != 0) revert RequestExists(groupId);
        _groups[groupId] = EXISTS | (count << 248);
        emit RequestsOpened(groupId, modelId, msg.sender, price, deadline, inputs);
    }

    /// @dev The price per request of a new request on `modelId`, checking that the model takes
    /// requests and the deadline lies in the future.
    function _priceOfNew(uint256 modelId, uint256 deadline) private view returns (uint256 price) {
        // the model's first slot, read once: provider (bits 0-159), price (160-239), retired
        // (240-247), sellsInference (248-255), ModelRegistry.Model's layout
        uint256 word = _modelWord(modelId);
        if (word == 0) revert UnknownModel(modelId);
        if ((word >> 240) & 0xff != 0) revert ModelIsRetired(modelId);
        if (word >> 248 == 0) revert InferenceUnsupported(modelId);
        price = (word >> 160) & type(uint80).max;
        if (deadline <= block.timestamp) revert BadDeadline(deadline);
    }

    /// @dev Write a group's state after a settlement: deleted once no request of it is open.
    function _settle(uint256 groupId, uint256 state) private {
        uint256 size = (state >> 248) & 0x7f;
        uint256 mask = (1 << (2 * size)) - 1;
        // bit 2i of `settled` is set when request i's two status bits are not both 0
        uint256 settled = (state | (state >> 1)) & mask & 0x5555555555555555555555555555555555555555555555555555555555555555;
        _groups[groupId] = settled == mask & 0x5555555555555555555555555555555555555555555555555555555555555555 ? 0 : state;
    }

    /// @dev Check a batch: its size, the groups' model, and the proof. Returns the groups' ids
    /// (a group never opened, or deleted, settles nothing: the caller skips it).
    function _verifiedBatch(
        uint256 modelId,
        uint256 batchSize,
        Proof calldata proof,
        Terms[] calldata groups,
        Answer[] calldata answers,
        uint256 outputsDigest
    ) private view returns (uint256[] memory ids) {
        if (answers.length == 0 || answers.length > batchSize) revert BadBatch(answers.length, batchSize);
        address verifier = batchVerifierFor(modelId, batchSize);
        if (verifier == address(0)) revert NoBatchVerifier(modelId, batchSize);
        ids = new uint256[](groups.length);
        for (uint256 g = 0; g < groups.length; ++g) {
            Terms calldata terms = groups[g];
            ids[g] = _groupId(terms);
            if (terms.modelId != modelId) revert WrongModel(ids[g], modelId);
        }
        uint256[] memory pub = _batchInputs(modelId, batchSize, groups, answers);
        pub[pub.length - 1] = outputsDigest;
        if (!IGroth16BatchVerifier(verifier).verifyProof(proof.a, proof.b, proof.c, pub)) {
            revert InvalidProof(ids.length > 0 ? ids[0] : 0);
        }
    }

    /// @dev The public inputs of a batch proof but the last (the outputs' digest, which the
    /// caller puts there): the model commitment, then per slot the input commitments, the labels
    /// packed LABELS_PER_INPUT to an input; slots past the answers repeat the last.
    function _batchInputs(uint256 modelId, uint256 batchSize, Terms[] calldata groups, Answer[] calldata answers)
        private
        view
        returns (uint256[] memory pub)
    {
        pub = new uint256[](batchInputCount(batchSize));
        pub[0] = _existing(modelId).modelCommitment;
        uint256 n = answers.length;
        uint256 labelsAt = 1 + batchSize;
        (uint256 input, uint256 label) = (0, 0);
        for (uint256 j = 0; j < batchSize; ++j) {
            if (j < n) (input, label) = _answered(groups, answers[j]); // past n: the last again
            pub[1 + j] = input;
            pub[labelsAt + j / LABELS_PER_INPUT] |= label << (LABEL_BITS * (j % LABELS_PER_INPUT));
        }
    }

    /// @dev An answer's public inputs: its request's input commitment and its label (checked to
    /// fit LABEL_BITS); reverts BadPick for a request the batch does not hold.
    function _answered(Terms[] calldata groups, Answer calldata answer)
        private
        pure
        returns (uint256 input, uint256 label)
    {
        uint256 pick = answer.pick;
        (uint256 g, uint256 index) = (pick >> 8, pick & 0xff);
        if (g >= groups.length) revert BadPick(pick);
        uint256[] calldata inputs = groups[g].inputCommitments;
        if (index >= inputs.length) revert BadPick(pick);
        (input, label) = (inputs[index], answer.label);
        if (label >> LABEL_BITS != 0) revert LabelOutOfRange(label);
    }

    /// @dev A group's id and its state slot (reverts UnknownRequest when never opened).
    function _group(Terms calldata terms) private view returns (uint256 groupId, uint256 state) {
        groupId = _groupId(terms);
        state = _groups[groupId];
        if (state == 0) revert UnknownRequest(groupId);
    }

    /// @dev The status of request `index` in a group's state slot.
    function _statusAt(uint256 state, uint256 index) private pure returns (RequestStatus) {
        uint256 bits = (state >> (2 * index)) & 3;
        return bits == 0 ? RequestStatus.Open : bits == FULFILLED ? RequestStatus.Fulfilled : RequestStatus.Refunded;
    }

    function _groupId(Terms calldata t) private pure returns (uint256) {
        return _hashTerms(t.modelId, t.consumer, t.price, t.deadline, t.inputCommitments);
    }

    /// @dev keccak256 of the ABI-encoded terms with the low 6 bits (a request's index) cleared.
    function _hashTerms(uint256 modelId, address consumer, uint256 price, uint256 deadline, uint256[] calldata inputs)
        private
        pure
        returns (uint256)
    {
        return uint256(keccak256(abi.encode(modelId, consumer, price, deadline, inputs))) & ~INDEX_MASK;
    }
}
