"""The registry and the escrow on eth-tester with real proofs: a valid proof pays exactly once,
and every way of breaking a rule is refused with its custom error and moves no ether."""

from __future__ import annotations

import pytest
from support.reverts import balances, refused

from marketplace.chain import advance_time, connect, latest_timestamp
from marketplace.contracts import (
    ARTIFACTS,
    SHIPPED,
    ContractRevert,
    Market,
    Status,
    artifact_text,
    deploy,
    deploy_verifier,
    load_artifact,
    view,
)
from prover.errors import ChainError
from prover.field import FR_MODULUS

PRICE = 10**16
HOUR = 3600
EIP170_CODE_LIMIT = 24_576


class Env:
    """A fresh chain with a verifier for the toy circuit, a registry and a marketplace, and
    model "a" registered by the provider."""

    def __init__(self, circuit):
        self.w3 = connect()
        self.circuit = circuit
        accounts = self.w3.eth.accounts
        self.deployer, self.provider, self.consumer, self.stranger = self.accounts = accounts[:4]
        self.verifier, _ = deploy_verifier(self.w3, circuit.verifying_key, self.deployer)
        self.market = Market.deploy(self.w3, self.deployer)
        self.model_a = self.register("a")

    def register(self, model: str, price: int = PRICE) -> int:
        commitment = self.circuit.proof(model, "x1").model_commitment
        return self.market.register_model(
            self.provider, commitment, self.verifier.address, price, metadata_uri=f"toy://{model}"
        )

    def open(self, inp: str = "x1", model_id: int | None = None, **kw) -> int:
        commitment = self.circuit.proof("a", inp).input_commitment
        deadline = latest_timestamp(self.w3) + HOUR
        return self.market.open_request(self.consumer, model_id or self.model_a, commitment, deadline, **kw)

    def snapshot(self) -> dict:
        return balances(self)


@pytest.fixture(scope="module")
def deployed(toy_circuit):
    return Env(toy_circuit)


@pytest.fixture
def env(deployed):
    """The module's deployment, rolled back after each test (deploying a verifier runs three
    pairing checks in py-evm: seconds, so it is done once)."""
    tester = deployed.w3.provider.ethereum_tester
    snapshot = tester.take_snapshot()
    yield deployed
    tester.revert_to_snapshot(snapshot)


def fulfil(env: Env, request_id: int, proof, label=None, output=None, sender=None):
    return env.market.fulfil(
        sender or env.provider,
        request_id,
        proof.evm,
        proof.label if label is None else label,
        proof.output_commitment if output is None else output,
    )


# --- the accept path ---------------------------------------------------------------------------


def test_valid_proof_fulfils_records_and_pays_once(env):
    proof = env.circuit.proof("a", "x1")
    rid = env.open("x1")
    assert env.market.balance() == PRICE
    assert env.market.request(rid).status == Status.OPEN

    fulfil(env, rid, proof)
    record = env.market.request(rid)
    assert record.status == Status.FULFILLED
    assert (record.label, record.output_commitment) == (proof.label, proof.output_commitment)
    assert record.input_commitment == proof.input_commitment and record.escrow == 0
    assert env.market.owed(env.provider) == PRICE and env.market.owed(env.consumer) == 0

    before = env.w3.eth.get_balance(env.provider)
    assert env.market.withdraw(env.provider) == PRICE
    receipt = env.market.last_receipt
    fee = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert env.w3.eth.get_balance(env.provider) == before + PRICE - fee
    assert env.market.balance() == 0 and env.market.owed(env.provider) == 0
    assert env.market.request(env.open("x2")).label is None  # an open request has no result


def test_anyone_may_submit_the_proof_but_the_provider_is_paid(env):
    rid = env.open("x1")
    fulfil(env, rid, env.circuit.proof("a", "x1"), sender=env.stranger)
    assert env.market.owed(env.provider) == PRICE and env.market.owed(env.stranger) == 0


def test_refund_after_deadline_returns_the_escrow_to_the_consumer(env):
    rid = env.open("x1")
    advance_time(env.w3, HOUR + 1)
    env.market.refund(env.consumer, rid)
    assert env.market.request(rid).status == Status.REFUNDED
    assert env.market.owed(env.consumer) == PRICE and env.market.owed(env.provider) == 0
    assert env.market.withdraw(env.consumer) == PRICE
    assert env.market.balance() == 0


# --- proofs that must not pay ------------------------------------------------------------------


def test_tampered_proof_is_refused(env):
    proof = env.circuit.proof("a", "x1")
    rid = env.open("x1")
    a, b, c = proof.evm
    other = env.circuit.proof("b", "x2").evm
    for tampered in ((other[0], b, c), (a, b, other[2]), ([a[0], (a[1] + 1)], b, c)):
        refused(
            env,
            "InvalidProof",
            lambda t=tampered: env.market.fulfil(env.provider, rid, t, proof.label, proof.output_commitment),
        )
    fulfil(env, rid, proof)  # the untampered twin still pays
    assert env.market.owed(env.provider) == PRICE


def test_proof_for_another_input_commitment_is_refused(env):
    rid = env.open("x2")
    refused(env, "InvalidProof", lambda: fulfil(env, rid, env.circuit.proof("a", "x1")))
    fulfil(env, rid, env.circuit.proof("a", "x2"))


def test_proof_of_another_model_is_refused(env):
    rid = env.open("x1")  # for model a
    refused(env, "InvalidProof", lambda: fulfil(env, rid, env.circuit.proof("b", "x1")))
    # model b's own request accepts the same proof
    model_b = env.register("b")
    rid_b = env.open("x1", model_id=model_b)
    fulfil(env, rid_b, env.circuit.proof("b", "x1"))
    assert env.market.request(rid_b).status == Status.FULFILLED


def test_proof_with_another_label_or_output_is_refused(env):
    proof = env.circuit.proof("a", "x1")
    rid = env.open("x1")
    refused(env, "InvalidProof", lambda: fulfil(env, rid, proof, label=1 - proof.label))
    refused(env, "InvalidProof", lambda: fulfil(env, rid, proof, output=proof.output_commitment + 1))
    fulfil(env, rid, proof)
    assert env.market.request(rid).label == proof.label


def test_public_input_at_or_above_r_is_refused(env):
    proof = env.circuit.proof("a", "x1")
    rid = env.open("x1")
    err = refused(env, "PublicInputOutOfField", lambda: fulfil(env, rid, proof, label=proof.label + FR_MODULUS))
    assert err.args_ == (proof.label + FR_MODULUS,)
    refused(env, "PublicInputOutOfField", lambda: fulfil(env, rid, proof, output=proof.output_commitment + FR_MODULUS))
    refused(
        env,
        "PublicInputOutOfField",
        lambda: env.market.open_request(env.consumer, env.model_a, FR_MODULUS, latest_timestamp(env.w3) + HOUR),
    )
    refused(
        env,
        "CommitmentOutOfField",
        lambda: env.market.register_model(
            env.provider, FR_MODULUS + proof.model_commitment, env.verifier.address, PRICE
        ),
    )
    fulfil(env, rid, proof)


# --- at most one settlement --------------------------------------------------------------------


def test_second_fulfil_is_refused(env):
    proof = env.circuit.proof("a", "x1")
    rid = env.open("x1")
    fulfil(env, rid, proof)
    # its group (of one) is settled whole: the contract deleted it, its event tells the status
    err = refused(env, "UnknownRequest", lambda: fulfil(env, rid, proof))
    assert err.args_ == (rid,) and env.market.status(rid) == Status.FULFILLED
    advance_time(env.w3, HOUR + 1)
    refused(env, "UnknownRequest", lambda: env.market.refund(env.consumer, rid))
    assert env.market.owed(env.provider) == PRICE and env.market.owed(env.consumer) == 0


def test_fulfil_after_refund_is_refused(env):
    rid = env.open("x1")
    advance_time(env.w3, HOUR + 1)
    env.market.refund(env.consumer, rid)
    err = refused(env, "UnknownRequest", lambda: fulfil(env, rid, env.circuit.proof("a", "x1")))
    assert err.args_ == (rid,) and env.market.status(rid) == Status.REFUNDED
    refused(env, "UnknownRequest", lambda: env.market.refund(env.consumer, rid))


def test_fulfil_after_the_deadline_is_refused(env):
    rid = env.open("x1")
    advance_time(env.w3, HOUR + 1)
    refused(env, "DeadlinePassed", lambda: fulfil(env, rid, env.circuit.proof("a", "x1")))


def test_refund_before_the_deadline_is_refused(env):
    rid = env.open("x1")
    refused(env, "DeadlineNotReached", lambda: env.market.refund(env.consumer, rid))
    advance_time(env.w3, HOUR + 1)
    env.market.refund(env.consumer, rid)


def test_refund_by_a_stranger_is_refused(env):
    rid = env.open("x1")
    advance_time(env.w3, HOUR + 1)
    err = refused(env, "NotConsumer", lambda: env.market.refund(env.stranger, rid))
    assert err.args_ == (rid, env.stranger)
    refused(env, "NotConsumer", lambda: env.market.refund(env.provider, rid))
    env.market.refund(env.consumer, rid)


def test_unknown_request_is_refused(env):
    refused(env, "UnknownRequest", lambda: fulfil(env, 99, env.circuit.proof("a", "x1")))
    refused(env, "UnknownRequest", lambda: env.market.request(99))


# --- opening requests --------------------------------------------------------------------------


def test_wrong_payment_amount_is_refused(env):
    for value in (PRICE - 1, PRICE + 1, 0):
        err = refused(env, "WrongPayment", lambda v=value: env.open("x1", value=v))
        assert err.args_ == (PRICE, value)
    env.open("x1", value=PRICE)


def test_deadline_must_be_in_the_future(env):
    commitment = env.circuit.proof("a", "x1").input_commitment
    now = latest_timestamp(env.w3)
    refused(env, "BadDeadline", lambda: env.market.open_request(env.consumer, env.model_a, commitment, now - 1))
    # a deadline is part of the request's hashed terms, stored nowhere: any future time is one
    assert env.market.request(env.market.open_request(env.consumer, env.model_a, commitment, 2**40)).deadline == 2**40


def test_a_value_too_wide_for_its_field_is_refused_by_name(env):
    """Every narrowing cast is checked: a price of 2^80 (registration and price change) is
    refused with its own error, never stored truncated."""
    commitment = env.circuit.proof("a", "x1").model_commitment
    refused(
        env,
        "PriceTooLarge",
        lambda: env.market.register_model(env.provider, commitment, env.verifier.address, 2**80),
    )
    refused(env, "PriceTooLarge", lambda: env.market.set_price(env.provider, env.model_a, 2**80))
    env.market.set_price(env.provider, env.model_a, 2**80 - 1)
    assert env.market.model(env.model_a).price == 2**80 - 1


def test_checked_cast_refuses_a_value_that_does_not_fit(compiled_contracts):
    """Casts.toUint64, the shared checked cast (AccuracyAudit's deadlines and block numbers),
    reverts CastOverflow(value, 64) one past the top and passes the top itself."""
    w3 = connect()
    probe, _ = deploy(w3, "CastsProbe", sender=w3.eth.accounts[0], artifact=compiled_contracts["CastsProbe"])
    abis = [probe.abi]
    assert view(probe.functions.toUint64(2**64 - 1), abis) == 2**64 - 1
    with pytest.raises(ContractRevert) as info:
        view(probe.functions.toUint64(2**64), abis)
    assert (info.value.error, info.value.args_) == ("CastOverflow", (2**64, 64))


def test_price_change_applies_to_new_requests_only(env):
    rid = env.open("x1")
    env.market.set_price(env.provider, env.model_a, 3 * PRICE)
    (event,) = env.market.registry.events.PriceChanged().process_receipt(env.market.last_receipt)
    assert (event["args"]["oldPrice"], event["args"]["newPrice"]) == (PRICE, 3 * PRICE)
    refused(env, "WrongPayment", lambda: env.open("x1", value=PRICE))
    env.open("x2")  # pays the new price
    assert env.market.balance() == 4 * PRICE
    fulfil(env, rid, env.circuit.proof("a", "x1"))
    assert env.market.owed(env.provider) == PRICE


def test_only_the_provider_changes_price_or_retires(env):
    err = refused(env, "NotProvider", lambda: env.market.set_price(env.stranger, env.model_a, 1))
    assert err.args_ == (env.model_a, env.stranger)
    refused(env, "NotProvider", lambda: env.market.retire(env.consumer, env.model_a))
    refused(env, "UnknownModel", lambda: env.market.set_price(env.provider, 42, 1))


def test_retired_model_takes_no_new_requests_but_open_ones_settle(env):
    rid = env.open("x1")
    env.market.retire(env.provider, env.model_a)
    (event,) = env.market.registry.events.ModelRetired().process_receipt(env.market.last_receipt)
    assert event["args"]["modelId"] == env.model_a
    refused(env, "ModelIsRetired", lambda: env.open("x2"))
    refused(env, "ModelIsRetired", lambda: env.market.retire(env.provider, env.model_a))
    fulfil(env, rid, env.circuit.proof("a", "x1"))


def test_registration_needs_a_deployed_verifier(env):
    commitment = env.circuit.proof("a", "x1").model_commitment
    refused(env, "NoVerifier", lambda: env.market.register_model(env.provider, commitment, None, PRICE))
    err = refused(
        env, "VerifierNotDeployed", lambda: env.market.register_model(env.provider, commitment, env.stranger, PRICE)
    )
    assert err.args_ == (env.stranger,)


def test_registration_records_every_field(env):
    model = env.market.model(env.model_a)
    assert model.provider == env.provider and model.price == PRICE
    assert model.inference_verifier == env.verifier.address and model.retired is False
    assert model.model_commitment == env.circuit.proof("a", "x1").model_commitment
    assert model.metadata_uri == "toy://a"
    refused(env, "UnknownModel", lambda: env.market.model(42))


def test_model_without_an_inference_verifier_cannot_be_requested(env):
    commitment = env.circuit.proof("a", "x1").model_commitment
    accuracy_only = env.market.register_model(
        env.provider, commitment, None, PRICE, accuracy_verifier=env.verifier.address
    )
    refused(env, "InferenceUnsupported", lambda: env.open("x1", model_id=accuracy_only))


def test_withdraw_with_nothing_owed_is_refused(env):
    refused(env, "NothingToWithdraw", lambda: env.market.withdraw(env.stranger))


def test_mined_invalid_fulfil_costs_the_sender_only_gas(env):
    """Sent past the estimate (so the EVM runs it in a block), a bad proof still moves no ether
    but the sender's fee."""
    proof = env.circuit.proof("a", "x1")
    rid = env.open("x1")
    before = env.snapshot()
    a, b, c = proof.evm
    terms = env.market.terms(rid).abi()
    call = env.market.marketplace.functions.fulfil(terms, 0, a, b, c, 1 - proof.label, proof.output_commitment)
    tx = env.w3.eth.send_transaction(
        {
            "from": env.provider,
            "to": env.market.marketplace.address,
            "data": call._encode_transaction_data(),
            "gas": 400_000,
        }
    )
    receipt = env.w3.eth.wait_for_transaction_receipt(tx)
    assert receipt["status"] == 0
    after = env.snapshot()
    fee = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert after["market"] == before["market"] and after["owed"] == before["owed"]
    assert after["ether"][1] == before["ether"][1] - fee
    assert [e for i, e in enumerate(after["ether"]) if i != 1] == [e for i, e in enumerate(before["ether"]) if i != 1]
    assert env.market.request(rid).status == Status.OPEN


# --- artifacts, code size, gas -----------------------------------------------------------------


def test_shipped_artifacts_match_a_fresh_compile(compiled_contracts):
    """Every artifact (marketplace and statement contracts) comes from one compile of contracts/
    (the test-only contracts beside them change no shipped artifact)."""
    fresh = compiled_contracts
    for name in ARTIFACTS:
        assert artifact_text(load_artifact(name)) == artifact_text(fresh[name]), (
            f"marketplace/artifacts/{name}.json is stale: run `python -m marketplace.contracts`"
        )


def test_each_contract_fits_the_code_size_limit(env):
    for contract in (env.verifier, env.market.marketplace):
        size = len(env.w3.eth.get_code(contract.address))
        assert 0 < size < EIP170_CODE_LIMIT
    for name in SHIPPED:  # the standalone registry too
        assert 0 < len(load_artifact(name)["deployedBytecode"]) // 2 < EIP170_CODE_LIMIT


def intrinsic_gas(w3, tx_hash) -> int:
    """What a transaction pays before executing: 21000 plus its calldata (16 gas a non-zero
    byte, 4 a zero byte)."""
    data = bytes(w3.eth.get_transaction(tx_hash)["input"])
    return 21_000 + sum(16 if byte else 4 for byte in data)


def test_fulfil_gas_is_within_budget(env):
    """Verification plus bookkeeping (execution, past the transaction's intrinsic cost) stays
    within 250k gas, the same for a provider's first payment, later ones and one after a
    withdrawal (its credit slot is never emptied)."""
    proof = env.circuit.proof("a", "x1")
    used = []
    for withdraw_before in (False, False, True):
        if withdraw_before:
            env.market.withdraw(env.provider)
        rid = env.open("x1")
        fulfil(env, rid, proof)
        receipt = env.market.last_receipt
        used.append((receipt["gasUsed"], receipt["gasUsed"] - intrinsic_gas(env.w3, receipt["transactionHash"])))
    total, execution = used[0]
    print(f"fulfil gas: {total} used, {execution} executed")
    assert execution <= 250_000, f"fulfil executed {execution} gas ({total} with the intrinsic cost)"
    assert len(set(used)) == 1, used


@pytest.mark.parametrize("deadline", [0x6B0E9B22, 0x6B0E9B27, 0x62276227, 0x12345678])
def test_a_revert_is_decoded_whatever_bytes_its_arguments_hold(deadline):
    """eth-tester reports a revert as the repr of its payload; arguments whose bytes read as
    b" or b' inside that repr (0x9b 0x22: \\x9b") must not be taken for its start."""
    from eth_tester.exceptions import TransactionFailed
    from eth_utils import keccak

    from marketplace.contracts import _revert_data, decode_revert, load_artifact

    payload = (
        keccak(text="DeadlineNotReached(uint256,uint256)")[:4] + (1).to_bytes(32, "big") + deadline.to_bytes(32, "big")
    )
    failure = TransactionFailed(f"execution reverted: {payload!r}")
    revert = decode_revert([load_artifact("AccuracyAudit")["abi"]], _revert_data(failure))
    assert (revert.error, revert.args_) == ("DeadlineNotReached", (1, deadline))


def test_revert_data_comes_from_web3s_exception_data_and_one_embedded_form_only():
    """A node's revert arrives as web3's ContractCustomError/ContractLogicError ``data`` (hex,
    or nested in a JSON-RPC error object); the embedded chain's only as eth-tester's
    TransactionFailed message. Any other exception that merely quotes bytes carries no data."""
    from eth_tester.exceptions import TransactionFailed
    from eth_utils import keccak
    from web3.exceptions import ContractCustomError, ContractLogicError

    from marketplace.contracts import _revert_data

    payload = keccak(text="UnknownRequest(uint256)")[:4] + (7).to_bytes(32, "big")
    hex_payload = "0x" + payload.hex()
    assert _revert_data(ContractCustomError(hex_payload, data=hex_payload)) == payload
    assert _revert_data(ContractLogicError("execution reverted", data={"data": hex_payload})) == payload
    assert _revert_data(ContractLogicError("execution reverted", data=None)) is None
    assert _revert_data(TransactionFailed(f"execution reverted: {payload!r}")) == payload
    assert _revert_data(TransactionFailed("execution reverted: out of gas")) is None
    assert _revert_data(ValueError(f"execution reverted: {payload!r}")) is None


def test_records_are_built_by_abi_field_name_and_a_changed_struct_is_refused():
    """ModelRecord comes from Marketplace.model's ABI component names, whatever their order;
    a struct with a field the record lacks is refused rather than read shifted."""
    from marketplace.chain import connect as connect_embedded
    from marketplace.contracts import ModelRecord, record_from_struct, struct_fields

    w3 = connect_embedded()
    market = w3.eth.contract(address="0x" + "11" * 20, abi=load_artifact("Marketplace")["abi"])
    fields = struct_fields(market.functions.model(1))
    assert fields[:2] == ["provider", "price"] and "metadataURI" in fields
    values = {"provider": "0x" + "22" * 20, "price": 5, "retired": True, "modelCommitment": 7, "metadataURI": "m"}
    struct = [values.get(f, b"\0" * 32 if f.endswith("Hash") else "0x" + "33" * 20) for f in fields]
    record = record_from_struct(ModelRecord, struct, fields)
    assert (record.price, record.retired, record.model_commitment, record.metadata_uri) == (5, True, 7, "m")
    assert record_from_struct(ModelRecord, struct[::-1], fields[::-1]) == record
    with pytest.raises(ChainError, match="disagree"):
        record_from_struct(ModelRecord, struct, [*fields[:-1], "metadataHash"])
