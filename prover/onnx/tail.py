"""The classifier tail: what an exporter appends after a model's scores, which the importer drops
and records instead of proving.

What is proved. The circuit proves the model's *score vector* (the graph output, committed in
the statement's output commitment) and the *label as the argmax of the scores*, lowest index on
ties (``prover.circuit.statements``). Every step that an exporter such as skl2onnx puts after the
scores either changes nothing about that argmax or only names it:

- a monotone per-row transform of the scores: a trailing ``Softmax`` or ``LogSoftmax`` over
  the class axis, the ``post_transform`` of a classifier (``SOFTMAX`` or ``LOGISTIC``), a
  ``Normalizer`` (a positive factor per row), and ``ZipMap`` (the same probabilities as a map
  per class);
- the label path: ``ArgMax`` over the class axis, ``ArrayFeatureExtractor`` of the class labels
  at that index, ``Cast``/``Reshape``/``Identity`` of the label, or a classifier's own
  label output.

``split_tail`` removes those nodes, leaves the scores as the model's only output, and returns
what it dropped as a ``postprocess`` record (JSON-ready): the transforms, in order, that turn the
proved scores into the exporter's probabilities (``TRANSFORMS``), the class labels (``classes``:
the label of score index i is ``classes[i]``; ints or strings), and the names of the exporter's
outputs. The importer keeps it in ``Graph.meta["postprocess"]``; the architecture spec publishes
it (so the architecture hash binds it), and a client applies it with ``apply_transforms`` and
``class_labels``. A Softmax anywhere else is part of the model (``prover.onnx.ops.reduce``); a
LogSoftmax anywhere else is refused (it needs a logarithm the circuit does not have).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from prover.errors import UnsupportedModelError
from prover.onnx.fold import node_label
from prover.onnx.ops.registry import ML_DOMAIN, onnx_key

# the row transforms a client may apply to the proved scores, each monotone per row
TRANSFORMS = ("softmax", "log_softmax", "logistic", "normalize_l1", "normalize_l2", "normalize_max")
# classifier post-transforms that keep the argmax of the scores (PROBIT and SOFTMAX_ZERO
# do not: probit is undefined outside (0, 1), softmax_zero keeps zeros out of the softmax)
POST_TRANSFORMS = {"NONE": None, "SOFTMAX": "softmax", "LOGISTIC": "logistic"}
# operators that only pass a label (or its index) on
_LABEL_RENAMES = frozenset({"Cast", "Reshape", "Identity", "Squeeze", "Flatten"})
# the operators a tail is made of, refused anywhere else with TAIL_ONLY's reason
TAIL_ONLY = frozenset(
    {"LogSoftmax", "ArgMax", f"{ML_DOMAIN}.ZipMap", f"{ML_DOMAIN}.ArrayFeatureExtractor", f"{ML_DOMAIN}.Normalizer"}
)
CLASSIFIERS = frozenset({f"{ML_DOMAIN}.LinearClassifier", f"{ML_DOMAIN}.TreeEnsembleClassifier"})


def _key(node: onnx.NodeProto) -> str:
    return onnx_key(node.domain, node.op_type)


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def tail_only_reason(node: onnx.NodeProto, where: str) -> str:
    """Why a tail operator found inside the graph is refused."""
    hint = (
        " (a LogSoftmax needs a logarithm, which the circuit lacks; a Softmax is accepted anywhere)"
        if node.op_type == "LogSoftmax"
        else ""
    )
    return (
        f"operator {_key(node)} in node {where} is accepted only at the end of a classifier, on the path "
        "to its score or label output (the circuit proves the scores, and the label as their argmax); "
        "here its output feeds further computation, which would then depend on values the circuit "
        f"cannot compute exactly{hint}: export the model without it, or move it to the output"
    )


class _Walk:
    """The pass over one model's outputs (``split_tail``)."""

    def __init__(self, model: onnx.ModelProto):
        self.g = model.graph
        self.producer = {out: (i, node) for i, node in enumerate(self.g.node) for out in node.output if out}
        self.constants = {t.name: numpy_helper.to_array(t) for t in self.g.initializer}
        self.removed: set[int] = set()
        self.transforms: list[str] = []
        self.classes: list | None = None
        self.classifier: int | None = None  # the classifier whose post_transform is dropped

    def node(self, name: str):
        return self.producer.get(name, (None, None))

    def where(self, index: int) -> str:
        return node_label(self.g.node[index], index)

    def class_axis(self, node, index: int, default: int) -> None:
        axis = int(_attrs(node).get("axis", default))
        if axis not in (1, -1):
            raise UnsupportedModelError(
                f"node {self.where(index)}: {node.op_type} over axis {axis}; only the class axis (1, the last "
                "of a (batch, classes) tensor) keeps the label the argmax of the scores"
            )

    def scores(self, name: str) -> str:
        """Walk back from a probability output through monotone row transforms to the scores."""
        steps: list[str] = []
        while True:
            index, node = self.node(name)
            if node is None:
                break
            key = _key(node)
            if key == f"{ML_DOMAIN}.ZipMap" or node.op_type == "Identity":
                pass
            elif node.op_type == "Cast" and _attrs(node).get("to") in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE):
                pass
            elif node.op_type in ("Softmax", "LogSoftmax"):
                self.class_axis(node, index, -1)
                steps.append("softmax" if node.op_type == "Softmax" else "log_softmax")
            elif key == f"{ML_DOMAIN}.Normalizer":
                steps.append(f"normalize_{_text(_attrs(node).get('norm', 'MAX')).lower()}")
            else:
                break
            self.removed.add(index)
            name = node.input[0]
        steps.reverse()
        if self.transforms and steps and steps != self.transforms:
            raise UnsupportedModelError(
                f"the label and the probability outputs transform the scores differently ({self.transforms} "
                f"and {steps}); export one classifier with one score vector"
            )
        self.transforms = self.transforms or steps
        return name

    def renames(self, name: str):
        """Walk back through the nodes that only pass a label on: (name, its producer's index
        and node)."""
        while True:
            index, node = self.node(name)
            if node is None or node.op_type not in _LABEL_RENAMES:
                break
            self.removed.add(index)
            name = node.input[0]
        return name, index, node

    def label(self, name: str) -> str:
        """Walk back from a label output to the scores whose argmax it names."""
        name, index, node = self.renames(name)
        if node is not None and _key(node) == f"{ML_DOMAIN}.ArrayFeatureExtractor":
            classes = self.constants.get(node.input[0])
            if classes is None:
                raise UnsupportedModelError(
                    f"node {self.where(index)}: ArrayFeatureExtractor of the label needs constant class labels"
                )
            self.set_classes(classes.reshape(-1).tolist())
            self.removed.add(index)
            name, index, node = self.renames(node.input[1])
        if node is not None and node.op_type == "ArgMax":
            self.class_axis(node, index, 0)
            if _attrs(node).get("select_last_index", 0):
                raise UnsupportedModelError(
                    f"node {self.where(index)}: ArgMax with select_last_index=1; the circuit's label is the "
                    "lowest index on ties (export with the default select_last_index=0)"
                )
            self.removed.add(index)
            return self.scores(node.input[0])
        if node is not None and _key(node) in CLASSIFIERS and name == node.output[0]:
            return node.output[1]
        raise UnsupportedModelError(
            f"the label output is computed by operator {_key(node) if node is not None else '(none)'}, which is "
            "not supported as a label: the circuit proves a label only as the argmax of the model's scores "
            "(an ArgMax, or a LinearClassifier's or TreeEnsembleClassifier's label); export a supported classifier"
        )

    def set_classes(self, classes: list) -> None:
        classes = [c.decode() if isinstance(c, bytes) else c for c in classes]
        classes = [int(c) if isinstance(c, (int, np.integer)) else c for c in classes]
        if self.classes is not None and self.classes != classes:
            raise UnsupportedModelError("the model's outputs name two different lists of class labels")
        self.classes = classes

    def classifier_transform(self, scores: str) -> None:
        """A classifier (LinearClassifier, TreeEnsembleClassifier) computing the scores: its class
        labels, and its post_transform dropped (recorded as the first transform)."""
        index, node = self.node(scores)
        if node is None or _key(node) not in CLASSIFIERS or scores != node.output[1]:
            return
        attrs = _attrs(node)
        post = _text(attrs.get("post_transform", "NONE"))
        if post not in POST_TRANSFORMS:
            raise UnsupportedModelError(
                f"node {self.where(index)}: {node.op_type} with post_transform {post} is not supported: only "
                f"{', '.join(POST_TRANSFORMS)} keep the label the argmax of the raw scores; export with one of them"
            )
        labels = attrs.get("classlabels_ints") or attrs.get("classlabels_int64s") or attrs.get("classlabels_strings")
        if labels:
            self.set_classes(list(labels))
        transform = POST_TRANSFORMS[post]
        if transform is not None:
            self.transforms.insert(0, transform)
        self.classifier = index


def split_tail(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict | None]:
    """The model cut at its scores, and the record of what was cut (None when nothing was: a
    model whose one output is not produced by a tail operator). Raises UnsupportedModelError
    for a tail that does not keep the label the argmax of the scores."""
    walk = _Walk(model)
    outputs = list(model.graph.output)
    names: dict[str, str] = {}
    found: set[str] = set()
    for out in outputs:
        tt = out.type.tensor_type if out.type.HasField("tensor_type") else None
        is_label = tt is not None and tt.elem_type in (
            onnx.TensorProto.INT64,
            onnx.TensorProto.STRING,
            onnx.TensorProto.INT32,
        )
        if is_label and len(outputs) > 1:
            found.add(walk.label(out.name))
            names["label"] = out.name
        else:
            found.add(walk.scores(out.name))
            names["scores"] = out.name
    if len(found) != 1 and not walk.removed:
        return model, None  # no tail: the importer refuses more than one output
    if len(found) != 1:
        raise UnsupportedModelError(
            f"the model's outputs {[o.name for o in outputs]} come from {len(found)} different score vectors; "
            "the compiler proves one score vector and its argmax"
        )
    (scores,) = found
    walk.classifier_transform(scores)
    renames_only = all(model.graph.node[i].op_type in ("Identity", "Cast") for i in walk.removed)
    if renames_only and walk.classifier is None:
        return model, None  # nothing but renames, which the importer follows anyway
    kept_inputs = {n for i, node in enumerate(model.graph.node) if i not in walk.removed for n in node.input}
    for i in walk.removed:
        cut = [n for n in model.graph.node[i].output if n in kept_inputs]
        if cut:
            raise UnsupportedModelError(tail_only_reason(model.graph.node[i], walk.where(i)))
    result = onnx.ModelProto()
    result.CopyFrom(model)
    g = result.graph
    del g.node[:]
    for i, node in enumerate(model.graph.node):
        if i in walk.removed:
            continue
        node = g.node.add()
        node.CopyFrom(model.graph.node[i])
        if i == walk.classifier:  # the transform is recorded, the raw scores are the output
            for a in node.attribute:
                if a.name == "post_transform":
                    a.s = b"NONE"
    del g.output[:]
    g.output.append(helper.make_tensor_value_info(scores, onnx.TensorProto.FLOAT, [None, None]))
    record = {"transforms": walk.transforms, "classes": walk.classes, "outputs": names, "scores": scores}
    return result, record


def apply_transforms(postprocess: dict | None, scores: np.ndarray) -> np.ndarray:
    """The exporter's probabilities from the proved scores (real numbers, classes on the last
    axis): the recorded transforms in order. Their argmax is the scores' argmax."""
    y = np.asarray(scores, dtype=np.float64)
    for step in (postprocess or {}).get("transforms", []):
        if step in ("softmax", "log_softmax"):
            z = y - y.max(axis=-1, keepdims=True)
            total = np.exp(z).sum(axis=-1, keepdims=True)
            y = np.exp(z) / total if step == "softmax" else z - np.log(total)
        elif step == "logistic":
            y = 1.0 / (1.0 + np.exp(-y))
        elif step in ("normalize_l1", "normalize_l2", "normalize_max"):
            norm = {"normalize_l1": np.abs(y).sum(-1), "normalize_l2": np.sqrt((y * y).sum(-1))}.get(
                step, np.abs(y).max(-1)
            )
            y = y / np.where(norm == 0, 1.0, norm)[..., None]
        else:
            raise UnsupportedModelError(f"unknown score transform {step!r}; known: {', '.join(TRANSFORMS)}")
    return y


def class_labels(postprocess: dict | None, indices) -> list:
    """The exporter's class labels of proved label indices (the argmax of the scores): the
    recorded ``classes`` at those indices, or the indices themselves when none were recorded."""
    idx = np.asarray(indices).reshape(-1).tolist()
    classes = (postprocess or {}).get("classes")
    if classes is None:
        return [int(i) for i in idx]
    if any(not 0 <= i < len(classes) for i in idx):
        raise ValueError(f"label index out of range for {len(classes)} classes: {idx}")
    return [classes[i] for i in idx]
