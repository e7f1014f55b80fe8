"""Reductions over sample axes and the normalizations built on them: ``reducesum``,
``reducemax``, the float-only ``reducemean`` and ``softmax`` (ReduceSum, ReduceMean, ReduceMax,
Softmax, LayerNormalization).

Semantics on integers (attrs ``axes``: sorted sample axes, the batch axis not counted;
``keepdims``: 0 or 1, as ONNX's):

    reducesum   the sum over ``axes``; scale s; a linear combination (no constraint).
    reducemax   the maximum over ``axes``; scale s; a tree of comparisons, k - 1 of them
                (bits + 3 constraints each) per output for k reduced elements.
    reducemean  (float only) a ``reducesum`` divided by the count k: read at scale s + m for
                k = 2**m, else a ``mul`` by round(2**t / k) and a rescale (``mean_of_sum``).
    softmax     (float only) attr ``axis``: ``e / sum(e)`` with ``e = expneg(x - max(x))``
                over the axis, quantized as ``reducemax``, ``sub``, ``expneg``
                (``prover.onnx.ops.transcendental``: e^z on z <= 0, a piecewise polynomial
                within 0.75 units of 2**-t, t = act_bits - 2), ``reducesum`` and ``div``
                (rounded to nearest, at scale act_bits - 2). The quantizer knows what interval
                arithmetic cannot: x - max(x) <= 0, so expneg's upper clip is dropped, and the
                sum holds e(0) = 2**t, so the divisor is at least 2**t.

LayerNormalization (opset 17) over the axes from ``axis`` on, with ``epsilon``, scale and bias,
is imported as the ops its decomposition gives (the form older exporters write, which imports
the same): ``mean = reducemean(x)``, ``c = x - mean``, ``var = reducemean(c * c)``,
``y = c / sqrt(var + epsilon) * scale + bias``. The square, the variance and the variance plus
epsilon feed a square root, so they are quantized at twice the activation bits
(``quantize.wide_tensors``).

A Softmax at the end of a classifier is still cut by ``prover.onnx.tail`` (it keeps the argmax),
and so is a trailing LogSoftmax; a LogSoftmax elsewhere needs a logarithm and is refused there.
"""

from __future__ import annotations

import numpy as np

from prover.circuit import gadgets as G
from prover.circuit.builder import LinComb, Value
from prover.errors import UnsupportedModelError
from prover.onnx.graph import Op
from prover.onnx.ops.arithmetic import divided
from prover.onnx.ops.elementwise import mean_of_sum
from prover.onnx.ops.registry import OpSpec, register, register_onnx
from prover.onnx.ops.transcendental import fixed_point, quantize_transcendental

# --- semantics -------------------------------------------------------------------------------


def _batch_axes(axes) -> tuple[int, ...]:
    return tuple(a + 1 for a in axes)


def execute_reducesum(x, *, axes, keepdims, **_):
    return x.sum(axis=_batch_axes(axes), keepdims=bool(keepdims))


def execute_reducemax(x, *, axes, keepdims, **_):
    return x.max(axis=_batch_axes(axes), keepdims=bool(keepdims))


def execute_reducemean(x, *, axes, keepdims, **_):
    return x.mean(axis=_batch_axes(axes), keepdims=bool(keepdims))


def execute_softmax(x, *, axis, **_):
    e = np.exp(x - x.max(axis=axis + 1, keepdims=True))
    return e / e.sum(axis=axis + 1, keepdims=True)


# --- quantization ----------------------------------------------------------------------------


def _count(shape, axes) -> int:
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


def quantize_reducesum(qz, op: Op):
    x = op.inputs[0]
    k = _count(qz.f.tensors[x].shape, op.attrs["axes"])
    lo, hi = qz.exact[x]
    qz.requantize(Op(op.kind, op.inputs, op.output, dict(op.attrs), op.source), qz.scale(x), (k * lo, k * hi))


def quantize_reducemean(qz, op: Op):
    x = op.inputs[0]
    k = _count(qz.f.tensors[x].shape, op.attrs["axes"])
    lo, hi = qz.exact[x]
    mean_of_sum(qz, Op("reducesum", op.inputs, op.output, dict(op.attrs), op.source), k, qz.scale(x), (k * lo, k * hi))


def quantize_reducemax(qz, op: Op):
    qz.keep_scale(op, qz.exact[op.inputs[0]])


def quantize_softmax(qz, op: Op):
    """reducemax, sub, expneg, reducesum and div, with the intervals softmax guarantees."""
    x, out, src = op.inputs[0], op.output, op.source
    axis = op.attrs["axis"]
    shape = qz.f.tensors[x].shape
    row = tuple(1 if i == axis else d for i, d in enumerate(shape))
    k = shape[axis]
    s, (lo, hi) = qz.scale(x), qz.exact[x]
    top, shifted, exp, total = (f"{out}:{part}" for part in ("max", "shifted", "exp", "sum"))
    reduce = {"axes": (axis,), "keepdims": 1}
    qz.graph.ops.append(Op("reducemax", (x,), top, dict(reduce), src))
    qz.declare(top, row, s, (lo, hi))
    qz.graph.ops.append(Op("sub", (x, top), shifted, {"shifts": (0, 0)}, src))
    qz.declare(shifted, shape, s, (lo - hi, 0))  # x - max(x) <= 0
    quantize_transcendental(qz, Op("expneg", (shifted,), exp, {}, src), shape)
    e_lo, e_hi = qz.exact[exp]
    e_top = int(fixed_point(np.zeros(1, dtype=np.int64), **qz.graph.ops[-1].attrs)[0])  # e at x = max(x)
    qz.graph.ops.append(Op("reducesum", (exp,), total, dict(reduce), src))
    t = qz.scale(exp)
    sum_interval = (e_top + (k - 1) * e_lo, k * e_hi)
    qz.declare(total, row, t, sum_interval)
    divided(qz, op, exp, t, (e_lo, e_hi), total, qz.p.act_bits - 2, shape, sum_interval)


# --- lowering --------------------------------------------------------------------------------


def _rows(low, op: Op) -> LinComb:
    """The operand with the kept axes first, flattened to one row per output element and the
    reduced elements on the last axis."""
    x = low.values[op.inputs[0]].lc
    axes = op.attrs["axes"]
    kept = [i for i in range(len(x.shape)) if i not in axes]
    return x.transpose(*kept, *axes).reshape(-1, _count(x.shape, axes))


def lower_reducesum(b, low, op: Op) -> Value:
    return Value(_rows(low, op).sum().reshape(low.graph.tensors[op.output].shape))


def lower_reducemax(b, low, op: Op) -> Value:
    bits = low.graph.tensors[op.inputs[0]].quantized_bits
    m = G.max_reduce(b, _rows(low, op), bits)
    return Value(LinComb.of(m.reshape(low.graph.tensors[op.output].shape)))


register(OpSpec("reducesum", (1,), execute_reducesum, quantize_reducesum, lower_reducesum))
register(OpSpec("reducemax", (1,), execute_reducemax, quantize_reducemax, lower_reducemax))
register(
    OpSpec(
        "reducemean",
        (1,),
        execute_reducemean,
        quantize_reducemean,
        stage="float",
        quantized_as=("reducesum", "mul", "rescale"),
    )
)
register(
    OpSpec(
        "softmax",
        (1,),
        execute_softmax,
        quantize_softmax,
        stage="float",
        quantized_as=("reducemax", "sub", "expneg", "reducesum", "div"),
    )
)

# --- ONNX ------------------------------------------------------------------------------------


def _sample_axes(im, axes, rank: int, what: str) -> tuple[int, ...]:
    """ONNX axes of a (batch, ...) tensor of ``rank`` as sorted sample axes; the batch axis is
    refused."""
    full = sorted({int(a) % rank for a in axes})
    if 0 in full:
        raise UnsupportedModelError(
            f"node {im.where}: {what} over the batch axis mixes samples; the circuit proves one sample at "
            "a time: reduce over the sample's axes only"
        )
    return tuple(a - 1 for a in full)


def _import_reduce(im, node, kind: str) -> None:
    """Axes as an attribute (opset 13, except ReduceSum) or as the second input (ReduceSum-13,
    every reduction from opset 18); ``keepdims``; ``noop_with_empty_axes`` (an identity)."""
    attrs = im.attrs(node)
    x, out = im.tensor_input(node.input[0]), node.output[0]
    if "axes" in attrs:
        axes = list(attrs["axes"])
    elif len(node.input) > 1 and node.input[1]:
        axes = np.asarray(im.need_const(node.input[1], f"{node.op_type}'s axes")).reshape(-1).tolist()
    else:
        axes = []
    if not axes:
        if attrs.get("noop_with_empty_axes", 0):
            im.alias[out] = x
            return
        raise UnsupportedModelError(
            f"node {im.where}: {node.op_type} without axes reduces every axis, the batch axis among them; "
            "give the sample axes to reduce"
        )
    rank = len(im.graph.tensors[x].shape) + 1
    keepdims = int(attrs.get("keepdims", 1))
    im.emit(kind, [x], out, axes=_sample_axes(im, axes, rank, node.op_type), keepdims=keepdims)


def _reduce_rule(kind: str):
    def rule(im, node):
        _import_reduce(im, node, kind)

    return rule


for _op_type, _kind in (("ReduceSum", "reducesum"), ("ReduceMean", "reducemean"), ("ReduceMax", "reducemax")):
    register_onnx(_op_type, emits=(_kind,))(_reduce_rule(_kind))


@register_onnx("Softmax", emits=("softmax",))
def import_softmax(im, node):
    """Softmax (opset 13: over one axis) inside the graph; a trailing one is cut by
    ``prover.onnx.tail`` before the rules run."""
    x = im.tensor_input(node.input[0])
    rank = len(im.graph.tensors[x].shape) + 1
    (axis,) = _sample_axes(im, [im.attrs(node).get("axis", -1)], rank, "Softmax")
    im.emit("softmax", [x], node.output[0], axis=axis)


@register_onnx("LayerNormalization", emits=("reducemean", "sub", "mul", "add", "sqrt", "div"))
def import_layernorm(im, node):
    """LayerNormalization as its decomposition (module docstring)."""
    im.single_output(node)
    attrs = im.attrs(node)
    x, out = im.tensor_input(node.input[0]), node.output[0]
    shape = im.graph.tensors[x].shape
    rank = len(shape) + 1
    first = _sample_axes(im, [attrs.get("axis", -1)], rank, "LayerNormalization")[0]
    axes = tuple(range(first, len(shape)))
    row = shape[:first] + (1,) * len(axes)
    scale = im.need_const(node.input[1], "LayerNormalization's scale")
    bias = im.need_const(node.input[2], "LayerNormalization's bias") if len(node.input) > 2 and node.input[2] else None
    parts = ("mean", "centered", "square", "variance", "plus_eps", "std", "normalized", "scaled")
    mean, centered, square, var, plus_eps, std, normalized, scaled = (f"{out}:{part}" for part in parts)
    reduce = {"axes": axes, "keepdims": 1}
    im.emit("reducemean", [x], mean, out_shape=row, **reduce)
    im.emit("sub", [x, mean], centered, out_shape=shape)
    im.emit("mul", [centered, centered], square, out_shape=shape)
    im.emit("reducemean", [square], var, out_shape=row, **reduce)
    eps = im.add_constant(f"{out}:epsilon", np.float64(attrs.get("epsilon", 1e-5)))
    im.emit("add", [var, eps], plus_eps, out_shape=row)
    im.emit("sqrt", [plus_eps], std, out_shape=row)
    im.emit("div", [centered, std], normalized, out_shape=shape)
    last = out if bias is None else scaled
    im.emit("mul", [normalized, im.add_constant(f"{out}:scale", scale)], last, out_shape=shape)
    if bias is not None:
        im.emit("add", [scaled, im.add_constant(f"{out}:bias", bias)], out, out_shape=shape)
