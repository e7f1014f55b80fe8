"""Linear layers: ``dense`` and ``conv`` (Gemm, MatMul with a constant right operand, Conv),
BatchNormalization folded into the layer before it, and ``matmul``, the product of two computed
tensors (MatMul of two activations: attention's Q·Kᵀ and scores·V).

Semantics (``prover.onnx.graph``): ``dense`` is ``y[..., o] = sum_i W[o, i] x[..., i] + b[o]``,
``conv`` the grouped 2-D cross-correlation; both at scale ``s_x + s_W``. Quantized, the
accumulator's interval follows per output channel from the weights' signs, and a ``rescale``
brings it back to the calibrated scale, its bias carrying the rounding half. In the circuit the
weights are witness wires (private mode, one constraint per product) or constants (public mode,
no constraint).

``matmul`` is ``y[..., i, j] = sum_k a[..., i, k] * b[..., k, j]`` over operands of equal rank
(at least 2 per sample), the leading axes broadcast as numpy's matmul does, at scale
``s_a + s_b``; its accumulator's interval is K times the extreme products of the operands'
intervals, and a ``rescale`` follows. In the circuit every product is one constraint (K per
output element, the ``linear_private`` gadget with b's wires as the weights); the sum is free.
"""

from __future__ import annotations

import numpy as np

from prover.circuit import gadgets as G
from prover.circuit.builder import Value
from prover.errors import UnsupportedModelError
from prover.onnx.graph import Op
from prover.onnx.ops.registry import OpSpec, register, register_onnx
from prover.onnx.windows import windows

# --- semantics -------------------------------------------------------------------------------


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


def execute_dense(x, w, b=None, **_):
    y = x @ w.T
    return y if b is None else y + b


def execute_matmul(a, b, **_):
    return np.matmul(a, b)


def execute_conv(x, w, b=None, *, strides, pads, dilations, group, **_):
    return conv2d(x, w, b, strides, pads, dilations, group)


# --- quantization ----------------------------------------------------------------------------


def quantize_linear(qz, op: Op):
    """dense and conv: accumulator interval per output channel from the weights' signs."""
    x = op.inputs[0]
    w = qz.weight(op.inputs[1])
    s_acc = qz.scale(x) + w.quantized_scale
    bias_name = op.inputs[2] if len(op.inputs) > 2 else f"{op.output}:bias"
    float_bias = qz.f.constants[op.inputs[2]].values if len(op.inputs) > 2 else np.zeros(w.values.shape[0])
    lo, hi = qz.interval[x]
    wv = w.values.reshape(w.values.shape[0], -1)
    pos, neg = np.clip(wv, 0, None).sum(axis=1), np.clip(wv, None, 0).sum(axis=1)

    # Python ints: the interval arithmetic itself must not overflow int64
    def interval(bias):
        return (
            min(int(p) * lo + int(n) * hi + int(c) for p, n, c in zip(pos, neg, bias)),
            max(int(p) * hi + int(n) * lo + int(c) for p, n, c in zip(pos, neg, bias)),
        )

    new = Op(op.kind, (x, w.name, bias_name), op.output, dict(op.attrs), op.source)
    qz.requantize_biased(new, s_acc, qz.constant(bias_name, float_bias, s_acc), interval)


def product_interval(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    """The interval of u * v for u in a and v in b (Python ints): its extreme corners."""
    corners = [u * v for u in a for v in b]
    return min(corners), max(corners)


def quantize_matmul(qz, op: Op):
    """Scale s_a + s_b; the sum of K products, each inside the operands' product interval."""
    a, b = op.inputs
    k = qz.f.tensors[a].shape[-1]
    lo, hi = product_interval(qz.interval[a], qz.interval[b])
    new = Op("matmul", (a, b), op.output, {}, op.source)
    qz.requantize(new, qz.scale(a) + qz.scale(b), (k * lo, k * hi))


# --- lowering --------------------------------------------------------------------------------


def lower_linear(b, low, op: Op) -> Value:
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


def lower_matmul(b, low, op: Op) -> Value:
    """One constraint per product: ``linear_private`` with b's (materialized) wires as the
    weights, over the term tables of ``matmul_indices``."""
    x, y = (low.values[name].lc for name in op.inputs)
    xi, yi = G.matmul_indices(x.shape, y.shape)
    lc = G.linear_private(b, x, b.materialize(y), None, xi, yi, np.zeros(len(xi), dtype=np.int64))
    return Value(lc.reshape(low.graph.tensors[op.output].shape))


register(OpSpec("dense", (2, 3), execute_dense, quantize_linear, lower_linear, weights=True))
register(OpSpec("conv", (2, 3), execute_conv, quantize_linear, lower_linear, weights=True))
register(OpSpec("matmul", (2,), execute_matmul, quantize_matmul, lower_matmul))

# --- ONNX ------------------------------------------------------------------------------------


@register_onnx("Gemm", emits=("dense",))
def import_gemm(im, node):
    attrs = im.attrs(node)
    if attrs.get("transA", 0):
        raise UnsupportedModelError(f"node {im.where}: Gemm with transA=1 is not supported")
    x = im.tensor_input(node.input[0], moved_batch=True)  # im.dense checks where the batch is
    b = im.need_const(node.input[1], "Gemm's B (the weights)").astype(np.float64)
    weight = attrs.get("alpha", 1.0) * (b if attrs.get("transB", 0) else b.T)
    bias = None
    if len(node.input) > 2 and node.input[2]:
        c = im.need_const(node.input[2], "Gemm's C (the bias)").astype(np.float64)
        bias = attrs.get("beta", 1.0) * np.broadcast_to(c, (1, weight.shape[0])).reshape(-1)
    im.dense(x, weight, bias, node.output[0], (node.input[1], node.input[2] if len(node.input) > 2 else ""))


@register_onnx("MatMul", emits=("dense", "matmul"))
def import_matmul(im, node):
    """MatMul by constant weights is a ``dense``; of two computed tensors a ``matmul``."""
    if im.const(node.input[1]) is None:
        _import_matmul_of_tensors(im, node)
        return
    w = im.need_const(node.input[1], "MatMul's right operand (the weights)")
    if w.ndim != 2:
        raise UnsupportedModelError(f"node {im.where}: MatMul weights must be a matrix, got shape {w.shape}")
    x = im.tensor_input(node.input[0], moved_batch=True)  # im.dense checks where the batch is
    im.dense(x, w.astype(np.float64).T, None, node.output[0], (node.input[1], ""))


def _import_matmul_of_tensors(im, node):
    if im.const(node.input[0]) is not None:
        raise UnsupportedModelError(
            f"node {im.where}: MatMul of a constant by a computed tensor is not supported; export it as the "
            "tensor times the transposed constant (x @ W)"
        )
    a, b = (im.tensor_input(name) for name in node.input)
    ra, rb = (len(im.graph.tensors[name].shape) for name in (a, b))
    if ra != rb or ra < 2:
        raise UnsupportedModelError(
            f"node {im.where}: MatMul of computed tensors of sample ranks {ra} and {rb}; both operands need the "
            "same rank, at least 2 per sample (otherwise numpy broadcasting meets the batch axis of one with a "
            "sample axis of the other): Unsqueeze the smaller operand first"
        )
    im.emit("matmul", [a, b], node.output[0])


@register_onnx("Conv", emits=("conv",))
def import_conv(im, node):
    w = im.need_const(node.input[1], "Conv weights").astype(np.float64)
    if w.ndim != 4:
        raise UnsupportedModelError(f"node {im.where}: only 2-D Conv is supported (weights {w.shape})")
    win = im.window_attrs(node, w.shape[2:])
    attrs = win["attrs"]
    if tuple(attrs.get("kernel_shape", w.shape[2:])) != w.shape[2:]:
        raise UnsupportedModelError(f"node {im.where}: kernel_shape disagrees with the weights")
    inputs = [win["x"], im.add_constant(node.input[1], w)]
    if len(node.input) > 2 and node.input[2]:
        inputs.append(im.add_constant(node.input[2], im.need_const(node.input[2], "Conv bias")))
    im.emit(
        "conv",
        inputs,
        node.output[0],
        strides=win["strides"],
        pads=win["pads"],
        dilations=win["dilations"],
        group=int(attrs.get("group", 1)),
    )


def fold_bias(im, x: str, c: np.ndarray, out: str) -> bool:
    """Fold ``x + c`` into the bias of the dense/conv op computing x, when c is one value per
    output channel; True when folded."""
    x = im.resolve(x)
    op = im.producer(x)
    if op is None or op.kind not in ("dense", "conv"):
        return False
    shape = im.graph.tensors[x].shape
    im.move_batch(out, im.batch_layout(x))  # a bias per channel leaves the batch where it is
    c = im.per_sample(c, out)
    channels = shape[-1] if op.kind == "dense" else shape[0]
    if op.kind == "dense":
        fits = c.ndim == 0 or c.shape[-1] in (1, channels) and all(d == 1 for d in c.shape[:-1])
    else:
        fits = c.ndim < 3 and c.size == 1 or c.ndim == 3 and c.shape[1:] == (1, 1) and c.shape[0] in (1, channels)
    if not fits:
        return False
    per_channel = np.broadcast_to(c.reshape(-1), (channels,)) if c.size == 1 else c.reshape(channels)
    old = im.graph.constants[op.inputs[2]].values if len(op.inputs) > 2 else 0.0
    bias = im.add_constant(f"{op.inputs[1]}.bias", old + per_channel)
    op.inputs = op.inputs[:2] + (bias,)
    im.rename_output(op, out)
    return True


@register_onnx("BatchNormalization")
def import_batchnorm(im, node):
    """Folded into the weights and bias of the Conv or Gemm before it (no op of its own)."""
    im.single_output(node)
    attrs = im.attrs(node)
    if attrs.get("training_mode", 0):
        raise UnsupportedModelError(
            f"node {im.where}: BatchNormalization in training mode; export the model in inference mode"
        )
    scale, shift, mean, var = (
        im.need_const(n, "BatchNormalization parameter").astype(np.float64) for n in node.input[1:5]
    )
    x = im.resolve(node.input[0])
    op = im.producer(x)
    if op is None or op.kind not in ("dense", "conv") or (op.kind == "dense" and len(im.graph.tensors[x].shape) != 1):
        raise UnsupportedModelError(
            f"node {im.where}: BatchNormalization must directly follow a Conv or Gemm whose "
            "output nothing else reads, so that it can be folded into its weights"
        )
    # y = (z - mean) * a + shift with a = scale / sqrt(var + eps), z = W x + b
    a = scale / np.sqrt(var + attrs.get("epsilon", 1e-5))
    w = im.graph.constants[op.inputs[1]].values
    b = im.graph.constants[op.inputs[2]].values if len(op.inputs) > 2 else 0.0
    folded_w = w * a.reshape((-1,) + (1,) * (w.ndim - 1))
    op.inputs = (
        op.inputs[0],
        im.add_constant(f"{op.inputs[1]}.bn", folded_w),
        im.add_constant(f"{op.inputs[1]}.bn_bias", (b - mean) * a + shift),
    )
    im.rename_output(op, node.output[0])
