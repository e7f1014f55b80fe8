"""The audit, corpus and retrieve command groups: files they write are the ones the SDK and the
circuits read, and bad input is a one-line error with a non-zero exit."""

from __future__ import annotations

import numpy as np

from marketplace.audit import read_test_set
from marketplace.cli import main
from marketplace.models import MODELS_DIR, digits_split
from marketplace.retrieval import read_corpus
from prover.circuit import accuracy as A
from prover.circuit import retrieval as R
from test_accuracy import digits_mlp  # noqa: F401  (module fixture)

MLP = str(MODELS_DIR / "mlp.onnx")


def test_test_set_and_corpus_files_match_the_quantized_digits(tmp_path, capsys, digits_mlp):  # noqa: F811
    q, x, y = digits_mlp
    assert main(["audit", "test-set", MLP, "--samples", "12", "--out", str(tmp_path / "t.npz")]) == 0
    inputs, labels = read_test_set(tmp_path / "t.npz")
    assert (inputs == x[:12]).all() and (labels == y[:12]).all()
    assert A.test_set_commitment(q, inputs, labels) == A.test_set_commitment(q, x[:12], y[:12])
    assert main(["corpus", "make", MLP, "--items", "9", "--out", str(tmp_path / "c.npz")]) == 0
    items = read_corpus(tmp_path / "c.npz")
    assert (items == x[:9]).all()
    assert R.corpus_commitment(q, items) == R.corpus_commitment(q, x[:9])


def test_bad_input_is_a_one_line_error(tmp_path, capsys):
    n_test = len(digits_split()[3])
    assert main(["audit", "test-set", MLP, "--samples", str(n_test + 1), "--out", str(tmp_path / "t.npz")]) == 1
    assert "--samples must be in" in capsys.readouterr().err
    assert not (tmp_path / "t.npz").exists()
    (tmp_path / "junk.npz").write_bytes(b"junk")
    assert main(["corpus", "register", MLP, str(tmp_path / "junk.npz"), "--retrieval",
                 "0x" + "11" * 20]) == 1
    assert "not a corpus file" in capsys.readouterr().err
    np.savez(tmp_path / "c.npz", items=np.zeros((2, 64), dtype=np.int64))
    # the in-process chain has no contract at that address
    assert main(["corpus", "register", MLP, str(tmp_path / "c.npz"), "--retrieval", "0x" + "11" * 20]) == 1
    assert "no contract at" in capsys.readouterr().err
    assert main(["audit", "status", "--audit", "0x" + "22" * 20, "--model", "1"]) == 1
    assert "zkmarket audit deploy" in capsys.readouterr().err
    assert main(["retrieve", "refund", "--retrieval", "not-an-address", "--request", "1"]) == 1
    assert "zkmarket retrieve deploy" in capsys.readouterr().err
