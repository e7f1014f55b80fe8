"""`zkmarket groth16 setup | prove | verify`: snarkjs's Groth16 verbs on snarkjs-compatible files.

zkmarket groth16 setup C.r1cs P.ptau C.zkey
zkmarket groth16 prove C.zkey W.wtns proof.json public.json
zkmarket groth16 verify verification_key.json public.json proof.json
"""

from __future__ import annotations

import argparse
import sys

from marketplace.cli.options import INSECURE_KEY_WARNING, Verbs, add_verbs, command_group, steps
from prover.errors import VerificationError


def run_setup(args: argparse.Namespace) -> int:
    from prover.formats.ptau import read_ptau
    from prover.formats.r1cs import read_r1cs
    from prover.formats.zkey import write_zkey
    from prover.groth16.setup import setup

    with steps("groth16 setup", ["read r1cs", "read ptau", "compute key", "write zkey"]) as step:
        step("read r1cs")
        r1cs = read_r1cs(args.r1cs)
        step("read ptau")
        ptau = read_ptau(args.ptau)
        step("compute key")
        pk = setup(r1cs, ptau)
        step("write zkey")
        write_zkey(pk, args.zkey)
    cs_hash = pk.mpc_params["cs_hash"].hex()
    print(f"Circuit hash: {' '.join(cs_hash[i : i + 8] for i in range(0, len(cs_hash), 8))}")
    print(INSECURE_KEY_WARNING, file=sys.stderr)
    return 0


def run_prove(args: argparse.Namespace) -> int:
    from prover.formats.snarkjs_json import write_proof, write_public
    from prover.formats.wtns import read_wtns
    from prover.formats.zkey import read_zkey
    from prover.groth16.prove import prove

    pk = read_zkey(args.zkey, montgomery_points=True)  # for proving only
    witness = read_wtns(args.wtns)
    proof, public_signals = prove(pk, witness, progress=sys.stderr.isatty())
    write_proof(proof, args.proof)
    write_public(public_signals, args.public)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from prover.formats.snarkjs_json import read_proof, read_public, read_verification_key
    from prover.groth16.verify import verify

    vk = read_verification_key(args.verification_key)
    public_signals = read_public(args.public)
    proof = read_proof(args.proof)
    if len(public_signals) != vk.n_public:
        raise VerificationError(
            f"{args.public} holds {len(public_signals)} public signals but the "
            f"verification key expects {vk.n_public}: are they for this circuit?"
        )
    if not verify(vk, public_signals, proof):
        raise VerificationError(
            f"invalid proof: {args.proof} does not verify for the public signals "
            f"in {args.public} under {args.verification_key}"
        )
    print("OK")
    return 0


SETUP_FILES = [("r1cs", {"help": "circuit.r1cs (circom)"}), ("ptau", {"help": "powers of tau prepared for phase 2"})]

VERBS: Verbs = {
    "setup": (
        "proving key from a circuit and a prepared powers of tau",
        run_setup,
        [*SETUP_FILES, ("zkey", {"help": "proving key to write"})],
    ),
    "prove": (
        "prove a witness with a proving key",
        run_prove,
        [
            ("zkey", {"help": "proving key (.zkey)"}),
            ("wtns", {"help": "witness (.wtns)"}),
            ("proof", {"nargs": "?", "default": "proof.json", "help": "proof to write (proof.json)"}),
            ("public", {"nargs": "?", "default": "public.json", "help": "public signals to write (public.json)"}),
        ],
    ),
    "verify": (
        "verify a proof; exit status 0 and OK when valid",
        run_verify,
        [
            ("verification_key", {"nargs": "?", "default": "verification_key.json"}),
            ("public", {"nargs": "?", "default": "public.json"}),
            ("proof", {"nargs": "?", "default": "proof.json"}),
        ],
    ),
}


def register(subparsers) -> None:
    add_verbs(command_group(subparsers, "groth16", "Groth16 setup, prove and verify (snarkjs files)", __doc__), VERBS)
