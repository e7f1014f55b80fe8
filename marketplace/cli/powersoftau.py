"""`zkmarket powersoftau ...`: the phase-1 ceremony in snarkjs's form.

zkmarket powersoftau new bn128 POWER OUT.ptau
zkmarket powersoftau contribute IN.ptau OUT.ptau [--name NAME] [-e ENTROPY]
zkmarket powersoftau beacon IN.ptau OUT.ptau BEACON_HEX ITERATIONS_EXP [--name NAME]
zkmarket powersoftau prepare phase2 IN.ptau OUT.ptau
zkmarket powersoftau verify IN.ptau
"""

from __future__ import annotations

from marketplace.cli.options import add_ceremony_verbs, command_group
from prover.errors import ZkmarketError


def _new(args) -> int:
    from prover.ceremony import powersoftau
    from prover.formats.ptau import write_ptau

    if args.curve not in ("bn128", "bn254"):
        raise ZkmarketError(f"curve {args.curve!r} is not supported: use bn128")
    write_ptau(powersoftau.new(args.power), args.out)
    print(f"first challenge: {powersoftau.first_challenge(args.power).hex()}\nwrote {args.out}")
    return 0


def _contribute(args) -> int:
    from prover.ceremony import powersoftau
    from prover.formats.ptau import read_ptau, write_ptau

    ptau = read_ptau(args.input)
    result = powersoftau.contribute(ptau, args.name, args.entropy or "", progress=True)
    write_ptau(result.ptau, args.out)
    print(f"contribution (response) hash: {result.response_hash.hex()}\nwrote {args.out}")
    _warn_if_was_prepared(ptau)
    return 0


def _warn_if_was_prepared(ptau) -> None:
    if ptau.lagrange:
        print(
            "the input was prepared for phase 2; its Lagrange sections no longer match and were left "
            "out: run `zkmarket powersoftau prepare phase2` again after the last contribution"
        )


def _beacon(args) -> int:
    from prover.ceremony import powersoftau
    from prover.formats.ptau import read_ptau, write_ptau

    ptau = read_ptau(args.input)
    result = powersoftau.beacon(ptau, args.beacon, args.iterations_exp, args.name, progress=True)
    write_ptau(result.ptau, args.out)
    print(f"contribution (response) hash: {result.response_hash.hex()}\nwrote {args.out}")
    _warn_if_was_prepared(ptau)
    return 0


def _prepare(args) -> int:
    from prover.ceremony.prepare_phase2 import prepare_phase2
    from prover.formats.ptau import read_ptau, write_ptau

    if args.what != "phase2":
        raise ZkmarketError(f"unknown preparation {args.what!r}: use `prepare phase2`")
    write_ptau(prepare_phase2(read_ptau(args.input), progress=True), args.out)
    print(f"wrote {args.out}")
    return 0


def _verify(args) -> int:
    from prover.ceremony.powersoftau_verify import verify_ptau_transcript
    from prover.formats.ptau import read_ptau

    report = verify_ptau_transcript(read_ptau(args.input), progress=True)
    for i, (name, kind, digest) in enumerate(report.contributions, 1):
        print(f"  #{i} {kind} {name!r}: {digest}")
    if not report.prepared:
        print("not prepared for phase 2: run `zkmarket powersoftau prepare phase2`")
    print(f"next challenge: {report.next_challenge}\nPowers of Tau OK")
    return 0


def register(subparsers) -> None:
    verbs = command_group(subparsers, "powersoftau", "phase-1 ceremony (powers of tau)", __doc__)

    p = verbs.add_parser("new", help="start a ceremony (every point the generator)")
    p.add_argument("curve"), p.add_argument("power", type=int), p.add_argument("out")
    p.set_defaults(run=_new)

    add_ceremony_verbs(
        verbs,
        _contribute,
        _beacon,
        ("contribute fresh randomness with a proof of knowledge", "close the ceremony with a public random beacon"),
    )

    p = verbs.add_parser("prepare", help="compute the Lagrange sections phase 2 needs")
    p.add_argument("what", help="phase2"), p.add_argument("input"), p.add_argument("out")
    p.set_defaults(run=_prepare)

    p = verbs.add_parser("verify", help="verify the whole transcript")
    p.add_argument("input")
    p.set_defaults(run=_verify)
