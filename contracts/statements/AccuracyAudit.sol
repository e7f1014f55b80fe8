// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {SCALAR_FIELD, NotProvider, DeadlinePassed, DeadlineNotReached, InvalidProof, Casts} from "../Common.sol";
import {IGroth16Verifier} from "../IGroth16Verifier.sol";
import {ModelRegistry} from "../ModelRegistry.sol";
import {PullPayments} from "../PullPayments.sol";

/// @title Accuracy audits of registered models on public test pools, settled by proofs
/// @author zkml-market
/// @notice Test pools are registered by the Merkle root of their (item hash, label) leaves, with
/// their data published at a URI so that anyone can check the file against the root. A model's
/// provider stakes a bond on a claimed accuracy over the sample count of its registered accuracy
/// circuit, and names the pools it accepts (after inspecting their labels). A challenge pays a
/// fee and names a pool; the samples are drawn from the hash of a block mined after the
/// challenge (a permissionless `draw`), so neither side picks them. The provider proves the
/// model's count of correct labels on exactly the drawn samples before the answer deadline.
///
/// Only a challenge on an accepted pool puts the bond at risk ("bonded"): one that passes pays
/// the fee to the provider and attests the model; one that fails or goes unanswered pays the
/// challenger its fee and one `slice` of the bond. Every bonded challenge reserves a slice: at
/// most bond / slice of them are drawn and open at a time, the rest wait in order of arrival
/// (no account can block another: every challenge is eventually drawn and settled once). A
/// challenge on any other pool (e.g. an auditor's private test set, registered without data)
/// only buys an attestation: the provider may answer it and earn the fee; unanswered, the fee
/// goes back. Unstaking is requested and completes after `unbondingDelay` (longer than the
/// answer window), once every bonded challenge opened before then has settled; the provider can
/// then stake again. Money leaves only through `withdraw` (pull payments).
contract AccuracyAudit is PullPayments {
    /// @notice Where a challenge is in its life: Waiting, Drawn, then settled exactly once
    /// (Passed, Failed, Expired) or, never drawn, Cancelled.
    enum Status {
        None,
        Waiting, // opened; its samples are not drawn yet (bonded: maybe queued behind others)
        Drawn, // samples fixed; the provider's answer is due by the deadline
        Passed,
        Failed,
        Expired,
        Cancelled
    }

    /// @notice A registered test pool: who registered it, its number of samples, its Merkle root.
    struct Pool {
        address registrant;
        uint32 size;
        uint256 root;
    }

    /// @notice A model's bond on its claimed accuracy and the count of its bonded challenges.
    struct Stake {
        uint256 bond; // what is left of the bond
        uint256 slice; // what one lost bonded challenge takes from it
        uint256 minFee; // the least fee a challenge pays
        uint16 claimBps;
        uint16 samples; // the registered accuracy circuit's sample count
        uint32 epoch; // one per stake; pools are accepted per epoch
        uint64 unbondingAt; // 0, or the time from which the stake takes no new challenge
        uint64 opened; // bonded challenges of this epoch (their queue positions are 0..opened-1)
        uint64 settled; // of them, answered or expired
        uint64 cancelled; // of them, cancelled because the bond ran out before their turn
    }

    /// @notice A challenge of a model's claim on a pool: its terms, its draw and its outcome.
    struct Challenge {
        address challenger;
        Status status;
        bool bonded;
        uint16 samples;
        uint16 claimBps;
        uint32 epoch;
        uint32 redraws; // times the draw block fell out of the 256-block window and was moved
        uint64 position; // queue position among the epoch's bonded challenges
        uint64 drawBlock; // the block whose hash draws the samples
        uint64 deadline; // answer deadline (set by the draw)
        uint256 modelId;
        uint256 poolId;
        uint256 fee;
        uint256 draw; // the accuracy statement's draw public input (0 until drawn)
        uint256 correct;
    }

    /// @notice A public record that a model's proof reached its claim on drawn pool samples.
    struct Attestation {
        uint256 poolId;
        uint256 samples;
        uint256 correct;
        uint256 challengeId;
        bool bonded; // the challenge had the bond at risk (its pool was accepted)
    }

    /// @notice Claimed accuracies are in basis points: 10000 = 100 %.
    uint16 public constant FULL_BPS = 10000;
    /// @notice The largest pool: the accuracy circuit's Merkle tree has depth 12.
    uint256 public constant MAX_POOL_SIZE = 4096;
    /// @notice The largest sample count (16 bits in the draw).
    uint256 public constant MAX_SAMPLES = 65535;

    /// @notice The registry whose models are audited.
    ModelRegistry public immutable registry;
    /// @notice Seconds a provider has to answer once the samples are drawn.
    uint256 public immutable answerWindow;
    /// @notice Seconds between an unstake request and the end of new challenges.
    uint256 public immutable unbondingDelay;
    /// @notice Number of pools registered so far; ids are 1..poolCount.
    uint256 public poolCount;
    /// @notice Number of challenges opened so far; ids are 1..challengeCount.
    uint256 public challengeCount;
    mapping(uint256 => Pool) private _pools;
    mapping(uint256 => Stake) private _stakes;
    mapping(uint256 => Challenge) private _challenges;
    mapping(uint256 => Attestation[]) private _attestations;
    mapping(uint256 => mapping(uint32 => mapping(uint256 => bool))) private _accepted;

    /// @notice The model names no accuracy verifier.
    /// @param modelId the model
    error AccuracyUnsupported(uint256 modelId);
    /// @notice Windows must fit 32 bits and the unbonding delay exceed the answer window.
    /// @param answerWindow the answer window given
    /// @param unbondingDelay the unbonding delay given
    error BadWindows(uint256 answerWindow, uint256 unbondingDelay);
    /// @notice A pool needs a root below the field and 1..MAX_POOL_SIZE samples.
    /// @param root the root given
    /// @param size the size given
    error BadPool(uint256 root, uint256 size);
    /// @notice No pool has this id.
    /// @param poolId the id asked for
    error UnknownPool(uint256 poolId);
    /// @notice Claim in (0, 10000] bps, samples 1..MAX_SAMPLES, a non-zero bond that is a whole
    /// number of non-zero slices.
    /// @param claimBps the claim given
    /// @param samples the sample count given
    /// @param bond the value sent
    /// @param slice the slice given
    error BadStake(uint256 claimBps, uint256 samples, uint256 bond, uint256 slice);
    /// @notice The model's previous stake still holds a bond or unsettled bonded challenges.
    /// @param modelId the model
    error StakeInUse(uint256 modelId);
    /// @notice The model has no bond at stake (or never stated its sample count).
    /// @param modelId the model
    error NotStaked(uint256 modelId);
    /// @notice The stake takes no new challenges since `unbondingAt`.
    /// @param modelId the model
    /// @param unbondingAt when its unbonding began (unix time)
    error Unbonding(uint256 modelId, uint256 unbondingAt);
    /// @notice An unstake was already requested for this stake.
    /// @param modelId the model
    /// @param unbondingAt when its unbonding begins (unix time)
    error AlreadyUnbonding(uint256 modelId, uint256 unbondingAt);
    /// @notice No unstake was requested, or its delay has not passed yet.
    /// @param modelId the model
    /// @param unbondingAt when its unbonding begins (0: never requested)
    error UnbondingNotDue(uint256 modelId, uint256 unbondingAt);
    /// @notice Bonded challenges of this stake are not settled yet.
    /// @param modelId the model
    /// @param pending how many are still open
    error ChallengesPending(uint256 modelId, uint256 pending);
    /// @notice The fee sent is below the stake's minimum (at least 1 wei).
    /// @param fee the value sent
    /// @param minFee the least fee the challenge must pay
    error FeeTooLow(uint256 fee, uint256 minFee);
    /// @notice No challenge has this id.
    /// @param challengeId the id asked for
    error UnknownChallenge(uint256 challengeId);
    /// @notice The challenge is not in the status this step needs.
    /// @param challengeId the challenge
    /// @param status its status now
    error WrongStatus(uint256 challengeId, Status status);
    /// @notice The bonded challenge waits for earlier ones: its queue position is not below `window`.
    /// @param challengeId the challenge
    /// @param position its queue position
    /// @param window the first position that may not be drawn yet
    error Queued(uint256 challengeId, uint256 position, uint256 window);
    /// @notice The draw block is not mined yet (its hash does not exist).
    /// @param challengeId the challenge
    /// @param drawBlock the block whose hash draws its samples
    error DrawTooEarly(uint256 challengeId, uint256 drawBlock);
    /// @notice Only a waiting challenge that can no longer be drawn (or, unbonded, the
    /// challenger's own) can be cancelled.
    /// @param challengeId the challenge
    error NotCancellable(uint256 challengeId);

    /// @notice A test pool was registered.
    /// @param poolId its id
    /// @param registrant who registered it
    /// @param root the Merkle root of its (item hash, label) leaves
    /// @param size its number of samples
    /// @param uri where its file is published (empty for a private test set)
    event PoolRegistered(uint256 indexed poolId, address indexed registrant, uint256 root, uint256 size, string uri);
    /// @notice A provider staked a bond on its model's claimed accuracy.
    /// @param modelId the model
    /// @param provider who staked
    /// @param epoch the stake's number (pools are accepted per epoch)
    /// @param claimBps the claimed accuracy in basis points
    /// @param samples the accuracy circuit's sample count
    /// @param bond the wei staked
    /// @param slice what one lost bonded challenge takes
    /// @param minFee the least fee a challenge pays
    event Staked(
        uint256 indexed modelId,
        address indexed provider,
        uint256 epoch,
        uint256 claimBps,
        uint256 samples,
        uint256 bond,
        uint256 slice,
        uint256 minFee
    );
    /// @notice The provider put its bond at risk on a pool's challenges for this epoch.
    /// @param modelId the model
    /// @param poolId the pool
    /// @param epoch the stake's epoch
    event PoolAccepted(uint256 indexed modelId, uint256 indexed poolId, uint256 epoch);
    /// @notice The provider asked for its bond back.
    /// @param modelId the model
    /// @param unbondingAt from when the stake takes no new challenge (unix time)
    event UnstakeRequested(uint256 indexed modelId, uint256 unbondingAt);
    /// @notice The stake ended; what was left of the bond is now owed to the provider.
    /// @param modelId the model
    /// @param bond the wei owed back
    event Unstaked(uint256 indexed modelId, uint256 bond);
    /// @notice A challenger paid a fee to challenge a model's claim on a pool.
    /// @param challengeId the new challenge
    /// @param modelId the model
    /// @param challenger who paid
    /// @param poolId the pool its samples come from
    /// @param bonded whether a slice of the bond is at risk (the pool was accepted)
    /// @param samples the number of samples to be drawn
    /// @param fee the wei paid
    /// @param drawBlock the block whose hash draws the samples
    event ChallengeOpened(
        uint256 indexed challengeId,
        uint256 indexed modelId,
        address indexed challenger,
        uint256 poolId,
        bool bonded,
        uint256 samples,
        uint256 fee,
        uint256 drawBlock
    );
    /// @notice The draw block fell out of the 256-block hash window; the draw moved to `drawBlock`.
    /// @param challengeId the challenge
    /// @param drawBlock the new draw block
    event DrawDeferred(uint256 indexed challengeId, uint256 drawBlock);
    /// @notice A challenge's samples were drawn; the provider's answer is due by the deadline.
    /// @param challengeId the challenge
    /// @param draw the accuracy statement's draw public input (seed, pool size, sample count)
    /// @param deadline the answer deadline (unix time)
    event SamplesDrawn(uint256 indexed challengeId, uint256 draw, uint256 deadline);
    /// @notice The proof reached the claim: the fee is owed to the provider, the attestation recorded.
    /// @param challengeId the challenge
    /// @param modelId the model
    /// @param samples the samples the proof ran
    /// @param correct how many of them the model labelled correctly
    event ChallengePassed(uint256 indexed challengeId, uint256 indexed modelId, uint256 samples, uint256 correct);
    /// @notice The proof fell below the claim (bonded: fee and a slice owed to the challenger).
    /// @param challengeId the challenge
    /// @param modelId the model
    /// @param samples the samples the proof ran
    /// @param correct how many of them the model labelled correctly
    event ChallengeFailed(uint256 indexed challengeId, uint256 indexed modelId, uint256 samples, uint256 correct);
    /// @notice No answer in time (bonded: fee and a slice owed to the challenger; else the fee back).
    /// @param challengeId the challenge
    /// @param modelId the model
    event ChallengeExpired(uint256 indexed challengeId, uint256 indexed modelId);
    /// @notice A waiting challenge was cancelled; its fee is owed back to the challenger.
    /// @param challengeId the challenge
    /// @param modelId the model
    event ChallengeCancelled(uint256 indexed challengeId, uint256 indexed modelId);

    /// @notice Deploy an accuracy audit over a registry's models.
    /// @param registry_ the model registry
    /// @param answerWindow_ seconds a provider has to answer once the samples are drawn
    /// @param unbondingDelay_ seconds from an unstake request to the end of new challenges (> answerWindow_)
    constructor(ModelRegistry registry_, uint256 answerWindow_, uint256 unbondingDelay_) {
        if (answerWindow_ == 0 || unbondingDelay_ <= answerWindow_ || unbondingDelay_ > type(uint32).max) {
            revert BadWindows(answerWindow_, unbondingDelay_);
        }
        registry = registry_;
        answerWindow = answerWindow_;
        unbondingDelay = unbondingDelay_;
    }

    // --- pools -----------------------------------------------------------------------------

    /// @notice Register a test pool by its Merkle root; `uri` says where its data is published
    /// (empty for a private test set, which can only buy attestations).
    /// @param root the pool's Merkle root (prover/circuit/accuracy.py)
    /// @param size the number of samples in the pool
    /// @param uri where the pool file can be fetched
    /// @return poolId the new pool's id
    function registerPool(uint256 root, uint256 size, string calldata uri) external returns (uint256 poolId) {
        if (root >= SCALAR_FIELD || size == 0 || size > MAX_POOL_SIZE) revert BadPool(root, size);
        poolId = ++poolCount;
        _pools[poolId] = Pool({registrant: msg.sender, size: uint32(size), root: root});
        emit PoolRegistered(poolId, msg.sender, root, size, uri);
    }

    // --- stakes ----------------------------------------------------------------------------

    /// @notice State the model's claimed accuracy over its accuracy circuit's sample count and
    /// stake the bond (the value sent), to be taken `slice` at a time by lost challenges.
    /// @param modelId a model of the caller's that names an accuracy verifier
    /// @param claimBps claimed accuracy in basis points (1..10000)
    /// @param samples the sample count of the model's registered accuracy circuit
    /// @param slice what one lost challenge takes; the bond must be a whole number of slices
    /// @param minFee the least fee a challenge must pay
    function stake(uint256 modelId, uint256 claimBps, uint256 samples, uint256 slice, uint256 minFee)
        external
        payable
    {
        _provider(modelId);
        if (registry.verifierFor(modelId, ModelRegistry.Statement.Accuracy) == address(0)) {
            revert AccuracyUnsupported(modelId);
        }
        if (
            claimBps == 0 || claimBps > FULL_BPS || samples == 0 || samples > MAX_SAMPLES || slice == 0
                || msg.value == 0 || msg.value % slice != 0
        ) revert BadStake(claimBps, samples, msg.value, slice);
        Stake storage s = _stakes[modelId];
        if (s.bond != 0 || s.opened != s.settled + s.cancelled) revert StakeInUse(modelId);
        uint32 epoch = s.epoch + 1;
        _stakes[modelId] = Stake({
            bond: msg.value,
            slice: slice,
            minFee: minFee,
            claimBps: uint16(claimBps),
            samples: uint16(samples),
            epoch: epoch,
            unbondingAt: 0,
            opened: 0,
            settled: 0,
            cancelled: 0
        });
        emit Staked(modelId, msg.sender, epoch, claimBps, samples, msg.value, slice, minFee);
    }

    /// @notice Put the bond at risk on a pool's challenges for the rest of this stake (there is
    /// no taking it back: a provider must not escape a challenge it sees coming).
    /// @param modelId the caller's staked model
    /// @param poolId a registered pool whose file the provider checked
    function acceptPool(uint256 modelId, uint256 poolId) external {
        _provider(modelId);
        Stake storage s = _stakes[modelId];
        if (s.bond == 0) revert NotStaked(modelId);
        if (_pools[poolId].size == 0) revert UnknownPool(poolId);
        _accepted[modelId][s.epoch][poolId] = true;
        emit PoolAccepted(modelId, poolId, s.epoch);
    }

    /// @notice Ask to take the bond back: challenges are still taken for `unbondingDelay`
    /// seconds, and the bond comes back once every bonded challenge has settled.
    /// @param modelId the caller's staked model
    function requestUnstake(uint256 modelId) external {
        _provider(modelId);
        Stake storage s = _stakes[modelId];
        if (s.bond == 0) revert NotStaked(modelId);
        if (s.unbondingAt != 0) revert AlreadyUnbonding(modelId, s.unbondingAt);
        uint64 at = Casts.toUint64(block.timestamp + unbondingDelay);
        s.unbondingAt = at;
        emit UnstakeRequested(modelId, at);
    }

    /// @notice Credit the provider with what is left of the bond, after the unbonding delay and
    /// once every bonded challenge of the stake has settled. The model can then stake again.
    /// @param modelId the caller's unbonding model
    function completeUnstake(uint256 modelId) external {
        address provider = _provider(modelId);
        Stake storage s = _stakes[modelId];
        if (s.bond == 0) revert NotStaked(modelId);
        if (s.unbondingAt == 0 || block.timestamp < s.unbondingAt) revert UnbondingNotDue(modelId, s.unbondingAt);
        uint256 pending = s.opened - s.settled - s.cancelled;
        if (pending != 0) revert ChallengesPending(modelId, pending);
        uint256 bond = s.bond;
        s.bond = 0;
        _credit(provider, bond);
        emit Unstaked(modelId, bond);
    }

    // --- challenges ------------------------------------------------------------------------

    /// @notice Challenge the model's claim on a pool; the value sent is the fee. On a pool the
    /// provider accepted, the challenge puts a slice of the bond at risk; on any other pool it
    /// only asks for an attestation. Its samples are drawn from the next block's hash.
    /// @param modelId a model that has stated its sample count by staking
    /// @param poolId a registered pool
    /// @return challengeId the new challenge's id
    function challenge(uint256 modelId, uint256 poolId) external payable returns (uint256 challengeId) {
        Stake storage s = _stakes[modelId];
        if (s.samples == 0) revert NotStaked(modelId);
        if (_pools[poolId].size == 0) revert UnknownPool(poolId);
        uint256 minFee = s.minFee == 0 ? 1 : s.minFee;
        if (msg.value < minFee) revert FeeTooLow(msg.value, minFee);
        bool bonded = _accepted[modelId][s.epoch][poolId];
        uint64 position;
        if (bonded) {
            if (s.bond == 0) revert NotStaked(modelId);
            if (s.unbondingAt != 0 && block.timestamp >= s.unbondingAt) revert Unbonding(modelId, s.unbondingAt);
            position = s.opened++;
        }
        challengeId = ++challengeCount;
        uint64 drawBlock = Casts.toUint64(block.number + 1);
        _challenges[challengeId] = Challenge({
            challenger: msg.sender,
            status: Status.Waiting,
            bonded: bonded,
            samples: s.samples,
            claimBps: s.claimBps,
            epoch: s.epoch,
            redraws: 0,
            position: position,
            drawBlock: drawBlock,
            deadline: 0,
            modelId: modelId,
            poolId: poolId,
            fee: msg.value,
            draw: 0,
            correct: 0
        });
        emit ChallengeOpened(challengeId, modelId, msg.sender, poolId, bonded, s.samples, msg.value, drawBlock);
    }

    /// @notice Fix a waiting challenge's samples from the hash of its draw block; anyone may
    /// call it once that block is mined (and, bonded, once its turn has come). If the block is
    /// older than the 256 blocks whose hash the chain keeps, the draw moves to the next block
    /// instead and nothing else changes.
    /// @param challengeId the waiting challenge
    function draw(uint256 challengeId) external {
        Challenge storage ch = _inStatus(challengeId, Status.Waiting);
        if (ch.bonded) {
            Stake storage s = _stakes[ch.modelId];
            uint256 window = s.settled + s.bond / s.slice;
            if (ch.position >= window) revert Queued(challengeId, ch.position, window);
        }
        if (block.number <= ch.drawBlock) revert DrawTooEarly(challengeId, ch.drawBlock);
        bytes32 hash = blockhash(ch.drawBlock);
        if (hash == bytes32(0)) {
            uint64 next = Casts.toUint64(block.number + 1);
            ch.drawBlock = next;
            ch.redraws += 1;
            emit DrawDeferred(challengeId, next);
            return;
        }
        uint256 seed = uint256(keccak256(abi.encode(hash, address(this), challengeId))) >> 40; // 216 bits
        uint256 value = (seed << 32) | (uint256(_pools[ch.poolId].size) << 16) | ch.samples;
        uint64 deadline = Casts.toUint64(block.timestamp + answerWindow);
        ch.draw = value;
        ch.deadline = deadline;
        ch.status = Status.Drawn;
        emit SamplesDrawn(challengeId, value, deadline);
    }

    /// @notice Answer a drawn challenge with an accuracy proof about exactly its samples. Only
    /// the model's provider answers (it alone holds the weights the proof is about).
    /// @param challengeId the drawn challenge
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
        Challenge storage ch = _inStatus(challengeId, Status.Drawn);
        (address provider,, uint256 modelCommitment,,) = registry.inferenceTerms(ch.modelId);
        if (msg.sender != provider) revert NotProvider(ch.modelId, msg.sender);
        if (block.timestamp > ch.deadline) revert DeadlinePassed(challengeId, ch.deadline);
        if (correct > ch.samples) revert InvalidProof(challengeId); // no proof counts more than it ran
        address verifier = registry.verifierFor(ch.modelId, ModelRegistry.Statement.Accuracy);
        uint256[4] memory pub = [modelCommitment, _pools[ch.poolId].root, ch.draw, correct];
        if (!IGroth16Verifier(verifier).verifyProof(a, b, c, pub)) revert InvalidProof(challengeId);

        ch.correct = correct;
        bool passed = correct * FULL_BPS >= uint256(ch.claimBps) * ch.samples;
        if (passed) {
            ch.status = Status.Passed;
            _credit(provider, ch.fee);
            _attestations[ch.modelId].push(Attestation(ch.poolId, ch.samples, correct, challengeId, ch.bonded));
            emit ChallengePassed(challengeId, ch.modelId, ch.samples, correct);
        } else {
            ch.status = Status.Failed;
            if (ch.bonded) _credit(ch.challenger, ch.fee + _takeSlice(ch.modelId));
            else _credit(provider, ch.fee); // an attestation request pays for the answer
            emit ChallengeFailed(challengeId, ch.modelId, ch.samples, correct);
        }
        if (ch.bonded) _stakes[ch.modelId].settled += 1;
    }

    /// @notice After the deadline, an unanswered drawn challenge settles for the challenger:
    /// bonded, its fee and a slice of the bond; otherwise its fee back. Anyone may call it.
    /// @param challengeId the drawn challenge
    function expire(uint256 challengeId) external {
        Challenge storage ch = _inStatus(challengeId, Status.Drawn);
        if (block.timestamp <= ch.deadline) revert DeadlineNotReached(challengeId, ch.deadline);
        ch.status = Status.Expired;
        if (ch.bonded) {
            _credit(ch.challenger, ch.fee + _takeSlice(ch.modelId));
            _stakes[ch.modelId].settled += 1;
        } else {
            _credit(ch.challenger, ch.fee);
        }
        emit ChallengeExpired(challengeId, ch.modelId);
    }

    /// @notice Give a waiting challenge's fee back: a bonded one once the bond has run out
    /// before its turn (anyone may call it), an attestation request when its challenger asks.
    /// @param challengeId the waiting challenge
    function cancel(uint256 challengeId) external {
        Challenge storage ch = _inStatus(challengeId, Status.Waiting);
        if (ch.bonded ? _stakes[ch.modelId].bond != 0 : msg.sender != ch.challenger) {
            revert NotCancellable(challengeId);
        }
        ch.status = Status.Cancelled;
        if (ch.bonded) _stakes[ch.modelId].cancelled += 1;
        _credit(ch.challenger, ch.fee);
        emit ChallengeCancelled(challengeId, ch.modelId);
    }

    // --- views -----------------------------------------------------------------------------

    /// @notice A pool's record.
    /// @param poolId the pool
    /// @return the pool record
    function poolOf(uint256 poolId) external view returns (Pool memory) {
        if (_pools[poolId].size == 0) revert UnknownPool(poolId);
        return _pools[poolId];
    }

    /// @notice Whether the model's current stake has its bond at risk on the pool.
    /// @param modelId the model
    /// @param poolId the pool
    /// @return accepted true when challenges on the pool are bonded
    function accepts(uint256 modelId, uint256 poolId) external view returns (bool accepted) {
        return _accepted[modelId][_stakes[modelId].epoch][poolId];
    }

    /// @notice A model's stake.
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

    // --- internals -------------------------------------------------------------------------

    /// @dev The caller, when it is the model's provider (reverts NotProvider otherwise).
    function _provider(uint256 modelId) private view returns (address provider) {
        (provider,,,,) = registry.inferenceTerms(modelId);
        if (msg.sender != provider) revert NotProvider(modelId, msg.sender);
    }

    /// @dev The record of a challenge in status `want` (reverts UnknownChallenge or WrongStatus).
    function _inStatus(uint256 challengeId, Status want) private view returns (Challenge storage ch) {
        ch = _challenges[challengeId];
        if (ch.status == Status.None) revert UnknownChallenge(challengeId);
        if (ch.status != want) revert WrongStatus(challengeId, ch.status);
    }

    /// @dev A drawn bonded challenge always finds its slice: at most bond / slice are drawn
    /// and unsettled at once (see `draw`), and each takes exactly one slice.
    function _takeSlice(uint256 modelId) private returns (uint256 slice) {
        Stake storage s = _stakes[modelId];
        slice = s.slice;
        s.bond -= slice;
    }

}
