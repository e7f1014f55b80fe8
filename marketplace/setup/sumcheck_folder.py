"""The compiled-model folder of the sumcheck backend (``zkmarket model compile --backend
sumcheck``): the quantized graph, and after the setup the commitment key and the weights'
commitments (the model's registration on this backend).

    model.json              the schema below, written last
    graph.json, weights.npz the quantized graph (``prover.onnx.graph_file``)
    commitment_key.npz      after the setup: the first 2^k G1 powers of tau and G2, tau G2
    blinding_seed.bin       after the setup: the provider's secret (32 random bytes, mode 0600)
                            from which the weight commitments' blinds derive; never published

``model.json``: ``backend`` ("sumcheck"), ``format_version`` (``FORMAT_VERSION``), ``name``,
``source``, ``model_key``, ``model_commitment`` (the Groth16 backend's Poseidon commitment of the
same quantized weights: the registry holds both commitments, so one registration names the
model on either backend), ``architecture_hash`` and ``architecture`` (the weights-free spec),
``precision``, ``calibration_samples``, ``input``, ``output``, ``parameters``, optionally
``accuracy``, and once set up ``setup``: ``key_power``, ``max_batch``, ``ptau_sha256`` (the
phase-1 powers of tau the key was cut from), ``weight_commitments`` (name -> [x, y] in hex, hiding:
``prover.sumcheck.inference.weight_blinds``), ``seed_check`` (SHA-256 of a label and the seed,
which says nothing of the seed but catches another folder's) and ``files`` (SHA-256 of the
commitment key).

Reading a folder checks everything against itself: the graph against the commitment and the
architecture hash, the architecture spec against its hash, the commitment key against its
hash, and the blinding seed against its check when the prover loads it (a proof from weights
other than the registered ones fails the verification ``model prove`` runs before it writes).
"""

from __future__ import annotations

import hashlib
import os
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
from prover.sumcheck.inference import SEED_BYTES, check_supported, commit_weights, key_power

BACKEND = "sumcheck"
FORMAT_VERSION = 2  # 2: hiding weight commitments, with the blinding seed
COMMITMENT_KEY = "commitment_key.npz"
BLINDING_SEED = "blinding_seed.bin"
SEED_CHECK_LABEL = b"zkmarket/sumcheck/seed-check/v1"
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
    seed: bytes | None = None  # the blinding seed: the prover's side only


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
    key = verifier_key = weights = seed = None
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
        if prover:
            seed = _read_seed(folder, setup)
    return SumcheckModel(folder, info, graph, architecture, key, verifier_key, weights, seed)


def _seed_check(seed: bytes) -> str:
    return hashlib.sha256(SEED_CHECK_LABEL + seed).hexdigest()


def _read_seed(folder: Path, setup: dict) -> bytes:
    path = folder / BLINDING_SEED
    try:
        seed = path.read_bytes()
    except OSError:
        raise ModelFolderError(
            f"{path} is missing: the weight commitments cannot be opened without it; restore it from "
            "the provider's backup or run the setup again (a new registration)"
        ) from None
    if len(seed) != SEED_BYTES or _seed_check(seed) != setup.get("seed_check"):
        raise ModelFolderError(
            f"{path} is not the blinding seed of this registration: restore it or run the setup again"
        )
    return seed


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
    seed = os.urandom(SEED_BYTES)
    weights = commit_weights(key, graph, seed)
    path = folder / COMMITMENT_KEY
    with atomic_output(path) as out:
        np.savez(out, tau_g1=key.tau_g1, g1=key.verifier.g1, g2=key.verifier.g2, tau_g2=key.verifier.tau_g2)
    with atomic_output(folder / BLINDING_SEED, permissions=0o600) as out:
        out.write(seed)
    info = {
        **model.info,
        "setup": {
            "key_power": power,
            "max_batch": int(max_batch),
            "ptau_sha256": ptau_sha256,
            "weight_commitments": {name: _hex_point(c) for name, c in sorted(weights.items())},
            "seed_check": _seed_check(seed),
            "files": {COMMITMENT_KEY: sha256_file(path)},
        },
    }
    write_json(folder / MODEL_JSON, info)
    return info
