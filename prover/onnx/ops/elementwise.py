"""Element-wise arithmetic: ``add``, ``sub``, ``mul``, ``relu`` (Add, Sub, Mul, Relu) and the
quantizer's ``rescale``.

``add``/``sub`` shift the operand of smaller scale up and cost nothing in the circuit; ``mul``
of two tensors costs one constraint per element (``x * x`` is the quadratic activation), by a
constant nothing; ``relu`` reads the sign bit of its operand's range check (one constraint);
``rescale`` is the floor shift whose output bound is range checked.
"""

from __future__ import annotations

import numpy as np

from prover.circuit import gadgets as G
from prover.circuit.builder import LinComb, Value
from prover.onnx.graph import Constant, Op, bits_for_range
from prover.onnx.ops.linear import fold_bias, product_interval
from prover.onnx.ops.registry import OpSpec, register, register_onnx, register_unary_onnx

# --- semantics -------------------------------------------------------------------------------


def execute_rescale(x, *, shift, **_):
    return x >> shift


def execute_relu(x, **_):
    return np.maximum(x, 0)


def execute_mul(a, b, **_):
    return a * b


def shifted(v, left):
    """v times 2**left: a shift of integers, a product of floats."""
    return v << left if v.dtype.kind == "i" else v * float(2**left)


def execute_add(a, b, *, shifts=(0, 0), **_):
    return shifted(a, shifts[0]) + shifted(b, shifts[1])


def execute_sub(a, b, *, shifts=(0, 0), **_):
    return shifted(a, shifts[0]) - shifted(b, shifts[1])


# --- quantization ----------------------------------------------------------------------------


def quantize_relu(qz, op: Op):
    qz.keep_scale(op, (0, max(qz.interval[op.inputs[0]][1], 0)))


def quantize_mul(qz, op: Op):
    a, b = op.inputs
    if a == b:  # the quadratic activation: a square is never negative
        lo, hi = qz.interval[a]
        qz.requantize(Op("mul", (a, a), op.output, {}, op.source), 2 * qz.scale(a), (0, max(lo * lo, hi * hi)))
        return
    names, ranges, scales = [], [], []
    for name in (a, b):
        if name in qz.graph.tensors:
            names.append(name)
            ranges.append(qz.interval[name])
            scales.append(qz.scale(name))
        else:
            c = qz.weight(name)
            names.append(c.name)
            ranges.append((int(c.values.min()), int(c.values.max())))
            scales.append(c.scale)
    qz.requantize(Op("mul", tuple(names), op.output, {}, op.source), sum(scales), product_interval(*ranges))


def aligned(qz, op: Op, keep_positive: bool = False) -> tuple[int, Op, tuple[int, int], tuple[int, int]]:
    """A two-operand op at its operands' common scale s (the larger tensor scale): a constant
    operand is quantized at s (``Quantizer.operand``, ``keep_positive``), a tensor of smaller
    scale is shifted up (attr ``shifts``). Returns s, the quantized op, and the operands'
    intervals after the shifts."""
    a, b = op.inputs
    s = max(qz.scale(n) for n in (a, b) if n in qz.graph.tensors)
    (na, (alo, ahi)), (nb, (blo, bhi)) = (qz.operand(n, s, keep_positive) for n in (a, b))
    la = s - qz.scale(na) if na in qz.graph.tensors else 0
    lb = s - qz.scale(nb) if nb in qz.graph.tensors else 0
    new = Op(op.kind, (na, nb), op.output, {"shifts": (la, lb)}, op.source)
    return s, new, (alo << la, ahi << la), (blo << lb, bhi << lb)


def quantize_add_or_sub(qz, op: Op):
    # a positive constant below a wide tensor's resolution (a LayerNorm's epsilon) is kept as
    # one unit, so that the square root of the sum stays a positive divisor
    s, new, (alo, ahi), (blo, bhi) = aligned(qz, op, keep_positive=op.kind == "add" and op.output in qz.wide)
    interval = (alo + blo, ahi + bhi) if op.kind == "add" else (alo - bhi, ahi - blo)
    qz.requantize(new, s, interval)


def mean_of_sum(qz, total: Op, k: int, s: int, interval: tuple[int, int]):
    """The mean of k values: ``total``, the op summing them at scale s with ``interval`` and
    writing the float mean's name, read at scale s + m when k = 2**m (no division at all);
    otherwise the sum, then a ``mul`` by the constant round(2**t / k), t = weight_bits - 1 + m
    (plus the extra bits of a wide tensor, ``Quantizer.width``), and its rescale: the factor
    errs by at most 2**-(t+1) relative to 1/k times 2**t."""
    out = total.output
    m = k.bit_length() - 1
    if k == 1 << m:
        qz.requantize(total, s + m, interval)
        return
    summed = f"{out}:sum"
    qz.graph.ops.append(Op(total.kind, total.inputs, summed, dict(total.attrs), total.source))
    qz.declare(summed, qz.f.tensors[out].shape, s, interval)
    t = qz.p.weight_bits + qz.width(out) - qz.p.act_bits - 1 + m
    factor = round(2**t / k)
    c = qz.add_const(Constant(f"{out}:1/{k}", np.array(factor, dtype=np.int64), t, bits_for_range(0, factor)))
    qz.requantize(Op("mul", (summed, c), out, {}, total.source), s + t, (interval[0] * factor, interval[1] * factor))


# --- lowering --------------------------------------------------------------------------------


def lower_rescale(b, low, op: Op) -> Value:
    out = low.graph.tensors[op.output]
    q, bits = G.rescale(b, low.values[op.inputs[0]].lc, op.attrs["shift"], out.quantized_bits)
    return Value(LinComb.of(q), bits)


def lower_relu(b, low, op: Op) -> Value:
    x = low.values[op.inputs[0]]
    bits = x.sign_bits
    if bits is None:  # the operand's bound holds by construction; decompose to get the sign
        bits = G.signed_bits(b, x.lc, low.graph.tensors[op.inputs[0]].quantized_bits, what=f"relu ({op.source})")
    return Value(LinComb.of(G.relu(b, x.lc, bits)))


def lower_mul(b, low, op: Op) -> Value:
    ndim = len(low.graph.tensors[op.output].shape)
    u, v = (low.operand(n, ndim) for n in op.inputs)
    if isinstance(u, LinComb) and isinstance(v, LinComb):
        return Value(LinComb.of(G.multiply(b, u, v)))
    lc, const = (u, v) if isinstance(u, LinComb) else (v, u)
    return Value(lc * const)


def lower_add_or_sub(b, low, op: Op) -> Value:
    ndim = len(low.graph.tensors[op.output].shape)
    la, lb = op.attrs.get("shifts", (0, 0))
    u, v = (low.operand(n, ndim) for n in op.inputs)
    u = u * (1 << la) if isinstance(u, LinComb) else LinComb.constant(np.asarray(u, dtype=np.int64) << la)
    v = v * (1 << lb) if isinstance(v, LinComb) else LinComb.constant(np.asarray(v, dtype=np.int64) << lb)
    return Value(u + v if op.kind == "add" else u - v)


register(OpSpec("rescale", (1,), execute_rescale, None, lower_rescale, stage="quantized"))
register(OpSpec("relu", (1,), execute_relu, quantize_relu, lower_relu))
register(OpSpec("mul", (2,), execute_mul, quantize_mul, lower_mul))
register(OpSpec("add", (2,), execute_add, quantize_add_or_sub, lower_add_or_sub))
register(OpSpec("sub", (2,), execute_sub, quantize_add_or_sub, lower_add_or_sub))

# --- ONNX ------------------------------------------------------------------------------------


def _import_elementwise(im, node, kind: str):
    a, b = node.input
    out = node.output[0]
    ca, cb = im.const(a), im.const(b)
    if kind in ("add", "sub") and cb is not None and fold_bias(im, a, cb if kind == "add" else -cb, out):
        return
    if kind == "add" and ca is not None and fold_bias(im, b, ca, out):
        return
    im.emit(kind, [im.operand(a, out), im.operand(b, out)], out)


@register_onnx("Add", emits=("add",))
def import_add(im, node):
    """Add; a constant per-channel offset after a dense/conv is folded into its bias."""
    _import_elementwise(im, node, "add")


@register_onnx("Sub", emits=("sub",))
def import_sub(im, node):
    _import_elementwise(im, node, "sub")


@register_onnx("Mul", emits=("mul",))
def import_mul(im, node):
    _import_elementwise(im, node, "mul")


register_unary_onnx("Relu", "relu")
