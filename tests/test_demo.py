"""`zkmarket demo`: the whole flow on the in-process chain with the bundled digits MLP (slow:
it compiles, sets up and proves the 31k-constraint circuit), and its summary table."""

from __future__ import annotations

import pytest

from marketplace.demo import (
    AUDIT_BOND,
    AUDIT_FEE,
    PRICE_WEI,
    RETRIEVAL_PAYMENT,
    AuditRow,
    DemoReport,
    DemoRow,
    RetrievalRow,
    check_statement_sizes,
    run_demo,
    summary,
)
from prover.errors import ZkmarketError


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory):
    """One cache for the module's demo runs: the inference setup is made once."""
    return tmp_path_factory.mktemp("demo-cache")


@pytest.mark.slow
def test_demo_pays_for_verified_predictions_that_match_onnxruntime(demo_cache):
    lines = []
    report = run_demo(2, cache_dir=demo_cache, progress=False, out=lines.append)
    assert len({r.request_id for r in report.rows}) == 2  # two requests, ids the hashes of their terms
    # bought in one batch: one escrow, one proof, one fulfilBatch, the gas shared alike
    assert any("batch fulfilled: 2 request(s)" in line for line in lines)
    assert len({(r.open_gas, r.fulfil_gas) for r in report.rows}) == 1
    assert all(r.proved == r.onnxruntime for r in report.rows)
    assert all(r.fulfil_gas > 0 and r.open_gas > 0 and r.proof_seconds > 0 for r in report.rows)
    # the consumer paid the two prices plus gas; the provider got them minus its fulfil gas
    paid = report.balances_before["consumer"] - report.balances_after["consumer"]
    earned = report.balances_after["provider"] - report.balances_before["provider"]
    assert paid > 2 * PRICE_WEI > earned > 0
    text = "\n".join(lines)
    assert "INSECURE" in text and "2/2 labels match onnxruntime" in text
    # a second run reuses the cached setup
    lines.clear()
    run_demo(1, cache_dir=demo_cache, progress=False, out=lines.append)
    assert any(line.startswith("setup reused from") for line in lines)
    assert any("setup already checked" in line for line in lines)


def test_summary_table_reports_each_request_and_the_balances():
    report = DemoReport(
        [DemoRow(1, 7, 7, 7, 1.5, 150_000, 270_000), DemoRow(2, 3, 5, 3, 2.0, 140_000, 271_000)],
        {"provider": 10**18, "consumer": 2 * 10**18},
        {"provider": 10**18 + 10**15, "consumer": 2 * 10**18 - 3 * 10**15},
        12.0,
    )
    lines = summary(report, 10**15)
    rows = [line for line in lines if line.strip()[:1].isdigit()]
    assert rows[0].split()[:6] == ["1", "0x000000…01", "7", "7", "7", "yes"]
    assert rows[1].split()[:6] == ["2", "0x000000…02", "3", "5", "3", "NO"]
    assert "gas per verified prediction: 415,500" in "\n".join(lines)
    assert "1/2 labels match onnxruntime" in "\n".join(lines)
    assert any("+0.001000 ETH" in line for line in lines) and any("-0.003000 ETH" in line for line in lines)


# `zkmarket demo --all`'s own sizes (100 samples, 64 items) make a 2^20 accuracy key, about ten
# minutes on a loaded 2-core machine; the test runs the same path at a tenth of the size. The
# executor labels 97% of the split right, so a 50% claim passes on 10 drawn samples all but
# surely (P(more than 5 wrong) < 1e-6), where 90% would fail about one run in thirty.
AUDIT_SAMPLES, AUDIT_CLAIM_BPS, CORPUS_ITEMS = 10, 5_000, 8


@pytest.mark.slow
def test_demo_all_attests_the_executors_accuracy_and_delivers_the_executors_set(demo_cache):
    """`zkmarket demo --all`: after the predictions, an accuracy audit over digits of the test
    split and a retrieval over a digit corpus, each proved and settled on-chain."""
    lines = []
    report = run_demo(
        1,
        cache_dir=demo_cache,
        statements=True,
        audit_samples=AUDIT_SAMPLES,
        audit_claim_bps=AUDIT_CLAIM_BPS,
        corpus_items=CORPUS_ITEMS,
        progress=False,
        out=lines.append,
    )
    audit = report.audit
    assert (audit.samples, audit.claim_bps, audit.outcome, audit.attested) == (
        AUDIT_SAMPLES,
        AUDIT_CLAIM_BPS,
        "passed",
        True,
    )
    assert audit.proved_correct == audit.executor_correct
    assert audit.proved_correct * 10_000 >= audit.claim_bps * AUDIT_SAMPLES
    retrieval = report.retrieval
    assert retrieval.corpus_items == CORPUS_ITEMS and retrieval.delivery_checked
    assert retrieval.delivered == retrieval.executor and len(retrieval.delivered) > 0
    # the auditor paid the fee and the requester the payment (plus gas); the provider's bond
    # stays staked, and it received the fee and the payment
    assert report.balances_before["auditor"] - report.balances_after["auditor"] > AUDIT_FEE
    assert report.balances_before["requester"] - report.balances_after["requester"] > RETRIEVAL_PAYMENT
    provider_change = report.balances_after["provider"] - report.balances_before["provider"]
    assert -AUDIT_BOND < provider_change < PRICE_WEI + AUDIT_FEE + RETRIEVAL_PAYMENT - AUDIT_BOND
    text = "\n".join(lines)
    assert f"on-chain attestation: {audit.proved_correct}/{AUDIT_SAMPLES} correct" in text
    assert "delivery checked" in text


def test_demo_all_does_not_run_a_local_ceremony_for_the_statements(tmp_path):
    with pytest.raises(ZkmarketError, match="without --ceremony"):
        run_demo(1, cache_dir=tmp_path, statements=True, phase1="ceremony", out=lambda m: None)
    assert not any(tmp_path.iterdir())  # refused before anything was made


def test_summary_reports_the_audit_and_the_retrieval():
    report = DemoReport(
        [DemoRow(1, 7, 7, 7, 1.5, 150_000, 270_000)],
        {"provider": 0},
        {"provider": 0},
        1.0,
        AuditRow(1, 100, 9000, 97, 97, True, "passed", 10.0),
        RetrievalRow(1, 64, 3, [2, 5], [2, 5], True, 9.0),
    )
    text = "\n".join(summary(report, 10**15))
    assert "97/100 correct proved and attested on-chain (integer executor: 97/100)" in text
    assert "2 of 64 items are class 3 (the executor's set)" in text
    wrong = DemoReport(
        report.rows,
        {"provider": 0},
        {"provider": 0},
        1.0,
        AuditRow(1, 100, 9000, 97, 96, False, "passed", 10.0),
        RetrievalRow(1, 64, 3, [2], [2, 5], True, 9.0),
    )
    text = "\n".join(summary(wrong, 10**15))
    assert "proved, NOT attested" in text and "NOT the executor's [2, 5]" in text


@pytest.mark.slow  # builds two statements to check the estimate against
def test_statements_too_large_for_the_machine_are_refused_before_any_circuit():
    from marketplace.models import example_models
    from marketplace.setup.pipeline import quantized_graph, statement_circuit, statement_constraints

    mlp = quantized_graph(example_models()["mlp"].path).graph
    # the extrapolation is close: every sample and item adds the same constraints but for the
    # hash tree over the items
    for kind in ("accuracy", "retrieval"):
        built = statement_circuit(mlp, kind, 9).r1cs.n_constraints
        assert abs(statement_constraints(mlp, kind, 9) - built) < 0.01 * built
    check_statement_sizes(mlp, 1000, 256)  # 4.5M and 1.2M constraints: proved in benchmarks/
    with pytest.raises(ZkmarketError, match="give a smaller --audit-samples"):
        check_statement_sizes(mlp, 2000, 64)
    with pytest.raises(ZkmarketError, match="give a smaller --corpus-items"):
        check_statement_sizes(mlp, 100, 4000)
    with pytest.raises(ZkmarketError, match="at least one"):
        check_statement_sizes(mlp, 0, 64)
