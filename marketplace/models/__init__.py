"""The project's example models: ONNX files trained on scikit-learn's digits by
``scripts/train_models.py``, with the data split they were trained and tested on.

``models.json`` (written by the training script) records, per model, its file, its input
shape, the quantization precision chosen for it and its measured accuracies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prover.onnx.quantize import Precision

MODELS_DIR = Path(__file__).resolve().parent
CATALOG = MODELS_DIR / "models.json"

# the fixed split: 20 % test, stratified by label, this seed (documented in README.md)
SPLIT_SEED = 0
TEST_FRACTION = 0.2
LENET_SIDE = 28


@dataclass(frozen=True)
class ExampleModel:
    name: str
    path: Path
    input_shape: tuple[int, ...]  # per sample, without the batch axis
    precision: Precision
    accuracy: dict  # measured accuracies on the test split


def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, test images, test labels); images are (n, 8, 8) float64 in
    [0, 1] (the 0..16 pixel counts divided by 16)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images.astype(np.float64) / 16.0
    x_tr, x_te, y_tr, y_te = train_test_split(
        images, digits.target, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=digits.target
    )
    return x_tr, y_tr.astype(np.int64), x_te, y_te.astype(np.int64)


def upsample(images: np.ndarray, side: int = LENET_SIDE) -> np.ndarray:
    """(n, 8, 8) -> (n, side, side) by separable linear interpolation between pixel centres."""
    n = images.shape[-1]
    pos = np.clip((np.arange(side) + 0.5) * n / side - 0.5, 0, n - 1)
    low = np.floor(pos).astype(int)
    high = np.minimum(low + 1, n - 1)
    frac = pos - low
    m = np.zeros((side, n))
    m[np.arange(side), low] += 1 - frac
    m[np.arange(side), high] += frac
    return np.einsum("ij,bjk,lk->bil", m, images, m)


def model_inputs(input_shape: tuple[int, ...], images: np.ndarray) -> np.ndarray:
    """Digits images -> a batch shaped for a model taking ``input_shape`` (flat 64, (1, 8, 8),
    or (1, 28, 28) upsampled)."""
    if input_shape == (64,):
        return images.reshape(len(images), 64)
    if input_shape == (1, 8, 8):
        return images.reshape(len(images), 1, 8, 8)
    if input_shape == (1, LENET_SIDE, LENET_SIDE):
        return upsample(images)[:, None]
    raise ValueError(f"no digits input layout for shape {input_shape}")


def example_models() -> dict[str, ExampleModel]:
    """The committed example models by name."""
    catalog = json.loads(CATALOG.read_text())
    return {
        name: ExampleModel(
            name,
            MODELS_DIR / entry["file"],
            tuple(entry["input_shape"]),
            Precision(**entry["precision"]),
            entry["accuracy"],
        )
        for name, entry in catalog.items()
    }


def bundled_model(onnx_path: str | Path) -> ExampleModel | None:
    """The example model whose ONNX file has the same bytes as ``onnx_path`` (recognised by
    content, wherever the file was copied), or None."""
    from marketplace.store import sha256_file

    digest = sha256_file(onnx_path)
    for model in example_models().values():
        if model.path.exists() and sha256_file(model.path) == digest:
            return model
    return None
