"""Data movement on the sumcheck backend (``prover/sumcheck/inference.py``, ``MOVEMENT_KINDS``):
Transpose, Slice, Gather, Concat (with its operands' scale shifts), Pad (a constant fill, zero
or not, and reflect), Expand and Tile, each a gathered view of its operands found by moving index
arrays with the executor's own move; the linear views, windowed average pools (with and
without padding) and reductions over an axis (kept or dropped); and a dense layer over the last
axis of a sequence. Networks of them verify with the executor's outputs; the
wiring is the executor's move. Reject twins: a moved value changed (the rest of the run
recomputed from it), a concat's shares that do not add up, a constant operand refused."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper
from support.onnx_cases import const, gemm, make_model, w
from support.sumcheck_cases import Case, check_changed_value_refused, commitment_key

from prover.errors import UnsupportedModelError, VerificationError
from prover.field import FR_MODULUS as R
from prover.onnx import executor
from prover.onnx.importer import import_model
from prover.onnx.quantize import Precision, quantize
from prover.sumcheck import inference as inf

POWER = 11


@pytest.fixture(scope="module")
def key():
    return commitment_key(POWER)


def ints(name, values):
    return const(name, np.asarray(values, dtype=np.int64))


def quantized(nodes, weights, input_shape, seed):
    rng = np.random.default_rng(seed)
    model = make_model(nodes, input_shape, (3,), weights)
    graph = quantize(import_model(model), rng.normal(0, 1, (24, *input_shape)), Precision(8, 8))
    return graph, executor.quantize_input(graph, rng.normal(0, 1, (3, *input_shape)))


def moved_network(pad_value=0.0, mode="constant", seed=3):
    """(3, 4) -> Transpose -> Pad -> Slice -> Gather -> Flatten -> two Gemm branches -> Relu
    each -> Concat -> Tile -> Gemm."""
    rng = np.random.default_rng(seed)
    pad_inputs = ["t", "pads"] + (["pad_value"] if mode == "constant" else [])
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 1], name="transpose"),
        ints("pads", [0, 1, 0, 0, 0, 2]),
        const("pad_value", np.asarray(pad_value, dtype=np.float32)),
        helper.make_node("Pad", pad_inputs, ["p"], mode=mode, name="pad"),
        ints("starts", [1]),
        ints("ends", [5]),
        ints("axes", [2]),
        helper.make_node("Slice", ["p", "starts", "ends", "axes"], ["s"], name="slice"),
        ints("rows", [0, 2, 3]),
        helper.make_node("Gather", ["s", "rows"], ["g"], axis=1, name="gather"),
        helper.make_node("Flatten", ["g"], ["f"], axis=1, name="flatten"),
        gemm("a", "f", "ha"),
        helper.make_node("Relu", ["ha"], ["ra"], name="relu_a"),
        gemm("b", "f", "hb"),
        helper.make_node("Relu", ["hb"], ["rb"], name="relu_b"),
        helper.make_node("Concat", ["ra", "rb"], ["c"], axis=1, name="concat"),
        ints("repeats", [1, 2]),
        helper.make_node("Tile", ["c", "repeats"], ["tiled"], name="tile"),
        gemm("out", "tiled", "y"),
    ]
    weights = {
        "a.W": w(rng, 4, 12),
        "a.b": w(rng, 4, scale=0.1),
        "b.W": w(rng, 3, 12) * 4,  # a larger scale than a's: the concat shifts one operand
        "b.b": w(rng, 3, scale=0.1),
        "out.W": w(rng, 3, 14),
        "out.b": w(rng, 3, scale=0.1),
    }
    return quantized(nodes, weights, (3, 4), seed)


def expanded_network(seed=4):
    """(1, 4) -> Expand to (3, 4) -> Flatten -> Gemm."""
    rng = np.random.default_rng(seed)
    nodes = [
        ints("shape", [1, 3, 4]),
        helper.make_node("Expand", ["x", "shape"], ["e"], name="expand"),
        helper.make_node("Flatten", ["e"], ["f"], axis=1, name="flatten"),
        gemm("out", "f", "y"),
    ]
    return quantized(nodes, {"out.W": w(rng, 3, 12), "out.b": w(rng, 3, scale=0.1)}, (1, 4), seed)


def pooled_network(seed=6):
    """(2, 6, 6) -> AveragePool 2x2 stride 2 and AveragePool 3x3 stride 2 with a pad of 1
    (counted) -> Concat -> Flatten -> Gemm."""
    rng = np.random.default_rng(seed)
    nodes = [
        helper.make_node("AveragePool", ["x"], ["a"], kernel_shape=[2, 2], strides=[2, 2], name="pool_a"),
        helper.make_node(
            "AveragePool",
            ["x"],
            ["b"],
            kernel_shape=[3, 3],
            strides=[2, 2],
            pads=[1, 1, 1, 1],
            count_include_pad=1,
            name="pool_b",
        ),
        helper.make_node("Concat", ["a", "b"], ["c"], axis=1, name="concat"),
        helper.make_node("Flatten", ["c"], ["f"], axis=1, name="flatten"),
        gemm("out", "f", "y"),
    ]
    return quantized(nodes, {"out.W": w(rng, 3, 36), "out.b": w(rng, 3, scale=0.1)}, (2, 6, 6), seed)


def reduced_network(seed=7):
    """(3, 4) -> ReduceMean over the last axis (dropped) and ReduceSum over the first (kept)
    -> Flatten, Concat -> Gemm."""
    rng = np.random.default_rng(seed)
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], axes=[2], keepdims=0, name="mean"),
        ints("sum_axes", [1]),
        helper.make_node("ReduceSum", ["x", "sum_axes"], ["s"], keepdims=1, name="sum"),
        helper.make_node("Flatten", ["s"], ["sf"], axis=1, name="flatten"),
        helper.make_node("Concat", ["m", "sf"], ["c"], axis=1, name="concat"),
        gemm("out", "c", "y"),
    ]
    return quantized(nodes, {"out.W": w(rng, 3, 7), "out.b": w(rng, 3, scale=0.1)}, (3, 4), seed)


def sequence_network(seed=8):
    """(3, 5) -> MatMul by a (5, 4) weight on the last axis (a dense layer per row of a
    sequence) -> Tanh -> Flatten -> Gemm (with its bias)."""
    rng = np.random.default_rng(seed)
    nodes = [
        helper.make_node("MatMul", ["x", "m.W"], ["h"], name="rows"),
        helper.make_node("Tanh", ["h"], ["t"], name="tanh"),
        helper.make_node("Flatten", ["t"], ["f"], axis=1, name="flatten"),
        gemm("out", "f", "y"),
    ]
    weights = {"m.W": w(rng, 5, 4), "out.W": w(rng, 3, 12), "out.b": w(rng, 3, scale=0.1)}
    return quantized(nodes, weights, (3, 5), seed)


NETWORKS = {
    "zero_pad": lambda: moved_network(0.0),
    "filled_pad": lambda: moved_network(0.75),
    "reflect_pad": lambda: moved_network(mode="reflect"),
    "expand": expanded_network,
    "windowed_pools": pooled_network,
    "reductions": reduced_network,
    "sequence": sequence_network,
}


@pytest.fixture(scope="module")
def cases(key):
    return {name: Case(key, *make()) for name, make in NETWORKS.items()}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_moved_networks_verify_with_the_executors_outputs(cases, name):
    case = cases[name]
    kinds = {op.kind for op in case.graph.ops}
    assert kinds & {*inf.MOVEMENT_KINDS, "sumpool", "reducesum"} or name == "sequence", kinds
    if name == "sequence":
        dense = next(op for op in case.graph.ops if op.kind == "dense")
        assert len(case.graph.tensors[dense.inputs[0]].shape) == 2
    case.check_outputs_are_the_executors((1, 2))


def test_windowed_pools_and_reductions_are_views_of_their_operand(cases):
    """A windowed sum pool's and a reducesum's view, applied to the operand, is the
    executor's output; a changed pooled value is refused."""
    for name, kind in (("windowed_pools", "sumpool"), ("reductions", "reducesum")):
        graph = cases[name].graph
        values = executor.execute(graph, cases[name].x, keep_all=True)
        ops = [op for op in graph.ops if op.kind == kind]
        assert ops and not any(kind == "sumpool" and inf._is_global(graph, op) for op in ops)
        for op in ops:
            axes = inf._sum_view(graph, op)
            got = inf.wiring.apply(axes, inf._table(values[op.inputs[0]], inf.layouts(graph, 3)[op.inputs[0]]), 4)
            expected = inf._table(values[op.output], inf.layouts(graph, 3)[op.output])
            assert np.array_equal(got, expected), (name, op.output)


def _padded_rows(values):
    """A batch of samples, each padded to powers of two and flattened (a table's rows)."""
    shape = (len(values), *(1 << inf._bits(d) for d in values.shape[1:]))
    return inf._padded(values, shape).reshape(len(values), -1).astype(object)


def test_the_wiring_is_the_executors_move(cases):
    """Each move's wiring, applied to an operand's padded table, gives the executor's output
    in the output's padded table (plus the fill where the move fills)."""
    for name in ("filled_pad", "zero_pad", "expand"):
        graph = cases[name].graph
        values = executor.execute(graph, cases[name].x, keep_all=True)
        for op in graph.ops:
            if op.kind not in inf.MOVEMENT_KINDS:
                continue
            move = inf._movement(graph, op)
            y_shape = graph.tensors[op.output].shape
            got = np.zeros((len(cases[name].x), len(move.filled)), dtype=object)
            got += move.filled * move.fill
            for source, wiring in move.sources:
                x = _padded_rows(values[source])
                for k, q, c in wiring.entries:
                    got[:, k] += c * x[:, q]
            expected = _padded_rows(values[op.output])
            assert np.array_equal(got, expected), (name, op.kind, y_shape)
    assert any(
        op.kind == "pad" and inf._movement(cases["filled_pad"].graph, op).fill for op in cases["filled_pad"].graph.ops
    )
    concat = next(op for op in cases["zero_pad"].graph.ops if op.kind == "concat")
    assert any(s for s in concat.attrs["shifts"]), concat.attrs  # the operands' scales differ


def test_a_changed_moved_value_is_refused(cases, monkeypatch):
    case = cases["zero_pad"]
    op = next(op for op in case.graph.ops if op.kind == "gather")

    def bump(values):
        values[1, 0, 2] += 1

    check_changed_value_refused(case, monkeypatch, op.output, bump)


def test_concat_shares_that_do_not_add_up_are_refused(cases):
    """The concat's claim splits into one share per operand: changing one share fails their
    sum, and moving one unit from one share to the other keeps the sum and fails the gathers."""
    case = cases["zero_pad"]
    messages = list(case.proof.messages)
    concat = next(op for op in case.graph.ops if op.kind == "concat")
    assert len(inf._movement(case.graph, concat).sources) == 2

    def check_with(k, values):
        changed = list(messages)
        changed[k] = tuple(v % R for v in values)
        case.check(proof=inf.InferenceProof(case.proof.advice, tuple(changed)))

    found = []
    for k, m in enumerate(messages):
        if isinstance(m, tuple) and len(m) == 2:
            with pytest.raises(VerificationError) as caught:
                check_with(k, (m[0] + 1, m[1]))
            if "shares do not add up" in str(caught.value):
                found.append(k)
    assert len(found) == 1
    (k,) = found
    with pytest.raises(VerificationError):
        check_with(k, (messages[k][0] + 1, messages[k][1] - 1))


def test_a_move_of_a_constant_is_refused(cases):
    """A concat whose second operand is a constant (ONNX exporters fold such ones into the
    weights of the next layer; this backend refuses them rather than trust a public table)."""
    import dataclasses

    from prover.onnx.graph import Constant

    graph = cases["zero_pad"].graph
    concat = next(op for op in graph.ops if op.kind == "concat")
    second = graph.tensors[concat.inputs[1]]
    constant = Constant("k", np.zeros(second.shape, dtype=np.int64), second.scale, second.bits)
    ops = [dataclasses.replace(op, inputs=(op.inputs[0], "k")) if op is concat else op for op in graph.ops]
    changed = dataclasses.replace(graph, ops=ops, constants={**graph.constants, "k": constant})
    with pytest.raises(UnsupportedModelError, match="constant operand"):
        inf.check_supported(changed)
