"""The Fiat–Shamir transcript of the sumcheck backend: a Poseidon hash chain over Fr.

The state is one field element. With ``H_k`` circomlib's Poseidon of k inputs:

    start(label)   s = H_1(label)              label: at most 31 bytes, read as a big-endian int
    absorb(v...)   s = H_{k+1}(s, v_1..v_k)    for each chunk of at most 15 values, in order
    challenge()    s = H_1(s); the challenge is the new s

Absorbing always hashes at least two inputs and a challenge exactly one, and circomlib's
Poseidon of each width is its own permutation, so a challenge is never the hash of an absorb.
Everything the verifier reads (the statement, every round polynomial, every claimed
evaluation) is absorbed before the challenge that depends on it. A Poseidon chain costs about
240 constraints per hash in R1CS, which is what makes the Groth16 wrapper of the verifier cheap.
"""

from __future__ import annotations

from collections.abc import Iterable

from prover.field import FR_MODULUS
from prover.poseidon import MAX_INPUTS, poseidon

LABEL_BYTES = 31
CHUNK = MAX_INPUTS - 1  # values per absorb hash beside the state


class Transcript:
    """A prover's or verifier's copy of the transcript; both sides must make the same calls.
    The wrapper's copy (``prover.wrapper.trace.CircuitTranscript``) is this one with a traced
    hash."""

    @staticmethod
    def _hash(values: list) -> int:
        return poseidon(values)

    @staticmethod
    def _element(value) -> int:
        return int(value) % FR_MODULUS

    def __init__(self, label: str):
        raw = label.encode()
        if not 0 < len(raw) <= LABEL_BYTES:
            raise ValueError(f"a transcript label is 1..{LABEL_BYTES} bytes, not {len(raw)}")
        self.state = poseidon([int.from_bytes(raw, "big")])

    def absorb(self, values: Iterable[int]) -> None:
        """Hash field elements (ints, reduced mod r) into the state."""
        pending = [self._element(v) for v in values]
        for i in range(0, len(pending), CHUNK):
            self.state = self._hash([self.state, *pending[i : i + CHUNK]])

    def challenge(self) -> int:
        """A verifier challenge: a field element fixed by everything absorbed so far."""
        self.state = self._hash([self.state])
        return self.state

    def challenges(self, n: int) -> list[int]:
        """n challenges in a row (a random point)."""
        return [self.challenge() for _ in range(n)]
