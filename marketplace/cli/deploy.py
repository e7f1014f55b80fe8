"""`zkmarket deploy`: deploy a ModelRegistry and its Marketplace.

    zkmarket deploy --rpc http://127.0.0.1:8545 --account 0 --out deployment.json

Without ``--rpc`` the verbs use a fresh in-process chain, which ends with the command (the demo
runs every part in one process for that reason); give a node's URL to let separate programs
meet on one chain. ``--account`` is an index into the node's unlocked accounts or an address.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from marketplace.cli.options import DEFAULT_DEPLOYMENT, chain_arguments, connect_args


def run(args: argparse.Namespace) -> int:
    from marketplace.contracts import Market
    from marketplace.store import write_json

    w3, account = connect_args(args)
    market = Market.deploy(w3, account)
    deployment = {
        "chain_id": int(w3.eth.chain_id),
        "marketplace": market.marketplace.address,
        "registry": market.registry.address,
        "deployer": account,
    }
    print(f"Marketplace: {market.marketplace.address} (model registry: {market.registry.address})")
    if args.rpc is None:
        print("(in-process chain: it ends with this command; pass --rpc URL to deploy to a node)")
    elif args.out:
        write_json(Path(args.out), deployment)
        print(f"deployment written to {args.out}")
    return 0


def register(sub) -> None:
    parser = sub.add_parser(
        "deploy", help="deploy the model registry and the marketplace", description=__doc__.split("\n\n")[0]
    )
    chain_arguments(parser, account=0)
    parser.add_argument("--out", default=DEFAULT_DEPLOYMENT, help=f"deployment file (default {DEFAULT_DEPLOYMENT})")
    parser.set_defaults(run=run)
