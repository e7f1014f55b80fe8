"""The sumcheck protocol, prover and verifier: the plain-Python reference.

Statement: for multilinear tables ``f_0..f_{m-1}`` over n variables and terms
``(c_t, J_t)`` (a coefficient and a list of table indices),

    H = sum_{b in {0,1}^n} g(b),    g(x) = sum_t c_t prod_{j in J_t} f_j~(x).

``g`` has degree at most ``d = max_t |J_t|`` in each variable. In round i (i = 0..n-1) the
prover sends ``g_i(X) = sum_{b in {0,1}^(n-1-i)} g(r_0, .., r_{i-1}, X, b)`` as its values at
``X = 0, 2, 3, .., d``: the value at 1 is not sent, since it must be ``claim_i - g_i(0)``
(claim_0 = H). The verifier checks

    len(sent) == d                   (the degree bound: with g_i(1), d + 1 values fix a
                                      polynomial of degree d)

fills in ``g_i(1) = claim_i - g_i(0)`` (which is the check ``g_i(0) + g_i(1) == claim_i``),
absorbs the sent values, draws ``r_i`` and sets ``claim_{i+1} = g_i(r_i)`` by Lagrange
interpolation.
What is left is the *subclaim* ``g(r) = claim_n`` at the random point r, which the caller settles
with the tables' evaluations at r (an opening of a commitment, or the next layer's sumcheck).
A prover whose H is false passes with probability at most ``n d / |Fr|`` (Schwartz–Zippel in
each round).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from prover import kernels
from prover.errors import VerificationError
from prover.field import FR_MODULUS, ints_to_limbs, limbs_to_ints
from prover.sumcheck.mle import as_table, element, n_variables
from prover.sumcheck.transcript import Transcript

R = FR_MODULUS


class SumcheckError(VerificationError):
    """A sumcheck proof failed a check: the claim it proves is false or the proof was altered."""


@dataclass(frozen=True)
class Term:
    """One product ``coefficient * prod_j f_j`` of the summand (indices into the tables)."""

    coefficient: int
    factors: tuple[int, ...]


@dataclass(frozen=True)
class SumcheckProof:
    """The round polynomials, each as its values at 0, 2, .., d (the value at 1 follows from the
    round's claim)."""

    round_polynomials: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Subclaim:
    """What a verified sumcheck leaves: the summand at ``point`` must equal ``value``."""

    point: tuple[int, ...]
    value: int


def is_field_element(v) -> bool:
    """An int in [0, r), or a traced value of the wrapper's circuit (``prover.wrapper.trace``),
    a field element by construction."""
    return getattr(v, "traced", False) or (isinstance(v, int) and 0 <= v < R)


def require_equal(a, b, error: Callable[[], Exception]) -> None:
    """The verifier's check ``a == b`` on field elements: on ints it raises ``error()`` when
    they differ; on a traced value (the wrapper's circuit) it is a constraint, and the same
    check on the values the trace carries."""
    if getattr(a, "traced", False):
        a.require_equal(b, error)
    elif getattr(b, "traced", False):
        b.require_equal(a, error)
    elif (a - b) % R:
        raise error()


def degree(terms: Sequence[Term]) -> int:
    """The summand's degree in each variable: the most factors of any term."""
    return max(len(t.factors) for t in terms)


def summand(terms: Sequence[Term], values: Sequence[int]) -> int:
    """``sum_t c_t prod_{j in J_t} values[j]``: the summand from the tables' values at a point."""
    total = 0
    for t in terms:
        p = t.coefficient
        for j in t.factors:
            p = p * values[j] % R
        total += p
    return total % R


def interpolate(values: Sequence[int], x: int) -> int:
    """The polynomial of degree ``len(values) - 1`` through ``(k, values[k])``, k = 0..d, at x."""
    d = len(values) - 1
    total = 0
    for k, v in enumerate(values):
        num, den = 1, 1
        for m in range(d + 1):
            if m != k:
                num = num * (x - m) % R
                den = den * (k - m) % R
        total += v * num * pow(den, -1, R)
    return total % R


def claimed_sum(tables: Sequence, terms: Sequence[Term]) -> int:
    """H, computed directly over the cube (the honest claim)."""
    rows = [limbs_to_ints(as_table(t)) for t in tables]
    return sum(summand(terms, [row[b] for row in rows]) for b in range(len(rows[0]))) % R


def prove(
    tables: Sequence, terms: Sequence[Term], transcript: Transcript
) -> tuple[SumcheckProof, tuple[int, ...], list[int]]:
    """Prove ``H = claimed_sum(tables, terms)``: the proof, the random point r, and every table's
    value at r (which the caller sends or settles, and the verifier feeds to ``summand``). The
    transcript must already hold the statement (H among it). Each round is the
    ``sumcheck_round`` kernel and each binding ``mle_fold``."""
    current = [as_table(t) for t in tables]
    n = n_variables(len(current[0]))
    if any(len(t) != 1 << n for t in current):
        raise ValueError("every table of one sumcheck has the same 2^n values")
    d = degree(terms)
    factors = [list(t.factors) for t in terms]
    coefficients = ints_to_limbs([t.coefficient % R for t in terms])
    rounds, point = [], []
    for _ in range(n):
        g = limbs_to_ints(kernels.sumcheck_round(np.stack(current), factors, coefficients, d))
        sent = (g[0], *g[2:])
        rounds.append(sent)
        transcript.absorb(sent)
        r = transcript.challenge()
        point.append(r)
        current = [kernels.mle_fold(t, element(r)) for t in current]
    return SumcheckProof(tuple(rounds)), tuple(point), [limbs_to_ints(t)[0] for t in current]


def verify(claim: int, n: int, d: int, proof: SumcheckProof, transcript: Transcript) -> Subclaim:
    """Check the rounds of a proof of ``H = claim`` over n variables with degree bound d, and
    return the subclaim left at the random point. Raises SumcheckError on a failed check."""
    if len(proof.round_polynomials) != n:
        raise SumcheckError(
            f"a sumcheck over {n} variables has {n} rounds, the proof has {len(proof.round_polynomials)}"
        )
    claim %= R
    point = []
    for i, sent in enumerate(proof.round_polynomials):
        if len(sent) != d:
            raise SumcheckError(
                f"round {i}: the degree bound is {d} ({d} values: at 0, 2, .., {d}), the proof sends {len(sent)}"
            )
        if not all(is_field_element(v) for v in sent):
            raise SumcheckError(f"round {i}: a value is not a field element")
        transcript.absorb(sent)
        r = transcript.challenge()
        point.append(r)
        claim = interpolate((sent[0], (claim - sent[0]) % R, *sent[1:]), r)
    return Subclaim(tuple(point), claim)
