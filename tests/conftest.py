"""Fixtures shared by the test modules; the helpers they use live in ``tests/support/``, so no
test module imports another.

Session-scoped fixtures are built once per run and never mutated by a test; the chain worlds
built on them are per test."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from circuits.artifacts import SOURCES as ARTIFACT_SOURCES
from circuits.artifacts import build
from support.audit_world import build_proofs
from support.batch import Keys
from support.models import PRICE, STATEMENT_ITEMS, STATEMENT_SAMPLES, write_small_model
from support.processes import hardhat_node
from support.toy import CIRCUIT, ToyCircuit, build_toy_circuit

from marketplace.agents.consumer import Consumer
from marketplace.agents.provider import Provider
from marketplace.chain import connect
from marketplace.contracts import Market, compile_contracts, source_files
from marketplace.models import digits_split, example_models, model_inputs
from marketplace.setup.pipeline import prepare_model, prepare_statement
from marketplace.solc import find_compiler
from marketplace.store import ProviderStore
from prover.onnx import executor
from prover.onnx.importer import import_model
from prover.onnx.quantize import quantize

QUIET = {"log": lambda m: None, "progress": False}

# the modules that take longest, longest first (from --durations): run first, so that with
# `pytest -n 2 --dist loadscope` the short modules fill in around them
LONGEST_MODULES = (
    "test_demo.py",
    "test_statements_cli.py",
    "test_setup_check.py",
    "test_marketplace_ceremony.py",
    "test_multiprocess.py",
    "test_provider_statements.py",
    "test_retrieval_contracts.py",
    "test_compile.py",
    "test_channel.py",
    "test_provider_agent.py",
    "test_marketplace.py",
    "test_retrieval.py",
    # and those of the fast suite (-m 'not slow')
    "test_batch_verifier.py",
    "test_cli_model.py",
    "test_contracts.py",
    "test_groth16.py",
    "test_batch_inference.py",
    "test_batch_fulfil.py",
    "test_ceremony_phase1.py",
    "test_kernels.py",
    "test_erf_gelu.py",
    "test_transcendental.py",
    "test_arithmetic.py",
)


def pytest_collection_modifyitems(config, items):
    """Run the longest modules first (a stable sort: each module's own order is kept)."""
    rank = {name: i for i, name in enumerate(LONGEST_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


# --- randomness and circom/snarkjs artifacts --------------------------------------------------


@pytest.fixture
def rng():
    """A seeded generator, so that a failing random case can be replayed."""
    return np.random.default_rng(20261121)


def cached_build_dir(request, tmp_path_factory, name: str, *sources: Path) -> Path:
    """A directory for a build from ``sources``, kept in pytest's cache between sessions under a
    name that changes with their contents (so an edited source is rebuilt); in the session's
    temporary directory when the cache is disabled (-p no:cacheprovider)."""
    cache = getattr(request.config, "cache", None)
    if cache is None:
        return tmp_path_factory.getbasetemp() / name
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:16]
    return Path(cache.mkdir(f"zkmarket-{name}-{digest}"))


@pytest.fixture(scope="session")
def artifacts(request, tmp_path_factory):
    """circom2/snarkjs-made circuits, witnesses, keys and proofs, built once (by one test
    process) and kept until their sources change."""
    return build(cached_build_dir(request, tmp_path_factory, "snarkjs-artifacts", *ARTIFACT_SOURCES))


# --- models -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def digits_mlp():
    """The smallest example model (mlp: 64 -> 32 -> 10), quantized as the catalog says, and the
    quantized digits test split."""
    x_tr, _, x_te, y_te = digits_split()
    m = example_models()["mlp"]
    q = quantize(import_model(m.path), model_inputs(m.input_shape, x_tr), m.precision)
    return q, executor.quantize_input(q, model_inputs(m.input_shape, x_te)), y_te


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """(path, calibration batch, cache dir) of write_small_model's network; one per module, so
    that a module's keys and consumers never meet another's."""
    root = tmp_path_factory.mktemp("small_model")
    path = root / "small.onnx"
    return path, write_small_model(path), root / "cache"


# --- chains and worlds ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hardhat_url():
    """A `hardhat node` (the pinned npm hardhat) on 127.0.0.1 at a free port, stopped after the
    module."""
    with hardhat_node() as url:
        yield url


@pytest.fixture
def world(small_model, tmp_path):
    """A fresh chain and marketplace, a consumer that contributed to the key's phase 2, and a
    registered provider with its channel open (modules with a world of their own override it)."""
    path, calibration, cache = small_model
    w3 = connect()
    deployer, provider_account, consumer_account = w3.eth.accounts[:3]
    market = Market.deploy(w3, deployer)
    consumer = Consumer(market, consumer_account, state_dir=cache / "consumer", log=lambda m: None)
    served = prepare_model(
        path,
        participants=[consumer],
        phase1="known-secret",
        calibration=calibration,
        cache_dir=cache,
        progress=False,
        log=lambda m: None,
    )
    provider = Provider(
        market, provider_account, served, ProviderStore(tmp_path / "provider"), log=lambda m: None, progress=False
    )
    provider.open_channel()
    model_id = provider.register(PRICE)
    yield {
        "w3": w3,
        "market": market,
        "consumer": consumer,
        "provider": provider,
        "model_id": model_id,
        "calibration": calibration,
        "served": served,
        "tmp": tmp_path,
    }
    provider.close()


@pytest.fixture(scope="session")
def compiled_contracts(request, tmp_path_factory) -> dict:
    """A fresh compile of contracts/, the test-only contracts included, kept in pytest's cache
    until a source or the compiler changes (two workers starting cold both compile; the file
    lands whole by a rename)."""
    compiler = find_compiler()
    version = tmp_path_factory.getbasetemp() / f"solc-{compiler.backend}-{compiler.version}"
    version.write_text(f"{compiler.backend} {compiler.version}")
    saved = cached_build_dir(request, tmp_path_factory, "contracts", version, *source_files(True)) / "compiled.json"
    saved.parent.mkdir(parents=True, exist_ok=True)
    if saved.exists():
        return json.loads(saved.read_text())
    compiled = compile_contracts(include_test=True)
    partial = saved.with_name(f"{saved.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(compiled))
    os.replace(partial, saved)
    return compiled


@pytest.fixture(scope="session")
def batch_keys(tmp_path_factory) -> Keys:
    """The small model with test keys for its single and batch-of-4 statements (``support.batch``)."""
    return Keys(tmp_path_factory.mktemp("batch-keys"))


@pytest.fixture(scope="session")
def toy_circuit(request, tmp_path_factory) -> ToyCircuit:
    """The toy circuit's build (``cached_build_dir``), its phase-1 ptau kept beside it."""
    return build_toy_circuit(
        cached_build_dir(request, tmp_path_factory, "toy-inference", CIRCUIT),
        cached_build_dir(request, tmp_path_factory, "contract-ptau"),
    )


@pytest.fixture(scope="session")
def proofs():
    """Real accuracy and retrieval keys and proofs about one small model (support.audit_world)."""
    return build_proofs()


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    """The small model served with its inference key, and its two statement keys, each with a
    phase-2 contribution from the party that relies on it (built once: test_provider_statements
    and test_setup_check share it)."""
    root = tmp_path_factory.mktemp("statements")
    path = root / "small.onnx"
    calibration = write_small_model(path)
    cache = root / "cache"
    w3 = connect()
    market = Market.deploy(w3, w3.eth.accounts[0])
    served = prepare_model(
        path,
        phase1="known-secret",
        calibration=calibration,
        cache_dir=cache,
        participants=[Consumer(market, w3.eth.accounts[2], state_dir=root / "consumer", log=QUIET["log"])],
        **QUIET,
    )
    auditor = Consumer(market, w3.eth.accounts[3], name="auditor", state_dir=root / "auditor", log=QUIET["log"])
    requester = Consumer(market, w3.eth.accounts[4], name="requester", state_dir=root / "requester", log=QUIET["log"])
    accuracy = prepare_statement(
        served, "accuracy", STATEMENT_SAMPLES, participants=[auditor], phase1="known-secret", cache_dir=cache, **QUIET
    )
    retrieval = prepare_statement(
        served, "retrieval", STATEMENT_ITEMS, participants=[requester], phase1="known-secret", cache_dir=cache, **QUIET
    )
    return {
        "served": served,
        "calibration": calibration,
        "accuracy": accuracy,
        "retrieval": retrieval,
        "auditor_trusts": auditor.trusted["phase2"],
        "requester_trusts": requester.trusted["phase2"],
        "cache": cache,
    }
