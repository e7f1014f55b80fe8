"""Data movement: ops whose every output value is one of their operands' values (or a
constant fill), so that in the circuit they are a rewiring of linear combinations at zero
constraints, and when quantized they keep their operand's scale and interval. Also the ONNX
operators that name things (Identity, a Cast between float types).

    reshape    Flatten, Reshape, Squeeze, Unsqueeze   the same values in C order, another shape
    transpose  Transpose                              attr ``perm`` of the sample's axes
    slice      Slice, Split (one op per output)       attrs ``axes``, ``indices`` (one index list per axis)
    gather     Gather with constant indices           attrs ``axis``, ``indices`` (nested lists)
    concat     Concat                                 attrs ``axis``, ``shifts`` (quantized: each
                                                      operand times 2**shift, to a common scale)
    pad        Pad                                    attrs ``pads`` ((before, after) per axis),
                                                      ``mode``, ``value`` (the constant fill)
    expand     Expand (same rank)                     attr ``shape``: numpy broadcasting
    tile       Tile                                   attr ``repeats``

Axes are the sample's (the batch axis is not counted; an ONNX axis that the batch is merged
into, ``prover.onnx.batch``, is one of the sample's, with the sample's share of its length). The
semantics of each kind is one numpy function ``move(*operands, **attrs)``; the circuit applies
that same function to arrays of wire indices and gathers the wires it picks (``lower_moved``),
so the lowering cannot disagree with the executor. A ``rescale`` output's sign bits travel with
it, so a ReLU after a move still reads its sign for free.
"""

from __future__ import annotations

import numpy as np

from prover.circuit.builder import LinComb, Value, concatenate
from prover.errors import UnsupportedModelError
from prover.onnx.batch import BATCH_FIRST, PROBE_BATCH, BatchAxis, reshaped_batch
from prover.onnx.graph import Op
from prover.onnx.ops.elementwise import shifted
from prover.onnx.ops.registry import OpSpec, register, register_onnx

# --- semantics: one move per kind, on batched arrays -----------------------------------------


def _batched(operands) -> list[np.ndarray]:
    """Constant operands (no batch axis) broadcast to the tensors' batch size."""
    rank = max(x.ndim for x in operands)
    n = next(x.shape[0] for x in operands if x.ndim == rank)
    return [x if x.ndim == rank else np.broadcast_to(x, (n,) + x.shape) for x in operands]


def move_transpose(x, *, perm, **_):
    return x.transpose((0,) + tuple(p + 1 for p in perm))


def move_slice(x, *, axes, indices, **_):
    for axis, index in zip(axes, indices):
        x = np.take(x, np.asarray(index, dtype=np.int64), axis=axis + 1)
    return x


def move_gather(x, *, axis, indices, **_):
    return np.take(x, np.asarray(indices, dtype=np.int64), axis=axis + 1)


def move_concat(*xs, axis, **_):
    return np.concatenate(_batched(xs), axis=axis + 1)


def move_pad(x, *, pads, mode, value, **_):
    widths = ((0, 0),) + tuple(tuple(p) for p in pads)
    if mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=value)
    return np.pad(x, widths, mode=mode)


def move_expand(x, *, shape, **_):
    return np.broadcast_to(x, (x.shape[0],) + tuple(shape))


def move_tile(x, *, repeats, **_):
    return np.tile(x, (1,) + tuple(repeats))


def move_reshape(x, *, shape, **_):
    return x.reshape((x.shape[0],) + tuple(shape))


def _executor(move):
    """The executor semantics of a move: operands shifted to their common scale first."""

    def execute(*operands, shifts=None, **attrs):
        if shifts is not None:
            operands = tuple(shifted(x, s) for x, s in zip(operands, shifts))
        return np.ascontiguousarray(move(*operands, **attrs))

    execute.__doc__ = move.__doc__
    return execute


# --- quantization ----------------------------------------------------------------------------


def quantize_moved(qz, op: Op):
    """A move keeps its operand's scale; its values are a subset of the operand's, so the
    operand's interval bounds them."""
    qz.keep_scale(op, qz.interval[op.inputs[0]])


def quantize_pad(qz, op: Op):
    """The fill value is quantized at the operand's scale and joins its interval."""
    x = op.inputs[0]
    attrs = dict(op.attrs)
    lo, hi = qz.interval[x]
    if attrs["mode"] == "constant":
        fill = qz.fixed_point(attrs["value"], qz.scale(x))
        attrs["value"], lo, hi = fill, min(lo, fill), max(hi, fill)
    else:
        attrs["value"] = 0
    qz.keep_scale(Op(op.kind, op.inputs, op.output, attrs, op.source), (lo, hi))


def quantize_concat(qz, op: Op):
    """Operands of smaller scale are shifted up to the largest tensor scale (free in the
    circuit); constant operands are quantized at it."""
    s = max(qz.scale(n) for n in op.inputs if n in qz.graph.tensors)
    names, shifts, los, his = [], [], [], []
    for name in op.inputs:
        q, (lo, hi) = qz.operand(name, s)
        shift = s - qz.scale(q) if q in qz.graph.tensors else 0
        names.append(q)
        shifts.append(shift)
        los.append(lo << shift)
        his.append(hi << shift)
    new = Op("concat", tuple(names), op.output, {**op.attrs, "shifts": tuple(shifts)}, op.source)
    qz.graph.ops.append(new)
    qz.declare(op.output, qz.f.tensors[op.output].shape, s, (min(los), max(his)))


# --- lowering --------------------------------------------------------------------------------


def lower_reshape(b, low, op: Op) -> Value:
    x = low.values[op.inputs[0]]
    shape = tuple(op.attrs["shape"])
    bits = None if x.sign_bits is None else x.sign_bits.reshape(shape + (x.sign_bits.shape[-1],))
    return Value(x.lc.reshape(shape), bits)


# the moves that make more values than they read: their output size from their attributes,
# checked before anything is allocated (an architecture spec comes from the provider)
_GROWTH = {
    "pad": lambda shape, a: np.prod([d + sum(p) for d, p in zip(shape, a["pads"])], dtype=object),
    "tile": lambda shape, a: np.prod([d * r for d, r in zip(shape, a["repeats"])], dtype=object),
    "expand": lambda shape, a: np.prod(a["shape"], dtype=object),
}


def _checked_move(move, op: Op, index_arrays, attrs: dict, want: tuple[int, ...]) -> np.ndarray:
    """The move of the operands' indices for one sample; UnsupportedModelError when the op's
    attributes do not make the output shape the graph declares."""
    where = f"op {op.kind} ({op.source or op.output})"
    grow = _GROWTH.get(op.kind)
    try:
        if grow is not None and int(grow(index_arrays[0].shape[1:], attrs)) != int(np.prod(want, dtype=object)):
            raise ValueError("its attributes make another number of values")
        index = move(*index_arrays, **attrs)[0]
    except (ValueError, IndexError, TypeError, KeyError) as exc:
        raise UnsupportedModelError(f"{where}: its attributes do not fit its operands ({exc})") from exc
    if index.shape != want:
        raise UnsupportedModelError(f"{where}: makes shape {index.shape}, the graph declares {want}")
    return index


def _lowering(move):
    def lower_moved(b, low, op: Op) -> Value:
        """The op's move applied to the indices of its operands' values (constants and the fill
        value appended as constants): the output is those linear combinations, no constraint."""
        attrs = {k: v for k, v in op.attrs.items() if k != "shifts"}
        shifts = op.attrs.get("shifts", (0,) * len(op.inputs))
        sources, index_arrays, bits, offset = [], [], [], 0
        for name, shift in zip(op.inputs, shifts):
            if name in low.values:
                value = low.values[name]
                shape: tuple[int, ...] = (1,) + low.graph.tensors[name].shape
                lc = value.lc * (1 << shift) if shift else value.lc
                bits.append(None if shift else value.sign_bits)
            else:
                const = low.graph.constants[name].values
                shape = const.shape
                lc = LinComb.constant(const.astype(np.int64) << shift)
                bits.append(None)
            size = int(np.prod(shape, dtype=np.int64))
            sources.append(lc.reshape(-1))
            index_arrays.append(np.arange(offset, offset + size, dtype=np.int64).reshape(shape))
            offset += size
        if "value" in attrs:  # the fill: one more source, picked where the move pads
            sources.append(LinComb.constant(np.array([attrs["value"]], dtype=np.int64)))
            attrs["value"] = offset
            bits.append(None)
        index = _checked_move(move, op, index_arrays, attrs, low.graph.tensors[op.output].shape)
        value = (sources[0] if len(sources) == 1 else concatenate(sources)).take(index)
        widths = {bb.shape[-1] if bb is not None else None for bb in bits}
        if len(widths) == 1 and None not in widths:  # every source knows its sign bits
            k = widths.pop()
            flat_bits = np.concatenate([bb.reshape(-1, k) for bb in bits if bb is not None])
            return Value(value, flat_bits[index])
        return Value(value)

    return lower_moved


def _register_move(kind: str, move, arity=(1,), quantize=quantize_moved):
    register(OpSpec(kind, arity, _executor(move), quantize, _lowering(move)))


# the kinds of this family: each lowers to a rewiring, without constraints
KINDS = ("reshape", "transpose", "slice", "gather", "concat", "pad", "expand", "tile")
register(OpSpec("reshape", (1,), _executor(move_reshape), quantize_moved, lower_reshape))
_register_move("transpose", move_transpose)
_register_move("slice", move_slice)
_register_move("gather", move_gather)
_register_move("concat", move_concat, arity=tuple(range(1, 65)), quantize=quantize_concat)
_register_move("pad", move_pad, quantize=quantize_pad)
_register_move("expand", move_expand)
_register_move("tile", move_tile)

# --- ONNX ------------------------------------------------------------------------------------


def _sample_axis(im, axis: int, rank: int, batch: BatchAxis = BATCH_FIRST) -> int:
    """An ONNX axis of a tensor of ``rank`` whose batch lies at ``batch``, as an axis of the
    sample; the axis that holds the batch is refused (the circuit proves one sample)."""
    axis = int(axis) + rank if int(axis) < 0 else int(axis)
    if not 0 <= axis < rank or axis == batch.axis:
        raise UnsupportedModelError(
            f"node {im.where}: {im.node.op_type} along axis {axis} of a rank-{rank} tensor moves values across "
            "the batch axis; export the model so that it works on each sample alone"
        )
    return axis if batch.merged else axis - (axis > batch.axis)


def _ints(im, name: str, what: str) -> list[int]:
    return [int(v) for v in np.asarray(im.need_const(name, what)).reshape(-1)]


def _emit_reshape(im, node):
    x = im.tensor_input(node.input[0], moved_batch=True)
    im.emit("reshape", [x], node.output[0], shape=im.sample_shape(node.output[0]))


def _reshaped(im, node):
    """Flatten and Reshape. Where the batch lands is read from the shapes at a second batch
    size (``prover.onnx.batch.reshaped_batch``); refused when the reshape mixes samples. In a
    model that does not run at another batch size the batch stays first."""
    x, out = im.resolve(node.input[0]), node.output[0]
    batch = im.batch_layout(x)
    before, after = im.shapes.get(x), im.shapes.get(out)
    probe = im.probe_shapes(x, out) if before is not None and after is not None else None
    if probe is None:
        if batch != BATCH_FIRST:
            raise UnsupportedModelError(
                f"node {im.where}: {node.op_type} of {x}, whose batch is not its first axis, in a model that "
                "runs at batch 1 only; export with a symbolic batch axis, so that the importer can see where "
                "the reshape puts each sample"
            )
        _emit_reshape(im, node)  # the sample shape checks that the batch stays first
        return
    moved = reshaped_batch(batch, before, probe[0], after, probe[1])
    if moved is None:
        raise UnsupportedModelError(
            f"node {im.where}: {node.op_type} of {x} (shape {before} at batch 1, {probe[0]} at batch "
            f"{PROBE_BATCH}) to {after} ({probe[1]}) mixes the values of different samples; reshape each "
            "sample alone (a -1 or 0 for the batch axis)"
        )
    im.move_batch(out, moved)
    _emit_reshape(im, node)


@register_onnx("Flatten", emits=("reshape",))
def import_flatten(im, node):
    _reshaped(im, node)


@register_onnx("Reshape", emits=("reshape",))
def import_reshape(im, node):
    im.need_const(node.input[1], "Reshape's target shape")
    _reshaped(im, node)


def _squeezed_batch(im, node, inserted: bool) -> None:
    """For an operand whose batch axis p is not first: where Squeeze (``inserted`` False) or
    Unsqueeze puts it, from the (constant) axes; the batch axis itself is never squeezed."""
    batch = im.batch_layout(node.input[0])
    p = batch.axis
    if batch == BATCH_FIRST:
        return
    if len(node.input) < 2 or not node.input[1]:
        raise UnsupportedModelError(
            f"node {im.where}: {node.op_type} without axes of a tensor whose batch axis is {p}; name the axes"
        )
    rank = len(im.shapes[node.output[0] if inserted else node.input[0]])
    axes = {a + rank if a < 0 else a for a in _ints(im, node.input[1], f"{node.op_type}'s axes")}
    if inserted:
        kept = [i for i in range(rank) if i not in axes]
        im.move_batch(node.output[0], BatchAxis(kept[p], batch.outer, batch.inner))
    elif p in axes:
        raise UnsupportedModelError(f"node {im.where}: Squeeze of the batch axis; squeeze each sample alone")
    else:
        im.move_batch(node.output[0], BatchAxis(p - sum(a < p for a in axes), batch.outer, batch.inner))


@register_onnx("Squeeze", emits=("reshape",))
def import_squeeze(im, node):
    """A reshape to the inferred shape (the axes, an input since opset 13, are constant)."""
    if len(node.input) > 1 and node.input[1]:
        im.need_const(node.input[1], "Squeeze's axes")
    _squeezed_batch(im, node, inserted=False)
    _emit_reshape(im, node)


@register_onnx("Unsqueeze", emits=("reshape",))
def import_unsqueeze(im, node):
    im.need_const(node.input[1], "Unsqueeze's axes")
    _squeezed_batch(im, node, inserted=True)
    _emit_reshape(im, node)


@register_onnx("Identity")
def import_identity(im, node):
    im.alias[node.output[0]] = im.resolve(node.input[0])


@register_onnx("Cast")
def import_cast(im, node):
    """A Cast to a float type names its operand (skl2onnx casts its float input to float); a
    Cast to an integer type would round the values and is refused."""
    import onnx  # here, not at the top: proving from a compiled model never loads onnx

    # the float types a Cast of a computed tensor may target: the graph computes in one domain
    float_casts = (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16)
    to = im.attrs(node).get("to")
    if to not in float_casts:
        raise UnsupportedModelError(
            f"node {im.where}: Cast to {onnx.TensorProto.DataType.Name(to)} of a computed tensor rounds its values; "
            "only casts between float types are supported on the model's path (export without the cast)"
        )
    im.alias[node.output[0]] = im.tensor_input(node.input[0])


@register_onnx("Transpose", emits=("transpose",))
def import_transpose(im, node):
    """A transpose of the sample's axes; a perm that moves the batch axis (torch's batch_first
    before an RNN, and back after it) is recorded in ``batch_axis`` for the rules that read it.
    An axis the batch is merged into moves as a whole, the sample's part of it with it."""
    x = im.tensor_input(node.input[0], moved_batch=True)
    batch = im.batch_layout(x)
    p = batch.axis
    rank = len(im.shapes[x])
    perm = [int(a) + rank if int(a) < 0 else int(a) for a in im.attrs(node).get("perm", range(rank - 1, -1, -1))]
    out = node.output[0]
    im.move_batch(out, BatchAxis(perm.index(p), batch.outer, batch.inner))
    sample = tuple(perm) if batch.merged else tuple(a - (a > p) for a in perm if a != p)
    im.emit("transpose", [x], out, perm=sample)


# a Slice end at or past this means "to the end" (exporters write INT32_MAX or INT64_MAX): the
# only end that takes the whole of an axis whose length grows with the batch
TO_THE_END = 2**31 - 1


def _slice_indices(starts, ends, steps, dim: int) -> list[int]:
    """The positions ONNX Slice takes along an axis of length ``dim`` (negative values count
    from the end; starts and ends are clamped as the operator specifies)."""
    start, end, step = starts, ends, steps
    if step == 0:
        raise ValueError("a Slice step of 0")
    start = start + dim if start < 0 else start
    end = end + dim if end < 0 else end
    if step > 0:
        start, end = min(max(start, 0), dim), min(max(end, 0), dim)
    else:
        start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
    return list(range(start, end, step))


def _emit_slice(im, x: str, out: str, selection: dict[int, list[int]]):
    """A slice op picking ``selection[axis]`` along each sample axis it names."""
    shape = im.sample_shape(x)
    axes = sorted(a for a, idx in selection.items() if idx != list(range(shape[a])))
    im.emit("slice", [x], out, axes=tuple(axes), indices=tuple(tuple(selection[a]) for a in axes))


@register_onnx("Slice", emits=("slice",))
def import_slice(im, node):
    x = im.tensor_input(node.input[0], moved_batch=True)
    batch = im.batch_layout(x)
    full = im.shapes[node.input[0]]
    starts = _ints(im, node.input[1], "Slice's starts")
    ends = _ints(im, node.input[2], "Slice's ends")
    axes = _ints(im, node.input[3], "Slice's axes") if len(node.input) > 3 and node.input[3] else []
    axes = axes or list(range(len(starts)))
    steps = _ints(im, node.input[4], "Slice's steps") if len(node.input) > 4 and node.input[4] else [1] * len(starts)
    selection = {}  # sample axis -> the positions taken
    for axis, start, end, step in zip(axes, starts, ends, steps):
        axis = int(axis) + len(full) if int(axis) < 0 else int(axis)
        if step == 0:
            raise UnsupportedModelError(f"node {im.where}: Slice with step 0 is not a valid ONNX model")
        if axis == batch.axis:
            # all of it at every batch size: from the start to the end marker, in order
            if step != 1 or not (start == 0 or start <= -TO_THE_END) or end < TO_THE_END:
                raise UnsupportedModelError(
                    f"node {im.where}: Slice of the batch axis (start {start}, end {end}, step {step}); slice each "
                    "sample alone"
                )
            continue
        index = _slice_indices(start, end, step, full[axis])
        selection[_sample_axis(im, axis, len(full), batch)] = index
    im.move_batch(node.output[0], batch)
    _emit_slice(im, x, node.output[0], selection)


@register_onnx("Split", emits=("slice",))
def import_split(im, node):
    """One slice op per output; the lengths are the outputs' inferred shapes, which covers the
    ``split`` input (opset 13) and the ``num_outputs`` attribute (opset 18) alike."""
    x = im.tensor_input(node.input[0])
    rank = len(im.sample_shape(x)) + 1
    axis = _sample_axis(im, im.attrs(node).get("axis", 0), rank)
    start = 0
    for out in node.output:
        length = im.sample_shape(out)[axis] if out else 0
        if out:
            _emit_slice(im, x, out, {axis: list(range(start, start + length))})
        start += length


@register_onnx("Gather", emits=("gather",))
def import_gather(im, node):
    x = im.tensor_input(node.input[0], moved_batch=True)
    batch = im.batch_layout(x)
    p = batch.axis
    shape = im.sample_shape(x)
    rank = len(im.shapes[x])
    onnx_axis = int(im.attrs(node).get("axis", 0))
    onnx_axis += rank if onnx_axis < 0 else 0
    axis = _sample_axis(im, onnx_axis, rank, batch)
    indices = np.asarray(im.need_const(node.input[1], "Gather's indices"), dtype=np.int64)
    # the batch axis moves by the rank the indices put in place of the gathered axis
    im.move_batch(node.output[0], BatchAxis(p - 1 + indices.ndim if onnx_axis < p else p, batch.outer, batch.inner))
    if indices.size and (indices.min() < -shape[axis] or indices.max() >= shape[axis]):
        raise UnsupportedModelError(f"node {im.where}: Gather index out of range for axis of length {shape[axis]}")
    indices = np.where(indices < 0, indices + shape[axis], indices)
    im.emit("gather", [x], node.output[0], axis=axis, indices=indices.tolist())


@register_onnx("Concat", emits=("concat",))
def import_concat(im, node):
    out = node.output[0]
    first = next(name for name in node.input if im.const(name) is None)  # all constant: folded
    rank = len(im.sample_shape(im.tensor_input(first))) + 1
    axis = _sample_axis(im, im.attrs(node).get("axis", 0), rank)
    im.emit("concat", [im.operand(name, out) for name in node.input], out, axis=axis)


@register_onnx("Pad", emits=("pad",))
def import_pad(im, node):
    x = im.tensor_input(node.input[0])
    shape = im.sample_shape(x)
    rank = len(shape) + 1
    attrs = im.attrs(node)
    mode = attrs.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode not in ("constant", "edge", "reflect", "wrap"):
        raise UnsupportedModelError(f"node {im.where}: Pad mode {mode!r} is not supported")
    pads = _ints(im, node.input[1], "Pad's pads")
    value = 0.0
    if len(node.input) > 2 and node.input[2]:
        value = float(np.asarray(im.need_const(node.input[2], "Pad's constant value")).reshape(-1)[0])
    axes = list(range(rank))
    if len(node.input) > 3 and node.input[3]:  # opset 18
        axes = [a + rank if a < 0 else a for a in _ints(im, node.input[3], "Pad's axes")]
    widths = [[0, 0] for _ in range(rank)]
    for i, axis in enumerate(axes):
        widths[axis] = [pads[i], pads[i + len(axes)]]
    if widths[0] != [0, 0]:
        raise UnsupportedModelError(f"node {im.where}: Pad of the batch axis; pad each sample alone")
    if any(p < 0 for w in widths for p in w):
        raise UnsupportedModelError(f"node {im.where}: Pad with negative pads (a crop); export it as a Slice")
    im.emit("pad", [x], node.output[0], pads=tuple(tuple(w) for w in widths[1:]), mode=mode, value=value)


@register_onnx("Expand", emits=("expand",))
def import_expand(im, node):
    x = im.tensor_input(node.input[0])
    im.need_const(node.input[1], "Expand's shape")
    out = im.sample_shape(node.output[0])
    if len(out) != len(im.sample_shape(x)):
        raise UnsupportedModelError(
            f"node {im.where}: Expand to a higher rank puts new axes before the batch axis; "
            "export with an Unsqueeze to the full rank first"
        )
    im.emit("expand", [x], node.output[0], shape=out)


@register_onnx("Tile", emits=("tile",))
def import_tile(im, node):
    x = im.tensor_input(node.input[0])
    repeats = _ints(im, node.input[1], "Tile's repeats")
    if repeats[0] != 1:
        raise UnsupportedModelError(f"node {im.where}: Tile of the batch axis; tile each sample alone")
    im.emit("tile", [x], node.output[0], repeats=tuple(repeats[1:]))
