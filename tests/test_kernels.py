"""The native kernels (prover._native) against the py_ecc reference (prover.kernels.reference).

Reference comparisons stay small because py_ecc is slow; larger sizes are checked against
algebraic identities of the native kernels themselves (roundtrips, linearity).
"""

import random

import numpy as np
import pytest

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
        for i, edge in enumerate([0, 1, FR_MODULUS - 1][:n]):
            values[pyrng.randrange(n) if n > 3 else i] = edge
    return ints_to_limbs(values)


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


def test_ntt_uses_the_snarkjs_root_of_unity():
    # the polynomial x evaluates to the domain points themselves
    n = 16
    x = ints_to_limbs([0, 1] + [0] * (n - 2))
    w = reference.root_of_unity(n)
    assert limbs_to_ints(kernels.ntt(x)) == [pow(w, i, FR_MODULUS) for i in range(n)]
    assert w == pow(5, (FR_MODULUS - 1) // n, FR_MODULUS)


def test_ntt_roundtrip_and_convolution_at_2_16(pyrng):
    n = 1 << 16
    a, b = random_fr(pyrng, n, edges=False), random_fr(pyrng, n, edges=False)
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
    # a zero shift is a degenerate but valid evaluation: every point is 0
    coeffs = random_fr(pyrng, 4)
    assert (kernels.coset_ntt(coeffs, 0) == reference.coset_ntt(coeffs, 0)).all()
