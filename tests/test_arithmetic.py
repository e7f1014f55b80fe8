"""Arithmetic, reductions and normalizations (``prover.onnx.ops.arithmetic``, ``reduce``, and
``expneg`` in ``transcendental``): Div, Reciprocal, Sqrt, Pow, ReduceSum/Mean/Max,
LayerNormalization (fused and decomposed) and a Softmax inside the graph.

The divide and square-root gadgets are sound at small widths (z3 over the exact R1CS) and their
mutation twins are caught; every rounding is checked exhaustively over its input range against
exact arithmetic or numpy; every op on a tiny model matches onnxruntime and its witness
satisfies the R1CS and equals the executor; a model with LayerNorm and a mid-graph Softmax is
proved with Groth16."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import onnx
import pytest
import z3
from onnx import helper
from support.models import prove_with_test_key
from support.onnx_cases import const, flat, gemm, make_model, onnxruntime_run, w
from support.z3_circuits import Z3Circuit, final_values, mutated

from prover.circuit import gadgets as G
from prover.circuit import statements as S
from prover.circuit.builder import Builder
from prover.circuit.compile import lower
from prover.errors import UnsupportedModelError, ValueRangeError
from prover.onnx import executor
from prover.onnx.importer import import_model
from prover.onnx.ops.arithmetic import execute_div
from prover.onnx.ops.transcendental import FUNCTIONS, MAX_ERROR, design, fixed_point
from prover.onnx.quantize import Precision, quantize, wide_tensors
from prover.onnx.tail import apply_transforms

n = helper.make_node
f32 = np.float32

# --- the gadgets, by z3 ----------------------------------------------------------------------


def _divide_circuit(n_bits, d_bits, q_bits):
    """floor(n / d) for an n_bits-bit signed n and a d that only the gadget checks."""
    b = Builder()
    x = b.input("x", (2,))
    G.signed_bits(b, x[0], n_bits)
    first = b.n_constraints
    q, _ = G.divide(b, x[0], x[1], d_bits, q_bits)
    return b.finish(), x, q, first


def test_divide_is_sound_and_a_dropped_remainder_bound_is_caught():
    """A 3-bit signed n and any field value d: every satisfying witness has 1 <= d <= 4 and
    q = floor(n / d) (z3's integer division floors for a positive divisor). Twin: without the
    recomposition of d - 1 - r (r < d), z3 finds a witness with another quotient."""
    d_bits = 2
    c, x, q, first = _divide_circuit(3, d_bits, 4)
    z = Z3Circuit(c)
    (nw, dw), (qw,) = final_values(c, x), final_values(c, q)
    claim = z3.And(z.value(dw) >= 1, z.value(dw) <= 4, z.signed(qw) == z.signed(nw) / z.value(dw))
    assert z.refutes(claim)
    remainder_below_d = first + 3 * d_bits + 3  # d - 1's bits, the product, r's bits, then this
    assert not Z3Circuit(c, drop=frozenset({remainder_below_d})).refutes(claim)


def test_divide_refuses_a_wrong_quotient_and_a_zero_divisor():
    c, x, q, _ = _divide_circuit(6, 4, 7)
    (qw,) = final_values(c, q)
    for num, den in ((-32, 5), (31, 1), (0, 15), (-1, 2), (17, 3)):
        values = c.run({"x": np.array([num, den])})
        witness = values.limbs(c.order)
        assert int(values.get(q)) == num // den and c.r1cs.is_satisfied(witness)
        assert not c.r1cs.is_satisfied(mutated(witness, qw)) and not c.r1cs.is_satisfied(mutated(witness, qw, -1))
    for den in (0, -3):
        with pytest.raises(ValueRangeError, match="divisor"):
            c.run({"x": np.array([5, den])})


def _isqrt_circuit(n_bits, q_bits, signed=False):
    b = Builder()
    x = b.input("x", (1,))
    (G.signed_bits if signed else G.unsigned_bits)(b, x, n_bits)
    q = G.isqrt(b, x, q_bits)
    return b.finish(), x, q


@pytest.mark.slow
def test_isqrt_is_sound_and_a_dropped_upper_bound_is_caught():
    """Every 5-bit n: q is floor(sqrt(n)). Twin: without the last recomposition (n <= q^2 + 2q),
    z3 finds a witness with a smaller root."""
    c, x, q = _isqrt_circuit(5, 3)
    z = Z3Circuit(c)
    (xw,), (qw,) = final_values(c, x), final_values(c, q)
    claim = z3.Or([z3.And(z.value(xw) == v, z.value(qw) == math.isqrt(v)) for v in range(32)])
    assert z.refutes(claim)
    assert not Z3Circuit(c, drop=frozenset({c.r1cs.n_constraints - 1})).refutes(claim)


def test_isqrt_admits_no_negative_operand():
    """A signed 5-bit n: every satisfying witness has n >= 0 (the twin: the same claim fails
    once n's lower bound, the first remainder's recomposition, is dropped)."""
    c, x, q = _isqrt_circuit(5, 3, signed=True)
    z = Z3Circuit(c)
    (xw,) = final_values(c, x)
    assert z.refutes(z.signed(xw) >= 0)
    lower_bound = c.r1cs.n_constraints - 1 - 5  # the upper remainder's 5 constraints come after it
    assert not Z3Circuit(c, drop=frozenset({lower_bound})).refutes(z.signed(xw) >= 0)
    with pytest.raises(ValueRangeError, match="operand"):
        c.run({"x": np.array([-4])})
    values = c.run({"x": np.array([15])})
    witness = values.limbs(c.order)
    (qw,) = final_values(c, q)
    assert int(values.get(q)[0]) == 3 and c.r1cs.is_satisfied(witness)
    assert not c.r1cs.is_satisfied(mutated(witness, qw)) and not c.r1cs.is_satisfied(mutated(witness, qw, -1))


# --- roundings, exhaustively -----------------------------------------------------------------


def test_floor_sqrt_is_exact_everywhere_it_is_used():
    small = np.arange(1 << 20, dtype=np.int64)
    assert (G.floor_sqrt(small) == [math.isqrt(int(v)) for v in small]).all()
    roots = np.random.default_rng(1).integers(1, 1 << 31, 4096, dtype=np.int64)
    edges = np.concatenate([roots * roots - 1, roots * roots, roots * roots + 2 * roots, [(1 << 62) - 1]])
    assert (G.floor_sqrt(edges) == [math.isqrt(int(v)) for v in edges]).all()


def test_div_rounds_to_nearest_for_every_small_operand_and_sign():
    """y = floor((2N + D) / 2D) is N / D rounded half up, for every N in a 9-bit range and every
    divisor of either sign (``negate``); against exact fractions and within half a unit."""
    num = np.arange(-256, 256, dtype=np.int64)[:, None]
    for negate, den in ((False, np.arange(1, 64)), (True, -np.arange(1, 64))):
        y = execute_div(num, den[None, :].astype(np.int64), shifts=(0, 0), negate=negate)
        exact = [[math.floor(Fraction(int(a), int(d)) + Fraction(1, 2)) for d in den] for a in num[:, 0]]
        assert (y == np.array(exact)).all()
        assert np.abs(y - num / den[None, :]).max() <= 0.5


@pytest.mark.parametrize("act_bits", [8, 12, 16])
def test_expneg_error_bound_over_every_representable_input(act_bits):
    """e^x on every non-positive input of an act_bits range at scale 8, output scale act_bits - 2:
    within MAX_ERROR units inside the table, a quarter more where it saturates to 0, and exactly
    2**t at x = 0 (the softmax quantizer's lower bound of the sum)."""
    s, t = 8, act_bits - 2
    attrs, error = design("expneg", s, t)
    x = np.arange(-(1 << (act_bits - 1)), 1, dtype=np.int64)
    y = fixed_point(x, **attrs)
    err = np.abs(y - np.exp(x * 2.0**-s) * 2.0**t)
    assert error <= MAX_ERROR and err[x >= -attrs["offset"]].max() <= MAX_ERROR
    assert err.max() <= MAX_ERROR + 0.25 and y[-1] == 1 << t and y.min() >= 0
    assert FUNCTIONS["expneg"](np.array([3.0]))[0] == 1.0  # saturated above 0: the table's top half


# --- the ops on tiny models ------------------------------------------------------------------


def _sq_plus(x, out, c):
    """x * x + c as Mul and Add nodes (a divisor or root operand of one sign)."""
    return [n("Mul", [x, x], [f"{out}_sq"], name=f"{out}_sq"), n("Add", [f"{out}_sq", c], [out], name=out)]


def _layernorm_nodes(decomposed: bool, x="x", out="ln"):
    if not decomposed:
        return [n("LayerNormalization", [x, "gamma", "beta"], [out], name="layernorm", axis=-1, epsilon=1e-5)]
    return [
        n("ReduceMean", [x], ["mu"], name="mean", axes=[-1]),
        n("Sub", [x, "mu"], ["c"], name="center"),
        const("two", f32(2.0)),
        n("Pow", ["c", "two"], ["c2"], name="square"),
        n("ReduceMean", ["c2"], ["var"], name="variance", axes=[-1]),
        const("eps", f32(1e-5)),
        n("Add", ["var", "eps"], ["ve"], name="plus_eps"),
        n("Sqrt", ["ve"], ["sd"], name="std"),
        n("Div", ["c", "sd"], ["nrm"], name="normalize"),
        n("Mul", ["nrm", "gamma"], ["sc"], name="scale"),
        n("Add", ["sc", "beta"], [out], name="shift"),
    ]


AXES_2 = np.array([2], np.int64)
# case -> (nodes, input shape, output shape, opset, kinds of the float graph, tolerance in
# output units against onnxruntime on the quantized inputs: a division's own error is half a
# unit, the rest comes from its operands' roundings, which a quotient of magnitude above 1
# amplifies)
ARITH = {
    "div_by_power_of_two": (
        [const("four", f32(4.0)), n("Div", ["x", "four"], ["a"], name="div"), flat("a")],
        (2, 3),
        (6,),
        13,
        ["mul", "reshape"],
        0,
    ),
    "div_by_constant": (
        [const("c", np.array([3.0, -0.7, 5.0], f32)), n("Div", ["x", "c"], ["a"], name="div"), flat("a")],
        (2, 3),
        (6,),
        13,
        ["mul", "reshape"],
        1.5,
    ),
    "div_tensors": (
        [const("one", f32(1.0))] + _sq_plus("x", "d", "one") + [n("Div", ["x", "d"], ["a"], name="div"), flat("a")],
        (2, 3),
        (6,),
        13,
        ["mul", "add", "div", "reshape"],
        12,
    ),
    "div_negative_divisor": (
        [const("one", f32(1.0)), n("Mul", ["x", "x"], ["sq"], name="sq"), n("Sub", ["one", "sq"], ["m"], name="m")]
        + [const("two", f32(2.0)), n("Sub", ["m", "two"], ["d"], name="d"), n("Div", ["x", "d"], ["a"], name="div")]
        + [flat("a")],
        (2, 3),
        (6,),
        13,
        ["mul", "sub", "sub", "div", "reshape"],
        12,
    ),
    "reciprocal": (
        [const("half", f32(0.5))]
        + [n("Abs", ["x"], ["ax"], name="abs"), n("Add", ["ax", "half"], ["d"], name="d")]
        + [n("Reciprocal", ["d"], ["a"], name="reciprocal"), flat("a")],
        (2, 3),
        (6,),
        13,
        ["abs", "add", "div", "reshape"],
        12,
    ),
    "pow_minus_one": (
        [const("half", f32(0.5)), const("e", f32(-1.0))]
        + [n("Abs", ["x"], ["ax"], name="abs"), n("Add", ["ax", "half"], ["d"], name="d")]
        + [n("Pow", ["d", "e"], ["a"], name="pow"), flat("a")],
        (2, 3),
        (6,),
        13,
        ["abs", "add", "div", "reshape"],
        12,
    ),
    "sqrt": (
        [const("q", f32(0.25))] + _sq_plus("x", "v", "q") + [n("Sqrt", ["v"], ["a"], name="sqrt"), flat("a")],
        (2, 3),
        (6,),
        13,
        ["mul", "add", "sqrt", "reshape"],
        2,
    ),
    "pow_half_and_cube": (
        [const("h", f32(0.5)), const("three", f32(3.0)), n("Abs", ["x"], ["ax"], name="abs")]
        + [n("Pow", ["ax", "h"], ["r"], name="root"), n("Pow", ["x", "three"], ["cube"], name="cube")]
        + [n("Add", ["r", "cube"], ["a"], name="sum"), flat("a")],
        (2, 3),
        (6,),
        13,
        ["abs", "sqrt", "mul", "mul", "add", "reshape"],
        3,
    ),
    "reduce_sum_13_axes_input": (
        [const("axes", AXES_2), n("ReduceSum", ["x", "axes"], ["a"], name="sum", keepdims=0), flat("a")],
        (2, 3),
        (2,),
        13,
        ["reducesum", "reshape"],
        1,
    ),
    "reduce_sum_18_noop": (
        [const("axes", np.zeros(0, np.int64)), n("ReduceSum", ["x", "axes"], ["a"], name="sum", noop_with_empty_axes=1)]
        + [flat("a")],
        (2, 3),
        (6,),
        18,
        ["reshape"],
        0,
    ),
    "reduce_mean_13_attribute": (
        [n("ReduceMean", ["x"], ["a"], name="mean", axes=[-1]), flat("a")],
        (2, 3),
        (2,),
        13,
        ["reducemean", "reshape"],
        1.5,
    ),
    "reduce_mean_18_input_power_of_two": (
        [const("axes", np.array([1, 2], np.int64)), n("ReduceMean", ["x", "axes"], ["a"], name="mean")] + [flat("a")],
        (2, 2, 2),
        (2,),
        18,
        ["reducemean", "reshape"],
        1,
    ),
    "reduce_max_13_attribute": (
        [n("ReduceMax", ["x"], ["a"], name="max", axes=[1], keepdims=0), flat("a")],
        (2, 3),
        (3,),
        13,
        ["reducemax", "reshape"],
        0,
    ),
    "reduce_max_18_input": (
        [const("axes", np.array([-1, 1], np.int64)), n("ReduceMax", ["x", "axes"], ["a"], name="max", keepdims=1)]
        + [flat("a")],
        (2, 3),
        (1,),
        18,
        ["reducemax", "reshape"],
        0,
    ),
    "softmax_mid_graph": (
        [n("Softmax", ["x"], ["p"], name="softmax", axis=1), flat("p")],
        (3, 2),
        (6,),
        13,
        ["softmax", "reshape"],
        4,
    ),
}


def _layernorm_case(decomposed: bool):
    kinds = ["reducemean", "sub", "mul", "reducemean", "add", "sqrt", "div", "mul", "add", "reshape"]
    return (_layernorm_nodes(decomposed) + [flat("ln")], (2, 5), (10,), 17, kinds, 6)


LAYERNORM_WEIGHTS = {"gamma": np.array([1.0, 0.5, -1.5, 2.0, 0.25]), "beta": np.array([0.0, 0.5, -0.25, 1.0, 0.1])}
ARITH["layernorm"] = _layernorm_case(False)
ARITH["layernorm_decomposed"] = _layernorm_case(True)


def _model(case):
    nodes, in_shape, out_shape, opset, *_ = ARITH[case]
    weights = LAYERNORM_WEIGHTS if case.startswith("layernorm") else None
    return make_model(nodes, in_shape, out_shape, weights, opset=opset)


@pytest.mark.parametrize("case", sorted(ARITH))
def test_op_matches_onnxruntime_and_its_witness_the_executor(case, rng):
    _, in_shape, _, _, kinds, tolerance = ARITH[case]
    model = _model(case)
    graph = import_model(model)
    assert [op.kind for op in graph.ops] == kinds
    x = rng.normal(0, 1, (32, *in_shape)).astype(f32)
    np.testing.assert_allclose(executor.run_float(graph, x), onnxruntime_run(model, x), rtol=1e-5, atol=1e-6)
    q = quantize(graph, rng.normal(0, 1, (256, *in_shape)), Precision(12, 12))
    xq = executor.quantize_input(q, x.clip(-3, 3))
    ints = executor.execute(q, xq)[q.output]
    reference = onnxruntime_run(model, executor.dequantize(q, q.input, xq))
    error = np.abs(executor.dequantize(q, q.output, ints) - reference).max() * 2.0**q.output_tensor.quantized_scale
    assert error <= tolerance, error
    for mode in ("private", "public"):
        ic = S.inference_circuit(q, mode)
        for sample, logits in zip(xq[:2], ints[:2]):
            result = ic.witness(sample, 7)
            assert (result.logits == logits).all() and ic.r1cs.is_satisfied(result.witness)


@pytest.mark.parametrize("case", ["div_tensors", "sqrt", "softmax_mid_graph", "layernorm"])
def test_a_wrong_quotient_or_root_is_refused_by_the_r1cs(case, rng):
    """The statement-level twin: the div or sqrt output off by one breaks the R1CS."""
    _, in_shape, *_ = ARITH[case]
    q = quantize(import_model(_model(case)), rng.normal(0, 1, (256, *in_shape)), Precision(12, 12))
    (target,) = [op.output for op in q.ops if op.kind in ("div", "sqrt")][-1:]
    b = Builder()
    low = lower(b, q, b.input("input", in_shape), "public")
    wires = b.materialize(low.values[target].lc)
    c = b.finish()
    witness = c.run({"input": executor.quantize_input(q, rng.normal(0, 1, in_shape).clip(-3, 3))}).limbs(c.order)
    assert c.r1cs.is_satisfied(witness)
    for wire in final_values(c, wires)[:3]:
        assert not c.r1cs.is_satisfied(mutated(witness, wire)) and not c.r1cs.is_satisfied(mutated(witness, wire, -1))


def test_the_decomposed_layernorm_quantizes_to_the_same_integers(rng):
    """The older exporters' ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add and the
    opset-17 operator give the same quantized graph: the same integers, bit for bit."""
    calibration = rng.normal(0, 1, (256, 2, 5))
    fused, decomposed = (quantize(import_model(_model(c)), calibration) for c in ("layernorm", "layernorm_decomposed"))
    assert [op.kind for op in fused.ops] == [op.kind for op in decomposed.ops]
    bits = [[g.tensors[op.output].bits for op in g.ops] for g in (fused, decomposed)]
    assert bits[0] == bits[1]
    xq = executor.quantize_input(fused, rng.normal(0, 1, (64, 2, 5)).clip(-3, 3))
    assert (executor.execute(fused, xq)[fused.output] == executor.execute(decomposed, xq)[decomposed.output]).all()


def _numpy_layernorm(x, gamma, beta, eps=1e-5):
    c = x - x.mean(axis=-1, keepdims=True)
    return c / np.sqrt((c * c).mean(axis=-1, keepdims=True) + eps) * gamma + beta


def layernorm_error_bound(t: int, s_c: int, sigma: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """LayerNorm's worst error per element: two output units (2**-t: the division's rounding
    and the scale's product) plus twice the centred value's resolution (2**-s_c, the floors of
    the mean and of x - mean) relative to the row's deviation sigma, times |gamma|. The variance
    at twice the bits keeps the root's error below that (measured: at most 1.3 times the second
    term at 10, 12 and 16 bits)."""
    return 2 * 2.0**-t + 2 * 2.0**-s_c / sigma * np.abs(gamma)


@pytest.mark.parametrize("act_bits", [10, 12, 16])
def test_layernorm_error_bound_against_numpy(act_bits, rng):
    """Random rows of 16 features of spread 0.1 to 3, against numpy in float64; the variance
    path is wide (twice the activation bits), the rest at act_bits."""
    gamma, beta = rng.normal(1, 0.3, 16), rng.normal(0, 0.3, 16)
    model = make_model(
        [n("LayerNormalization", ["x", "gamma", "beta"], ["y"], name="ln", axis=-1)],
        (16,),
        (16,),
        {"gamma": gamma, "beta": beta},
        opset=17,
    )
    graph = import_model(model)
    assert {name.split(":")[-1] for name in wide_tensors(graph)} == {"square", "variance", "plus_eps"}
    x = rng.normal(0, 1, (2048, 16)) * rng.uniform(0.1, 3, (2048, 1))
    q = quantize(graph, x, Precision(act_bits, act_bits))
    assert q.tensors["y:variance"].bits > act_bits
    xq = executor.quantize_input(q, x)
    y = executor.dequantize(q, q.output, executor.execute(q, xq)[q.output])
    real = executor.dequantize(q, q.input, xq)
    reference = _numpy_layernorm(real, gamma.astype(f32), beta.astype(f32))
    sigma = np.sqrt(real.var(axis=-1, keepdims=True) + 1e-5)
    t, s_c = q.output_tensor.quantized_scale, q.tensors["y:centered"].quantized_scale
    bound = layernorm_error_bound(t, s_c, sigma, gamma)
    assert (np.abs(y - reference) <= bound).all()


def softmax_error_bound(k: int, t: int) -> float:
    """The softmax's worst error in output units (2**-t): each exponential within 1 unit (the
    table's 0.75 and a quarter where it saturates), so e_i / S errs by at most
    (1 + k) units over a sum of at least 2**t, less the k units the sum may lose, plus the
    division's half unit."""
    return 0.5 + (1 + k) / (1 - k * 2.0**-t)


def test_softmax_error_bound_over_every_pair_of_8_bit_inputs():
    """Softmax over two features at act_bits 8: every one of the 2**16 input pairs, against
    numpy's softmax of the same (dequantized) inputs."""
    model = make_model([n("Softmax", ["x"], ["p"], name="softmax"), flat("p")], (2,), (2,))
    rng = np.random.default_rng(5)
    q = quantize(import_model(model), rng.normal(0, 1, (64, 2)), Precision(8, 8))
    grid = np.arange(-128, 128, dtype=np.int64)
    xq = np.stack(np.meshgrid(grid, grid, indexing="ij"), axis=-1).reshape(-1, 2)
    y = executor.execute(q, xq)[q.output]
    x = executor.dequantize(q, q.input, xq)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    t = q.output_tensor.quantized_scale
    error = np.abs(y - e / e.sum(axis=1, keepdims=True) * 2.0**t).max()
    assert error <= softmax_error_bound(2, t), error


def test_softmax_error_bound_on_random_rows(rng):
    model = make_model([n("Softmax", ["x"], ["p"], name="softmax"), flat("p")], (10,), (10,))
    x = rng.normal(0, 3, (4096, 10))
    q = quantize(import_model(model), x, Precision(12, 12))
    xq = executor.quantize_input(q, x.clip(-7, 7))
    y = executor.execute(q, xq)[q.output]
    real = executor.dequantize(q, q.input, xq)
    e = np.exp(real - real.max(axis=1, keepdims=True))
    t = q.output_tensor.quantized_scale
    assert np.abs(y - e / e.sum(axis=1, keepdims=True) * 2.0**t).max() <= softmax_error_bound(10, t)


# --- constraints per element -----------------------------------------------------------------


def _constraints(q) -> int:
    b = Builder()
    lower(b, q, b.input("input", q.input_tensor.shape), "public")
    return b.n_constraints


def test_div_and_sqrt_cost_what_their_docstrings_say(rng):
    """div: 2 bits(D) + bits(y) + 4 per element and bits(D) + 1 per divisor; sqrt: 3 bits(y) + 6."""
    for case, kind in (("div_tensors", "div"), ("sqrt", "sqrt")):
        _, in_shape, *_ = ARITH[case]
        q = quantize(import_model(_model(case)), rng.normal(0, 1, (256, *in_shape)), Precision(12, 12))
        (op,) = [op for op in q.ops if op.kind == kind]
        without = type(q)(q.input, op.inputs[-1], q.tensors, q.constants, q.ops[: q.ops.index(op)], quantized=True)
        size = int(np.prod(in_shape))
        out_bits = q.tensors[op.output].bits
        if kind == "div":
            d_bits = q.tensors[op.inputs[1]].bits + op.attrs["shifts"][1]
            per = 2 * d_bits + out_bits + 4 + d_bits + 1
        else:
            per = 3 * (out_bits - 1) + 6
        with_op = type(q)(q.input, op.output, q.tensors, q.constants, q.ops[: q.ops.index(op) + 1], quantized=True)
        assert _constraints(with_op) - _constraints(without) == size * per


# --- refusals ----------------------------------------------------------------------------------


def test_unsupported_exponents_and_divisors_are_refused_by_name(rng):
    cube_root = [const("e", f32(1.0 / 3.0)), n("Pow", ["x", "e"], ["y"], name="cube_root")]
    with pytest.raises(UnsupportedModelError, match=r"node cube_root.*exponent \[0\.33"):
        import_model(make_model(cube_root, (4,), (4,)))
    with pytest.raises(UnsupportedModelError, match="node by_zero.*holds 0"):
        by_zero = [const("z", np.zeros(4, f32)), n("Div", ["x", "z"], ["y"], name="by_zero")]
        import_model(make_model(by_zero, (4,), (4,)))
    either_sign = import_model(make_model([n("Div", ["x", "x"], ["y"], name="ratio")], (4,), (4,)))
    with pytest.raises(UnsupportedModelError, match=r"div \(ratio\).*may be 0 or change sign"):
        quantize(either_sign, rng.normal(0, 1, (16, 4)))
    negative_root = import_model(make_model([n("Sqrt", ["x"], ["y"], name="root")], (4,), (4,)))
    with pytest.raises(UnsupportedModelError, match=r"sqrt \(root\).*may be negative"):
        quantize(negative_root, rng.normal(0, 1, (16, 4)))


def test_reductions_over_the_batch_axis_are_refused():
    batch = [n("ReduceMax", ["x"], ["y"], name="over_batch", axes=[0, 1])]
    with pytest.raises(UnsupportedModelError, match="node over_batch.*batch axis"):
        import_model(make_model(batch, (4,), (1,)))
    every = [n("ReduceSum", ["x"], ["y"], name="every")]
    with pytest.raises(UnsupportedModelError, match="node every.*without axes"):
        import_model(make_model(every, (4,), (1,)))
    softmax_batch = [n("Softmax", ["x"], ["s"], name="softmax_batch", axis=0), flat("s")]
    with pytest.raises(UnsupportedModelError, match="node softmax_batch.*batch axis"):
        import_model(make_model(softmax_batch, (4,), (4,)))
    layernorm_batch = [n("LayerNormalization", ["x", "g"], ["y"], name="layernorm_batch", axis=0)]
    with pytest.raises(UnsupportedModelError, match="node layernorm_batch.*batch axis"):
        import_model(make_model(layernorm_batch, (4,), (4,), {"g": np.ones((1, 4))}, opset=17))


def test_a_log_softmax_inside_the_graph_is_refused_and_a_trailing_one_is_cut(rng):
    inside = [n("LogSoftmax", ["x"], ["l"], name="mid_log_softmax"), gemm("g", "l", "y")]
    with pytest.raises(UnsupportedModelError, match="LogSoftmax in node mid_log_softmax.*needs a logarithm"):
        import_model(make_model(inside, (4,), (3,), {"g.W": w(rng, 3, 4), "g.b": w(rng, 3)}))
    trailing = make_model(
        [gemm("g", "x", "h"), n("LogSoftmax", ["h"], ["y"], name="log_softmax")],
        (4,),
        (3,),
        {"g.W": w(rng, 3, 4), "g.b": w(rng, 3)},
    )
    graph = import_model(trailing)
    assert [op.kind for op in graph.ops] == ["dense"] and graph.meta["postprocess"]["transforms"] == ["log_softmax"]
    x = rng.normal(0, 1, (16, 4)).astype(f32)
    np.testing.assert_allclose(
        apply_transforms(graph.meta["postprocess"], executor.run_float(graph, x)),
        onnxruntime_run(trailing, x),
        rtol=1e-5,
        atol=1e-5,
    )


# --- a model with LayerNorm and a mid-graph Softmax, proved -----------------------------------


def _attention_like_model(rng) -> onnx.ModelProto:
    """x(6) -> Gemm(5) -> LayerNorm -> Softmax -> Gemm(3): a normalized, gated head."""
    nodes = [gemm("g", "x", "h")] + _layernorm_nodes(False, "h", "ln")
    nodes += [n("Softmax", ["ln"], ["p"], name="softmax"), gemm("g2", "p", "y")]
    weights = {"g.W": w(rng, 5, 6), "g.b": w(rng, 5), "g2.W": w(rng, 3, 5, scale=2.0), "g2.b": w(rng, 3)}
    weights.update(gamma=w(rng, 5) + 1, beta=w(rng, 5))
    return make_model(nodes, (6,), (3,), weights, opset=17)


@pytest.mark.slow
def test_a_layernorm_and_softmax_model_is_proved_and_verified(rng):
    from prover.groth16.verify import verify

    model = _attention_like_model(rng)
    graph = import_model(model)
    assert "softmax" in [op.kind for op in graph.ops] and "postprocess" not in graph.meta
    q = quantize(graph, rng.normal(0, 1, (256, 6)), Precision(12, 12))
    x = rng.normal(0, 1, (64, 6)).astype(f32)
    reference = onnxruntime_run(model, x)
    assert np.mean(executor.predict(q, x).label == reference.argmax(axis=1)) >= 0.9
    ic = S.inference_circuit(q, "private")
    sample = executor.quantize_input(q, x[0])
    result = ic.witness(sample, 5)
    assert (result.logits == executor.execute(q, sample)[q.output]).all() and ic.r1cs.is_satisfied(result.witness)
    pk, proof, public = prove_with_test_key(ic.r1cs, result.witness)
    assert verify(pk.verifying_key(), public, proof)
    label = S.PUBLIC_INPUTS.index("label")
    wrong = list(public)
    wrong[label] = (wrong[label] + 1) % 3
    assert not verify(pk.verifying_key(), wrong, proof)
