"""Sigmoid, Tanh, HardSigmoid and HardSwish (``prover.onnx.ops.transcendental``): the error bound
checked exhaustively over every representable input, the one-hot gadget and the whole lowering
sound at small widths (z3 over the exact R1CS) with mutation twins that z3 catches, the ops
against onnxruntime on tiny models, and an MLP with Tanh and Sigmoid layers on the digits data
imported, quantized, compiled and proved with Groth16."""

from __future__ import annotations

import numpy as np
import pytest
import z3
from onnx import helper
from support.digits_mlp import export_mlp, onnx_unary, train_mlp
from support.models import prove_label_and_check
from support.onnx_cases import flat, make_model, onnxruntime_run
from support.z3_circuits import Z3Circuit, final_values, graph_circuit, mutated, one_op_graph

from prover.circuit import gadgets as G
from prover.circuit import statements as S
from prover.circuit.builder import Builder
from prover.circuit.compile import lower
from prover.errors import UnsupportedModelError
from prover.onnx import executor
from prover.onnx.graph import bits_for_range
from prover.onnx.importer import import_model
from prover.onnx.ops.transcendental import FUNCTIONS, MAX_ERROR, cost, design, fixed_point
from prover.onnx.quantize import Precision, quantize

n = helper.make_node

# --- the error bound, exhaustively ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["sigmoid", "tanh"])
@pytest.mark.parametrize("act_bits", [12, 14, 16])
def test_error_bound_over_every_representable_input(kind, act_bits):
    """At input scale 8 and output scale t = act_bits - 2, every input of the act_bits range:
    within MAX_ERROR units of 2**-t inside [-T, T), within MAX_ERROR + 1/4 beyond (saturation)."""
    s, t = 8, act_bits - 2
    attrs, error = design(kind, s, t)
    x = np.arange(-(1 << (act_bits - 1)), 1 << (act_bits - 1), dtype=np.int64)
    y = fixed_point(x, **attrs)
    err = np.abs(y - FUNCTIONS[kind](x * 2.0**-s) * 2.0**t)
    inside = (x >= -attrs["offset"]) & (x < attrs["offset"])
    assert err[inside].max() == pytest.approx(error) and error <= MAX_ERROR
    assert err.max() <= MAX_ERROR + 0.25
    lo, hi = (0, 1 << t) if kind == "sigmoid" else (-(1 << t), 1 << t)
    assert lo <= y.min() and y.max() <= hi  # the declared range of the function
    assert cost(attrs, t + 2) <= 120


@pytest.mark.parametrize("kind", ["sigmoid", "tanh"])
@pytest.mark.parametrize("s,t", [(-3, 6), (0, 6), (4, 6), (12, 6), (14, 14)])
def test_error_bound_at_coarse_fine_and_dropped_input_scales(kind, s, t):
    """Input scales below 0 (T set by the resolution), and above the output's (low input bits
    dropped): still within MAX_ERROR + 1/4 units over every input of a 16-bit range."""
    attrs, _ = design(kind, s, t)
    assert (attrs["drop"] > 0) == (s > t + 2)
    x = np.arange(-(1 << 15), 1 << 15, dtype=np.int64)
    err = np.abs(fixed_point(x, **attrs) - FUNCTIONS[kind](x * 2.0**-s) * 2.0**t)
    assert err.max() <= MAX_ERROR + 0.25


def test_the_table_is_a_real_fit():
    """The twin: the same table with one coefficient off by a unit of 2**-(t+4) times 2**4
    breaks the bound somewhere, so the exhaustive check has teeth."""
    attrs, _ = design("sigmoid", 8, 10)
    rows = [list(r) for r in attrs["coeffs"]]
    rows[len(rows) // 2][0] += 16
    x = np.arange(-4096, 4096, dtype=np.int64)
    bad = fixed_point(x, **{**attrs, "coeffs": tuple(map(tuple, rows))})
    assert np.abs(bad - FUNCTIONS["sigmoid"](x / 256.0) * 1024).max() > MAX_ERROR


# --- the gadgets, by z3 ------------------------------------------------------------------------


def _one_hot_circuit(m):
    b = Builder()
    x = b.input("x", (1,))
    bits = G.unsigned_bits(b, x, m)
    first = b.n_constraints
    e = b.materialize(G.one_hot(b, bits))
    return b.finish(), x, e, first


def test_one_hot_is_sound_and_a_dropped_product_is_caught():
    c, x, e, first = _one_hot_circuit(3)
    z = Z3Circuit(c)
    (xw,) = final_values(c, x)
    ew = final_values(c, e)
    claim = z3.And([z.value(w) == z3.If(z.value(xw) == j, 1, 0) for j, w in enumerate(ew)])
    assert z.refutes(claim)
    w = c.run({"x": np.array([5])}).limbs(c.order)
    assert c.r1cs.is_satisfied(w) and not c.r1cs.is_satisfied(mutated(w, ew[5], -1))
    # the mutation twin: without its first product the one-hot can put weight on two entries
    assert not Z3Circuit(c, drop=frozenset({first})).refutes(claim)


def _transcendental_circuit(kind, s, t, k):
    """The op of ``design(kind, s, t)`` on one k-bit signed input, lowered as the compiler
    lowers a graph; returns (circuit, x, y, honest table over x's range)."""
    attrs, _ = design(kind, s, t)
    xs = np.arange(-(1 << (k - 1)), 1 << (k - 1), dtype=np.int64)
    honest = fixed_point(xs, **attrs)
    graph = one_op_graph(kind, attrs, s, k, t, bits_for_range(int(honest.min()), int(honest.max())))
    c, x, y = graph_circuit(graph, k)
    return c, x, y, dict(zip(xs.tolist(), honest.tolist()))


# (kind, output scale t) at input scale 0: z3's time over a table varies by orders of magnitude
# with its coefficients (sigmoid at t = 3 ran for more than 15 minutes; at t = 2, 2 s)
@pytest.mark.parametrize("kind, t", [("sigmoid", 2), pytest.param("tanh", 3, marks=pytest.mark.slow)])
def test_the_lowering_admits_only_the_honest_output(kind, t):
    """Every input of a 4-bit range (both clips active), every satisfying witness: y is the
    executor's value. Twin: without the last constraint (the recomposition of the output's
    range check) z3 finds a witness with another y."""
    c, x, y, honest = _transcendental_circuit(kind, 0, t, 4)
    z = Z3Circuit(c)
    (xw,), (yw,) = final_values(c, x), final_values(c, y)
    claim = z3.Or([z3.And(z.signed(xw) == v, z.signed(yw) == h) for v, h in honest.items()])
    assert z.refutes(claim)
    for v, h in list(honest.items())[::7]:
        values = c.run({"x": np.array([v])})
        assert int(values.get(y)[0]) == h and c.r1cs.is_satisfied(values.limbs(c.order))
    assert not Z3Circuit(c, drop=frozenset({c.r1cs.n_constraints - 1})).refutes(claim)


def test_a_wrong_output_is_refused_by_the_r1cs():
    c, x, y, honest = _transcendental_circuit("sigmoid", 8, 10, 12)
    (yw,) = final_values(c, y)
    for v in (-2048, -300, 0, 5, 1000, 2047):
        values = c.run({"x": np.array([v])})
        w = values.limbs(c.order)
        assert int(values.get(y)[0]) == honest[v] and c.r1cs.is_satisfied(w)
        assert not c.r1cs.is_satisfied(mutated(w, yw)) and not c.r1cs.is_satisfied(mutated(w, yw, -1))


# --- the ops, on tiny models ------------------------------------------------------------------


def test_hard_swish_matches_onnxruntime(rng):
    model = make_model([n("HardSwish", ["x"], ["a"], name="hswish"), flat("a")], (2, 3), (6,), opset=14)
    graph = import_model(model)
    assert [op.kind for op in graph.ops] == ["mul", "add", "clip", "mul", "reshape"]
    x = rng.normal(0, 2, (32, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(executor.run_float(graph, x), onnxruntime_run(model, x), rtol=1e-5, atol=1e-6)
    q = quantize(graph, rng.normal(0, 2, (64, 2, 3)), Precision(10, 10))
    xq = executor.quantize_input(q, x.clip(-4, 4))
    ints = executor.execute(q, xq)[q.output]
    reference = onnxruntime_run(model, executor.dequantize(q, q.input, xq))
    np.testing.assert_allclose(executor.dequantize(q, q.output, ints), reference, atol=4 * 2.0**-q.output_tensor.scale)
    ic = S.inference_circuit(q, "private")
    for sample, logits in zip(xq[:3], ints[:3]):
        result = ic.witness(sample, 7)
        assert (result.logits == logits).all() and ic.r1cs.is_satisfied(result.witness)


def test_the_clip_is_free_inside_the_range_and_paid_outside(rng):
    """An operand inside [-T, T) costs no comparison, a wide one a comparison per bound; the
    rest is the docstring's count (``cost``)."""
    for spread, clipped in ((0.5, False), (40.0, True)):
        model = make_model([n("Sigmoid", ["x"], ["y"], name="s")], (4,), (4,))
        q = quantize(import_model(model), rng.normal(0, spread, (64, 4)), Precision(8, 8))
        (op,) = q.ops
        assert (op.attrs["low"] is not None, op.attrs["high"] is not None) == (clipped, clipped)
        b = Builder()
        lower(b, q, b.input("input", (4,)), "public")
        comparisons = 2 * (q.input_tensor.bits + 3) if clipped else 0
        assert b.n_constraints == 4 * (cost(op.attrs, q.output_tensor.bits) + comparisons)


def test_a_scale_with_no_table_is_a_typed_error():
    with pytest.raises(UnsupportedModelError, match="fewer activation bits"):
        design("tanh", 30, 60)


# --- a model: an MLP with Tanh and Sigmoid layers on the digits data -------------------------


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


# tanh then sigmoid, with their derivatives in terms of the activation
ACTIVATIONS = ((np.tanh, lambda z, h: 1 - h**2), (_sigmoid, lambda z, h: h * (1 - h)))


@pytest.fixture(scope="module")
def digits_mlp():
    from marketplace.models import digits_split

    x_tr, y_tr, x_te, y_te = digits_split()
    params = train_mlp(x_tr.reshape(len(x_tr), -1), y_tr, np.random.default_rng(3), ACTIVATIONS)
    model = export_mlp(params, [onnx_unary("Tanh"), onnx_unary("Sigmoid")])
    graph = import_model(model)
    q = quantize(graph, x_tr, Precision(8, 8))
    return model, graph, q, x_te, y_te


def test_digits_mlp_agrees_with_onnxruntime(digits_mlp):
    model, graph, q, x_te, y_te = digits_mlp
    assert [op.kind for op in graph.ops] == ["reshape", "dense", "tanh", "dense", "sigmoid", "dense"]
    reference = onnxruntime_run(model, x_te).argmax(axis=1)
    assert np.mean(reference == y_te) >= 0.9
    labels = executor.predict(q, x_te).label
    assert np.mean(labels == reference) >= 0.95


def test_digits_mlp_is_proved_and_verified(digits_mlp):
    _, _, q, x_te, _ = digits_mlp
    prove_label_and_check(q, "public", x_te[0], 99)
