"""One opening for many claims about many committed tables (prover/sumcheck/batch_opening.py):
honest batches of tables of mixed sizes (one value up to the key's size), each with one or more
claims, verify. Each reject twin is refused: one false claim value, a claim moved to another
point, a swapped commitment, a table the prover changed after committing, blinds that are not the
commitments', and each altered part of the proof (a round, the mask's commitment or value, the
blind, the opening). Hiding commitments open as plain ones do, and the opening is of a masked
combination: two proofs of one batch share nothing but the statement."""

from __future__ import annotations

import dataclasses
import random

import pytest

from prover.ceremony.known_secret import known_secret_ptau
from prover.errors import VerificationError
from prover.field import FR_MODULUS as R
from prover.sumcheck import batch_opening as bo
from prover.sumcheck import commitment as pc
from prover.sumcheck import mle
from prover.sumcheck.protocol import SumcheckProof
from prover.sumcheck.transcript import Transcript

POWER = 6
LABEL = "batch-opening-test"


@pytest.fixture(scope="module")
def key():
    return pc.commitment_key(known_secret_ptau(POWER, 0xB47C4, 3, 5), POWER)


def batch(sizes, claims_per_table=2, seed=0):
    """Tables of 2^n values for n in sizes and true claims about each at random points."""
    rng = random.Random(seed)
    tables, claims = [], []
    for n in sizes:
        table = [rng.randrange(-(2**20), 2**20) % R for _ in range(1 << n)]
        points = [[rng.randrange(R) for _ in range(n)] for _ in range(claims_per_table)]
        tables.append(table)
        claims.append([(p, mle.evaluate(table, p)) for p in points])
    return tables, claims


def transcript(key, commitments):
    t = Transcript(LABEL)
    for c in commitments:
        pc.absorb_point(t, c)
    return t


def proved(key, tables, claims, hiding=True):
    blinds = [pc.random_blind() if hiding else 0 for _ in tables]
    commitments = [pc.commit(key, t, b) for t, b in zip(tables, blinds, strict=True)]
    proof = bo.prove_batch_opening(key, tables, claims, transcript(key, commitments), blinds)
    return commitments, proof


def check(key, commitments, sizes, claims, proof):
    bo.verify_batch_opening(key.verifier, commitments, sizes, claims, proof, transcript(key, commitments))


@pytest.mark.parametrize(
    "sizes, per_table",
    [([3], 1), ([3], 3), ([2, 2, 2], 2), ([POWER, 1, 3, 0, POWER], 2), ([0], 1), ([0, 0], 2), ([1, 4], 1)],
)
@pytest.mark.parametrize("hiding", [True, False])
def test_honest_batches_verify(key, sizes, per_table, hiding):
    tables, claims = batch(sizes, per_table, seed=sum(sizes) + per_table)
    commitments, proof = proved(key, tables, claims, hiding)
    check(key, commitments, sizes, claims, proof)
    assert len(proof.sumcheck.round_polynomials) == max(sizes)


def test_hiding_commitments_and_masked_openings_differ_each_time(key):
    """The same table commits to another point with each blind, and two proofs of one batch
    have other masks, blinds and openings (the opened table is masked afresh)."""
    tables, claims = batch([3, 2], 2, seed=3)
    assert not (pc.commit(key, tables[0], pc.random_blind()) == pc.commit(key, tables[0], pc.random_blind())).all()
    assert (pc.commit(key, tables[0], 0) == pc.commit(key, tables[0])).all()
    commitments = [pc.commit(key, t) for t in tables]
    first, second = (bo.prove_batch_opening(key, tables, claims, transcript(key, commitments)) for _ in range(2))
    for proof in (first, second):
        check(key, commitments, [3, 2], claims, proof)
    assert not (first.mask == second.mask).all()
    assert first.blind != second.blind and first.mask_value != second.mask_value
    assert first.opening.values[0] != second.opening.values[0]


def test_blinds_that_are_not_the_commitments_are_refused(key):
    """A prover who opens hiding commitments as if they were plain (or with other blinds) leaves
    an H term no opening explains."""
    tables, claims = batch([3, 1], 1, seed=5)
    blinds = [pc.random_blind(), pc.random_blind()]
    commitments = [pc.commit(key, t, b) for t, b in zip(tables, blinds, strict=True)]
    for wrong in ([0, 0], [blinds[0], (blinds[1] + 1) % R], blinds[::-1]):
        proof = bo.prove_batch_opening(key, tables, claims, transcript(key, commitments), wrong)
        with pytest.raises(pc.OpeningError):
            check(key, commitments, [3, 1], claims, proof)


@pytest.fixture(scope="module")
def honest(key):
    sizes = [4, 1, 3, 0, 4]
    tables, claims = batch(sizes, 2, seed=7)
    commitments, proof = proved(key, tables, claims)
    return sizes, tables, claims, commitments, proof


def with_claim(claims, k, j, point=None, value=None):
    out = [list(c) for c in claims]
    p, v = out[k][j]
    out[k][j] = (p if point is None else point, v if value is None else value)
    return out


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4])
def test_a_false_claim_is_refused(key, honest, k):
    sizes, _, claims, commitments, proof = honest
    with pytest.raises(VerificationError):
        check(key, commitments, sizes, with_claim(claims, k, 1, value=(claims[k][1][1] + 1) % R), proof)


def test_a_claim_at_another_point_is_refused(key, honest):
    sizes, _, claims, commitments, proof = honest
    moved = [(x + 1) % R for x in claims[2][0][0]]
    with pytest.raises(VerificationError):
        check(key, commitments, sizes, with_claim(claims, 2, 0, point=moved), proof)


def test_swapped_commitments_are_refused(key, honest):
    sizes, _, claims, commitments, proof = honest
    swapped = [commitments[4], *commitments[1:4], commitments[0]]  # the two tables of 2^4 values
    with pytest.raises(VerificationError):
        check(key, swapped, sizes, claims, proof)


def test_a_prover_holding_another_table_than_the_committed_one_is_caught(key, honest):
    """The claims are true of the changed table and the prover runs honestly on it: only the
    opening against the original commitment can catch it."""
    sizes, tables, claims, commitments, _ = honest
    changed = [list(t) for t in tables]
    changed[2][5] = (changed[2][5] + 1) % R
    changed_claims = [list(c) for c in claims]
    changed_claims[2] = [(p, mle.evaluate(changed[2], p)) for p, _ in claims[2]]
    proof = bo.prove_batch_opening(key, changed, changed_claims, transcript(key, commitments))
    with pytest.raises(pc.OpeningError):
        check(key, commitments, sizes, changed_claims, proof)


def test_altered_proofs_are_refused(key, honest):
    sizes, _, claims, commitments, proof = honest
    rounds = [list(g) for g in proof.sumcheck.round_polynomials]
    rounds[2][1] = (rounds[2][1] + 1) % R
    opening = dataclasses.replace(proof.opening, values=((1, 2, 3), *proof.opening.values[1:]))
    for altered in (
        dataclasses.replace(proof, sumcheck=SumcheckProof(tuple(tuple(g) for g in rounds))),
        dataclasses.replace(proof, mask_value=(proof.mask_value + 1) % R),
        dataclasses.replace(proof, blind=(proof.blind + 1) % R),
        dataclasses.replace(proof, mask=pc.commit(key, [1, 2])),
        dataclasses.replace(proof, mask=commitments[0]),
        dataclasses.replace(proof, opening=opening),
        dataclasses.replace(proof, sumcheck=SumcheckProof(proof.sumcheck.round_polynomials[:-1])),
    ):
        with pytest.raises(VerificationError):
            check(key, commitments, sizes, claims, altered)
    for malformed in (dataclasses.replace(proof, blind=R), dataclasses.replace(proof, mask_value=-1)):
        with pytest.raises(VerificationError, match="field elements"):
            check(key, commitments, sizes, claims, malformed)


def test_malformed_batches_are_refused_before_any_work(key):
    with pytest.raises(ValueError, match="at least one table"):
        bo.prove_batch_opening(key, [], [], Transcript(LABEL))
    with pytest.raises(ValueError, match="another dimension"):
        bo.prove_batch_opening(key, [[1, 2]], [[([1, 2], 3)]], Transcript(LABEL))
    with pytest.raises(ValueError, match="at least one claim"):
        bo.prove_batch_opening(key, [[1, 2]], [[]], Transcript(LABEL))
    with pytest.raises(ValueError, match="one blind per table"):
        bo.prove_batch_opening(key, [[1, 2]], [[([1], 3)]], Transcript(LABEL), [1, 2])
