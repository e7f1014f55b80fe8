"""Cached setups are keyed by the circuit format: a change of packing or of a statement's
commitment (``prover.circuit.statements.CIRCUIT_FORMAT``) names a new setup folder, so a
setup made for the old circuit is rebuilt, never reused with a stale card or key."""

from __future__ import annotations

from marketplace.models import example_models
from marketplace.setup.pipeline import quantized_graph
from prover.circuit import statements as S


def test_the_model_key_changes_with_the_circuit_format(monkeypatch):
    path = example_models()["mlp"].path
    key = quantized_graph(path).key
    assert quantized_graph(path).key == key
    monkeypatch.setattr(S, "CIRCUIT_FORMAT", S.CIRCUIT_FORMAT - 1)
    assert quantized_graph(path).key != key
