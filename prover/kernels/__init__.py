"""Arithmetic kernels over BN254: the only layer that touches curve and field arithmetic in bulk.

Every function here is implemented natively in ``prover._native`` (Rust, arkworks) and, slowly,
in ``prover.kernels.reference`` (pure Python, py_ecc) that the native one is tested against.
No protocol logic lives at this layer.

Array layouts (all numpy ``uint64``, little-endian limbs, canonical form, C-contiguous):

- Fr / Fq element arrays: shape ``(n, 4)``; values below the modulus (see ``prover.field``).
- G1 affine points: shape ``(n, 2, 4)`` = ``[x, y]``; the point at infinity is all zeros.
- G2 affine points: shape ``(n, 2, 2, 4)`` = ``[x, y]`` with each coordinate ``[c0, c1]`` for
  ``c0 + c1*u`` (py_ecc's FQ2 order, real first; EVM calldata reverses it, see ``formats``).
  The point at infinity is all zeros.
- A single point is the same without the leading ``n`` axis.
- Sparse matrices are CSR: ``indptr`` int64 ``(rows+1,)``, ``indices`` int64 ``(nnz,)``,
  ``coeffs`` Fr ``(nnz, 4)``.

Kernels:

- ``to_montgomery(a, field)`` / ``from_montgomery(a, field)``, ``field`` in {"fr", "fq"}:
  multiply by R = 2^256 (resp. R^-1) mod p, for the snarkjs byte layouts.
- ``fr_add(a, b)``, ``fr_sub(a, b)``, ``fr_mul(a, b)``: element-wise.
- ``ntt(coeffs)``, ``intt(evals)``: evaluations at ``w^i`` with ``w = root_of_unity(n)``,
  ``n`` a power of two; ``coset_ntt(coeffs, shift)`` / ``coset_intt(evals, shift)``:
  evaluations at ``shift * w^i`` (``shift`` a Python int).
- ``coset_ab_minus_c(a, b, c, shift)``: from the evaluations of A, B, C at ``w^i``, those of
  ``A(x)B(x) - C(x)`` at ``shift * w^i`` (``coset_ntt(intt(.), shift)`` of each, then the
  product and difference, without converting the intermediate arrays).
- ``g1_intt(points)``, ``g2_intt(points)``: the inverse NTT over the group, ``out_i = (1/n) sum_j
  w^(-ij) P_j`` for a power-of-two run of points (phase-2 preparation's Lagrange bases).
- ``sparse_matvec(indptr, indices, coeffs, vector)``: CSR matrix times an Fr vector -> Fr array.
- ``g1_msm(points, scalars, montgomery=False)``, ``g2_msm(...)``: sum of ``s_i * P_i`` -> one
  point; with ``montgomery`` the points' coordinates are their Montgomery forms ``v R mod q``,
  as a .zkey stores them (read as they are, no conversion either way).
  Exact on G1 and G2; a twist point outside G2 is accepted, but its term may come out as
  ``s_i P_i - r P_i`` (a scalar above r/2 is taken as r - s on the negated point), so a key with
  such points gives proofs that do not verify.
- ``g1_batch_mul(base, scalars)``, ``g2_batch_mul``: ``[s_i * base]`` -> points.
- ``g1_sparse_lincomb(indptr, indices, coeffs, points)``, ``g2_...``: for each CSR row,
  ``sum coeffs[k] * points[indices[k]]`` -> points (used by setup).
- ``pairing_check(g1_points, g2_points)``: is ``prod e(P_i, Q_i) == 1``. Raises ValueError
  for a point off the curve or a G2 point outside the prime-order subgroup.
- ``poseidon_permute(states, constants, mds, full_rounds)``: the Poseidon permutation of each
  state, ``states`` ``(n, t, 4)``, round constants ``(rounds, t, 4)``, MDS matrix ``(t, t, 4)``;
  x^5 on every element in the first and last ``full_rounds / 2`` rounds, on the first in the
  partial rounds between (the parameters are the caller's: ``prover.poseidon``).
- Multilinear tables (the sumcheck backend; ``2^n`` Fr elements, variable 0 the most
  significant bit of the index, ``prover.sumcheck.mle``): ``mle_fold(table, r)`` binds variable
  0 to ``r`` (``lo + r (hi - lo)`` over the two halves); ``mle_eq_table(point)`` is the table of
  ``eq(point, b)``; ``sumcheck_round(tables, factors, coefficients, degree)``, tables
  ``(m, 2^n, 4)``, is the round polynomial ``sum_b sum_t c_t prod_{j in factors[t]} f_j(X, b)``
  at ``X = 0..degree`` -> ``(degree + 1, 4)``.
- Univariate polynomials (coefficients, lowest first): ``poly_evaluate(coeffs, points)`` ->
  the values at each point; ``poly_quotient(coeffs, x)`` -> ``(p(X) - p(x)) / (X - x)``.

Point-consuming kernels raise ValueError for a point that is not on its curve.
``BACKEND`` says, per kernel, whether the native or the reference implementation is in use;
the reference is used only while a native kernel does not exist, and a test requires all
kernels to be native.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from prover.field import root_of_unity  # noqa: F401  (the one NTT root choice)

PORTABLE = Path(__file__).resolve().parent.parent / "_native.abi3.so"
ADX = PORTABLE.with_name("_native_adx.abi3.so")
# ZKMARKET_NATIVE=portable|adx forces a build; auto (the default) takes the ADX build where the
# CPU has BMI2 and ADX and the build is not older than the portable one (a stale build of older
# sources is never taken)
BUILDS = ("auto", "portable", "adx")


def cpu_has_adx() -> bool:
    """Whether this CPU has the BMI2 (mulx) and ADX (adcx/adox) instructions (Linux flags)."""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return False
    return {"bmi2", "adx"} <= set(flags.split())


def native_build() -> str:
    """The build of the native crate this process loads: "adx" or "portable"."""
    choice = os.environ.get("ZKMARKET_NATIVE", "auto")
    if choice not in BUILDS:
        raise ValueError(f"ZKMARKET_NATIVE must be one of {', '.join(BUILDS)}, got {choice!r}")
    if choice == "adx":
        if not cpu_has_adx() or not ADX.exists():
            why = "the ADX build is missing: run `make install`" if cpu_has_adx() else "this CPU lacks BMI2/ADX"
            raise ImportError(f"ZKMARKET_NATIVE=adx, but {why}; or unset it")
        return "adx"
    fresh = ADX.exists() and (not PORTABLE.exists() or ADX.stat().st_mtime >= PORTABLE.stat().st_mtime)
    return "adx" if choice == "auto" and fresh and cpu_has_adx() else "portable"


def _load_adx():
    """The ADX build, registered as ``prover._native`` (its init symbol names it so)."""
    spec = importlib.util.spec_from_file_location("prover._native", ADX)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["prover._native"] = module
    return module


NATIVE_BUILD = native_build()
try:
    if NATIVE_BUILD == "adx":
        _native = _load_adx()
    else:
        from prover import _native
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "prover._native is not built: run `make install` (or `pip install -e .`) in the repository"
    ) from exc

KERNELS = (
    "to_montgomery",
    "from_montgomery",
    "fr_add",
    "fr_sub",
    "fr_mul",
    "ntt",
    "intt",
    "coset_ntt",
    "coset_intt",
    "coset_ab_minus_c",
    "g1_intt",
    "g2_intt",
    "sparse_matvec",
    "g1_msm",
    "g2_msm",
    "g1_batch_mul",
    "g2_batch_mul",
    "g1_sparse_lincomb",
    "g2_sparse_lincomb",
    "pairing_check",
    "poseidon_permute",
    "mle_fold",
    "mle_eq_table",
    "sumcheck_round",
    "poly_evaluate",
    "poly_quotient",
)

if TYPE_CHECKING:  # the type checker sees the reference signatures; the names are bound below
    from prover.kernels.reference import (  # noqa: F401
        coset_ab_minus_c,
        coset_intt,
        coset_ntt,
        fr_add,
        fr_mul,
        fr_sub,
        from_montgomery,
        g1_batch_mul,
        g1_intt,
        g1_msm,
        g1_sparse_lincomb,
        g2_batch_mul,
        g2_intt,
        g2_msm,
        g2_sparse_lincomb,
        intt,
        mle_eq_table,
        mle_fold,
        ntt,
        pairing_check,
        poly_evaluate,
        poly_quotient,
        poseidon_permute,
        sparse_matvec,
        sumcheck_round,
        to_montgomery,
    )

# the reference (and py_ecc with it) is imported only if some kernel is not native: a prover
# process starts without it
BACKEND: dict[str, str] = {}
for _name in KERNELS:
    if hasattr(_native, _name):
        globals()[_name] = getattr(_native, _name)
        BACKEND[_name] = "native"
    else:
        globals()[_name] = getattr(importlib.import_module("prover.kernels.reference"), _name)
        BACKEND[_name] = "reference"
del _name
