"""`zkmarket retrieve deploy | request | check | refund`: pay for the items of a committed
corpus that a model assigns to a class, with a proof that none is missing or extra.

    zkmarket retrieve deploy --registry ADDRESS
    zkmarket retrieve request --retrieval ADDRESS --model ID --corpus ID --class C --payment WEI
    zkmarket retrieve check MODEL.onnx delivery.npz --retrieval ADDRESS --request ID
    zkmarket retrieve refund --retrieval ADDRESS --request ID

``request`` first checks the model's retrieval verifier for the corpus's size
(``marketplace.setup.check``: the circuit rebuilt from the provider's card, the ceremony holding a
contribution in ``--state``) and pays nothing when it fails. ``check`` recomputes the salted
returned-set commitment from what the provider delivered (the items, their corpus positions and
the salt, see marketplace.retrieval), compares it and the size with what its proof put on-chain,
and exits non-zero when they differ.
"""

from __future__ import annotations

import argparse
import json

from marketplace.cli import options


def run_deploy(args: argparse.Namespace) -> int:
    from marketplace.retrieval import Retrieval

    w3, account = options.connect_args(args)
    retrieval = Retrieval.deploy(w3, args.registry, sender=account)
    print(f"RetrievalMarket: {retrieval.contract.address}")
    return 0


def run_request(args: argparse.Namespace) -> int:
    from marketplace.chain import latest_timestamp

    retrieval, account = options.retrieval_args(args)
    size = retrieval.corpus(args.corpus).size
    options.check_statement_args(args, retrieval, account, "retrieval", args.model, size)  # before the payment
    deadline = latest_timestamp(retrieval.w3) + args.timeout
    rid = retrieval.request(account, args.model, args.corpus, args.cls, deadline, args.payment)
    print(json.dumps({"request_id": rid, "deadline": deadline}))
    return 0


def run_check(args: argparse.Namespace) -> int:
    from marketplace.retrieval import check_delivery, read_delivery

    graph = options.model_graph(args)
    delivery = read_delivery(args.delivery)
    retrieval, _ = options.retrieval_args(args)
    record = retrieval.request_of(args.request)
    corpus = retrieval.corpus(record.corpus_id)
    check_delivery(graph, corpus.size, delivery, args.request, record)  # VerificationError -> exit 1
    print(json.dumps({"request_id": args.request, "accepted": True, "items": [int(p) for p in delivery.positions]}))
    return 0


def run_refund(args: argparse.Namespace) -> int:
    retrieval, account = options.retrieval_args(args)
    retrieval.refund(account, args.request)
    print(f"request {args.request}: refunded; withdrew {retrieval.withdraw(account)} wei")
    return 0


def register(sub) -> None:
    verbs = options.command_group(sub, "retrieve", "pay for proved retrieval from a committed corpus", __doc__)
    p = verbs.add_parser("deploy", help="deploy a RetrievalMarket for a model registry")
    p.add_argument("--registry", required=True, metavar="ADDRESS", help="the ModelRegistry's address")
    options.chain_arguments(p, account=0)
    p.set_defaults(run=run_deploy)

    def contract_args(p):
        p.add_argument("--retrieval", required=True, metavar="ADDRESS", help="the RetrievalMarket's address")
        options.chain_arguments(p, account=2)

    p = verbs.add_parser("request", help="pay for the corpus items a model assigns to a class")
    p.add_argument("--model", type=int, required=True, help="the registered model's id")
    p.add_argument("--corpus", type=int, required=True, help="the registered corpus's id")
    p.add_argument("--class", dest="cls", type=int, required=True, help="the requested class")
    p.add_argument("--payment", type=int, required=True, help="wei paid to the provider for a valid proof")
    p.add_argument("--timeout", type=int, default=3600, help="seconds (chain time) before a refund is possible")
    options.setup_check_arguments(p, "requester-state")
    contract_args(p)
    p.set_defaults(run=run_request)

    p = verbs.add_parser("check", help="check delivered items against the proved returned set")
    options.model_arguments(p, "the model (.onnx) whose input quantization the items use")
    p.add_argument("delivery", help="the delivery file (.npz with request_id, positions, items and salt)")
    p.add_argument("--request", type=int, required=True, help="the fulfilled request's id")
    contract_args(p)
    p.set_defaults(run=run_check)

    p = verbs.add_parser("refund", help="refund an unanswered request after its deadline and withdraw")
    p.add_argument("--request", type=int, required=True, help="the request id")
    contract_args(p)
    p.set_defaults(run=run_refund)
