"""The accuracy statement: a committed model gets ``n_correct`` of a committed test set right.

Public inputs, in this order (wires 1..4):

1. ``model_commitment``    = ``statements.model_commitment`` (the inference statement's, so an
   accuracy proof and an inference proof speak of the same weights);
2. ``test_set_commitment`` = ``datasets.items_commitment(item hashes, pack_values(labels,
   LABEL_BITS))``: every test input hashed as a retrieval item is, then the labels packed;
3. ``n_samples``           = the number of test samples (fixed per circuit, pinned by it);
4. ``n_correct``           = how many samples the model labels as the test set does, where the
   model's label is ``executor.argmax_label`` of the integer executor's logits.

Batching: the weights are witness wires declared once and shared by the lowering of every
sample, and the model commitment is computed once per proof. Per sample the circuit costs the
model's inference constraints, the input's range check and packing, one item hash and one
equality; constraints grow linearly with n and the weight commitment is a constant term.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prover.circuit import gadgets as G
from prover.circuit import datasets as D
from prover.circuit.builder import Builder, Circuit, LinComb
from prover.circuit.compile import Lowering, check_compilable
from prover.circuit.statements import model_commitment, model_commitment_wire, weight_inputs
from prover.onnx import executor
from prover.onnx.graph import Graph, InputShapeError

PUBLIC_INPUTS = ("model_commitment", "test_set_commitment", "n_samples", "n_correct")
LABEL_BITS = 8  # labels are signed 8-bit in the packing: classes 0..127


def check_labels(labels: np.ndarray, n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise InputShapeError(f"labels have shape {labels.shape}; expected ({n},), one per test input")
    if labels.size and (labels.min() < 0 or labels.max() >= 1 << (LABEL_BITS - 1)):
        raise InputShapeError(f"labels must be class indices in [0, {(1 << (LABEL_BITS - 1)) - 1}]")
    return labels.astype(np.int64)


def test_set_commitment(graph: Graph, x_quantized: np.ndarray, labels: np.ndarray) -> int:
    """The test-set commitment an auditor publishes (see module docstring)."""
    items = D.check_items(graph, x_quantized, "test input")
    labels = check_labels(labels, len(items))
    return D.items_commitment(D.item_hashes(graph, items), G.pack_values(labels, LABEL_BITS))


def count_correct(graph: Graph, x_quantized: np.ndarray, labels: np.ndarray) -> int:
    """The reference count: the integer executor's labels compared with the test labels."""
    logits = executor.execute(graph, D.check_items(graph, x_quantized, "test input"))[graph.output]
    return int((executor.argmax_label(logits.reshape(len(labels), -1)) == np.asarray(labels)).sum())


@dataclass
class AccuracyResult:
    """A witness and what it proves: the public inputs by name and the per-sample labels."""

    witness: np.ndarray
    public: dict[str, int]
    predicted: np.ndarray

    @property
    def n_correct(self) -> int:
        return int(self.public["n_correct"])


@dataclass
class AccuracyCircuit:
    graph: Graph
    mode: str
    n_samples: int
    circuit: Circuit
    lowering: Lowering          # the first sample's (its weight wires are every sample's)
    predicted_wires: np.ndarray

    @property
    def r1cs(self):
        return self.circuit.r1cs

    def witness(self, x_quantized: np.ndarray, labels: np.ndarray, show_progress: bool = False) -> AccuracyResult:
        """The witness for a quantized test set and its labels. Raises InputShapeError for a
        wrong shape or label, ValueRangeError for an input outside the quantized range."""
        items = D.check_items(self.graph, x_quantized, "test input")
        if len(items) != self.n_samples:
            raise InputShapeError(f"the test set has {len(items)} samples; this circuit proves "
                                  f"accuracy on exactly {self.n_samples}: build one for {len(items)}")
        inputs = {"test_inputs": items, "test_labels": check_labels(labels, len(items))}
        inputs.update(weight_inputs(self.lowering))
        values = self.circuit.run(inputs, show_progress)
        public = {k: v[0] for k, v in self.circuit.public_values(values).items()}
        return AccuracyResult(values.limbs(self.circuit.order), public, values.get(self.predicted_wires))


def accuracy_circuit(graph: Graph, n_samples: int, mode: str = "private",
                     show_progress: bool = False) -> AccuracyCircuit:
    """Build the accuracy statement's circuit for ``n_samples`` test samples (module docstring)."""
    check_compilable(graph, mode)
    if n_samples < 1:
        raise ValueError("an accuracy statement needs at least one test sample")
    b = Builder()
    shape = graph.input_tensor.shape
    xs = b.input("test_inputs", (n_samples, *shape))
    labels = b.input("test_labels", (n_samples,))
    packed, predicted, first = D.classify_items(b, graph, xs, mode, show_progress)
    model = model_commitment_wire(b, first)
    hashes = D.hash_items(b, packed)
    packed_labels = G.pack(b, labels, LABEL_BITS)  # also the labels' range check
    test_set = D.commit_items(b, hashes, packed_labels)
    n = b.materialize(LinComb.constant(np.array([n_samples])))
    correct = b.materialize(LinComb.of(G.is_equal(b, LinComb.of(predicted), LinComb.of(labels))).sum())
    for name, wire in zip(PUBLIC_INPUTS, (model, test_set, n, correct)):
        b.public(name, wire)
    return AccuracyCircuit(graph, mode, n_samples, b.finish(), first, predicted)


def public_inputs(graph: Graph, x_quantized: np.ndarray, labels: np.ndarray) -> list[int]:
    """The statement's public inputs as a verifier recomputes them from the model and the
    test set (statement order)."""
    return [model_commitment(graph), test_set_commitment(graph, x_quantized, labels), len(labels),
            count_correct(graph, x_quantized, labels)]
