"""The sumcheck backend's multilinear commitment (prover/sumcheck/commitment.py, KZG with
Gemini's folds over the phase-1 powers of tau): the commitment is ``[f(tau)]_1`` computed
independently with py_ecc (and a hiding one adds the blind times the hashed generator, a point
py_ecc finds on the curve), honest openings verify at every size, and each altered piece of an
opening (value, point, commitment, fold, value triple, witness, transcript) is refused, as is a
prover who folds another table than the one committed."""

from __future__ import annotations

import random

import numpy as np
import pytest

from prover.ceremony.known_secret import known_secret_ptau
from prover.field import FR_MODULUS as R
from prover.field import ints_to_limbs
from prover.kernels import reference
from prover.sumcheck import commitment as pc
from prover.sumcheck import mle
from prover.sumcheck.transcript import Transcript

TAU = 0x5EC2E7  # INSECURE known secret: a test key
POWER = 6


@pytest.fixture(scope="module")
def key():
    return pc.commitment_key(known_secret_ptau(POWER, TAU, 3, 5), POWER)


def opened(key, table, point, label="opening-test"):
    c = pc.commit(key, table)
    t = Transcript(label)
    pc.absorb_point(t, c)
    value, proof = pc.prove_evaluation(key, table, point, t)
    return c, value, proof


def check(key, c, point, value, proof, label="opening-test"):
    t = Transcript(label)
    pc.absorb_point(t, c)
    pc.verify_evaluation(key.verifier, c, point, value, proof, t)


def instance(n, seed=0):
    rng = random.Random(seed)
    return [rng.randrange(-(2**20), 2**20) for _ in range(1 << n)], [rng.randrange(R) for _ in range(n)]


def test_commitment_is_the_table_at_tau(key):
    table, _ = instance(3)
    at_tau = sum(c * pow(TAU, i, R) for i, c in enumerate(table)) % R
    expected = reference.g1_to_array(reference.bn.multiply(reference.bn.G1, at_tau))
    assert np.array_equal(pc.commit(key, table), expected)


def test_a_hiding_commitment_adds_the_blind_times_the_hashed_generator(key):
    bn128 = reference.bn  # py_ecc's optimized BN254 (projective points)

    x, y = pc.hash_to_g1(pc.BLINDING_LABEL)
    h = (bn128.FQ(x), bn128.FQ(y), bn128.FQ(1))
    assert bn128.is_on_curve(h, bn128.b) and y % 2 == 0
    assert np.array_equal(reference.g1_to_array(h), pc.BLINDING_BASE)
    assert pc.hash_to_g1(b"another label") != (x, y)
    table, _ = instance(3)
    at_tau = sum(c * pow(TAU, i, R) for i, c in enumerate(table)) % R
    blind = pc.random_blind()
    expected = bn128.add(bn128.multiply(bn128.G1, at_tau), bn128.multiply(h, blind))
    hiding = pc.commit(key, table, blind)
    assert np.array_equal(hiding, reference.g1_to_array(expected))
    # a hiding commitment is not the plain one, so an opening of it as plain fails
    point = [random.Random(1).randrange(R) for _ in range(3)]
    _, value, proof = opened(key, table, point)
    with pytest.raises(pc.OpeningError):
        check(key, hiding, point, value, proof)
    unblinded = reference.g1_msm(np.stack([hiding, pc.BLINDING_BASE]), ints_to_limbs([1, R - blind]))
    assert np.array_equal(unblinded, pc.commit(key, table))
    check(key, unblinded, point, value, proof)


@pytest.mark.parametrize("n", [1, 2, 3, POWER])
def test_honest_opening_verifies(key, n):
    table, point = instance(n, n)
    c, value, proof = opened(key, table, point)
    assert value == mle.evaluate(mle.padded(table), point)
    check(key, c, point, value, proof)


def test_opening_on_the_cube_is_the_table_entry(key):
    table, _ = instance(3, 9)
    point = [1, 0, 1]
    c, value, proof = opened(key, table, point)
    assert value == table[0b101] % R
    check(key, c, point, value, proof)


def test_key_must_cover_the_table():
    with pytest.raises(ValueError, match="larger power"):
        pc.commitment_key(known_secret_ptau(2, TAU, 3, 5), 4)


def altered(proof, **changes):
    fields = {"folds": proof.folds, "values": proof.values, "witnesses": proof.witnesses, **changes}
    return pc.EvaluationProof(**fields)


def bump_point(p):
    """Another valid G1 point: p + G1."""
    return reference.g1_to_array(reference.bn.add(reference.g1_from_array(p), reference.bn.G1))


def test_reject_twins(key):
    n = 4
    table, point = instance(n, 4)
    c, value, proof = opened(key, table, point)
    with pytest.raises(pc.OpeningError):
        check(key, c, point, (value + 1) % R, proof)  # a false value
    with pytest.raises(pc.OpeningError):
        check(key, c, [point[0] + 1, *point[1:]], value, proof)  # another point
    other = list(table)
    other[5] += 1  # one changed weight: the registered commitment is of the other table
    with pytest.raises(pc.OpeningError):
        check(key, pc.commit(key, other), point, value, proof)
    folds = list(proof.folds)
    folds[1] = bump_point(folds[1])
    with pytest.raises(pc.OpeningError):
        check(key, c, point, value, altered(proof, folds=tuple(folds)))
    for k in range(2):
        witnesses = list(proof.witnesses)
        witnesses[k] = bump_point(witnesses[k])
        with pytest.raises(pc.OpeningError, match="batched KZG"):
            check(key, c, point, value, altered(proof, witnesses=tuple(witnesses)))
    values = [list(v) for v in proof.values]
    values[0][2] = (values[0][2] + 1) % R  # f_0(beta^2): no fold check reads it, the KZG check does
    with pytest.raises(pc.OpeningError, match="batched KZG"):
        check(key, c, point, value, altered(proof, values=tuple(map(tuple, values))))
    with pytest.raises(pc.OpeningError):
        check(key, c, point, value, proof, label="another-statement")
    with pytest.raises(pc.OpeningError, match="folds"):
        check(key, c, point, value, altered(proof, folds=proof.folds[:-1]))
    off_curve = np.zeros((2, 4), dtype=np.uint64)
    off_curve[0, 0], off_curve[1, 0] = 1, 3
    with pytest.raises(pc.OpeningError, match="not a G1 point"):
        check(key, c, point, value, altered(proof, witnesses=(off_curve, *proof.witnesses[1:])))
    values = [list(v) for v in proof.values]
    values[1][0] += R
    with pytest.raises(pc.OpeningError, match="field elements"):
        check(key, c, point, value, altered(proof, values=tuple(map(tuple, values))))


def test_prover_folding_another_table_is_refused(key):
    """A cheat with a consistent story: the folds and values are an honest opening of another
    table (whose extension at the point is the value claimed) while the commitment is the
    registered one. Every fold check passes; the batched KZG check, which ties f_0 to the
    commitment, does not."""
    n = 3
    table, point = instance(n, 6)
    c = pc.commit(key, table)
    other = list(table)
    other[2] += 7
    t = Transcript("opening-test")
    pc.absorb_point(t, c)
    value, proof = pc.prove_evaluation(key, other, point, t)
    assert value != mle.evaluate(mle.padded(table), point)
    with pytest.raises(pc.OpeningError, match="batched KZG"):
        check(key, c, point, value, proof)


def test_prover_and_verifier_transcripts_go_on_alike(key):
    """After an opening both sides' transcripts are in the same state, so that the protocol an
    opening is part of draws the same challenges on both sides."""
    table, point = instance(3, 12)
    c = pc.commit(key, table)
    sides = [Transcript("opening-test"), Transcript("opening-test")]
    for t in sides:
        pc.absorb_point(t, c)
    value, proof = pc.prove_evaluation(key, table, point, sides[0])
    pc.verify_evaluation(key.verifier, c, point, value, proof, sides[1])
    assert sides[0].state == sides[1].state


def test_a_table_of_one_value_opens_at_the_empty_point(key):
    c, value, proof = opened(key, [-42], [])
    assert value == R - 42
    check(key, c, [], value, proof)
    with pytest.raises(pc.OpeningError):
        check(key, c, [], value + 1, proof)
    with pytest.raises(pc.OpeningError):
        check(key, pc.commit(key, [41]), [], value, proof)
