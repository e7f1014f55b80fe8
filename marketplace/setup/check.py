"""The client's check of a model's setup before it pays anything: one check for every statement a
client relies on (the consumer's inference, the auditor's accuracy, the requester's retrieval).

A provider publishes, on its channel (``marketplace.channel``), a model card with the
weights-free architecture spec (``card["architecture"]``, see
``prover.circuit.statements.architecture_spec``) and the setup files of each statement it
registered a verifier for: for inference ``circuit.r1cs``, ``phase1.ptau`` and ``circuit.zkey``
(``card["files"]``, SHA-256 digests); for a batch statement ``<kind>.zkey`` and, when its phase 1
is a ptau, ``<kind>.ptau`` (``card["statements"][kind]``, with the size its circuit is for).
``check_statement_setup`` then checks all of the following, and raises ``VerificationError``
naming the first that fails:

1. the architecture spec hashes to the architecture hash registered on-chain (the hash that the
   model commitment's preimage starts with, and that every statement circuit pins as a constant);
2. the statement's circuit rebuilt from that spec with placeholder weights (in private mode a
   circuit depends only on the architecture: ``inference_circuit`` or, for ``kind`` and ``size``,
   ``marketplace.setup.pipeline.statement_circuit``) is the provider's: byte for byte against a
   published ``circuit.r1cs``, and in every case the key is verified against the rebuilt circuit,
   never against the provider's;
3. the ceremony transcripts verify against that circuit (``powersoftau_verify``,
   ``phase2_verify``) and each phase holds a contribution the client trusts (its own, by
   default); ``insecure_phase1`` accepts a phase 1 without a transcript (a known-secret one:
   demonstrations only), and for a batch statement without a published ptau it takes the
   KNOWN secret of ``marketplace.setup.pipeline`` as the phase 1 the key was made from;
4. for inference, the registered setup transcript hash is the hash of the two transcripts;
5. the registered verifier contract's code is exactly what the Groth16Verifier constructor makes
   of the checked key (the constructor run as a call: its immutables are the key).
   A statement with many public inputs (the batched inference statement) has a
   Groth16BatchVerifier instead, whose key is the code of a data contract it created:
   ``check_batch_verifier_code`` compares its code with the shipped one outside the
   immutables, and the data contract's code with the checked key's.

Without these a provider could register a verifier of any circuit (a 1-constraint one with free
public inputs verifies whatever it is told) or an always-true contract, and every "verified"
result would be its choice.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from marketplace import channel
from marketplace.contracts import batch_verifier_key_code, load_artifact, verifier_constructor_args
from marketplace.setup.model_folder import CIRCUIT_R1CS, CIRCUIT_ZKEY, PHASE1_PTAU, SETUP_FILES
from marketplace.setup.pipeline import KNOWN_SECRET, setup_transcript_hash, statement_circuit
from prover.ceremony import powersoftau
from prover.ceremony.phase2_verify import (
    Phase2Report,
    verify_zkey_from_initial,
    verify_zkey_transcript,
)
from prover.ceremony.powersoftau_verify import verify_ptau_transcript
from prover.circuit.statements import (
    architecture_graph,
    architecture_spec_hash,
    batch_public_input_count,
    inference_circuit,
)
from prover.errors import CircuitError, VerificationError
from prover.formats import read_ptau, read_zkey, write_r1cs
from prover.onnx.graph import Graph

STATEMENT_KINDS = ("inference", "batch", "accuracy", "retrieval")


@dataclass
class Trust:
    """What a client trusts and has checked: the hashes of phase-1 and phase-2 contributions
    (its own, or ones it recorded with ``zkmarket consumer trust``) and the keys of the setups
    it already checked (``marketplace.agents.consumer.Consumer`` keeps them in its state directory)."""

    phase1: list[str]
    phase2: list[str]
    checked: list[str]


def statement_files(card: dict, kind: str) -> tuple[dict[str, str], int | None, dict[str, int]]:
    """``({file name: SHA-256}, size, {file name: bytes})`` of the ``kind`` statement's published
    setup files, from the model card; VerificationError when the card publishes none."""
    if kind == "inference":
        files = card.get("files")
        if not isinstance(files, dict) or any(name not in files for name in SETUP_FILES):
            raise VerificationError(
                "the model card does not list the inference setup files: the provider's "
                "endpoint is not a zkmarket provider card"
            )
        return {name: files[name] for name in SETUP_FILES}, None, dict(card.get("sizes") or {})
    entry = (card.get("statements") or {}).get(kind)
    if not isinstance(entry, dict) or f"{kind}.zkey" not in (entry.get("files") or {}):
        raise VerificationError(
            f"the provider publishes no {kind} key on its channel, so its {kind} verifier "
            f"cannot be checked: refuse the model (or ask the provider to serve the key)"
        )
    size = entry.get("size")
    if not isinstance(size, int) or isinstance(size, bool):
        raise VerificationError(f"the model card names no size for its {kind} key")
    return dict(entry["files"]), size, dict(entry.get("sizes") or {})


def rebuilt_graph(card: dict, architecture_hash: bytes) -> Graph:
    """The model's graph with placeholder weights, from the card's architecture spec, after
    checking that the spec is the preimage of the architecture hash registered on-chain."""
    spec = card.get("architecture")
    if not isinstance(spec, dict):
        raise VerificationError(
            "the model card publishes no architecture (card['architecture']): its circuit "
            "cannot be rebuilt, so nothing ties the key to the model; refuse it"
        )
    if architecture_spec_hash(spec).to_bytes(32, "big") != bytes(architecture_hash):
        raise VerificationError(
            "the model card's architecture does not hash to the architecture hash "
            "registered on-chain: the card describes another model than the commitment"
        )
    return architecture_graph(spec)


def statement_r1cs(graph: Graph, kind: str, size: int | None = None):
    """The R1CS of the ``kind`` statement about ``graph`` (batch statements over ``size``),
    built by the same functions the provider builds it with."""
    if kind == "inference":
        return inference_circuit(graph).r1cs
    if size is None:
        raise CircuitError(f"the {kind} statement is over a number of samples or items: give its size")
    return statement_circuit(graph, kind, size).r1cs


def r1cs_bytes(r1cs) -> bytes:
    """The .r1cs file of a circuit, as bytes."""
    with tempfile.TemporaryDirectory(prefix="zkmarket-r1cs-") as tmp:
        path = Path(tmp) / CIRCUIT_R1CS
        write_r1cs(r1cs, path)
        return path.read_bytes()


def download(endpoint: str, name: str, digest: str, directory: Path, max_bytes: int | None = None) -> Path:
    """Fetch a published setup file into ``directory`` and check it against the card's SHA-256."""
    data = channel.fetch_setup_file(endpoint, name, max_bytes=max_bytes)  # exactly the card's size, or refused
    if hashlib.sha256(data).hexdigest() != digest:
        raise VerificationError(f"{name} from {endpoint} does not match the model card's digest")
    path = directory / name
    path.write_bytes(data)
    return path


def verify_transcripts(r1cs, ptau, pk, trust: Trust, *, insecure_phase1: bool, what: str) -> Phase2Report:
    """Both ceremony phases of ``pk`` against the (rebuilt) circuit ``r1cs``, each holding a
    trusted contribution; ``ptau`` None means the key's phase 1 is the KNOWN secret (accepted
    only with ``insecure_phase1``)."""
    if ptau is None:
        if not insecure_phase1:
            raise VerificationError(
                f"{what}: the provider publishes no phase-1 powers of tau for this key, so its "
                f"phase 1 cannot be checked; whoever made it could forge proofs"
            )
        from prover.ceremony.known_secret import known_secret_setup

        report = verify_zkey_from_initial(
            known_secret_setup(r1cs, KNOWN_SECRET["tau"], KNOWN_SECRET["alpha"], KNOWN_SECRET["beta"]), pk
        )
    else:
        if powersoftau.read_contributions(ptau.contributions) or not insecure_phase1:
            phase1 = {c[2] for c in verify_ptau_transcript(ptau).contributions}
            if not phase1 & set(trust.phase1):
                raise VerificationError(
                    f"{what}: no phase-1 contribution you trust (e.g. your own); whoever made "
                    f"this powers of tau could forge proofs"
                )
        try:
            report = verify_zkey_transcript(r1cs, ptau, pk)
        except CircuitError as exc:  # e.g. a ptau too small for the rebuilt circuit
            raise VerificationError(f"{what}: the published key cannot be the rebuilt circuit's ({exc})") from exc
    if not {c.contribution_hash for c in report.contributions} & set(trust.phase2):
        raise VerificationError(
            f"{what}: no phase-2 contribution you trust (e.g. your own); the provider could forge proofs for this key"
        )
    return report


def check_verifier_code(w3, account: str, verifier: str, pk, what: str = "the model's verifier") -> None:
    """The contract at ``verifier`` must be what the Groth16Verifier constructor makes of
    ``pk``'s verifying key (its immutables are the key): run the constructor as a call and
    compare the code it returns with the code at the address."""
    artifact = load_artifact("Groth16Verifier")
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    creation = factory.constructor(*verifier_constructor_args(pk.verifying_key())).build_transaction(
        {"from": account, "gas": 10_000_000}
    )["data"]
    expected = w3.eth.call({"from": account, "data": creation, "gas": 10_000_000})
    if bytes(w3.eth.get_code(verifier)) != bytes(expected):
        raise VerificationError(
            f"{what} {verifier} does not embed the published key: its proofs prove nothing about this setup"
        )


def check_batch_verifier_code(w3, account: str, verifier: str, pk, what: str = "the model's batch verifier") -> None:
    """The contract at ``verifier`` must be a Groth16BatchVerifier for ``pk``'s verifying key:
    its code the shipped artifact's, byte for byte outside the immutables (the data contract's
    address depends on the deployer's nonce, so the constructor cannot be replayed as a call)
    and every copy of an immutable the same; the immutables pinned by their getters:
    ``publicInputCount()`` the key's input count and the code at ``keyData()`` exactly
    ``batch_verifier_key_code`` of the key."""
    artifact = load_artifact("Groth16BatchVerifier")
    expected = bytearray.fromhex(artifact["deployedBytecode"])
    code = bytearray(w3.eth.get_code(verifier))
    consistent = True
    if len(code) == len(expected):
        # each immutable has one copy per place it is read: all must hold the same value, or
        # the getters below would vouch for a value verifyProof does not use
        for ranges in artifact["immutableReferences"]:
            consistent &= len({bytes(code[start : start + length]) for start, length in ranges}) == 1
            for start, length in ranges:
                code[start : start + length] = expected[start : start + length]
    if code != expected or not consistent:
        raise VerificationError(
            f"{what} {verifier} is not the shipped Groth16BatchVerifier: its verdicts are whatever "
            f"its author chose, so its proofs prove nothing about this setup"
        )
    contract = w3.eth.contract(address=verifier, abi=artifact["abi"])
    vk = pk.verifying_key()
    count = contract.functions.publicInputCount().call({"from": account})
    if count != vk.n_public:
        raise VerificationError(
            f"{what} {verifier} checks {count} public inputs where the published key has "
            f"{vk.n_public}: it is a verifier of another circuit"
        )
    key_data = contract.functions.keyData().call({"from": account})
    if bytes(w3.eth.get_code(key_data)) != batch_verifier_key_code(vk):
        raise VerificationError(
            f"{what} {verifier} does not hold the published key (its key contract {key_data} "
            f"differs): its proofs prove nothing about this setup"
        )


def check_statement_setup(
    w3,
    account: str,
    *,
    model_id: int,
    record,
    card: dict,
    endpoint: str,
    kind: str,
    size: int | None,
    trust: Trust,
    insecure_phase1: bool = False,
    log: Callable[[str], None] = print,
) -> bool:
    """Check the setup of model ``model_id``'s ``kind`` statement (see the module docstring):
    ``record`` is its ``ModelRecord`` on-chain, ``card`` the provider's model card; a batch
    statement is checked for ``size`` (the test set's samples, the corpus's items). Returns
    True when the transcripts were verified now, False when this exact setup was checked
    before (``trust.checked``; the verifier's code is compared every time). Appends the
    setup's key to ``trust.checked`` on success: the caller saves it."""
    if kind not in STATEMENT_KINDS:
        raise ValueError(f"statement must be one of {STATEMENT_KINDS}, got {kind!r}")
    what = f"model {model_id}" + ("" if kind == "inference" else f"'s {kind} statement")
    if kind == "batch":
        verifier = _batch_verifier(w3, account, record, size, what)
    else:
        verifier = {
            "inference": record.inference_verifier,
            "accuracy": record.accuracy_verifier,
            "retrieval": record.retrieval_verifier,
        }[kind]
    if int(verifier, 16) == 0:
        raise VerificationError(f"{what}: the model registered no {kind} verifier")
    files, published_size, sizes = statement_files(card, kind)
    if kind != "inference" and published_size != size:
        raise VerificationError(
            f"{what}: the published key is for {published_size}, you need {size}: its verifier "
            f"would refuse every proof about your data"
        )
    zkey_name = CIRCUIT_ZKEY if kind == "inference" else f"{kind}.zkey"
    ptau_name = PHASE1_PTAU if kind == "inference" else f"{kind}.ptau"
    key = ":".join(
        str(v)
        for v in (
            kind,
            size,
            model_id,
            record.inference_verifier,
            verifier,
            files[zkey_name],
            record.architecture_hash.hex(),
            record.transcript_hash.hex(),
            insecure_phase1,
        )
    )
    graph = rebuilt_graph(card, record.architecture_hash)
    with tempfile.TemporaryDirectory(prefix="zkmarket-setup-") as tmp:
        zkey_path = download(endpoint, zkey_name, files[zkey_name], Path(tmp), sizes.get(zkey_name))
        pk = read_zkey(zkey_path)
        if kind == "batch":
            check_batch_verifier_code(w3, account, verifier, pk, f"{what}: the batch verifier")
        else:
            check_verifier_code(w3, account, verifier, pk, f"{what}: the {kind} verifier")
        if key in trust.checked:
            log(f"{what}: setup already checked (same architecture, key and transcript)")
            return False
        log(f"{what}: rebuilding the {kind} circuit from the published architecture")
        r1cs = statement_r1cs(graph, kind, size)
        if kind == "inference":
            published = download(
                endpoint, CIRCUIT_R1CS, files[CIRCUIT_R1CS], Path(tmp), sizes.get(CIRCUIT_R1CS)
            ).read_bytes()
            if published != r1cs_bytes(r1cs):
                raise VerificationError(
                    f"{what}: the provider's circuit.r1cs is not the inference circuit of the "
                    f"registered architecture: its proofs would not be about this model"
                )
        ptau = None
        if ptau_name in files:
            ptau = read_ptau(download(endpoint, ptau_name, files[ptau_name], Path(tmp), sizes.get(ptau_name)))
        log(f"{what}: checking the setup ceremony transcripts")
        verify_transcripts(r1cs, ptau, pk, trust, insecure_phase1=insecure_phase1, what=what)
    if kind == "inference":
        if setup_transcript_hash(ptau, pk) != record.transcript_hash:
            raise VerificationError(
                f"{what}'s registered setup transcript hash is not the hash of the transcripts its provider publishes"
            )
    trust.checked.append(key)
    return True


def published_batch_size(model_id: int, record, card: dict) -> int | None:
    """The batch size whose ``batch`` statement a client checks for the model's batch
    verifiers (None when it registered none): any of them can settle the client's inference
    requests, so each must be checked as the inference verifier is, and the card must publish
    the key of each (``card["statements"]["batch"]``, one batch size). VerificationError
    otherwise."""
    if not record.batch_verifiers:
        return None
    _, size, _ = statement_files(card, "batch")
    if len(record.batch_verifiers) != 1:
        raise VerificationError(
            f"model {model_id} registered {len(record.batch_verifiers)} batch verifiers and its card "
            f"publishes the key of one batch size: the others cannot be checked, and each could "
            f"settle your requests"
        )
    return size


def _batch_verifier(w3, account: str, record, size: int | None, what: str) -> str:
    """The model's batch verifier of ``size`` requests (its statement's input count)."""
    if size is None:
        raise VerificationError(f"{what}: give the batch size to check")
    artifact = load_artifact("Groth16BatchVerifier")
    for address in record.batch_verifiers:
        contract = w3.eth.contract(address=address, abi=artifact["abi"])
        try:
            count = contract.functions.publicInputCount().call({"from": account})
        except Exception:  # not a batch verifier at all: check_batch_verifier_code names it
            return address
        if count == batch_public_input_count(size):
            return address
    raise VerificationError(f"{what}: the model registered no verifier for batches of {size}")
