"""The compiled-model folder of the sumcheck backend (``zkmarket model compile --backend
sumcheck``): the quantized graph, and after the setup the commitment key and the weights'
commitments (the model's registration on this backend).

    model.json              the schema below, written last
    graph.json, weights.npz the quantized graph (``prover.onnx.graph_file``)
    commitment_key.npz      after the setup: the first 2^k G1 powers of tau and G2, tau G2

``model.json``: ``backend`` ("sumcheck"), ``format_version`` (``FORMAT_VERSION``), ``name``,
``source``, ``model_key``, ``model_commitment`` (the Groth16 backend's Poseidon commitment of the
same quantized weights: the registry holds both commitments, so one registration names the
model on either backend), ``architecture_hash`` and ``architecture`` (the weights-free spec),
``precision``, ``calibration_samples``, ``input``, ``output``, ``parameters``, optionally
``accuracy``, and once set up ``setup``: ``key_power``, ``max_batch``, ``ptau_sha256`` (the
phase-1 powers of tau the key was cut from), ``weight_commitments`` (name -> [x, y] in hex) and
``files`` (SHA-256 of the commitment key).

Reading a folder checks everything against itself: the graph against the commitment and the
architecture hash, the architecture spec against its hash, the commitment key against its
hash, and the weight commitments against the graph's tables when the prover loads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from marketplace.setup.model_folder import (
    COMPILE_AGAIN,
    MODEL_FIELDS,
    MODEL_JSON,
    ModelFolderError,
    check_graph_matches,
    read_json_object,
)
from marketplace.store import sha256_file, write_json
from prover.circuit.statements import architecture_graph, architecture_hash
from prover.field import FQ_MODULUS, ints_to_limbs, limbs_to_ints
from prover.formats.binfile import atomic_output
from prover.onnx.graph import Graph
from prover.onnx.graph_file import load_graph, save_graph
from prover.sumcheck import commitment as pcs
from prover.sumcheck.inference import check_supported, commit_weights, key_power

BACKEND = "sumcheck"
FORMAT_VERSION = 1
COMMITMENT_KEY = "commitment_key.npz"
DEFAULT_MAX_BATCH = 64
REQUIRED_FIELDS: dict[str, type] = {"backend": str, **MODEL_FIELDS}


def compile_folder(model, folder: str | Path) -> dict:
    """Write the folder of a quantized model (``marketplace.setup.pipeline.QuantizedModel``)
    atomically: a temporary folder renamed into place when complete. Raises
    UnsupportedModelError, naming the op, for a graph this backend does not prove yet."""
    from marketplace.setup.pipeline import check_empty_folder, model_info, write_folder

    folder = Path(folder)
    check_empty_folder(folder)
    graph = model.graph
    check_supported(graph)
    info = {"backend": BACKEND, "format_version": FORMAT_VERSION, **model_info(model)}

    def write(tmp: Path) -> None:
        save_graph(graph, tmp)
        write_json(tmp / MODEL_JSON, info)  # last: its presence marks a complete folder

    write_folder(folder, write)
    return info


def read_info(folder: str | Path) -> dict:
    """model.json of a sumcheck folder, its schema checked; ModelFolderError otherwise."""
    folder = Path(folder)
    path, info = read_json_object(folder)
    if info.get("backend") != BACKEND:
        raise ModelFolderError(f"{folder} is not compiled for the sumcheck backend")
    if info.get("format_version") != FORMAT_VERSION:
        raise ModelFolderError(
            f"{path} has format version {info.get('format_version')!r}, this zkmarket reads "
            f"version {FORMAT_VERSION} of sumcheck folders: {COMPILE_AGAIN}"
        )
    for name, kind in REQUIRED_FIELDS.items():
        if not isinstance(info.get(name), kind) or isinstance(info.get(name), bool):
            raise ModelFolderError(f"{path}: {name!r} is missing or not a JSON {kind.__name__}; {COMPILE_AGAIN}")
    return info


@dataclass
class SumcheckModel:
    """A sumcheck folder as read back: the graph (the prover's; None for a verifier, who reads
    the architecture only), model.json, and after the setup the key and the commitments."""

    folder: Path
    info: dict
    graph: Graph | None
    architecture: Graph
    key: pcs.CommitmentKey | None
    verifier_key: pcs.VerifierKey | None
    weights: dict[str, np.ndarray] | None


def _point(value, where: str) -> np.ndarray:
    if not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, str) for v in value):
        raise ModelFolderError(f"{where}: a G1 point is two hex coordinates")
    try:
        coordinates = [int(v, 16) for v in value]
    except ValueError:
        raise ModelFolderError(f"{where}: a coordinate is not hex") from None
    if not all(0 <= c < FQ_MODULUS for c in coordinates):
        raise ModelFolderError(f"{where}: a coordinate is not below the base field modulus")
    return ints_to_limbs(coordinates).reshape(2, 4)


def _hex_point(point: np.ndarray) -> list[str]:
    return [hex(v) for v in limbs_to_ints(point)]


def load(folder: str | Path, prover: bool = True) -> SumcheckModel:
    """Read a sumcheck folder and check it against itself (module docstring). The prover's side
    loads the graph and the full key; the verifier's the architecture and the verifier key."""
    folder = Path(folder)
    info = read_info(folder)
    spec = info["architecture"]
    architecture = architecture_graph(spec)
    if architecture_hash(architecture) != int(info["architecture_hash"], 16):
        raise ModelFolderError(f"{folder}: the architecture spec does not hash to the recorded hash: {COMPILE_AGAIN}")
    graph = None
    if prover:
        graph = load_graph(folder)
        check_graph_matches(folder, graph, info)
    key = verifier_key = weights = None
    setup = info.get("setup")
    if setup is not None:
        path = folder / COMMITMENT_KEY
        if not path.is_file() or sha256_file(path) != setup.get("files", {}).get(COMMITMENT_KEY):
            raise ModelFolderError(f"{path} is missing or not the key model.json records: run the setup again")
        with np.load(path) as data:
            verifier_key = pcs.VerifierKey(data["g1"], data["g2"], data["tau_g2"])
            if prover:
                key = pcs.CommitmentKey(np.ascontiguousarray(data["tau_g1"]), verifier_key)
        recorded = setup.get("weight_commitments")
        if not isinstance(recorded, dict):
            raise ModelFolderError(f"{folder / MODEL_JSON}: the setup has no weight commitments: run it again")
        weights = {name: _point(p, f"weight commitment {name!r}") for name, p in recorded.items()}
    return SumcheckModel(folder, info, graph, architecture, key, verifier_key, weights)


def setup_folder(folder: str | Path, ptau, ptau_sha256: str, max_batch: int = DEFAULT_MAX_BATCH) -> dict:
    """The one-time registration: cut the commitment key for batches of up to ``max_batch``
    from the phase-1 powers of tau ``ptau`` and commit to the weights; writes the key and
    model.json (the key first, model.json last, each atomically)."""
    folder = Path(folder)
    model = load(folder)
    graph = model.graph
    assert graph is not None
    power = key_power(graph, max_batch)
    key = pcs.commitment_key(ptau, power)  # ValueError when the ptau is too small
    weights = commit_weights(key, graph)
    path = folder / COMMITMENT_KEY
    with atomic_output(path) as out:
        np.savez(out, tau_g1=key.tau_g1, g1=key.verifier.g1, g2=key.verifier.g2, tau_g2=key.verifier.tau_g2)
    info = {
        **model.info,
        "setup": {
            "key_power": power,
            "max_batch": int(max_batch),
            "ptau_sha256": ptau_sha256,
            "weight_commitments": {name: _hex_point(c) for name, c in sorted(weights.items())},
            "files": {COMMITMENT_KEY: sha256_file(path)},
        },
    }
    write_json(folder / MODEL_JSON, info)
    return info
