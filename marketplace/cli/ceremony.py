"""Phase-2 verbs of the `zkey` group, in snarkjs's form:

    zkmarket zkey new CIRCUIT.r1cs PREPARED.ptau OUT.zkey
    zkmarket zkey contribute IN.zkey OUT.zkey [--name NAME] [-e ENTROPY]
    zkmarket zkey beacon IN.zkey OUT.zkey BEACON_HEX ITERATIONS_EXP [--name NAME]
    zkmarket zkey verify CIRCUIT.r1cs PREPARED.ptau KEY.zkey

``register_zkey_verbs(verbs)`` adds them to the `zkey` group's sub-parsers.
"""

from __future__ import annotations

import argparse


def hex_bytes(value: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not hexadecimal") from exc


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


def add_contribute_arguments(parser) -> None:
    """IN OUT [--name] [-e]: the arguments of both phases' `contribute`."""
    parser.add_argument("input"), parser.add_argument("out")
    parser.add_argument("-n", "--name", default="")
    parser.add_argument("-e", "--entropy", default=None, help="extra entropy text mixed into the OS randomness")


def add_beacon_arguments(parser) -> None:
    """IN OUT BEACON_HEX ITERATIONS_EXP [--name]: the arguments of both phases' `beacon`."""
    parser.add_argument("input"), parser.add_argument("out")
    parser.add_argument("beacon", type=hex_bytes, help="the beacon value in hexadecimal")
    parser.add_argument("iterations_exp", type=int, help="the value is hashed 2^N times (10..63)")
    parser.add_argument("-n", "--name", default="")


def register_zkey_verbs(verbs) -> None:
    """Add `new`, `contribute`, `beacon` and `verify` to the `zkey` group's sub-parsers."""
    p = verbs.add_parser("new", help="initial key of a circuit from a prepared ptau (delta = 1)")
    p.add_argument("r1cs"), p.add_argument("ptau"), p.add_argument("out")
    p.set_defaults(run=_new)

    p = verbs.add_parser("contribute", help="add a phase-2 contribution from fresh randomness")
    add_contribute_arguments(p)
    p.set_defaults(run=_contribute)

    p = verbs.add_parser("beacon", help="close the phase-2 ceremony with a public random beacon")
    add_beacon_arguments(p)
    p.set_defaults(run=_beacon)

    p = verbs.add_parser("verify", help="verify a key's whole transcript against the circuit and ptau")
    p.add_argument("r1cs"), p.add_argument("ptau"), p.add_argument("zkey")
    p.set_defaults(run=_verify)
