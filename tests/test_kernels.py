"""The native kernels (prover._native) against the py_ecc reference (prover.kernels.reference).

Reference comparisons stay small because py_ecc is slow; larger sizes are checked against
algebraic identities of the native kernels themselves (roundtrips, linearity).
"""

import os
import random
import re
import subprocess
import sys

import numpy as np
import pytest
from py_ecc import optimized_bn128 as bn

# one construction of a twist point outside G2 (an Fq2 square root) serves both test files
from support.forgeries import twist_point_outside_g2

from prover import kernels
from prover.field import FQ_MODULUS, FR_MODULUS, ints_to_limbs, limbs_to_ints
from prover.kernels import reference


@pytest.fixture
def pyrng(rng):
    """A seeded Python generator for full-size field elements."""
    return random.Random(int(rng.integers(2**32)))


def random_fr(pyrng, n, edges=True):
    """n field elements below r; with edges, 0, 1 and r-1 are among them."""
    values = [pyrng.randrange(FR_MODULUS) for _ in range(n)]
    if edges:
        for i, edge in zip(pyrng.sample(range(n), min(n, 3)), [0, 1, FR_MODULUS - 1]):
            values[i] = edge
    return ints_to_limbs(values)


def test_every_kernel_is_native():
    assert set(kernels.BACKEND) == set(kernels.KERNELS)
    assert {name for name, backend in kernels.BACKEND.items() if backend != "native"} == set()
    # and the reference is really another implementation
    assert kernels.g1_msm is not reference.g1_msm


# --- element-wise field kernels ------------------------------------------------------------


@pytest.mark.parametrize("field, modulus", [("fr", FR_MODULUS), ("fq", FQ_MODULUS)])
def test_montgomery_matches_reference(pyrng, field, modulus):
    values = ints_to_limbs([0, 1, modulus - 1] + [pyrng.randrange(modulus) for _ in range(50)])
    mont = kernels.to_montgomery(values, field)
    assert (mont == reference.to_montgomery(values, field)).all()
    assert (kernels.from_montgomery(values, field) == reference.from_montgomery(values, field)).all()
    assert (kernels.from_montgomery(mont, field) == values).all()


def test_montgomery_keeps_any_leading_shape(pyrng):
    points = ints_to_limbs([pyrng.randrange(FQ_MODULUS) for _ in range(12)]).reshape(3, 2, 2, 4)
    mont = kernels.to_montgomery(points, "fq")
    assert mont.shape == points.shape
    assert (mont.reshape(-1, 4) == reference.to_montgomery(points.reshape(-1, 4), "fq")).all()


@pytest.mark.parametrize("kernel", ["to_montgomery", "from_montgomery"])
def test_montgomery_rejects_value_not_below_modulus(kernel):
    fn = getattr(kernels, kernel)
    # r is a valid base-field value (r < q) but not a scalar-field one
    assert limbs_to_ints(fn(ints_to_limbs([0, FR_MODULUS]), "fq")) != []
    with pytest.raises(ValueError, match=r"values\[1\] is not below the scalar field modulus"):
        fn(ints_to_limbs([0, FR_MODULUS]), "fr")
    with pytest.raises(ValueError, match=r"values\[2\] is not below the base field modulus"):
        fn(ints_to_limbs([1, 2, FQ_MODULUS]), "fq")
    with pytest.raises(ValueError, match="must be 'fr' or 'fq'"):
        fn(ints_to_limbs([1]), "fp")


@pytest.mark.parametrize("kernel", ["fr_add", "fr_sub", "fr_mul"])
def test_fr_arithmetic_matches_reference(pyrng, kernel):
    a, b = random_fr(pyrng, 40), random_fr(pyrng, 40)
    got = getattr(kernels, kernel)(a, b)
    assert got.dtype == np.uint64 and got.shape == (40, 4)
    assert (got == getattr(reference, kernel)(a, b)).all()
    empty = np.zeros((0, 4), dtype=np.uint64)
    assert getattr(kernels, kernel)(empty, empty).shape == (0, 4)


def test_fr_arithmetic_rejects_bad_arguments(pyrng):
    a = random_fr(pyrng, 4)
    with pytest.raises(ValueError, match=r"fr_mul: b\[3\] is not below the scalar field modulus"):
        kernels.fr_mul(a, ints_to_limbs([1, 2, 3, FR_MODULUS]))
    with pytest.raises(ValueError, match="same shape"):
        kernels.fr_add(a, a[:3])
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 4\)"):
        kernels.fr_add(a.reshape(8, 2), a.reshape(8, 2))
    with pytest.raises(TypeError, match="uint64"):
        kernels.fr_add(a.astype(np.int64), a)


def test_inputs_may_be_read_only_or_strided(pyrng):
    a = random_fr(pyrng, 10)
    frozen = a.copy()
    frozen.setflags(write=False)
    assert (kernels.fr_add(frozen, frozen) == reference.fr_add(a, a)).all()
    strided = a[::2]  # not C-contiguous: copied in C order
    assert not strided.flags.c_contiguous
    assert (kernels.fr_mul(strided, strided) == reference.fr_mul(a[::2].copy(), a[::2].copy())).all()
    fortran = np.asfortranarray(a)
    assert (kernels.fr_sub(fortran, a) == 0).all()


# --- NTT -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 8, 64])
def test_ntt_matches_reference(pyrng, n):
    coeffs = random_fr(pyrng, n)
    evals = kernels.ntt(coeffs)
    assert (evals == reference.ntt(coeffs)).all()
    assert (kernels.intt(coeffs) == reference.intt(coeffs)).all()
    assert (kernels.intt(evals) == coeffs).all()


@pytest.mark.parametrize("n", [1, 2, 8, 64])
def test_coset_ntt_matches_reference(pyrng, n):
    coeffs = random_fr(pyrng, n)
    shift = pyrng.randrange(1, FR_MODULUS)
    evals = kernels.coset_ntt(coeffs, shift)
    assert (evals == reference.coset_ntt(coeffs, shift)).all()
    assert (kernels.coset_intt(coeffs, shift) == reference.coset_intt(coeffs, shift)).all()
    assert (kernels.coset_intt(evals, shift) == coeffs).all()
    # the shift is taken mod r, like the reference's arithmetic
    assert (kernels.coset_ntt(coeffs, shift - FR_MODULUS) == evals).all()


@pytest.mark.parametrize("n", [1, 2, 8, 64])
def test_coset_ab_minus_c_matches_reference(pyrng, n):
    a, b, c = (random_fr(pyrng, n) for _ in "abc")
    for shift in (reference.root_of_unity(2 * n), pyrng.randrange(1, FR_MODULUS), 0):
        got = kernels.coset_ab_minus_c(a, b, c, shift)
        assert (got == reference.coset_ab_minus_c(a, b, c, shift)).all()
        # the same as the separate transforms
        odd = [kernels.coset_ntt(kernels.intt(v), shift) for v in (a, b, c)]
        assert (got == kernels.fr_sub(kernels.fr_mul(odd[0], odd[1]), odd[2])).all()
    with pytest.raises(ValueError, match="same length"):
        kernels.coset_ab_minus_c(a, b, random_fr(pyrng, 2 * n), 3)
    with pytest.raises(ValueError, match=r"b\[0\] is not below the scalar field modulus"):
        kernels.coset_ab_minus_c(a, ints_to_limbs([FR_MODULUS] * n), c, 3)


def test_ntt_uses_the_snarkjs_root_of_unity():
    # the polynomial x evaluates to the domain points themselves
    n = 16
    x = ints_to_limbs([0, 1] + [0] * (n - 2))
    w = reference.root_of_unity(n)
    assert limbs_to_ints(kernels.ntt(x)) == [pow(w, i, FR_MODULUS) for i in range(n)]
    assert w == pow(5, (FR_MODULUS - 1) // n, FR_MODULUS)


def test_ntt_roundtrip_and_convolution_at_2_16(pyrng):
    n = 1 << 16
    a = random_fr(pyrng, n, edges=False)
    assert (kernels.intt(kernels.ntt(a)) == a).all()
    shift = 7
    assert (kernels.coset_intt(kernels.coset_ntt(a, shift), shift) == a).all()
    # the pointwise product of evaluations is the evaluation of the polynomial product: check
    # it on sparse polynomials of degree < n/2, whose product is cheap to expand in Python
    sparse = [dict((pyrng.randrange(n // 2), pyrng.randrange(FR_MODULUS)) for _ in range(150)) for _ in "ab"]
    dense = [np.zeros((n, 4), dtype=np.uint64) for _ in "ab"]
    for poly, arr in zip(sparse, dense):
        arr[list(poly)] = ints_to_limbs(list(poly.values()))
    expected = [0] * n
    for i, x in sparse[0].items():
        for j, y in sparse[1].items():
            expected[i + j] = (expected[i + j] + x * y) % FR_MODULUS
    product = kernels.intt(kernels.fr_mul(kernels.ntt(dense[0]), kernels.ntt(dense[1])))
    assert limbs_to_ints(product) == expected


def test_ntt_rejects_bad_arguments(pyrng):
    with pytest.raises(ValueError, match="power of two"):
        kernels.ntt(random_fr(pyrng, 6))
    with pytest.raises(ValueError, match="power of two"):
        kernels.intt(np.zeros((0, 4), dtype=np.uint64))
    with pytest.raises(ValueError, match=r"coeffs\[1\] is not below the scalar field modulus"):
        kernels.ntt(ints_to_limbs([1, FR_MODULUS]))
    with pytest.raises(ValueError, match="shift must be nonzero"):
        kernels.coset_intt(random_fr(pyrng, 4), FR_MODULUS)
    with pytest.raises(ValueError, match=r"shape \(n, 4\)"):
        kernels.ntt(np.zeros((4, 2, 4), dtype=np.uint64))
    with pytest.raises(TypeError, match="shift must be an int"):
        kernels.coset_ntt(random_fr(pyrng, 4), 1.5)
    # a zero shift is a degenerate but valid evaluation: every point is 0
    coeffs = random_fr(pyrng, 4)
    assert (kernels.coset_ntt(coeffs, 0) == reference.coset_ntt(coeffs, 0)).all()


# --- curve points --------------------------------------------------------------------------


G1_GEN = reference.g1_to_array(bn.G1)
G2_GEN = reference.g2_to_array(bn.G2)
GROUPS = {
    1: (kernels.g1_msm, reference.g1_msm, kernels.g1_batch_mul, reference.g1_batch_mul, bn.G1, reference.g1_to_array),
    2: (kernels.g2_msm, reference.g2_msm, kernels.g2_batch_mul, reference.g2_batch_mul, bn.G2, reference.g2_to_array),
}


def reference_points(pyrng, group, n, infinity_at=None):
    """n points k*G from py_ecc (k random, small to keep py_ecc quick), one of them infinity."""
    *_, gen, to_array = GROUPS[group]
    pts = [bn.multiply(gen, pyrng.randrange(1, 2**32)) for _ in range(n)]
    if infinity_at is not None:
        pts[infinity_at] = bn.Z1 if group == 1 else bn.Z2
    shape = (0, 2, 4) if group == 1 else (0, 2, 2, 4)
    return np.stack([to_array(p) for p in pts]) if pts else np.zeros(shape, dtype=np.uint64)


def off_curve(point):
    bad = point.copy()
    bad.reshape(-1)[-4] ^= 1  # flip a bit of y (of y.c1 in G2)
    return bad


@pytest.mark.parametrize("group", [1, 2])
@pytest.mark.parametrize("n", [0, 1, 6])
def test_msm_matches_reference(pyrng, group, n):
    msm, ref_msm, *_ = GROUPS[group]
    points = reference_points(pyrng, group, n, infinity_at=n // 2 if n > 1 else None)
    scalars = random_fr(pyrng, n) if n else np.zeros((0, 4), dtype=np.uint64)
    got = msm(points, scalars)
    assert got.shape == points.shape[1:]
    assert (got == ref_msm(points, scalars)).all()
    if n:
        # P + (-1)P sums to infinity
        neg_one = ints_to_limbs([1, FR_MODULUS - 1])
        assert not msm(np.stack([points[0], points[0]]), neg_one).any()


@pytest.mark.parametrize(
    "group, n",
    [(1, 1 << 12), (2, 1 << 11), (1, 1 << 15), (2, 1 << 13), pytest.param(1, 1 << 17, marks=pytest.mark.slow)],
)
def test_msm_agrees_with_batch_mul_at_scale(pyrng, group, n):
    """sum a_i (k_i G) == (sum a_i k_i) G, with scalars of every size class arkworks treats
    separately (0, +-1, 8, 16, 32, 64 bits, positive and negative) and enough full-size ones
    (over 2^10) for the batched-affine Pippenger. The larger sizes sort their windows in several
    blocks with more buckets than a block has points, so buckets a block does not touch carry
    over in place; at 2^17 the windows are wide enough (over 2^12 buckets) that a block holds
    one point per bucket rather than an L2 cache's worth."""
    msm, _, batch_mul, *_ = GROUPS[group]
    gen = G1_GEN if group == 1 else G2_GEN
    ks = [pyrng.randrange(FR_MODULUS) for _ in range(n)]
    points = batch_mul(gen, ints_to_limbs(ks))
    sizes = [0, 1, 8, 16, 32, 64, 100] + [254] * 7
    scalars = []
    for i in range(n):
        bits = sizes[i % len(sizes)]
        value = pyrng.randrange(min(2**bits, FR_MODULUS)) if bits else 0
        scalars.append(value if i % 2 else (-value) % FR_MODULUS)
    expected = batch_mul(gen, ints_to_limbs([sum(a * k for a, k in zip(scalars, ks)) % FR_MODULUS]))[0]
    assert (msm(points, ints_to_limbs(scalars)) == expected).all()
    # and a wrong scalar gives another point
    scalars[5] = (scalars[5] + 1) % FR_MODULUS
    assert not (msm(points, ints_to_limbs(scalars)) == expected).all()


@pytest.mark.parametrize("group", [1, 2])
def test_msm_with_repeated_and_opposite_points(pyrng, group):
    """Many equal digits on equal or opposite points: bucket additions that are doublings or
    cancel to infinity, and buckets hit twice in one batch, past the batched-affine threshold."""
    msm, _, batch_mul, *_ = GROUPS[group]
    gen = G1_GEN if group == 1 else G2_GEN
    n = 1 << 12
    ks = [pyrng.randrange(1, FR_MODULUS) for _ in range(3)]
    ks.append(FR_MODULUS - ks[0])  # the opposite of the first point
    distinct = batch_mul(gen, ints_to_limbs(ks))
    choice = [pyrng.randrange(4) for _ in range(n)]
    points = distinct[choice]
    points[::97] = 0  # some points at infinity
    pool = [1, 2, 3, FR_MODULUS - 1, FR_MODULUS - 2, 2**100 + 3, FR_MODULUS - 2**70] + [
        pyrng.randrange(FR_MODULUS) for _ in range(3)
    ]
    scalars = [pyrng.choice(pool) for _ in range(n)]
    total = sum(s * ks[c] for i, (s, c) in enumerate(zip(scalars, choice)) if i % 97) % FR_MODULUS
    expected = batch_mul(gen, ints_to_limbs([total]))[0]
    assert (msm(points, ints_to_limbs(scalars)) == expected).all()
    # all scalars equal and all points equal: every addition of a window lands in one bucket
    same = np.repeat(distinct[1:2], n, axis=0)
    for scalar in (5, 2**200 + 12345):
        expected = batch_mul(gen, ints_to_limbs([n * scalar * ks[1] % FR_MODULUS]))[0]
        assert (msm(same, ints_to_limbs([scalar] * n)) == expected).all()


# scalars at the boundaries of the MSM's cases: zero, one, the r - s reduction (above (r-1)/2),
# the largest and smallest windows, and powers of two where the number of digits changes
EDGE_SCALARS = [0, 1, 2, FR_MODULUS - 1, FR_MODULUS - 2, (FR_MODULUS - 1) // 2, (FR_MODULUS + 1) // 2]
EDGE_SCALARS += [2**k + d for k in (11, 12, 13, 64, 252) for d in (-1, 0)] + [FR_MODULUS - 2**40]


def msm_case(pyrng, n):
    """Discrete logs k_i of n points (some 0: infinity; some repeated; some opposite) and n
    scalars: the edge cases, bits, small signed values of several sizes and full-size ones."""
    ks = [pyrng.randrange(1, FR_MODULUS) for _ in range(n)]
    for i in range(n):
        if i % 17 == 3:
            ks[i] = 0
        elif i % 17 in (5, 6) and i > 8:
            ks[i] = ks[i - 5]  # a duplicate point
        elif i % 17 == 7 and i > 8:
            ks[i] = (FR_MODULUS - ks[i - 4]) % FR_MODULUS  # the opposite of another point
    scalars = []
    for i in range(n):
        kind = i % 8
        if i < len(EDGE_SCALARS) and n < 8 * len(EDGE_SCALARS):
            scalars.append(EDGE_SCALARS[(i + n) % len(EDGE_SCALARS)])
        elif kind == 0:
            scalars.append(pyrng.choice(EDGE_SCALARS))
        elif kind in (1, 2):
            scalars.append(pyrng.randrange(2))
        elif kind in (3, 4):
            bits = pyrng.choice([8, 16, 32, 64])
            scalars.append(pyrng.choice([1, -1]) * pyrng.randrange(1, 2**bits) % FR_MODULUS)
        else:
            scalars.append(pyrng.randrange(FR_MODULUS))
    return ks, scalars


@pytest.mark.parametrize("group", [1, 2])
@pytest.mark.parametrize("n", [1, 2, 3, 255, 4096])
def test_msm_matches_py_ecc_at_every_size(pyrng, group, n):
    """sum s_i (k_i G) against py_ecc's (sum s_i k_i) G, with the edge scalars, points at
    infinity, duplicate and opposite points; the smallest sizes also term by term in py_ecc."""
    msm, ref_msm, batch_mul, ref_batch_mul, *_ = GROUPS[group]
    gen = G1_GEN if group == 1 else G2_GEN
    ks, scalars = msm_case(pyrng, n)
    points = batch_mul(gen, ints_to_limbs(ks))  # itself checked against py_ecc above
    expected = ref_batch_mul(gen, ints_to_limbs([sum(a * k for a, k in zip(scalars, ks)) % FR_MODULUS]))[0]
    assert (msm(points, ints_to_limbs(scalars)) == expected).all()
    if n <= 3:  # each edge scalar of the smallest windows once, summed term by term in py_ecc
        edges = EDGE_SCALARS[:7] + [2**64 - 1, 2**252]
        for first in range(0, len(edges), n):
            edge = ints_to_limbs([edges[(first + i) % len(edges)] for i in range(n)])
            assert (msm(points, edge) == ref_msm(points, edge)).all()
    # a scalar one off on a point that is not infinity gives another sum
    i = next(i for i, k in enumerate(ks) if k)
    scalars[i] = (scalars[i] + 1) % FR_MODULUS
    assert not (msm(points, ints_to_limbs(scalars)) == expected).all()


@pytest.mark.parametrize("group", [1, 2])
@pytest.mark.parametrize("value", [1, FR_MODULUS - 1, 2**20 + 1])
def test_msm_of_one_scalar_everywhere_spreads_over_threads(pyrng, group, value):
    """Every term in one bucket of few windows: the windows' points are split across threads
    and each bucket's run is summed as one long tree (doublings and cancellations included)."""
    msm, _, batch_mul, ref_batch_mul, *_ = GROUPS[group]
    gen = G1_GEN if group == 1 else G2_GEN
    n = 3000
    ks = [pyrng.randrange(1, 2**64) for _ in range(n // 3)]
    ks = ks + ks + [FR_MODULUS - k for k in ks]  # each point twice, then its opposite
    points = batch_mul(gen, ints_to_limbs(ks))
    total = value * sum(ks[: n // 3]) % FR_MODULUS
    assert (msm(points, ints_to_limbs([value] * n)) == ref_batch_mul(gen, ints_to_limbs([total]))[0]).all()
    assert not msm(points[n // 3 :], ints_to_limbs([value] * (2 * n // 3))).any()


@pytest.mark.parametrize("group", [1, 2])
def test_msm_rejects_bad_points_and_scalars(pyrng, group):
    msm, *_ = GROUPS[group]
    points = reference_points(pyrng, group, 3)
    scalars = random_fr(pyrng, 3)
    curve = "G1 curve" if group == 1 else "G2 twist curve"
    bad = points.copy()
    bad[2] = off_curve(points[2])
    with pytest.raises(ValueError, match=rf"points\[2\] is not on the BN254 {curve}"):
        msm(bad, scalars)
    bad = points.copy()
    bad[1].reshape(-1)[:4] = ints_to_limbs([FQ_MODULUS])[0]
    with pytest.raises(ValueError, match=r"points\[1\] has a coordinate not below the base field modulus"):
        msm(bad, scalars)
    with pytest.raises(ValueError, match=r"scalars\[0\] is not below the scalar field modulus"):
        msm(points, ints_to_limbs([FR_MODULUS, 1, 2]))
    with pytest.raises(ValueError, match="same length"):
        msm(points, scalars[:2])
    with pytest.raises(ValueError, match="must have shape"):
        msm(points.reshape(3, -1), scalars)


def montgomery_form(points: np.ndarray) -> np.ndarray:
    """The points' coordinates as v R mod q (the .zkey layout), computed in Python."""
    flat = [v * 2**256 % FQ_MODULUS for v in limbs_to_ints(points)]
    return ints_to_limbs(flat).reshape(points.shape)


@pytest.mark.parametrize("group", [1, 2])
@pytest.mark.parametrize("n", [3, 600])
def test_msm_reads_montgomery_points(pyrng, group, n):
    """montgomery=True gives the same sum from the points' Montgomery forms, natively and in the
    reference (the Pippenger path at 600 points), with infinity and zero scalars among them;
    read as canonical, the same limbs are other points (or none) and the sum differs."""
    msm, ref_msm, *_ = GROUPS[group]
    points = reference_points(pyrng, group, n, infinity_at=1)
    scalars = random_fr(pyrng, n)
    scalars[2] = 0
    expected = msm(points, scalars)
    mont = montgomery_form(points)
    assert (msm(mont, scalars, montgomery=True) == expected).all()
    assert (msm(mont, scalars, True) == expected).all()
    if n <= 3:
        assert (ref_msm(mont, scalars, montgomery=True) == expected).all()
    with pytest.raises(ValueError, match="is not on the BN254"):
        msm(mont, scalars)
    bad = mont.copy()
    bad[0].reshape(-1)[:4] = ints_to_limbs([FQ_MODULUS])[0]
    with pytest.raises(ValueError, match=r"points\[0\] has a coordinate not below the base field modulus"):
        msm(bad, scalars, montgomery=True)
    bad = mont.copy()
    bad[2] = montgomery_form(off_curve(points[2]))
    with pytest.raises(ValueError, match=r"points\[2\] is not on the BN254"):
        msm(bad, scalars, montgomery=True)  # checked though its scalar is zero


@pytest.mark.parametrize("group", [1, 2])
@pytest.mark.parametrize("n", [0, 1, 5])
def test_batch_mul_matches_reference(pyrng, group, n):
    _, _, batch_mul, ref_batch_mul, *_ = GROUPS[group]
    base = reference_points(pyrng, group, 1)[0]
    scalars = random_fr(pyrng, n) if n else np.zeros((0, 4), dtype=np.uint64)
    got = batch_mul(base, scalars)
    assert got.shape == (n,) + base.shape
    assert (got == ref_batch_mul(base, scalars)).all()
    # the point at infinity as base gives infinity everywhere
    assert not batch_mul(np.zeros_like(base), scalars).any()


@pytest.mark.parametrize("group", [1, 2])
def test_batch_mul_rejects_bad_base(pyrng, group):
    _, _, batch_mul, *_ = GROUPS[group]
    base = reference_points(pyrng, group, 1)[0]
    with pytest.raises(ValueError, match="base is not on the BN254"):
        batch_mul(off_curve(base), random_fr(pyrng, 2))
    with pytest.raises(ValueError, match="base must have shape"):
        batch_mul(base[None], random_fr(pyrng, 2))
    with pytest.raises(ValueError, match=r"scalars\[1\] is not below"):
        batch_mul(base, ints_to_limbs([0, FR_MODULUS + 5]))


GROUP_INTT = {1: (kernels.g1_intt, reference.g1_intt), 2: (kernels.g2_intt, reference.g2_intt)}


@pytest.mark.parametrize("group, n", [(1, 1), (1, 2), (1, 8), (2, 1), (2, 4)])
def test_group_intt_matches_reference(pyrng, group, n):
    intt, ref_intt = GROUP_INTT[group]
    points = reference_points(pyrng, group, n, infinity_at=n // 2 if n > 1 else None)
    got = intt(points)
    assert got.shape == points.shape
    assert (got == ref_intt(points)).all()
    if n > 1:  # one changed point changes the transform
        changed = points.copy()
        changed[0] = points[1]
        assert not (intt(changed) == got).all()


@pytest.mark.parametrize("group, k", [(1, 11), (2, 6)])
def test_group_intt_is_the_lagrange_basis_at_scale(pyrng, group, k):
    """``sum_i intt(P)_i * ntt(r)_i = sum_j r_j P_j`` for random r (the identity phase-1
    verification checks Lagrange sections with); at 2^11 the kernel's last stages multiply
    their points in more than one batch."""
    intt, _ = GROUP_INTT[group]
    msm, _, batch_mul, *_ = GROUPS[group]
    n = 1 << k
    points = batch_mul(G1_GEN if group == 1 else G2_GEN, random_fr(pyrng, n, edges=False))
    r = random_fr(pyrng, n)
    lagrange = intt(points)
    assert (msm(lagrange, kernels.ntt(r)) == msm(points, r)).all()
    assert not (msm(lagrange, kernels.ntt(r)) == msm(points[::-1].copy(), r)).all()


@pytest.mark.parametrize("group", [1, 2])
def test_group_intt_rejects_bad_points_and_lengths(pyrng, group):
    intt, _ = GROUP_INTT[group]
    points = reference_points(pyrng, group, 4)
    name = "g1_intt" if group == 1 else "g2_intt"
    with pytest.raises(ValueError, match=rf"{name}: points length must be a power of two up to 2\^28, got 3"):
        intt(points[:3].copy())
    with pytest.raises(ValueError, match="power of two"):
        intt(points[:0].copy())
    bad = points.copy()
    bad[2] = off_curve(points[2])
    with pytest.raises(ValueError, match=rf"{name}: points\[2\] is not on the BN254"):
        intt(bad)
    with pytest.raises(ValueError, match="must have shape"):
        intt(points.reshape(4, -1))
    with pytest.raises(TypeError, match="numpy uint64 array"):
        intt(points.astype(np.int64))


# --- sparse products -----------------------------------------------------------------------


def random_csr(pyrng, rows, columns, max_row, long_row=None):
    """A CSR matrix with empty rows, zero and r-1 coefficients; row `long_row` gets
    `max_row` entries, the others up to 4."""
    indptr, indices, coeffs = [0], [], []
    for row in range(rows):
        k = max_row if row == long_row else pyrng.choice([0, 1, 2, 4])
        for _ in range(k):
            indices.append(pyrng.randrange(columns))
            coeffs.append(pyrng.choice([0, 1, FR_MODULUS - 1, FR_MODULUS - 3, 2**200, pyrng.randrange(FR_MODULUS)]))
        indptr.append(len(indices))
    coeff_arr = ints_to_limbs(coeffs) if coeffs else np.zeros((0, 4), dtype=np.uint64)
    return np.array(indptr, dtype=np.int64), np.array(indices, dtype=np.int64), coeff_arr


def test_sparse_matvec_matches_reference(pyrng):
    indptr, indices, coeffs = random_csr(pyrng, 30, 12, 100, long_row=3)
    vector = random_fr(pyrng, 12)
    got = kernels.sparse_matvec(indptr, indices, coeffs, vector)
    assert got.shape == (30, 4)
    assert (got == reference.sparse_matvec(indptr, indices, coeffs, vector)).all()
    # no rows at all
    empty = kernels.sparse_matvec(np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros((0, 4), np.uint64), vector)
    assert empty.shape == (0, 4)


def test_sparse_products_reject_bad_csr(pyrng):
    indptr, indices, coeffs = random_csr(pyrng, 5, 4, 3, long_row=0)
    vector = random_fr(pyrng, 4)
    assert kernels.sparse_matvec(indptr, indices, coeffs, vector).shape == (5, 4)
    bad = indices.copy()
    bad[1] = 4
    with pytest.raises(ValueError, match=r"sparse_matvec: indices\[1\] = 4 is not a column index in \[0, 4\)"):
        kernels.sparse_matvec(indptr, bad, coeffs, vector)
    bad[1] = -1
    with pytest.raises(ValueError, match=r"indices\[1\] = -1"):
        kernels.sparse_matvec(indptr, bad, coeffs, vector)
    with pytest.raises(ValueError, match="must end at the number of nonzeros"):
        kernels.sparse_matvec(np.append(indptr[:-1], indptr[-1] + 1), indices, coeffs, vector)
    bad_ptr = indptr.copy()
    bad_ptr[1], bad_ptr[2] = 3, 1
    with pytest.raises(ValueError, match=r"indptr\[2\] = 1 is below the entry before it"):
        kernels.sparse_matvec(bad_ptr, indices, coeffs, vector)
    bad_coeffs = coeffs.copy()
    bad_coeffs[2] = ints_to_limbs([FR_MODULUS])[0]
    with pytest.raises(ValueError, match=r"coeffs\[2\] is not below the scalar field modulus"):
        kernels.sparse_matvec(indptr, indices, bad_coeffs, vector)
    with pytest.raises(ValueError, match=r"vector\[3\] is not below"):
        kernels.sparse_matvec(indptr, indices, coeffs, np.vstack([vector[:3], ints_to_limbs([FR_MODULUS])]))
    with pytest.raises(ValueError, match="same length"):
        kernels.sparse_matvec(indptr, indices, coeffs[:-1], vector)
    with pytest.raises(TypeError, match="int64"):
        kernels.sparse_matvec(indptr.astype(np.int32), indices, coeffs, vector)
    points = reference_points(pyrng, 1, 4)
    points[3] = off_curve(points[3])
    with pytest.raises(ValueError, match=r"g1_sparse_lincomb: points\[3\] is not on the BN254 G1 curve"):
        kernels.g1_sparse_lincomb(indptr, indices, coeffs, points)
    with pytest.raises(ValueError, match=r"g1_sparse_lincomb: indices\[1\] = -1"):
        kernels.g1_sparse_lincomb(indptr, bad, coeffs, points)


@pytest.mark.parametrize("group", [1, 2])
def test_sparse_lincomb_matches_reference(pyrng, group):
    lincomb = kernels.g1_sparse_lincomb if group == 1 else kernels.g2_sparse_lincomb
    ref_lincomb = reference.g1_sparse_lincomb if group == 1 else reference.g2_sparse_lincomb
    points = reference_points(pyrng, group, 6, infinity_at=2)
    indptr, indices, coeffs = random_csr(pyrng, 8, 6, 4)
    got = lincomb(indptr, indices, coeffs, points)
    assert got.shape == (8,) + points.shape[1:]
    assert (got == ref_lincomb(indptr, indices, coeffs, points)).all()


def _lincomb_against_msm(group, points, indptr, indices, coeffs):
    """The sparse lincomb of every row, each checked against the MSM kernel of that row."""
    lincomb = kernels.g1_sparse_lincomb if group == 1 else kernels.g2_sparse_lincomb
    got = lincomb(indptr, indices, coeffs, points)
    for row in range(len(indptr) - 1):
        lo, hi = indptr[row], indptr[row + 1]
        assert (got[row] == GROUPS[group][0](points[indices[lo:hi]], coeffs[lo:hi])).all()
    return got


def _random_points(pyrng, group, n):
    return GROUPS[group][2](G1_GEN if group == 1 else G2_GEN, random_fr(pyrng, n))


@pytest.mark.parametrize("group", [1, 2])
def test_sparse_lincomb_long_rows_agree_with_msm(pyrng, group):
    # rows past the short-row limit (512 terms) take the Pippenger path
    _lincomb_against_msm(group, _random_points(pyrng, group, 200), *random_csr(pyrng, 6, 200, 600, long_row=4))


@pytest.mark.parametrize("group", [1, 2])
def test_sparse_lincomb_rows_of_full_size_coefficients_agree_with_msm(pyrng, group):
    # short rows with two or more full-size coefficients take the interleaved (Straus) path:
    # mixed with small and zero ones, repeated points and the point at infinity
    points = _random_points(pyrng, group, 40)
    points[7] = 0
    indptr, indices, coeffs = [0], [], []
    for length in (2, 3, 17, 64):
        for k in range(length):
            indices.append(7 if k == 1 else pyrng.randrange(40))
            small = pyrng.choice([0, 1, FR_MODULUS - 1, 5])
            coeffs.append(small if k % 5 == 4 else pyrng.choice([FR_MODULUS - 2**70, pyrng.randrange(FR_MODULUS)]))
        indptr.append(len(indices))
    indptr, indices, coeffs = np.array(indptr), np.array(indices), ints_to_limbs(coeffs)
    got = _lincomb_against_msm(group, points, indptr, indices, coeffs)
    # and the two-term row against py_ecc
    ref_lincomb = reference.g1_sparse_lincomb if group == 1 else reference.g2_sparse_lincomb
    assert (got[:1] == ref_lincomb(indptr[:2], indices[:2], coeffs[:2], points)).all()


# --- pairing -------------------------------------------------------------------------------


def test_pairing_check_accepts_a_product_of_one_and_rejects_a_perturbed_one(pyrng):
    a, b = pyrng.randrange(1, FR_MODULUS), pyrng.randrange(1, FR_MODULUS)
    g1 = np.stack(
        [
            kernels.g1_batch_mul(G1_GEN, ints_to_limbs([a]))[0],
            kernels.g1_batch_mul(G1_GEN, ints_to_limbs([(-a * b) % FR_MODULUS]))[0],
        ]
    )
    g2 = np.stack([kernels.g2_batch_mul(G2_GEN, ints_to_limbs([b]))[0], G2_GEN])
    assert kernels.pairing_check(g1, g2) is True
    perturbed = g1.copy()
    perturbed[1] = kernels.g1_batch_mul(G1_GEN, ints_to_limbs([(-a * b + 1) % FR_MODULUS]))[0]
    assert kernels.pairing_check(perturbed, g2) is False
    assert reference.pairing_check(perturbed, g2) is False
    # a pair with the point at infinity contributes nothing; no pairs at all is the identity
    with_infinity = (np.vstack([g1, np.zeros((1, 2, 4), np.uint64)]), np.vstack([g2, G2_GEN[None]]))
    assert kernels.pairing_check(*with_infinity) is True
    assert kernels.pairing_check(np.zeros((0, 2, 4), np.uint64), np.zeros((0, 2, 2, 4), np.uint64)) is True
    assert kernels.pairing_check(G1_GEN[None], G2_GEN[None]) is False


def test_pairing_check_rejects_points_outside_the_groups():
    g1 = np.stack([G1_GEN, G1_GEN])
    g2 = np.stack([G2_GEN, G2_GEN])
    assert kernels.pairing_check(g1, g2) is False
    outside = g2.copy()
    outside[1] = twist_point_outside_g2()
    with pytest.raises(ValueError, match=r"g2_points\[1\] is on the twist curve but not in the prime-order subgroup"):
        kernels.pairing_check(g1, outside)
    with pytest.raises(ValueError, match="prime-order subgroup"):
        reference.pairing_check(g1, outside)
    with pytest.raises(ValueError, match=r"g2_points\[0\] is not on the BN254 G2 twist curve"):
        kernels.pairing_check(g1, np.stack([off_curve(G2_GEN), G2_GEN]))
    with pytest.raises(ValueError, match=r"g1_points\[1\] is not on the BN254 G1 curve"):
        kernels.pairing_check(np.stack([G1_GEN, off_curve(G1_GEN)]), g2)
    with pytest.raises(ValueError, match="as many G1 as G2 points"):
        kernels.pairing_check(g1, g2[:1])


# --- Poseidon --------------------------------------------------------------------------------


@pytest.mark.parametrize(("t", "rounds", "full"), [(2, 5, 2), (3, 9, 8), (5, 4, 0), (17, 10, 8)])
def test_poseidon_permute_matches_reference_for_any_parameters(pyrng, t, rounds, full):
    """The kernel is generic in its parameters: random constants and matrices, edges included."""
    states = random_fr(pyrng, 6 * t).reshape(6, t, 4)
    constants = random_fr(pyrng, rounds * t).reshape(rounds, t, 4)
    mds = random_fr(pyrng, t * t).reshape(t, t, 4)
    got = kernels.poseidon_permute(states, constants, mds, full)
    assert got.dtype == np.uint64 and got.shape == (6, t, 4)
    assert (got == reference.poseidon_permute(states, constants, mds, full)).all()
    # a full round and a partial one differ: the kernel reads full_rounds
    if full:
        assert (kernels.poseidon_permute(states, constants, mds, full - 2) != got).any()
    empty = np.zeros((0, t, 4), dtype=np.uint64)
    assert kernels.poseidon_permute(empty, constants, mds, full).shape == (0, t, 4)


def test_poseidon_permute_rejects_bad_arguments(pyrng):
    states = random_fr(pyrng, 6).reshape(2, 3, 4)
    constants = random_fr(pyrng, 12).reshape(4, 3, 4)
    mds = random_fr(pyrng, 9).reshape(3, 3, 4)
    bad = states.copy()
    bad[1, 2] = ints_to_limbs([FR_MODULUS])[0]
    with pytest.raises(ValueError, match=r"poseidon_permute: states\[5\] is not below the scalar field modulus"):
        kernels.poseidon_permute(bad, constants, mds, 2)
    with pytest.raises(ValueError, match=r"mds must have shape \(3, 3, 4\)"):
        kernels.poseidon_permute(states, constants, mds[:2], 2)
    with pytest.raises(ValueError, match=r"constants must have shape \(rounds, 3, 4\)"):
        kernels.poseidon_permute(states, constants[:, :2], mds, 2)
    with pytest.raises(ValueError, match=r"states must have shape \(n, t, 4\)"):
        kernels.poseidon_permute(states.reshape(6, 4), constants, mds, 2)
    for full in (3, 6):
        with pytest.raises(ValueError, match="full_rounds must be even and at most the 4 rounds"):
            kernels.poseidon_permute(states, constants, mds, full)


# --- multilinear tables and univariate polynomials (the sumcheck backend) ---------------------


@pytest.mark.parametrize("n", [1, 2, 5])
def test_mle_kernels_match_reference(pyrng, n):
    table, r = random_fr(pyrng, 1 << n), random_fr(pyrng, 1, edges=False)[0]
    assert (kernels.mle_fold(table, r) == reference.mle_fold(table, r)).all()
    point = random_fr(pyrng, n)
    assert (kernels.mle_eq_table(point) == reference.mle_eq_table(point)).all()
    # every table's entries sum to 1: sum_b eq(p, b) = prod_i ((1 - p_i) + p_i)
    assert sum(limbs_to_ints(kernels.mle_eq_table(point))) % FR_MODULUS == 1


@pytest.mark.parametrize("n", [1, 3, 6])
def test_sumcheck_round_matches_reference(pyrng, n):
    tables = random_fr(pyrng, 4 << n).reshape(4, 1 << n, 4)
    factors = [[0, 1, 2], [3], [1, 1], []]
    coefficients = random_fr(pyrng, len(factors))
    want = reference.sumcheck_round(tables, factors, coefficients, 3)
    assert (kernels.sumcheck_round(tables, factors, coefficients, 3) == want).all()
    # the round polynomial's values at 0 and 1 add up to the sum over the whole cube
    g = limbs_to_ints(want)
    rows = [limbs_to_ints(t) for t in tables]
    cs = limbs_to_ints(coefficients)
    total = sum(
        c * np.prod([rows[j][b] for j in term], dtype=object) for b in range(1 << n) for c, term in zip(cs, factors)
    )
    assert (g[0] + g[1] - total) % FR_MODULUS == 0


def test_sumcheck_round_spreads_over_threads(pyrng):
    """A table long enough to be split among threads: the parts add up to the whole, at X = 0, 1
    (the cube's sum) and at X = 2 (the tables with variable 0 bound to 2)."""
    n = 14
    tables = np.stack([random_fr(pyrng, 1 << n, edges=False), random_fr(pyrng, 1 << n, edges=False)])
    one = ints_to_limbs([1])
    g = limbs_to_ints(kernels.sumcheck_round(tables, [[0, 1]], one, 2))
    a, b = (limbs_to_ints(t) for t in tables)
    assert (g[0] + g[1]) % FR_MODULUS == sum(x * y for x, y in zip(a, b)) % FR_MODULUS
    at_two = [kernels.mle_fold(t, ints_to_limbs([2])[0]) for t in tables]
    ta, tb = (limbs_to_ints(t) for t in at_two)
    assert g[2] == sum(x * y for x, y in zip(ta, tb)) % FR_MODULUS


@pytest.mark.parametrize("n", [2, 9, 5000])
def test_polynomial_kernels_match_reference(pyrng, n):
    coeffs, points = random_fr(pyrng, n), random_fr(pyrng, 3)
    assert (kernels.poly_evaluate(coeffs, points) == reference.poly_evaluate(coeffs, points)).all()
    assert (kernels.poly_quotient(coeffs, points[0]) == reference.poly_quotient(coeffs, points[0])).all()


def test_multilinear_kernels_reject_bad_arguments(pyrng):
    with pytest.raises(ValueError, match="mle_fold: table must hold 2"):
        kernels.mle_fold(random_fr(pyrng, 3), random_fr(pyrng, 1)[0])
    with pytest.raises(ValueError, match=r"mle_fold: table\[1\] is not below the scalar field"):
        kernels.mle_fold(ints_to_limbs([0, FR_MODULUS]), random_fr(pyrng, 1)[0])
    tables = random_fr(pyrng, 8).reshape(2, 4, 4)
    with pytest.raises(ValueError, match="more than degree"):
        kernels.sumcheck_round(tables, [[0, 1, 1]], random_fr(pyrng, 1), 2)
    with pytest.raises(ValueError, match="names table 2"):
        kernels.sumcheck_round(tables, [[2]], random_fr(pyrng, 1), 2)
    with pytest.raises(ValueError, match="coefficients"):
        kernels.sumcheck_round(tables, [[0]], random_fr(pyrng, 2), 2)
    with pytest.raises(ValueError, match="must have shape"):
        kernels.sumcheck_round(random_fr(pyrng, 6).reshape(2, 3, 4), [[0]], random_fr(pyrng, 1), 2)
    with pytest.raises(ValueError, match="at least 2 coefficients"):
        kernels.poly_quotient(random_fr(pyrng, 1), random_fr(pyrng, 1)[0])


# --- the two native builds ------------------------------------------------------------------

# run in a process of its own with ZKMARKET_NATIVE set: that build's field, NTT and MSM kernels
# against py_ecc (sum s_i (k_i G) = (sum s_i k_i) G) and the pairing of e(aG1, G2) e(-G1, aG2)
BUILD_CHECK = """
import random, sys
import numpy as np
from py_ecc import optimized_bn128 as bn
from prover import kernels
from prover.field import FR_MODULUS as R, ints_to_limbs as L, limbs_to_ints as I
from prover.kernels import reference
assert kernels.NATIVE_BUILD == sys.argv[1], kernels.NATIVE_BUILD
rng = random.Random(7)
a, b = [rng.randrange(R) for _ in range(64)], [rng.randrange(R) for _ in range(64)]
assert I(kernels.fr_mul(L(a), L(b))) == [x * y % R for x, y in zip(a, b)]
assert (kernels.ntt(L(a)) == reference.ntt(L(a))).all()
GROUPS = (
    (bn.G1, reference.g1_to_array, kernels.g1_batch_mul, kernels.g1_msm, 300),
    (bn.G2, reference.g2_to_array, kernels.g2_batch_mul, kernels.g2_msm, 80),
)
for gen, to_array, batch_mul, msm, n in GROUPS:
    ks = [rng.randrange(R) for _ in range(n)]
    scalars = [rng.choice([rng.randrange(R), rng.randrange(64), R - rng.randrange(1, 64)]) for _ in range(n)]
    points = batch_mul(to_array(gen), L(ks))
    assert (points[1] == to_array(bn.multiply(gen, ks[1]))).all()
    assert (msm(points, L(scalars)) == to_array(bn.multiply(gen, sum(s * k for s, k in zip(scalars, ks)) % R))).all()
t = L(a)
assert (kernels.mle_fold(t, t[3]) == reference.mle_fold(t, t[3])).all()
pair = np.stack([t, L(b)])
assert (kernels.sumcheck_round(pair, [[0, 1]], t[:1], 2) == reference.sumcheck_round(pair, [[0, 1]], t[:1], 2)).all()
x = rng.randrange(R)
g1 = np.stack([reference.g1_to_array(bn.multiply(bn.G1, x)), reference.g1_to_array(bn.neg(bn.G1))])
g2 = np.stack([reference.g2_to_array(bn.G2), reference.g2_to_array(bn.multiply(bn.G2, x))])
assert kernels.pairing_check(g1, g2)
assert not kernels.pairing_check(g1[[0, 0]], g2)
print("ok")
"""


@pytest.mark.parametrize("build", ["portable", "adx"])
def test_each_native_build_matches_py_ecc(build):
    """Both builds (portable, and BMI2/ADX assembly where the CPU has it) against py_ecc, each
    forced by ZKMARKET_NATIVE in a process of its own; on a CPU without BMI2/ADX, forcing the
    ADX build is refused rather than run."""
    env = {**os.environ, "ZKMARKET_NATIVE": build}
    run = subprocess.run([sys.executable, "-c", BUILD_CHECK, build], capture_output=True, text=True, env=env)
    if build == "adx" and not kernels.cpu_has_adx():
        assert run.returncode != 0 and "lacks BMI2/ADX" in run.stderr
        return
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "ok"


# the ADCX and ADOX encodings (66 / F3, REX.W, 0F 38 F6): arkworks' assembly multiplication
# uses both; without ark-bn254's own asm feature the compiler's BMI2 code uses neither
ADCX_ADOX = re.compile(rb"[\x66\xf3][\x48-\x4f]\x0f\x38\xf6")


def test_only_the_adx_build_holds_the_assembly_multiplication():
    portable, adx = (path.read_bytes() for path in (kernels.PORTABLE, kernels.ADX))
    assert len(ADCX_ADOX.findall(adx)) > 1000
    assert not ADCX_ADOX.findall(portable)


def test_the_adx_build_is_taken_only_when_fresh(monkeypatch, tmp_path):
    """auto takes the ADX build on a CPU with BMI2/ADX unless the portable build is newer (a
    stale ADX build of older sources); an unknown ZKMARKET_NATIVE is refused."""
    portable, adx = tmp_path / "_native.abi3.so", tmp_path / "_native_adx.abi3.so"
    portable.write_bytes(b"")
    adx.write_bytes(b"")
    monkeypatch.setattr(kernels, "PORTABLE", portable)
    monkeypatch.setattr(kernels, "ADX", adx)
    monkeypatch.setattr(kernels, "cpu_has_adx", lambda: True)
    monkeypatch.delenv("ZKMARKET_NATIVE", raising=False)
    os.utime(portable, (1000, 1000))
    os.utime(adx, (2000, 2000))
    assert kernels.native_build() == "adx"
    os.utime(portable, (3000, 3000))
    assert kernels.native_build() == "portable"
    monkeypatch.setenv("ZKMARKET_NATIVE", "portable")
    os.utime(adx, (4000, 4000))
    assert kernels.native_build() == "portable"
    monkeypatch.setattr(kernels, "cpu_has_adx", lambda: False)
    monkeypatch.setenv("ZKMARKET_NATIVE", "auto")
    assert kernels.native_build() == "portable"
    monkeypatch.setenv("ZKMARKET_NATIVE", "fast")
    with pytest.raises(ValueError, match="ZKMARKET_NATIVE must be one of"):
        kernels.native_build()
