"""The accuracy statement: the proved count is the integer executor's count on the samples a
draw selects from a pool of digits, the commitments are the inference statement's and the pool's,
constraints grow linearly with the samples (the weight commitment once), the indices are the
draw's alone (a canonical reading of the hash, another sample's path refused), and a proof speaks
only of its own pool, draw and model."""

from __future__ import annotations

import numpy as np
import pytest
from support.onnx_cases import case_graph

from marketplace.models import example_models
from prover.circuit import accuracy as A
from prover.circuit import datasets as D
from prover.circuit import statements as S
from prover.circuit.builder import Builder
from prover.errors import CircuitError
from prover.field import FR_MODULUS, ints_to_limbs, limbs_to_ints
from prover.onnx import executor
from prover.onnx.graph import InputShapeError
from prover.onnx.importer import import_model

SEED = 0x5EED_1234_5678_9ABC_DEF0 << 100


@pytest.fixture(scope="module")
def digits_pool(digits_mlp):
    """The whole quantized digits test split as a pool, every 9th label wrong so that the count
    is not trivially n."""
    q, x, y = digits_mlp
    labels = y.copy()
    labels[::9] = (labels[::9] + 1) % 10
    return A.build_pool(q, x, labels)


def test_proved_count_is_the_executors_count_on_drawn_digits(digits_mlp, digits_pool):
    q, _, _ = digits_mlp
    n, pool = 8, digits_pool
    ac = A.accuracy_circuit(q, n)
    draw = A.make_draw(SEED, pool.size, n)
    result = ac.witness(pool, draw)
    assert ac.r1cs.is_satisfied(result.witness)
    assert result.indices == A.sample_indices(draw) and all(0 <= i < pool.size for i in result.indices)
    xs, ys = pool.inputs[result.indices], pool.labels[result.indices]
    assert result.n_correct == A.count_correct(q, xs, ys)
    assert (result.predicted == executor.argmax_label(executor.execute(q, xs)[q.output])).all()
    assert result.public == dict(zip(A.PUBLIC_INPUTS, A.public_inputs(q, pool, draw)))
    assert (result.public["pool_root"], result.public["draw"]) == (pool.root, draw)
    # the model commitment is the inference statement's: both speak of the same weights
    assert result.public["model_commitment"] == S.model_commitment(q)
    assert limbs_to_ints(result.witness[1:5]) == [result.public[k] for k in A.PUBLIC_INPUTS]
    # reject twins: a witness claiming one more correct sample, another draw or another root fails
    for wire in (4, 3, 2):
        wrong = result.witness.copy()
        wrong[wire] = ints_to_limbs([limbs_to_ints(wrong[wire : wire + 1])[0] + 1])[0]
        assert not ac.r1cs.is_satisfied(wrong)


def test_samples_at_other_positions_do_not_satisfy_the_circuit(digits_mlp, digits_pool, monkeypatch):
    """The prover's only freedom would be which pool items it proves: items (with their valid
    Merkle paths) at positions other than the draw's are refused."""
    q, _, _ = digits_mlp
    ac = A.accuracy_circuit(q, 2)
    draw = A.make_draw(SEED, digits_pool.size, 2)
    honest = A.sample_indices(draw)
    monkeypatch.setattr(A, "sample_indices", lambda d: [(i + 1) % digits_pool.size for i in honest])
    assert not ac.r1cs.is_satisfied(ac.witness(digits_pool, draw).witness)


def test_the_hash_digits_have_one_reading_only():
    """canonical_digits: the digits of h + r (the same field element, another integer) satisfy
    the recomposition but not the comparison with r, so the indices have one reading."""
    from prover.circuit.builder import Builder

    b = Builder()
    h = b.input("h", (1,), field=True)
    first_step = len(b.steps)
    digits = A.canonical_digits(b, h)
    circuit = b.finish()
    value = 12345678901234567890  # below 2^254 - r: h + r also fits the 254 digit bits
    assert circuit.r1cs.is_satisfied(circuit.witness({"h": [value]}))

    def aliased(v):
        v.set(digits, np.array([[((value + FR_MODULUS) >> (16 * j)) & 0xFFFF for j in range(16)]], dtype=np.int64))

    circuit.steps[first_step] = aliased
    assert not circuit.r1cs.is_satisfied(circuit.witness({"h": [value]}))


def test_sample_indices_cover_the_pool_and_follow_the_seed():
    draws = [A.make_draw(seed, 7, 15) for seed in range(60)]
    seen = {i for d in draws for i in A.sample_indices(d)}
    assert seen == set(range(7))
    assert A.sample_indices(draws[0]) != A.sample_indices(draws[1])
    assert A.split_draw(draws[5]) == (5, 7, 15)
    with pytest.raises(ValueError):
        A.make_draw(1 << A.SEED_BITS, 7, 15)
    with pytest.raises(ValueError):
        A.make_draw(1, A.MAX_POOL_SIZE + 1, 15)


def test_constraints_grow_linearly_and_the_weights_are_committed_once(digits_mlp):
    q, x, y = digits_mlp
    counts = [A.accuracy_circuit(q, n).r1cs.n_constraints for n in (1, 2, 3, 4)]
    per_sample = counts[1] - counts[0]
    # each sample adds the same model, hash and path constraints; only the index hashes (one
    # per 15 samples) add a little unevenly
    for a, b in zip(counts[1:], counts[2:]):
        assert abs((b - a) - per_sample) < 0.01 * per_sample
    # the weight packing and hashing are not repeated per sample
    inference = S.inference_circuit(q).r1cs.n_constraints
    assert counts[0] - per_sample > inference / 2


def test_the_pool_root_binds_inputs_labels_order_and_size(digits_mlp):
    q, x, y = digits_mlp
    base = A.pool_root(q, x[:4], y[:4])
    other_label = y[:4].copy()
    other_label[2] = (other_label[2] + 1) % 10
    other_pixel = x[:4].copy()
    other_pixel[1, 0] += 1
    for xs, ys in ((x[:4], other_label), (other_pixel, y[:4]), (x[[1, 0, 2, 3]], y[[1, 0, 2, 3]]), (x[:3], y[:3])):
        assert A.pool_root(q, xs, ys) != base


def test_items_hash_on_a_quantized_graph_only_and_an_empty_set_has_no_circuit(digits_mlp):
    q, x, _ = digits_mlp
    assert D.item_hashes(q, x[:2]) == [D.item_hash(q, x[0]), D.item_hash(q, x[1])]
    m = example_models()["mlp"]
    with pytest.raises(CircuitError, match="quantize the model first"):  # a float graph has no bit bounds
        D.item_hash(import_model(m.path), x[0])
    with pytest.raises(CircuitError, match="at least one item"):
        D.classify_items(Builder(), q, x[:0], "private")


def test_wrong_draws_pools_and_labels_are_refused_before_proving(digits_mlp):
    q, x, y = digits_mlp
    ac = A.accuracy_circuit(q, 2)
    pool = A.build_pool(q, x[:5], y[:5])
    with pytest.raises(InputShapeError, match="exactly 2"):
        ac.witness(pool, A.make_draw(1, 5, 3))
    with pytest.raises(InputShapeError, match="pool of 6 samples"):
        ac.witness(pool, A.make_draw(1, 6, 2))
    with pytest.raises(InputShapeError, match="one per test input"):
        A.build_pool(q, x[:2], y[:3])
    with pytest.raises(InputShapeError, match="class indices"):
        A.build_pool(q, x[:2], np.array([1, 200]))
    with pytest.raises(InputShapeError):
        A.build_pool(q, x[:2, :10], y[:2])
    with pytest.raises(InputShapeError, match="at most 4"):
        A.build_pool(q, x[:5], y[:5], depth=2)
    with pytest.raises(ValueError):
        A.accuracy_circuit(q, 0)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["private", "public"])
def test_accuracy_proof_verifies_and_rejects_another_pool_draw_or_model(mode, rng):
    """Groth16 end to end on a small model (known-secret key: a test key, never a real one):
    the verifier accepts the statement's public inputs and rejects the same proof presented
    for another pool, another model, another count or another draw."""
    from prover.ceremony.known_secret import known_secret_setup
    from prover.groth16.prove import prove
    from prover.groth16.verify import verify

    q, calibration = case_graph("gemm", rng)
    x = executor.quantize_input(q, calibration[:6])
    labels = np.array([0, 1, 2, 3, 0, 1])
    pool = A.build_pool(q, x, labels)
    ac = A.accuracy_circuit(q, 3, mode)
    draw = A.make_draw(SEED, pool.size, 3)
    pk = known_secret_setup(ac.r1cs, 5, 7, 11)
    proof, public = prove(pk, ac.witness(pool, draw).witness, r1cs=ac.r1cs)
    assert public == A.public_inputs(q, pool, draw)
    vk = pk.verifying_key()
    assert verify(vk, public, proof)
    other_q, _ = case_graph("gemm", np.random.default_rng(7))
    rejected = [
        [public[0], A.pool_root(q, x, (labels + 1) % 4)] + public[2:],
        [S.model_commitment(other_q)] + public[1:],
        public[:3] + [(public[3] + 1) % FR_MODULUS],
        public[:2] + [A.make_draw(SEED + 1, pool.size, 3), public[3]],
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
