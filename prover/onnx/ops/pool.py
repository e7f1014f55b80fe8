"""Pooling: ``maxpool``, ``sumpool`` and the float-only ``avgpool`` (MaxPool, AveragePool,
GlobalAveragePool), and the window geometry they share with ``conv``.

A max pool keeps its operand's scale and costs a tree of comparisons; a sum pool is a linear
combination (no constraint); an average over ``k = 2**m`` elements is quantized as a sum pool
read at scale ``s + m``, any other ``k`` as a sum pool times the constant ``round(2**t / k)``.

A ReduceMean over the two spatial axes of an (N, C, H, W) tensor is a global average pool (the
dynamo exporter's spelling of ``AdaptiveAvgPool2d(1)``): ``spatial_means_as_pools`` rewrites it
to GlobalAveragePool (and a Flatten for ``keepdims=0``) before the importer checks the operators.
Any other ReduceMean is left to its own rule (``reduce.py``); this one imports as the same
``avgpool`` that the TorchScript exporter's GlobalAveragePool does, so both exports of one net
import to one graph.
"""

from __future__ import annotations

import numpy as np

from prover.circuit import gadgets as G
from prover.circuit.builder import LinComb, Value
from prover.errors import UnsupportedModelError
from prover.onnx.graph import Op
from prover.onnx.ops.elementwise import mean_of_sum
from prover.onnx.ops.registry import OpSpec, register, register_onnx
from prover.onnx.windows import windows

# --- semantics -------------------------------------------------------------------------------


def execute_maxpool(x, *, kernel, strides, pads, **_):
    # padding must never win: fill it with the smallest value of the dtype
    low = np.iinfo(x.dtype).min if x.dtype.kind == "i" else -np.inf
    return windows(x, kernel, strides, pads, pad_value=low).max(axis=(4, 5))


def execute_sumpool(x, *, kernel, strides, pads, **_):
    return windows(x, kernel, strides, pads).sum(axis=(4, 5))


def execute_avgpool(x, *, kernel, strides, pads, **_):
    return execute_sumpool(x, kernel=kernel, strides=strides, pads=pads) / (kernel[0] * kernel[1])


# --- quantization ----------------------------------------------------------------------------


def quantize_maxpool(qz, op: Op):
    qz.keep_scale(op, qz.interval[op.inputs[0]])


def quantize_sumpool(qz, op: Op):
    k = op.attrs["kernel"][0] * op.attrs["kernel"][1]
    lo, hi = qz.interval[op.inputs[0]]
    qz.requantize(
        Op("sumpool", op.inputs, op.output, dict(op.attrs), op.source), qz.scale(op.inputs[0]), (k * lo, k * hi)
    )


def quantize_avgpool(qz, op: Op):
    x = op.inputs[0]
    k = op.attrs["kernel"][0] * op.attrs["kernel"][1]
    lo, hi = qz.interval[x]
    attrs = {key: op.attrs[key] for key in ("kernel", "strides", "pads")}
    mean_of_sum(qz, Op("sumpool", (x,), op.output, attrs, op.source), k, qz.scale(x), (k * lo, k * hi))


# --- lowering --------------------------------------------------------------------------------


def _pool_args(low, op: Op) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    a = op.attrs
    return low.graph.tensors[op.inputs[0]].shape, a["kernel"], a["strides"], a["pads"]


def lower_maxpool(b, low, op: Op) -> Value:
    x = low.values[op.inputs[0]].lc
    bits = low.graph.tensors[op.inputs[0]].quantized_bits
    return Value(LinComb.of(G.max_pool(b, x, *_pool_args(low, op), bits=bits)))


def lower_sumpool(b, low, op: Op) -> Value:
    return Value(G.sum_pool(low.values[op.inputs[0]].lc, *_pool_args(low, op)))


register(OpSpec("maxpool", (1,), execute_maxpool, quantize_maxpool, lower_maxpool))
register(OpSpec("sumpool", (1,), execute_sumpool, quantize_sumpool, lower_sumpool))
register(
    OpSpec(
        "avgpool", (1,), execute_avgpool, quantize_avgpool, stage="float", quantized_as=("sumpool", "mul", "rescale")
    )
)

# --- ONNX ------------------------------------------------------------------------------------


@register_onnx("MaxPool", emits=("maxpool",))
def import_maxpool(im, node):
    im.single_output(node)
    attrs = im.attrs(node)
    # ceil_mode's overhang is more padding: it never wins a max
    win = im.window_attrs(node, attrs.get("kernel_shape", ()), ceil_pads=True)
    if win["dilations"] != (1, 1):
        raise UnsupportedModelError(f"node {im.where}: MaxPool with dilations is not supported")
    im.emit("maxpool", [win["x"]], node.output[0], kernel=win["kernel"], strides=win["strides"], pads=win["pads"])


@register_onnx("AveragePool", emits=("avgpool",))
def import_averagepool(im, node):
    attrs = im.attrs(node)
    win = im.window_attrs(node, attrs.get("kernel_shape", ()))
    if win["dilations"] != (1, 1):  # an attribute since opset 19
        raise UnsupportedModelError(f"node {im.where}: AveragePool with dilations is not supported")
    if any(win["pads"]) and not attrs.get("count_include_pad", 0):
        raise UnsupportedModelError(
            f"node {im.where}: AveragePool with padding and count_include_pad=0 divides border "
            "windows by different counts; export with count_include_pad=1 or without padding"
        )
    im.emit("avgpool", [win["x"]], node.output[0], kernel=win["kernel"], strides=win["strides"], pads=win["pads"])


@register_onnx("GlobalAveragePool", emits=("avgpool",))
def import_global_averagepool(im, node):
    x = im.tensor_input(node.input[0])
    xs = im.sample_shape(x)
    if len(xs) != 3:
        raise UnsupportedModelError(f"node {im.where}: GlobalAveragePool needs a (C, H, W) input")
    im.emit("avgpool", [x], node.output[0], kernel=xs[1:], strides=(1, 1), pads=(0, 0, 0, 0))
