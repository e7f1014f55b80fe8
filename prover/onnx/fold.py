"""Constant folding at import: one mechanism for every operator.

A node whose inputs are all constants (initializers, or outputs of nodes folded before it) is
evaluated once, here, by onnx's reference evaluator, and its outputs become initializers; so is
a node of ``SHAPE_ONLY`` (Shape, Size) whose input has a static shape, since its output depends
on that shape alone. Exporters emit whole subgraphs of such shape arithmetic (Shape, Gather on
the shape, Concat, ConstantOfShape, Expand, Range, Cast, Mod, Equal, Where, Squeeze/Unsqueeze
of constants): they disappear before quantization, and no operator needs a rule of its own for
constant operands. Folding and shape inference alternate until nothing more folds, because a
folded shape (a Reshape's target, say) lets inference find the static shapes that the next
Shape node reads.

The batch axis is fixed to 1 before any of this (``prover.onnx.importer``), so a folded shape
has batch 1; the graph's ops are per sample and never read it. (The importer folds the model a
second time at another batch size, for its shapes only: where a Reshape puts the batch,
``prover.onnx.batch``.)
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

from prover.errors import UnsupportedModelError

# operators whose outputs depend on their input's shape only, not on its values
SHAPE_ONLY = frozenset({"Shape", "Size"})
# rounds of folding and inference; each round folds at least one node, or stops
MAX_ROUNDS = 64


def node_label(node: onnx.NodeProto, index: int) -> str:
    """How messages name a node: its name, or its position and first output when unnamed."""
    return node.name or f"#{index} (output {node.output[0] if node.output else '?'})"


def constant_names(model: onnx.ModelProto) -> set[str]:
    """The tensors that folding will make constant, found from the graph's structure alone
    (before any inference): initializers, outputs of nodes whose inputs all are, and outputs
    of ``SHAPE_ONLY`` nodes (which need a static input shape, checked when they fold)."""
    known = {t.name for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type in SHAPE_ONLY or all(n in known for n in node.input if n):
            known.update(n for n in node.output if n)
    return known


def infer_static_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    """The full static shape of every tensor that ONNX shape inference (with data propagation)
    determines; UnsupportedModelError when inference fails."""
    try:
        inferred = shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except Exception as exc:  # InferenceError and checker errors from inside inference
        raise UnsupportedModelError(f"ONNX shape inference failed: {str(exc).splitlines()[0]}") from exc
    shapes = {}
    g = inferred.graph
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        d = vi.type.tensor_type.shape.dim
        if vi.type.tensor_type.HasField("shape") and all(x.HasField("dim_value") for x in d):
            shapes[vi.name] = tuple(int(x.dim_value) for x in d)
    return shapes


def _evaluate(node: onnx.NodeProto, feeds: dict[str, np.ndarray], opsets: dict[str, int], where: str) -> list:
    """The outputs of one node on constant inputs, by onnx's reference evaluator."""
    from onnx.reference import ReferenceEvaluator

    try:
        outputs = ReferenceEvaluator(node, opsets=opsets).run(None, feeds)
    except Exception as exc:  # the evaluator raises whatever its operator implementation raises
        raise UnsupportedModelError(
            f"node {where}: {node.op_type} on constant inputs could not be evaluated "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); simplify the model before export"
        ) from exc
    return [np.asarray(v) for v in outputs]


def constant_values(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """The outputs of the model's Constant nodes, by onnx's reference evaluator (so every form of
    the operator's value is read: ``value``, ``value_float(s)``, ``value_int(s)``, ...)."""
    opsets = {o.domain or "": o.version for o in model.opset_import}
    values = {}
    for index, node in enumerate(model.graph.node):
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            values[node.output[0]] = _evaluate(node, {}, opsets, node_label(node, index))[0]
    return values


def fold_constants(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, tuple[int, ...]]]:
    """The model with every constant node folded into an initializer, and the static shapes of
    its tensors. A model without constant nodes is returned as it is."""

    opsets = {o.domain or "": o.version for o in model.opset_import}
    for _ in range(MAX_ROUNDS):
        shapes = infer_static_shapes(model)
        g = model.graph
        values = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        kept, folded = [], []
        for index, node in enumerate(g.node):
            inputs = [n for n in node.input if n]
            if all(n in values for n in inputs):
                feeds = {n: values[n] for n in inputs}
            elif node.op_type in SHAPE_ONLY and inputs[0] in shapes:
                # only the shape is read: a broadcast zero costs no memory
                feeds = {inputs[0]: np.broadcast_to(np.zeros((), dtype=np.float32), shapes[inputs[0]])}
            else:
                kept.append(node)
                continue
            outputs = _evaluate(node, feeds, opsets, node_label(node, index))
            values.update((name, v) for name, v in zip(node.output, outputs) if name)
            folded.append(node)
        if not folded:
            return model, shapes
        # the folded values that something still reads become initializers, after the old ones
        needed = {n for node in kept for n in node.input} | {o.name for o in g.output}
        made = [n for node in folded for n in node.output if n and n in needed]
        new = [numpy_helper.from_array(np.array(values[n], order="C"), n) for n in made]  # 0-d stays 0-d
        result = onnx.ModelProto()
        result.CopyFrom(model)
        del result.graph.node[:]
        result.graph.node.extend(kept)
        result.graph.initializer.extend(new)
        model = result
    raise UnsupportedModelError(f"constant folding did not settle in {MAX_ROUNDS} rounds; simplify the model")
