"""The ceremony verbs end to end: `zkmarket powersoftau ...` and the `zkey` phase-2 verbs."""

from __future__ import annotations

import pytest

from marketplace.cli import main
from tests.circuits.artifacts import build


def _zkey(*argv: str) -> int:
    return main(["zkey", *argv])


@pytest.mark.slow  # every verb of both phases (the library's tests cover each phase fast)
def test_a_whole_ceremony_from_the_command_line(tmp_path, tmp_path_factory, capsys):
    art = build(tmp_path_factory.getbasetemp() / "snarkjs_artifacts").circuits["multiplier"]
    p = lambda name: str(tmp_path / name)  # noqa: E731
    assert main(["powersoftau", "new", "bn128", "4", p("0.ptau")]) == 0
    assert main(["powersoftau", "verify", p("0.ptau")]) == 1  # nobody contributed yet
    assert "no contribution" in capsys.readouterr().err
    assert main(["powersoftau", "contribute", p("0.ptau"), p("1.ptau"), "--name", "alice", "-e", "x"]) == 0
    assert main(["powersoftau", "beacon", p("1.ptau"), p("2.ptau"), "ab" * 16, "10", "-n", "end"]) == 0
    assert main(["powersoftau", "prepare", "phase2", p("2.ptau"), p("final.ptau")]) == 0
    assert main(["powersoftau", "verify", p("final.ptau")]) == 0
    assert "Powers of Tau OK" in capsys.readouterr().out
    # contributing to a prepared file drops its stale Lagrange sections, and says so
    assert main(["powersoftau", "contribute", p("final.ptau"), p("3.ptau")]) == 0
    assert "prepare phase2" in capsys.readouterr().out
    assert main(["powersoftau", "verify", p("3.ptau")]) == 0
    assert "not prepared for phase 2" in capsys.readouterr().out

    assert _zkey("new", str(art.r1cs), p("final.ptau"), p("0.zkey")) == 0
    assert _zkey("contribute", p("0.zkey"), p("1.zkey"), "-n", "provider") == 0
    assert _zkey("beacon", p("1.zkey"), p("2.zkey"), "cd" * 16, "10", "-n", "close") == 0
    assert _zkey("verify", str(art.r1cs), p("final.ptau"), p("2.zkey")) == 0
    out = capsys.readouterr().out
    assert "#1 contribution 'provider'" in out and "#2 beacon 'close'" in out
    # the key checked against another ptau is refused with a one-line error
    other_ptau = build(tmp_path_factory.getbasetemp() / "snarkjs_artifacts").ptau
    assert _zkey("verify", str(art.r1cs), str(other_ptau), p("2.zkey")) == 1
    assert "another circuit or another ptau" in capsys.readouterr().err
