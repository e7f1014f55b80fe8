"""The provider agent: register a model, then answer every request for it with a proof.

``prepare_model`` turns an ONNX file into what the provider serves: the quantized graph
(``prover.onnx``), the inference circuit (``prover.circuit.statements``) and its setup files in
a folder keyed by the model's hash (``circuit.r1cs``, ``phase1.ptau``, ``circuit.zkey``,
``model.json``). The setup is a ceremony (``prover.ceremony``): the phase-1 powers of tau and
the phase-2 key carry contributions from parties other than the provider (``participants``),
whom the consumers can check for in the transcripts (see ``marketplace.consumer``).

``Provider.register`` deploys the key's verifier and registers the model (commitment, price,
setup transcript hash, and the channel endpoint as metadata URI). ``Provider.serve_once`` is one
round of the serve loop: read new ``RequestOpened`` events for the model, prove and fulfil every
request whose input arrived (``marketplace.channel``) and matches its commitment, and mark the
ones past their deadline. Everything it learns goes to its ``ProviderStore`` first, so a
provider killed at any point and started again resumes every pending request.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from tqdm import tqdm

from marketplace import channel
from marketplace.audit import ChallengeStatus, answer_challenge
from marketplace.chain import latest_timestamp
from marketplace.contracts import ContractRevert, Market, Status, deploy_verifier
from marketplace.retrieval import answer_request
from marketplace.store import (EXPIRED, FULFILLED, RECEIVED, WAITING, ProviderState, ProviderStore,
                               RequestState, default_cache_dir, read_json, write_json)
from prover.ceremony import phase2, powersoftau, prepare_phase2
from prover.circuit.statements import InferenceCircuit, inference_circuit, input_commitment
from prover.errors import CircuitError, FormatError, ZkmarketError
from prover.formats import read_ptau, read_zkey, write_ptau, write_r1cs, write_zkey
from prover.groth16 import qap
from prover.groth16.keys import ProvingKey
from prover.groth16.prove import prove
from prover.onnx.graph import Graph, InputShapeError
from prover.onnx.importer import import_model
from prover.onnx.quantize import Precision, quantize

SETUP_FILES = ("circuit.r1cs", "phase1.ptau", "circuit.zkey")
# requests are read from the chain in block ranges of this size (nodes cap log queries)
LOG_RANGE = 2_000


class ProviderError(ZkmarketError):
    """The provider cannot register or serve (a state from another deployment, no model)."""


# --- the model and its setup ---------------------------------------------------------------------

def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def bundled_calibration(onnx_path: Path) -> tuple[np.ndarray, Precision] | None:
    """For one of the bundled example models (``marketplace.models``), recognised by content:
    its calibration data (the digits training split, shaped for it) and its precision."""
    from marketplace.models import digits_split, example_models, model_inputs

    digest = sha256_file(onnx_path)
    for model in example_models().values():
        if sha256_file(model.path) == digest:
            try:
                return model_inputs(model.input_shape, digits_split()[0]), model.precision
            except ImportError as exc:  # the digits data ships with scikit-learn
                raise ProviderError("the bundled models calibrate on scikit-learn's digits: install scikit-learn "
                                    "(`pip install -e '.[test]'`) or give --calibration") from exc
    return None


def quantized_graph(onnx_path: str | Path, calibration: np.ndarray | None = None,
                    precision: Precision | None = None) -> tuple[Graph, str]:
    """Import and quantize an ONNX model; returns the graph and the model key (SHA-256 of the
    circuit format, the ONNX bytes, the precision and the calibration data) that names its
    cached setup.
    Raises FormatError for a missing or corrupt file, and asks for calibration data when the
    model is not a bundled one."""
    onnx_path = Path(onnx_path)
    float_graph = import_model(onnx_path)  # FormatError / UnsupportedModelError first
    if calibration is None:
        bundled = bundled_calibration(onnx_path)
        if bundled is None:
            raise FormatError(f"{onnx_path} is not a bundled example model: give calibration inputs "
                              f"(--calibration FILE.npy, a batch of typical real inputs)")
        calibration, bundled_precision = bundled
        precision = precision or bundled_precision
    precision = precision or Precision()
    calibration = np.asarray(calibration, dtype=np.float64)
    if calibration.shape[1:] != float_graph.input_tensor.shape:
        raise InputShapeError(f"calibration inputs have per-sample shape {calibration.shape[1:]}, the model "
                              f"expects {float_graph.input_tensor.shape}")
    from prover.circuit.statements import CIRCUIT_FORMAT

    key = hashlib.sha256()
    key.update(f"circuit format {CIRCUIT_FORMAT}".encode())  # a new format never reuses an old setup
    key.update(onnx_path.read_bytes())
    key.update(json.dumps([precision.act_bits, precision.weight_bits, precision.headroom_bits]).encode())
    key.update(np.ascontiguousarray(calibration).tobytes())
    return quantize(float_graph, calibration, precision), key.hexdigest()[:24]


@dataclass
class ServedModel:
    """Everything a provider needs to answer requests for one model."""

    graph: Graph
    circuit: InferenceCircuit
    proving_key: ProvingKey
    setup_dir: Path
    card: dict  # the model card (model.json), published on the channel

    @property
    def model_commitment(self) -> int:
        return int(self.card["model_commitment"], 16)


# A participant in the ceremony: contributes to a phase-1 ptau and to a phase-2 key, and
# returns the new one (``marketplace.consumer.Consumer`` is one).
class Participant:
    name: str

    def contribute_phase1(self, ptau, progress: bool = False): ...

    def contribute_phase2(self, proving_key: ProvingKey, progress: bool = False) -> ProvingKey: ...


def setup_transcript_hash(ptau, proving_key: ProvingKey) -> bytes:
    """The 32 bytes a model registers as its setup transcript hash: SHA-256 of the phase-1
    transcript's last challenge and the phase-2 transcript hash (both BLAKE2b-512), which
    commit to every contribution of each phase. Read from the files, not verified here: the
    consumer verifies both transcripts and recomputes this."""
    records = powersoftau.read_contributions(ptau.contributions)
    # a known-secret ptau has no phase-1 transcript: zeros say so (and the consumer refuses it
    # unless told to accept an insecure phase 1)
    phase1 = records[-1].next_challenge if records else bytes(64)
    return hashlib.sha256(phase1 + phase2.transcript_hasher(proving_key.mpc_params).digest()).digest()


def circuit_power(circuit: InferenceCircuit) -> int:
    r1cs = circuit.r1cs
    return qap.domain_size(r1cs.n_constraints, r1cs.n_public).bit_length() - 1


# The demo's INSECURE phase-1 secret: it is in this source file, so anyone can forge proofs for a
# key made from it, whatever phase 2 does (the free public inputs absorb a forged vk_x).
KNOWN_SECRET = {"tau": int.from_bytes(hashlib.sha256(b"zkml-market known tau").digest(), "big"),
                "alpha": int.from_bytes(hashlib.sha256(b"zkml-market known alpha").digest(), "big"),
                "beta": int.from_bytes(hashlib.sha256(b"zkml-market known beta").digest(), "big")}
PHASE1_MODES = ("ceremony", "known-secret")


def phase1_ptau(power: int, participants: list[Participant], cache_dir: Path, *,
                mode: str = "ceremony", progress: bool = True):
    """A prepared powers of tau of ``power``: in ``ceremony`` mode from a fresh local phase-1
    ceremony with one contribution per participant; in ``known-secret`` mode from the INSECURE
    ``KNOWN_SECRET`` (fast, for demonstrations and tests). Cached per power and participants.
    A ptau file from a public ceremony can be given to ``prepare_model`` instead."""
    if mode == "known-secret":
        from prover.ceremony.known_secret import known_secret_ptau
        from prover.field import FR_MODULUS

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
        raise ProviderError("a phase-1 ceremony needs at least one participant other than the provider")
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


def prepare_model(onnx_path: str | Path, *, participants: list[Participant] = (), ptau_path: str | Path | None = None,
                  zkey_path: str | Path | None = None, phase1: str = "ceremony", calibration: np.ndarray | None = None, precision: Precision | None = None,
                  cache_dir: Path | None = None, progress: bool = True, log: Callable[[str], None] = print
                  ) -> ServedModel:
    """Compile an ONNX model and run its setup ceremony (see the module docstring); every file
    lands in ``cache_dir/models/<model key>/``, and a second call reuses them. The phase-1
    ptau is ``ptau_path`` (a prepared file from a public ceremony) or a local ceremony among
    ``participants`` (``phase1="known-secret"``: the INSECURE known-secret ptau instead); each
    participant then contributes to the phase-2 key. ``zkey_path`` is instead a key for this
    circuit and ``ptau_path`` that others already contributed to (``zkmarket provider setup``,
    then ``zkmarket zkey contribute``)."""
    if zkey_path is not None and ptau_path is None:
        raise ProviderError("a contributed key (--zkey) needs the powers of tau it was made from (--ptau)")
    cache_dir = Path(cache_dir or default_cache_dir())
    t0 = time.perf_counter()
    with tqdm(total=2, desc="compile", unit="step", disable=not progress, leave=False) as bar:
        bar.set_postfix_str("import + quantize")
        graph, key = quantized_graph(onnx_path, calibration, precision)
        bar.update()
        bar.set_postfix_str("inference circuit")
        circuit = inference_circuit(graph)
        bar.update()
    log(f"compiled {Path(onnx_path).name}: {circuit.r1cs.n_constraints:,} constraints, "
        f"{circuit.r1cs.n_wires:,} wires ({time.perf_counter() - t0:.1f} s)")

    names = [p.name for p in participants]
    ceremony_id = hashlib.sha256(json.dumps([str(ptau_path and sha256_file(ptau_path)), str(zkey_path and sha256_file(zkey_path)), phase1,
                                          names]).encode()).hexdigest()[:8]
    setup_dir = cache_dir / "models" / f"{key}-{ceremony_id}"
    card_path = setup_dir / "model.json"
    if card_path.exists() and all((setup_dir / f).exists() for f in SETUP_FILES):
        card = read_json(card_path)
        pk = read_zkey(setup_dir / "circuit.zkey")
        log(f"setup reused from {setup_dir}")
        return ServedModel(graph, circuit, pk, setup_dir, card)

    setup_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    power = circuit_power(circuit)
    if ptau_path is not None:
        ptau = read_ptau(ptau_path)
    else:
        if phase1 == "known-secret":
            log(f"phase 1: INSECURE known-secret powers of tau 2^{power} (its secret is in the source: "
                f"anyone can forge proofs for this key; use --ptau from a public ceremony for real use)")
        else:
            log(f"phase 1: powers of tau 2^{power} with contributions from {', '.join(names) or 'nobody'}")
        ptau = phase1_ptau(power, list(participants), cache_dir, mode=phase1, progress=progress)
    from prover.groth16.setup import setup

    with tqdm(total=1 + len(participants), desc="setup", unit="step", disable=not progress, leave=False) as bar:
        bar.set_postfix_str("groth16 setup")
        pk = setup(circuit.r1cs, ptau) if zkey_path is None else read_zkey(zkey_path)
        if (pk.n_vars, pk.n_public) != (circuit.r1cs.n_wires, circuit.r1cs.n_public):
            raise CircuitError(f"{zkey_path} is a key for another circuit ({pk.n_vars} wires, this one has "
                               f"{circuit.r1cs.n_wires}): make it with `zkmarket provider setup` for this model")
        bar.update()
        for participant in participants:
            bar.set_postfix_str(f"phase 2: {participant.name}")
            pk = participant.contribute_phase2(pk, progress=progress)
            bar.update()
    from prover.circuit.statements import architecture_hash, model_commitment

    write_r1cs(circuit.r1cs, setup_dir / "circuit.r1cs")
    write_ptau(ptau, setup_dir / "phase1.ptau")
    write_zkey(pk, setup_dir / "circuit.zkey")
    tensor = graph.input_tensor
    card = {
        "name": Path(onnx_path).stem,
        "model_key": key,
        "model_commitment": hex(model_commitment(graph)),
        "architecture_hash": "0x" + architecture_hash(graph).to_bytes(32, "big").hex(),
        "input": {"shape": list(tensor.shape), "scale": tensor.scale, "bits": tensor.bits},
        "output": {"shape": list(graph.output_tensor.shape), "scale": graph.output_tensor.scale},
        "constraints": circuit.r1cs.n_constraints,
        "setup_transcript_hash": "0x" + setup_transcript_hash(ptau, pk).hex(),
        "files": {name: sha256_file(setup_dir / name) for name in SETUP_FILES},
    }
    write_json(card_path, card)  # last: its presence marks a complete setup folder
    log(f"setup done: 2^{power} domain, {len(participants)} phase-2 contribution(s) "
        f"({time.perf_counter() - t0:.1f} s) in {setup_dir}")
    return ServedModel(graph, circuit, pk, setup_dir, card)


def initial_key(onnx_path: str | Path, ptau_path: str | Path, out: str | Path, *,
                calibration: np.ndarray | None = None, statement: tuple[str, int] | None = None) -> ProvingKey:
    """Write the model's key before any phase-2 contribution (delta = 1: anyone can forge with
    it) for the consumers to contribute to with ``zkmarket zkey contribute``: the inference
    key, or with ``statement=(kind, size)`` that batch statement's (see ``statement_circuit``)."""
    from prover.groth16.setup import setup

    graph, _ = quantized_graph(onnx_path, calibration)
    circuit = inference_circuit(graph) if statement is None else statement_circuit(graph, *statement)
    pk = setup(circuit.r1cs, read_ptau(ptau_path))
    write_zkey(pk, out)
    return pk


# --- batch statements about the same weights: accuracy audits and retrieval ----------------------

STATEMENTS = ("accuracy", "retrieval")


@dataclass
class StatementKey:
    """The proving key of a batch statement about a served model: ``accuracy`` over ``size``
    test samples or ``retrieval`` over a corpus of ``size`` items (each circuit takes a fixed
    number), and the .zkey file it is kept in."""

    kind: str
    size: int
    proving_key: ProvingKey
    path: Path


def statement_circuit(graph: Graph, kind: str, size: int, progress: bool = False):
    """The accuracy or retrieval circuit of ``graph`` for ``size`` samples or corpus items, in
    the private-weights mode of the inference statement (the same model commitment)."""
    from prover.circuit.accuracy import accuracy_circuit
    from prover.circuit.retrieval import retrieval_circuit

    if kind not in STATEMENTS:
        raise ValueError(f"statement must be one of {STATEMENTS}, got {kind!r}")
    if size < 1:
        raise ProviderError(f"an {kind} statement needs at least one {'sample' if kind == 'accuracy' else 'item'}")
    build = accuracy_circuit if kind == "accuracy" else retrieval_circuit
    return build(graph, size, show_progress=progress)


def statement_constraints(graph: Graph, kind: str, size: int) -> int:
    """About the constraints of the ``kind`` circuit over ``size`` (within about 1%: only the
    hash tree over the items grows unevenly), extrapolated from the circuits over 1 and 2 (each
    added sample or item costs the same, the weight commitment is paid once), so that a size too
    large to build can be refused before it is built."""
    one, two = (statement_circuit(graph, kind, n).r1cs.n_constraints for n in (1, 2))
    return one + (two - one) * (size - 1)


def prepare_statement(model: ServedModel, kind: str, size: int, *, participants: list[Participant] = (),
                      ptau_path: str | Path | None = None, zkey_path: str | Path | None = None,
                      phase1: str = "ceremony", cache_dir: Path | None = None, progress: bool = True,
                      log: Callable[[str], None] = print) -> StatementKey:
    """Set up the key of the ``kind`` statement (see ``statement_circuit``) of a served model,
    as ``prepare_model`` does for inference: from ``ptau_path`` (a prepared ptau of at least the
    circuit's power), a local phase-1 ceremony among ``participants``, or (``phase1=
    "known-secret"``) straight from the INSECURE known secret; then each participant (e.g. the
    auditors who will rely on it) contributes to phase 2. ``zkey_path`` is instead a key for this
    circuit that others already contributed to. Kept beside the model's setup and reused."""
    if phase1 not in PHASE1_MODES:
        raise ValueError(f"phase-1 mode must be one of {PHASE1_MODES}, got {phase1!r}")
    names = [p.name for p in participants]
    ceremony_id = hashlib.sha256(json.dumps([kind, size, str(ptau_path and sha256_file(ptau_path)),
                                             str(zkey_path and sha256_file(zkey_path)), phase1, names]
                                            ).encode()).hexdigest()[:8]
    path = model.setup_dir / f"{kind}_{size}-{ceremony_id}.zkey"
    if path.exists():  # written whole or not at all (write_zkey is atomic)
        log(f"{kind} key for {size} reused from {path}")
        return StatementKey(kind, size, read_zkey(path), path)
    r1cs = statement_circuit(model.graph, kind, size, progress=progress).r1cs
    power = qap.domain_size(r1cs.n_constraints, r1cs.n_public).bit_length() - 1
    log(f"{kind} statement over {size}: {r1cs.n_constraints:,} constraints, a 2^{power} domain")
    t0 = time.perf_counter()
    from prover.groth16.setup import setup

    if zkey_path is not None:
        pk = read_zkey(zkey_path)
    elif ptau_path is not None:
        pk = setup(r1cs, read_ptau(ptau_path))  # CircuitError names the power it needs
    elif phase1 == "known-secret":
        from prover.ceremony.known_secret import known_secret_setup

        log(f"phase 1: INSECURE known secret (in the source: anyone can forge {kind} proofs for this key; "
            f"give a ptau of power >= {power} from a public ceremony for real use)")
        pk = known_secret_setup(r1cs, **KNOWN_SECRET, progress=progress)
    else:
        log(f"phase 1: powers of tau 2^{power} with contributions from {', '.join(names) or 'nobody'}")
        pk = setup(r1cs, phase1_ptau(power, list(participants), cache_dir or default_cache_dir(), progress=progress))
    if (pk.n_vars, pk.n_public) != (r1cs.n_wires, r1cs.n_public):
        raise CircuitError(f"{zkey_path} is a key for another circuit ({pk.n_vars} wires; the {kind} circuit over "
                           f"{size} has {r1cs.n_wires}): make it for this statement")
    for participant in participants:
        pk = participant.contribute_phase2(pk, progress=progress)
    write_zkey(pk, path)
    log(f"{kind} key ready: {len(participants)} phase-2 contribution(s) ({time.perf_counter() - t0:.1f} s) in {path}")
    return StatementKey(kind, size, pk, path)


# --- the agent -----------------------------------------------------------------------------------

@dataclass
class Answer:
    """One fulfilled request, as the provider saw it."""

    request_id: int
    label: int
    proof_seconds: float
    gas_used: int


class Provider:
    """A provider account serving one registered model on one marketplace (see module doc)."""

    def __init__(self, market: Market, account: str, model: ServedModel, store: ProviderStore, *,
                 statements: Sequence[StatementKey] = (), log: Callable[[str], None] = print,
                 progress: bool = True):
        self.market = market
        self.statements = {key.kind: key for key in statements}
        self.w3 = market.w3
        self.account = account
        self.model = model
        self.store = store
        self.log = log
        self.progress = progress
        self.endpoint: str | None = None
        self._server: channel.ChannelServer | None = None
        self._chain_lock = threading.Lock()  # the channel thread and the serve loop share web3
        saved = store.load()
        chain_id = int(self.w3.eth.chain_id)
        if saved is None:
            saved = ProviderState(chain_id, market.marketplace.address, account)
            store.save(saved)
        elif (saved.chain_id, saved.marketplace, saved.account) != (chain_id, market.marketplace.address, account):
            raise ProviderError(f"the state in {store.root} belongs to marketplace {saved.marketplace} on chain "
                                f"{saved.chain_id} (account {saved.account}): use another --state directory")
        elif saved.model_commitment is not None and saved.model_commitment != model.model_commitment:
            raise ProviderError(f"the state in {store.root} serves another model (commitment "
                                f"{hex(saved.model_commitment)}): use another --state directory")
        self.state = saved

    @property
    def model_id(self) -> int | None:
        return self.state.model_id

    # channel

    def open_channel(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start the input channel's HTTP endpoint; returns its URL."""
        handlers = channel.Handlers()
        handlers.card = self._card
        handlers.setup_file = self._setup_file
        handlers.accept_input = self.accept_input
        handlers.result = self._result
        self._server = channel.ChannelServer(handlers, host, port)
        self.endpoint = self._server.url
        return self.endpoint

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def _card(self):
        return 200, {**self.model.card, "model_id": self.model_id, "provider": self.account}

    def _setup_file(self, name: str):
        if name not in SETUP_FILES:
            return 404, {"error": f"no setup file {name}; the files are {', '.join(SETUP_FILES)}"}
        return 200, (self.model.setup_dir / name).read_bytes()

    def _result(self, request_id: int):
        record = self.store.request(request_id)
        if record is None or record.state != FULFILLED:
            return 404, {"error": f"request {request_id} has no answer yet"}
        return 200, {"request_id": request_id, "label": record.label, "logits": record.logits,
                     "output_commitment": hex(record.output_commitment)}

    def accept_input(self, body: dict):
        """The channel's POST /input: keep the input if the request is open, for this model,
        not past its deadline, and the input and salt commit to the on-chain commitment;
        otherwise refuse it (409) and never prove it."""
        try:
            request_id, values, salt = channel.parse_input_message(body)
        except ValueError as exc:
            return 400, {"error": str(exc)}
        with self._chain_lock:
            try:
                onchain = self.market.request(request_id)
            except ContractRevert:
                return 404, {"error": f"request {request_id} does not exist on the marketplace"}
            now = latest_timestamp(self.w3)
        if onchain.model_id != self.model_id:
            return 409, {"error": f"request {request_id} is for model {onchain.model_id}, this endpoint serves "
                                  f"model {self.model_id}"}
        if onchain.status != Status.OPEN:
            return 409, {"error": f"request {request_id} is {onchain.status.name.lower()}, not open"}
        if now >= onchain.deadline:
            return 409, {"error": f"request {request_id} is past its deadline"}
        tensor = self.model.graph.input_tensor
        if len(values) != tensor.size:
            return 409, {"error": f"the input has {len(values)} values, the model takes {tensor.size} "
                                  f"(shape {tensor.shape})"}
        lo, hi = -(1 << (tensor.bits - 1)), (1 << (tensor.bits - 1)) - 1
        if min(values) < lo or max(values) > hi:
            return 409, {"error": f"input values must lie in [{lo}, {hi}] (the model's {tensor.bits}-bit input)"}
        x = np.array(values, dtype=np.int64).reshape(tensor.shape)
        if input_commitment(self.model.graph, x, salt) != onchain.input_commitment:
            self.log(f"request {request_id}: refused an input that does not match its commitment")
            return 409, {"error": "the input and salt do not match the request's on-chain input commitment"}
        record = self.store.request(request_id) or RequestState(request_id)
        if record.state in (FULFILLED, EXPIRED):
            return 409, {"error": f"request {request_id} is already {record.state}"}
        record.state, record.input, record.salt = RECEIVED, values, salt
        record.input_commitment, record.deadline = onchain.input_commitment, onchain.deadline
        self.store.put(record)  # on disk before the consumer hears "accepted"
        return 202, {"status": "accepted", "request_id": request_id}

    # chain

    def register(self, price: int, metadata_uri: str | None = None) -> int:
        """Deploy the model's verifier and register the model with ``price`` wei per prediction
        (the channel endpoint as metadata URI). Idempotent: a registered model keeps its id."""
        if self.state.model_id is not None:
            return self.state.model_id
        if metadata_uri is None:
            if self.endpoint is None:
                raise ProviderError("open the channel (open_channel) or give the endpoint URL before registering")
            metadata_uri = self.endpoint
        card = self.model.card
        with self._chain_lock:
            verifier, receipt = deploy_verifier(self.w3, self.model.proving_key.verifying_key(), self.account)
            self.log(f"verifier deployed at {verifier.address} ({receipt['gasUsed']:,} gas)")
            statement_verifiers = {}
            for kind, key in self.statements.items():
                contract, receipt = deploy_verifier(self.w3, key.proving_key.verifying_key(), self.account)
                statement_verifiers[kind] = contract.address
                self.log(f"{kind} verifier ({key.size}) deployed at {contract.address} ({receipt['gasUsed']:,} gas)")
            model_id = self.market.register_model(
                self.account, self.model.model_commitment, verifier.address, price,
                architecture_hash=bytes.fromhex(card["architecture_hash"][2:]),
                transcript_hash=bytes.fromhex(card["setup_transcript_hash"][2:]), metadata_uri=metadata_uri,
                accuracy_verifier=statement_verifiers.get("accuracy"),
                retrieval_verifier=statement_verifiers.get("retrieval"))
            self.state.last_block = int(self.market.last_receipt["blockNumber"])
        self.state.statements = {kind: {"size": key.size, "zkey": str(key.path), "verifier": statement_verifiers[kind]}
                                 for kind, key in self.statements.items()}
        self.state.model_id = model_id
        self.state.model_commitment = self.model.model_commitment
        self.state.setup_dir = str(self.model.setup_dir)
        self.store.save(self.state)
        self.log(f"model {model_id} registered at {price} wei per prediction")
        return model_id

    def poll_requests(self) -> list[int]:
        """Read new RequestOpened events for the model; record each new request as waiting for
        its input. Returns the ids seen."""
        if self.model_id is None:
            raise ProviderError("register the model first (`zkmarket provider register`)")
        seen = []
        with self._chain_lock:
            head = int(self.w3.eth.block_number)
            start = self.state.last_block + 1
            while start <= head:
                end = min(head, start + LOG_RANGE - 1)
                events = self.market.marketplace.events.RequestOpened().get_logs(
                    from_block=start, to_block=end, argument_filters={"modelId": self.model_id})
                for event in events:
                    args = event["args"]
                    request_id = int(args["requestId"])
                    if self.store.request(request_id) is None:
                        self.store.put(RequestState(request_id, WAITING, int(args["inputCommitment"]),
                                                    int(args["deadline"])))
                    seen.append(request_id)
                start = end + 1
            self.state.last_block = head
        self.store.save(self.state)
        return seen

    def answer(self, record: RequestState) -> Answer | None:
        """Prove and fulfil one request whose input was received. Returns None when the
        request is no longer open (fulfilled elsewhere, refunded, past its deadline)."""
        graph = self.model.graph
        x = np.array(record.input, dtype=np.int64).reshape(graph.input_tensor.shape)
        t0 = time.perf_counter()
        result = self.model.circuit.witness(x, record.salt)
        proof, public = prove(self.model.proving_key, result.witness, progress=self.progress)
        seconds = time.perf_counter() - t0
        label, output_commitment = int(public[2]), int(public[3])
        with self._chain_lock:
            onchain = self.market.request(record.request_id)
            if onchain.status != Status.OPEN or latest_timestamp(self.w3) >= onchain.deadline:
                return None
            try:
                self.market.fulfil(self.account, record.request_id, proof, label, output_commitment)
            except ContractRevert as exc:
                if exc.error in ("RequestNotOpen", "DeadlinePassed"):
                    return None
                raise
            gas = int(self.market.last_receipt["gasUsed"])
        record.state, record.label = FULFILLED, label
        record.logits = [int(v) for v in np.asarray(result.logits).ravel()]
        record.output_commitment, record.proof_seconds, record.gas_used = output_commitment, seconds, gas
        self.store.put(record)
        self.log(f"request {record.request_id}: label {label}, proved in {seconds:.1f} s, fulfilled ({gas:,} gas)")
        return Answer(record.request_id, label, seconds, gas)

    def serve_once(self) -> list[Answer]:
        """One round of the serve loop (see the module docstring). Returns what it answered."""
        self.poll_requests()
        answers = []
        for record in self.store.requests(RECEIVED):
            try:
                answer = self.answer(record)
            except ZkmarketError as exc:  # e.g. the node hiccuped: the request stays received, retried next round
                self.log(f"request {record.request_id}: not answered this round: {exc}")
                continue
            if answer is None:
                self._close_unanswerable(record)
            else:
                answers.append(answer)
        with self._chain_lock:
            now = latest_timestamp(self.w3)
        for record in self.store.requests(WAITING):
            if now >= record.deadline:
                self._close_unanswerable(record)
        return answers

    def _close_unanswerable(self, record: RequestState) -> None:
        record.state = EXPIRED
        self.store.put(record)
        self.log(f"request {record.request_id}: no longer open, not answered")

    def serve(self, poll_seconds: float = 1.0, stop: Callable[[], bool] = lambda: False) -> None:
        """Serve until ``stop()`` is true (or forever): resume what the store holds, then poll."""
        pending = self.store.requests(RECEIVED)
        if pending:
            self.log(f"resuming {len(pending)} request(s) with inputs: {[r.request_id for r in pending]}")
        while not stop():
            self.serve_once()
            time.sleep(poll_seconds)

    # accuracy audits and retrieval (contracts/statements)

    def _statement(self, kind: str, size: int, model_id: int, what: str) -> StatementKey:
        """The key to answer ``what`` (about ``model_id``, over ``size``) with, or why there is none."""
        if self.model_id is None:
            raise ProviderError("register the model first (`zkmarket provider register`)")
        if model_id != self.model_id:
            raise ProviderError(f"{what} is about model {model_id}, not this provider's model {self.model_id}")
        key = self.statements.get(kind)
        if key is None:
            flag = "--accuracy-samples" if kind == "accuracy" else "--retrieval-items"
            raise ProviderError(f"this model was registered without an {kind} statement: register it with {flag}")
        if key.size != size:
            raise ProviderError(f"the registered {kind} statement is over {key.size}, this one over {size}: "
                                f"its verifier would refuse the proof")
        return key

    def stake(self, audit, claim_bps: int, bond: int) -> None:
        """State the model's claimed accuracy (basis points) on ``audit`` (a
        ``marketplace.audit.Audit``) and stake ``bond`` wei on it."""
        if self.model_id is None:
            raise ProviderError("register the model first (`zkmarket provider register`)")
        with self._chain_lock:
            audit.stake(self.account, self.model_id, claim_bps, bond)
        self.log(f"model {self.model_id}: claims {claim_bps / 100:.2f}% accuracy, {bond} wei staked")

    def answer_audit(self, audit, challenge_id: int, test_set_path) -> ChallengeStatus:
        """Answer an accuracy challenge from the auditor's test-set file (see
        ``marketplace.audit.answer_challenge``); returns PASSED or FAILED."""
        with self._chain_lock:
            record = audit.status(challenge_id)
        key = self._statement("accuracy", record.samples, record.model_id, f"challenge {challenge_id}")
        t0 = time.perf_counter()
        with self._chain_lock:
            outcome = answer_challenge(audit, self.account, challenge_id, self.model.graph, key.proving_key,
                                       test_set_path, progress=self.progress)
            correct = audit.status(challenge_id).correct
        self.log(f"challenge {challenge_id}: proved {correct}/{record.samples} correct, "
                 f"{outcome.name.lower()} ({time.perf_counter() - t0:.1f} s)")
        return outcome

    def answer_retrieval(self, retrieval, request_id: int, corpus_path, delivery_path) -> list[int]:
        """Answer a retrieval request from the corpus file (see
        ``marketplace.retrieval.answer_request``); returns the delivered corpus positions."""
        with self._chain_lock:
            record = retrieval.request_of(request_id)
            corpus = retrieval.corpus(record.corpus_id)
        key = self._statement("retrieval", corpus.size, record.model_id, f"retrieval request {request_id}")
        t0 = time.perf_counter()
        with self._chain_lock:
            positions = answer_request(retrieval, self.account, request_id, self.model.graph, key.proving_key,
                                       corpus_path, delivery_path, progress=self.progress)
        self.log(f"retrieval request {request_id}: {len(positions)} of {corpus.size} items are class "
                 f"{record.requested_class}, proved and fulfilled ({time.perf_counter() - t0:.1f} s)")
        return positions

    def withdraw(self) -> int:
        """Withdraw the provider's earnings (0 when nothing is owed)."""
        with self._chain_lock:
            if self.market.owed(self.account) == 0:
                return 0
            return self.market.withdraw(self.account)
