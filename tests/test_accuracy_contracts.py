"""AccuracyAudit on the embedded EVM with real accuracy proofs on drawn pool samples.

A bonded challenge (on a pool the provider accepted) that passes pays the provider and attests
the model; one that fails or goes unanswered pays the challenger its fee and one slice of the
bond. Every path has its reject twin (late answer, second answer, another pool, another draw,
a tampered proof, a stranger), and the attacks of the old design fail: a pool without data or
with wrong labels, or a sample count of the challenger's choosing, cannot take a bond; an
unstake cannot front-run a challenge; a second account cannot block the slot; a model can stake
again after unstaking or losing its bond."""

from __future__ import annotations

import pytest
from support.audit_world import (
    BOND,
    CLAIM_BPS,
    FEE,
    POOL_ITEMS,
    SAMPLES,
    SLICE,
    UNBONDING,
    WINDOW,
    Proofs,
    World,
    make_world,
    reverts,
)

from marketplace.audit import Audit, ChallengeStatus, answer_challenge, next_block, write_pool
from marketplace.chain import advance_time
from marketplace.contracts import proof_to_evm
from prover.circuit import accuracy as A
from prover.errors import VerificationError
from prover.field import FR_MODULUS

# real proofs on py-evm's pairing precompile: minutes, so the whole module is slow
pytestmark = pytest.mark.slow


@pytest.fixture
def world(proofs):
    return make_world(proofs)


def _stake(world: World, *pools: str, bond: int = BOND) -> None:
    world.audit.stake(world.provider, world.model_id, CLAIM_BPS, SAMPLES, bond, SLICE)
    for name in pools:
        world.audit.accept_pool(world.provider, world.model_id, world.pools[name])


def _drawn(world: World, pool: str, challenger: str | None = None) -> tuple[int, object]:
    cid = world.audit.challenge(challenger or world.auditor, world.model_id, world.pools[pool], FEE)
    record = world.audit.draw(world.stranger, cid)  # anyone draws
    assert record.status == ChallengeStatus.DRAWN
    return cid, record


def _answer(world: World, proofs: Proofs, cid: int, pool) -> ChallengeStatus:
    proof, public = proofs.prove(pool, world.audit.status(cid).draw)
    return world.audit.answer(world.provider, cid, proof, public[3])


def test_a_passing_answer_pays_the_provider_and_attests_the_model(world, proofs):
    _stake(world, "honest")
    cid = world.audit.challenge(world.auditor, world.model_id, world.pools["honest"], FEE)
    gas = {"challenge": world.audit.last_receipt["gasUsed"]}
    record = world.audit.status(cid)
    assert (record.status, record.bonded, record.samples) == (ChallengeStatus.WAITING, True, SAMPLES)
    reverts("DrawTooEarly", world.audit.draw, world.stranger, cid, False)  # the draw block is the next one
    record = world.audit.draw(world.stranger, cid)
    gas["draw"] = world.audit.last_receipt["gasUsed"]
    assert A.split_draw(record.draw)[1:] == (POOL_ITEMS, SAMPLES) and record.deadline > 0
    assert _answer(world, proofs, cid, proofs.honest) == ChallengeStatus.PASSED
    gas["answer"] = world.audit.last_receipt["gasUsed"]
    print(f"gas: {gas}")
    (att,) = world.audit.attestations(world.model_id)
    assert (att.pool_id, att.samples, att.correct, att.challenge_id, att.bonded) == (
        world.pools["honest"],
        SAMPLES,
        SAMPLES,
        cid,
        True,
    )
    assert world.audit.owed(world.provider) == FEE and world.audit.owed(world.auditor) == 0
    assert world.audit.stake_of(world.model_id).bond == BOND
    # each outcome once
    proof, public = proofs.prove(proofs.honest, record.draw)
    reverts("WrongStatus", world.audit.answer, world.provider, cid, proof, public[3])
    reverts("WrongStatus", world.audit.draw, world.stranger, cid)
    advance_time(world.w3, WINDOW + 1)
    reverts("WrongStatus", world.audit.expire, world.auditor, cid)
    assert world.audit.withdraw(world.provider) == FEE
    reverts("NothingToWithdraw", world.audit.withdraw, world.provider)
    assert world.audit.balance() == BOND


def test_a_failing_answer_takes_one_slice_and_the_stake_goes_on(world, proofs):
    _stake(world, "honest", "hard")
    cid, _ = _drawn(world, "hard")
    assert _answer(world, proofs, cid, proofs.hard) == ChallengeStatus.FAILED
    assert world.audit.status(cid).correct == 0
    assert world.audit.owed(world.auditor) == FEE + SLICE and world.audit.owed(world.provider) == 0
    assert world.audit.attestations(world.model_id) == []
    stake = world.audit.stake_of(world.model_id)
    assert (stake.bond, stake.settled, stake.pending) == (BOND - SLICE, 1, 0)
    # the rest of the bond still answers for the next challenge
    cid2, _ = _drawn(world, "hard", world.stranger)
    assert _answer(world, proofs, cid2, proofs.hard) == ChallengeStatus.FAILED
    assert world.audit.stake_of(world.model_id).bond == 0
    reverts("NotStaked", world.audit.challenge, world.auditor, world.model_id, world.pools["hard"], FEE)
    assert world.audit.balance() == 2 * (FEE + SLICE)


def test_a_late_answer_loses_the_slice(world, proofs):
    _stake(world, "honest")
    cid, record = _drawn(world, "honest")
    reverts("DeadlineNotReached", world.audit.expire, world.stranger, cid)
    advance_time(world.w3, WINDOW + 1)
    proof, public = proofs.prove(proofs.honest, record.draw)
    reverts("DeadlinePassed", world.audit.answer, world.provider, cid, proof, public[3])
    world.audit.expire(world.stranger, cid)  # anyone settles it; the challenger is paid
    assert world.audit.status(cid).status == ChallengeStatus.EXPIRED
    assert world.audit.owed(world.auditor) == FEE + SLICE and world.audit.owed(world.stranger) == 0
    assert world.audit.stake_of(world.model_id).bond == BOND - SLICE
    reverts("WrongStatus", world.audit.expire, world.auditor, cid)


def test_proofs_about_another_pool_draw_count_or_tampered_are_refused(world, proofs):
    _stake(world, "honest", "hard")
    cid, record = _drawn(world, "honest")
    other_draw = A.make_draw(A.split_draw(record.draw)[0] ^ 1, POOL_ITEMS, SAMPLES)
    refused = [
        proofs.prove(proofs.hard, record.draw),  # the same draw on the other pool
        proofs.prove(proofs.honest, other_draw),  # the right pool at indices of another draw
    ]
    for proof, public in refused:
        reverts("InvalidProof", world.audit.answer, world.provider, cid, proof, public[3])
    proof, public = proofs.prove(proofs.honest, record.draw)
    reverts("InvalidProof", world.audit.answer, world.provider, cid, proof, public[3] - 1)  # claims less
    reverts("InvalidProof", world.audit.answer, world.provider, cid, proof, SAMPLES + 1)  # more than it ran
    a, b, c = proof_to_evm(proof)
    tampered = (a, b, [c[0], (c[1] + 1) % FR_MODULUS])
    reverts("InvalidProof", world.audit.answer, world.provider, cid, tampered, public[3])
    reverts("NotProvider", world.audit.answer, world.stranger, cid, proof, public[3])
    assert world.audit.status(cid).status == ChallengeStatus.DRAWN
    assert world.audit.answer(world.provider, cid, proof, public[3]) == ChallengeStatus.PASSED


def test_a_proof_over_another_sample_count_is_refused(world, proofs):
    """Route 2 of the old attack: the sample count is the stake's (the registered circuit's);
    a stake that names another count gets draws no proof of this circuit answers."""
    world.audit.stake(world.provider, world.model_id, CLAIM_BPS, SAMPLES + 1, BOND, SLICE)
    world.audit.accept_pool(world.provider, world.model_id, world.pools["honest"])
    cid, record = _drawn(world, "honest")
    assert A.split_draw(record.draw)[2] == SAMPLES + 1
    with pytest.raises(Exception, match="exactly 3"):
        proofs.prove(proofs.honest, record.draw)
    wrong = A.make_draw(A.split_draw(record.draw)[0], POOL_ITEMS, SAMPLES)
    proof, public = proofs.prove(proofs.honest, wrong)
    reverts("InvalidProof", world.audit.answer, world.provider, cid, proof, public[3])


def test_pools_the_provider_did_not_accept_never_take_the_bond(world, proofs):
    """Routes 1 and 3 of the old attack: a pool whose data nobody has (or that is never handed
    over), and a pool with wrong labels, are not accepted, so a challenge on them only asks for
    an attestation: unanswered, the challenger gets its fee back and the bond stays."""
    _stake(world, "honest")
    assert not world.audit.accepts(world.model_id, world.pools["hard"])
    ghost = world.audit.register_pool(world.stranger, 12345, POOL_ITEMS, "")  # a root without preimage
    for pool in (ghost, world.pools["hard"]):
        cid = world.audit.challenge(world.stranger, world.model_id, pool, FEE)
        assert not world.audit.status(cid).bonded
        world.audit.draw(world.stranger, cid)
        advance_time(world.w3, WINDOW + 1)
        world.audit.expire(world.stranger, cid)
        assert world.audit.status(cid).status == ChallengeStatus.EXPIRED
    assert world.audit.owed(world.stranger) == 2 * FEE
    assert world.audit.stake_of(world.model_id).bond == BOND
    assert world.audit.balance() == BOND + 2 * FEE


def test_a_private_test_set_buys_an_attestation_but_never_the_bond(world, proofs, tmp_path):
    _stake(world, "honest")
    cid, _ = _drawn(world, "private")
    assert not world.audit.status(cid).bonded
    # the auditor hands its file to the provider; the answer earns the fee and an unbonded attestation
    path = write_pool(tmp_path / "private.npz", proofs.honest.inputs, proofs.honest.labels)
    assert (
        answer_challenge(world.audit, world.provider, cid, proofs.graph, proofs.accuracy_pk, path, mode="public")
        == ChallengeStatus.PASSED
    )
    (att,) = world.audit.attestations(world.model_id)
    assert (att.pool_id, att.bonded) == (world.pools["private"], False)
    assert world.audit.owed(world.provider) == FEE
    # before its draw, the challenger (only) may take an attestation request back
    cid = world.audit.challenge(world.auditor, world.model_id, world.pools["private"], FEE)
    reverts("NotCancellable", world.audit.cancel, world.stranger, cid)
    world.audit.cancel(world.auditor, cid)
    assert world.audit.owed(world.auditor) == FEE
    reverts("WrongStatus", world.audit.draw, world.auditor, cid)


def test_an_unstake_request_does_not_front_run_a_challenge(world, proofs):
    _stake(world, "honest", "hard")
    world.audit.request_unstake(world.provider, world.model_id)
    # the challenge landing after the request is still taken, and bonded
    cid, _ = _drawn(world, "hard")
    reverts("UnbondingNotDue", world.audit.complete_unstake, world.provider, world.model_id)
    advance_time(world.w3, UNBONDING + 1)
    reverts("Unbonding", world.audit.challenge, world.auditor, world.model_id, world.pools["hard"], FEE)
    reverts("ChallengesPending", world.audit.complete_unstake, world.provider, world.model_id)
    world.audit.expire(world.stranger, cid)  # the answer window passed too: the slice is the auditor's
    assert world.audit.complete_unstake(world.provider, world.model_id) == BOND - SLICE
    assert world.audit.owed(world.provider) == BOND - SLICE
    assert world.audit.owed(world.auditor) == FEE + SLICE
    reverts("NotStaked", world.audit.complete_unstake, world.provider, world.model_id)
    # and the model stakes again, with a fresh list of accepted pools
    world.audit.stake(world.provider, world.model_id, CLAIM_BPS, SAMPLES, SLICE, SLICE)
    stake = world.audit.stake_of(world.model_id)
    assert (stake.epoch, stake.bond, stake.opened) == (2, SLICE, 0)
    assert not world.audit.accepts(world.model_id, world.pools["hard"])


def test_a_second_account_cannot_block_the_slot(world, proofs):
    """One slice: the provider's own second account challenges first; an honest challenge is
    still opened (queued, its fee held) and is drawn as soon as the first settles, whichever
    way; if the bond runs out before its turn, its fee comes back and the model can restake."""
    _stake(world, "honest", "hard", bond=SLICE)
    sybil = world.w3.eth.accounts[5]
    first = world.audit.challenge(sybil, world.model_id, world.pools["honest"], FEE)
    honest = world.audit.challenge(world.auditor, world.model_id, world.pools["hard"], FEE)
    third = world.audit.challenge(world.stranger, world.model_id, world.pools["hard"], FEE)
    next_block(world.w3)
    reverts("Queued", world.audit.draw, world.auditor, honest)
    world.audit.draw(sybil, first)
    assert _answer(world, proofs, first, proofs.honest) == ChallengeStatus.PASSED
    # the slot is free: the honest challenge draws, fails and takes the slice
    world.audit.draw(world.auditor, honest)
    assert _answer(world, proofs, honest, proofs.hard) == ChallengeStatus.FAILED
    assert world.audit.owed(world.auditor) == FEE + SLICE
    # the bond is gone before the third one's turn: it cannot be drawn, anyone cancels it for its challenger
    reverts("Queued", world.audit.draw, world.stranger, third)
    reverts("StakeInUse", world.audit.stake, world.provider, world.model_id, CLAIM_BPS, SAMPLES, BOND, SLICE)
    world.audit.cancel(world.auditor, third)
    assert world.audit.owed(world.stranger) == FEE
    world.audit.stake(world.provider, world.model_id, CLAIM_BPS, SAMPLES, BOND, SLICE)
    assert world.audit.stake_of(world.model_id).epoch == 2


def test_a_draw_block_out_of_the_hash_window_is_drawn_again(world, proofs):
    _stake(world, "honest")
    cid = world.audit.challenge(world.auditor, world.model_id, world.pools["honest"], FEE)
    world.w3.provider.ethereum_tester.mine_blocks(258)
    record = world.audit.draw(world.stranger, cid)
    assert (record.status, record.redraws) == (ChallengeStatus.WAITING, 1)
    assert record.draw_block == world.w3.eth.block_number + 1
    record = world.audit.draw(world.stranger, cid)
    assert record.status == ChallengeStatus.DRAWN
    assert world.audit.balance() == BOND + FEE


def test_strangers_and_bad_arguments_are_refused(world, proofs):
    audit, model = world.audit, world.model_id
    reverts(
        "BadWindows",
        lambda: Audit.deploy(world.w3, world.market.registry.address, WINDOW, WINDOW, sender=world.provider),
    )
    reverts("BadPool", audit.register_pool, world.auditor, FR_MODULUS, 4, "")
    reverts("BadPool", audit.register_pool, world.auditor, 1, 0, "")
    reverts("BadPool", audit.register_pool, world.auditor, 1, A.MAX_POOL_SIZE + 1, "")
    reverts("UnknownPool", audit.pool_of, 99)
    reverts("NotStaked", audit.challenge, world.auditor, model, world.pools["honest"], FEE)
    reverts("NotProvider", audit.stake, world.stranger, model, CLAIM_BPS, SAMPLES, BOND, SLICE)
    for claim, samples, bond, slice_ in (
        (0, 3, BOND, SLICE),
        (10_001, 3, BOND, SLICE),
        (CLAIM_BPS, 0, BOND, SLICE),
        (CLAIM_BPS, 65_536, BOND, SLICE),
        (CLAIM_BPS, 3, BOND, BOND + 1),
        (CLAIM_BPS, 3, BOND + 1, SLICE),
    ):
        reverts("BadStake", audit.stake, world.provider, model, claim, samples, bond, slice_)
    audit.stake(world.provider, model, CLAIM_BPS, SAMPLES, BOND, SLICE, FEE)
    reverts("StakeInUse", audit.stake, world.provider, model, CLAIM_BPS, SAMPLES, BOND, SLICE)
    reverts("NotProvider", audit.accept_pool, world.stranger, model, world.pools["honest"])
    reverts("UnknownPool", audit.accept_pool, world.provider, model, 99)
    reverts("UnknownPool", audit.challenge, world.auditor, model, 99, FEE)
    reverts("FeeTooLow", audit.challenge, world.auditor, model, world.pools["honest"], FEE - 1)
    reverts("NotProvider", audit.request_unstake, world.stranger, model)
    reverts("UnbondingNotDue", audit.complete_unstake, world.provider, model)
    audit.request_unstake(world.provider, model)
    reverts("AlreadyUnbonding", audit.request_unstake, world.provider, model)
    reverts("UnknownChallenge", audit.status, 1)
    reverts("UnknownChallenge", audit.draw, world.stranger, 1)


def test_the_provider_answers_from_the_published_file_and_refuses_another(world, proofs, tmp_path):
    """The SDK's whole provider answer: it checks the file against the on-chain root before any
    proof or transaction, then draws when nobody has."""
    _stake(world, "honest")
    cid = world.audit.challenge(world.auditor, world.model_id, world.pools["honest"], FEE)
    wrong = write_pool(tmp_path / "wrong.npz", proofs.hard.inputs, proofs.hard.labels)
    with pytest.raises(VerificationError, match="not the registered pool"):
        answer_challenge(world.audit, world.provider, cid, proofs.graph, proofs.accuracy_pk, wrong, mode="public")
    assert world.audit.status(cid).status == ChallengeStatus.WAITING  # refused before drawing: nothing sent
    right = write_pool(tmp_path / "right.npz", proofs.honest.inputs, proofs.honest.labels)
    status = answer_challenge(world.audit, world.provider, cid, proofs.graph, proofs.accuracy_pk, right, mode="public")
    assert status == ChallengeStatus.PASSED and world.audit.owed(world.provider) == FEE
    with pytest.raises(VerificationError, match="passed"):
        answer_challenge(world.audit, world.provider, cid, proofs.graph, proofs.accuracy_pk, right, mode="public")
