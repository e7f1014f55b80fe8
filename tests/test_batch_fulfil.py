"""Batched fulfil on eth-tester with real proofs: one proof of the batch statement settles the
open requests it answers, from one group (``openRequests``) or many (single opens), and every
way of cheating a batch is refused with its custom error and moves no ether.

The model is the small Gemm-ReLU-Gemm of ``support.models`` with test keys (known secret) for
its single statement and its batch-of-4 statement."""

from __future__ import annotations

import pytest
from support.batch import BATCH, Keys
from support.reverts import refused

from marketplace.chain import advance_time, connect, latest_timestamp
from marketplace.contracts import Market, Status, deploy_batch_verifier, deploy_verifier
from prover.circuit import statements as S

PRICE = 10**15
HOUR = 3600


class World:
    def __init__(self, keys: Keys):
        self.w3 = connect()
        self.keys = keys
        self.deployer, self.provider, self.consumer, self.stranger = self.accounts = self.w3.eth.accounts[:4]
        self.verifier, _ = deploy_verifier(self.w3, keys.single_pk.verifying_key(), self.deployer)
        self.batch_verifier, _ = deploy_batch_verifier(self.w3, keys.batch_pk.verifying_key(), self.deployer)
        self.market = Market.deploy(self.w3, self.deployer)
        self.model = self.register()
        self.other_model = self.register()

    def register(self) -> int:
        return self.market.register_model(
            self.provider,
            self.keys.commitment,
            self.verifier.address,
            PRICE,
            batch_verifiers=[self.batch_verifier.address],
        )

    def deadline(self, seconds: int = HOUR) -> int:
        return latest_timestamp(self.w3) + seconds


@pytest.fixture(scope="module")
def deployed(batch_keys):
    return World(batch_keys)


@pytest.fixture
def world(deployed):
    tester = deployed.w3.provider.ethereum_tester
    snapshot = tester.take_snapshot()
    yield deployed
    tester.revert_to_snapshot(snapshot)


def answers(world: World, rids: list[int], requests: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    return [(rid, *world.keys.result(i, s)[1:]) for rid, (i, s) in zip(rids, requests)]


# --- accept paths ------------------------------------------------------------------------------


def test_one_group_of_three_is_settled_by_one_padded_proof(world):
    requests = [(0, 11), (1, 12), (2, 13)]
    commitments = [world.keys.result(i, s)[0] for i, s in requests]
    rids = world.market.open_requests(world.consumer, world.model, commitments, world.deadline())
    assert world.market.balance() == 3 * PRICE
    assert [world.market.status(r) for r in rids] == [Status.OPEN] * 3
    assert rids == [rids[0] + i for i in range(3)]

    proof = world.keys.batch_proof(requests)
    settled = world.market.fulfil_batch(world.provider, world.model, BATCH, proof, answers(world, rids, requests))
    assert settled == rids
    for rid, (i, s) in zip(rids, requests):
        record = world.market.request(rid)
        _, label, output = world.keys.result(i, s)
        assert (record.status, record.label, record.output_commitment, record.escrow) == (
            Status.FULFILLED,
            label,
            output,
            0,
        )
    assert world.market.owed(world.provider) == 3 * PRICE
    assert world.market.withdraw(world.provider) == 3 * PRICE and world.market.balance() == 0


def test_single_opens_and_a_group_settle_in_one_batch(world):
    requests = [(0, 21), (3, 22), (4, 23), (5, 24)]
    commitments = [world.keys.result(i, s)[0] for i, s in requests]
    rids = [world.market.open_request(world.consumer, world.model, c, world.deadline()) for c in commitments[:2]]
    rids += world.market.open_requests(world.consumer, world.model, commitments[2:], world.deadline())
    proof = world.keys.batch_proof(requests)
    assert world.market.fulfil_batch(world.provider, world.model, BATCH, proof, answers(world, rids, requests)) == rids
    assert world.market.owed(world.provider) == 4 * PRICE
    # the single path still answers one request of a group
    more = world.market.open_requests(world.consumer, world.model, [world.keys.result(1, 25)[0]] * 2, world.deadline())
    world.market.fulfil(world.provider, more[1], *world.keys.single_proof(1, 25))
    assert [world.market.status(r) for r in more] == [Status.OPEN, Status.FULFILLED]


# --- reject twins ------------------------------------------------------------------------------


@pytest.fixture
def opened(world):
    """Three single requests (inputs 0, 1, 2) and the proof of their batch."""
    requests = [(0, 31), (1, 32), (2, 33)]
    rids = [
        world.market.open_request(world.consumer, world.model, world.keys.result(i, s)[0], world.deadline())
        for i, s in requests
    ]
    return rids, requests, world.keys.batch_proof(requests)


def test_one_wrong_label_refuses_the_whole_batch(world, opened):
    rids, requests, proof = opened
    bad = answers(world, rids, requests)
    bad[1] = (bad[1][0], bad[1][1] + 1, bad[1][2])
    refused(world, "InvalidProof", lambda: world.market.fulfil_batch(world.provider, world.model, BATCH, proof, bad))
    assert [world.market.status(r) for r in rids] == [Status.OPEN] * 3


def test_one_wrong_input_commitment_is_refused(world, opened):
    rids, requests, proof = opened
    # a request for another input (same model): the proof is not about its commitment
    other = world.market.open_request(world.consumer, world.model, world.keys.result(3, 34)[0], world.deadline())
    bad = answers(world, rids, requests)
    bad[2] = (other, bad[2][1], bad[2][2])
    refused(world, "InvalidProof", lambda: world.market.fulfil_batch(world.provider, world.model, BATCH, proof, bad))


def test_a_request_of_another_model_is_refused(world, opened):
    rids, requests, proof = opened
    i, s = requests[0]
    foreign = world.market.open_request(world.consumer, world.other_model, world.keys.result(i, s)[0], world.deadline())
    bad = answers(world, [foreign, *rids[1:]], requests)
    error = refused(
        world, "WrongModel", lambda: world.market.fulfil_batch(world.provider, world.model, BATCH, proof, bad)
    )
    assert error.args_ == (foreign, world.model)


def test_a_request_refunded_before_the_fulfil_is_skipped_and_the_rest_paid(world):
    requests = [(0, 41), (1, 42), (2, 43)]
    commitments = [world.keys.result(i, s)[0] for i, s in requests]
    short = world.market.open_request(world.consumer, world.model, commitments[0], world.deadline(60))
    rest = [world.market.open_request(world.consumer, world.model, c, world.deadline()) for c in commitments[1:]]
    proof = world.keys.batch_proof(requests)  # proved while all three were open
    advance_time(world.w3, 120)
    world.market.refund(world.consumer, short)
    settled = world.market.fulfil_batch(
        world.provider, world.model, BATCH, proof, answers(world, [short, *rest], requests)
    )
    assert settled == rest
    assert world.market.status(short) == Status.REFUNDED
    assert world.market.owed(world.consumer) == PRICE and world.market.owed(world.provider) == 2 * PRICE
    assert world.market.balance() == 3 * PRICE  # all of it owed, none of it twice


def test_a_late_request_is_skipped_not_paid(world):
    requests = [(0, 51), (1, 52)]
    commitments = [world.keys.result(i, s)[0] for i, s in requests]
    late = world.market.open_request(world.consumer, world.model, commitments[0], world.deadline(60))
    fine = world.market.open_request(world.consumer, world.model, commitments[1], world.deadline())
    advance_time(world.w3, 120)
    proof = world.keys.batch_proof(requests)
    settled = world.market.fulfil_batch(
        world.provider, world.model, BATCH, proof, answers(world, [late, fine], requests)
    )
    assert settled == [fine] and world.market.status(late) == Status.OPEN
    world.market.refund(world.consumer, late)
    assert world.market.owed(world.consumer) == PRICE


def test_a_replayed_fulfil_settles_nothing(world, opened):
    rids, requests, proof = opened
    batch = answers(world, rids, requests)
    world.market.fulfil_batch(world.provider, world.model, BATCH, proof, batch)
    refused(
        world, "NothingToSettle", lambda: world.market.fulfil_batch(world.provider, world.model, BATCH, proof, batch)
    )
    assert world.market.owed(world.provider) == 3 * PRICE


def test_a_request_answered_twice_in_one_batch_is_paid_once(world):
    """The same group listed twice (or one request in two slots) cannot pay one escrow twice:
    each settlement reads the slot the one before wrote."""
    requests = [(0, 61), (0, 61)]
    rid = world.market.open_request(world.consumer, world.model, world.keys.result(0, 61)[0], world.deadline())
    proof = world.keys.batch_proof(requests)
    terms = world.market.terms(rid).abi()
    _, label, output = world.keys.result(0, 61)
    a, b, c = _evm(proof)
    outputs = (S.outputs_digest([output, output], BATCH), [output, output])
    call = world.market.marketplace.functions.fulfilBatch(
        world.model, BATCH, (a, b, c), [terms, terms], [(0 << 8, label), (1 << 8, label)], outputs
    )
    world.market._send(call, world.provider)
    assert world.market.owed(world.provider) == PRICE and world.market.status(rid) == Status.FULFILLED


def test_a_wrong_outputs_digest_is_refused(world, opened):
    rids, requests, proof = opened
    batch = answers(world, rids, requests)
    outputs = [out for _, _, out in batch]
    wrong = S.outputs_digest([outputs[1], outputs[0], outputs[2]], BATCH)  # two outputs swapped
    refused(
        world,
        "InvalidProof",
        lambda: world.market.fulfil_batch(world.provider, world.model, BATCH, proof, batch, digest=wrong),
    )
    assert [world.market.status(r) for r in rids] == [Status.OPEN] * 3


def test_output_commitments_off_the_digest_are_not_taken_as_proved(world, opened):
    """The contract cannot hash the outputs list: a fulfil with the proved digest but another
    list settles (the labels are proved), and a reader of the chain finds no proved output
    commitment for any request of that batch, so a consumer takes no logits for proved."""
    rids, requests, proof = opened
    batch = answers(world, rids, requests)
    digest = S.outputs_digest([out for _, _, out in batch], BATCH)
    forged = [(rid, label, out + 1) for rid, label, out in batch]
    assert world.market.fulfil_batch(world.provider, world.model, BATCH, proof, forged, digest=digest) == rids
    records = [world.market.request(r) for r in rids]
    assert [(r.status, r.label, r.output_commitment) for r in records] == [
        (Status.FULFILLED, label, None) for _, label, _ in batch
    ]


def test_a_settled_group_gives_back_its_slot(world, opened):
    rids, requests, proof = opened
    group = world.market.open_requests(
        world.consumer, world.model, [world.keys.result(i, s)[0] for i, s in requests[:2]], world.deadline()
    )
    on_chain = world.market.marketplace.functions.requestStatus
    world.market.fulfil_batch(world.provider, world.model, BATCH, proof, answers(world, rids, requests))
    # single opens: each group settled whole, its slot deleted; the status comes from the events
    assert [on_chain(r).call() for r in rids] == [Status.NONE] * 3
    assert [world.market.status(r) for r in rids] == [Status.FULFILLED] * 3
    assert [world.market.request(r).output_commitment for r in rids] == [
        out for _, _, out in answers(world, rids, requests)
    ]
    # half a group settled keeps the slot
    world.market.fulfil_batch(
        world.provider,
        world.model,
        BATCH,
        world.keys.batch_proof(requests[:1]),
        answers(world, group[:1], requests[:1]),
    )
    assert [on_chain(r).call() for r in group] == [Status.FULFILLED, Status.OPEN]
    refused(
        world, "UnknownRequest", lambda: world.market.fulfil(world.provider, rids[0], *world.keys.single_proof(0, 31))
    )
    assert world.market.owed(world.provider) == 4 * PRICE


def test_batch_shape_and_size_are_checked(world, opened):
    rids, requests, proof = opened
    batch = answers(world, rids, requests)
    refused(world, "NoBatchVerifier", lambda: world.market.fulfil_batch(world.provider, world.model, 8, proof, batch))
    refused(world, "BadBatch", lambda: world.market.fulfil_batch(world.provider, world.model, 2, proof, batch))
    refused(world, "BadBatch", lambda: world.market.fulfil_batch(world.provider, world.model, BATCH, proof, []))
    # terms that were never opened (another price) name no group: the proof holds (the same
    # input), but there is nothing to settle
    terms = world.market.terms(rids[0]).abi()
    forged = (terms[0], terms[1], terms[2] - 1, terms[3], terms[4])
    a, b, c = _evm(world.keys.batch_proof(requests[:1]))
    outputs = (S.outputs_digest([batch[0][2]], BATCH), [batch[0][2]])
    call = world.market.marketplace.functions.fulfilBatch(
        world.model, BATCH, (a, b, c), [forged], [(0, batch[0][1])], outputs
    )
    refused(world, "NothingToSettle", lambda: world.market._send(call, world.provider))
    # one output commitment per answer
    short = (outputs[0], [])
    call = world.market.marketplace.functions.fulfilBatch(
        world.model, BATCH, (a, b, c), [terms], [(0, batch[0][1])], short
    )
    refused(world, "BadOutputs", lambda: world.market._send(call, world.provider))
    # a label too wide for its 16 bits would spill into the next slot's
    wide = [(batch[0][0], batch[0][1] + (1 << 16), batch[0][2]), *batch[1:]]
    refused(
        world, "LabelOutOfRange", lambda: world.market.fulfil_batch(world.provider, world.model, BATCH, proof, wide)
    )
    # a pick outside its group
    call = world.market.marketplace.functions.fulfilBatch(
        world.model, BATCH, (a, b, c), [terms], [(1, batch[0][1])], outputs
    )
    refused(world, "BadPick", lambda: world.market._send(call, world.provider))


def test_open_requests_checks_its_terms(world):
    commitment = world.keys.result(0, 71)[0]
    deadline = world.deadline()
    refused(
        world,
        "WrongPayment",
        lambda: world.market.open_requests(world.consumer, world.model, [commitment, commitment + 1], deadline, PRICE),
    )
    refused(world, "BadGroupSize", lambda: world.market.open_requests(world.consumer, world.model, [], deadline))
    refused(
        world,
        "BadGroupSize",
        lambda: world.market.open_requests(world.consumer, world.model, [commitment] * 65, deadline),
    )
    world.market.open_request(world.consumer, world.model, commitment, deadline)
    refused(
        world, "RequestExists", lambda: world.market.open_request(world.consumer, world.model, commitment, deadline)
    )


def test_refund_returns_only_the_unanswered_requests_of_a_group(world):
    requests = [(0, 81), (1, 82), (2, 83)]
    commitments = [world.keys.result(i, s)[0] for i, s in requests]
    rids = world.market.open_requests(world.consumer, world.model, commitments, world.deadline(600))
    proof = world.keys.batch_proof(requests[:1])
    world.market.fulfil_batch(world.provider, world.model, BATCH, proof, answers(world, rids[:1], requests[:1]))
    refused(world, "DeadlineNotReached", lambda: world.market.refund(world.consumer, rids[1]))
    advance_time(world.w3, 700)
    refused(world, "NotConsumer", lambda: world.market.refund(world.stranger, rids[1]))
    world.market.refund(world.consumer, rids[2])
    assert [world.market.status(r) for r in rids] == [Status.FULFILLED, Status.REFUNDED, Status.REFUNDED]
    assert world.market.owed(world.consumer) == 2 * PRICE and world.market.owed(world.provider) == PRICE
    # all settled: the group's slot is gone, its statuses are in its events
    assert world.market.marketplace.functions.requestStatus(rids[1]).call() == Status.NONE
    refused(world, "UnknownRequest", lambda: world.market.refund(world.consumer, rids[1]))


def test_registration_refuses_a_bad_batch_verifier(world):
    register = world.market.register_model
    # the four-input verifier is a batch of one: not a batch statement
    single_as_batch, _ = deploy_batch_verifier(world.w3, world.keys.single_pk.verifying_key(), world.deployer)
    # 19 inputs: the layout of no batch size (15 requests have 18, 16 have 20)
    unpacked, _ = deploy_batch_verifier(
        world.w3, _key_with_inputs(world.keys.single_pk.verifying_key(), 19), world.deployer
    )
    for verifiers in ([single_as_batch.address], [unpacked.address], [world.batch_verifier.address] * 2):
        refused(
            world,
            "BadBatchVerifier",
            lambda v=verifiers: register(
                world.provider, world.keys.commitment, world.verifier.address, PRICE, batch_verifiers=v
            ),
        )
    # batch verifiers answer inference requests: a model with none cannot name them
    refused(
        world,
        "BadBatchVerifier",
        lambda: register(
            world.provider,
            world.keys.commitment,
            "",
            PRICE,
            accuracy_verifier=world.verifier.address,
            batch_verifiers=[world.batch_verifier.address],
        ),
    )
    # the contract counts a batch statement's public inputs as the circuit lays them out
    count = world.market.marketplace.functions.batchInputCount
    assert [count(n).call() for n in range(1, 65)] == [S.batch_public_input_count(n) for n in range(1, 65)]
    record = world.market.model(world.model)
    assert record.batch_verifiers == (world.batch_verifier.address,)
    assert world.market.batch_verifier(world.model, BATCH) == world.batch_verifier.address
    assert world.market.batch_verifier(world.model, 8) is None


def _key_with_inputs(vk, n: int):
    """``vk`` with n public inputs (its IC points repeated): a key of the wrong shape."""
    import dataclasses

    import numpy as np

    ic = np.concatenate([vk.ic] * (n // (len(vk.ic) - 1) + 1))[: n + 1]
    return dataclasses.replace(vk, ic=ic)


def _evm(proof):
    from marketplace.contracts import proof_to_evm

    return proof_to_evm(proof)
