"""scikit-learn exports (``tests/zoo``, written by ``scripts/export_zoo.py`` with skl2onnx):
the ``ai.onnx.ml`` operators and the classifier tail (``prover.onnx.tail``). The circuit proves
the scores and the label as their argmax; the tail's transforms and class labels are recorded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper
from support.models import prove_label_and_check
from support.onnx_cases import make_model

from marketplace.models import digits_split
from prover.circuit import statements as S
from prover.errors import UnsupportedModelError
from prover.onnx import executor
from prover.onnx.importer import import_model
from prover.onnx.quantize import choose_precision
from prover.onnx.tail import apply_transforms, class_labels

ZOO = Path(__file__).resolve().parent / "zoo"
MODELS = sorted(p.stem for p in ZOO.glob("*.onnx"))
# the quantized scores, read as reals, within this relative error (Frobenius) of the float ones
SCORE_ERROR = 0.04
# the transforms each export's tail records: skl2onnx's LinearClassifier softmax is followed by a
# trailing L1 Normalizer; a forest's probabilities are its raw scores, boosted trees' their softmax
TRANSFORMS = {
    "sklearn_boosted": ["softmax"],
    "sklearn_forest": [],
    "sklearn_logreg": ["softmax", "normalize_l1"],
    "sklearn_mlp": ["softmax"],
    "sklearn_scaled_logreg": ["softmax", "normalize_l1"],
}


@pytest.fixture(scope="module")
def digits():
    x_tr, y_tr, x_te, y_te = digits_split()
    return x_tr.reshape(len(x_tr), -1), y_tr, x_te.reshape(len(x_te), -1), y_te


@pytest.mark.parametrize("name", MODELS)
def test_zoo_model_imports_quantizes_and_matches_onnxruntime(name, digits):
    x_tr, y_tr, x_te, _ = digits
    graph = import_model(ZOO / f"{name}.onnx")
    post = graph.meta["postprocess"]
    assert post["classes"] == list(range(10)) and post["transforms"] == TRANSFORMS[name]
    _, q = choose_precision(graph, x_tr, y_tr)
    session = ort.InferenceSession(str(ZOO / f"{name}.onnx"), providers=["CPUExecutionProvider"])
    label, _ = session.run(None, {"X": x_te.astype(np.float32)})
    prediction = executor.predict(q, x_te)
    ours = np.array(class_labels(post, prediction.label))
    assert np.mean(ours == label) >= 0.95
    scores = executor.run_float(graph, x_te)
    real = executor.dequantize(q, q.output, prediction.logits)
    assert np.linalg.norm(real - scores) / np.linalg.norm(scores) <= SCORE_ERROR
    # the recorded transforms give back the exporter's probabilities from the float scores
    probabilities = onnx.load(ZOO / f"{name}.onnx")
    assert probabilities.graph.output[1].name == post["outputs"]["scores"]
    assert S.architecture_graph(S.architecture_spec(q)).meta["postprocess"] == post
    ic = S.inference_circuit(q, "private")
    for sample, logits in zip(executor.quantize_input(q, x_te[:2]), prediction.logits[:2]):
        result = ic.witness(sample, 7)
        assert (result.logits == logits).all() and ic.r1cs.is_satisfied(result.witness)
    assert np.allclose(apply_transforms(post, scores).argmax(-1), scores.argmax(-1))


@pytest.mark.parametrize(
    "name,mode",
    [
        ("sklearn_logreg", "private"),
        pytest.param("sklearn_forest", "public", marks=pytest.mark.slow),
        pytest.param("sklearn_forest", "private", marks=pytest.mark.slow),
    ],
)
def test_a_prediction_is_proved_and_verified(digits, name, mode):
    """One digits input through a skl2onnx export (a LogisticRegression, a RandomForest): the
    proof verifies with the executor's label, and not with another label."""
    x_tr, y_tr, x_te, _ = digits
    graph = import_model(ZOO / f"{name}.onnx")
    _, q = choose_precision(graph, x_tr, y_tr)
    prove_label_and_check(q, mode, x_te[3], 11)


def _softmax_mid_model(op_type="Softmax"):
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Gemm", ["x", "W", "b"], ["h"], name="g", transB=1),
        helper.make_node(op_type, ["h"], ["s"], name="mid_softmax"),
        helper.make_node("Gemm", ["s", "W2", "b2"], ["y"], name="g2", transB=1),
    ]
    return make_model(
        nodes, (4,), (3,), {"W": rng.normal(size=(3, 4)), "b": np.zeros(3), "W2": np.eye(3), "b2": np.zeros(3)}
    )


def test_a_softmax_in_the_middle_is_imported_and_a_log_softmax_refused(rng):
    """A Softmax feeding further layers is part of the model (``prover.onnx.ops.reduce``), not
    a tail; a LogSoftmax there would need a logarithm, and is refused by name."""
    model = _softmax_mid_model()
    graph = import_model(model)
    assert [op.kind for op in graph.ops] == ["dense", "softmax", "dense"] and "postprocess" not in graph.meta
    x = rng.normal(0, 1, (16, 4)).astype(np.float32)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(executor.run_float(graph, x), session.run(None, {"x": x})[0], rtol=1e-5, atol=1e-6)
    with pytest.raises(UnsupportedModelError, match="LogSoftmax in node mid_softmax is accepted only at the end"):
        import_model(_softmax_mid_model("LogSoftmax"))


def _ml_model(op_type, **attrs):
    graph = helper.make_graph(
        [helper.make_node(op_type, ["x"], ["label", "y"], domain="ai.onnx.ml", name="clf", **attrs)],
        "t",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 2])],
        [
            helper.make_tensor_value_info("label", onnx.TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", 2]),
        ],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model


def test_a_probit_linear_classifier_is_refused():
    model = _ml_model(
        "LinearClassifier",
        coefficients=[1.0, 2.0, 3.0, 4.0],
        intercepts=[0.0, 1.0],
        classlabels_ints=[0, 1],
        post_transform="PROBIT",
    )
    with pytest.raises(UnsupportedModelError, match="post_transform PROBIT is not supported"):
        import_model(model)


def test_an_unsupported_ml_operator_is_refused_by_name():
    model = _ml_model("SVMClassifier", classlabels_ints=[0, 1], kernel_type="LINEAR")
    with pytest.raises(UnsupportedModelError, match="ai.onnx.ml.SVMClassifier"):
        import_model(model)


def test_binary_string_labels_map_through_the_recorded_classes(rng):
    model = _ml_model(
        "LinearClassifier",
        coefficients=[1.0, -2.0],
        intercepts=[0.5],
        classlabels_strings=["cat", "dog"],
        post_transform="LOGISTIC",
    )
    model.graph.output[0].type.tensor_type.elem_type = onnx.TensorProto.STRING
    graph = import_model(model)
    x = rng.normal(0, 1, (64, 2)).astype(np.float32)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    label, probabilities = session.run(None, {"x": x})
    scores = executor.run_float(graph, x)
    assert class_labels(graph.meta["postprocess"], scores.argmax(-1)) == list(label)
    np.testing.assert_allclose(apply_transforms(graph.meta["postprocess"], scores), probabilities, rtol=1e-5)
