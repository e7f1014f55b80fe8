"""The numpy executor of a model graph: the reference semantics that the circuit matches.

On a quantized graph every step is exact int64 arithmetic as specified in
``prover.onnx.graph`` (floor rescale, max, sums), and every declared bound is checked; on a
float graph the same ops run in float64 (the float reference, and the calibration run of the
quantizer). Every op works on a whole batch at once; convolutions and pools read their windows
through one strided view (im2col without copies until the matrix product).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from prover.errors import CircuitError
from prover.onnx.graph import Graph, InputShapeError, Op, ValueRangeError, bound_of


def windows(x: np.ndarray, kernel, strides, pads, dilations=(1, 1), pad_value=0) -> np.ndarray:
    """The sliding windows of a batch ``x[N, C, H, W]`` as a view of shape
    ``(N, C, OH, OW, kh, kw)``; ``pads = (top, left, bottom, right)`` filled with ``pad_value``."""
    kh, kw = kernel
    sh, sw = strides
    dh, dw = dilations
    top, left, bottom, right = pads
    if any(pads):
        x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=pad_value)
    span_h, span_w = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    view = np.lib.stride_tricks.sliding_window_view(x, (span_h, span_w), axis=(2, 3))
    return view[:, :, ::sh, ::sw, ::dh, ::dw]


def conv2d(x: np.ndarray, weight: np.ndarray, bias, strides, pads, dilations, group: int) -> np.ndarray:
    """Grouped 2-D cross-correlation ``x[N, C, H, W] * weight[O, C/group, kh, kw] + bias[O]``
    (the ``conv`` op of ``prover.onnx.graph``), as one matrix product per group."""
    n, c = x.shape[:2]
    o, cg, kh, kw = weight.shape
    og = o // group
    win = windows(x, (kh, kw), strides, pads, dilations)
    oh, ow = win.shape[2:4]
    out = np.empty((n, o, oh, ow), dtype=np.result_type(x, weight))
    for g in range(group):
        cols = win[:, g * cg : (g + 1) * cg].transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, cg * kh * kw)
        w = weight[g * og : (g + 1) * og].reshape(og, cg * kh * kw)
        out[:, g * og : (g + 1) * og] = (cols @ w.T).reshape(n, oh, ow, og).transpose(0, 3, 1, 2)
    if bias is not None:
        out += bias.reshape(1, o, 1, 1)
    return out


def _dense(x, w, b=None, **_):
    y = x @ w.T
    return y if b is None else y + b


def _conv(x, w, b=None, *, strides, pads, dilations, group, **_):
    return conv2d(x, w, b, strides, pads, dilations, group)


def _rescale(x, *, shift, **_):
    return x >> shift


def _relu(x, **_):
    return np.maximum(x, 0)


def _maxpool(x, *, kernel, strides, pads, **_):
    # padding must never win: fill it with the smallest value of the dtype
    low = np.iinfo(x.dtype).min if x.dtype.kind == "i" else -np.inf
    return windows(x, kernel, strides, pads, pad_value=low).max(axis=(4, 5))


def _sumpool(x, *, kernel, strides, pads, **_):
    return windows(x, kernel, strides, pads).sum(axis=(4, 5))


def _avgpool(x, *, kernel, strides, pads, **_):
    return _sumpool(x, kernel=kernel, strides=strides, pads=pads) / (kernel[0] * kernel[1])


def _mul(a, b, **_):
    return a * b


def _shifted(v, left):
    return v << left if v.dtype.kind == "i" else v * float(2**left)


def _add(a, b, *, shifts=(0, 0), **_):
    return _shifted(a, shifts[0]) + _shifted(b, shifts[1])


def _sub(a, b, *, shifts=(0, 0), **_):
    return _shifted(a, shifts[0]) - _shifted(b, shifts[1])


def _reshape(x, *, shape, **_):
    return x.reshape((x.shape[0],) + tuple(shape))


# op kind -> batched numpy semantics; operands arrive with a leading batch axis, constants without
SEMANTICS: dict[str, Callable[..., np.ndarray]] = {
    "dense": _dense,
    "conv": _conv,
    "rescale": _rescale,
    "relu": _relu,
    "maxpool": _maxpool,
    "sumpool": _sumpool,
    "avgpool": _avgpool,
    "mul": _mul,
    "add": _add,
    "sub": _sub,
    "reshape": _reshape,
}


def _batched(graph: Graph, x: np.ndarray) -> tuple[np.ndarray, bool]:
    """x as a batch, and whether it was a single sample; raises InputShapeError otherwise."""
    want = graph.input_tensor.shape
    x = np.asarray(x)
    if x.shape == want:
        return x[None], True
    if x.ndim == len(want) + 1 and x.shape[1:] == want:
        return x, False
    raise InputShapeError(
        f"input has shape {x.shape}, the model expects {want} or a batch (N, {', '.join(map(str, want))}); "
        "reshape the input to the model's input shape"
    )


def check_bound(graph: Graph, name: str, values: np.ndarray, where: str) -> None:
    """Raise ValueRangeError if a value of tensor ``name`` is outside its declared bits."""
    t = graph.tensors[name]
    lo, hi = bound_of(t.quantized_bits)
    vmin, vmax = int(values.min(initial=0)), int(values.max(initial=0))
    if vmin < lo or vmax > hi:
        bad = vmin if vmin < lo else vmax
        raise ValueRangeError(
            f"{where}: value {bad} of tensor {name!r} is outside its {t.bits}-bit range [{lo}, {hi}]; "
            "the input is outside the range the model was quantized for (quantize it again with "
            "calibration data that covers such inputs)"
        )


def execute(graph: Graph, x: np.ndarray, keep_all: bool = False) -> dict[str, np.ndarray]:
    """Run ``graph`` on a batch (or one sample) ``x`` already in the graph's number domain (int64
    for a quantized graph, float for a float graph). Returns the output tensor, or every tensor
    with ``keep_all``, keyed by name, with the batch axis as given. On a quantized graph every
    value is checked against its declared bound (ValueRangeError)."""
    batch, single = _batched(graph, x)
    if graph.quantized:
        if batch.dtype.kind not in "iu":
            raise CircuitError(
                f"a quantized graph takes integers, not {batch.dtype}; quantize the input "
                "with quantize_input (or call predict)"
            )
        batch = batch.astype(np.int64, copy=False)
        check_bound(graph, graph.input, batch, "model input")
    else:
        batch = batch.astype(np.float64, copy=False)
    values = {graph.input: batch}
    consumers_left = _use_counts(graph)
    for op in graph.ops:
        operands, params = _operands(graph, op, values)
        out = SEMANTICS[op.kind](*operands, *params, **op.attrs)
        expected = (batch.shape[0],) + graph.tensors[op.output].shape
        if out.shape != expected:
            raise CircuitError(
                f"op {op.kind} ({op.source}) produced shape {out.shape[1:]}, graph declares {expected[1:]}"
            )
        if graph.quantized:
            check_bound(graph, op.output, out, f"{op.kind} ({op.source})")
        values[op.output] = out
        if not keep_all:
            for name in op.inputs:
                consumers_left[name] = consumers_left.get(name, 1) - 1
                if consumers_left[name] == 0 and name != graph.output:
                    values.pop(name, None)
    wanted = values if keep_all else {graph.output: values[graph.output]}
    return {k: (v[0] if single else v) for k, v in wanted.items()}


def _use_counts(graph: Graph) -> dict[str, int]:
    counts: dict[str, int] = {}
    for op in graph.ops:
        for name in op.inputs:
            counts[name] = counts.get(name, 0) + 1
    return counts


def _operands(graph: Graph, op: Op, values: dict) -> tuple[list, list]:
    """Split an op's inputs into tensor operands (batched) and trailing constant parameters.
    A constant in an elementwise op is an operand without a batch axis (it broadcasts)."""
    if op.kind in ("dense", "conv"):
        return [values[op.inputs[0]]], [graph.constants[n].values for n in op.inputs[1:]]
    operands = [values[n] if n in values else graph.constants[n].values for n in op.inputs]
    return operands, []


def quantize_input(graph: Graph, x: np.ndarray) -> np.ndarray:
    """Real-valued input -> the graph's int64 input: round(x * 2**scale), halves rounded up.
    Raises ValueRangeError for a value outside the input's declared bound."""
    t = graph.input_tensor
    q = np.floor(np.asarray(x, dtype=np.float64) * 2.0**t.quantized_scale + 0.5)
    lo, hi = bound_of(t.quantized_bits)
    if q.size and (q.min() < lo or q.max() > hi):
        raise ValueRangeError(
            f"input value {float(np.abs(x).max())} is outside the model's quantized input range "
            f"[{lo * 2.0**-t.quantized_scale}, {hi * 2.0**-t.quantized_scale}]; "
            "scale the input like the training data"
        )
    return q.astype(np.int64)


def dequantize(graph: Graph, name: str, values: np.ndarray) -> np.ndarray:
    """Integer values of tensor ``name`` -> the real numbers they stand for."""
    return np.asarray(values, dtype=np.float64) * 2.0 ** -graph.tensors[name].quantized_scale


def argmax_label(logits: np.ndarray) -> np.ndarray:
    """The predicted label(s): the index of the largest logit, the lowest index on ties."""
    return np.argmax(logits, axis=-1)  # numpy's argmax returns the first maximum


@dataclass
class Prediction:
    """A quantized run: integer logits, labels, and the logits as real numbers."""

    logits: np.ndarray
    label: np.ndarray

    def __iter__(self):
        return iter((self.logits, self.label))


def predict(graph: Graph, x: np.ndarray) -> Prediction:
    """Quantize a real input, run the quantized graph exactly, and return the integer logits
    and labels (for one sample or a batch)."""
    if not graph.quantized:
        raise CircuitError("predict needs a quantized graph; quantize the model first")
    logits = execute(graph, quantize_input(graph, x))[graph.output]
    return Prediction(logits, argmax_label(logits))


def run_float(graph: Graph, x: np.ndarray) -> np.ndarray:
    """The float64 reference run of a float graph: its real-valued logits."""
    if graph.quantized:
        raise CircuitError("run_float needs the float graph the quantized one was made from")
    return execute(graph, x)[graph.output]
