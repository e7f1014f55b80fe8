"""Accuracy audits and trustless retrieval from the command line, each party its own process,
meeting on a `hardhat node`: the provider registers a model with an accuracy and a retrieval
verifier, stakes on a claim and accepts the auditor's published pool after checking it; the
auditor challenges and draws the samples; the provider answers with a proof, and the requester's
paid retrieval too; the auditor reads the attestation, the requester checks the delivered
items. The refusals: a pool file that is not the registered one, a delivery that is not the
proved set. Phase 1 is the known-secret ptau (test keys), so no consumer check is involved."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from support.models import write_small_model
from support.processes import free_port, zkmarket
from web3 import Web3

from marketplace.audit import write_pool
from marketplace.chain import connect
from marketplace.contracts import Market
from marketplace.retrieval import read_delivery, write_delivery
from marketplace.setup.pipeline import phase1_ptau, quantized_graph
from prover.circuit import accuracy as A
from prover.circuit.retrieval import matching_items
from prover.formats import read_zkey
from prover.onnx import executor

pytestmark = pytest.mark.slow
SAMPLES, ITEMS = 3, 4
BOND, FEE, PAYMENT = 10**17, 10**15, 2 * 10**15


def _last_json(result) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_audit_and_retrieval_from_the_command_line(hardhat_url, tmp_path):
    onnx_path = tmp_path / "small.onnx"
    calibration = write_small_model(onnx_path)
    np.save(tmp_path / "calibration.npy", calibration)
    cache = tmp_path / "cache"
    phase1_ptau(12, [], cache, mode="known-secret", progress=False)  # the inference circuit's
    phase1_ptau(14, [], cache, mode="known-secret", progress=False)  # the statements' larger circuits
    chain = ["--rpc", hardhat_url]
    zkmarket("deploy", *chain, "--out", tmp_path / "deployment.json")
    deployment = json.loads((tmp_path / "deployment.json").read_text())
    market_args = [*chain, "--market", deployment["marketplace"]]
    model = [onnx_path, "--calibration", tmp_path / "calibration.npy"]
    state = ["--state", tmp_path / "provider-state"]
    statement_ptau = cache / "ptau" / "known_secret_14.ptau"
    # the accuracy key: written by the provider, contributed to by the auditor, then registered
    zkmarket(
        "provider",
        "setup",
        *model,
        "--ptau",
        statement_ptau,
        "--out",
        tmp_path / "accuracy_0.zkey",
        "--accuracy-samples",
        SAMPLES,
    )
    zkmarket("zkey", "contribute", tmp_path / "accuracy_0.zkey", tmp_path / "accuracy_1.zkey", "--name", "auditor")
    out = zkmarket(
        "provider",
        "register",
        *model,
        "--price",
        10**15,
        "--ptau",
        cache / "ptau" / "known_secret_12.ptau",
        "--statement-ptau",
        statement_ptau,
        "--accuracy-samples",
        SAMPLES,
        "--accuracy-zkey",
        tmp_path / "accuracy_1.zkey",
        "--retrieval-items",
        ITEMS,
        "--batch-size",
        2,
        "--endpoint",
        f"http://127.0.0.1:{free_port()}",
        *state,
        "--cache",
        cache,
        *market_args,
    )
    assert "model id: 1" in out.stdout
    saved = json.loads((tmp_path / "provider-state" / "provider.json").read_text())
    assert {kind: entry["size"] for kind, entry in saved["statements"].items()} == {
        "accuracy": SAMPLES,
        "retrieval": ITEMS,
        "batch": 2,
    }
    # the batch key's verifier is the model's one batch verifier
    registered = Market.at(connect(hardhat_url), deployment["marketplace"]).model(1)
    assert registered.batch_verifiers == (Web3.to_checksum_address(saved["statements"]["batch"]["verifier"]),)
    registered_key = read_zkey(saved["statements"]["accuracy"]["zkey"])
    assert [c["name"] for c in registered_key.mpc_params["contributions"]] == ["auditor"]

    graph = quantized_graph(onnx_path, calibration).graph
    x = executor.quantize_input(graph, calibration[:ITEMS])
    predicted = executor.argmax_label(executor.execute(graph, x)[graph.output])

    # the audit: deploy, stake, a published pool checked and accepted, a drawn challenge, the proved answer
    audit = zkmarket(
        "audit", "deploy", "--registry", deployment["registry"], "--window", 3600, "--unbonding", 7200, *chain
    )
    audit_address = audit.stdout.split()[-1]
    zkmarket("provider", "stake", "--audit", audit_address, "--claim-bps", 6000, "--bond", BOND, *state, *market_args)
    pool_file = write_pool(tmp_path / "pool.npz", x, predicted)
    pool = _last_json(
        zkmarket(
            "audit",
            "pool",
            "register",
            *model,
            pool_file,
            "--audit",
            audit_address,
            "--uri",
            pool_file.as_uri(),
            *chain,
            "--account",
            3,
        )
    )
    assert pool["root"] == str(A.pool_root(graph, x, predicted)) and pool["size"] == ITEMS
    checked = _last_json(
        zkmarket(
            "audit", "pool", "check", *model, pool_file, "--audit", audit_address, "--pool", pool["pool_id"], *chain
        )
    )
    assert checked["matches"] and checked["model_correct"] == ITEMS
    zkmarket(
        "provider", "accept-pool", pool_file, "--audit", audit_address, "--pool", pool["pool_id"], *state, *market_args
    )
    challenge = _last_json(
        zkmarket(
            "audit",
            "challenge",
            "--audit",
            audit_address,
            "--model",
            1,
            "--pool",
            pool["pool_id"],
            "--fee",
            FEE,
            "--insecure-skip-setup-check",
            *chain,
            "--account",
            3,
        )
    )
    assert challenge["bonded"] and challenge["samples"] == SAMPLES
    drawn = _last_json(
        zkmarket(
            "audit", "draw", "--audit", audit_address, "--challenge", challenge["challenge_id"], *chain, "--account", 3
        )
    )
    assert drawn["status"] == "drawn" and len(drawn["indices"]) == SAMPLES
    # the provider is handed another file: refused with one line, nothing proved or sent
    write_pool(tmp_path / "other.npz", x, (predicted + 1) % 4)
    refused = zkmarket(
        "provider",
        "answer-audit",
        tmp_path / "other.npz",
        "--audit",
        audit_address,
        "--challenge",
        challenge["challenge_id"],
        *state,
        *market_args,
        check=False,
    )
    assert refused.returncode != 0
    (error,) = [line for line in refused.stderr.splitlines() if line.startswith("zkmarket: error:")]
    assert "not the registered pool" in error
    answer = _last_json(
        zkmarket(
            "provider",
            "answer-audit",
            pool_file,
            "--audit",
            audit_address,
            "--challenge",
            challenge["challenge_id"],
            *state,
            *market_args,
        )
    )
    assert answer == {
        "challenge_id": challenge["challenge_id"],
        "status": "passed",
        "samples": SAMPLES,
        "correct": SAMPLES,
    }
    status = _last_json(zkmarket("audit", "status", "--audit", audit_address, "--model", 1, *chain))
    assert [(a["samples"], a["correct"], a["bonded"]) for a in status["attestations"]] == [(SAMPLES, SAMPLES, True)]

    # retrieval: a registered corpus, a paid request, the proved answer and the delivery check
    retrieval = zkmarket("retrieve", "deploy", "--registry", deployment["registry"], *chain)
    retrieval_address = retrieval.stdout.split()[-1]
    np.savez(tmp_path / "corpus.npz", items=x)
    corpus = _last_json(
        zkmarket(
            "corpus",
            "register",
            *model,
            tmp_path / "corpus.npz",
            "--retrieval",
            retrieval_address,
            *chain,
            "--account",
            1,
        )
    )
    cls = int(predicted[0])
    request = _last_json(
        zkmarket(
            "retrieve",
            "request",
            "--retrieval",
            retrieval_address,
            "--model",
            1,
            "--corpus",
            corpus["corpus_id"],
            "--class",
            cls,
            "--payment",
            PAYMENT,
            "--insecure-skip-setup-check",
            *chain,
            "--account",
            2,
        )
    )
    delivered = _last_json(
        zkmarket(
            "provider",
            "answer-retrieval",
            tmp_path / "corpus.npz",
            "--retrieval",
            retrieval_address,
            "--request",
            request["request_id"],
            "--out",
            tmp_path / "delivery.npz",
            *state,
            *market_args,
        )
    )
    assert delivered["items"] == [int(i) for i in matching_items(graph, x, cls)] and delivered["items"]
    checked = _last_json(
        zkmarket(
            "retrieve",
            "check",
            *model,
            tmp_path / "delivery.npz",
            "--retrieval",
            retrieval_address,
            "--request",
            request["request_id"],
            *chain,
        )
    )
    assert checked == {"request_id": request["request_id"], "accepted": True, "items": delivered["items"]}
    # a delivery missing an item, or with another salt, is refused
    delivery = read_delivery(tmp_path / "delivery.npz")
    write_delivery(
        tmp_path / "short.npz",
        dataclasses.replace(delivery, positions=delivery.positions[1:], items=delivery.items[1:]),
    )
    write_delivery(tmp_path / "resalted.npz", dataclasses.replace(delivery, salt=delivery.salt ^ 1))
    for name in ("short.npz", "resalted.npz"):
        refused = zkmarket(
            "retrieve",
            "check",
            *model,
            tmp_path / name,
            "--retrieval",
            retrieval_address,
            "--request",
            request["request_id"],
            *chain,
            check=False,
        )
        assert refused.returncode != 0 and "not the set the proof committed to" in refused.stderr, name

    w3 = connect(hardhat_url)
    assert w3.eth.get_balance(audit_address) == BOND + FEE  # the fee awaits the provider's withdrawal
    assert w3.eth.get_balance(retrieval_address) == PAYMENT
