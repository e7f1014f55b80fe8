"""`zkmarket demo [--all]`: the whole flow on an in-process chain (see ``marketplace.demo``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from marketplace.demo import run_demo

    report = run_demo(
        args.n,
        model_name=args.model,
        cache_dir=args.cache,
        phase1="ceremony" if args.ceremony else "known-secret",
        statements=args.all,
        batch=not args.one_by_one,
        audit_samples=args.audit_samples,
        corpus_items=args.corpus_items,
        progress=not args.no_progress,
    )
    agree = all(r.proved == r.onnxruntime for r in report.rows)
    if report.audit is not None:
        agree &= report.audit.proved_correct == report.audit.executor_correct
    if report.retrieval is not None:
        agree &= report.retrieval.delivered == report.retrieval.executor
    return 0 if agree else 1


def register(sub) -> None:
    parser = sub.add_parser(
        "demo", help="deploy, register the digits model and buy verified predictions, all on an in-process chain"
    )
    parser.add_argument("-n", type=int, default=5, help="number of paid predictions (default 5)")
    parser.add_argument(
        "--model",
        default="mlp",
        choices=["mlp", "quadratic", "cnn", "lenet"],
        help="bundled example model (default mlp)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="cache folder for circuits, ceremony files and keys (default $ZKMARKET_CACHE or ~/.cache/zkmarket)",
    )
    parser.add_argument(
        "--ceremony",
        action="store_true",
        help="run a real phase-1 ceremony with the consumer's contribution instead of the INSECURE "
        "known-secret powers of tau (slow)",
    )
    parser.add_argument(
        "--all", action="store_true", help="also an accuracy audit and a trustless retrieval with the same weights"
    )
    parser.add_argument("--audit-samples", type=int, default=100, help="test samples of the audit (default 100)")
    parser.add_argument("--corpus-items", type=int, default=64, help="digits in the retrieval corpus (default 64)")
    parser.add_argument(
        "--one-by-one",
        action="store_true",
        help="buy the predictions one request and one proof at a time (default: in one batch, one proof)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)
