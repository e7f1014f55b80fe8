"""Recurrent layers, products of two activations and PRelu (issue 13): ONNX RNN, GRU and LSTM
unrolled at import (``prover.onnx.ops.recurrent``), ``matmul`` of two computed tensors
(``prover.onnx.ops.linear``) and ``prelu`` (``prover.onnx.ops.piecewise``).

The matmul lowering and PRelu's per-element ``sign_select`` are sound at small widths (z3 over
the exact R1CS), with mutation twins; every op on tiny onnx.helper models matches onnxruntime,
and its witness satisfies the R1CS and equals the integer executor; the unsupported variants
are refused by name. A GRU classifier trained in numpy on the digits data agrees with
onnxruntime and one of its predictions is proved with Groth16."""

from __future__ import annotations

import itertools
import time

import numpy as np
import onnx
import pytest
import z3
from onnx import helper, numpy_helper
from support.models import prove_with_test_key
from support.onnx_cases import RECURRENT, const, flat, make_model, onnxruntime_run, recurrent_model
from support.z3_circuits import Z3Circuit, final_values, mutated
from threadpoolctl import threadpool_limits

from prover.circuit import gadgets as G
from prover.circuit import statements as S
from prover.circuit.builder import Builder
from prover.circuit.compile import lower
from prover.errors import UnsupportedModelError
from prover.onnx import executor
from prover.onnx.graph import Graph, Op, Tensor
from prover.onnx.importer import import_model
from prover.onnx.quantize import Precision, quantize

n = helper.make_node


def _check_quantized(model, graph, in_shape, rng, precision=None, units=4.0, reference=None):
    """The quantized graph against onnxruntime (on the dequantized inputs) within ``units`` of
    the output's resolution, and its witness against the executor in both modes. Returns the
    quantized graph."""
    reference = reference or model
    q = quantize(graph, rng.normal(0, 1, (64, *in_shape)), precision or Precision(12, 12))
    xq = executor.quantize_input(q, rng.normal(0, 1, (16, *in_shape)).clip(-3, 3))
    ints = executor.execute(q, xq)[q.output]
    expected = onnxruntime_run(reference, executor.dequantize(q, q.input, xq))
    error = np.abs(executor.dequantize(q, q.output, ints) - expected).max()
    assert error <= units * 2.0**-q.output_tensor.quantized_scale, error
    for mode in ("private", "public"):
        ic = S.inference_circuit(q, mode)
        for sample, logits in zip(xq[:2], ints[:2]):
            result = ic.witness(sample, 7)
            assert (result.logits == logits).all() and ic.r1cs.is_satisfied(result.witness)
    return q


# --- matmul: the lowering, by z3 ---------------------------------------------------------------


def _matmul_circuit(k: int):
    """a[1, 2] @ b[2, 1] from a k-bit input x[4] (a = x[:2], b = x[2:]), lowered as the compiler
    lowers a graph."""
    t = {"x": Tensor("x", (4,), 0, k, True)}
    for name, shape in (("a", (2,)), ("b", (2,)), ("a2", (1, 2)), ("b2", (2, 1)), ("y", (1, 1))):
        t[name] = Tensor(name, shape, 0, 2 * k + 1)
    ops = [
        Op("slice", ("x",), "a", {"axes": (0,), "indices": ((0, 1),)}),
        Op("slice", ("x",), "b", {"axes": (0,), "indices": ((2, 3),)}),
        Op("reshape", ("a",), "a2", {"shape": (1, 2)}),
        Op("reshape", ("b",), "b2", {"shape": (2, 1)}),
        Op("matmul", ("a2", "b2"), "y"),
    ]
    graph = Graph("x", "y", t, {}, ops, quantized=True)
    b = Builder()
    x = b.input("x", (4,))
    G.signed_bits(b, x, k)
    first = b.n_constraints
    y = b.materialize(lower(b, graph, x, "public").output)
    return b.finish(), x, y, first


def test_matmul_admits_only_the_dot_product_for_every_input():
    """Every 2-bit input, every satisfying witness: y = a0 b0 + a1 b1 (z3 over the exact R1CS,
    the inputs fixed so that the products are linear). Twin: without its first product z3
    finds another y."""
    c, x, y, first = _matmul_circuit(2)
    z, dropped = Z3Circuit(c, nonlinear=True), Z3Circuit(c, drop=frozenset({first}), nonlinear=True)
    xw, (yw,) = final_values(c, x), final_values(c, y)
    for v in itertools.product(range(-2, 2), repeat=4):
        fixed = z3.And([z.signed(w) == int(u) for w, u in zip(xw, v)])
        assert z.refutes(z3.Implies(fixed, z.signed(yw) == v[0] * v[2] + v[1] * v[3])), v
    assert not dropped.refutes(z3.Implies(fixed, z.signed(yw) == v[0] * v[2] + v[1] * v[3]))


def test_a_wrong_matmul_output_is_refused_by_the_r1cs():
    c, x, y, _ = _matmul_circuit(6)
    (yw,) = final_values(c, y)
    values = c.run({"x": np.array([-32, 17, 31, -5])})
    w = values.limbs(c.order)
    assert int(values.get(y).ravel()[0]) == -32 * 31 + 17 * -5 and c.r1cs.is_satisfied(w)
    assert not c.r1cs.is_satisfied(mutated(w, yw)) and not c.r1cs.is_satisfied(mutated(w, yw, -1))


# --- matmul: attention-style products on tiny models ------------------------------------------

MATMULS = {
    # Q K^T then scores V, with the transposed operand made by a Transpose
    "attention": (
        [
            n("MatMul", ["x", "wq"], ["q"], name="q"),
            n("MatMul", ["x", "wk"], ["k"], name="k"),
            n("Transpose", ["k"], ["kt"], name="kt", perm=[0, 2, 1]),
            n("MatMul", ["q", "kt"], ["s"], name="scores"),
            n("MatMul", ["s", "x"], ["o"], name="mix"),
            flat("o"),
        ],
        (3, 4),
        (12,),
        lambda r: {"wq": r.normal(0, 0.5, (4, 4)), "wk": r.normal(0, 0.5, (4, 4))},
        ["dense", "dense", "transpose", "matmul", "matmul", "reshape"],
    ),
    # leading (head) axes, one operand broadcast along them
    "batched_heads": (
        [
            const("lo", np.array([0], np.int64)),
            const("hi", np.array([1], np.int64)),
            const("ax", np.array([1], np.int64)),
            n("Slice", ["x", "lo", "hi", "ax"], ["h0"], name="head0"),
            n("Transpose", ["x"], ["xt"], name="xt", perm=[0, 1, 3, 2]),
            n("MatMul", ["x", "xt"], ["g"], name="gram"),
            n("MatMul", ["h0", "g"], ["o"], name="broadcast"),
            flat("o"),
        ],
        (2, 3, 3),
        (18,),
        lambda r: {},
        ["slice", "transpose", "matmul", "matmul", "reshape"],
    ),
}


@pytest.mark.parametrize("case", sorted(MATMULS))
def test_matmul_of_two_activations_matches_onnxruntime(case, rng):
    nodes, in_shape, out_shape, weights, kinds = MATMULS[case]
    model = make_model(nodes, in_shape, out_shape, weights(rng))
    graph = import_model(model)
    assert [op.kind for op in graph.ops] == kinds
    x = rng.normal(0, 1, (16, *in_shape)).astype(np.float32)
    np.testing.assert_allclose(executor.run_float(graph, x), onnxruntime_run(model, x), rtol=1e-5, atol=1e-5)
    # two floor rescales in a row: a few units of the output's resolution
    _check_quantized(model, graph, in_shape, rng, Precision(10, 10), units=8.0)


def test_matmul_costs_one_constraint_per_product(rng):
    """x[3, 4] @ x^T: 9 outputs of 4 products each; the rescale and range checks come on top."""
    nodes = [n("Transpose", ["x"], ["t"], name="t", perm=[0, 2, 1]), n("MatMul", ["x", "t"], ["g"]), flat("g")]
    q = quantize(import_model(make_model(nodes, (3, 4), (9,))), rng.normal(0, 1, (64, 3, 4)))
    op = next(o for o in q.ops if o.kind == "matmul")
    acc, out = q.tensors[op.output], q.tensors[q.ops[q.ops.index(op) + 1].output]
    b = Builder()
    lower(b, q, b.input("input", (3, 4)), "public")
    shift = acc.quantized_scale - out.quantized_scale
    assert b.n_constraints == 9 * 4 + 9 * (shift + out.quantized_bits + 2)
    # the interval analysis bounds the accumulator: K times the extreme product
    lo, hi = -(1 << (q.input_tensor.bits - 1)), 1 << (q.input_tensor.bits - 1)
    assert acc.bits == len(bin(4 * max(lo * lo, hi * hi))) - 2 + 1


@pytest.mark.parametrize(
    "nodes,out_shape,reason",
    [
        ([n("MatMul", ["c", "x"], ["y"], name="const_left")], (4, 4), "const_left.*constant by a computed"),
        (
            [n("Gather", ["x", "i"], ["v"], name="v", axis=1), n("MatMul", ["v", "x"], ["y"], name="ranks")],
            (1, 4),
            "ranks.*same rank",
        ),
    ],
    ids=["constant_left", "unequal_ranks"],
)
def test_unsupported_matmuls_are_refused_by_name(nodes, out_shape, reason):
    model = make_model(nodes, (4, 4), out_shape, {"c": np.ones((4, 4))})
    model.graph.initializer.append(numpy_helper.from_array(np.array(0, np.int64), "i"))
    with pytest.raises(UnsupportedModelError, match=reason):
        import_model(model)


# --- PRelu ------------------------------------------------------------------------------------


def _prelu_circuit(k, slopes):
    b = Builder()
    x = b.input("x", (len(slopes),))
    bits = G.signed_bits(b, x, k)
    first = b.n_constraints
    y = b.materialize(G.sign_select(b, x, bits, 8, np.asarray(slopes, dtype=np.int64)))
    return b.finish(), x, y, first


def test_sign_select_with_a_slope_per_element_is_sound():
    """Each element under its own slope: y_i = 8 x_i for x_i >= 0 and slope_i x_i below (z3 over
    the exact R1CS, every 4-bit input). Twin: without the second element's product z3 finds
    another y."""
    slopes = [3, -5, 0]
    c, x, y, first = _prelu_circuit(4, slopes)
    z = Z3Circuit(c)
    xw, yw = final_values(c, x), final_values(c, y)
    claim = z3.And(
        [z.signed(o) == z3.If(z.signed(i) >= 0, 8 * z.signed(i), a * z.signed(i)) for i, o, a in zip(xw, yw, slopes)]
    )
    assert z.refutes(claim)
    # the products follow the input's range check: p_i is constraint first + i
    assert not Z3Circuit(c, drop=frozenset({first + 1})).refutes(claim)
    w = c.run({"x": np.array([-8, 7, -1])}).limbs(c.order)
    assert c.r1cs.is_satisfied(w) and not c.r1cs.is_satisfied(mutated(w, yw[1]))


@pytest.mark.parametrize(
    "slope", [np.array([[[0.25]], [[-0.5]], [[1.5]]]), np.array(0.1)], ids=["per_channel", "scalar"]
)
def test_prelu_matches_onnxruntime(slope, rng):
    model = make_model([n("PRelu", ["x", "slope"], ["a"], name="prelu"), flat("a")], (3, 2, 2), (12,), {"slope": slope})
    graph = import_model(model)
    assert [op.kind for op in graph.ops] == ["prelu", "reshape"]
    x = rng.normal(0, 1, (16, 3, 2, 2)).astype(np.float32)
    np.testing.assert_allclose(executor.run_float(graph, x), onnxruntime_run(model, x), rtol=1e-6, atol=1e-6)
    q = _check_quantized(model, graph, (3, 2, 2), rng, Precision(10, 10), units=1.0)
    b = Builder()
    lower(b, q, b.input("input", (3, 2, 2)), "public")
    rescale = q.tensors[q.ops[1].output]
    shift = q.tensors[q.ops[0].output].quantized_scale - rescale.quantized_scale
    # per element: the sign (a decomposition of the input), one product, the rescale
    assert b.n_constraints == 12 * (q.input_tensor.bits + 1 + 1 + shift + rescale.quantized_bits + 2)


def test_a_prelu_slope_that_does_not_broadcast_is_refused(rng):
    model = make_model([n("PRelu", ["x", "slope"], ["y"], name="bad_prelu")], (3, 4), (3, 4), {"slope": np.ones(3)})
    with pytest.raises(UnsupportedModelError, match="bad_prelu.*one slope per channel"):
        import_model(model)


# --- RNN, GRU and LSTM on tiny models ----------------------------------------------------------


@pytest.mark.parametrize("case", sorted(RECURRENT))
def test_recurrent_layer_matches_onnxruntime_and_its_witness_the_executor(case, rng):
    """Random weights and biases, 3 steps; layout 1 (which onnxruntime does not run) against the
    layout-0 twin of the same weights."""
    model, reference, in_shape = recurrent_model(case, rng)
    graph = import_model(model)
    movement = {"slice", "concat", "reshape", "transpose", "gather"}
    assert {op.kind for op in graph.ops} <= {"dense", "add", "sub", "mul", "sigmoid", "tanh"} | movement
    x = rng.normal(0, 1, (16, *in_shape)).astype(np.float32)
    np.testing.assert_allclose(executor.run_float(graph, x), onnxruntime_run(reference, x), rtol=1e-5, atol=1e-5)
    # each step's floors and the sigmoid/tanh tables (0.75 units each) add up over the steps
    _check_quantized(model, graph, in_shape, rng, reference=reference, units=16.0)


def test_recurrent_weights_are_committed_once_per_direction(rng):
    """Every step reads the same R constant, so private mode binds one copy of the weights."""
    model, _, in_shape = recurrent_model("gru_y_h", rng)
    q = quantize(import_model(model), rng.normal(0, 1, (64, *in_shape)))
    dense = [op for op in q.ops if op.kind == "dense"]
    # the input projection, step 0's r * Rbh (by the diagonal), the recurrence of steps 1 and 2, the head
    assert len(dense) == 1 + 1 + 2 + 1
    assert len({op.inputs[1] for op in dense}) == 4


def test_the_quantized_gru_stays_within_its_bound_over_the_whole_calibrated_box(rng):
    """Every corner of the box [-3, 3]^6 that the calibration data fills, and random points in
    it: the quantized GRU stays within a few output units of onnxruntime."""
    model, reference, in_shape = recurrent_model("gru_y_h", rng)
    graph = import_model(model)
    q = quantize(graph, rng.uniform(-3, 3, (256, *in_shape)), Precision(12, 12))
    corners = np.array(list(itertools.product((-3.0, 3.0), repeat=int(np.prod(in_shape))))).reshape(-1, *in_shape)
    xq = executor.quantize_input(q, np.concatenate([corners, rng.uniform(-3, 3, (256, *in_shape))]))
    ints = executor.execute(q, xq)[q.output]
    expected = onnxruntime_run(reference, executor.dequantize(q, q.input, xq))
    error = np.abs(executor.dequantize(q, q.output, ints) - expected).max()
    assert error <= 16 * 2.0**-q.output_tensor.quantized_scale


# the nodes of a GRU model (gru_y_h's shapes), with one attribute or input changed
def _gru_variant(rng, **change):
    h, inputs = 3, ["xt", "W", "R", "B"]
    attrs = {"hidden_size": h, "linear_before_reset": 1}
    weights = {"W": rng.normal(0, 0.5, (1, 3 * h, 2)), "R": rng.normal(0, 0.5, (1, 3 * h, h))}
    weights["B"] = np.zeros((1, 6 * h))
    nodes = [n("Transpose", ["x"], ["xt"], name="to_seq", perm=[1, 0, 2])]
    if "extra_inputs" in change:
        extra, values = change.pop("extra_inputs")
        inputs += extra
        weights.update(values)
    op_type = change.pop("op_type", "GRU")
    if op_type == "LSTM":
        del weights["B"]
        weights.update(W=rng.normal(0, 0.5, (1, 4 * h, 2)), R=rng.normal(0, 0.5, (1, 4 * h, h)))
        inputs, attrs = inputs[:3] + inputs[4:], {"hidden_size": h}
        inputs.insert(3, "")
    attrs.update(change)
    nodes += [
        n(op_type, inputs, ["", "yh"], name="the_rnn", **attrs),
        n("Transpose", ["yh"], ["ybt"], name="back", perm=[1, 0, 2]),
        flat("ybt"),
    ]
    return make_model(nodes, (4, 2), (h,), weights, opset=14)


@pytest.mark.parametrize(
    "change,reason",
    [
        ({"activations": ["Sigmoid", "Relu"]}, "activations"),
        ({"clip": 1.0}, "clip"),
        ({"op_type": "LSTM", "input_forget": 1}, "input_forget"),
        ({"extra_inputs": (["seq_lens"], {"seq_lens": np.array([3])})}, "sequence_lens"),
        ({"extra_inputs": (["", "h0"], {"h0": np.full((1, 1, 3), 0.5)})}, "initial_h"),
        ({"direction": "sideways"}, "direction"),
        ({"op_type": "LSTM", "extra_inputs": (["", "", "", "P"], {"P": np.ones((1, 9))})}, "peepholes"),
    ],
    ids=["activations", "clip", "input_forget", "sequence_lens", "initial_h", "direction", "peepholes"],
)
def test_unsupported_recurrent_variants_are_refused_by_name(change, reason, rng):
    model = _gru_variant(rng, **change)
    if "extra_inputs" in change and "seq_lens" in model.graph.initializer[-1].name:
        model.graph.initializer[-1].CopyFrom(numpy_helper.from_array(np.array([3], np.int32), "seq_lens"))
    with pytest.raises(UnsupportedModelError, match=rf"the_rnn.*{reason}"):
        import_model(model)


def test_a_zero_initial_state_and_the_full_sequence_length_are_accepted(rng):
    """The accept twins of the refusals above: a constant zero initial_h and sequence_lens equal
    to the full length give the model without them."""
    plain = import_model(_gru_variant(rng))
    model = _gru_variant(rng, extra_inputs=(["seq_lens", "h0"], {"seq_lens": np.array([4]), "h0": np.zeros((1, 1, 3))}))
    model.graph.initializer[-2].CopyFrom(numpy_helper.from_array(np.array([4], np.int32), "seq_lens"))
    assert [op.kind for op in import_model(model).ops] == [op.kind for op in plain.ops]


def test_a_tensor_with_its_batch_axis_moved_is_refused_where_it_is_not_understood(rng):
    """Y_h of a layout-0 GRU is [directions, batch, hidden]: a Relu of it is refused with what to
    do, Transposing it back first is accepted; a layout-0 GRU of a batch-first X is refused."""
    model = _gru_variant(rng)
    relu = n("Relu", ["yh"], ["r"], name="relu_of_moved")
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend([nodes[0], nodes[1], relu, n("Transpose", ["r"], ["ybt"], perm=[1, 0, 2]), nodes[3]])
    with pytest.raises(UnsupportedModelError, match="relu_of_moved.*Transpose it back"):
        import_model(model)
    batch_first = _gru_variant(rng)
    batch_first.graph.node[1].input[0] = "x"
    with pytest.raises(UnsupportedModelError, match="the_rnn.*layout=1"):
        import_model(batch_first)


# --- a trained GRU on the digits data -----------------------------------------------------------


def _sigmoid(v):
    return 0.5 * (1.0 + np.tanh(0.5 * v))


def _train_gru(x, y, rng, hidden=16, epochs=150, lr=0.03):
    """A GRU (linear_before_reset = 1, torch's cell) over the 8 rows of the image, then a dense
    head on the last state; full-batch Adam on softmax cross-entropy with backpropagation
    through time. x is [N, 8 steps, 8 features]."""
    n_in, h = x.shape[2], hidden
    params = {
        "W": rng.normal(0, 1 / np.sqrt(n_in), (3 * h, n_in)),
        "R": rng.normal(0, 1 / np.sqrt(h), (3 * h, h)),
        "bw": np.zeros(3 * h),
        "br": np.zeros(3 * h),
        "V": rng.normal(0, 1 / np.sqrt(h), (10, h)),
        "c": np.zeros(10),
    }
    moments = {k: [np.zeros_like(v), np.zeros_like(v)] for k, v in params.items()}
    onehot = np.eye(10)[y]
    for step in range(1, epochs + 1):
        W, R, bw, br, V, c = (params[k] for k in ("W", "R", "bw", "br", "V", "c"))
        hs, cache = [np.zeros((len(x), h))], []
        for t in range(x.shape[1]):
            prev = hs[-1]
            xw, hr = x[:, t] @ W.T + bw, prev @ R.T + br
            z = _sigmoid(xw[:, :h] + hr[:, :h])
            r = _sigmoid(xw[:, h : 2 * h] + hr[:, h : 2 * h])
            cand = np.tanh(xw[:, 2 * h :] + r * hr[:, 2 * h :])
            hs.append((1 - z) * cand + z * prev)
            cache.append((z, r, cand, hr[:, 2 * h :]))
        logits = hs[-1] @ V.T + c
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        d_logits = (p - onehot) / len(x)
        grads = {k: np.zeros_like(v) for k, v in params.items()}
        grads["V"], grads["c"] = d_logits.T @ hs[-1], d_logits.sum(0)
        dh = d_logits @ V
        for t in reversed(range(x.shape[1])):
            z, r, cand, hn = cache[t]
            prev = hs[t]
            d_cand = dh * (1 - z) * (1 - cand**2)
            d_z = dh * (prev - cand) * z * (1 - z)
            d_r = d_cand * hn * r * (1 - r)
            d_xw = np.concatenate([d_z, d_r, d_cand], axis=1)
            d_hr = np.concatenate([d_z, d_r, d_cand * r], axis=1)
            grads["W"] += d_xw.T @ x[:, t]
            grads["bw"] += d_xw.sum(0)
            grads["R"] += d_hr.T @ prev
            grads["br"] += d_hr.sum(0)
            dh = dh * z + d_hr @ R
        for k, g in grads.items():
            m = moments[k]
            m[0] = 0.9 * m[0] + 0.1 * g
            m[1] = 0.999 * m[1] + 0.001 * g * g
            params[k] -= lr * (m[0] / (1 - 0.9**step)) / (np.sqrt(m[1] / (1 - 0.999**step)) + 1e-8)
    return params


def _export_gru(params) -> onnx.ModelProto:
    """As torch exports nn.GRU(batch_first=True) and a Linear on h_n[-1]: a Transpose to
    [seq, batch, input], the GRU node (linear_before_reset = 1), Y_h's Squeeze and a Gemm."""
    h = params["R"].shape[1]
    nodes = [
        n("Transpose", ["x"], ["seq_first"], name="batch_first", perm=[1, 0, 2]),
        n("GRU", ["seq_first", "W", "R", "B"], ["", "h_n"], name="gru", hidden_size=h, linear_before_reset=1),
        const("axis0", np.array([0], np.int64)),
        n("Squeeze", ["h_n", "axis0"], ["last"], name="squeeze"),
        n("Gemm", ["last", "V", "c"], ["y"], name="head", transB=1),
    ]
    weights = {
        "W": params["W"][None],
        "R": params["R"][None],
        "B": np.concatenate([params["bw"], params["br"]])[None],
        "V": params["V"],
        "c": params["c"],
    }
    return make_model(nodes, (8, 8), (10,), weights, opset=14)


@pytest.fixture(scope="module")
def digits_gru():
    from marketplace.models import digits_split

    x_tr, y_tr, x_te, y_te = digits_split()
    with threadpool_limits(1):  # small products: BLAS threads only contend on a shared machine
        params = _train_gru(x_tr.reshape(-1, 8, 8), y_tr, np.random.default_rng(5))
    model = _export_gru(params)
    q = quantize(import_model(model), x_tr.reshape(-1, 8, 8), Precision(9, 8))
    return model, q, x_te.reshape(-1, 8, 8), y_te


@pytest.mark.slow
def test_digits_gru_agrees_with_onnxruntime(digits_gru):
    model, q, x_te, y_te = digits_gru
    reference = onnxruntime_run(model, x_te).argmax(axis=1)
    assert np.mean(reference == y_te) >= 0.9
    labels = executor.predict(q, x_te).label
    assert np.mean(labels == reference) >= 0.95


@pytest.mark.slow
def test_digits_gru_is_proved_and_a_wrong_label_is_refused(digits_gru, capsys):
    from prover.groth16.verify import verify

    _, q, x_te, _ = digits_gru
    started = time.perf_counter()
    ic = S.inference_circuit(q, "public")
    compiled = time.perf_counter() - started
    sample = executor.quantize_input(q, x_te[0])
    result = ic.witness(sample, 99)
    assert (result.logits == executor.execute(q, sample)[q.output]).all()
    assert ic.r1cs.is_satisfied(result.witness)
    started = time.perf_counter()
    pk, proof, public = prove_with_test_key(ic.r1cs, result.witness)
    proved = time.perf_counter() - started
    assert verify(pk.verifying_key(), public, proof)
    wrong = list(public)
    wrong[S.PUBLIC_INPUTS.index("label")] = (wrong[S.PUBLIC_INPUTS.index("label")] + 1) % 10
    assert not verify(pk.verifying_key(), wrong, proof)
    with capsys.disabled():
        print(f"\ndigits GRU: {ic.r1cs.n_constraints} constraints, compiled {compiled:.1f} s, proved {proved:.1f} s")


def test_no_recurrent_weight_is_published_in_the_architecture(rng):
    """Every W, R and bias value, GRU's first-step Rbh among them, is a dense weight (bound by the
    model commitment); the architecture spec carries none of them, and a client rebuilds the
    same private-mode circuit from it."""
    model, _, in_shape = recurrent_model("gru_y_h", rng)
    q = quantize(import_model(model), rng.normal(0, 1, (64, *in_shape)))
    spec = S.architecture_spec(q)
    assert all(values is None for *_, values in spec["constants"].values())
    rebuilt = S.architecture_graph(spec)
    ours, theirs = (S.inference_circuit(g, "private").r1cs for g in (q, rebuilt))
    for m in "ABC":
        a, b = getattr(ours, m), getattr(theirs, m)
        assert (a.indptr == b.indptr).all() and (a.indices == b.indices).all() and (a.coeffs == b.coeffs).all()
