"""One check for a whole Groth16 setup: the phase-1 powers of tau and the circuit's phase-2
key, as a consumer must run it before trusting a model's proofs.

``verify_setup(r1cs, ptau, pk)`` verifies the ptau's transcript (``powersoftau_verify``) and the
key's transcript against the circuit and that ptau (``phase2_verify``), raising
``VerificationError`` on the first problem. The report lists every contribution of both
phases and a ``transcript_hash``, BLAKE2b(ptau's last challenge || the key's transcript hash),
which names this exact setup (what a model's registration publishes).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from prover.ceremony.phase2_verify import Phase2Report, verify_zkey_transcript
from prover.ceremony.powersoftau_verify import Phase1Report, verify_ptau_transcript
from prover.groth16.keys import ProvingKey
from prover.r1cs import R1CS


@dataclass
class SetupReport:
    phase1: Phase1Report
    phase2: Phase2Report

    @property
    def transcript_hash(self) -> str:
        return hashlib.blake2b(bytes.fromhex(self.phase1.next_challenge)
                               + bytes.fromhex(self.phase2.transcript_hash), digest_size=64).hexdigest()

    @property
    def phase2_contributors(self) -> list[str]:
        """The names phase-2 contributors gave themselves (unauthenticated: a name is a claim)."""
        return [c.name for c in self.phase2.contributions]


def verify_setup(r1cs: R1CS, ptau, pk: ProvingKey, *, progress: bool = False) -> SetupReport:
    """Verify both phases of ``pk``'s setup (see the module docstring)."""
    phase1 = verify_ptau_transcript(ptau, progress=progress)
    return SetupReport(phase1, verify_zkey_transcript(r1cs, ptau, pk, progress=progress))
