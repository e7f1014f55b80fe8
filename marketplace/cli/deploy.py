"""`zkmarket deploy`: deploy a ModelRegistry and its Marketplace, and the chain options the
marketplace verbs share.

    zkmarket deploy --rpc http://127.0.0.1:8545 --account 0 --out deployment.json

Without ``--rpc`` the verbs use a fresh in-process chain, which ends with the command (the demo
runs every part in one process for that reason); give a node's URL to let separate programs
meet on one chain. ``--account`` is an index into the node's unlocked accounts or an address.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from prover.errors import ZkmarketError

DEFAULT_DEPLOYMENT = "deployment.json"


def chain_arguments(parser: argparse.ArgumentParser, account: int) -> None:
    parser.add_argument(
        "--rpc",
        metavar="URL",
        default=os.environ.get("ZKMARKET_RPC"),
        help="JSON-RPC URL of the node (default: $ZKMARKET_RPC, else a fresh in-process chain)",
    )
    parser.add_argument(
        "--account",
        default=str(account),
        help=f"index of an unlocked account of the node, or its address (default {account})",
    )


def market_arguments(parser: argparse.ArgumentParser, account: int) -> None:
    chain_arguments(parser, account)
    parser.add_argument("--market", metavar="ADDRESS", help="the Marketplace's address (default: read --deployment)")
    parser.add_argument(
        "--deployment",
        metavar="FILE",
        default=DEFAULT_DEPLOYMENT,
        help=f"the file `zkmarket deploy` wrote (default {DEFAULT_DEPLOYMENT})",
    )


def verb_group(sub, name: str, help: str, doc: str):
    """A command group whose verbs are sub-commands; returns the verbs' subparsers."""
    parser = sub.add_parser(name, help=help, description=doc.split("\n\n")[0])
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    return verbs


def connect_args(args: argparse.Namespace):
    """``(web3, account address)`` from the chain options."""
    from web3 import Web3

    from marketplace.chain import connect

    w3 = connect(args.rpc)
    accounts = w3.eth.accounts
    if str(args.account).isdigit():
        index = int(args.account)
        if index >= len(accounts):
            raise ZkmarketError(f"the node has {len(accounts)} unlocked accounts; --account {index} does not exist")
        return w3, accounts[index]
    if not Web3.is_address(args.account):
        raise ZkmarketError(f"--account {args.account!r} is neither an account index nor an address")
    account = Web3.to_checksum_address(args.account)
    if account not in accounts:
        raise ZkmarketError(f"the node cannot sign for {account} (not one of its unlocked accounts)")
    return w3, account


def market_args(args: argparse.Namespace):
    """``(Market, account)`` from the market options."""
    from web3 import Web3

    from marketplace.contracts import Market

    w3, account = connect_args(args)
    address = args.market
    if address is None:
        path = Path(args.deployment)
        if not path.exists():
            raise ZkmarketError(f"no --market given and no {path}: run `zkmarket deploy --out {path}` first")
        try:
            address = json.loads(path.read_text())["marketplace"]
        except (ValueError, KeyError) as exc:
            raise ZkmarketError(f"{path} is not a deployment file written by `zkmarket deploy`") from exc
    if not Web3.is_address(address) or not w3.eth.get_code(Web3.to_checksum_address(address)):
        raise ZkmarketError(f"no contract at {address} on this chain: deploy with `zkmarket deploy` on the same node")
    return Market.at(w3, Web3.to_checksum_address(address)), account


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
