"""The ops of MobileNet v2 and ResNet beyond conv on the sumcheck backend (prover/sumcheck/
inference.py): clip (ReLU6, and one-sided bounds), the residual add and a sub (with their scale
shifts), the global average pool (a sum over each feature map, then for sizes that are no power
of two a mul by a constant and a rescale). Small synthetic graphs of them prove and verify with
the executor's outputs bit for bit, and each reject twin is refused: a clip that lets a value
through (its indicator and everything after it consistent), an indicator that lies about its
value, a changed add output, a changed pooled sum; and the extension of ``[j < c]`` that the
clip's lookup table uses is checked against the table at every point of the cube and off it."""

from __future__ import annotations

import random

import numpy as np
import pytest
from onnx import helper
from support.onnx_cases import flat, gemm, make_model, w
from support.sumcheck_cases import Case, commitment_key, lenient_lookups, rerun_after, tampered_run

from prover.errors import UnsupportedModelError, VerificationError
from prover.field import FR_MODULUS as R
from prover.onnx import executor
from prover.onnx.importer import import_model
from prover.onnx.quantize import Precision, quantize
from prover.sumcheck import inference as inf
from prover.sumcheck import mle

POWER = 13


@pytest.fixture(scope="module")
def key():
    return commitment_key(POWER)


def conv(inp, out, weight, bias=None, **attrs):
    names = [inp, weight] + ([bias] if bias else [])
    return helper.make_node("Conv", names, [out], name=out, **attrs)


def clip(inp, out, low, high):
    """Clip with its bounds as opset-13 inputs (an empty name for an absent bound)."""
    names = [inp, f"{out}.lo" if low is not None else "", f"{out}.hi" if high is not None else ""]
    while names[-1] == "":
        names.pop()
    return helper.make_node("Clip", names, [out], name=out)


def bounds(out, low, high):
    out_bounds = {}
    if low is not None:
        out_bounds[f"{out}.lo"] = np.array(low, dtype=np.float32)
    if high is not None:
        out_bounds[f"{out}.hi"] = np.array(high, dtype=np.float32)
    return out_bounds


def inverted_residual(r):
    """MobileNet v2's block: a 1x1 expansion, ReLU6, a depthwise 3x3, ReLU6, a 1x1 projection,
    the residual add of the block's input, then the global average pool (over 4 x 4: a power of
    two) and the classifier."""
    c, e = 3, 6
    nodes = [
        conv("x", "expand", "k1", "b1", kernel_shape=[1, 1]),
        clip("expand", "relu6a", 0.0, 6.0),
        conv("relu6a", "dw", "k2", "b2", kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=e),
        clip("dw", "relu6b", 0.0, 6.0),
        conv("relu6b", "project", "k3", "b3", kernel_shape=[1, 1]),
        helper.make_node("Add", ["project", "x"], ["res"], name="res"),
        helper.make_node("GlobalAveragePool", ["res"], ["pool"], name="pool"),
        flat("pool", "f"),
        gemm("g", "f", "y"),
    ]
    weights = {
        "k1": w(r, e, c, 1, 1, scale=4.0),
        "b1": w(r, e),
        "k2": w(r, e, 1, 3, 3),
        "b2": w(r, e),
        "k3": w(r, c, e, 1, 1),
        "b3": w(r, c),
        "g.W": w(r, 4, c),
        "g.b": w(r, 4),
        **bounds("relu6a", 0.0, 6.0),
        **bounds("relu6b", 0.0, 6.0),
    }
    return nodes, (c, 4, 4), (4,), weights


def one_sided(r):
    """A sub of two convs (each with its own scale shift), clips bounded below only and above
    only, then a global average pool over 3 x 3 (a mean's factor and its rescale)."""
    nodes = [
        conv("x", "a", "ka", "ba", kernel_shape=[1, 1]),
        conv("x", "b", "kb", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Sub", ["a", "b"], ["d"], name="d"),
        clip("d", "low", -0.5, None),
        clip("low", "high", None, 0.75),
        helper.make_node("GlobalAveragePool", ["high"], ["pool"], name="pool"),
        flat("pool", "y"),
    ]
    weights = {
        "ka": w(r, 2, 2, 1, 1, scale=2.0),
        "ba": w(r, 2),
        "kb": w(r, 2, 2, 3, 3),
        **bounds("low", -0.5, None),
        **bounds("high", None, 0.75),
    }
    return nodes, (2, 3, 3), (2,), weights


SYNTHETIC = {"inverted_residual": inverted_residual, "one_sided": one_sided}


def synthetic(name, seed=5, batch=3):
    rng = np.random.default_rng(seed)
    nodes, in_shape, out_shape, weights = SYNTHETIC[name](rng)
    model = make_model(nodes, in_shape, out_shape, weights)
    graph = quantize(import_model(model), rng.normal(0, 1, (64, *in_shape)), Precision(10, 8))
    x = executor.quantize_input(graph, np.clip(rng.normal(0, 1, (batch, *in_shape)), -2, 2))
    return graph, x


@pytest.fixture(scope="module")
def residual(key):
    graph, x = synthetic("inverted_residual")
    return Case(key, graph, x)


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_synthetic_blocks_agree_with_the_executor(key, name):
    graph, x = synthetic(name)
    kinds = {op.kind for op in graph.ops}
    assert {"clip", "sumpool"} <= kinds and kinds & {"add", "sub"}
    case = Case(key, graph, x)
    assert np.array_equal(case.outputs, executor.execute(graph, x)[graph.output])
    case.check()
    bad = case.outputs.copy()
    bad[1, 0] += 1
    with pytest.raises(VerificationError):
        case.check(outputs=bad)


def test_the_mean_over_a_map_that_is_no_power_of_two_is_a_mul_by_a_constant():
    graph, _ = synthetic("one_sided")
    assert "mul" in [op.kind for op in graph.ops] and inf._scalar_factor(graph, graph.ops[-3]) is not None


def _clip_op(graph, name):
    return next(op for op in graph.ops if op.kind == "clip" and op.output.startswith(name))


def test_a_clip_that_lets_a_value_through_is_refused(residual, monkeypatch):
    """ReLU6 passes one value above its bound; the indicators are computed from the changed
    output's own rule and everything after it from the changed value: the clip's sumcheck fails."""
    op = _clip_op(residual.graph, "relu6a")
    x_name, high = op.inputs[0], op.attrs["high"]

    def change(g, values):
        x = values[x_name]
        b, *where = map(int, np.argwhere(x[1:] > high)[0])
        y = values[op.output].copy()
        y[(b + 1, *where)] = x[(b + 1, *where)]  # not sample 0, whose copy pads the batch
        return rerun_after(g, {**values, op.output: y}, op.output)

    tampered_run(monkeypatch, change)
    outputs, proof = residual.prove()
    monkeypatch.undo()
    with pytest.raises(VerificationError, match="indicators do not fit the sumcheck"):  # the clip's own
        residual.check(proof=proof, outputs=outputs)


def test_an_indicator_that_lies_is_caught_by_the_lookup(residual, monkeypatch):
    """The same passed value, now with its 'high' indicator set to 0 so that the clip's sumcheck
    rule holds (y = x): the triple (x, 0, 0) for an x above the bound is not in the table, and
    the lookup refuses it, even with multiplicities forged as if it were."""
    op = _clip_op(residual.graph, "relu6a")
    x_name, high = op.inputs[0], op.attrs["high"]
    where: dict = {}

    def change(g, values):
        x = values[x_name]
        b, *rest = map(int, np.argwhere(x[1:] > high)[0])
        where["index"] = (b + 1, *rest)
        y = values[op.output].copy()
        y[where["index"]] = x[where["index"]]
        return rerun_after(g, {**values, op.output: y}, op.output)

    honest_tables = inf._clip_tables

    def lying(clip_op, x):
        tables = honest_tables(clip_op, x)
        if clip_op is op:
            name = f"high:{op.output}"
            tables[name] = tables[name].copy()
            padded = inf.layouts(residual.graph, len(residual.x))[op.output].shape
            tables[name][np.ravel_multi_index(where["index"], padded)] = 0
        return tables

    tampered_run(monkeypatch, change)
    monkeypatch.setattr(inf, "_clip_tables", lying)
    monkeypatch.setattr(inf, "prove_lookups", lenient_lookups)
    outputs, proof = residual.prove()
    monkeypatch.undo()
    with pytest.raises(VerificationError, match="not in the table"):
        residual.check(proof=proof, outputs=outputs)


def test_a_changed_add_or_pooled_sum_is_refused(residual, monkeypatch):
    for kind in ("add", "sumpool"):
        op = next(o for o in residual.graph.ops if o.kind == kind)

        def change(g, values, op=op):
            y = values[op.output].copy()
            y.flat[y[0].size + 1] += 1  # in sample 1
            return rerun_after(g, {**values, op.output: y}, op.output)

        tampered_run(monkeypatch, change)
        outputs, proof = residual.prove()
        monkeypatch.undo()
        with pytest.raises(VerificationError):
            residual.check(proof=proof, outputs=outputs)


def test_the_below_indicator_extension_is_the_indicator():
    bits = 5
    for c in (-3, 0, 1, 7, 16, 31, 32, 40):
        table = [int(j < c) for j in range(1 << bits)]
        for j in range(1 << bits):
            point = [(j >> (bits - 1 - k)) & 1 for k in range(bits)]
            assert inf._below_at(bits, c, point) == table[j]
        point = [random.Random(c).randrange(R) for _ in range(bits)]
        assert inf._below_at(bits, c, point) == mle.evaluate(table, point)


def test_clip_tables_match_their_extension():
    for low, high in ((0, 6), (-3, None), (None, 2)):
        op = inf.Op("clip", ("x",), "y", {"low": low, "high": high}, "test")
        bits, beta = 4, 12345
        table = inf._clip_table(op, bits, beta)
        point = [random.Random(7).randrange(R) for _ in range(bits)]
        assert inf._clip_table_at(op, bits, beta, point) == mle.evaluate(table, point)


def test_clips_excluding_zero_are_refused(key):
    rng = np.random.default_rng(2)
    positive = make_model([clip("x", "c", 0.5, 2.0), flat("c")], (2, 3, 3), (18,), bounds("c", 0.5, 2.0))
    for model, match in ((positive, "excludes 0"),):
        imported = import_model(model)
        graph = quantize(imported, rng.normal(0, 1, (16, *imported.input_tensor.shape)))
        with pytest.raises(UnsupportedModelError, match=match):
            inf.check_supported(graph)
