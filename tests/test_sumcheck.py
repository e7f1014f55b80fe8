"""The sumcheck backend's protocol core (prover/sumcheck): multilinear extensions against their
defining sum, the Poseidon transcript, the sumcheck protocol and Thaler's matrix-product
protocol. Every accepted proof has rejected twins: a false claim, a cheating prover that keeps
its rounds consistent, a broken degree bound, a tampered transcript, a changed weight, a changed
output and a proof for another input."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prover.field import FR_MODULUS as R
from prover.field import limbs_to_ints
from prover.poseidon import poseidon
from prover.sumcheck import mle
from prover.sumcheck.matmul import MatmulProof, prove_matmul, verify_matmul
from prover.sumcheck.protocol import (
    SumcheckError,
    SumcheckProof,
    Term,
    claimed_sum,
    interpolate,
    prove,
    summand,
    verify,
)
from prover.sumcheck.transcript import Transcript


def cube(n: int):
    """The points of {0,1}^n in table order (variable 0 the most significant bit)."""
    return [tuple((b >> (n - 1 - i)) & 1 for i in range(n)) for b in range(1 << n)]


def random_table(rng: random.Random, n: int) -> list[int]:
    return [rng.randrange(R) for _ in range(1 << n)]


# --- multilinear extensions ------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 4])
def test_evaluate_is_the_defining_sum(n):
    rng = random.Random(n)
    table, point = random_table(rng, n), [rng.randrange(R) for _ in range(n)]
    direct = sum(v * mle.eq(point, b) for v, b in zip(table, cube(n), strict=True)) % R
    assert mle.evaluate(table, point) == direct
    assert limbs_to_ints(mle.eq_table(point)) == [mle.eq(point, b) for b in cube(n)]
    # on the cube the extension is the table itself
    for b, v in zip(cube(n), table, strict=True):
        assert mle.evaluate(table, b) == v


def test_extension_is_multilinear():
    """Along any line in one coordinate the extension is affine: three points are collinear."""
    rng = random.Random(5)
    table = random_table(rng, 3)
    base = [rng.randrange(R) for _ in range(3)]
    for i in range(3):
        vals = [mle.evaluate(table, base[:i] + [x] + base[i + 1 :]) for x in (0, 1, 7)]
        assert (vals[0] + 7 * (vals[1] - vals[0]) - vals[2]) % R == 0


def test_tables_must_be_powers_of_two():
    with pytest.raises(ValueError, match="pad it"):
        mle.evaluate([1, 2, 3], [0, 0])
    with pytest.raises(ValueError, match="coordinates"):
        mle.evaluate([1, 2, 3, 4], [0])
    assert mle.padded([-1, 2, 3]) == [R - 1, 2, 3, 0]


def test_matrix_table_puts_rows_in_the_high_bits():
    m = [[1, 2, 3], [4, 5, 6]]
    t = mle.matrix_table(m)
    assert t == [1, 2, 3, 0, 4, 5, 6, 0]
    assert mle.evaluate(t, [1, 1, 0]) == 6


# --- transcript ------------------------------------------------------------------------------


def test_transcript_is_the_documented_poseidon_chain():
    t = Transcript("zkmarket")
    s = poseidon([int.from_bytes(b"zkmarket", "big")])
    assert t.state == s
    t.absorb(range(20))
    s = poseidon([s, *range(15)])
    s = poseidon([s, *range(15, 20)])
    assert t.challenge() == poseidon([s])


def test_transcript_challenges_follow_everything_absorbed():
    def run(label, values):
        t = Transcript(label)
        t.absorb(values)
        return t.challenge()

    base = run("a", [1, 2, 3])
    assert run("a", [1, 2, 3]) == base
    assert run("b", [1, 2, 3]) != base
    assert run("a", [1, 2, 4]) != base
    assert run("a", [1, 3, 2]) != base
    assert run("a", [1, 2, 3 + R]) == base  # values are field elements
    with pytest.raises(ValueError, match="label"):
        Transcript("x" * 32)


# --- the sumcheck protocol -------------------------------------------------------------------

# f0 * f1 * f2 + 3 * f1 - f3: degree 3, mixed terms, a negative coefficient
TERMS = (Term(1, (0, 1, 2)), Term(3, (1,)), Term(R - 1, (3,)))


def statement(n: int, seed: int):
    rng = random.Random(seed)
    tables = [random_table(rng, n) for _ in range(4)]
    return tables, claimed_sum(tables, TERMS)


def run_verifier(claim, n, proof, label="sumcheck-test", d=3):
    t = Transcript(label)
    t.absorb([claim])
    return verify(claim, n, d, proof, t)


def honest(tables, claim, label="sumcheck-test"):
    t = Transcript(label)
    t.absorb([claim])
    return prove(tables, TERMS, t)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_honest_proof_verifies_and_leaves_the_tables_at_its_point(n):
    tables, claim = statement(n, n)
    proof, point, values = honest(tables, claim)
    sub = run_verifier(claim, n, proof)
    assert sub.point == point
    assert values == [mle.evaluate(t, point) for t in tables]
    assert summand(TERMS, values) == sub.value


@pytest.mark.parametrize("n", [1, 3, 5])
def test_false_claim_is_refused(n):
    """An honest proof of H checked as a proof of H + 1: the value at 1 the verifier fills in
    is off by one, and the subclaim it is left with is not the tables' summand."""
    tables, claim = statement(n, 10 + n)
    proof, point, values = honest(tables, claim)
    sub = run_verifier(claim + 1, n, proof)
    assert summand(TERMS, values) != sub.value


class ConsistentCheater:
    """A prover of a false sum that keeps every round consistent with its running claim: it
    runs the honest rounds and shifts g_i(0) by what its claim differs from the true one. Every
    round check passes; only the subclaim at the end can catch it."""

    def __init__(self, tables):
        self.tables = tables

    def prove(self, claim, label="sumcheck-test"):
        t = Transcript(label)
        t.absorb([claim])
        current = [list(x) for x in self.tables]
        rounds, running = [], claim
        for _ in range(mle.n_variables(len(current[0]))):
            half = len(current[0]) // 2
            g = [0] * 4
            for b in range(half):
                for x in range(4):
                    g[x] += summand(TERMS, [(c[b] + x * (c[b + half] - c[b])) % R for c in current])
            g = [v % R for v in g]
            g[0] = (g[0] + running - g[0] - g[1]) % R
            sent = (g[0], *g[2:])  # g(1) is the verifier's: running - g(0)
            t.absorb(sent)
            r = t.challenge()
            running = interpolate(g, r)
            rounds.append(sent)
            current = [limbs_to_ints(mle.fold(c, r)) for c in current]
        return SumcheckProof(tuple(rounds)), [c[0] for c in current]


@pytest.mark.parametrize("seed", range(6))
def test_consistent_cheater_is_caught_by_the_subclaim(seed):
    n = 1 + seed % 4
    tables, truth = statement(n, 100 + seed)
    false = (truth + random.Random(seed).randrange(1, R)) % R
    proof, values = ConsistentCheater(tables).prove(false)
    sub = run_verifier(false, n, proof)  # every round passes...
    assert summand(TERMS, values) != sub.value  # ...and the tables' values do not fit the subclaim


def test_degree_bound_is_enforced():
    """A round polynomial of degree 4 where the bound is 3 is refused even when it sums right,
    and so is one given by fewer values than the bound needs."""
    tables, claim = statement(2, 7)
    proof, _, _ = honest(tables, claim)
    g0 = list(proof.round_polynomials[0])
    # g + X(X-1)(X-2)(X-3): the same values at 0, 2, 3, the same sum, degree 4: one more value
    full = [g0[0], (claim - g0[0]) % R, *g0[1:]]
    extra = g0 + [(interpolate(full, 4) + 24) % R]
    high = SumcheckProof((tuple(extra), *proof.round_polynomials[1:]))
    with pytest.raises(SumcheckError, match="degree bound is 3"):
        run_verifier(claim, 2, high)
    low = SumcheckProof((tuple(g0[:2]), *proof.round_polynomials[1:]))
    with pytest.raises(SumcheckError, match="degree bound is 3"):
        run_verifier(claim, 2, low)


def test_malformed_proofs_are_refused():
    tables, claim = statement(3, 8)
    proof, _, _ = honest(tables, claim)
    with pytest.raises(SumcheckError, match="3 rounds"):
        run_verifier(claim, 3, SumcheckProof(proof.round_polynomials[:2]))
    g = list(proof.round_polynomials[0])
    g[1] = g[1] + R  # the same residue, not a field element
    with pytest.raises(SumcheckError, match="not a field element"):
        run_verifier(claim, 3, SumcheckProof((tuple(g), *proof.round_polynomials[1:])))


@pytest.mark.parametrize("where", [0, 1, 2])
def test_tampered_round_value_is_refused(where):
    tables, claim = statement(3, 9)
    proof, _, values = honest(tables, claim)
    rounds = [list(g) for g in proof.round_polynomials]
    rounds[where][2] = (rounds[where][2] + 1) % R  # g(3): the round's sum is not what changes
    tampered = SumcheckProof(tuple(map(tuple, rounds)))
    try:
        sub = run_verifier(claim, 3, tampered)
    except SumcheckError:
        return
    assert summand(TERMS, values) != sub.value


def test_proof_under_another_transcript_is_refused():
    """The same proof checked under another label (another statement's transcript) draws other
    challenges: its point and the prover's evaluations no longer fit."""
    tables, claim = statement(3, 11)
    proof, point, values = honest(tables, claim)
    try:
        sub = run_verifier(claim, 3, proof, label="another-statement")
    except SumcheckError:
        return
    assert sub.point != point
    assert summand(TERMS, values) != sub.value


# --- Thaler's matrix product -----------------------------------------------------------------


def matmul_statement(a: np.ndarray, b: np.ndarray, c: np.ndarray, label="matmul-test"):
    """The verifier's view: C is public (absorbed), r_x and r_y drawn after it."""
    t = Transcript(label)
    ct = mle.matrix_table(c.tolist())
    t.absorb(ct)
    n_rows = mle.n_variables(len(ct)) - max(c.shape[1] - 1, 0).bit_length()
    r_x = t.challenges(n_rows)
    r_y = t.challenges(mle.n_variables(len(ct)) - n_rows)
    return t, mle.evaluate(ct, [*r_x, *r_y]), r_x, r_y


def prove_product(a, b, c):
    t, _, r_x, r_y = matmul_statement(a, b, c)
    k = max(a.shape[1] - 1, 0).bit_length()
    proof, _ = prove_matmul(mle.matrix_table(a.tolist()), mle.matrix_table(b.tolist()), k, r_x, r_y, t)
    return proof


def check_product(a, b, c, proof):
    """Verify, then settle the two leftover claims against A and B directly."""
    t, claim, r_x, r_y = matmul_statement(a, b, c)
    k = max(a.shape[1] - 1, 0).bit_length()
    a_claim, b_claim = verify_matmul(claim, r_x, r_y, k, proof, t)
    if mle.evaluate(mle.matrix_table(a.tolist()), a_claim.point) != a_claim.value:
        raise SumcheckError("A's evaluation claim is false")
    if mle.evaluate(mle.matrix_table(b.tolist()), b_claim.point) != b_claim.value:
        raise SumcheckError("B's evaluation claim is false")


def layer(seed=3, shape=(5, 7, 4)):
    rng = np.random.default_rng(seed)
    m, k, n = shape
    a = rng.integers(-128, 128, (m, k))
    b = rng.integers(-128, 128, (k, n))
    return a, b, a @ b


def test_matrix_product_proof_verifies():
    a, b, c = layer()
    check_product(a, b, c, prove_product(a, b, c))


def test_matrix_product_reject_twins():
    a, b, c = layer()
    proof = prove_product(a, b, c)
    # one changed weight: A's claim no longer holds against the registered A
    a2 = a.copy()
    a2[2, 3] += 1
    with pytest.raises(SumcheckError, match="A's evaluation"):
        check_product(a2, b, c, proof)
    # one changed output: the claim about C is false, the first round refuses it
    c2 = c.copy()
    c2[4, 0] -= 1
    with pytest.raises(SumcheckError):
        check_product(a, b, c2, proof)
    # a proof for another input
    b2 = b.copy()
    b2[0, 1] += 1
    with pytest.raises(SumcheckError):
        check_product(a, b2, a @ b2, proof)
    # a false product proved honestly for its own (wrong) A: caught at A's claim
    with pytest.raises(SumcheckError, match="A's evaluation"):
        check_product(a, b, a2 @ b, prove_product(a2, b, a2 @ b))
    # tampered final values
    forged = MatmulProof(proof.sumcheck, proof.a_value + 1, proof.b_value)
    with pytest.raises(SumcheckError, match="multiply"):
        check_product(a, b, c, forged)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 9),
    st.integers(1, 5),
    st.integers(0, 2**32 - 1),
)
def test_matrix_product_property(m, k, n, seed):
    a, b, c = layer(seed, (m, k, n))
    check_product(a, b, c, prove_product(a, b, c))
    c2 = c.copy()
    c2[seed % m, seed % n] += 1
    with pytest.raises(SumcheckError):
        check_product(a, b, c2, prove_product(a, b, c))
