"""A small MLP on the digits data for the activation ops' tests: trained in numpy (full-batch
Adam on softmax cross-entropy) and exported to ONNX with the activation nodes of the test."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

SIZES = ((64, 32), (32, 16), (16, 10))
# an activation for training: f(z), and dh/dz at pre-activation z with h = f(z)
Activation = tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray, np.ndarray], np.ndarray]]
# an activation for export: the ONNX nodes computing output from input
ActivationNodes = Callable[[str, str], list[onnx.NodeProto]]


def train_mlp(x, y, rng, activations: Sequence[Activation], epochs=300, lr=0.01) -> list[np.ndarray]:
    """64 -> 32 -> 16 -> 10, the two ``activations`` after the first two layers; returns the
    weights and biases (w1, b1, w2, b2, w3, b3), each w of shape (inputs, outputs)."""
    params = []
    for a, b in SIZES:
        params += [rng.normal(0, 1 / np.sqrt(a), (a, b)), np.zeros(b)]
    moments = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
    onehot = np.eye(10)[y]
    for step in range(1, epochs + 1):
        hs, zs = [x], []
        for (f, _), i in zip(activations, range(0, 4, 2)):
            zs.append(hs[-1] @ params[i] + params[i + 1])
            hs.append(f(zs[-1]))
        z = hs[-1] @ params[4] + params[5]
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        delta = (p - onehot) / len(x)
        grads = [hs[2].T @ delta, delta.sum(0)]
        for layer in (1, 0):
            delta = delta @ params[2 * layer + 2].T * activations[layer][1](zs[layer], hs[layer + 1])
            grads = [hs[layer].T @ delta, delta.sum(0)] + grads
        for prm, g, mv in zip(params, grads, moments):
            mv[0] = 0.9 * mv[0] + 0.1 * g
            mv[1] = 0.999 * mv[1] + 0.001 * g * g
            prm -= lr * (mv[0] / (1 - 0.9**step)) / (np.sqrt(mv[1] / (1 - 0.999**step)) + 1e-8)
    return params


def export_mlp(params, activations: Sequence[ActivationNodes], opset: int = 13) -> onnx.ModelProto:
    """The trained MLP as an ONNX model: Flatten, then Gemm, activation, Gemm, activation, Gemm."""
    n = helper.make_node
    nodes = [
        n("Flatten", ["x"], ["f"], name="flatten", axis=1),
        n("Gemm", ["f", "w1", "b1"], ["g1"], name="fc1"),
        *activations[0]("g1", "h1"),
        n("Gemm", ["h1", "w2", "b2"], ["g2"], name="fc2"),
        *activations[1]("g2", "h2"),
        n("Gemm", ["h2", "w3", "b3"], ["y"], name="fc3"),
    ]
    names = ["w1", "b1", "w2", "b2", "w3", "b3"]
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in zip(names, params)]
    graph = helper.make_graph(
        nodes,
        "digits_mlp",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 8, 8])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", 10])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset < 20 else helper.find_min_ir_version_for(list(model.opset_import))
    return model


def onnx_unary(op_type: str, **attrs) -> ActivationNodes:
    """An activation that is one ONNX node."""
    return lambda inp, out: [helper.make_node(op_type, [inp], [out], name=f"{op_type.lower()}_{out}", **attrs)]
