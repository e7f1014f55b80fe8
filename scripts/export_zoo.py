"""Export the zoo of third-party model exports that the importer is tested on: ``tests/zoo/*.onnx``.

The zoo holds models as their users' own tools export them, so that the tests check the
importer against real exporter output, not against graphs written by hand. Each section below
is one exporter (the torch section writes ``tests/zoo/torch/``); every trained model trains on
the project's digits split (``marketplace.models.digits_split``), and every file is written
atomically (a temporary file renamed into place), so a failed run never leaves half a file.

The exporters are not dependencies of the project, its tests or its runtime: the exported files
are committed, and the tests read them with onnx and onnxruntime alone. To run this script, make
a virtual environment of its own (py_ecc because ``marketplace.models`` imports the prover):

    python3 -m venv /tmp/zoo-venv
    /tmp/zoo-venv/bin/pip install numpy scikit-learn onnx skl2onnx onnxruntime tqdm py_ecc
    PYTHONPATH=$PWD /tmp/zoo-venv/bin/python scripts/export_zoo.py [sklearn] [torch] [--full-weights DIR]

Sections:

- scikit-learn (skl2onnx): ``sklearn_logreg`` (LogisticRegression, a LinearClassifier with a
  softmax post-transform, ZipMap on the probabilities), ``sklearn_scaled_logreg`` (a
  StandardScaler before it: an ``ai.onnx.ml`` Scaler), ``sklearn_mlp`` (MLPClassifier with relu:
  MatMul/Add/Relu, Softmax, and the ArgMax + ArrayFeatureExtractor label tail),
  ``sklearn_forest`` (RandomForestClassifier, 10 trees of depth at most 6: a
  TreeEnsembleClassifier whose leaves hold each tree's class probabilities over 10, ZipMap),
  ``sklearn_boosted`` (GradientBoostingClassifier, 10 rounds of depth 3: a TreeEnsembleClassifier
  of one tree per class and round, base_values and a softmax post-transform);
- torch (``torch.onnx.export``; the venv above plus ``torch torchvision onnxscript``, the default
  wheel of torch will do): each model in eval mode, batch axis symbolic, checked against torch by
  onnxruntime before it is written, its torch parameter count in ``metadata_props``
  (``zoo.parameters``). Exporters: ``ts`` is the TorchScript exporter (``dynamo=False``),
  ``dynamo`` the ``torch.export`` one (``dynamo=True``; it writes opset 18, and onnx's version
  converter makes the opset-17 files, ``convert_down``). File names say exporter and opset:

  - ``torch_mlp_{ts,dynamo}{17,18}``: Linear, BatchNorm1d, Tanh, Dropout, Linear, Sigmoid,
    Linear, Softmax, trained on the flattened digits (64 features); the four exports of one
    trained model;
  - ``resnet18_{ts,dynamo}{17,18}``, the four exports of one net; ``mobilenet_v2``
    (TorchScript, opset 17, without constant folding: the one export whose BatchNorm2d layers
    stay nodes after their Convs, as both exporters fuse them otherwise); ``squeezenet1_1``
    (TorchScript, opset 17): torchvision's architectures, ``weights=None``, ``num_classes=10``,
    torchvision's init under ``SEED``, then every
    BatchNorm's statistics and affine drawn at random (positive variances; fresh ones are the
    identity and would leave the BatchNorm folding untested). Inputs: 3x32x32 for resnet18 and
    mobilenet_v2 (their stride is 32: smaller inputs run too, down to 1x1, but only through
    windows that read padding alone), 3x17x17 for squeezenet1_1 (the smallest it accepts);
  - ``transformer`` (dynamo, opset 18): a Linear embedding of each digits row plus a learned
    position, a 2-layer ``nn.TransformerEncoder`` (d_model 16, 2 heads, feed-forward 32), the mean
    over the 8 tokens, a Linear to 10; ``gru``, ``lstm`` (TorchScript, opset 17, which writes ONNX
    GRU and LSTM nodes): hidden size 16, batch_first, the last step's output into a Linear. All
    three read a digit as 8 rows of 8 features and are trained briefly.

  Sizes: an export over ``MAX_FILE_BYTES`` (the torchvision nets: resnet18 has 11.2M parameters,
  mobilenet_v2 2.2M, squeezenet1_1 0.7M) is committed without its weights: the data of every
  float initializer that a Conv, Gemm, MatMul or BatchNormalization reads as a parameter is
  cleared, and ``metadata_props`` say so (``zoo.weights``); the graph, the shapes and every other
  constant stay as exported. ``benchmarks/torch_zoo.py`` (numpy and onnx only) fills them
  again from a seeded RNG by each tensor's role and place in the graph (He-normal weights,
  biases within 1/sqrt(fan_in), positive BatchNorm variances), so the four resnet18 exports get
  the same weights. ``--full-weights DIR`` also writes every export with its own weights into
  DIR (the full-size files: resnet18 45 MB, mobilenet_v2 9 MB, squeezenet1_1 2.9 MB).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.torch_zoo import PARAMETER_SLOTS, PARAMETERS_KEY, WEIGHTS_KEY
from marketplace.models import digits_split

ZOO = Path(__file__).resolve().parents[1] / "tests" / "zoo"
# the default-domain opset of every export (inside the importer's 13..20)
OPSET = 17
ML_OPSET = 3
SEED = 0


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def flat_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The digits split with each image flattened to 64 features, float32 (what skl2onnx exports)."""
    x_tr, y_tr, x_te, y_te = digits_split()
    return x_tr.reshape(len(x_tr), -1).astype(np.float32), y_tr, x_te.reshape(len(x_te), -1).astype(np.float32), y_te


def check_export(name: str, data: bytes, model, x_te: np.ndarray, y_te: np.ndarray) -> None:
    """onnxruntime's labels of the export must be the trained model's on the test split."""
    import onnxruntime as ort

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    label = session.run(None, {session.get_inputs()[0].name: x_te})[0]
    agree = float(np.mean(np.asarray(label).reshape(-1) == model.predict(x_te)))
    accuracy = float(np.mean(np.asarray(label).reshape(-1) == y_te))
    print(f"{name}: onnxruntime agrees with scikit-learn on {agree:.1%} of the test split, accuracy {accuracy:.1%}")
    if agree < 0.99:
        raise SystemExit(f"{name}: the export disagrees with the trained model; not written")


# --- scikit-learn (skl2onnx) -----------------------------------------------------------------


def sklearn_models() -> dict[str, object]:
    """The scikit-learn models of the zoo, trained on the digits split."""
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_tr, y_tr, _, _ = flat_digits()
    models = {
        "sklearn_logreg": LogisticRegression(max_iter=2000, C=1.0),
        "sklearn_scaled_logreg": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1)),
        # relu: a logistic MLP would need a Sigmoid op
        "sklearn_mlp": MLPClassifier(hidden_layer_sizes=(32,), activation="relu", max_iter=600, random_state=SEED),
        "sklearn_forest": RandomForestClassifier(n_estimators=10, max_depth=6, random_state=SEED),
        "sklearn_boosted": GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=SEED),
    }
    for model in models.values():
        model.fit(x_tr, y_tr)
    return models


def export_sklearn() -> None:
    from skl2onnx import to_onnx

    _, _, x_te, y_te = flat_digits()
    for name, model in sklearn_models().items():
        onx = to_onnx(model, x_te[:1], target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET})
        data = onx.SerializeToString()
        check_export(name, data, model, x_te, y_te)
        write_atomically(ZOO / f"{name}.onnx", data)
        print(f"  wrote {ZOO / f'{name}.onnx'} ({len(data):,} bytes)")


# --- torch (torch.onnx) ----------------------------------------------------------------------

# the torch exports, in a folder of their own (tests/test_sklearn_models.py reads tests/zoo/*.onnx)
TORCH_ZOO = ZOO / "torch"
# a committed file stays under this; a larger export is committed without its weights
MAX_FILE_BYTES = 2_000_000
EXPORTERS = ("ts", "dynamo")  # and "ts_unfolded": TorchScript without constant folding
TORCH_OPSETS = (17, 18)
# the dynamo exporter's lowest opset; below it, the export is converted down (convert_down)
DYNAMO_OPSET = 18


def export_torch_model(model, example, exporter: str, opset: int) -> bytes:
    """One self-contained ONNX file of ``model`` in eval mode, batch axis symbolic, input ``x``
    and output ``y``."""
    import onnx
    import torch

    model.eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        if exporter in ("ts", "ts_unfolded"):
            torch.onnx.export(
                model,
                (example,),
                str(path),
                dynamo=False,
                # unfolded, it keeps each BatchNorm as a node instead of fusing it into the Conv
                do_constant_folding=exporter == "ts",
                opset_version=opset,
                input_names=["x"],
                output_names=["y"],
                dynamic_axes={"x": {0: "N"}, "y": {0: "N"}},
            )
        else:
            # its own down-conversion fails on resnet18's ReduceMean: export at 18, convert here
            program = torch.onnx.export(
                model,
                (example,),
                dynamo=True,
                opset_version=max(opset, DYNAMO_OPSET),
                input_names=["x"],
                output_names=["y"],
                dynamic_shapes=({0: torch.export.Dim("N", min=1, max=4096)},),
            )
            program.save(str(path), external_data=False)
        # load_external_data: whatever the exporter put beside the file goes inside it
        proto = onnx.load(str(path), load_external_data=True)
    if exporter == "dynamo" and opset < DYNAMO_OPSET:
        proto = convert_down(proto, opset)
    for tensor in proto.graph.initializer:
        tensor.data_location = onnx.TensorProto.DEFAULT
        del tensor.external_data[:]
    if opset not in [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")]:
        raise SystemExit(f"the {exporter} exporter did not write opset {opset}")
    return proto.SerializeToString()


def convert_down(proto, opset: int):
    """An opset-18 model converted to ``opset`` by onnx's version converter, less the
    attributes it leaves behind that the older operators lack (ReduceMean's
    ``noop_with_empty_axes``, which only opset 18 has: with axes given it changes nothing)."""
    import onnx
    from onnx import version_converter

    converted = version_converter.convert_version(proto, opset)
    for node in converted.graph.node:
        if node.op_type.startswith("Reduce"):
            kept = [a for a in node.attribute if a.name != "noop_with_empty_axes"]
            del node.attribute[:]
            node.attribute.extend(kept)
    onnx.checker.check_model(converted)
    return converted


def strip_parameters(data: bytes) -> bytes:
    """The model with the data of its parameters (``PARAMETER_SLOTS``) cleared and marked so."""
    import onnx

    proto = onnx.load_model_from_string(data)
    parameters = {
        node.input[slot]
        for node in proto.graph.node
        for slot in PARAMETER_SLOTS.get(node.op_type, ())
        if slot < len(node.input)
    }
    stripped = 0
    for tensor in proto.graph.initializer:
        if tensor.name in parameters and tensor.data_type == onnx.TensorProto.FLOAT:
            tensor.ClearField("raw_data")
            tensor.ClearField("float_data")
            stripped += int(np.prod(tensor.dims))
    entry = proto.metadata_props.add()
    entry.key, entry.value = WEIGHTS_KEY, f"cleared {stripped} parameters; regenerate with seed {SEED}"
    return proto.SerializeToString()


def check_torch_export(name: str, data: bytes, model, x) -> None:
    """onnxruntime's outputs of the export must be torch's: labels on at least 99% of ``x``,
    values within a small relative error."""
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    ours = session.run(None, {"x": x})[0]
    with torch.no_grad():
        theirs = model(torch.from_numpy(x)).numpy()
    agree = float(np.mean(ours.argmax(-1) == theirs.argmax(-1)))
    error = float(np.linalg.norm(ours - theirs) / max(np.linalg.norm(theirs), 1e-30))
    print(f"{name}: onnxruntime and torch agree on {agree:.1%} of labels, relative error {error:.1e}")
    if agree < 0.99 or error > 1e-3:
        raise SystemExit(f"{name}: the export disagrees with torch; not written")


def train(model, x: np.ndarray, y: np.ndarray, epochs: int, lr: float = 1e-2, log_probabilities: bool = False):
    """A brief Adam fit (minibatches of 64, cross-entropy), seeded; returns the model in eval mode."""
    import torch

    torch.manual_seed(SEED)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(xt)).split(64):
            out = model(xt[batch])
            # a model that ends in Softmax gives probabilities: the loss reads their log
            loss = (
                torch.nn.functional.nll_loss(torch.log(out + 1e-9), yt[batch])
                if log_probabilities
                else torch.nn.functional.cross_entropy(out, yt[batch])
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    import torch

    with torch.no_grad():
        return float(np.mean(model(torch.from_numpy(x)).numpy().argmax(-1) == y))


def torch_mlp():
    import torch.nn as nn

    return nn.Sequential(
        nn.Linear(64, 64),
        nn.BatchNorm1d(64),
        nn.Tanh(),
        nn.Dropout(0.2),
        nn.Linear(64, 32),
        nn.Sigmoid(),
        nn.Linear(32, 10),
        nn.Softmax(dim=1),
    )


def torch_sequence_model(kind: str):
    """A classifier of a digit read as 8 rows of 8 features: ``transformer``, ``gru`` or ``lstm``."""
    import torch
    import torch.nn as nn

    class RowsTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(8, 16)
            self.position = nn.Parameter(torch.randn(1, 8, 16) * 0.1)
            layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.1, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Linear(16, 10)

        def forward(self, x):
            return self.head(self.encoder(self.embed(x) + self.position).mean(dim=1))

    class RowsRecurrent(nn.Module):
        def __init__(self, cell):
            super().__init__()
            self.rnn = cell(8, 16, batch_first=True)
            self.head = nn.Linear(16, 10)

        def forward(self, x):
            return self.head(self.rnn(x)[0][:, -1])

    if kind == "transformer":
        return RowsTransformer()
    return RowsRecurrent({"gru": nn.GRU, "lstm": nn.LSTM}[kind])


def torchvision_model(name: str):
    """A torchvision architecture, random init under SEED, with random BatchNorm statistics."""
    import torch
    import torchvision

    torch.manual_seed(SEED)
    model = getattr(torchvision.models, name)(weights=None, num_classes=10)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            with torch.no_grad():
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
    return model.eval()


# the torchvision nets: input side, and the exports (exporter, opset) of each
TORCHVISION = {
    "resnet18": (32, [(e, o) for e in EXPORTERS for o in TORCH_OPSETS]),
    "mobilenet_v2": (32, [("ts_unfolded", 17)]),
    "squeezenet1_1": (17, [("ts", 17)]),
}
SEQUENCE = {"transformer": ("dynamo", 18), "gru": ("ts", 17), "lstm": ("ts", 17)}


def export_torch(full_weights: Path | None = None) -> None:
    import onnx
    import torch

    def write(name: str, data: bytes, parameters: int) -> None:
        proto = onnx.load_model_from_string(data)
        entry = proto.metadata_props.add()
        entry.key, entry.value = PARAMETERS_KEY, str(parameters)  # torch's count, for the zoo's table
        data = proto.SerializeToString()
        if full_weights is not None:
            write_atomically(full_weights / f"{name}.onnx", data)
        if len(data) > MAX_FILE_BYTES:
            data = strip_parameters(data)
        write_atomically(TORCH_ZOO / f"{name}.onnx", data)
        print(f"  wrote {TORCH_ZOO / f'{name}.onnx'} ({len(data):,} bytes, {parameters:,} parameters)")

    def count(model) -> int:
        return sum(p.numel() for p in model.parameters())

    x_tr, y_tr, x_te, y_te = flat_digits()
    torch.manual_seed(SEED)
    mlp = train(torch_mlp(), x_tr, y_tr, epochs=60, lr=3e-3, log_probabilities=True)
    print(f"torch_mlp: test accuracy {accuracy(mlp, x_te, y_te):.1%}")
    for exporter in EXPORTERS:
        for opset in TORCH_OPSETS:
            name = f"torch_mlp_{exporter}{opset}"
            data = export_torch_model(mlp, torch.from_numpy(x_te[:2]), exporter, opset)
            check_torch_export(name, data, mlp, x_te)
            write(name, data, count(mlp))

    rows_tr, rows_te = x_tr.reshape(-1, 8, 8), x_te.reshape(-1, 8, 8)
    for kind, (exporter, opset) in SEQUENCE.items():
        torch.manual_seed(SEED)
        model = train(torch_sequence_model(kind), rows_tr, y_tr, epochs=30, lr=1e-2)
        print(f"{kind}: test accuracy {accuracy(model, rows_te, y_te):.1%}")
        data = export_torch_model(model, torch.from_numpy(rows_te[:2]), exporter, opset)
        check_torch_export(kind, data, model, rows_te)
        write(kind, data, count(model))

    rng = np.random.default_rng(SEED)
    for arch, (side, exports) in TORCHVISION.items():
        model = torchvision_model(arch)
        x = rng.uniform(0, 1, (64, 3, side, side)).astype(np.float32)
        for exporter, opset in exports:
            name = arch if len(exports) == 1 else f"{arch}_{exporter}{opset}"
            data = export_torch_model(model, torch.from_numpy(x[:2]), exporter, opset)
            check_torch_export(name, data, model, x)
            write(name, data, count(model))


SECTIONS = {"sklearn": export_sklearn, "torch": export_torch}


def main(argv: list[str]) -> int:
    full_weights = None
    if "--full-weights" in argv:
        at = argv.index("--full-weights")
        full_weights = Path(argv[at + 1])
        argv = argv[:at] + argv[at + 2 :]
    chosen = argv or list(SECTIONS)
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        print(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}", file=sys.stderr)
        return 2
    for section in chosen:
        if section == "torch":
            export_torch(full_weights)
        else:
            SECTIONS[section]()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
