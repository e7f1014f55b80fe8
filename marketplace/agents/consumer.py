"""The consumer client: check a model's setup, pay for a prediction, get a verified answer.

``Consumer.inspect`` reads a registered model and its provider's card (over the channel) and,
unless told not to, checks its setup (``marketplace.setup.check``): the inference circuit rebuilt
from the card's architecture, whose hash is the one registered on-chain, is the circuit of the
key; both ceremony transcripts verify against it (``prover.ceremony``) and each holds a
contribution the consumer trusts (by default its own, made with ``contribute_phase1`` /
``contribute_phase2``); their hash is the one registered on-chain; and the registered verifier
contract is exactly the one built from the verified key. A model failing any of this is refused
before anything is paid. ``Consumer.check_statement`` runs the same checks on the accuracy or
retrieval verifier an auditor or a retrieval requester relies on.

``Consumer.predict`` quantizes the input and commits to it with a fresh salt, escrows exactly
the price (``openRequest``), sends the input over the channel, and waits for the request to be
fulfilled, which the contract only allows with a valid proof. It then fetches the logits and
checks them against the proved output commitment and label. A request not answered by its
deadline is refunded (``refund`` then ``withdraw``).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from web3 import Web3

from marketplace import channel
from marketplace.chain import advance_time, chain_now, latest_timestamp
from marketplace.contracts import MAX_GROUP, ContractRevert, Market, Status
from marketplace.setup.check import Trust, check_statement_setup, check_verifier_code, published_batch_size
from marketplace.store import read_json, write_json
from prover.ceremony import phase2, powersoftau
from prover.circuit.statements import input_commitment, output_commitment
from prover.errors import ChainError, VerificationError, ZkmarketError
from prover.field import FR_MODULUS
from prover.onnx.executor import argmax_label, quantize_input
from prover.onnx.graph import Graph, InputShapeError, Tensor

# gas a prediction costs the consumer at most (openRequest; refund + withdraw if unanswered)
PREDICTION_GAS = 300_000


class ConsumerError(ZkmarketError):
    """The consumer cannot buy a prediction (balance, answer that does not check out)."""


@dataclass
class Offer:
    """A registered model as the consumer sees it before paying."""

    model_id: int
    provider: str
    price: int
    endpoint: str
    card: dict
    setup_checked: bool

    def input_graph(self) -> Graph:
        """A graph holding only the model's input tensor: what quantizing and committing to an
        input need (``prover.onnx.executor.quantize_input``, ``statements.input_commitment``)."""
        spec = self.card["input"]
        tensor = Tensor("input", tuple(spec["shape"]), spec["scale"], spec["bits"], True)
        return Graph(input="input", output="input", tensors={"input": tensor}, constants={}, ops=[], quantized=True)


@dataclass
class Prediction:
    """A verified prediction (or a refund, when ``refunded``)."""

    request_id: int
    label: int | None
    logits: list[int] | None
    price: int
    seconds: float
    open_gas: int
    refunded: bool = False


@dataclass
class Consumer:
    """A consumer account on a marketplace (see the module docstring). ``state_dir`` keeps the
    hashes of its ceremony contributions and of the setups it already checked."""

    market: Market
    account: str
    name: str = "consumer"
    state_dir: Path | None = None
    log: Callable[[str], None] = print
    trusted: dict = field(default_factory=lambda: {"phase1": [], "phase2": [], "checked": []})

    def __post_init__(self):
        if self.state_dir is not None:
            self.state_dir = Path(self.state_dir)
            path = self.state_dir / "consumer.json"
            if path.exists():
                self.trusted = read_json(path)

    def _save(self) -> None:
        if self.state_dir is not None:
            write_json(self.state_dir / "consumer.json", self.trusted)

    # ceremony

    def contribute_phase1(self, ptau, progress: bool = False):
        """Contribute to a phase-1 powers of tau; remember the contribution's response hash."""
        result = powersoftau.contribute(ptau, self.name, progress=progress)
        self.trusted["phase1"].append(result.response_hash.hex())
        self._save()
        return result.ptau

    def contribute_phase2(self, proving_key, progress: bool = False):
        """Contribute to a circuit's phase-2 key; remember the contribution hash."""
        new_key, contribution = phase2.contribute(proving_key, self.name, progress=progress)
        self.trusted["phase2"].append(contribution.hex())
        self._save()
        return new_key

    # before paying

    def inspect(
        self, model_id: int, *, endpoint: str | None = None, check_setup: bool = True, insecure_phase1: bool = False
    ) -> Offer:
        """The model's terms and card; with ``check_setup`` also the setup checks of the module
        docstring (VerificationError names the first that fails). ``insecure_phase1`` accepts a
        powers of tau without any phase-1 transcript (a known-secret one: demonstrations only)."""
        record = self.market.model(model_id)
        if record.retired:
            raise ConsumerError(f"model {model_id} is retired and takes no requests")
        endpoint = endpoint or record.metadata_uri
        card = self._card(model_id, record, endpoint)
        checked = False
        if check_setup:
            self._check_setup(model_id, endpoint, card, record, insecure_phase1)
            checked = True
        provider, price = record.provider, record.price
        return Offer(model_id, provider, price, endpoint, card, checked)

    def _check_setup(self, model_id: int, endpoint: str, card: dict, record, insecure_phase1: bool) -> None:
        """The inference statement's setup checks (``marketplace.setup.check``), and those of
        the model's batch verifiers: any of them can settle this client's requests."""
        self._run_setup_check(model_id, record, card, endpoint, "inference", None, insecure_phase1)
        batch_size = published_batch_size(model_id, record, card)
        if batch_size is not None:
            self._run_setup_check(model_id, record, card, endpoint, "batch", batch_size, insecure_phase1)

    def _run_setup_check(
        self, model_id: int, record, card: dict, endpoint: str, kind: str, size: int | None, insecure_phase1: bool
    ) -> None:
        """``marketplace.setup.check.check_statement_setup`` with this client's trust; what it checked is kept."""
        if check_statement_setup(
            self.market.w3,
            self.account,
            model_id=model_id,
            record=record,
            card=card,
            endpoint=endpoint,
            kind=kind,
            size=size,
            trust=self._trust(),
            insecure_phase1=insecure_phase1,
            log=self.log,
        ):
            self._save()

    def check_statement(
        self,
        model_id: int,
        kind: str,
        size: int,
        *,
        endpoint: str | None = None,
        insecure_phase1: bool = False,
        settlement=None,
    ) -> None:
        """What an auditor (``kind="accuracy"``, ``size`` test samples) or a retrieval requester
        (``"retrieval"``, a corpus of ``size`` items) runs before paying: the model's ``kind``
        verifier is the Groth16 verifier of a key, for that statement's circuit rebuilt from the
        published architecture, whose ceremony verifies and holds a contribution this client
        trusts (``marketplace.setup.check``). ``settlement`` (an ``Audit`` or ``Retrieval``) must
        settle on this client's registry, so the checked verifier is the one it calls. Raises
        VerificationError otherwise."""
        if settlement is not None:
            registry = settlement.contract.functions.registry().call()
            if registry != self.market.registry.address:
                raise VerificationError(
                    f"{settlement.NAME} at {settlement.contract.address} settles on the registry "
                    f"{registry}, not {self.market.registry.address}: the verifier checked "
                    f"here is not the one it calls"
                )
        record = self.market.model(model_id)
        endpoint = endpoint or record.metadata_uri
        card = self._card(model_id, record, endpoint)
        self._run_setup_check(model_id, record, card, endpoint, kind, size, insecure_phase1)

    def _card(self, model_id: int, record, endpoint: str) -> dict:
        """The provider's model card, after checking that it is about this registered model."""
        if not endpoint.startswith(("http://", "https://")):
            raise ConsumerError(
                f"model {model_id} names no HTTP endpoint (metadata URI {record.metadata_uri!r}): "
                f"give the provider's endpoint with --endpoint"
            )
        card = channel.fetch_card(endpoint)
        try:
            same = int(card["model_commitment"], 16) == record.model_commitment and card.get("model_id") == model_id
        except (KeyError, TypeError, ValueError):
            same = False
        if not same:
            raise VerificationError(
                f"the endpoint {endpoint} describes another model than model {model_id} "
                f"on-chain: use the provider's endpoint for this model"
            )
        return card

    def _trust(self) -> Trust:
        """The trust store as ``marketplace.setup.check`` takes it (the same lists: what it checks is kept)."""
        return Trust(self.trusted["phase1"], self.trusted["phase2"], self.trusted["checked"])

    def _check_verifier(self, verifier: str, pk) -> None:
        """The registered verifier's code must be what the Groth16Verifier constructor makes of
        the checked key (``marketplace.setup.check.check_verifier_code``)."""
        check_verifier_code(self.market.w3, self.account, verifier, pk)

    # paying

    def predict(
        self, offer: Offer, x: np.ndarray, *, timeout: int = 600, wait: Callable[[], object] = lambda: time.sleep(1.0)
    ) -> Prediction:
        """Buy one prediction for the real-valued input ``x`` (see the module docstring):
        ``predict_many`` with one input."""
        return self.predict_many(offer, [x], timeout=timeout, wait=wait)[0]

    def predict_many(
        self,
        offer: Offer,
        xs: Sequence[np.ndarray],
        *,
        timeout: int = 600,
        wait: Callable[[], object] = lambda: time.sleep(1.0),
    ) -> list[Prediction]:
        """Buy a prediction for each real-valued input of ``xs`` (1 to MAX_GROUP), escrowed in
        one transaction (``openRequest`` for one input, ``openRequests`` for several), and check
        each answer. ``timeout`` seconds of chain time later the unanswered ones are refunded; a
        timeout shorter than the card's ``min_deadline_seconds`` (the provider would refuse the
        input: too little time to prove it) is refused before anything is paid, as is an input of
        the wrong shape or range. ``wait`` runs between polls (a sleep; the demo runs the provider
        there). A prediction's ``open_gas`` is its share of the opening transaction."""
        minimum = offer.card.get("min_deadline_seconds")
        if isinstance(minimum, int) and timeout < minimum:
            raise ConsumerError(
                f"a timeout of {timeout} s is shorter than model {offer.model_id}'s provider needs to "
                f"prove and fulfil a request ({minimum} s, the card's min_deadline_seconds): give "
                f"a timeout of at least {minimum} s (--timeout)"
            )
        if not 1 <= len(xs) <= MAX_GROUP:
            raise ConsumerError(f"one escrow holds 1 to {MAX_GROUP} inputs, got {len(xs)}: split the inputs")
        graph = offer.input_graph()
        quantized = []
        for i, x in enumerate(xs):
            x = np.asarray(x, dtype=np.float64)
            if x.shape != graph.input_tensor.shape:
                raise InputShapeError(
                    f"input {i} has shape {x.shape}, model {offer.model_id} takes {graph.input_tensor.shape}"
                )
            quantized.append(quantize_input(graph, x))  # ValueRangeError before anything is paid
        w3 = self.market.w3
        n = len(quantized)
        needed = n * offer.price + PREDICTION_GAS * int(w3.eth.gas_price)
        balance = int(w3.eth.get_balance(Web3.to_checksum_address(self.account)))
        if balance < needed:
            raise ConsumerError(
                f"account {self.account} holds {balance} wei; {n} prediction(s) need {n * offer.price} "
                f"wei of escrow plus gas (about {needed} wei in all): fund the account"
            )
        salts = [secrets.randbelow(FR_MODULUS) for _ in quantized]
        commitments = [input_commitment(graph, xq, salt) for xq, salt in zip(quantized, salts)]
        t0 = time.perf_counter()
        deadline = self._chain_now() + timeout  # a quiet node's latest block may be long past
        if n == 1:
            rids = [self.market.open_request(self.account, offer.model_id, commitments[0], deadline, offer.price)]
        else:
            rids = self.market.open_requests(self.account, offer.model_id, commitments, deadline, n * offer.price)
        open_gas = int(self.market.receipt["gasUsed"]) // n
        self.log(f"{n} request(s) from {rids[0]}: escrowed {n * offer.price} wei, deadline in {timeout} s")
        for request_id, xq, salt in zip(rids, quantized, salts):
            try:
                channel.send_input(offer.endpoint, request_id, xq.ravel(), salt)
            except channel.Refused as exc:
                self.log(f"request {request_id}: {exc}; the escrow comes back after the deadline")
            except channel.ChannelError as exc:
                self.log(f"request {request_id}: {exc}; waiting for the deadline")
        while True:
            records = [self.market.request(r) for r in rids]
            if all(r.status != Status.OPEN for r in records):
                break
            if self._chain_now() > deadline:  # one refund returns the group's unanswered requests
                self.refund(next(r for r, record in zip(rids, records) if record.status == Status.OPEN))
                continue
            wait()
        refunded = [r for r, record in zip(rids, records) if record.status == Status.REFUNDED]
        if refunded:
            self.refund(refunded[0])  # withdraw what came back (refunded here or by another client)
        predictions = []
        for request_id, record in zip(rids, records):
            seconds = time.perf_counter() - t0
            if record.status == Status.REFUNDED:
                predictions.append(Prediction(request_id, None, None, offer.price, seconds, open_gas, True))
                continue
            label, logits = self._checked_result(offer, request_id, record)
            predictions.append(Prediction(request_id, label, logits, offer.price, seconds, open_gas))
        return predictions

    def _checked_result(self, offer: Offer, request_id: int, record) -> tuple[int, list[int]]:
        """The logits of a fulfilled request from the provider, checked against the proved
        output commitment and label."""
        w3 = self.market.w3
        signature = channel.sign_result_request(w3, self.account, self.market.marketplace.address, request_id)
        answer = channel.fetch_result(offer.endpoint, request_id, signature)
        if answer is None:
            raise ConsumerError(
                f"request {request_id} was fulfilled on-chain but the provider does not send "
                f"the logits: the proved label is {record.label}"
            )
        logits = np.array(answer["logits"], dtype=object)
        if record.output_commitment is None:
            raise VerificationError(
                f"request {request_id}: its batch fulfilment's output commitments do not have the digest "
                f"the proof proved, so no logits can be checked; the proved label is {record.label}"
            )
        if output_commitment(logits) != record.output_commitment:
            raise VerificationError(
                f"request {request_id}: the logits the provider sent do not match the proved output commitment"
            )
        if int(argmax_label(logits.astype(np.int64))) != record.label:
            raise VerificationError(f"request {request_id}: the logits' argmax is not the proved label")
        return record.label, [int(v) for v in logits]

    def _chain_now(self) -> int:
        """The time the next block will at least have (``marketplace.chain.chain_now``)."""
        return chain_now(self.market.w3)

    def refund(self, request_id: int, *, move_time: bool = False) -> int:
        """Take back the escrow of an unanswered request after its deadline and withdraw it;
        returns the wei withdrawn. With ``move_time`` (development chains only) the chain's
        clock is first moved past the deadline."""
        record = self.market.request(request_id)
        if record.status == Status.OPEN:
            if move_time:
                now = latest_timestamp(self.market.w3)
                if now <= record.deadline:
                    advance_time(self.market.w3, record.deadline - now + 1)
            try:
                self.market.refund(self.account, request_id)
            except ContractRevert as exc:
                if exc.error == "DeadlineNotReached":
                    raise ChainError(
                        f"request {request_id} can be refunded after its deadline ({record.deadline}); try again then"
                    ) from None
                raise
            self.log(f"request {request_id}: refunded {record.escrow} wei")
        owed = self.market.owed(self.account)
        return self.market.withdraw(self.account) if owed else 0
