"""RetrievalMarket on the embedded EVM with a real retrieval proof: a valid proof pays the
provider and records the salted returned set, which the requester's delivery check accepts only
for exactly the proved items with the proof's salt; reject twins for a late answer, a second
answer, a wrong commitment (another set, or the right set under another salt), a stranger, and
deliveries with an item dropped, added or altered, a wrong salt or another request's id."""

from __future__ import annotations

import numpy as np
import pytest
from support.audit_world import World, make_world, reverts
from support.models import prove_with_test_key

from marketplace.chain import advance_time, latest_timestamp
from marketplace.retrieval import Delivery, RequestStatus, Retrieval, check_delivery
from prover.circuit import datasets as D
from prover.circuit import retrieval as R
from prover.errors import VerificationError
from prover.field import FR_MODULUS

# real proofs on py-evm's pairing precompile: minutes, so the whole module is slow
pytestmark = pytest.mark.slow

PRICE = 5 * 10**16
WINDOW = 600
SALT = 0xC0FFEE << 180


@pytest.fixture(scope="module")
def salted(proofs):
    """(proof, public, selected) of the shared corpus and class under the known ``SALT``, with
    the retrieval key the world registers (the known-secret setup is deterministic)."""
    rc = R.retrieval_circuit(proofs.graph, len(proofs.corpus), "public")
    result = rc.witness(proofs.corpus, proofs.requested_class, SALT)
    pk, proof, public = prove_with_test_key(rc.r1cs, result.witness)
    vk = pk.verifying_key()
    assert all(
        np.array_equal(getattr(vk, f), getattr(proofs.retrieval_vk, f))
        for f in ("alpha1", "beta2", "gamma2", "delta2", "ic")
    )
    return proof, public, result.selected


@pytest.fixture
def market(proofs):
    world = make_world(proofs)
    retrieval = Retrieval.deploy(world.w3, world.market.registry.address, sender=world.w3.eth.accounts[0])
    corpus_id = retrieval.register_corpus(
        world.provider, R.corpus_commitment(proofs.graph, proofs.corpus), len(proofs.corpus)
    )
    return world, retrieval, corpus_id


def _request(world: World, retrieval: Retrieval, corpus_id: int, cls: int) -> int:
    deadline = latest_timestamp(world.w3) + WINDOW
    return retrieval.request(world.auditor, world.model_id, corpus_id, cls, deadline, PRICE)


def test_valid_proof_pays_the_provider_and_the_delivery_checks(market, proofs, salted):
    world, retrieval, corpus_id = market
    rid = _request(world, retrieval, corpus_id, proofs.requested_class)
    proof, public, selected = salted
    cls, size = R.split_class_and_size(public[2])
    assert cls == proofs.requested_class and size == len(selected) >= 2
    retrieval.fulfil(world.provider, rid, proof, public[3], size)
    record = retrieval.request_of(rid)
    assert (record.status, record.returned_set_commitment, record.returned_size) == (
        RequestStatus.FULFILLED,
        public[3],
        size,
    )
    assert retrieval.owed(world.provider) == PRICE
    # the requester accepts exactly the proved items at their positions, with the proof's salt
    n, items = len(proofs.corpus), proofs.corpus[selected]
    check_delivery(proofs.graph, n, Delivery(rid, selected, items, SALT), rid, record)
    outsider = next(i for i in range(n) if i not in selected)
    altered = items.copy()
    altered[0, 0] += 1
    spilled = items.copy()  # the same packing if packing did not range check: 1 << bits carried
    spilled[0, 0] += 1 << proofs.graph.input_tensor.bits
    spilled[0, 1] -= 1
    refused = [
        Delivery(rid, selected[1:], items[1:], SALT),  # an item dropped
        Delivery(
            rid,
            np.sort(np.append(selected, outsider)),  # an item added
            proofs.corpus[np.sort(np.append(selected, outsider))],
            SALT,
        ),
        Delivery(rid, selected, altered, SALT),  # an item altered
        Delivery(rid, selected, spilled, SALT),  # out of range
        Delivery(rid, selected, items[::-1], SALT),  # items swapped
        Delivery(rid, selected, items, SALT + 1),  # a wrong salt
        Delivery(rid, selected, items, 0),  # no salt
        Delivery(rid + 1, selected, items, SALT),
    ]  # another request
    for delivery in refused:
        with pytest.raises(VerificationError):
            check_delivery(proofs.graph, n, delivery, rid, record)
    # each outcome once
    reverts("RequestNotOpen", retrieval.fulfil, world.provider, rid, proof, public[3], size)
    advance_time(world.w3, WINDOW + 1)
    reverts("RequestNotOpen", retrieval.refund, world.auditor, rid)
    assert retrieval.withdraw(world.provider) == PRICE
    assert retrieval.balance() == 0


def test_a_set_missing_or_adding_an_item_is_refused(market, proofs, salted):
    world, retrieval, corpus_id = market
    rid = _request(world, retrieval, corpus_id, proofs.requested_class)
    proof, public, selected = salted
    hashes = D.item_hashes(proofs.graph, proofs.corpus)
    n = len(proofs.corpus)
    outsider = next(i for i in range(n) if i not in selected)
    short = list(selected[1:])
    extra = sorted(list(selected) + [outsider])
    for positions in (short, extra):
        commitment = R.returned_set_commitment(n, positions, [hashes[i] for i in positions], SALT)
        reverts("InvalidProof", retrieval.fulfil, world.provider, rid, proof, commitment, len(positions))
    # the proved set under another salt (or none) is another commitment: refused too
    for salt in (SALT + 1, 0):
        commitment = R.returned_set_commitment(n, selected, [hashes[i] for i in selected], salt)
        reverts("InvalidProof", retrieval.fulfil, world.provider, rid, proof, commitment, len(selected))
    reverts("InvalidProof", retrieval.fulfil, world.provider, rid, proof, public[3], len(selected) - 1)
    reverts("InvalidProof", retrieval.fulfil, world.provider, rid, proof, public[3], n + 1)
    assert retrieval.request_of(rid).status == RequestStatus.OPEN


def test_proof_for_another_corpus_or_class_is_refused(market, proofs):
    world, retrieval, corpus_id = market
    proof, public, selected = proofs.retrieval
    other = proofs.corpus.copy()
    other[0, 0] += 1
    other_id = retrieval.register_corpus(world.stranger, R.corpus_commitment(proofs.graph, other), len(other))
    for rid in (
        _request(world, retrieval, other_id, proofs.requested_class),
        _request(world, retrieval, corpus_id, (proofs.requested_class + 1) % 4),
    ):
        reverts("InvalidProof", retrieval.fulfil, world.provider, rid, proof, public[3], len(selected))


def test_late_answer_stranger_and_refund_rules(market, proofs):
    world, retrieval, corpus_id = market
    rid = _request(world, retrieval, corpus_id, proofs.requested_class)
    proof, public, selected = proofs.retrieval
    reverts("NotProvider", retrieval.fulfil, world.stranger, rid, proof, public[3], len(selected))
    reverts("DeadlineNotReached", retrieval.refund, world.auditor, rid)
    advance_time(world.w3, WINDOW + 1)
    reverts("DeadlinePassed", retrieval.fulfil, world.provider, rid, proof, public[3], len(selected))
    reverts("NotRequester", retrieval.refund, world.stranger, rid)
    retrieval.refund(world.auditor, rid)
    assert retrieval.request_of(rid).status == RequestStatus.REFUNDED
    assert retrieval.owed(world.auditor) == PRICE and retrieval.owed(world.provider) == 0
    reverts("RequestNotOpen", retrieval.refund, world.auditor, rid)
    reverts("UnknownRequest", retrieval.request_of, rid + 1)


def test_bad_corpora_and_requests_are_refused(market, proofs):
    world, retrieval, corpus_id = market
    reverts("BadCorpus", retrieval.register_corpus, world.provider, FR_MODULUS, 8)
    reverts("BadCorpus", retrieval.register_corpus, world.provider, 1, 0)
    reverts("UnknownCorpus", retrieval.corpus, corpus_id + 5)
    now = latest_timestamp(world.w3)
    reverts("UnknownCorpus", retrieval.request, world.auditor, world.model_id, corpus_id + 5, 1, now + 60, PRICE)
    reverts("BadRequest", retrieval.request, world.auditor, world.model_id, corpus_id, 1, now + 60, 0)
    reverts("BadRequest", retrieval.request, world.auditor, world.model_id, corpus_id, 1 << 32, now + 60, PRICE)
    reverts("BadRequest", retrieval.request, world.auditor, world.model_id, corpus_id, 1, now - 1, PRICE)
    # a deadline that does not fit the record's 40 bits is refused, not stored truncated
    reverts("BadRequest", retrieval.request, world.auditor, world.model_id, corpus_id, 1, 2**40, PRICE)
    assert retrieval.corpus(corpus_id).size == len(proofs.corpus)
