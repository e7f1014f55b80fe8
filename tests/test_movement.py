"""Data movement (``prover.onnx.ops.movement``): each op on a tiny model built with onnx.helper.
The integer executor equals onnxruntime exactly (moving values loses nothing), the witness
satisfies the R1CS and equals the executor bit for bit, and the op costs no constraint."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from onnx import helper
from support.onnx_cases import MOVES, const, flat, gemm, make_model, onnxruntime_run, w

from prover.circuit import statements as S
from prover.circuit.builder import Builder
from prover.circuit.compile import lower
from prover.errors import UnsupportedModelError
from prover.field import ints_to_limbs
from prover.onnx import executor
from prover.onnx.importer import import_model
from prover.onnx.ops.movement import KINDS as MOVES_KINDS
from prover.onnx.quantize import quantize

n = helper.make_node
i64 = np.int64


def _model(case):
    nodes, in_shape, out_shape, opset, _ = MOVES[case]
    return make_model(nodes, in_shape, out_shape, opset=opset), in_shape


@pytest.mark.parametrize("case", sorted(MOVES))
def test_move_is_exact_proved_bit_for_bit_and_free(case, rng):
    model, in_shape = _model(case)
    graph = import_model(model)
    assert [op.kind for op in graph.ops] == MOVES[case][4]
    q = quantize(graph, rng.normal(0, 1, (64, *in_shape)))
    xq = executor.quantize_input(q, rng.normal(0, 1, (4, *in_shape)).clip(-3, 3))
    ints = executor.execute(q, xq)[q.output]
    # the integer executor, read as real numbers, is onnxruntime on the same (quantized) input,
    # sample by sample (a folded constant has batch 1)
    reference = np.concatenate([onnxruntime_run(model, x[None]) for x in executor.dequantize(q, q.input, xq)])
    np.testing.assert_array_equal(executor.dequantize(q, q.output, ints), reference)
    # every move is a rewiring: lowering the graph adds no constraint unless it computes
    b = Builder()
    low = lower(b, q, b.input("input", q.input_tensor.shape), "public")
    if all(op.kind in MOVES_KINDS for op in q.ops):
        assert b.n_constraints == 0
    circuit = b.finish()
    values = circuit.run({"input": xq[0]})
    assert (values.eval(low.output) == ints[0]).all()
    # the whole statement satisfies its R1CS and a wrong label does not (no weights: public mode)
    ic = S.inference_circuit(q, "public")
    result = ic.witness(xq[0], 7)
    assert (result.logits == ints[0]).all() and ic.r1cs.is_satisfied(result.witness)
    wrong = result.witness.copy()
    wrong[3] = ints_to_limbs([(result.label + 1) % q.output_tensor.shape[0]])[0]
    assert not ic.r1cs.is_satisfied(wrong)


def _conv_model(rng, between):
    weights = {"k": w(rng, 3, 2, 3, 3), "kb": w(rng, 3)}
    nodes = [n("Conv", ["x", "k", "kb"], ["h"], name="conv", pads=[1, 1, 1, 1])]
    if between:
        nodes.append(n("Transpose", ["h"], ["ht"], name="t", perm=[0, 3, 1, 2]))
    nodes += [n("Relu", ["ht" if between else "h"], ["r"], name="relu"), flat("r")]
    return make_model(nodes, (2, 4, 4), (3 * 16,), weights)


@pytest.mark.parametrize("mode", ["private", "public"])
def test_a_move_between_rescale_and_relu_keeps_the_sign_bits(mode, rng):
    """A transpose between a rescale and a ReLU adds no constraint: the ReLU still reads the
    sign bits of the rescale's range check."""
    calibration = rng.normal(0, 1, (32, 2, 4, 4))
    sizes = []
    for between in (False, True):
        q = quantize(import_model(_conv_model(np.random.default_rng(5), between)), calibration)
        ic = S.inference_circuit(q, mode)
        result = ic.witness(executor.quantize_input(q, calibration[0]), 7)
        assert ic.r1cs.is_satisfied(result.witness)
        assert (result.logits == executor.execute(q, executor.quantize_input(q, calibration[0]))[q.output]).all()
        sizes.append(ic.r1cs.n_constraints)
    assert sizes[0] == sizes[1]


def test_a_witness_for_another_move_is_refused(rng):
    """The reject twin: the same model with another permutation is another architecture, and
    the honest witness of one does not satisfy the other's R1CS."""
    model, in_shape = _model("transpose")
    q = quantize(import_model(model), rng.normal(0, 1, (64, *in_shape)))
    other = quantize(import_model(model), rng.normal(0, 1, (64, *in_shape)))
    other.ops[0].attrs["perm"] = (2, 0, 1)
    other.tensors[other.ops[0].output] = replace(other.tensors[other.ops[0].output], shape=(4, 2, 3))
    assert S.architecture_hash(other) != S.architecture_hash(q)
    sample = executor.quantize_input(q, rng.normal(0, 1, in_shape))
    witness = S.inference_circuit(q, "public").witness(sample, 7).witness
    assert S.inference_circuit(q, "public").r1cs.is_satisfied(witness)
    assert not S.inference_circuit(other, "public").r1cs.is_satisfied(witness)


@pytest.mark.parametrize(
    "nodes,reason",
    [
        # a Transpose may move the batch axis (before an RNN, test_recurrent), an op after it may not
        ([n("Transpose", ["x"], ["t"], name="bt", perm=[1, 0, 2]), flat("t")], "batch axis at position 1"),
        ([n("Concat", ["x", "x"], ["c"], name="bc", axis=0), flat("c")], "across the batch axis"),
        (
            [const("i", np.array([0], i64)), n("Gather", ["x", "i"], ["g"], name="bg", axis=0), flat("g")],
            "across the batch axis",
        ),
        (
            [const("p", np.array([0, 0, -1, 0, 0, 0], i64)), n("Pad", ["x", "p"], ["q"], name="crop"), flat("q")],
            "negative pads",
        ),
        (
            [const("r", np.array([2, 1, 1], i64)), n("Tile", ["x", "r"], ["t"], name="bt"), flat("t")],
            "Tile of the batch axis",
        ),
        ([n("Gather", ["x", "x"], ["g"], name="vg", axis=1), flat("g")], "must be a constant"),
    ],
    ids=["transpose_batch", "concat_batch", "gather_batch", "pad_crop", "tile_batch", "gather_computed_indices"],
)
def test_moves_across_the_batch_or_by_computed_indices_are_refused(nodes, reason):
    with pytest.raises(UnsupportedModelError, match=reason):
        import_model(make_model(nodes, (2, 3), ("M",)))


def test_a_concat_with_a_dense_layer_proves_and_binds_its_weights(rng):
    """A move next to weights: concat of a dense output and the input, in private mode."""
    nodes = [gemm("g", "x", "h"), n("Concat", ["h", "x"], ["y"], name="c", axis=1)]
    model = make_model(nodes, (4,), (7,), {"g.W": w(rng, 3, 4), "g.b": w(rng, 3)})
    q = quantize(import_model(model), rng.normal(0, 1, (64, 4)))
    assert [op.kind for op in q.ops][-1] == "concat"
    ic = S.inference_circuit(q, "private")
    sample = executor.quantize_input(q, rng.normal(0, 1, 4))
    result = ic.witness(sample, 7)
    assert ic.r1cs.is_satisfied(result.witness)
    assert (result.logits == executor.execute(q, sample)[q.output]).all()


@pytest.mark.parametrize(
    "case,attr,bad",
    [
        ("pad_constant_value", "pads", ((1 << 20, 1 << 20), (0, 0), (0, 0))),
        ("tile", "repeats", (1 << 30, 1)),
        ("expand", "shape", (3, 1 << 40)),
        ("gather_matrix_indices", "indices", ((3, 9), (0, 1))),
        ("transpose", "perm", (0, 0, 1)),
    ],
)
def test_move_attributes_that_do_not_fit_the_declared_shapes_are_refused(case, attr, bad, rng):
    """An architecture spec comes from the provider: a move whose attributes disagree with the
    declared shapes (or would make a huge tensor) is refused before anything is built."""
    model, in_shape = _model(case)
    q = quantize(import_model(model), rng.normal(0, 1, (16, *in_shape)))
    op = next(op for op in q.ops if attr in op.attrs)
    op.attrs[attr] = bad
    b = Builder()
    with pytest.raises(UnsupportedModelError, match="do not fit|declares"):
        lower(b, q, b.input("input", q.input_tensor.shape), "public")
