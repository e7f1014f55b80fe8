"""Groth16BatchVerifier, the verifier of statements with many public inputs, against real proofs.

Each statement here is a small R1CS with ``n`` public inputs x (x_i * x_i = s_i, s private) for
n = 1, 4, 13, 97, keyed by the INSECURE known-secret setup and proved by our prover; py_ecc's
``verify_reference`` is the independent verdict. The valid statements hold zeros and ones (the
inputs the contract adds without an ecMul) between field elements of every size. The module
also checks the key's data contract, ``check_batch_verifier_code`` and the gas of a
verification transaction (printed with ``-s``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from functools import cache

import numpy as np
import pytest

from marketplace.chain import connect
from marketplace.contracts import (
    MAX_BATCH_PUBLIC,
    ContractRevert,
    batch_verifier_constructor_args,
    batch_verifier_key_code,
    deploy,
    deploy_batch_verifier,
    deploy_verifier,
    load_artifact,
    proof_to_evm,
    transact,
)
from marketplace.setup.check import check_batch_verifier_code
from prover.ceremony.known_secret import known_secret_setup
from prover.circuit.builder import Builder, LinComb
from prover.errors import ChainError, VerificationError
from prover.field import FQ_MODULUS, FR_MODULUS, ints_to_limbs
from prover.groth16.keys import Proof, ProvingKey, VerifyingKey
from prover.groth16.prove import prove
from prover.groth16.verify import verify_reference

# sizes 1 and 13 in the fast suite; 4 and the largest (seconds per test) in the full one only
# (-m slow)
SIZES = (1, 13, *(pytest.param(n, marks=pytest.mark.slow) for n in (4, 97)))
SECRET = (0x5EC12E7, 0xA1FA, 0xBE7A)
OTHER_SECRET = (0x7A0, 0xA1FB, 0xBE7B)


@dataclass(frozen=True)
class Statement:
    """A circuit with ``n`` public inputs, its key and a builder of proofs."""

    n: int
    circuit: object
    pk: ProvingKey

    @property
    def vk(self) -> VerifyingKey:
        return self.pk.verifying_key()

    def prove(self, signals: list[int]) -> Proof:
        witness = self.circuit.witness({"x": np.array(signals, dtype=object)})
        proof, public = prove(self.pk, witness, r1cs=self.circuit.r1cs)
        assert public == signals
        return proof


@cache
def statement(n: int, secret: tuple[int, int, int] = SECRET) -> Statement:
    """The n-input squares circuit, keyed from the KNOWN ``secret`` (INSECURE: tests only)."""
    b = Builder()
    x = b.input("x", (n,), field=True)
    b.public("x", x)
    squares = b.alloc((n,))
    b.constrain(LinComb.of(x), LinComb.of(x), LinComb.of(squares))
    b.step(lambda v: v.set_field(squares, np.array([int(a) * int(a) % FR_MODULUS for a in v.get_field(x)], object)))
    circuit = b.finish()
    return Statement(n, circuit, known_secret_setup(circuit.r1cs, *secret))


def signals_of(n: int, seed: int = 0) -> list[int]:
    """Public inputs with zeros (every fourth), ones, small and full-size values (r - 1 among
    them)."""
    rng = random.Random(seed)
    pattern = [1, 2**200 + seed, FR_MODULUS - 1, rng.randrange(2, 1000), rng.randrange(FR_MODULUS)]
    return [0 if i % 4 == 3 else pattern[i % len(pattern)] for i in range(n)]


def realistic_signals(n: int, seed: int = 0) -> list[int]:
    """A third of the inputs zero (as labels often are), the others full-size field elements
    (as commitments are)."""
    rng = random.Random(seed)
    return [0 if i % 3 == 2 else rng.randrange(2, FR_MODULUS) for i in range(n)]


@pytest.fixture(scope="module")
def chain():
    return connect()


@cache
def _verifier(w3, n: int, secret=SECRET):
    contract, receipt = deploy_batch_verifier(w3, statement(n, secret).vk, w3.eth.accounts[0])
    return contract, receipt


def _on_chain(verifier, proof: Proof | tuple, public: list[int]) -> bool:
    a, b, c = proof_to_evm(proof) if isinstance(proof, Proof) else proof
    return verifier.functions.verifyProof(a, b, c, list(public)).call()


# --- verdicts ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", SIZES)
def test_valid_proof_verifies_as_py_ecc_says(chain, n):
    st = statement(n)
    public = signals_of(n)
    proof = st.prove(public)
    verifier, _ = _verifier(chain, n)
    assert verifier.functions.publicInputCount().call() == n
    assert _on_chain(verifier, proof, public) is True
    assert verify_reference(st.vk, public, proof) is True


@pytest.mark.parametrize("n", SIZES)
def test_twins_of_a_valid_proof_are_refused(chain, n):
    st = statement(n)
    public = signals_of(n, seed=1)
    proof = st.prove(public)
    other = st.prove(signals_of(n, seed=2))
    verifier, _ = _verifier(chain, n)
    a, b, c = proof_to_evm(proof)
    q = verifier.functions.BASE_FIELD().call()
    assert q == FQ_MODULUS and verifier.functions.SCALAR_FIELD().call() == FR_MODULUS

    # tampered points: A, B, C of another valid proof; B in py_ecc's order; A off the curve
    tampered = [
        Proof(other.a, proof.b, proof.c),
        Proof(proof.a, other.b, proof.c),
        Proof(proof.a, proof.b, other.c),
    ]
    for bad in tampered:
        assert not _on_chain(verifier, bad, public)
    assert verify_reference(st.vk, public, tampered[0]) is False
    assert not _on_chain(verifier, (a, [b[0][::-1], b[1][::-1]], c), public)
    assert not _on_chain(verifier, ([1, 3], b, c), public)
    assert not _on_chain(verifier, ([0, 0], b, c), public)

    # one public input changed, first, middle and last; an input plus r (the same in ecMul)
    for i in sorted({0, n // 2, n - 1}):
        changed = list(public)
        changed[i] = (changed[i] + 1) % FR_MODULUS
        assert not _on_chain(verifier, proof, changed)
        aliased = list(public)
        aliased[i] += FR_MODULUS
        assert aliased[i] < 2**256
        assert not _on_chain(verifier, proof, aliased)
    changed = list(public)
    changed[-1] = (changed[-1] + 1) % FR_MODULUS
    assert verify_reference(st.vk, changed, proof) is False

    # a wrong count: one input short (none at all for n = 1), one too many
    assert not _on_chain(verifier, proof, public[:-1])
    assert not _on_chain(verifier, proof, public + [0])

    # coordinates plus q (the same point once reduced)
    assert not _on_chain(verifier, ([a[0] + q, a[1]], b, c), public)
    assert not _on_chain(verifier, ([a[0], a[1] + q], b, c), public)
    assert not _on_chain(verifier, (a, [[b[0][0], b[0][1] + q], b[1]], c), public)
    assert not _on_chain(verifier, (a, [b[0], [b[1][0] + q, b[1][1]]], c), public)
    assert not _on_chain(verifier, (a, b, [c[0], c[1] + q]), public)

    # the same statement under another key: its verifier refuses this proof, accepts its own
    foreign, _ = _verifier(chain, n, OTHER_SECRET)
    assert not _on_chain(foreign, proof, public)
    assert _on_chain(foreign, statement(n, OTHER_SECRET).prove(public), public)
    assert _on_chain(verifier, proof, public)  # the twins changed nothing


@pytest.mark.parametrize("n", [pytest.param(4, marks=pytest.mark.slow), 13])
def test_zero_and_one_are_not_interchangeable(chain, n):
    """The contract skips the ecMul for 0 and 1: a 0 given as 1 (or a 1 as 0) must still fail."""
    st = statement(n)
    verifier, _ = _verifier(chain, n)
    for public in ([0] * n, [1] * n, signals_of(n, seed=3)):
        proof = st.prove(public)
        assert _on_chain(verifier, proof, public)
        for i in range(n):
            if public[i] in (0, 1):
                swapped = list(public)
                swapped[i] ^= 1
                assert not _on_chain(verifier, proof, swapped), (public, i)
    zeros = [0] * n
    proof = st.prove(zeros)
    assert verify_reference(st.vk, [1] + zeros[1:], proof) is False


def test_both_verifiers_agree_on_a_four_input_statement(chain):
    """Groth16Verifier (key in immutables) and Groth16BatchVerifier give the same verdicts."""
    st = statement(4)
    single, _ = deploy_verifier(chain, st.vk, chain.eth.accounts[0])
    batch, _ = _verifier(chain, 4)
    public = signals_of(4, seed=4)
    proof = st.prove(public)
    a, b, c = proof_to_evm(proof)
    cases = [
        (public, (a, b, c)),
        ([public[0], public[1] ^ 1, *public[2:]], (a, b, c)),
        ([*public[:3], public[3] + FR_MODULUS], (a, b, c)),
        (public, (c, b, a)),
    ]
    for signals, evm in cases:
        assert single.functions.verifyProof(*evm, signals).call() == _on_chain(batch, evm, signals)
    assert _on_chain(batch, (a, b, c), public)


def test_both_verifiers_agree_on_the_toy_circuit(chain, toy_circuit):
    """The circom toy statement (snarkjs's ceremony, circom's witness): the same verdicts. (The
    fixture's first build takes about 25 s; it is cached between sessions.)"""
    single, _ = deploy_verifier(chain, toy_circuit.verifying_key, chain.eth.accounts[0])
    batch, _ = deploy_batch_verifier(chain, toy_circuit.verifying_key, chain.eth.accounts[0])
    good, other = toy_circuit.proof("a", "x1"), toy_circuit.proof("b", "x2")
    for public, evm in [(good.public, good.evm), (other.public, good.evm), (good.public, other.evm)]:
        expected = single.functions.verifyProof(*evm, list(public)).call()
        assert _on_chain(batch, evm, list(public)) == expected
    assert _on_chain(batch, good.evm, list(good.public))


# --- the key: deployment, its data contract ----------------------------------------------------


def test_the_data_contract_holds_the_key_behind_a_stop(chain):
    st = statement(13)
    verifier, _ = _verifier(chain, 13)
    data = verifier.functions.keyData().call()
    code = bytes(chain.eth.get_code(data))
    assert code == batch_verifier_key_code(st.vk)
    assert code[0] == 0 and len(code) == 1 + 32 * (14 + 2 * 14)
    # a call into it stops at once: no effect, nothing returned
    assert bytes(chain.eth.call({"to": data, "data": "0x12345678"})) == b""


def test_bad_keys_are_refused_at_deployment(chain):
    vk = statement(4).vk
    sender = chain.eth.accounts[0]
    bad_ic = vk.ic.copy()
    bad_ic[3, 1] = ints_to_limbs([5])[0]  # y changed: off the curve
    swapped = np.ascontiguousarray(vk.delta2[:, ::-1])  # G2 with real and imaginary exchanged
    bad_alpha = vk.alpha1.copy()
    bad_alpha[0] = ints_to_limbs([FQ_MODULUS + 1])[0]  # x >= q
    for bad in (replace(vk, ic=bad_ic), replace(vk, delta2=swapped), replace(vk, alpha1=bad_alpha)):
        with pytest.raises(ContractRevert) as err:
            deploy_batch_verifier(chain, bad, sender)
        assert err.value.error == "InvalidVerifyingKey"
    # no public input: refused here, and by the contract when sent anyway
    empty = replace(vk, ic=vk.ic[:1])
    with pytest.raises(ChainError, match="1 to 375"):
        batch_verifier_constructor_args(empty)
    ((*points, ic),) = batch_verifier_constructor_args(vk)
    with pytest.raises(ContractRevert) as err:
        deploy(chain, "Groth16BatchVerifier", (*points, ic[:1]), sender=sender)
    assert err.value.error == "InvalidVerifyingKey"


def test_a_key_too_large_for_contract_code_is_refused_with_the_largest_size(chain):
    vk = statement(1).vk
    assert MAX_BATCH_PUBLIC == 375
    largest = replace(vk, ic=np.repeat(vk.ic[1:], MAX_BATCH_PUBLIC + 1, axis=0))
    assert len(batch_verifier_key_code(largest)) <= 24_576
    with pytest.raises(ChainError, match="1 to 375 public inputs"):
        batch_verifier_constructor_args(replace(vk, ic=np.repeat(vk.ic[1:], MAX_BATCH_PUBLIC + 2, axis=0)))
    # the contract refuses it too (CREATE fails past the code size limit)
    ((*points, ic),) = batch_verifier_constructor_args(largest)
    with pytest.raises(ContractRevert) as err:
        deploy(chain, "Groth16BatchVerifier", (*points, ic + ic[:1]), sender=chain.eth.accounts[0])
    assert err.value.error == "KeyTooLarge"


# --- check_batch_verifier_code -----------------------------------------------------------------


def _deploy_runtime(w3, runtime: bytes) -> str:
    """A contract whose code is ``runtime`` (the SSTORE2 init code: copy it, return it)."""
    init = bytes.fromhex("61") + len(runtime).to_bytes(2, "big") + bytes.fromhex("80600a3d393df3") + runtime
    tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "data": init, "gas": 5_000_000})
    return w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]


def test_check_batch_verifier_code(chain):
    account = chain.eth.accounts[1]
    st = statement(13)
    verifier, _ = _verifier(chain, 13)
    check_batch_verifier_code(chain, account, verifier.address, st.pk)

    # a verifier of another key, with as many inputs or with fewer
    foreign, _ = _verifier(chain, 13, OTHER_SECRET)
    with pytest.raises(VerificationError, match="does not hold the published key"):
        check_batch_verifier_code(chain, account, foreign.address, st.pk)
    fewer, _ = _verifier(chain, 4)
    with pytest.raises(VerificationError, match="checks 4 public inputs"):
        check_batch_verifier_code(chain, account, fewer.address, st.pk, what="model 7's batch verifier")

    # the shipped code whose data contract is another key's (the immutable rewritten)
    code = bytearray(chain.eth.get_code(verifier.address))
    ours = bytes(12) + bytes.fromhex(verifier.functions.keyData().call()[2:])
    theirs = bytes(12) + bytes.fromhex(foreign.functions.keyData().call()[2:])
    (key_copies,) = [
        ranges
        for ranges in load_artifact("Groth16BatchVerifier")["immutableReferences"]
        if all(code[start : start + length] == ours for start, length in ranges)
    ]
    assert len(key_copies) >= 2  # read by keyData() and by verifyProof
    for start, length in key_copies[:1]:  # one copy only: keyData() and verifyProof disagree
        code[start : start + length] = theirs
    with pytest.raises(VerificationError, match="not the shipped Groth16BatchVerifier"):
        check_batch_verifier_code(chain, account, _deploy_runtime(chain, bytes(code)), st.pk)
    for start, length in key_copies:
        code[start : start + length] = theirs
    forged = _deploy_runtime(chain, bytes(code))
    assert _on_chain(chain.eth.contract(address=forged, abi=verifier.abi), st.prove([0] * 13), [0] * 13) is False
    with pytest.raises(VerificationError, match="does not hold the published key"):
        check_batch_verifier_code(chain, account, forged, st.pk)

    # other code: the 4-input verifier, a changed byte outside the immutables
    single, _ = deploy_verifier(chain, statement(4).vk, chain.eth.accounts[0])
    with pytest.raises(VerificationError, match="not the shipped Groth16BatchVerifier"):
        check_batch_verifier_code(chain, account, single.address, statement(4).pk)
    code = bytearray(chain.eth.get_code(verifier.address))
    code[-1] ^= 1
    with pytest.raises(VerificationError, match="not the shipped Groth16BatchVerifier"):
        check_batch_verifier_code(chain, account, _deploy_runtime(chain, bytes(code)), st.pk)


# --- gas ---------------------------------------------------------------------------------------

GAS_SIZES = (4, 25, 97, 193)


@pytest.mark.slow  # a measurement, seconds of transactions
def test_gas_of_a_verification_transaction(chain):
    """Whole-transaction gas of verifyProof sent as a transaction (calldata included), for
    statements with about a third of their inputs zero, and of the deployment; the 4-input
    Groth16Verifier's in the same run for comparison."""
    sender = chain.eth.accounts[0]
    rows = []
    for n in GAS_SIZES:
        st = statement(n)
        public = realistic_signals(n, seed=n)
        verifier, deployed = _verifier(chain, n)
        a, b, c = proof_to_evm(st.prove(public))
        receipt = transact(chain, verifier.functions.verifyProof(a, b, c, public), sender)
        rows.append(("Groth16BatchVerifier", n, receipt["gasUsed"], deployed["gasUsed"]))
        if n == 4:  # and both verifiers on a statement without zeros
            single, single_deployed = deploy_verifier(chain, st.vk, sender)
            receipt = transact(chain, single.functions.verifyProof(a, b, c, public), sender)
            rows.append(("Groth16Verifier", n, receipt["gasUsed"], single_deployed["gasUsed"]))
            full = [FR_MODULUS - 1 - i for i in range(4)]
            evm = proof_to_evm(st.prove(full))
            for name, contract, deployment in (
                ("Groth16Verifier", single, single_deployed),
                ("Groth16BatchVerifier", verifier, deployed),
            ):
                receipt = transact(chain, contract.functions.verifyProof(*evm, full), sender)
                rows.append((f"{name} (no zero)", n, receipt["gasUsed"], deployment["gasUsed"]))
    print(f"\n{'contract':30} {'n':>3} {'verify tx gas':>14} {'deploy gas':>11}")
    for name, n, verify, deploy_gas in rows:
        print(f"{name:30} {n:>3} {verify:>14,} {deploy_gas:>11,}")
    by_n = {n: verify for name, n, verify, _ in rows if name == "Groth16BatchVerifier"}
    # about 6.2k gas an input that is neither 0 nor 1, besides the 4-pair pairing (181k)
    assert by_n[193] < 181_000 + 193 * 6_500 + 40_000
    # each zero saves its ecMul and ecAdd (over 6k gas): the realistic 97-input statement has
    # 65 non-zero inputs, the all-zero one none
    st = statement(97)
    verifier, _ = _verifier(chain, 97)
    zeros = [0] * 97
    receipt = transact(chain, verifier.functions.verifyProof(*proof_to_evm(st.prove(zeros)), zeros), sender)
    print(f"{'Groth16BatchVerifier (all zero)':30} {97:>3} {receipt['gasUsed']:>14,}")
    assert receipt["gasUsed"] < by_n[97] - 65 * 6_000
