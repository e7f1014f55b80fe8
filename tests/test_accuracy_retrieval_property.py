"""Ether conservation in the accuracy audit and the retrieval market under random use.

A hypothesis state machine stakes (by providers and strangers, again after an unstake or a lost
bond), accepts pools, challenges on accepted, unaccepted and private pools with several
challenges open at once, draws (letting the draw block fall out of the 256-block hash window at
times), answers (right proof, a proof about another pool, a stranger), expires, cancels,
requests and completes unstakes; it also opens, answers and refunds retrieval requests, moves
time and withdraws. A plain-Python model of the rules predicts whether every call succeeds and
whom it credits; after every step each contract's ether equals what it still holds for someone
(bonds, fees of unsettled challenges, payments of open requests) plus its credits, every credit
and stake record matches the model, no settled challenge changes again, and no more bonded
challenges are drawn and unsettled than the bond has slices for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from support.audit_world import CLAIM_BPS, SAMPLES, UNBONDING, WINDOW, make_world

from marketplace.audit import ChallengeStatus
from marketplace.chain import advance_time, latest_timestamp
from marketplace.contracts import ContractRevert
from marketplace.retrieval import RequestStatus, Retrieval
from prover.circuit import retrieval as R

MODELS = 2
SHORT_WAIT, LONG_WAIT = 10, 2 * UNBONDING  # far from every deadline, however slow the chain
AMOUNTS = (10**15, 7 * 10**16)
SLICE = 10**16
OPEN = (ChallengeStatus.WAITING, ChallengeStatus.DRAWN)


@dataclass
class StakeModel:
    bond: int
    slice: int
    epoch: int
    accepted: set = field(default_factory=set)
    unbonding_at: int = 0
    opened: int = 0
    settled: int = 0
    cancelled: int = 0

    @property
    def window(self) -> int:
        return self.settled + self.bond // self.slice


@dataclass
class ChallengeModel:
    cid: int
    model: int
    challenger: str
    pool: str  # "honest", "hard" or "private" (the honest data, registered without a URI)
    fee: int
    bonded: bool
    position: int
    status: ChallengeStatus = ChallengeStatus.WAITING
    deadline: int = 0
    draw: int = 0


@dataclass
class RequestModel:
    rid: int
    requester: str
    valid_class: bool
    payment: int
    deadline: int
    status: RequestStatus = RequestStatus.OPEN


class AuditAndRetrieval(RuleBasedStateMachine):
    proofs = None  # set by the test

    def __init__(self):
        super().__init__()
        p = self.proofs
        self.world = make_world(p, models=MODELS)
        w3 = self.world.w3
        self.retrieval = Retrieval.deploy(w3, self.world.market.registry.address, sender=w3.eth.accounts[0])
        self.corpus_id = self.retrieval.register_corpus(
            self.world.provider, R.corpus_commitment(p.graph, p.corpus), len(p.corpus)
        )
        self.accounts = w3.eth.accounts[1:5]  # provider, auditor, stranger, another auditor
        self.data = {"honest": p.honest, "hard": p.hard, "private": p.honest}
        self.stakes: dict[int, StakeModel | None] = {m: None for m in range(1, MODELS + 1)}
        self.epochs = {m: 0 for m in range(1, MODELS + 1)}
        self.challenges: list[ChallengeModel] = []
        self.requests: list[RequestModel] = []
        self.owed = {"audit": {}, "retrieval": {}}

    # helpers
    def _credit(self, where, account, amount):
        self.owed[where][account] = self.owed[where].get(account, 0) + amount

    def _call(self, expect_ok: bool, fn, *args):
        try:
            result = fn(*args)
        except ContractRevert as exc:
            assert not expect_ok, f"{fn.__name__}{args[:3]} reverted with {exc.error}"
            return None
        assert expect_ok, f"{fn.__name__}{args[:3]} succeeded against the rules"
        return result if result is not None else True

    def _now(self):
        return latest_timestamp(self.world.w3)

    def _pick(self, pick):
        return self.challenges[pick % len(self.challenges)]

    def _settle_bonded(self, ch: ChallengeModel, lost: bool):
        stake = self.stakes[ch.model]
        stake.settled += 1
        if lost:
            stake.bond -= stake.slice
            self._credit("audit", ch.challenger, ch.fee + stake.slice)

    # accuracy audit
    @rule(model=st.integers(1, MODELS), slices=st.integers(1, 2), by_provider=st.booleans())
    def stake(self, model, slices, by_provider):
        sender = self.world.provider if by_provider else self.world.stranger
        old = self.stakes[model]
        ok = by_provider and (old is None or (old.bond == 0 and old.opened == old.settled + old.cancelled))
        if self._call(ok, self.world.audit.stake, sender, model, CLAIM_BPS, SAMPLES, slices * SLICE, SLICE):
            self.epochs[model] += 1
            self.stakes[model] = StakeModel(slices * SLICE, SLICE, self.epochs[model])

    @rule(model=st.integers(1, MODELS), pool=st.sampled_from(("honest", "hard")), by_provider=st.booleans())
    def accept(self, model, pool, by_provider):
        sender = self.world.provider if by_provider else self.world.stranger
        stake = self.stakes[model]
        ok = by_provider and stake is not None and stake.bond > 0
        if self._call(ok, self.world.audit.accept_pool, sender, model, self.world.pools[pool]):
            stake.accepted.add(pool)

    @rule(
        model=st.integers(1, MODELS),
        pool=st.sampled_from(("honest", "hard", "private")),
        fee=st.sampled_from(AMOUNTS),
        challenger=st.sampled_from((1, 2, 3)),
    )
    def challenge(self, model, pool, fee, challenger):
        sender = self.accounts[challenger]
        stake = self.stakes[model]
        bonded = stake is not None and pool in stake.accepted
        ok = stake is not None and (
            not bonded or (stake.bond > 0 and (stake.unbonding_at == 0 or self._now() < stake.unbonding_at))
        )
        cid = self._call(ok, self.world.audit.challenge, sender, model, self.world.pools[pool], fee)
        if cid:
            position = stake.opened if bonded else 0
            if bonded:
                stake.opened += 1
            self.challenges.append(ChallengeModel(cid, model, sender, pool, fee, bonded, position))
            record = self.world.audit.status(cid)
            assert (record.bonded, record.position, record.samples) == (bonded, position, SAMPLES)

    @precondition(lambda self: self.challenges)
    @rule(pick=st.integers(0, 100))
    def draw(self, pick):
        ch = self._pick(pick)
        stake = self.stakes[ch.model]
        ok = ch.status == ChallengeStatus.WAITING and (not ch.bonded or ch.position < stake.window)
        before = self.world.audit.status(ch.cid)
        if self._call(ok, self.world.audit.draw, self.world.stranger, ch.cid):
            record = self.world.audit.status(ch.cid)
            if record.status == ChallengeStatus.WAITING:  # the draw block had left the hash window
                assert record.redraws == before.redraws + 1
                return
            assert record.status == ChallengeStatus.DRAWN
            ch.status, ch.deadline, ch.draw = ChallengeStatus.DRAWN, record.deadline, record.draw

    @rule()
    def let_draw_blocks_lapse(self):
        self.world.w3.provider.ethereum_tester.mine_blocks(257)

    @precondition(lambda self: self.challenges)
    @rule(pick=st.integers(0, 100), proof=st.sampled_from(("right", "other pool")), by_provider=st.booleans())
    def answer(self, pick, proof, by_provider):
        ch = self._pick(pick)
        if ch.status != ChallengeStatus.DRAWN:
            return
        sender = self.world.provider if by_provider else self.world.stranger
        data = (
            self.data[ch.pool]
            if proof == "right"
            else (self.proofs.hard if self.data[ch.pool] is self.proofs.honest else self.proofs.honest)
        )
        evm_proof, public = self.proofs.prove(data, ch.draw)
        ok = by_provider and self._now() < ch.deadline and proof == "right"
        if self._call(ok, self.world.audit.answer, sender, ch.cid, evm_proof, public[3]):
            passed = self.data[ch.pool] is self.proofs.honest
            ch.status = ChallengeStatus.PASSED if passed else ChallengeStatus.FAILED
            if ch.bonded:
                self._settle_bonded(ch, lost=not passed)
            if passed or not ch.bonded:
                self._credit("audit", self.world.provider, ch.fee)

    @precondition(lambda self: self.challenges)
    @rule(pick=st.integers(0, 100))
    def expire(self, pick):
        ch = self._pick(pick)
        ok = ch.status == ChallengeStatus.DRAWN and self._now() > ch.deadline
        if self._call(ok, self.world.audit.expire, self.world.stranger, ch.cid):
            ch.status = ChallengeStatus.EXPIRED
            if ch.bonded:
                self._settle_bonded(ch, lost=True)
            else:
                self._credit("audit", ch.challenger, ch.fee)

    @precondition(lambda self: self.challenges)
    @rule(pick=st.integers(0, 100), by_challenger=st.booleans())
    def cancel(self, pick, by_challenger):
        ch = self._pick(pick)
        sender = ch.challenger if by_challenger else self.accounts[0]  # the provider challenges nothing
        ok = ch.status == ChallengeStatus.WAITING and (
            self.stakes[ch.model].bond == 0 if ch.bonded else sender == ch.challenger
        )
        if self._call(ok, self.world.audit.cancel, sender, ch.cid):
            ch.status = ChallengeStatus.CANCELLED
            if ch.bonded:
                self.stakes[ch.model].cancelled += 1
            self._credit("audit", ch.challenger, ch.fee)

    @rule(model=st.integers(1, MODELS))
    def request_unstake(self, model):
        stake = self.stakes[model]
        ok = stake is not None and stake.bond > 0 and stake.unbonding_at == 0
        at = self._call(ok, self.world.audit.request_unstake, self.world.provider, model)
        if at:
            stake.unbonding_at = at

    @rule(model=st.integers(1, MODELS))
    def complete_unstake(self, model):
        stake = self.stakes[model]
        ok = (
            stake is not None
            and stake.bond > 0
            and stake.unbonding_at != 0
            and self._now() >= stake.unbonding_at
            and stake.opened == stake.settled + stake.cancelled
        )
        if self._call(ok, self.world.audit.complete_unstake, self.world.provider, model):
            self._credit("audit", self.world.provider, stake.bond)
            stake.bond = 0

    # retrieval
    @rule(valid_class=st.booleans(), payment=st.sampled_from(AMOUNTS), requester=st.sampled_from((1, 3)))
    def request(self, valid_class, payment, requester):
        cls = self.proofs.requested_class if valid_class else (self.proofs.requested_class + 1) % 4
        sender = self.accounts[requester]
        deadline = self._now() + WINDOW
        rid = self._call(
            True, self.retrieval.request, sender, self.world.model_id, self.corpus_id, cls, deadline, payment
        )
        self.requests.append(RequestModel(rid, sender, valid_class, payment, deadline))

    @precondition(lambda self: self.requests)
    @rule(pick=st.integers(0, 100), by_provider=st.booleans())
    def fulfil(self, pick, by_provider):
        rq = self.requests[pick % len(self.requests)]
        sender = self.world.provider if by_provider else self.world.stranger
        ok = by_provider and rq.status == RequestStatus.OPEN and self._now() < rq.deadline and rq.valid_class
        proof, public, selected = self.proofs.retrieval
        if self._call(ok, self.retrieval.fulfil, sender, rq.rid, proof, public[3], len(selected)):
            rq.status = RequestStatus.FULFILLED
            self._credit("retrieval", self.world.provider, rq.payment)

    @precondition(lambda self: self.requests)
    @rule(pick=st.integers(0, 100), by_requester=st.booleans())
    def refund(self, pick, by_requester):
        rq = self.requests[pick % len(self.requests)]
        sender = rq.requester if by_requester else self.world.stranger
        ok = by_requester and rq.status == RequestStatus.OPEN and self._now() > rq.deadline
        if self._call(ok, self.retrieval.refund, sender, rq.rid):
            rq.status = RequestStatus.REFUNDED
            self._credit("retrieval", rq.requester, rq.payment)

    # both
    @rule(seconds=st.sampled_from((SHORT_WAIT, LONG_WAIT)))
    def wait(self, seconds):
        advance_time(self.world.w3, seconds)

    @rule(account=st.integers(0, 3), audit=st.booleans())
    def withdraw(self, account, audit):
        where, contract = ("audit", self.world.audit) if audit else ("retrieval", self.retrieval)
        who = self.accounts[account]
        due = self.owed[where].get(who, 0)
        before = self.world.w3.eth.get_balance(who)
        sent = self._call(due > 0, contract.withdraw, who)
        if sent:
            assert sent == due and self.world.w3.eth.get_balance(who) > before - 10**16
            self.owed[where][who] = 0

    @invariant()
    def ether_is_conserved_and_credits_match(self):
        held_audit = sum(s.bond for s in self.stakes.values() if s) + sum(
            c.fee for c in self.challenges if c.status in OPEN
        )
        held_retrieval = sum(r.payment for r in self.requests if r.status == RequestStatus.OPEN)
        for where, contract, held in (
            ("audit", self.world.audit, held_audit),
            ("retrieval", self.retrieval, held_retrieval),
        ):
            credits = {a: contract.owed(a) for a in self.accounts}
            assert credits == {a: self.owed[where].get(a, 0) for a in self.accounts}
            assert contract.balance() == held + sum(credits.values())
        for ch in self.challenges:
            assert self.world.audit.status(ch.cid).status == ch.status
        for rq in self.requests:
            assert self.retrieval.request_of(rq.rid).status == rq.status
        for model, stake in self.stakes.items():
            if stake is None:
                continue
            record = self.world.audit.stake_of(model)
            assert (record.bond, record.epoch, record.opened, record.settled, record.cancelled) == (
                stake.bond,
                stake.epoch,
                stake.opened,
                stake.settled,
                stake.cancelled,
            )
            drawn = sum(
                1 for c in self.challenges if c.model == model and c.bonded and c.status == ChallengeStatus.DRAWN
            )
            assert drawn <= stake.bond // stake.slice  # every drawn bonded challenge finds its slice


@pytest.mark.slow
def test_ether_is_conserved_under_random_audits_and_retrievals(proofs):
    AuditAndRetrieval.proofs = proofs
    run_state_machine_as_test(
        AuditAndRetrieval,
        settings=settings(
            max_examples=4,
            stateful_step_count=24,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        ),
    )
