"""Real Groth16 proofs for the contract tests, and the verifier contract checked against them.

``contracts/test/toy_inference.circom`` has the inference statement's four public signals in
statement order (model commitment, input commitment, label, output commitment): Poseidon
commitments to a 2x2 weight matrix and a salted 2-vector input, the two logits' commitment and
their argmax. circom2 compiles it and snarkjs runs the ceremony (a powers of tau of power 10,
cached across sessions in pytest's cache as any public phase-1 file would be, and a phase 2
with one contribution, cached there too under the circuit source's hash). Witnesses come from
circom's witness program; proofs from our
prover (``prover.groth16.prove``) once its MSM kernels are native, otherwise from snarkjs, so
the suite stays fast either way. The circuit and its build are in ``support.toy``; the fixture is
conftest's ``toy_circuit``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from support.toy import ToyProof, snarkjs

from marketplace.chain import connect
from marketplace.contracts import deploy_verifier, proof_to_evm
from prover.field import FR_MODULUS, ints_to_limbs
from prover.groth16.keys import Proof, VerifyingKey
from prover.groth16.verify import verify_reference

# --- the verifier contract against the proofs ---------------------------------------------------


@pytest.fixture(scope="module")
def chain():
    return connect()


@pytest.fixture(scope="module")
def verifier(chain, toy_circuit):
    contract, _ = deploy_verifier(chain, toy_circuit.verifying_key, chain.eth.accounts[0])
    return contract


def _verify_on_chain(verifier, toy: ToyProof, public=None, evm=None) -> bool:
    a, b, c = evm or toy.evm
    return verifier.functions.verifyProof(a, b, c, list(public or toy.public)).call()


def test_snarkjs_proof_verifies_on_chain_and_its_calldata_matches_ours(toy_circuit, verifier):
    toy = toy_circuit.snarkjs_proof("a", "x1")
    assert toy.public[2] == 1  # logits (98, 103): class 1 wins
    assert _verify_on_chain(verifier, toy)
    # snarkjs's own calldata export orders G2 as (imaginary, real) exactly as proof_to_evm does
    pub = toy_circuit.dir / "a_x1.public.json"
    text = snarkjs("zkey", "export", "soliditycalldata", pub, toy_circuit.dir / "a_x1.proof.json")
    a, b, c, signals = json.loads("[" + text + "]")
    as_ints = lambda v: [as_ints(x) for x in v] if isinstance(v, list) else int(v, 16)  # noqa: E731
    assert [as_ints(a), as_ints(b), as_ints(c)] == list(toy.evm)
    assert as_ints(signals) == list(toy.public)


def test_snarkjs_proof_with_a_changed_signal_is_rejected(toy_circuit, verifier):
    toy = toy_circuit.snarkjs_proof("a", "x1")
    for i in range(4):
        public = list(toy.public)
        public[i] = (public[i] + 1) % FR_MODULUS
        assert not _verify_on_chain(verifier, toy, public)


def test_public_input_plus_r_is_rejected_although_the_curve_would_accept_it(toy_circuit, verifier):
    """x and x + r give the same ecMul: only the explicit range check refuses the alias."""
    toy = toy_circuit.proof("a", "x1")
    for i in range(4):
        public = list(toy.public)
        public[i] += FR_MODULUS
        assert public[i] < 2**256
        assert not _verify_on_chain(verifier, toy, public)
    assert _verify_on_chain(verifier, toy)


def test_proof_coordinates_plus_q_are_rejected(toy_circuit, verifier):
    q = verifier.functions.BASE_FIELD().call()
    toy = toy_circuit.proof("a", "x1")
    a, b, c = toy.evm
    assert not _verify_on_chain(verifier, toy, evm=([a[0], a[1] + q], b, c))
    assert not _verify_on_chain(verifier, toy, evm=(a, b, [c[0] + q, c[1]]))
    assert not _verify_on_chain(verifier, toy, evm=(a, [[b[0][0] + q, b[0][1]], b[1]], c))


def test_tampered_points_are_rejected(toy_circuit, verifier):
    toy = toy_circuit.proof("a", "x1")
    a, b, c = toy.evm
    other = toy_circuit.proof("b", "x2").evm
    assert not _verify_on_chain(verifier, toy, evm=(other[0], b, c))  # A of another proof
    assert not _verify_on_chain(verifier, toy, evm=(a, other[1], c))  # B of another proof
    assert not _verify_on_chain(verifier, toy, evm=(a, b, other[2]))  # C of another proof
    assert not _verify_on_chain(verifier, toy, evm=(a, [b[0][::-1], b[1][::-1]], c))  # py_ecc G2 order
    assert not _verify_on_chain(verifier, toy, evm=([1, 3], b, c))  # off the curve
    assert not _verify_on_chain(verifier, toy, evm=([0, 0], b, c))  # the point at infinity


def test_on_chain_verdicts_agree_with_py_ecc(toy_circuit, verifier):
    """The contract and the independent py_ecc verifier accept and refuse the same cases."""
    vk = toy_circuit.verifying_key
    good = toy_circuit.proof("b", "x2")
    other = toy_circuit.proof("a", "x1")
    cases = [
        (good.public, good.proof),
        (other.public, good.proof),
        (good.public, Proof(other.proof.a, good.proof.b, good.proof.c)),
    ]
    for public, proof in cases:
        on_chain = _verify_on_chain(verifier, good, list(public), proof_to_evm(proof))
        assert on_chain == verify_reference(vk, list(public), proof)
    assert _verify_on_chain(verifier, good)


def test_bad_verifying_key_is_refused_at_deployment(chain, toy_circuit):
    from marketplace.contracts import ContractRevert, deploy, verifier_constructor_args

    vk = toy_circuit.verifying_key
    bad_ic = vk.ic.copy()
    bad_ic[2, 1] = ints_to_limbs([5])[0]  # y changed: off the curve
    with pytest.raises(ContractRevert) as err:
        deploy_verifier(chain, VerifyingKey(vk.alpha1, vk.beta2, vk.gamma2, vk.delta2, bad_ic), chain.eth.accounts[0])
    assert err.value.error == "InvalidVerifyingKey"
    swapped = np.ascontiguousarray(vk.delta2[:, ::-1])  # G2 with real/imaginary exchanged
    with pytest.raises(ContractRevert) as err:
        deploy_verifier(chain, VerifyingKey(vk.alpha1, vk.beta2, vk.gamma2, swapped, vk.ic), chain.eth.accounts[0])
    assert err.value.error == "InvalidVerifyingKey"
    # a key of another input count: the Python side refuses it, and the contract when sent anyway
    ((*points, ic),) = verifier_constructor_args(vk)
    for count in (3, 5):
        with pytest.raises(ContractRevert) as err:
            deploy(chain, "Groth16Verifier", (*points, (ic * 2)[: count + 1]), sender=chain.eth.accounts[0])
        assert err.value.error == "InvalidVerifyingKey"


def test_our_prover_proof_verifies_on_chain(toy_circuit, verifier):
    """A proof from prover.groth16.prove, whatever the pool's source."""
    toy = toy_circuit.zkmarket_proof("b", "x1")
    assert _verify_on_chain(verifier, toy)
    public = list(toy.public)
    public[2] ^= 1
    assert not _verify_on_chain(verifier, toy, public)
