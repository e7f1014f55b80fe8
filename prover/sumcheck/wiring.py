"""Gathered views of a tensor: tables whose entries are fixed linear combinations of another
table's entries, one sparse matrix per axis.

A source table ``x`` over axes ``(q_1, .., q_m)`` (each padded to a power of two, the first the
most significant, as ``prover.sumcheck.mle`` orders an index) and one matrix per axis,
``M_a[k_a, q_a]``, define the view

    V[k_1, .., k_m] = sum_q M_1[k_1, q_1] .. M_m[k_m, q_m] x[q_1, .., q_m].

A convolution's operand (``X[o, c', ky, kx]``, the input entries each weight multiplies, already
summed over the output positions with eq weights), a max pool's shifted windows and a reshape
that moves entries are all such views. A claim about a view's extension reduces to one about
the source's: for a point ``r = (r_1, .., r_m)`` over the view's bits,

    V~(r) = sum_q P_r(q) x[q],    P_r(q) = prod_a F_a(q_a),    F_a(q) = sum_k eq(r_a, k) M_a[k, q],

a sumcheck of degree 2 over the source's bits (``prover.sumcheck.inference._gather``) whose last
step needs ``P_r~(rho) = prod_a F_a~(rho_a)``. Each factor is a table over one source axis made
from the matrix's non-zero entries and one eq table, so the verifier computes it itself in
``O(entries + 2^q_bits)`` per axis: a claim about a view costs it no more than its wiring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from prover import kernels
from prover.field import FR_MODULUS, ints_to_limbs, limbs_to_ints
from prover.sumcheck.mle import element, eq_table, evaluate

R = FR_MODULUS


@dataclass(frozen=True)
class Wiring:
    """One axis of a view: the matrix ``M[k, q]`` (view index ``k < 2^k_bits``, source index
    ``q < 2^q_bits``) as its entries ``(k, q, M[k, q])``; an index pair may repeat (the entries
    add up), and every pair not listed is zero."""

    k_bits: int
    q_bits: int
    entries: tuple[tuple[int, int, int], ...]

    def factor(self, point: Sequence[int]) -> list[int]:
        """``F(q) = sum_k eq(point, k) M[k, q]`` for every source index q."""
        e = limbs_to_ints(eq_table(point))
        out = [0] * (1 << self.q_bits)
        for k, q, m in self.entries:
            out[q] = (out[q] + e[k] * m) % R
        return out


def split(point: Sequence[int], bits: Sequence[int]) -> list[tuple[int, ...]]:
    """A point cut into consecutive pieces of the given lengths."""
    pieces, start = [], 0
    for b in bits:
        pieces.append(tuple(point[start : start + b]))
        start += b
    if start != len(point):
        raise ValueError(f"a point of {len(point)} coordinates does not split into {list(bits)}")
    return pieces


def outer(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The table of ``a[i] * b[j]`` with i in the high bits (Fr limb arrays)."""
    return kernels.fr_mul(np.repeat(a, len(b), axis=0), np.tile(b, (len(a), 1)))


def predicate_table(axes: Sequence[Wiring], point: Sequence[int]) -> np.ndarray:
    """``P_r(q)`` over the source's bits (the prover's table) for a point over the view's."""
    out = ints_to_limbs([1])
    for axis, r in zip(axes, split(point, [a.k_bits for a in axes]), strict=True):
        out = outer(out, ints_to_limbs(axis.factor(r)))
    return out


def predicate_at(axes: Sequence[Wiring], point: Sequence[int], rho: Sequence[int]) -> int:
    """``P_r~(rho)``: the product of each axis's factor at its part of rho (the verifier's)."""
    out = 1
    view_parts = split(point, [a.k_bits for a in axes])
    source_parts = split(rho, [a.q_bits for a in axes])
    for axis, r, s in zip(axes, view_parts, source_parts, strict=True):
        out = out * evaluate(ints_to_limbs(axis.factor(r)), s) % R
    return out


def apply(axes: Sequence[Wiring], table: np.ndarray, lead: int = 1) -> np.ndarray:
    """The view's table from the source's (the prover's): ``lead`` tables one after the other
    (a batch, kept as the high bits), each over the source's axes; an Fr limb array, or an
    int64 array for matrices of small integers (a max pool's 0/1 windows)."""
    limbs = table.dtype == np.uint64
    tail = table.shape[1:] if limbs else ()
    t = table.reshape(lead, *(1 << a.q_bits for a in axes), *tail)
    for i, axis in enumerate(axes):
        shape = list(t.shape)
        shape[i + 1] = 1 << axis.k_bits
        out = np.zeros(shape, dtype=t.dtype)
        for k, q, m in axis.entries:
            source, at = t[_index(i, q)], _index(i, k)
            if limbs:
                flat = np.ascontiguousarray(source).reshape(-1, 4)
                if m != 1:
                    flat = kernels.fr_mul(flat, np.broadcast_to(element(m), flat.shape).copy())
                target = np.ascontiguousarray(out[at]).reshape(-1, 4)
                out[at] = kernels.fr_add(target, flat).reshape(source.shape)
            else:
                out[at] += m * source
        t = out
    return t.reshape(-1, *tail)


def _index(axis: int, i: int) -> Any:
    """Index i of axis ``axis`` of a table with a leading batch axis."""
    return (*(slice(None),) * (axis + 1), i)


def window_positions(n_out: int, kernel: int, stride: int, pad: int, size: int) -> list[tuple[int, int, int]]:
    """``(p, k, q)`` for output position ``p < n_out`` and kernel position ``k < kernel`` whose
    input position ``q = p * stride + k - pad`` lies inside ``[0, size)``: the rows of a
    convolution's or a pool's window along one axis (zero padding: the others read nothing)."""
    out = []
    for p in range(n_out):
        for k in range(kernel):
            q = p * stride + k - pad
            if 0 <= q < size:
                out.append((p, k, q))
    return out
