"""The R1CS-to-QAP reduction that snarkjs proving keys expect.

A circuit's constraints are laid out on the rows of an evaluation domain of size ``n`` (a power
of two, the ``n``-th roots of unity ``w^i``): row ``i`` holds constraint ``i``; after the
constraints come one row per public wire and the constant wire, where ``A`` selects that wire
(``A[n_constraints + j][j] = 1`` for ``j = 0..n_public``) and ``B`` is empty. These extra rows
make the public-input points of the key linearly independent (without them a prover could shift
weight between public wires). The polynomials ``A(x)``, ``B(x)``, ``C(x)`` interpolate ``A.w``,
``B.w``, ``C.w`` on the domain, and a witness satisfies the constraints exactly when
``A(x)B(x) - C(x)`` vanishes on the domain, i.e. equals ``H(x) Z(x)`` with ``Z(x) = x^n - 1``.

snarkjs's reduction (arkworks' ark-circom calls it ``CircomReduction``) does not divide by
``Z``. It evaluates ``A(x)B(x) - C(x)`` on the odd powers of the ``2n``-th root of unity
(the coset ``w_2n * <w_n>``, where ``Z = -2`` is constant), and its key's H points are the
odd-index Lagrange points of the ``2n`` domain: since ``AB - C`` has degree below ``2n`` and
vanishes on the even-index points, ``sum_j p(w_2n^(2j+1)) L_(2j+1)(tau) = A(tau)B(tau) - C(tau)``.
``C``'s evaluations are taken as ``A.w * B.w`` per row (true for a satisfying witness), so the
prover never needs the C matrix.

The reduction is swappable: :func:`circom_quotient` is the witness side, and
:func:`circom_h_query` the matching key side; a different reduction (e.g. the textbook
division by ``Z`` on a coset) would replace both.
"""

from __future__ import annotations

import numpy as np

from prover import kernels
from prover.field import LIMBS, ints_to_limbs
from prover.r1cs import R1CS, SparseMatrix


def domain_size(n_constraints: int, n_public: int) -> int:
    """The evaluation domain snarkjs uses: the smallest power of two holding the constraints,
    the public rows and the constant-wire row."""
    rows = n_constraints + n_public + 1
    return 1 << max(0, (rows - 1).bit_length())


def qap_matrices(r1cs: R1CS) -> tuple[SparseMatrix, SparseMatrix]:
    """``A`` and ``B`` over the domain rows: the constraints, then ``A[n_constraints + j][j] = 1``
    for ``j = 0..n_public`` (``B`` has no entries on those rows). Entry order within a row is the
    circuit's, as the .zkey coefficient section keeps it."""
    n_extra = r1cs.n_public + 1
    a = r1cs.A
    extra_ptr = a.indptr[-1] + np.arange(1, n_extra + 1, dtype=np.int64)
    a_qap = SparseMatrix(
        np.concatenate([a.indptr.astype(np.int64), extra_ptr]),
        np.concatenate([a.indices.astype(np.int64), np.arange(n_extra, dtype=np.int64)]),
        np.concatenate([a.coeffs, ints_to_limbs([1] * n_extra)]),
    )
    b = r1cs.B
    b_qap = SparseMatrix(
        np.concatenate([b.indptr.astype(np.int64), np.full(n_extra, b.indptr[-1], dtype=np.int64)]),
        b.indices.astype(np.int64),
        b.coeffs,
    )
    return a_qap, b_qap


def evaluations(
    a_qap: SparseMatrix, b_qap: SparseMatrix, witness: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``A.w``, ``B.w`` on the ``n`` domain rows (zero past the used rows) and ``C`` taken as
    their product."""
    a = _pad(a_qap.dot(witness), n)
    b = _pad(b_qap.dot(witness), n)
    return a, b, kernels.fr_mul(a, b)


def _pad(values: np.ndarray, n: int) -> np.ndarray:
    if len(values) == n:
        return values
    out = np.zeros((n, LIMBS), dtype=np.uint64)
    out[: len(values)] = values
    return out


def circom_quotient(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The values ``A(x)B(x) - C(x)`` at ``x = w_2n^(2j+1)``, ``j = 0..n-1``, from the domain
    evaluations of A, B, C: the scalars the key's H points are paired with."""
    return kernels.coset_ab_minus_c(a, b, c, kernels.root_of_unity(2 * len(a)))


def circom_h_query(lagrange_g1_2n: np.ndarray) -> np.ndarray:
    """The key side of :func:`circom_quotient`: the odd-index points of the ``2n``-domain
    Lagrange basis in G1 (``L_(2j+1)(tau) G1``)."""
    return np.ascontiguousarray(lagrange_g1_2n[1::2])
