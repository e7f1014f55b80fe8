"""BLAKE2b-512 whose state can be saved mid-stream: the powers-of-tau response hash.

A phase-1 contribution stores the *partial* response hash: the BLAKE2b state after hashing the
previous challenge and the new points, before the contributor's public key. Anyone can finish
it with the public key to recompute the response hash, without the points (which the next
contribution overwrites). ``hashlib`` cannot export its state, so this is the BLAKE2b stream
(RFC 7693) around its compression function F, used only for that one hash; every other hash is
``hashlib.blake2b``. F runs in the ``blake2b-py`` package (the EIP-152 precompile's Rust F that
py-evm uses); ``compress_reference`` is F written out in Python, which the tests compare it to.

The saved state uses snarkjs's 216-byte layout: the 128-byte block buffer, the eight 64-bit
chaining words (little-endian), then as 32-bit little-endian words the bytes already
compressed (low, high) and the bytes in the buffer (low, high), then 8 unused zero bytes. As in every BLAKE2b, the last
block (1 to 128 bytes) stays in the buffer until more data arrives or the hash is finished.
"""

from __future__ import annotations

import struct

import blake2b as native_blake2b

DIGEST_BYTES = 64
BLOCK_BYTES = 128
PARTIAL_STATE_BYTES = 216

_MASK = (1 << 64) - 1
_IV = (
    0x6A09E667F3BCC908,
    0xBB67AE8584CAA73B,
    0x3C6EF372FE94F82B,
    0xA54FF53A5F1D36F1,
    0x510E527FADE682D1,
    0x9B05688C2B3E6C1F,
    0x1F83D9ABFB41BD6B,
    0x5BE0CD19137E2179,
)
_SIGMA = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
    (14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3),
    (11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4),
    (7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8),
    (9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13),
    (2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9),
    (12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11),
    (13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10),
    (6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5),
    (10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0),
)
_BLOCK = struct.Struct("<16Q")
_STATE = struct.Struct("<8Q")


def compress_reference(h: list[int], block, counter: int, last: bool) -> None:
    # the eight G mixings of each round written out on local variables (columns, then
    # diagonals): about four times faster in CPython than indexing a list
    M = _MASK
    m = _BLOCK.unpack(block)
    v0, v1, v2, v3, v4, v5, v6, v7 = h
    v8, v9, v10, v11, v12, v13, v14, v15 = _IV
    v12 ^= counter & M
    v13 ^= counter >> 64
    if last:
        v14 ^= M
    for r in range(12):
        s = _SIGMA[r % 10]
        v0 = (v0 + v4 + m[s[0]]) & M
        v12 ^= v0
        v12 = (v12 >> 32) | ((v12 << 32) & M)
        v8 = (v8 + v12) & M
        v4 ^= v8
        v4 = (v4 >> 24) | ((v4 << 40) & M)
        v0 = (v0 + v4 + m[s[1]]) & M
        v12 ^= v0
        v12 = (v12 >> 16) | ((v12 << 48) & M)
        v8 = (v8 + v12) & M
        v4 ^= v8
        v4 = (v4 >> 63) | ((v4 << 1) & M)
        v1 = (v1 + v5 + m[s[2]]) & M
        v13 ^= v1
        v13 = (v13 >> 32) | ((v13 << 32) & M)
        v9 = (v9 + v13) & M
        v5 ^= v9
        v5 = (v5 >> 24) | ((v5 << 40) & M)
        v1 = (v1 + v5 + m[s[3]]) & M
        v13 ^= v1
        v13 = (v13 >> 16) | ((v13 << 48) & M)
        v9 = (v9 + v13) & M
        v5 ^= v9
        v5 = (v5 >> 63) | ((v5 << 1) & M)
        v2 = (v2 + v6 + m[s[4]]) & M
        v14 ^= v2
        v14 = (v14 >> 32) | ((v14 << 32) & M)
        v10 = (v10 + v14) & M
        v6 ^= v10
        v6 = (v6 >> 24) | ((v6 << 40) & M)
        v2 = (v2 + v6 + m[s[5]]) & M
        v14 ^= v2
        v14 = (v14 >> 16) | ((v14 << 48) & M)
        v10 = (v10 + v14) & M
        v6 ^= v10
        v6 = (v6 >> 63) | ((v6 << 1) & M)
        v3 = (v3 + v7 + m[s[6]]) & M
        v15 ^= v3
        v15 = (v15 >> 32) | ((v15 << 32) & M)
        v11 = (v11 + v15) & M
        v7 ^= v11
        v7 = (v7 >> 24) | ((v7 << 40) & M)
        v3 = (v3 + v7 + m[s[7]]) & M
        v15 ^= v3
        v15 = (v15 >> 16) | ((v15 << 48) & M)
        v11 = (v11 + v15) & M
        v7 ^= v11
        v7 = (v7 >> 63) | ((v7 << 1) & M)
        v0 = (v0 + v5 + m[s[8]]) & M
        v15 ^= v0
        v15 = (v15 >> 32) | ((v15 << 32) & M)
        v10 = (v10 + v15) & M
        v5 ^= v10
        v5 = (v5 >> 24) | ((v5 << 40) & M)
        v0 = (v0 + v5 + m[s[9]]) & M
        v15 ^= v0
        v15 = (v15 >> 16) | ((v15 << 48) & M)
        v10 = (v10 + v15) & M
        v5 ^= v10
        v5 = (v5 >> 63) | ((v5 << 1) & M)
        v1 = (v1 + v6 + m[s[10]]) & M
        v12 ^= v1
        v12 = (v12 >> 32) | ((v12 << 32) & M)
        v11 = (v11 + v12) & M
        v6 ^= v11
        v6 = (v6 >> 24) | ((v6 << 40) & M)
        v1 = (v1 + v6 + m[s[11]]) & M
        v12 ^= v1
        v12 = (v12 >> 16) | ((v12 << 48) & M)
        v11 = (v11 + v12) & M
        v6 ^= v11
        v6 = (v6 >> 63) | ((v6 << 1) & M)
        v2 = (v2 + v7 + m[s[12]]) & M
        v13 ^= v2
        v13 = (v13 >> 32) | ((v13 << 32) & M)
        v8 = (v8 + v13) & M
        v7 ^= v8
        v7 = (v7 >> 24) | ((v7 << 40) & M)
        v2 = (v2 + v7 + m[s[13]]) & M
        v13 ^= v2
        v13 = (v13 >> 16) | ((v13 << 48) & M)
        v8 = (v8 + v13) & M
        v7 ^= v8
        v7 = (v7 >> 63) | ((v7 << 1) & M)
        v3 = (v3 + v4 + m[s[14]]) & M
        v14 ^= v3
        v14 = (v14 >> 32) | ((v14 << 32) & M)
        v9 = (v9 + v14) & M
        v4 ^= v9
        v4 = (v4 >> 24) | ((v4 << 40) & M)
        v3 = (v3 + v4 + m[s[15]]) & M
        v14 ^= v3
        v14 = (v14 >> 16) | ((v14 << 48) & M)
        v9 = (v9 + v14) & M
        v4 ^= v9
        v4 = (v4 >> 63) | ((v4 << 1) & M)
    for i, x in enumerate((v0 ^ v8, v1 ^ v9, v2 ^ v10, v3 ^ v11, v4 ^ v12, v5 ^ v13, v6 ^ v14, v7 ^ v15)):
        h[i] ^= x


def _compress(h: list[int], block, counter: int, last: bool) -> None:
    """F(h, m, t, f) of RFC 7693, updating ``h`` in place."""
    h[:] = _STATE.unpack(
        native_blake2b.compress(12, h, list(_BLOCK.unpack(block)), [counter & _MASK, counter >> 64], last)
    )


class ResumableBlake2b:
    """Unkeyed BLAKE2b-512 with ``partial_state`` / ``from_partial_state`` (see the module)."""

    def __init__(self) -> None:
        self.h = list(_IV)
        self.h[0] ^= 0x01010000 ^ DIGEST_BYTES  # parameter block: digest length, fanout 1, depth 1
        self.buffer = bytearray(BLOCK_BYTES)
        self.pos = 0  # bytes waiting in the buffer
        self.compressed = 0  # bytes already compressed

    def update(self, data) -> ResumableBlake2b:
        data = memoryview(data).cast("B")
        i, n = 0, len(data)
        while i < n:
            if self.pos == BLOCK_BYTES:  # a full buffer is compressed only once more data comes
                self.compressed += BLOCK_BYTES
                _compress(self.h, self.buffer, self.compressed, False)
                self.pos = 0
            if self.pos == 0:
                while n - i > BLOCK_BYTES:  # whole blocks straight from the input, keeping the last
                    self.compressed += BLOCK_BYTES
                    _compress(self.h, data[i : i + BLOCK_BYTES], self.compressed, False)
                    i += BLOCK_BYTES
            take = min(BLOCK_BYTES - self.pos, n - i)
            self.buffer[self.pos : self.pos + take] = data[i : i + take]
            self.pos += take
            i += take
        return self

    def digest(self) -> bytes:
        h = list(self.h)
        block = bytes(self.buffer[: self.pos]) + bytes(BLOCK_BYTES - self.pos)
        _compress(h, block, self.compressed + self.pos, True)
        return _STATE.pack(*h)

    def partial_state(self) -> bytes:
        """The 216-byte state snarkjs stores as a contribution's ``partialHash``."""
        return (
            bytes(self.buffer)
            + _STATE.pack(*self.h)
            + struct.pack("<6I", self.compressed & 0xFFFFFFFF, self.compressed >> 32, self.pos, 0, 0, 0)
        )

    @classmethod
    def from_partial_state(cls, state: bytes) -> ResumableBlake2b:
        if len(state) != PARTIAL_STATE_BYTES:
            raise ValueError(f"a partial BLAKE2b state is {PARTIAL_STATE_BYTES} bytes, got {len(state)}")
        out = cls()
        out.buffer = bytearray(state[:BLOCK_BYTES])
        out.h = list(_STATE.unpack_from(state, BLOCK_BYTES))
        low, high, pos, _ = struct.unpack_from("<4I", state, BLOCK_BYTES + 64)
        if pos > BLOCK_BYTES:
            raise ValueError(f"partial BLAKE2b state has {pos} buffered bytes (at most {BLOCK_BYTES})")
        out.compressed, out.pos = low | high << 32, pos
        return out
