"""Lookups by logUp-GKR (prover/sumcheck/lookup.py), one at a time and in batches: honest proofs
verify and leave true claims about the witnesses; a value outside its table has no honest proof,
and a prover who commits to made-up multiplicities anyway, alters a fraction layer, a root, a
witness's value or the multiplicities' opening, or fills the space between the witnesses, is
refused."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
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


def _with_child_changed(proof, depth, k):
    trees = proof.trees
    layer = trees.layers[depth]
    children = list(layer.children)
    children[k] = (children[k] + 1) % R
    layers = list(trees.layers)
    layers[depth] = dataclasses.replace(layer, children=tuple(children))
    return dataclasses.replace(proof, trees=dataclasses.replace(trees, layers=tuple(layers)))


def test_altered_proofs_are_refused(key):
    n = 3
    proof, claim = prove(key, values(n, 4))
    # a root moved to fit a different sum, the witness tree's or the table tree's
    for k in range(4):
        roots = list(proof.trees.roots)
        roots[k] = (roots[k] + 1) % R
        moved = dataclasses.replace(proof.trees, roots=tuple(roots))
        with pytest.raises(SumcheckError):
            check(key, n, dataclasses.replace(proof, trees=moved))
    # a child's value changed in each layer, in each tree still descending there
    for depth, layer in enumerate(proof.trees.layers):
        for k in range(len(layer.children)):
            with pytest.raises(SumcheckError):
                check(key, n, _with_child_changed(proof, depth, k))
    # a layer missing
    short = dataclasses.replace(proof.trees, layers=proof.trees.layers[:-1])
    with pytest.raises(SumcheckError, match="layers"):
        check(key, n, dataclasses.replace(proof, trees=short))
    # the witness's value changed: the leaves' denominators no longer agree with it
    sent = ((proof.witness_values[0][0] + 1) % R,)
    with pytest.raises(SumcheckError, match="denominators"):
        check(key, n, dataclasses.replace(proof, witness_values=(sent,)))
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
        check(key, 2, dataclasses.replace(proof, multiplicities=(other_commitment,)))


def deferred_proof(key, vals, label="range-test"):
    deferred: list[lookup.MultiplicityClaim] = []
    t = Transcript(label)
    proof, claim = lookup.prove_lookup(key, vals, lookup.range_table(LO, BITS), t, deferred=deferred)
    return proof, claim, deferred


def settle(key, claims, label="settle"):
    """The deferred multiplicity claims, settled by one batch opening as the inference walk does."""
    from prover.sumcheck import batch_opening as bo

    tables = [c.table for c in claims]
    blinds = [c.blind for c in claims]
    return bo.prove_batch_opening(key, tables, [[(c.point, c.value)] for c in claims], Transcript(label), blinds)


def test_deferred_multiplicities_leave_their_claim_to_the_caller(key):
    """In deferred mode the proof carries no opening; the verifier hands the multiplicity claim
    on, and a batch opening settles it. The modes cannot be mixed, and a false multiplicity
    value passes the lookup's own checks only to fail the caller's opening."""
    from prover.sumcheck import batch_opening as bo

    vals = values(3, 6)
    proof, claim, prover_side = deferred_proof(key, vals)
    assert proof.multiplicity_openings is None
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
    assert prover_side[0].blind != 0  # a deferred multiplicities' commitment hides them
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


# a batch: two tables, the first with witnesses of 2^3, 2^1, 2^0 and 2^2 values (laid out
# largest first, 15 of 16 leaves used), the second with one of 2^2
SMALL = (0, 3)  # the table [0, 8)
SIZES = ((3, 1, 0, 2), (2,))


def batch(seed=7, change=None):
    """The batch's lookups (prover's side) and each witness's values as ints; ``change(values)``
    edits the values first."""
    rng = random.Random(seed)
    tables = [(LO, BITS), SMALL]
    vals = [
        [[rng.randrange(lo, lo + (1 << bits)) for _ in range(1 << n)] for n in sizes]
        for (lo, bits), sizes in zip(tables, SIZES)
    ]
    if change:
        change(vals)
    lookups = [
        lookup.Lookup(
            bits,
            sizes,
            lambda p, lo=lo, bits=bits: lookup.table_extension(lo, bits, p),
            lookup.range_table(lo, bits),
            tuple(mle.as_table(mle.padded(v)) for v in ws),
        )
        for (lo, bits), sizes, ws in zip(tables, SIZES, vals)
    ]
    return lookups, vals


def verifier_side(lookups):
    return [lookup.Lookup(lk.bits, lk.sizes, lk.table_at) for lk in lookups]


def test_segments_lay_witnesses_largest_first():
    assert lookup.segments((3, 1, 0, 2)) == (4, [0, 12, 14, 8])
    assert lookup.segments((2,)) == (2, [0])
    assert lookup.segments((0,)) == (0, [0])


def test_batch_leaves_a_true_claim_about_every_witness(key):
    lookups, vals = batch()
    proof, claims = lookup.prove_lookups(key, lookups, Transcript("batch"))
    assert len(proof.trees.layers) == 4  # the deepest tree: 16 leaves
    assert lookup.verify_lookups(key.verifier, verifier_side(lookups), proof, Transcript("batch")) == claims
    for ws, cs in zip(vals, claims):
        for v, c in zip(ws, cs):
            assert mle.evaluate(mle.padded(v), c.point) == c.value


def test_batch_refuses_a_value_outside_its_table(key):
    """One value of the smallest witness (one value) outside the second table's range, the
    multiplicities forged as if it were the entry it replaced."""
    honest, _ = batch()
    counts = [lookup.multiplicities(np.concatenate(lk.witnesses), lk.table) for lk in honest]

    def bad(vals):
        vals[0][2][0] = LO - 1

    lookups, _ = batch(change=bad)
    proof, _ = lookup.prove_lookups(key, lookups, Transcript("batch"), counts)
    with pytest.raises(SumcheckError, match="not in the table"):
        lookup.verify_lookups(key.verifier, verifier_side(lookups), proof, Transcript("batch"))
    with pytest.raises(ValueError, match="not in the table"):
        lookup.prove_lookups(key, lookups, Transcript("batch"))


def test_batch_refuses_other_shapes_and_altered_values(key):
    lookups, _ = batch()
    proof, _ = lookup.prove_lookups(key, lookups, Transcript("batch"))
    side = verifier_side(lookups)
    # witnesses declared in another order, or a witness fewer, or a lookup fewer
    for other in (
        [lookup.Lookup(BITS, (1, 3, 0, 2), side[0].table_at), side[1]],
        [lookup.Lookup(BITS, (3, 1, 2), side[0].table_at), side[1]],
        side[:1],
    ):
        with pytest.raises(SumcheckError):
            lookup.verify_lookups(key.verifier, other, proof, Transcript("batch"))
    # each witness's sent value, changed
    for k, sent in enumerate(proof.witness_values):
        for i in range(len(sent)):
            changed = list(map(list, proof.witness_values))
            changed[k][i] = (changed[k][i] + 1) % R
            forged = dataclasses.replace(proof, witness_values=tuple(map(tuple, changed)))
            with pytest.raises(SumcheckError, match="denominators"):
                lookup.verify_lookups(key.verifier, side, forged, Transcript("batch"))
    # a child in the last layer, where only the first lookup's trees (16 leaves, 16 entries) descend
    assert len(proof.trees.layers[-1].children) == 8
    with pytest.raises(SumcheckError):
        lookup.verify_lookups(key.verifier, side, _with_child_changed(proof, 3, 2), Transcript("batch"))
    # a round polynomial over the degree bound
    layer = proof.trees.layers[2]
    rounds = list(layer.sumcheck.round_polynomials)
    rounds[0] = (*rounds[0], 0)
    layers = list(proof.trees.layers)
    layers[2] = dataclasses.replace(
        layer, sumcheck=dataclasses.replace(layer.sumcheck, round_polynomials=tuple(rounds))
    )
    forged = dataclasses.replace(proof, trees=dataclasses.replace(proof.trees, layers=tuple(layers)))
    with pytest.raises(SumcheckError, match="degree bound"):
        lookup.verify_lookups(key.verifier, side, forged, Transcript("batch"))


def test_the_space_between_witnesses_holds_nothing(key, monkeypatch):
    """A prover who also counts the unused leaf (numerator 1, a value outside the table) and
    forges the multiplicities to balance: the numerators are not the witnesses' indicator."""
    honest = lookup._witness_leaves
    lookups, _ = batch()

    def padded_with_a_value(witnesses, alpha):
        p, q = honest(witnesses, alpha)
        if len(witnesses) == 4:  # the first lookup's 15 of 16 leaves: the last one unused
            p[15] = mle.element(1)
            q[15] = mle.element(alpha - LO)
        return p, q

    counts = [lookup.multiplicities(np.concatenate(lk.witnesses), lk.table) for lk in lookups]
    counts[0][0] += 1  # the extra leaf counted as the entry LO
    monkeypatch.setattr(lookup, "_witness_leaves", padded_with_a_value)
    proof, _ = lookup.prove_lookups(key, lookups, Transcript("batch"), counts)
    monkeypatch.undo()
    with pytest.raises(SumcheckError, match="numerators"):
        lookup.verify_lookups(key.verifier, verifier_side(lookups), proof, Transcript("batch"))


@pytest.mark.parametrize("depths", [(3, 1, 0), (0,), (2, 2)])
def test_fraction_trees_leave_true_claims_about_their_leaves(depths):
    rng = random.Random(sum(depths))
    leaves = [[mle.as_table([rng.randrange(1, R) for _ in range(1 << d)]) for _ in range(2)] for d in depths]
    proof, claims = lookup.prove_fraction_trees(leaves, Transcript("trees"))
    roots, checked = lookup.verify_fraction_trees(depths, proof, Transcript("trees"))
    assert checked == claims
    for (p, q), (point, (p_value, q_value)), (root_p, root_q) in zip(leaves, claims, roots):
        assert (mle.evaluate(p, point), mle.evaluate(q, point)) == (p_value, q_value)
        ps, qs = [int(v) for v in lookup.limbs_to_ints(p)], [int(v) for v in lookup.limbs_to_ints(q)]
        total = sum(a * pow(b, -1, R) for a, b in zip(ps, qs)) % R
        assert root_p * pow(root_q, -1, R) % R == total
    with pytest.raises(SumcheckError, match="layers"):
        lookup.verify_fraction_trees((max(depths) + 1, *depths[1:]), proof, Transcript("trees"))
