"""The model graph between ONNX and the circuit: a list of ops over named tensors.

The same structure carries two stages of a model:

- the *float graph* that ``prover.onnx.importer`` makes from an ONNX file (float64 constants,
  no scales), and
- the *quantized graph* that ``prover.onnx.quantize`` makes from it: every constant is an int64
  array and every tensor carries a power-of-two ``scale`` and a ``bits`` bound.

The quantized graph is the specification that the circuit implements and that
``prover.onnx.executor`` executes bit for bit. Its rules:

Values and scales
    Every value is a signed integer. A tensor (or constant) with scale ``s`` stands for the real
    number ``value * 2**-s``. Tensor shapes are per sample (no batch axis); arrays are C-ordered.

Bounds
    Every tensor declares ``bits``: each of its values lies in ``[-2**(bits-1), 2**(bits-1))``.
    For the graph input, every ``rescale`` output and every op output whose lowering range
    checks it (``div``, ``sqrt``, the transcendental functions) the bound is *enforced*: the circuit
    range checks it, and the executor raises ``ValueRangeError`` when a value leaves it (the
    model met an input outside its quantized range). For every other op the bound *follows*
    from the operands' bounds and the constants (worst case over the declared input ranges),
    so it holds without a check; ``Tensor.checked`` says which kind a tensor is.
    Every bound is at most ``MAX_BITS`` bits, so int64 arithmetic is exact and values never
    wrap modulo the field.

Ops (``Op.kind``; ``x``, ``a``, ``b`` are input tensors, constants are named in ``inputs`` too;
each kind's arity, semantics, quantization and lowering are its entry in ``prover.onnx.ops``)
    ``dense``    inputs (x, W[, bias]); ``y[..., o] = sum_i W[o, i] * x[..., i] + bias[o]``
                 (the last axis of x is contracted). Scale: ``s_y = s_x + s_W``; the bias is
                 stored at scale ``s_y``.
    ``conv``     inputs (x, W[, bias]); 2-D cross-correlation of ``x[C, H, W]`` with
                 ``W[O, C/group, kh, kw]``, zero padding ``pads = (top, left, bottom, right)``,
                 ``strides = (sh, sw)``, ``dilations = (dh, dw)``, ``group``:
                 ``y[o, i, j] = bias[o] + sum_{c,u,v} W[o, c, u, v] *
                 xpad[g*C/group + c, i*sh + u*dh, j*sw + v*dw]`` with ``g = o // (O/group)``.
                 Scale as for ``dense``.
    ``rescale``  attr ``shift >= 0``; ``y = floor(x / 2**shift)`` (arithmetic shift right,
                 numpy ``>>`` on int64); ``s_y = s_x - shift``; y's bound is range checked.
                 The quantizer adds ``2**(shift-1)`` to the preceding bias where it can, so that
                 the floor rounds to nearest.
    ``relu``     ``y = max(x, 0)``.
    ``maxpool``  attrs ``kernel, strides, pads``; ``y[c, i, j]`` = max of ``x[c, i*sh + u - top,
                 j*sw + v - left]`` over the window positions that lie inside x (padding never
                 wins).
    ``sumpool``  attrs ``kernel, strides, pads``; the sum over the same window, padding counts
                 as 0. An average over ``k = 2**m`` elements is a ``sumpool`` read at scale
                 ``s_x + m`` (no division at all); otherwise a ``mul`` by the constant
                 ``round(2**t / k)`` at scale ``t`` follows.
    ``mul``      ``y = a * b`` (numpy broadcasting; ``a is b`` gives the quadratic activation
                 ``x * x``). ``s_y = s_a + s_b``.
    ``add``      attrs ``shifts = (la, lb)``; ``y = a * 2**la + b * 2**lb`` (numpy broadcasting):
                 the operand of smaller scale is multiplied up, so ``s_y = s_a + la = s_b + lb``.
    ``sub``      as ``add`` with ``y = a * 2**la - b * 2**lb``.
    ``reshape``  attr ``shape``; same values in C order (Flatten and Reshape).

Result
    The graph's ``output`` tensor holds the logits; the predicted label is
    ``argmax(logits)`` with ties going to the lowest index.

The float graph uses the same ops with float semantics (no ``rescale``), plus ``avgpool``
(attrs ``kernel, strides, pads``; the window sum divided by ``kernel[0] * kernel[1]``, padding
counted) that quantization lowers to ``sumpool``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from prover.errors import CircuitError, FormatError, UnsupportedModelError

# int64 products and sums stay exact below this, with room for the accumulators' growth
MAX_BITS = 62


class InputShapeError(FormatError):
    """An input array does not have the shape the model expects."""


@dataclass(frozen=True)
class Tensor:
    """A named tensor: its per-sample shape and, in a quantized graph, its scale and bound."""

    name: str
    shape: tuple[int, ...]
    scale: int | None = None  # value * 2**-scale is the real number
    bits: int | None = None  # values in [-2**(bits-1), 2**(bits-1))
    checked: bool = False  # bound enforced by a range check (input, rescale outputs)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def quantized_scale(self) -> int:
        """``scale``, which every tensor of a quantized graph has; CircuitError otherwise."""
        return _quantized(self.scale, f"tensor {self.name!r}", "scale")

    @property
    def quantized_bits(self) -> int:
        """``bits``, which every tensor of a quantized graph has; CircuitError otherwise."""
        return _quantized(self.bits, f"tensor {self.name!r}", "bit bound")


@dataclass
class Constant:
    """Weights, biases and other fixed operands; int64 with a scale in a quantized graph."""

    name: str
    values: np.ndarray
    scale: int | None = None
    bits: int | None = None

    @property
    def quantized_scale(self) -> int:
        """``scale``, which every constant of a quantized graph has; CircuitError otherwise."""
        return _quantized(self.scale, f"constant {self.name!r}", "scale")

    @property
    def quantized_bits(self) -> int:
        """``bits``, which every constant of a quantized graph has; CircuitError otherwise."""
        return _quantized(self.bits, f"constant {self.name!r}", "bit bound")


def _quantized(value: int | None, what: str, attribute: str) -> int:
    """A scale or bound that quantization sets (``Graph.validate`` checks it is there)."""
    if value is None:
        raise CircuitError(
            f"{what} has no {attribute}: it belongs to a float graph; quantize the model first (prover.onnx.quantize)"
        )
    return value


@dataclass
class Op:
    """One step of the graph; ``source`` names the ONNX node(s) it came from, for messages."""

    kind: str
    inputs: tuple[str, ...]
    output: str
    attrs: dict = field(default_factory=dict)
    source: str = ""


@dataclass
class Graph:
    """A model: ``ops`` in execution order from ``input`` to ``output``."""

    input: str
    output: str
    tensors: dict[str, Tensor]
    constants: dict[str, Constant]
    ops: list[Op]
    quantized: bool = False
    # how the graph was made (quantization settings, calibration size); informational
    meta: dict = field(default_factory=dict)

    @property
    def input_tensor(self) -> Tensor:
        return self.tensors[self.input]

    @property
    def output_tensor(self) -> Tensor:
        return self.tensors[self.output]

    def is_constant(self, name: str) -> bool:
        return name in self.constants

    def n_parameters(self) -> int:
        return int(sum(c.values.size for c in self.constants.values()))


def scale_for(max_abs: float, bits: int, headroom_bits: int = 0) -> int:
    """The largest s with ``max_abs * 2**s * 2**headroom_bits`` inside ``bits`` signed bits (so
    ``round(max_abs * 2**s)`` fits too). Needs ``bits - headroom_bits >= 3``."""
    if bits - headroom_bits < 3:
        raise UnsupportedModelError(f"{bits} bits with {headroom_bits} bits of headroom leave no precision")
    limit = (1 << (bits - 1 - headroom_bits)) - 1
    if max_abs == 0.0:
        return bits - 1 - headroom_bits
    s = math.floor(math.log2(limit / max_abs))
    # log2 is inexact next to powers of two: settle the last step exactly
    while max_abs * 2.0 ** (s + 1) <= limit:
        s += 1
    while max_abs * 2.0**s > limit:
        s -= 1
    return s


def bits_for_range(lo: int, hi: int) -> int:
    """The fewest signed bits b with [lo, hi] inside [-2**(b-1), 2**(b-1))."""
    lo, hi = int(lo), int(hi)
    b = 1
    while lo < -(1 << (b - 1)) or hi >= (1 << (b - 1)):
        b += 1
    return b


def bound_of(bits: int) -> tuple[int, int]:
    """The inclusive range [lo, hi] of a ``bits``-bit signed value."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
