"""Trustless retrieval from Python: the RetrievalMarket contract's calls, the corpus file, the
provider's retrieval proof and the requester's check of the delivered items.

The protocol (contracts/RetrievalMarket.sol): a corpus is registered by its commitment
(``prover.circuit.retrieval.corpus_commitment``) and size; a requester pays for a request
naming a model, a corpus and a class; the model's provider proves which items the model
assigns to the class (``prover.circuit.retrieval``), answers on-chain with the returned set's
commitment and size, and delivers those items with their corpus positions and the commitment's
salt off-chain (a *delivery file*); the requester checks them against the commitment the
contract recorded. The salt is fresh per answer and travels only in the delivery, so the
on-chain commitment tells nobody else which items were returned.

Corpus file: ``.npz`` with ``items`` (int64, quantized, shape (n, *model input shape)).
Delivery file: ``.npz`` with ``request_id`` (int64, ()), ``positions`` (int64, (k,)),
``items`` (int64, (k, ...)) and ``salt`` (the field element as 32 big-endian bytes, (32,)).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from marketplace.contracts import Status as RequestStatus  # a retrieval request lives as a prediction does
from marketplace.contracts import proof_to_evm, read_record
from marketplace.settlement import SettlementContract, read_arrays, write_arrays
from prover.errors import FormatError, VerificationError
from prover.field import FR_MODULUS


@dataclass(frozen=True)
class CorpusRecord:
    """A registered corpus: who registered it, its commitment (``prover.circuit.retrieval.
    corpus_commitment``) and its number of items."""

    owner: str
    commitment: int
    size: int


@dataclass(frozen=True)
class RetrievalRequest:
    requester: str
    deadline: int
    status: RequestStatus
    model_id: int
    corpus_id: int
    requested_class: int
    payment: int
    returned_set_commitment: int
    returned_size: int


# --- files -----------------------------------------------------------------------------------


def write_corpus(path, items: np.ndarray) -> Path:
    return write_arrays(path, items=items)


def read_corpus(path) -> np.ndarray:
    (items,) = read_arrays(path, ("items",), "corpus")
    return items


@dataclass(frozen=True)
class Delivery:
    """What the provider hands the requester for a fulfilled request: the returned items, their
    corpus positions and the salt of the returned-set commitment."""

    request_id: int
    positions: np.ndarray
    items: np.ndarray
    salt: int


SALT_BYTES = 32


def write_delivery(path, delivery: Delivery) -> Path:
    salt = np.frombuffer(int(delivery.salt).to_bytes(SALT_BYTES, "big"), dtype=np.uint8)
    return write_arrays(
        path,
        request_id=np.array(delivery.request_id),
        positions=np.asarray(delivery.positions),
        items=delivery.items,
        salt=salt,
    )


def read_delivery(path) -> Delivery:
    """The delivery file at ``path``; FormatError if it is not one."""
    request_id, positions, items, salt = read_arrays(path, ("request_id", "positions", "items", "salt"), "delivery")
    if positions.ndim != 1 or len(positions) != len(items):
        raise FormatError(f"{path}: one corpus position per delivered item is needed")
    if request_id.ndim != 0 or salt.shape != (SALT_BYTES,) or salt.min() < 0 or salt.max() > 255:
        raise FormatError(f"{path}: a delivery names its request (one integer) and its salt ({SALT_BYTES} bytes)")
    value = int.from_bytes(bytes(salt.astype(np.uint8)), "big")
    if value >= FR_MODULUS:
        raise FormatError(f"{path}: the salt is not a field element (it must be below the BN254 scalar field order)")
    return Delivery(int(request_id), positions, items, value)


# --- proving and checking --------------------------------------------------------------------


def prove_retrieval(
    graph,
    proving_key,
    corpus: np.ndarray,
    requested_class: int,
    mode: str = "private",
    progress: bool = False,
    salt: int | None = None,
):
    """The provider's side: prove which corpus items the model assigns to the class, committed
    with ``salt`` (a fresh one when None). Returns (proof, public signals, selected positions,
    salt)."""
    from prover.circuit import retrieval as R
    from prover.groth16.prove import prove

    circuit = R.retrieval_circuit(graph, len(corpus), mode, show_progress=progress)
    result = circuit.witness(corpus, requested_class, salt, show_progress=progress)
    proof, public = prove(proving_key, result.witness, progress=progress, r1cs=circuit.r1cs)
    return proof, public, result.selected, result.salt


def _salt_of_earlier_delivery(path, request_id: int) -> int | None:
    """The salt of a delivery already written for this request (an answer whose fulfil may be
    pending when the provider stopped), so that a retry commits to the same salted set: the
    file then stays right whichever of the two transactions lands."""
    try:
        earlier = read_delivery(path)
    except (FormatError, FileNotFoundError):
        return None
    return earlier.salt if earlier.request_id == request_id else None


def answer_request(
    retrieval: Retrieval,
    provider: str,
    request_id: int,
    graph,
    proving_key,
    corpus_path,
    delivery_path,
    mode: str = "private",
    progress: bool = False,
) -> list[int]:
    """The provider's whole answer (what `zkmarket provider answer-retrieval` runs): read the
    corpus file, check it against the registered corpus's commitment and size, prove which items
    the model assigns to the requested class with a fresh salt, write the delivery file
    (positions, items and salt) for the requester and fulfil on-chain. Raises
    VerificationError before any transaction when the file is not the registered corpus.
    Returns the delivered positions."""
    from prover.circuit.retrieval import corpus_commitment, split_class_and_size

    request = retrieval.request_of(request_id)
    if request.status != RequestStatus.OPEN:
        raise VerificationError(f"retrieval request {request_id} is {request.status.name.lower()}: nothing to answer")
    corpus = retrieval.corpus(request.corpus_id)
    items = read_corpus(corpus_path)
    if len(items) != corpus.size or corpus_commitment(graph, items) != corpus.commitment:
        raise VerificationError(
            f"{corpus_path} is not corpus {request.corpus_id} ({corpus.size} items, commitment "
            f"{hex(corpus.commitment)}): give the file that was registered"
        )
    proof, public, selected, salt = prove_retrieval(
        graph,
        proving_key,
        items,
        request.requested_class,
        mode,
        progress,
        _salt_of_earlier_delivery(delivery_path, request_id),
    )
    _, size = split_class_and_size(public[2])
    positions = [int(p) for p in selected]
    # the delivery is on disk before the payment is claimed: a paid request always has one
    # (a delivery of a request left unfulfilled fails the requester's check)
    write_delivery(delivery_path, Delivery(request_id, np.array(positions, dtype=np.int64), items[positions], salt))
    retrieval.fulfil(provider, request_id, proof, public[3], size)
    return positions


def check_delivery(graph, corpus_size: int, delivery: Delivery, request_id: int, request: RetrievalRequest) -> None:
    """The requester's check of a delivery for request ``request_id`` (its on-chain record
    ``request``): the delivered items, hashed at their positions and committed with the
    delivered salt, give the returned-set commitment and size the contract recorded, so they
    are exactly the set the proof is about. Raises VerificationError."""
    from prover.circuit import datasets as D
    from prover.circuit import retrieval as R
    from prover.errors import ValueRangeError
    from prover.onnx.graph import InputShapeError

    if request.status != RequestStatus.FULFILLED:
        raise VerificationError(f"the request is {request.status.name.lower()}, not fulfilled: nothing to check yet")
    if delivery.request_id != request_id:
        raise VerificationError(
            f"the delivery is for request {delivery.request_id}, not {request_id}: "
            "ask the provider for this request's delivery file"
        )
    try:
        hashes = D.item_hashes(graph, delivery.items) if len(delivery.items) else []
        commitment = R.returned_set_commitment(corpus_size, delivery.positions, hashes, delivery.salt)
    except (InputShapeError, ValueRangeError) as exc:  # bad positions, items of another shape or range
        raise VerificationError(f"the delivery is malformed ({exc}); do not accept it") from exc
    if len(delivery.positions) != request.returned_size or commitment != request.returned_set_commitment:
        raise VerificationError(
            "the delivered items are not the set the proof committed to: an item is missing, "
            "extra, altered or at the wrong position, or the salt is not the proof's; "
            "do not accept the delivery"
        )


# --- the contract ----------------------------------------------------------------------------


class Retrieval(SettlementContract):
    """A deployed RetrievalMarket with typed calls (``Retrieval.deploy(w3, registry, sender=...)``)."""

    NAME = "RetrievalMarket"

    def register_corpus(self, owner: str, commitment: int, size: int) -> int:
        receipt = self._send(self.contract.functions.registerCorpus(commitment, size), owner)
        return self._event(receipt, "CorpusRegistered", "corpusId")

    def request(
        self, requester: str, model_id: int, corpus_id: int, requested_class: int, deadline: int, payment: int
    ) -> int:
        receipt = self._send(
            self.contract.functions.request(model_id, corpus_id, requested_class, deadline), requester, payment
        )
        return self._event(receipt, "RequestOpened", "requestId")

    def fulfil(self, provider: str, request_id: int, proof, returned_set_commitment: int, returned_size: int) -> None:
        """Answer with a retrieval proof (``(a, b, c)`` in EVM order or a ``Proof``)."""
        a, b, c = proof if isinstance(proof, (tuple, list)) else proof_to_evm(proof)
        self._send(
            self.contract.functions.fulfil(request_id, a, b, c, returned_set_commitment, returned_size), provider
        )

    def refund(self, requester: str, request_id: int) -> None:
        self._send(self.contract.functions.refund(request_id), requester)

    def corpus(self, corpus_id: int) -> CorpusRecord:
        return read_record(CorpusRecord, self.contract.functions.corpus(corpus_id), self._abis)

    def request_of(self, request_id: int) -> RetrievalRequest:
        call = self.contract.functions.requestOf(request_id)
        return read_record(RetrievalRequest, call, self._abis, rename={"class": "requested_class"})
