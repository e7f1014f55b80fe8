"""The clients' setup checks (marketplace.setup.check) against dishonest providers, on the
in-process chain with the real contracts and channel:

- a 1-constraint circuit with four free public inputs, whose ceremony holds the consumer's own
  phase-2 contribution and whose card carries the real model commitment and architecture, passes
  the ceremony checks alone (its verifier "verifies" whatever label it is told) and is refused by
  ``inspect``, which rebuilds the circuit from the architecture; so is the real circuit published
  beside a key for that other circuit; the honest model passes;
- a card whose architecture is not the registered one (or that has none) is refused;
- an always-true contract registered as the accuracy and the retrieval verifier is refused by
  the auditor's and the requester's clients before anything is paid, a key for another size
  too; the honest statement verifiers pass (slow: their circuits are rebuilt and their keys
  verified).

The model is test_marketplace's small Gemm-ReLU-Gemm network, with the known-secret phase 1."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
from support.models import PRICE, STATEMENT_ITEMS, STATEMENT_SAMPLES, register_served

from marketplace.agents.consumer import Consumer
from marketplace.agents.provider import Provider
from marketplace.audit import Audit
from marketplace.chain import connect
from marketplace.contracts import Market, deploy, deploy_verifier
from marketplace.retrieval import Retrieval
from marketplace.setup.check import (
    check_verifier_code,
    r1cs_bytes,
    rebuilt_graph,
    verify_transcripts,
)
from marketplace.setup.pipeline import ServedModel, phase1_ptau, setup_transcript_hash
from marketplace.store import ProviderStore, sha256_file
from prover.circuit.builder import Builder
from prover.circuit.statements import (
    PUBLIC_INPUTS,
    architecture_graph,
    architecture_hash,
    architecture_spec,
    inference_circuit,
)
from prover.errors import FormatError, VerificationError
from prover.formats import read_ptau, write_r1cs, write_zkey
from prover.groth16 import qap
from prover.groth16.setup import setup

# each test sets up or rebuilds circuits and keys: minutes in all
pytestmark = pytest.mark.slow

QUIET = {"log": lambda m: None, "progress": False}


def free_inputs_circuit():
    """The attack's circuit: the inference statement's four public inputs, none constrained, and
    one constraint on a private wire. Whoever proves with its key chooses every public input."""
    b = Builder()
    free = b.input("free", (4,), field=True)
    for i, name in enumerate(PUBLIC_INPUTS):
        b.public(name, free[i])
    y = b.input("y", ())
    b.constrain(y, y, y)
    return b.finish()


def dishonest_provider(env, account_index: int, r1cs_file, ptau_file, pk, name: str) -> tuple[Provider, int]:
    """A provider registering the real model commitment and architecture with the key ``pk``
    (and publishing ``r1cs_file`` as its circuit, ``ptau_file`` as its phase 1), its channel open."""
    served, tmp = env["served"], env["tmp"]
    setup_dir = tmp / name
    setup_dir.mkdir()
    shutil.copy(r1cs_file, setup_dir / "circuit.r1cs")
    shutil.copy(ptau_file, setup_dir / "phase1.ptau")
    write_zkey(pk, setup_dir / "circuit.zkey")
    ptau = read_ptau(setup_dir / "phase1.ptau")
    card = {
        **served.card,
        "files": {f: sha256_file(setup_dir / f) for f in ("circuit.r1cs", "phase1.ptau", "circuit.zkey")},
        "setup_transcript_hash": "0x" + setup_transcript_hash(ptau, pk).hex(),
    }
    model = ServedModel(served.graph, served.circuit, pk, setup_dir, card)
    provider = Provider(
        env["market"], env["w3"].eth.accounts[account_index], model, ProviderStore(tmp / f"{name}-state"), **QUIET
    )
    provider.open_channel()
    return provider, provider.register(PRICE)


def test_the_architecture_spec_is_the_hash_preimage_and_rebuilds_the_circuit(world):
    graph = world["served"].graph
    spec = json.loads(json.dumps(world["served"].card["architecture"]))  # as a client receives it
    assert spec == architecture_spec(graph)
    rebuilt = architecture_graph(spec)
    assert architecture_hash(rebuilt) == architecture_hash(graph)
    assert r1cs_bytes(inference_circuit(rebuilt).r1cs) == r1cs_bytes(world["served"].circuit.r1cs)
    # a malformed spec is a typed error, not a crash
    with pytest.raises(FormatError, match="architecture spec"):
        architecture_graph({**spec, "tensors": {"x": "not a tensor"}})
    bad = json.loads(json.dumps(spec))
    name = next(iter(bad["constants"]))
    bad["constants"][name][0] = [1 << 20, 1 << 20]
    with pytest.raises(FormatError, match="values in all"):
        architecture_graph(bad)


def test_a_one_constraint_circuit_with_free_public_inputs_is_refused(world):
    consumer, served, tmp = world["consumer"], world["served"], world["tmp"]
    fake = free_inputs_circuit().r1cs
    power = qap.domain_size(fake.n_constraints, fake.n_public).bit_length() - 1
    # a real phase-1 ceremony holding the consumer's own contribution (tiny: the circuit is)
    ptau = phase1_ptau(power, [consumer], tmp / "cache", mode="ceremony", progress=False)
    (ptau_file,) = (tmp / "cache" / "ptau").glob(f"phase1_{power}_*.ptau")
    pk = consumer.contribute_phase2(setup(fake, ptau))  # and its own phase-2 contribution
    write_r1cs(fake, tmp / "fake.r1cs")
    # the attack: relative to the provider's own circuit, every ceremony check passes, with no
    # insecure flag
    verify_transcripts(fake, ptau, pk, consumer._trust(), insecure_phase1=False, what="the fake")
    provider, model_id = dishonest_provider(world, 5, tmp / "fake.r1cs", ptau_file, pk, "fake")
    try:
        record = world["market"].model(model_id)
        assert record.model_commitment == served.model_commitment
        assert record.architecture_hash == world["market"].model(world["model_id"]).architecture_hash
        check_verifier_code(world["w3"], consumer.account, record.inference_verifier, pk)
        # ... and inspect refuses it, because the circuit rebuilt from the architecture is not it
        with pytest.raises(VerificationError, match="not the inference circuit of the registered architecture"):
            consumer.inspect(model_id)
    finally:
        provider.close()

    # the real circuit published beside that key: the key is verified against the rebuilt circuit
    provider, model_id = dishonest_provider(world, 6, served.setup_dir / "circuit.r1cs", ptau_file, pk, "fake-key")
    try:
        with pytest.raises(VerificationError, match="cannot be the rebuilt circuit|another circuit"):
            consumer.inspect(model_id)
    finally:
        provider.close()
    # the twin: the honest model passes the same checks
    assert consumer.inspect(world["model_id"], insecure_phase1=True).setup_checked


def test_a_card_whose_architecture_is_not_the_registered_one_is_refused(world, tmp_path):
    provider, consumer = (
        world["provider"],
        Consumer(world["market"], world["consumer"].account, state_dir=tmp_path / "fresh", log=lambda m: None),
    )
    consumer.trusted["phase2"] = list(world["consumer"].trusted["phase2"])  # trusts the key, has checked nothing
    card = provider.model.card
    spec = json.loads(json.dumps(card["architecture"]))
    first = min(spec["tensors"])
    spec["tensors"][first][1] += 1  # another scale: another architecture, another hash
    try:
        provider.model = dataclasses.replace(provider.model, card={**card, "architecture": spec})
        with pytest.raises(VerificationError, match="does not hash to the architecture hash registered"):
            consumer.inspect(world["model_id"], insecure_phase1=True)
        provider.model = dataclasses.replace(
            provider.model, card={k: v for k, v in card.items() if k != "architecture"}
        )
        with pytest.raises(VerificationError, match="publishes no architecture"):
            consumer.inspect(world["model_id"], insecure_phase1=True)
        with pytest.raises(VerificationError, match="does not hash"):
            rebuilt_graph({"architecture": spec}, world["market"].model(world["model_id"]).architecture_hash)
    finally:
        provider.model = dataclasses.replace(provider.model, card=card)
    assert consumer.inspect(world["model_id"], insecure_phase1=True).setup_checked


# --- the statement verifiers -----------------------------------------------------------------

SAMPLES, ITEMS = STATEMENT_SAMPLES, STATEMENT_ITEMS  # the sizes of conftest's keys fixture


@pytest.fixture(scope="module")
def always_true_artifact(compiled_contracts):
    return compiled_contracts["AlwaysTrueVerifier"]


def register_on_new_chain(served, tmp_path, *, statements=(), statement_verifier=None, artifact=None):
    """A fresh chain with a provider of ``served`` (channel open) registered with the statement
    keys ``statements``; with ``statement_verifier="always-true"`` the accuracy and retrieval
    verifiers it registers are instead one AlwaysTrueVerifier. Returns the parts."""
    w3 = connect()
    deployer, provider_account = w3.eth.accounts[:2]
    market = Market.deploy(w3, deployer)
    provider = Provider(
        market, provider_account, served, ProviderStore(tmp_path / "provider"), statements=statements, **QUIET
    )
    provider.open_channel()
    if statement_verifier is None:
        model_id = provider.register(PRICE)
    else:
        always_true, _ = deploy(w3, "AlwaysTrueVerifier", sender=provider_account, artifact=artifact)
        # an all-zero "proof" of anything passes it
        assert always_true.functions.verifyProof([0, 0], [[0, 0], [0, 0]], [0, 0], [0, 0, 0, 0]).call() is True
        verifier, _ = deploy_verifier(w3, served.proving_key.verifying_key(), provider_account)
        model_id = register_served(
            market,
            provider,
            served,
            verifier.address,
            accuracy_verifier=always_true.address,
            retrieval_verifier=always_true.address,
        )
    audit = Audit.deploy(w3, market.registry.address, 3600, 3 * 3600, sender=deployer)
    retrieval = Retrieval.deploy(w3, market.registry.address, sender=deployer)
    return {
        "w3": w3,
        "market": market,
        "provider": provider,
        "model_id": model_id,
        "settlement": {"accuracy": audit, "retrieval": retrieval},
    }


def clients(chain, state_root, trusted: dict | None = None):
    """The auditor's and the requester's clients on ``chain`` (their trust from ``state_root``)."""
    w3, market = chain["w3"], chain["market"]
    return {
        "accuracy": (
            Consumer(market, w3.eth.accounts[3], name="auditor", state_dir=state_root / "auditor", log=lambda m: None),
            SAMPLES,
        ),
        "retrieval": (
            Consumer(
                market, w3.eth.accounts[4], name="requester", state_dir=state_root / "requester", log=lambda m: None
            ),
            ITEMS,
        ),
    }


def test_an_always_true_statement_verifier_without_published_keys_is_refused(world, always_true_artifact, tmp_path):
    chain = register_on_new_chain(
        world["served"], tmp_path, statement_verifier="always-true", artifact=always_true_artifact
    )
    try:
        for kind, (client, size) in clients(chain, tmp_path).items():
            balance = chain["w3"].eth.get_balance(client.account)
            with pytest.raises(VerificationError, match=f"publishes no {kind} key"):
                client.check_statement(
                    chain["model_id"], kind, size, insecure_phase1=True, settlement=chain["settlement"][kind]
                )
            assert chain["w3"].eth.get_balance(client.account) == balance  # nothing paid, not even gas
    finally:
        chain["provider"].close()


def test_statement_verifiers_are_checked_against_the_rebuilt_circuits(keys, always_true_artifact, tmp_path):
    """The honest accuracy and retrieval verifiers pass the auditor's and the requester's
    checks; the same published keys beside an always-true contract, a key of another size, a
    client without a contribution in the key and a settlement contract of another registry are
    refused."""
    served, statements = keys["served"], [keys["accuracy"], keys["retrieval"]]
    state_root = keys["cache"].parent  # where test_provider_statements' auditor and requester keep their trust
    honest = register_on_new_chain(served, tmp_path / "honest", statements=statements)
    forged = register_on_new_chain(
        served,
        tmp_path / "forged",
        statements=statements,
        statement_verifier="always-true",
        artifact=always_true_artifact,
    )
    try:
        w3 = honest["w3"]
        other = Market.deploy(w3, w3.eth.accounts[0])  # settlement contracts of another registry
        elsewhere = {
            "accuracy": Audit.deploy(w3, other.registry.address, 3600, 3 * 3600, sender=w3.eth.accounts[0]),
            "retrieval": Retrieval.deploy(w3, other.registry.address, sender=w3.eth.accounts[0]),
        }
        card = honest["provider"]._card()[1]
        assert {k: v["size"] for k, v in card["statements"].items()} == {"accuracy": SAMPLES, "retrieval": ITEMS}
        assert set(card["statements"]["accuracy"]["files"]) == {"accuracy.zkey"}  # known secret: no ptau
        for kind, (client, size) in clients(forged, state_root).items():
            with pytest.raises(VerificationError, match="does not embed the published key"):
                client.check_statement(
                    forged["model_id"], kind, size, insecure_phase1=True, settlement=forged["settlement"][kind]
                )
        for kind, (client, size) in clients(honest, state_root).items():
            settlement = honest["settlement"][kind]
            with pytest.raises(VerificationError, match="you need"):
                client.check_statement(honest["model_id"], kind, size + 1, insecure_phase1=True, settlement=settlement)
            with pytest.raises(VerificationError, match="no phase-1 powers of tau"):
                client.check_statement(honest["model_id"], kind, size, settlement=settlement)
            with pytest.raises(VerificationError, match="not the one it calls"):
                client.check_statement(honest["model_id"], kind, size, insecure_phase1=True, settlement=elsewhere[kind])
            stranger = Consumer(
                honest["market"], honest["w3"].eth.accounts[5], state_dir=tmp_path / "stranger", log=lambda m: None
            )
            with pytest.raises(VerificationError, match="no phase-2 contribution you trust"):
                stranger.check_statement(honest["model_id"], kind, size, insecure_phase1=True, settlement=settlement)
            client.check_statement(honest["model_id"], kind, size, insecure_phase1=True, settlement=settlement)
    finally:
        honest["provider"].close()
        forged["provider"].close()


def test_batch_verifiers_are_checked_like_the_inference_verifier(world, tmp_path):
    """A model's batch verifier can settle the consumer's requests, so ``inspect`` checks it as
    it checks the inference verifier: the honest one passes (its circuit rebuilt for the
    published batch size, its key and data contract compared, its ceremony verified); a batch
    verifier of another key beside the published one is refused, and so is a consumer with no
    contribution in the batch key."""
    from marketplace.contracts import deploy_batch_verifier
    from marketplace.setup.pipeline import prepare_statement

    served, consumer = world["served"], world["consumer"]
    common = {"phase1": "known-secret", "cache_dir": tmp_path / "cache", **QUIET}
    key = prepare_statement(served, "batch", 2, participants=[consumer], **common)
    honest = register_on_new_chain(served, tmp_path / "honest", statements=[key])
    try:
        record = honest["market"].model(honest["model_id"])
        assert len(record.batch_verifiers) == 1
        checker = Consumer(
            honest["market"], honest["w3"].eth.accounts[2], state_dir=consumer.state_dir, log=lambda m: None
        )
        assert checker.inspect(honest["model_id"], insecure_phase1=True).setup_checked
        # a batch key nobody this consumer trusts contributed to: its inference check passes, the batch one not
        other = prepare_statement(served, "batch", 2, participants=[], **common)
        untrusted = register_on_new_chain(served, tmp_path / "untrusted", statements=[other])
        try:
            client = Consumer(
                untrusted["market"], untrusted["w3"].eth.accounts[2], state_dir=consumer.state_dir, log=lambda m: None
            )
            with pytest.raises(VerificationError, match="batch statement: no phase-2 contribution you trust"):
                client.inspect(untrusted["model_id"], insecure_phase1=True)
        finally:
            untrusted["provider"].close()

        # the honest card, and a batch verifier of that other key
        w3, market = honest["w3"], honest["market"]
        provider = honest["provider"]
        single, _ = deploy_verifier(w3, served.proving_key.verifying_key(), provider.account)
        forged, _ = deploy_batch_verifier(w3, other.proving_key.verifying_key(), provider.account)
        model_id = register_served(market, provider, served, single.address, batch_verifiers=[forged.address])
        with pytest.raises(VerificationError, match="does not hold the published key|not the shipped"):
            checker.inspect(model_id, insecure_phase1=True)

        # a batch verifier beside a card that publishes no batch key cannot be checked: refused
        bare, _ = deploy_batch_verifier(world["w3"], key.proving_key.verifying_key(), world["provider"].account)
        single, _ = deploy_verifier(world["w3"], served.proving_key.verifying_key(), world["provider"].account)
        unpublished = register_served(
            world["market"], world["provider"], served, single.address, batch_verifiers=[bare.address]
        )
        with pytest.raises(VerificationError, match="publishes no batch key"):
            consumer.inspect(unpublished, insecure_phase1=True)
    finally:
        honest["provider"].close()
