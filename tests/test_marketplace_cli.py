"""The marketplace verbs of the CLI on bad input: one error line, a non-zero exit, nothing sent.
(The paid flow through the CLI runs in test_multiprocess, against a hardhat node.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from marketplace.cli import main

ZKMARKET = str(Path(sys.executable).parent / "zkmarket")


def one_error_line(capsys, argv) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("zkmarket: error: "), err
    return err[0]


def test_missing_and_corrupt_onnx_files_are_one_line_errors(tmp_path, capsys):
    assert "does not exist" in one_error_line(
        capsys, ["provider", "register", str(tmp_path / "nope.onnx"), "--price", "1"]
    )
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07 this is not a protobuf \xff\xfe")
    assert "not a valid ONNX model" in one_error_line(capsys, ["provider", "register", str(corrupt), "--price", "1"])


def test_an_unreachable_node_is_a_one_line_error():
    for argv in (["deploy"], ["consumer", "refund", "--request", "1"]):
        result = subprocess.run(
            [ZKMARKET, *argv, "--rpc", "http://127.0.0.1:9"], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "no Ethereum JSON-RPC node answers at http://127.0.0.1:9" in lines[0]


def test_missing_deployment_and_wrong_account_say_what_to_do(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x = tmp_path / "x.npy"
    import numpy as np

    np.save(x, np.zeros(64))
    assert "run `zkmarket deploy" in one_error_line(capsys, ["consumer", "predict", str(x), "--model", "1"])
    assert "does not exist" in one_error_line(capsys, ["deploy", "--account", "99"])
    assert "no contract at" in one_error_line(
        capsys, ["consumer", "refund", "--request", "1", "--market", "0x" + "12" * 20]
    )


@pytest.mark.parametrize("script", ["deploy", "provider", "consumer", "demo"])
def test_scripts_are_the_cli_verbs(script):
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, root / "scripts" / f"{script}.py", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and f"zkmarket {script}" in result.stdout


def test_trust_records_contribution_hashes_and_refuses_anything_else(tmp_path, capsys):
    digest = "ab" * 64
    assert main(["consumer", "trust", "--state", str(tmp_path), "--phase2", digest.upper()]) == 0
    from marketplace.store import read_json

    assert read_json(tmp_path / "consumer.json")["phase2"] == [digest]
    assert "is not a contribution hash" in one_error_line(
        capsys, ["consumer", "trust", "--state", str(tmp_path), "--phase1", "abc"]
    )
