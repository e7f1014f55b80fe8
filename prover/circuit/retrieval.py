"""The retrieval statement: the returned set is exactly the corpus items a committed model
assigns to the requested class.

Public inputs, in this order (wires 1..4):

1. ``model_commitment``  = ``statements.model_commitment`` (the inference statement's);
2. ``corpus_commitment`` = ``datasets.items_commitment(item hashes)``, in corpus order;
3. ``class_and_size``    = requested class + 2^32 * returned size (``class_and_size``): the
   class the requester asked for (range checked below 2^32) and the number of items returned.
   They share one public input because the on-chain Groth16 verifier takes four;
4. ``returned_set_commitment`` = ``commit([salt, s_0 * h_0, ..., s_{n-1} * h_{n-1}])`` where
   h_i is item i's ``datasets.item_hash`` and s_i = 1 if the model labels item i as the
   requested class (``executor.argmax_label`` of the integer executor's logits), else 0: a
   vector with the hash at every selected position and 0 elsewhere, after a salt (a private
   witness, a fresh random field element per answer). The requester, who receives the
   selected items with their corpus positions and the salt, recomputes it
   (``returned_set_commitment``) without learning anything about the items left out. The
   returned size is sum s_i.

Leaving out a matching item or adding a non-matching one changes the vector, so no witness
makes the circuit produce that set's commitment. The salt hides the set from everyone else:
the corpus's item hashes are public (its commitment is on-chain and its holders can recompute
them), and without a salt anyone could test candidate sets of the public size against the
on-chain commitment until one matched.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np

from prover import poseidon
from prover.circuit import datasets as D
from prover.circuit import gadgets as G
from prover.circuit.builder import Builder, Circuit, LinComb, concatenate
from prover.circuit.compile import Lowering, check_compilable
from prover.circuit.statements import model_commitment, model_commitment_wire, weight_inputs
from prover.field import FR_MODULUS
from prover.onnx import executor
from prover.onnx.graph import Graph, InputShapeError

PUBLIC_INPUTS = ("model_commitment", "corpus_commitment", "class_and_size", "returned_set_commitment")
CLASS_BITS = 32


def class_and_size(requested_class: int, size: int) -> int:
    """The third public input: the class in the low 32 bits, the returned size above."""
    if not 0 <= int(requested_class) < 1 << CLASS_BITS or int(size) < 0:
        raise InputShapeError(f"the class must be in [0, 2^{CLASS_BITS}) and the size non-negative")
    return int(requested_class) + (int(size) << CLASS_BITS)


def split_class_and_size(value: int) -> tuple[int, int]:
    """(requested class, returned size) from the third public input."""
    return int(value) & ((1 << CLASS_BITS) - 1), int(value) >> CLASS_BITS


def corpus_commitment(graph: Graph, corpus: np.ndarray) -> int:
    """The commitment a corpus is registered by."""
    return D.items_commitment(D.item_hashes(graph, D.check_items(graph, corpus, "corpus item")))


def fresh_salt() -> int:
    """A uniformly random field element for one answer's returned-set commitment."""
    return secrets.randbelow(FR_MODULUS)


def _check_salt(salt) -> int:
    if not isinstance(salt, (int, np.integer)) or not 0 <= int(salt) < FR_MODULUS:
        raise InputShapeError(f"the returned set's salt must be a field element (an int in [0, r)), got {salt!r}")
    return int(salt)


def returned_set_commitment(corpus_size: int, indices, hashes, salt: int) -> int:
    """The commitment to a returned set, as the requester recomputes it from the delivered
    items: their corpus positions ``indices``, item hashes ``hashes`` and the answer's
    ``salt`` (module docstring)."""
    salt = _check_salt(salt)
    indices = [int(i) for i in indices]
    if len(set(indices)) != len(indices) or any(not 0 <= i < corpus_size for i in indices):
        raise InputShapeError(f"returned positions must be distinct and in [0, {corpus_size}); got {indices}")
    if len(hashes) != len(indices):
        raise InputShapeError("one item hash per returned position is needed")
    vector = [0] * corpus_size
    for i, h in zip(indices, hashes):
        vector[i] = int(h) % FR_MODULUS
    return poseidon.commit([salt] + vector)


def matching_items(graph: Graph, corpus: np.ndarray, requested_class: int) -> np.ndarray:
    """The reference selection: corpus positions whose executor label is the class."""
    logits = executor.execute(graph, D.check_items(graph, corpus, "corpus item"))[graph.output]
    return np.nonzero(executor.argmax_label(logits.reshape(len(corpus), -1)) == int(requested_class))[0]


def public_inputs(graph: Graph, corpus: np.ndarray, requested_class: int, salt: int) -> list[int]:
    """The statement's public inputs for an honest answer with this salt, recomputed from the
    model, corpus and class with the executor (statement order)."""
    hashes = D.item_hashes(graph, corpus)
    selected = matching_items(graph, corpus, requested_class)
    return [
        model_commitment(graph),
        D.items_commitment(hashes),
        class_and_size(requested_class, len(selected)),
        returned_set_commitment(len(corpus), selected, [hashes[i] for i in selected], salt),
    ]


@dataclass
class RetrievalResult:
    """A witness and what it proves: the public inputs by name, the selected positions and
    the salt of the returned set's commitment (the requester needs it with the items)."""

    witness: np.ndarray
    public: dict[str, int]
    selected: np.ndarray
    salt: int


@dataclass
class RetrievalCircuit:
    graph: Graph
    mode: str
    corpus_size: int
    circuit: Circuit
    lowering: Lowering
    selection_wires: np.ndarray
    salt_wire: np.ndarray

    @property
    def r1cs(self):
        return self.circuit.r1cs

    def witness(
        self, corpus: np.ndarray, requested_class: int, salt: int | None = None, show_progress: bool = False
    ) -> RetrievalResult:
        """The witness for a quantized corpus, a class and the returned set's salt (a fresh
        ``fresh_salt()`` when None: every answer needs its own). Raises InputShapeError for a
        wrong shape or salt, ValueRangeError for an item outside the quantized range."""
        salt = fresh_salt() if salt is None else _check_salt(salt)
        items = D.check_items(self.graph, corpus, "corpus item")
        if len(items) != self.corpus_size:
            raise InputShapeError(
                f"the corpus has {len(items)} items; this circuit retrieves from exactly "
                f"{self.corpus_size}: build one for {len(items)}"
            )
        class_and_size(requested_class, 0)  # the class's range, before any work
        inputs = {
            "corpus": items,
            "requested_class": np.array(int(requested_class)),
            "salt": np.array(salt, dtype=object),
        }
        inputs.update(weight_inputs(self.lowering))
        values = self.circuit.run(inputs, show_progress)
        public = {k: v[0] for k, v in self.circuit.public_values(values).items()}
        selected = np.nonzero(values.get(self.selection_wires))[0]
        return RetrievalResult(values.limbs(self.circuit.order), public, selected, salt)


def _select(b: Builder, bits: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """Wires k_i = s_i * h_i (one constraint each) for boolean s and field-valued h."""
    kept = b.alloc(hashes.shape)
    b.constrain(LinComb.of(bits), LinComb.of(hashes), LinComb.of(kept))
    b.step(lambda v: v.set_field(kept, v.eval_field(LinComb.of(bits)) * v.eval_field(LinComb.of(hashes))))
    return kept


def retrieval_circuit(
    graph: Graph, corpus_size: int, mode: str = "private", show_progress: bool = False
) -> RetrievalCircuit:
    """Build the retrieval statement's circuit for a corpus of ``corpus_size`` items."""
    check_compilable(graph, mode)
    if corpus_size < 1:
        raise ValueError("a retrieval statement needs a corpus of at least one item")
    b = Builder()
    items = b.input("corpus", (corpus_size, *graph.input_tensor.shape))
    cls = b.input("requested_class", ())
    salt = b.input("salt", (), field=True)
    G.unsigned_bits(b, LinComb.of(cls), CLASS_BITS, what="requested class")  # packing stays injective
    packed, labels, first = D.classify_items(b, graph, items, mode, show_progress)
    model = model_commitment_wire(b, first)
    hashes = D.hash_items(b, packed)
    corpus = D.commit_items(b, hashes)
    selected = G.is_equal(b, LinComb.of(labels), LinComb.of(np.broadcast_to(cls, labels.shape)))
    kept = _select(b, selected, hashes)
    returned = G.commit(b, concatenate([LinComb.of(np.array([salt])), LinComb.of(kept)]))
    query = b.materialize(LinComb.of(cls) + LinComb.of(selected).sum() * (1 << CLASS_BITS), field=True)
    for name, wire in zip(PUBLIC_INPUTS, (model, corpus, query, returned)):
        b.public(name, wire)
    return RetrievalCircuit(graph, mode, corpus_size, b.finish(), first, selected, salt)
