"""Lookups: logUp (Haböck) with its fraction sums proved by a GKR circuit (the logUp-GKR of
Papini and Haböck), so that only the multiplicities are committed; every lookup of a proof in
one batch.

Statement: a *lookup* is a table ``t_j``, ``j < 2^m``, and witnesses ``w^(1), .., w^(k)`` of
``2^(n_i)`` values each, every value an entry of the table. The witnesses are laid end to end,
largest first (so each starts at a multiple of its size), into leaves of ``2^N`` positions: on
a witness's positions ``(1, alpha - w_i)``, on the rest ``(0, 1)``. With the multiplicities
``m_j = #{i : w_i = t_j}`` committed first and ``alpha`` drawn after, every value is in the
table iff (except with probability about ``(2^N + 2^m) / |Fr|`` over alpha)

    sum_i 1 / (alpha - w_i) = sum_j m_j / (alpha - t_j).

Each side is a *fraction tree*: leaves ``(p, q)``, each node the sum of its two children
``p/q = p_L/q_L + p_R/q_R`` kept unreduced,

    p = p_L q_R + p_R q_L,    q = q_L q_R,

and the root ``(P, Q)`` the whole sum. The verifier checks ``P_w Q_t = P_t Q_w`` with both Q
non-zero. Every tree of the batch (two per lookup) is walked down from the roots together: at
depth d each tree still descending has a claim ``(p_k~(r), q_k~(r))`` at the one shared point
r, and with ``lambda`` drawn the claims are reduced by one sumcheck of degree 3,

    sum_k lambda^(2k) (p_k~(r) + lambda q_k~(r))
        = sum_x eq(r, x) sum_k lambda^(2k) [p0 q1 + p1 q0 + lambda q0 q1]_k(x),

where ``p0, p1, q0, q1`` are tree k's children tables (depth d + 1 at index ``2x`` and
``2x + 1``: the last variable). The prover sends every tree's four children's values at the
sumcheck's point rho; with ``gamma`` drawn, each tree's next claim is ``p~(rho, gamma) = (1 -
gamma) p0 + gamma p1`` (and likewise for q). A tree of depth n leaves the walk after n layers,
with a claim about its leaves at the first n coordinates of the walk's point:

- the witness tree's p must be the extension of its positions' indicator, ``sum_i
  eq(o_i, r_top)`` over each witness's offset bits; the prover sends each witness's value
  ``v_i = w^(i)~(r_low)`` and its q must be ``sum_i eq(o_i, r_top) (alpha - v_i) + 1 - p``:
  the claims ``w^(i)~(r_low) = v_i`` are the caller's to settle;
- the table tree's q is ``alpha - t~(r)``, computed by the verifier, and its p an opening of
  the multiplicities' commitment (or a claim the caller settles with its others).

A batch of L lookups costs one sumcheck per depth of the deepest tree, not one per tree and
depth: the proof grows with ``N^2`` once plus ``8 N`` per lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from prover import kernels
from prover.field import FR_MODULUS, limbs_to_ints, signed_to_fr
from prover.sumcheck import commitment as pcs
from prover.sumcheck.matmul import EvaluationClaim
from prover.sumcheck.mle import as_table, element, eq, eq_table, evaluate, n_variables
from prover.sumcheck.protocol import SumcheckError, SumcheckProof, Term, prove, verify
from prover.sumcheck.transcript import Transcript

R = FR_MODULUS


@dataclass(frozen=True)
class FractionLayer:
    """One depth of the walk down the trees: the sumcheck and, for each tree still descending
    (in order), its children's values ``p0, p1, q0, q1`` at the sumcheck's point."""

    sumcheck: SumcheckProof
    children: tuple[int, ...]


@dataclass(frozen=True)
class FractionTreeProof:
    roots: tuple[int, ...]  # (P, Q) of each tree, in order
    layers: tuple[FractionLayer, ...]


@dataclass(frozen=True)
class Lookup:
    """One table of ``2^bits`` entries and the sizes ``2^n`` of the witnesses looked up in it;
    the verifier computes the table's extension (``table_at``), the prover holds the table and
    the witnesses (Fr tables)."""

    bits: int
    sizes: tuple[int, ...]
    table_at: Callable[[Sequence[int]], int] | None = None
    table: np.ndarray | None = None
    witnesses: tuple[np.ndarray, ...] = ()


@dataclass(frozen=True)
class LookupProof:
    """The multiplicities' commitments (one per lookup), the fraction trees (per lookup its
    witness tree, then its table tree), each witness's value at its part of its leaves' point,
    and the multiplicities' openings (None when the caller settles those claims with others:
    ``deferred`` below)."""

    multiplicities: tuple[np.ndarray, ...]  # G1 commitments
    trees: FractionTreeProof
    witness_values: tuple[tuple[int, ...], ...]
    multiplicity_openings: tuple[pcs.EvaluationProof, ...] | None


@dataclass(frozen=True)
class MultiplicityClaim:
    """``m~(point) = value`` about the multiplicities committed in ``commitment``, left for the
    caller to settle (the prover's side also holds the table and the commitment's blind)."""

    commitment: np.ndarray
    point: tuple[int, ...]
    value: int
    table: np.ndarray | None = None
    blind: int = 0


def _tree(p: np.ndarray, q: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every depth of the tree (Fr limb arrays), root first."""
    levels = [(p, q)]
    while len(p) > 1:
        p0, p1, q0, q1 = p[0::2], p[1::2], q[0::2], q[1::2]
        p = kernels.fr_add(kernels.fr_mul(p0, q1), kernels.fr_mul(p1, q0))
        q = kernels.fr_mul(q0, q1)
        levels.append((p, q))
    return levels[::-1]


def _layer_terms(count: int, lam: int) -> tuple[list[Term], list[int]]:
    """The summand over ``(eq, p0, p1, q0, q1 of tree 0, of tree 1, ..)`` and each tree's
    coefficient ``lambda^(2k)``."""
    powers = [pow(lam, 2 * k, R) for k in range(count)]
    terms = []
    for k, c in enumerate(powers):
        base = 1 + 4 * k
        terms += [
            Term(c, (0, base, base + 3)),
            Term(c, (0, base + 1, base + 2)),
            Term(c * lam % R, (0, base + 2, base + 3)),
        ]
    return terms, powers


def _next_claim(children: Sequence[int], gamma: int) -> tuple[int, int]:
    p0, p1, q0, q1 = children
    return (p0 + gamma * (p1 - p0)) % R, (q0 + gamma * (q1 - q0)) % R


LeafClaim = tuple[tuple[int, ...], tuple[int, int]]  # the leaves' point and (p~, q~) there


def prove_fraction_trees(
    leaves: Sequence[tuple[np.ndarray, np.ndarray]], transcript: Transcript
) -> tuple[FractionTreeProof, list[LeafClaim]]:
    """Prove the roots of the fraction trees over the given leaves ``(p, q)``: the proof and,
    per tree, its leaves' point and the leaves' values ``(p~, q~)`` there."""
    trees = [_tree(as_table(p), as_table(q)) for p, q in leaves]
    depths = [len(t) - 1 for t in trees]
    roots = [v for t in trees for v in (limbs_to_ints(t[0][0])[0], limbs_to_ints(t[0][1])[0])]
    transcript.absorb(roots)
    point: tuple[int, ...] = ()
    claims: list[LeafClaim] = [((), (roots[2 * k], roots[2 * k + 1])) for k in range(len(trees))]
    layers = []
    for d in range(max(depths, default=0)):
        active = [k for k in range(len(trees)) if depths[k] > d]
        terms, _ = _layer_terms(len(active), transcript.challenge())
        tables = [eq_table(point)]
        for k in active:
            p, q = trees[k][d + 1]
            tables += [np.ascontiguousarray(a) for a in (p[0::2], p[1::2], q[0::2], q[1::2])]
            trees[k][d] = None  # type: ignore[call-overload]  # a level is read once
        proof, rho, values = prove(tables, terms, transcript)
        children = tuple(values[1:])
        transcript.absorb(children)
        gamma = transcript.challenge()
        layers.append(FractionLayer(proof, children))
        point = (*rho, gamma)
        for j, k in enumerate(active):
            claims[k] = (point, _next_claim(children[4 * j : 4 * j + 4], gamma))
    return FractionTreeProof(tuple(roots), tuple(layers)), claims


def verify_fraction_trees(
    depths: Sequence[int], proof: FractionTreeProof, transcript: Transcript
) -> tuple[list[tuple[int, int]], list[LeafClaim]]:
    """Check fraction trees over ``2^n`` leaves each (``depths``): their roots and, per tree, its
    leaves' point and claimed ``(p~, q~)`` there, which the caller must settle. Raises
    SumcheckError."""
    if len(proof.roots) != 2 * len(depths):
        raise SumcheckError(
            f"{len(depths)} fraction trees have {2 * len(depths)} root values, the proof has {len(proof.roots)}"
        )
    if len(proof.layers) != max(depths, default=0):
        raise SumcheckError(
            f"fraction trees over up to 2^{max(depths, default=0)} leaves have as many layers, "
            f"the proof has {len(proof.layers)}"
        )
    if any(not 0 <= v < R for v in proof.roots):
        raise SumcheckError("a fraction tree's root is not a field element")
    transcript.absorb(proof.roots)
    roots = [(proof.roots[2 * k], proof.roots[2 * k + 1]) for k in range(len(depths))]
    claims: list[LeafClaim] = [((), root) for root in roots]
    point: tuple[int, ...] = ()
    for d, layer in enumerate(proof.layers):
        active = [k for k in range(len(depths)) if depths[k] > d]
        lam = transcript.challenge()
        _, powers = _layer_terms(len(active), lam)
        claim = sum(c * (claims[k][1][0] + lam * claims[k][1][1]) for c, k in zip(powers, active, strict=True))
        sub = verify(claim % R, d, 3, layer.sumcheck, transcript)
        if len(layer.children) != 4 * len(active):
            raise SumcheckError(f"fraction layer {d}: {len(active)} trees send {4 * len(active)} children's values")
        if any(not 0 <= v < R for v in layer.children):
            raise SumcheckError(f"fraction layer {d}: a child's value is not a field element")
        total = 0
        for j, c in enumerate(powers):
            p0, p1, q0, q1 = layer.children[4 * j : 4 * j + 4]
            total += c * (p0 * q1 + p1 * q0 + lam * q0 * q1)
        if eq(point, sub.point) * total % R != sub.value:
            raise SumcheckError(f"fraction layer {d}: the children do not add up to the parents' claims")
        transcript.absorb(layer.children)
        gamma = transcript.challenge()
        point = (*sub.point, gamma)
        for j, k in enumerate(active):
            claims[k] = (point, _next_claim(layer.children[4 * j : 4 * j + 4], gamma))
    return roots, claims


def segments(sizes: Sequence[int]) -> tuple[int, list[int]]:
    """Where witnesses of ``2^n_i`` values lie end to end, largest first: the leaves' variables N
    and each witness's offset (a multiple of its size)."""
    offsets = [0] * len(sizes)
    at = 0
    for i in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        offsets[i] = at
        at += 1 << sizes[i]
    return max(at - 1, 0).bit_length(), offsets


def _offset_bits(offset: int, n: int, top: int) -> tuple[int, ...]:
    """The top ``top`` index bits of a segment at ``offset`` of ``2^n`` values."""
    return tuple(((offset >> n) >> (top - 1 - k)) & 1 for k in range(top))


def _selectors(sizes: Sequence[int], point: Sequence[int]) -> list[int]:
    """Each witness's ``eq(o_i, r_top)`` at the leaves' point."""
    big, offsets = segments(sizes)
    return [eq(_offset_bits(o, n, big - n), point[: big - n]) for n, o in zip(sizes, offsets, strict=True)]


def _witness_leaves(witnesses: Sequence[np.ndarray], alpha: int) -> tuple[np.ndarray, np.ndarray]:
    sizes = [n_variables(len(w)) for w in witnesses]
    big, offsets = segments(sizes)
    p = np.zeros((1 << big, 4), dtype=np.uint64)
    q = np.broadcast_to(element(1), (1 << big, 4)).copy()
    for w, o in zip(witnesses, offsets, strict=True):
        p[o : o + len(w)] = element(1)
        q[o : o + len(w)] = _minus(alpha, w)
    return p, q


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


def prove_lookups(
    key: pcs.CommitmentKey,
    lookups: Sequence[Lookup],
    transcript: Transcript,
    counts: Sequence | None = None,
    deferred: list[MultiplicityClaim] | None = None,
) -> tuple[LookupProof, list[list[EvaluationClaim]]]:
    """Prove every lookup (module docstring) at once; the transcript must already hold whatever
    fixes the witnesses. Returns the proof and, per lookup, the claims ``w^(i)~(point) = value``
    it leaves about its witnesses. ``counts`` overrides the multiplicities (a cheating prover's,
    in tests: one int64 array per lookup). With a ``deferred`` list the multiplicities are not
    opened here: their claims are appended to it, for the caller to settle with its others, and
    their commitments are hiding (a blind each, ``pcs.commit``)."""
    tables = [as_table(lk.table) for lk in lookups]
    witnesses = [[as_table(w) for w in lk.witnesses] for lk in lookups]
    for lk, ws, table in zip(lookups, witnesses, tables, strict=True):
        if tuple(n_variables(len(w)) for w in ws) != tuple(lk.sizes) or len(table) != 1 << lk.bits:
            raise ValueError("a lookup's witnesses or table differ from its declared sizes")
    if counts is None:
        counts = [multiplicities(np.concatenate(ws), t) for ws, t in zip(witnesses, tables, strict=True)]
    counted = [as_table(np.asarray(c, dtype=np.int64)) for c in counts]
    blinds = [0 if deferred is None else pcs.random_blind() for _ in counted]
    commitments = [pcs.commit(key, c, b) for c, b in zip(counted, blinds, strict=True)]
    for c in commitments:
        pcs.absorb_point(transcript, c)
    alpha = transcript.challenge()
    leaves = []
    for ws, table, m in zip(witnesses, tables, counted, strict=True):
        leaves += [_witness_leaves(ws, alpha), (m, _minus(alpha, table))]
    trees, leaf_claims = prove_fraction_trees(leaves, transcript)
    values, claims = [], []
    for k, (lk, ws) in enumerate(zip(lookups, witnesses, strict=True)):
        point = leaf_claims[2 * k][0]
        big = len(point)
        low = [point[big - n :] for n in lk.sizes]
        sent = tuple(evaluate(w, p) for w, p in zip(ws, low, strict=True))
        values.append(sent)
        claims.append([EvaluationClaim(tuple(p), v) for p, v in zip(low, sent, strict=True)])
    transcript.absorb([v for sent in values for v in sent])
    openings = []
    for k, m in enumerate(counted):
        t_point, (m_value, _) = leaf_claims[2 * k + 1]
        if deferred is None:
            openings.append(pcs.prove_evaluation(key, m, t_point, transcript)[1])
        else:
            deferred.append(MultiplicityClaim(commitments[k], t_point, m_value, m, blinds[k]))
    proof = LookupProof(tuple(commitments), trees, tuple(values), None if deferred is not None else tuple(openings))
    return proof, claims


def verify_lookups(
    vk: pcs.VerifierKey,
    lookups: Sequence[Lookup],
    proof: LookupProof,
    transcript: Transcript,
    deferred: list[MultiplicityClaim] | None = None,
) -> list[list[EvaluationClaim]]:
    """Check a batch of lookups whose tables' extensions the verifier computes (each
    ``Lookup.table_at``), and return per lookup the claims it leaves about its witnesses. Raises
    SumcheckError (or OpeningError for a multiplicities' opening). With a ``deferred`` list the
    proof must leave the multiplicities unopened and their claims are appended to the list: the
    caller must settle them."""
    if (proof.multiplicity_openings is None) != (deferred is not None):
        raise SumcheckError(
            "the lookups' multiplicities are opened where the caller settles them, or not opened where it does not"
        )
    if len(proof.multiplicities) != len(lookups) or len(proof.witness_values) != len(lookups):
        raise SumcheckError(f"a batch of {len(lookups)} lookups has as many commitments and witness values")
    if proof.multiplicity_openings is not None and len(proof.multiplicity_openings) != len(lookups):
        raise SumcheckError(f"a batch of {len(lookups)} lookups has as many openings")
    for lk, sent in zip(lookups, proof.witness_values, strict=True):
        if len(sent) != len(lk.sizes) or any(not 0 <= v < R for v in sent):
            raise SumcheckError(f"a lookup of {len(lk.sizes)} witnesses sends one field element for each")
    for c in proof.multiplicities:
        pcs.absorb_point(transcript, c)
    alpha = transcript.challenge()
    depths = [d for lk in lookups for d in (segments(lk.sizes)[0], lk.bits)]
    roots, leaf_claims = verify_fraction_trees(depths, proof.trees, transcript)
    transcript.absorb([v for sent in proof.witness_values for v in sent])
    claims = []
    for k, (lk, sent) in enumerate(zip(lookups, proof.witness_values, strict=True)):
        (w_root_p, w_root_q), (t_root_p, t_root_q) = roots[2 * k], roots[2 * k + 1]
        if w_root_q == 0 or t_root_q == 0:
            raise SumcheckError("a fraction tree's denominator is zero: alpha hit a value; the proof cannot be checked")
        if w_root_p * t_root_q % R != t_root_p * w_root_q % R:
            raise SumcheckError("the witnesses' fraction sum differs from the table's: a value is not in the table")
        point, (w_p, w_q) = leaf_claims[2 * k]
        selectors = _selectors(lk.sizes, point)
        inside = sum(selectors) % R
        if w_p != inside:
            raise SumcheckError("the witness tree's numerators are not 1 on the witnesses and 0 elsewhere")
        if w_q != (sum(s * (alpha - v) for s, v in zip(selectors, sent, strict=True)) + 1 - inside) % R:
            raise SumcheckError("the witness tree's denominators are not alpha minus the witnesses' values")
        assert lk.table_at is not None
        t_point, (t_p, t_q) = leaf_claims[2 * k + 1]
        if t_q != (alpha - lk.table_at(t_point)) % R:
            raise SumcheckError("the table tree's denominators are not alpha minus the table")
        claims.append([EvaluationClaim(tuple(point[len(point) - n :]), v) for n, v in zip(lk.sizes, sent, strict=True)])
    for k, c in enumerate(proof.multiplicities):
        t_point, (t_p, _) = leaf_claims[2 * k + 1]
        if proof.multiplicity_openings is None:
            assert deferred is not None  # checked above
            deferred.append(MultiplicityClaim(c, t_point, t_p))
        else:
            pcs.verify_evaluation(vk, c, t_point, t_p, proof.multiplicity_openings[k], transcript)
    return claims


def prove_lookup(
    key: pcs.CommitmentKey,
    witness,
    table,
    transcript: Transcript,
    counts=None,
    deferred: list[MultiplicityClaim] | None = None,
) -> tuple[LookupProof, EvaluationClaim]:
    """One lookup of one witness (``prove_lookups``): the proof and the claim it leaves."""
    witness, table = as_table(witness), as_table(table)
    lk = Lookup(n_variables(len(table)), (n_variables(len(witness)),), table=table, witnesses=(witness,))
    proof, ((claim,),) = prove_lookups(key, [lk], transcript, None if counts is None else [counts], deferred)
    return proof, claim


def verify_lookup(
    vk: pcs.VerifierKey,
    n: int,
    bits: int,
    table_at: Callable[[Sequence[int]], int],
    proof: LookupProof,
    transcript: Transcript,
    deferred: list[MultiplicityClaim] | None = None,
) -> EvaluationClaim:
    """Check a lookup of ``2^n`` witness values into a table of ``2^bits`` entries
    (``verify_lookups``) and return the claim it leaves about the witness."""
    ((claim,),) = verify_lookups(vk, [Lookup(bits, (n,), table_at)], proof, transcript, deferred)
    return claim


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
