"""Trustless retrieval from Python: the RetrievalMarket contract's calls, the corpus file, the
provider's retrieval proof and the requester's check of the delivered items.

The protocol (contracts/RetrievalMarket.sol): a corpus is registered by its commitment
(``prover.circuit.retrieval.corpus_commitment``) and size; a requester pays for a request
naming a model, a corpus and a class; the model's provider proves which items the model
assigns to the class (``prover.circuit.retrieval``), answers on-chain with the returned set's
commitment and size, and delivers those items with their corpus positions off-chain (a
*delivery file*); the requester checks them against the commitment the contract recorded.

Corpus file: ``.npz`` with ``items`` (int64, quantized, shape (n, *model input shape)).
Delivery file: ``.npz`` with ``positions`` (int64, (k,)) and ``items`` (int64, (k, ...)).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import numpy as np

from marketplace.contracts import proof_to_evm
from marketplace.settlement import SettlementContract, read_arrays, write_arrays
from prover.errors import FormatError, VerificationError


class RequestStatus(IntEnum):
    NONE = 0
    OPEN = 1
    FULFILLED = 2
    REFUNDED = 3


@dataclass(frozen=True)
class CorpusRecord:
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


def write_delivery(path, positions, items: np.ndarray) -> Path:
    return write_arrays(path, positions=np.asarray(positions), items=items)


def read_delivery(path) -> tuple[np.ndarray, np.ndarray]:
    positions, items = read_arrays(path, ("positions", "items"), "delivery")
    if positions.ndim != 1 or len(positions) != len(items):
        raise FormatError(f"{path}: one corpus position per delivered item is needed")
    return positions, items


# --- proving and checking --------------------------------------------------------------------

def prove_retrieval(graph, proving_key, corpus: np.ndarray, requested_class: int, mode: str = "private",
                    progress: bool = False):
    """The provider's side: prove which corpus items the model assigns to the class. Returns
    (proof, public signals, selected positions)."""
    from prover.circuit import retrieval as R
    from prover.groth16.prove import prove

    circuit = R.retrieval_circuit(graph, len(corpus), mode, show_progress=progress)
    result = circuit.witness(corpus, requested_class, show_progress=progress)
    proof, public = prove(proving_key, result.witness, progress=progress, r1cs=circuit.r1cs)
    return proof, public, result.selected


def answer_request(retrieval: "Retrieval", provider: str, request_id: int, graph, proving_key, corpus_path,
                   delivery_path, mode: str = "private", progress: bool = False) -> list[int]:
    """The provider's whole answer (what `zkmarket provider answer-retrieval` runs): read the
    corpus file, check it against the registered corpus's commitment and size, prove which items
    the model assigns to the requested class, write the delivery file (positions and items) for
    the requester and fulfil on-chain. Raises VerificationError before any transaction
    when the file is not the registered corpus. Returns the delivered positions."""
    from prover.circuit.retrieval import corpus_commitment, split_class_and_size

    request = retrieval.request_of(request_id)
    if request.status != RequestStatus.OPEN:
        raise VerificationError(f"retrieval request {request_id} is {request.status.name.lower()}: nothing to answer")
    corpus = retrieval.corpus(request.corpus_id)
    items = read_corpus(corpus_path)
    if len(items) != corpus.size or corpus_commitment(graph, items) != corpus.commitment:
        raise VerificationError(f"{corpus_path} is not corpus {request.corpus_id} ({corpus.size} items, commitment "
                                f"{hex(corpus.commitment)}): give the file that was registered")
    proof, public, selected = prove_retrieval(graph, proving_key, items, request.requested_class, mode, progress)
    _, size = split_class_and_size(public[2])
    positions = [int(p) for p in selected]
    # the delivery is on disk before the payment is claimed: a paid request always has one
    # (a delivery of a request left unfulfilled fails the requester's check)
    write_delivery(delivery_path, np.array(positions, dtype=np.int64), items[positions])
    retrieval.fulfil(provider, request_id, proof, public[3], size)
    return positions


def check_delivery(graph, corpus_size: int, positions, items: np.ndarray, request: RetrievalRequest) -> None:
    """The requester's check: the delivered items, hashed at their positions, give the
    returned-set commitment and size the contract recorded. Raises VerificationError."""
    from prover.circuit import datasets as D
    from prover.circuit import retrieval as R

    if request.status != RequestStatus.FULFILLED:
        raise VerificationError(f"the request is {request.status.name.lower()}, not fulfilled: nothing to check yet")
    hashes = D.item_hashes(graph, items) if len(items) else []
    if len(positions) != request.returned_size or \
            R.returned_set_commitment(corpus_size, positions, hashes) != request.returned_set_commitment:
        raise VerificationError("the delivered items are not the set the proof committed to: an item is missing, "
                                "extra, altered or at the wrong position; do not accept the delivery")


# --- the contract ----------------------------------------------------------------------------

class Retrieval(SettlementContract):
    """A deployed RetrievalMarket with typed calls (``Retrieval.deploy(w3, registry, sender=...)``)."""

    NAME = "RetrievalMarket"

    def register_corpus(self, owner: str, commitment: int, size: int) -> int:
        receipt = self._send(self.contract.functions.registerCorpus(commitment, size), owner)
        return self._event(receipt, "CorpusRegistered", "corpusId")

    def request(self, requester: str, model_id: int, corpus_id: int, requested_class: int, deadline: int,
                payment: int) -> int:
        receipt = self._send(self.contract.functions.request(model_id, corpus_id, requested_class, deadline),
                             requester, payment)
        return self._event(receipt, "RequestOpened", "requestId")

    def fulfil(self, provider: str, request_id: int, proof, returned_set_commitment: int, returned_size: int) -> None:
        """Answer with a retrieval proof (``(a, b, c)`` in EVM order or a ``Proof``)."""
        a, b, c = proof if isinstance(proof, (tuple, list)) else proof_to_evm(proof)
        self._send(self.contract.functions.fulfil(request_id, a, b, c, returned_set_commitment, returned_size),
                   provider)

    def refund(self, requester: str, request_id: int) -> None:
        self._send(self.contract.functions.refund(request_id), requester)

    def corpus(self, corpus_id: int) -> CorpusRecord:
        c = self._view(self.contract.functions.corpus(corpus_id))
        return CorpusRecord(c[0], int(c[1]), int(c[2]))

    def request_of(self, request_id: int) -> RetrievalRequest:
        r = self._view(self.contract.functions.requestOf(request_id))
        return RetrievalRequest(r[0], int(r[1]), RequestStatus(r[2]), *(int(v) for v in r[3:]))
