"""The committed example models: accuracy of the quantized integer executor against the float
model run by onnxruntime on the digits test split, the recorded figures, the architectures, and
that the training script reproduces the committed files."""

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import onnx.numpy_helper
import onnxruntime as ort
import pytest

from marketplace.models import digits_split, example_models, model_inputs
from prover.onnx import executor
from prover.onnx.importer import import_model
from prover.onnx.quantize import accuracy, quantize

MODELS = example_models()
NAMES = sorted(MODELS)
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_models.py"


@pytest.fixture(scope="module")
def split():
    return digits_split()


def onnxruntime_logits(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})[0]


def test_the_four_example_models_are_committed():
    assert NAMES == ["cnn", "lenet", "mlp", "quadratic"]
    for model in MODELS.values():
        assert model.path.is_file() and model.path.stat().st_size < 400_000
        onnx.checker.check_model(onnx.load(model.path), full_check=True)


def test_architectures_are_as_documented():
    kinds = {name: [op.kind for op in import_model(m.path).ops] for name, m in MODELS.items()}
    assert kinds["mlp"] == ["dense", "relu", "dense"]
    assert kinds["quadratic"] == ["dense", "mul", "dense"]
    assert kinds["cnn"] == ["conv", "relu", "maxpool", "reshape", "dense"]
    assert kinds["lenet"] == ["conv", "relu", "maxpool"] * 2 + ["reshape", "dense", "relu", "dense", "relu", "dense"]
    lenet = import_model(MODELS["lenet"].path)
    assert lenet.input_tensor.shape == (1, 28, 28)
    assert 40_000 <= lenet.n_parameters() <= 48_000
    square = import_model(MODELS["quadratic"].path).ops[1]
    assert square.inputs[0] == square.inputs[1]  # x * x, the quadratic activation


@pytest.mark.parametrize("name", NAMES)
def test_quantized_accuracy_within_one_point_of_onnxruntime(name, split):
    x_tr, y_tr, x_te, y_te = split
    model = MODELS[name]
    test_x = model_inputs(model.input_shape, x_te)
    float_graph = import_model(model.path)
    logits = onnxruntime_logits(model.path, test_x)
    float_accuracy = float(np.mean(logits.argmax(1) == y_te))
    quantized = quantize(float_graph, model_inputs(model.input_shape, x_tr), model.precision)
    prediction = executor.predict(quantized, test_x)
    quantized_accuracy = float(np.mean(prediction.label == y_te))
    assert abs(quantized_accuracy - float_accuracy) <= 0.01
    assert float_accuracy >= 0.95  # a model worth proving
    # the figures in models.json / README.md are the ones measured here
    assert model.accuracy["float_onnxruntime"] == pytest.approx(float_accuracy)
    assert model.accuracy["quantized"] == pytest.approx(quantized_accuracy)
    # the float reference of the importer agrees with onnxruntime sample by sample
    np.testing.assert_allclose(executor.run_float(float_graph, test_x), logits, rtol=1e-4, atol=1e-4)
    assert prediction.logits.dtype == np.int64 and prediction.logits.shape == (len(y_te), 10)


def test_coarser_quantization_loses_accuracy(split):
    """The reject twin of the accuracy test: the chosen precision matters."""
    x_tr, y_tr, x_te, y_te = split
    model = MODELS["mlp"]
    graph = import_model(model.path)
    coarse = quantize(graph, model_inputs(model.input_shape, x_tr), type(model.precision)(4, 4))
    assert accuracy(coarse, model_inputs(model.input_shape, x_te), y_te) < model.accuracy["float_onnxruntime"] - 0.01


def _training_script():
    spec = importlib.util.spec_from_file_location("train_models", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _same_model(a: onnx.ModelProto, b: onnx.ModelProto) -> bool:
    """Same graph, and weights equal up to float rounding (BLAS builds may differ in the last bit)."""
    if [(n.op_type, list(n.input), list(n.output)) for n in a.graph.node] != [
        (n.op_type, list(n.input), list(n.output)) for n in b.graph.node
    ]:
        return False
    wa = {t.name: onnx.numpy_helper.to_array(t) for t in a.graph.initializer}
    wb = {t.name: onnx.numpy_helper.to_array(t) for t in b.graph.initializer}
    return wa.keys() == wb.keys() and all(np.allclose(wa[k], wb[k], rtol=1e-4, atol=1e-5) for k in wa)


def test_training_script_reproduces_the_committed_mlp(split):
    script = _training_script()
    x_tr, y_tr = split[0], split[1]
    shape = script.ARCHITECTURES["mlp"][0]
    committed = onnx.load(MODELS["mlp"].path)
    assert _same_model(script.export("mlp", script.train("mlp", model_inputs(shape, x_tr), y_tr)), committed)
    other_seed = script.export("mlp", script.train("mlp", model_inputs(shape, x_tr), y_tr, seed=1))
    assert not _same_model(other_seed, committed)
