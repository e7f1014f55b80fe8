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
        return limbs_to_ints(self.factor_table(point))

    def factor_table(self, point: Sequence[int]) -> np.ndarray:
        """``factor`` as an Fr table: ``M^T eq(point, .)``, one sparse product."""
        return kernels.sparse_matvec(*self._transposed(), eq_table(point))

    def _transposed(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``M^T`` in CSR (rows q, columns k), built once per wiring."""
        cached = self.__dict__.get("_csr_t")
        if cached is None:
            ks, qs, ms = self._arrays()
            order = np.argsort(qs, kind="stable")
            indptr = np.zeros((1 << self.q_bits) + 1, dtype=np.int64)
            np.cumsum(np.bincount(qs, minlength=1 << self.q_bits), out=indptr[1:])
            cached = (indptr, ks[order], ms[order])
            object.__setattr__(self, "_csr_t", cached)
        return cached

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The entries as arrays: view indexes, source indexes, coefficients (Fr limbs)."""
        if not self.entries:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4), np.uint64)
        ks, qs, ms = zip(*self.entries, strict=True)
        coefficients = [m % R for m in ms]
        if max(coefficients) < 1 << 63:  # small ones (a channel wiring's 1s): one limb each
            limbs = np.zeros((len(coefficients), 4), dtype=np.uint64)
            limbs[:, 0] = coefficients
        else:
            limbs = ints_to_limbs(coefficients)
        return np.array(ks, np.int64), np.array(qs, np.int64), limbs

    def gather(self) -> np.ndarray | None:
        """The source index of each view index (-1 for none) when every view index has at most
        one entry and every coefficient is 1: the axis is a pure rearrangement."""
        if any(m != 1 for _, _, m in self.entries):
            return None
        ks = np.array([k for k, _, _ in self.entries], dtype=np.int64)
        if len(np.unique(ks)) != len(ks):
            return None
        out = np.full(1 << self.k_bits, -1, dtype=np.int64)
        out[ks] = [q for _, q, _ in self.entries]
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
        out = outer(out, axis.factor_table(r))
    return out


def predicate_at(axes: Sequence[Wiring], point: Sequence[int], rho: Sequence[int]) -> int:
    """``P_r~(rho)``: the product of each axis's factor at its part of rho (the verifier's)."""
    out = 1
    view_parts = split(point, [a.k_bits for a in axes])
    source_parts = split(rho, [a.q_bits for a in axes])
    for axis, r, s in zip(axes, view_parts, source_parts, strict=True):
        out = out * evaluate(axis.factor_table(r), s) % R
    return out


def apply(axes: Sequence[Wiring], table: np.ndarray, lead: int = 1) -> np.ndarray:
    """The view's table from the source's (the prover's): ``lead`` tables one after the other
    (a batch, kept as the high bits), each over the source's axes; an Fr limb array, or an
    int64 array for matrices of small integers (a max pool's 0/1 windows).

    The axes' matrices act on separate axes, so they are applied in any order: those that
    shrink their axis first (a conv's rows and columns, to its kernel's), those that grow it
    last (its channels, to every output channel's inputs), so that no intermediate table is
    larger than the source or the view. An axis that only rearranges is one gather; any other
    is one multiply-add per distinct (k, q) pair on the table's slices."""
    limbs = table.dtype == np.uint64
    tail = table.shape[1:] if limbs else ()
    t = table.reshape(lead, *(1 << a.q_bits for a in axes), *tail)
    for i in sorted(range(len(axes)), key=lambda a: axes[a].k_bits - axes[a].q_bits):
        t = _apply_axis(axes[i], t, i + 1, limbs)
    return t.reshape(-1, *tail)


def _apply_axis(axis: Wiring, t: np.ndarray, at: int, limbs: bool) -> np.ndarray:
    """``axis``'s matrix applied along axis ``at`` of ``t``."""
    sources = axis.gather()
    if sources is not None:
        present = sources >= 0
        out = np.take(t, np.where(present, sources, 0), axis=at)
        if not present.all():
            mask = [1] * out.ndim
            mask[at] = len(present)
            out = out * present.reshape(mask).astype(out.dtype)
        return np.ascontiguousarray(out)
    combined: dict[tuple[int, int], int] = {}
    for k, q, m in axis.entries:
        combined[(k, q)] = (combined.get((k, q), 0) + m) % R
    shape = list(t.shape)
    shape[at] = 1 << axis.k_bits
    out = np.zeros(shape, dtype=t.dtype)
    for (k, q), m in combined.items():
        source, target = t[_index(at - 1, q)], _index(at - 1, k)
        if limbs:
            flat = np.ascontiguousarray(source).reshape(-1, 4)
            if m != 1:
                flat = kernels.fr_mul(flat, np.broadcast_to(element(m), flat.shape).copy())
            current = np.ascontiguousarray(out[target]).reshape(-1, 4)
            out[target] = kernels.fr_add(current, flat).reshape(source.shape)
        else:
            out[target] += (m if m <= R // 2 else m - R) * source
    return out


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
