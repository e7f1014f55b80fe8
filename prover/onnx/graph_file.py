"""The quantized graph on disk: ``graph.json`` (ops, tensors, constant metadata) and
``weights.npz`` (the int64 constants). A compiled model directory and the provider's cache are
rebuilt from these two files, so the circuit and its witness generator need no ONNX re-import.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from prover.errors import FormatError
from prover.onnx.graph import Constant, Graph, Op, Tensor

GRAPH_JSON = "graph.json"
WEIGHTS_NPZ = "weights.npz"


def _tuples(value):
    """JSON lists back to the tuples the importer puts in op attributes."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def save_graph(graph: Graph, directory: Path) -> None:
    """Write a quantized graph as ``graph.json`` (ops, tensors, constant metadata) and
    ``weights.npz`` (the int64 constants, by position so that any name is safe)."""
    names = list(graph.constants)
    spec = {
        "input": graph.input,
        "output": graph.output,
        "quantized": graph.quantized,
        "meta": _plain(graph.meta),
        "tensors": [[t.name, list(t.shape), t.scale, t.bits, t.checked] for t in graph.tensors.values()],
        "constants": [[c.name, c.scale, c.bits] for c in graph.constants.values()],
        "ops": [[op.kind, list(op.inputs), op.output, _plain(op.attrs), op.source] for op in graph.ops],
    }
    (directory / GRAPH_JSON).write_text(json.dumps(spec, indent=1))
    with open(directory / WEIGHTS_NPZ, "wb") as out:
        np.savez(out, allow_pickle=False, **{f"c{i}": graph.constants[n].values for i, n in enumerate(names)})


def load_graph(directory: Path) -> Graph:
    """The quantized graph that ``save_graph`` wrote (FormatError if it is missing or damaged)."""
    try:
        spec = json.loads((directory / GRAPH_JSON).read_text())
        with np.load(directory / WEIGHTS_NPZ, allow_pickle=False) as npz:
            arrays = [npz[f"c{i}"] for i in range(len(spec["constants"]))]
        tensors = {
            n: Tensor(n, tuple(shape), scale, bits, checked) for n, shape, scale, bits, checked in spec["tensors"]
        }
        constants = {
            n: Constant(n, np.asarray(arrays[i], dtype=np.int64), scale, bits)
            for i, (n, scale, bits) in enumerate(spec["constants"])
        }
        ops = [
            Op(kind, tuple(inputs), output, _tuples(attrs), source)
            for kind, inputs, output, attrs, source in spec["ops"]
        ]
        return Graph(spec["input"], spec["output"], tensors, constants, ops, spec["quantized"], spec["meta"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FormatError(
            f"{directory}: cannot read the quantized graph ({exc}); compile the model again with zkmarket model compile"
        ) from exc
