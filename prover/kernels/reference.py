"""Slow, obviously-correct reference for every kernel in `prover.kernels`.

Pure Python on top of py_ecc. The native kernels are tested against these functions on random
inputs; nothing on a hot path should call them. Array layouts are described in
`prover/kernels/__init__.py`.
"""

from __future__ import annotations

import numpy as np
from py_ecc import optimized_bn128 as bn

from prover.field import FQ_MODULUS, FR_MODULUS, ints_to_limbs, limbs_to_ints, root_of_unity

R_MONT = 1 << 256


def _modulus(field: str) -> int:
    if field == "fr":
        return FR_MODULUS
    if field == "fq":
        return FQ_MODULUS
    raise ValueError(f"unknown field {field!r}: expected 'fr' or 'fq'")


# --- field element arrays -------------------------------------------------------------------


def to_montgomery(values: np.ndarray, field: str) -> np.ndarray:
    p = _modulus(field)
    return ints_to_limbs([(v * R_MONT) % p for v in limbs_to_ints(values)])


def from_montgomery(values: np.ndarray, field: str) -> np.ndarray:
    p = _modulus(field)
    r_inv = pow(R_MONT, -1, p)
    return ints_to_limbs([(v * r_inv) % p for v in limbs_to_ints(values)])


def fr_add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ints_to_limbs([(x + y) % FR_MODULUS for x, y in zip(limbs_to_ints(a), limbs_to_ints(b))])


def fr_sub(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ints_to_limbs([(x - y) % FR_MODULUS for x, y in zip(limbs_to_ints(a), limbs_to_ints(b))])


def fr_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ints_to_limbs([(x * y) % FR_MODULUS for x, y in zip(limbs_to_ints(a), limbs_to_ints(b))])


# --- NTT ------------------------------------------------------------------------------------


def _evaluate(coeffs: list[int], points: list[int]) -> list[int]:
    out = []
    for x in points:
        acc = 0
        for c in reversed(coeffs):
            acc = (acc * x + c) % FR_MODULUS
        out.append(acc)
    return out


def ntt(coeffs: np.ndarray) -> np.ndarray:
    return coset_ntt(coeffs, 1)


def intt(evals: np.ndarray) -> np.ndarray:
    return coset_intt(evals, 1)


def coset_ntt(coeffs: np.ndarray, shift: int) -> np.ndarray:
    c = limbs_to_ints(coeffs)
    n = len(c)
    w = root_of_unity(n)
    return ints_to_limbs(_evaluate(c, [shift * pow(w, i, FR_MODULUS) % FR_MODULUS for i in range(n)]))


def coset_ab_minus_c(a: np.ndarray, b: np.ndarray, c: np.ndarray, shift: int) -> np.ndarray:
    odd = [coset_ntt(intt(v), shift) for v in (a, b, c)]
    return fr_sub(fr_mul(odd[0], odd[1]), odd[2])


def coset_intt(evals: np.ndarray, shift: int) -> np.ndarray:
    e = limbs_to_ints(evals)
    n = len(e)
    w_inv = pow(root_of_unity(n), -1, FR_MODULUS)
    n_inv = pow(n, -1, FR_MODULUS)
    # inverse DFT, then undo the coset shift coefficient by coefficient
    plain = [v * n_inv % FR_MODULUS for v in _evaluate(e, [pow(w_inv, i, FR_MODULUS) for i in range(n)])]
    s_inv = pow(shift, -1, FR_MODULUS)
    return ints_to_limbs([v * pow(s_inv, i, FR_MODULUS) % FR_MODULUS for i, v in enumerate(plain)])


# --- sparse products ------------------------------------------------------------------------


def sparse_matvec(indptr: np.ndarray, indices: np.ndarray, coeffs: np.ndarray, vector: np.ndarray) -> np.ndarray:
    vec = limbs_to_ints(vector)
    cs = limbs_to_ints(coeffs)
    out = []
    for row in range(len(indptr) - 1):
        acc = 0
        for k in range(int(indptr[row]), int(indptr[row + 1])):
            acc += cs[k] * vec[int(indices[k])]
        out.append(acc % FR_MODULUS)
    return ints_to_limbs(out)


# --- curve points ---------------------------------------------------------------------------


def g1_from_array(arr: np.ndarray):
    x, y = limbs_to_ints(arr.reshape(2, 4))
    if x == 0 and y == 0:
        return bn.Z1
    p = (bn.FQ(x), bn.FQ(y), bn.FQ.one())
    if not bn.is_on_curve(p, bn.b):
        raise ValueError(f"G1 point ({x}, {y}) is not on the curve")
    return p


def g1_to_array(p) -> np.ndarray:
    if bn.is_inf(p):
        return np.zeros((2, 4), dtype=np.uint64)
    x, y = bn.normalize(p)
    return ints_to_limbs([int(x), int(y)])


def g2_from_array(arr: np.ndarray):
    x0, x1, y0, y1 = limbs_to_ints(arr.reshape(4, 4))
    if x0 == x1 == y0 == y1 == 0:
        return bn.Z2
    p = (bn.FQ2([x0, x1]), bn.FQ2([y0, y1]), bn.FQ2.one())
    if not bn.is_on_curve(p, bn.b2):
        raise ValueError("G2 point is not on the twist curve")
    return p


def g2_to_array(p) -> np.ndarray:
    if bn.is_inf(p):
        return np.zeros((2, 2, 4), dtype=np.uint64)
    x, y = bn.normalize(p)
    return ints_to_limbs([*map(int, x.coeffs), *map(int, y.coeffs)]).reshape(2, 2, 4)


def _g(group: int):
    if group == 1:
        return g1_from_array, g1_to_array, bn.Z1
    return g2_from_array, g2_to_array, bn.Z2


def _msm(points: np.ndarray, scalars: np.ndarray, group: int, montgomery: bool = False) -> np.ndarray:
    load, store, zero = _g(group)
    if montgomery:
        points = from_montgomery(np.asarray(points).reshape(-1, 4), "fq").reshape(np.shape(points))
    acc = zero
    for p, s in zip(points, limbs_to_ints(scalars)):
        acc = bn.add(acc, bn.multiply(load(p), s))
    return store(acc)


def g1_msm(points: np.ndarray, scalars: np.ndarray, montgomery: bool = False) -> np.ndarray:
    return _msm(points, scalars, 1, montgomery)


def g2_msm(points: np.ndarray, scalars: np.ndarray, montgomery: bool = False) -> np.ndarray:
    return _msm(points, scalars, 2, montgomery)


def _batch_mul(base: np.ndarray, scalars: np.ndarray, group: int) -> np.ndarray:
    load, store, _ = _g(group)
    b = load(base)
    return (
        np.stack([store(bn.multiply(b, s)) for s in limbs_to_ints(scalars)])
        if len(scalars)
        else np.zeros((0,) + base.shape, dtype=np.uint64)
    )


def g1_batch_mul(base: np.ndarray, scalars: np.ndarray) -> np.ndarray:
    return _batch_mul(base, scalars, 1)


def g2_batch_mul(base: np.ndarray, scalars: np.ndarray) -> np.ndarray:
    return _batch_mul(base, scalars, 2)


def _sparse_lincomb(indptr, indices, coeffs, points, group: int) -> np.ndarray:
    rows = []
    for row in range(len(indptr) - 1):
        lo, hi = int(indptr[row]), int(indptr[row + 1])
        rows.append(_msm(points[indices[lo:hi]], coeffs[lo:hi], group))
    if not rows:
        return np.zeros((0,) + points.shape[1:], dtype=np.uint64)
    return np.stack(rows)


def g1_sparse_lincomb(indptr, indices, coeffs, points) -> np.ndarray:
    return _sparse_lincomb(indptr, indices, coeffs, points, 1)


def g2_sparse_lincomb(indptr, indices, coeffs, points) -> np.ndarray:
    return _sparse_lincomb(indptr, indices, coeffs, points, 2)


def _group_intt(points: np.ndarray, group: int) -> np.ndarray:
    """The inverse DFT over the group by its definition: n^2 scalar multiplications."""
    load, store, zero = _g(group)
    n = len(points)
    w_inv = pow(root_of_unity(n), -1, FR_MODULUS)
    n_inv = pow(n, -1, FR_MODULUS)
    loaded = [load(p) for p in points]
    out = []
    for i in range(n):
        acc = zero
        for j, p in enumerate(loaded):
            acc = bn.add(acc, bn.multiply(p, n_inv * pow(w_inv, i * j, FR_MODULUS) % FR_MODULUS))
        out.append(store(acc))
    return np.stack(out)


def g1_intt(points: np.ndarray) -> np.ndarray:
    return _group_intt(points, 1)


def g2_intt(points: np.ndarray) -> np.ndarray:
    return _group_intt(points, 2)


def pairing_check(g1_points: np.ndarray, g2_points: np.ndarray) -> bool:
    if len(g1_points) != len(g2_points):
        raise ValueError("pairing_check needs as many G1 as G2 points")
    acc = bn.FQ12.one()
    for p, q in zip(g1_points, g2_points):
        q_pt = g2_from_array(q)
        if not bn.is_inf(bn.multiply(q_pt, bn.curve_order)):
            raise ValueError("G2 point is not in the prime-order subgroup")
        acc = acc * bn.pairing(q_pt, g1_from_array(p), final_exponentiate=False)
    return bn.final_exponentiate(acc) == bn.FQ12.one()


# --- Poseidon --------------------------------------------------------------------------------


def poseidon_permute(states: np.ndarray, constants: np.ndarray, mds: np.ndarray, full_rounds: int) -> np.ndarray:
    """Each (t,) state of ``states`` (n, t, 4) through the Poseidon rounds: add the round's
    constants, x^5 on every element in the first and last ``full_rounds / 2`` rounds and on the
    first element in the partial rounds between, then multiply by ``mds``."""
    n, t = states.shape[:2]
    rounds = len(constants)
    if full_rounds % 2 or full_rounds > rounds:
        raise ValueError(f"full_rounds must be even and at most the {rounds} rounds, got {full_rounds}")
    c = np.array(limbs_to_ints(constants), dtype=object).reshape(rounds, t)
    m = np.array(limbs_to_ints(mds), dtype=object).reshape(t, t)
    out: list[int] = []
    for state in np.array(limbs_to_ints(states), dtype=object).reshape(n, t):
        for rnd in range(rounds):
            state = (state + c[rnd]) % FR_MODULUS
            full = rnd < full_rounds // 2 or rnd >= rounds - full_rounds // 2
            for i in range(t if full else 1):
                state[i] = pow(int(state[i]), 5, FR_MODULUS)
            state = m.dot(state) % FR_MODULUS
        out.extend(int(v) for v in state)
    return ints_to_limbs(out).reshape(n, t, 4)


# --- multilinear tables and univariate polynomials (the sumcheck backend) ---------------------


def mle_fold(table: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Variable 0 (the index's top bit) bound to r: ``lo + r (hi - lo)`` over the two halves."""
    values = limbs_to_ints(table)
    (x,) = limbs_to_ints(r)
    half = len(values) // 2
    if half == 0 or len(values) & (len(values) - 1):
        raise ValueError(f"mle_fold: table must hold 2^n >= 2 elements, got {len(values)}")
    return ints_to_limbs([(lo + x * (hi - lo)) % FR_MODULUS for lo, hi in zip(values[:half], values[half:])])


def mle_eq_table(point: np.ndarray) -> np.ndarray:
    """``eq(point, b)`` for every b of the cube, b's first coordinate the top bit."""
    table = [1]
    for x in limbs_to_ints(point):
        table = [v * w % FR_MODULUS for v in table for w in (1 - x, x)]
    return ints_to_limbs(table)


def sumcheck_round(tables: np.ndarray, factors: list[list[int]], coefficients: np.ndarray, degree: int) -> np.ndarray:
    """``sum_b sum_t c_t prod_{j in factors[t]} f_j(X, b)`` at X = 0..degree, for tables
    ``(m, 2^n, 4)``, each ``f_j(X, b) = lo_j(b) + X (hi_j(b) - lo_j(b))``."""
    m, size = tables.shape[:2]
    rows = [limbs_to_ints(tables[j]) for j in range(m)]
    cs = limbs_to_ints(coefficients)
    if any(len(term) > degree for term in factors):
        raise ValueError(f"sumcheck_round: a term has more factors than degree {degree}")
    half = size // 2
    out = []
    for x in range(degree + 1):
        total = 0
        for b in range(half):
            at = [row[b] + x * (row[b + half] - row[b]) for row in rows]
            for c, term in zip(cs, factors):
                p = c
                for j in term:
                    p = p * at[j] % FR_MODULUS
                total += p
        out.append(total % FR_MODULUS)
    return ints_to_limbs(out)


def poly_evaluate(coeffs: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``sum_i coeffs[i] x^i`` at each point (Horner)."""
    cs = limbs_to_ints(coeffs)
    return ints_to_limbs([_evaluate(cs, [x])[0] for x in limbs_to_ints(points)])


def poly_quotient(coeffs: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``(p(X) - p(x)) / (X - x)`` by synthetic division, lowest coefficient first."""
    cs = limbs_to_ints(coeffs)
    (at,) = limbs_to_ints(x)
    if len(cs) < 2:
        raise ValueError("poly_quotient: coeffs must hold at least 2 coefficients")
    out = [0] * (len(cs) - 1)
    acc = 0
    for i in range(len(cs) - 1, 0, -1):
        acc = (acc * at + cs[i]) % FR_MODULUS
        out[i - 1] = acc
    return ints_to_limbs(out)
