"""`zkmarket zkey ...`: snarkjs's zkey verbs, the phase-2 ceremony and the exports.

zkmarket zkey new CIRCUIT.r1cs PREPARED.ptau OUT.zkey
zkmarket zkey contribute IN.zkey OUT.zkey [--name NAME] [-e ENTROPY]
zkmarket zkey beacon IN.zkey OUT.zkey BEACON_HEX ITERATIONS_EXP [--name NAME]
zkmarket zkey verify CIRCUIT.r1cs PREPARED.ptau KEY.zkey
zkmarket zkey export verificationkey C.zkey verification_key.json
zkmarket zkey export soliditycalldata public.json proof.json
"""

from __future__ import annotations

import argparse

from marketplace.cli.options import add_ceremony_verbs, command_group


def _new(args) -> int:
    from prover.formats.ptau import read_ptau
    from prover.formats.r1cs import read_r1cs
    from prover.formats.zkey import write_zkey
    from prover.groth16.setup import setup

    pk = setup(read_r1cs(args.r1cs), read_ptau(args.ptau))
    write_zkey(pk, args.out)
    print(
        f"circuit hash: {pk.mpc_params['cs_hash'].hex()}\nwrote {args.out} (no contribution yet: "
        f"INSECURE until someone contributes)"
    )
    return 0


def _contribute(args) -> int:
    from prover.ceremony import phase2
    from prover.formats.zkey import read_zkey, write_zkey

    pk, digest = phase2.contribute(read_zkey(args.input), args.name, args.entropy or "", progress=True)
    write_zkey(pk, args.out)
    print(f"contribution hash: {digest.hex()}\nwrote {args.out}")
    return 0


def _beacon(args) -> int:
    from prover.ceremony import phase2
    from prover.formats.zkey import read_zkey, write_zkey

    pk, digest = phase2.beacon(read_zkey(args.input), args.beacon, args.iterations_exp, args.name, progress=True)
    write_zkey(pk, args.out)
    print(f"contribution hash: {digest.hex()}\nwrote {args.out}")
    return 0


def _verify(args) -> int:
    from prover.ceremony.phase2_verify import verify_zkey_transcript
    from prover.formats.ptau import read_ptau
    from prover.formats.r1cs import read_r1cs
    from prover.formats.zkey import read_zkey

    report = verify_zkey_transcript(read_r1cs(args.r1cs), read_ptau(args.ptau), read_zkey(args.zkey), progress=True)
    print(f"circuit hash: {report.circuit_hash}")
    for c in report.contributions:
        print(f"  #{c.index} {c.kind} {c.name!r}: {c.contribution_hash}")
    if not report.contributions:
        print("  no contribution: anyone can forge proofs with this key")
    print(f"transcript hash: {report.transcript_hash}\nZKey OK")
    return 0


def run_export_verificationkey(args: argparse.Namespace) -> int:
    from prover.formats.snarkjs_json import write_verification_key
    from prover.formats.zkey import read_verifying_key

    write_verification_key(read_verifying_key(args.zkey), args.verification_key)
    return 0


def run_export_soliditycalldata(args: argparse.Namespace) -> int:
    from prover.formats.snarkjs_json import read_proof, read_public, solidity_calldata

    print(solidity_calldata(read_proof(args.proof), read_public(args.public)))
    return 0


def register(subparsers) -> None:
    verbs = command_group(subparsers, "zkey", "proving keys: phase-2 ceremony and exports (snarkjs files)", __doc__)
    p = verbs.add_parser("new", help="initial key of a circuit from a prepared ptau (delta = 1)")
    p.add_argument("r1cs"), p.add_argument("ptau"), p.add_argument("out")
    p.set_defaults(run=_new)
    add_ceremony_verbs(
        verbs,
        _contribute,
        _beacon,
        ("add a phase-2 contribution from fresh randomness", "close the phase-2 ceremony with a public random beacon"),
    )
    p = verbs.add_parser("verify", help="verify a key's whole transcript against the circuit and ptau")
    p.add_argument("r1cs"), p.add_argument("ptau"), p.add_argument("zkey")
    p.set_defaults(run=_verify)

    export = verbs.add_parser("export", help="export a verification key or Solidity calldata")
    what = export.add_subparsers(dest="what", metavar="WHAT")
    what.required = True

    vk = what.add_parser("verificationkey", help="verification_key.json of a .zkey")
    vk.add_argument("zkey", help="proving key (.zkey)")
    vk.add_argument("verification_key", nargs="?", default="verification_key.json")
    vk.set_defaults(run=run_export_verificationkey)

    calldata = what.add_parser("soliditycalldata", help="verifyProof arguments of a proof, as snarkjs prints them")
    calldata.add_argument("public", nargs="?", default="public.json")
    calldata.add_argument("proof", nargs="?", default="proof.json")
    calldata.set_defaults(run=run_export_soliditycalldata)
