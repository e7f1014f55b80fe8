"""One check for a whole Groth16 setup: the phase-1 powers of tau and the circuit's phase-2
key, as a consumer must run it before trusting a model's proofs.

``verify_setup(r1cs, ptau, pk)`` verifies the ptau's transcript (``powersoftau_verify``) and the
key's transcript against the circuit and that ptau (``phase2_verify``), raising
``VerificationError`` on the first problem. The report lists every contribution of both
phases and a ``transcript_hash`` (``setup_transcript_hash``: SHA-256 of the ptau's last
challenge and the key's transcript hash), which names this exact setup (what a model's
registration publishes on-chain, 32 bytes).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from prover.ceremony.phase2_verify import Phase2Report, verify_zkey_transcript
from prover.ceremony.powersoftau_verify import Phase1Report, verify_ptau_transcript
from prover.groth16.keys import ProvingKey
from prover.r1cs import R1CS


def setup_transcript_hash(phase1_challenge: bytes, phase2_transcript_hash: bytes) -> bytes:
    """The one definition of a setup's transcript hash: SHA-256 of the phase-1 transcript's last
    challenge and the phase-2 transcript hash (both BLAKE2b-512, each committing to every
    contribution of its phase). A phase 1 without a transcript (a known-secret ptau) counts as
    64 zero bytes."""
    return hashlib.sha256(phase1_challenge + phase2_transcript_hash).digest()


@dataclass
class SetupReport:
    phase1: Phase1Report
    phase2: Phase2Report

    @property
    def transcript_hash(self) -> str:
        return setup_transcript_hash(
            bytes.fromhex(self.phase1.next_challenge), bytes.fromhex(self.phase2.transcript_hash)
        ).hex()

    @property
    def phase2_contributors(self) -> list[str]:
        """The names phase-2 contributors gave themselves (unauthenticated: a name is a claim)."""
        return [c.name for c in self.phase2.contributions]


def verify_setup(r1cs: R1CS, ptau, pk: ProvingKey, *, progress: bool = False) -> SetupReport:
    """Verify both phases of ``pk``'s setup (see the module docstring)."""
    phase1 = verify_ptau_transcript(ptau, progress=progress)
    return SetupReport(phase1, verify_zkey_transcript(r1cs, ptau, pk, progress=progress))
