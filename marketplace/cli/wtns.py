"""`zkmarket wtns check C.r1cs W.wtns`: does a witness satisfy every constraint of a circuit?"""

from __future__ import annotations

import argparse

from marketplace.cli.options import Verbs, add_verbs, command_group
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


VERBS: Verbs = {
    "check": (
        "check a witness against a circuit",
        run_check,
        [("r1cs", {"help": "circuit.r1cs"}), ("wtns", {"help": "witness.wtns"})],
    )
}


def register(subparsers) -> None:
    add_verbs(command_group(subparsers, "wtns", "check witness files", __doc__), VERBS)
