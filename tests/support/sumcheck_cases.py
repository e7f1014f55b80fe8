"""Inference proofs on the sumcheck backend as the tests make and check them: a commitment key,
a quantized bundled model and its digits inputs, ``Case`` (one proof, verified against the
architecture alone, weights zeroed, and the weights' commitments), and the cheating provers the
reject twins share."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from marketplace.models import MODELS_DIR, digits_split, model_inputs
from prover.ceremony.known_secret import known_secret_ptau
from prover.circuit.statements import architecture_graph, architecture_spec
from prover.errors import VerificationError
from prover.field import limbs_to_ints
from prover.onnx import executor
from prover.onnx.graph import Graph
from prover.onnx.importer import import_model
from prover.onnx.ops import REGISTRY
from prover.onnx.quantize import quantize
from prover.sumcheck import commitment as pc
from prover.sumcheck import inference as inf
from prover.sumcheck import lookup


def commitment_key(power: int) -> pc.CommitmentKey:
    return pc.commitment_key(known_secret_ptau(power, 0x5A11, 3, 5), power)


def digits():
    x_tr, _, x_te, _ = digits_split()
    return x_tr, x_te


def quantized(name, digits):
    x_tr, _ = digits
    g = import_model(MODELS_DIR / f"{name}.onnx")
    return quantize(g, model_inputs(g.input_tensor.shape, x_tr))


def inputs(graph, digits, n, start=0):
    _, x_te = digits
    return executor.quantize_input(graph, model_inputs(graph.input_tensor.shape, x_te[start : start + n]))


class Case:
    def __init__(self, key, graph, x):
        self.key, self.graph, self.x = key, graph, x
        self.architecture = architecture_graph(architecture_spec(graph))
        self.seed = bytes(range(32))  # hiding weight commitments, as a registration makes them
        self.salts = [pc.random_blind() for _ in range(len(x))]  # hiding input and output commitments
        self.weights = inf.commit_weights(key, graph, self.seed)
        self.outputs, self.proof = inf.prove_inference(key, graph, x, self.weights, self.seed, self.salts)

    def prove(self, graph=None, x=None, weights=None):
        """A proof made as this case's (its seed and salts), of another graph, input or weights."""
        return inf.prove_inference(
            self.key,
            self.graph if graph is None else graph,
            self.x if x is None else x,
            self.weights if weights is None else weights,
            self.seed,
            self.salts,
        )

    def check_outputs_are_the_executors(self, where: tuple[int, int]) -> None:
        """The proved outputs are the executor's bit for bit and verify; one raised by one at
        ``where`` is refused."""
        assert np.array_equal(self.outputs, executor.execute(self.graph, self.x)[self.graph.output])
        self.check()
        bad = self.outputs.copy()
        bad[where] += 1
        with pytest.raises(VerificationError):
            self.check(outputs=bad)

    def check(self, proof=None, outputs=None, x=None, weights=None, salts=()):
        inf.verify_inference(
            self.key.verifier,
            self.architecture,
            self.weights if weights is None else weights,
            self.x if x is None else x,
            self.outputs if outputs is None else outputs,
            self.proof if proof is None else proof,
            self.salts if salts == () else salts,
        )


def rerun_after(graph: Graph, values: dict[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    """``values`` (the executor's, every tensor) with every op after the one that makes ``name``
    run again on them: a prover's run in which ``name`` was changed."""
    values = dict(values)
    later = False
    for op in graph.ops:
        if later:
            operands = [values[n] if n in values else graph.constants[n].values for n in op.inputs]
            values[op.output] = REGISTRY[op.kind].execute(*operands, **op.attrs)
        later = later or op.output == name
    return values


def changed_weight(graph: Graph, name: str, where: tuple[int, ...]) -> Graph:
    """``graph`` with one value of the constant ``name`` raised by one."""
    g = dataclasses.replace(graph, constants=dict(graph.constants))
    c = g.constants[name]
    values = c.values.copy()
    values[where] += 1
    g.constants[name] = dataclasses.replace(c, values=values)
    return g


def check_changed_weights_refused(case: Case, registered, run) -> None:
    """Checked against another registration (``registered``: a weight and where it changes) the
    proof fails, the weights' commitments being part of the statement; and a prover who runs
    other weights (``run``) than the registered ones is refused at the batch opening."""
    with pytest.raises(VerificationError):
        case.check(weights=inf.commit_weights(case.key, changed_weight(case.graph, *registered), case.seed))
    outputs, proof = case.prove(graph=changed_weight(case.graph, *run))
    with pytest.raises(pc.OpeningError):
        case.check(proof=proof, outputs=outputs)


def lenient_lookups(key, lookups, transcript, counts=None, deferred=None):
    """A lookup prover that counts a value missing from its table as the table's first entry
    (forged multiplicities: ``prove_lookups`` would refuse to prove such a witness)."""
    forged = []
    for lk in lookups:
        entries = limbs_to_ints(lk.table)
        known = set(entries)
        values = [v for w in lk.witnesses for v in limbs_to_ints(w)]
        forged.append(lookup.multiplicities([v if v in known else entries[0] for v in values], entries))
    return lookup.prove_lookups(key, lookups, transcript, forged, deferred)


def tampered_run(monkeypatch, change):
    """The executor as the prover runs it, with ``change(graph, values)`` applied to its values
    (every tensor): a cheating prover's run."""
    honest = executor.execute

    def run(g, x, keep_all=False):
        return change(g, dict(honest(g, x, keep_all=True)))

    monkeypatch.setattr(inf, "execute", run)


def check_changed_value_refused(case: Case, monkeypatch, name: str, edit, match: str | None = None) -> None:
    """A prover whose run has ``edit`` applied to tensor ``name`` (in place, on a copy), every
    op after it run on the changed value, and multiplicities forged to fit (``lenient_lookups``):
    its proof is refused (with ``match`` in the error when given)."""

    def change(g, values):
        changed = values[name].copy()
        edit(changed)
        return rerun_after(g, {**values, name: changed}, name)

    tampered_run(monkeypatch, change)
    monkeypatch.setattr(inf, "prove_lookups", lenient_lookups)
    outputs, proof = case.prove()
    monkeypatch.undo()
    with pytest.raises(VerificationError, match=match):
        case.check(proof=proof, outputs=outputs)
