"""Accuracy audits from Python: the AccuracyAudit contract's calls, the pool file, the auditor's
and the provider's sides.

The protocol (contracts/statements/AccuracyAudit.sol): anyone registers a *test pool* by its
Merkle root (``prover.circuit.accuracy``) and publishes the pool file; a provider stakes a bond
on a claimed accuracy over its accuracy circuit's sample count and accepts the pools whose
labels it has checked; a challenger pays a fee and names a pool; after the next block anyone
calls ``draw``, which fixes the samples from that block's hash; the provider proves its model's
count on exactly those samples before the deadline. Only challenges on accepted pools put the
bond at risk (one slice each); on other pools (an auditor's private test set) they buy an
attestation for the fee.

Pool file (the documented publication format): a numpy ``.npz`` with ``inputs`` (int64, the
quantized test inputs, shape (n, *model input shape)) and ``labels`` (int64, shape (n,)). Its
commitment is recomputed with the model's input quantization and compared with the on-chain
root and size before a provider accepts a pool or answers a challenge on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import numpy as np

from marketplace.chain import is_embedded
from marketplace.contracts import proof_to_evm, read_record, record_from_struct, struct_fields
from marketplace.settlement import SettlementContract, read_arrays, write_arrays
from prover.errors import ChainError, FormatError, VerificationError

FULL_BPS = 10_000


class ChallengeStatus(IntEnum):
    NONE = 0
    WAITING = 1  # opened; samples not drawn yet
    DRAWN = 2  # samples fixed; the answer is due by the deadline
    PASSED = 3
    FAILED = 4
    EXPIRED = 5
    CANCELLED = 6


@dataclass(frozen=True)
class PoolRecord:
    """A registered test pool: who registered it, its number of samples and its Merkle root."""

    registrant: str
    size: int
    root: int


@dataclass(frozen=True)
class StakeRecord:
    bond: int  # what is left of it
    slice: int  # what one lost bonded challenge takes
    min_fee: int
    claim_bps: int
    samples: int  # the accuracy circuit's sample count
    epoch: int
    unbonding_at: int  # 0 unless an unstake was requested
    opened: int  # bonded challenges of this stake
    settled: int
    cancelled: int

    @property
    def pending(self) -> int:
        """Bonded challenges of this stake not yet settled or cancelled."""
        return self.opened - self.settled - self.cancelled


@dataclass(frozen=True)
class ChallengeRecord:
    challenger: str
    status: ChallengeStatus
    bonded: bool
    samples: int
    claim_bps: int
    epoch: int
    redraws: int
    position: int
    draw_block: int
    deadline: int
    model_id: int
    pool_id: int
    fee: int
    draw: int
    correct: int


@dataclass(frozen=True)
class Attestation:
    pool_id: int
    samples: int
    correct: int
    challenge_id: int
    bonded: bool


# --- the pool file ---------------------------------------------------------------------------


def write_pool(path, inputs: np.ndarray, labels: np.ndarray) -> Path:
    """Write a pool file atomically."""
    return write_arrays(path, inputs=inputs, labels=labels)


def read_pool(path) -> tuple[np.ndarray, np.ndarray]:
    """(quantized inputs, labels) from a pool file; FormatError if it is not one."""
    inputs, labels = read_arrays(path, ("inputs", "labels"), "pool")
    if labels.ndim != 1 or len(inputs) != len(labels):
        raise FormatError(f"{path}: one label per pool input is needed ({len(inputs)} inputs, {labels.shape} labels)")
    return inputs, labels


def load_pool(graph, path, record: PoolRecord | None = None):
    """The pool of a pool file as ``prover.circuit.accuracy.TestPool``, checked against its
    on-chain ``record`` when given: VerificationError when the file is not the registered pool,
    FormatError / InputShapeError when it is no pool for this model."""
    from prover.circuit.accuracy import build_pool

    pool = build_pool(graph, *read_pool(path))
    if record is not None and (pool.root, pool.size) != (record.root, record.size):
        raise VerificationError(
            f"{path} is not the registered pool: its root is {pool.root} over {pool.size} "
            f"samples, the pool's {record.root} over {record.size}; fetch the published file"
        )
    return pool


def pass_probability(accuracy: float, samples: int, claim_bps: int) -> float:
    """The chance that ``samples`` draws with replacement from a pool on which the model is
    right with frequency ``accuracy`` meet a claim of ``claim_bps``: P[Binomial(samples,
    accuracy) * 10000 >= claim_bps * samples]. What a provider weighs before accepting a pool."""
    from math import comb

    need = -(-claim_bps * samples // FULL_BPS)
    return float(
        sum(comb(samples, k) * accuracy**k * (1 - accuracy) ** (samples - k) for k in range(need, samples + 1))
    )


def prove_accuracy(graph, proving_key, pool, draw: int, mode: str = "private", progress: bool = False):
    """The provider's proof that the model labels ``n_correct`` of the samples ``draw``
    selects from ``pool`` correctly. Returns (proof, public signals)."""
    from prover.circuit import accuracy as A
    from prover.groth16.prove import prove

    _, _, n = A.split_draw(draw)
    circuit = A.accuracy_circuit(graph, n, mode, show_progress=progress)
    result = circuit.witness(pool, draw, show_progress=progress)
    return prove(proving_key, result.witness, progress=progress, r1cs=circuit.r1cs)


def next_block(w3) -> None:
    """Let one block pass: mined at once on the embedded chain or a development node, waited
    for on any other."""
    if is_embedded(w3):
        w3.provider.ethereum_tester.mine_blocks(1)
        return
    start = w3.eth.block_number
    try:
        w3.provider.make_request("evm_mine", [])
    except Exception:  # noqa: BLE001 - a node without evm_mine: wait for the next block
        pass
    deadline = time.monotonic() + 120
    while w3.eth.block_number <= start:
        if time.monotonic() > deadline:
            raise ChainError("no new block in 120 s: the node does not mine; the draw needs a later block")
        time.sleep(1)


# --- the contract ----------------------------------------------------------------------------


class Audit(SettlementContract):
    """A deployed AccuracyAudit with typed calls (``Audit.deploy(w3, registry, answer_window,
    unbonding_delay, sender=...)``)."""

    NAME = "AccuracyAudit"

    # pools
    def register_pool(self, sender: str, root: int, size: int, uri: str = "") -> int:
        """Register a pool by its root; returns its id."""
        receipt = self._send(self.contract.functions.registerPool(root, size, uri), sender)
        return self._event(receipt, "PoolRegistered", "poolId")

    def pool_of(self, pool_id: int) -> PoolRecord:
        return read_record(PoolRecord, self.contract.functions.poolOf(pool_id), self._abis)

    def pool_uri(self, pool_id: int) -> str:
        """The URI the pool's registrant published its file at (from the registration event)."""
        for event in self.contract.events.PoolRegistered().get_logs(from_block=0, argument_filters={"poolId": pool_id}):
            return str(event["args"]["uri"])
        raise VerificationError(f"pool {pool_id} is not registered on this AccuracyAudit")

    # stakes
    def stake(
        self,
        provider: str,
        model_id: int,
        claim_bps: int,
        samples: int,
        bond: int,
        slice_: int | None = None,
        min_fee: int = 0,
    ) -> None:
        """State the claimed accuracy (basis points) over ``samples`` and stake ``bond`` wei, taken
        ``slice_`` (default all of it) per lost challenge."""
        self._send(self.contract.functions.stake(model_id, claim_bps, samples, slice_ or bond, min_fee), provider, bond)

    def accept_pool(self, provider: str, model_id: int, pool_id: int) -> None:
        self._send(self.contract.functions.acceptPool(model_id, pool_id), provider)

    def accepts(self, model_id: int, pool_id: int) -> bool:
        return bool(self.contract.functions.accepts(model_id, pool_id).call())

    def request_unstake(self, provider: str, model_id: int) -> int:
        """Ask for the bond back; returns the time from which no new challenge is taken."""
        receipt = self._send(self.contract.functions.requestUnstake(model_id), provider)
        return self._event(receipt, "UnstakeRequested", "unbondingAt")

    def complete_unstake(self, provider: str, model_id: int) -> int:
        """Take back what is left of the bond (credited; ``withdraw`` sends it); returns it."""
        return self._event(self._send(self.contract.functions.completeUnstake(model_id), provider), "Unstaked", "bond")

    def stake_of(self, model_id: int) -> StakeRecord:
        return read_record(StakeRecord, self.contract.functions.stakeOf(model_id), self._abis)

    # challenges
    def challenge(self, sender: str, model_id: int, pool_id: int, fee: int) -> int:
        """Open a challenge on a pool; returns its id."""
        receipt = self._send(self.contract.functions.challenge(model_id, pool_id), sender, fee)
        return self._event(receipt, "ChallengeOpened", "challengeId")

    def draw(self, sender: str, challenge_id: int, wait: bool = True) -> ChallengeRecord:
        """Draw the samples; returns the record (still WAITING if the draw was deferred). The
        draw block must be mined before the one the draw runs in: with ``wait`` blocks are let
        pass until it is."""
        while wait and self.w3.eth.block_number <= self.status(challenge_id).draw_block:
            next_block(self.w3)
        self._send(self.contract.functions.draw(challenge_id), sender)
        return self.status(challenge_id)

    def answer(self, provider: str, challenge_id: int, proof, correct: int) -> ChallengeStatus:
        """Answer with an accuracy proof (``(a, b, c)`` in EVM order or a ``Proof``); returns
        the outcome (PASSED or FAILED)."""
        a, b, c = proof if isinstance(proof, (tuple, list)) else proof_to_evm(proof)
        self._send(self.contract.functions.answer(challenge_id, a, b, c, correct), provider)
        return self.status(challenge_id).status

    def expire(self, sender: str, challenge_id: int) -> None:
        self._send(self.contract.functions.expire(challenge_id), sender)

    def cancel(self, sender: str, challenge_id: int) -> None:
        self._send(self.contract.functions.cancel(challenge_id), sender)

    def status(self, challenge_id: int) -> ChallengeRecord:
        return read_record(ChallengeRecord, self.contract.functions.challengeOf(challenge_id), self._abis)

    def attestations(self, model_id: int) -> list[Attestation]:
        call = self.contract.functions.attestations(model_id)
        fields = struct_fields(call)
        return [record_from_struct(Attestation, a, fields) for a in call.call()]


def answer_challenge(
    audit: Audit,
    provider: str,
    challenge_id: int,
    graph,
    proving_key,
    pool_path,
    mode: str = "private",
    progress: bool = False,
) -> ChallengeStatus:
    """The provider's whole answer (what `zkmarket provider answer-audit` runs): draw the
    samples if nobody has yet, read the pool file, check it against the pool's on-chain root
    and size, prove the drawn samples and answer. Returns PASSED or FAILED; raises
    VerificationError before any proof when the challenge cannot be answered or the file is
    not the registered pool."""
    record = audit.status(challenge_id)
    if record.status not in (ChallengeStatus.WAITING, ChallengeStatus.DRAWN):
        raise VerificationError(f"challenge {challenge_id} is {record.status.name.lower()}: nothing to answer")
    pool = load_pool(graph, pool_path, audit.pool_of(record.pool_id))
    if record.status == ChallengeStatus.WAITING:
        record = audit.draw(provider, challenge_id)
        if record.status == ChallengeStatus.WAITING:
            raise VerificationError(
                f"challenge {challenge_id}: its draw block fell out of the 256-block window and "
                "the draw moved to the next block; answer again"
            )
    proof, public = prove_accuracy(graph, proving_key, pool, record.draw, mode, progress)
    return audit.answer(provider, challenge_id, proof, public[3])
