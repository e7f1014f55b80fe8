"""`make demo`: the whole pay-per-verified-prediction flow on the in-process chain.

One process plays every part, each through its own account and the same interfaces as the
separate programs: a deployer deploys the marketplace; the consumer contributes to the setup
ceremony (phase 2 of the bundled digits MLP's key; phase 1 too with ``--ceremony``); the provider compiles the
model, sets it up, deploys its verifier and registers it with a price; the consumer checks the
setup transcripts and the verifier, then buys predictions for digits from the test split, each
proved by the provider and verified on-chain before the escrow is paid out. The labels are
compared with the float model run by onnxruntime, and a summary table ends the run.

Phase 1 is by default the INSECURE known-secret powers of tau (its secret is in the source), which
the demo says loudly; ``phase1="ceremony"`` (``zkmarket demo --ceremony``) runs a local phase-1
ceremony with the consumer's contribution instead, which is honest but slower (254 s for the
first run on an idle 2-core machine, mostly preparing the 2^15 powers of tau's Lagrange sections).

Compiled circuits, ceremony files and keys are cached (``--cache``, ``$ZKMARKET_CACHE`` or
``~/.cache/zkmarket``), so a second run skips the ceremony and the setup.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from marketplace.chain import connect
from marketplace.consumer import Consumer
from marketplace.contracts import Market
from marketplace.provider import Provider, prepare_model
from marketplace.store import ProviderStore, default_cache_dir
from prover.errors import ZkmarketError

PRICE_WEI = 10 ** 15  # 0.001 ether per prediction
ETHER = 10 ** 18


@dataclass
class DemoRow:
    request_id: int
    digit: int            # the test split's label
    onnxruntime: int      # the float model's label
    proved: int           # the label the contract verified
    proof_seconds: float
    open_gas: int
    fulfil_gas: int


@dataclass
class DemoReport:
    rows: list[DemoRow]
    balances_before: dict[str, int]
    balances_after: dict[str, int]
    seconds: float


def onnxruntime_labels(onnx_path: Path, x: np.ndarray) -> np.ndarray:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ZkmarketError("the demo compares its labels with onnxruntime, which is not installed: "
                            "`pip install -e '.[test]'` (or `make install`)") from exc

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    logits = session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})[0]
    return logits.argmax(axis=1)


def eth(wei: int) -> str:
    return f"{wei / ETHER:.6f} ETH"


def run_demo(n_predictions: int = 5, *, model_name: str = "mlp", cache_dir: Path | None = None,
             price: int = PRICE_WEI, phase1: str = "known-secret", progress: bool = True, out: Callable[[str], None] = print) -> DemoReport:
    """Run the demo (see the module docstring) and print its summary; returns the figures."""
    from marketplace.models import digits_split, example_models, model_inputs

    t_start = time.perf_counter()
    cache_dir = Path(cache_dir or default_cache_dir())
    model = example_models()[model_name]
    out(f"zkml-market demo: {n_predictions} paid, proved predictions of {model.path.name} on an in-process chain")
    out(f"cache: {cache_dir}")

    w3 = connect()
    deployer, provider_account, consumer_account = w3.eth.accounts[:3]
    market = Market.deploy(w3, deployer)
    out(f"marketplace deployed at {market.marketplace.address}")

    consumer = Consumer(market, consumer_account, name="consumer", state_dir=cache_dir / "consumer", log=out)
    served = prepare_model(model.path, participants=[consumer], phase1=phase1, cache_dir=cache_dir,
                           progress=progress, log=out)

    with tempfile.TemporaryDirectory(prefix="zkmarket-provider-") as state_dir:
        provider = Provider(market, provider_account, served, ProviderStore(state_dir), log=out, progress=progress)
        try:
            endpoint = provider.open_channel()
            out(f"provider endpoint (the input channel): {endpoint}")
            model_id = provider.register(price)
            insecure = phase1 == "known-secret"
            offer = consumer.inspect(model_id, insecure_phase1=insecure)
            checked = "the phase-2 transcript verifies and holds" if insecure else \
                "both ceremony transcripts verify and hold"
            out(f"consumer checked model {model_id}: {checked} its own contribution; the registered verifier "
                f"embeds the checked key")
            if insecure:
                out("WARNING: phase 1 is the INSECURE known-secret powers of tau (fast, for this demo): whoever "
                    "knows its secret can forge proofs. `zkmarket demo --ceremony` runs a real phase-1 "
                    "ceremony with the consumer's contribution instead (the first time: about 4 minutes on an idle 2-core machine)")

            accounts = {"provider": provider_account, "consumer": consumer_account}
            before = {name: int(w3.eth.get_balance(a)) for name, a in accounts.items()}
            _, _, x_test, y_test = digits_split()
            inputs = model_inputs(model.input_shape, x_test[:n_predictions])
            expected = onnxruntime_labels(model.path, inputs)
            rows = []
            for i, x in enumerate(inputs):
                prediction = consumer.predict(offer, x, wait=provider.serve_once)
                record = provider.store.request(prediction.request_id)
                rows.append(DemoRow(prediction.request_id, int(y_test[i]), int(expected[i]), int(prediction.label),
                                    record.proof_seconds, prediction.open_gas, record.gas_used))
            earned = provider.withdraw()
            out(f"provider withdrew {eth(earned)}")
            after = {name: int(w3.eth.get_balance(a)) for name, a in accounts.items()}
        finally:
            provider.close()

    report = DemoReport(rows, before, after, time.perf_counter() - t_start)
    for line in summary(report, price):
        out(line)
    return report


def summary(report: DemoReport, price: int) -> list[str]:
    """The summary table: one row per request, then the balances."""
    lines = ["", "request  digit  onnxruntime  proved  match  proof (s)  gas (open + fulfil)",
             "-------  -----  -----------  ------  -----  ---------  -------------------"]
    for r in report.rows:
        match = "yes" if r.proved == r.onnxruntime else "NO"
        lines.append(f"{r.request_id:>7}  {r.digit:>5}  {r.onnxruntime:>11}  {r.proved:>6}  {match:>5}  "
                     f"{r.proof_seconds:>9.2f}  {r.open_gas:>8,} + {r.fulfil_gas:,}")
    n = len(report.rows)
    agree = sum(r.proved == r.onnxruntime for r in report.rows)
    lines += ["", f"{n} predictions paid at {eth(price)} each, {n} verified on-chain; "
                  f"{agree}/{n} labels match onnxruntime",
              "balances      before                after                 change"]
    for name in report.balances_before:
        b, a = report.balances_before[name], report.balances_after[name]
        lines.append(f"{name:<9}  {eth(b):>20}  {eth(a):>20}  {'+' if a >= b else '-'}{eth(abs(a - b))}")
    lines.append("(the consumer also paid gas; the provider paid gas for registering and fulfilling)")
    lines.append(f"total time {report.seconds:.1f} s")
    return lines
