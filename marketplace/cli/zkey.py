"""`zkmarket zkey ...`: snarkjs's zkey verbs, the phase-2 ceremony and the exports.

The exports live here; the ceremony verbs (new, contribute, beacon, verify) come from
``marketplace.cli.ceremony``.

    zkmarket zkey export verificationkey C.zkey verification_key.json
    zkmarket zkey export soliditycalldata public.json proof.json
"""

from __future__ import annotations

import argparse

from marketplace.cli.ceremony import register_zkey_verbs
from marketplace.cli.groth16 import command_group


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
    register_zkey_verbs(verbs)  # new | contribute | beacon | verify: the phase-2 ceremony
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
