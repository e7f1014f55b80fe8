"""The marketplace agents on the in-process chain: a paid prediction proved and verified
on-chain, the input channel's refusal of an input that does not match its commitment (and the
refund that follows), a provider restart that resumes a received request, the consumer's setup
checks, and refusals before any escrow (wrong shape, too little balance).

The model is a small real ONNX network (Gemm-ReLU-Gemm) built here, so its setup takes seconds;
its phase 1 is the known-secret powers of tau (the ceremony path is in test_marketplace_ceremony)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from support.models import PRICE

from marketplace import channel
from marketplace.agents.consumer import Consumer, ConsumerError
from marketplace.agents.provider import Provider
from marketplace.chain import advance_time, latest_timestamp
from marketplace.contracts import Status, deploy_verifier
from marketplace.setup.model_folder import (
    MODEL_JSON,
    SETUP_FILES,
    VERIFICATION_KEY,
    ModelFolderError,
    model_card,
    read_model_json,
)
from marketplace.setup.pipeline import load_compiled, prepare_model
from marketplace.store import FULFILLED, RECEIVED, ProviderStore, StoreError
from prover.circuit import gadgets as G
from prover.circuit.statements import input_commitment
from prover.errors import VerificationError
from prover.groth16.setup import setup
from prover.onnx import executor
from prover.onnx.graph import InputShapeError
from prover.onnx.graph_file import GRAPH_JSON, WEIGHTS_NPZ


def calldata_of_every_transaction(w3) -> bytes:
    data = b""
    for number in range(int(w3.eth.block_number) + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            data += bytes(tx.get("input", tx.get("data", b"")))
    return data


def test_paid_prediction_is_proved_verified_and_paid(world):
    w3, market, consumer, provider = (
        world["w3"],
        world["market"],
        world["consumer"],
        world["provider"],
    )
    offer = consumer.inspect(world["model_id"], insecure_phase1=True)
    assert offer.setup_checked and offer.price == PRICE
    x = world["calibration"][3]
    before = w3.eth.get_balance(consumer.account)
    prediction = consumer.predict(offer, x, wait=provider.serve_once)

    graph = provider.model.graph
    expected = executor.predict(graph, x)
    assert not prediction.refunded
    assert prediction.label == int(expected.label)
    assert prediction.logits == [int(v) for v in expected.logits]
    record = market.request(prediction.request_id)
    assert record.status == Status.FULFILLED and record.label == prediction.label
    assert market.owed(provider.account) == PRICE
    assert before - w3.eth.get_balance(consumer.account) >= PRICE
    assert provider.withdraw() == PRICE and market.owed(provider.account) == 0
    # the input never appears on-chain: no transaction carries its packed field elements
    packed = G.pack_values(executor.quantize_input(graph, x), graph.input_tensor.bits)
    calldata = calldata_of_every_transaction(w3)
    assert all(int(v).to_bytes(32, "big") not in calldata for v in packed)
    # ... while the commitment to it does
    assert record.input_commitment.to_bytes(32, "big") in calldata


def test_an_input_not_matching_its_commitment_is_refused_and_refunded(world):
    w3, market, consumer, provider = (
        world["w3"],
        world["market"],
        world["consumer"],
        world["provider"],
    )
    offer = consumer.inspect(world["model_id"], insecure_phase1=True)
    graph = offer.input_graph()
    x = executor.quantize_input(graph, world["calibration"][0])
    salt = 1234567
    deadline = latest_timestamp(w3) + 300
    request_id = market.open_request(consumer.account, offer.model_id, input_commitment(graph, x, salt), deadline)
    other = x.copy()
    other[0] += 1
    with pytest.raises(channel.Refused, match="commitment"):
        channel.send_input(offer.endpoint, request_id, other.ravel(), salt)
    with pytest.raises(channel.Refused, match="commitment"):
        channel.send_input(offer.endpoint, request_id, x.ravel(), salt + 1)
    assert provider.serve_once() == []
    assert market.request(request_id).status == Status.OPEN
    assert provider.store.request(request_id).state == "waiting"  # seen on-chain, never proved
    # the consumer gets its escrow back after the deadline
    with pytest.raises(Exception, match="after its deadline"):
        consumer.refund(request_id)
    advance_time(w3, 301)
    assert consumer.refund(request_id) == PRICE
    assert market.request(request_id).status == Status.REFUNDED
    assert provider.serve_once() == [] and provider.store.request(request_id).state == "expired"
    # the twin: the matching input is accepted
    request_id = market.open_request(
        consumer.account, offer.model_id, input_commitment(graph, x, salt), latest_timestamp(w3) + 300
    )
    assert channel.send_input(offer.endpoint, request_id, x.ravel(), salt)["status"] == "accepted"


def test_a_restarted_provider_answers_the_request_it_received(world):
    w3, market, consumer, provider = (
        world["w3"],
        world["market"],
        world["consumer"],
        world["provider"],
    )
    offer = consumer.inspect(world["model_id"], insecure_phase1=True)
    graph = offer.input_graph()
    x = executor.quantize_input(graph, world["calibration"][5])
    salt = 99
    request_id = market.open_request(
        consumer.account, offer.model_id, input_commitment(graph, x, salt), latest_timestamp(w3) + 300
    )
    channel.send_input(offer.endpoint, request_id, x.ravel(), salt)
    provider.close()  # the provider stops before proving
    assert ProviderStore(world["tmp"] / "provider").request(request_id).state == RECEIVED

    restarted = Provider(
        market,
        provider.account,
        world["served"],
        ProviderStore(world["tmp"] / "provider"),
        log=lambda m: None,
        progress=False,
    )
    assert restarted.model_id == world["model_id"]  # registration is not repeated
    assert restarted.register(PRICE) == world["model_id"]
    answers = restarted.serve_once()
    assert [a.request_id for a in answers] == [request_id]
    assert market.request(request_id).status == Status.FULFILLED
    assert restarted.store.request(request_id).state == FULFILLED
    assert restarted.serve_once() == []  # answered once only


@pytest.mark.slow
def test_consumer_refuses_a_setup_without_its_contribution_or_with_another_verifier(world):
    market, provider = world["market"], world["provider"]
    stranger = Consumer(market, world["w3"].eth.accounts[4], state_dir=world["tmp"] / "stranger", log=lambda m: None)
    with pytest.raises(VerificationError, match="no phase-2 contribution you trust"):
        stranger.inspect(world["model_id"], insecure_phase1=True)
    with pytest.raises(VerificationError, match="no contribution"):
        world["consumer"].inspect(world["model_id"])  # the known-secret phase 1 has no transcript
    assert stranger.inspect(world["model_id"], check_setup=False).setup_checked is False

    # the same model registered with a verifier for the key before any contribution (delta = 1)
    served = world["served"]
    from prover.formats import read_ptau

    forgeable = setup(served.circuit.r1cs, read_ptau(served.setup_dir / "phase1.ptau"))
    verifier, _ = deploy_verifier(world["w3"], forgeable.verifying_key(), provider.account)
    card = served.card
    model_id = market.register_model(
        provider.account,
        served.model_commitment,
        verifier.address,
        PRICE,
        transcript_hash=bytes.fromhex(card["setup_transcript_hash"][2:]),
        metadata_uri=provider.endpoint,
    )
    with pytest.raises(VerificationError):  # the endpoint's card names model 1, and the verifier differs
        world["consumer"].inspect(model_id, insecure_phase1=True)
    with pytest.raises(VerificationError, match="does not embed the published key"):
        world["consumer"]._check_verifier(verifier.address, served.proving_key)
    world["consumer"]._check_verifier(market.model(1).inference_verifier, served.proving_key)


def test_the_provider_setup_is_a_compiled_model_folder(world):
    """prepare_model writes the one folder layout `zkmarket model compile` writes, plus the
    setup; the same reader takes it and the published card is made from its model.json."""
    served = world["served"]
    info = read_model_json(served.setup_dir)
    assert model_card(info) == served.card and info["setup"]["files"] == served.card["files"]
    files = {p.name for p in served.setup_dir.iterdir()}
    assert {MODEL_JSON, GRAPH_JSON, WEIGHTS_NPZ, VERIFICATION_KEY, *SETUP_FILES} <= files
    assert load_compiled(served.setup_dir).circuit.r1cs.n_wires == served.proving_key.n_vars
    # twin: a folder without its setup has no card to publish
    partial = {k: v for k, v in info.items() if k != "setup"}
    with pytest.raises(ModelFolderError, match="no key yet"):
        model_card(partial)


def test_a_damaged_cached_setup_is_refused_not_served(world, small_model, tmp_path):
    """A cached setup whose model.json no longer matches its model is refused with what to do;
    the intact twin is reused as it is."""
    path, calibration, cache = small_model
    copy = tmp_path / "cache"
    shutil.copytree(cache / "models", copy / "models")
    again = dict(participants=[world["consumer"]], phase1="known-secret", calibration=calibration, progress=False)
    lines: list[str] = []
    assert prepare_model(path, cache_dir=copy, log=lines.append, **again).card == world["served"].card
    assert any("setup reused" in line for line in lines)
    folder = copy / "models" / world["served"].setup_dir.name
    info = json.loads((folder / MODEL_JSON).read_text())
    info["model_commitment"] = hex(int(info["model_commitment"], 16) + 1)
    (folder / MODEL_JSON).write_text(json.dumps(info))
    with pytest.raises(ModelFolderError, match="is damaged .*remove that folder"):
        prepare_model(path, cache_dir=copy, log=lines.append, **again)


def test_bad_input_and_low_balance_are_refused_before_any_escrow(world):
    w3, market, consumer = world["w3"], world["market"], world["consumer"]
    offer = consumer.inspect(world["model_id"], insecure_phase1=True)
    count = len(market.opened(world["model_id"], 0, w3.eth.block_number))
    with pytest.raises(InputShapeError):
        consumer.predict(offer, np.zeros(15))
    with pytest.raises(Exception, match="outside the model's quantized input range"):
        consumer.predict(offer, np.full(16, 1e6))
    poor = w3.eth.accounts[5]
    balance = w3.eth.get_balance(poor)
    gas_price = w3.eth.gas_price
    w3.eth.send_transaction(
        {
            "from": poor,
            "to": w3.eth.accounts[6],
            "gas": 21000,
            "gasPrice": gas_price,
            "value": balance - PRICE // 2 - 21000 * gas_price,
        }
    )
    poor_consumer = Consumer(market, poor, log=lambda m: None)
    with pytest.raises(ConsumerError, match="fund the account"):
        poor_consumer.predict(offer, world["calibration"][0])
    assert len(market.opened(world["model_id"], 0, w3.eth.block_number)) == count


def test_channel_message_format_is_checked():
    assert channel.parse_input_message(channel.input_message(3, [1, -2], 5)) == (3, [1, -2], 5)
    for body in (
        {"request_id": 0, "input": [1], "salt": "0x1"},
        {"request_id": 1, "input": [1.5], "salt": "0x1"},
        {"request_id": 1, "input": [1], "salt": 5},
        {"request_id": 1, "input": [1], "salt": hex(2**254)},
        [1, 2],
    ):
        with pytest.raises(ValueError):
            channel.parse_input_message(body)


def test_provider_state_round_trips_and_refuses_a_corrupt_file(tmp_path):
    from marketplace.store import ProviderState, RequestState

    store = ProviderStore(tmp_path)
    assert store.load() is None
    state = ProviderState(1, "0x" + "11" * 20, "0x" + "22" * 20, model_id=7, model_commitment=2**250 + 3)
    store.save(state)
    assert store.load() == state
    record = RequestState(4, RECEIVED, input_commitment=2**253 + 1, deadline=10, input=[1, -1], salt=2**200)
    store.put(record)
    assert store.request(4) == record and store.requests(RECEIVED) == [record] and store.requests(FULFILLED) == []
    (tmp_path / "requests" / "5.json").write_text("{not json")
    with pytest.raises(StoreError, match="unreadable"):
        store.requests()
