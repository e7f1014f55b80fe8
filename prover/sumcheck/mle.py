"""Multilinear extensions over Fr: the plain-Python reference.

A table ``f`` of ``2^n`` field elements (ints below r) stands for the function on the Boolean
cube whose value at ``b = (b_0, ..., b_{n-1})`` is ``f[sum_i b_i 2^(n-1-i)]``: variable 0 is the
most significant bit of the index. Its multilinear extension is

    f~(x) = sum_b f[b] * eq(x, b),    eq(x, b) = prod_i (x_i b_i + (1 - x_i)(1 - b_i)),

the one polynomial of degree at most 1 in each variable that agrees with f on the cube.
Binding variable 0 to ``r`` (``fold``) gives the table of ``f~(r, x_1, ..., x_{n-1})``:
``(1 - r) * low + r * high`` over the two halves of the table.
"""

from __future__ import annotations

from collections.abc import Sequence

from prover.field import FR_MODULUS

R = FR_MODULUS


def n_variables(size: int) -> int:
    """n for a table of ``2^n`` values; ValueError for a size that is not a power of two."""
    if size < 1 or size & (size - 1):
        raise ValueError(f"a multilinear table has 2^n values, not {size}; pad it with zeros (padded)")
    return size.bit_length() - 1


def padded(values: Sequence[int], n: int | None = None) -> list[int]:
    """``values`` reduced mod r (so signed integers map to ``x mod r``) and padded with zeros to
    ``2^n`` entries (the next power of two when n is not given)."""
    size = len(values)
    if n is None:
        n = max(size - 1, 0).bit_length()
    if size > 1 << n:
        raise ValueError(f"{size} values do not fit a table of 2^{n}")
    return [int(v) % R for v in values] + [0] * ((1 << n) - size)


def fold(table: Sequence[int], r: int) -> list[int]:
    """The table of ``f~(r, x_1, ..., x_{n-1})``: variable 0 bound to r."""
    half = len(table) // 2
    if half == 0:
        raise ValueError("a table of one value has no variable left to bind")
    return [(lo + r * (hi - lo)) % R for lo, hi in zip(table[:half], table[half:], strict=True)]


def evaluate(table: Sequence[int], point: Sequence[int]) -> int:
    """``f~(point)``, binding the variables in order."""
    if len(point) != n_variables(len(table)):
        raise ValueError(
            f"a table of {len(table)} values takes {n_variables(len(table))} coordinates, not {len(point)}"
        )
    current = [int(v) % R for v in table]
    for r in point:
        current = fold(current, r)
    return current[0]


def eq_table(point: Sequence[int]) -> list[int]:
    """The table of ``eq(point, b)`` over the cube (``2^n`` values, index order as above)."""
    table = [1]
    for r in point:
        # the new variable is the least significant bit so far: each entry splits in two
        table = [v * w % R for v in table for w in (1 - r, r)]
    return table


def eq(x: Sequence[int], y: Sequence[int]) -> int:
    """``eq(x, y) = prod_i (x_i y_i + (1 - x_i)(1 - y_i))`` at any two points."""
    if len(x) != len(y):
        raise ValueError("eq takes two points of one dimension")
    out = 1
    for a, b in zip(x, y, strict=True):
        out = out * (a * b + (1 - a) * (1 - b)) % R
    return out


def matrix_table(rows: Sequence[Sequence[int]]) -> list[int]:
    """A matrix as one table: rows padded to a power of two, row index in the high bits, so that
    ``M~(x, y)`` takes the row variables first."""
    n_cols = max(len(rows[0]) - 1, 0).bit_length()
    n_rows = max(len(rows) - 1, 0).bit_length()
    out: list[int] = []
    for row in rows:
        out += padded(row, n_cols)
    return out + [0] * ((1 << (n_rows + n_cols)) - len(out))
