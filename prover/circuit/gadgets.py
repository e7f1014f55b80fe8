"""Gadgets: constraints and witness steps for whole tensors at once.

Each gadget takes a ``Builder`` and tensors of wires or ``LinComb``s, adds its constraints in
bulk, records the witness step that computes the wires it allocates, and says in its docstring
exactly what its constraints enforce. "k-bit signed" means a value in [-2^(k-1), 2^(k-1)).
Preconditions on inputs ("a is k-bit signed") are facts the caller's constraints already
enforce (a range check upstream, or a bound that follows from range-checked operands);
the gadgets never re-check them.

A witness value that breaks a range (a model fed an input outside its quantized range) raises
``ValueRangeError`` during witness generation rather than producing an unsatisfiable witness.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from prover import poseidon as hash_spec
from prover.circuit.builder import INT64_SAFE, Builder, LinComb, concatenate
from prover.errors import ValueRangeError
from prover.field import FR_MODULUS

# 2^(k + shift) must stay below r for a decomposition to be unique; r > 2^253
MAX_DECOMPOSITION_BITS = 253
MAX_INT_BITS = 62  # witness values of range-checked wires are int64


def _ones(shape) -> LinComb:
    return LinComb.constant(np.ones(shape, dtype=np.int64))


def _zeros(shape) -> LinComb:
    return LinComb.constant(np.zeros(shape, dtype=np.int64))


def _check_bits(k: int) -> None:
    if not 0 <= k <= MAX_INT_BITS:
        raise ValueError(f"range checks take 0..{MAX_INT_BITS} bits, got {k}")


def _check_range(values: np.ndarray, lo: int, hi: int, what: str) -> None:
    if values.size and (values.min() < lo or values.max() > hi):
        bad = values[(values < lo) | (values > hi)].ravel()[0]
        raise ValueRangeError(
            f"{what}: value {bad} is outside [{lo}, {hi}]; the input is outside the range the model was quantized for"
        )


def checked_product(a: np.ndarray, b: np.ndarray, what: str = "product") -> np.ndarray:
    """Element-wise a*b in int64, raising instead of wrapping."""
    bound = max(int(np.abs(a).max(initial=0)), 1) * max(int(np.abs(b).max(initial=0)), 1)
    if bound >= INT64_SAFE:
        raise ValueRangeError(f"{what} does not fit in 62 bits; the quantized model overflows")
    return a * b


# --- bits and ranges -------------------------------------------------------------------------


def booleans(b: Builder, bits: np.ndarray) -> None:
    """Constrain each wire of ``bits`` to be 0 or 1: bit * (bit - 1) = 0."""
    bits_lc = LinComb.of(bits)
    b.constrain(bits_lc, bits_lc - 1, _zeros(bits.shape))


def unsigned_bits(b: Builder, x, k: int, what: str = "range check") -> np.ndarray:
    """Bits (shape ``(*x.shape, k)``, least significant first) with x = sum_i 2^i bit_i and
    each bit in {0, 1}: enforces x in [0, 2^k). k + 1 constraints per element."""
    _check_bits(k)
    x = LinComb.lift(x)
    bits = b.alloc(x.shape + (k,))
    booleans(b, bits)
    weights = np.array([1 << i for i in range(k)], dtype=np.int64)
    b.constrain_zero(x - (LinComb.of(bits) * weights).sum())

    def step(v):
        xv = v.eval(x)
        _check_range(xv, 0, (1 << k) - 1, what)
        v.set(bits, (xv[..., None] >> np.arange(k, dtype=np.int64)) & 1)

    b.step(step)
    return bits


def signed_bits(b: Builder, x, k: int, what: str = "range check") -> np.ndarray:
    """Bits of x + 2^(k-1): enforces x k-bit signed. The top bit is 1 exactly when x >= 0."""
    if k < 1:
        raise ValueError("a signed range needs at least 1 bit")
    return unsigned_bits(b, LinComb.lift(x) + (1 << (k - 1)), k, what)


def from_bits(bits: np.ndarray) -> LinComb:
    """The value sum_i 2^i bit_i that ``unsigned_bits`` decomposed (free)."""
    weights = np.array([1 << i for i in range(bits.shape[-1])], dtype=np.int64)
    return (LinComb.of(bits) * weights).sum()


def from_signed_bits(bits: np.ndarray) -> LinComb:
    """The value sum_i 2^i bit_i - 2^(k-1) that ``signed_bits`` decomposed (free)."""
    return from_bits(bits) - (1 << (bits.shape[-1] - 1))


def one_hot(b: Builder, bits: np.ndarray) -> LinComb:
    """The one-hot e (shape ``(*bits.shape[:-1], 2^m)``) of the m-bit index v = sum_i 2^i bit_i
    given ``bits``, already constrained boolean (a range check's bits): e_j = 1 exactly for
    j = v, as products of bits.

    From the one-hot E of the first i bits (sum 1), the next bit b gives P_j = E_j * b (one
    constraint for every j but the last, whose P is b - sum of the others: then it is
    b * (1 - sum of the others' E) = b * E_last as sum E = 1) and the new one-hot (E - P, P).
    2^m - m - 1 constraints per element."""
    m = bits.shape[-1]
    if m < 1:
        raise ValueError("a one-hot needs at least one bit")
    first = LinComb.of(bits[..., 0])
    e = concatenate([(1 - first).reshape(*first.shape, 1), first.reshape(*first.shape, 1)], axis=-1)
    for i in range(1, m):
        bit = LinComb.of(bits[..., i])
        n = e.shape[-1]
        head = LinComb.of(multiply(b, _column(e, slice(0, n - 1)), bit.reshape(*bit.shape, 1)))
        last = bit - head.sum()
        p = concatenate([head, last.reshape(*last.shape, 1)], axis=-1)
        e = concatenate([e - p, p], axis=-1)
    return e


# --- arithmetic ------------------------------------------------------------------------------


def rescale(b: Builder, x, shift: int, out_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """q = floor(x / 2^shift), range checked as ``out_bits``-bit signed.

    Constraints: x = 2^shift * q + rem with rem in [0, 2^shift) (bits) and q + 2^(out_bits-1)
    in [0, 2^out_bits) (bits). As out_bits + shift <= 253 < log2(r), the pair (q, rem) is unique
    for every field value of x, so q is exactly the floor and nothing wraps mod r.
    Returns (q wires, q's signed bits). shift + out_bits + 2 constraints per element."""
    if shift < 0 or shift + out_bits > MAX_DECOMPOSITION_BITS:
        raise ValueError(f"rescale needs 0 <= shift and shift + out_bits <= {MAX_DECOMPOSITION_BITS}")
    x = LinComb.lift(x)
    q = b.alloc(x.shape)
    rem_bits = b.alloc(x.shape + (shift,))
    booleans(b, rem_bits)
    weights = np.array([1 << i for i in range(shift)], dtype=np.int64)
    rem = (LinComb.of(rem_bits) * weights).sum()
    b.constrain_zero(x - LinComb.of(q) * (1 << shift) - rem)

    def step(v):
        xv = v.eval(x)
        qv = xv >> shift
        v.set(q, qv)
        v.set(rem_bits, ((xv - (qv << shift))[..., None] >> np.arange(shift, dtype=np.int64)) & 1)

    b.step(step)
    q_bits = signed_bits(b, q, out_bits, what="rescale output")
    return q, q_bits


def divide(b: Builder, n, d, d_bits: int, q_bits: int, what: str = "divide") -> tuple[np.ndarray, np.ndarray]:
    """q = floor(n / d) element-wise (numpy broadcasting: a divisor per row serves its row).

    Enforces d in [1, 2^d_bits] (d - 1 range checked once per element of d), and with witness
    q and r: q * d + r = n, r and d - 1 - r in [0, 2^d_bits) (so 0 <= r < d), q ``q_bits``-bit
    signed. As q_bits + d_bits + 1 <= 253, q * d + r cannot wrap mod r: for an integer n the
    equation holds over the integers and q is exactly the floor. A d <= 0 or a quotient outside
    its bits has no witness (ValueRangeError while it is computed). Returns (q wires, q's signed
    bits). Per element of q: 2 * d_bits + q_bits + 4 constraints, plus d_bits + 1 per element of d."""
    if d_bits < 1 or q_bits + d_bits + 1 > MAX_DECOMPOSITION_BITS:
        raise ValueError(f"divide needs 1 <= d_bits and q_bits + d_bits < {MAX_DECOMPOSITION_BITS}")
    n, d = LinComb.lift(n), LinComb.lift(d)
    # the product reads d from its bits: the same value, and a sum of bits times q stays
    # linear for the solver-based soundness tests
    d = from_bits(unsigned_bits(b, d - 1, d_bits, what=f"{what}: divisor")) + 1
    shape = np.broadcast_shapes(n.shape, d.shape)
    q, r = b.alloc(shape), b.alloc(shape)

    def step(v):  # after the divisor's range check: d >= 1 here
        nv, dv = np.broadcast_arrays(v.eval(n), v.eval(d))
        qv = nv // dv
        v.set(q, qv)
        v.set(r, nv - checked_product(qv, dv, what))

    b.step(step)
    b.constrain(LinComb.of(q), d, n - LinComb.of(r))
    unsigned_bits(b, r, d_bits, what=f"{what}: remainder")
    unsigned_bits(b, d - 1 - LinComb.of(r), d_bits, what=f"{what}: remainder")
    return q, signed_bits(b, q, q_bits, what=f"{what}: quotient")


def floor_sqrt(n: np.ndarray) -> np.ndarray:
    """floor(sqrt(n)) of non-negative int64 values, exactly (the float root corrected)."""
    n = np.asarray(n, dtype=np.int64)
    q = np.floor(np.sqrt(n.astype(np.float64))).astype(np.int64)
    for _ in range(2):  # the float root is off by at most one below 2^62
        q -= (q * q > n).astype(np.int64)
        q += ((q + 1) * (q + 1) <= n).astype(np.int64)
    return q


def isqrt(b: Builder, n, q_bits: int, what: str = "sqrt") -> np.ndarray:
    """q = floor(sqrt(n)) element-wise, for n in [0, 2^(2 q_bits)).

    Enforces q in [0, 2^q_bits) (bits) and, with s = q * q (one product), n - s and
    2q - (n - s) in [0, 2^(q_bits+1)): q^2 <= n <= q^2 + 2q < (q+1)^2. Nothing wraps
    (2 q_bits + 2 <= 253), so for an integer n this holds over the integers: n >= 0 and q is
    its floor square root; a negative n has no witness (ValueRangeError while it is computed).
    3 q_bits + 6 constraints per element."""
    if q_bits < 1 or 2 * q_bits + 2 > MAX_DECOMPOSITION_BITS:
        raise ValueError(f"isqrt needs 1 <= q_bits <= {(MAX_DECOMPOSITION_BITS - 2) // 2}")
    n = LinComb.lift(n)
    q = b.alloc(n.shape)

    def step(v):
        nv = v.eval(n)
        _check_range(nv, 0, INT64_SAFE, f"{what}: operand")
        v.set(q, floor_sqrt(nv))

    b.step(step)
    q_value = from_bits(unsigned_bits(b, q, q_bits, what=f"{what}: root"))  # q, as in ``divide``
    rest = n - LinComb.of(multiply(b, q_value, q))
    unsigned_bits(b, rest, q_bits + 1, what=f"{what}: remainder")
    unsigned_bits(b, LinComb.of(q) * 2 - rest, q_bits + 1, what=f"{what}: remainder")
    return q


def relu(b: Builder, x, sign_bits: np.ndarray) -> np.ndarray:
    """y = max(x, 0) given ``sign_bits``, the ``signed_bits`` decomposition of x (whose top bit
    is 1 exactly when x >= 0): one constraint y = top_bit * x per element."""
    x = LinComb.lift(x)
    sign = sign_bits[..., -1]
    y = b.alloc(x.shape)
    b.constrain(LinComb.of(sign), x, LinComb.of(y))
    b.step(lambda v: v.set(y, np.maximum(v.eval(x), 0)))
    return y


def multiply(b: Builder, x, y) -> np.ndarray:
    """z = x * y element-wise (numpy broadcasting): one constraint per element. With x is y this
    is the quadratic activation x^2."""
    x, y = LinComb.lift(x), LinComb.lift(y)
    z = b.alloc(np.broadcast_shapes(x.shape, y.shape))
    b.constrain(x, y, LinComb.of(z))
    b.step(lambda v: v.set(z, checked_product(v.eval(x), v.eval(y))))
    return z


def at_least(b: Builder, x, y, bits: int, what: str = "comparison") -> np.ndarray:
    """Bit wires s with s = 1 exactly when x >= y, element-wise, for ``bits``-bit signed x and y:
    d = x - y lies in [-2^bits, 2^bits), so its (bits+1)-bit signed decomposition exists and is
    unique, and its top bit is the sign. bits + 2 constraints per element."""
    d = LinComb.lift(x) - LinComb.lift(y)
    return signed_bits(b, d, bits + 1, what=what)[..., -1]


def maximum(b: Builder, x, y, bits: int) -> np.ndarray:
    """m = max(x, y) element-wise for ``bits``-bit signed x and y.

    s = ``at_least(x, y)`` and s * (x - y) = m - y give m = y + s*(x - y). bits + 3 constraints
    per element."""
    x, y = LinComb.lift(x), LinComb.lift(y)
    d = x - y
    s = at_least(b, x, y, bits, what="max")
    m = b.alloc(d.shape)
    b.constrain(LinComb.of(s), d, LinComb.of(m) - y)
    b.step(lambda v: v.set(m, np.maximum(v.eval(x), v.eval(y))))
    return m


def minimum(b: Builder, x, y, bits: int) -> LinComb:
    """min(x, y) = x + y - max(x, y) element-wise for ``bits``-bit signed x and y: the
    constraints of ``maximum``, and a free linear combination."""
    x, y = LinComb.lift(x), LinComb.lift(y)
    return x + y - LinComb.of(maximum(b, x, y, bits))


def sign_select(b: Builder, x, sign_bits: np.ndarray, positive: int, negative) -> LinComb:
    """``positive * x`` where x >= 0 and ``negative * x`` where x < 0, given ``sign_bits``, the
    ``signed_bits`` decomposition of x (top bit 1 exactly when x >= 0): one constraint
    p = top_bit * x per element, then ``negative * x + (positive - negative) * p`` (free).
    |x| is (1, -1), a leaky ReLU with slope a at scale t is (2^t, a); ``negative`` may be an
    array broadcast against x (PRelu's slope per channel)."""
    x = LinComb.lift(x)
    sign = sign_bits[..., -1]
    p = b.alloc(x.shape)
    b.constrain(LinComb.of(sign), x, LinComb.of(p))
    b.step(lambda v: v.set(p, np.where(v.get(sign) == 1, v.eval(x), 0)))
    return x * negative + LinComb.of(p) * (positive - negative)


def _column(x: LinComb, sl) -> LinComb:
    """x[..., sl] over the last *shape* axis (the term axis stays last)."""
    return LinComb(x.wires[..., sl, :], x.coeffs[..., sl, :])


def max_reduce(b: Builder, x: LinComb, bits: int) -> np.ndarray:
    """Maximum over the last axis of ``bits``-bit signed x, by a tree of ``maximum``s
    (n - 1 of them per row, one batch per tree level)."""
    cur = LinComb.lift(x)
    while cur.shape[-1] > 1:
        n = cur.shape[-1]
        pairs = n // 2
        m = LinComb.of(maximum(b, _column(cur, slice(0, 2 * pairs, 2)), _column(cur, slice(1, 2 * pairs, 2)), bits))
        cur = concatenate([m, _column(cur, slice(n - 1, n))], axis=-1) if n % 2 else m
    return b.materialize(_column(cur, 0))


def argmax(b: Builder, x, bits: int) -> np.ndarray:
    """The label: the lowest index of a maximum of the vector x (``bits``-bit signed values).

    Witness: a one-hot e (bits, sum e = 1), m with e_i * (x_i - m) = 0 (so m = x_label), and
    for every j, m - x_j - before_j in [0, 2^(bits+1)) where before_j = 1 - sum_{i<=j} e_i is 1
    for j < label: so m >= every x_j and m > x_j before the label. label = sum_i i * e_i.
    Returns the label wire (shape ())."""
    x = LinComb.lift(x)
    (n,) = x.shape
    e, m, label = b.alloc((n,)), b.alloc(()), b.alloc(())

    def step(v):  # recorded first: the range check below reads m and e
        xv = v.eval(x)
        lab = int(np.argmax(xv))  # numpy returns the first maximum
        v.set(e, np.arange(n) == lab)
        v.set(m, xv[lab])
        v.set(label, lab)

    b.step(step)
    booleans(b, e)
    b.constrain_zero(LinComb.of(e).sum() - 1)
    b.constrain(LinComb.of(e), x - LinComb.of(m), _zeros((n,)))
    lower = np.tril(np.ones((n, n), dtype=np.int64))  # lower[j, i] = 1 for i <= j
    before = 1 - LinComb(np.broadcast_to(e, (n, n)).copy(), lower)
    unsigned_bits(b, LinComb.of(m) - x - before, bits + 1, what="argmax")
    b.constrain_zero(LinComb.of(label) - (LinComb.of(e) * np.arange(n, dtype=np.int64)).sum())
    return label


def path_indicators(b: Builder, go, true_child, false_child, roots, n_leaves: int) -> LinComb:
    """The leaf indicators of a forest of binary trees: e (shape ``(n_leaves,)``) with e_j = 1
    exactly for the leaf that each tree's path reaches, 0 for every other leaf.

    Internal node i sends its path to ``true_child[i]`` where ``go[i]`` = 1 and to
    ``false_child[i]`` otherwise; a child (and a root of ``roots``) is an internal node's index
    (>= 0) or ``-1 - j`` for leaf j. ``go`` holds wires already constrained boolean, the nodes
    form trees (every node one parent, every leaf one tree) and a parent's index is below its
    children's. Top down: ind(root) = 1, t = ind(i) * go_i, ind(true child) = t and
    ind(false child) = ind(i) - t; by induction on the depth each tree's indicators are 0/1 and
    sum to 1, so exactly the reached leaf is 1. One constraint per internal node that is not a
    root (a root's t is its ``go`` wire), one batch per depth."""
    go = np.asarray(go, dtype=np.int64)
    terms: dict[int, list[tuple[int, int]]] = {int(r): [(0, 1)] for r in roots}
    level, at_roots = [int(r) for r in roots if r >= 0], True
    while level:
        bits = go[level]
        t = bits if at_roots else multiply(b, _terms_lc([terms[i] for i in level]), LinComb.of(bits))
        following = []
        for i, wire in zip(level, t.tolist()):
            terms[int(true_child[i])] = [(wire, 1)]
            terms[int(false_child[i])] = terms[i] + [(wire, -1)]
            following += [int(c) for c in (true_child[i], false_child[i]) if c >= 0]
        level, at_roots = following, False
    missing = [j for j in range(n_leaves) if -1 - j not in terms]
    if missing:
        raise ValueError(f"leaves {missing[:5]} are reached by no tree")
    return _terms_lc([terms[-1 - j] for j in range(n_leaves)])


def _terms_lc(rows: list[list[tuple[int, int]]]) -> LinComb:
    """A vector of linear combinations given as lists of (wire, coefficient), padded with zeros."""
    width = max(len(r) for r in rows)
    wires = np.zeros((len(rows), width), dtype=np.int64)
    coeffs = np.zeros((len(rows), width), dtype=np.int64)
    for k, row in enumerate(rows):
        wires[k, : len(row)] = [w for w, _ in row]
        coeffs[k, : len(row)] = [c for _, c in row]
    return LinComb(wires, coeffs)


def is_equal(b: Builder, x, y) -> np.ndarray:
    """Wires e with e = 1 if x == y (as field elements) and e = 0 otherwise, element-wise.

    With d = x - y and a witness inverse i: d * i = 1 - e and d * e = 0. If d = 0 the first
    forces e = 1; if d != 0 the second forces e = 0 (and i = 1/d satisfies the first)."""
    d = LinComb.lift(x) - LinComb.lift(y)
    inv, e = b.alloc(d.shape), b.alloc(d.shape)

    def step(v):
        dv = v.eval_field(d)
        v.set_field(inv, [pow(int(k), -1, FR_MODULUS) if k else 0 for k in dv.ravel()])
        v.set(e, (dv == 0).astype(np.int64))

    b.step(step)
    b.constrain(d, LinComb.of(inv), 1 - LinComb.of(e))
    b.constrain(d, LinComb.of(e), _zeros(d.shape))
    return e


# --- pooling and linear layers ---------------------------------------------------------------


def gather(x: LinComb, index: np.ndarray) -> LinComb:
    """Elements of the flattened x at ``index``; index -1 gives 0 (zero padding)."""
    out = x.take(np.where(index < 0, 0, index))
    keep = (index >= 0)[..., None]
    return LinComb(np.where(keep, out.wires, 0), np.where(keep, out.coeffs, 0))


def window_indices(shape: tuple[int, int, int], kernel, strides, pads, dilations=(1, 1)) -> np.ndarray:
    """Flat indices into x[C, H, W] of every pooling/convolution window, shape
    (C, OH, OW, kh*kw), -1 where the window covers padding."""
    from prover.onnx.windows import windows  # the executor's window geometry, reused as is

    idx = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(1, *shape)
    win = windows(idx, kernel, strides, pads, dilations, pad_value=-1)[0]
    return win.reshape(*win.shape[:3], -1)


def sum_pool(x: LinComb, shape, kernel, strides, pads) -> LinComb:
    """Window sums of x[C, H, W] (padding counts 0): a linear combination, no constraint."""
    return gather(LinComb.lift(x), window_indices(shape, kernel, strides, pads)).sum()


def max_pool(b: Builder, x: LinComb, shape, kernel, strides, pads, bits: int) -> np.ndarray:
    """Window maxima of ``bits``-bit signed x[C, H, W] (padding never wins): a padded position
    repeats its window's first real element, which leaves the maximum unchanged."""
    idx = window_indices(shape, kernel, strides, pads)
    first = np.take_along_axis(idx, np.argmax(idx >= 0, axis=-1)[..., None], axis=-1)
    idx = np.where(idx >= 0, idx, first)
    return max_reduce(b, gather(LinComb.lift(x), idx), bits)


def dense_indices(n_in: int, n_out: int, lead: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Term tables of y[l, o] = sum_i W[o, i] x[l, i] + bias[o]: x index and flat W index,
    shape (lead * n_out, n_in), and the bias index of each output."""
    xi = np.arange(lead)[:, None, None] * n_in + np.arange(n_in)[None, None, :]
    wi = np.arange(n_out)[None, :, None] * n_in + np.arange(n_in)[None, None, :]
    xi, wi = np.broadcast_arrays(xi, wi)
    bias = np.tile(np.arange(n_out, dtype=np.int64), lead)
    return xi.reshape(lead * n_out, n_in).copy(), wi.reshape(lead * n_out, n_in).copy(), bias


def matmul_indices(a_shape, b_shape) -> tuple[np.ndarray, np.ndarray]:
    """Term tables of y[..., i, j] = sum_k a[..., i, k] * b[..., k, j] (leading axes broadcast as
    numpy's matmul): the flat a index and the flat b index of each of K terms, shape
    (y.size, K), outputs in C order."""
    a = np.arange(int(np.prod(a_shape)), dtype=np.int64).reshape(a_shape)
    b = np.arange(int(np.prod(b_shape)), dtype=np.int64).reshape(b_shape)
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
        raise ValueError(f"matmul of {tuple(a_shape)} by {tuple(b_shape)} does not fit")
    ai, bi = np.broadcast_arrays(a[..., :, None, :], np.swapaxes(b, -1, -2)[..., None, :, :])
    k = a.shape[-1]
    return ai.reshape(-1, k).copy(), bi.reshape(-1, k).copy()


def conv_indices(
    shape, weight_shape, strides, pads, dilations, group: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Term tables of the grouped convolution of ``prover.onnx.graph``: for output (o, i, j),
    flattened, the x index (-1 on padding) and the flat W index of each of C/group*kh*kw terms,
    and the bias index o of each output."""
    c, _, _ = shape
    o, cg, kh, kw = weight_shape
    if c != cg * group or o % group:
        raise ValueError(f"conv of {shape} with weights {weight_shape} and group {group} does not fit")
    win = window_indices(shape, (kh, kw), strides, pads, dilations)  # (C, OH, OW, kh*kw)
    oh, ow = win.shape[1:3]
    og = o // group
    outs = np.arange(o)
    g = outs // og
    chans = g[:, None] * cg + np.arange(cg)[None, :]  # (O, cg)
    xi = win[chans]  # (O, cg, OH, OW, k)
    xi = xi.transpose(0, 2, 3, 1, 4).reshape(o * oh * ow, cg * kh * kw)
    w_flat = np.arange(o * cg * kh * kw).reshape(o, 1, 1, cg * kh * kw)
    wi = np.broadcast_to(w_flat, (o, oh, ow, cg * kh * kw)).reshape(o * oh * ow, cg * kh * kw)
    return np.ascontiguousarray(xi), np.ascontiguousarray(wi), np.repeat(np.arange(o, dtype=np.int64), oh * ow)


def linear_public(
    b: Builder,
    x,
    weights: np.ndarray,
    bias: np.ndarray | None,
    x_index: np.ndarray,
    w_index: np.ndarray,
    bias_index: np.ndarray,
) -> LinComb:
    """y[o] = sum_k weights[w_index[o,k]] * x[x_index[o,k]] + bias[bias_index[o]] with the
    weights and bias as circuit constants (public-model mode): a linear combination of x's
    wires, no constraint. x_index -1 marks a padding term (0)."""
    xw = b.materialize(LinComb.lift(x)).ravel()
    w = np.asarray(weights, dtype=np.int64).ravel()
    valid = x_index >= 0
    lc = LinComb(np.where(valid, xw[np.where(valid, x_index, 0)], 0), np.where(valid, w[w_index], 0))
    if bias is not None:
        bias = np.asarray(bias, dtype=np.int64).ravel()
        lc = lc + LinComb.constant(bias[bias_index])
    return lc


def linear_private(
    b: Builder,
    x,
    weight_wires: np.ndarray,
    bias_wires: np.ndarray | None,
    x_index: np.ndarray,
    w_index: np.ndarray,
    bias_index: np.ndarray,
) -> LinComb:
    """The same sum with weights and bias as witness wires (bound elsewhere to the model
    commitment): one constraint p = w * x per non-padding term; y is the linear combination
    sum p + bias."""
    x = LinComb.lift(x)
    xw = b.materialize(x).ravel()
    w = np.asarray(weight_wires, dtype=np.int64).ravel()
    valid = x_index >= 0
    prod = b.alloc((int(valid.sum()),))
    xs, ws = xw[x_index[valid]], w[w_index[valid]]
    b.constrain(LinComb.of(ws), LinComb.of(xs), LinComb.of(prod))
    b.step(lambda v: v.set(prod, checked_product(v.get(ws), v.get(xs), "a weight times an input")))
    wires = np.zeros(x_index.shape, dtype=np.int64)
    wires[valid] = prod
    lc = LinComb(wires, valid.astype(np.int64))
    if bias_wires is not None:
        bias_wires = np.asarray(bias_wires, dtype=np.int64).ravel()
        lc = lc + LinComb.of(bias_wires[bias_index])
    return lc


# --- packing and hashing ---------------------------------------------------------------------


def values_per_element(bits: int) -> int:
    """How many ``bits``-bit values one field element packs: the group and its end marker
    (one bit past the group) stay below 2^253 < r."""
    per = (MAX_DECOMPOSITION_BITS - 1) // bits
    if per < 1:
        raise ValueError(f"cannot pack {bits}-bit values: at most {MAX_DECOMPOSITION_BITS - 1} bits fit an element")
    return per


def packing_layout(n: int, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each of n ``bits``-bit values goes, the one definition behind ``pack_values`` and
    ``pack``: element g packs the values at ``index[g]`` (-1: no value) times ``weights[g]``
    (2^(bits*j) at slot j) plus ``markers[g]`` = 2^(bits*m_g), a 1 just above its m_g values.

    Values are offset by 2^(bits-1), so each slot holds [0, 2^bits) and an offset value of 0
    (the value -2^(bits-1)) is a real value, not padding: the marker is what says how many
    values an element holds. An element therefore determines its count and its values, and a
    packed list determines the sequence of any length ([1, 2] and [1, 2, -128] differ)."""
    per = values_per_element(bits)
    groups = -(-n // per)
    index = np.arange(groups * per, dtype=np.int64).reshape(groups, per)
    index = np.where(index < n, index, -1)
    slot = np.array([1 << (bits * j) for j in range(per)], dtype=object)
    weights = np.where(index >= 0, slot, 0).astype(object)
    markers = np.array([1 << (bits * int(m)) for m in (index >= 0).sum(axis=1)], dtype=object)
    return index, weights, markers


def pack_values(values: np.ndarray, bits: int) -> list[int]:
    """Field elements packing signed ``bits``-bit values, the reference for ``pack``: element
    g = markers[g] + sum_j weights[g, j] * (v[index[g, j]] + 2^(bits-1)) (``packing_layout``).
    Raises ValueRangeError for a value outside [-2^(bits-1), 2^(bits-1)): it would spill into
    the next slot, and two sequences would pack alike (the circuit's range check refuses it)."""
    offset = [int(v) + (1 << (bits - 1)) for v in np.asarray(values).ravel()]
    if offset and not 0 <= min(offset) <= max(offset) < 1 << bits:
        raise ValueRangeError(
            f"a packed value is outside the {bits}-bit signed range "
            f"[{-(1 << (bits - 1))}, {1 << (bits - 1)}): quantize it for the model first"
        )
    index, weights, markers = packing_layout(len(offset), bits)
    taken = np.array(offset + [0], dtype=object)[index]  # index -1 takes the trailing 0
    return [int(e) for e in (taken * weights).sum(axis=1) + markers]


def pack(b: Builder, x, bits: int) -> np.ndarray:
    """Range check every element of x as ``bits``-bit signed (bits + 1 constraints each) and
    pack them into field wires as ``pack_values`` does (one linear constraint per element).
    Because each offset value lies in [0, 2^bits) and an element with its marker spans at most
    253 bits, the packing is injective: the packed wires determine the values."""
    x = LinComb.lift(x).reshape(-1)
    signed_bits(b, x, bits, what="packed value")
    index, weights, markers = packing_layout(x.size, bits)
    packed = (gather(x + (1 << (bits - 1)), index) * weights).sum() + LinComb.constant(markers)
    return b.materialize(packed, field=True)


def _mod_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a b over Fr for object arrays of ints in [0, r)."""
    return (a @ b) % FR_MODULUS


def _mod_power(a: np.ndarray, n: int) -> np.ndarray:
    """a^n over Fr (a square object array), by repeated squaring."""
    out = np.eye(len(a), dtype=np.int64).astype(object)
    while n:
        if n & 1:
            out = _mod_matmul(out, a)
        a, n = _mod_matmul(a, a), n >> 1
    return out


@cache
def permutation_parameters(t: int) -> tuple[np.ndarray, np.ndarray]:
    """Width t's round constants ``(rounds, t)`` and MDS matrix ``(t, t)`` as object arrays of ints."""
    constants = np.array(hash_spec.round_constants(t), dtype=object).reshape(-1, t)
    return constants, np.array(hash_spec.mds_matrix(t), dtype=object)


def _full_rounds(t: int) -> list[bool]:
    """Per round of the width-t permutation, whether it is full (S-boxes on every element)."""
    half, r_p = hash_spec.FULL_ROUNDS // 2, hash_spec.partial_rounds(t)
    return [rnd < half or rnd >= half + r_p for rnd in range(hash_spec.FULL_ROUNDS + r_p)]


@cache
def poseidon_schedule(t: int) -> tuple[list[tuple[bool, np.ndarray]], np.ndarray]:
    """The permutation of width t as linear algebra over a basis of wires: for each round,
    whether it is full and the coefficients (rows: S-boxed elements; columns: basis wires, then
    the constant) of its S-box inputs; and the output's coefficients at the end.

    The basis starts as the t-1 inputs (the capacity element is 0); a full round replaces it
    by its t S-box outputs and a partial round appends its one S-box output. The schedule
    depends on t alone, so it is computed once and shared by every hash of that width.

    With M the MDS matrix, the state after a full round is M times its S-box outputs, so a full
    round's S-box inputs are M's rows plus the round constants. A partial round replaces state
    element 0 by a new basis element and multiplies by M, so the coefficient column of a basis
    element already there goes v -> N v with N = M with column 0 zeroed, and the new element's
    column starts as M e_0. After n partial rounds the columns are therefore N^n M for the basis
    of the last full round and N^(n-1-m) M e_0 for the output of partial round m: the rows the
    partial rounds record are row 0 of those, by one vector product per round each way, and
    the second half starts from the whole of them (N^R_P M by repeated squaring)."""
    constants, mds = permutation_parameters(t)
    r_p = hash_spec.partial_rounds(t)
    half = hash_spec.FULL_ROUNDS // 2
    n_mds = mds.copy()
    n_mds[:, 0] = 0
    rounds = []
    # the first round reads the inputs: state 0 is the capacity (0), state i input i - 1
    inputs = np.zeros((t, t - 1), dtype=np.int64).astype(object)
    inputs[np.arange(1, t), np.arange(t - 1)] = 1
    rounds.append((True, np.concatenate([inputs, constants[0][:, None]], axis=1)))
    for rnd in range(1, half):
        rounds.append((True, np.concatenate([mds, constants[rnd][:, None]], axis=1)))
    # partial rounds: row_n = row 0 of N^n (so row 0 of N^n M = row_n M), column_m = N^m M e_0
    row = np.zeros(t, dtype=np.int64).astype(object)
    row[0] = 1
    columns = [mds[:, 0].copy()]
    const = constants[half].copy()
    for n in range(r_p):
        outputs = [c[0] for c in reversed(columns[:n])]  # of partial rounds 0..n-1
        rounds.append((False, np.array([[*_mod_matmul(row, mds), *outputs, const[0]]], dtype=object)))
        row = _mod_matmul(row, n_mds)
        columns.append(_mod_matmul(n_mds, columns[-1]))
        const[0] = 0
        const = (_mod_matmul(mds, const) + constants[half + n + 1]) % FR_MODULUS
    partial_outputs = np.stack(list(reversed(columns[:r_p])), axis=1)
    first_basis = _mod_matmul(_mod_power(n_mds, r_p), mds)
    rounds.append((True, np.concatenate([first_basis, partial_outputs, const[:, None]], axis=1)))
    for rnd in range(half + r_p + 1, hash_spec.FULL_ROUNDS + r_p):
        rounds.append((True, np.concatenate([mds, constants[rnd][:, None]], axis=1)))
    return rounds, np.array([*mds[0], 0], dtype=object)


def poseidon(b: Builder, inputs) -> LinComb:
    """circomlib's Poseidon of each row of ``inputs`` (shape (batch, width), width 1..16): the
    output lc equals ``prover.poseidon.poseidon`` of the row's field values.

    Every row of the batch shares the coefficients of ``poseidon_schedule``, so the linear
    layers cost nothing and the only constraints are 3 per S-box (t per full round, 1 per
    partial round): x2 = x*x, x4 = x2*x2, y = x4*x, for x the S-box input as a linear
    combination of the basis.

    The witness has two ways to the same S-box values. Where the constraints are formed the
    schedule is at hand, and the witness evaluates its linear forms (a partial round's costs
    as many terms as the basis has grown, ``_schedule_witness``). A builder that does not form
    constraints (``Builder.forms_constraints``, the witness program alone) never computes the
    schedule: its witness runs the permutation round by round (t^2 terms per round,
    ``_permutation_witness``), cheaper than the schedule for the few rows a single request
    hashes. The tests compare the two on every statement they build both ways."""
    basis = b.materialize(LinComb.lift(inputs), field=True)  # (batch, K) wires
    batch, width = basis.shape
    t = width + 1
    schedule = poseidon_schedule(t)[0] if b.forms_constraints else None
    const_wire = np.zeros((batch, 1), dtype=np.int64)
    inputs_wires, sboxes, sbox_inputs = basis, [], []
    for rnd, full in enumerate(_full_rounds(t)):
        n_rows = t if full else 1
        x2, x4, y = b.alloc((batch, n_rows)), b.alloc((batch, n_rows)), b.alloc((batch, n_rows))
        if schedule is None:
            b.count_constraints(3 * batch * n_rows)
        else:
            coeffs = schedule[rnd][1]
            wires = np.concatenate([basis, const_wire], axis=1)
            shape = (batch, n_rows, coeffs.shape[1])
            x = LinComb(np.broadcast_to(wires[:, None, :], shape), np.broadcast_to(coeffs[None], shape))
            b.constrain(x, x, x2)  # wires are lifted to linear combinations by the builder
            b.constrain(x2, x2, x4)
            b.constrain(x4, x, y)
            sbox_inputs.append(x)
        sboxes.append((x2, x4, y))
        basis = y if full else np.concatenate([basis, y], axis=1)
    if schedule is None:
        b.step(lambda v: _permutation_witness(v, t, inputs_wires, sboxes))
    else:
        b.step(lambda v: _schedule_witness(v, sbox_inputs, sboxes))
    output = np.array([*permutation_parameters(t)[1][0], 0], dtype=object)  # state 0 after the last M
    return LinComb(np.concatenate([basis, const_wire], axis=1), np.broadcast_to(output[None], (batch, t + 1)).copy())


def _schedule_witness(v, sbox_inputs: Sequence[LinComb], sboxes: Sequence[tuple[np.ndarray, ...]]) -> None:
    """The S-box wires of ``poseidon``'s hashes from the schedule's linear forms, a round at a
    time (each round's forms read the S-box outputs of the rounds before)."""
    for x, (x2, x4, y) in zip(sbox_inputs, sboxes):
        xv = v.eval_field(x)
        sq = xv * xv % FR_MODULUS
        quad = sq * sq % FR_MODULUS
        v.set_field(
            np.concatenate([x2.ravel(), x4.ravel(), y.ravel()]),
            [*sq.ravel(), *quad.ravel(), *(quad * xv % FR_MODULUS).ravel()],
        )


def _permutation_witness(v, t: int, inputs: np.ndarray, sboxes: Sequence[tuple[np.ndarray, ...]]) -> None:
    """The S-box wires of ``poseidon``'s hashes: the permutation of each row's state
    ``[0, inputs...]`` computed round by round (add the round's constants, x^5 on the full
    round's elements or the partial round's first, multiply by M), each S-box's x^2, x^4, x^5 set."""
    constants, mds = permutation_parameters(t)
    state = np.zeros((t, inputs.shape[0]), dtype=object)
    state[1:] = v.get_field(inputs).T
    wires, values = [], []
    for rnd, (x2, x4, y) in enumerate(sboxes):
        state = (state + constants[rnd][:, None]) % FR_MODULUS
        x = state[: x2.shape[1]]  # (rows, batch)
        sq = x * x % FR_MODULUS
        quad = sq * sq % FR_MODULUS
        fifth = quad * x % FR_MODULUS
        wires += [x2, x4, y]
        values += [sq.T, quad.T, fifth.T]
        state = _mod_matmul(mds, np.concatenate([fifth, state[len(fifth) :]]))
    v.set_field(np.concatenate([w.ravel() for w in wires]), np.concatenate([u.ravel() for u in values]))


def tree(b: Builder, elements) -> np.ndarray:
    """The root wire of ``prover.poseidon.tree`` over a vector of field wires/lcs: the same
    16-ary layout, each level's full chunks hashed as one batch."""
    level = b.materialize(LinComb.lift(elements).reshape(-1), field=True)
    for widths in hash_spec.tree_layout(len(level)):
        full = widths.count(hash_spec.ARITY)
        parts = []
        if full:
            parts.append(b.materialize(poseidon(b, level[: full * hash_spec.ARITY].reshape(full, -1)), field=True))
        if full < len(widths):
            parts.append(b.materialize(poseidon(b, level[full * hash_spec.ARITY :][None, :]), field=True))
        level = np.concatenate(parts)
    return level[0]


def commit(b: Builder, elements) -> np.ndarray:
    """The wire of ``prover.poseidon.commit`` of a vector: poseidon([tree, length])."""
    elements = LinComb.lift(elements).reshape(-1)
    root = tree(b, elements)
    pair = concatenate([LinComb.of(np.array([root])), LinComb.constant(np.array([elements.size]))]).reshape(1, 2)
    return b.materialize(poseidon(b, pair), field=True)[0]
