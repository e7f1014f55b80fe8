"""`zkmarket wtns check C.r1cs W.wtns`: does a witness satisfy every constraint of a circuit?"""

from __future__ import annotations

import argparse

from marketplace.cli.groth16 import command_group
from prover.errors import CircuitError


def run_check(args: argparse.Namespace) -> int:
    from prover.formats.r1cs import read_r1cs
    from prover.formats.wtns import read_wtns

    r1cs, witness = read_r1cs(args.r1cs), read_wtns(args.wtns)
    if len(witness) != r1cs.n_wires:
        raise CircuitError(
            f"{args.wtns} holds {len(witness)} values but {args.r1cs} has {r1cs.n_wires} "
            f"wires: was the witness computed for this circuit?"
        )
    try:
        bad = r1cs.unsatisfied(witness)
    except ValueError as exc:  # wire 0 is not 1
        raise CircuitError(f"{args.wtns}: {exc}") from exc
    if len(bad):
        raise CircuitError(
            f"{args.wtns} violates {len(bad)} of {r1cs.n_constraints} constraints of "
            f"{args.r1cs}, first #{int(bad[0])}: recompute the witness from the inputs"
        )
    print("OK")
    return 0


def register(subparsers) -> None:
    verbs = command_group(subparsers, "wtns", "check witness files", __doc__)
    check = verbs.add_parser("check", help="check a witness against a circuit")
    check.add_argument("r1cs", help="circuit.r1cs")
    check.add_argument("wtns", help="witness.wtns")
    check.set_defaults(run=run_check)
