"""Range checks by logUp-GKR (prover/sumcheck/lookup.py): honest proofs verify and leave a true
claim about the values; a value outside the range has no honest proof, and a prover who commits
to made-up multiplicities anyway, or alters a fraction layer, a root or the multiplicities'
opening, is refused."""

from __future__ import annotations

import dataclasses
import random

import pytest

from prover.ceremony.known_secret import known_secret_ptau
from prover.errors import VerificationError
from prover.field import FR_MODULUS as R
from prover.sumcheck import commitment as pc
from prover.sumcheck import lookup, mle
from prover.sumcheck.protocol import SumcheckError
from prover.sumcheck.transcript import Transcript

BITS = 4
LO = -8  # the table is [-8, 8)


@pytest.fixture(scope="module")
def key():
    return pc.commitment_key(known_secret_ptau(BITS, 0xC0FFEE, 3, 5), BITS)


def values(n, seed=0):
    rng = random.Random(seed)
    return [rng.randrange(LO, LO + (1 << BITS)) for _ in range(1 << n)]


def prove(key, vals, counts=None, label="range-test"):
    return lookup.prove_range(key, vals, LO, BITS, Transcript(label), counts)


def check(key, n, proof, label="range-test"):
    return lookup.verify_range(key.verifier, n, LO, BITS, proof, Transcript(label))


@pytest.mark.parametrize("n", [0, 1, 3, 6])
def test_honest_range_proof_leaves_a_true_claim(key, n):
    vals = values(n, n)
    proof, claim = prove(key, vals)
    assert check(key, n, proof) == claim
    assert mle.evaluate(mle.padded(vals), claim.point) == claim.value


def test_table_extension_is_the_table():
    for j in range(1 << BITS):
        bits = [(j >> (BITS - 1 - k)) & 1 for k in range(BITS)]
        assert lookup.table_extension(LO, BITS, bits) == (LO + j) % R
    point = [random.Random(1).randrange(R) for _ in range(BITS)]
    table = mle.padded([LO + j for j in range(1 << BITS)])
    assert lookup.table_extension(LO, BITS, point) == mle.evaluate(table, point)


def test_value_outside_the_range_has_no_honest_proof(key):
    vals = values(3, 1)
    vals[5] = LO + (1 << BITS)
    with pytest.raises(ValueError, match="outside the range"):
        prove(key, vals)


@pytest.mark.parametrize("bad", [LO - 1, LO + (1 << BITS), 2**40, -(2**40)])
def test_made_up_multiplicities_are_refused(key, bad):
    """A value outside the range, with the multiplicities the honest values would have (the bad
    value counted as the entry it replaced): the fraction sums differ."""
    vals = values(3, 2)
    counts = lookup.multiplicities([v % R for v in vals], lookup.range_table(LO, BITS))
    vals[3] = bad
    proof, _ = prove(key, vals, counts)
    with pytest.raises(SumcheckError, match="not in the table"):
        check(key, 3, proof)


def test_miscounted_multiplicities_are_refused(key):
    vals = values(3, 3)
    counts = lookup.multiplicities([v % R for v in vals], lookup.range_table(LO, BITS))
    j = next(i for i, c in enumerate(counts) if c)
    counts[j] -= 1
    counts[(j + 1) % len(counts)] += 1
    proof, _ = prove(key, vals, counts)
    with pytest.raises(SumcheckError, match="not in the table"):
        check(key, 3, proof)


def test_altered_proofs_are_refused(key):
    n = 3
    proof, claim = prove(key, values(n, 4))
    # a root moved to fit a different sum
    tree = proof.witness_tree
    moved = dataclasses.replace(tree, root=(tree.root[0] + 1, tree.root[1]))
    with pytest.raises(SumcheckError):
        check(key, n, dataclasses.replace(proof, witness_tree=moved))
    # a child's value changed in each layer of each tree
    for which in ("witness_tree", "table_tree"):
        tree = getattr(proof, which)
        for depth, layer in enumerate(tree.layers):
            children = list(layer.children)
            children[depth % 4] = (children[depth % 4] + 1) % R
            layers = list(tree.layers)
            layers[depth] = dataclasses.replace(layer, children=tuple(children))
            forged = dataclasses.replace(proof, **{which: dataclasses.replace(tree, layers=tuple(layers))})
            with pytest.raises(SumcheckError):
                check(key, n, forged)
    # a layer missing
    short = dataclasses.replace(proof.witness_tree, layers=proof.witness_tree.layers[:-1])
    with pytest.raises(SumcheckError, match="layers"):
        check(key, n, dataclasses.replace(proof, witness_tree=short))
    # the multiplicities' value changed: the table tree no longer agrees with it
    with pytest.raises(SumcheckError, match="multiplicities"):
        check(key, n, dataclasses.replace(proof, multiplicity_value=(proof.multiplicity_value + 1) % R))
    # another statement's transcript
    with pytest.raises(SumcheckError):
        check(key, n, proof, label="another-statement")
    # the claim left is about these values: other values do not satisfy it
    other = values(n, 4)
    other[0] = other[0] + 1 if other[0] < LO + (1 << BITS) - 1 else other[0] - 1
    assert mle.evaluate(mle.padded(other), claim.point) != claim.value


def test_multiplicities_must_open_from_their_commitment(key):
    """A prover that opens other multiplicities than the committed ones (and fits the table
    tree to them) is refused by the opening."""
    vals = values(2, 5)
    proof, _ = prove(key, vals)
    counts = lookup.multiplicities([v % R for v in vals], lookup.range_table(LO, BITS))
    shifted = counts[1:] + counts[:1]
    other_commitment = pc.commit(key, shifted)
    with pytest.raises((SumcheckError, pc.OpeningError)):
        check(key, 2, dataclasses.replace(proof, multiplicities=other_commitment))


def deferred_proof(key, vals, label="range-test"):
    deferred: list[lookup.MultiplicityClaim] = []
    t = Transcript(label)
    proof, claim = lookup.prove_lookup(key, vals, lookup.range_table(LO, BITS), t, deferred=deferred)
    return proof, claim, deferred


def settle(key, claims, label="settle"):
    """The deferred multiplicity claims, settled by one batch opening as the inference walk does."""
    from prover.sumcheck import batch_opening as bo

    tables = [c.table for c in claims]
    proof = bo.prove_batch_opening(key, tables, [[(c.point, c.value)] for c in claims], Transcript(label))
    return proof


def test_deferred_multiplicities_leave_their_claim_to_the_caller(key):
    """In deferred mode the proof carries no opening; the verifier hands the multiplicity claim
    on, and a batch opening settles it. The modes cannot be mixed, and a false multiplicity
    value passes the lookup's own checks only to fail the caller's opening."""
    from prover.sumcheck import batch_opening as bo

    vals = values(3, 6)
    proof, claim, prover_side = deferred_proof(key, vals)
    assert proof.multiplicity_opening is None
    verifier_side: list[lookup.MultiplicityClaim] = []
    t = Transcript("range-test")
    assert (
        lookup.verify_lookup(
            key.verifier, 3, BITS, lambda p: lookup.table_extension(LO, BITS, p), proof, t, verifier_side
        )
        == claim
    )
    (m,) = verifier_side
    assert (m.point, m.value) == (prover_side[0].point, prover_side[0].value)
    assert mle.evaluate(prover_side[0].table, m.point) == m.value
    opening = settle(key, prover_side)
    bo.verify_batch_opening(key.verifier, [m.commitment], [BITS], [[(m.point, m.value)]], opening, Transcript("settle"))
    with pytest.raises(SumcheckError, match="opened where"):
        check(key, 3, proof)  # a deferred proof checked as a settled one
    settled, _ = prove(key, vals)
    with pytest.raises(SumcheckError, match="opened where"):
        lookup.verify_lookup(key.verifier, 3, BITS, lambda p: 0, settled, Transcript("range-test"), [])
    # the opening catches a multiplicity value that the fraction tree was fitted to
    false = [(m.point, (m.value + 1) % R)]
    with pytest.raises(VerificationError):
        bo.verify_batch_opening(key.verifier, [m.commitment], [BITS], [false], opening, Transcript("settle"))
