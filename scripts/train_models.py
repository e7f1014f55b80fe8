"""Train the project's example models on scikit-learn's digits and export them as ONNX.

    python scripts/train_models.py [--out marketplace/models] [--only NAME ...]

The models (numpy training with hand-written backpropagation and Adam; no deep-learning
framework) and the data split are fixed and seeded, so a rerun reproduces the committed files:

- ``mlp``:       64 -> 32 -> ReLU -> 10
- ``cnn``:       (1, 8, 8) -> Conv 8@3x3 pad 1 -> ReLU -> MaxPool 2 -> Flatten -> 10
- ``quadratic``: 64 -> 32 -> x*x (Mul) -> 10 (SafetyNets' quadratic activation)
- ``lenet``:     (1, 28, 28) upsampled digits -> Conv 6@5x5 -> ReLU -> MaxPool 2 -> Conv 16@5x5 ->
                 ReLU -> MaxPool 2 -> Flatten -> 120 -> ReLU -> 84 -> ReLU -> 10 (44,426 parameters)

Data: ``marketplace.models.digits_split`` (80/20 stratified split, seed 0). After training the
script measures each model's float accuracy with onnxruntime on the test split, picks the
cheapest quantization precision whose training-split accuracy stays within 0.5 pp of the float
model's and whose logits stay within 4 % of the float logits (``prover.onnx.quantize.
choose_precision``), measures the quantized test accuracy, and writes ``models.json`` and the
README table. Files are written atomically. ``--quantize-only`` skips training and measures
the ONNX files already in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper
from tqdm import tqdm

from marketplace.models import MODELS_DIR, SPLIT_SEED, TEST_FRACTION, digits_split, model_inputs
from prover.onnx.importer import import_model
from prover.onnx.quantize import accuracy, choose_precision
from prover.onnx.windows import windows

OPSET = 13

# name -> (input shape, layers, epochs, learning rate); a layer is (kind, *sizes)
ARCHITECTURES = {
    "mlp": ((64,), [("dense", 64, 32), ("relu",), ("dense", 32, 10)], 60, 3e-3),
    "cnn": ((1, 8, 8), [("conv", 1, 8, 3, 1), ("relu",), ("maxpool",), ("flatten",), ("dense", 128, 10)], 40, 3e-3),
    "quadratic": ((64,), [("dense", 64, 32), ("square",), ("dense", 32, 10)], 60, 2e-3),
    "lenet": (
        (1, 28, 28),
        [
            ("conv", 1, 6, 5, 0),
            ("relu",),
            ("maxpool",),
            ("conv", 6, 16, 5, 0),
            ("relu",),
            ("maxpool",),
            ("flatten",),
            ("dense", 256, 120),
            ("relu",),
            ("dense", 120, 84),
            ("relu",),
            ("dense", 84, 10),
        ],
        20,
        1e-3,
    ),
}
BATCH = 32


# --- layers: forward keeps what backward needs; backward returns the input gradient -----------


class Dense:
    def __init__(self, rng, n_in, n_out):
        self.params = {"W": rng.normal(0, np.sqrt(2 / n_in), (n_out, n_in)), "b": np.zeros(n_out)}

    def forward(self, x):
        self.x = x
        return x @ self.params["W"].T + self.params["b"]

    def backward(self, dy):
        self.grads = {"W": dy.T @ self.x, "b": dy.sum(0)}
        return dy @ self.params["W"]


class Conv:
    def __init__(self, rng, c_in, c_out, k, pad):
        fan_in = c_in * k * k
        self.k, self.pad = k, pad
        self.params = {"W": rng.normal(0, np.sqrt(2 / fan_in), (c_out, c_in, k, k)), "b": np.zeros(c_out)}

    def forward(self, x):
        self.shape = x.shape
        k, p = self.k, self.pad
        win = windows(x, (k, k), (1, 1), (p, p, p, p))
        n, c, oh, ow = win.shape[:4]
        self.cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * k * k)
        w = self.params["W"].reshape(len(self.params["W"]), -1)
        return (self.cols @ w.T + self.params["b"]).reshape(n, oh, ow, -1).transpose(0, 3, 1, 2)

    def backward(self, dy):
        n, c, h, w_ = self.shape
        k, p = self.k, self.pad
        o, oh, ow = dy.shape[1:]
        dym = dy.transpose(0, 2, 3, 1).reshape(-1, o)
        self.grads = {"W": (dym.T @ self.cols).reshape(self.params["W"].shape), "b": dym.sum(0)}
        dcols = (dym @ self.params["W"].reshape(o, -1)).reshape(n, oh, ow, c, k, k)
        dx = np.zeros((n, c, h + 2 * p, w_ + 2 * p))
        for u in range(k):
            for v in range(k):
                dx[:, :, u : u + oh, v : v + ow] += dcols[:, :, :, :, u, v].transpose(0, 3, 1, 2)
        return dx[:, :, p : p + h, p : p + w_]


class Relu:
    params: dict = {}

    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, dy):
        return dy * self.mask


class Square:
    params: dict = {}

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, dy):
        return 2 * self.x * dy


class MaxPool2:
    """2x2 max pool with stride 2 (the only pool the example models use)."""

    params: dict = {}

    def forward(self, x):
        n, c, h, w = x.shape
        blocks = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
        self.shape, self.arg = x.shape, blocks.argmax(-1)
        return blocks.max(-1)

    def backward(self, dy):
        n, c, h, w = self.shape
        blocks = np.zeros(dy.shape + (4,))
        np.put_along_axis(blocks, self.arg[..., None], dy[..., None], -1)
        return blocks.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(self.shape)


class Flatten:
    params: dict = {}

    def forward(self, x):
        self.shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, dy):
        return dy.reshape(self.shape)


LAYERS = {"dense": Dense, "conv": Conv, "relu": Relu, "square": Square, "maxpool": MaxPool2, "flatten": Flatten}


def build(layers, rng):
    return [LAYERS[kind](rng, *sizes) if sizes else LAYERS[kind]() for kind, *sizes in layers]


def forward(net, x):
    for layer in net:
        x = layer.forward(x)
    return x


def train(name: str, x: np.ndarray, y: np.ndarray, seed: int = SPLIT_SEED):
    """Minibatch Adam on softmax cross-entropy; returns the trained layers."""
    shape, layers, epochs, lr = ARCHITECTURES[name]
    rng = np.random.default_rng(seed)
    net = build(layers, rng)
    state = {}  # (layer index, param) -> (m, v)
    beta1, beta2, eps, step = 0.9, 0.999, 1e-8, 0
    for _ in tqdm(range(epochs), desc=f"train {name}", unit="epoch", leave=False):
        order = rng.permutation(len(x))
        for start in range(0, len(x), BATCH):
            idx = order[start : start + BATCH]
            logits = forward(net, x[idx])
            p = np.exp(logits - logits.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            p[np.arange(len(idx)), y[idx]] -= 1
            grad = p / len(idx)
            for layer in reversed(net):
                grad = layer.backward(grad)
            step += 1
            for i, layer in enumerate(net):
                for key, value in layer.params.items():
                    m, v = state.get((i, key), (0.0, 0.0))
                    g = layer.grads[key]
                    m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g
                    state[(i, key)] = (m, v)
                    m_hat, v_hat = m / (1 - beta1**step), v / (1 - beta2**step)
                    value -= lr * m_hat / (np.sqrt(v_hat) + eps)
    return net


def export(name: str, net) -> onnx.ModelProto:
    """The trained layers as an ONNX graph (opset 13, float32, symbolic batch axis N)."""
    shape, layers, _, _ = ARCHITECTURES[name]
    nodes, inits, x = [], [], "input"
    counts: dict[str, int] = {}
    for (kind, *sizes), layer in zip(layers, net):
        counts[kind] = counts.get(kind, 0) + 1
        node = f"{kind}{counts[kind]}"
        out = node
        for key, value in layer.params.items():
            inits.append(numpy_helper.from_array(value.astype(np.float32), f"{node}.{key}"))
        if kind == "dense":
            nodes.append(helper.make_node("Gemm", [x, f"{node}.W", f"{node}.b"], [out], name=node, transB=1))
        elif kind == "conv":
            k, p = sizes[2], sizes[3]
            nodes.append(
                helper.make_node(
                    "Conv",
                    [x, f"{node}.W", f"{node}.b"],
                    [out],
                    name=node,
                    kernel_shape=[k, k],
                    pads=[p] * 4,
                    strides=[1, 1],
                )
            )
        elif kind == "relu":
            nodes.append(helper.make_node("Relu", [x], [out], name=node))
        elif kind == "square":
            nodes.append(helper.make_node("Mul", [x, x], [out], name=node))
        elif kind == "maxpool":
            nodes.append(helper.make_node("MaxPool", [x], [out], name=node, kernel_shape=[2, 2], strides=[2, 2]))
        elif kind == "flatten":
            nodes.append(helper.make_node("Flatten", [x], [out], name=node, axis=1))
        x = out
    nodes.append(helper.make_node("Identity", [x], ["logits"], name="output"))
    graph = helper.make_graph(
        nodes,
        f"digits_{name}",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["N", *shape])],
        [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["N", 10])],
        inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="zkml-market scripts/train_models.py"
    )
    model.ir_version = 8  # readable by every onnxruntime the project supports
    onnx.checker.check_model(model, full_check=True)
    return model


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder, so an interrupt never leaves half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; these are shared repository files
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def onnxruntime_accuracy(path: Path, x: np.ndarray, y: np.ndarray) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = session.run(None, {"input": x.astype(np.float32)})[0]
    return float(np.mean(logits.argmax(1) == y))


def readme(catalog: dict) -> str:
    rows = "\n".join(
        f"| `{e['file']}` | {e['parameters']:,} | {e['accuracy']['float_onnxruntime']:.2%} | "
        f"{e['accuracy']['quantized']:.2%} | {e['precision']['act_bits']} / {e['precision']['weight_bits']} |"
        for e in catalog.values()
    )
    return f"""# Example models

Trained and exported by `scripts/train_models.py` (numpy, seeded; do not edit by hand) on
scikit-learn's bundled digits data: 1,797 8x8 images, pixel counts 0..16 divided by 16, split
{1 - TEST_FRACTION:.0%} train / {TEST_FRACTION:.0%} test, stratified by label, `random_state={SPLIT_SEED}`
(`marketplace.models.digits_split`). LeNet's input is the digit upsampled to 28x28 by linear
interpolation (`marketplace.models.upsample`). Calibration data for quantization: the training split.

Accuracies on the test split (360 images): the float model run by onnxruntime, and the
quantized model run by the integer executor (`prover.onnx.executor`), whose semantics the
circuit implements. Bits: activation / weight bit widths picked by
`prover.onnx.quantize.choose_precision` (the cheapest that keeps the training-split accuracy within
0.5 pp of the float model and the logits within 4 % of the float logits); `models.json` holds the
same figures for programs.

| model | parameters | float (onnxruntime) | quantized | bits (act / weight) |
| --- | ---: | ---: | ---: | --- |
{rows}
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODELS_DIR)
    parser.add_argument("--only", nargs="*", choices=sorted(ARCHITECTURES), default=sorted(ARCHITECTURES))
    parser.add_argument("--quantize-only", action="store_true", help="measure the existing ONNX files")
    args = parser.parse_args(argv)
    x_tr, y_tr, x_te, y_te = digits_split()
    catalog_path = args.out / "models.json"
    catalog = json.loads(catalog_path.read_text()) if catalog_path.exists() else {}
    for name in args.only:
        shape = ARCHITECTURES[name][0]
        train_x, test_x = model_inputs(shape, x_tr), model_inputs(shape, x_te)
        path = args.out / f"{name}.onnx"
        if not args.quantize_only:
            write_atomic(path, export(name, train(name, train_x, y_tr)).SerializeToString())
        graph = import_model(path)
        precision, quantized = choose_precision(graph, train_x, y_tr)
        catalog[name] = {
            "file": path.name,
            "input_shape": list(shape),
            "parameters": graph.n_parameters(),
            "precision": {
                "act_bits": precision.act_bits,
                "weight_bits": precision.weight_bits,
                "headroom_bits": precision.headroom_bits,
            },
            "calibration_logit_error": round(quantized.meta["calibration_logit_error"], 4),
            "accuracy": {
                "float_onnxruntime": onnxruntime_accuracy(path, test_x, y_te),
                "float_executor": accuracy(graph, test_x, y_te),
                "quantized": accuracy(quantized, test_x, y_te),
            },
        }
        print(f"{name}: {json.dumps(catalog[name]['accuracy'])} with {precision}", file=sys.stderr)
    catalog = dict(sorted(catalog.items()))
    write_atomic(catalog_path, (json.dumps(catalog, indent=2) + "\n").encode())
    write_atomic(args.out / "README.md", readme(catalog).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
