"""A key with contributions from several parties (snarkjs's, then a provider's, a consumer's and
a beacon, added by prover.ceremony) proves statements that the on-chain verifier accepts; a proof
made before the last contribution no longer passes the verifier of the final key."""

from __future__ import annotations

import pytest

from marketplace.chain import connect
from marketplace.contracts import deploy_verifier, proof_to_evm
from prover.ceremony.phase2 import beacon, contribute
from prover.formats.wtns import read_wtns
from prover.groth16.prove import prove

# a four-party ceremony verified on py-evm
pytestmark = pytest.mark.slow

BEACON = bytes(range(32))


def _verifies(verifier, proof, public) -> bool:
    a, b, c = proof_to_evm(proof)
    return verifier.functions.verifyProof(a, b, c, list(public)).call()


def test_multi_party_key_verifies_on_chain(toy_circuit):
    w3 = connect()
    sender = w3.eth.accounts[0]
    key = toy_circuit.proving_key  # snarkjs's phase 2 with one contribution
    key, _ = contribute(key, name="provider")
    before_consumer = key
    key, _ = contribute(key, name="consumer")
    key, _ = beacon(key, BEACON, 10, name="closing beacon")
    assert len(key.mpc_params["contributions"]) == len(toy_circuit.proving_key.mpc_params["contributions"]) + 3

    witness = read_wtns(toy_circuit.witness("a", "x1"))
    proof, public = prove(key, witness)
    verifier, _ = deploy_verifier(w3, key.verifying_key(), sender)
    assert _verifies(verifier, proof, public)

    # reject twins: a changed label, and a proof from the key before the consumer's contribution
    label_changed = list(public)
    label_changed[2] = 1 - label_changed[2]
    assert not _verifies(verifier, proof, label_changed)
    stale_proof, stale_public = prove(before_consumer, witness)
    assert stale_public == public
    assert not _verifies(verifier, stale_proof, stale_public)
