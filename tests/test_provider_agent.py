"""The provider agent's robustness on the in-process chain (issue 11, findings 8-10):

- a poison request (an in-range input whose witness overflows a rescale) ends ``failed`` with
  its reason, refused when it arrives (or, accepted by an older provider, after one witness
  attempt), shows in ``zkmarket provider status``, is never computed again (not on the next
  poll, not after its refund, not after a restart: the witness attempts are counted) and its
  consumer gets the refund;
- a fulfil landed by another account with the provider's own calldata (the call is
  permissionless), before the provider read the request or just before its own fulfil,
  still delivers the logits, and so does the provider's own fulfil whose receipt
  a restart lost; the twin: a fulfil of *another* result (a forged proof) is not taken as ours;
- a deadline too short to prove in is refused when the input arrives (409, nothing proved), the
  card publishes the minimum, and the consumer refuses to open a request with a shorter timeout;
- a proved record (proof, reason, times) round-trips through the store, and an older record loads.

The model's setup is the known-secret phase 1 without any phase-2 contribution (delta = 1), so
the tests can forge a proof of another result with the known alpha; the consumers skip the setup
check (tested in test_marketplace)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from support.forgeries import forge_proof

from marketplace import channel
from marketplace.agents.consumer import Consumer, ConsumerError
from marketplace.agents.provider import (
    CHANNEL_SLACK_S,
    FULFIL_MARGIN_S,
    INITIAL_PROOF_SECONDS,
    INITIAL_PROOF_SECONDS_PER_CONSTRAINT,
    PROOF_TIME_FACTOR,
    Provider,
    ProviderError,
)
from marketplace.chain import advance_time, connect, latest_timestamp
from marketplace.cli import main as zkmarket
from marketplace.contracts import Market, Status, proof_to_evm
from marketplace.setup.pipeline import KNOWN_SECRET, prepare_model
from marketplace.store import (
    EXPIRED,
    FAILED,
    FULFILLED,
    PROVED,
    RECEIVED,
    WAITING,
    ProviderStore,
    RequestState,
    StoreError,
)
from prover.circuit.statements import input_commitment
from prover.errors import ChainError
from prover.field import FR_MODULUS
from prover.onnx import executor

# each test serves proved requests on a chain of its own: minutes in all
pytestmark = pytest.mark.slow

PRICE = 10**15
QUIET = {"log": lambda m: None, "progress": False}


class CountingWitness:
    """The circuit's real witness builder, counting its calls."""

    def __init__(self, circuit):
        self.build, self.calls = circuit.witness, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.build(*args, **kwargs)


@pytest.fixture(scope="module")
def served(small_model):
    path, calibration, cache = small_model
    return prepare_model(path, phase1="known-secret", calibration=calibration, cache_dir=cache, **QUIET)


@pytest.fixture
def world(served, small_model, tmp_path):
    w3 = connect()
    deployer, provider_account, consumer_account, attacker = w3.eth.accounts[:4]
    market = Market.deploy(w3, deployer)
    provider = Provider(market, provider_account, served, ProviderStore(tmp_path / "provider"), **QUIET)
    provider.open_channel()
    model_id = provider.register(PRICE)
    consumer = Consumer(market, consumer_account, log=lambda m: None)
    witness = CountingWitness(served.circuit)
    served.circuit.witness = witness
    world = {
        "w3": w3,
        "market": market,
        "provider": provider,
        "consumer": consumer,
        "attacker": attacker,
        "offer": consumer.inspect(model_id, check_setup=False),
        "calibration": small_model[1],
        "witness": witness,
        "state": tmp_path / "provider",
    }
    yield world
    world["provider"].close()
    del served.circuit.witness  # the real method again


def restart(world) -> Provider:
    """Stop the provider and start a new one on the same state directory and endpoint port."""
    old = world["provider"]
    port = int(old.endpoint.rsplit(":", 1)[1])
    old.close()
    new = Provider(old.market, old.account, old.model, ProviderStore(world["state"]), **QUIET)
    new.open_channel(port=port)
    world["provider"] = new
    return new


def fetch_result(world, request_id: int):
    """The consumer's signed GET /result of ``request_id`` (None before the provider sends it)."""
    market, consumer = world["market"], world["consumer"]
    signature = channel.sign_result_request(world["w3"], consumer.account, market.marketplace.address, request_id)
    return channel.fetch_result(world["offer"].endpoint, request_id, signature)


def open_with_input(world, x_quantized: np.ndarray, salt: int = 77, seconds: int = 600) -> int:
    """Open a request for ``x_quantized`` and send its input, as ``Consumer.predict`` does."""
    offer, market = world["offer"], world["market"]
    commitment = input_commitment(offer.input_graph(), x_quantized, salt)
    request_id = market.open_request(
        world["consumer"].account, offer.model_id, commitment, latest_timestamp(world["w3"]) + seconds
    )
    assert channel.send_input(offer.endpoint, request_id, x_quantized.ravel(), salt)["status"] == "accepted"
    return request_id


def status(capsys, world) -> dict:
    assert zkmarket(["provider", "status", "--state", str(world["state"]), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_poison_request_ends_failed_for_good_and_its_consumer_is_refunded(world, capsys):
    w3, market, consumer, offer = world["w3"], world["market"], world["consumer"], world["offer"]
    tensor = world["provider"].model.graph.input_tensor
    poison = np.full(tensor.shape, 127 / 2.0**tensor.scale)  # in range, but overflows a rescale
    xq = executor.quantize_input(offer.input_graph(), poison)
    assert int(xq.max()) == 127
    logged = []
    consumer.log = logged.append
    rounds = []

    def wait():
        rounds.append(world["provider"].serve_once())
        if len(rounds) == 2:  # sending the input again is refused, with the reason
            (record,) = world["provider"].store.requests()
            with pytest.raises(channel.Refused, match="cannot be answered: the witness cannot be built"):
                channel.send_input(offer.endpoint, record.request_id, record.input, record.salt)
        if len(rounds) == 3:  # the provider restarts before the deadline passes
            restart(world)
        if len(rounds) == 5:
            advance_time(w3, 601)

    # 1. refused when it arrives (the integer executor overflows too): no witness is ever built
    prediction = consumer.predict(offer, poison, timeout=600, wait=wait)
    assert prediction.refunded and market.request(prediction.request_id).status == Status.REFUNDED
    assert any("cannot be answered: the witness cannot be built" in line for line in logged)  # told at once
    assert rounds == [[]] * 5 and world["witness"].calls == 0
    record = world["provider"].store.request(prediction.request_id)
    assert record.state == FAILED and "witness cannot be built" in record.reason and "outside" in record.reason
    assert world["provider"].serve_once() == [] and restart(world).serve_once() == [] and world["witness"].calls == 0

    # 2. a poison input a provider accepted before this rule (finding 8: it stayed received and was
    # recomputed on every poll): its witness is attempted once, then never again
    salt = 4242
    old = market.open_request(
        consumer.account, offer.model_id, input_commitment(offer.input_graph(), xq, salt), latest_timestamp(w3) + 600
    )
    world["provider"].store.put(
        RequestState(
            old,
            RECEIVED,
            market.request(old).input_commitment,
            market.request(old).deadline,
            [int(v) for v in xq.ravel()],
            salt,
        )
    )
    assert world["provider"].serve_once() == [] and world["witness"].calls == 1
    assert world["provider"].store.request(old).state == FAILED
    assert world["provider"].serve_once() == [] and restart(world).serve_once() == []
    advance_time(w3, 601)
    assert consumer.refund(old) == PRICE and world["provider"].serve_once() == []
    assert world["witness"].calls == 1 and world["provider"].store.request(old).state == FAILED

    # the twin: an input in range that the model's ranges hold is answered
    good = consumer.predict(offer, world["calibration"][0], wait=world["provider"].serve_once)
    assert not good.refunded and good.logits == [
        int(v) for v in executor.predict(world["provider"].model.graph, world["calibration"][0]).logits
    ]
    assert world["witness"].calls == 2

    report = status(capsys, world)
    assert report["totals"]["failed"] == 2 and report["totals"]["fulfilled"] == 1
    rows = {r["request_id"]: r for r in report["requests"]}
    for request_id in (prediction.request_id, old):
        assert rows[request_id]["status"] == "failed" and "outside" in rows[request_id]["reason"]
        assert "failed" in rows[request_id]["times"]
    assert rows[good.request_id]["status"] == "fulfilled" and rows[good.request_id]["gas_used"] > 0
    assert zkmarket(["provider", "status", "--state", str(world["state"])]) == 0
    table = capsys.readouterr().out
    assert "failed" in table and "the witness cannot be built" in table and "1 fulfilled, 2 failed" in table


def copy_of_fulfil(world, request_id: int, proof, label: int, output_commitment: int) -> None:
    """Another account sends a fulfil (the payment still goes to the registered provider)."""
    world["market"].fulfil(world["attacker"], request_id, proof, label, output_commitment)


def proved(world, request_id: int):
    """Let the provider read the request and prove it: the moment before its fulfil is sent."""
    provider = world["provider"]
    provider.poll_requests()
    record = provider.store.request(request_id)
    assert record.state == RECEIVED and provider._prove(record)
    record = provider.store.request(request_id)
    assert record.state == PROVED and record.logits is not None  # durable before anything is sent
    return record


def test_several_inputs_are_escrowed_at_once_and_answered_or_refunded_each(world):
    """predict_many opens one group (one transaction, one slot): the provider answers each
    request of it on its own; a poison input among them ends failed, and after the deadline
    the one refund returns its escrow only."""
    w3, market, consumer, offer = world["w3"], world["market"], world["consumer"], world["offer"]
    provider = world["provider"]
    graph = provider.model.graph
    good = [world["calibration"][i] for i in (1, 2)]
    predictions = consumer.predict_many(offer, good, wait=provider.serve_once)
    rids = [p.request_id for p in predictions]
    assert rids == [rids[0], rids[0] + 1]  # one group
    assert len(market.opened(offer.model_id, 0, w3.eth.block_number)) == 2
    for prediction, x in zip(predictions, good):
        assert not prediction.refunded and prediction.logits == [int(v) for v in executor.predict(graph, x).logits]
        assert market.request(prediction.request_id).status == Status.FULFILLED
    assert market.owed(provider.account) == 2 * PRICE

    tensor = graph.input_tensor
    poison = np.full(tensor.shape, 127 / 2.0**tensor.scale)  # in range, but overflows a rescale
    rounds = []

    def wait():
        rounds.append(provider.serve_once())
        if len(rounds) == 3:
            advance_time(w3, 601)

    before = market.owed(provider.account)
    mixed = consumer.predict_many(offer, [good[0], poison], timeout=600, wait=wait)
    assert [p.refunded for p in mixed] == [False, True]
    assert [market.request(p.request_id).status for p in mixed] == [Status.FULFILLED, Status.REFUNDED]
    assert market.owed(provider.account) == before + PRICE and market.owed(consumer.account) == 0  # withdrawn
    assert provider.store.request(mixed[1].request_id).state == FAILED
    with pytest.raises(ConsumerError, match="1 to 64 inputs"):
        consumer.predict_many(offer, [good[0]] * 65)


def test_a_copied_fulfil_and_a_lost_receipt_still_deliver_the_logits(world):
    market, offer, provider = world["market"], world["offer"], world["provider"]
    graph = offer.input_graph()
    expected = executor.predict(provider.model.graph, world["calibration"][1])

    # 1. someone lands the provider's own calldata first
    request_id = open_with_input(world, executor.quantize_input(graph, world["calibration"][1]))
    record = proved(world, request_id)
    copy_of_fulfil(world, request_id, record.proof, record.label, record.output_commitment)
    assert market.request(request_id).status == Status.FULFILLED
    answers = provider.serve_once()
    assert [(a.request_id, a.label, a.gas_used) for a in answers] == [(request_id, int(expected.label), 0)]
    record = provider.store.request(request_id)
    assert record.state == FULFILLED and "already held this provider's result" in record.reason
    result = fetch_result(world, request_id)
    assert result["logits"] == [int(v) for v in expected.logits]
    assert market.owed(provider.account) == PRICE  # the copier paid the gas, the provider got paid

    # 1b. the copy lands between the provider's read of the open request and its own fulfil (a front-run)
    request_id = open_with_input(world, executor.quantize_input(graph, world["calibration"][1]), salt=79)
    record = proved(world, request_id)
    own_fulfil = market.fulfil

    def front_run(sender, rid, proof, label, output_commitment):
        own_fulfil(world["attacker"], rid, proof, label, output_commitment)  # the copier saw the calldata
        return own_fulfil(sender, rid, proof, label, output_commitment)

    market.fulfil = front_run
    try:
        answers = provider.serve_once()  # the provider's own fulfil reverts: RequestNotOpen
    finally:
        del market.fulfil
    assert [(a.request_id, a.gas_used) for a in answers] == [(request_id, 0)]
    assert provider.store.request(request_id).state == FULFILLED
    assert fetch_result(world, request_id)["logits"] == [int(v) for v in expected.logits]
    assert market.owed(provider.account) == 2 * PRICE

    # 2. the provider's own fulfil is mined, but the provider dies before it sees the receipt
    request_id = open_with_input(world, executor.quantize_input(graph, world["calibration"][1]), salt=78)
    record = proved(world, request_id)
    market.fulfil(provider.account, request_id, record.proof, record.label, record.output_commitment)
    restarted = restart(world)
    # the consumer asks before the restarted serve loop has settled the record: it gets the logits
    assert restarted.store.request(request_id).state == PROVED
    assert fetch_result(world, request_id)["logits"] == [int(v) for v in expected.logits]
    assert [a.request_id for a in restarted.serve_once()] == [request_id]
    assert restarted.store.request(request_id).state == FULFILLED and world["witness"].calls == 3
    assert market.owed(provider.account) == 3 * PRICE

    # 3. end to end: a consumer whose request is fulfilled by a copy gets its verified logits
    def copy_first():
        for rid in provider_requests(world, RECEIVED):
            record = proved(world, rid)
            copy_of_fulfil(world, rid, record.proof, record.label, record.output_commitment)
        world["provider"].serve_once()

    prediction = world["consumer"].predict(offer, world["calibration"][2], wait=copy_first)
    assert prediction.logits == [int(v) for v in executor.predict(provider.model.graph, world["calibration"][2]).logits]


def provider_requests(world, *states) -> list[int]:
    world["provider"].poll_requests()
    return [r.request_id for r in world["provider"].store.requests(*states)]


def test_a_fulfil_of_another_result_is_not_taken_as_ours(world):
    market, offer, provider = world["market"], world["offer"], world["provider"]
    request_id = open_with_input(world, executor.quantize_input(offer.input_graph(), world["calibration"][1]))
    record = proved(world, request_id)
    # with this key's known toxic waste anyone proves any statement: a label and logits of its choice
    other_label, other_output = (record.label + 1) % 4, 12345
    public = [provider.model.model_commitment, market.request(request_id).input_commitment, other_label, other_output]
    forged = forge_proof(provider.model.proving_key, public, KNOWN_SECRET["alpha"] % FR_MODULUS, 1)
    copy_of_fulfil(world, request_id, proof_to_evm(forged), other_label, other_output)
    assert market.request(request_id).status == Status.FULFILLED

    assert fetch_result(world, request_id) is None  # the stored logits are not the chain's result
    assert provider.serve_once() == []
    record = provider.store.request(request_id)
    assert record.state == EXPIRED and "another result" in record.reason
    assert fetch_result(world, request_id) is None


def test_a_too_short_deadline_is_refused_before_proving_and_never_opened_by_the_consumer(world):
    w3, market, consumer, provider = world["w3"], world["market"], world["consumer"], world["provider"]
    constraints = provider.model.circuit.r1cs.n_constraints
    estimate = INITIAL_PROOF_SECONDS + INITIAL_PROOF_SECONDS_PER_CONSTRAINT * constraints
    minimum = math.ceil(PROOF_TIME_FACTOR * estimate + FULFIL_MARGIN_S) + CHANNEL_SLACK_S
    assert provider.state.proof_seconds == [] and provider.proof_seconds_estimate() == estimate
    card = channel.fetch_card(provider.endpoint)
    assert card["min_deadline_seconds"] == minimum
    offer = consumer.inspect(provider.model_id, check_setup=False)

    count = len(market.opened(offer.model_id, 0, w3.eth.block_number))
    with pytest.raises(ConsumerError, match=f"at least {minimum} s"):
        consumer.predict(offer, world["calibration"][0], timeout=minimum - 1)
    assert len(market.opened(offer.model_id, 0, w3.eth.block_number)) == count  # nothing escrowed

    # a request opened some other way with too short a deadline: refused when its input arrives
    graph = offer.input_graph()
    x = executor.quantize_input(graph, world["calibration"][0])
    request_id = market.open_request(
        consumer.account,
        offer.model_id,
        input_commitment(graph, x, 5),
        latest_timestamp(w3) + minimum - CHANNEL_SLACK_S - 2,
    )
    with pytest.raises(channel.Refused, match="too soon to prove"):
        channel.send_input(offer.endpoint, request_id, x.ravel(), 5)
    assert provider.serve_once() == [] and provider.store.request(request_id).state == WAITING
    assert world["witness"].calls == 0  # never proved

    # the twin: the minimum itself is accepted and answered; the measured time then replaces the estimate
    prediction = consumer.predict(offer, world["calibration"][0], timeout=minimum, wait=provider.serve_once)
    assert not prediction.refunded and world["witness"].calls == 1
    measured = provider.state.proof_seconds
    assert len(measured) == 1 and provider.proof_seconds_estimate() == measured[0]
    assert ProviderStore(world["state"]).load().proof_seconds == measured  # kept in the provider state
    assert channel.fetch_card(provider.endpoint)["min_deadline_seconds"] == provider.min_deadline_seconds()


def test_state_read_before_it_exists_is_a_typed_error_and_a_record_without_its_salt_ends_failed(world, tmp_path):
    w3, market, provider, offer = world["w3"], world["market"], world["provider"], world["offer"]
    # the typed accessors: the value once the state holds it, a typed error before
    assert provider.registered_model_id == offer.model_id
    with pytest.raises(ProviderError, match="register the model first"):
        _ = Provider(
            market, world["attacker"], provider.model, ProviderStore(tmp_path / "fresh"), **QUIET
        ).registered_model_id
    assert market.receipt is market.last_receipt and market.receipt["status"] == 1
    with pytest.raises(ChainError, match="no transaction sent"):
        _ = Market(w3, market.marketplace).receipt
    received = RequestState(9, RECEIVED, salt=5)
    assert received.received_salt == 5
    for accessor in ("proved_label", "proved_output_commitment", "proved_seconds"):
        with pytest.raises(StoreError, match="has not been proved yet"):
            getattr(received, accessor)
    # a received record whose salt is gone (a damaged file) ends failed with the reason, unproved
    tensor = provider.model.graph.input_tensor
    request_id = market.open_request(
        world["consumer"].account, offer.model_id, 123, latest_timestamp(w3) + 600, offer.price
    )
    provider.store.put(RequestState(request_id, RECEIVED, input_commitment=123, input=[0] * tensor.size))
    assert provider.answer(provider.store.request(request_id)) is None
    record = provider.store.request(request_id)
    assert record.state == FAILED and "has no salt" in record.reason and world["witness"].calls == 0
    assert market.request(request_id).status == Status.OPEN  # nothing sent: the consumer's refund stays open


def test_a_proved_record_round_trips_and_an_older_record_still_loads(tmp_path):
    store = ProviderStore(tmp_path)
    proof = [[2**254 + 1, 3], [[5, 2**253], [7, 11]], [13, 17]]
    record = RequestState(3, RECEIVED, input_commitment=2**250, deadline=99, input=[1, -2], salt=2**200)
    record.label, record.logits, record.output_commitment, record.proof = 1, [4, -5], 2**251, proof
    store.put(record.enter(PROVED))
    loaded = store.request(3)
    assert loaded == record and loaded.proof == proof and set(loaded.times) == {PROVED}
    text = (tmp_path / "requests" / "3.json").read_text()
    assert str(2**253) not in text  # big field elements are hex in the file
    # a record written before the proved/failed states (no proof, reason or times) still loads
    (tmp_path / "requests" / "4.json").write_text(
        json.dumps(
            {
                "request_id": 4,
                "state": "fulfilled",
                "input_commitment": "0x5",
                "deadline": 9,
                "input": [1],
                "salt": "0x7",
                "label": 2,
                "logits": [1, 3],
                "output_commitment": "0x9",
                "proof_seconds": 0.5,
                "gas_used": 1000,
            }
        )
    )
    old = store.request(4)
    assert old.state == FULFILLED and old.proof is None and old.reason is None and old.times == {}
    with pytest.raises(ValueError, match="unknown request state"):
        old.enter("lost")


@pytest.fixture
def batching(served, small_model, tmp_path):
    """A provider with a batch statement key of 3: one proof settles up to three requests."""
    from marketplace.setup.pipeline import prepare_statement

    w3 = connect()
    deployer, provider_account, consumer_account = w3.eth.accounts[:3]
    market = Market.deploy(w3, deployer)
    key = prepare_statement(served, "batch", 3, phase1="known-secret", cache_dir=small_model[2], **QUIET)
    store = ProviderStore(tmp_path / "provider")
    provider = Provider(market, provider_account, served, store, statements=[key], batch_wait_s=3600, **QUIET)
    provider.open_channel()
    model_id = provider.register(PRICE)
    consumer = Consumer(market, consumer_account, log=lambda m: None)
    parts = {"w3": w3, "market": market, "provider": provider, "consumer": consumer, "key": key}
    parts["offer"] = consumer.inspect(model_id, check_setup=False)
    yield parts
    parts["provider"].close()


def test_a_batching_provider_settles_its_requests_with_one_proof(batching, small_model):
    w3, market, provider, consumer = (batching[k] for k in ("w3", "market", "provider", "consumer"))
    offer, calibration = batching["offer"], small_model[1]
    graph = provider.model.graph
    assert len(market.model(offer.model_id).batch_verifiers) == 1
    # three inputs: the batch is full, one proof and one fulfilBatch settle them
    predictions = consumer.predict_many(offer, list(calibration[:3]), wait=provider.serve_once)
    for prediction, x in zip(predictions, calibration[:3]):
        assert not prediction.refunded and prediction.logits == [int(v) for v in executor.predict(graph, x).logits]
    records = [provider.store.request(p.request_id) for p in predictions]
    assert {r.state for r in records} == {FULFILLED}
    assert all(r.batch == [p.request_id for p in predictions] for r in records)
    assert len({r.gas_used for r in records}) == 1 and market.owed(provider.account) == 3 * PRICE

    # two inputs wait for a third (the wait is an hour) until a deadline is near: then a padded batch
    xq = [executor.quantize_input(offer.input_graph(), x) for x in calibration[3:5]]
    rids = [open_with_input({**batching, "consumer": consumer}, x, salt=90 + i, seconds=3600) for i, x in enumerate(xq)]
    assert provider.serve_once() == [] and {provider.store.request(r).state for r in rids} == {RECEIVED}
    slack = PROOF_TIME_FACTOR * provider.batch_seconds_estimate() + FULFIL_MARGIN_S
    advance_time(w3, 3600 - math.ceil(slack) + 5)  # the nearest deadline now leaves less than the slack

    # the node fails the fulfil (the round goes on), then the provider stops: a restart sends the stored batch
    def node_down(*args, **kwargs):
        raise ChainError("the node is down")

    market.fulfil_batch = node_down
    assert provider.serve_once() == []
    assert {provider.store.request(r).state for r in rids} == {PROVED}
    del market.fulfil_batch  # the real method again
    port = int(provider.endpoint.rsplit(":", 1)[1])
    provider.close()
    again = Provider(market, provider.account, provider.model, provider.store, statements=[batching["key"]], **QUIET)
    again.open_channel(port=port)
    batching["provider"] = again
    assert sorted(a.request_id for a in again.serve_once()) == sorted(rids)
    assert [market.request(r).status for r in rids] == [Status.FULFILLED] * 2
    assert market.owed(provider.account) == 5 * PRICE


def test_a_poison_input_in_a_batch_fails_alone(batching, small_model):
    provider, consumer, offer, market = (batching[k] for k in ("provider", "consumer", "offer", "market"))
    tensor = provider.model.graph.input_tensor
    poison = np.full(tensor.shape, 127 / 2.0**tensor.scale)  # in range, but overflows a rescale
    rounds = []
    slack = PROOF_TIME_FACTOR * provider.batch_seconds_estimate() + FULFIL_MARGIN_S

    def wait():
        rounds.append(provider.serve_once())
        if len(rounds) == 2:  # the two good inputs wait for a third until the deadline nears
            assert rounds == [[], []]
            advance_time(batching["w3"], 600 - math.ceil(slack) + 5)
        if len(rounds) == 4:
            advance_time(batching["w3"], 601)

    good, bad, other = consumer.predict_many(
        offer, [small_model[1][0], poison, small_model[1][1]], timeout=600, wait=wait
    )
    assert not good.refunded and bad.refunded and not other.refunded
    assert provider.store.request(bad.request_id).state == FAILED
    assert provider.store.request(good.request_id).batch == [good.request_id, other.request_id]  # one padded proof
    assert market.owed(provider.account) == 2 * PRICE

    # a poison input accepted before the rule that refuses it: its batch falls back to one proof each
    provider.batch_wait_s = 0  # prove what has arrived at once
    w3, graph = batching["w3"], offer.input_graph()
    xq = executor.quantize_input(graph, poison)
    old = market.open_request(
        consumer.account, offer.model_id, input_commitment(graph, xq, 4242), latest_timestamp(w3) + 600
    )
    record = market.request(old)
    provider.store.put(
        RequestState(old, RECEIVED, record.input_commitment, record.deadline, [int(v) for v in xq.ravel()], 4242)
    )
    fine = open_with_input(batching, executor.quantize_input(graph, small_model[1][2]), salt=78)
    assert [a.request_id for a in provider.serve_once()] == [fine]
    assert provider.store.request(old).state == FAILED
    assert provider.store.request(fine).state == FULFILLED and provider.store.request(fine).batch is None
