"""Lowering a quantized graph (``prover.onnx.graph``) to gadgets: each op by the ``lower`` rule
of its entry in the op registry (``prover.onnx.ops``).

Each tensor of the graph becomes a tensor of linear combinations; ``rescale`` outputs also
keep their sign-bit decomposition, so a following ReLU costs one constraint. The graph's
semantics (and ``prover.onnx.executor``) are the specification: the witness values of every
tensor equal the executor's, bit for bit, and every bound the graph marks as *checked* is
range checked here.

Weights: in ``private`` mode the weights and biases of ``dense`` and ``conv`` ops, and the
thresholds, leaves and base of ``trees`` (the kinds whose ``OpSpec.weights`` is set), are
witness wires (``Lowering.weight_wires``, bound to the model commitment by ``statements``) and
every product costs one constraint; in ``public`` mode they are circuit constants and linear
layers cost nothing. The constants of element-wise ops (a ``mul`` factor, an ``add`` offset) are
circuit constants in both modes and enter the architecture hash instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from prover.circuit.builder import Builder, LinComb, Value
from prover.errors import UnsupportedModelError
from prover.onnx.graph import Graph
from prover.onnx.ops import REGISTRY, validate_graph
from prover.onnx.ops.registry import has_weights

MODES = ("private", "public")


@dataclass
class Lowering:
    """The result of lowering a graph: every tensor's value and the weight wires by name."""

    graph: Graph
    mode: str
    values: dict[str, Value]
    weight_wires: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def output(self) -> LinComb:
        return self.values[self.graph.output].lc

    def operand(self, name: str, out_ndim: int):
        """A tensor operand's LinComb, or a constant's int64 values (leading 1-axes dropped so
        they broadcast against per-sample shapes)."""
        if name in self.values:
            return self.values[name].lc
        values = self.graph.constants[name].values
        while values.ndim > out_ndim and values.shape[0] == 1:
            values = values[0]
        return values


def weight_names(graph: Graph) -> list[str]:
    """Names of the constants that are model weights (the constant operands of the kinds whose
    ``OpSpec.weights`` is set: dense/conv weights and biases, tree thresholds and leaves), in
    the order the ops use them: the order they are packed into the model commitment."""
    names: list[str] = []
    for op in graph.ops:
        if has_weights(op.kind):
            names += [n for n in op.inputs[1:] if n not in names]
    return names


def check_compilable(graph: Graph, mode: str) -> None:
    """Raise before any work if ``graph`` cannot be compiled in ``mode``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not graph.quantized:
        raise UnsupportedModelError("only a quantized graph can be compiled; quantize the model first")
    validate_graph(graph)
    unknown = sorted({op.kind for op in graph.ops if _rule(op.kind) is None})
    if unknown:
        raise UnsupportedModelError(f"ops without a circuit lowering: {', '.join(unknown)}")


def lower(
    b: Builder, graph: Graph, x, mode: str = "private", weight_wires: dict[str, np.ndarray] | None = None
) -> Lowering:
    """Add the constraints of ``graph`` applied to the input tensor ``x`` (wires or LinComb of
    the input's shape, already range checked by the caller). Private-mode weight wires are
    declared as builder inputs named ``weight:<constant name>``, unless ``weight_wires`` (the
    ``weight_wires`` of an earlier lowering in the same builder) is given: then every sample
    of a batch statement runs on the same weight wires, committed once."""
    check_compilable(graph, mode)
    x = LinComb.lift(x)
    if x.shape != graph.input_tensor.shape:
        raise UnsupportedModelError(f"input of shape {x.shape}, the graph expects {graph.input_tensor.shape}")
    low = Lowering(graph, mode, {graph.input: Value(x)})
    if mode == "private" and weight_wires is not None:
        low.weight_wires = dict(weight_wires)
    elif mode == "private":
        for name in weight_names(graph):
            c = graph.constants[name]
            low.weight_wires[name] = b.input(f"weight:{name}", c.values.shape)
    for op in graph.ops:
        rule = _rule(op.kind)
        if rule is None:
            raise UnsupportedModelError(f"op {op.kind} ({op.source}) has no circuit lowering")
        value = rule(b, low, op)
        want = graph.tensors[op.output].shape
        if value.lc.shape != want:
            raise UnsupportedModelError(
                f"op {op.kind} ({op.source}) lowered to shape {value.lc.shape}, the graph declares {want}"
            )
        low.values[op.output] = value
    return low


def _rule(kind: str):
    """The registry's lowering of an op kind (None: unknown, or float-only)."""
    spec = REGISTRY.get(kind)
    return spec.lower if spec is not None else None
