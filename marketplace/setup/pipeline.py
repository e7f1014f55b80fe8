"""The one setup pipeline: model -> circuit -> ceremony -> key (-> verifier, deployed from the key
by ``marketplace.contracts.deploy_verifier``). ``zkmarket model``, ``zkmarket provider``, the
provider agent and the demo all call it; every step reads and writes the compiled-model folder
(``marketplace.setup.model_folder``).

1. **Model**: ``quantized_graph`` imports the ONNX file (``prover.onnx``) and quantizes it with
   calibration inputs (a bundled example model brings its own, ``marketplace.models``); the
   *model key* (SHA-256 of the circuit and folder formats, the ONNX bytes, the precision and the
   calibration data) names its cached setup.
2. **Circuit**: ``compile_model`` builds the inference circuit (``prover.circuit.statements``)
   and writes the folder atomically; ``model_folder.load_compiled`` rebuilds the circuit from a
   folder and checks the folder against itself.
3. **Ceremony**: ``phase1_ptau`` is a prepared powers of tau (a local phase-1 ceremony among
   ``participants``, or the INSECURE known secret, or a throw-away secret); each participant
   then contributes to phase 2 (``proving_key``).
4. **Key**: ``proving_key`` makes (or reads) the Groth16 key and checks that it is for the
   circuit (``prover.groth16.keys.check_key_matches``, the one check of it); ``prepare_model`` runs steps 1 to 4
   for the provider into ``cache_dir/models/<model key>-<ceremony id>/``, and
   ``prepare_statement`` does the same for the batch statements (batched inference, accuracy,
   retrieval) about the same weights, kept beside it.

The phase-1 ptau and the phase-2 key carry contributions from parties other than the provider
(``participants``), whom every client checks for in the transcripts (``marketplace.setup.check``).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from marketplace.models import bundled_model, digits_split, model_inputs
from marketplace.progress import step_progress
from marketplace.setup.model_folder import (
    CIRCUIT_R1CS,
    CIRCUIT_ZKEY,
    FORMAT_VERSION,
    MODEL_JSON,
    PHASE1_PTAU,
    SETUP_FILES,
    VERIFICATION_KEY,
    CompiledModel,
    ModelFolderError,
    hex_bytes32,
    hex_field,
    load_compiled,
    model_card,
    read_model_json,
    write_model_json,
)
from marketplace.store import default_cache_dir, sha256_file
from prover.ceremony import phase2, powersoftau, prepare_phase2
from prover.circuit import statements
from prover.circuit.size import check_fits
from prover.circuit.statements import (
    MAX_BATCH,
    PUBLIC_INPUTS,
    InferenceCircuit,
    architecture_hash,
    architecture_spec,
    inference_circuit,
    inference_size,
    model_commitment,
)
from prover.errors import FormatError, ZkmarketError
from prover.field import FR_MODULUS
from prover.formats import read_ptau, read_zkey, write_ptau, write_zkey
from prover.groth16 import qap
from prover.groth16.keys import ProvingKey, check_key_matches
from prover.onnx.graph import Graph, InputShapeError
from prover.onnx.graph_file import save_graph
from prover.onnx.importer import import_model
from prover.onnx.quantize import Precision, accuracy, choose_precision, quantize


class SetupError(ZkmarketError):
    """The setup cannot go on as asked (a key without its ptau, a ceremony without participants)."""


# --- 1. the model ---------------------------------------------------------------------------------


@dataclass
class QuantizedModel:
    """An ONNX model quantized for its circuit, with what it was quantized from."""

    onnx_path: Path
    float_graph: Graph
    graph: Graph
    key: str  # the model key (see the module docstring)
    precision: Precision
    calibration_samples: int
    # (inputs, labels, what they are) to state the accuracy on, when labels are known
    evaluation: tuple[np.ndarray, np.ndarray, str] | None = None


def _real_batch(x: np.ndarray, want: tuple[int, ...], what: str) -> np.ndarray:
    """A batch of real inputs of per-sample shape ``want``: InputShapeError / FormatError otherwise."""
    if x.ndim != len(want) + 1 or tuple(x.shape[1:]) != want or len(x) == 0:
        raise InputShapeError(
            f"{what} holds shape {x.shape}, calibration needs a batch (N, {', '.join(map(str, want))}) "
            f"with N >= 1: reshape it"
        )
    if x.dtype.kind not in "iuf":
        raise FormatError(f"{what} holds {x.dtype} values, calibration needs real numbers")
    return x.astype(np.float64)


def quantized_graph(
    onnx_path: str | Path,
    calibration: np.ndarray | None = None,
    precision: Precision | None = None,
    *,
    labels: np.ndarray | None = None,
    calibration_name: str = "the calibration inputs",
) -> QuantizedModel:
    """Import and quantize an ONNX model (step 1 of the module docstring). Without
    ``calibration`` a bundled example model calibrates on the digits training split with its
    recorded precision (and states its accuracy on the test split); any other model needs
    calibration inputs. With ``labels`` (one per calibration input) the cheapest precision that
    keeps the float model's accuracy is chosen, unless ``precision`` is given. Raises
    FormatError for a missing or corrupt file, InputShapeError for calibration of the wrong
    shape, ZkmarketError when the calibration is missing."""
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise FormatError(f"{onnx_path}: no such ONNX file")
    float_graph = import_model(onnx_path)  # FormatError / UnsupportedModelError before any work
    want = tuple(float_graph.input_tensor.shape)
    evaluation = None
    if calibration is None:
        if labels is not None:
            raise ZkmarketError("--labels needs --calibration: the labels are those of the calibration inputs")
        example = bundled_model(onnx_path)
        if example is None:
            raise FormatError(
                f"{onnx_path} is not a bundled example model: give calibration inputs (--calibration "
                f"X.npy, a batch of typical real inputs of shape (N, {', '.join(map(str, want))}) scaled "
                f"like the training data)"
            )
        try:
            x_tr, _, x_te, y_te = digits_split()
        except ImportError as exc:  # the digits data ships with scikit-learn
            raise ZkmarketError(
                "the bundled models calibrate on scikit-learn's digits: install scikit-learn "
                "(`pip install -e '.[test]'`) or give --calibration"
            ) from exc
        x = model_inputs(example.input_shape, x_tr)
        precision = precision or example.precision
        evaluation = (model_inputs(example.input_shape, x_te), y_te, "digits test split")
    else:
        x = _real_batch(np.asarray(calibration), want, calibration_name)
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (len(x),) or labels.dtype.kind not in "iu":
                raise InputShapeError(
                    f"the labels hold {labels.dtype} of shape {labels.shape}: --labels needs {len(x)} "
                    "integer class labels, one per calibration input"
                )
            evaluation = (x, labels, "calibration inputs")
    if precision is None and labels is not None:
        precision, graph = choose_precision(float_graph, x, labels)
    else:
        precision = precision or Precision()
        graph = quantize(float_graph, x, precision)
    key = hashlib.sha256()
    # a new format never reuses an old setup (read at call time: the format is the statements' own)
    key.update(f"circuit format {statements.CIRCUIT_FORMAT}".encode())
    key.update(f"model folder {FORMAT_VERSION}".encode())
    key.update(onnx_path.read_bytes())
    key.update(json.dumps([precision.act_bits, precision.weight_bits, precision.headroom_bits]).encode())
    key.update(np.ascontiguousarray(x).tobytes())
    return QuantizedModel(onnx_path, float_graph, graph, key.hexdigest()[:24], precision, len(x), evaluation)


# --- 2. the circuit -------------------------------------------------------------------------------


def _tensor_info(graph: Graph, name: str) -> dict:
    t = graph.tensors[name]
    return {"name": name, "shape": list(t.shape), "scale": t.scale, "bits": t.bits}


def check_empty_folder(folder: Path) -> None:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ZkmarketError(
            f"{folder} already exists and is not an empty directory: remove it or choose another output directory"
        )


def compile_model(
    model: QuantizedModel, folder: str | Path, mode: str = "private", step: Callable[[str], None] = lambda name: None
) -> CompiledModel:
    """Build the inference circuit of a quantized model and write its compiled-model folder
    (step 2). The files are written into a temporary folder that is renamed to ``folder`` only
    when complete: on any error or interruption nothing is left behind. ``step`` is told as each
    part starts (a progress bar)."""
    from prover.formats.r1cs import write_r1cs

    folder = Path(folder)
    check_empty_folder(folder)
    graph = model.graph
    check_fits(inference_size(graph, mode), f"the {mode}-mode inference circuit of {model.onnx_path.name}")
    step("build circuit")
    circuit = inference_circuit(graph, mode)
    r1cs = circuit.r1cs
    info = model_info(model)
    info.update(
        mode=mode,
        public_inputs=list(PUBLIC_INPUTS),
        scales={n: {"scale": t.scale, "bits": t.bits, "checked": t.checked} for n, t in graph.tensors.items()},
        constraints=int(r1cs.n_constraints),
        wires=int(r1cs.n_wires),
    )
    step("write files")
    check_empty_folder(folder)

    def write(tmp: Path) -> None:
        write_r1cs(r1cs, tmp / CIRCUIT_R1CS)
        save_graph(graph, tmp)
        write_model_json(tmp, info)

    write_folder(folder, write)
    return CompiledModel(folder, graph, circuit, read_model_json(folder))


def model_info(model: QuantizedModel) -> dict:
    """The fields of model.json that every backend's folder holds (``model_folder.MODEL_FIELDS``),
    and ``accuracy`` when the model was quantized with labelled inputs."""
    from prover.circuit.compile import weight_names

    graph = model.graph
    info = {
        "name": model.onnx_path.stem,
        "source": {"file": model.onnx_path.name, "sha256": sha256_file(model.onnx_path)},
        "model_key": model.key,
        "model_commitment": hex_field(model_commitment(graph)),
        "architecture_hash": hex_bytes32(architecture_hash(graph)),
        "architecture": architecture_spec(graph),
        "precision": asdict(model.precision),
        "calibration_samples": int(model.calibration_samples),
        "input": _tensor_info(graph, graph.input),
        "output": _tensor_info(graph, graph.output),
        "parameters": int(sum(graph.constants[n].values.size for n in weight_names(graph))),
    }
    if model.evaluation is not None:
        x_eval, y_eval, evaluated_on = model.evaluation
        info["accuracy"] = {
            "evaluated_on": evaluated_on,
            "samples": int(len(y_eval)),
            "float": accuracy(model.float_graph, x_eval, y_eval),
            "quantized": accuracy(graph, x_eval, y_eval),
        }
    return info


def write_folder(folder: Path, write: Callable[[Path], None]) -> None:
    """Let ``write`` fill a temporary folder beside ``folder``, then rename it to ``folder``
    (an empty folder there is replaced): on any error or interruption nothing is left behind."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        write(tmp)
        os.chmod(tmp, 0o755)
        os.rename(tmp, folder)  # nothing partial is ever visible under the folder's name
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --- 3. the ceremony ------------------------------------------------------------------------------


# A participant in the ceremony: contributes to a phase-1 ptau and to a phase-2 key, and
# returns the new one (``marketplace.agents.consumer.Consumer`` is one).
class Participant(Protocol):
    name: str

    def contribute_phase1(self, ptau: powersoftau.PowersOfTau, progress: bool = False) -> powersoftau.PowersOfTau: ...

    def contribute_phase2(self, proving_key: ProvingKey, progress: bool = False) -> ProvingKey: ...


def circuit_power(r1cs) -> int:
    """The power of two of the circuit's evaluation domain: the smallest ptau it needs."""
    return qap.domain_size(r1cs.n_constraints, r1cs.n_public).bit_length() - 1


# The demo's INSECURE phase-1 secret: it is in this source file, so anyone can forge proofs for a
# key made from it, whatever phase 2 does (the free public inputs absorb a forged vk_x).
KNOWN_SECRET = {
    "tau": int.from_bytes(hashlib.sha256(b"zkml-market known tau").digest(), "big"),
    "alpha": int.from_bytes(hashlib.sha256(b"zkml-market known alpha").digest(), "big"),
    "beta": int.from_bytes(hashlib.sha256(b"zkml-market known beta").digest(), "big"),
}
PHASE1_MODES = ("ceremony", "known-secret")


def throwaway_ptau(power: int, progress: bool = False):
    """A prepared powers of tau from secrets drawn here and dropped: only this process ever
    knew them. For trying things (``zkmarket model setup`` without --ptau), not for real keys:
    there is no transcript, so no client accepts it."""
    from prover.ceremony.known_secret import known_secret_ptau

    def draw() -> int:
        return secrets.randbelow(FR_MODULUS - 1) + 1

    return known_secret_ptau(max(power, 1), draw(), draw(), draw(), progress=progress)


def phase1_ptau(
    power: int, participants: list[Participant], cache_dir: Path, *, mode: str = "ceremony", progress: bool = True
):
    """A prepared powers of tau of ``power``: in ``ceremony`` mode from a fresh local phase-1
    ceremony with one contribution per participant; in ``known-secret`` mode from the INSECURE
    ``KNOWN_SECRET`` (fast, for demonstrations and tests). Cached per power and participants.
    A ptau file from a public ceremony can be given to ``prepare_model`` instead."""
    if mode == "known-secret":
        from prover.ceremony.known_secret import known_secret_ptau

        path = cache_dir / "ptau" / f"known_secret_{power}.ptau"
        if path.exists():
            return read_ptau(path)
        ptau = known_secret_ptau(power, **{k: v % FR_MODULUS for k, v in KNOWN_SECRET.items()}, progress=progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_ptau(ptau, path)
        return ptau
    if mode != "ceremony":
        raise ValueError(f"phase-1 mode must be one of {PHASE1_MODES}, got {mode!r}")
    if not participants:
        raise SetupError("a phase-1 ceremony needs at least one participant other than the provider")
    names = "+".join(p.name for p in participants)
    path = cache_dir / "ptau" / f"phase1_{power}_{hashlib.sha256(names.encode()).hexdigest()[:12]}.ptau"
    if path.exists():
        return read_ptau(path)
    ptau = powersoftau.new(power)
    for participant in participants:
        ptau = participant.contribute_phase1(ptau, progress=progress)
    prepared = prepare_phase2.prepare_phase2(ptau, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_ptau(prepared, path)
    return prepared


def setup_transcript_hash(ptau, proving_key: ProvingKey) -> bytes:
    """The 32 bytes a model registers as its setup transcript hash
    (``prover.ceremony.verify_setup.setup_transcript_hash``) of a ptau's and a key's
    transcripts. Read from the files, not verified here: every client verifies both
    transcripts and recomputes this (``marketplace.setup.check``)."""
    from prover.ceremony.verify_setup import setup_transcript_hash as transcript_hash

    records = powersoftau.read_contributions(ptau.contributions)
    # a known-secret ptau has no phase-1 transcript: zeros say so (and the clients refuse it
    # unless told to accept an insecure phase 1)
    phase1 = records[-1].next_challenge if records else bytes(64)
    return transcript_hash(phase1, phase2.transcript_hasher(proving_key.mpc_params).digest())


# --- 4. the key -----------------------------------------------------------------------------------


def proving_key(
    r1cs,
    ptau,
    *,
    participants: Sequence[Participant] = (),
    zkey_path: str | Path | None = None,
    how: str = "make it for this circuit",
    progress: bool = False,
    step: Callable[[str], None] = lambda name: None,
) -> ProvingKey:
    """The circuit's Groth16 key: from the prepared ``ptau`` (or the key at ``zkey_path``, that
    others already contributed to, after ``check_key_matches``), then one phase-2 contribution
    per participant. ``step`` is told as each part starts."""
    from prover.groth16.setup import setup

    step("groth16 setup")
    if zkey_path is None:
        pk = setup(r1cs, ptau)  # CircuitError names the power it needs
    else:
        pk = read_zkey(zkey_path)
        check_key_matches(pk, r1cs, zkey_path, how)
    for participant in participants:
        step(f"phase 2: {participant.name}")
        pk = participant.contribute_phase2(pk, progress=progress)
    return pk


def write_key(folder: Path, info: dict, pk: ProvingKey, ptau=None) -> dict:
    """Write the key into a compiled-model folder whose model.json is ``info``: ``circuit.zkey``,
    ``verification_key.json`` and, for a setup a provider publishes, the ptau as ``phase1.ptau``,
    recording the setup in model.json (its transcript hash and the files' digests). Returns
    model.json's new content."""
    from prover.formats.snarkjs_json import write_verification_key

    folder = Path(folder)
    write_zkey(pk, folder / CIRCUIT_ZKEY)
    write_verification_key(pk.verifying_key(), folder / VERIFICATION_KEY)
    info = {k: v for k, v in info.items() if k != "setup"}
    if ptau is not None:
        write_ptau(ptau, folder / PHASE1_PTAU)
        info["setup"] = {
            "setup_transcript_hash": "0x" + setup_transcript_hash(ptau, pk).hex(),
            "files": {name: sha256_file(folder / name) for name in SETUP_FILES},
        }
    write_model_json(folder, info)  # last: the setup section marks a complete setup
    return read_model_json(folder)


@dataclass
class ServedModel:
    """Everything a provider needs to answer requests for one model."""

    graph: Graph
    circuit: InferenceCircuit
    proving_key: ProvingKey
    setup_dir: Path
    card: dict  # the model card (from model.json), published on the channel

    @property
    def model_commitment(self) -> int:
        return int(self.card["model_commitment"], 16)


def _set_up(folder: Path) -> bool:
    """Whether a provider setup folder is complete (model.json records the setup, every file is there)."""
    try:
        info = read_model_json(folder)
    except ModelFolderError:
        return False
    return "setup" in info and all((folder / name).exists() for name in SETUP_FILES)


def prepare_model(
    onnx_path: str | Path,
    *,
    participants: Sequence[Participant] = (),
    ptau_path: str | Path | None = None,
    zkey_path: str | Path | None = None,
    phase1: str = "ceremony",
    calibration: np.ndarray | None = None,
    precision: Precision | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> ServedModel:
    """Compile an ONNX model and run its setup ceremony (steps 1 to 4); every file lands in the
    compiled-model folder ``cache_dir/models/<model key>-<ceremony id>/``, and a second call
    reuses it. The phase-1 ptau is ``ptau_path`` (a prepared file from a public ceremony) or a
    local ceremony among ``participants`` (``phase1="known-secret"``: the INSECURE known-secret
    ptau instead); each participant then contributes to the phase-2 key. ``zkey_path`` is instead
    a key for this circuit and ``ptau_path`` that others already contributed to (``zkmarket
    provider setup``, then ``zkmarket zkey contribute``)."""
    if zkey_path is not None and ptau_path is None:
        raise SetupError("a contributed key (--zkey) needs the powers of tau it was made from (--ptau)")
    cache_dir = Path(cache_dir or default_cache_dir())
    t0 = time.perf_counter()
    names = [p.name for p in participants]
    with tqdm(total=2, desc="compile", unit="step", disable=not progress, leave=False) as bar:
        bar.set_postfix_str("import + quantize")
        model = quantized_graph(onnx_path, calibration, precision)
        bar.update()
        ceremony_id = hashlib.sha256(
            json.dumps(
                [str(ptau_path and sha256_file(ptau_path)), str(zkey_path and sha256_file(zkey_path)), phase1, names]
            ).encode()
        ).hexdigest()[:8]
        setup_dir = cache_dir / "models" / f"{model.key}-{ceremony_id}"
        bar.set_postfix_str("inference circuit")
        reuse = _set_up(setup_dir)
        if reuse or (setup_dir / MODEL_JSON).exists():  # set up, or compiled and the setup interrupted
            try:
                compiled = load_compiled(setup_dir, model.graph)
            except ModelFolderError as exc:
                raise ModelFolderError(
                    f"the cached setup {setup_dir} is damaged ({exc}): remove that folder and run again"
                ) from exc
        else:
            if setup_dir.exists():  # a folder of an interrupted older run: nothing in it is taken
                shutil.rmtree(setup_dir)
            compiled = compile_model(model, setup_dir)
        bar.update()
    circuit = compiled.circuit
    log(
        f"compiled {Path(onnx_path).name}: {circuit.r1cs.n_constraints:,} constraints, "
        f"{circuit.r1cs.n_wires:,} wires ({time.perf_counter() - t0:.1f} s)"
    )
    if reuse:
        log(f"setup reused from {setup_dir}")
        pk = read_zkey(setup_dir / CIRCUIT_ZKEY)
        return ServedModel(compiled.graph, circuit, pk, setup_dir, model_card(compiled.info))
    t0 = time.perf_counter()
    power = circuit_power(circuit.r1cs)
    if ptau_path is not None:
        ptau = read_ptau(ptau_path)
    else:
        if phase1 == "known-secret":
            log(
                f"phase 1: INSECURE known-secret powers of tau 2^{power} (its secret is in the source: "
                f"anyone can forge proofs for this key; use --ptau from a public ceremony for real use)"
            )
        else:
            log(f"phase 1: powers of tau 2^{power} with contributions from {', '.join(names) or 'nobody'}")
        ptau = phase1_ptau(power, list(participants), cache_dir, mode=phase1, progress=progress)
    with step_progress("setup", 1 + len(participants), disable=not progress) as step:
        pk = proving_key(
            circuit.r1cs,
            ptau,
            participants=participants,
            zkey_path=zkey_path,
            how="make it with `zkmarket provider setup` for this model",
            progress=progress,
            step=step,
        )
    info = write_key(setup_dir, compiled.info, pk, ptau)
    log(
        f"setup done: 2^{power} domain, {len(participants)} phase-2 contribution(s) "
        f"({time.perf_counter() - t0:.1f} s) in {setup_dir}"
    )
    return ServedModel(compiled.graph, circuit, pk, setup_dir, model_card(info))


def initial_key(
    onnx_path: str | Path,
    ptau_path: str | Path,
    out: str | Path,
    *,
    calibration: np.ndarray | None = None,
    statement: tuple[str, int] | None = None,
) -> ProvingKey:
    """Write the model's key before any phase-2 contribution (delta = 1: anyone can forge with
    it) for the consumers to contribute to with ``zkmarket zkey contribute``: the inference
    key, or with ``statement=(kind, size)`` that batch statement's (see ``statement_circuit``)."""
    graph = quantized_graph(onnx_path, calibration).graph
    circuit = inference_circuit(graph) if statement is None else statement_circuit(graph, *statement)
    pk = proving_key(circuit.r1cs, read_ptau(ptau_path))
    write_zkey(pk, out)
    return pk


# --- batch statements about the same weights: batched inference, accuracy audits, retrieval ------

STATEMENTS = ("batch", "accuracy", "retrieval")


@dataclass
class StatementKey:
    """The proving key of a batch statement about a served model: ``batch`` inference of ``size``
    requests, ``accuracy`` over ``size`` test samples or ``retrieval`` over a corpus of ``size``
    items (each circuit takes a fixed number), the .zkey file it is kept in, and the prepared
    ptau its phase 1 is (None for the INSECURE known secret). The provider publishes both files
    (``<kind>.zkey``, ``<kind>.ptau``) for the auditors' and requesters' checks
    (``marketplace.setup.check``)."""

    kind: str
    size: int
    proving_key: ProvingKey
    path: Path
    ptau: Path | None = None


def statement_circuit(graph: Graph, kind: str, size: int, progress: bool = False):
    """The batched inference, accuracy or retrieval circuit of ``graph`` for ``size`` requests,
    samples or corpus items, in the private-weights mode of the inference statement (the same
    model commitment)."""
    from prover.circuit.accuracy import accuracy_circuit
    from prover.circuit.retrieval import retrieval_circuit

    if kind not in STATEMENTS:
        raise ValueError(f"statement must be one of {STATEMENTS}, got {kind!r}")
    if size < 1:
        what = {"batch": "request", "accuracy": "sample", "retrieval": "item"}[kind]
        raise SetupError(f"a {kind} statement needs at least one {what}")
    if kind == "batch":
        if size > MAX_BATCH:
            raise SetupError(f"a batch holds at most {MAX_BATCH} requests, got {size}")
        check_fits(inference_size(graph, "private", size), f"the batch statement of {size}")
        return inference_circuit(graph, "private", batch=size)
    build = accuracy_circuit if kind == "accuracy" else retrieval_circuit
    return build(graph, size, show_progress=progress)


def statement_constraints(graph: Graph, kind: str, size: int) -> int:
    """About the constraints of the ``kind`` circuit over ``size`` (within about 1%: only the
    hash tree over the items grows unevenly), extrapolated from the circuits over 1 and 2 (each
    added sample or item costs the same, the weight commitment is paid once), so that a size too
    large to build can be refused before it is built."""
    one, two = (statement_circuit(graph, kind, n).r1cs.n_constraints for n in (1, 2))
    return one + (two - one) * (size - 1)


def prepare_statement(
    model: ServedModel,
    kind: str,
    size: int,
    *,
    participants: Sequence[Participant] = (),
    ptau_path: str | Path | None = None,
    zkey_path: str | Path | None = None,
    phase1: str = "ceremony",
    cache_dir: Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> StatementKey:
    """Set up the key of the ``kind`` statement (see ``statement_circuit``) of a served model,
    as ``prepare_model`` does for inference: from ``ptau_path`` (a prepared ptau of at least the
    circuit's power), a local phase-1 ceremony among ``participants``, or (``phase1=
    "known-secret"``) straight from the INSECURE known secret; then each participant (e.g. the
    auditors who will rely on it) contributes to phase 2. ``zkey_path`` is instead a key for this
    circuit that others already contributed to. Kept beside the model's setup and reused."""
    if phase1 not in PHASE1_MODES:
        raise ValueError(f"phase-1 mode must be one of {PHASE1_MODES}, got {phase1!r}")
    names = [p.name for p in participants]
    # the model's setup folder is keyed by the circuit format (quantized_graph), so a key cached
    # for an older statement circuit is never reused
    ceremony_id = hashlib.sha256(
        json.dumps(
            [
                kind,
                size,
                str(ptau_path and sha256_file(ptau_path)),
                str(zkey_path and sha256_file(zkey_path)),
                phase1,
                names,
            ]
        ).encode()
    ).hexdigest()[:8]
    path = model.setup_dir / f"{kind}_{size}-{ceremony_id}.zkey"
    ceremony_ptau = path.with_suffix(".ptau")  # a local phase-1 ceremony's ptau, published beside the key
    if path.exists():  # written whole or not at all (write_zkey is atomic)
        log(f"{kind} key for {size} reused from {path}")
        ptau_file = Path(ptau_path) if ptau_path is not None else ceremony_ptau if ceremony_ptau.exists() else None
        return StatementKey(kind, size, read_zkey(path, montgomery_points=True), path, ptau_file)
    r1cs = statement_circuit(model.graph, kind, size, progress=progress).r1cs
    power = circuit_power(r1cs)
    log(f"{kind} statement over {size}: {r1cs.n_constraints:,} constraints, a 2^{power} domain")
    t0 = time.perf_counter()
    how = "make it for this statement"
    if zkey_path is not None or ptau_path is not None:
        ptau = read_ptau(ptau_path) if zkey_path is None and ptau_path is not None else None
        pk = proving_key(r1cs, ptau, participants=participants, zkey_path=zkey_path, how=how, progress=progress)
    elif phase1 == "known-secret":
        from prover.ceremony.known_secret import known_secret_setup

        log(
            f"phase 1: INSECURE known secret (in the source: anyone can forge {kind} proofs for this key; "
            f"give a ptau of power >= {power} from a public ceremony for real use)"
        )
        pk = known_secret_setup(r1cs, **KNOWN_SECRET, progress=progress)
        for participant in participants:
            pk = participant.contribute_phase2(pk, progress=progress)
    else:
        log(f"phase 1: powers of tau 2^{power} with contributions from {', '.join(names) or 'nobody'}")
        ptau = phase1_ptau(power, list(participants), cache_dir or default_cache_dir(), progress=progress)
        write_ptau(ptau, ceremony_ptau)
        pk = proving_key(r1cs, ptau, participants=participants, how=how, progress=progress)
    write_zkey(pk, path)
    log(f"{kind} key ready: {len(participants)} phase-2 contribution(s) ({time.perf_counter() - t0:.1f} s) in {path}")
    ptau_file = Path(ptau_path) if ptau_path is not None else ceremony_ptau if ceremony_ptau.exists() else None
    return StatementKey(kind, size, pk, path, ptau_file)


def published_statements(keys) -> tuple[dict[str, Path], dict]:
    """What a provider publishes of its statement keys: ``({file name: path}, card entry)``, the
    card entry ``{kind: {"size": n, "files": {file name: SHA-256}, "sizes": {file name: bytes}}}``
    with the files ``<kind>.zkey`` and, unless the phase 1 is the known secret, ``<kind>.ptau``."""
    files, card = {}, {}
    for key in keys:
        mine = {f"{key.kind}.zkey": Path(key.path)}
        if key.ptau is not None:
            mine[f"{key.kind}.ptau"] = Path(key.ptau)
        files.update(mine)
        card[key.kind] = {
            "size": key.size,
            "files": {n: sha256_file(p) for n, p in mine.items()},
            "sizes": {n: p.stat().st_size for n, p in mine.items()},
        }
    return files, card
