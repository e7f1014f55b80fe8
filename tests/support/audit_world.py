"""A world for the statement contracts: real accuracy and retrieval keys and proofs about one
small model (known-secret keys: test keys, never real ones), and a fresh chain with the
registry, the audit contract, a verifier per statement and the pools registered."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pytest

from marketplace.audit import Audit
from marketplace.chain import connect
from marketplace.contracts import ContractRevert, Market, deploy_verifier
from prover.ceremony.known_secret import known_secret_setup
from prover.circuit import accuracy as A
from prover.circuit import retrieval as R
from prover.circuit import statements as S
from prover.onnx import executor
from support.models import prove_with_test_key
from support.onnx_cases import case_graph

WINDOW, UNBONDING = 3600, 3 * 3600
SLICE, FEE = 5 * 10**17, 10**17
BOND = 2 * SLICE
CLAIM_BPS = 9000  # 3/3 passes, fewer fails
SAMPLES = 3
POOL_ITEMS = 8


@dataclass
class Proofs:
    """Real keys and pools about one small model (known-secret keys: test keys, never real ones).
    ``prove`` proves the samples a draw selects from a pool, once per (pool, draw)."""

    graph: object
    circuit: object
    accuracy_pk: object
    honest: object  # A.TestPool labelled with the model's own labels: 3/3 on every draw
    hard: object  # every label wrong: 0/3 on every draw
    retrieval_vk: object
    corpus: np.ndarray
    requested_class: int
    retrieval: tuple  # (proof, public, selected positions)
    cache: dict = field(default_factory=dict)

    def prove(self, pool, draw: int):
        key = (pool.root, draw)
        if key not in self.cache:
            from prover.groth16.prove import prove

            self.cache[key] = prove(self.accuracy_pk, self.circuit.witness(pool, draw).witness, r1cs=self.circuit.r1cs)
        return self.cache[key]


@cache
def build_proofs() -> Proofs:
    """Built once per test session (conftest's ``proofs`` fixture)."""
    rng = np.random.default_rng(20261121)
    q, calibration = case_graph("gemm", rng)
    x = executor.quantize_input(q, calibration[:POOL_ITEMS])
    predicted = executor.argmax_label(executor.execute(q, x)[q.output])
    honest = A.build_pool(q, x, predicted)
    hard = A.build_pool(q, x, (predicted + 1) % 4)
    ac = A.accuracy_circuit(q, SAMPLES, "public")
    pk = known_secret_setup(ac.r1cs, 5, 7, 11)  # straight from the known secret: 2^14 powers of tau are slow
    corpus = executor.quantize_input(q, calibration[:8])
    labels = executor.argmax_label(executor.execute(q, corpus)[q.output])
    cls = int(np.bincount(labels).argmax())
    rc = R.retrieval_circuit(q, len(corpus), "public")
    result = rc.witness(corpus, cls)
    rpk, rproof, rpublic = prove_with_test_key(rc.r1cs, result.witness)
    return Proofs(q, ac, pk, honest, hard, rpk.verifying_key(), corpus, cls, (rproof, rpublic, result.selected))


@dataclass
class World:
    w3: object
    market: Market
    audit: Audit
    provider: str
    auditor: str
    stranger: str
    model_id: int
    retrieval_verifier: str
    pools: dict  # name -> pool id: "honest", "hard" (both published), "private" (the honest data, no URI)


def make_world(proofs: Proofs, models: int = 1) -> World:
    """A fresh chain: registry, audit, a verifier per statement, ``models`` registrations of
    the small model (ids 1..models) naming them, and the pools registered by the auditor."""
    w3 = connect()
    deployer, provider, auditor, stranger = w3.eth.accounts[:4]
    market = Market.deploy(w3, deployer)
    acc_verifier, _ = deploy_verifier(w3, proofs.accuracy_pk.verifying_key(), deployer)
    ret_verifier, _ = deploy_verifier(w3, proofs.retrieval_vk, deployer)
    commitment = S.model_commitment(proofs.graph)
    for _ in range(models):
        model_id = market.register_model(
            provider,
            commitment,
            None,
            0,
            accuracy_verifier=acc_verifier.address,
            retrieval_verifier=ret_verifier.address,
        )
    audit = Audit.deploy(w3, market.registry.address, WINDOW, UNBONDING, sender=deployer)
    pools = {
        "honest": audit.register_pool(auditor, proofs.honest.root, POOL_ITEMS, "file:honest.npz"),
        "hard": audit.register_pool(auditor, proofs.hard.root, POOL_ITEMS, "file:hard.npz"),
    }
    pools["private"] = audit.register_pool(stranger, proofs.honest.root, POOL_ITEMS, "")
    return World(w3, market, audit, provider, auditor, stranger, model_id, ret_verifier.address, pools)


def reverts(error: str, fn, *args):
    """``fn(*args)`` reverts with the custom error ``error``; returns the revert."""
    with pytest.raises(ContractRevert) as info:
        fn(*args)
    assert info.value.error == error, info.value
    return info.value
