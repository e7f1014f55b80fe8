"""Ether conservation under random use, and a re-entering receiver that cannot withdraw twice.

A hypothesis state machine drives registrations, price changes, requests (with right and
wrong payments), fulfils with a pool of real valid and invalid proofs, refunds (by the consumer
and by strangers, before and after deadlines), time and withdrawals against one deployment
(rolled back between examples). A plain-Python model of the rules predicts every outcome;
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
from support.toy import INPUTS, MODELS

from marketplace.chain import advance_time, connect, latest_timestamp
from marketplace.contracts import ContractRevert, Market, Status, compile_contracts, deploy, deploy_verifier

PRICES = (0, 10**15, 3 * 10**15)
# a request stays answerable for TIMEOUT seconds; waits are short or far past it, so no step
# lands near a deadline however long the (wall-clock driven) chain takes between blocks
TIMEOUT = 1000
SHORT_WAIT, LONG_WAIT = 10, 2 * TIMEOUT
RECEIVER_PRICE = 10**15


@dataclass
class ModelState:
    model_id: int
    name: str  # which toy model's weights ("a" or "b")
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

    def __init__(self, circuit):
        self.w3 = connect()
        self.circuit = circuit
        self.accounts = self.w3.eth.accounts[:6]
        self.verifier, _ = deploy_verifier(self.w3, circuit.verifying_key, self.accounts[0])
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
        consumer = self.consumers[consumer_index]
        value = model.price + overpay
        if value < 0:
            value = 1
        deadline = latest_timestamp(self.w3) + TIMEOUT
        commitment = self.deployment.valid[(model.name, inp)].input_commitment
        error = None if value == model.price else "WrongPayment"
        rid = self._expect(
            error,
            lambda: self.market.open_request(consumer, model.model_id, commitment, deadline, value=value),
            consumer,
        )
        if rid is None:
            return multiple()  # nothing opened: nothing for later rules to use
        self.spent[consumer] += value
        state = RequestState(rid, model, inp, consumer, value, deadline)
        self.open_requests[rid] = state
        return state

    @rule(
        request=requests,
        proof_model=st.sampled_from(sorted(MODELS)),
        proof_inp=st.sampled_from(sorted(INPUTS)),
        tamper=st.sampled_from(("none", "none", "label", "point")),
        sender_index=st.integers(0, 4),
    )
    def fulfil(self, request, proof_model, proof_inp, tamper, sender_index):
        sender = self.everyone[sender_index]
        proof = self.deployment.valid[(proof_model, proof_inp)]
        a, b, c = proof.evm
        label = proof.label
        if tamper == "label":
            label = 1 - label
        elif tamper == "point":
            a = self.deployment.valid[("b" if proof_model == "a" else "a", proof_inp)].evm[0]
        matches = (proof_model, proof_inp) == (request.model.name, request.inp) and tamper == "none"
        now = latest_timestamp(self.w3)
        if request.status != Status.OPEN:
            error = "RequestNotOpen"
        elif now >= request.deadline:  # the next block's time is at least now + 1
            error = "DeadlinePassed"
        else:
            error = None if matches else "InvalidProof"
        self._expect(
            error,
            lambda: self.market.fulfil(sender, request.request_id, (a, b, c), label, proof.output_commitment),
            sender,
        )
        if error is None:
            request.status = Status.FULFILLED
            self.owed[request.model.provider] += request.escrow
            del self.open_requests[request.request_id]

    @rule(request=requests, by_consumer=st.booleans())
    def refund(self, request, by_consumer):
        sender = request.consumer if by_consumer else self.providers[0]
        now = latest_timestamp(self.w3)
        if request.status != Status.OPEN:
            error = "RequestNotOpen"
        elif not by_consumer and sender != request.consumer:
            error = "NotConsumer"
        elif now + 1 <= request.deadline:
            error = "DeadlineNotReached"
        else:
            error = None
        self._expect(error, lambda: self.market.refund(sender, request.request_id), sender)
        if error is None:
            request.status = Status.REFUNDED
            self.owed[request.consumer] += request.escrow
            del self.open_requests[request.request_id]

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
def deployment(toy_circuit):
    return Deployment(toy_circuit)


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


def test_a_short_fixed_run_of_the_machine_conserves_ether(deployment):
    """The same model and invariants on one scripted sequence (fast, not slow-marked)."""
    EscrowMachine.deployment = deployment
    m = EscrowMachine()
    model = m.register(0, "a", 10**15)
    paid = m.open_request(model, 0, "x1", 0)
    late = m.open_request(model, 1, "x2", 0)
    m.open_request(model, 2, "x2", 1)  # wrong payment: refused
    m.fulfil(paid, "a", "x2", "none", 0)  # proof for another input: refused
    m.fulfil(paid, "a", "x1", "none", 4)  # valid, submitted by a consumer: provider paid
    m.refund(late, True)  # before the deadline: refused
    m.wait(LONG_WAIT)
    m.refund(late, False)  # by a stranger: refused
    m.refund(late, True)
    m.fulfil(late, "a", "x2", "none", 0)  # after the refund: refused
    for account_index in range(5):
        m.withdraw(account_index)
    for check in (
        m.contract_holds_exactly_what_it_owes,
        m.credits_match_the_rules,
        m.no_account_gains_what_it_is_not_owed,
        m.open_requests_are_open_on_chain,
    ):
        check()
    assert m.withdrawn[m.providers[0]] == 10**15 and m.withdrawn[m.consumers[1]] == 10**15
    assert m.market.balance() == 0


# --- re-entrancy -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def receiver_artifact():
    return compile_contracts(include_test=True)["ReentrantReceiver"]


def refunded_receiver(d: Deployment, artifact: dict, inputs: tuple[str, ...]):
    """A fresh ReentrantReceiver that opened a request per input and had each refunded, so the
    marketplace owes it the price once per input. Returns it with a sender of its calls."""
    d.tester.revert_to_snapshot(d.snapshot)
    w3, market, owner = d.w3, d.market, d.accounts[1]
    model_id = market.register_model(owner, d.valid[("a", "x1")].model_commitment, d.verifier.address, RECEIVER_PRICE)
    receiver, _ = deploy(w3, "ReentrantReceiver", market.marketplace.address, sender=owner, artifact=artifact)

    def call(fn, value=0):
        return market._send(fn, owner, value)

    for inp in inputs:
        call(
            receiver.functions.open(model_id, d.valid[("a", inp)].input_commitment, latest_timestamp(w3) + TIMEOUT),
            RECEIVER_PRICE,
        )
    advance_time(w3, LONG_WAIT)
    for rid in range(1, len(inputs) + 1):
        call(receiver.functions.refund(rid))
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
