"""Rewrites of an ONNX graph at import, before the operators are checked: an exporter's way of
writing an op that has a rule under another name (the dynamo exporter writes a global average
pool as a ReduceMean over the spatial axes)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

from prover.onnx.fold import constant_values


def _spatial_mean_axes(node: onnx.NodeProto, constants: dict[str, np.ndarray], rank: int | None) -> bool:
    """Whether ReduceMean ``node`` averages exactly axes 2 and 3 of a rank-4 tensor."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if len(node.input) > 1 and node.input[1]:  # opset 18: the axes are an input
        if node.input[1] not in constants:
            return False
        axes = [int(a) for a in np.asarray(constants[node.input[1]]).reshape(-1)]
    else:
        axes = [int(a) for a in attrs.get("axes", ())]
    return rank == 4 and sorted(a % 4 for a in axes) == [2, 3]


def spatial_means_as_pools(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with each ReduceMean over the spatial axes of a rank-4 tensor replaced by a
    GlobalAveragePool (then a Flatten if it drops the axes); the model itself if there is none."""
    if not any(node.op_type == "ReduceMean" for node in model.graph.node):
        return model
    inferred = shape_inference.infer_shapes(model)  # not strict: only the ranks are read
    ranks = {
        vi.name: len(vi.type.tensor_type.shape.dim)
        for vi in list(inferred.graph.input) + list(inferred.graph.value_info)
        if vi.type.tensor_type.HasField("shape")
    }
    constants = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    constants.update(constant_values(model))
    nodes, changed = [], False
    for index, node in enumerate(model.graph.node):
        rank = ranks.get(node.input[0]) if node.input else None
        if node.op_type != "ReduceMean" or not _spatial_mean_axes(node, constants, rank):
            nodes.append(node)
            continue
        keep = next((a.i for a in node.attribute if a.name == "keepdims"), 1)
        name = node.name or f"reducemean_{index}"
        pooled = node.output[0] if keep else f"{node.output[0]}:pooled"
        nodes.append(helper.make_node("GlobalAveragePool", [node.input[0]], [pooled], name=name))
        if not keep:
            nodes.append(helper.make_node("Flatten", [pooled], [node.output[0]], name=f"{name}:flatten", axis=1))
        changed = True
    if not changed:
        return model
    result = onnx.ModelProto()
    result.CopyFrom(model)
    del result.graph.node[:]
    result.graph.node.extend(nodes)
    return result
