"""`zkmarket provider setup | register | serve | status | stake | accept-pool | unstake | answer-audit |
answer-retrieval`: offer a model and answer its requests, audits and retrievals with proofs.

    zkmarket provider register model.onnx --price WEI --ptau P.ptau --state DIR [--calibration X.npy]
                               [--endpoint http://127.0.0.1:8600] --rpc URL --market ADDRESS
    zkmarket provider serve --state DIR --rpc URL
    zkmarket provider status --state DIR [--json]
    zkmarket provider setup model.onnx --ptau P.ptau --out C0.zkey
        [--accuracy-samples N | --retrieval-items N | --batch-size N]
    zkmarket provider stake --audit ADDRESS --claim-bps 9000 --bond WEI [--slice WEI] --state DIR --rpc URL
    zkmarket provider accept-pool pool.npz --audit ADDRESS --pool ID --state DIR --rpc URL
    zkmarket provider unstake --audit ADDRESS [--complete] --state DIR --rpc URL
    zkmarket provider answer-audit pool.npz --audit ADDRESS --challenge ID --state DIR --rpc URL
    zkmarket provider answer-retrieval corpus.npz --retrieval ADDRESS --request ID --out delivery.npz
                                       --state DIR --rpc URL

``register`` compiles and quantizes the model (a bundled example model needs no calibration
data), sets up its key from the prepared powers of tau ``--ptau`` (from a public or multi-party
ceremony: ``zkmarket powersoftau``), deploys the verifier and registers the model with the
endpoint as its metadata URI. ``serve`` listens on that endpoint (the input channel) and
answers requests until interrupted; its state directory lets a restart resume every pending
request. ``status`` reads that directory (no chain needed): each request's state (waiting,
received, proved, fulfilled, expired, failed), why it expired or failed, when it entered each
state, and the totals.

The same weights can back two batch statements (``marketplace.audit``, ``marketplace.retrieval``):
``register --accuracy-samples N`` also sets up and registers the verifier of an accuracy proof
over N test samples, ``--retrieval-items N`` that of retrieval over an N-item corpus; their
circuits are larger than the inference circuit, so ``--statement-ptau`` gives a ptau big enough
(default ``--ptau``), and ``--accuracy-zkey`` / ``--retrieval-zkey`` keys the auditors and
requesters contributed to (``setup --accuracy-samples N`` writes the initial one).
``--batch-size N`` (with ``--batch-zkey``) registers a verifier of the batched inference
statement: one proof then settles up to N requests (``Market.fulfil_batch``); consumers check
it as they check the inference verifier. ``stake``
claims an accuracy over the accuracy circuit's sample count and stakes a bond on an
AccuracyAudit; ``accept-pool`` checks a published pool file (its root, and the model's accuracy
on its labels) and puts the bond at risk on that pool; ``unstake`` asks for the bond back and
``--complete`` takes it after the unbonding delay; ``answer-audit`` draws the samples if nobody
has, proves the count on them from the pool file and answers the challenge; ``answer-retrieval`` proves which items
of the registered corpus file the model assigns to the requested class, fulfils the request and
writes the delivery file for the requester.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from urllib.parse import urlparse

from marketplace.cli.options import (
    audit_at,
    command_group,
    load_calibration,
    market_args,
    market_arguments,
    retrieval_at,
    statement_sizes,
)
from prover.errors import ZkmarketError

DEFAULT_ENDPOINT = "http://127.0.0.1:8600"


def _served_model(onnx, ptau, calibration, cache, zkey=None):
    from marketplace.setup.pipeline import prepare_model

    return prepare_model(
        onnx, ptau_path=ptau, zkey_path=zkey, calibration=load_calibration(calibration), cache_dir=cache
    )


def _statement_sizes(args) -> list[tuple[str, int]]:
    return [
        (kind, size)
        for kind, size in (
            ("accuracy", args.accuracy_samples),
            ("retrieval", args.retrieval_items),
            ("batch", args.batch_size),
        )
        if size is not None
    ]


def run_setup(args: argparse.Namespace) -> int:
    from marketplace.setup.pipeline import initial_key

    for path in (args.onnx, args.ptau):
        if not Path(path).is_file():
            raise ZkmarketError(f"{path} does not exist")
    statements = _statement_sizes(args)
    if len(statements) > 1:
        raise ZkmarketError("one key per call: give one of --accuracy-samples, --retrieval-items, --batch-size")
    initial_key(
        args.onnx,
        args.ptau,
        args.out,
        calibration=load_calibration(args.calibration),
        statement=statements[0] if statements else None,
    )
    print(
        f"wrote {args.out} (no contribution yet: anyone can forge proofs with it). Consumers contribute with "
        f"`zkmarket zkey contribute {args.out} NEXT.zkey`; register the last key with --zkey"
    )
    return 0


def run_register(args: argparse.Namespace) -> int:
    from marketplace.agents.provider import Provider
    from marketplace.setup.pipeline import prepare_statement
    from marketplace.store import ProviderStore

    if not Path(args.onnx).is_file():
        raise ZkmarketError(f"ONNX model {args.onnx} does not exist; give the path of a .onnx file")
    if args.ptau is not None and not Path(args.ptau).is_file():
        raise ZkmarketError(f"powers of tau {args.ptau} does not exist")
    from prover.onnx.importer import import_model

    import_model(args.onnx)  # a corrupt or unsupported model fails here, before the chain is touched
    for path in (args.statement_ptau, args.accuracy_zkey, args.retrieval_zkey, args.batch_zkey):
        if path is not None and not Path(path).is_file():
            raise ZkmarketError(f"{path} does not exist")
    market, account = market_args(args)
    served = _served_model(args.onnx, args.ptau, args.calibration, args.cache, args.zkey)
    statements = [
        prepare_statement(
            served,
            kind,
            size,
            ptau_path=args.statement_ptau or args.ptau,
            zkey_path=getattr(args, f"{kind}_zkey"),
            cache_dir=args.cache,
        )
        for kind, size in _statement_sizes(args)
    ]
    provider = Provider(market, account, served, ProviderStore(args.state), statements=statements)
    model_id = provider.register(args.price, metadata_uri=args.endpoint)
    provider.state.extra = {
        "onnx": str(Path(args.onnx).resolve()),
        "endpoint": args.endpoint,
        "ptau": args.ptau and str(Path(args.ptau).resolve()),
        "zkey": args.zkey and str(Path(args.zkey).resolve()),
        "calibration": args.calibration and str(Path(args.calibration).resolve()),
        "cache": args.cache and str(Path(args.cache).resolve()),
    }
    provider.store.save(provider.state)
    print(f"model id: {model_id}")
    return 0


def _registered_provider(args: argparse.Namespace):
    """The provider of a state directory that `provider register` wrote, with its model and
    statement keys."""
    from marketplace.agents.provider import Provider
    from marketplace.setup.pipeline import StatementKey
    from marketplace.store import ProviderStore
    from prover.formats import read_zkey

    store = ProviderStore(args.state)
    state = store.load()
    if state is None or state.model_id is None:
        raise ZkmarketError(f"{args.state} holds no registered model: run `zkmarket provider register` first")
    if args.market is None:
        args.market = state.marketplace
    market, account = market_args(args)
    extra = state.extra
    served = _served_model(
        extra["onnx"], extra.get("ptau"), extra.get("calibration"), extra.get("cache"), extra.get("zkey")
    )
    statements = [
        StatementKey(
            kind,
            int(entry["size"]),
            read_zkey(entry["zkey"], montgomery_points=True),
            Path(entry["zkey"]),
            entry.get("ptau") and Path(entry["ptau"]),
        )
        for kind, entry in state.statements.items()
    ]
    return Provider(
        market, account, served, store, statements=statements, log=lambda message: print(message, flush=True)
    )


def run_serve(args: argparse.Namespace) -> int:
    provider = _registered_provider(args)
    state, extra = provider.state, provider.state.extra
    url = urlparse(extra["endpoint"])
    from marketplace.channel import ChannelLimits

    limits = ChannelLimits()
    if args.channel_timeout is not None:
        limits = dataclasses.replace(limits, header_timeout=args.channel_timeout, body_timeout=args.channel_timeout)
    if args.max_connections is not None:
        limits = dataclasses.replace(limits, max_connections=args.max_connections)
    provider.open_channel(url.hostname or "127.0.0.1", url.port or 80, limits)
    print(f"serving model {state.model_id} at {provider.endpoint}", flush=True)
    try:
        provider.serve(args.poll)
    finally:
        provider.close()
    return 0


# since: when the request entered its current state; received: when its input arrived
STATUS_COLUMNS = ("request", "status", "since", "received", "reason")


def _clock(seconds) -> str:
    import time

    return "" if seconds is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


def run_status(args: argparse.Namespace) -> int:
    """Print every request of the state directory (see the module docstring)."""
    import json
    from collections import Counter

    from marketplace.store import STATES, ProviderStore

    not_state = ZkmarketError(
        f"{args.state} is not a provider state directory: give the --state of `zkmarket provider register`"
    )
    if not (Path(args.state) / "provider.json").is_file():  # before ProviderStore makes the folder
        raise not_state
    store = ProviderStore(args.state)
    state, records = store.load(), store.requests()
    if state is None:  # provider.json went away since the check
        raise not_state
    totals = Counter(r.state for r in records)
    if args.json:
        print(
            json.dumps(
                {
                    "model_id": state.model_id,
                    "recent_proof_seconds": state.proof_seconds,
                    "totals": {name: totals[name] for name in STATES},
                    "requests": [
                        {
                            "request_id": r.request_id,
                            "status": r.state,
                            "reason": r.reason,
                            "times": r.times,
                            "label": r.label,
                            "proof_seconds": r.proof_seconds,
                            "gas_used": r.gas_used,
                        }
                        for r in records
                    ],
                }
            )
        )
        return 0
    rows = [STATUS_COLUMNS]
    for r in records:
        rows.append(
            (str(r.request_id), r.state, _clock(r.times.get(r.state)), _clock(r.times.get("received")), r.reason or "")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(STATUS_COLUMNS) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    summary = ", ".join(f"{totals[name]} {name}" for name in STATES if totals[name])
    proofs = state.proof_seconds
    timing = f"; latest proofs {min(proofs):.1f}-{max(proofs):.1f} s" if proofs else ""
    print(f"model {state.model_id}: {len(records)} request(s){': ' + summary if summary else ''}{timing}")
    return 0


def run_stake(args: argparse.Namespace) -> int:
    provider = _registered_provider(args)
    provider.stake(audit_at(provider.w3, args.audit), args.claim_bps, args.bond, args.slice, args.min_fee)
    return 0


def run_accept_pool(args: argparse.Namespace) -> int:
    if not Path(args.pool_file).is_file():
        raise ZkmarketError(f"pool file {args.pool_file} does not exist: fetch the file the pool's URI names")
    provider = _registered_provider(args)
    provider.accept_pool(audit_at(provider.w3, args.audit), args.pool, args.pool_file, args.min_pass)
    return 0


def run_unstake(args: argparse.Namespace) -> int:
    import json

    provider = _registered_provider(args)
    audit = audit_at(provider.w3, args.audit)
    if args.complete:
        print(
            json.dumps(
                {"model_id": provider.model_id, "bond": audit.complete_unstake(provider.account, provider.model_id)}
            )
        )
    else:
        print(
            json.dumps(
                {
                    "model_id": provider.model_id,
                    "unbonding_at": audit.request_unstake(provider.account, provider.model_id),
                }
            )
        )
    return 0


def run_answer_audit(args: argparse.Namespace) -> int:
    import json

    if not Path(args.pool_file).is_file():
        raise ZkmarketError(f"pool file {args.pool_file} does not exist: fetch the challenged pool's file")
    provider = _registered_provider(args)
    audit = audit_at(provider.w3, args.audit)
    outcome = provider.answer_audit(audit, args.challenge, args.pool_file)
    record = audit.status(args.challenge)
    print(
        json.dumps(
            {
                "challenge_id": args.challenge,
                "status": outcome.name.lower(),
                "samples": record.samples,
                "correct": record.correct,
            }
        )
    )
    return 0


def run_answer_retrieval(args: argparse.Namespace) -> int:
    import json

    if not Path(args.corpus).is_file():
        raise ZkmarketError(f"corpus file {args.corpus} does not exist: give the file that was registered")
    provider = _registered_provider(args)
    positions = provider.answer_retrieval(
        retrieval_at(provider.w3, args.retrieval), args.request, args.corpus, args.out
    )
    print(json.dumps({"request_id": args.request, "items": positions, "delivery": str(args.out)}))
    return 0


def register(sub) -> None:
    verbs = command_group(sub, "provider", "register a model and serve its predictions with proofs", __doc__)

    p = verbs.add_parser("setup", help="write a model's key before phase 2, for consumers to contribute to")
    p.add_argument("onnx", help="the model (.onnx)")
    p.add_argument("--ptau", required=True, help="prepared powers of tau from a multi-party ceremony")
    p.add_argument("--out", required=True, help="the key to write (.zkey)")
    p.add_argument("--calibration", help="a .npy batch of typical inputs (not needed for the bundled models)")
    statement_sizes(p, "the initial key of")
    p.set_defaults(run=run_setup)

    p = verbs.add_parser("register", help="compile, set up, deploy the verifier and register a model")
    p.add_argument("onnx", help="the model (.onnx)")
    p.add_argument("--price", type=int, required=True, help="wei per prediction")
    p.add_argument("--ptau", help="prepared powers of tau from a multi-party ceremony (zkmarket powersoftau)")
    p.add_argument(
        "--calibration",
        help="a .npy batch of typical inputs for quantization (not needed for the bundled example models)",
    )
    p.add_argument(
        "--zkey",
        help="the model's key after the consumers' phase-2 contributions (from `zkmarket "
        "provider setup` and `zkmarket zkey contribute`); default: a fresh key",
    )
    p.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help=f"the input channel's URL (default {DEFAULT_ENDPOINT})")
    p.add_argument("--state", default="provider-state", help="the provider's state directory")
    p.add_argument("--cache", default=None, help="cache folder for circuits and keys")
    statement_sizes(p, "also register a verifier of")
    p.add_argument(
        "--statement-ptau", help="prepared powers of tau for the statements' larger circuits (default --ptau)"
    )
    p.add_argument("--accuracy-zkey", help="the accuracy key after the auditors' phase-2 contributions")
    p.add_argument("--retrieval-zkey", help="the retrieval key after the requesters' phase-2 contributions")
    p.add_argument("--batch-zkey", help="the batch key after the consumers' phase-2 contributions")
    market_arguments(p, account=1)
    p.set_defaults(run=run_register)

    p = verbs.add_parser("serve", help="answer requests for the registered model until interrupted")
    p.add_argument("--state", default="provider-state", help="the provider's state directory")
    p.add_argument("--poll", type=float, default=1.0, help="seconds between polls of the chain")
    p.add_argument(
        "--channel-timeout",
        type=float,
        help="seconds a client has for a request's headers, and again for its body (default 5)",
    )
    p.add_argument(
        "--max-connections", type=int, help="open channel connections; past it a new one gets 503 (default 256)"
    )
    market_arguments(p, account=1)
    p.set_defaults(run=run_serve)

    p = verbs.add_parser("status", help="each request's state, reason and times, from the state directory")
    p.add_argument("--state", default="provider-state", help="the provider's state directory")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(run=run_status)

    def registered(p, audit: bool = True):
        """The options of a verb about the registered model (and, with ``audit``, an AccuracyAudit)."""
        if audit:
            p.add_argument("--audit", required=True, metavar="ADDRESS", help="the AccuracyAudit's address")
        p.add_argument("--state", default="provider-state", help="the provider's state directory")
        market_arguments(p, account=1)

    p = verbs.add_parser("stake", help="claim an accuracy for the registered model and stake a bond on it")
    p.add_argument("--claim-bps", type=int, required=True, help="the claimed accuracy in basis points (9000 = 90%%)")
    p.add_argument("--bond", type=int, required=True, help="wei staked, a whole number of slices")
    p.add_argument("--slice", type=int, help="wei one lost challenge takes (default: the whole bond)")
    p.add_argument("--min-fee", type=int, default=0, help="the least fee a challenge pays (wei)")
    registered(p)
    p.set_defaults(run=run_stake)

    p = verbs.add_parser("accept-pool", help="check a published pool file and put the bond at risk on its pool")
    p.add_argument("pool_file", help="the pool's published file (.npz)")
    p.add_argument("--pool", type=int, required=True, help="the pool id")
    p.add_argument(
        "--min-pass",
        type=float,
        default=0.99,
        help="refuse the pool unless a challenge on it passes the claim with this probability",
    )
    registered(p)
    p.set_defaults(run=run_accept_pool)

    p = verbs.add_parser("unstake", help="ask for the bond back, or (--complete) take it after the delay")
    p.add_argument("--complete", action="store_true", help="complete an unstake requested earlier")
    registered(p)
    p.set_defaults(run=run_unstake)

    p = verbs.add_parser("answer-audit", help="prove the accuracy on a challenge's drawn samples and answer it")
    p.add_argument("pool_file", help="the challenged pool's file (.npz)")
    p.add_argument("--challenge", type=int, required=True, help="the challenge id")
    registered(p)
    p.set_defaults(run=run_answer_audit)

    p = verbs.add_parser("answer-retrieval", help="prove and fulfil a retrieval request, write the delivery file")
    p.add_argument("corpus", help="the registered corpus file (.npz)")
    p.add_argument("--retrieval", required=True, metavar="ADDRESS", help="the RetrievalMarket's address")
    p.add_argument("--request", type=int, required=True, help="the retrieval request id")
    p.add_argument("--out", default="delivery.npz", help="the delivery file to write for the requester")
    registered(p, audit=False)
    p.set_defaults(run=run_answer_retrieval)
