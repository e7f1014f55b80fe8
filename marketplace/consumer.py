"""The consumer client: check a model's setup, pay for a prediction, get a verified answer.

``Consumer.inspect`` reads a registered model and its provider's card (over the channel) and,
unless told not to, checks its setup: both ceremony transcripts verify
(``prover.ceremony``), the phase-1 and phase-2 transcripts each hold a contribution the consumer
trusts (by default its own, made with ``contribute_phase1`` / ``contribute_phase2``), their hash
is the one registered on-chain, and the registered verifier contract is exactly the one built
from the verified key. A model failing any of this is refused before anything is paid.

``Consumer.predict`` quantizes the input and commits to it with a fresh salt, escrows exactly
the price (``openRequest``), sends the input over the channel, and waits for the request to be
fulfilled, which the contract only allows with a valid proof. It then fetches the logits and
checks them against the proved output commitment and label. A request not answered by its
deadline is refunded (``refund`` then ``withdraw``).
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from marketplace import channel
from marketplace.chain import advance_time, is_embedded, latest_timestamp
from marketplace.contracts import ContractRevert, Market, Status, load_artifact, verifier_constructor_args
from marketplace.provider import SETUP_FILES, setup_transcript_hash
from marketplace.store import read_json, write_json
from prover.ceremony import phase2, powersoftau
from prover.ceremony.phase2_verify import verify_zkey_transcript
from prover.ceremony.powersoftau_verify import verify_ptau_transcript
from prover.circuit.statements import input_commitment, output_commitment
from prover.errors import ChainError, VerificationError, ZkmarketError
from prover.field import FR_MODULUS
from prover.formats import read_ptau, read_r1cs, read_zkey
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

    def inspect(self, model_id: int, *, endpoint: str | None = None, check_setup: bool = True,
                insecure_phase1: bool = False) -> Offer:
        """The model's terms and card; with ``check_setup`` also the setup checks of the module
        docstring (VerificationError names the first that fails). ``insecure_phase1`` accepts a
        powers of tau without any phase-1 transcript (a known-secret one: demonstrations only)."""
        record = self.market.model(model_id)
        provider, price, verifier, retired = record.provider, record.price, record.inference_verifier, record.retired
        commitment, transcript_hash, metadata_uri = record.model_commitment, record.transcript_hash, record.metadata_uri
        if retired:
            raise ConsumerError(f"model {model_id} is retired and takes no requests")
        endpoint = endpoint or metadata_uri
        if not endpoint.startswith(("http://", "https://")):
            raise ConsumerError(f"model {model_id} names no HTTP endpoint (metadata URI {metadata_uri!r}): "
                                f"give the provider's endpoint with --endpoint")
        card = channel.fetch_card(endpoint)
        if int(card["model_commitment"], 16) != commitment or card.get("model_id") != model_id:
            raise VerificationError(f"the endpoint {endpoint} describes another model than model {model_id} "
                                    f"on-chain: use the provider's endpoint for this model")
        checked = False
        if check_setup:
            self._check_setup(model_id, endpoint, card, verifier, transcript_hash, insecure_phase1)
            checked = True
        return Offer(model_id, provider, price, endpoint, card, checked)

    def _check_setup(self, model_id: int, endpoint: str, card: dict, verifier: str, transcript_hash: bytes,
                     insecure_phase1: bool) -> None:
        key = f"{model_id}:{self.market.marketplace.address}:{card['files']['circuit.zkey']}:{transcript_hash.hex()}:{insecure_phase1}"
        with tempfile.TemporaryDirectory(prefix="zkmarket-setup-") as tmp:
            paths = {}
            for name in SETUP_FILES:
                data = channel.fetch_setup_file(endpoint, name, channel.setup_file_size(card, name))
                if hashlib.sha256(data).hexdigest() != card["files"][name]:
                    raise VerificationError(f"{name} from {endpoint} does not match the model card's digest")
                paths[name] = Path(tmp) / name
                paths[name].write_bytes(data)
            pk = read_zkey(paths["circuit.zkey"])
            self._check_verifier(verifier, pk)
            if key in self.trusted["checked"]:
                self.log(f"model {model_id}: setup already checked (same key and transcript)")
                return
            self.log(f"model {model_id}: checking the setup ceremony transcripts")
            r1cs, ptau = read_r1cs(paths["circuit.r1cs"]), read_ptau(paths["phase1.ptau"])
            phase1_records = powersoftau.read_contributions(ptau.contributions)
            if phase1_records or not insecure_phase1:
                phase1 = {c[2] for c in verify_ptau_transcript(ptau).contributions}
                if not phase1 & set(self.trusted["phase1"]):
                    raise VerificationError(f"model {model_id}: no phase-1 contribution you trust (e.g. your own); "
                                            f"whoever made this powers of tau could forge proofs")
            zkey_report = verify_zkey_transcript(r1cs, ptau, pk)
        if setup_transcript_hash(ptau, pk) != transcript_hash:
            raise VerificationError(f"model {model_id}'s registered setup transcript hash is not the hash of "
                                    f"the transcripts its provider publishes")
        phase2_hashes = {c.contribution_hash for c in zkey_report.contributions}
        if not phase2_hashes & set(self.trusted["phase2"]):
            raise VerificationError(f"model {model_id}: no phase-2 contribution you trust (e.g. your own); "
                                    f"the provider could forge proofs for this key")
        self.trusted["checked"].append(key)
        self._save()

    def _check_verifier(self, verifier: str, pk) -> None:
        """The registered verifier's code must be what the Groth16Verifier constructor makes of
        the checked key (its immutables are the key): run the constructor as a call and compare."""
        artifact = load_artifact("Groth16Verifier")
        factory = self.market.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        creation = factory.constructor(*verifier_constructor_args(pk.verifying_key())).build_transaction(
            {"from": self.account, "gas": 10_000_000})["data"]
        expected = self.market.w3.eth.call({"from": self.account, "data": creation, "gas": 10_000_000})
        if bytes(self.market.w3.eth.get_code(verifier)) != bytes(expected):
            raise VerificationError(f"the model's verifier {verifier} does not embed the published key: "
                                    f"its proofs prove nothing about this setup")

    # paying

    def predict(self, offer: Offer, x: np.ndarray, *, timeout: int = 600,
                wait: Callable[[], None] = lambda: time.sleep(1.0)) -> Prediction:
        """Buy one prediction for the real-valued input ``x`` (see the module docstring).
        ``timeout`` seconds of chain time later the request is refunded if unanswered; ``wait``
        runs between polls (a sleep; the demo runs the provider there)."""
        graph = offer.input_graph()
        x = np.asarray(x, dtype=np.float64)
        if x.shape != graph.input_tensor.shape:
            raise InputShapeError(f"the input has shape {x.shape}, model {offer.model_id} takes "
                                  f"{graph.input_tensor.shape}")
        xq = quantize_input(graph, x)  # ValueRangeError before anything is paid
        w3 = self.market.w3
        needed = offer.price + PREDICTION_GAS * int(w3.eth.gas_price)
        balance = int(w3.eth.get_balance(self.account))
        if balance < needed:
            raise ConsumerError(f"account {self.account} holds {balance} wei; a prediction needs {offer.price} wei "
                                f"of escrow plus gas (about {needed} wei in all): fund the account")
        salt = secrets.randbelow(FR_MODULUS)
        commitment = input_commitment(graph, xq, salt)
        t0 = time.perf_counter()
        deadline = latest_timestamp(w3) + timeout
        request_id = self.market.open_request(self.account, offer.model_id, commitment, deadline, offer.price)
        open_gas = int(self.market.last_receipt["gasUsed"])
        self.log(f"request {request_id}: escrowed {offer.price} wei, deadline in {timeout} s")
        try:
            channel.send_input(offer.endpoint, request_id, xq.ravel(), salt)
        except channel.Refused as exc:
            self.log(f"request {request_id}: {exc}; the escrow comes back after the deadline")
        except channel.ChannelError as exc:
            self.log(f"request {request_id}: {exc}; waiting for the deadline")
        while True:
            record = self.market.request(request_id)
            if record.status == Status.FULFILLED:
                break
            if record.status == Status.REFUNDED or self._chain_now() > record.deadline:
                self.refund(request_id)
                return Prediction(request_id, None, None, offer.price, time.perf_counter() - t0, open_gas, True)
            wait()
        signature = channel.sign_result_request(w3, self.account, self.market.marketplace.address, request_id)
        answer = channel.fetch_result(offer.endpoint, request_id, signature)
        if answer is None:
            raise ConsumerError(f"request {request_id} was fulfilled on-chain but the provider does not send "
                                f"the logits: the proved label is {record.label}")
        logits = np.array(answer["logits"], dtype=object)
        if output_commitment(logits) != record.output_commitment:
            raise VerificationError(f"request {request_id}: the logits the provider sent do not match the proved "
                                    f"output commitment")
        if int(argmax_label(logits.astype(np.int64))) != record.label:
            raise VerificationError(f"request {request_id}: the logits' argmax is not the proved label")
        return Prediction(request_id, record.label, [int(v) for v in logits], offer.price,
                          time.perf_counter() - t0, open_gas)

    def _chain_now(self) -> int:
        """The time the next block will at least have: the latest block's on the in-process
        chain (its clock moves only by hand), else also the wall clock (a quiet node mines no
        blocks, yet its next block is stamped with the current time)."""
        now = latest_timestamp(self.market.w3)
        return now if is_embedded(self.market.w3) else max(now, int(time.time()))

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
                    raise ChainError(f"request {request_id} can be refunded after its deadline "
                                     f"({record.deadline}); try again then") from None
                raise
            self.log(f"request {request_id}: refunded {record.escrow} wei")
        owed = self.market.owed(self.account)
        return self.market.withdraw(self.account) if owed else 0
