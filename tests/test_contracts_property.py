"""Ether conservation under random use, and a re-entering receiver that cannot withdraw twice.

A hypothesis state machine drives registrations (toy models with one verifier, and the small
model of ``support.batch`` with a batch verifier too), price changes, requests opened one at a
time and in groups (with right and wrong payments), fulfils with a pool of real valid and
invalid proofs, batched fulfils of any requests (valid, tampered, of several models, stale),
refunds (by the consumer and by strangers, before and after deadlines), time and withdrawals
against one deployment (rolled back between examples). A plain-Python model of the rules predicts every outcome;
after every step the contract's ether equals what it owes (open escrows plus credits), every
credit matches the model, and every account's ether equals its start minus fees and payments
plus what it withdrew, so no account gains what it is not owed.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule, run_state_machine_as_test
from support.batch import BATCH
from support.toy import INPUTS, MODELS

from marketplace.chain import advance_time, connect, latest_timestamp
from marketplace.contracts import (
    ContractRevert,
    Market,
    Status,
    deploy,
    deploy_batch_verifier,
    deploy_verifier,
    group_of,
)

PRICES = (0, 10**15, 3 * 10**15)
# a request stays answerable for TIMEOUT seconds; waits are short or far past it, so no step
# lands near a deadline however long the (wall-clock driven) chain takes between blocks
TIMEOUT = 1000
SHORT_WAIT, LONG_WAIT = 10, 2 * TIMEOUT
RECEIVER_PRICE = 10**15
# the batched model's inputs: INPUTS name (input index, salt) of support.batch's small model
SMALL = "small"
SMALL_INPUTS = {"x1": (0, 1), "x2": (1, 2)}


@dataclass
class ModelState:
    model_id: int
    name: str  # which toy model's weights ("a" or "b"), or SMALL (the batched model)
    provider: str
    price: int


@dataclass
class RequestState:
    request_id: int
    model: ModelState
    inp: str
    consumer: str
    escrow: int
    deadline: int
    status: Status = Status.OPEN


class Deployment:
    """One chain with a verifier, registry and marketplace; examples start from its snapshot."""

    def __init__(self, circuit, batch_keys):
        self.w3 = connect()
        self.circuit = circuit
        self.batch_keys = batch_keys
        self.accounts = self.w3.eth.accounts[:6]
        self.verifier, _ = deploy_verifier(self.w3, circuit.verifying_key, self.accounts[0])
        self.small_verifier, _ = deploy_verifier(self.w3, batch_keys.single_pk.verifying_key(), self.accounts[0])
        self.batch_verifier, _ = deploy_batch_verifier(self.w3, batch_keys.batch_pk.verifying_key(), self.accounts[0])
        self.market = Market.deploy(self.w3, self.accounts[0])
        self.tester = self.w3.provider.ethereum_tester
        self.snapshot = self.tester.take_snapshot()
        # the pool: a valid proof per (model, input), and invalid ones made from them
        self.valid = {(m, i): circuit.proof(m, i) for m in MODELS for i in INPUTS}


class EscrowMachine(RuleBasedStateMachine):
    deployment: Deployment  # set by the test before the machine runs

    models = Bundle("models")
    requests = Bundle("requests")

    def __init__(self):
        super().__init__()
        d = self.deployment
        d.tester.revert_to_snapshot(d.snapshot)
        self.w3, self.market, self.circuit = d.w3, d.market, d.circuit
        self.providers, self.consumers = d.accounts[1:3], d.accounts[3:6]
        self.everyone = d.accounts[1:6]
        self.owed = {a: 0 for a in self.everyone}
        self.start = {a: self.w3.eth.get_balance(a) for a in self.everyone}
        self.spent = {a: 0 for a in self.everyone}  # fees and escrow payments
        self.withdrawn = {a: 0 for a in self.everyone}
        self.open_requests: dict[int, RequestState] = {}
        self.opened_terms: set[tuple] = set()  # (model id, consumer, price, deadline, inputs)

    # --- helpers -------------------------------------------------------------------------------

    def _charge_fee(self, account: str) -> None:
        receipt = self.market.last_receipt
        self.spent[account] += receipt["gasUsed"] * receipt["effectiveGasPrice"]

    def _expect(self, error: str | None, action, account: str):
        """Run ``action`` by ``account``: succeed when ``error`` is None, else revert with it."""
        if error is None:
            result = action()
            self._charge_fee(account)
            return result
        with pytest.raises(ContractRevert) as info:
            action()
        assert info.value.error == error, info.value
        if info.value.receipt is not None:  # mined revert: the sender paid its gas
            receipt = info.value.receipt
            self.spent[account] += receipt["gasUsed"] * receipt["effectiveGasPrice"]
        return None

    # --- rules ---------------------------------------------------------------------------------

    @rule(
        target=models,
        provider_index=st.integers(0, 1),
        name=st.sampled_from(sorted(MODELS)),
        price=st.sampled_from(PRICES),
    )
    def register(self, provider_index, name, price):
        provider = self.providers[provider_index]
        commitment = self.deployment.valid[(name, "x1")].model_commitment
        model_id = self._expect(
            None,
            lambda: self.market.register_model(provider, commitment, self.deployment.verifier.address, price),
            provider,
        )
        return ModelState(model_id, name, provider, price)

    @rule(target=models, provider_index=st.integers(0, 1), price=st.sampled_from(PRICES))
    def register_batched(self, provider_index, price):
        provider = self.providers[provider_index]
        d = self.deployment
        model_id = self._expect(
            None,
            lambda: self.market.register_model(
                provider,
                d.batch_keys.commitment,
                d.small_verifier.address,
                price,
                batch_verifiers=[d.batch_verifier.address],
            ),
            provider,
        )
        return ModelState(model_id, SMALL, provider, price)

    def _commitment(self, model: ModelState, inp: str) -> int:
        if model.name == SMALL:
            return self.deployment.batch_keys.result(*SMALL_INPUTS[inp])[0]
        return self.deployment.valid[(model.name, inp)].input_commitment

    @rule(model=models, price=st.sampled_from(PRICES), by_provider=st.booleans())
    def set_price(self, model, price, by_provider):
        sender = model.provider if by_provider else self.consumers[0]
        self._expect(
            None if by_provider else "NotProvider", lambda: self.market.set_price(sender, model.model_id, price), sender
        )
        if by_provider:
            model.price = price

    @rule(
        target=requests,
        model=models,
        consumer_index=st.integers(0, 2),
        inp=st.sampled_from(sorted(INPUTS)),
        overpay=st.sampled_from((0, 0, 0, 1, -1)),
    )
    def open_request(self, model, consumer_index, inp, overpay):
        return multiple(*self._open(model, consumer_index, [inp], overpay, single=True))

    @rule(
        target=requests,
        model=models,
        consumer_index=st.integers(0, 2),
        inps=st.lists(st.sampled_from(sorted(INPUTS)), min_size=1, max_size=3),
        overpay=st.sampled_from((0, 0, 0, 1, -1)),
    )
    def open_requests(self, model, consumer_index, inps, overpay):
        return multiple(*self._open(model, consumer_index, inps, overpay, single=False))

    def _open(self, model, consumer_index, inps, overpay, single) -> list[RequestState]:
        """Open one request (``single``) or a group; the requests opened (none when refused)."""
        consumer = self.consumers[consumer_index]
        value = model.price * len(inps) + overpay
        if value < 0:
            value = 1
        deadline = latest_timestamp(self.w3) + TIMEOUT
        commitments = [self._commitment(model, inp) for inp in inps]
        terms = (model.model_id, consumer, model.price, deadline, tuple(commitments))
        if value != model.price * len(inps):
            error = "WrongPayment"
        elif terms in self.opened_terms:
            error = "RequestExists"
        else:
            error = None
        if single:
            open_ = lambda: [self.market.open_request(consumer, model.model_id, commitments[0], deadline, value=value)]  # noqa: E731
        else:
            open_ = lambda: self.market.open_requests(consumer, model.model_id, commitments, deadline, value=value)  # noqa: E731
        rids = self._expect(error, open_, consumer)
        if rids is None:
            return []  # nothing opened: nothing for later rules to use
        self.opened_terms.add(terms)
        self.spent[consumer] += value
        states = [RequestState(rid, model, inp, consumer, model.price, deadline) for rid, inp in zip(rids, inps)]
        for state in states:
            self.open_requests[state.request_id] = state
        return states

    @rule(
        request=requests,
        proof_model=st.sampled_from(sorted(MODELS)),
        proof_inp=st.sampled_from(sorted(INPUTS)),
        tamper=st.sampled_from(("none", "none", "label", "point")),
        sender_index=st.integers(0, 4),
    )
    def fulfil(self, request, proof_model, proof_inp, tamper, sender_index):
        sender = self.everyone[sender_index]
        if request.model.name == SMALL and proof_model == "a":  # a proof of the batched model's own statement
            proof_model = SMALL
            evm, label, output = self._small_proof(proof_inp)
            a, b, c = evm
        else:
            proof = self.deployment.valid[(proof_model, proof_inp)]
            (a, b, c), label, output = proof.evm, proof.label, proof.output_commitment
        if tamper == "label":
            label = 1 - label
        elif tamper == "point":
            a = self.deployment.valid[("b" if proof_model == "a" else "a", proof_inp)].evm[0]
        matches = (proof_model, proof_inp) == (request.model.name, request.inp) and tamper == "none"
        now = latest_timestamp(self.w3)
        if not self._group_open(request):  # every request of its group settled: the group is deleted
            error = "UnknownRequest"
        elif request.status != Status.OPEN:
            error = "RequestNotOpen"
        elif now >= request.deadline:  # the next block's time is at least now + 1
            error = "DeadlinePassed"
        else:
            error = None if matches else "InvalidProof"
        self._expect(
            error,
            lambda: self.market.fulfil(sender, request.request_id, (a, b, c), label, output),
            sender,
        )
        if error is None:
            request.status = Status.FULFILLED
            self.owed[request.model.provider] += request.escrow
            del self.open_requests[request.request_id]

    def _group_open(self, request) -> list:
        """The open requests of ``request``'s group (none once the contract deleted it)."""
        group = group_of(request.request_id)[0]
        return [r for r in self.open_requests.values() if group_of(r.request_id)[0] == group]

    def _small_proof(self, inp: str):
        from marketplace.contracts import proof_to_evm

        cache = self.deployment.__dict__.setdefault("small_proofs", {})
        if inp not in cache:
            proof, label, output = self.deployment.batch_keys.single_proof(*SMALL_INPUTS[inp])
            cache[inp] = (proof_to_evm(proof), label, output)
        return cache[inp]

    @rule(
        batch=st.lists(requests, min_size=1, max_size=BATCH),
        tamper=st.sampled_from(("none", "none", "label")),
        sender_index=st.integers(0, 4),
    )
    def fulfil_batch(self, batch, tamper, sender_index):
        """One proof of the batch statement for the requests' own inputs (the small model's
        weights), for the first request's model."""
        sender = self.everyone[sender_index]
        model = batch[0].model
        keys = self.deployment.batch_keys
        slots = [SMALL_INPUTS[r.inp] for r in batch]
        proof = keys.batch_proof(slots)
        answers = []
        for j, (r, slot) in enumerate(zip(batch, slots)):
            _, label, output = keys.result(*slot)
            answers.append((r.request_id, label + (1 if tamper == "label" and j == 0 else 0), output))
        now = latest_timestamp(self.w3)
        settle = []
        for r in batch:  # the open, in-time ones, each once
            if r.status == Status.OPEN and now < r.deadline and r not in settle:
                settle.append(r)
        if model.name != SMALL:
            error = "NoBatchVerifier"
        elif any(r.model.model_id != model.model_id for r in batch):
            error = "WrongModel"
        elif tamper != "none":
            error = "InvalidProof"
        elif not settle:
            error = "NothingToSettle"
        else:
            error = None
        self._expect(error, lambda: self.market.fulfil_batch(sender, model.model_id, BATCH, proof, answers), sender)
        if error is None:
            for r in settle:
                r.status = Status.FULFILLED
                self.owed[model.provider] += r.escrow
                del self.open_requests[r.request_id]

    @rule(request=requests, by_consumer=st.booleans())
    def refund(self, request, by_consumer):
        """A refund returns every open request of the request's group."""
        sender = request.consumer if by_consumer else self.providers[0]
        now = latest_timestamp(self.w3)
        group = self._group_open(request)
        if not group:  # every request of its group settled: the group is deleted
            error = "UnknownRequest"
        elif sender != request.consumer:
            error = "NotConsumer"
        elif now + 1 <= request.deadline:
            error = "DeadlineNotReached"
        else:
            error = None
        self._expect(error, lambda: self.market.refund(sender, request.request_id), sender)
        if error is None:
            for r in group:
                r.status = Status.REFUNDED
                self.owed[r.consumer] += r.escrow
                del self.open_requests[r.request_id]

    @rule(seconds=st.sampled_from((SHORT_WAIT, LONG_WAIT)))
    def wait(self, seconds):
        advance_time(self.w3, seconds)

    @rule(account_index=st.integers(0, 4))
    def withdraw(self, account_index):
        account = self.everyone[account_index]
        expected = self.owed[account]
        sent = self._expect(None if expected else "NothingToWithdraw", lambda: self.market.withdraw(account), account)
        if expected:
            assert sent == expected
            self.withdrawn[account] += sent
            self.owed[account] = 0

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def contract_holds_exactly_what_it_owes(self):
        escrowed = sum(r.escrow for r in self.open_requests.values())
        assert self.market.balance() == escrowed + sum(self.owed.values())

    @invariant()
    def credits_match_the_rules(self):
        for account in self.everyone:
            assert self.market.owed(account) == self.owed[account]

    @invariant()
    def no_account_gains_what_it_is_not_owed(self):
        for account in self.everyone:
            expected = self.start[account] - self.spent[account] + self.withdrawn[account]
            assert self.w3.eth.get_balance(account) == expected

    @invariant()
    def open_requests_are_open_on_chain(self):
        for rid, state in self.open_requests.items():
            record = self.market.request(rid)
            assert record.status == Status.OPEN and record.escrow == state.escrow


@pytest.fixture(scope="module")
def deployment(toy_circuit, batch_keys):
    return Deployment(toy_circuit, batch_keys)


@pytest.mark.slow
def test_ether_is_conserved_under_random_use(deployment):
    EscrowMachine.deployment = deployment
    run_state_machine_as_test(
        EscrowMachine,
        settings=settings(
            max_examples=5,
            stateful_step_count=12,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        ),
    )


def _withdraw_all_and_check(m: EscrowMachine) -> None:
    for account_index in range(5):
        m.withdraw(account_index)
    for check in (
        m.contract_holds_exactly_what_it_owes,
        m.credits_match_the_rules,
        m.no_account_gains_what_it_is_not_owed,
        m.open_requests_are_open_on_chain,
    ):
        check()


def test_a_short_fixed_run_of_the_machine_conserves_ether(deployment):
    """The same model and invariants on one scripted sequence (fast, not slow-marked)."""
    EscrowMachine.deployment = deployment
    m = EscrowMachine()
    model = m.register(0, "a", 10**15)
    (paid,) = m._open(model, 0, ["x1"], 0, single=True)
    (late,) = m._open(model, 1, ["x2"], 0, single=True)
    assert m._open(model, 2, ["x2"], 1, single=True) == []  # wrong payment: refused
    m.fulfil(paid, "a", "x2", "none", 0)  # proof for another input: refused
    m.fulfil(paid, "a", "x1", "none", 4)  # valid, submitted by a consumer: provider paid
    m.refund(late, True)  # before the deadline: refused
    m.wait(LONG_WAIT)
    m.refund(late, False)  # by a stranger: refused
    m.refund(late, True)
    m.fulfil(late, "a", "x2", "none", 0)  # after the refund: refused
    _withdraw_all_and_check(m)
    assert m.withdrawn[m.providers[0]] == 10**15 and m.withdrawn[m.consumers[1]] == 10**15
    assert m.market.balance() == 0


def test_a_short_fixed_run_with_batches_conserves_ether(deployment):
    """Batched opening and fulfil in the machine: a group and singles settled by one proof,
    a refunded request skipped, a replay refused, another model's request refused."""
    EscrowMachine.deployment = deployment
    m = EscrowMachine()
    small = m.register_batched(1, 10**15)
    toy = m.register(0, "a", 10**15)
    group = m._open(small, 0, ["x1", "x2"], 0, single=False)
    (single,) = m._open(small, 1, ["x2"], 0, single=True)
    (toy_request,) = m._open(toy, 1, ["x1"], 0, single=True)
    assert m._open(small, 2, ["x1", "x1"], -1, single=False) == []  # wrong payment
    m.fulfil_batch([group[0], toy_request], "none", 0)  # another model's request: refused
    m.fulfil_batch([toy_request], "none", 0)  # a model without a batch verifier: refused
    m.fulfil_batch([group[0], single], "label", 0)  # tampered: refused
    m.fulfil_batch([group[0], single, group[0]], "none", 2)  # settles two, the repeat once
    m.fulfil_batch([group[0], single], "none", 0)  # replayed: nothing to settle
    m.wait(LONG_WAIT)
    m.refund(group[1], True)  # the group's open one comes back
    m.fulfil_batch([group[1]], "none", 0)  # refunded: nothing to settle
    _withdraw_all_and_check(m)
    assert [r.status for r in (*group, single)] == [Status.FULFILLED, Status.REFUNDED, Status.FULFILLED]
    assert m.withdrawn[m.providers[1]] == 2 * 10**15 and m.market.balance() == 10**15  # the toy request is open


# --- re-entrancy -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def receiver_artifact(compiled_contracts):
    return compiled_contracts["ReentrantReceiver"]


def refunded_receiver(d: Deployment, artifact: dict, inputs: tuple[str, ...]):
    """A fresh ReentrantReceiver that opened a request per input and had each refunded, so the
    marketplace owes it the price once per input. Returns it with a sender of its calls."""
    d.tester.revert_to_snapshot(d.snapshot)
    w3, market, owner = d.w3, d.market, d.accounts[1]
    model_id = market.register_model(owner, d.valid[("a", "x1")].model_commitment, d.verifier.address, RECEIVER_PRICE)
    receiver, _ = deploy(w3, "ReentrantReceiver", market.marketplace.address, sender=owner, artifact=artifact)

    def call(fn, value=0):
        return market._send(fn, owner, value)

    rids = []
    for inp in inputs:
        receipt = call(
            receiver.functions.open(model_id, d.valid[("a", inp)].input_commitment, latest_timestamp(w3) + TIMEOUT),
            RECEIVER_PRICE,
        )
        rids += market._opened(receipt)
    advance_time(w3, LONG_WAIT)
    for rid in rids:
        call(receiver.functions.refund(market.terms(rid).abi()))
    assert market.owed(receiver.address) == len(inputs) * RECEIVER_PRICE
    return receiver, call


def test_reentrant_receiver_cannot_withdraw_twice(deployment, receiver_artifact):
    # two refunds owed: a second, re-entered withdraw would take the other one
    receiver, call = refunded_receiver(deployment, receiver_artifact, ("x1", "x2"))
    w3, market = deployment.w3, deployment.market
    assert market.balance() == 2 * RECEIVER_PRICE

    call(receiver.functions.attack())
    assert receiver.functions.receipts().call() == 1
    assert receiver.functions.reentrySucceeded().call() is False
    assert w3.eth.get_balance(receiver.address) == 2 * RECEIVER_PRICE
    assert market.balance() == 0 and market.owed(receiver.address) == 0
    # and the ordinary second withdrawal is refused too
    with pytest.raises(ContractRevert) as info:
        call(receiver.functions.attack())
    assert info.value.error == "NothingToWithdraw"


def test_refused_payment_keeps_the_credit(deployment, receiver_artifact):
    receiver, call = refunded_receiver(deployment, receiver_artifact, ("x1",))
    w3, market = deployment.w3, deployment.market
    call(receiver.functions.setRefusePayment(True))
    with pytest.raises(ContractRevert) as info:
        call(receiver.functions.attack())
    assert info.value.error == "TransferFailed"
    assert market.owed(receiver.address) == RECEIVER_PRICE and market.balance() == RECEIVER_PRICE
    call(receiver.functions.setRefusePayment(False))
    call(receiver.functions.attack())
    assert w3.eth.get_balance(receiver.address) == RECEIVER_PRICE and market.owed(receiver.address) == 0
