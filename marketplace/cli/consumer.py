"""`zkmarket consumer predict | refund`: buy a verified prediction, or take back an escrow.

    zkmarket consumer predict --model ID input.npy [more.npy ...] [--timeout S] --rpc URL --market ADDRESS
    zkmarket consumer refund --request ID --rpc URL --market ADDRESS
    zkmarket consumer trust --phase1 HASH --phase2 HASH

``predict`` checks the model's setup (``marketplace.setup.check``, unless
``--insecure-skip-setup-check``), escrows the
price of each input in one transaction, sends the inputs over the provider's channel and prints
one line per input with the verified label and logits; unanswered requests are refunded once
their deadline passes (exit status 2). ``refund`` refunds a request
after its deadline (``--move-time`` advances a development node's clock first).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from marketplace.cli.options import command_group, load_array, market_args, market_arguments, setup_check_arguments
from prover.errors import ZkmarketError


def _load_input(path: str):
    if not Path(path).is_file():
        raise ZkmarketError(f"input {path} does not exist; give a .npy array of the model's input shape")
    return load_array(path, "input")


def _consumer(args):
    from marketplace.agents.consumer import Consumer

    market, account = market_args(args)
    return Consumer(market, account, state_dir=args.state)


def run_predict(args: argparse.Namespace) -> int:
    xs = [_load_input(path) for path in args.input]
    consumer = _consumer(args)
    offer = consumer.inspect(
        args.model,
        endpoint=args.endpoint,
        check_setup=not args.insecure_skip_setup_check,
        insecure_phase1=args.insecure_phase1,
    )
    if not offer.setup_checked:
        print("zkmarket: warning: the setup was not checked: the provider may be able to forge proofs")
    status = 0
    for prediction in consumer.predict_many(offer, xs, timeout=args.timeout):
        if prediction.refunded:
            print(f"request {prediction.request_id}: not answered before its deadline; the escrow was refunded")
            status = 2
            continue
        print(
            json.dumps(
                {
                    "request_id": prediction.request_id,
                    "label": prediction.label,
                    "logits": prediction.logits,
                    "paid_wei": prediction.price,
                }
            )
        )
    return status


def run_trust(args: argparse.Namespace) -> int:
    from marketplace.store import read_json, write_json

    path = Path(args.state) / "consumer.json"
    trusted = read_json(path) if path.exists() else {"phase1": [], "phase2": [], "checked": []}
    for phase, hashes in (("phase1", args.phase1), ("phase2", args.phase2)):
        for digest in hashes or []:
            digest = digest.lower().removeprefix("0x")
            if len(digest) != 128 or any(c not in "0123456789abcdef" for c in digest):
                raise ZkmarketError(
                    f"{digest!r} is not a contribution hash (128 hex digits, as `zkmarket "
                    f"powersoftau contribute` and `zkmarket zkey contribute` print them)"
                )
            if digest not in trusted[phase]:
                trusted[phase].append(digest)
    write_json(path, trusted)
    print(f"trusted contributions: {len(trusted['phase1'])} phase 1, {len(trusted['phase2'])} phase 2 ({path})")
    return 0


def run_refund(args: argparse.Namespace) -> int:
    consumer = _consumer(args)
    amount = consumer.refund(args.request, move_time=args.move_time)
    print(f"request {args.request}: withdrew {amount} wei")
    return 0


def register(sub) -> None:
    verbs = command_group(sub, "consumer", "buy verified predictions; refund unanswered requests", __doc__)

    p = verbs.add_parser("predict", help="pay for one prediction and check the proved answer")
    p.add_argument(
        "input", nargs="+", help="the inputs (.npy each, real-valued, the model's input shape), escrowed at once"
    )
    p.add_argument("--model", type=int, required=True, help="the registered model's id")
    p.add_argument("--timeout", type=int, default=600, help="seconds (chain time) before the request can be refunded")
    setup_check_arguments(p, "consumer-state", "the setup ceremony", "the consumer's")
    market_arguments(p, account=2)
    p.set_defaults(run=run_predict)

    p = verbs.add_parser("trust", help="record ceremony contributions you trust (e.g. your own)")
    p.add_argument("--phase1", nargs="*", metavar="HASH", help="phase-1 contribution (response) hashes")
    p.add_argument("--phase2", nargs="*", metavar="HASH", help="phase-2 contribution hashes")
    p.add_argument("--state", default="consumer-state", help="the consumer's state directory")
    p.set_defaults(run=run_trust)

    p = verbs.add_parser("refund", help="refund an unanswered request after its deadline and withdraw")
    p.add_argument("--request", type=int, required=True, help="the request id")
    p.add_argument("--move-time", action="store_true", help="advance a development node's clock past the deadline")
    p.add_argument("--state", default="consumer-state", help="the consumer's state directory")
    market_arguments(p, account=2)
    p.set_defaults(run=run_refund)
