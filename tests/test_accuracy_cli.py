"""The audit, corpus and retrieve command groups and the hand-over files: the files the verbs
write are the ones the SDK and the circuits read, a bad file or argument is a one-line error
with a non-zero exit, and the statement contracts' shipped artifacts match a fresh compile."""

from __future__ import annotations

import json

import numpy as np
import pytest

from marketplace.audit import read_pool, write_pool
from marketplace.cli import main
from marketplace.models import MODELS_DIR, digits_split
from marketplace.retrieval import Delivery, read_corpus, read_delivery, write_corpus, write_delivery
from prover.circuit import accuracy as A
from prover.circuit import retrieval as R
from prover.errors import FormatError
from prover.field import FR_MODULUS

MLP = str(MODELS_DIR / "mlp.onnx")


def test_pool_and_corpus_files_match_the_quantized_digits(tmp_path, capsys, digits_mlp):
    q, x, y = digits_mlp
    assert main(["audit", "pool", "publish", MLP, "--samples", "12", "--out", str(tmp_path / "t.npz")]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    inputs, labels = read_pool(tmp_path / "t.npz")
    assert (inputs == x[:12]).all() and (labels == y[:12]).all()
    assert int(printed["root"]) == A.pool_root(q, inputs, labels) == A.pool_root(q, x[:12], y[:12])
    assert main(["corpus", "make", MLP, "--items", "9", "--out", str(tmp_path / "c.npz")]) == 0
    items = read_corpus(tmp_path / "c.npz")
    assert (items == x[:9]).all()
    assert R.corpus_commitment(q, items) == R.corpus_commitment(q, x[:9])


def test_bad_input_is_a_one_line_error(tmp_path, capsys):
    n_test = len(digits_split()[3])
    assert main(["audit", "pool", "publish", MLP, "--samples", str(n_test + 1), "--out", str(tmp_path / "t.npz")]) == 1
    assert "--samples must be in" in capsys.readouterr().err
    assert not (tmp_path / "t.npz").exists()
    (tmp_path / "junk.npz").write_bytes(b"junk")
    assert main(["corpus", "register", MLP, str(tmp_path / "junk.npz"), "--retrieval", "0x" + "11" * 20]) == 1
    assert "not a corpus file" in capsys.readouterr().err
    np.savez(tmp_path / "c.npz", items=np.zeros((2, 64), dtype=np.int64))
    # the in-process chain has no contract at that address
    assert main(["corpus", "register", MLP, str(tmp_path / "c.npz"), "--retrieval", "0x" + "11" * 20]) == 1
    assert "no contract at" in capsys.readouterr().err
    assert main(["audit", "status", "--audit", "0x" + "22" * 20, "--model", "1"]) == 1
    assert "zkmarket audit deploy" in capsys.readouterr().err
    assert main(["retrieve", "refund", "--retrieval", "not-an-address", "--request", "1"]) == 1
    assert "zkmarket retrieve deploy" in capsys.readouterr().err


def test_pool_file_round_trip_and_refusals(tmp_path, digits_mlp):
    _, x, y = digits_mlp
    path = write_pool(tmp_path / "pool.npz", x[:5], y[:5])
    inputs, labels = read_pool(path)
    assert (inputs == x[:5]).all() and (labels == y[:5]).all()
    assert [p.name for p in tmp_path.iterdir()] == ["pool.npz"]  # no temp file left
    (tmp_path / "junk.npz").write_bytes(b"not a numpy file")
    with pytest.raises(FormatError):
        read_pool(tmp_path / "junk.npz")
    np.savez(tmp_path / "short.npz", inputs=x[:5], labels=y[:2])
    with pytest.raises(FormatError, match="one label per"):
        read_pool(tmp_path / "short.npz")
    np.savez(tmp_path / "float.npz", inputs=x[:5] * 0.5, labels=y[:5])
    with pytest.raises(FormatError, match="integer"):
        read_pool(tmp_path / "float.npz")


def test_corpus_and_delivery_files(tmp_path, digits_mlp):
    _, x, _ = digits_mlp
    path = write_corpus(tmp_path / "corpus.npz", x[:8])
    assert (read_corpus(path) == x[:8]).all()
    selected, salt = np.array([1, 4, 6]), FR_MODULUS - 1  # the largest salt survives the round trip
    path = write_delivery(tmp_path / "delivery.npz", Delivery(7, selected, x[selected], salt))
    delivery = read_delivery(path)
    assert (delivery.positions == selected).all() and (delivery.items == x[selected]).all()
    assert (delivery.request_id, delivery.salt) == (7, salt)
    salt_bytes = np.frombuffer(salt.to_bytes(32, "big"), dtype=np.uint8)
    whole = dict(request_id=np.array(7), positions=selected, items=x[selected], salt=salt_bytes)
    for change, match in (
        ({"positions": selected[:1]}, "one corpus position"),
        ({"salt": salt_bytes[1:]}, "salt"),
        ({"salt": np.full(32, 255, dtype=np.uint8)}, "not a field element"),
        ({"request_id": selected}, "names its request"),
    ):
        np.savez(tmp_path / "bad.npz", **{**whole, **change})
        with pytest.raises(FormatError, match=match):
            read_delivery(tmp_path / "bad.npz")
    np.savez(tmp_path / "unsalted.npz", positions=selected, items=x[selected])  # the old format
    with pytest.raises(FormatError, match="salt"):
        read_delivery(tmp_path / "unsalted.npz")
    np.savez(tmp_path / "no_items.npz", positions=selected)
    with pytest.raises(FormatError, match="items"):
        read_corpus(tmp_path / "no_items.npz")
