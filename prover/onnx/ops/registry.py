"""The registry's tables and entry types (``OpSpec``, ``OnnxImport``), ``register`` and
``register_onnx`` that the op-family modules call, and the graph check that reads them; the
package docstring (``prover.onnx.ops``) describes the rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from prover.errors import CircuitError
from prover.onnx.graph import MAX_BITS, Graph

STAGES = ("both", "float", "quantized")


@dataclass(frozen=True)
class OpSpec:
    """One op kind: arity (constants included), stage, semantics, quantization and lowering.

    A float-only kind (``stage="float"``) has no lowering: its quantization rule replaces it by
    the kinds listed in ``quantized_as``. A quantized-only kind has no quantization rule: the
    quantizer makes it (``rescale``). ``weights``: the op's constant operands (every input after
    the first) are model weights: witness wires in private mode, bound by the model commitment,
    and left out of the architecture spec."""

    kind: str
    arity: tuple[int, ...]
    execute: Callable[..., Any]
    quantize: Callable[[Any, Any], None] | None = None
    lower: Callable[[Any, Any, Any], Any] | None = None
    stage: str = "both"
    quantized_as: tuple[str, ...] = ()
    weights: bool = False


@dataclass(frozen=True)
class OnnxImport:
    """One ONNX operator: its domain (``""`` for the default one), its import rule and the kinds
    it may emit (none for an operator that only renames, folds into the op before it, or is
    constant). ``IMPORTS`` keys it by ``onnx_key(domain, op_type)``."""

    op_type: str
    rule: Callable[[Any, Any], None]
    emits: tuple[str, ...] = ()
    domain: str = ""

    @property
    def key(self) -> str:
        return onnx_key(self.domain, self.op_type)


REGISTRY: dict[str, OpSpec] = {}
IMPORTS: dict[str, OnnxImport] = {}
# the ONNX domains whose operators have rules: the default one and the classical-ML one
DEFAULT_DOMAINS = ("", "ai.onnx")
ML_DOMAIN = "ai.onnx.ml"
DOMAINS = ("", ML_DOMAIN)


def onnx_key(domain: str, op_type: str) -> str:
    """The ``IMPORTS`` key of an operator: its bare name in the default domain (``""`` or
    ``"ai.onnx"``), ``domain.op_type`` in any other (``"ai.onnx.ml.LinearClassifier"``)."""
    return op_type if domain in DEFAULT_DOMAINS else f"{domain}.{op_type}"


def register(spec: OpSpec) -> OpSpec:
    """Add an op kind to ``REGISTRY`` (once)."""
    if spec.kind in REGISTRY:
        raise ValueError(f"op kind {spec.kind!r} registered twice")
    if spec.stage not in STAGES:
        raise ValueError(f"op kind {spec.kind!r}: stage must be one of {STAGES}")
    REGISTRY[spec.kind] = spec
    return spec


def register_onnx(op_type: str, emits: tuple[str, ...] = (), domain: str = ""):
    """Decorator: the import rule of ONNX operator ``op_type`` of ``domain`` (once), emitting
    ``emits``."""

    def add(rule):
        if domain not in DOMAINS:
            raise ValueError(f"ONNX domain {domain!r} is not one of {DOMAINS}")
        entry = OnnxImport(op_type, rule, emits, domain)
        if entry.key in IMPORTS:
            raise ValueError(f"ONNX operator {entry.key!r} registered twice")
        IMPORTS[entry.key] = entry
        return rule

    return add


def register_unary_onnx(op_type: str, kind: str) -> None:
    """The import rule of a one-operand ONNX operator that becomes op ``kind`` as it is."""

    def rule(im, node):
        im.emit(kind, [im.tensor_input(node.input[0])], node.output[0])

    register_onnx(op_type, emits=(kind,))(rule)


def op_spec(kind: str) -> OpSpec | None:
    """The registry entry of an op kind, or None for an unknown kind."""
    return REGISTRY.get(kind)


def has_weights(kind: str) -> bool:
    """Whether an op kind's constant operands are model weights (``OpSpec.weights``)."""
    spec = REGISTRY.get(kind)
    return spec is not None and spec.weights


# the families register themselves on import; the order is the order of the listing above
def validate_graph(graph: Graph) -> None:
    """Check the graph is well formed: known kinds and arities, every operand defined before
    use, every tensor written once, and (quantized) integer constants and bounds present
    and at most MAX_BITS. Raises CircuitError naming the op otherwise."""
    defined = {graph.input}
    wrong_stage = "float" if graph.quantized else "quantized"
    for op in graph.ops:
        where = f"op {op.kind} -> {op.output} (from {op.source or 'unknown'})"
        spec = REGISTRY.get(op.kind)
        if spec is None:
            raise CircuitError(f"{where}: unknown op kind")
        if len(op.inputs) not in spec.arity:
            raise CircuitError(f"{where}: takes {spec.arity} inputs, has {len(op.inputs)}")
        if spec.stage == wrong_stage:
            raise CircuitError(f"{where}: not allowed in a {'quantized' if graph.quantized else 'float'} graph")
        for name in op.inputs:
            if name not in defined and name not in graph.constants:
                raise CircuitError(f"{where}: operand {name!r} is used before it is defined")
        if op.output in defined or op.output not in graph.tensors:
            raise CircuitError(f"{where}: output must be a new declared tensor")
        defined.add(op.output)
    if graph.output not in defined:
        raise CircuitError(f"the graph never computes its output {graph.output!r}")
    if graph.quantized:
        for t in graph.tensors.values():
            if t.scale is None or t.bits is None or not 1 <= t.bits <= MAX_BITS:
                raise CircuitError(f"tensor {t.name!r} lacks a scale or a bound of 1..{MAX_BITS} bits")
        for c in graph.constants.values():
            if c.values.dtype != np.int64 or c.scale is None or c.bits is None:
                raise CircuitError(f"constant {c.name!r} is not an int64 array with a scale and bound")
