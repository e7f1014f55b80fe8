"""Data movement: ops that only move values, so that in the circuit they are a rewiring of
linear combinations at zero constraints, and keep their operand's scale and interval when
quantized. Also the ONNX operators that name things (Identity) or make constants (Constant).

    reshape  Flatten, Reshape   the same values in C order, another shape
"""

from __future__ import annotations

import numpy as np
from onnx import numpy_helper

from prover.circuit.builder import Value
from prover.errors import UnsupportedModelError
from prover.onnx.graph import Op
from prover.onnx.ops import OpSpec, register, register_onnx

# --- semantics, quantization, lowering -------------------------------------------------------


def execute_reshape(x, *, shape, **_):
    return x.reshape((x.shape[0],) + tuple(shape))


def quantize_moved(qz, op: Op):
    """A data movement keeps its operand's scale; its values are a subset of the operand's, so
    the operand's interval bounds them."""
    qz.keep_scale(op, qz.interval[op.inputs[0]])


def lower_reshape(b, low, op: Op) -> Value:
    return Value(low.values[op.inputs[0]].lc.reshape(tuple(op.attrs["shape"])))


register(OpSpec("reshape", (1,), execute_reshape, quantize_moved, lower_reshape))

# --- ONNX ------------------------------------------------------------------------------------


def _import_reshape(im, node):
    x = im.tensor_input(node.input[0])
    im.emit("reshape", [x], node.output[0], shape=im.sample_shape(node.output[0]))


@register_onnx("Flatten", emits=("reshape",))
def import_flatten(im, node):
    _import_reshape(im, node)


@register_onnx("Reshape", emits=("reshape",))
def import_reshape(im, node):
    im.need_const(node.input[1], "Reshape's target shape")
    _import_reshape(im, node)


@register_onnx("Identity")
def import_identity(im, node):
    im.alias[node.output[0]] = im.resolve(node.input[0])


@register_onnx("Constant")
def import_constant(im, node):
    attrs = im.attrs(node)
    if "value" in attrs:
        value = numpy_helper.to_array(attrs["value"])
    elif attrs.keys() & {"value_float", "value_floats", "value_int", "value_ints"}:
        value = np.asarray(next(iter(attrs.values())))
    else:
        raise UnsupportedModelError(f"node {im.where}: Constant of kind {sorted(attrs)} is not supported")
    im.values[node.output[0]] = value
