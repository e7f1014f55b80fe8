"""`zkmarket groth16 setup | prove | verify`: snarkjs's Groth16 verbs on snarkjs-compatible files.

zkmarket groth16 setup C.r1cs P.ptau C.zkey
zkmarket groth16 prove C.zkey W.wtns proof.json public.json
zkmarket groth16 verify verification_key.json public.json proof.json
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from tqdm import tqdm

from prover.errors import VerificationError

INSECURE_KEY_WARNING = (
    "zkmarket: warning: this key has had no phase-2 contribution (delta = 1), so anyone can forge "
    "proofs for it: use it for tests only, or have independent parties contribute before relying on it"
)


@contextlib.contextmanager
def steps(desc: str, names: list[str]):
    """A progress bar over the named steps of a command (shown on a terminal only); yields a
    function to call as each step starts."""
    bar = tqdm(total=len(names), desc=desc, unit="step", disable=None, leave=False, file=sys.stderr)
    started: list[str] = []

    def start(name: str) -> None:
        if started:
            bar.update()
        started.append(name)
        bar.set_postfix_str(name)

    try:
        yield start
        bar.update()
    finally:
        bar.close()


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

    pk = read_zkey(args.zkey)
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


def command_group(subparsers, name: str, help: str, doc: str):
    """Add ``zkmarket NAME`` and return the sub-parsers for its verbs (one is required)."""
    group = subparsers.add_parser(name, help=help, description=doc.splitlines()[0])
    verbs = group.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    return verbs


def register(subparsers) -> None:
    verbs = command_group(subparsers, "groth16", "Groth16 setup, prove and verify (snarkjs files)", __doc__)

    setup = verbs.add_parser("setup", help="proving key from a circuit and a prepared powers of tau")
    setup.add_argument("r1cs", help="circuit.r1cs (circom)")
    setup.add_argument("ptau", help="powers of tau prepared for phase 2")
    setup.add_argument("zkey", help="proving key to write")
    setup.set_defaults(run=run_setup)

    prove = verbs.add_parser("prove", help="prove a witness with a proving key")
    prove.add_argument("zkey", help="proving key (.zkey)")
    prove.add_argument("wtns", help="witness (.wtns)")
    prove.add_argument("proof", nargs="?", default="proof.json", help="proof to write (proof.json)")
    prove.add_argument("public", nargs="?", default="public.json", help="public signals to write (public.json)")
    prove.set_defaults(run=run_prove)

    verify = verbs.add_parser("verify", help="verify a proof; exit status 0 and OK when valid")
    verify.add_argument("verification_key", nargs="?", default="verification_key.json")
    verify.add_argument("public", nargs="?", default="public.json")
    verify.add_argument("proof", nargs="?", default="proof.json")
    verify.set_defaults(run=run_verify)
