"""snarkjs/circom-compatible files: one shared binary container (``binfile``) and one reader and
writer per format. Every writer replaces its target atomically."""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the names as mypy sees them; at run time __getattr__ imports on first use
    from prover.formats.ptau import *  # noqa: F403
    from prover.formats.r1cs import *  # noqa: F403
    from prover.formats.snarkjs_json import *  # noqa: F403
    from prover.formats.wtns import *  # noqa: F403
    from prover.formats.zkey import *  # noqa: F403

# each name's module, imported on first use: ``groth16 prove`` reads a zkey and a wtns and
# should not pay for the ptau and r1cs readers' imports
_MODULES = {
    "PowersOfTau": "ptau",
    "read_ptau": "ptau",
    "write_ptau": "ptau",
    "read_r1cs": "r1cs",
    "read_r1cs_header": "r1cs",
    "write_r1cs": "r1cs",
    "read_wtns": "wtns",
    "write_wtns": "wtns",
    "read_zkey": "zkey",
    "read_verifying_key": "zkey",
    "write_zkey": "zkey",
    "read_verification_key": "snarkjs_json",
    "write_verification_key": "snarkjs_json",
    "read_proof": "snarkjs_json",
    "write_proof": "snarkjs_json",
    "read_public": "snarkjs_json",
    "write_public": "snarkjs_json",
    "solidity_calldata": "snarkjs_json",
}


def __getattr__(name: str):
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)


__all__ = list(_MODULES)
