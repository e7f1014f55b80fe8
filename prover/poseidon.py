"""Poseidon over BN254 with circomlib's parameters, and the commitment built from it.

Parameters (circomlib's): S-box x^5, R_F = 8 full rounds (4 before and 4 after the partial
rounds), R_P partial rounds per state width t = 2..17 (``PARTIAL_ROUNDS``), state
``[0, inputs...]``, output ``state[0]``. The round constants and the MDS matrix are not read
from any file: they are regenerated here by the Grain LFSR procedure of the Poseidon paper's
parameter script (see ``GrainStream``, ``round_constants``, ``mds_matrix``), which yields
circomlib's constants exactly (tests/test_poseidon.py checks the hash against circomlibjs).

``poseidon(inputs)`` hashes 1..16 field elements; ``poseidon_batch`` hashes many equal-width
inputs at once, by the native ``poseidon_permute`` kernel (``prover.kernels``, tested against
its plain-Python reference).

Commitment to a sequence of any length (``commit``), used for model, input and output
commitments::

    tree(e)   = poseidon(e)                                  if len(e) <= 16
              = tree([poseidon(c) for c in chunks of 16 of e]) otherwise (last chunk may be short)
    commit(e) = poseidon([tree(e), len(e)])

The tree's shape is a function of the length alone and the length is hashed at the top, so two
sequences with equal commitments are either equal or give a Poseidon collision.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from prover import kernels
from prover.field import FR_MODULUS, LIMBS, ints_to_limbs, limbs_to_ints

FULL_ROUNDS = 8
# partial rounds for t = 2..17 (the paper's security table, rounded up as circomlib does)
PARTIAL_ROUNDS = (56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68)
MAX_INPUTS = len(PARTIAL_ROUNDS)
ARITY = MAX_INPUTS  # children per node of the commitment tree
FIELD_BITS = 254  # bit length of r, the "n" of the parameter script
ALPHA = 5


def partial_rounds(t: int) -> int:
    if not 2 <= t <= MAX_INPUTS + 1:
        raise ValueError(f"Poseidon state width must be 2..{MAX_INPUTS + 1}, got {t}")
    return PARTIAL_ROUNDS[t - 2]


# --- constants: the Grain LFSR procedure ------------------------------------------------------


class GrainStream:
    """The parameter script's bit stream for (prime field, x^alpha S-box, n=254, t, R_F, R_P).

    The 80-bit register is seeded with field type (2 bits), S-box type (4), n (12), t (12),
    R_F (10), R_P (10) and thirty 1s; it is clocked 160 times with the feedback taps
    62, 51, 38, 23, 13, 0 (new bit = XOR of those register bits, register bit 0 oldest);
    afterwards bits are taken in pairs and the second bit is output only when the first is 1.

    The register bits b satisfy b[k + 80] = XOR of b[k + tap], a linear recurrence over GF(2)
    with characteristic polynomial p(x) = x^80 + x^62 + x^51 + x^38 + x^23 + x^13 + 1. Over GF(2)
    p(x)^2 = p(x^2), so the same bits also satisfy the recurrence with every distance doubled,
    b[k + 160] = XOR of b[k + 2 tap], and so on. The nearest tap is 18 bits from the end of the
    register, so a register of 80 f bits (with distances times f) gives 18 f new bits per shift,
    by integer shifts: the stream starts with the plain 80-bit register and doubles it
    ``DOUBLINGS`` times, each time as soon as it has made as many new bits as the register
    holds. The register's outputs are taken a few thousand bytes at a time; the pair filter and
    the draws run on numpy arrays.
    """

    TAPS = (62, 51, 38, 23, 13, 0)
    REGISTER = 80
    NEAREST = REGISTER - TAPS[0]  # new bits per shift of the plain register
    DOUBLINGS = 7  # up to a register of 10,240 bits, 2,304 new bits per shift
    CHUNK_BYTES = 1 << 12  # register outputs pair-filtered at a time (whole bytes: pairs stay aligned)

    def __init__(self, t: int):
        seed = f"{1:02b}{0:04b}{FIELD_BITS:012b}{t:012b}{FULL_ROUNDS:010b}{partial_rounds(t):010b}" + "1" * 30
        self.state = sum(int(b) << i for i, b in enumerate(seed))  # register bit i = seed[i]
        self.width = self.REGISTER
        # the register's bits and every bit made since, until the register doubles
        self._grown, self._grown_bits = self.state, self.width
        self._made, self._made_bits = 0, 0  # register outputs not yet taken, the first lowest
        self.buffer = np.zeros(0, dtype=np.uint8)
        self._raw(160 // 8)  # discarded

    def _shift(self) -> None:
        """One shift of the register: its new bits join the outputs not yet taken."""
        f = self.width // self.REGISTER
        n = self.NEAREST * f
        s = self.state
        new = 0
        for tap in self.TAPS:
            new ^= s >> (tap * f)
        new &= (1 << n) - 1
        self.state = (s >> n) | (new << (self.width - n))
        if self.width < self.REGISTER << self.DOUBLINGS:
            self._grown |= new << self._grown_bits
            self._grown_bits += n
            if self._grown_bits >= 2 * self.width:  # the newest 2 * width bits are the next register
                self.width *= 2
                self.state = self._grown >> (self._grown_bits - self.width)
                self._grown, self._grown_bits = self.state, self.width
        self._made |= new << self._made_bits
        self._made_bits += n

    def _raw(self, n_bytes: int) -> np.ndarray:
        """The next 8 n_bytes register outputs, in order."""
        while self._made_bits < 8 * n_bytes:
            self._shift()
        taken = (self._made & ((1 << (8 * n_bytes)) - 1)).to_bytes(n_bytes, "little")
        self._made >>= 8 * n_bytes
        self._made_bits -= 8 * n_bytes
        return np.unpackbits(np.frombuffer(taken, dtype=np.uint8), bitorder="little")

    def bits(self, n: int) -> np.ndarray:
        """The next n output bits (after the pair filter)."""
        parts, have = [self.buffer], len(self.buffer)
        while have < n:
            raw = self._raw(self.CHUNK_BYTES)
            parts.append(np.compress(raw[0::2].view(bool), raw[1::2]))
            have += len(parts[-1])
        out = np.concatenate(parts)
        self.buffer = out[n:]
        return out[:n]

    def draws(self, count: int, n: int) -> list[int]:
        """The next ``count`` values of n output bits each, as integers, first bit most significant."""
        bits = self.bits(count * n).reshape(count, n)
        padded = np.concatenate([np.zeros((count, -n % 8), dtype=np.uint8), bits], axis=1)  # whole bytes
        row_bytes = np.packbits(padded, axis=1).tobytes()
        size = len(row_bytes) // count if count else 0
        return [int.from_bytes(row_bytes[i * size : (i + 1) * size], "big") for i in range(count)]


@cache
def _parameters(t: int) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    bits = GrainStream(t)
    n_constants = (FULL_ROUNDS + partial_rounds(t)) * t
    constants: list[int] = []
    while len(constants) < n_constants:
        # rejection sampling below r; each draw of a run is needed, so the stream is consumed
        # exactly as one draw at a time would
        constants += [c for c in bits.draws(n_constants - len(constants), FIELD_BITS) if c < FR_MODULUS]
    # Cauchy matrix 1/(x_i + y_j) from the next 2t draws, reduced mod r (no rejection here);
    # the script redraws all 2t values while they are not distinct or some x_i + y_j = 0.
    while True:
        draws = [d % FR_MODULUS for d in bits.draws(2 * t, FIELD_BITS)]
        xs, ys = draws[:t], draws[t:]
        if len(set(draws)) == 2 * t and all((x + y) % FR_MODULUS for x in xs for y in ys):
            break
    inverses = _inverses([x + y for x in xs for y in ys])
    mds = tuple(tuple(inverses[i * t : (i + 1) * t]) for i in range(t))
    return tuple(constants), mds


def _inverses(values: list[int]) -> list[int]:
    """The inverses mod r of nonzero values, with one modular inversion (Montgomery's trick:
    invert the product of all, then peel the values off it one by one)."""
    prefix = [1]
    for v in values:
        prefix.append(prefix[-1] * v % FR_MODULUS)
    inverse = pow(prefix[-1], -1, FR_MODULUS)
    out = [0] * len(values)
    for i in range(len(values) - 1, -1, -1):
        out[i] = inverse * prefix[i] % FR_MODULUS
        inverse = inverse * values[i] % FR_MODULUS
    return out


def round_constants(t: int) -> tuple[int, ...]:
    """The (R_F + R_P) * t round constants for width t, round-major."""
    return _parameters(t)[0]


def mds_matrix(t: int) -> tuple[tuple[int, ...], ...]:
    """The t x t MDS matrix M; a round's linear layer is state'_i = sum_j M[i][j] state_j."""
    return _parameters(t)[1]


# --- the permutation -------------------------------------------------------------------------


@cache
def _kernel_parameters(t: int) -> tuple[np.ndarray, np.ndarray]:
    """Width t's round constants ``(rounds, t, 4)`` and MDS matrix ``(t, t, 4)`` as Fr limbs."""
    rounds = FULL_ROUNDS + partial_rounds(t)
    constants = ints_to_limbs(round_constants(t)).reshape(rounds, t, LIMBS)
    mds = ints_to_limbs([v for row in mds_matrix(t) for v in row]).reshape(t, t, LIMBS)
    return constants, mds


def permute_batch(states: np.ndarray) -> np.ndarray:
    """Poseidon permutation of each column of ``states`` (object array (t, batch) of ints < r),
    by the ``poseidon_permute`` kernel (``prover.kernels``; its reference is the plain loop)."""
    t, batch = states.shape
    constants, mds = _kernel_parameters(t)
    limbs = ints_to_limbs(states.T.reshape(-1)).reshape(batch, t, LIMBS)
    out = kernels.poseidon_permute(limbs, constants, mds, FULL_ROUNDS)
    return np.array(limbs_to_ints(out), dtype=object).reshape(batch, t).T


def poseidon_batch(inputs: Sequence[Sequence[int]]) -> list[int]:
    """circomlib's Poseidon of each row of ``inputs`` (all rows of one width 1..16)."""
    rows = [[int(v) % FR_MODULUS for v in row] for row in inputs]
    if not rows:
        return []
    width = len(rows[0])
    if not 1 <= width <= MAX_INPUTS or any(len(r) != width for r in rows):
        raise ValueError(f"poseidon_batch needs rows of one width in 1..{MAX_INPUTS}")
    states = np.empty((width + 1, len(rows)), dtype=object)
    states[0, :] = 0
    states[1:, :] = np.array(rows, dtype=object).T
    return list(permute_batch(states)[0])


def poseidon(inputs: Sequence[int]) -> int:
    """circomlib's ``Poseidon(n)`` of 1..16 field elements (ints; reduced mod r)."""
    if not 1 <= len(inputs) <= MAX_INPUTS:
        raise ValueError(f"poseidon takes 1..{MAX_INPUTS} inputs, got {len(inputs)}; use commit() for more")
    return poseidon_batch([inputs])[0]


# --- commitment to a sequence ----------------------------------------------------------------


def tree_layout(n: int) -> list[list[int]]:
    """Widths of the hashes at each level of ``tree`` for a sequence of length n (bottom first).

    Shared by the hash below and the circuit gadget so both build the same tree."""
    if n < 1:
        raise ValueError("cannot commit to an empty sequence")
    levels = []
    while True:
        if n <= ARITY:
            levels.append([n])
            return levels
        widths = [ARITY] * (n // ARITY) + ([n % ARITY] if n % ARITY else [])
        levels.append(widths)
        n = len(widths)


def tree(elements: Sequence[int]) -> int:
    """Root of the 16-ary Poseidon tree over ``elements`` (see module docstring)."""
    level = [int(e) % FR_MODULUS for e in elements]
    for widths in tree_layout(len(level)):
        full = widths.count(ARITY)
        nxt = poseidon_batch([level[i * ARITY : (i + 1) * ARITY] for i in range(full)])
        if full < len(widths):
            nxt.append(poseidon(level[full * ARITY :]))
        level = nxt
    return level[0]


def commit(elements: Sequence[int]) -> int:
    """Commitment to a sequence of field elements of any positive length: poseidon([tree, len])."""
    return poseidon([tree(elements), len(elements)])
