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

Opening. The subclaim is linear in the tables: with ``a_k = prod_{l < m_k} (1 - rho_l)
W_k(rho_k)`` (from challenges only), it says ``P~(rho) = value`` for ``P = sum_k a_k T_k^``,
committed in ``sum_k a_k C_k``. No table's own value is sent. Before any challenge the prover
commits to a uniform mask table ``M`` of ``2^n`` values (``C_M``). After the sumcheck it sends
``m = M~(rho)``, then ``alpha`` is drawn, and one HyperKZG opening shows that ``P + alpha M``
takes ``value + alpha m`` at rho. With hiding commitments (``C_k = [T_k(tau)]_1 + b_k H``,
``prover.sumcheck.commitment``), the prover also sends ``B = sum_k a_k b_k + alpha b_M``, and
the verifier opens ``sum_k a_k C_k + alpha C_M - B H``.

Soundness. A false ``v_kj`` leaves a false subclaim except with probability about
``2n / |Fr|`` over the c's. ``M`` and ``m`` are fixed before alpha, so a false subclaim (or a
false m) passes for at most one alpha. A false B leaves an H term that the opening cannot
explain (binding of the commitments).

What it reveals. The opened polynomial ``P + alpha M`` is uniform over tables of ``2^n`` values
(M is), so the opening (folds, values, witnesses) is distributed as that of a random table. Its
value is uniform too, as is B (``b_M`` is). The sumcheck's rounds and m are not hidden: in the
zero-knowledge argument (``prover.sumcheck``) they stay inside the Groth16 wrapper of the
verifier, with the walk. The opening, the commitments and B are what leaves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from prover import kernels
from prover.field import FR_MODULUS, ints_to_limbs, limbs_to_ints, random_fr
from prover.sumcheck import commitment as pcs
from prover.sumcheck.mle import as_table, element, eq, eq_table, evaluate, n_variables, scaled
from prover.sumcheck.protocol import SumcheckError, SumcheckProof, verify
from prover.sumcheck.transcript import Transcript

R = FR_MODULUS

Claims = Sequence[tuple[Sequence[int], int]]


@dataclass(frozen=True)
class BatchOpeningProof:
    """The mask's commitment, the sumcheck's rounds, the mask's value at the sumcheck's point,
    the blinding of the opened combination, and its opening (module docstring)."""

    mask: np.ndarray  # C_M, a G1 point
    sumcheck: SumcheckProof
    mask_value: int
    blind: int
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


def _combination(sizes: Sequence[int], claims: Sequence[Claims], coefficients, rho: Sequence[int]) -> list[int]:
    """The a_k: table k's weight in the subclaim, ``prod_{l < m_k} (1 - rho_l) W_k(rho_k)``."""
    n = max(sizes)
    out = []
    for n_k, table_claims, cs in zip(sizes, claims, coefficients, strict=True):
        m = n - n_k
        outside = 1
        for r in rho[:m]:
            outside = outside * (1 - r) % R
        weight = sum(c * eq(point, rho[m:]) for c, (point, _) in zip(cs, table_claims, strict=True)) % R
        out.append(outside * weight % R)
    return out


def prove_batch_opening(
    key: pcs.CommitmentKey,
    tables: Sequence,
    claims: Sequence[Claims],
    transcript: Transcript,
    blinds: Sequence[int] | None = None,
) -> BatchOpeningProof:
    """Prove every claim about ``tables`` (each committed with ``pcs.commit``, with
    ``blinds[k]`` or none, the transcript holding the commitments) with one sumcheck and one
    opening (module docstring)."""
    tables = [as_table(t) for t in tables]
    sizes = [n_variables(len(t)) for t in tables]
    _check_shapes(sizes, claims)
    blinds = [0] * len(tables) if blinds is None else [int(b) % R for b in blinds]
    if len(blinds) != len(tables):
        raise ValueError("a batch opening takes one blind per table")
    n = max(sizes)
    mask = random_fr(1 << n)
    mask_blind = pcs.random_blind()
    mask_commitment = pcs.commit(key, mask, mask_blind)
    pcs.absorb_point(transcript, mask_commitment)
    coefficients = _absorb_claims(transcript, sizes, claims)
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
    mask_value = evaluate(mask, point)
    transcript.absorb([mask_value])
    alpha = transcript.challenge()
    combination = _combination(sizes, claims, coefficients, point)
    blind = (sum(a * b for a, b in zip(combination, blinds, strict=True)) + alpha * mask_blind) % R
    transcript.absorb([blind])
    combined = scaled(mask, alpha)
    for t, a in zip(tables, combination, strict=True):
        combined[: len(t)] = kernels.fr_add(combined[: len(t)], scaled(t, a))
    _, opening = pcs.prove_evaluation(key, combined, point, transcript)
    return BatchOpeningProof(mask_commitment, SumcheckProof(tuple(rounds)), mask_value, blind, opening)


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
    if len(commitments) != len(sizes):
        raise SumcheckError(f"a batch opening of {len(sizes)} tables needs as many commitments")
    if any(not isinstance(v, int) or not 0 <= v < R for v in (proof.mask_value, proof.blind)):
        raise SumcheckError("a batch opening's mask value and blind must be field elements")
    pcs.absorb_point(transcript, proof.mask)
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
    transcript.absorb([proof.mask_value])
    alpha = transcript.challenge()
    transcript.absorb([proof.blind])
    combination = _combination(sizes, claims, coefficients, rho)
    points = np.stack([*(np.asarray(c) for c in commitments), np.asarray(proof.mask), pcs.BLINDING_BASE])
    scalars = [*combination, alpha, (-proof.blind) % R]
    try:
        commitment = kernels.g1_msm(points, ints_to_limbs(scalars))
    except ValueError as exc:  # the kernel checks every point is on the curve
        raise pcs.OpeningError(f"a commitment or the mask is not a G1 point: {exc}") from exc
    value = (sub.value + alpha * proof.mask_value) % R
    pcs.verify_evaluation(vk, commitment, rho, value, proof.opening, transcript)
