"""`zkmarket audit deploy | test-set | challenge | status`: accuracy audits of registered models.

    zkmarket audit deploy --registry ADDRESS [--window S]
    zkmarket audit test-set MODEL.onnx --samples N --out test_set.npz
    zkmarket audit challenge MODEL.onnx test_set.npz --audit ADDRESS --model ID --fee WEI
    zkmarket audit status --audit ADDRESS (--challenge ID | --model ID)

``test-set`` writes the hand-over file (quantized inputs and labels, see marketplace.audit)
from the bundled digits test split; ``challenge`` recomputes the file's commitment with the
model's quantization, checks the model's accuracy verifier for that many samples
(``marketplace.setup_check``: the circuit rebuilt from the provider's card, the ceremony holding
a contribution in ``--state``; refused before any fee is paid), opens the challenge and prints
the commitment the provider must prove about. Hand the file to the provider; it answers with `zkmarket provider answer-audit`.
"""

from __future__ import annotations

import argparse
import json

from prover.errors import ZkmarketError


def audit_at(w3, address: str):
    """The AccuracyAudit at ``address``, or a ZkmarketError saying how to get one."""
    from web3 import Web3

    from marketplace.audit import Audit

    if not Web3.is_address(address) or not w3.eth.get_code(Web3.to_checksum_address(address)):
        raise ZkmarketError(f"no contract at {address} on this chain: deploy one with `zkmarket audit deploy`")
    return Audit.at(w3, Web3.to_checksum_address(address))


def _audit(args):
    from marketplace.cli.deploy import connect_args

    w3, account = connect_args(args)
    return audit_at(w3, args.audit), account


def run_deploy(args: argparse.Namespace) -> int:
    from marketplace.audit import Audit
    from marketplace.cli.deploy import connect_args

    w3, account = connect_args(args)
    audit = Audit.deploy(w3, args.registry, args.window, sender=account)
    print(f"AccuracyAudit: {audit.contract.address}")
    return 0


def run_test_set(args: argparse.Namespace) -> int:
    from marketplace.audit import write_test_set
    from marketplace.models import digits_split, model_inputs
    from marketplace.cli.provider import model_graph
    from prover.onnx import executor

    graph = model_graph(args)
    _, _, x_te, y_te = digits_split()
    if not 1 <= args.samples <= len(y_te):
        raise ZkmarketError(f"--samples must be in [1, {len(y_te)}] (the digits test split)")
    x = executor.quantize_input(graph, model_inputs(graph.input_tensor.shape, x_te[:args.samples]))
    write_test_set(args.out, x, y_te[:args.samples])
    print(f"{args.out}: {args.samples} quantized digits test samples with labels")
    return 0


def run_challenge(args: argparse.Namespace) -> int:
    from marketplace.audit import read_test_set
    from marketplace.cli.consumer import check_statement_args
    from marketplace.cli.provider import model_graph
    from prover.circuit.accuracy import test_set_commitment

    graph = model_graph(args)
    inputs, labels = read_test_set(args.test_set)
    commitment = test_set_commitment(graph, inputs, labels)
    audit, account = _audit(args)
    check_statement_args(args, audit, account, "accuracy", args.model, len(labels))  # before the fee is paid
    cid = audit.challenge(account, args.model, commitment, len(labels), args.fee)
    record = audit.status(cid)
    print(json.dumps({"challenge_id": cid, "test_set_commitment": str(commitment), "samples": len(labels),
                      "deadline": record.deadline}))
    return 0


def run_status(args: argparse.Namespace) -> int:
    audit, _ = _audit(args)
    if args.challenge is not None:
        c = audit.status(args.challenge)
        print(json.dumps({"challenge_id": args.challenge, "status": c.status.name.lower(), "model_id": c.model_id,
                          "auditor": c.auditor, "samples": c.samples, "correct": c.correct, "fee": c.fee,
                          "deadline": c.deadline, "test_set_commitment": str(c.test_set_commitment)}))
        return 0
    stake = audit.stake_of(args.model)
    print(json.dumps({"model_id": args.model, "claim_bps": stake.claim_bps, "bond": stake.bond,
                      "open_challenge": stake.open_challenge,
                      "attestations": [{"test_set_commitment": str(a.test_set_commitment), "samples": a.samples,
                                        "correct": a.correct, "challenge_id": a.challenge_id}
                                       for a in audit.attestations(args.model)]}))
    return 0


def register(sub) -> None:
    from marketplace.cli.consumer import statement_check_arguments
    from marketplace.cli.deploy import chain_arguments, verb_group
    from marketplace.cli.provider import model_arguments

    verbs = verb_group(sub, "audit", "challenge a model's claimed accuracy; read challenges and attestations",
                       __doc__)
    p = verbs.add_parser("deploy", help="deploy an AccuracyAudit for a model registry")
    p.add_argument("--registry", required=True, metavar="ADDRESS", help="the ModelRegistry's address")
    p.add_argument("--window", type=int, default=86_400, help="seconds a provider has to answer (default a day)")
    chain_arguments(p, account=0)
    p.set_defaults(run=run_deploy)

    p = verbs.add_parser("test-set", help="write a test-set file from the bundled digits test split")
    model_arguments(p, "the model (.onnx; its quantization decides the inputs)")
    p.add_argument("--samples", type=int, default=100, help="how many test samples (default 100)")
    p.add_argument("--out", default="test_set.npz", help="the test-set file to write")
    p.set_defaults(run=run_test_set)

    def contract_args(p, account):
        p.add_argument("--audit", required=True, metavar="ADDRESS", help="the AccuracyAudit's address")
        chain_arguments(p, account)

    p = verbs.add_parser("challenge", help="challenge a staked model with a committed test set and a fee")
    model_arguments(p, "the model (.onnx) the challenge is about")
    p.add_argument("test_set", help="the test-set file (.npz with quantized inputs and labels)")
    p.add_argument("--model", type=int, required=True, help="the registered model's id")
    p.add_argument("--fee", type=int, required=True, help="the fee in wei (paid to the provider if it passes)")
    statement_check_arguments(p, "auditor-state")
    contract_args(p, account=3)
    p.set_defaults(run=run_challenge)

    p = verbs.add_parser("status", help="a challenge's state, or a model's stake and attestations")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--challenge", type=int, help="a challenge id")
    which.add_argument("--model", type=int, help="a model id")
    contract_args(p, account=0)
    p.set_defaults(run=run_status)
