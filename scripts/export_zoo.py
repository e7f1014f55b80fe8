"""Export the zoo of third-party model exports that the importer is tested on: ``tests/zoo/*.onnx``.

The zoo holds models as their users' own tools export them, so that the tests check the
importer against real exporter output, not against graphs written by hand. Each section below
is one exporter; every model trains on the project's digits split
(``marketplace.models.digits_split``) and is written atomically (a temporary file renamed into
place), so a failed run never leaves half a file.

The exporters are not dependencies of the project, its tests or its runtime: the exported files
are committed, and the tests read them with onnx and onnxruntime alone. To run this script, make
a virtual environment of its own (py_ecc because ``marketplace.models`` imports the prover):

    python3 -m venv /tmp/zoo-venv
    /tmp/zoo-venv/bin/pip install numpy scikit-learn onnx skl2onnx onnxruntime tqdm py_ecc
    PYTHONPATH=$PWD /tmp/zoo-venv/bin/python scripts/export_zoo.py

Sections:

- scikit-learn (skl2onnx): ``sklearn_logreg`` (LogisticRegression, a LinearClassifier with a
  softmax post-transform, ZipMap on the probabilities), ``sklearn_scaled_logreg`` (a
  StandardScaler before it: an ``ai.onnx.ml`` Scaler), ``sklearn_mlp`` (MLPClassifier with relu:
  MatMul/Add/Relu, Softmax, and the ArgMax + ArrayFeatureExtractor label tail),
  ``sklearn_forest`` (RandomForestClassifier, 10 trees of depth at most 6: a
  TreeEnsembleClassifier whose leaves hold each tree's class probabilities over 10, ZipMap),
  ``sklearn_boosted`` (GradientBoostingClassifier, 10 rounds of depth 3: a TreeEnsembleClassifier
  of one tree per class and round, base_values and a softmax post-transform);
- (room for a torch section: torch.onnx exports beside the sklearn ones).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

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


# --- torch (torch.onnx): none yet -----------------------------------------------------------

SECTIONS = {"sklearn": export_sklearn}


def main(argv: list[str]) -> int:
    chosen = argv or list(SECTIONS)
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        print(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}", file=sys.stderr)
        return 2
    for section in chosen:
        SECTIONS[section]()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
