"""The compiled-model folder: one layout and one versioned ``model.json`` schema, written by the
setup pipeline (``marketplace.setup.pipeline``) for ``zkmarket model compile`` and for the
provider's setup cache alike, and read back by one reader that refuses what it does not know.

    model.json              what the folder holds (the schema below), written last
    graph.json, weights.npz the quantized graph (``prover.onnx.graph_file``): the circuit and its
                            witness generator are rebuilt from it, never from the ONNX file
    circuit.r1cs            the inference statement's R1CS (circom format)
    phase1.ptau             the prepared powers of tau the key was made from (provider setups)
    circuit.zkey            the proving key, after the setup
    verification_key.json   its snarkjs verification key, after the setup

``model.json`` (``FORMAT_VERSION`` 2): ``format_version``; ``name``; ``source`` (the ONNX file's
name and SHA-256); ``model_key`` (what the provider's cache names the folder by); ``mode``
(``private`` or ``public`` weights); ``public_inputs`` (the statement's, in order);
``model_commitment`` (hex) and ``architecture_hash`` (``0x`` and 32 bytes in hex), the
commitments every statement about the model carries; ``architecture`` (the weights-free spec,
the preimage of the architecture hash); ``precision``; ``calibration_samples``; ``input`` and
``output`` (name, shape, scale, bits); ``scales``; ``parameters``; ``constraints``; ``wires``;
optionally ``accuracy`` (float and quantized, on labelled inputs) and, once a key is made,
``setup`` (``setup_transcript_hash`` and ``files``: the SHA-256 of each of ``SETUP_FILES``).
Field elements are hex strings throughout, as in the provider's store and model card.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from marketplace.store import write_json
from prover.circuit.statements import (
    InferenceCircuit,
    architecture_hash,
    inference_circuit,
    inference_witness_program,
    model_commitment,
)
from prover.errors import ZkmarketError
from prover.onnx.graph import Graph
from prover.onnx.graph_file import load_graph

MODEL_JSON = "model.json"
CIRCUIT_R1CS = "circuit.r1cs"
PHASE1_PTAU = "phase1.ptau"
CIRCUIT_ZKEY = "circuit.zkey"
VERIFICATION_KEY = "verification_key.json"
# the inference setup files a provider publishes on its channel (the card's "files")
SETUP_FILES = (CIRCUIT_R1CS, PHASE1_PTAU, CIRCUIT_ZKEY)
# bump when the layout of the folder or the schema of model.json changes
FORMAT_VERSION = 2
COMPILE_AGAIN = "compile the model again (`zkmarket model compile MODEL.onnx DIR`)"

# field -> the JSON type it must have
# what every compiled-model folder's model.json holds, whichever the backend
MODEL_FIELDS: dict[str, type] = {
    "format_version": int,
    "name": str,
    "source": dict,
    "model_key": str,
    "model_commitment": str,
    "architecture_hash": str,
    "architecture": dict,
    "precision": dict,
    "calibration_samples": int,
    "input": dict,
    "output": dict,
    "parameters": int,
}
REQUIRED_FIELDS: dict[str, type] = {
    **MODEL_FIELDS,
    "mode": str,
    "public_inputs": list,
    "scales": dict,
    "constraints": int,
    "wires": int,
}
OPTIONAL_FIELDS: dict[str, type] = {"accuracy": dict, "setup": dict}


class ModelFolderError(ZkmarketError):
    """A compiled-model folder is missing, of another format version, incomplete, or does not
    match itself."""


def hex_field(value: int) -> str:
    """A field element as model.json writes it."""
    return hex(value)


def hex_bytes32(value: int) -> str:
    """A 32-byte hash (the architecture hash) as model.json writes it."""
    return "0x" + value.to_bytes(32, "big").hex()


def folder_backend(folder: str | Path) -> str:
    """The backend a compiled-model folder is for ("groth16" when model.json names none, or
    when there is no readable model.json: the Groth16 reader then says what is wrong)."""
    try:
        info = json.loads((Path(folder) / MODEL_JSON).read_text())
    except (OSError, ValueError):
        return "groth16"
    return info.get("backend", "groth16") if isinstance(info, dict) else "groth16"


def read_json_object(folder: str | Path) -> tuple[Path, dict]:
    """The path and content of a folder's model.json, a JSON object; ModelFolderError says what
    to run when it is missing or unreadable."""
    folder = Path(folder)
    path = folder / MODEL_JSON
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelFolderError(f"{folder} is not a compiled model (no {MODEL_JSON}): {COMPILE_AGAIN} first") from None
    except (OSError, ValueError) as exc:
        raise ModelFolderError(f"{path} is not valid JSON ({exc}): {COMPILE_AGAIN}") from exc
    if not isinstance(info, dict):
        raise ModelFolderError(f"{path} is not a JSON object: {COMPILE_AGAIN}")
    return path, info


def read_model_json(folder: str | Path) -> dict:
    """``model.json`` of a compiled-model folder, after checking its format version and that
    every field of the schema is there with its type. ModelFolderError says what to run when
    the file is missing, unreadable, of an unknown or missing version, or incomplete."""
    path, info = read_json_object(folder)
    if info.get("backend", "groth16") != "groth16":
        raise ModelFolderError(f"{folder} is compiled for the {info['backend']} backend, not for Groth16")
    version = info.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        found = "no format version" if version is None else f"format version {version!r}"
        raise ModelFolderError(f"{path} has {found}, this zkmarket reads version {FORMAT_VERSION}: {COMPILE_AGAIN}")
    for fields, required in ((REQUIRED_FIELDS, True), (OPTIONAL_FIELDS, False)):
        for name, kind in fields.items():
            if name not in info:
                if required:
                    raise ModelFolderError(f"{path} has no {name!r}: the folder is incomplete; {COMPILE_AGAIN}")
                continue
            value = info[name]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ModelFolderError(f"{path}: {name!r} is not a JSON {kind.__name__}; {COMPILE_AGAIN}")
    for name in ("model_commitment", "architecture_hash"):
        try:
            int(info[name], 16)
        except ValueError:
            raise ModelFolderError(f"{path}: {name!r} is not a hex number; {COMPILE_AGAIN}") from None
    return info


def write_model_json(folder: Path, info: dict) -> None:
    """Write ``model.json`` atomically (its presence marks a complete folder: write it last)."""
    write_json(Path(folder) / MODEL_JSON, {**info, "format_version": FORMAT_VERSION})


def check_graph_matches(folder: Path, graph: Graph, info: dict) -> None:
    """The quantized graph of a folder must be the model its ``model.json`` names (the same
    model commitment and architecture hash), so nothing is ever proved for another model."""
    if model_commitment(graph) != int(info["model_commitment"], 16):
        raise ModelFolderError(
            f"{folder}: the quantized graph does not match the model commitment in {MODEL_JSON} "
            f"(files changed or mixed up): {COMPILE_AGAIN}"
        )
    if architecture_hash(graph) != int(info["architecture_hash"], 16):
        raise ModelFolderError(
            f"{folder}: the quantized graph does not match the architecture hash in {MODEL_JSON}: {COMPILE_AGAIN}"
        )


def model_card(info: dict) -> dict:
    """The model card a provider publishes on its channel, from a set-up folder's model.json:
    what every client checks the setup with (``marketplace.setup.check``)."""
    setup = info.get("setup")
    if setup is None:
        raise ModelFolderError(f"model {info['name']} has no key yet: run its setup first")
    return {
        "name": info["name"],
        "model_key": info["model_key"],
        "model_commitment": info["model_commitment"],
        "architecture_hash": info["architecture_hash"],
        "architecture": info["architecture"],  # the preimage: clients rebuild the circuits from it
        "input": {k: info["input"][k] for k in ("shape", "scale", "bits")},
        "output": {k: info["output"][k] for k in ("shape", "scale")},
        "constraints": info["constraints"],
        "setup_transcript_hash": setup["setup_transcript_hash"],
        "files": setup["files"],
    }


@dataclass
class CompiledModel:
    """A compiled-model folder as it is read back: the quantized graph, its inference circuit
    (or its witness program alone, ``load_compiled(..., witness_only=True)``) and ``model.json``."""

    folder: Path
    graph: Graph
    circuit: InferenceCircuit
    info: dict


def load_compiled(folder: str | Path, graph: Graph | None = None, witness_only: bool = False) -> CompiledModel:
    """A compiled-model folder (``read_model_json``), its graph checked against the
    recorded commitments and its inference circuit rebuilt and checked against the recorded
    shape, so a witness or key is never made for another model. ``graph`` is the model as just
    quantized, checked against the folder in place of the folder's own graph files.

    ``witness_only`` rebuilds the witness program alone (``inference_witness_program``: the same
    wires and counts, checked the same way, without assembling the R1CS), for a prover that
    proves with the folder's key and checks its proof against that key."""
    folder = Path(folder)
    info = read_model_json(folder)
    graph = load_graph(folder) if graph is None else graph
    check_graph_matches(folder, graph, info)
    circuit = (inference_witness_program if witness_only else inference_circuit)(graph, info["mode"])
    program = circuit.circuit
    if (program.n_constraints, program.n_wires) != (info["constraints"], info["wires"]):
        raise ModelFolderError(
            f"{folder}: the rebuilt circuit has {program.n_constraints} constraints and {program.n_wires} "
            f"wires, model.json records {info['constraints']} and {info['wires']}: compile the "
            f"model again with this version of zkmarket"
        )
    return CompiledModel(folder, graph, circuit, info)
