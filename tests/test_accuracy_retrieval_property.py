"""Ether conservation in the accuracy audit and the retrieval market under random use.

A hypothesis state machine stakes (by providers and strangers), challenges with test sets the
pool of real proofs does or does not match, answers (right proof, wrong proof, stranger),
expires, unstakes, opens and answers and refunds retrieval requests, moves time and
withdraws. A plain-Python model of the rules predicts whether every call succeeds and whom it
credits; after every step each contract's ether equals what it still holds for someone (bonds
at stake, fees of open challenges, payments of open requests) plus its credits, every credit
matches the model, and no settled challenge or request changes again.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from marketplace.audit import ChallengeStatus
from marketplace.chain import advance_time, latest_timestamp
from marketplace.contracts import ContractRevert
from marketplace.retrieval import RequestStatus, Retrieval
from prover.circuit import accuracy as A
from prover.circuit import retrieval as R
from test_accuracy_contracts import WINDOW, make_world, proofs  # noqa: F401  (session fixture)

MODELS = 3
SHORT_WAIT, LONG_WAIT = 10, 2 * WINDOW  # far from every deadline, however slow the chain
CLAIMS = (6000, 9000)                    # 2 of 3 correct passes the first, fails the second
AMOUNTS = (10**15, 7 * 10**16)


@dataclass
class ChallengeModel:
    cid: int
    model: int
    auditor: str
    test_set: str   # "honest", "hard" or "other"
    fee: int
    deadline: int
    status: ChallengeStatus = ChallengeStatus.OPEN


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
        self.corpus_id = self.retrieval.register_corpus(self.world.provider, R.corpus_commitment(p.graph, p.corpus),
                                                        len(p.corpus))
        self.accounts = w3.eth.accounts[1:5]   # provider, auditor, stranger, another auditor
        self.commitments = {
            "honest": A.test_set_commitment(p.graph, p.test_inputs, p.honest_labels),
            "hard": A.test_set_commitment(p.graph, p.test_inputs, p.hard_labels),
            "other": 12345,
        }
        self.stakes = {m: None for m in range(1, MODELS + 1)}   # model -> [claim, bond] or None
        self.challenges: list[ChallengeModel] = []
        self.requests: list[RequestModel] = []
        self.owed = {"audit": {}, "retrieval": {}}

    # helpers
    def _credit(self, where, account, amount):
        self.owed[where][account] = self.owed[where].get(account, 0) + amount

    def _open(self, model):
        return next((c for c in self.challenges if c.model == model and c.status == ChallengeStatus.OPEN), None)

    def _call(self, expect_ok: bool, fn, *args):
        try:
            result = fn(*args)
        except ContractRevert as exc:
            assert not expect_ok, f"{fn.__name__}{args[:2]} reverted with {exc.error}"
            return None
        assert expect_ok, f"{fn.__name__}{args[:2]} succeeded against the rules"
        return result if result is not None else True

    def _now(self):
        return latest_timestamp(self.world.w3)

    # accuracy audit
    @rule(model=st.integers(1, MODELS), claim=st.sampled_from(CLAIMS), bond=st.sampled_from(AMOUNTS),
          by_provider=st.booleans())
    def stake(self, model, claim, bond, by_provider):
        sender = self.world.provider if by_provider else self.world.stranger
        ok = by_provider and self.stakes[model] is None
        if self._call(ok, self.world.audit.stake, sender, model, claim, bond):
            self.stakes[model] = [claim, bond]

    @rule(model=st.integers(1, MODELS), test_set=st.sampled_from(("honest", "hard", "other")),
          fee=st.sampled_from(AMOUNTS), auditor=st.sampled_from((1, 3)))
    def challenge(self, model, test_set, fee, auditor):
        sender = self.accounts[auditor]
        stake = self.stakes[model]
        ok = stake is not None and stake[1] > 0 and self._open(model) is None
        cid = self._call(ok, self.world.audit.challenge, sender, model, self.commitments[test_set], 3, fee)
        if cid:
            self.challenges.append(ChallengeModel(cid, model, sender, test_set, fee, self._now() + WINDOW))

    @precondition(lambda self: self.challenges)
    @rule(pick=st.integers(0, 100), proof=st.sampled_from(("passing", "failing")), by_provider=st.booleans())
    def answer(self, pick, proof, by_provider):
        ch = self.challenges[pick % len(self.challenges)]
        sender = self.world.provider if by_provider else self.world.stranger
        matches = (ch.test_set, proof) in (("honest", "passing"), ("hard", "failing"))
        ok = by_provider and ch.status == ChallengeStatus.OPEN and self._now() < ch.deadline and matches
        evm_proof, public = getattr(self.proofs, proof)
        if self._call(ok, self.world.audit.answer, sender, ch.cid, evm_proof, public[3]):
            stake = self.stakes[ch.model]
            if public[3] * 10_000 >= stake[0] * 3:
                ch.status = ChallengeStatus.PASSED
                self._credit("audit", self.world.provider, ch.fee)
            else:
                ch.status = ChallengeStatus.FAILED
                self._credit("audit", ch.auditor, ch.fee + stake[1])
                stake[1] = 0

    @precondition(lambda self: self.challenges)
    @rule(pick=st.integers(0, 100))
    def expire(self, pick):
        ch = self.challenges[pick % len(self.challenges)]
        ok = ch.status == ChallengeStatus.OPEN and self._now() > ch.deadline
        if self._call(ok, self.world.audit.expire, self.world.stranger, ch.cid):
            ch.status = ChallengeStatus.EXPIRED
            self._credit("audit", ch.auditor, ch.fee + self.stakes[ch.model][1])
            self.stakes[ch.model][1] = 0

    @rule(model=st.integers(1, MODELS))
    def unstake(self, model):
        stake = self.stakes[model]
        ok = stake is not None and stake[1] > 0 and self._open(model) is None
        if self._call(ok, self.world.audit.unstake, self.world.provider, model):
            self._credit("audit", self.world.provider, stake[1])
            stake[1] = 0

    # retrieval
    @rule(valid_class=st.booleans(), payment=st.sampled_from(AMOUNTS), requester=st.sampled_from((1, 3)))
    def request(self, valid_class, payment, requester):
        cls = self.proofs.requested_class if valid_class else (self.proofs.requested_class + 1) % 4
        sender = self.accounts[requester]
        deadline = self._now() + WINDOW
        rid = self._call(True, self.retrieval.request, sender, self.world.model_id, self.corpus_id, cls, deadline,
                         payment)
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
        held_audit = sum(s[1] for s in self.stakes.values() if s) + \
            sum(c.fee for c in self.challenges if c.status == ChallengeStatus.OPEN)
        held_retrieval = sum(r.payment for r in self.requests if r.status == RequestStatus.OPEN)
        for where, contract, held in (("audit", self.world.audit, held_audit),
                                      ("retrieval", self.retrieval, held_retrieval)):
            credits = {a: contract.owed(a) for a in self.accounts}
            assert credits == {a: self.owed[where].get(a, 0) for a in self.accounts}
            assert contract.balance() == held + sum(credits.values())
        for ch in self.challenges:
            assert self.world.audit.status(ch.cid).status == ch.status
        for rq in self.requests:
            assert self.retrieval.request_of(rq.rid).status == rq.status


@pytest.mark.slow
def test_ether_is_conserved_under_random_audits_and_retrievals(proofs):  # noqa: F811
    AuditAndRetrieval.proofs = proofs
    run_state_machine_as_test(AuditAndRetrieval, settings=settings(
        max_examples=4, stateful_step_count=14, deadline=None, derandomize=True,
        suppress_health_check=list(HealthCheck)))
