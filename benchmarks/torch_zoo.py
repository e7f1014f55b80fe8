"""The torch exports of the zoo (``tests/zoo/torch``, written by ``scripts/export_zoo.py``), read with
onnx and numpy alone: the exports too large to commit with their weights are committed without
them, and ``load_zoo_model`` fills them again.

The fill is deterministic and depends only on the graph: the parameters are visited in node
order, the k-th drawn from its own generator (``SEED``, k), by its role: a Conv's, Gemm's or
MatMul's weight normal with std sqrt(2 / fan_in) (He's init: by fan_in, not torchvision's
fan_out, so that a deep random net's output still depends on its input: through a depthwise
Conv, fan_out init shrinks each layer's signal), every bias from torch's default (uniform within
1/sqrt(fan_in)), a BatchNormalization's scale and variance uniform in [0.5, 1.5] (a variance must
be positive), its shift and mean within 0.1. So exports of
one architecture by both torch exporters and at either opset, which list the same layers in the
same order, get the same weights and compute the same function.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

ZOO = Path(__file__).resolve().parents[1] / "tests" / "zoo" / "torch"
# the metadata key that the export script sets on a file whose parameters it cleared
WEIGHTS_KEY = "zoo.weights"
# the metadata key of the torch model's parameter count
PARAMETERS_KEY = "zoo.parameters"
SEED = 0
# the ONNX operators whose operands after the first are parameters, by input slot
PARAMETER_SLOTS = {"Conv": (1, 2), "Gemm": (1, 2), "MatMul": (1,), "BatchNormalization": (1, 2, 3, 4)}


def has_cleared_weights(model: onnx.ModelProto) -> bool:
    return any(p.key == WEIGHTS_KEY for p in model.metadata_props)


def _cleared(tensor: onnx.TensorProto) -> bool:
    return not tensor.raw_data and not tensor.float_data and int(np.prod(tensor.dims)) > 0


def _fan_in(node: onnx.NodeProto, weight_shape: tuple[int, ...]) -> int:
    if node.op_type == "Conv":
        return int(np.prod(weight_shape[1:]))
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return weight_shape[1] if trans_b else weight_shape[0]
    return weight_shape[0]  # MatMul: (in, out)


def _draw(rng: np.random.Generator, node: onnx.NodeProto, slot: int, shape, weight_shape) -> np.ndarray:
    if node.op_type == "BatchNormalization":
        if slot in (1, 4):  # scale, variance
            return rng.uniform(0.5, 1.5, shape)
        return rng.uniform(-0.1, 0.1, shape)  # shift, mean
    fan_in = _fan_in(node, weight_shape)
    if slot == 1:
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape)


def fill_cleared_weights(model: onnx.ModelProto, seed: int = SEED) -> onnx.ModelProto:
    """A copy of ``model`` with every cleared parameter drawn again (see the module docstring)."""
    filled = onnx.ModelProto()
    filled.CopyFrom(model)
    inits = {t.name: t for t in filled.graph.initializer}
    k = 0
    for node in filled.graph.node:
        slots = PARAMETER_SLOTS.get(node.op_type, ())
        weight = inits.get(node.input[1]) if len(node.input) > 1 else None
        weight_shape = tuple(weight.dims) if weight is not None else ()
        for slot in slots:
            tensor = inits.get(node.input[slot]) if slot < len(node.input) else None
            if tensor is None or not _cleared(tensor):
                continue
            shape = tuple(tensor.dims)
            values = _draw(np.random.default_rng([seed, k]), node, slot, shape, weight_shape)
            tensor.CopyFrom(numpy_helper.from_array(values.astype(np.float32), tensor.name))
            k += 1
    if any(_cleared(t) for t in filled.graph.initializer):
        raise ValueError("a cleared initializer is not a Conv, Gemm, MatMul or BatchNormalization parameter")
    return filled


def load_zoo_model(name: str) -> onnx.ModelProto:
    """The zoo model ``name`` with its weights (filled again if the file was committed without)."""
    model = onnx.load(ZOO / f"{name}.onnx")
    return fill_cleared_weights(model) if has_cleared_weights(model) else model
