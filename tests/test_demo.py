"""`zkmarket demo`: the whole flow on the in-process chain with the bundled digits MLP (slow:
it compiles, sets up and proves the 31k-constraint circuit), and its summary table."""

from __future__ import annotations

import pytest

from marketplace.demo import PRICE_WEI, DemoReport, DemoRow, run_demo, summary


@pytest.mark.slow
def test_demo_pays_for_verified_predictions_that_match_onnxruntime(tmp_path):
    lines = []
    report = run_demo(2, cache_dir=tmp_path, progress=False, out=lines.append)
    assert [r.request_id for r in report.rows] == [1, 2]
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
    run_demo(1, cache_dir=tmp_path, progress=False, out=lines.append)
    assert any(line.startswith("setup reused from") for line in lines)
    assert any("setup already checked" in line for line in lines)


def test_summary_table_reports_each_request_and_the_balances():
    report = DemoReport([DemoRow(1, 7, 7, 7, 1.5, 150_000, 270_000), DemoRow(2, 3, 5, 3, 2.0, 140_000, 271_000)],
                        {"provider": 10**18, "consumer": 2 * 10**18},
                        {"provider": 10**18 + 10**15, "consumer": 2 * 10**18 - 3 * 10**15}, 12.0)
    lines = summary(report, 10**15)
    rows = [line for line in lines if line.strip()[:1].isdigit()]
    assert rows[0].split()[:5] == ["1", "7", "7", "7", "yes"] and rows[1].split()[:5] == ["2", "3", "5", "3", "NO"]
    assert "1/2 labels match onnxruntime" in "\n".join(lines)
    assert any("+0.001000 ETH" in line for line in lines) and any("-0.003000 ETH" in line for line in lines)
