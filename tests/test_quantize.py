"""Quantization and the integer semantics: scales, rounding, floor rescale, declared bounds (sound
and enforced), pooling lowering, precision choice, and the graph's own well-formedness check."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prover.errors import CircuitError, UnsupportedModelError, ValueRangeError
from prover.onnx import executor
from prover.onnx.graph import Constant, Graph, Op, Tensor, bits_for_range, bound_of
from prover.onnx.ops import REGISTRY, validate_graph
from prover.onnx.quantize import Precision, choose_precision, quantize, quantize_constant, scale_for


def float_mlp(rng, n_in=6, hidden=5, n_out=3) -> Graph:
    """x -> dense -> relu -> dense, as a float graph built directly in the IR."""
    consts = {
        "W1": rng.normal(0, 1, (hidden, n_in)),
        "b1": rng.normal(0, 0.3, hidden),
        "W2": rng.normal(0, 1, (n_out, hidden)),
        "b2": rng.normal(0, 0.3, n_out),
    }
    return Graph(
        input="x",
        output="y",
        tensors={
            "x": Tensor("x", (n_in,)),
            "h": Tensor("h", (hidden,)),
            "r": Tensor("r", (hidden,)),
            "y": Tensor("y", (n_out,)),
        },
        constants={k: Constant(k, v) for k, v in consts.items()},
        ops=[Op("dense", ("x", "W1", "b1"), "h"), Op("relu", ("h",), "r"), Op("dense", ("r", "W2", "b2"), "y")],
    )


def avgpool_graph(kernel) -> Graph:
    side = 6
    out = side // kernel[0]
    return Graph(
        input="x",
        output="y",
        tensors={"x": Tensor("x", (1, side, side)), "p": Tensor("p", (1, out, out)), "y": Tensor("y", (out * out,))},
        constants={},
        ops=[
            Op("avgpool", ("x",), "p", {"kernel": kernel, "strides": kernel, "pads": (0, 0, 0, 0)}),
            Op("reshape", ("p",), "y", {"shape": (out * out,)}),
        ],
    )


def rescale_graph(shift: int, out_bits: int) -> Graph:
    return Graph(
        input="x",
        output="y",
        quantized=True,
        constants={},
        tensors={"x": Tensor("x", (4,), 10, 40, True), "y": Tensor("y", (4,), 10 - shift, out_bits, True)},
        ops=[Op("rescale", ("x",), "y", {"shift": shift})],
    )


@settings(max_examples=200, deadline=None)
@given(st.floats(1e-6, 1e6), st.integers(4, 24), st.integers(0, 1))
def test_scale_is_the_largest_that_fits(max_abs, bits, headroom):
    s = scale_for(max_abs, bits, headroom)
    limit = (1 << (bits - 1 - headroom)) - 1
    assert max_abs * 2.0**s <= limit
    assert max_abs * 2.0 ** (s + 1) > limit  # one more fractional bit would not fit
    assert np.floor(max_abs * 2.0**s + 0.5) <= limit  # nor does rounding push it out


def test_a_precision_without_fractional_room_is_refused():
    assert scale_for(1.0, 4, 1) == 1  # 1.0 * 2 <= 3, the largest 3-bit magnitude below the headroom
    with pytest.raises(UnsupportedModelError, match="no precision"):
        scale_for(1.0, 3, 1)


def test_constants_round_half_up_and_know_their_bits():
    c = quantize_constant("c", np.array([0.5, -0.5, 1.5, -1.5, 0.24, -8.0]), 0)
    assert c.values.tolist() == [1, 0, 2, -1, 0, -8] and c.values.dtype == np.int64
    assert c.bits == 4 == bits_for_range(-8, 2)
    assert bits_for_range(-8, 7) == 4 and bits_for_range(-9, 0) == 5 and bits_for_range(0, 8) == 5


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-(1 << 39), (1 << 39) - 1), min_size=4, max_size=4), st.integers(0, 12))
def test_rescale_is_floor_division_by_a_power_of_two(values, shift):
    x = np.array(values, dtype=np.int64)
    y = executor.execute(rescale_graph(shift, 40), x)["y"]
    assert y.tolist() == [v // (1 << shift) for v in values]  # floor, also for negative values


def test_rescale_output_outside_its_bound_is_refused():
    x = np.array([-(1 << 9), 0, 5, (1 << 9) - 1], dtype=np.int64)
    assert executor.execute(rescale_graph(2, 8), x)["y"].tolist() == [-128, 0, 1, 127]
    with pytest.raises(ValueRangeError, match="outside its 8-bit range"):
        executor.execute(rescale_graph(2, 8), x + np.array([0, 0, 0, 4]))
    with pytest.raises(ValueRangeError, match="model input"):
        executor.execute(rescale_graph(2, 8), np.array([1 << 39, 0, 0, 0]))


def test_inputs_beyond_the_calibrated_range_are_refused(rng):
    graph = float_mlp(rng)
    # calibration data that only ever moves the first input feature
    calibration = np.zeros((200, 6))
    calibration[:, 0] = rng.uniform(-1, 1, 200)
    quantized = quantize(graph, calibration)
    executor.predict(quantized, calibration[:50])  # the calibrated range runs
    with pytest.raises(ValueRangeError, match="input"):
        executor.predict(quantized, np.full(6, 100.0))
    # inside the input's bound, but every feature at its extreme: the hidden layer overflows
    lo, hi = bound_of(quantized.input_tensor.bits)
    channel = int(np.abs(quantized.constants["W1"].values).sum(axis=1).argmax())
    extreme = np.where(quantized.constants["W1"].values[channel] > 0, hi, lo)
    with pytest.raises(ValueRangeError, match="tensor 'h' is outside its 8-bit range"):
        executor.execute(quantized, extreme)


def _prefix(graph: Graph, output: str) -> Graph:
    """The graph cut after the op that computes ``output``."""
    end = next(i for i, op in enumerate(graph.ops) if op.output == output) + 1
    return Graph(graph.input, output, graph.tensors, graph.constants, graph.ops[:end], graph.quantized)


def test_derived_accumulator_bound_is_attained_by_the_worst_input(rng):
    quantized = quantize(float_mlp(rng), rng.uniform(-1, 1, (200, 6)))
    first = quantized.ops[0]
    assert first.kind == "dense" and quantized.ops[1].kind == "rescale"
    acc = quantized.tensors[first.output]
    assert not acc.checked and quantized.tensors[quantized.ops[1].output].checked
    lo, hi = bound_of(quantized.input_tensor.bits)
    w1, b1 = quantized.constants["W1"].values, quantized.constants["b1"].values
    # for every channel the input that maximises / minimises it, computed with Python ints
    highest = np.where(w1 > 0, hi, lo)
    lowest = np.where(w1 > 0, lo, hi)
    extremes = np.concatenate([highest, lowest])
    got = executor.execute(_prefix(quantized, first.output), extremes)[first.output]
    worst = [max(abs(int(v)) for v in row) for row in got]
    expected_max = max(sum(int(a) * int(b) for a, b in zip(w, x)) + int(c) for w, x, c in zip(w1, highest, b1))
    assert max(int(got[i, i]) for i in range(len(w1))) == expected_max
    assert bits_for_range(-max(worst), max(worst)) <= acc.bits <= bits_for_range(-max(worst), max(worst)) + 1


def test_linear_layers_round_to_nearest(rng):
    graph = float_mlp(rng)
    quantized = quantize(graph, rng.uniform(-1, 1, (200, 6)))
    x = executor.quantize_input(quantized, rng.uniform(-1, 1, (40, 6)))
    shift = quantized.ops[1].attrs["shift"]
    w1 = quantized.constants["W1"].values
    s_acc = quantized.tensors[quantized.ops[0].output].scale
    bias = np.floor(graph.constants["b1"].values * 2.0**s_acc + 0.5).astype(np.int64)
    exact = x @ w1.T + bias  # the accumulator without the rounding half
    got = executor.execute(_prefix(quantized, "h"), x)["h"]
    assert np.array_equal(got, np.floor(exact / 2**shift + 0.5).astype(np.int64))
    assert not np.array_equal(got, exact >> shift)  # plain floor would differ somewhere


def shared_bias_graph(rng, factor: float) -> Graph:
    """Two dense layers reading one weight and one bias (as the steps of a recurrent layer do),
    the second on x times ``factor``: at another scale unless ``factor`` is 1."""
    consts = {"W": rng.normal(0, 1, (3, 4)), "b": rng.normal(0, 1, 3), "k": np.float64(factor)}
    return Graph(
        input="x",
        output="y",
        tensors={name: Tensor(name, (4,) if name in "xk" else (3,)) for name in ("x", "xk", "a", "c", "y")},
        constants={k: Constant(k, v) for k, v in consts.items()},
        ops=[
            Op("dense", ("x", "W", "b"), "a"),
            Op("mul", ("x", "k"), "xk"),
            Op("dense", ("xk", "W", "b"), "c"),
            Op("add", ("a", "c"), "y"),
        ],
    )


def _dense_error_units(float_graph: Graph, quantized: Graph, x) -> float:
    """The worst error of the two dense outputs, in units of their scales."""
    floats = executor.execute(float_graph, x, keep_all=True)
    ints = executor.execute(quantized, executor.quantize_input(quantized, x), keep_all=True)
    return max(
        float(np.abs(executor.dequantize(quantized, n, ints[n]) - floats[n]).max() * 2.0 ** quantized.tensors[n].scale)
        for n in ("a", "c")
    )


def test_a_bias_that_two_layers_read_at_two_scales_is_quantized_for_each(rng):
    graph = shared_bias_graph(rng, 8.0)
    x = rng.uniform(-1, 1, (200, 4))
    q = quantize(graph, x, Precision(12, 12))
    dense = [op for op in q.ops if op.kind == "dense"]
    biases = [q.constants[op.inputs[2]] for op in dense]
    assert [b.scale for b in biases] == [q.tensors[op.output].scale for op in dense]
    assert biases[0].scale == biases[1].scale + 3 and dense[0].inputs[2] != dense[1].inputs[2]
    assert dense[0].inputs[1] == dense[1].inputs[1]  # one weight constant: the same scale
    assert _dense_error_units(graph, q, x) <= 4.0  # the input's, the weights' and the rescale's rounding
    # the reject twin: the first layer reading the second's bias (one name bound to one of the
    # two scales, as when the later layer's quantization overwrote it) is far off
    dense[0].inputs = (*dense[0].inputs[:2], dense[1].inputs[2])
    assert _dense_error_units(graph, q, x) > 50.0


def test_a_bias_that_two_layers_read_at_one_scale_is_one_constant(rng):
    graph = shared_bias_graph(rng, 1.0)
    q = quantize(graph, rng.uniform(-1, 1, (200, 4)), Precision(12, 12))
    dense = [op for op in q.ops if op.kind == "dense"]
    assert dense[0].inputs == ("x", "W", "b") and dense[1].inputs == ("xk", "W", "b")
    assert not any("@" in name for name in q.constants)


@pytest.mark.parametrize("kernel,uses_mul", [((2, 2), False), ((3, 3), True)])
def test_average_pool_is_a_sum_and_a_multiply_only_when_needed(kernel, uses_mul, rng):
    graph = avgpool_graph(kernel)
    calibration = rng.uniform(0, 1, (100, 1, 6, 6))
    quantized = quantize(graph, calibration, Precision(12, 12))
    kinds = [op.kind for op in quantized.ops]
    assert kinds[0] == "sumpool" and ("mul" in kinds) == uses_mul
    x = rng.uniform(0, 1, (10, 1, 6, 6))
    got = executor.dequantize(quantized, "y", executor.predict(quantized, x).logits)
    np.testing.assert_allclose(got, executor.run_float(graph, x), atol=2e-3)


def test_choose_precision_takes_the_cheapest_that_qualifies(rng):
    graph = float_mlp(rng)
    x = rng.uniform(-1, 1, (300, 6))
    labels = executor.argmax_label(executor.run_float(graph, x))
    ladder = (Precision(3, 3), Precision(12, 12), Precision(16, 16))
    precision, quantized = choose_precision(graph, x, labels, ladder=ladder)
    assert precision == Precision(12, 12) and quantized.meta["act_bits"] == 12
    with pytest.raises(UnsupportedModelError, match="no precision"):
        choose_precision(graph, x, labels, max_logit_error=0.0, ladder=ladder)


def test_quantization_is_deterministic(rng):
    graph = float_mlp(rng)
    x = rng.uniform(-1, 1, (100, 6))
    a, b = quantize(graph, x), quantize(graph, x)
    assert all(np.array_equal(a.constants[k].values, b.constants[k].values) for k in a.constants)
    assert a.tensors == b.tensors


def test_too_many_bits_are_refused(rng):
    graph = float_mlp(rng)
    x = rng.uniform(-1, 1, (100, 6))
    assert quantize(graph, x, Precision(16, 16)).quantized
    with pytest.raises(UnsupportedModelError, match="bits"):
        quantize(graph, x, Precision(40, 40))


def test_graph_check_rejects_malformed_graphs(rng):
    good = quantize(float_mlp(rng), rng.uniform(-1, 1, (50, 6)))
    validate_graph(good)
    broken = [
        lambda g: g.ops.insert(0, Op("relu", ("nowhere",), "z")),
        lambda g: g.ops.__setitem__(0, Op("softmax", g.ops[0].inputs, g.ops[0].output)),
        lambda g: g.ops.insert(0, Op("avgpool", ("x",), "z")),
        lambda g: g.constants.__setitem__("W1", Constant("W1", np.zeros((5, 6)), 0, 1)),
        lambda g: g.tensors.__setitem__("x", Tensor("x", (6,))),
    ]
    for breaks in broken:
        g = quantize(float_mlp(np.random.default_rng(1)), rng.uniform(-1, 1, (50, 6)))
        g.tensors["z"] = Tensor("z", (6,), 0, 8)
        breaks(g)
        with pytest.raises(CircuitError):
            validate_graph(g)


def test_predict_needs_a_quantized_graph_and_run_float_a_float_one(rng):
    graph = float_mlp(rng)
    quantized = quantize(graph, rng.uniform(-1, 1, (50, 6)))
    with pytest.raises(CircuitError, match="quantize"):
        executor.predict(graph, np.zeros(6))
    with pytest.raises(CircuitError, match="float graph"):
        executor.run_float(quantized, np.zeros(6))
    # real numbers are never silently truncated into a quantized graph
    assert executor.execute(quantized, np.zeros(6, dtype=np.int64))["y"].dtype == np.int64
    with pytest.raises(CircuitError, match="quantize_input"):
        executor.execute(quantized, np.full(6, 0.7))


def test_scales_and_bounds_are_read_from_a_quantized_graph_only(rng):
    graph = float_mlp(rng)
    quantized = quantize(graph, rng.uniform(-1, 1, (50, 6)))
    t, c = quantized.input_tensor, quantized.constants["W1"]
    assert (t.quantized_scale, t.quantized_bits) == (t.scale, t.bits)
    assert (c.quantized_scale, c.quantized_bits) == (c.scale, c.bits)
    for unquantized in (graph.input_tensor, graph.constants["W1"]):
        with pytest.raises(CircuitError, match="float graph; quantize the model"):
            _ = unquantized.quantized_scale
        with pytest.raises(CircuitError, match="float graph; quantize the model"):
            _ = unquantized.quantized_bits
    with pytest.raises(CircuitError, match="tensor 'x' has no scale"):
        executor.quantize_input(graph, np.zeros(6))


def test_argmax_ties_go_to_the_lowest_index():
    assert executor.argmax_label(np.array([[3, 7, 7, 1], [-2, -2, -5, -9]])).tolist() == [1, 0]


def _naive_window_op(x, kernel, strides, pads, reduce, weight=None, dilations=(1, 1), group=1):
    """The graph.py formulas for conv / maxpool / sumpool as plain loops over Python ints."""
    n_ch, h, w_ = x.shape
    kh, kw = kernel
    top, left, bottom, right = pads
    oh = (h + top + bottom - (kh - 1) * dilations[0] - 1) // strides[0] + 1
    ow = (w_ + left + right - (kw - 1) * dilations[1] - 1) // strides[1] + 1
    n_out = n_ch if weight is None else weight.shape[0]
    out = np.zeros((n_out, oh, ow), dtype=object)
    for o in range(n_out):
        for i in range(oh):
            for j in range(ow):
                terms = []
                channels = [o] if weight is None else range(weight.shape[1])
                for c in channels:
                    src = c if weight is None else (o // (n_out // group)) * weight.shape[1] + c
                    for u in range(kh):
                        for v in range(kw):
                            r, s = i * strides[0] + u * dilations[0] - top, j * strides[1] + v * dilations[1] - left
                            inside = 0 <= r < h and 0 <= s < w_
                            if weight is not None:
                                terms.append(int(weight[o, c, u, v]) * (int(x[src, r, s]) if inside else 0))
                            elif inside or reduce is sum:
                                terms.append(int(x[src, r, s]) if inside else 0)
                out[o, i, j] = reduce(terms)
    return out


def test_integer_windows_follow_the_written_semantics(rng):
    x = rng.integers(-50, 50, (4, 7, 6))
    weight = rng.integers(-9, 9, (6, 2, 3, 2))
    pads, strides = (1, 0, 2, 1), (2, 1)
    got = executor.conv2d(x[None], weight, None, strides, pads, (2, 1), group=2)[0]
    want = _naive_window_op(x, (3, 2), strides, pads, sum, weight, dilations=(2, 1), group=2)
    assert got.dtype == np.int64 and got.tolist() == want.tolist()
    for kind, reduce in (("maxpool", max), ("sumpool", sum)):
        got = REGISTRY[kind].execute(x[None], kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1))[0]
        assert got.tolist() == _naive_window_op(x, (3, 3), (2, 2), (1, 1, 1, 1), reduce).tolist()
    # padding never wins a max: an all-negative input keeps negative maxima at the border
    negative = -np.abs(x) - 1
    border = REGISTRY["maxpool"].execute(negative[None], kernel=(2, 2), strides=(2, 2), pads=(1, 1, 1, 1))
    assert (border < 0).all()
