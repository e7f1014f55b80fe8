"""Float graph -> quantized graph: power-of-two fixed point, scales chosen by calibration.

Calibration runs the float graph (``prover.onnx.executor``) on sample inputs and records the
largest magnitude of every tensor. Each tensor then gets the largest scale ``s`` (most
fractional bits) at which that magnitude, times ``2**headroom_bits``, still fits in
``act_bits`` signed bits, so inputs somewhat beyond the calibration data still fit. Weights get
their own scale from ``weight_bits``; a bias is stored at its layer's accumulator scale plus the
half that makes the following floor rescale round to nearest. A float constant that ops read at
different scales (the recurrent bias that every step of a GRU shares, each step's state at its
own calibrated scale) is quantized once per scale and rounding, each under a name of its own
(``Quantizer.add_const``): a quantized name is never bound again to other values. After every op that widens values
(dense, conv, sum pool, mul, add, sub) a ``rescale`` brings the result back to its calibrated
scale and range-checked ``act_bits`` bound; ReLU, max pool and reshape keep their operand's
scale. Every other tensor's bound is derived by interval arithmetic over the declared ranges,
so it holds for every input in range (see ``prover.onnx.graph`` for the semantics).

A square root halves the bits of its operand, so the tensors that reach a ``sqrt`` through
sums alone (``wide_tensors``: a LayerNorm's squares, variance and variance plus epsilon) are
calibrated and range checked at ``2 * act_bits`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from prover.errors import UnsupportedModelError, ValueRangeError
from prover.onnx import executor
from prover.onnx.graph import MAX_BITS, Constant, Graph, Op, Tensor, bits_for_range, bound_of, scale_for
from prover.onnx.ops import REGISTRY, validate_graph


@dataclass(frozen=True)
class Precision:
    """Bit widths of a quantization: activations (and the input), weights, and the spare bits
    above the calibrated maximum."""

    act_bits: int = 8
    weight_bits: int = 8
    headroom_bits: int = 1


# tried in order by choose_precision: cheapest range checks first
PRECISION_LADDER = tuple(
    Precision(a, w)
    for a, w in (
        (6, 6),
        (7, 6),
        (7, 7),
        (8, 7),
        (8, 8),
        (9, 8),
        (10, 8),
        (10, 10),
        (12, 10),
        (12, 12),
        (14, 12),
        (16, 14),
    )
)


def calibrate(graph: Graph, inputs: np.ndarray) -> dict[str, float]:
    """The largest magnitude of every tensor of a float graph over a batch of inputs."""
    values = executor.execute(graph, inputs, keep_all=True)
    return {name: float(np.abs(v).max(initial=0.0)) for name, v in values.items()}


def quantize_constant(name: str, values: np.ndarray, scale: int) -> Constant:
    """round(values * 2**scale) as int64, halves rounded up, with the bits it needs."""
    q = np.floor(np.asarray(values, dtype=np.float64) * 2.0**scale + 0.5)
    if q.size and np.abs(q).max() >= 2.0**MAX_BITS:
        raise UnsupportedModelError(
            f"constant {name} would need more than {MAX_BITS} bits at scale {scale}; "
            "quantize with fewer activation or weight bits"
        )
    q = q.astype(np.int64)
    return Constant(name, q, scale, bits_for_range(q.min(initial=0), q.max(initial=0)))


def quantize(
    graph: Graph,
    calibration_inputs: np.ndarray,
    precision: Precision = Precision(),
    max_abs: dict[str, float] | None = None,
) -> Graph:
    """Quantize a float graph with scales calibrated on ``calibration_inputs`` (a batch of real
    inputs, e.g. the training split; ``max_abs`` reuses an earlier ``calibrate`` of them).
    Raises UnsupportedModelError if some accumulator would need more than MAX_BITS bits."""
    if graph.quantized:
        raise UnsupportedModelError("the graph is already quantized")
    validate_graph(graph)
    if max_abs is None:
        max_abs = calibrate(graph, calibration_inputs)
    quantized = Quantizer(graph, max_abs, precision).graph
    quantized.meta["calibration_samples"] = int(len(calibration_inputs))
    return quantized


def accuracy(graph: Graph, inputs: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of a batch that a float or quantized graph labels correctly."""
    if graph.quantized:
        predicted = executor.predict(graph, inputs).label
    else:
        predicted = executor.argmax_label(executor.run_float(graph, inputs))
    return float(np.mean(predicted == np.asarray(labels)))


def logit_error(float_graph: Graph, quantized: Graph, inputs: np.ndarray) -> float:
    """Relative error ``|q - f| / |f|`` (Frobenius norms over the batch) of the quantized graph's
    logits, read as real numbers, against the float graph's."""
    f = executor.run_float(float_graph, inputs)
    q = executor.dequantize(quantized, quantized.output, executor.predict(quantized, inputs).logits)
    return float(np.linalg.norm(q - f) / max(float(np.linalg.norm(f)), 1e-300))


def choose_precision(
    graph: Graph,
    inputs: np.ndarray,
    labels: np.ndarray,
    tolerance: float = 0.005,
    max_logit_error: float = 0.04,
    ladder: tuple[Precision, ...] = PRECISION_LADDER,
) -> tuple[Precision, Graph]:
    """The cheapest precision of ``ladder`` whose quantized graph, on the labelled calibration
    batch, is at most ``tolerance`` less accurate than the float graph and whose logits are within
    ``max_logit_error`` (relative) of the float ones; and the graph quantized with it.

    The logit error is what carries over to unseen data: a model that fits its training data
    perfectly keeps its training accuracy under coarse quantization while its test accuracy
    drops. Raises UnsupportedModelError when no precision qualifies."""
    max_abs = calibrate(graph, inputs)
    target = accuracy(graph, inputs, labels) - tolerance
    for precision in tqdm(ladder, desc="choose precision", unit="try", leave=False, disable=None):
        try:
            quantized = quantize(graph, inputs, precision, max_abs)
            if accuracy(quantized, inputs, labels) < target:
                continue
            error = logit_error(graph, quantized, inputs)
        except (UnsupportedModelError, ValueRangeError):
            continue  # this precision cannot hold the model: try a wider one
        if error <= max_logit_error:
            quantized.meta["calibration_logit_error"] = error
            return precision, quantized
    raise UnsupportedModelError(
        f"no precision up to {ladder[-1]} keeps the quantized model within {tolerance:.1%} accuracy and "
        f"{max_logit_error:.0%} logit error of the float model; check the calibration data"
    )


# ops that carry their operand's precision on to their output: a sum, a difference, a reduction
# by sum or mean, and (``_carries``) a product with a constant
_LINEAR_KINDS = frozenset({"add", "sub", "reducesum", "reducemean", "mul"})


def wide_tensors(graph: Graph) -> frozenset[str]:
    """The tensors of a float graph that every path takes into a ``sqrt`` through linear ops
    alone (``_LINEAR_KINDS``): they keep twice the activation bits, since the root halves them.
    A square's operand is not among them: its square is (the square keeps its bits exactly)."""
    readers: dict[str, list[Op]] = {}
    for op in graph.ops:
        for name in op.inputs:
            readers.setdefault(name, []).append(op)
    wide: set[str] = set()

    def carries(op: Op, name: str) -> bool:
        if op.kind == "sqrt":
            return True
        others = [n for n in op.inputs if n != name]
        linear = op.kind != "mul" or (len(others) == 1 and others[0] in graph.constants)
        return op.kind in _LINEAR_KINDS and linear and op.output in wide

    for op in reversed(graph.ops):  # every reader of op.output comes after op
        out = op.output
        if out != graph.output and readers.get(out) and all(carries(r, out) for r in readers[out]):
            wide.add(out)
    return frozenset(wide)


class Quantizer:
    """Builds the quantized graph op by op, tracking each tensor's integer interval; the context
    that the quantization rules of ``prover.onnx.ops`` read and extend."""

    def __init__(self, float_graph: Graph, max_abs: dict[str, float], precision: Precision):
        self.f, self.max_abs, self.p = float_graph, max_abs, precision
        self.interval: dict[str, tuple[int, int]] = {}
        # each tensor's interval as derived, before 0 joins it: the sign of a divisor
        self.exact: dict[str, tuple[int, int]] = {}
        self.wide = wide_tensors(float_graph)
        inp = float_graph.input_tensor
        self.graph = Graph(
            input=inp.name,
            output=float_graph.output,
            tensors={},
            constants={},
            ops=[],
            quantized=True,
            meta={
                **float_graph.meta,  # what the importer recorded (the classifier tail) carries over
                "act_bits": precision.act_bits,
                "weight_bits": precision.weight_bits,
                "headroom_bits": precision.headroom_bits,
            },
        )
        s_in = scale_for(max_abs[inp.name], precision.act_bits, precision.headroom_bits)
        self.declare(inp.name, inp.shape, s_in, bound_of(precision.act_bits), checked=True)
        for op in float_graph.ops:
            rule = REGISTRY[op.kind].quantize
            if rule is None:
                raise UnsupportedModelError(f"op {op.kind} ({op.source}) is made by quantization, not quantized")
            rule(self, op)
        validate_graph(self.graph)

    # --- bookkeeping -------------------------------------------------------------------------

    def declare(self, name, shape, scale, interval, checked=False):
        lo, hi = min(interval[0], 0), max(interval[1], 0)  # 0 (padding) is always in range
        bits = bits_for_range(lo, hi)
        if bits > MAX_BITS:
            raise UnsupportedModelError(
                f"tensor {name} would need {bits} bits, more than {MAX_BITS}; quantize with fewer "
                "activation or weight bits"
            )
        self.interval[name] = (lo, hi)
        self.exact[name] = (int(interval[0]), int(interval[1]))
        self.graph.tensors[name] = Tensor(name, tuple(shape), scale, bits, checked)

    def width(self, name: str) -> int:
        """The bits a computed tensor is calibrated and range checked at: ``act_bits``, twice
        that for a tensor that feeds a square root (``wide_tensors``)."""
        return 2 * self.p.act_bits if name in self.wide else self.p.act_bits

    def target_scale(self, name: str) -> int:
        """The calibrated scale of float tensor ``name`` at its ``width``."""
        return scale_for(self.max_abs[name], self.width(name), self.p.headroom_bits)

    def scale(self, name: str) -> int:
        return self.graph.tensors[name].quantized_scale

    def weight(self, name: str) -> Constant:
        """Float constant ``name`` as a weight: at the largest scale that fits ``weight_bits``."""
        values = self.f.constants[name].values
        c = quantize_constant(name, values, scale_for(float(np.abs(values).max(initial=0.0)), self.p.weight_bits))
        return self.graph.constants[self.add_const(c)]

    def constant(self, name: str, values: np.ndarray, scale: int) -> Constant:
        """``quantize_constant``: values at ``scale`` (for the rules of ``prover.onnx.ops``)."""
        return quantize_constant(name, values, scale)

    def fixed_point(self, value: float, scale: int) -> int:
        """A real attribute (a bound, a fill, a slope) as an integer at ``scale``, rounded as
        ``quantize_constant`` rounds."""
        return int(quantize_constant("attribute", np.asarray(float(value)), scale).values)

    def add_const(self, c: Constant) -> str:
        """Add quantized constant ``c`` and return the name the ops read it by: ``c.name``, or
        ``c.name@k`` when an earlier op holds ``c.name`` with other values or another scale (one
        float constant read at several scales: the recurrent bias that every step of a layer
        shares, each step's state at its own scale). A name is never bound again to other
        values, which would change the ops that read it before."""
        name, k = c.name, 0
        while (held := self.graph.constants.get(name)) is not None and not _same_constant(held, c):
            k += 1
            name = f"{c.name}@{k}"
        if held is None:
            self.graph.constants[name] = Constant(name, c.values, c.scale, c.bits)
        return name

    def rescale_shift(self, name: str, scale: int) -> int:
        """The shift of the rescale that brings float tensor ``name``, computed at ``scale``, to
        its calibrated scale (0: none)."""
        return max(scale - self.target_scale(name), 0)

    def requantize_biased(self, op: Op, scale: int, bias: Constant, interval_of) -> None:
        """``requantize`` of an op whose last input is its bias ``bias`` (at ``scale``, not added
        yet): the bias takes the half of the rescale's shift, so that its floor rounds to
        nearest, and is added by ``add_const``. ``interval_of(values)`` is the op's interval
        with bias values ``values``."""
        shift = self.rescale_shift(op.output, scale)
        if shift > 0:
            values = bias.values + (1 << (shift - 1))
            bias = Constant(bias.name, values, bias.scale, bits_for_range(values.min(), values.max()))
        biased = Op(op.kind, (*op.inputs[:-1], self.add_const(bias)), op.output, dict(op.attrs), op.source)
        self.requantize(biased, scale, interval_of(bias.values))

    def requantize(self, op: Op, scale: int, interval):
        """Emit ``op`` computing an accumulator at ``scale`` with ``interval``, then a rescale to
        the float tensor's calibrated scale (skipped when no shift and no range check is needed)."""
        name = op.output
        shift = self.rescale_shift(name, scale)
        fits = bits_for_range(min(interval[0], 0), max(interval[1], 0)) <= self.width(name)
        if shift == 0 and fits:
            self.graph.ops.append(op)
            self.declare(name, self.f.tensors[name].shape, scale, interval)
            return
        acc = f"{name}:acc"
        op.output = acc
        self.graph.ops.append(op)
        self.declare(acc, self.f.tensors[name].shape, scale, interval)
        self.graph.ops.append(Op("rescale", (acc,), name, {"shift": shift}, op.source))
        lo, hi = bound_of(self.width(name))
        self.declare(
            name,
            self.f.tensors[name].shape,
            scale - shift,
            (max(interval[0] >> shift, lo), min(interval[1] >> shift, hi)),
            checked=True,
        )

    def operand(self, name: str, scale_if_const: int, keep_positive: bool = False) -> tuple[str, tuple[int, int]]:
        """A tensor operand's name and interval, or a constant quantized at ``scale_if_const``
        (``keep_positive``: a positive value that rounds to 0 is kept as one unit)."""
        if name in self.graph.tensors:
            return name, self.interval[name]
        values = self.f.constants[name].values
        c = quantize_constant(name, values, scale_if_const)
        if keep_positive:
            kept = np.maximum(c.values, (values > 0).astype(np.int64))
            c = Constant(name, kept, c.scale, bits_for_range(kept.min(initial=0), kept.max(initial=0)))
        held = self.graph.constants[self.add_const(c)]
        return held.name, (int(held.values.min()), int(held.values.max()))

    def keep_scale(self, op: Op, interval):
        """Emit ``op`` unchanged at its first operand's scale, with ``interval``."""
        self.graph.ops.append(Op(op.kind, op.inputs, op.output, dict(op.attrs), op.source))
        self.declare(op.output, self.f.tensors[op.output].shape, self.scale(op.inputs[0]), interval)


def _same_constant(a: Constant, b: Constant) -> bool:
    return a.scale == b.scale and a.values.shape == b.values.shape and bool((a.values == b.values).all())
