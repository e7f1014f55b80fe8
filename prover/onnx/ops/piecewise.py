"""Piecewise-linear arithmetic: ``neg``, ``abs``, ``clip``, ``max``, ``min``, ``leakyrelu``,
``prelu`` (Neg, Abs, Clip and so ReLU6, Max, Min, LeakyRelu, PRelu).

Semantics on integers (``s`` is the operand's scale):

    neg        y = -x; scale s; free.
    abs        y = |x|; scale s; one constraint (the sign of x's range check, as ReLU reads it).
    clip       attrs ``low``, ``high`` (ints at scale s, or None): y = min(max(x, low), high);
               each bound costs a comparison (bits + 3 constraints), a bound outside x's
               interval costs nothing.
    max, min   attrs ``shifts = (la, lb)``: y = max(a * 2**la, b * 2**lb) (numpy broadcasting;
               the operand of smaller scale is shifted up, as for ``add``); a comparison.
    leakyrelu  attrs ``alpha`` (int), ``shift`` t: y = x * 2**t for x >= 0, ``alpha * x`` for
               x < 0; scale s + t, brought back by a ``rescale``; one constraint for the sign.
    prelu      inputs (x, slope), slope a constant broadcast against x (per channel or a
               scalar), attr ``shift`` t: ``leakyrelu`` with the slope read per element; the
               same one constraint.

On a float graph ``clip`` bounds and ``alpha`` are real numbers and ``shift`` is 0. A bound or a
slope is quantized at the operand's scale (bounds) or at ``weight_bits`` (the slope), rounding
to nearest, so a model whose bounds are not multiples of ``2**-s`` is clipped at the nearest
representable value.
"""

from __future__ import annotations

import numpy as np

from prover.circuit import gadgets as G
from prover.circuit.builder import LinComb, Value
from prover.errors import UnsupportedModelError
from prover.onnx.graph import Op, bits_for_range
from prover.onnx.ops.elementwise import aligned, shifted
from prover.onnx.ops.registry import OpSpec, register, register_onnx, register_unary_onnx

# --- semantics -------------------------------------------------------------------------------


def execute_neg(x, **_):
    return -x


def execute_abs(x, **_):
    return np.abs(x)


def execute_clip(x, *, low=None, high=None, **_):
    if low is not None:
        x = np.maximum(x, low)
    if high is not None:
        x = np.minimum(x, high)
    return x


def execute_max(a, b, *, shifts=(0, 0), **_):
    return np.maximum(shifted(a, shifts[0]), shifted(b, shifts[1]))


def execute_min(a, b, *, shifts=(0, 0), **_):
    return np.minimum(shifted(a, shifts[0]), shifted(b, shifts[1]))


def execute_leakyrelu(x, *, alpha, shift=0, **_):
    return np.where(x >= 0, shifted(x, shift), x * alpha)


def execute_prelu(x, slope, *, shift=0, **_):
    return execute_leakyrelu(x, alpha=slope, shift=shift)


# --- quantization ----------------------------------------------------------------------------


def quantize_neg(qz, op: Op):
    lo, hi = qz.interval[op.inputs[0]]
    qz.keep_scale(op, (-hi, -lo))


def quantize_abs(qz, op: Op):
    lo, hi = qz.interval[op.inputs[0]]
    interval = (lo, hi) if lo >= 0 else (-hi, -lo) if hi <= 0 else (0, max(-lo, hi))
    qz.keep_scale(op, interval)


def quantize_clip(qz, op: Op):
    """Bounds at the operand's scale, a bound outside x's interval dropped."""
    x = op.inputs[0]
    lo, hi = qz.interval[x]
    s = qz.scale(x)
    low, high = op.attrs.get("low"), op.attrs.get("high")
    if low is not None and high is not None and low > high:
        raise UnsupportedModelError(f"op clip ({op.source}): min {low} is above max {high}; export a valid Clip")
    # a bound that x's interval never crosses changes nothing (it may be a float's extreme)
    low = None if low is None or low * 2.0**s <= lo else qz.fixed_point(low, s)
    high = None if high is None or high * 2.0**s >= hi else qz.fixed_point(high, s)
    # clip is monotone: the interval's ends clipped bound its values
    ends = execute_clip(np.array([lo, hi], dtype=object), low=low, high=high)
    qz.keep_scale(Op("clip", op.inputs, op.output, {"low": low, "high": high}, op.source), (int(ends[0]), int(ends[1])))


def quantize_max_or_min(qz, op: Op):
    s, new, (alo, ahi), (blo, bhi) = aligned(qz, op)
    pick = max if op.kind == "max" else min
    qz.graph.ops.append(new)
    qz.declare(op.output, qz.f.tensors[op.output].shape, s, (pick(alo, blo), pick(ahi, bhi)))


def _slope_shift(qz, max_abs: float) -> int:
    """The scale t that gives a slope of magnitude up to ``max_abs`` weight_bits significant bits
    (at least scale 0)."""
    return max(qz.p.weight_bits - 1 - int(np.ceil(np.log2(max_abs))), 0) if max_abs else 0


def _sign_select_interval(x: tuple[int, int], t: int, slopes: tuple[int, int]) -> tuple[int, int]:
    """The interval of x * 2**t (x >= 0) or x * a (x < 0) for x in ``x`` and a in ``slopes``: each
    piece is linear, so its extremes are at the ends of its part of the interval."""
    lo, hi = x
    ends = [v << t for v in (max(lo, 0), hi) if v >= 0]
    ends += [v * a for v in (lo, min(hi, -1)) if v < 0 for a in slopes]
    return min(ends), max(ends)


def quantize_leakyrelu(qz, op: Op):
    """The slope to ``weight_bits`` at scale t, the output at s + t, then a rescale."""
    x = op.inputs[0]
    alpha = float(op.attrs["alpha"])
    t = _slope_shift(qz, abs(alpha))
    a = qz.fixed_point(alpha, t)
    new = Op("leakyrelu", (x,), op.output, {"alpha": a, "shift": t}, op.source)
    qz.requantize(new, qz.scale(x) + t, _sign_select_interval(qz.interval[x], t, (a, a)))


def quantize_prelu(qz, op: Op):
    """As ``leakyrelu``, with t fitted to the largest slope and every slope at scale t."""
    x, slope = op.inputs
    values = qz.f.constants[slope].values
    t = _slope_shift(qz, float(np.abs(values).max(initial=0.0)))
    c = qz.add_const(qz.constant(slope, values, t))
    q = qz.graph.constants[c].values
    new = Op("prelu", (x, c), op.output, {"shift": t}, op.source)
    qz.requantize(new, qz.scale(x) + t, _sign_select_interval(qz.interval[x], t, (int(q.min()), int(q.max()))))


# --- lowering --------------------------------------------------------------------------------


def _sign_bits(b, low, name: str, op: Op) -> np.ndarray:
    """The operand's sign bits: a rescale's, or a decomposition at the operand's bound."""
    x = low.values[name]
    if x.sign_bits is not None:
        return x.sign_bits
    return G.signed_bits(b, x.lc, low.graph.tensors[name].quantized_bits, what=f"{op.kind} ({op.source})")


def lower_neg(b, low, op: Op) -> Value:
    return Value(-low.values[op.inputs[0]].lc)


def lower_abs(b, low, op: Op) -> Value:
    x = op.inputs[0]
    return Value(G.sign_select(b, low.values[x].lc, _sign_bits(b, low, x, op), 1, -1))


def lower_leakyrelu(b, low, op: Op) -> Value:
    """``sign_select`` with slope 2**shift for x >= 0 and, for x < 0, attr ``alpha``
    (leakyrelu) or the slope constant read per element (prelu)."""
    x = op.inputs[0]
    a = op.attrs
    ndim = len(low.graph.tensors[op.output].shape)
    negative = a["alpha"] if op.kind == "leakyrelu" else low.operand(op.inputs[1], ndim)
    return Value(G.sign_select(b, low.values[x].lc, _sign_bits(b, low, x, op), 1 << a["shift"], negative))


def clipped(b, low, x: str, lo: int | None, hi: int | None) -> LinComb:
    """Tensor ``x`` clipped to [lo, hi] (a None bound is not applied): a comparison per bound,
    at the width of x's bound or of the bound's value, whichever is wider."""
    y = low.values[x].lc
    bits = max([low.graph.tensors[x].quantized_bits] + [bits_for_range(v, v) for v in (lo, hi) if v is not None])
    if lo is not None:
        y = LinComb.of(G.maximum(b, y, LinComb.constant(np.full(y.shape, lo, dtype=np.int64)), bits))
    if hi is not None:
        y = G.minimum(b, y, LinComb.constant(np.full(y.shape, hi, dtype=np.int64)), bits)
    return y


def lower_clip(b, low, op: Op) -> Value:
    return Value(clipped(b, low, op.inputs[0], op.attrs.get("low"), op.attrs.get("high")))


def lower_max_or_min(b, low, op: Op) -> Value:
    ndim = len(low.graph.tensors[op.output].shape)
    shifts = op.attrs.get("shifts", (0, 0))
    operands, bits = [], []
    for name, shift in zip(op.inputs, shifts):
        u = low.operand(name, ndim)
        if isinstance(u, LinComb):
            operands.append(u * (1 << shift))
            bits.append(low.graph.tensors[name].quantized_bits + shift)
        else:
            c = np.asarray(u, dtype=np.int64) << shift
            operands.append(LinComb.constant(c))
            bits.append(bits_for_range(int(c.min(initial=0)), int(c.max(initial=0))))
    u, v = operands
    if op.kind == "max":
        return Value(LinComb.of(G.maximum(b, u, v, max(bits))))
    return Value(G.minimum(b, u, v, max(bits)))


register(OpSpec("neg", (1,), execute_neg, quantize_neg, lower_neg))
register(OpSpec("abs", (1,), execute_abs, quantize_abs, lower_abs))
register(OpSpec("clip", (1,), execute_clip, quantize_clip, lower_clip))
register(OpSpec("max", (2,), execute_max, quantize_max_or_min, lower_max_or_min))
register(OpSpec("min", (2,), execute_min, quantize_max_or_min, lower_max_or_min))
register(OpSpec("leakyrelu", (1,), execute_leakyrelu, quantize_leakyrelu, lower_leakyrelu))
register(OpSpec("prelu", (2,), execute_prelu, quantize_prelu, lower_leakyrelu))

# --- ONNX ------------------------------------------------------------------------------------


register_unary_onnx("Neg", "neg")


register_unary_onnx("Abs", "abs")


@register_onnx("Clip", emits=("clip",))
def import_clip(im, node):
    """Clip of opset 11 and later: ``min`` and ``max`` are optional constant inputs (ReLU6 is
    Clip(0, 6))."""
    bounds = []
    for i, what in ((1, "Clip's min"), (2, "Clip's max")):
        if len(node.input) > i and node.input[i]:
            bounds.append(float(np.asarray(im.need_const(node.input[i], what)).reshape(-1)[0]))
        else:
            bounds.append(None)
    im.emit("clip", [im.tensor_input(node.input[0])], node.output[0], low=bounds[0], high=bounds[1])


def _import_max_or_min(im, node, kind: str):
    if len([n for n in node.input if n]) != 2:
        raise UnsupportedModelError(
            f"node {im.where}: {node.op_type} of {len(node.input)} operands; the compiler takes two "
            f"(export a chain of two-operand {node.op_type} nodes)"
        )
    out = node.output[0]
    im.emit(kind, [im.operand(name, out) for name in node.input], out)


@register_onnx("Max", emits=("max",))
def import_max(im, node):
    _import_max_or_min(im, node, "max")


@register_onnx("Min", emits=("min",))
def import_min(im, node):
    _import_max_or_min(im, node, "min")


@register_onnx("LeakyRelu", emits=("leakyrelu",))
def import_leakyrelu(im, node):
    alpha = float(im.attrs(node).get("alpha", 0.01))
    im.emit("leakyrelu", [im.tensor_input(node.input[0])], node.output[0], alpha=alpha, shift=0)


@register_onnx("PRelu", emits=("prelu",))
def import_prelu(im, node):
    """The slope must be constant: one per channel (broadcast against x) or a scalar."""
    out = node.output[0]
    slope = im.per_sample(im.need_const(node.input[1], "PRelu's slope"), out)
    x = im.tensor_input(node.input[0])
    try:
        np.broadcast_shapes(slope.shape, im.graph.tensors[x].shape)
    except ValueError:
        raise UnsupportedModelError(
            f"node {im.where}: PRelu slope of shape {slope.shape} does not broadcast against x of per-sample "
            f"shape {im.graph.tensors[x].shape}; export one slope per channel"
        ) from None
    im.emit("prelu", [x, im.add_constant(node.input[1], slope)], out)
