"""The provider agent's batch statements on the in-process chain with real proofs: a model
registered with an accuracy and a retrieval verifier (keys with a phase-2 contribution from the
auditor and the requester), a pool checked and accepted and an audit on it answered from the
pool file and attested, a retrieval answered from the corpus file and delivered; and the
refusals before any transaction (a pool with wrong labels, a file that is not the registered
one, a challenge about another model, a statement the model was not registered with), the late
and the second answer.

The model is test_marketplace's small Gemm-ReLU-Gemm network, with the known-secret phase 1
(test keys, never real ones). Slow: each answer is a pairing check on py-evm."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from support.models import STATEMENT_ITEMS, STATEMENT_SAMPLES

from marketplace.agents.provider import Provider, ProviderError
from marketplace.audit import Audit, ChallengeStatus, write_pool
from marketplace.chain import advance_time, connect, latest_timestamp
from marketplace.contracts import ContractRevert, Market
from marketplace.retrieval import (
    Delivery,
    RequestStatus,
    Retrieval,
    check_delivery,
    read_delivery,
    write_corpus,
    write_delivery,
)
from marketplace.setup.pipeline import SetupError, prepare_statement
from marketplace.store import ProviderStore
from prover.circuit import accuracy as A
from prover.circuit.retrieval import corpus_commitment, matching_items
from prover.errors import VerificationError
from prover.onnx import executor

pytestmark = pytest.mark.slow
SAMPLES, ITEMS = STATEMENT_SAMPLES, STATEMENT_ITEMS  # the sizes of conftest's keys fixture
WINDOW, UNBONDING = 3600, 7200
BOND, FEE, PAYMENT = 10**17, 10**15, 2 * 10**15
QUIET = {"log": lambda m: None, "progress": False}


def _log():
    return {"log": lambda m: None}


@pytest.fixture
def world(keys, tmp_path):
    w3 = connect()
    deployer, provider_account, _, auditor, requester, stranger = w3.eth.accounts[:6]
    market = Market.deploy(w3, deployer)
    provider = Provider(
        market,
        provider_account,
        keys["served"],
        ProviderStore(tmp_path / "provider"),
        statements=[keys["accuracy"], keys["retrieval"]],
        **QUIET,
    )
    model_id = provider.register(10**15, metadata_uri="http://127.0.0.1:1")
    audit = Audit.deploy(w3, market.registry.address, WINDOW, UNBONDING, sender=deployer)
    retrieval = Retrieval.deploy(w3, market.registry.address, sender=deployer)
    graph = keys["served"].graph
    x = executor.quantize_input(graph, keys["calibration"][:ITEMS])
    return {
        "w3": w3,
        "market": market,
        "provider": provider,
        "model_id": model_id,
        "audit": audit,
        "retrieval": retrieval,
        "auditor": auditor,
        "requester": requester,
        "stranger": stranger,
        "graph": graph,
        "x": x,
        "tmp": tmp_path,
        "keys": keys,
    }


def _pool(world, labels, accept=True):
    """The auditor registers a pool of the first inputs with ``labels`` and publishes its file;
    the provider stakes and (``accept``) checks and accepts the pool. Returns (pool id, path)."""
    graph, x = world["graph"], world["x"][: len(labels)]
    path = write_pool(world["tmp"] / "pool.npz", x, labels)
    pool_id = world["audit"].register_pool(world["auditor"], A.pool_root(graph, x, labels), len(labels), str(path))
    if world["audit"].stake_of(world["model_id"]).bond == 0:
        world["provider"].stake(world["audit"], 6_000, BOND)
    if accept:
        world["provider"].accept_pool(world["audit"], pool_id, path)
    return pool_id, path


def _challenge(world, labels):
    pool_id, path = _pool(world, labels)
    return world["audit"].challenge(world["auditor"], world["model_id"], pool_id, FEE), path


def _predicted(world, n):
    return executor.argmax_label(executor.execute(world["graph"], world["x"][:n])[world["graph"].output])


def test_statement_keys_carry_their_partys_contribution_and_are_reused(keys):
    for kind, trusted in (("accuracy", keys["auditor_trusts"]), ("retrieval", keys["requester_trusts"])):
        key = keys[kind]
        assert key.path.exists() and len(key.proving_key.mpc_params["contributions"]) == 1
        assert len(trusted) == 1
    lines = []
    again = prepare_statement(
        keys["served"],
        "accuracy",
        SAMPLES,
        participants=[_NamedParticipant("auditor")],
        phase1="known-secret",
        cache_dir=keys["cache"],
        log=lines.append,
        progress=False,
    )
    assert any("reused" in line for line in lines) and again.path == keys["accuracy"].path
    # another size is another circuit and another key
    with pytest.raises(SetupError, match="at least one"):
        prepare_statement(keys["served"], "accuracy", 0, phase1="known-secret", cache_dir=keys["cache"], **QUIET)


class _NamedParticipant:
    """A participant whose key file exists already: contributing again would be a bug."""

    def __init__(self, name):
        self.name = name

    def contribute_phase2(self, proving_key, progress=False):
        raise AssertionError("a cached statement key was contributed to again")


def test_registration_names_both_statement_verifiers(world):
    market, provider = world["market"], world["provider"]
    registry = market.registry.functions
    for index, kind in ((1, "accuracy"), (2, "retrieval")):
        address = registry.verifierFor(world["model_id"], index).call()
        assert address == provider.state.statements[kind]["verifier"] != "0x" + "00" * 20
        assert provider.state.statements[kind]["size"] == {"accuracy": SAMPLES, "retrieval": ITEMS}[kind]
    saved = provider.store.load()
    assert saved.statements == provider.state.statements


def test_audit_is_answered_from_the_pool_file_and_attested(world):
    labels = _predicted(world, ITEMS)
    cid, path = _challenge(world, labels)
    assert world["provider"].answer_audit(world["audit"], cid, path) == ChallengeStatus.PASSED  # drawn by it
    record = world["audit"].status(cid)
    assert record.bonded and record.correct == SAMPLES == record.samples
    (attestation,) = world["audit"].attestations(world["model_id"])
    assert (attestation.samples, attestation.correct, attestation.challenge_id, attestation.bonded) == (
        SAMPLES,
        SAMPLES,
        cid,
        True,
    )
    assert world["audit"].owed(world["provider"].account) == FEE
    # a second answer is refused before any transaction
    block = world["w3"].eth.block_number
    with pytest.raises(VerificationError, match="passed: nothing to answer"):
        world["provider"].answer_audit(world["audit"], cid, path)
    assert world["w3"].eth.block_number == block


def test_a_pool_with_wrong_labels_is_not_accepted_and_cannot_take_the_bond(world):
    labels = (_predicted(world, ITEMS) + 1) % 4
    block = world["w3"].eth.block_number
    with pytest.raises(ProviderError, match="not accepted"):
        _pool(world, labels)
    pool_id, path = _pool(world, labels, accept=False)
    assert world["w3"].eth.block_number == block + 3  # the pool twice and the stake: no acceptance
    assert not world["audit"].accepts(world["model_id"], pool_id)
    cid = world["audit"].challenge(world["stranger"], world["model_id"], pool_id, FEE)
    assert not world["audit"].status(cid).bonded
    world["audit"].draw(world["stranger"], cid)
    advance_time(world["w3"], WINDOW + 1)
    world["audit"].expire(world["stranger"], cid)
    assert world["audit"].owed(world["stranger"]) == FEE  # its fee back, nothing more
    assert world["audit"].stake_of(world["model_id"]).bond == BOND


def test_a_pool_file_that_is_not_the_registered_one_is_refused_before_any_transaction(world):
    labels = _predicted(world, ITEMS)
    cid, path = _challenge(world, labels)
    write_pool(path, world["x"][:ITEMS], (labels + 1) % 4)  # the file changed after the registration
    block = world["w3"].eth.block_number
    with pytest.raises(VerificationError, match="not the registered pool"):
        world["provider"].answer_audit(world["audit"], cid, path)
    assert world["w3"].eth.block_number == block
    assert world["audit"].status(cid).status == ChallengeStatus.WAITING


def test_a_late_answer_is_refused_by_the_contract(world):
    cid, path = _challenge(world, _predicted(world, ITEMS))
    world["audit"].draw(world["auditor"], cid)
    advance_time(world["w3"], WINDOW + 1)
    with pytest.raises(ContractRevert) as info:
        world["provider"].answer_audit(world["audit"], cid, path)
    assert info.value.error == "DeadlinePassed"
    assert world["audit"].status(cid).status == ChallengeStatus.DRAWN
    assert world["audit"].owed(world["provider"].account) == 0


def _retrieval_request(world, cls):
    corpus = world["x"]
    path = write_corpus(world["tmp"] / "corpus.npz", corpus)
    retrieval = world["retrieval"]
    corpus_id = retrieval.register_corpus(world["provider"].account, corpus_commitment(world["graph"], corpus), ITEMS)
    rid = retrieval.request(
        world["requester"], world["model_id"], corpus_id, cls, latest_timestamp(world["w3"]) + WINDOW, PAYMENT
    )
    return rid, path


def test_retrieval_is_answered_from_the_corpus_file_and_the_delivery_checks(world):
    cls = int(np.bincount(_predicted(world, ITEMS)).argmax())
    rid, path = _retrieval_request(world, cls)
    delivery = world["tmp"] / "delivery.npz"
    # a delivery left by an earlier answer to this request whose fulfil did not land (or is
    # still pending): the retry keeps its salt, so the file is right whichever answer lands
    earlier_salt = 0xE4711E4 << 160
    write_delivery(delivery, Delivery(rid, np.zeros(0, dtype=np.int64), world["x"][:0], earlier_salt))
    positions = world["provider"].answer_retrieval(world["retrieval"], rid, path, delivery)
    assert positions == [int(i) for i in matching_items(world["graph"], world["x"], cls)] and positions
    record = world["retrieval"].request_of(rid)
    assert record.status == RequestStatus.FULFILLED and record.returned_size == len(positions)
    delivered = read_delivery(delivery)
    check_delivery(world["graph"], ITEMS, delivered, rid, record)
    assert (delivered.items == world["x"][positions]).all() and delivered.request_id == rid
    assert delivered.salt == earlier_salt
    # the salt is the proof's: the same items under another salt are refused
    with pytest.raises(VerificationError, match="salt"):
        check_delivery(world["graph"], ITEMS, dataclasses.replace(delivered, salt=delivered.salt ^ 1), rid, record)
    assert world["retrieval"].owed(world["provider"].account) == PAYMENT
    with pytest.raises(VerificationError, match="fulfilled: nothing to answer"):
        world["provider"].answer_retrieval(world["retrieval"], rid, path, delivery)
    assert read_delivery(delivery).salt == delivered.salt  # the refused second answer left the file alone


def test_a_corpus_file_that_is_not_the_registered_one_is_refused_before_proving(world):
    rid, path = _retrieval_request(world, 1)
    changed = world["x"].copy()
    changed[2, 0] += 1
    write_corpus(path, changed)
    block = world["w3"].eth.block_number
    with pytest.raises(VerificationError, match="is not corpus"):
        world["provider"].answer_retrieval(world["retrieval"], rid, path, world["tmp"] / "delivery.npz")
    assert world["w3"].eth.block_number == block
    assert not (world["tmp"] / "delivery.npz").exists()
    assert world["retrieval"].request_of(rid).status == RequestStatus.OPEN


def test_a_model_registered_without_statements_answers_none(keys, tmp_path):
    w3 = connect()
    deployer, plain_account, full_account, auditor = w3.eth.accounts[:4]
    market = Market.deploy(w3, deployer)
    plain = Provider(market, plain_account, keys["served"], ProviderStore(tmp_path / "plain"), **QUIET)
    plain.register(10**15, metadata_uri="http://127.0.0.1:1")
    audit = Audit.deploy(w3, market.registry.address, WINDOW, UNBONDING, sender=deployer)
    with pytest.raises(ProviderError, match="register it with --accuracy-samples"):
        plain.stake(audit, 5_000, BOND)
    with pytest.raises(ContractRevert) as info:  # no accuracy verifier: nothing to stake on
        audit.stake(plain_account, plain.model_id, 5_000, SAMPLES, BOND)
    assert info.value.error == "AccuracyUnsupported"
    full = Provider(
        market, full_account, keys["served"], ProviderStore(tmp_path / "full"), statements=[keys["accuracy"]], **QUIET
    )
    full.register(10**15, metadata_uri="http://127.0.0.1:1")
    full.stake(audit, 5_000, BOND)
    assert audit.stake_of(full.model_id).samples == SAMPLES  # the registered circuit's count
    graph = keys["served"].graph
    x = executor.quantize_input(graph, keys["calibration"][:ITEMS])
    labels = np.zeros(ITEMS, dtype=np.int64)
    path = write_pool(tmp_path / "t.npz", x, labels)
    pool_id = audit.register_pool(auditor, A.pool_root(graph, x, labels), ITEMS, str(path))
    cid = audit.challenge(auditor, full.model_id, pool_id, FEE)
    # a challenge about another provider's model is not this provider's to answer
    with pytest.raises(ProviderError, match="not this provider's"):
        plain.answer_audit(audit, cid, path)
    # the right provider, started without its statement keys, says how to get them
    forgetful = Provider(market, full_account, keys["served"], ProviderStore(tmp_path / "full"), **QUIET)
    with pytest.raises(ProviderError, match="register it with --accuracy-samples"):
        forgetful.answer_audit(audit, cid, path)
    assert audit.status(cid).status == ChallengeStatus.WAITING
