"""Saturating transcendental functions: ``sigmoid`` and ``tanh`` (Sigmoid, Tanh) as piecewise
polynomials with a proven error bound, and HardSigmoid and HardSwish as existing kinds; and
``expneg``, e^x saturated at 1 above 0, that a softmax applies to x - max(x) <= 0
(``prover.onnx.ops.reduce``; the table's upper half is the constant 1, and e(0) = 2**t exactly).

Semantics on integers (``s`` is the operand's scale, ``t`` the output's; attrs of the op):

    sigmoid, tanh  attrs ``low``, ``high`` (the clip to [-T, T), ints at scale s, or None when
                   x's interval lies inside it), ``offset`` T = 2**(p + s), ``bits`` n = p + 1 + s,
                   ``segments`` m, ``drop``, ``coeffs`` (2**m rows of d + 1 ints at scale F,
                   lowest degree first) and ``shift``:

                       X   = min(max(x, low), high)          u = X + T in [0, 2**n)
                       seg = u >> (n - m)                     r = (u >> drop) mod 2**L,  L = n - m - drop
                       acc = c[seg][d];  acc = acc * r + c[seg][j] * 2**(L * (d - j))  for j = d-1..0
                       y   = (acc + 2**(shift - 1)) >> shift  (round to nearest, scale t)

                   so y = round(2**t * P_seg(r / 2**L)) where P_seg is segment seg's polynomial in
                   the position inside the segment. The table is fitted at the quantizer (least
                   squares per segment on the representable points, rounded to scale
                   F = t + 4); ``drop`` = max(0, s - t - 2) ignores input bits the output does
                   not resolve. T is the least power of two from which on (and from T - 2**-s on)
                   the function is within a quarter of an output unit (2**-t) of its limit; among degrees d = 1..3 and
                   segment bits m <= 8, the table is the cheapest whose worst error over *every*
                   representable input of [-T, T), computed exhaustively at quantization, is at
                   most ``MAX_ERROR`` = 0.75 output units (so at most 1 unit over any input,
                   saturation included). The output scale is t = act_bits - 2 (sigmoid in
                   [0, 1], tanh in [-1, 1]); its interval is the exact minimum and maximum of y
                   over x's interval, and the rescale range checks it.

Cost per element (``cost``): the clip (bits + 3 constraints per bound, nothing when x's interval
lies in [-T, T)), the decomposition of u (n + 1), the one-hot of the m segment bits
(2**m - m - 1), one product per Horner step (d) and the output's rescale (shift + bits(y) + 2);
the coefficients are linear combinations of the one-hot, so selecting them is free. At input
scale 8 (errors in units of 2**-t, t = act_bits - 2):

    act_bits   sigmoid: m, d, error, constraints    tanh: m, d, error, constraints
       8             3, 2, 0.63, 51                      3, 2, 0.75, 48
      12             5, 3, 0.57, 85                      5, 3, 0.55, 81
      16             6, 3, 0.57, 117                     6, 3, 0.57, 113

HardSigmoid(x) = max(0, min(1, alpha * x + beta)) is imported as ``mul`` by alpha, ``add`` of
beta and ``clip`` to [0, 1]; HardSwish(x) = x * HardSigmoid(x) with alpha = 1/6 and beta = 1/2
adds a ``mul`` of two tensors (one constraint).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from prover.circuit import gadgets as G
from prover.circuit.builder import LinComb, Value
from prover.errors import UnsupportedModelError
from prover.onnx.graph import Op
from prover.onnx.ops.piecewise import clipped, execute_clip
from prover.onnx.ops.registry import OpSpec, register, register_onnx, register_unary_onnx

MAX_DEGREE = 3
MAX_ERROR = 0.75  # output units (2**-t), worst case over every representable input
MAX_SEGMENT_BITS = 8
MAX_ACC_BITS = 60  # the Horner accumulator stays exact in int64
EXTRA_COEFF_BITS = 4  # F = t + 4


def _sigmoid(v):
    return 0.5 * (1.0 + np.tanh(0.5 * v))  # 1 / (1 + e^-v) without overflow


def _expneg(v):
    return np.exp(np.minimum(v, 0.0))  # e^x on x <= 0 (softmax's x - max), saturated at 1 above


FUNCTIONS: dict[str, Callable[[Any], Any]] = {"sigmoid": _sigmoid, "tanh": np.tanh, "expneg": _expneg}


# --- semantics -------------------------------------------------------------------------------


def fixed_point(x, *, low, high, offset, bits, segments, drop, coeffs, shift):
    """The integer semantics above, on int64 arrays."""
    u = execute_clip(x, low=low, high=high) + offset
    table = np.asarray(coeffs, dtype=np.int64)
    length = bits - segments - drop
    seg = u >> (bits - segments)
    r = (u >> drop) & ((1 << length) - 1)
    d = table.shape[1] - 1
    acc = table[seg, d]
    for j in range(d - 1, -1, -1):
        acc = acc * r + (table[seg, j] << (length * (d - j)))
    return (acc + ((1 << shift) >> 1)) >> shift


def _executor(kind: str):
    def execute(x, **attrs):
        if x.dtype.kind == "f":
            return FUNCTIONS[kind](x)
        return fixed_point(x, **attrs)

    return execute


# --- quantization ----------------------------------------------------------------------------


def _saturation_bits(kind: str, s: int, t: int) -> int:
    """The least p >= -s with |f(x) - f(+-inf)| at most 2**-(t+2) from the clip's ends on
    (x >= 2**p - 2**-s, the largest value below T at scale s, and x <= -2**p): a clipped input
    then errs by at most a quarter of an output unit more than its clip."""
    f = FUNCTIONS[kind]
    bottom, top = f(np.array([-np.inf, np.inf]))
    p = max(0, -s)
    while max(abs(top - f(2.0**p - 2.0**-s)), abs(f(-(2.0**p)) - bottom)) > 2.0 ** -(t + 2):
        p += 1
    return p


def _fit(kind: str, s: int, t: int, p: int, m: int, drop: int, degree: int) -> dict:
    """The coefficient table for m segment bits: per segment, a least-squares polynomial in
    z = r / 2**L through the function at the representable points (at the middle of the 2**drop
    inputs that share an r), rounded to scale F."""
    n = p + 1 + s
    length = n - m - drop
    degree = min(degree, (1 << length) - 1)
    f = FUNCTIONS[kind]
    big_f = t + EXTRA_COEFF_BITS
    r = np.arange(1 << length)
    rows = []
    for seg in range(1 << m):
        u = (seg << (n - m)) + (r << drop) + ((1 << drop) - 1) / 2.0
        target = f((u - 2.0 ** (p + s)) * 2.0**-s)
        fit = np.polynomial.polynomial.polyfit(r / 2.0**length, target, degree) if degree else [target.mean()]
        rows.append(tuple(int(v) for v in np.floor(np.asarray(fit) * 2.0**big_f + 0.5)))
    return {
        "offset": 1 << (p + s),
        "bits": n,
        "segments": m,
        "drop": drop,
        "coeffs": tuple(rows),
        "shift": big_f + degree * length - t,
    }


def cost(attrs: dict, out_bits: int) -> int:
    """Constraints per element without the clip: u's decomposition, the one-hot, the Horner
    products and the output's rescale."""
    m, d = attrs["segments"], len(attrs["coeffs"][0]) - 1
    return attrs["bits"] + 1 + (1 << m) - m - 1 + d + attrs["shift"] + out_bits + 2


def exhaustive_error(kind: str, s: int, t: int, attrs: dict, lo: int, hi: int) -> tuple[float, int, int]:
    """The worst |y * 2**-t - f(x * 2**-s)| over every integer x in [lo, hi], in output units,
    and the least and greatest y."""
    x = np.arange(lo, hi + 1, dtype=np.int64)
    y = fixed_point(x, **attrs)
    err = np.abs(y - FUNCTIONS[kind](x * 2.0**-s) * 2.0**t).max(initial=0.0)
    return float(err), int(y.min()), int(y.max())


@cache
def design(kind: str, s: int, t: int) -> tuple[dict, float]:
    """The attrs (clip to [-T, T) included) of ``kind`` from scale s to scale t, and the worst
    error over [-T, T) in output units (outside it the function is saturated: the clip's error
    is below a quarter unit): the cheapest table (degree 1 to MAX_DEGREE, m up to
    MAX_SEGMENT_BITS) within MAX_ERROR. Raises UnsupportedModelError if there is none."""
    p = _saturation_bits(kind, s, t)
    n = p + 1 + s
    drop = max(0, s - (t + 2))  # input resolution beyond what the output resolves
    best: tuple[int, dict, float] | None = None
    for degree in range(1, MAX_DEGREE + 1):
        for m in range(1, min(MAX_SEGMENT_BITS, n - drop) + 1):
            length = n - m - drop
            if t + EXTRA_COEFF_BITS + degree * length + 3 > MAX_ACC_BITS:
                continue  # the accumulator would leave int64
            attrs = {"low": -(1 << (p + s)), "high": (1 << (p + s)) - 1, **_fit(kind, s, t, p, m, drop, degree)}
            error, _, _ = exhaustive_error(kind, s, t, attrs, attrs["low"], attrs["high"])
            if error <= MAX_ERROR:
                price = cost(attrs, t + 2)
                if best is None or price < best[0]:
                    best = (price, attrs, error)
                break  # more segments only cost more at this degree
    if best is None:
        raise UnsupportedModelError(
            f"{kind} at input scale {s} and output scale {t} needs more than 2**{MAX_SEGMENT_BITS} segments; "
            "quantize with fewer activation bits"
        )
    return best[1], best[2]


def quantize_transcendental(qz, op: Op, shape: tuple[int, ...] | None = None):
    """Output at scale act_bits - 2; the clip dropped where x's interval lies inside [-T, T);
    the interval is the exact range of y over x's interval. ``shape``: the output's, for a
    tensor the float graph does not have (a softmax's exponentials)."""
    x = op.inputs[0]
    s, (lo, hi) = qz.scale(x), qz.interval[x]
    t = qz.p.act_bits - 2
    attrs, _ = design(op.kind, s, t)
    attrs = dict(attrs)
    if lo >= attrs["low"]:
        attrs["low"] = None
    if hi <= attrs["high"]:
        attrs["high"] = None
    # every input of x's interval, clipped: the exact range of y
    _, ymin, ymax = exhaustive_error(op.kind, s, t, attrs, max(lo, -attrs["offset"]), min(hi, attrs["offset"] - 1))
    qz.graph.ops.append(Op(op.kind, op.inputs, op.output, attrs, op.source))
    qz.declare(op.output, qz.f.tensors[op.output].shape if shape is None else shape, t, (ymin, ymax), checked=True)


# --- lowering --------------------------------------------------------------------------------


def lower_transcendental(b, low, op: Op) -> Value:
    a = op.attrs
    lc = clipped(b, low, op.inputs[0], a["low"], a["high"])
    n, m, drop = a["bits"], a["segments"], a["drop"]
    what = f"{op.kind} ({op.source})"
    u_bits = G.unsigned_bits(b, lc + a["offset"], n, what=what)
    length = n - m - drop
    r = (LinComb.of(u_bits[..., drop : n - m]) * np.array([1 << i for i in range(length)], dtype=np.int64)).sum()
    e = G.one_hot(b, u_bits[..., n - m :])
    table = np.asarray(a["coeffs"], dtype=np.int64)
    d = table.shape[1] - 1

    def coefficient(j: int) -> LinComb:
        return (e * (table[:, j] << (length * (d - j)))).sum()

    acc = coefficient(d)
    for j in range(d - 1, -1, -1):
        acc = LinComb.of(G.multiply(b, acc, r)) + coefficient(j)
    out = low.graph.tensors[op.output]
    q, q_bits = G.rescale(b, acc + ((1 << a["shift"]) >> 1), a["shift"], out.quantized_bits)
    return Value(LinComb.of(q), q_bits)


register(OpSpec("sigmoid", (1,), _executor("sigmoid"), quantize_transcendental, lower_transcendental))
register(OpSpec("tanh", (1,), _executor("tanh"), quantize_transcendental, lower_transcendental))
register(OpSpec("expneg", (1,), _executor("expneg"), quantize_transcendental, lower_transcendental))

# --- ONNX ------------------------------------------------------------------------------------


register_unary_onnx("Sigmoid", "sigmoid")


register_unary_onnx("Tanh", "tanh")


def _hard_sigmoid(im, x: str, out: str, alpha: float, beta: float) -> str:
    """alpha * x + beta clipped to [0, 1] as mul, add and clip; returns the clip's output."""
    lin, shifted = f"{out}:alpha", f"{out}:beta"
    for name in (lin, shifted):
        im.shapes[name] = im.shapes[out]
    im.emit("mul", [x, im.add_constant(f"{out}:alpha", np.float64(alpha))], lin)
    im.emit("add", [lin, im.add_constant(f"{out}:beta", np.float64(beta))], shifted)
    im.emit("clip", [shifted], out, low=0.0, high=1.0)
    return out


@register_onnx("HardSigmoid", emits=("mul", "add", "clip"))
def import_hard_sigmoid(im, node):
    attrs = im.attrs(node)
    _hard_sigmoid(im, im.tensor_input(node.input[0]), node.output[0], attrs.get("alpha", 0.2), attrs.get("beta", 0.5))


@register_onnx("HardSwish", emits=("mul", "add", "clip"))
def import_hard_swish(im, node):
    x, out = im.tensor_input(node.input[0]), node.output[0]
    gate = f"{out}:gate"
    im.shapes[gate] = im.shapes[out]
    im.emit("mul", [x, _hard_sigmoid(im, x, gate, 1.0 / 6.0, 0.5)], out)
