"""Many claims about many committed tables, settled by one sumcheck and one opening.

Statement: committed tables ``T_k`` of ``2^(n_k)`` values (commitments ``C_k``) and claims
``T_k~(p_kj) = v_kj``. Opening each table on its own costs one HyperKZG opening per table
(``prover.sumcheck.commitment``): about three multi-scalar multiplications of its size. Here
they cost one opening of the largest size, whatever the number of tables and claims.

Embedding. With ``n = max_k n_k`` and ``m_k = n - n_k``, a table is the table of ``2^n`` values
that holds it in its first ``2^(n_k)`` entries and zeros after them. Its univariate polynomial,
so its commitment, is the same. Variable 0 is the index's most significant bit, so its extension
is ``T_k^(x) = prod_{l < m_k} (1 - x_l) T_k~(x_{m_k..})``.

Sumcheck. With ``c_kj`` drawn, ``W_k = sum_j c_kj eq(p_kj, .)`` over ``T_k``'s own variables:

    sum_kj c_kj v_kj = sum_{x in {0,1}^n} sum_k W_k^(x) T_k^(x),
    W_k^(x) = prod_{l < m_k} (1 - x_l) W_k(x_{m_k..}).

This is a degree-2 sumcheck over n variables. In round ``i < m_k`` table k adds
``s_k (1 - X)^2 V_k`` to the round polynomial: ``V_k = sum_j c_kj v_kj`` is its claimed sum and
``s_k = prod_{l < i} (1 - r_l)^2``. From round ``m_k`` on, its own tables join the sumcheck's
(scaled by ``s_k``). So the prover's work is linear in the sizes of the tables themselves, not
in ``2^n`` per table. At the sumcheck's point ``rho`` the prover sends ``t_k = T_k~(rho_k)``,
with ``rho_k = rho_{m_k..}``. The verifier checks the subclaim

    sum_k prod_{l < m_k} (1 - rho_l)^2 W_k(rho_k) t_k,

computing every ``W_k(rho_k)`` from the claims' points.

Opening. With ``d_k`` drawn after the ``t_k``, ``P = sum_k d_k T_k^`` is committed in
``sum_k d_k C_k``, since commitments are linear. One opening shows
``P~(rho) = sum_k d_k prod_{l < m_k} (1 - rho_l) t_k``. A false ``v_kj`` fails the sumcheck
except with probability about ``2n / |Fr|`` over the c's. A false ``t_k`` fails the opening
except with probability about ``1 / |Fr|`` over the d's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from prover import kernels
from prover.field import FR_MODULUS, ints_to_limbs, limbs_to_ints
from prover.sumcheck import commitment as pcs
from prover.sumcheck.mle import as_table, element, eq, eq_table, n_variables, scaled
from prover.sumcheck.protocol import SumcheckError, SumcheckProof, verify
from prover.sumcheck.transcript import Transcript

R = FR_MODULUS

Claims = Sequence[tuple[Sequence[int], int]]


@dataclass(frozen=True)
class BatchOpeningProof:
    """The sumcheck's rounds, every table's value at its part of the sumcheck's point, and the
    opening of the tables' random combination there."""

    sumcheck: SumcheckProof
    values: tuple[int, ...]
    opening: pcs.EvaluationProof


def _absorb_claims(transcript: Transcript, sizes: Sequence[int], claims: Sequence[Claims]) -> list[list[int]]:
    """The claims into the transcript, then the c_kj (one list per table)."""
    for n_k, table_claims in zip(sizes, claims, strict=True):
        transcript.absorb([n_k, len(table_claims)])
        for point, value in table_claims:
            transcript.absorb([*point, value])
    drawn = transcript.challenges(sum(len(c) for c in claims))
    out, at = [], 0
    for table_claims in claims:
        out.append(drawn[at : at + len(table_claims)])
        at += len(table_claims)
    return out


def _check_shapes(sizes: Sequence[int], claims: Sequence[Claims]) -> None:
    if not sizes or len(sizes) != len(claims):
        raise ValueError("a batch opening takes at least one table, with one list of claims per table")
    for n_k, table_claims in zip(sizes, claims, strict=True):
        if not table_claims:
            raise ValueError("every table of a batch opening has at least one claim")
        if any(len(point) != n_k for point, _ in table_claims):
            raise ValueError(f"a table of 2^{n_k} values has a claim at a point of another dimension")


def prove_batch_opening(
    key: pcs.CommitmentKey, tables: Sequence, claims: Sequence[Claims], transcript: Transcript
) -> BatchOpeningProof:
    """Prove every claim about ``tables`` (each committed with ``pcs.commit``, the transcript
    holding the commitments) with one sumcheck and one opening (module docstring)."""
    tables = [as_table(t) for t in tables]
    sizes = [n_variables(len(t)) for t in tables]
    _check_shapes(sizes, claims)
    coefficients = _absorb_claims(transcript, sizes, claims)
    n = max(sizes)
    weights = []
    for table_claims, cs in zip(claims, coefficients, strict=True):
        w = scaled(eq_table(table_claims[0][0]), cs[0])
        for (point, _), c in zip(table_claims[1:], cs[1:], strict=True):
            w = kernels.fr_add(w, scaled(eq_table(point), c))
        weights.append(w)
    # table k's claimed sum V_k = sum_j c_kj v_kj (its sum of W_k T_k when the claims are true)
    totals = [
        sum(c * v for c, (_, v) in zip(cs, table_claims, strict=True)) % R
        for cs, table_claims in zip(coefficients, claims, strict=True)
    ]
    scales = [1] * len(tables)
    current: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    rounds, point = [], []
    for i in range(n):
        remaining = n - i
        for k, n_k in enumerate(sizes):
            if n_k == remaining:
                current[k] = (weights[k], tables[k])
        g = [0, 0, 0]
        if current:
            active = sorted(current)
            stacked = np.stack([x for k in active for x in current[k]])
            factors = [[2 * a, 2 * a + 1] for a in range(len(active))]
            g = limbs_to_ints(kernels.sumcheck_round(stacked, factors, ints_to_limbs([scales[k] for k in active]), 2))
        for k, n_k in enumerate(sizes):
            if n_k < remaining:  # still in its zero extension: s_k (1 - X)^2 V_k at 0, 1, 2
                g[0] = (g[0] + scales[k] * totals[k]) % R
                g[2] = (g[2] + scales[k] * totals[k]) % R
        sent = (int(g[0]) % R, int(g[2]) % R)  # the value at 1 is the verifier's (``protocol``)
        rounds.append(sent)
        transcript.absorb(sent)
        r = transcript.challenge()
        point.append(r)
        for k, n_k in enumerate(sizes):
            if n_k < remaining:
                scales[k] = scales[k] * (1 - r) * (1 - r) % R
        current = {
            k: (kernels.mle_fold(w, element(r)), kernels.mle_fold(t, element(r))) for k, (w, t) in current.items()
        }
    values = tuple(
        limbs_to_ints(current[k][1])[0] if k in current else limbs_to_ints(tables[k])[0] for k in range(len(tables))
    )
    transcript.absorb(values)
    combination = transcript.challenges(len(tables))
    combined = np.zeros((1 << n, 4), dtype=np.uint64)
    for t, d in zip(tables, combination, strict=True):
        combined[: len(t)] = kernels.fr_add(combined[: len(t)], scaled(t, d))
    _, opening = pcs.prove_evaluation(key, combined, point, transcript)
    return BatchOpeningProof(SumcheckProof(tuple(rounds)), values, opening)


def verify_batch_opening(
    vk: pcs.VerifierKey,
    commitments: Sequence[np.ndarray],
    sizes: Sequence[int],
    claims: Sequence[Claims],
    proof: BatchOpeningProof,
    transcript: Transcript,
) -> None:
    """Check every claim about the tables committed in ``commitments`` (of ``2^(sizes[k])``
    values). Raises SumcheckError or OpeningError when one is false."""
    _check_shapes(sizes, claims)
    if len(commitments) != len(sizes) or len(proof.values) != len(sizes):
        raise SumcheckError(f"a batch opening of {len(sizes)} tables needs as many commitments and values")
    if any(not isinstance(v, int) or not 0 <= v < R for v in proof.values):
        raise SumcheckError("a batch opening's values must be field elements")
    coefficients = _absorb_claims(transcript, sizes, claims)
    n = max(sizes)
    total = (
        sum(
            c * v
            for table_claims, cs in zip(claims, coefficients, strict=True)
            for c, (_, v) in zip(cs, table_claims, strict=True)
        )
        % R
    )
    sub = verify(total, n, 2, proof.sumcheck, transcript)
    rho = sub.point
    expected, zero_extension = 0, []
    for n_k, table_claims, cs, t in zip(sizes, claims, coefficients, proof.values, strict=True):
        m = n - n_k
        outside = 1
        for r in rho[:m]:
            outside = outside * (1 - r) % R
        zero_extension.append(outside)
        weight = sum(c * eq(point, rho[m:]) for c, (point, _) in zip(cs, table_claims, strict=True)) % R
        expected = (expected + outside * outside * weight * t) % R
    if expected != sub.value:
        raise SumcheckError("the batch opening's values do not fit its sumcheck: a claim is false")
    transcript.absorb(proof.values)
    combination = transcript.challenges(len(sizes))
    value = sum(d * z * t for d, z, t in zip(combination, zero_extension, proof.values, strict=True)) % R
    try:
        commitment = kernels.g1_msm(np.stack([np.asarray(c) for c in commitments]), ints_to_limbs(combination))
    except ValueError as exc:  # the kernel checks every point is on the curve
        raise pcs.OpeningError(f"a commitment is not a G1 point: {exc}") from exc
    pcs.verify_evaluation(vk, commitment, rho, value, proof.opening, transcript)
