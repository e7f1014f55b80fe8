"""ONNX file -> float model graph (``prover.onnx.graph``), with ONNX shape inference.

The importer refuses, before doing any work, a model of an opset outside 13..20 or with a
non-constant node whose operator is outside ``SUPPORTED_OPS`` (``UnsupportedModelError`` naming
the operator and the node), and a file that is missing or not a valid ONNX model
(``FormatError``). It then fixes the batch axis to 1, folds every constant node
(``prover.onnx.fold``, with ONNX shape inference, so that every tensor has a static per-sample
shape), and lowers each remaining node to the graph's ops: Gemm and MatMul to ``dense``,
BatchNormalization folded into the Conv or Gemm before it, a constant Add after a Conv or Gemm
folded into its bias, Identity removed, data movement (Flatten, Reshape, Transpose, Slice, ...)
to rewiring ops. A ReduceMean over the spatial axes is read as the GlobalAveragePool it is
(``rewrites.spatial_means_as_pools``) before the operators are checked.

Each graph tensor holds one sample. Where an exporter moves the batch off the first axis (a
Transpose to [seq, batch, ...]) or merges it into another (attention's Reshape of [L, N, E] to
[L, N*H, E/H]), the importer records where it lies (``prover.onnx.batch``; a Reshape's new place
is read from the shapes inferred again at a second batch size) and refuses every op that would
act along that axis or mix samples, so that the graph computes for each sample what the model
computes for it at every batch size.

Each ONNX operator's rule is its entry in ``prover.onnx.ops.IMPORTS`` (the family modules of
``prover.onnx.ops`` list which operator becomes which graph op); this module holds the pass
over the nodes and the helpers the rules share (``Importer``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from prover.errors import FormatError, UnsupportedModelError
from prover.onnx.batch import BATCH_FIRST, PROBE_BATCH, BatchAxis
from prover.onnx.fold import constant_names, fold_constants, node_label
from prover.onnx.graph import Constant, Graph, Op, Tensor
from prover.onnx.ops import IMPORTS, validate_graph
from prover.onnx.ops.registry import DEFAULT_DOMAINS, onnx_key
from prover.onnx.rewrites import spatial_means_as_pools
from prover.onnx.tail import TAIL_ONLY, split_tail, tail_only_reason

# the ONNX operators the importer accepts on computed tensors: those with a rule in the op
# registry (any operator is accepted on constants: it is folded)
SUPPORTED_OPS = frozenset(IMPORTS)
# the default-domain opsets whose operator definitions the rules follow
OPSETS = tuple(range(13, 21))
_FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16}


def load_model(source) -> onnx.ModelProto:
    """Read an ONNX model from a path, bytes or a ModelProto; FormatError if it is missing or
    not a parseable ONNX protobuf."""
    if isinstance(source, onnx.ModelProto):
        return source
    if isinstance(source, (bytes, bytearray)):
        data, where = bytes(source), "the given bytes"
    else:
        path = Path(os.fspath(source))
        if not path.is_file():
            raise FormatError(f"ONNX model {path} does not exist; give the path of a .onnx file")
        data, where = path.read_bytes(), str(path)
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # the protobuf decoder raises several unrelated types
        raise FormatError(
            f"{where} is not a valid ONNX model ({type(exc).__name__}); export the model again with ONNX"
        ) from exc
    if not model.graph.node:
        raise FormatError(f"{where} holds no ONNX graph nodes; is it an ONNX model file?")
    return model


def check_supported(model: onnx.ModelProto) -> None:
    """Raise UnsupportedModelError for an opset outside ``OPSETS`` and for the first node that
    is neither constant (``prover.onnx.fold`` evaluates it at import) nor an operator the
    compiler has a rule for."""
    versions = [o.version for o in model.opset_import if o.domain in DEFAULT_DOMAINS]
    if not versions or not OPSETS[0] <= versions[0] <= OPSETS[-1]:
        found = f"opset {versions[0]}" if versions else "no default-domain opset"
        raise UnsupportedModelError(
            f"the model uses {found}; the importer reads opsets {OPSETS[0]} to {OPSETS[-1]}: "
            f"export again with an opset in that range (e.g. opset_version={OPSETS[-1]})"
        )
    constant = constant_names(model)
    for index, node in enumerate(model.graph.node):
        if all(n in constant for n in node.output if n):
            continue  # folded at import, whatever its operator
        key = onnx_key(node.domain, node.op_type)
        if key in TAIL_ONLY:  # left by split_tail: not on the path to an output
            raise UnsupportedModelError(tail_only_reason(node, node_label(node, index)))
        if key not in SUPPORTED_OPS:
            raise UnsupportedModelError(
                f"operator {key} in node {node_label(node, index)} is not supported "
                f"(supported: {', '.join(sorted(SUPPORTED_OPS))}); replace it before exporting"
            )


def import_model(source) -> Graph:
    """Load, check and convert an ONNX model into a float graph. Raises FormatError for a bad
    file and UnsupportedModelError for an operator, attribute or shape the compiler lacks.

    A classifier's tail (``prover.onnx.tail``: the label output, ZipMap, a trailing Softmax, a
    LinearClassifier's post_transform) is cut first: the graph's output is the score vector,
    which the circuit proves together with its argmax, the label. What was cut is recorded in
    ``graph.meta["postprocess"]`` for a client to apply."""
    model = load_model(source)
    model, postprocess = split_tail(model)
    model = spatial_means_as_pools(model)
    check_supported(model)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise FormatError(f"the ONNX model fails the ONNX checker: {str(exc).splitlines()[0]}") from exc
    graph = Importer(model).graph
    if postprocess is not None:
        graph.meta["postprocess"] = postprocess
    return graph


class Importer:
    """One pass over the (topologically ordered) ONNX nodes, building the float graph; the
    context that the ONNX rules of ``prover.onnx.ops`` read and extend."""

    def __init__(self, model: onnx.ModelProto):
        initializers = {t.name for t in model.graph.initializer}
        inputs = [i for i in model.graph.input if i.name not in initializers]
        if len(inputs) != 1 or len(model.graph.output) != 1:
            raise UnsupportedModelError(
                f"the model has {len(inputs)} inputs and {len(model.graph.output)} outputs; the compiler needs "
                "exactly one input and one output (the logits)"
            )
        self.input_name = inputs[0].name
        # the model before folding, and its shapes at batch PROBE_BATCH (``probe_shapes``)
        self._model = model
        self._probe_shapes: dict[str, tuple[int, ...]] | None = None
        model, self.shapes = fold_constants(self._batch_of(model, inputs[0], 1))
        g = model.graph
        self.values: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        self.alias: dict[str, str] = {}
        # outputs of a per-feature affine (x - offset) * scale (an ai.onnx.ml Scaler): the ops that
        # compute it, foldable into a dense that reads it (``dense``)
        self.affine: dict[str, tuple[str, np.ndarray, np.ndarray, list[Op]]] = {}
        self.uses = self._use_counts(g)
        # graph tensors whose ONNX batch is not the first axis of its own (a Transpose before a
        # layout-0 RNN, its outputs; attention's heads): their graph values are batch first
        self.batch_axis: dict[str, BatchAxis] = {}
        self.graph = Graph(input=self.input_name, output="", tensors={}, constants={}, ops=[])
        self.graph.tensors[self.input_name] = Tensor(self.input_name, self.shapes[self.input_name][1:])
        for index, node in enumerate(g.node):
            self.node, self.where = node, node_label(node, index)
            entry = IMPORTS.get(onnx_key(node.domain, node.op_type))
            if entry is None:  # accepted by check_supported as constant, yet not folded
                raise UnsupportedModelError(
                    f"node {self.where}: {node.op_type} is supported on constants only, and here an input "
                    "depends on the model input (or has no static shape); export it with constant operands"
                )
            entry.rule(self, node)
        out = self.resolve(g.output[0].name)
        if out not in self.graph.tensors or out == self.input_name:
            raise UnsupportedModelError(f"the model output {g.output[0].name} is not computed from its input")
        if out in self.batch_axis:
            batch = self.batch_axis[out]
            merged = f", merged with {batch.outer * batch.inner} values of each sample" if batch.merged else ""
            raise UnsupportedModelError(
                f"the model output {out} has its batch axis at position {batch.axis}{merged}; the compiler needs it "
                "first, an axis of its own (Transpose or Reshape it back before the output)"
            )
        if len(self.graph.tensors[out].shape) != 1:
            raise UnsupportedModelError(
                f"the model output {out} has per-sample shape {self.graph.tensors[out].shape}; "
                "the compiler needs a vector of logits (add a Flatten before the output)"
            )
        self.graph.output = out
        validate_graph(self.graph)

    # --- shapes -------------------------------------------------------------------------------

    @staticmethod
    def _batch_of(model: onnx.ModelProto, inp: onnx.ValueInfoProto, size: int) -> onnx.ModelProto:
        """A copy of the model with the batch axis of its float input fixed to ``size`` and no
        stale value_info, for shape inference and folding."""
        tt = inp.type.tensor_type
        if tt.elem_type not in _FLOAT_TYPES:
            raise UnsupportedModelError(
                f"input {inp.name} has element type "
                f"{onnx.TensorProto.DataType.Name(tt.elem_type)}; a float input is needed"
            )
        dims = list(tt.shape.dim)
        if len(dims) < 2:
            raise UnsupportedModelError(
                f"input {inp.name} has rank {len(dims)}; the compiler needs a batch axis followed by the sample's axes"
            )
        if dims[0].HasField("dim_value") and dims[0].dim_value not in (0, 1):
            raise UnsupportedModelError(
                f"input {inp.name} has a fixed batch size {dims[0].dim_value}; "
                "export with batch size 1 or a symbolic batch axis"
            )
        if any(not d.HasField("dim_value") for d in dims[1:]):
            raise UnsupportedModelError(f"input {inp.name} has symbolic sample axes; export with a fixed shape")
        fixed = onnx.ModelProto()
        fixed.CopyFrom(model)
        for vi in fixed.graph.input:
            if vi.name == inp.name:
                vi.type.tensor_type.shape.dim[0].Clear()
                vi.type.tensor_type.shape.dim[0].dim_value = size
        del fixed.graph.value_info[:]
        return fixed

    def probe_shapes(self, before: str, after: str) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
        """The static shapes of the operand ``before`` and the output ``after`` of a reshape at
        batch PROBE_BATCH (the model folded and inferred again when a rule first asks), or None
        when the model does not run at that batch size: folding or inference fails there, or
        this reshape, or one before it, changes the number of values there (a batch of 1
        written into its target)."""
        if self._probe_shapes is None:
            inp = next(i for i in self._model.graph.input if i.name == self.input_name)
            try:
                self._probe_shapes = fold_constants(self._batch_of(self._model, inp, PROBE_BATCH))[1]
            except UnsupportedModelError:
                self._probe_shapes = {}
        shapes = self._probe_shapes
        if before not in shapes or after not in shapes or np.prod(shapes[before]) != np.prod(shapes[after]):
            self._probe_shapes = {}  # the shapes after it are not the model's at that batch size
            return None
        return shapes[before], shapes[after]

    def sample_shape(self, name: str) -> tuple[int, ...]:
        """The per-sample shape of ONNX tensor ``name``: its inferred (batch-1) shape without the
        batch axis (the first, or the one ``batch_axis`` records), or with it where the batch is
        merged into that axis (``BatchAxis``)."""
        full = self.shapes.get(name)
        if full is None:
            raise UnsupportedModelError(f"node {self.where}: shape inference gave no static shape for {name}")
        batch = self.batch_axis.get(name, BATCH_FIRST)
        if len(full) <= batch.axis or full[batch.axis] != batch.outer * batch.inner:
            raise UnsupportedModelError(
                f"node {self.where}: tensor {name} of shape {full} does not keep the batch axis first"
            )
        if batch.merged:
            return tuple(full)
        return tuple(full[: batch.axis]) + tuple(full[batch.axis + 1 :])

    def batch_layout(self, name: str) -> BatchAxis:
        """Where the batch of (ONNX) tensor ``name`` lies: first, unless a rule moved it."""
        return self.batch_axis.get(self.resolve(name), BATCH_FIRST)

    def batch_position(self, name: str) -> int:
        """The ONNX axis that holds the batch of tensor ``name``: 0 unless a rule moved it."""
        return self.batch_layout(name).axis

    def move_batch(self, name: str, where: int | BatchAxis) -> None:
        """Record where the batch of the tensor a rule is about to emit lies: ONNX axis ``where``
        (the batch's alone), or a ``BatchAxis``."""
        batch = where if isinstance(where, BatchAxis) else BatchAxis(where)
        if batch != BATCH_FIRST:
            self.batch_axis[name] = batch

    # --- names, constants, ops -------------------------------------------------------------------

    @staticmethod
    def _use_counts(g: onnx.GraphProto) -> dict[str, int]:
        """How many nodes (and graph outputs) read each tensor, seeing through Identity."""
        identity = {n.output[0]: n.input[0] for n in g.node if n.op_type == "Identity"}

        def root(name):
            while name in identity:
                name = identity[name]
            return name

        readers = [name for n in g.node if n.op_type != "Identity" for name in n.input]
        uses: dict[str, int] = {}
        for name in readers + [out.name for out in g.output]:
            uses[root(name)] = uses.get(root(name), 0) + 1
        return uses

    def resolve(self, name: str) -> str:
        while name in self.alias:
            name = self.alias[name]
        return name

    def const(self, name: str):
        """The constant value behind a name, or None for a computed tensor."""
        return self.values.get(self.resolve(name))

    def need_const(self, name: str, what: str) -> np.ndarray:
        value = self.const(name)
        if value is None:
            raise UnsupportedModelError(f"node {self.where}: {what} ({name}) must be a constant")
        return value

    def tensor_input(self, name: str, moved_batch: bool = False) -> str:
        """The graph tensor behind an operand; UnsupportedModelError for a constant, and for a
        tensor whose batch axis is not first unless the rule reads it so (``moved_batch``)."""
        name = self.resolve(name)
        if name not in self.graph.tensors:
            raise UnsupportedModelError(f"node {self.where}: operand {name} must be computed from the input")
        if name in self.batch_axis and not moved_batch:
            raise UnsupportedModelError(
                f"node {self.where}: operand {name} has its batch axis at position {self.batch_axis[name].axis} "
                f"(after a Transpose, a Reshape or a layout-0 RNN), and {self.node.op_type} needs it first; only "
                "Transpose, Reshape, Squeeze, Unsqueeze, Gather, Slice, RNN, GRU, LSTM, and Gemm or MatMul by "
                "constant weights (with a per-channel bias Add) read such a tensor: Transpose it back first"
            )
        return name

    def add_constant(self, name: str, values: np.ndarray) -> str:
        base, k = name, 1
        while name in self.graph.constants:  # derived weights never overwrite shared ones
            name, k = f"{base}.{k}", k + 1
        self.graph.constants[name] = Constant(name, np.asarray(values, dtype=np.float64))
        return name

    def emit(self, kind: str, inputs, output: str, out_shape: tuple[int, ...] | None = None, **attrs) -> Op:
        """Append an op; its output's per-sample shape is ONNX's inferred one unless given
        (a tensor of the importer's own, or one that ONNX does not infer)."""
        op = Op(kind, tuple(inputs), output, attrs, source=self.where)
        self.graph.ops.append(op)
        self.graph.tensors[output] = Tensor(
            output, self.sample_shape(output) if out_shape is None else tuple(out_shape)
        )
        return op

    def dense(self, x: str, weight: np.ndarray, bias: np.ndarray | None, output: str, names: tuple[str, str]) -> Op:
        """Emit ``dense`` of tensor x, folding into the weights a per-feature affine that
        computes x (``affine``: y = W ((x0 - o) * s) + b = (W s) x0 + (b - (W s) o)) when
        nothing else reads x. ``names`` name the weight and bias constants."""
        x = self.resolve(x)
        affine = self.affine.get(x)
        if affine is not None and self.uses.get(x, 0) == 1:
            x0, offset, scale, ops = affine
            weight = weight * scale
            bias = (0.0 if bias is None else bias) - weight @ offset
            for op in ops:
                self.graph.ops.remove(op)
                del self.graph.tensors[op.output]
                for name in op.inputs[1:]:
                    self.graph.constants.pop(name, None)
            x = x0
        batch = self.batch_layout(x)
        if batch != BATCH_FIRST and batch.axis == len(self.shapes[x]) - 1:
            raise UnsupportedModelError(
                f"node {self.where}: {self.node.op_type} contracts the axis of {x} that holds the batch, which "
                "adds up values of different samples; export the model so that it works on each sample alone"
            )
        self.move_batch(output, batch)  # the product maps the last axis alone
        inputs = [x, self.add_constant(names[0], weight)]
        if bias is not None:
            inputs.append(self.add_constant(names[1], np.broadcast_to(bias, (weight.shape[0],))))
        return self.emit("dense", inputs, output, out_shape=self.graph.tensors[x].shape[:-1] + (weight.shape[0],))

    def attrs(self, node: onnx.NodeProto) -> dict:
        return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

    def producer(self, name: str) -> Op | None:
        """The op computing tensor ``name`` if nothing else reads it (so it can absorb a fold)."""
        if self.uses.get(name, 0) != 1:
            return None
        for op in reversed(self.graph.ops):
            if op.output == name:
                return op
        return None

    def single_output(self, node):
        if len(node.output) > 1 and any(node.output[1:]):
            raise UnsupportedModelError(
                f"node {self.where}: {node.op_type} with more than one output "
                "is not supported (export it in inference mode)"
            )

    # --- helpers of the ONNX rules (prover.onnx.ops) -------------------------------------------

    def per_sample(self, value: np.ndarray, out: str) -> np.ndarray:
        """A constant operand of an elementwise op, without the batch axis if it has one (the
        axis ``batch_axis`` records for ``out``: there the constant must not vary)."""
        rank = len(self.sample_shape(out))
        value = np.asarray(value, dtype=np.float64)
        batch = self.batch_axis.get(out)
        if batch is not None:  # broadcast against the ONNX tensor: aligned on the last axis
            full = len(self.shapes[out])
            value = value.reshape((1,) * (full - value.ndim) + value.shape)
            if value.shape[batch.axis] != 1:
                raise UnsupportedModelError(
                    f"node {self.where}: constant of shape {value.shape} varies along the axis that holds the batch"
                )
            return value if batch.merged else np.squeeze(value, axis=batch.axis)
        while value.ndim > rank:
            if value.shape[0] != 1:
                raise UnsupportedModelError(
                    f"node {self.where}: constant of shape {value.shape} varies along the batch axis"
                )
            value = value[0]
        return value

    def operand(self, name: str, out: str) -> str:
        """An operand of an op writing ``out``: a computed tensor's name, or a constant added
        per sample (``per_sample``)."""
        c = self.const(name)
        return self.tensor_input(name) if c is None else self.add_constant(name, self.per_sample(c, out))

    def rename_output(self, op: Op, new: str):
        del self.graph.tensors[op.output]
        op.output = new
        op.source += f" + {self.where}"
        self.graph.tensors[new] = Tensor(new, self.sample_shape(new))

    def pads(self, attrs: dict, kernel, strides, dilations, x: str, out: str) -> tuple[int, ...]:
        """(top, left, bottom, right) padding from ``pads`` or ``auto_pad``."""
        auto = attrs.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        if auto in ("NOTSET", ""):
            pads = tuple(attrs.get("pads", (0, 0, 0, 0)))
        elif auto == "VALID":
            pads = (0, 0, 0, 0)
        elif auto in ("SAME_UPPER", "SAME_LOWER"):
            ins, outs = self.sample_shape(x)[1:], self.sample_shape(out)[1:]
            total = [
                max((o - 1) * s + (k - 1) * d + 1 - i, 0)
                for i, o, s, k, d in zip(ins, outs, strides, kernel, dilations)
            ]
            small = [t // 2 for t in total]
            big = [t - s for t, s in zip(total, small)]
            pads = tuple(small + big) if auto == "SAME_UPPER" else tuple(big + small)
        else:
            raise UnsupportedModelError(f"node {self.where}: auto_pad={auto} is not supported")
        if len(pads) != 4:
            raise UnsupportedModelError(f"node {self.where}: only 2-D spatial operators are supported")
        return pads

    def window_attrs(self, node, kernel, ceil_pads: bool = False) -> dict:
        """kernel/strides/pads of a 2-D window op, checked against the inferred output shape.

        ``ceil_mode=1`` rounds the window count up: the last window may run past the end padding.
        With ``ceil_pads`` (a max pool, whose padding never wins) that overhang becomes more end
        padding, provided every window still reads the input; otherwise it is refused."""
        attrs = self.attrs(node)
        x = self.tensor_input(node.input[0])
        xs = self.sample_shape(x)
        if len(xs) != 3 or len(kernel) != 2:
            raise UnsupportedModelError(
                f"node {self.where}: {node.op_type} needs a (C, H, W) input and a "
                f"2-D kernel, got input {xs} and kernel {tuple(kernel)}"
            )
        strides = tuple(attrs.get("strides", (1, 1)))
        dilations = tuple(attrs.get("dilations", (1, 1)))
        pads = self.pads(attrs, kernel, strides, dilations, x, node.output[0])
        out = self.sample_shape(node.output[0])[1:]
        span = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
        expected = tuple(
            (n + pads[i] + pads[i + 2] - span[i]) // s + 1 for i, (n, s) in enumerate(zip(xs[1:], strides))
        )
        if expected != out and attrs.get("ceil_mode", 0) and ceil_pads:
            # the overhang of the last window past the end padding, per spatial axis
            extra = [
                max((o - 1) * s + w - (n + pads[i] + pads[i + 2]), 0)
                for i, (o, s, w, n) in enumerate(zip(out, strides, span, xs[1:]))
            ]
            if all((o - 1) * s < pads[i] + n for i, (o, s, n) in enumerate(zip(out, strides, xs[1:]))):
                pads = (pads[0], pads[1], pads[2] + extra[0], pads[3] + extra[1])
                expected = out
        if expected != out:
            raise UnsupportedModelError(
                f"node {self.where}: {node.op_type} with ceil_mode=1 makes windows past the padded input "
                f"(output {out}, {expected} without ceil_mode); export with ceil_mode=False"
                + ("" if ceil_pads else " (only a MaxPool's overhang can be read as padding)")
            )
        return {
            "x": x,
            "kernel": tuple(int(k) for k in kernel),
            "strides": strides,
            "pads": pads,
            "dilations": dilations,
            "attrs": attrs,
        }
