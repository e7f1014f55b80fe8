"""`zkmarket corpus make | register`: corpora for trustless retrieval.

    zkmarket corpus make MODEL.onnx --items N --out corpus.npz
    zkmarket corpus register MODEL.onnx corpus.npz --retrieval ADDRESS

``make`` writes a corpus file (quantized digits test images, see marketplace.retrieval);
``register`` commits to a corpus file with the model's input quantization and registers the
commitment and size on the RetrievalMarket, printing the corpus id.
"""

from __future__ import annotations

import argparse
import json

from prover.errors import ZkmarketError


def retrieval_at(w3, address: str):
    """The RetrievalMarket at ``address``, or a ZkmarketError saying how to get one."""
    from web3 import Web3

    from marketplace.retrieval import Retrieval

    if not Web3.is_address(address) or not w3.eth.get_code(Web3.to_checksum_address(address)):
        raise ZkmarketError(f"no contract at {address} on this chain: deploy one with `zkmarket retrieve deploy`")
    return Retrieval.at(w3, Web3.to_checksum_address(address))


def retrieval_args(args):
    """``(Retrieval, account)`` from ``--retrieval`` and the chain options."""
    from marketplace.cli.deploy import connect_args

    w3, account = connect_args(args)
    return retrieval_at(w3, args.retrieval), account


def run_make(args: argparse.Namespace) -> int:
    from marketplace.cli.provider import model_graph
    from marketplace.models import digits_split, model_inputs
    from marketplace.retrieval import write_corpus
    from prover.onnx import executor

    graph = model_graph(args)
    _, _, x_te, _ = digits_split()
    if not 1 <= args.items <= len(x_te):
        raise ZkmarketError(f"--items must be in [1, {len(x_te)}] (the digits test split)")
    write_corpus(args.out, executor.quantize_input(graph, model_inputs(graph.input_tensor.shape, x_te[: args.items])))
    print(f"{args.out}: {args.items} quantized digits images")
    return 0


def run_register(args: argparse.Namespace) -> int:
    from marketplace.cli.provider import model_graph
    from marketplace.retrieval import read_corpus
    from prover.circuit.retrieval import corpus_commitment

    graph = model_graph(args)
    items = read_corpus(args.corpus)
    commitment = corpus_commitment(graph, items)
    retrieval, account = retrieval_args(args)
    corpus_id = retrieval.register_corpus(account, commitment, len(items))
    print(json.dumps({"corpus_id": corpus_id, "commitment": str(commitment), "size": len(items)}))
    return 0


def register(sub) -> None:
    from marketplace.cli.deploy import chain_arguments, verb_group
    from marketplace.cli.provider import model_arguments

    verbs = verb_group(sub, "corpus", "make and register corpora for trustless retrieval", __doc__)
    p = verbs.add_parser("make", help="write a corpus file from the bundled digits test split")
    model_arguments(p, "the model (.onnx; its quantization decides the items)")
    p.add_argument("--items", type=int, default=64, help="how many items (default 64)")
    p.add_argument("--out", default="corpus.npz", help="the corpus file to write")
    p.set_defaults(run=run_make)

    p = verbs.add_parser("register", help="register a corpus by its commitment")
    model_arguments(p, "the model (.onnx) whose input quantization the items use")
    p.add_argument("corpus", help="the corpus file (.npz with quantized items)")
    p.add_argument("--retrieval", required=True, metavar="ADDRESS", help="the RetrievalMarket's address")
    chain_arguments(p, account=1)
    p.set_defaults(run=run_register)
