"""Piecewise-linear ops (``prover.onnx.ops.piecewise``): Neg, Abs, Clip/ReLU6, Max, Min and
LeakyRelu. Their gadgets are sound at small widths (z3 over the exact R1CS, the harness of
test_gadgets) and refuse a mutated witness; each op on a tiny onnx.helper model matches
onnxruntime, and its witness satisfies the R1CS and equals the integer executor bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import z3
from onnx import helper
from support.onnx_cases import OPS, const, make_model, onnxruntime_run
from support.z3_circuits import Z3Circuit, final_values, mutated

from prover.circuit import gadgets as G
from prover.circuit import statements as S
from prover.circuit.builder import Builder, LinComb
from prover.circuit.compile import lower
from prover.errors import UnsupportedModelError
from prover.onnx import executor
from prover.onnx.importer import import_model
from prover.onnx.quantize import Precision, quantize

n = helper.make_node


# --- the gadgets, by z3 ------------------------------------------------------------------------


def _sign_select_circuit(k, positive, negative):
    b = Builder()
    x = b.input("x", (2,))
    bits = G.signed_bits(b, x, k)
    y = b.materialize(G.sign_select(b, x, bits, positive, negative))
    return b.finish(), x, y


@pytest.mark.parametrize("positive,negative", [(1, -1), (8, 3), (4, -5)], ids=["abs", "leaky", "negative_slope"])
def test_sign_select_is_sound(positive, negative):
    c, x, y = _sign_select_circuit(4, positive, negative)
    z = Z3Circuit(c)
    for xw, yw in zip(final_values(c, x), final_values(c, y)):
        xs = z.signed(xw)
        assert z.refutes(z.signed(yw) == z3.If(xs >= 0, positive * xs, negative * xs))


def test_sign_select_completeness_and_mutations():
    c, x, y = _sign_select_circuit(6, 1, -1)
    values = c.run({"x": np.array([-32, 17])})
    assert (values.get(y) == [32, 17]).all()
    w = values.limbs(c.order)
    assert c.r1cs.is_satisfied(w)
    for yw in final_values(c, y):
        assert not c.r1cs.is_satisfied(mutated(w, yw))
        assert not c.r1cs.is_satisfied(mutated(w, yw, -1))


def _clip_circuit(k, low, high):
    """min(max(x, low), high) as the clip lowering builds it, for k-bit signed x."""
    b = Builder()
    x = b.input("x", (2,))
    G.signed_bits(b, x, k)
    bound = LinComb.constant(np.full((2,), low, dtype=np.int64))
    m = LinComb.of(G.maximum(b, LinComb.of(x), bound, k))
    y = b.materialize(G.minimum(b, m, LinComb.constant(np.full((2,), high, dtype=np.int64)), k))
    return b.finish(), x, y


def test_clip_and_minimum_are_sound():
    low, high = -2, 3
    c, x, y = _clip_circuit(3, low, high)
    z = Z3Circuit(c)
    for xw, yw in zip(final_values(c, x), final_values(c, y)):
        xs = z.signed(xw)
        assert z.refutes(z.signed(yw) == z3.If(xs < low, low, z3.If(xs > high, high, xs)))


def test_minimum_of_two_wires_is_sound_and_refuses_mutations():
    b = Builder()
    x = b.input("x", (2,))
    G.signed_bits(b, x, 3)
    y = b.materialize(G.minimum(b, LinComb.of(x[0]), LinComb.of(x[1]), 3))
    c = b.finish()
    z = Z3Circuit(c)
    (x0, x1), (yw,) = final_values(c, x), final_values(c, y)
    assert z.refutes(z.signed(yw) == z3.If(z.signed(x0) < z.signed(x1), z.signed(x0), z.signed(x1)))
    w = c.run({"x": np.array([3, -4])}).limbs(c.order)
    assert c.r1cs.is_satisfied(w) and not c.r1cs.is_satisfied(mutated(w, yw))


# --- the ops, on tiny models ------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(OPS))
def test_op_matches_onnxruntime_and_its_witness_the_executor(case, rng):
    nodes, in_shape, out_shape, exact, kinds = OPS[case]
    model = make_model(nodes, in_shape, out_shape)
    graph = import_model(model)
    assert [op.kind for op in graph.ops] == kinds
    x = rng.normal(0, 1, (16, *in_shape)).astype(np.float32)
    np.testing.assert_allclose(executor.run_float(graph, x), onnxruntime_run(model, x), rtol=1e-6, atol=1e-6)
    q = quantize(graph, rng.normal(0, 1, (64, *in_shape)), Precision(10, 10))
    xq = executor.quantize_input(q, x.clip(-3, 3))
    ints = executor.execute(q, xq)[q.output]
    reference = onnxruntime_run(model, executor.dequantize(q, q.input, xq))
    real = executor.dequantize(q, q.output, ints)
    if exact:  # dyadic bounds and constants: nothing to round
        np.testing.assert_array_equal(real, reference)
    else:
        np.testing.assert_allclose(real, reference, atol=2.0**-q.output_tensor.quantized_scale + 1e-3)
    for mode in ("private", "public"):
        ic = S.inference_circuit(q, mode)
        for sample, logits in zip(xq[:3], ints[:3]):
            result = ic.witness(sample, 7)
            assert (result.logits == logits).all() and ic.r1cs.is_satisfied(result.witness)


def test_neg_is_free_and_a_bound_outside_the_range_costs_nothing(rng):
    for nodes, expected in (
        ([n("Neg", ["x"], ["y"], name="neg")], 0),
        ([const("lo", np.float32(-100.0)), n("Clip", ["x", "lo"], ["y"], name="clip")], 0),
        (  # the float extremes an exporter writes for a missing bound
            [const("lo", np.float32(-3.4e38)), const("hi", np.float32(3.4e38))]
            + [n("Clip", ["x", "lo", "hi"], ["y"], name="clip")],
            0,
        ),
    ):
        q = quantize(import_model(make_model(nodes, (4,), (4,))), rng.normal(0, 1, (32, 4)))
        b = Builder()
        lower(b, q, b.input("input", (4,)), "public")
        assert b.n_constraints == expected


def test_a_wrong_clip_or_leaky_output_is_refused(rng):
    """The mutation twin at the statement level: a witness whose op output is off by one
    breaks the R1CS."""
    for case in ("relu6", "leaky_relu", "abs"):
        nodes, in_shape, out_shape, _, _ = OPS[case]
        q = quantize(import_model(make_model(nodes, in_shape, out_shape)), rng.normal(0, 1, (64, *in_shape)))
        b = Builder()
        sample = executor.quantize_input(q, rng.normal(0, 1, in_shape).clip(-3, 3))
        low = lower(b, q, b.input("input", in_shape), "private")
        out = b.materialize(low.output)
        c = b.finish()
        w = c.run({"input": sample}).limbs(c.order)
        assert c.r1cs.is_satisfied(w)
        for wire in final_values(c, out)[:3]:
            assert not c.r1cs.is_satisfied(mutated(w, wire)), case


def test_clip_with_min_above_max_and_a_wide_max_are_refused():
    nodes = [const("lo", np.float32(1.0)), const("hi", np.float32(-1.0)), n("Clip", ["x", "lo", "hi"], ["y"])]
    graph = import_model(make_model(nodes, (4,), (4,)))
    with pytest.raises(UnsupportedModelError, match="above max"):
        quantize(graph, np.random.default_rng(0).normal(0, 1, (8, 4)))
    three = [n("Max", ["x", "x", "x"], ["y"], name="max3")]
    with pytest.raises(UnsupportedModelError, match="takes two"):
        import_model(make_model(three, (4,), (4,)))
