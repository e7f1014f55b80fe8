"""snarkjs/circom-compatible files: one shared binary container (``binfile``) and one reader and
writer per format. Every writer replaces its target atomically."""

from prover.formats.ptau import PowersOfTau, read_ptau, write_ptau
from prover.formats.r1cs import read_r1cs, read_r1cs_header, write_r1cs
from prover.formats.snarkjs_json import (
    read_proof,
    read_public,
    read_verification_key,
    solidity_calldata,
    write_proof,
    write_public,
    write_verification_key,
)
from prover.formats.wtns import read_wtns, write_wtns
from prover.formats.zkey import read_verifying_key, read_zkey, write_zkey

__all__ = [
    "PowersOfTau",
    "read_ptau",
    "write_ptau",
    "read_r1cs",
    "read_r1cs_header",
    "write_r1cs",
    "read_wtns",
    "write_wtns",
    "read_zkey",
    "read_verifying_key",
    "write_zkey",
    "read_verification_key",
    "write_verification_key",
    "read_proof",
    "write_proof",
    "read_public",
    "write_public",
    "solidity_calldata",
]
