"""The accuracy statement: the proved count is the integer executor's count on the digits test
split, the commitments are the inference statement's and the auditor's, constraints grow
linearly with the samples (the weight commitment once), and a proof speaks only of its own
test set and model."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.models import digits_split, example_models, model_inputs
from prover.circuit import accuracy as A
from prover.circuit import statements as S
from prover.field import FR_MODULUS, ints_to_limbs, limbs_to_ints
from prover.onnx import executor
from prover.onnx.graph import InputShapeError
from prover.onnx.importer import import_model
from prover.onnx.quantize import quantize
from test_compile import _case_graph


def prove_with_test_key(r1cs, witness):
    """(proving key, proof, public signals) from a known-secret ptau just big enough: a test
    key, never a real one."""
    from prover.ceremony.known_secret import known_secret_ptau
    from prover.groth16 import qap
    from prover.groth16.prove import prove
    from prover.groth16.setup import setup

    n = qap.domain_size(r1cs.n_constraints, r1cs.n_public)
    pk = setup(r1cs, known_secret_ptau(n.bit_length() - 1, 5, 7, 11))
    proof, public = prove(pk, witness, r1cs=r1cs)
    return pk, proof, public


@pytest.fixture(scope="module")
def digits_mlp():
    """The smallest example model (mlp: 64 -> 32 -> 10), quantized as the catalog says, and the
    quantized digits test split."""
    x_tr, _, x_te, y_te = digits_split()
    m = example_models()["mlp"]
    q = quantize(import_model(m.path), model_inputs(m.input_shape, x_tr), m.precision)
    return q, executor.quantize_input(q, model_inputs(m.input_shape, x_te)), y_te


def test_proved_count_is_the_executors_count_on_100_digits(digits_mlp):
    q, x, y = digits_mlp
    n = 100
    # a few wrong labels so that the count is not trivially n
    labels = y[:n].copy()
    labels[::9] = (labels[::9] + 1) % 10
    ac = A.accuracy_circuit(q, n)
    result = ac.witness(x[:n], labels)
    assert ac.r1cs.is_satisfied(result.witness)
    expected = A.count_correct(q, x[:n], labels)
    assert result.n_correct == expected
    assert expected < n - 5
    assert (result.predicted == executor.argmax_label(executor.execute(q, x[:n])[q.output])).all()
    assert result.public == dict(zip(A.PUBLIC_INPUTS, A.public_inputs(q, x[:n], labels)))
    # the model commitment is the inference statement's: both speak of the same weights
    assert result.public["model_commitment"] == S.model_commitment(q)
    assert limbs_to_ints(result.witness[1:5]) == [result.public[k] for k in A.PUBLIC_INPUTS]
    # reject twins: a witness claiming one more correct sample, or another sample count, fails
    for wire in (4, 3):
        wrong = result.witness.copy()
        wrong[wire] = ints_to_limbs([limbs_to_ints(wrong[wire:wire + 1])[0] + 1])[0]
        assert not ac.r1cs.is_satisfied(wrong)


def test_constraints_grow_linearly_and_the_weights_are_committed_once(digits_mlp):
    q, x, y = digits_mlp
    counts = [A.accuracy_circuit(q, n).r1cs.n_constraints for n in (1, 2, 3, 4)]
    per_sample = counts[1] - counts[0]
    # each sample adds the same model and equality constraints; only the shared hash tree
    # over the item hashes and the label packing add a little unevenly
    for a, b in zip(counts[1:], counts[2:]):
        assert abs((b - a) - per_sample) < 0.01 * per_sample
    # a sample costs less than a whole inference proof: the weight packing and hashing are
    # not repeated per sample
    inference = S.inference_circuit(q).r1cs.n_constraints
    assert per_sample < inference / 2
    assert counts[0] - per_sample > inference / 2


def test_test_set_commitment_binds_inputs_labels_and_order(digits_mlp):
    q, x, y = digits_mlp
    base = A.test_set_commitment(q, x[:4], y[:4])
    other_label = y[:4].copy()
    other_label[2] = (other_label[2] + 1) % 10
    other_pixel = x[:4].copy()
    other_pixel[1, 0] += 1
    for xs, ys in ((x[:4], other_label), (other_pixel, y[:4]), (x[[1, 0, 2, 3]], y[[1, 0, 2, 3]]),
                   (x[:3], y[:3])):
        assert A.test_set_commitment(q, xs, ys) != base


def test_wrong_shapes_and_labels_are_refused_before_proving(digits_mlp):
    q, x, y = digits_mlp
    ac = A.accuracy_circuit(q, 2)
    with pytest.raises(InputShapeError, match="exactly 2"):
        ac.witness(x[:3], y[:3])
    with pytest.raises(InputShapeError, match="one per test input"):
        ac.witness(x[:2], y[:3])
    with pytest.raises(InputShapeError, match="class indices"):
        ac.witness(x[:2], np.array([1, 200]))
    with pytest.raises(InputShapeError):
        ac.witness(x[:2, :10], y[:2])
    with pytest.raises(ValueError):
        A.accuracy_circuit(q, 0)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["private", "public"])
def test_accuracy_proof_verifies_and_rejects_another_test_set_or_model(mode, rng):
    """Groth16 end to end on a small model (known-secret ptau: a test key, never a real one):
    the verifier accepts the statement's public inputs and rejects the same proof presented
    for another test set, another model, another count or another sample count."""
    from prover.groth16.verify import verify

    q, calibration = _case_graph("gemm", rng)
    x = executor.quantize_input(q, calibration[:3])
    labels = np.array([0, 1, 2])
    ac = A.accuracy_circuit(q, 3, mode)
    pk, proof, public = prove_with_test_key(ac.r1cs, ac.witness(x, labels).witness)
    assert public == A.public_inputs(q, x, labels)
    vk = pk.verifying_key()
    assert verify(vk, public, proof)
    other_q, other_cal = _case_graph("gemm", np.random.default_rng(7))
    other_x = x.copy()
    other_x[0, 0] += 1
    rejected = [
        [public[0], A.test_set_commitment(q, other_x, labels)] + public[2:],
        [public[0], A.test_set_commitment(q, x, (labels + 1) % 4)] + public[2:],
        [S.model_commitment(other_q)] + public[1:],
        public[:3] + [(public[3] + 1) % FR_MODULUS],
        public[:2] + [public[2] + 1, public[3]],
    ]
    assert S.model_commitment(other_q) != public[0]
    for wrong in rejected:
        assert wrong != public
        assert not verify(vk, wrong, proof)


def test_is_equal_gadget_counts_exactly_the_equal_pairs(rng):
    """The equality gadget behind n_correct and the retrieval selection: e_i = [x_i == y_i],
    and no witness with a flipped e_i satisfies it."""
    from prover.circuit import gadgets as G
    from prover.circuit.builder import Builder

    x = rng.integers(-3, 4, 40)
    y = np.where(rng.random(40) < 0.5, x, rng.integers(-3, 4, 40))
    b = Builder()
    xw, yw = b.input("x", (40,)), b.input("y", (40,))
    e = G.is_equal(b, xw, yw)
    circuit = b.finish()
    values = circuit.run({"x": x, "y": y})
    assert (values.get(e) == (x == y)).all()
    witness = values.limbs(circuit.order)
    assert circuit.r1cs.is_satisfied(witness)
    for i in (int(np.argmax(x == y)), int(np.argmax(x != y))):
        wire = int(circuit.final(e[i]))
        flipped = witness.copy()
        flipped[wire] = ints_to_limbs([1 - int(x[i] == y[i])])[0]
        assert not circuit.r1cs.is_satisfied(flipped)
