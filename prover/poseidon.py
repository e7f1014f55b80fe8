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

    The nearest tap is 18 bits from the end of the register, so 18 new bits depend only on
    bits already there: the register is clocked 18 bits per step with integer shifts, and the
    pair filter runs on numpy arrays.
    """

    BLOCK = 18

    def __init__(self, t: int):
        seed = f"{1:02b}{0:04b}{FIELD_BITS:012b}{t:012b}{FULL_ROUNDS:010b}{partial_rounds(t):010b}" + "1" * 30
        self.state = sum(int(b) << i for i, b in enumerate(seed))  # register bit i = seed[i]
        self._raw(160 // self.BLOCK * self.BLOCK)
        self._raw_tail = self._raw(self.BLOCK)[160 % self.BLOCK :]  # the rest of the 160 discarded
        self.buffer = np.zeros(0, dtype=np.uint8)

    def _raw(self, n: int) -> np.ndarray:
        """The next n register outputs (n a multiple of BLOCK), in order."""
        mask = (1 << self.BLOCK) - 1
        blocks = []
        s = self.state
        for _ in range(n // self.BLOCK):
            new = ((s >> 62) ^ (s >> 51) ^ (s >> 38) ^ (s >> 23) ^ (s >> 13) ^ s) & mask
            s = (s >> self.BLOCK) | (new << (80 - self.BLOCK))
            blocks.append(new)
        self.state = s
        arr = np.array(blocks, dtype=np.uint32)
        return ((arr[:, None] >> np.arange(self.BLOCK, dtype=np.uint32)) & 1).astype(np.uint8).ravel()

    def bits(self, n: int) -> np.ndarray:
        """The next n output bits (after the pair filter)."""
        while len(self.buffer) < n:
            raw = np.concatenate([self._raw_tail, self._raw(self.BLOCK * 2048)])
            even = len(raw) // 2 * 2
            raw, self._raw_tail = raw[:even], raw[even:]
            pairs = raw.reshape(-1, 2)
            self.buffer = np.concatenate([self.buffer, pairs[pairs[:, 0] == 1, 1]])
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def draw(self, n: int) -> int:
        """The next n output bits as an integer, first bit most significant."""
        bits = self.bits(n)
        padded = np.concatenate([np.zeros(-n % 8, dtype=np.uint8), bits])  # whole bytes, MSB first
        return int.from_bytes(np.packbits(padded).tobytes(), "big")


@cache
def _parameters(t: int) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    bits = GrainStream(t)
    n_constants = (FULL_ROUNDS + partial_rounds(t)) * t
    constants: list[int] = []
    while len(constants) < n_constants:
        c = bits.draw(FIELD_BITS)
        if c < FR_MODULUS:  # rejection sampling below r
            constants.append(c)
    # Cauchy matrix 1/(x_i + y_j) from the next 2t draws, reduced mod r (no rejection here);
    # the script redraws all 2t values while they are not distinct or some x_i + y_j = 0.
    while True:
        draws = [bits.draw(FIELD_BITS) % FR_MODULUS for _ in range(2 * t)]
        xs, ys = draws[:t], draws[t:]
        if len(set(draws)) == 2 * t and all((x + y) % FR_MODULUS for x in xs for y in ys):
            break
    mds = tuple(tuple(pow(x + y, -1, FR_MODULUS) for y in ys) for x in xs)
    return tuple(constants), mds


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
