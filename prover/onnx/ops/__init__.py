"""The op registry: everything the pipeline knows about an op, in one entry per op.

An ``OpSpec`` is one op kind of the model graph (``prover.onnx.graph``): its input arity, the
stage it may appear in, its batched numpy semantics (the integer reference that
``prover.onnx.executor`` runs, and the float run the quantizer calibrates on), its quantization
rule (float op -> quantized ops, ``prover.onnx.quantize``) and its R1CS lowering
(``prover.circuit.compile``). An ``OnnxImport`` is one ONNX operator the importer accepts: the
function that lowers a node to graph ops, and the kinds it may emit.

The modules of this package, one per op family, each register their ops and ONNX operators;
``REGISTRY`` and ``IMPORTS`` are the only tables, and every stage reads them:

    linear.py       dense, conv                     Gemm, MatMul, Conv, BatchNormalization
    elementwise.py  add, sub, mul, relu, rescale    Add, Sub, Mul, Relu
    pool.py         maxpool, sumpool, avgpool       MaxPool, AveragePool, GlobalAveragePool
    movement.py     reshape, transpose, slice,      Flatten, Reshape, Squeeze, Unsqueeze,
                    gather, concat, pad, expand,    Transpose, Slice, Split, Gather, Concat,
                    tile                            Pad, Expand, Tile, Identity

    piecewise.py    neg, abs, clip, max, min,       Neg, Abs, Clip (ReLU6), Max, Min, LeakyRelu
                    leakyrelu

Any other operator is accepted on constant operands only: ``prover.onnx.fold`` evaluates it at
import.

Rule signatures (each stage passes its own context object):

- ``execute(*operands, **attrs) -> ndarray``: operands in ``Op.inputs`` order, tensors with a
  leading batch axis, constants without one;
- ``quantize(quantizer, op)``: appends the quantized ops for float ``op`` to the quantizer's
  graph (``prover.onnx.quantize._Quantizer``);
- ``lower(builder, lowering, op) -> Value``: adds the op's constraints and witness steps and
  returns its output (``prover.circuit.compile``);
- ``onnx(importer, node)``: lowers an ONNX node (``prover.onnx.importer.Importer``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

STAGES = ("both", "float", "quantized")


@dataclass(frozen=True)
class OpSpec:
    """One op kind: arity (constants included), stage, semantics, quantization and lowering.

    A float-only kind (``stage="float"``) has no lowering: its quantization rule replaces it by
    the kinds listed in ``quantized_as``. A quantized-only kind has no quantization rule: the
    quantizer makes it (``rescale``)."""

    kind: str
    arity: tuple[int, ...]
    execute: Callable[..., Any]
    quantize: Callable[[Any, Any], None] | None = None
    lower: Callable[[Any, Any, Any], Any] | None = None
    stage: str = "both"
    quantized_as: tuple[str, ...] = ()


@dataclass(frozen=True)
class OnnxImport:
    """One ONNX operator of the default domain: its import rule and the kinds it may emit (none
    for an operator that only renames, folds into the op before it, or is constant)."""

    op_type: str
    rule: Callable[[Any, Any], None]
    emits: tuple[str, ...] = ()


REGISTRY: dict[str, OpSpec] = {}
IMPORTS: dict[str, OnnxImport] = {}


def register(spec: OpSpec) -> OpSpec:
    """Add an op kind to ``REGISTRY`` (once)."""
    if spec.kind in REGISTRY:
        raise ValueError(f"op kind {spec.kind!r} registered twice")
    if spec.stage not in STAGES:
        raise ValueError(f"op kind {spec.kind!r}: stage must be one of {STAGES}")
    REGISTRY[spec.kind] = spec
    return spec


def register_onnx(op_type: str, emits: tuple[str, ...] = ()):
    """Decorator: the import rule of ONNX operator ``op_type`` (once), emitting ``emits``."""

    def add(rule):
        if op_type in IMPORTS:
            raise ValueError(f"ONNX operator {op_type!r} registered twice")
        IMPORTS[op_type] = OnnxImport(op_type, rule, emits)
        return rule

    return add


def op_spec(kind: str) -> OpSpec | None:
    """The registry entry of an op kind, or None for an unknown kind."""
    return REGISTRY.get(kind)


# the families register themselves on import; the order is the order of the listing above
from prover.onnx.ops import elementwise, linear, movement, piecewise, pool  # noqa: E402, F401
