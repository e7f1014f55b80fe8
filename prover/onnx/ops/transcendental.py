"""Transcendental functions as piecewise polynomials with a proven error bound: ``sigmoid``,
``tanh``, ``erf`` (Sigmoid, Tanh, Erf) saturating on both sides, ``exp`` (Exp) on its
calibrated range, ``gelu`` and ``softplus`` (Gelu, Softplus) as a relu plus a bounded residual
table; HardSigmoid and HardSwish as existing kinds; and ``expneg``, e^x saturated at 1 above 0,
that a softmax applies to x - max(x) <= 0 (``prover.onnx.ops.reduce``; the table's upper half
is the constant 1, and e(0) = 2**t exactly).

Semantics on integers (``s`` is the operand's scale, ``t`` the output's; attrs of the op):

    sigmoid, tanh, erf, exp, *_residual
                   attrs ``low``, ``high`` (the clip, ints at scale s, or None when x's
                   interval lies inside it), ``offset`` = -low of the table's range, ``bits`` n
                   with high - low < 2**n, ``segments`` m, ``drop``, ``coeffs`` (2**m rows of
                   d + 1 ints at scale F, lowest degree first) and ``shift``:

                       X   = min(max(x, low), high)          u = X + offset in [0, 2**n)
                       seg = u >> (n - m)                     r = (u >> drop) mod 2**L,  L = n - m - drop
                       acc = c[seg][d];  acc = acc * r + c[seg][j] * 2**(L * (d - j))  for j = d-1..0
                       y   = (acc + 2**(shift - 1)) >> shift  (round to nearest, scale t)

                   so y = round(2**t * P_seg(r / 2**L)) where P_seg is segment seg's polynomial in
                   the position inside the segment. The table is fitted at the quantizer (least
                   squares per segment on the representable points of the range, rounded to
                   scale F = t + 4); ``drop`` = max(0, s - t - 2 - k) ignores input bits the
                   output does not resolve (k: the bits of f's slope beyond 1, 0 but for erf and
                   exp). Among degrees d = 1..3 and segment bits m <= 8 the table is the cheapest
                   whose worst error over *every* representable input of the range, computed
                   exhaustively at quantization (``design``), is at most ``MAX_ERROR`` = 0.75
                   output units. The output's interval is the exact minimum and maximum of y
                   over x's interval, and the rescale range checks it.

                   A function that saturates on both sides (limits f(-inf), f(+inf)) has the
                   range [-T, T), T = 2**(p + s) the least power of two from which on (and from
                   T - 2**-s on) it is within a quarter of an output unit of its limits, so it
                   errs by at most 1 unit over any input, saturation included. Sigmoid, tanh and
                   erf have t = act_bits - 2 (their values lie in [-1, 1]).
    exp            the range [lo, hi]: hi is x's calibrated maximum (inputs above it get
                   exp(hi): the model was not calibrated there), lo the greatest input whose
                   exp is at most a quarter unit (or x's least value); t is the largest scale at
                   which exp(hi) fits act_bits. So exp errs by at most 1 unit (2**-t) on
                   (-inf, hi]. An input whose calibrated maximum has exp beyond act_bits - 1
                   integer bits (t < 0) is refused (subtract its maximum first, as softmax does).
    gelu           float only: attr ``approximate`` ("none": x Phi(x), Phi by erf; "tanh": Phi
                   by 0.5 (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3)))). Quantized as
                   relu(x) + g(x), g = GELU - relu = -|x| Phi(-|x|), even, in [-0.17, 0] and 0 at
                   both ends: the table ``gelu_residual`` (``gelu_tanh_residual``) at t = s, a
                   ``relu`` (one constraint on x's sign bits) and a free ``add``. So GELU errs by
                   at most 0.75 units of 2**-s on [-T, T), 1 unit beyond. The other lowering,
                   x times a saturating Phi table and a rescale, costs about twice as much
                   (50, 83, 159 constraints at 8, 12, 16 bits against 25, 49, 92) for no
                   better worst error (0.56, 0.58, 0.71 units against 0.66, 0.57, 0.60).
    softplus       float only: relu(x) + log(1 + e**-|x|), the same way (``softplus_residual``).

Cost per element (``cost``): the clip (bits + 3 constraints per bound, nothing when x's interval
lies inside the range), the decomposition of u (n + 1), the one-hot of the m segment bits
(2**m - m - 1), one product per Horner step (d) and the output's rescale (shift + bits(y) + 2);
the coefficients are linear combinations of the one-hot, so selecting them is free. Sigmoid,
tanh and erf at input scale 8, the residuals at input scale act_bits - 5 (inputs up to 16),
both with the relu; errors in output units, worst over every input of the act_bits range:

    act_bits   sigmoid           tanh              erf               gelu (none)       softplus
               m, d, err, cost   m, d, err, cost   m, d, err, cost   m, d, err, cost   m, d, err, cost
       8       3, 2, 0.63, 51    3, 2, 0.75, 48    4, 2, 0.57, 53    3, 1, 0.66, 25    2, 1, 0.61, 24
      12       5, 3, 0.57, 85    5, 3, 0.55, 81    4, 3, 0.56, 65    4, 2, 0.57, 49    4, 2, 0.56, 54
      16       6, 3, 0.57, 117   6, 3, 0.57, 113   5, 3, 0.57, 81    5, 3, 0.60, 92    5, 3, 0.59, 98

HardSigmoid(x) = max(0, min(1, alpha * x + beta)) is imported as ``mul`` by alpha, ``add`` of
beta and ``clip`` to [0, 1]; HardSwish(x) = x * HardSigmoid(x) with alpha = 1/6 and beta = 1/2
adds a ``mul`` of two tensors (one constraint). The exporters' decomposed GELU,
x * 0.5 * (1 + erf(x / sqrt 2)) and its tanh form with x * x * x, import as the ops they are
(Div by a constant is a ``mul``): an ``erf`` or ``tanh`` table and three or five products.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from prover.circuit import gadgets as G
from prover.circuit.builder import LinComb, Value
from prover.errors import UnsupportedModelError
from prover.onnx.graph import Op, scale_for
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


def _erf(v):
    return np.asarray(np.frompyfunc(math.erf, 1, 1)(v), dtype=np.float64)


def _decaying(z, g):
    """z * g, 0 where g is 0 (so that the limit at infinity is 0, not inf * 0)."""
    with np.errstate(invalid="ignore"):
        return np.where(g == 0, 0.0, z * g)


def _gelu_residual(v):
    """GELU(x) - relu(x) = -|x| Phi(-|x|) = -|x| erfc(|x| / sqrt 2) / 2: even, in [-0.17, 0]."""
    a = np.abs(v)
    return -_decaying(a, 0.5 * np.asarray(np.frompyfunc(math.erfc, 1, 1)(a / math.sqrt(2.0)), dtype=np.float64))


def _gelu_tanh_residual(v):
    """The same for GELU's tanh form: 1 - (1 + tanh w) / 2 = sigmoid(-2w), w = sqrt(2/pi) (a + 0.044715 a^3)."""
    a = np.abs(v)
    return -_decaying(a, _sigmoid(-2.0 * math.sqrt(2.0 / math.pi) * (a + 0.044715 * a**3)))


def _softplus_residual(v):
    """Softplus(x) - relu(x) = log(1 + e^-|x|): even, in (0, log 2]."""
    return np.log1p(np.exp(-np.abs(v)))


FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "erf": _erf,
    "exp": np.exp,
    "expneg": _expneg,
    "gelu_residual": _gelu_residual,
    "gelu_tanh_residual": _gelu_tanh_residual,
    "softplus_residual": _softplus_residual,
}


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


def execute_gelu(x, *, approximate="none", **_):
    if approximate == "tanh":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def execute_softplus(x, **_):
    return np.maximum(x, 0.0) + _softplus_residual(x)


# --- quantization ----------------------------------------------------------------------------


def limits(kind: str) -> tuple[float, float]:
    """f(-inf) and f(+inf); a side is saturating where its limit is finite."""
    with np.errstate(over="ignore"):
        below, above = FUNCTIONS[kind](np.array([-np.inf, np.inf]))
    return float(below), float(above)


def _saturation_bits(kind: str, s: int, t: int) -> int:
    """The least p >= -s with |f(x) - f(+-inf)| at most 2**-(t+2) from the clip's ends on
    (x >= 2**p - 2**-s, the largest value below T at scale s, and x <= -2**p): a clipped input
    then errs by at most a quarter of an output unit more than its clip (f is monotone beyond
    the ends). Raises UnsupportedModelError for a side that does not saturate."""
    below, above = limits(kind)
    if not (math.isfinite(below) and math.isfinite(above)):
        raise UnsupportedModelError(f"{kind} does not saturate on both sides: its table needs an input range")
    f = FUNCTIONS[kind]
    p = max(0, -s)
    while max(abs(above - f(2.0**p - 2.0**-s)), abs(below - f(-(2.0**p)))) > 2.0 ** -(t + 2):
        p += 1
    return p


def _span_bits(low: int, high: int) -> int:
    """n: u = X - low lies in [0, 2**n) for X in [low, high]."""
    return max(1, (high - low).bit_length())


def _fit(kind: str, s: int, t: int, low: int, high: int, m: int, drop: int, degree: int) -> dict:
    """The coefficient table for m segment bits: per segment, a least-squares polynomial in
    z = r / 2**L through the function at the representable points of [low, high] (at the middle
    of the 2**drop inputs that share an r), rounded to scale F; a segment beyond ``high`` is
    all zeros."""
    n = _span_bits(low, high)
    length = n - m - drop
    degree = min(degree, (1 << length) - 1)
    f = FUNCTIONS[kind]
    big_f = t + EXTRA_COEFF_BITS
    r = np.arange(1 << length)
    rows = []
    for seg in range(1 << m):
        start = (seg << (n - m)) + (r << drop)
        inside = start <= high - low
        target = f((start + ((1 << drop) - 1) / 2.0 + low) * 2.0**-s)[inside]
        k = min(degree, int(inside.sum()) - 1)
        if k > 0:
            fit = np.polynomial.polynomial.polyfit(r[inside] / 2.0**length, target, k)
        else:
            fit = np.array([target.mean()] if k == 0 else [])
        fit = np.concatenate([fit, np.zeros(degree + 1 - len(fit))])
        rows.append(tuple(int(v) for v in np.floor(fit * 2.0**big_f + 0.5)))
    return {
        "offset": -low,
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


def _accumulator_bits(attrs: dict) -> int:
    """A bound on the bits of the Horner accumulator: sum_j |c_j| * 2**(L * d)."""
    table = np.abs(np.asarray(attrs["coeffs"], dtype=object))
    length = attrs["bits"] - attrs["segments"] - attrs["drop"]
    return int(max(sum(row) for row in table)).bit_length() + length * (table.shape[1] - 1) + 1


@cache
def design(kind: str, s: int, t: int, span: tuple[int, int] | None = None) -> tuple[dict, float]:
    """The attrs (clip included) of ``kind`` from scale s to scale t, and the worst error over
    the clip's range in output units: the cheapest table (degree 1 to MAX_DEGREE, m up to
    MAX_SEGMENT_BITS) within MAX_ERROR. The range is ``span`` (ints at scale s) when given (a
    function that does not saturate on both sides, ``exp``), else [-T, T), outside which the
    function is saturated (the clip's error is below a quarter unit). Raises
    UnsupportedModelError if there is none."""
    if span is None:
        p = _saturation_bits(kind, s, t)
        span = (-(1 << (p + s)), (1 << (p + s)) - 1)
    low, high = span
    n = _span_bits(low, high)
    # f's slope and magnitude beyond 1, in bits, on at most 2**12 + 1 points of the range: none
    # for sigmoid, tanh and the residuals (the search's bounds; the exhaustive check decides)
    xs = np.unique(np.linspace(low, high, min(high - low, 1 << 12) + 1).round()) * 2.0**-s
    grid = FUNCTIONS[kind](xs)
    slope = float((np.abs(np.diff(grid)) / np.diff(xs)).max(initial=0.0))
    slope_bits = int(np.ceil(np.log2(max(1.0, slope))))
    magnitude_bits = int(np.ceil(np.log2(max(1.0, float(np.abs(grid).max())))))
    drop = max(0, s - (t + 2 + slope_bits))  # input resolution beyond what the output resolves
    best: tuple[int, dict, float] | None = None
    for degree in range(1, MAX_DEGREE + 1):
        for m in range(1, min(MAX_SEGMENT_BITS, n - drop) + 1):
            length = n - m - drop
            if t + EXTRA_COEFF_BITS + magnitude_bits + degree * length + 3 > MAX_ACC_BITS:
                continue  # the accumulator would leave int64
            attrs = {"low": low, "high": high, **_fit(kind, s, t, low, high, m, drop, degree)}
            if _accumulator_bits(attrs) > 62:
                continue
            error, _, _ = exhaustive_error(kind, s, t, attrs, low, high)
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


def table_op(
    qz,
    op: Op,
    kind: str,
    output: str,
    t: int,
    span: tuple[int, int] | None = None,
    shape: tuple[int, ...] | None = None,
) -> tuple[int, int]:
    """Emit the ``kind`` table of op's operand x at output scale t as tensor ``output`` (the
    clip dropped where x's interval lies inside the table's range); returns its interval, the
    exact range of y over x's interval. ``shape``: the output's, for a tensor the float graph
    does not have (a softmax's exponentials)."""
    x = op.inputs[0]
    s, (lo, hi) = qz.scale(x), qz.interval[x]
    attrs, _ = design(kind, s, t, span)
    attrs = dict(attrs)
    low, high = attrs["low"], attrs["high"]
    if lo >= low:
        attrs["low"] = None
    if hi <= high:
        attrs["high"] = None
    # every input of x's interval, clipped: the exact range of y
    _, ymin, ymax = exhaustive_error(kind, s, t, attrs, max(lo, low), min(hi, high))
    qz.graph.ops.append(Op(kind, (x,), output, attrs, op.source))
    qz.declare(output, qz.f.tensors[op.output].shape if shape is None else shape, t, (ymin, ymax), checked=True)
    return ymin, ymax


def quantize_transcendental(qz, op: Op, shape: tuple[int, ...] | None = None):
    """Output at scale act_bits - 2 (the function's range is within [-1, 1]); ``shape`` as in
    ``table_op``."""
    table_op(qz, op, op.kind, op.output, qz.p.act_bits - 2, shape=shape)


def quantize_exp(qz, op: Op):
    """exp clipped to [lo, hi] (ints at x's scale s): hi is the calibrated maximum of x (above
    it exp saturates at exp(hi): no calibration input goes there), lo the greatest input whose
    exp is at most a quarter output unit (below it exp tends to 0); the output scale t is the
    largest at which exp(hi) fits ``act_bits``. Raises UnsupportedModelError when exp(hi) does
    not fit at scale 0."""
    x = op.inputs[0]
    s, (lo, hi) = qz.scale(x), qz.interval[x]
    top = min(hi, math.ceil(qz.max_abs[x] * 2.0**s))
    if top * 2.0**-s > math.log((1 << (qz.p.act_bits - 1)) - 1):
        raise UnsupportedModelError(
            f"op exp ({op.source}): its input reaches {top * 2.0**-s:.4g} on the calibration data and exp of "
            f"that needs more than {qz.p.act_bits - 1} integer bits; subtract the input's maximum first (as "
            "softmax does), scale the input down, or quantize with more activation bits"
        )
    t = scale_for(math.exp(top * 2.0**-s), qz.p.act_bits)
    floor = math.floor(-(t + 2) * math.log(2.0) * 2.0**s)
    while math.exp((floor + 1) * 2.0**-s) * 2.0**t <= 0.25:
        floor += 1
    while math.exp(floor * 2.0**-s) * 2.0**t > 0.25:
        floor -= 1
    low = max(lo, floor)
    table_op(qz, op, "exp", op.output, t, (low, max(top, low)))


def residual_kind(op: Op) -> str:
    """The bounded table of a ``relu + residual`` op: f(x) - relu(x)."""
    if op.kind == "gelu":
        return "gelu_tanh_residual" if op.attrs.get("approximate") == "tanh" else "gelu_residual"
    return f"{op.kind}_residual"


def quantize_rectified(qz, op: Op):
    """f(x) = relu(x) + (f(x) - relu(x)) at x's scale s: the residual's table (output scale s),
    a ``relu`` and an ``add``."""
    x = op.inputs[0]
    s, (_, hi) = qz.scale(x), qz.interval[x]
    shape = qz.f.tensors[op.output].shape
    residual, rectified = f"{op.output}:residual", f"{op.output}:relu"
    hmin, hmax = table_op(qz, op, residual_kind(op), residual, s)
    qz.graph.ops.append(Op("relu", (x,), rectified, {}, op.source))
    qz.declare(rectified, shape, s, (0, max(hi, 0)))
    qz.graph.ops.append(Op("add", (rectified, residual), op.output, {"shifts": (0, 0)}, op.source))
    qz.declare(op.output, shape, s, (hmin, max(hi, 0) + hmax))


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


for _kind in ("sigmoid", "tanh", "erf", "expneg"):
    register(OpSpec(_kind, (1,), _executor(_kind), quantize_transcendental, lower_transcendental))
register(OpSpec("exp", (1,), _executor("exp"), quantize_exp, lower_transcendental))
_RECTIFIED = ("relu", "add")
for _kind in ("gelu_residual", "gelu_tanh_residual", "softplus_residual"):
    register(OpSpec(_kind, (1,), _executor(_kind), None, lower_transcendental, stage="quantized"))
register(
    OpSpec(
        "gelu",
        (1,),
        execute_gelu,
        quantize_rectified,
        stage="float",
        quantized_as=("gelu_residual", "gelu_tanh_residual", *_RECTIFIED),
    )
)
register(
    OpSpec(
        "softplus",
        (1,),
        execute_softplus,
        quantize_rectified,
        stage="float",
        quantized_as=("softplus_residual", *_RECTIFIED),
    )
)

# --- ONNX ------------------------------------------------------------------------------------


register_unary_onnx("Sigmoid", "sigmoid")


register_unary_onnx("Tanh", "tanh")


register_unary_onnx("Erf", "erf")


register_unary_onnx("Exp", "exp")


register_unary_onnx("Softplus", "softplus")


@register_onnx("Gelu", emits=("gelu",))
def import_gelu(im, node):
    """Gelu of opset 20: approximate "none" (x Phi(x), Phi by erf) or "tanh"."""
    approximate = im.attrs(node).get("approximate", b"none")
    approximate = approximate.decode() if isinstance(approximate, bytes) else approximate
    if approximate not in ("none", "tanh"):
        raise UnsupportedModelError(
            f"node {im.where}: Gelu with approximate={approximate!r}; ONNX defines 'none' and 'tanh'"
        )
    im.emit("gelu", [im.tensor_input(node.input[0])], node.output[0], approximate=approximate)


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
