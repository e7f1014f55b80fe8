"""The deterministic randomness of the ceremony, as snarkjs derives it.

Everything a verifier must recompute comes from a ChaCha20 stream seeded with eight 32-bit
words (read big-endian from a hash):

- the G2 point of a proof of knowledge (``hash_to_g2``: the seed is a BLAKE2b hash of the
  challenge and the contributor's G1 points, so the contributor cannot choose it);
- the whole key of a random beacon (``beacon_rng``: the seed is the beacon value hashed
  ``2^n`` times with SHA-256, so nobody can bias it within the time the beacon leaves).

A contributor's secret comes from the same stream seeded with BLAKE2b(64 bytes of operating
system randomness || the user's entropy text) (``contribution_rng``).

A verifier's random scalars (the linear combinations that batch its pairing checks) come straight
from the operating system's CSPRNG, a whole array at a time (``random_scalars``).

The stream is read the way ffjavascript reads it: a 64-bit draw is two 32-bit words, the first
one high; a field element draws four 64-bit words (least significant first), masks them to the
modulus's 254 bits, rejects values >= p and takes the result as a *Montgomery* representation,
so the element is ``v / 2^256 mod p``; a curve point draws x (an Fq2 element is c0 then c1),
then a bit choosing the sign of y (``y > (p-1)/2``, for Fq2 the sign of c1, or of c0 when c1
is zero), until ``x^3 + b`` is a square; a G2 point is then multiplied by the twist's cofactor.
"""

from __future__ import annotations

import hashlib
import secrets
import struct

import numpy as np
from py_ecc import optimized_bn128 as bn

from prover.field import FQ_MODULUS, FR_MODULUS
from prover.kernels import reference

_MASK32 = 0xFFFFFFFF
# a forged section passes one random-combination check with chance 2^-VERIFIER_BITS
VERIFIER_BITS = 128
_MASK254 = (1 << 254) - 1
_R_INV = {p: pow(1 << 256, -1, p) for p in (FQ_MODULUS, FR_MODULUS)}
# the order of the twist divided by r: clears the cofactor of a random twist point
G2_COFACTOR = 0x30644E72E131A029B85045B68181585E06CEECDA572A2489345F2299C0F9FA8D
_SIGMA = (0x61707865, 0x3320646E, 0x79622D32, 0x6B206574)  # "expand 32-byte k"


def _rotl(x: int, n: int) -> int:
    return ((x << n) | (x >> (32 - n))) & _MASK32


def _quarter_round(st: list[int], a: int, b: int, c: int, d: int) -> None:
    st[a] = (st[a] + st[b]) & _MASK32
    st[d] = _rotl(st[d] ^ st[a], 16)
    st[c] = (st[c] + st[d]) & _MASK32
    st[b] = _rotl(st[b] ^ st[c], 12)
    st[a] = (st[a] + st[b]) & _MASK32
    st[d] = _rotl(st[d] ^ st[a], 8)
    st[c] = (st[c] + st[d]) & _MASK32
    st[b] = _rotl(st[b] ^ st[c], 7)


class ChaCha:
    """ChaCha20 (ten double rounds) keyed by ``seed`` with a zero nonce and a 128-bit block
    counter, read 32 bits at a time."""

    def __init__(self, seed: list[int]):
        if len(seed) != 8:
            raise ValueError("a ChaCha seed is eight 32-bit words")
        self.state = [*_SIGMA, *(w & _MASK32 for w in seed), 0, 0, 0, 0]
        self.block: list[int] = []
        self.index = 16

    def _next_block(self) -> None:
        x = list(self.state)
        for _ in range(10):
            for q in (
                (0, 4, 8, 12),
                (1, 5, 9, 13),
                (2, 6, 10, 14),
                (3, 7, 11, 15),
                (0, 5, 10, 15),
                (1, 6, 11, 12),
                (2, 7, 8, 13),
                (3, 4, 9, 14),
            ):
                _quarter_round(x, *q)
        self.block = [(a + b) & _MASK32 for a, b in zip(x, self.state)]
        self.index = 0
        for i in range(12, 16):  # the block counter, carried across the four words
            self.state[i] = (self.state[i] + 1) & _MASK32
            if self.state[i]:
                break

    def next_u32(self) -> int:
        if self.index == 16:
            self._next_block()
        self.index += 1
        return self.block[self.index - 1]

    def next_u64(self) -> int:
        high = self.next_u32()
        return high << 32 | self.next_u32()

    def next_bool(self) -> bool:
        return bool(self.next_u32() & 1)


def seed_from_hash(digest: bytes) -> list[int]:
    """The ChaCha seed snarkjs takes from a hash: its first 32 bytes as big-endian words."""
    return list(struct.unpack(">8I", digest[:32]))


def field_from_rng(rng: ChaCha, modulus: int) -> int:
    while True:
        v = 0
        for i in range(4):
            v |= rng.next_u64() << (64 * i)
        v &= _MASK254
        if v < modulus:
            return v * _R_INV[modulus] % modulus


def fr_from_rng(rng: ChaCha) -> int:
    return field_from_rng(rng, FR_MODULUS)


def _is_negative(y: int) -> bool:
    return y > (FQ_MODULUS - 1) // 2


def _fq_sqrt(a: int) -> int | None:
    root = pow(a, (FQ_MODULUS + 1) // 4, FQ_MODULUS)  # q = 3 mod 4
    return root if root * root % FQ_MODULUS == a % FQ_MODULUS else None


def _fq2_sqrt(a: bn.FQ2) -> bn.FQ2 | None:
    """A square root in Fq2 = Fq[u]/(u^2 + 1), or None: from the root of the norm."""
    a0, a1 = (int(c) for c in a.coeffs)
    if a1 == 0:
        r = _fq_sqrt(a0)
        if r is not None:
            return bn.FQ2([r, 0])
        r = _fq_sqrt(-a0 % FQ_MODULUS)
        return None if r is None else bn.FQ2([0, r])
    norm_root = _fq_sqrt((a0 * a0 + a1 * a1) % FQ_MODULUS)
    if norm_root is None:
        return None
    half = pow(2, -1, FQ_MODULUS)
    for d in ((a0 + norm_root) * half, (a0 - norm_root) * half):
        x0 = _fq_sqrt(d % FQ_MODULUS)
        if x0:
            root = bn.FQ2([x0, a1 * pow(2 * x0, -1, FQ_MODULUS) % FQ_MODULUS])
            if root * root == a:
                return root
    return None


def g1_from_rng(rng: ChaCha) -> np.ndarray:
    """A random G1 point (BN254's G1 has cofactor 1), in the kernel layout."""
    while True:
        x = field_from_rng(rng, FQ_MODULUS)
        greatest = rng.next_bool()
        y = _fq_sqrt((x * x * x + 3) % FQ_MODULUS)
        if y is not None:
            break
    if greatest != _is_negative(y):
        y = (FQ_MODULUS - y) % FQ_MODULUS
    return reference.g1_to_array((bn.FQ(x), bn.FQ(y), bn.FQ.one()))


def g2_from_rng(rng: ChaCha) -> np.ndarray:
    """A random point of the prime-order subgroup G2, in the kernel layout."""
    while True:
        x = bn.FQ2([field_from_rng(rng, FQ_MODULUS), field_from_rng(rng, FQ_MODULUS)])
        greatest = rng.next_bool()
        y = _fq2_sqrt(x * x * x + bn.b2)
        if y is not None:
            break
    y0, y1 = (int(c) for c in y.coeffs)
    if greatest != (_is_negative(y1) if y1 else _is_negative(y0)):
        y = -y
    point = bn.multiply((x, y, bn.FQ2.one()), G2_COFACTOR)
    return reference.g2_to_array(point)


def hash_to_g2(digest: bytes) -> np.ndarray:
    """The G2 point a proof of knowledge is checked against, from a 64-byte BLAKE2b hash."""
    return g2_from_rng(ChaCha(seed_from_hash(digest)))


def beacon_rng(beacon_hash: bytes, iterations_exp: int) -> ChaCha:
    """The stream of a random beacon: ``beacon_hash`` hashed ``2^iterations_exp`` times with
    SHA-256 (the delay that keeps a beacon's operator from trying values) seeds ChaCha."""
    digest = bytes(beacon_hash)
    for _ in range(1 << iterations_exp):
        digest = hashlib.sha256(digest).digest()
    return ChaCha(seed_from_hash(digest))


def contribution_rng(entropy: str | bytes = b"") -> ChaCha:
    """A fresh secret stream: 64 bytes from the operating system's CSPRNG, mixed with the
    user's optional ``entropy`` (which can only add to it)."""
    extra = entropy.encode("utf-8") if isinstance(entropy, str) else bytes(entropy)
    digest = hashlib.blake2b(secrets.token_bytes(64) + extra, digest_size=64).digest()
    return ChaCha(seed_from_hash(digest))


def random_scalars(n: int, bits: int = VERIFIER_BITS) -> np.ndarray:
    """``n`` independent uniform ``bits``-bit scalars (below r for ``bits`` < 254) from the
    operating system's CSPRNG, as an ``(n, 4)`` Fr limb array, without a Python loop."""
    return scalars_from_bytes(secrets.token_bytes(n * 8 * _words(bits)), n, bits)


def _words(bits: int) -> int:
    if not 0 < bits < 254:
        raise ValueError(f"random scalars must have 1 to 253 bits to stay below r, got {bits}")
    return -(-bits // 64)


def scalars_from_bytes(raw: bytes, n: int, bits: int) -> np.ndarray:
    """The scalars ``random_scalars`` makes of ``raw``: per scalar, ``ceil(bits / 64)``
    little-endian 64-bit words, the top one masked to ``bits`` bits in all."""
    words = _words(bits)
    if len(raw) != n * 8 * words:
        raise ValueError(f"{n} scalars of {bits} bits take {n * 8 * words} random bytes, got {len(raw)}")
    out = np.zeros((n, 4), dtype=np.uint64)
    out[:, :words] = np.frombuffer(raw, dtype="<u8").reshape(n, words)
    if bits % 64:
        out[:, words - 1] &= np.uint64((1 << (bits % 64)) - 1)
    return out
