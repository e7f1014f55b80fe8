"""ONNX import: each supported operator against onnxruntime, its quantized execution against the
float one, BatchNormalization folding, and the typed errors for what the compiler refuses."""

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from support.onnx_cases import CASES, FLOAT, const, flat, gemm, make_model, onnxruntime_run, shape_arithmetic, w

from prover.errors import FormatError, UnsupportedModelError
from prover.onnx import executor
from prover.onnx.graph import InputShapeError
from prover.onnx.importer import import_model
from prover.onnx.quantize import Precision, quantize


def _inputs(rng, shape, n):
    return rng.normal(0, 1, (n, *shape)).astype(np.float32)


@pytest.mark.parametrize("case", sorted(CASES))
def test_float_import_matches_onnxruntime(case, rng):
    nodes, in_shape, out_shape, weights = CASES[case](rng)
    model = make_model(nodes, in_shape, out_shape, weights)
    x = _inputs(rng, in_shape, 16)
    graph = import_model(model)
    np.testing.assert_allclose(executor.run_float(graph, x), onnxruntime_run(model, x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", sorted(CASES))
def test_quantized_execution_tracks_float_within_quantization_error(case, rng):
    nodes, in_shape, out_shape, weights = CASES[case](rng)
    graph = import_model(make_model(nodes, in_shape, out_shape, weights))
    calibration, x = _inputs(rng, in_shape, 256), _inputs(rng, in_shape, 32)
    reference = executor.run_float(graph, x)
    coarse, fine = (quantize(graph, calibration, Precision(b, b)) for b in (8, 14))
    errors = [
        np.abs(executor.dequantize(q, q.output, executor.predict(q, x).logits) - reference).max()
        for q in (coarse, fine)
    ]
    scale = np.abs(reference).max()
    assert errors[1] <= 0.01 * scale
    # more bits must mean less error: the quantizer really uses the precision it is given
    assert errors[1] < errors[0]


def test_matmul_add_is_folded_into_one_dense_with_bias(rng):
    nodes, in_shape, out_shape, weights = CASES["matmul_add_bias"](rng)
    graph = import_model(make_model(nodes, in_shape, out_shape, weights))
    assert [op.kind for op in graph.ops] == ["dense"]
    assert len(graph.ops[0].inputs) == 3 and graph.output == "y"


@pytest.mark.parametrize("after", ["conv", "gemm"])
def test_batchnorm_is_folded_into_the_layer_before(after, rng):
    c = 4
    bn_w = {"bn.s": rng.uniform(0.5, 2, c), "bn.b": w(rng, c), "bn.m": w(rng, c), "bn.v": rng.uniform(0.1, 3, c)}
    bn = helper.make_node("BatchNormalization", ["h", "bn.s", "bn.b", "bn.m", "bn.v"], ["n"], name="bn", epsilon=1e-3)
    if after == "conv":
        nodes = [helper.make_node("Conv", ["x", "k", "kb"], ["h"], name="conv", pads=[1, 1, 1, 1]), bn, flat("n")]
        shape, out, weights = (2, 5, 5), (c * 25,), {"k": w(rng, c, 2, 3, 3), "kb": w(rng, c)}
    else:
        nodes = [gemm("g", "x", "h"), bn, helper.make_node("Identity", ["n"], ["y"], name="out")]
        shape, out, weights = (6,), (c,), {"g.W": w(rng, c, 6), "g.b": w(rng, c)}
    model = make_model(nodes, shape, out, {**weights, **bn_w})
    graph = import_model(model)
    assert [op.kind for op in graph.ops][0] == ("conv" if after == "conv" else "dense")
    assert len(graph.ops) == (2 if after == "conv" else 1)  # no separate normalization step
    x = _inputs(rng, shape, 8)
    np.testing.assert_allclose(executor.run_float(graph, x), onnxruntime_run(model, x), rtol=1e-4, atol=1e-4)
    # the shared initializers are untouched: folding made new constants
    assert np.array_equal(
        graph.constants["k" if after == "conv" else "g.W"].values,
        weights["k" if after == "conv" else "g.W"].astype(np.float64),
    )


def test_batchnorm_without_a_layer_to_fold_into_is_refused(rng):
    c = 2
    model = make_model(
        [helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["n"], name="lonely_bn"), flat("n")],
        (c, 3, 3),
        (c * 9,),
        {"s": np.ones(c), "b": np.zeros(c), "m": np.zeros(c), "v": np.ones(c)},
    )
    with pytest.raises(UnsupportedModelError, match="lonely_bn"):
        import_model(model)


# (a Softmax before the output is a classifier's tail, cut and recorded: tests/test_sklearn_models.py)
@pytest.mark.parametrize("op_type,domain", [("Cos", ""), ("Sin", ""), ("Gelu", "com.microsoft")])
def test_unsupported_operator_is_named_with_its_node_before_any_work(op_type, domain, rng, monkeypatch):
    nodes = [gemm("g", "x", "h"), helper.make_node(op_type, ["h"], ["y"], name="the_bad_node", domain=domain)]
    model = make_model(nodes, (8,), (4,), {"g.W": w(rng, 4, 8), "g.b": w(rng, 4)})
    # no work before the refusal: neither the checker nor shape inference may run
    monkeypatch.setattr(onnx.checker, "check_model", lambda *a, **k: pytest.fail("checker ran"))
    monkeypatch.setattr(onnx.shape_inference, "infer_shapes", lambda *a, **k: pytest.fail("inference ran"))
    with pytest.raises(UnsupportedModelError, match=rf"{op_type}.*the_bad_node"):
        import_model(model)


def test_supported_twin_of_the_unsupported_model_imports(rng):
    nodes = [gemm("g", "x", "h"), helper.make_node("Relu", ["h"], ["y"], name="the_good_node")]
    graph = import_model(make_model(nodes, (8,), (4,), {"g.W": w(rng, 4, 8), "g.b": w(rng, 4)}))
    assert [op.kind for op in graph.ops] == ["dense", "relu"]


def test_missing_and_corrupt_files_are_format_errors(tmp_path, rng):
    with pytest.raises(FormatError, match="does not exist"):
        import_model(tmp_path / "absent.onnx")
    good = make_model([gemm("g", "x", "y")], (8,), (4,), {"g.W": w(rng, 4, 8), "g.b": w(rng, 4)})
    data = good.SerializeToString()
    (tmp_path / "good.onnx").write_bytes(data)
    assert import_model(tmp_path / "good.onnx").ops[0].kind == "dense"
    for name, corrupt in [
        ("truncated", data[: len(data) // 2]),
        ("garbage", b"\xff\x00 not onnx" * 10),
        ("empty", b""),
    ]:
        (tmp_path / f"{name}.onnx").write_bytes(corrupt)
        with pytest.raises(FormatError):
            import_model(tmp_path / f"{name}.onnx")


def test_model_failing_the_onnx_checker_is_a_format_error(rng):
    model = make_model([gemm("g", "x", "y")], (8,), (4,), {"g.W": w(rng, 4, 8)})  # bias never defined
    with pytest.raises(FormatError, match="checker"):
        import_model(model)


@pytest.mark.parametrize(
    "variant,reason",
    [
        ("fixed_batch", "fixed batch size 5"),
        ("variable_weights", "must be a constant"),
        ("padded_avg_excluding_pad", "count_include_pad"),
        ("two_outputs", "exactly one input and one output"),
        ("ceil_mode", "ceil_mode"),
        ("reshape_into_batch", "batch axis"),
        ("conv1d", "only 2-D Conv"),
    ],
)
def test_unsupported_shapes_and_attributes_are_refused(variant, reason, rng):
    weights = {"g.W": w(rng, 4, 8), "g.b": w(rng, 4)}
    if variant == "fixed_batch":
        model = make_model([gemm("g", "x", "y")], (8,), (4,), weights)
        model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 5
    elif variant == "variable_weights":  # (MatMul of two computed tensors is a matmul: test_recurrent)
        model = make_model(
            [
                helper.make_node("Relu", ["x"], ["r"], name="r"),
                helper.make_node("Conv", ["x", "r"], ["p"], name="conv"),
                flat("p"),
            ],
            (1, 4, 4),
            (1,),
        )
    elif variant == "padded_avg_excluding_pad":
        model = make_model(
            [
                helper.make_node("AveragePool", ["x"], ["a"], name="avg", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                flat("a"),
            ],
            (1, 4, 4),
            (16,),
        )
    elif variant == "two_outputs":
        model = make_model([gemm("g", "x", "y"), helper.make_node("Relu", ["y"], ["z"], name="r")], (8,), (4,), weights)
        model.graph.output.append(helper.make_tensor_value_info("z", FLOAT, ["N", 4]))
    elif variant == "ceil_mode":
        model = make_model(
            [
                # a MaxPool's overhang is padding (tests/test_torch_zoo.py); an average's divisor is not
                helper.make_node(
                    "AveragePool", ["x"], ["m"], name="pool", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1
                ),
                flat("m"),
            ],
            (1, 5, 5),
            (9,),
        )
    elif variant == "reshape_into_batch":
        model = make_model(
            [helper.make_node("Reshape", ["x", "s"], ["y"], name="rs")], (2, 4), (4,), {"s": np.array([-1, 4])}
        )
        model.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.array([-1, 4], np.int64), "s"))
    else:
        model = make_model(
            [helper.make_node("Conv", ["x", "k"], ["y"], name="c1d")], (2, 6), (5,), {"k": w(rng, 1, 2, 2)}
        )
        model.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", FLOAT, ["N", 1, 5]))
    with pytest.raises(UnsupportedModelError, match=reason):
        import_model(model)


def test_wrong_input_shape_is_refused_and_right_ones_run(rng):
    graph = import_model(make_model([gemm("g", "x", "y")], (8,), (4,), {"g.W": w(rng, 4, 8), "g.b": w(rng, 4)}))
    quantized = quantize(graph, _inputs(rng, (8,), 64))
    assert executor.predict(quantized, _inputs(rng, (8,), 1)[0]).logits.shape == (4,)
    assert executor.predict(quantized, _inputs(rng, (8,), 3)).logits.shape == (3, 4)
    for bad in [(7,), (2, 9), (1, 2, 8), ()]:
        with pytest.raises(InputShapeError, match="expects"):
            executor.predict(quantized, np.zeros(bad))
        with pytest.raises(InputShapeError):
            executor.run_float(graph, np.zeros(bad))


# --- constant folding ------------------------------------------------------------------------


@pytest.mark.parametrize("opset", range(13, 21))
def test_shape_arithmetic_folds_away_at_every_accepted_opset(opset, rng):
    nodes, in_shape, out_shape, weights = shape_arithmetic(rng)
    model = make_model(nodes, in_shape, out_shape, weights, opset=opset)
    graph = import_model(model)
    assert [op.kind for op in graph.ops] == ["reshape", "mul", "add", "dense"]
    assert graph.constants["mask"].values.shape == (24,) and graph.constants["offset"].values[0] == 1.125
    x = _inputs(rng, in_shape, 8)
    np.testing.assert_allclose(executor.run_float(graph, x), onnxruntime_run(model, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("opset", [12, 21])
def test_opsets_outside_13_to_20_are_refused_before_any_work(opset, rng, monkeypatch):
    model = make_model([gemm("g", "x", "y")], (8,), (4,), {"g.W": w(rng, 4, 8), "g.b": w(rng, 4)}, opset=opset)
    monkeypatch.setattr(onnx.shape_inference, "infer_shapes", lambda *a, **k: pytest.fail("inference ran"))
    with pytest.raises(UnsupportedModelError, match=f"opset {opset}.*13 to 20"):
        import_model(model)


def test_an_operator_folded_on_constants_is_refused_on_the_input(rng):
    """The twin of folding: Cast of constants disappears; on the input, a Cast between float
    types names its operand, and a Cast to an integer type (it rounds) is refused."""
    nodes = [helper.make_node("Cast", ["x"], ["xc"], name="the_cast", to=FLOAT), gemm("g", "xc", "y")]
    model = make_model(nodes, (8,), (4,), {"g.W": w(rng, 4, 8), "g.b": w(rng, 4)})
    assert [op.kind for op in import_model(model).ops] == ["dense"]
    nodes = [
        helper.make_node("Cast", ["x"], ["xi"], name="the_cast", to=onnx.TensorProto.INT64),
        helper.make_node("Cast", ["xi"], ["xc"], name="back", to=FLOAT),
        gemm("g", "xc", "y"),
    ]
    model = make_model(nodes, (8,), (4,), {"g.W": w(rng, 4, 8), "g.b": w(rng, 4)})
    with pytest.raises(UnsupportedModelError, match="the_cast: Cast to INT64 of a computed tensor rounds"):
        import_model(model)


def test_a_constant_that_cannot_be_evaluated_is_refused_with_its_node(rng):
    nodes = [
        const("table", np.array([1.0, 2.0, 3.0], np.float32)),
        const("index", np.array([7], np.int64)),
        helper.make_node("Gather", ["table", "index"], ["picked"], name="bad_gather"),
        helper.make_node("Add", ["x", "picked"], ["y"], name="add"),
    ]
    with pytest.raises(UnsupportedModelError, match="bad_gather|shape inference"):
        import_model(make_model(nodes, (1,), (1,)))
