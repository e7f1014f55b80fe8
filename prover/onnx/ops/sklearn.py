"""The classical-ML operators of the ``ai.onnx.ml`` domain that scikit-learn exports (skl2onnx):
LinearClassifier, LinearRegressor and Scaler become the existing kinds; ZipMap, the label output
and the post-transforms are the classifier tail (``prover.onnx.tail``), cut before these rules
run.

    LinearClassifier   dense      ``coefficients`` (classes x features, row-major), ``intercepts``;
                                  a binary classifier with one row ``w`` scores ``[-s, s]`` with
                                  ``s = w x + b`` (onnxruntime's second-class rule), so the
                                  label is class 1 exactly when ``s > 0``. Only the score
                                  output is computed: the circuit proves the scores and the
                                  label as their argmax; ``post_transform`` must have been cut
                                  as the tail (SOFTMAX, LOGISTIC) or be NONE.
    LinearRegressor    dense      ``coefficients`` (targets x features), ``intercepts``;
                                  ``post_transform`` NONE.
    Scaler             sub, mul   ``y = (x - offset) * scale`` per feature: folded into the
                                  weights of the dense that reads it (``Importer.dense``), or
                                  a ``sub`` and a ``mul`` by constants when none does.

No new op kind: semantics, quantization and lowering are ``linear`` and ``elementwise``'s.
"""

from __future__ import annotations

import numpy as np

from prover.errors import UnsupportedModelError
from prover.onnx.ops.registry import ML_DOMAIN, register_onnx


def text(value) -> str:
    """A string attribute (bytes in ONNX) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def feature_vector(im, node) -> tuple[str, int]:
    """The (per-sample vector) operand of an ai.onnx.ml operator and its length."""
    x = im.tensor_input(node.input[0])
    shape = im.graph.tensors[x].shape
    if len(shape) != 1:
        raise UnsupportedModelError(
            f"node {im.where}: {node.op_type} reads a (batch, features) tensor, got per-sample shape {shape}; "
            "flatten the input first"
        )
    return x, shape[0]


def _linear_attrs(im, node, rows_attr: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(coefficients as rows x features, intercepts) of a LinearClassifier or LinearRegressor."""
    attrs = im.attrs(node)
    post = text(attrs.get("post_transform", "NONE"))
    if post != "NONE":
        raise UnsupportedModelError(
            f"node {im.where}: {node.op_type} with post_transform {post} is not supported here: a "
            f"transform is accepted only on the score output of a classifier, where it is dropped "
            f"(the circuit proves the raw scores and their argmax); export {what} with post_transform NONE"
        )
    _, features = feature_vector(im, node)
    coefficients = np.asarray(attrs.get("coefficients", ()), dtype=np.float64)
    if coefficients.size == 0 or coefficients.size % features:
        raise UnsupportedModelError(
            f"node {im.where}: {coefficients.size} coefficients do not make rows of {features} features"
        )
    weight = coefficients.reshape(-1, features)
    intercepts = np.asarray(attrs.get("intercepts", np.zeros(weight.shape[0])), dtype=np.float64).reshape(-1)
    if intercepts.size not in (1, weight.shape[0]):
        raise UnsupportedModelError(f"node {im.where}: {intercepts.size} intercepts for {weight.shape[0]} rows")
    if rows_attr and weight.shape[0] != rows_attr:
        raise UnsupportedModelError(f"node {im.where}: {weight.shape[0]} coefficient rows for {rows_attr} outputs")
    return weight, np.broadcast_to(intercepts, (weight.shape[0],)).copy()


def score_output(im, node) -> str:
    """The score output of an ai.onnx.ml classifier (its second output), refusing a graph that
    reads its label output (the first): only the scores are computed."""
    if im.uses.get(node.output[0], 0):
        raise UnsupportedModelError(
            f"node {im.where}: the {node.op_type}'s label output is read by the graph; only its scores are "
            "computed (the circuit proves the label as their argmax): read the label as a graph output"
        )
    if len(node.output) < 2 or not node.output[1]:
        raise UnsupportedModelError(f"node {im.where}: {node.op_type} without a score output")
    return node.output[1]


@register_onnx("LinearClassifier", emits=("dense",), domain=ML_DOMAIN)
def import_linear_classifier(im, node):
    """Scores ``W x + b``, one per class (``[-s, s]`` for a binary one-row classifier)."""
    labels = im.attrs(node).get("classlabels_ints") or im.attrs(node).get("classlabels_strings") or ()
    score_output(im, node)
    weight, bias = _linear_attrs(im, node, 0, "the classifier")
    if weight.shape[0] == 1 and len(labels) == 2:
        weight, bias = np.concatenate([-weight, weight]), np.concatenate([-bias, bias])
    elif len(labels) != weight.shape[0]:
        raise UnsupportedModelError(
            f"node {im.where}: {weight.shape[0]} coefficient rows for {len(labels)} class labels"
        )
    x, _ = feature_vector(im, node)
    im.dense(x, weight, bias, node.output[1], (f"{node.output[1]}.W", f"{node.output[1]}.b"))


@register_onnx("LinearRegressor", emits=("dense",), domain=ML_DOMAIN)
def import_linear_regressor(im, node):
    targets = int(im.attrs(node).get("targets", 1))
    weight, bias = _linear_attrs(im, node, targets, "the regressor")
    x, _ = feature_vector(im, node)
    im.dense(x, weight, bias, node.output[0], (f"{node.output[0]}.W", f"{node.output[0]}.b"))


@register_onnx("Scaler", emits=("sub", "mul"), domain=ML_DOMAIN)
def import_scaler(im, node):
    """``(x - offset) * scale``: a sub and a mul by constants, which the dense reading the result
    folds into its weights (``Importer.dense``)."""
    x, features = feature_vector(im, node)
    attrs = im.attrs(node)
    values = []
    for name, default in (("offset", 0.0), ("scale", 1.0)):
        v = np.asarray(attrs.get(name, (default,)), dtype=np.float64).reshape(-1)
        if v.size not in (1, features):
            raise UnsupportedModelError(f"node {im.where}: Scaler {name} has {v.size} values for {features} features")
        values.append(np.broadcast_to(v, (features,)).copy())
    offset, scale = values
    out = node.output[0]
    centered = f"{out}:centered"
    ops = [im.emit("sub", [x, im.add_constant(f"{out}.offset", offset)], centered, out_shape=(features,))]
    ops.append(im.emit("mul", [centered, im.add_constant(f"{out}.scale", scale)], out, out_shape=(features,)))
    im.affine[out] = (x, offset, scale, ops)
