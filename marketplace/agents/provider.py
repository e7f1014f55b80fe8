"""The provider agent: register a model, then answer every request for it with a proof.

What it serves comes from the setup pipeline (``marketplace.setup.pipeline.prepare_model``: the
quantized graph, the inference circuit, the key and the model card, in a compiled-model folder)
and, for the batch statements, ``prepare_statement``; the setup's phase-1 powers of tau and
phase-2 key carry contributions from parties other than the provider, whom the clients check for
in the transcripts (``marketplace.setup.check``).

``Provider.register`` deploys the key's verifier and registers the model (commitment, price,
setup transcript hash, and the channel endpoint as metadata URI). The channel publishes the
model card, with the weights-free architecture spec (``card["architecture"]``) and the keys of
the batch statements (``card["statements"]``), and every setup file, so that every client can
rebuild the circuits and check the keys and verifiers it relies on. ``Provider.serve_once`` is one
round of the serve loop: read new ``RequestsOpened`` events for the model, prove and fulfil every
request whose input arrived (``marketplace.channel``) and matches its commitment, and mark the
ones past their deadline. Everything it learns goes to its ``ProviderStore`` first, so a
provider killed at any point and started again resumes every pending request: the logits and
the proof are on disk before the fulfil transaction is sent, so a request the chain holds this
provider's result for is always served its logits, whoever landed the (permissionless) fulfil
and whether or not its receipt was seen. An input whose witness cannot be built (it overflows
a quantized range) ends ``failed`` and is never computed again. Inputs whose deadline leaves
less than the measured proving time plus a margin are refused when they arrive; the card
publishes that minimum (``min_deadline_seconds``).
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from marketplace import channel
from marketplace.audit import ChallengeStatus, answer_challenge
from marketplace.chain import chain_now
from marketplace.contracts import (
    ContractRevert,
    Market,
    RequestRecord,
    Status,
    deploy_batch_verifier,
    deploy_verifier,
    group_of,
    proof_to_evm,
)
from marketplace.retrieval import answer_request
from marketplace.setup.model_folder import SETUP_FILES
from marketplace.setup.pipeline import ServedModel, StatementKey, published_statements
from marketplace.store import (
    EXPIRED,
    FAILED,
    FULFILLED,
    PROVED,
    RECEIVED,
    WAITING,
    ProviderState,
    ProviderStore,
    RequestState,
)
from prover.circuit.statements import input_commitment
from prover.errors import ValueRangeError, ZkmarketError
from prover.groth16.prove import prove
from prover.onnx import executor

# The shortest deadline accepted: PROOF_TIME_FACTOR times the proving time (a busy machine is
# slower than the measurement) per request to prove, plus FULFIL_MARGIN_S for the fulfil to be
# mined; the card adds CHANNEL_SLACK_S for the consumer's steps between opening and sending
# (its openRequest mined: a few blocks on a public chain).
PROOF_TIME_FACTOR = 2.0
FULFIL_MARGIN_S = 30
CHANNEL_SLACK_S = 30
# before any proof, a conservative estimate from the circuit's size: the 31k-constraint digits
# MLP's witness and proof take 1.8 s on an idle 2-core machine, 3.5 s at load average 15; this
# says 4.1 s (and PROOF_TIME_FACTOR doubles it)
INITIAL_PROOF_SECONDS = 1.0
INITIAL_PROOF_SECONDS_PER_CONSTRAINT = 100e-6
MEASURED_PROOFS = 8  # the estimate is the slowest of this many latest answers
# requests are read from the chain in block ranges of this size (nodes cap log queries)
LOG_RANGE = 2_000
# with a batch statement key: the longest a received input waits for the batch to fill
BATCH_WAIT_S = 2.0


class ProviderError(ZkmarketError):
    """The provider cannot register or serve (a state from another deployment, no model)."""


# --- the agent -----------------------------------------------------------------------------------


def unanswerable_input(exc: Exception) -> str:
    """The reason a request whose input has no witness ends ``failed``."""
    return f"the witness cannot be built: {exc}"


@dataclass
class Answer:
    """One fulfilled request, as the provider saw it (``gas_used`` 0: another transaction
    landed this provider's result, a copy of its fulfil or one whose receipt was lost)."""

    request_id: int
    label: int
    proof_seconds: float
    gas_used: int


class Provider:
    """A provider account serving one registered model on one marketplace (see module doc)."""

    def __init__(
        self,
        market: Market,
        account: str,
        model: ServedModel,
        store: ProviderStore,
        *,
        statements: Sequence[StatementKey] = (),
        batch_wait_s: float = BATCH_WAIT_S,
        log: Callable[[str], None] = print,
        progress: bool = True,
    ):
        self.market = market
        self.batch_wait_s = batch_wait_s
        self._batch_circuit = None  # the batch statement's circuit, built when first needed
        self.statements = {key.kind: key for key in statements}
        self.w3 = market.w3
        self.account = account
        self.model = model
        self.store = store
        self.log = log
        self.progress = progress
        self.endpoint: str | None = None
        self._server: channel.ChannelServer | None = None
        self._statement_files, self._statement_card = published_statements(self.statements.values())
        self._chain_id: int | None = None  # read when the channel opens (GET /result checks signatures for it)
        self._chain_lock = threading.Lock()  # the channel thread and the serve loop share web3
        self._store_lock = threading.Lock()  # ... and read-modify-write request records
        saved = store.load()
        chain_id = int(self.w3.eth.chain_id)
        if saved is None:
            saved = ProviderState(chain_id, market.marketplace.address, account)
            store.save(saved)
        elif (saved.chain_id, saved.marketplace, saved.account) != (chain_id, market.marketplace.address, account):
            raise ProviderError(
                f"the state in {store.root} belongs to marketplace {saved.marketplace} on chain "
                f"{saved.chain_id} (account {saved.account}): use another --state directory"
            )
        elif saved.model_commitment is not None and saved.model_commitment != model.model_commitment:
            raise ProviderError(
                f"the state in {store.root} serves another model (commitment "
                f"{hex(saved.model_commitment)}): use another --state directory"
            )
        self.state = saved

    @property
    def model_id(self) -> int | None:
        return self.state.model_id

    @property
    def registered_model_id(self) -> int:
        """``model_id`` of a registered model; ProviderError before ``register``."""
        if self.state.model_id is None:
            raise ProviderError("register the model first (`zkmarket provider register`)")
        return self.state.model_id

    # channel

    def open_channel(self, host: str = "127.0.0.1", port: int = 0, limits: channel.ChannelLimits | None = None) -> str:
        """Start the input channel's HTTP endpoint; returns its URL. ``limits`` default to
        ``channel.ChannelLimits``; the body limit is always the one fitted to this model's input."""
        tensor = self.model.graph.input_tensor
        limits = dataclasses.replace(
            limits or channel.ChannelLimits(), max_body=channel.input_body_limit(tensor.size, tensor.quantized_bits)
        )
        with self._chain_lock:
            self._chain_id = int(self.w3.eth.chain_id)
        handlers = channel.Handlers()
        handlers.card = self._card
        handlers.setup_file = self._setup_file
        handlers.accept_input = self.accept_input
        handlers.result = self._result
        self._server = channel.ChannelServer(handlers, host, port, limits)
        self.endpoint = self._server.url
        return self.endpoint

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def _card(self):
        """The model card with the model id, the provider's account, the minimum deadline it
        answers in, its statement keys, and each setup file's size (the most a consumer
        downloads of it)."""
        sizes = {name: (self.model.setup_dir / name).stat().st_size for name in SETUP_FILES}
        return 200, {
            **self.model.card,
            "model_id": self.model_id,
            "provider": self.account,
            "sizes": sizes,
            "min_deadline_seconds": self.min_deadline_seconds(),
            "statements": self._statement_card,
        }

    def _setup_file(self, name: str):
        path = self.model.setup_dir / name if name in SETUP_FILES else self._statement_files.get(name)
        if path is None:
            names = [*SETUP_FILES, *self._statement_files]
            return 404, {"error": f"no setup file {name}; the files are {', '.join(names)}"}
        return 200, path  # streamed from disk by the channel

    def _result(self, request_id: int, signature: str | None):
        """The channel's GET /result: the logits, only for a signature by the request's on-chain
        consumer over ``channel.result_request_message`` (401 without a valid signature, 403
        for another account's, 404 before fulfilment)."""
        how = (
            f"sign channel.result_request_message(marketplace, chain id, {request_id}) with the consumer's "
            f"account (EIP-191) and send it as 'Authorization: {channel.AUTH_SCHEME} 0x<signature>'"
        )
        if signature is None:
            return 401, {"error": f"the result goes to the request's consumer only: {how}"}
        assert self._chain_id is not None, "open_channel reads the chain id before it starts the server"
        try:
            signer = channel.result_signer(self.market.marketplace.address, self._chain_id, request_id, signature)
        except ValueError as exc:
            return 401, {"error": f"{exc}: {how}"}
        with self._chain_lock:
            try:
                onchain = self.market.request(request_id)
            except ContractRevert:
                return 404, {"error": f"request {request_id} does not exist on the marketplace"}
        if signer.lower() != onchain.consumer.lower():
            return 403, {"error": f"request {request_id} belongs to another account than the signer {signer}"}
        record = self._delivered(request_id)
        if record is None:
            return 404, {"error": f"request {request_id} has no answer yet"}
        return 200, {
            "request_id": request_id,
            "label": record.label,
            "logits": record.logits,
            "output_commitment": hex(record.proved_output_commitment),
        }

    def accept_input(self, body: dict):
        """The channel's POST /input: keep the input if the request is open, for this model,
        not past its deadline, and the input and salt commit to the on-chain commitment;
        otherwise refuse it (409) and never prove it."""
        try:
            request_id, values, salt = channel.parse_input_message(body)
        except ValueError as exc:
            return 400, {"error": str(exc)}
        with self._chain_lock:
            try:
                onchain = self.market.request(request_id)
            except ContractRevert:
                return 404, {"error": f"request {request_id} does not exist on the marketplace"}
            now = chain_now(self.w3)
        if onchain.model_id != self.model_id:
            return 409, {
                "error": f"request {request_id} is for model {onchain.model_id}, this endpoint serves "
                f"model {self.model_id}"
            }
        if onchain.status != Status.OPEN:
            return 409, {"error": f"request {request_id} is {onchain.status.name.lower()}, not open"}
        if now >= onchain.deadline:
            return 409, {"error": f"request {request_id} is past its deadline"}
        if onchain.deadline - now < self._seconds_needed(0):
            return 409, {
                "error": f"request {request_id}'s deadline is {onchain.deadline - now} s away, too soon to "
                f"prove and fulfil it (about {self.proof_seconds_estimate():.1f} s to prove): open "
                f"requests at least {self.min_deadline_seconds()} s before their deadline "
                f"(the card's min_deadline_seconds)"
            }
        tensor = self.model.graph.input_tensor
        if len(values) != tensor.size:
            return 409, {
                "error": f"the input has {len(values)} values, the model takes {tensor.size} (shape {tensor.shape})"
            }
        bits = tensor.quantized_bits
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        if min(values) < lo or max(values) > hi:
            return 409, {"error": f"input values must lie in [{lo}, {hi}] (the model's {bits}-bit input)"}
        x = np.array(values, dtype=np.int64).reshape(tensor.shape)
        if input_commitment(self.model.graph, x, salt) != onchain.input_commitment:
            self.log(f"request {request_id}: refused an input that does not match its commitment")
            return 409, {"error": "the input and salt do not match the request's on-chain input commitment"}
        try:  # the integer executor: the circuit agrees with it bit for bit, at a fraction of a witness's cost
            executor.execute(self.model.graph, x)
        except ValueRangeError as exc:  # the consumer's own input, which no witness exists for
            with self._store_lock:
                record = self.store.request(request_id) or RequestState(request_id)
                if record.state in (WAITING, RECEIVED):
                    record.input, record.salt = values, salt
                    record.input_commitment, record.deadline = onchain.input_commitment, onchain.deadline
                    self.store.put(record.enter(FAILED, unanswerable_input(exc)))
            self.log(f"request {request_id}: refused, not answerable: {exc}")
            return 409, {
                "error": f"request {request_id} cannot be answered: {unanswerable_input(exc)}; its "
                f"escrow comes back after the deadline"
            }
        with self._store_lock:
            record = self.store.request(request_id) or RequestState(request_id)
            if record.state not in (WAITING, RECEIVED):  # proved or final: never computed again
                reason = f": {record.reason}" if record.reason else ""
                return 409, {"error": f"request {request_id} is already {record.state}{reason}"}
            queued = len([r for r in self.store.requests(RECEIVED) if r.request_id != request_id])
            if onchain.deadline - now < self._seconds_needed(queued):
                return 409, {
                    "error": f"request {request_id}'s deadline is {onchain.deadline - now} s away and "
                    f"{queued} request(s) are ahead of it: it cannot be proved in time; open it "
                    f"with a later deadline"
                }
            record.input, record.salt = values, salt
            record.input_commitment, record.deadline = onchain.input_commitment, onchain.deadline
            self.store.put(record.enter(RECEIVED))  # on disk before the consumer hears "accepted"
        return 202, {"status": "accepted", "request_id": request_id}

    def proof_seconds_estimate(self) -> float:
        """Seconds one answer takes to compute (witness and proof): the slowest of the latest
        measured ones, or before any, a conservative estimate from the circuit's size."""
        if self.state.proof_seconds:
            return max(self.state.proof_seconds)
        return INITIAL_PROOF_SECONDS + INITIAL_PROOF_SECONDS_PER_CONSTRAINT * self.model.circuit.r1cs.n_constraints

    def _seconds_needed(self, queued: int) -> float:
        """Seconds before its deadline a request must arrive to be proved and fulfilled in time
        behind ``queued`` requests already received."""
        return PROOF_TIME_FACTOR * self.proof_seconds_estimate() * (queued + 1) + FULFIL_MARGIN_S

    def min_deadline_seconds(self) -> int:
        """The card's ``min_deadline_seconds``: the shortest timeout (deadline minus the time the
        request is opened) whose input an idle provider accepts."""
        return math.ceil(self._seconds_needed(0)) + CHANNEL_SLACK_S

    # chain

    def register(self, price: int, metadata_uri: str | None = None) -> int:
        """Deploy the model's verifier and register the model with ``price`` wei per prediction
        (the channel endpoint as metadata URI). Idempotent: a registered model keeps its id."""
        if self.state.model_id is not None:
            return self.state.model_id
        if metadata_uri is None:
            if self.endpoint is None:
                raise ProviderError("open the channel (open_channel) or give the endpoint URL before registering")
            metadata_uri = self.endpoint
        card = self.model.card
        with self._chain_lock:
            verifier, receipt = deploy_verifier(self.w3, self.model.proving_key.verifying_key(), self.account)
            self.log(f"verifier deployed at {verifier.address} ({receipt['gasUsed']:,} gas)")
            statement_verifiers = {}
            for kind, key in self.statements.items():
                deploy_for = deploy_batch_verifier if kind == "batch" else deploy_verifier
                contract, receipt = deploy_for(self.w3, key.proving_key.verifying_key(), self.account)
                statement_verifiers[kind] = contract.address
                self.log(f"{kind} verifier ({key.size}) deployed at {contract.address} ({receipt['gasUsed']:,} gas)")
            model_id = self.market.register_model(
                self.account,
                self.model.model_commitment,
                verifier.address,
                price,
                architecture_hash=bytes.fromhex(card["architecture_hash"][2:]),
                transcript_hash=bytes.fromhex(card["setup_transcript_hash"][2:]),
                metadata_uri=metadata_uri,
                accuracy_verifier=statement_verifiers.get("accuracy"),
                retrieval_verifier=statement_verifiers.get("retrieval"),
                batch_verifiers=[statement_verifiers["batch"]] if "batch" in statement_verifiers else [],
            )
            self.state.last_block = int(self.market.receipt["blockNumber"])
        self.state.statements = {
            kind: {
                "size": key.size,
                "zkey": str(key.path),
                "verifier": statement_verifiers[kind],
                "ptau": key.ptau and str(key.ptau),
            }
            for kind, key in self.statements.items()
        }
        self.state.model_id = model_id
        self.state.model_commitment = self.model.model_commitment
        self.state.setup_dir = str(self.model.setup_dir)
        self.store.save(self.state)
        self.log(f"model {model_id} registered at {price} wei per prediction")
        return model_id

    def poll_requests(self) -> list[int]:
        """Read new RequestsOpened events for the model; record each new request as waiting for
        its input. Returns the ids seen."""
        if self.model_id is None:
            raise ProviderError("register the model first (`zkmarket provider register`)")
        seen = []
        with self._chain_lock:
            head = int(self.w3.eth.block_number)
            start = self.state.last_block + 1
            while start <= head:
                end = min(head, start + LOG_RANGE - 1)
                for request_id, terms in self.market.opened(self.model_id, start, end):
                    commitment = terms.input_commitments[group_of(request_id)[1]]
                    with self._store_lock:  # the channel may have stored its input meanwhile
                        if self.store.request(request_id) is None:
                            self.store.put(RequestState(request_id, WAITING, commitment, terms.deadline).enter(WAITING))
                    seen.append(request_id)
                start = end + 1
            self.state.last_block = head
        self.store.save(self.state)
        return seen

    def answer(self, record: RequestState) -> Answer | None:
        """Prove one request whose input was received (unless it is already proved) and settle
        it on-chain (``_settle``). Returns the answer, or None when the request ended otherwise:
        ``failed`` (its witness cannot be built) or ``expired`` (no longer open, or the chain
        holds another result)."""
        if record.state == RECEIVED:
            with self._chain_lock:
                onchain = self.market.request(record.request_id)
                now = chain_now(self.w3)
            if onchain.status != Status.OPEN or now > onchain.deadline:  # nothing to prove for
                return self._settled_elsewhere(record, onchain)
            if not self._prove(record):
                return None
        return self._settle(record)

    def _prove(self, record: RequestState) -> bool:
        """Compute the witness and proof of a received request and store them (state
        ``proved``: label, logits, proof) before anything is sent. An input whose witness
        cannot be built ends ``failed`` with the reason (returns False)."""
        graph = self.model.graph
        t0 = time.perf_counter()
        try:
            x = np.array(record.input, dtype=np.int64).reshape(graph.input_tensor.shape)
            result = self.model.circuit.witness(x, record.received_salt)
        except (ZkmarketError, ValueError) as exc:  # a property of this input: computing again cannot help
            with self._store_lock:
                self.store.put(record.enter(FAILED, unanswerable_input(exc)))
            self.log(f"request {record.request_id}: failed, not retried: {record.reason}")
            return False
        proof, public = prove(self.model.proving_key, result.witness, progress=self.progress)
        seconds = time.perf_counter() - t0
        record.label, record.output_commitment = int(public[2]), int(public[3])
        record.logits = [int(v) for v in np.asarray(result.logits).ravel()]
        record.proof = [list(part) for part in proof_to_evm(proof)]
        record.proof_seconds = seconds
        with self._store_lock:
            self.store.put(record.enter(PROVED))  # the logits are durable before the fulfil is sent
        self.state.proof_seconds = [*self.state.proof_seconds, round(seconds, 3)][-MEASURED_PROOFS:]
        self.store.save(self.state)
        return True

    def _settle(self, record: RequestState) -> Answer | None:
        """Send the stored proof of a proved request. If the request is no longer open, the
        chain decides: it is ``fulfilled`` when the chain holds this provider's label and output
        commitment (someone copied the fulfil, or its receipt was lost), else ``expired``."""
        with self._chain_lock:
            onchain = self.market.request(record.request_id)
            if onchain.status == Status.OPEN:
                try:
                    self.market.fulfil(
                        self.account,
                        record.request_id,
                        record.proof,
                        record.proved_label,
                        record.proved_output_commitment,
                    )
                except ContractRevert as exc:
                    # settled first: its group still open, or deleted (all its requests settled)
                    if exc.error not in ("RequestNotOpen", "UnknownRequest", "DeadlinePassed"):
                        raise
                    onchain = self.market.request(record.request_id)  # a fulfil landed first, or too late
                else:
                    gas = int(self.market.receipt["gasUsed"])
                    with self._store_lock:
                        record.gas_used = gas
                        self.store.put(record.enter(FULFILLED))
                    self.log(
                        f"request {record.request_id}: label {record.label}, proved in "
                        f"{record.proof_seconds:.1f} s, fulfilled ({gas:,} gas)"
                    )
                    return Answer(record.request_id, record.proved_label, record.proved_seconds, gas)
        return self._settled_elsewhere(record, onchain)

    def _settled_elsewhere(self, record: RequestState, onchain: RequestRecord) -> Answer | None:
        """Record what became of a request this provider did not fulfil itself (see ``_settle``)."""
        if onchain.status == Status.FULFILLED and self._holds_our_result(record, onchain):
            with self._store_lock:
                self.store.put(
                    record.enter(
                        FULFILLED,
                        "the chain already held this provider's result (a copy of "
                        "its fulfil, or one whose receipt was lost)",
                    )
                )
            self.log(
                f"request {record.request_id}: label {record.label}, the chain already holds this provider's "
                f"result (a copied fulfil, or one whose receipt was lost); its logits are served"
            )
            return Answer(record.request_id, record.proved_label, record.proved_seconds, 0)
        if onchain.status == Status.FULFILLED:
            reason = f"fulfilled on-chain with another result (label {onchain.label}), not this provider's"
        elif onchain.status == Status.REFUNDED:
            reason = "refunded to its consumer"
        elif onchain.status == Status.OPEN:
            reason = "its deadline passed before it was answered"
        else:
            reason = f"the chain holds it as {onchain.status.name.lower()}"
        self._close_unanswerable(record, reason)
        return None

    @staticmethod
    def _holds_our_result(record: RequestState, onchain: RequestRecord) -> bool:
        """Whether the on-chain request is fulfilled with exactly the label and output commitment
        this provider proved (so the logits it stored are the ones the chain commits to)."""
        return (
            record.state == PROVED
            and onchain.status == Status.FULFILLED
            and (onchain.label, onchain.output_commitment) == (record.label, record.output_commitment)
        )

    def _delivered(self, request_id: int) -> RequestState | None:
        """The request's record if its logits may be sent: fulfilled, or proved while the chain
        already holds its result (the fulfil was mined, the serve loop has not recorded it yet)."""
        record = self.store.request(request_id)
        if record is not None and record.state == PROVED:
            with self._chain_lock:
                onchain = self.market.request(request_id)
            return record if self._holds_our_result(record, onchain) else None
        return record if record is not None and record.state == FULFILLED else None

    def serve_once(self) -> list[Answer]:
        """One round of the serve loop (see the module docstring). Returns what it answered.
        With a batch statement key the received inputs are answered by the batch policy
        (``_serve_batches``), one at a time otherwise."""
        self.poll_requests()
        answers = []
        batching = "batch" in self.statements
        if batching:
            try:
                answers += self._serve_batches()
            except ZkmarketError as exc:  # e.g. the node hiccuped: the batch stays as it was, retried next round
                self.log(f"batch not answered this round: {exc}")
        for record in self.store.requests(RECEIVED, PROVED):
            if batching and (record.state == RECEIVED or record.batch):
                continue  # the batch policy's
            try:
                answer = self.answer(record)
            except ZkmarketError as exc:  # e.g. the node hiccuped: the request stays as it was, retried next round
                self.log(f"request {record.request_id}: not answered this round: {exc}")
                continue
            if answer is not None:
                answers.append(answer)
        with self._chain_lock:
            now = chain_now(self.w3)
        for record in self.store.requests(WAITING):
            if now > record.deadline:
                self._close_unanswerable(record, "its input did not arrive before its deadline")
        return answers

    # batches: one proof of the batch statement settles up to its size of requests

    def _serve_batches(self) -> list[Answer]:
        """Send again the batches proved but not settled (a stop between proof and fulfil), then
        prove the received inputs as one batch when the policy says so: the batch is full, its
        oldest input waited ``batch_wait_s``, or the nearest deadline leaves just the time to
        prove it. A batch of one is proved by the single statement (cheaper to verify)."""
        answers: list[Answer] = []
        pending: dict[tuple, list[RequestState]] = {}
        for record in self.store.requests(PROVED):
            if record.batch:
                pending.setdefault(tuple(record.batch), []).append(record)
        for records in pending.values():
            answers += self._settle_batch(records)
        received = sorted(self.store.requests(RECEIVED), key=lambda r: r.deadline)
        if not received or not self._batch_due(received):
            return answers
        size = self.statements["batch"].size
        chosen: list[RequestState] = []
        for record in received:
            with self._chain_lock:
                onchain = self.market.request(record.request_id)
                now = chain_now(self.w3)
            if onchain.status != Status.OPEN or now > onchain.deadline:
                self._settled_elsewhere(record, onchain)
            elif len(chosen) < size:
                chosen.append(record)
        if len(chosen) == 1:
            answer = self.answer(chosen[0])
            return answers + ([answer] if answer is not None else [])
        if chosen:
            fallback = self._prove_batch(chosen)
            answers += self._settle_batch(chosen) if fallback is None else fallback
        return answers

    def batch_seconds_estimate(self) -> float:
        """Seconds a full batch takes to prove: the single answer's estimate scaled by the
        batch circuit's size."""
        circuit = self._batch_statement_circuit()
        return self.proof_seconds_estimate() * circuit.r1cs.n_constraints / self.model.circuit.r1cs.n_constraints

    def _batch_statement_circuit(self):
        if self._batch_circuit is None:
            from marketplace.setup.pipeline import statement_circuit

            self._batch_circuit = statement_circuit(self.model.graph, "batch", self.statements["batch"].size)
        return self._batch_circuit

    def _batch_due(self, received: list[RequestState]) -> bool:
        if len(received) >= self.statements["batch"].size:
            return True
        oldest = min(r.times.get(RECEIVED, 0.0) for r in received)
        if time.time() - oldest >= self.batch_wait_s:
            return True
        with self._chain_lock:
            now = chain_now(self.w3)
        return (
            min(r.deadline for r in received) - now
            <= PROOF_TIME_FACTOR * self.batch_seconds_estimate() + FULFIL_MARGIN_S
        )

    def _prove_batch(self, records: list[RequestState]) -> list[Answer] | None:
        """Prove received requests as one batch and store each as ``proved`` (its label,
        logits and output commitment, the shared proof and the batch's ids) before anything
        is sent; returns None. When an input's witness cannot be built, each request is
        answered on its own instead (the poison one then ends ``failed``): returns those
        answers."""
        key = self.statements["batch"]
        circuit = self._batch_statement_circuit()
        shape = self.model.graph.input_tensor.shape
        t0 = time.perf_counter()
        try:
            xs = np.stack([np.array(r.input, dtype=np.int64).reshape(shape) for r in records])
            result = circuit.batch_witness(xs, [r.received_salt for r in records])
        except (ZkmarketError, ValueError):
            answers = [self.answer(record) for record in records]
            return [a for a in answers if a is not None]
        proof, _ = prove(key.proving_key, result.witness, r1cs=circuit.r1cs, progress=self.progress)
        seconds = time.perf_counter() - t0
        ids = [r.request_id for r in records]
        evm = [list(part) for part in proof_to_evm(proof)]
        with self._store_lock:
            for j, record in enumerate(records):
                record.label = result.labels[j]
                record.output_commitment = result.output_commitments[j]
                record.logits = [int(v) for v in np.asarray(result.logits[j]).ravel()]
                record.proof, record.batch, record.proof_seconds = evm, ids, seconds / len(records)
                self.store.put(record.enter(PROVED))  # the logits are durable before the fulfil is sent
        self.log(f"batch of {len(records)} proved in {seconds:.1f} s (a batch statement of {key.size})")
        return None

    def _settle_batch(self, records: list[RequestState]) -> list[Answer]:
        """Send a proved batch's fulfilBatch: the requests it settles end ``fulfilled``, the
        others (no longer open, or late) as the chain decides (``_settled_elsewhere``)."""
        key = self.statements["batch"]
        # the proof is about every request of its batch, in slot order, whatever became of each
        members = [self.store.request(rid) for rid in records[0].batch or []]
        if any(m is None for m in members):
            raise ProviderError(f"the store lost a request of the batch {records[0].batch}: it cannot be sent again")
        answers = [(m.request_id, m.proved_label, m.proved_output_commitment) for m in members if m is not None]
        records = [m for m in members if m is not None and m.state == PROVED]
        with self._chain_lock:
            try:
                settled = self.market.fulfil_batch(
                    self.account, self.registered_model_id, key.size, records[0].proof, answers
                )
            except ContractRevert as exc:
                if exc.error not in ("NothingToSettle", "DeadlinePassed"):
                    raise
                settled = []
            gas = int(self.market.receipt["gasUsed"]) if settled else 0
        out = []
        for record in records:
            if record.request_id in settled:
                with self._store_lock:
                    record.gas_used = gas // len(settled)
                    self.store.put(record.enter(FULFILLED))
                self.log(f"request {record.request_id}: label {record.label}, fulfilled in a batch of {len(settled)}")
                out.append(Answer(record.request_id, record.proved_label, record.proved_seconds, gas // len(settled)))
            else:
                with self._chain_lock:
                    onchain = self.market.request(record.request_id)
                answer = self._settled_elsewhere(record, onchain)
                if answer is not None:
                    out.append(answer)
        if settled:
            self.log(f"batch fulfilled: {len(settled)} request(s), {gas:,} gas ({gas // len(settled):,} per request)")
        return out

    def _close_unanswerable(self, record: RequestState, reason: str) -> None:
        with self._store_lock:
            self.store.put(record.enter(EXPIRED, reason))
        self.log(f"request {record.request_id}: not answered: {reason}")

    def serve(self, poll_seconds: float = 1.0, stop: Callable[[], bool] = lambda: False) -> None:
        """Serve until ``stop()`` is true (or forever): resume what the store holds, then poll."""
        pending = self.store.requests(RECEIVED, PROVED)
        if pending:
            self.log(f"resuming {len(pending)} request(s) with inputs: {[r.request_id for r in pending]}")
        caught_up = False
        while not stop():
            self.serve_once()
            if not caught_up:
                self.log(f"caught up with the chain at block {self.state.last_block}")
                caught_up = True
            time.sleep(poll_seconds)

    # accuracy audits and retrieval (contracts/statements)

    def _statement(self, kind: str, size: int | None, model_id: int, what: str) -> StatementKey:
        """The key to answer ``what`` (about ``model_id``, over ``size`` unless None) with, or why there is none."""
        if model_id != self.registered_model_id:
            raise ProviderError(f"{what} is about model {model_id}, not this provider's model {self.model_id}")
        key = self.statements.get(kind)
        if key is None:
            flag = "--accuracy-samples" if kind == "accuracy" else "--retrieval-items"
            raise ProviderError(f"this model was registered without an {kind} statement: register it with {flag}")
        if size is not None and key.size != size:
            raise ProviderError(
                f"the registered {kind} statement is over {key.size}, this one over {size}: "
                f"its verifier would refuse the proof"
            )
        return key

    def stake(self, audit, claim_bps: int, bond: int, slice_: int | None = None, min_fee: int = 0) -> None:
        """State the model's claimed accuracy (basis points) on ``audit`` (a
        ``marketplace.audit.Audit``) over the sample count of its registered accuracy circuit
        (the only count its proofs can answer) and stake ``bond`` wei, ``slice_`` (default all
        of it) at risk per challenge; challenges pay at least ``min_fee``."""
        model_id = self.registered_model_id
        key = self._statement("accuracy", None, model_id, "a stake")
        with self._chain_lock:
            audit.stake(self.account, model_id, claim_bps, key.size, bond, slice_, min_fee)
        self.log(
            f"model {self.model_id}: claims {claim_bps / 100:.2f}% accuracy over {key.size} drawn samples, "
            f"{bond} wei staked ({slice_ or bond} wei per lost challenge)"
        )

    def accept_pool(self, audit, pool_id: int, pool_path, min_pass_probability: float = 0.99) -> float:
        """Put the bond at risk on a registered pool, after checking its published file: the
        file must be the registered pool (root and size), and the model must pass a challenge
        on it (its claim met by ``samples`` draws with replacement) with at least
        ``min_pass_probability``, computed from the integer executor's labels on the whole pool.
        A pool with wrong labels (or one this model is not as good on as it claims) is refused
        with ProviderError before any transaction. Returns the pass probability."""
        from marketplace.audit import load_pool, pass_probability
        from prover.circuit.accuracy import count_correct

        with self._chain_lock:
            stake, record = audit.stake_of(self.model_id), audit.pool_of(pool_id)
        if stake.bond == 0:
            raise ProviderError(f"model {self.model_id} has no bond at stake: stake first")
        pool = load_pool(self.model.graph, pool_path, record)
        correct = count_correct(self.model.graph, pool.inputs, pool.labels)
        chance = pass_probability(correct / pool.size, stake.samples, stake.claim_bps)
        if chance < min_pass_probability:
            raise ProviderError(
                f"pool {pool_id}: the model labels {correct}/{pool.size} as the pool does, so a "
                f"challenge of {stake.samples} draws passes the {stake.claim_bps / 100:.2f}% claim "
                f"with probability {chance:.4f} only: not accepted (check its labels)"
            )
        with self._chain_lock:
            audit.accept_pool(self.account, self.model_id, pool_id)
        self.log(f"pool {pool_id} accepted: {correct}/{pool.size} correct, a challenge passes with p={chance:.4f}")
        return chance

    def answer_audit(self, audit, challenge_id: int, pool_path) -> ChallengeStatus:
        """Answer an accuracy challenge from its pool's file (see
        ``marketplace.audit.answer_challenge``: drawn first if nobody has); returns PASSED or FAILED."""
        with self._chain_lock:
            record = audit.status(challenge_id)
        key = self._statement("accuracy", record.samples, record.model_id, f"challenge {challenge_id}")
        t0 = time.perf_counter()
        with self._chain_lock:
            outcome = answer_challenge(
                audit, self.account, challenge_id, self.model.graph, key.proving_key, pool_path, progress=self.progress
            )
            correct = audit.status(challenge_id).correct
        self.log(
            f"challenge {challenge_id}: proved {correct}/{record.samples} correct, "
            f"{outcome.name.lower()} ({time.perf_counter() - t0:.1f} s)"
        )
        return outcome

    def answer_retrieval(self, retrieval, request_id: int, corpus_path, delivery_path) -> list[int]:
        """Answer a retrieval request from the corpus file (see
        ``marketplace.retrieval.answer_request``); returns the delivered corpus positions."""
        with self._chain_lock:
            record = retrieval.request_of(request_id)
            corpus = retrieval.corpus(record.corpus_id)
        key = self._statement("retrieval", corpus.size, record.model_id, f"retrieval request {request_id}")
        t0 = time.perf_counter()
        with self._chain_lock:
            positions = answer_request(
                retrieval,
                self.account,
                request_id,
                self.model.graph,
                key.proving_key,
                corpus_path,
                delivery_path,
                progress=self.progress,
            )
        self.log(
            f"retrieval request {request_id}: {len(positions)} of {corpus.size} items are class "
            f"{record.requested_class}, proved and fulfilled ({time.perf_counter() - t0:.1f} s)"
        )
        return positions

    def withdraw(self) -> int:
        """Withdraw the provider's earnings (0 when nothing is owed)."""
        with self._chain_lock:
            if self.market.owed(self.account) == 0:
                return 0
            return self.market.withdraw(self.account)
