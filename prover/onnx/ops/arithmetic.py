"""Division and square root of computed tensors: ``div``, ``sqrt`` (Div, Reciprocal, Sqrt, Pow
with a constant exponent). The circuit takes the result as a witness and checks it
(``gadgets.divide``, ``gadgets.isqrt``); the executor computes the same integers.

Semantics on integers (``s_n``, ``s_d``, ``s`` are the operands' scales, ``t`` the output's):

    div   inputs (n, d), attrs ``shifts = (a, b)`` and ``negate``: with N = n * 2**a and
          D = d * 2**b (both negated when ``negate``), D >= 1 and
          ``y = floor((2N + D) / 2D)``, the quotient N / D rounded to nearest (halves up);
          ``t = s_n - s_d + a - b``. The quantizer picks t by calibration and one of a, b
          is 0. The divisor's interval must lie on one side of 0 (``negate`` when it is
          negative): a divisor whose interval holds 0 is refused at quantization. y is range
          checked at the calibrated ``act_bits`` bound (a checked tensor, like a rescale's).
    sqrt  attr ``shift``: ``y = floor(sqrt(x * 2**shift))``, ``t = (s + shift) / 2``; x's
          interval must be non-negative. t is the calibrated scale, or ceil(s / 2) when that
          is finer (the root of a wide operand, ``quantize.wide_tensors``, keeps all its bits).
          The root is range checked at the bits of its interval.

Errors: a ``div`` output is within half an output unit (2**-t) of the quotient of its integer
operands, a ``sqrt`` output within one unit below the root. Div by a constant is a ``mul`` by
its reciprocal: exact when the reciprocal is a power of two; otherwise the reciprocal is
rounded to ``weight_bits`` significant bits (relative error at most 2**-(weight_bits-1)) and the
product's rescale floors (less than one output unit more).

Cost per element: ``div`` 2 * bits(D) + bits(y) + 4 constraints (a divisor shared by a row,
as a softmax's sum, adds bits(D) + 1 once per row); ``sqrt`` 3 * bits(y) + 6.

Pow with a constant exponent: 2 is ``mul(x, x)``, 3 is ``mul(mul(x, x), x)``, 0.5 is ``sqrt``,
-1 is ``div(1, x)`` (Reciprocal); any other exponent is refused.
"""

from __future__ import annotations

import numpy as np

from prover.circuit import gadgets as G
from prover.circuit.builder import LinComb, Value
from prover.errors import UnsupportedModelError
from prover.onnx.graph import MAX_BITS, Op, bits_for_range, bound_of
from prover.onnx.ops.elementwise import shifted
from prover.onnx.ops.registry import OpSpec, register, register_onnx, register_unary_onnx

# --- semantics -------------------------------------------------------------------------------


def _is_float(*operands) -> bool:
    return np.result_type(*operands).kind == "f"


def execute_div(n, d, *, shifts=(0, 0), negate=False, **_):
    if _is_float(n, d):
        return n / d
    big_n, big_d = shifted(n, shifts[0]), shifted(d, shifts[1])
    if negate:
        big_n, big_d = -big_n, -big_d
    return (2 * big_n + big_d) // (2 * big_d)


def execute_sqrt(x, *, shift=0, **_):
    if _is_float(x):
        with np.errstate(invalid="ignore"):  # NaN below 0, as ONNX's; the quantizer refuses such an operand
            return np.sqrt(x)
    return G.floor_sqrt(x << shift)


# --- quantization ----------------------------------------------------------------------------


def divided(qz, op: Op, n: str, n_scale: int, n_interval, d: str, t: int, shape, d_interval=None):
    """Emit ``div`` of operand n (a tensor or a quantized constant) at scale ``n_scale`` by
    tensor d into ``op.output`` at scale t: the shifts that align the scales, the sign of the
    divisor (from its exact interval, or ``d_interval`` when the caller knows better), and the
    output's interval clamped to the calibrated bound and range checked."""
    dlo, dhi = qz.exact[d] if d_interval is None else d_interval
    s_d = qz.scale(d)
    if dlo <= 0 <= dhi:
        raise UnsupportedModelError(
            f"op div ({op.source}): the divisor {d} may be 0 or change sign (its interval is "
            f"[{dlo * 2.0**-s_d}, {dhi * 2.0**-s_d}]); the circuit divides by a tensor of one sign only: "
            "divide by a square plus a positive constant, an exponential, or a tensor that a Relu, Abs "
            "or Clip keeps away from 0 (for LayerNorm, an epsilon below the variance's resolution "
            "rounds to 0: quantize with more activation bits)"
        )
    negate = dhi < 0
    k = t + s_d - n_scale
    a, b = max(k, 0), max(-k, 0)
    nlo, nhi = (n_interval[0] << a, n_interval[1] << a)
    dlo, dhi = (dlo << b, dhi << b)
    if negate:
        nlo, nhi, dlo, dhi = -nhi, -nlo, -dhi, -dlo
    if max(bits_for_range(2 * nlo - dhi, 2 * nhi + dhi), bits_for_range(0, 2 * dhi)) > MAX_BITS:
        raise UnsupportedModelError(
            f"op div ({op.source}): the scaled quotient would need more than {MAX_BITS} bits; "
            "quantize with fewer activation bits"
        )
    ends = [(2 * u + v) // (2 * v) for u in (nlo, nhi) for v in (dlo, dhi)]  # monotone in each
    lo, hi = bound_of(qz.width(op.output))
    qz.graph.ops.append(Op("div", (n, d), op.output, {"shifts": (a, b), "negate": negate}, op.source))
    qz.declare(op.output, shape, t, (max(min(ends), lo), min(max(ends), hi)), checked=True)


def quantize_div(qz, op: Op):
    n, d = op.inputs
    if n in qz.graph.tensors:
        n_name, n_scale, n_interval = n, qz.scale(n), qz.interval[n]
    else:
        c = qz.weight(n)
        n_name, n_scale, n_interval = c.name, c.scale, (int(c.values.min()), int(c.values.max()))
    shape = qz.f.tensors[op.output].shape
    divided(qz, op, n_name, n_scale, n_interval, d, qz.target_scale(op.output), shape)


def quantize_sqrt(qz, op: Op):
    x = op.inputs[0]
    lo, hi = qz.exact[x]
    s = qz.scale(x)
    if lo < 0:
        raise UnsupportedModelError(
            f"op sqrt ({op.source}): its operand {x} may be negative (its interval starts at {lo * 2.0**-s}); "
            "the circuit takes square roots of non-negative tensors only: take the root of a square, a sum "
            "of squares or an Abs/Relu output"
        )
    t = max(qz.target_scale(op.output), -(-s // 2))
    shift = 2 * t - s
    if bits_for_range(0, hi << shift) > MAX_BITS:
        raise UnsupportedModelError(f"op sqrt ({op.source}): the operand would need more than {MAX_BITS} bits")
    ends = G.floor_sqrt(np.array([lo << shift, hi << shift], dtype=np.int64))
    qz.graph.ops.append(Op("sqrt", (x,), op.output, {"shift": shift}, op.source))
    qz.declare(op.output, qz.f.tensors[op.output].shape, t, (int(ends[0]), int(ends[1])), checked=True)


# --- lowering --------------------------------------------------------------------------------


def lower_div(b, low, op: Op) -> Value:
    ndim = len(low.graph.tensors[op.output].shape)
    a, s = op.attrs["shifts"]
    n, d = (low.operand(name, ndim) for name in op.inputs)
    n = n * (1 << a) if isinstance(n, LinComb) else LinComb.constant(np.asarray(n, dtype=np.int64) << a)
    d = d * (1 << s)
    if op.attrs["negate"]:
        n, d = -n, -d
    # |d| < 2**(bits - 1) before its shift, so 2D - 1 < 2**(bits + s)
    d_bits = low.graph.tensors[op.inputs[1]].quantized_bits + s
    out = low.graph.tensors[op.output].quantized_bits
    q, q_bits = G.divide(b, n * 2 + d, d * 2, d_bits, out, what=f"div ({op.source})")
    return Value(LinComb.of(q), q_bits)


def lower_sqrt(b, low, op: Op) -> Value:
    x = low.values[op.inputs[0]].lc * (1 << op.attrs["shift"])
    bits = low.graph.tensors[op.output].quantized_bits - 1  # non-negative: the sign bit is 0
    return Value(LinComb.of(G.isqrt(b, x, bits, what=f"sqrt ({op.source})")))


register(OpSpec("div", (2,), execute_div, quantize_div, lower_div))
register(OpSpec("sqrt", (1,), execute_sqrt, quantize_sqrt, lower_sqrt))

# --- ONNX ------------------------------------------------------------------------------------


def _reciprocal(im, x: str, out: str) -> None:
    im.emit("div", [im.add_constant(f"{out}:one", np.float64(1.0)), x], out)


@register_onnx("Div", emits=("mul", "div"))
def import_div(im, node):
    """Div by a constant is a mul by its reciprocal; by a computed tensor, a ``div``."""
    a, d = node.input
    out = node.output[0]
    c = im.const(d)
    if c is None:
        im.emit("div", [im.operand(a, out), im.tensor_input(d)], out)
        return
    c = im.per_sample(c, out)
    if (c == 0).any():
        raise UnsupportedModelError(f"node {im.where}: Div by a constant that holds 0; export a non-zero divisor")
    im.emit("mul", [im.tensor_input(a), im.add_constant(f"{d}:reciprocal", 1.0 / c)], out)


@register_onnx("Reciprocal", emits=("div",))
def import_reciprocal(im, node):
    _reciprocal(im, im.tensor_input(node.input[0]), node.output[0])


register_unary_onnx("Sqrt", "sqrt")


@register_onnx("Pow", emits=("mul", "sqrt", "div"))
def import_pow(im, node):
    """Pow by a constant exponent of 2, 3, 0.5 or -1."""
    x, out = im.tensor_input(node.input[0]), node.output[0]
    exponent = np.asarray(im.need_const(node.input[1], "Pow's exponent"), dtype=np.float64).reshape(-1)
    p = float(exponent[0]) if exponent.size and (exponent == exponent[0]).all() else None
    if p == 2.0:
        im.emit("mul", [x, x], out)
    elif p == 3.0:
        square = f"{out}:square"
        im.emit("mul", [x, x], square, out_shape=im.graph.tensors[x].shape)
        im.emit("mul", [square, x], out)
    elif p == 0.5:
        im.emit("sqrt", [x], out)
    elif p == -1.0:
        _reciprocal(im, x, out)
    else:
        raise UnsupportedModelError(
            f"node {im.where}: Pow with exponent {exponent.tolist()} is not supported; the compiler takes one "
            "constant exponent of 2, 3, 0.5 or -1 (write other powers as products, Sqrt or Reciprocal)"
        )
