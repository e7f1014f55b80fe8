"""`zkmarket r1cs info C.r1cs`: the counts of a circom constraint system."""

from __future__ import annotations

import argparse

from marketplace.cli.options import Verbs, add_verbs, command_group


def run_info(args: argparse.Namespace) -> int:
    from prover.formats.r1cs import read_r1cs_header

    h = read_r1cs_header(args.r1cs)
    print("Curve: bn128")
    print(f"# of Wires: {h.n_wires}")
    print(f"# of Constraints: {h.n_constraints}")
    print(f"# of Private Inputs: {h.n_private_inputs}")
    print(f"# of Public Inputs: {h.n_public_inputs}")
    print(f"# of Labels: {h.n_labels}")
    print(f"# of Outputs: {h.n_outputs}")
    return 0


VERBS: Verbs = {"info": ("wires, constraints and inputs of a circuit", run_info, [("r1cs", {"help": "circuit.r1cs"})])}


def register(subparsers) -> None:
    add_verbs(command_group(subparsers, "r1cs", "inspect circom .r1cs files", __doc__), VERBS)
