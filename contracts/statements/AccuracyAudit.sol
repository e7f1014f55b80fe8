// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ModelRegistry} from "../ModelRegistry.sol";
import {IStatementVerifier} from "./IStatementVerifier.sol";
import {PullPayments} from "./PullPayments.sol";

/// @title Accuracy audits of registered models, settled by proofs
/// @notice A model's provider states a claimed accuracy and stakes a bond (after the model's
/// weights are committed in the registry). An auditor opens a challenge with a fee and the
/// commitment to a test set it then hands to the provider off-chain. Before the deadline the
/// provider answers with a Groth16 accuracy proof of (model commitment, test-set commitment,
/// samples, correct). At or above the claim the provider earns the fee and the model gains a
/// public attestation; below the claim, or with no answer in time, the auditor takes the fee
/// back and the bond. Money leaves only through `withdraw` (pull payments).
contract AccuracyAudit is PullPayments {
    enum Status {
        None,
        Open,
        Passed,
        Failed,
        Expired
    }

    struct Stake {
        uint256 bond;
        uint16 claimBps;
        uint48 openChallenge; // id of the challenge the bond answers for; 0 when none
    }

    struct Challenge {
        address auditor;
        uint40 deadline;
        Status status;
        uint256 modelId;
        uint256 testSetCommitment;
        uint256 samples;
        uint256 fee;
        uint256 correct;
    }

    /// @notice A public record that a model's proof reached its claim on a committed test set.
    struct Attestation {
        uint256 testSetCommitment;
        uint256 samples;
        uint256 correct;
        uint256 challengeId;
    }

    /// @notice Claimed accuracies are in basis points: 10000 = 100 %.
    uint16 public constant FULL_BPS = 10000;

    /// @notice The registry whose models are audited.
    ModelRegistry public immutable registry;
    /// @notice Seconds a provider has to answer a challenge.
    uint256 public immutable answerWindow;
    /// @notice Number of challenges opened so far; ids are 1..challengeCount.
    uint256 public challengeCount;
    mapping(uint256 => Stake) private _stakes;
    mapping(uint256 => Challenge) private _challenges;
    mapping(uint256 => Attestation[]) private _attestations;

    error NotProvider(uint256 modelId, address caller);
    error AccuracyUnsupported(uint256 modelId);
    /// @notice The claim must be in (0, 10000] basis points and the bond non-zero.
    error BadStake(uint256 claimBps, uint256 bond);
    /// @notice The model already has a stake; its claim cannot change.
    error AlreadyStaked(uint256 modelId);
    /// @notice The model has no bond at stake, so it cannot be challenged.
    error NotStaked(uint256 modelId);
    /// @notice The bond already answers for an open challenge.
    error ChallengeInProgress(uint256 modelId, uint256 challengeId);
    error BadChallenge(uint256 samples, uint256 fee);
    error PublicInputOutOfField(uint256 value);
    error UnknownChallenge(uint256 challengeId);
    error ChallengeNotOpen(uint256 challengeId, Status status);
    error DeadlinePassed(uint256 challengeId, uint256 deadline);
    error DeadlineNotReached(uint256 challengeId, uint256 deadline);
    error InvalidProof(uint256 challengeId);

    event Staked(uint256 indexed modelId, address indexed provider, uint256 claimBps, uint256 bond);
    event Unstaked(uint256 indexed modelId, uint256 bond);
    event ChallengeOpened(
        uint256 indexed challengeId,
        uint256 indexed modelId,
        address indexed auditor,
        uint256 testSetCommitment,
        uint256 samples,
        uint256 fee,
        uint256 deadline
    );
    /// @notice The proof reached the claim: the fee is owed to the provider, the attestation recorded.
    event ChallengePassed(uint256 indexed challengeId, uint256 indexed modelId, uint256 samples, uint256 correct);
    /// @notice The proof fell below the claim: fee and bond are owed to the auditor.
    event ChallengeFailed(uint256 indexed challengeId, uint256 indexed modelId, uint256 samples, uint256 correct);
    /// @notice No answer in time: fee and bond are owed to the auditor.
    event ChallengeExpired(uint256 indexed challengeId, uint256 indexed modelId);

    /// @param registry_ the model registry
    /// @param answerWindow_ seconds a provider has to answer a challenge
    constructor(ModelRegistry registry_, uint256 answerWindow_) {
        registry = registry_;
        answerWindow = answerWindow_;
    }

    /// @notice State the model's claimed accuracy and stake the bond (the value sent).
    /// @param modelId a model of the caller's that names an accuracy verifier
    /// @param claimBps claimed accuracy in basis points (1..10000)
    function stake(uint256 modelId, uint256 claimBps) external payable {
        _provider(modelId);
        if (registry.verifierFor(modelId, ModelRegistry.Statement.Accuracy) == address(0)) {
            revert AccuracyUnsupported(modelId);
        }
        if (claimBps == 0 || claimBps > FULL_BPS || msg.value == 0) revert BadStake(claimBps, msg.value);
        Stake storage s = _stakes[modelId];
        if (s.claimBps != 0) revert AlreadyStaked(modelId);
        s.bond = msg.value;
        s.claimBps = uint16(claimBps);
        emit Staked(modelId, msg.sender, claimBps, msg.value);
    }

    /// @notice Take the bond back while no challenge is open; the model can no longer be
    /// challenged (its claim stays on record, and so do its attestations).
    /// @param modelId the caller's model
    function unstake(uint256 modelId) external {
        _provider(modelId);
        Stake storage s = _stakes[modelId];
        if (s.bond == 0) revert NotStaked(modelId);
        if (s.openChallenge != 0) revert ChallengeInProgress(modelId, s.openChallenge);
        uint256 bond = s.bond;
        s.bond = 0;
        owed[msg.sender] += bond;
        emit Unstaked(modelId, bond);
    }

    /// @notice Challenge a staked model's claim with a committed test set; the value sent is
    /// the fee. The provider has `answerWindow` seconds to answer.
    /// @param modelId the model
    /// @param testSetCommitment commitment to the quantized test inputs and labels
    /// @param samples number of test samples
    /// @return challengeId the new challenge's id
    function challenge(uint256 modelId, uint256 testSetCommitment, uint256 samples)
        external
        payable
        returns (uint256 challengeId)
    {
        Stake storage s = _stakes[modelId];
        if (s.bond == 0) revert NotStaked(modelId);
        if (s.openChallenge != 0) revert ChallengeInProgress(modelId, s.openChallenge);
        if (samples == 0 || samples >= SCALAR_FIELD || msg.value == 0) revert BadChallenge(samples, msg.value);
        if (testSetCommitment >= SCALAR_FIELD) revert PublicInputOutOfField(testSetCommitment);
        challengeId = ++challengeCount;
        uint256 deadline = block.timestamp + answerWindow;
        s.openChallenge = uint48(challengeId);
        _challenges[challengeId] = Challenge({
            auditor: msg.sender,
            deadline: uint40(deadline),
            status: Status.Open,
            modelId: modelId,
            testSetCommitment: testSetCommitment,
            samples: samples,
            fee: msg.value,
            correct: 0
        });
        emit ChallengeOpened(challengeId, modelId, msg.sender, testSetCommitment, samples, msg.value, deadline);
    }

    /// @notice Answer an open challenge with an accuracy proof. Only the model's provider
    /// answers (it alone holds the weights the proof is about).
    /// @param challengeId the open challenge
    /// @param a proof point A
    /// @param b proof point B, G2 coordinates as (imaginary, real)
    /// @param c proof point C
    /// @param correct the proved number of correct samples
    function answer(
        uint256 challengeId,
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256 correct
    ) external {
        Challenge storage ch = _open(challengeId);
        (address provider,, uint256 modelCommitment,,) = registry.inferenceTerms(ch.modelId);
        if (msg.sender != provider) revert NotProvider(ch.modelId, msg.sender);
        if (block.timestamp > ch.deadline) revert DeadlinePassed(challengeId, ch.deadline);
        if (correct > ch.samples) revert InvalidProof(challengeId); // no proof counts more than it ran
        address verifier = registry.verifierFor(ch.modelId, ModelRegistry.Statement.Accuracy);
        uint256[4] memory pub = [modelCommitment, ch.testSetCommitment, ch.samples, correct];
        if (!IStatementVerifier(verifier).verifyProof(a, b, c, pub)) revert InvalidProof(challengeId);

        Stake storage s = _stakes[ch.modelId];
        s.openChallenge = 0;
        ch.correct = correct;
        if (correct * FULL_BPS >= uint256(s.claimBps) * ch.samples) {
            ch.status = Status.Passed;
            owed[provider] += ch.fee;
            _attestations[ch.modelId].push(Attestation(ch.testSetCommitment, ch.samples, correct, challengeId));
            emit ChallengePassed(challengeId, ch.modelId, ch.samples, correct);
        } else {
            ch.status = Status.Failed;
            owed[ch.auditor] += ch.fee + s.bond;
            s.bond = 0;
            emit ChallengeFailed(challengeId, ch.modelId, ch.samples, correct);
        }
    }

    /// @notice After the deadline, an unanswered challenge gives the auditor its fee and the
    /// bond. Anyone may call it; the money goes to the auditor.
    /// @param challengeId the open challenge
    function expire(uint256 challengeId) external {
        Challenge storage ch = _open(challengeId);
        if (block.timestamp <= ch.deadline) revert DeadlineNotReached(challengeId, ch.deadline);
        Stake storage s = _stakes[ch.modelId];
        s.openChallenge = 0;
        ch.status = Status.Expired;
        owed[ch.auditor] += ch.fee + s.bond;
        s.bond = 0;
        emit ChallengeExpired(challengeId, ch.modelId);
    }

    /// @notice A model's stake: bond, claimed accuracy (basis points), open challenge id.
    /// @param modelId the model
    /// @return the stake record
    function stakeOf(uint256 modelId) external view returns (Stake memory) {
        return _stakes[modelId];
    }

    /// @notice A challenge's record.
    /// @param challengeId the challenge
    /// @return the challenge record
    function challengeOf(uint256 challengeId) external view returns (Challenge memory) {
        Challenge storage ch = _challenges[challengeId];
        if (ch.status == Status.None) revert UnknownChallenge(challengeId);
        return ch;
    }

    /// @notice Every accuracy attestation a model has earned, oldest first.
    /// @param modelId the model
    /// @return the attestations
    function attestations(uint256 modelId) external view returns (Attestation[] memory) {
        return _attestations[modelId];
    }

    function _provider(uint256 modelId) private view {
        (address provider,,,,) = registry.inferenceTerms(modelId);
        if (msg.sender != provider) revert NotProvider(modelId, msg.sender);
    }

    function _open(uint256 challengeId) private view returns (Challenge storage ch) {
        ch = _challenges[challengeId];
        if (ch.status == Status.None) revert UnknownChallenge(challengeId);
        if (ch.status != Status.Open) revert ChallengeNotOpen(challengeId, ch.status);
    }
}
