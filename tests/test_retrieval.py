"""The retrieval statement: over a committed corpus of 64 digits images the proved set is the
integer executor's set; a set missing a matching item or holding a non-matching one has no
satisfying witness and its public inputs are rejected by the verifier. The returned set's
commitment is salted: the circuit binds the salt, and without it the commitment of the
proved set cannot be recomputed from the public item hashes."""

from __future__ import annotations

import numpy as np
import pytest
from support.models import prove_with_test_key
from support.onnx_cases import case_graph

from prover import poseidon
from prover.circuit import datasets as D
from prover.circuit import retrieval as R
from prover.circuit import statements as S
from prover.errors import CircuitError
from prover.field import FR_MODULUS, ints_to_limbs, limbs_to_ints
from prover.onnx import executor
from prover.onnx.graph import InputShapeError

CORPUS = 64
CLASS = 3
SALT = 0x5A17 << 200


def _set_commitment(corpus_size, hashes, positions, salt=SALT):
    """The returned-set commitment of ``positions`` (with the tests' salt unless given)."""
    return R.returned_set_commitment(corpus_size, positions, [hashes[i] for i in positions], salt)


def _with_public(witness, wire, value):
    out = witness.copy()
    out[wire] = ints_to_limbs([value % FR_MODULUS])[0]
    return out


@pytest.fixture(scope="module")
def proved(digits_mlp):
    q, x, _ = digits_mlp
    rc = R.retrieval_circuit(q, CORPUS)
    return q, x[:CORPUS], rc, rc.witness(x[:CORPUS], CLASS, SALT)


def test_proved_set_is_the_executors_set_over_64_digits(proved):
    q, corpus, rc, result = proved
    assert rc.r1cs.is_satisfied(result.witness)
    expected = R.matching_items(q, corpus, CLASS)
    assert len(expected) >= 2 and (result.selected == expected).all()
    labels = executor.argmax_label(executor.execute(q, corpus)[q.output])
    assert (np.nonzero(labels == CLASS)[0] == expected).all()
    hashes = D.item_hashes(q, corpus)
    assert result.public == {
        "model_commitment": S.model_commitment(q),
        "corpus_commitment": R.corpus_commitment(q, corpus),
        "class_and_size": R.class_and_size(CLASS, len(expected)),
        "returned_set_commitment": _set_commitment(CORPUS, hashes, expected),
    }
    assert R.split_class_and_size(result.public["class_and_size"]) == (CLASS, len(expected))
    assert limbs_to_ints(result.witness[1:5]) == [result.public[k] for k in R.PUBLIC_INPUTS]
    assert result.salt == SALT


def test_the_salt_is_bound_and_hides_the_set(proved):
    """The commitment is the salted one: the unsalted vector (what a corpus holder could try
    for every candidate set) and the same set under another salt give other values, and the
    salt wire cannot be changed under a fixed commitment."""
    q, corpus, rc, result = proved
    hashes = D.item_hashes(q, corpus)
    vector = [0] * CORPUS
    for i in result.selected:
        vector[i] = hashes[i]
    committed = result.public["returned_set_commitment"]
    assert committed != poseidon.commit(vector) and committed != _set_commitment(CORPUS, hashes, result.selected, 0)
    assert committed != _set_commitment(CORPUS, hashes, result.selected, SALT + 1)
    salt_wire = int(rc.circuit.final(rc.salt_wire))
    assert limbs_to_ints(result.witness[salt_wire : salt_wire + 1]) == [SALT]
    assert not rc.r1cs.is_satisfied(_with_public(result.witness, salt_wire, SALT + 1))
    # another salt, the same set: a witness of its own, the same class and size
    other = rc.witness(corpus, CLASS, SALT + 1)
    assert other.public["returned_set_commitment"] == _set_commitment(CORPUS, hashes, result.selected, SALT + 1)
    assert other.public["class_and_size"] == result.public["class_and_size"]
    # a salt outside the field is refused
    for bad in (-1, FR_MODULUS, "1"):
        with pytest.raises(InputShapeError, match="salt"):
            rc.witness(corpus, CLASS, bad)
        with pytest.raises(InputShapeError, match="salt"):
            R.returned_set_commitment(CORPUS, [], [], bad)


def test_a_set_missing_a_match_or_adding_a_non_match_has_no_witness(proved):
    q, corpus, rc, result = proved
    hashes = D.item_hashes(q, corpus)
    honest = list(result.selected)
    outsider = next(i for i in range(CORPUS) if i not in honest)
    dishonest = [honest[1:], sorted(honest + [outsider])]
    for positions in dishonest:
        commitment = _set_commitment(CORPUS, hashes, positions)
        assert commitment != result.public["returned_set_commitment"]
        assert not rc.r1cs.is_satisfied(_with_public(result.witness, 4, commitment))
        query = R.class_and_size(CLASS, len(positions))
        assert not rc.r1cs.is_satisfied(_with_public(_with_public(result.witness, 4, commitment), 3, query))
    # flipping one selection bit in the witness breaks it too
    for position in (honest[0], outsider):
        wire = int(rc.circuit.final(rc.selection_wires[position]))
        flipped = result.witness.copy()
        flipped[wire] = ints_to_limbs([1 - limbs_to_ints(flipped[wire : wire + 1])[0]])[0]
        assert not rc.r1cs.is_satisfied(flipped)


def test_a_class_no_item_has_returns_the_empty_set(digits_mlp):
    q, x, _ = digits_mlp
    rc = R.retrieval_circuit(q, 4)
    result = rc.witness(x[:4], 9 + 3, SALT)
    assert rc.r1cs.is_satisfied(result.witness)
    assert result.public["class_and_size"] == 12 and len(result.selected) == 0
    assert result.public["returned_set_commitment"] == R.returned_set_commitment(4, [], [], SALT)
    # without a salt each answer draws a fresh one: two answers of the same (empty) set differ
    first, second = rc.witness(x[:4], 12), rc.witness(x[:4], 12)
    assert first.salt != second.salt
    assert first.public["returned_set_commitment"] != second.public["returned_set_commitment"]
    assert first.public["returned_set_commitment"] == R.returned_set_commitment(4, [], [], first.salt)


def test_returned_set_commitment_refuses_bad_positions():
    with pytest.raises(InputShapeError):
        R.class_and_size(1 << 32, 0)
    with pytest.raises(InputShapeError):
        R.returned_set_commitment(4, [1, 1], [5, 5], SALT)
    with pytest.raises(InputShapeError):
        R.returned_set_commitment(4, [4], [5], SALT)
    with pytest.raises(InputShapeError):
        R.returned_set_commitment(4, [0, 1], [5], SALT)
    assert R.returned_set_commitment(4, [0], [5], SALT) != R.returned_set_commitment(4, [1], [5], SALT)


def test_wrong_corpus_size_is_refused(proved):
    q, corpus, rc, _ = proved
    with pytest.raises(InputShapeError, match="exactly 64"):
        rc.witness(corpus[:10], CLASS)


@pytest.mark.slow
def test_retrieval_proof_verifies_and_rejects_other_sets(rng):
    """Groth16 end to end on a small model."""
    from prover.groth16.prove import prove
    from prover.groth16.verify import verify

    q, calibration = case_graph("gemm", rng)
    corpus = executor.quantize_input(q, calibration[:8])
    labels = executor.argmax_label(executor.execute(q, corpus)[q.output])
    cls = int(np.bincount(labels).argmax())
    rc = R.retrieval_circuit(q, len(corpus))
    result = rc.witness(corpus, cls)  # a fresh salt
    pk, proof, public = prove_with_test_key(rc.r1cs, result.witness)
    assert public == R.public_inputs(q, corpus, cls, result.salt)
    vk = pk.verifying_key()
    assert verify(vk, public, proof)
    hashes = D.item_hashes(q, corpus)
    honest = list(np.nonzero(labels == cls)[0])
    outsider = next(i for i in range(len(corpus)) if i not in honest)
    other_corpus = corpus.copy()
    other_corpus[0, 0] += 1
    salt = result.salt
    rejected = [
        public[:2] + [R.class_and_size(cls, len(honest) - 1), _set_commitment(len(corpus), hashes, honest[1:], salt)],
        public[:2]
        + [
            R.class_and_size(cls, len(honest) + 1),
            _set_commitment(len(corpus), hashes, sorted(honest + [outsider]), salt),
        ],
        public[:3] + [_set_commitment(len(corpus), hashes, honest[1:], salt)],
        public[:3] + [_set_commitment(len(corpus), hashes, honest, (salt + 1) % FR_MODULUS)],
        [public[0], R.corpus_commitment(q, other_corpus)] + public[2:],
        public[:2] + [R.class_and_size((cls + 1) % 4, len(honest))] + public[3:],
    ]
    for wrong in rejected:
        assert not verify(vk, wrong, proof)
    # proving a dishonest set fails: the prover refuses an unsatisfied witness
    with pytest.raises(CircuitError, match="violates"):
        prove(pk, _with_public(result.witness, 4, rejected[0][3]), r1cs=rc.r1cs)
