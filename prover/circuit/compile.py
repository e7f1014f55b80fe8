"""Lowering a quantized graph (``prover.onnx.graph``) to gadgets: one table entry per op kind.

Each tensor of the graph becomes a tensor of linear combinations; ``rescale`` outputs also
keep their sign-bit decomposition, so a following ReLU costs one constraint. The graph's
semantics (and ``prover.onnx.executor``) are the specification: the witness values of every
tensor equal the executor's, bit for bit, and every bound the graph marks as *checked* is
range checked here.

Weights: in ``private`` mode the weights and biases of ``dense`` and ``conv`` ops are witness
wires (``Lowering.weight_wires``, bound to the model commitment by ``statements``) and every
product costs one constraint; in ``public`` mode they are circuit constants and linear layers
cost nothing. The constants of element-wise ops (a ``mul`` factor, an ``add`` offset) are
circuit constants in both modes and enter the architecture hash instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from prover.circuit import gadgets as G
from prover.circuit.builder import Builder, LinComb
from prover.errors import UnsupportedModelError
from prover.onnx.graph import Graph, Op

MODES = ("private", "public")


@dataclass
class Value:
    """A lowered tensor: its linear combinations and, if known, its signed-bit decomposition."""

    lc: LinComb
    sign_bits: np.ndarray | None = None


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


def weight_names(graph: Graph) -> list[str]:
    """Names of the constants that are model weights (dense/conv weights and biases), in the
    order the ops use them: the order they are packed into the model commitment."""
    names: list[str] = []
    for op in graph.ops:
        if op.kind in ("dense", "conv"):
            names += [n for n in op.inputs[1:] if n not in names]
    return names


def check_compilable(graph: Graph, mode: str) -> None:
    """Raise before any work if ``graph`` cannot be compiled in ``mode``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not graph.quantized:
        raise UnsupportedModelError("only a quantized graph can be compiled; quantize the model first")
    graph.validate()
    unknown = sorted({op.kind for op in graph.ops} - set(LOWERING))
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
        rule = LOWERING.get(op.kind)
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


# --- one rule per op kind --------------------------------------------------------------------


def _operand(low: Lowering, name: str, out_ndim: int):
    """A tensor operand's LinComb, or a constant's int64 values (leading 1-axes dropped so they
    broadcast against per-sample shapes)."""
    if name in low.values:
        return low.values[name].lc
    values = low.graph.constants[name].values
    while values.ndim > out_ndim and values.shape[0] == 1:
        values = values[0]
    return values


def _linear(b: Builder, low: Lowering, op: Op) -> Value:
    graph = low.graph
    x = low.values[op.inputs[0]].lc
    w_name = op.inputs[1]
    b_name = op.inputs[2] if len(op.inputs) > 2 else None
    w = graph.constants[w_name].values
    out_shape = graph.tensors[op.output].shape
    if op.kind == "dense":
        xi, wi, bi = G.dense_indices(w.shape[1], w.shape[0], lead=int(np.prod(x.shape[:-1])))
    else:
        a = op.attrs
        xi, wi, bi = G.conv_indices(
            x.shape, w.shape, a["strides"], a["pads"], a.get("dilations", (1, 1)), a.get("group", 1)
        )
    if low.mode == "public":
        bias = graph.constants[b_name].values if b_name else None
        lc = G.linear_public(b, x, w, bias, xi, wi, bi)
    else:
        bias = low.weight_wires[b_name] if b_name else None
        lc = G.linear_private(b, x, low.weight_wires[w_name], bias, xi, wi, bi)
    return Value(lc.reshape(out_shape))


def _rescale(b: Builder, low: Lowering, op: Op) -> Value:
    out = low.graph.tensors[op.output]
    q, bits = G.rescale(b, low.values[op.inputs[0]].lc, op.attrs["shift"], out.quantized_bits)
    return Value(LinComb.of(q), bits)


def _relu(b: Builder, low: Lowering, op: Op) -> Value:
    x = low.values[op.inputs[0]]
    bits = x.sign_bits
    if bits is None:  # the operand's bound holds by construction; decompose to get the sign
        bits = G.signed_bits(b, x.lc, low.graph.tensors[op.inputs[0]].quantized_bits, what=f"relu ({op.source})")
    return Value(LinComb.of(G.relu(b, x.lc, bits)))


def _pool_args(low: Lowering, op: Op) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    a = op.attrs
    return low.graph.tensors[op.inputs[0]].shape, a["kernel"], a["strides"], a["pads"]


def _maxpool(b: Builder, low: Lowering, op: Op) -> Value:
    x = low.values[op.inputs[0]].lc
    bits = low.graph.tensors[op.inputs[0]].quantized_bits
    return Value(LinComb.of(G.max_pool(b, x, *_pool_args(low, op), bits=bits)))


def _sumpool(b: Builder, low: Lowering, op: Op) -> Value:
    return Value(G.sum_pool(low.values[op.inputs[0]].lc, *_pool_args(low, op)))


def _mul(b: Builder, low: Lowering, op: Op) -> Value:
    ndim = len(low.graph.tensors[op.output].shape)
    u, v = (_operand(low, n, ndim) for n in op.inputs)
    if isinstance(u, LinComb) and isinstance(v, LinComb):
        return Value(LinComb.of(G.multiply(b, u, v)))
    lc, const = (u, v) if isinstance(u, LinComb) else (v, u)
    return Value(lc * const)


def _add_or_sub(b: Builder, low: Lowering, op: Op) -> Value:
    ndim = len(low.graph.tensors[op.output].shape)
    la, lb = op.attrs.get("shifts", (0, 0))
    u, v = (_operand(low, n, ndim) for n in op.inputs)
    u = u * (1 << la) if isinstance(u, LinComb) else LinComb.constant(np.asarray(u, dtype=np.int64) << la)
    v = v * (1 << lb) if isinstance(v, LinComb) else LinComb.constant(np.asarray(v, dtype=np.int64) << lb)
    return Value(u + v if op.kind == "add" else u - v)


def _reshape(b: Builder, low: Lowering, op: Op) -> Value:
    return Value(low.values[op.inputs[0]].lc.reshape(tuple(op.attrs["shape"])))


LOWERING = {
    "dense": _linear,
    "conv": _linear,
    "rescale": _rescale,
    "relu": _relu,
    "maxpool": _maxpool,
    "sumpool": _sumpool,
    "mul": _mul,
    "add": _add_or_sub,
    "sub": _add_or_sub,
    "reshape": _reshape,
}
