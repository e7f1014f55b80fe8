"""Accuracy audits from Python: the AccuracyAudit contract's calls, the test-set hand-over
file, and the provider's accuracy proof.

The protocol (contracts/AccuracyAudit.sol): the provider stakes a bond on a claimed accuracy
for a registered model; an auditor challenges with the commitment to a test set and a fee, and
hands the test set to the provider as a *test-set file*; the provider proves the model's count
of correct labels on it (``prover.circuit.accuracy``) and answers before the deadline.

Test-set file (the documented hand-over channel): a numpy ``.npz`` with ``inputs`` (int64,
the quantized test inputs, shape (n, *model input shape)) and ``labels`` (int64, shape (n,)).
The provider recomputes its commitment and refuses a file that does not match the challenge.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import numpy as np
from marketplace.contracts import proof_to_evm
from marketplace.settlement import SettlementContract, read_arrays, write_arrays
from prover.errors import FormatError, VerificationError

FULL_BPS = 10_000


class ChallengeStatus(IntEnum):
    NONE = 0
    OPEN = 1
    PASSED = 2
    FAILED = 3
    EXPIRED = 4


@dataclass(frozen=True)
class StakeRecord:
    bond: int
    claim_bps: int
    open_challenge: int  # 0 when none


@dataclass(frozen=True)
class ChallengeRecord:
    auditor: str
    deadline: int
    status: ChallengeStatus
    model_id: int
    test_set_commitment: int
    samples: int
    fee: int
    correct: int


@dataclass(frozen=True)
class Attestation:
    test_set_commitment: int
    samples: int
    correct: int
    challenge_id: int


# --- the hand-over file ----------------------------------------------------------------------

def write_test_set(path, inputs: np.ndarray, labels: np.ndarray) -> Path:
    """Write a test-set file atomically."""
    return write_arrays(path, inputs=inputs, labels=labels)


def read_test_set(path) -> tuple[np.ndarray, np.ndarray]:
    """(quantized inputs, labels) from a test-set file; FormatError if it is not one."""
    inputs, labels = read_arrays(path, ("inputs", "labels"), "test-set")
    if labels.ndim != 1 or len(inputs) != len(labels):
        raise FormatError(f"{path}: one label per test input is needed ({len(inputs)} inputs, {labels.shape} labels)")
    return inputs, labels


def prove_accuracy(graph, proving_key, inputs: np.ndarray, labels: np.ndarray, expected_commitment: int | None = None,
                   mode: str = "private", progress: bool = False):
    """The provider's side: check the test set against the challenge's commitment, build the
    accuracy witness and prove it. Returns (proof, public signals)."""
    from prover.circuit import accuracy as A
    from prover.groth16.prove import prove

    if expected_commitment is not None and A.test_set_commitment(graph, inputs, labels) != expected_commitment:
        raise VerificationError("the test set does not match the challenge's commitment: ask the auditor "
                                "for the file it committed to")
    circuit = A.accuracy_circuit(graph, len(labels), mode, show_progress=progress)
    result = circuit.witness(inputs, labels, show_progress=progress)
    return prove(proving_key, result.witness, progress=progress, r1cs=circuit.r1cs)


# --- the contract ----------------------------------------------------------------------------

class Audit(SettlementContract):
    """A deployed AccuracyAudit with typed calls (``Audit.deploy(w3, registry, answer_window,
    sender=...)``)."""

    NAME = "AccuracyAudit"

    def stake(self, provider: str, model_id: int, claim_bps: int, bond: int) -> None:
        """State the claimed accuracy (basis points) and stake ``bond`` wei."""
        self._send(self.contract.functions.stake(model_id, claim_bps), provider, bond)

    def unstake(self, provider: str, model_id: int) -> None:
        self._send(self.contract.functions.unstake(model_id), provider)

    def challenge(self, auditor: str, model_id: int, test_set_commitment: int, samples: int, fee: int) -> int:
        """Open a challenge; returns its id."""
        receipt = self._send(self.contract.functions.challenge(model_id, test_set_commitment, samples), auditor, fee)
        return self._event(receipt, "ChallengeOpened", "challengeId")

    def answer(self, provider: str, challenge_id: int, proof, correct: int) -> ChallengeStatus:
        """Answer with an accuracy proof (``(a, b, c)`` in EVM order or a ``Proof``); returns
        the outcome (PASSED or FAILED)."""
        a, b, c = proof if isinstance(proof, (tuple, list)) else proof_to_evm(proof)
        self._send(self.contract.functions.answer(challenge_id, a, b, c, correct), provider)
        return self.status(challenge_id).status

    def expire(self, sender: str, challenge_id: int) -> None:
        self._send(self.contract.functions.expire(challenge_id), sender)

    def stake_of(self, model_id: int) -> StakeRecord:
        s = self.contract.functions.stakeOf(model_id).call()
        return StakeRecord(int(s[0]), int(s[1]), int(s[2]))

    def status(self, challenge_id: int) -> ChallengeRecord:
        c = self._view(self.contract.functions.challengeOf(challenge_id))
        return ChallengeRecord(c[0], int(c[1]), ChallengeStatus(c[2]), *(int(v) for v in c[3:]))

    def attestations(self, model_id: int) -> list[Attestation]:
        return [Attestation(*(int(v) for v in a)) for a in self.contract.functions.attestations(model_id).call()]


def answer_challenge(audit: Audit, provider: str, challenge_id: int, graph, proving_key, test_set_path,
                     mode: str = "private", progress: bool = False) -> ChallengeStatus:
    """The provider's whole answer (what `zkmarket provider answer-audit` runs): read the
    auditor's test-set file, check it against the challenge's on-chain commitment and sample
    count, prove the accuracy and answer. Returns PASSED or FAILED; raises VerificationError
    before any transaction when the file is not the committed test set."""
    record = audit.status(challenge_id)
    if record.status != ChallengeStatus.OPEN:
        raise VerificationError(f"challenge {challenge_id} is {record.status.name.lower()}: nothing to answer")
    inputs, labels = read_test_set(test_set_path)
    if len(labels) != record.samples:
        raise VerificationError(f"the test set has {len(labels)} samples, the challenge {record.samples}: "
                                "ask the auditor for the file it committed to")
    proof, public = prove_accuracy(graph, proving_key, inputs, labels, record.test_set_commitment, mode, progress)
    return audit.answer(provider, challenge_id, proof, public[3])
