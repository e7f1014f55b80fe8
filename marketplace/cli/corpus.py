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

from marketplace.cli.options import (
    Verbs,
    add_verbs,
    chain_arguments,
    command_group,
    model_arguments,
    model_graph,
    retrieval_args,
)
from prover.errors import ZkmarketError


def run_make(args: argparse.Namespace) -> int:
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
    from marketplace.retrieval import read_corpus
    from prover.circuit.retrieval import corpus_commitment

    graph = model_graph(args)
    items = read_corpus(args.corpus)
    commitment = corpus_commitment(graph, items)
    retrieval, account = retrieval_args(args)
    corpus_id = retrieval.register_corpus(account, commitment, len(items))
    print(json.dumps({"corpus_id": corpus_id, "commitment": str(commitment), "size": len(items)}))
    return 0


VERBS: Verbs = {
    "make": (
        "write a corpus file from the bundled digits test split",
        run_make,
        [
            lambda p: model_arguments(p, "the model (.onnx; its quantization decides the items)"),
            ("--items", {"type": int, "default": 64, "help": "how many items (default 64)"}),
            ("--out", {"default": "corpus.npz", "help": "the corpus file to write"}),
        ],
    ),
    "register": (
        "register a corpus by its commitment",
        run_register,
        [
            lambda p: model_arguments(p, "the model (.onnx) whose input quantization the items use"),
            ("corpus", {"help": "the corpus file (.npz with quantized items)"}),
            ("--retrieval", {"required": True, "metavar": "ADDRESS", "help": "the RetrievalMarket's address"}),
            lambda p: chain_arguments(p, account=1),
        ],
    ),
}


def register(sub) -> None:
    add_verbs(command_group(sub, "corpus", "make and register corpora for trustless retrieval", __doc__), VERBS)
