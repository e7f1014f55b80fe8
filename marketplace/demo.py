"""`make demo`: the whole pay-per-verified-prediction flow on the in-process chain.

One process plays every part, each through its own account and the same interfaces as the
separate programs: a deployer deploys the marketplace; the consumer contributes to the setup
ceremony (phase 2 of the bundled digits MLP's key; phase 1 too with ``--ceremony``); the provider compiles the
model, sets it up, deploys its verifier and registers it with a price; the consumer rebuilds the
inference circuit from the published architecture and checks the key against it, the setup
transcripts and the verifier (``marketplace.setup.check``), then buys predictions for digits from the test split, each
proved by the provider and verified on-chain before the escrow is paid out. By default the
predictions are bought in one batch: the provider also sets up the batched inference statement
of ``n`` requests (the consumer contributes to its phase 2 and checks it as it checks the
inference key), the consumer escrows every input in one ``openRequests``, and one proof and one
``fulfilBatch`` settle them all; ``batch=False`` (``zkmarket demo --one-by-one``) buys them one
request and one proof at a time. The table shows each prediction's share of the gas. The labels are
compared with the float model run by onnxruntime, and a summary table ends the run.

Phase 1 is by default the INSECURE known-secret powers of tau (its secret is in the source), which
the demo says loudly; ``phase1="ceremony"`` (``zkmarket demo --ceremony``) runs a local phase-1
ceremony with the consumer's contribution instead, which is honest but slower (254 s for the
first run on an idle 2-core machine, mostly preparing the 2^15 powers of tau's Lagrange sections).

With ``statements=True`` (``zkmarket demo --all``) the same weights also back the two batch
statements: the provider registers the model with an accuracy verifier (over ``audit_samples``
test samples) and a retrieval verifier (over a ``corpus_items`` corpus), whose keys carry a
phase-2 contribution from the auditor and from the requester. After the predictions the
auditor registers the digits test split as a test pool (published file, Merkle root on-chain),
the provider stakes a bond on a claimed accuracy (``audit_claim_bps``, 90%) and accepts the pool
after checking its labels, the auditor checks the accuracy verifier as the consumer checked the
inference one (the circuit over the stake's sample count rebuilt, its own phase-2 contribution in
the key) and challenges,
the samples are drawn from the next block's hash, and the provider proves its count on exactly
those samples: the attestation lands on-chain and the fee is paid. Then the provider registers a
corpus of digits images; the requester checks the retrieval verifier the same way and pays for
every item of one class, and the provider proves that the returned set is exactly the items the
model assigns to that class; the requester checks the delivered items against the proved
commitment. Both proved results are compared with the integer executor's. (Their phase 1 is the
known secret too: a local ceremony for circuits of 2^20 rows takes far longer than a demo, so
``--all`` does not combine with ``--ceremony``.)

Compiled circuits, ceremony files and keys are cached (``--cache``, ``$ZKMARKET_CACHE`` or
``~/.cache/zkmarket``), so a second run skips the ceremony and the setup.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from marketplace.agents.consumer import Consumer
from marketplace.agents.provider import Provider
from marketplace.chain import connect
from marketplace.contracts import Market
from marketplace.setup.pipeline import prepare_model, prepare_statement, statement_constraints
from marketplace.store import ProviderStore, default_cache_dir
from prover.circuit.statements import MAX_BATCH
from prover.errors import ZkmarketError

PRICE_WEI = 10**15  # 0.001 ether per prediction
ETHER = 10**18


@dataclass
class DemoRow:
    request_id: int
    digit: int  # the test split's label
    onnxruntime: int  # the float model's label
    proved: int  # the label the contract verified
    proof_seconds: float
    open_gas: int
    fulfil_gas: int


@dataclass
class AuditRow:
    challenge_id: int
    samples: int
    claim_bps: int
    proved_correct: int  # the count the contract verified and attested
    executor_correct: int  # the integer executor's count on the same drawn samples
    attested: bool  # the model's on-chain attestations hold this challenge's result
    outcome: str
    proof_seconds: float


@dataclass
class RetrievalRow:
    request_id: int
    corpus_items: int
    requested_class: int
    delivered: list[int]  # the corpus positions proved and delivered
    executor: list[int]  # the positions the integer executor assigns to the class
    delivery_checked: bool
    proof_seconds: float


@dataclass
class DemoReport:
    rows: list[DemoRow]
    balances_before: dict[str, int]
    balances_after: dict[str, int]
    seconds: float
    audit: AuditRow | None = None
    retrieval: RetrievalRow | None = None


def onnxruntime_labels(onnx_path: Path, x: np.ndarray) -> np.ndarray:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ZkmarketError(
            "the demo compares its labels with onnxruntime, which is not installed: "
            "`pip install -e '.[test]'` (or `make install`)"
        ) from exc

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    logits = session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})[0]
    return logits.argmax(axis=1)


def eth(wei: int) -> str:
    return f"{wei / ETHER:.6f} ETH"


def run_demo(
    n_predictions: int = 5,
    *,
    model_name: str = "mlp",
    cache_dir: Path | None = None,
    price: int = PRICE_WEI,
    phase1: str = "known-secret",
    statements: bool = False,
    batch: bool = True,
    audit_samples: int = 100,
    audit_claim_bps: int = 9_000,
    corpus_items: int = 64,
    progress: bool = True,
    out: Callable[[str], None] = print,
) -> DemoReport:
    """Run the demo (see the module docstring) and print its summary; returns the figures."""
    from marketplace.models import digits_split, example_models, model_inputs

    if statements and phase1 != "known-secret":
        raise ZkmarketError(
            "--all sets up circuits of 2^20 rows and more, for which a local phase-1 ceremony takes "
            "hours: run it without --ceremony, or register with a public ptau "
            "(`zkmarket provider register --statement-ptau`)"
        )
    t_start = time.perf_counter()
    cache_dir = Path(cache_dir or default_cache_dir())
    model = example_models()[model_name]
    out(f"zkml-market demo: {n_predictions} paid, proved predictions of {model.path.name} on an in-process chain")
    out(f"cache: {cache_dir}")

    w3 = connect()
    deployer, provider_account, consumer_account, auditor_account, requester_account = list(w3.eth.accounts)[:5]
    market = Market.deploy(w3, deployer)
    out(f"marketplace deployed at {market.marketplace.address}")

    consumer = Consumer(market, consumer_account, name="consumer", state_dir=cache_dir / "consumer", log=out)
    served = prepare_model(
        model.path, participants=[consumer], phase1=phase1, cache_dir=cache_dir, progress=progress, log=out
    )
    statement_keys, clients = [], {}
    if batch and n_predictions > 1:
        if n_predictions > MAX_BATCH:
            raise ZkmarketError(f"one batch holds at most {MAX_BATCH} predictions: give -n {MAX_BATCH} or fewer")
        # the consumer relies on the batch verifier as on the inference one: it contributes to its key
        statement_keys.append(
            prepare_statement(
                served,
                "batch",
                n_predictions,
                participants=[consumer],
                phase1=phase1,
                cache_dir=cache_dir,
                progress=progress,
                log=out,
            )
        )
    if statements:
        check_statement_sizes(served.graph, audit_samples, corpus_items)
        # the auditor and the requester each contribute to the phase 2 of the key they rely on
        for kind, size, name, account in (
            ("accuracy", audit_samples, "auditor", auditor_account),
            ("retrieval", corpus_items, "requester", requester_account),
        ):
            clients[kind] = Consumer(market, account, name=name, state_dir=cache_dir / name, log=out)
            statement_keys.append(
                prepare_statement(
                    served,
                    kind,
                    size,
                    participants=[clients[kind]],
                    phase1=phase1,
                    cache_dir=cache_dir,
                    progress=progress,
                    log=out,
                )
            )

    with tempfile.TemporaryDirectory(prefix="zkmarket-provider-") as state_dir:
        provider = Provider(
            market,
            provider_account,
            served,
            ProviderStore(state_dir),
            statements=statement_keys,
            log=out,
            progress=progress,
        )
        try:
            endpoint = provider.open_channel()
            out(f"provider endpoint (the input channel): {endpoint}")
            model_id = provider.register(price)
            insecure = phase1 == "known-secret"
            t0 = time.perf_counter()
            offer = consumer.inspect(model_id, insecure_phase1=insecure)
            checked = (
                "the phase-2 transcript verifies and holds" if insecure else "both ceremony transcripts verify and hold"
            )
            out(
                f"consumer checked model {model_id}: the inference circuit rebuilt from the published architecture "
                f"is the key's; {checked} its own contribution; the registered verifier embeds the checked key "
                f"({time.perf_counter() - t0:.1f} s)"
            )
            if insecure:
                out(
                    "WARNING: phase 1 is the INSECURE known-secret powers of tau (fast, for this demo): whoever "
                    "knows its secret can forge proofs. `zkmarket demo --ceremony` runs a real phase-1 "
                    "ceremony with the consumer's contribution instead (the first time: about 4 minutes on an idle "
                    "2-core machine)"
                )

            accounts = {"provider": provider_account, "consumer": consumer_account}
            if statements:
                accounts.update(auditor=auditor_account, requester=requester_account)
            before = {name: int(w3.eth.get_balance(a)) for name, a in accounts.items()}
            _, _, x_test, y_test = digits_split()
            inputs = model_inputs(model.input_shape, x_test[:n_predictions])
            expected = onnxruntime_labels(model.path, inputs)
            rows = []
            if batch:
                predictions = consumer.predict_many(offer, list(inputs), wait=provider.serve_once)
            else:
                predictions = [consumer.predict(offer, x, wait=provider.serve_once) for x in inputs]
            for i, prediction in enumerate(predictions):
                record = provider.store.request(prediction.request_id)
                if prediction.label is None or record is None:
                    raise ZkmarketError(
                        f"request {prediction.request_id} was refunded, not answered: the provider "
                        f"could not prove it in time; run the demo again on an idler machine"
                    )
                rows.append(
                    DemoRow(
                        prediction.request_id,
                        int(y_test[i]),
                        int(expected[i]),
                        prediction.label,
                        record.proved_seconds,
                        prediction.open_gas,
                        record.gas_used or 0,
                    )
                )
            earned = provider.withdraw()
            out(f"provider withdrew {eth(earned)}")
            audit_row = retrieval_row = None
            if statements:
                audit_row = _audit_flow(
                    w3,
                    market,
                    provider,
                    deployer,
                    clients["accuracy"],
                    audit_samples,
                    audit_claim_bps,
                    Path(state_dir),
                    out,
                )
                retrieval_row = _retrieval_flow(
                    w3, market, provider, deployer, clients["retrieval"], corpus_items, Path(state_dir), out
                )
            after = {name: int(w3.eth.get_balance(a)) for name, a in accounts.items()}
        finally:
            provider.close()

    report = DemoReport(rows, before, after, time.perf_counter() - t_start, audit_row, retrieval_row)
    for line in summary(report, price):
        out(line)
    return report


# the largest batch statement the demo sets up: the 1000-sample MLP audit (4.5M constraints)
# proves in about a minute with 10.5 GiB on a 2-core, 24 GiB machine; a 2^23 domain is the limit
STATEMENT_CONSTRAINT_LIMIT = 1 << 23


def check_statement_sizes(graph, audit_samples: int, corpus_items: int) -> None:
    """Refuse batch statements too large for the machine before their circuits are built."""
    for kind, n, flag in (
        ("accuracy", audit_samples, "--audit-samples"),
        ("retrieval", corpus_items, "--corpus-items"),
    ):
        if n < 1:
            raise ZkmarketError(f"the {kind} statement needs at least one: give {flag} N with N >= 1")
        size = statement_constraints(graph, kind, n)
        if size > STATEMENT_CONSTRAINT_LIMIT:
            raise ZkmarketError(
                f"the {kind} statement over {n} on this model has about {size:,} constraints, more "
                f"than the demo sets up ({STATEMENT_CONSTRAINT_LIMIT:,}): give a smaller {flag}"
            )


AUDIT_BOND = 10**16  # 0.01 ether staked on the claim
AUDIT_FEE = 10**15  # 0.001 ether, the provider's if it passes
AUDIT_WINDOW = 3_600  # seconds the provider has to answer
AUDIT_UNBONDING = 3 * 3_600  # seconds from an unstake request to the end of challenges
RETRIEVAL_PAYMENT = 2 * 10**15
RETRIEVAL_CLASS = 3


def _audit_flow(
    w3,
    market: Market,
    provider: Provider,
    deployer: str,
    client: Consumer,
    samples: int,
    claim_bps: int,
    workdir: Path,
    out: Callable[[str], None],
) -> AuditRow:
    """Register the digits test split as a pool, stake, accept the pool; the auditor checks the
    accuracy verifier and challenges; draw the samples, answer with an accuracy proof on them,
    withdraw."""
    from marketplace.audit import Audit, write_pool
    from marketplace.models import digits_split, model_inputs
    from prover.circuit.accuracy import count_correct, pool_root, sample_indices
    from prover.onnx import executor

    graph = provider.model.graph
    audit = Audit.deploy(w3, market.registry.address, AUDIT_WINDOW, AUDIT_UNBONDING, sender=deployer)
    out(f"accuracy audits deployed at {audit.contract.address}")
    _, _, x_test, y_test = digits_split()
    inputs = executor.quantize_input(graph, model_inputs(graph.input_tensor.shape, x_test))
    auditor = client.account
    pool_file = write_pool(workdir / "pool.npz", inputs, y_test)  # published: anyone can check it
    pool_id = audit.register_pool(auditor, pool_root(graph, inputs, y_test), len(y_test), str(pool_file))
    out(f"auditor: pool {pool_id} registered, the {len(y_test)} digits of the test split with their labels")
    provider.stake(audit, claim_bps, AUDIT_BOND)
    provider.accept_pool(audit, pool_id, pool_file, min_pass_probability=0.5)  # small --audit-samples pass less surely
    model_id = provider.registered_model_id
    _check_statement_verifier(client, model_id, "accuracy", samples, audit, out)  # before the fee
    challenge_id = audit.challenge(auditor, model_id, pool_id, AUDIT_FEE)
    record = audit.draw(auditor, challenge_id)
    out(
        f"auditor: challenge {challenge_id} on pool {pool_id}, fee {eth(AUDIT_FEE)}; {samples} samples drawn "
        f"from block {record.draw_block}'s hash"
    )
    t0 = time.perf_counter()
    outcome = provider.answer_audit(audit, challenge_id, pool_file)
    seconds = time.perf_counter() - t0
    record = audit.status(challenge_id)
    drawn = sample_indices(record.draw)
    attested = [a for a in audit.attestations(model_id) if a.challenge_id == challenge_id]
    out(
        f"on-chain attestation: {attested[0].correct}/{attested[0].samples} correct"
        if attested
        else "no attestation: the claim failed and the auditor takes the bond"
    )
    for account in (provider.account, auditor):
        if audit.owed(account):
            audit.withdraw(account)
    return AuditRow(
        challenge_id,
        samples,
        claim_bps,
        record.correct,
        count_correct(graph, inputs[drawn], y_test[drawn]),
        bool(attested) and (attested[0].correct, attested[0].samples) == (record.correct, samples),
        outcome.name.lower(),
        seconds,
    )


def _check_statement_verifier(
    client: Consumer, model_id: int, kind: str, size: int, settlement, out: Callable[[str], None]
) -> None:
    """The auditor's or requester's check of the verifier it is about to pay on (known-secret
    phase 1, its own phase-2 contribution), timed."""
    t0 = time.perf_counter()
    client.check_statement(model_id, kind, size, insecure_phase1=True, settlement=settlement)
    out(
        f"{client.name} checked model {model_id}'s {kind} verifier: the {kind} circuit over {size} rebuilt from the "
        f"published architecture is the key's, whose phase-2 transcript holds its own contribution "
        f"({time.perf_counter() - t0:.1f} s)"
    )


def _retrieval_flow(
    w3,
    market: Market,
    provider: Provider,
    deployer: str,
    client: Consumer,
    items: int,
    workdir: Path,
    out: Callable[[str], None],
) -> RetrievalRow:
    """Register a corpus; the requester checks the retrieval verifier and pays for a class; the
    provider answers with a retrieval proof; the requester checks the delivery."""
    from marketplace.chain import latest_timestamp
    from marketplace.models import digits_split, model_inputs
    from marketplace.retrieval import Retrieval, check_delivery, read_delivery, write_corpus
    from prover.circuit.retrieval import corpus_commitment, matching_items
    from prover.onnx import executor

    graph = provider.model.graph
    retrieval = Retrieval.deploy(w3, market.registry.address, sender=deployer)
    out(f"retrieval market deployed at {retrieval.contract.address}")
    _, _, x_test, _ = digits_split()
    corpus = executor.quantize_input(graph, model_inputs(graph.input_tensor.shape, x_test[:items]))
    corpus_path = write_corpus(workdir / "corpus.npz", corpus)
    corpus_id = retrieval.register_corpus(provider.account, corpus_commitment(graph, corpus), items)
    requester = client.account
    model_id = provider.registered_model_id
    _check_statement_verifier(client, model_id, "retrieval", items, retrieval, out)  # before paying
    request_id = retrieval.request(
        requester, model_id, corpus_id, RETRIEVAL_CLASS, latest_timestamp(w3) + AUDIT_WINDOW, RETRIEVAL_PAYMENT
    )
    out(
        f"requester: every item of class {RETRIEVAL_CLASS} in corpus {corpus_id} ({items} digits), "
        f"{eth(RETRIEVAL_PAYMENT)}"
    )
    t0 = time.perf_counter()
    delivered = provider.answer_retrieval(retrieval, request_id, corpus_path, workdir / "delivery.npz")
    seconds = time.perf_counter() - t0
    check_delivery(
        graph, items, read_delivery(workdir / "delivery.npz"), request_id, retrieval.request_of(request_id)
    )  # raises if wrong
    out(f"requester: the {len(delivered)} delivered items are the proved set (salted commitment checked)")
    retrieval.withdraw(provider.account)
    return RetrievalRow(
        request_id,
        items,
        RETRIEVAL_CLASS,
        delivered,
        [int(i) for i in matching_items(graph, corpus, RETRIEVAL_CLASS)],
        True,
        seconds,
    )


def summary(report: DemoReport, price: int) -> list[str]:
    """The summary table: one row per request, then the balances."""
    lines = [
        "",
        " #  request      digit  onnxruntime  proved  match  proof (s)  gas per prediction (open + fulfil)",
        "--  -----------  -----  -----------  ------  -----  ---------  ----------------------------------",
    ]
    for i, r in enumerate(report.rows, 1):
        match = "yes" if r.proved == r.onnxruntime else "NO"
        # a request id is its group's hash plus its index: the hash's first and the id's last hex digits
        digits = f"{r.request_id:064x}"
        short = f"0x{digits[:6]}…{digits[-2:]}"
        lines.append(
            f"{i:>2}  {short:>11}  {r.digit:>5}  {r.onnxruntime:>11}  {r.proved:>6}  {match:>5}  "
            f"{r.proof_seconds:>9.2f}  {r.open_gas + r.fulfil_gas:>8,} ({r.open_gas:,} + {r.fulfil_gas:,})"
        )
    n = len(report.rows)
    agree = sum(r.proved == r.onnxruntime for r in report.rows)
    lines += [
        "",
        f"{n} predictions paid at {eth(price)} each, {n} verified on-chain; {agree}/{n} labels match onnxruntime",
    ]
    if n:
        per = sum(r.open_gas + r.fulfil_gas for r in report.rows) // n
        lines.append(f"gas per verified prediction: {per:,} (open and fulfil shares, whole transactions)")
    if report.audit is not None:
        audit = report.audit
        attested = "proved and attested on-chain" if audit.attested else "proved, NOT attested"
        lines.append(
            f"accuracy audit {audit.challenge_id}: {audit.proved_correct}/{audit.samples} correct {attested} "
            f"(integer executor: {audit.executor_correct}/{audit.samples}), claim "
            f"{audit.claim_bps / 100:.0f}%: {audit.outcome}; proved in {audit.proof_seconds:.1f} s"
        )
    if report.retrieval is not None:
        retrieval = report.retrieval
        same = (
            "the executor's set"
            if retrieval.delivered == retrieval.executor
            else f"NOT the executor's {retrieval.executor}"
        )
        lines.append(
            f"retrieval {retrieval.request_id}: {len(retrieval.delivered)} of {retrieval.corpus_items} "
            f"items are class {retrieval.requested_class} ({same}), delivery checked; proved in "
            f"{retrieval.proof_seconds:.1f} s"
        )
    lines.append("balances      before                after                 change")
    for name in report.balances_before:
        before, after = report.balances_before[name], report.balances_after[name]
        lines.append(
            f"{name:<9}  {eth(before):>20}  {eth(after):>20}  "
            f"{'+' if after >= before else '-'}{eth(abs(after - before))}"
        )
    lines.append("(the consumer also paid gas; the provider paid gas for registering and fulfilling)")
    if report.audit is not None:
        lines.append(
            f"(the provider's bond of {eth(AUDIT_BOND)} stays staked on its accuracy claim; it earned the "
            f"audit fee and the retrieval payment)"
        )
    lines.append(f"total time {report.seconds:.1f} s")
    return lines
