"""`zkmarket audit deploy | pool | challenge | draw | expire | cancel | status`: accuracy audits of
registered models on test pools.

    zkmarket audit deploy --registry ADDRESS [--window S] [--unbonding S]
    zkmarket audit pool publish MODEL.onnx --samples N --out pool.npz
    zkmarket audit pool register MODEL.onnx pool.npz --audit ADDRESS [--uri URI]
    zkmarket audit pool check MODEL.onnx pool.npz --audit ADDRESS --pool ID
    zkmarket audit challenge --audit ADDRESS --model ID --pool ID --fee WEI
    zkmarket audit draw --audit ADDRESS --challenge ID
    zkmarket audit expire | cancel --audit ADDRESS --challenge ID
    zkmarket audit status --audit ADDRESS (--challenge ID | --model ID | --pool ID)

``pool publish`` writes a pool file (quantized inputs and labels, see marketplace.audit) from
the bundled digits test split; ``pool register`` recomputes its Merkle root with the model's
quantization and registers it (``--uri`` says where the file is published; without one the pool
is private and can only buy attestations); ``pool check`` checks a fetched file against the
registered root and size and prints the model's accuracy on its labels. A challenge names a
pool; before its fee is paid, ``challenge`` checks the model's accuracy verifier for the stake's
sample count (``marketplace.setup.check``: the circuit rebuilt from the provider's card, the
ceremony holding a contribution in ``--state``). ``draw`` fixes its samples once the next block
is mined (anyone may call it); the provider answers with `zkmarket provider answer-audit`.
"""

from __future__ import annotations

import argparse
import json

from marketplace.cli.options import (
    audit_args,
    chain_arguments,
    check_statement_args,
    command_group,
    connect_args,
    model_arguments,
    model_graph,
    setup_check_arguments,
)
from prover.errors import ZkmarketError


def run_deploy(args: argparse.Namespace) -> int:
    from marketplace.audit import Audit

    w3, account = connect_args(args)
    audit = Audit.deploy(w3, args.registry, args.window, args.unbonding, sender=account)
    print(f"AccuracyAudit: {audit.contract.address}")
    return 0


def run_pool_publish(args: argparse.Namespace) -> int:
    from marketplace.audit import write_pool
    from marketplace.models import digits_split, model_inputs
    from prover.circuit.accuracy import MAX_POOL_SIZE, pool_root
    from prover.onnx import executor

    graph = model_graph(args)
    _, _, x_te, y_te = digits_split()
    if not 1 <= args.samples <= min(len(y_te), MAX_POOL_SIZE):
        raise ZkmarketError(f"--samples must be in [1, {min(len(y_te), MAX_POOL_SIZE)}] (the digits test split)")
    x = executor.quantize_input(graph, model_inputs(graph.input_tensor.shape, x_te[: args.samples]))
    write_pool(args.out, x, y_te[: args.samples])
    print(
        json.dumps(
            {"pool_file": str(args.out), "size": args.samples, "root": str(pool_root(graph, x, y_te[: args.samples]))}
        )
    )
    return 0


def run_pool_register(args: argparse.Namespace) -> int:
    from marketplace.audit import load_pool

    pool = load_pool(model_graph(args), args.pool_file)
    audit, account = audit_args(args)
    pool_id = audit.register_pool(account, pool.root, pool.size, args.uri)
    print(json.dumps({"pool_id": pool_id, "root": str(pool.root), "size": pool.size, "uri": args.uri}))
    return 0


def run_pool_check(args: argparse.Namespace) -> int:
    from marketplace.audit import load_pool
    from prover.circuit.accuracy import count_correct

    graph = model_graph(args)
    audit, _ = audit_args(args)
    pool = load_pool(graph, args.pool_file, audit.pool_of(args.pool))  # VerificationError when it differs
    correct = count_correct(graph, pool.inputs, pool.labels)
    print(
        json.dumps(
            {
                "pool_id": args.pool,
                "matches": True,
                "size": pool.size,
                "model_correct": correct,
                "model_accuracy": correct / pool.size,
            }
        )
    )
    return 0


def run_challenge(args: argparse.Namespace) -> int:
    audit, account = audit_args(args)
    samples = audit.stake_of(args.model).samples  # the registered circuit's count
    check_statement_args(args, audit, account, "accuracy", args.model, samples)  # before the fee is paid
    cid = audit.challenge(account, args.model, args.pool, args.fee)
    record = audit.status(cid)
    print(
        json.dumps(
            {"challenge_id": cid, "bonded": record.bonded, "samples": record.samples, "draw_block": record.draw_block}
        )
    )
    return 0


def run_draw(args: argparse.Namespace) -> int:
    from prover.circuit.accuracy import sample_indices

    audit, account = audit_args(args)
    record = audit.draw(account, args.challenge)
    out = {"challenge_id": args.challenge, "status": record.status.name.lower()}
    if record.draw:
        out.update(draw=str(record.draw), indices=sample_indices(record.draw), deadline=record.deadline)
    else:
        out.update(draw_block=record.draw_block, redraws=record.redraws)  # deferred: the block left the window
    print(json.dumps(out))
    return 0


def run_settle(args: argparse.Namespace) -> int:
    audit, account = audit_args(args)
    getattr(audit, args.verb)(account, args.challenge)
    print(json.dumps({"challenge_id": args.challenge, "status": audit.status(args.challenge).status.name.lower()}))
    return 0


def run_status(args: argparse.Namespace) -> int:
    audit, _ = audit_args(args)
    if args.challenge is not None:
        c = audit.status(args.challenge)
        print(
            json.dumps(
                {
                    "challenge_id": args.challenge,
                    "status": c.status.name.lower(),
                    "model_id": c.model_id,
                    "pool_id": c.pool_id,
                    "bonded": c.bonded,
                    "challenger": c.challenger,
                    "samples": c.samples,
                    "correct": c.correct,
                    "fee": c.fee,
                    "draw": str(c.draw),
                    "deadline": c.deadline,
                    "draw_block": c.draw_block,
                    "redraws": c.redraws,
                }
            )
        )
        return 0
    if args.pool is not None:
        p = audit.pool_of(args.pool)
        print(
            json.dumps(
                {
                    "pool_id": args.pool,
                    "registrant": p.registrant,
                    "root": str(p.root),
                    "size": p.size,
                    "uri": audit.pool_uri(args.pool),
                }
            )
        )
        return 0
    s = audit.stake_of(args.model)
    print(
        json.dumps(
            {
                "model_id": args.model,
                "claim_bps": s.claim_bps,
                "samples": s.samples,
                "bond": s.bond,
                "slice": s.slice,
                "min_fee": s.min_fee,
                "epoch": s.epoch,
                "unbonding_at": s.unbonding_at,
                "pending_challenges": s.pending,
                "attestations": [
                    {
                        "pool_id": a.pool_id,
                        "samples": a.samples,
                        "correct": a.correct,
                        "challenge_id": a.challenge_id,
                        "bonded": a.bonded,
                    }
                    for a in audit.attestations(args.model)
                ],
            }
        )
    )
    return 0


def register(sub) -> None:
    verbs = command_group(
        sub, "audit", "challenge a model's claimed accuracy on test pools; read challenges and attestations", __doc__
    )
    p = verbs.add_parser("deploy", help="deploy an AccuracyAudit for a model registry")
    p.add_argument("--registry", required=True, metavar="ADDRESS", help="the ModelRegistry's address")
    p.add_argument("--window", type=int, default=86_400, help="seconds a provider has to answer (default a day)")
    p.add_argument(
        "--unbonding",
        type=int,
        default=3 * 86_400,
        help="seconds from an unstake request to the end of challenges (default three days)",
    )
    chain_arguments(p, account=0)
    p.set_defaults(run=run_deploy)

    def contract_args(p, account):
        p.add_argument("--audit", required=True, metavar="ADDRESS", help="the AccuracyAudit's address")
        chain_arguments(p, account)

    pool = verbs.add_parser("pool", help="publish, register and check test pools").add_subparsers(
        dest="pool_verb", metavar="VERB", required=True
    )
    p = pool.add_parser("publish", help="write a pool file from the bundled digits test split")
    model_arguments(p, "the model (.onnx; its quantization decides the inputs)")
    p.add_argument("--samples", type=int, default=360, help="how many test samples (default 360)")
    p.add_argument("--out", default="pool.npz", help="the pool file to write")
    p.set_defaults(run=run_pool_publish)
    p = pool.add_parser("register", help="register a pool file's Merkle root")
    model_arguments(p, "the model (.onnx) whose quantization the pool's inputs have")
    p.add_argument("pool_file", help="the pool file (.npz with quantized inputs and labels)")
    p.add_argument("--uri", default="", help="where the file is published (none: a private test set)")
    contract_args(p, account=3)
    p.set_defaults(run=run_pool_register)
    p = pool.add_parser("check", help="check a fetched pool file against the registered pool")
    model_arguments(p, "the model (.onnx) whose quantization the pool's inputs have")
    p.add_argument("pool_file", help="the pool file (.npz)")
    p.add_argument("--pool", type=int, required=True, help="the pool id")
    contract_args(p, account=0)
    p.set_defaults(run=run_pool_check)

    p = verbs.add_parser("challenge", help="challenge a staked model on a pool with a fee")
    p.add_argument("--model", type=int, required=True, help="the registered model's id")
    p.add_argument("--pool", type=int, required=True, help="the pool id (bonded if the provider accepted it)")
    p.add_argument("--fee", type=int, required=True, help="the fee in wei (paid to the provider if it passes)")
    setup_check_arguments(p, "auditor-state")
    contract_args(p, account=3)
    p.set_defaults(run=run_challenge)

    p = verbs.add_parser("draw", help="draw a challenge's samples from the hash of its draw block")
    p.add_argument("--challenge", type=int, required=True, help="the challenge id")
    contract_args(p, account=3)
    p.set_defaults(run=run_draw)

    for verb, what in (
        ("expire", "settle an unanswered drawn challenge after its deadline"),
        ("cancel", "take back the fee of a challenge that can no longer be drawn"),
    ):
        p = verbs.add_parser(verb, help=what)
        p.add_argument("--challenge", type=int, required=True, help="the challenge id")
        contract_args(p, account=3)
        p.set_defaults(run=run_settle, verb=verb)

    p = verbs.add_parser("status", help="a challenge's state, a pool, or a model's stake and attestations")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--challenge", type=int, help="a challenge id")
    which.add_argument("--model", type=int, help="a model id")
    which.add_argument("--pool", type=int, help="a pool id")
    contract_args(p, account=0)
    p.set_defaults(run=run_status)
