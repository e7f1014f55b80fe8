"""What the `zkmarket` command groups share: the group helper, the progress of a command's
steps, and the options many verbs take with what they resolve to (the chain and account, a
contract at an address, a model and its calibration, a setup check before paying). The one cli
module the others import: each command group imports no other.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prover.errors import FormatError, ZkmarketError

DEFAULT_DEPLOYMENT = "deployment.json"
INSECURE_KEY_WARNING = (
    "zkmarket: warning: this key has had no phase-2 contribution (delta = 1), so anyone can forge "
    "proofs for it: use it for tests only, or have independent parties contribute before relying on it"
)


# --- groups and steps ------------------------------------------------------------------------------


def command_group(subparsers, name: str, help: str, doc: str):
    """Add ``zkmarket NAME`` (described by the first paragraph of ``doc``) and return the
    sub-parsers for its verbs (one is required)."""
    group = subparsers.add_parser(name, help=help, description=doc.split("\n\n")[0])
    verbs = group.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    return verbs


# a verb of a command group: (help, run, arguments in order); an argument is (name, the options
# of ``add_argument``) or a function that adds a group of options to the verb's parser
Verbs = dict[str, tuple[str, Callable[[argparse.Namespace], int], list[Any]]]


def add_verbs(verbs, table: Verbs) -> None:
    """Add each verb of ``table`` to a command group's sub-parsers."""
    for verb, (help_text, run, arguments) in table.items():
        parser = verbs.add_parser(verb, help=help_text)
        for argument in arguments:
            if callable(argument):
                argument(parser)
            else:
                name, options = argument
                parser.add_argument(name, **options)
        parser.set_defaults(run=run)


def steps(desc: str, names: list[str]):
    """A progress bar over the named steps of a command (shown on a terminal only); yields a
    function to call as each step starts."""
    from marketplace.progress import step_progress

    return step_progress(desc, len(names), file=sys.stderr)


def load_array(path, what: str):
    """The numpy array in the ``.npy`` file ``path`` (the ``what`` of a verb); FormatError otherwise."""
    import numpy as np

    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file (the {what})") from None
    except (OSError, ValueError) as exc:
        raise FormatError(f"{path}: not a numpy .npy array ({exc}); save the {what} with numpy.save") from exc


# --- the chain, accounts and contracts --------------------------------------------------------------


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


def contract_at(w3, address: str, how: str):
    """``address`` as a checksum address, when a contract is there on this chain; else a
    ZkmarketError ending in ``how`` to get one."""
    from web3 import Web3

    if not Web3.is_address(address) or not w3.eth.get_code(Web3.to_checksum_address(address)):
        raise ZkmarketError(f"no contract at {address} on this chain: {how}")
    return Web3.to_checksum_address(address)


def market_args(args: argparse.Namespace):
    """``(Market, account)`` from the market options."""
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
    address = contract_at(w3, address, "deploy with `zkmarket deploy` on the same node")
    return Market.at(w3, address), account


def audit_at(w3, address: str):
    """The AccuracyAudit at ``address``, or a ZkmarketError saying how to get one."""
    from marketplace.audit import Audit

    return Audit.at(w3, contract_at(w3, address, "deploy one with `zkmarket audit deploy`"))


def retrieval_at(w3, address: str):
    """The RetrievalMarket at ``address``, or a ZkmarketError saying how to get one."""
    from marketplace.retrieval import Retrieval

    return Retrieval.at(w3, contract_at(w3, address, "deploy one with `zkmarket retrieve deploy`"))


def audit_args(args: argparse.Namespace):
    """``(Audit, account)`` from ``--audit`` and the chain options."""
    w3, account = connect_args(args)
    return audit_at(w3, args.audit), account


def retrieval_args(args: argparse.Namespace):
    """``(Retrieval, account)`` from ``--retrieval`` and the chain options."""
    w3, account = connect_args(args)
    return retrieval_at(w3, args.retrieval), account


# --- a model and its calibration ------------------------------------------------------------------


def model_arguments(p, help: str = "the model (.onnx)") -> None:
    """The model a verb is about, and the calibration it was quantized with."""
    p.add_argument("onnx", help=help)
    p.add_argument(
        "--calibration",
        help="the .npy batch of typical inputs the model was quantized with (not "
        "needed for the bundled example models)",
    )


def load_calibration(path):
    """The calibration inputs of ``--calibration`` (None when not given: a bundled model's own)."""
    return None if path is None else load_array(path, "calibration inputs")


def model_graph(args: argparse.Namespace):
    """The quantized graph of ``args.onnx`` (with ``args.calibration``)."""
    from marketplace.setup.pipeline import quantized_graph

    return quantized_graph(args.onnx, load_calibration(args.calibration)).graph


def statement_sizes(p, what: str) -> None:
    p.add_argument("--accuracy-samples", type=int, metavar="N", help=f"{what} the accuracy statement over N samples")
    p.add_argument("--retrieval-items", type=int, metavar="N", help=f"{what} the retrieval statement over N items")
    p.add_argument(
        "--batch-size", type=int, metavar="N", help=f"{what} the batched inference statement of N requests (2-64)"
    )


# --- the setup check before paying ------------------------------------------------------------------


def setup_check_arguments(p, state: str, what: str = "the statement's verifier", who: str = "this client's") -> None:
    """The options of a verb that pays on a verifier it checks first (``marketplace.setup.check``)."""
    p.add_argument("--endpoint", help="the provider's channel URL (default: the model's metadata URI)")
    p.add_argument("--state", default=state, help=f"{who} state directory (trusted contributions)")
    p.add_argument(
        "--insecure-phase1",
        action="store_true",
        help="accept a phase 1 without a transcript (a known-secret one: demonstrations only)",
    )
    p.add_argument(
        "--insecure-skip-setup-check",
        action="store_true",
        help=f"do not check {what} (tests and development chains only)",
    )


def check_statement_args(args, settlement, account: str, kind: str, model_id: int, size: int) -> None:
    """Before paying on ``settlement`` (an Audit or a Retrieval): check the model's ``kind``
    verifier for ``size`` (``Consumer.check_statement``) unless told not to."""
    from marketplace.agents.consumer import Consumer
    from marketplace.contracts import Market

    if args.insecure_skip_setup_check:
        print(f"zkmarket: warning: the {kind} verifier was not checked: the provider may be able to forge proofs")
        return
    market = Market.at(settlement.w3, settlement.contract.functions.registry().call())
    client = Consumer(
        market, account, name={"accuracy": "auditor", "retrieval": "requester"}[kind], state_dir=args.state
    )
    client.check_statement(
        model_id, kind, size, endpoint=args.endpoint, insecure_phase1=args.insecure_phase1, settlement=settlement
    )


# --- both ceremony phases' verbs ----------------------------------------------------------------------


def hex_bytes(value: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not hexadecimal") from exc


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


def add_ceremony_verbs(verbs, contribute, beacon, helps: tuple[str, str]) -> None:
    """``contribute`` and ``beacon`` of a ceremony phase's group, run by the given functions,
    with their ``helps``."""
    p = verbs.add_parser("contribute", help=helps[0])
    add_contribute_arguments(p)
    p.set_defaults(run=contribute)
    p = verbs.add_parser("beacon", help=helps[1])
    add_beacon_arguments(p)
    p.set_defaults(run=beacon)
