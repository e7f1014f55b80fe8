"""The deploy-register-request-fulfil sequence over JSON-RPC against a real `hardhat node`
(the pinned npm hardhat), started on 127.0.0.1 at a free port and stopped afterwards."""

from __future__ import annotations

import pytest
from support.processes import free_port

from marketplace.chain import advance_time, connect, is_embedded, latest_timestamp
from marketplace.contracts import ContractRevert, Market, Status, deploy_verifier
from prover.errors import ChainError

PRICE = 10**16
START_TIMEOUT_S = 90


def test_unreachable_node_is_a_chain_error_saying_what_to_do():
    with pytest.raises(ChainError, match="no Ethereum JSON-RPC node answers"):
        connect(f"http://127.0.0.1:{free_port()}", timeout=2)


@pytest.mark.slow
def test_deploy_register_request_fulfil_on_hardhat(hardhat_url, toy_circuit):
    w3 = connect(hardhat_url)
    assert not is_embedded(w3) and w3.eth.chain_id == 31337
    deployer, provider, consumer = w3.eth.accounts[:3]
    verifier, _ = deploy_verifier(w3, toy_circuit.verifying_key, deployer)
    market = Market.deploy(w3, deployer)
    proof = toy_circuit.proof("a", "x1")
    model_id = market.register_model(provider, proof.model_commitment, verifier.address, PRICE)

    rid = market.open_request(consumer, model_id, proof.input_commitment, latest_timestamp(w3) + 3600)
    assert market.balance() == PRICE
    # the reject twin first: a wrong label is refused with the decoded custom error
    with pytest.raises(ContractRevert) as info:
        market.fulfil(provider, rid, proof.evm, 1 - proof.label, proof.output_commitment)
    assert info.value.error == "InvalidProof" and info.value.args_ == (rid,)
    market.fulfil(provider, rid, proof.evm, proof.label, proof.output_commitment)
    fulfil_gas = market.last_receipt["gasUsed"]
    record = market.request(rid)
    assert record.status == Status.FULFILLED and record.label == proof.label
    assert market.owed(provider) == PRICE
    # a read-only call's revert reaches us as web3's ContractCustomError data, decoded by name
    with pytest.raises(ContractRevert) as info:
        market.request(rid + 99)
    assert (info.value.error, info.value.args_) == ("UnknownRequest", (rid + 99,))

    # refund path with the node's clock moved past the deadline
    other = toy_circuit.proof("a", "x2")
    late = market.open_request(consumer, model_id, other.input_commitment, latest_timestamp(w3) + 600)
    with pytest.raises(ContractRevert) as info:
        market.refund(consumer, late)
    assert info.value.error == "DeadlineNotReached"
    advance_time(w3, 601)
    market.refund(consumer, late)
    assert market.withdraw(provider) == PRICE and market.withdraw(consumer) == PRICE
    assert market.balance() == 0
    # the same code charges the same gas on hardhat as on py-evm (within the first-payment case)
    assert 250_000 < fulfil_gas < 320_000
