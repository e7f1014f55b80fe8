"""Range checks by lookup: logUp (Haböck) with its fraction sums proved by a GKR circuit (the
logUp-GKR of Papini and Haböck), so that only the multiplicities are committed.

Statement: every value ``w_i`` (``2^n`` of them) lies in the table ``t_j = lo + j``,
``j < 2^m``. With the multiplicities ``m_j = #{i : w_i = t_j}`` committed first and ``alpha``
drawn after, the multiset inclusion holds iff (except with probability about
``(2^n + 2^m) / |Fr|`` over alpha)

    sum_i 1 / (alpha - w_i) = sum_j m_j / (alpha - t_j).

Each side is a *fraction tree*: leaves ``(p, q)`` (``(1, alpha - w_i)``, ``(m_j, alpha - t_j)``),
each node the sum of its two children ``p/q = p_L/q_L + p_R/q_R`` kept unreduced,

    p = p_L q_R + p_R q_L,    q = q_L q_R,

and the root ``(P, Q)`` the whole sum. The verifier checks ``P_w Q_t = P_t Q_w`` with both Q
non-zero, then walks each tree from the root down. At depth d a claim ``(p_d~(r), q_d~(r))`` is
reduced, with ``lambda`` drawn, by the sumcheck of degree 3

    p_d~(r) + lambda q_d~(r) = sum_x eq(r, x) [p0 q1 + p1 q0 + lambda q0 q1](x),

where ``p0, p1, q0, q1`` are the children tables (``p_{d+1}`` at index ``2x`` and ``2x + 1``: the
last variable). The prover sends the four children's values at the sumcheck's point rho; with
``gamma`` drawn, the next claim is ``p_{d+1}~(rho, gamma) = (1 - gamma) p0 + gamma p1`` (and
likewise for q). At the leaves: the witness tree's p must be 1 and its q leaves the claim
``w~(rho) = alpha - q``, which the caller settles (the values' own commitment or the layer that
made them); the table tree's q is ``alpha - t~(rho)``, computed by the verifier, and its p is an
opening of the multiplicities' commitment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from prover import kernels
from prover.field import FR_MODULUS, limbs_to_ints, signed_to_fr
from prover.sumcheck import commitment as pcs
from prover.sumcheck.matmul import EvaluationClaim
from prover.sumcheck.mle import as_table, element, eq, eq_table, n_variables, scaled
from prover.sumcheck.protocol import SumcheckError, SumcheckProof, Term, prove, verify
from prover.sumcheck.transcript import Transcript

R = FR_MODULUS
# eq * (p0 q1 + p1 q0 + lambda q0 q1) over the tables (eq, p0, p1, q0, q1, lambda*q0)
FRACTION_TERMS = (Term(1, (0, 1, 4)), Term(1, (0, 2, 3)), Term(1, (0, 3, 5)))


@dataclass(frozen=True)
class FractionLayer:
    """One depth of a fraction tree: the sumcheck and the children's values at its point."""

    sumcheck: SumcheckProof
    children: tuple[int, int, int, int]  # p0, p1, q0, q1


@dataclass(frozen=True)
class FractionTreeProof:
    root: tuple[int, int]  # (P, Q)
    layers: tuple[FractionLayer, ...]


def _tree(p: np.ndarray, q: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every depth of the tree (Fr limb arrays), leaves last."""
    levels = [(p, q)]
    while len(p) > 1:
        p0, p1, q0, q1 = p[0::2], p[1::2], q[0::2], q[1::2]
        p = kernels.fr_add(kernels.fr_mul(p0, q1), kernels.fr_mul(p1, q0))
        q = kernels.fr_mul(q0, q1)
        levels.append((p, q))
    return levels[::-1]


def prove_fraction_tree(p, q, transcript: Transcript) -> tuple[FractionTreeProof, tuple[int, ...], tuple[int, int]]:
    """Prove the root of the fraction tree over leaves (p, q): the proof, the leaves' point and
    the leaves' values ``(p~, q~)`` there."""
    levels = _tree(as_table(p), as_table(q))
    root_p, root_q = limbs_to_ints(levels[0][0])[0], limbs_to_ints(levels[0][1])[0]
    transcript.absorb([root_p, root_q])
    point: tuple[int, ...] = ()
    claim = (root_p, root_q)
    layers = []
    for children_p, children_q in levels[1:]:
        lam = transcript.challenge()
        p0, p1, q0, q1 = (
            np.ascontiguousarray(a) for a in (children_p[0::2], children_p[1::2], children_q[0::2], children_q[1::2])
        )
        tables = [eq_table(point), p0, p1, q0, q1, scaled(q1, lam)]
        proof, rho, values = prove(tables, FRACTION_TERMS, transcript)
        children = (values[1], values[2], values[3], values[4])
        transcript.absorb(children)
        gamma = transcript.challenge()
        layers.append(FractionLayer(proof, children))
        point = (*rho, gamma)
        claim = _next_claim(children, gamma)
    return FractionTreeProof((root_p, root_q), tuple(layers)), point, claim


def _next_claim(children: tuple[int, int, int, int], gamma: int) -> tuple[int, int]:
    p0, p1, q0, q1 = children
    return (p0 + gamma * (p1 - p0)) % R, (q0 + gamma * (q1 - q0)) % R


def verify_fraction_tree(
    n: int, proof: FractionTreeProof, transcript: Transcript
) -> tuple[tuple[int, int], tuple[int, ...], tuple[int, int]]:
    """Check a fraction tree over ``2^n`` leaves: returns its root, the leaves' point and the
    claimed ``(p~, q~)`` there, which the caller must settle. Raises SumcheckError."""
    if len(proof.layers) != n:
        raise SumcheckError(f"a fraction tree over 2^{n} leaves has {n} layers, the proof has {len(proof.layers)}")
    root_p, root_q = (v % R for v in proof.root)
    transcript.absorb([root_p, root_q])
    point: tuple[int, ...] = ()
    claim = (root_p, root_q)
    for depth, layer in enumerate(proof.layers):
        lam = transcript.challenge()
        sub = verify((claim[0] + lam * claim[1]) % R, depth, 3, layer.sumcheck, transcript)
        if any(not 0 <= v < R for v in layer.children):
            raise SumcheckError(f"fraction layer {depth}: a child's value is not a field element")
        p0, p1, q0, q1 = layer.children
        if eq(point, sub.point) * (p0 * q1 + p1 * q0 + lam * q0 * q1) % R != sub.value:
            raise SumcheckError(f"fraction layer {depth}: the children do not add up to the parent's claim")
        transcript.absorb(layer.children)
        gamma = transcript.challenge()
        point = (*sub.point, gamma)
        claim = _next_claim(layer.children, gamma)
    return (root_p, root_q), point, claim


@dataclass(frozen=True)
class LookupProof:
    """The multiplicities' commitment, the two fraction trees and the multiplicities' opening
    at the table tree's leaf point (None when the caller settles that claim with others:
    ``deferred`` below)."""

    multiplicities: np.ndarray  # G1 commitment
    witness_tree: FractionTreeProof
    table_tree: FractionTreeProof
    multiplicity_value: int
    multiplicity_opening: pcs.EvaluationProof | None


@dataclass(frozen=True)
class MultiplicityClaim:
    """``m~(point) = value`` about the multiplicities committed in ``commitment``, left for the
    caller to settle (the prover's side also holds the table)."""

    commitment: np.ndarray
    point: tuple[int, ...]
    value: int
    table: np.ndarray | None = None


def table_extension(lo: int, bits: int, point: Sequence[int]) -> int:
    """``t~(point)`` for ``t_j = lo + j``, j < 2^bits: the index's bits weighted by their place
    (variable 0 the most significant), plus lo."""
    return (lo + sum(x << (bits - 1 - k) for k, x in enumerate(point))) % R


def _rows(a: np.ndarray) -> np.ndarray:
    """Each 4-limb element as one comparable item."""
    a = np.ascontiguousarray(a)
    return a.view(np.dtype((np.void, a.dtype.itemsize * a.shape[1]))).reshape(-1)


def multiplicities(witness, table) -> np.ndarray:
    """How often each table entry occurs among the witness values (int64 counts); ValueError
    for a value the table lacks, for which no proof exists."""
    w, t = as_table(witness), as_table(table)
    entries, index = np.unique(_rows(t), return_index=True)
    found = np.searchsorted(entries, _rows(w))
    missing = (found >= len(entries)) | (entries[np.minimum(found, len(entries) - 1)] != _rows(w))
    if missing.any():
        (v,) = limbs_to_ints(w[np.argmax(missing)][None])
        raise ValueError(f"value {v if v < R // 2 else v - R} is not in the table of its lookup")
    return np.bincount(index[found], minlength=len(t)).astype(np.int64)


def _minus(alpha: int, values: np.ndarray) -> np.ndarray:
    """``alpha - v`` for each element."""
    return kernels.fr_sub(np.broadcast_to(element(alpha), values.shape).copy(), values)


def prove_lookup(
    key: pcs.CommitmentKey,
    witness,
    table,
    transcript: Transcript,
    counts=None,
    deferred: list[MultiplicityClaim] | None = None,
) -> tuple[LookupProof, EvaluationClaim]:
    """Prove that each of the ``2^n`` witness values (field elements) is an entry of the
    ``2^m``-entry table; the transcript must already hold whatever fixes the witness. Returns
    the proof and the claim ``w~(point) = value`` it leaves about the witness. ``counts``
    overrides the multiplicities (a cheating prover's, in tests). With a ``deferred`` list the
    multiplicities are not opened here: their claim is appended to it, for the caller to settle
    with its other claims (one batch opening)."""
    witness, table = as_table(witness), as_table(table)
    n_variables(len(witness))
    counts = as_table(multiplicities(witness, table) if counts is None else np.asarray(counts, dtype=np.int64))
    m_commitment = pcs.commit(key, counts)
    pcs.absorb_point(transcript, m_commitment)
    alpha = transcript.challenge()
    ones = np.broadcast_to(element(1), witness.shape).copy()
    witness_tree, w_point, (_, w_q) = prove_fraction_tree(ones, _minus(alpha, witness), transcript)
    table_tree, t_point, (m_value, _) = prove_fraction_tree(counts, _minus(alpha, table), transcript)
    m_opening = None
    if deferred is None:
        _, m_opening = pcs.prove_evaluation(key, counts, t_point, transcript)
    else:
        deferred.append(MultiplicityClaim(m_commitment, t_point, m_value, counts))
    proof = LookupProof(m_commitment, witness_tree, table_tree, m_value, m_opening)
    return proof, EvaluationClaim(w_point, (alpha - w_q) % R)


def verify_lookup(
    vk: pcs.VerifierKey,
    n: int,
    bits: int,
    table_at: Callable[[Sequence[int]], int],
    proof: LookupProof,
    transcript: Transcript,
    deferred: list[MultiplicityClaim] | None = None,
) -> EvaluationClaim:
    """Check a lookup of ``2^n`` witness values into a table of ``2^bits`` entries whose
    extension the verifier computes (``table_at(point)``), and return the claim it leaves about
    the witness. Raises SumcheckError (or OpeningError for the multiplicities' opening). With a
    ``deferred`` list the proof must leave the multiplicities unopened and their claim is
    appended to the list: the caller must settle it."""
    if (proof.multiplicity_opening is None) != (deferred is not None):
        raise SumcheckError(
            "the lookup's multiplicities are opened where the caller settles them, or not opened where it does not"
        )
    pcs.absorb_point(transcript, proof.multiplicities)
    alpha = transcript.challenge()
    (w_root_p, w_root_q), w_point, (w_p, w_q) = verify_fraction_tree(n, proof.witness_tree, transcript)
    (t_root_p, t_root_q), t_point, (t_p, t_q) = verify_fraction_tree(bits, proof.table_tree, transcript)
    if w_root_q == 0 or t_root_q == 0:
        raise SumcheckError("a fraction tree's denominator is zero: alpha hit a value; the proof cannot be checked")
    if w_root_p * t_root_q % R != t_root_p * w_root_q % R:
        raise SumcheckError("the witness's fraction sum differs from the table's: a value is not in the table")
    if w_p != 1:
        raise SumcheckError("the witness tree's numerators are not all 1")
    if t_q != (alpha - table_at(t_point)) % R:
        raise SumcheckError("the table tree's denominators are not alpha minus the table")
    if t_p != proof.multiplicity_value % R:
        raise SumcheckError("the table tree's numerators are not the committed multiplicities")
    if proof.multiplicity_opening is None:
        assert deferred is not None  # checked above
        deferred.append(MultiplicityClaim(proof.multiplicities, t_point, proof.multiplicity_value % R))
    else:
        pcs.verify_evaluation(
            vk, proof.multiplicities, t_point, proof.multiplicity_value, proof.multiplicity_opening, transcript
        )
    return EvaluationClaim(w_point, (alpha - w_q) % R)


def range_table(lo: int, bits: int) -> np.ndarray:
    """The entries ``lo + j``, j < 2^bits, as an Fr table."""
    return signed_to_fr(np.arange(lo, lo + (1 << bits), dtype=np.int64))


def prove_range(
    key: pcs.CommitmentKey, values, lo: int, bits: int, transcript: Transcript, counts=None
) -> tuple[LookupProof, EvaluationClaim]:
    """Prove that every one of the ``2^n`` ``values`` (an Fr table, an int64 array or ints, read
    as signed) lies in ``[lo, lo + 2^bits)``."""
    witness = as_table(values)
    if counts is None:
        signed = [v - R if v > R // 2 else v for v in limbs_to_ints(witness)]
        bad = [v for v in signed if not lo <= v < lo + (1 << bits)]
        if bad:
            raise ValueError(f"value {bad[0]} is outside the range [{lo}, {lo + (1 << bits)}) of its check")
    return prove_lookup(key, witness, range_table(lo, bits), transcript, counts)


def verify_range(
    vk: pcs.VerifierKey, n: int, lo: int, bits: int, proof: LookupProof, transcript: Transcript
) -> EvaluationClaim:
    """Check a range proof over ``2^n`` values and return the claim it leaves about them."""
    return verify_lookup(vk, n, bits, lambda point: table_extension(lo, bits, point), proof, transcript)
