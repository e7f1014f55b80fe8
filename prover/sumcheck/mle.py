"""Multilinear extensions over Fr.

A table ``f`` of ``2^n`` field elements stands for the function on the Boolean cube whose value
at ``b = (b_0, ..., b_{n-1})`` is ``f[sum_i b_i 2^(n-1-i)]``: variable 0 is the most significant
bit of the index. Its multilinear extension is

    f~(x) = sum_b f[b] * eq(x, b),    eq(x, b) = prod_i (x_i b_i + (1 - x_i)(1 - b_i)),

the one polynomial of degree at most 1 in each variable that agrees with f on the cube.
Binding variable 0 to ``r`` (``fold``) gives the table of ``f~(r, x_1, ..., x_{n-1})``:
``(1 - r) * low + r * high`` over the two halves of the table.

A prover's table is an Fr limb array ``(2^n, 4)`` (``prover.field``), and the loops over it are
the ``mle_*`` kernels (``prover.kernels``, whose plain-Python reference the tests compare them
with); ``as_table`` makes one from ints or an int64 array. Points and single values are ints.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from prover import kernels
from prover.field import FR_MODULUS, LIMBS, ints_to_limbs, limbs_to_ints, signed_to_fr

R = FR_MODULUS


def n_variables(size: int) -> int:
    """n for a table of ``2^n`` values; ValueError for a size that is not a power of two."""
    if size < 1 or size & (size - 1):
        raise ValueError(f"a multilinear table has 2^n values, not {size}; pad it with zeros (padded)")
    return size.bit_length() - 1


def as_table(values) -> np.ndarray:
    """An Fr limb array from a limb array (kept), an int64 array (signed, ``x mod r``) or ints."""
    if isinstance(values, np.ndarray):
        if values.dtype == np.uint64 and values.ndim == 2 and values.shape[1] == LIMBS:
            return values
        if values.dtype.kind == "i":
            return signed_to_fr(values)
    return ints_to_limbs([int(v) % R for v in values])


def padded(values: Sequence[int], n: int | None = None) -> list[int]:
    """``values`` reduced mod r (so signed integers map to ``x mod r``) and padded with zeros to
    ``2^n`` entries (the next power of two when n is not given)."""
    size = len(values)
    if n is None:
        n = max(size - 1, 0).bit_length()
    if size > 1 << n:
        raise ValueError(f"{size} values do not fit a table of 2^{n}")
    return [int(v) % R for v in values] + [0] * ((1 << n) - size)


def element(value: int) -> np.ndarray:
    """One field element as the ``(4,)`` limbs a kernel takes."""
    return ints_to_limbs([value % R])[0]


def fold(table, r: int) -> np.ndarray:
    """The table of ``f~(r, x_1, ..., x_{n-1})``: variable 0 bound to r."""
    t = as_table(table)
    if len(t) < 2:
        raise ValueError("a table of one value has no variable left to bind")
    return kernels.mle_fold(t, element(r))


def evaluate(table, point: Sequence[int]) -> int:
    """``f~(point)``, binding the variables in order."""
    t = as_table(table)
    n = n_variables(len(t))
    if len(point) != n:
        raise ValueError(f"a table of {len(t)} values takes {n} coordinates, not {len(point)}")
    for r in point:
        t = kernels.mle_fold(t, element(r))
    return limbs_to_ints(t)[0]


def eq_table(point: Sequence[int]) -> np.ndarray:
    """The table of ``eq(point, b)`` over the cube (``2^n`` values, index order as above)."""
    if not point:
        return ints_to_limbs([1])
    return kernels.mle_eq_table(ints_to_limbs([int(r) % R for r in point]))


def eq(x: Sequence[int], y: Sequence[int]) -> int:
    """``eq(x, y) = prod_i (x_i y_i + (1 - x_i)(1 - y_i))`` at any two points."""
    if len(x) != len(y):
        raise ValueError("eq takes two points of one dimension")
    out = 1
    for a, b in zip(x, y, strict=True):
        out = out * (a * b + (1 - a) * (1 - b)) % R
    return out


def scaled(table: np.ndarray, c: int) -> np.ndarray:
    """``c * table``, element-wise."""
    return kernels.fr_mul(table, np.broadcast_to(element(c), table.shape).copy())


def matrix_table(rows: Sequence[Sequence[int]]) -> list[int]:
    """A matrix as one table: rows padded to a power of two, row index in the high bits, so that
    ``M~(x, y)`` takes the row variables first."""
    n_cols = max(len(rows[0]) - 1, 0).bit_length()
    n_rows = max(len(rows) - 1, 0).bit_length()
    out: list[int] = []
    for row in rows:
        out += padded(row, n_cols)
    return out + [0] * ((1 << (n_rows + n_cols)) - len(out))
