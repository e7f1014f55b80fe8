"""The numpy executor of a model graph: the reference semantics that the circuit matches.

Each op runs the ``execute`` rule of its entry in the op registry (``prover.onnx.ops``). On a
quantized graph every step is exact int64 arithmetic as specified in ``prover.onnx.graph``
(floor rescale, max, sums), and every declared bound is checked; on a
float graph the same ops run in float64 (the float reference, and the calibration run of the
quantizer). Every op works on a whole batch at once; convolutions and pools read their windows
through one strided view (im2col without copies until the matrix product).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prover.errors import CircuitError, ValueRangeError
from prover.onnx.graph import (
    Graph,
    InputShapeError,
    Op,
    bound_of,
)
from prover.onnx.ops import REGISTRY
from prover.onnx.ops.linear import conv2d  # noqa: F401  (re-exported: the window geometry)


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
        out = REGISTRY[op.kind].execute(*_operands(graph, op, values), **op.attrs)
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


def _operands(graph: Graph, op: Op, values: dict) -> list:
    """An op's operands in input order: tensors batched, constants without a batch axis (they
    broadcast, or are the weights of a dense/conv)."""
    return [values[n] if n in values else graph.constants[n].values for n in op.inputs]


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
