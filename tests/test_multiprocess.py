"""Issue 5's acceptance run: a `hardhat node`, a provider process and consumer processes,
talking only through the chain and the provider's input channel (HTTP on 127.0.0.1).

The provider is killed (SIGKILL) after it accepted an input and before it proved it; a new
provider process started on the same state directory answers that request, and the waiting
consumer process receives the verified answer. Then the provider is stopped for good while a
request is open: once the node's clock passes the deadline, the consumer process refunds
itself. The setup uses the known-secret phase 1 and no phase-2 contribution, so the consumers
run with --insecure-skip-setup-check (the setup checks are tested in test_marketplace)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from support.models import write_small_model
from support.processes import free_port, zkmarket

from marketplace.chain import advance_time, connect
from marketplace.contracts import Market, Status
from marketplace.setup.pipeline import phase1_ptau
from marketplace.store import ProviderStore
from prover.onnx import executor
from prover.onnx.importer import import_model
from prover.onnx.quantize import Precision, quantize

pytestmark = pytest.mark.slow
PRICE = 10**15
ZKMARKET = [str(Path(sys.executable).parent / "zkmarket")]  # the installed entry point


def start(*args, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [*ZKMARKET, *map(str, args)], stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def start_provider(*args, log: Path) -> subprocess.Popen:
    """A `zkmarket provider serve` process, once its channel listens."""
    proc = start("provider", "serve", *args, log=log)
    wait_for(lambda: "serving model" in log.read_text(), "the provider's channel", procs=[proc])
    return proc


def stop(proc: subprocess.Popen, sig=signal.SIGKILL) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=30)


def wait_for(predicate, what: str, timeout: float = 300, procs=()):
    deadline = time.monotonic() + timeout
    while not predicate():
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(f"a process exited ({proc.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_provider_restart_and_refund_across_processes(hardhat_url, tmp_path):
    onnx_path = tmp_path / "small.onnx"
    calibration = write_small_model(onnx_path)
    np.save(tmp_path / "calibration.npy", calibration)
    ptau = phase1_ptau(12, [], tmp_path / "cache", mode="known-secret", progress=False)
    ptau_path = tmp_path / "cache" / "ptau" / "known_secret_12.ptau"
    assert ptau.power == 12 and ptau_path.exists()
    chain = ["--rpc", hardhat_url]
    zkmarket("deploy", *chain, "--out", tmp_path / "deployment.json")
    market_address = json.loads((tmp_path / "deployment.json").read_text())["marketplace"]
    market_args = [*chain, "--market", market_address]
    state = tmp_path / "provider-state"
    endpoint = f"http://127.0.0.1:{free_port()}"
    out = zkmarket(
        "provider",
        "register",
        onnx_path,
        "--price",
        PRICE,
        "--ptau",
        ptau_path,
        "--calibration",
        tmp_path / "calibration.npy",
        "--endpoint",
        endpoint,
        "--state",
        state,
        "--cache",
        tmp_path / "cache",
        *market_args,
    )
    assert "model id: 1" in out.stdout

    inputs = calibration[:3]
    for i, x in enumerate(inputs):
        np.save(tmp_path / f"x{i}.npy", x)
    consumer_args = ["--model", 1, "--insecure-skip-setup-check", "--state", tmp_path / "consumer", *market_args]
    w3 = connect(hardhat_url)
    market = Market.at(w3, market_address)
    store = ProviderStore(state)

    def nth_request(n):
        """The id of the n-th request opened for the model (ids are hashes of the terms)."""
        opened = [rid for rid, _ in market.opened(1, 0, w3.eth.block_number)]
        return opened[n - 1] if len(opened) >= n else None

    def request_state(n):
        record = store.request(nth_request(n)) if nth_request(n) is not None else None
        return record.state if record else None

    # 1. a paid prediction, answered by the provider process
    provider = start_provider("--state", state, "--poll", 0.5, *market_args, log=tmp_path / "p1.log")
    try:
        result = zkmarket("consumer", "predict", tmp_path / "x0.npy", "--timeout", 600, *consumer_args)
        answer = json.loads(result.stdout.strip().splitlines()[-1])
        assert answer["request_id"] == nth_request(1)
        graph = quantize(import_model(onnx_path), calibration, Precision())
        expected = executor.predict(graph, inputs[0])
        assert answer["label"] == int(expected.label) and answer["logits"] == [int(v) for v in expected.logits]
        assert market.request(nth_request(1)).status == Status.FULFILLED

        # bad input: one error line, a non-zero exit, and no request opened
        np.save(tmp_path / "wrong.npy", np.zeros(15))
        poor = w3.eth.accounts[7]
        w3.eth.send_transaction(
            {
                "from": poor,
                "to": w3.eth.accounts[8],
                "gas": 21000,
                "gasPrice": 10**9,
                "value": w3.eth.get_balance(poor) - 21000 * 10**9 - PRICE // 2,
            }
        )
        for args in (
            [tmp_path / "wrong.npy", *consumer_args],
            [tmp_path / "x0.npy", *consumer_args, "--account", 7],
            [tmp_path / "x0.npy", *consumer_args, "--timeout", 5],
        ):
            result = zkmarket("consumer", "predict", *args, check=False)
            assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
            assert result.stderr.startswith("zkmarket: error: ")
        assert "min_deadline_seconds" in result.stderr  # a timeout too short to prove in
        assert nth_request(2) is None  # still one request opened
    finally:
        stop(provider)

    # 2. the provider is killed after accepting an input, before proving it; a restart answers it.
    # (This once flaked with "request 2 was fulfilled on-chain but the provider does not send the
    # logits": the provider wrote the logits only after the fulfil's receipt came back, and the
    # consumer polling the chain asked for them in between. The logits are now on disk before
    # the fulfil is sent and served as soon as the chain holds the provider's result.)
    provider = start_provider("--state", state, "--poll", 3600, *market_args, log=tmp_path / "p2.log")
    # its first round is over (it polls next in an hour): the input it accepts now stays unproved
    wait_for(
        lambda: "caught up with the chain" in (tmp_path / "p2.log").read_text(),
        "the provider's first round",
        procs=[provider],
    )
    consumer = start(
        "consumer", "predict", tmp_path / "x1.npy", "--timeout", 600, *consumer_args, log=tmp_path / "c2.log"
    )
    try:
        wait_for(
            lambda: request_state(2) == "received",
            "the provider to accept request 2's input",
            procs=[provider, consumer],
        )
        stop(provider)  # SIGKILL: no clean-up runs
        assert market.request(nth_request(2)).status == Status.OPEN
        provider = start_provider("--state", state, "--poll", 0.5, *market_args, log=tmp_path / "p3.log")
        consumer.wait(timeout=600)
        output = (tmp_path / "c2.log").read_text()
        assert consumer.returncode == 0, output
        answer = json.loads(output.strip().splitlines()[-1])
        assert answer["request_id"] == nth_request(2) and answer["label"] == int(
            executor.predict(graph, inputs[1]).label
        )
        assert market.request(nth_request(2)).status == Status.FULFILLED and request_state(2) == "fulfilled"
        assert "resuming 1 request" in (tmp_path / "p3.log").read_text()
        report = json.loads(zkmarket("provider", "status", "--state", state, "--json").stdout)
        assert [r["status"] for r in report["requests"]] == ["fulfilled", "fulfilled"]
        assert report["totals"]["fulfilled"] == 2 and len(report["recent_proof_seconds"]) == 2
    finally:
        stop(consumer)

    # 3. the provider stops for good while a request is open: the consumer refunds itself
    stop(provider)
    provider = start_provider("--state", state, "--poll", 3600, *market_args, log=tmp_path / "p4.log")
    # (a timeout well above the card's min_deadline_seconds, which the measured proofs set)
    consumer = start(
        "consumer", "predict", tmp_path / "x2.npy", "--timeout", 120, *consumer_args, log=tmp_path / "c3.log"
    )
    try:
        wait_for(
            lambda: request_state(3) == "received",
            "the provider to accept request 3's input",
            procs=[provider, consumer],
        )
        stop(provider)
        balance = w3.eth.get_balance(w3.eth.accounts[2])
        advance_time(w3, 180)  # hardhat's evm_increaseTime: the deadline passes
        consumer.wait(timeout=300)
        output = (tmp_path / "c3.log").read_text()
        assert consumer.returncode == 2, output
        assert "refunded" in output
        assert market.request(nth_request(3)).status == Status.REFUNDED
        assert market.owed(w3.eth.accounts[2]) == 0
        assert w3.eth.get_balance(w3.eth.accounts[2]) > balance  # the escrow came back (minus gas)
    finally:
        stop(consumer)
        stop(provider)
