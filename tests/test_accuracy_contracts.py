"""AccuracyAudit on the embedded EVM with real accuracy proofs: an answer at or above the claim
pays the provider and attests the model, one below the claim or no answer gives the auditor the
bond; every path has its reject twin (late answer, second answer, wrong commitment, stranger),
and each outcome happens exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pytest

from marketplace.audit import Audit, ChallengeStatus, answer_challenge, write_test_set
from marketplace.chain import advance_time, connect
from marketplace.contracts import ContractRevert, Market, deploy_verifier
from prover.circuit import accuracy as A
from prover.circuit import retrieval as R
from prover.circuit import statements as S
from prover.errors import VerificationError
from prover.field import FR_MODULUS
from prover.onnx import executor
from test_accuracy import prove_with_test_key
from test_compile import _case_graph

# real proofs on py-evm's pairing precompile: minutes, so the whole module is slow
pytestmark = pytest.mark.slow

WINDOW = 3600
BOND, FEE = 10**18, 10**17
CLAIM_BPS = 9000  # 3/3 passes, 2/3 fails


@dataclass
class Proofs:
    """Real proofs about one small model (known-secret keys: test keys, never real ones)."""

    graph: object
    accuracy_pk: object
    test_inputs: np.ndarray
    honest_labels: np.ndarray   # the model gets all 3 right
    hard_labels: np.ndarray     # the model gets 2 of 3 right
    passing: tuple              # (proof, public) on honest_labels
    failing: tuple              # (proof, public) on hard_labels
    retrieval_vk: object
    corpus: np.ndarray
    requested_class: int
    retrieval: tuple            # (proof, public, selected positions)


@pytest.fixture(scope="session")
def proofs():
    return build_proofs()


@lru_cache(maxsize=None)
def build_proofs() -> Proofs:
    """Built once per test session, however many modules import the fixture."""
    rng = np.random.default_rng(20261121)
    q, calibration = _case_graph("gemm", rng)
    x = executor.quantize_input(q, calibration[:3])
    predicted = executor.argmax_label(executor.execute(q, x)[q.output])
    hard = predicted.copy()
    hard[0] = (hard[0] + 1) % 4
    ac = A.accuracy_circuit(q, 3, "public")
    pk, proof, public = prove_with_test_key(ac.r1cs, ac.witness(x, predicted).witness)
    from prover.groth16.prove import prove
    failing = prove(pk, ac.witness(x, hard).witness, r1cs=ac.r1cs)
    corpus = executor.quantize_input(q, calibration[:8])
    labels = executor.argmax_label(executor.execute(q, corpus)[q.output])
    cls = int(np.bincount(labels).argmax())
    rc = R.retrieval_circuit(q, len(corpus), "public")
    result = rc.witness(corpus, cls)
    rpk, rproof, rpublic = prove_with_test_key(rc.r1cs, result.witness)
    return Proofs(q, pk, x, predicted, hard, (proof, public), failing,
                  rpk.verifying_key(), corpus, cls, (rproof, rpublic, result.selected))


@dataclass
class World:
    w3: object
    market: Market
    audit: Audit
    provider: str
    auditor: str
    stranger: str
    model_id: int
    retrieval_verifier: str


def make_world(proofs: Proofs, models: int = 1) -> World:
    """A fresh chain: registry, audit, a verifier per statement and ``models`` registrations of
    the small model (ids 1..models) naming them."""
    w3 = connect()
    deployer, provider, auditor, stranger = w3.eth.accounts[:4]
    market = Market.deploy(w3, deployer)
    acc_verifier, _ = deploy_verifier(w3, proofs.accuracy_pk.verifying_key(), deployer)
    ret_verifier, _ = deploy_verifier(w3, proofs.retrieval_vk, deployer)
    commitment = S.model_commitment(proofs.graph)
    for _ in range(models):
        model_id = market.register_model(provider, commitment, None, 0, accuracy_verifier=acc_verifier.address,
                                         retrieval_verifier=ret_verifier.address)
    audit = Audit.deploy(w3, market.registry.address, WINDOW, sender=deployer)
    return World(w3, market, audit, provider, auditor, stranger, model_id, ret_verifier.address)


@pytest.fixture
def world(proofs):
    return make_world(proofs)


def _reverts(error: str, fn, *args):
    with pytest.raises(ContractRevert) as info:
        fn(*args)
    assert info.value.error == error, info.value
    return info.value


def _challenge(world: World, proofs: Proofs, labels) -> int:
    world.audit.stake(world.provider, world.model_id, CLAIM_BPS, BOND)
    commitment = A.test_set_commitment(proofs.graph, proofs.test_inputs, labels)
    return world.audit.challenge(world.auditor, world.model_id, commitment, len(labels), FEE)


def test_answer_at_the_claim_pays_the_provider_and_attests_the_model(world, proofs):
    cid = _challenge(world, proofs, proofs.honest_labels)
    assert world.audit.balance() == BOND + FEE
    proof, public = proofs.passing
    assert world.audit.answer(world.provider, cid, proof, public[3]) == ChallengeStatus.PASSED
    record = world.audit.status(cid)
    assert (record.correct, record.samples, record.status) == (3, 3, ChallengeStatus.PASSED)
    (att,) = world.audit.attestations(world.model_id)
    assert (att.test_set_commitment, att.samples, att.correct, att.challenge_id) == (public[1], 3, 3, cid)
    assert world.audit.owed(world.provider) == FEE and world.audit.owed(world.auditor) == 0
    assert world.audit.stake_of(world.model_id).bond == BOND
    # each outcome once: a second answer and a late expiry are refused
    _reverts("ChallengeNotOpen", world.audit.answer, world.provider, cid, proof, public[3])
    advance_time(world.w3, WINDOW + 1)
    _reverts("ChallengeNotOpen", world.audit.expire, world.auditor, cid)
    before = world.w3.eth.get_balance(world.provider)
    assert world.audit.withdraw(world.provider) == FEE
    assert world.w3.eth.get_balance(world.provider) > before
    _reverts("NothingToWithdraw", world.audit.withdraw, world.provider)
    assert world.audit.balance() == BOND


def test_answer_below_the_claim_gives_the_auditor_the_bond(world, proofs):
    cid = _challenge(world, proofs, proofs.hard_labels)
    proof, public = proofs.failing
    assert public[3] == 2
    assert world.audit.answer(world.provider, cid, proof, 2) == ChallengeStatus.FAILED
    assert world.audit.owed(world.auditor) == BOND + FEE and world.audit.owed(world.provider) == 0
    assert world.audit.attestations(world.model_id) == []
    assert world.audit.stake_of(world.model_id).bond == 0
    # the bond is gone: the model cannot be challenged again, the provider cannot unstake
    _reverts("NotStaked", world.audit.challenge, world.auditor, world.model_id, public[1], 3, FEE)
    _reverts("NotStaked", world.audit.unstake, world.provider, world.model_id)
    assert world.audit.withdraw(world.auditor) == BOND + FEE
    assert world.audit.balance() == 0


def test_no_answer_in_time_gives_the_auditor_the_bond_and_a_late_answer_is_refused(world, proofs):
    cid = _challenge(world, proofs, proofs.honest_labels)
    _reverts("DeadlineNotReached", world.audit.expire, world.auditor, cid)
    advance_time(world.w3, WINDOW + 1)
    proof, public = proofs.passing
    _reverts("DeadlinePassed", world.audit.answer, world.provider, cid, proof, public[3])
    world.audit.expire(world.stranger, cid)  # anyone may settle it; the auditor is paid
    assert world.audit.status(cid).status == ChallengeStatus.EXPIRED
    assert world.audit.owed(world.auditor) == BOND + FEE and world.audit.owed(world.stranger) == 0
    _reverts("ChallengeNotOpen", world.audit.expire, world.auditor, cid)
    _reverts("ChallengeNotOpen", world.audit.answer, world.provider, cid, proof, public[3])


def test_proofs_for_another_test_set_or_count_are_refused(world, proofs):
    cid = _challenge(world, proofs, proofs.hard_labels)  # committed to the hard labels
    proof, public = proofs.passing                        # a proof about the honest labels
    _reverts("InvalidProof", world.audit.answer, world.provider, cid, proof, public[3])
    failing, fpublic = proofs.failing
    _reverts("InvalidProof", world.audit.answer, world.provider, cid, failing, 3)   # claims more
    _reverts("InvalidProof", world.audit.answer, world.provider, cid, failing, 4)   # beyond the samples
    assert world.audit.status(cid).status == ChallengeStatus.OPEN
    assert world.audit.answer(world.provider, cid, failing, 2) == ChallengeStatus.FAILED


def test_a_challenge_with_another_sample_count_refuses_the_proof(world, proofs):
    world.audit.stake(world.provider, world.model_id, CLAIM_BPS, BOND)
    proof, public = proofs.passing
    cid = world.audit.challenge(world.auditor, world.model_id, public[1], 4, FEE)
    _reverts("InvalidProof", world.audit.answer, world.provider, cid, proof, public[3])


def test_strangers_and_bad_arguments_are_refused(world, proofs):
    audit, model = world.audit, world.model_id
    _reverts("NotProvider", audit.stake, world.stranger, model, CLAIM_BPS, BOND)
    _reverts("BadStake", audit.stake, world.provider, model, 0, BOND)
    _reverts("BadStake", audit.stake, world.provider, model, 10_001, BOND)
    _reverts("BadStake", audit.stake, world.provider, model, CLAIM_BPS, 0)
    _reverts("NotStaked", audit.challenge, world.auditor, model, 1, 3, FEE)
    cid = _challenge(world, proofs, proofs.honest_labels)
    _reverts("AlreadyStaked", audit.stake, world.provider, model, CLAIM_BPS, BOND)
    _reverts("ChallengeInProgress", audit.challenge, world.stranger, model, 1, 3, FEE)
    _reverts("ChallengeInProgress", audit.unstake, world.provider, model)
    proof, public = proofs.passing
    _reverts("NotProvider", audit.answer, world.stranger, cid, proof, public[3])
    _reverts("NotProvider", audit.answer, world.auditor, cid, proof, public[3])
    _reverts("UnknownChallenge", audit.status, cid + 1)
    audit.answer(world.provider, cid, proof, public[3])
    _reverts("BadChallenge", audit.challenge, world.auditor, model, public[1], 0, FEE)
    _reverts("BadChallenge", audit.challenge, world.auditor, model, public[1], 3, 0)
    _reverts("PublicInputOutOfField", audit.challenge, world.auditor, model, FR_MODULUS, 3, FEE)
    # the provider may leave once no challenge is open: the bond comes back, once
    _reverts("NotProvider", audit.unstake, world.stranger, model)
    audit.unstake(world.provider, model)
    assert audit.owed(world.provider) == BOND + FEE
    _reverts("NotStaked", audit.unstake, world.provider, model)


def test_provider_answers_from_the_auditors_file_and_refuses_another(world, proofs, tmp_path):
    """The SDK's whole provider answer: the file is checked against the on-chain commitment
    before any proof or transaction."""
    cid = _challenge(world, proofs, proofs.honest_labels)
    wrong = write_test_set(tmp_path / "wrong.npz", proofs.test_inputs, proofs.hard_labels)
    with pytest.raises(VerificationError, match="commitment"):
        answer_challenge(world.audit, world.provider, cid, proofs.graph, proofs.accuracy_pk, wrong, mode="public")
    short = write_test_set(tmp_path / "short.npz", proofs.test_inputs[:2], proofs.honest_labels[:2])
    with pytest.raises(VerificationError, match="samples"):
        answer_challenge(world.audit, world.provider, cid, proofs.graph, proofs.accuracy_pk, short, mode="public")
    right = write_test_set(tmp_path / "right.npz", proofs.test_inputs, proofs.honest_labels)
    status = answer_challenge(world.audit, world.provider, cid, proofs.graph, proofs.accuracy_pk, right, mode="public")
    assert status == ChallengeStatus.PASSED and world.audit.owed(world.provider) == FEE
    with pytest.raises(VerificationError, match="passed"):
        answer_challenge(world.audit, world.provider, cid, proofs.graph, proofs.accuracy_pk, right, mode="public")
