"""The BN254 fields and the one conversion between Python ints and limb arrays.

A field element array is a numpy ``uint64`` array of shape ``(n, 4)``: four little-endian
64-bit limbs per element, canonical (not Montgomery) form, every value below its modulus.
Signed quantized values map to Fr as ``x mod r`` (see ../shared/DESIGN.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np

# BN254 scalar field (the circuit field) and base field (point coordinates).
FR_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617
FQ_MODULUS = 21888242871839275222246405745257275088696311157297823662689037894645226208583
# snarkjs/ffjavascript and arkworks both take 5 as the multiplicative generator of Fr; its
# (r-1)/2^28-th power is the primitive 2^28-th root of unity every NTT here uses
FR_TWO_ADICITY = 28
FR_ROOT_OF_UNITY = pow(5, (FR_MODULUS - 1) >> FR_TWO_ADICITY, FR_MODULUS)

LIMBS = 4
ELEMENT_BYTES = 32


def ints_to_limbs(values: Iterable[int], modulus: int | None = None) -> np.ndarray:
    """Python ints -> ``(n, 4)`` uint64 limbs. With ``modulus``, values are reduced first
    (so negative quantized values become ``x mod r``); without it they must be in [0, 2^256)."""
    vals = list(values)
    if modulus is not None:
        vals = [v % modulus for v in vals]
    buf = bytearray(ELEMENT_BYTES * len(vals))
    for i, v in enumerate(vals):
        buf[ELEMENT_BYTES * i : ELEMENT_BYTES * (i + 1)] = v.to_bytes(ELEMENT_BYTES, "little")
    return np.frombuffer(bytes(buf), dtype="<u8").reshape(len(vals), LIMBS).astype(np.uint64)


def limbs_to_ints(values: np.ndarray) -> list[int]:
    """``(..., 4)`` uint64 limbs -> flat list of Python ints."""
    raw = np.ascontiguousarray(values, dtype="<u8").tobytes()
    return [int.from_bytes(raw[i : i + ELEMENT_BYTES], "little") for i in range(0, len(raw), ELEMENT_BYTES)]


def below_modulus(limbs: np.ndarray, modulus: int = FR_MODULUS) -> np.ndarray:
    """Boolean mask of the ``(..., 4)`` limb rows whose value is below ``modulus``, compared limb
    by limb from the most significant one, without converting to Python ints."""
    m = np.frombuffer(modulus.to_bytes(ELEMENT_BYTES, "little"), dtype="<u8")
    limbs = np.asarray(limbs).reshape(-1, LIMBS)
    # the top limb decides all but the rows that equal the modulus's there (rare): one pass
    less = limbs[:, LIMBS - 1] < m[LIMBS - 1]
    tied = np.flatnonzero(limbs[:, LIMBS - 1] == m[LIMBS - 1])
    if len(tied):
        rest, tied_less, equal = limbs[tied], np.zeros(len(tied), dtype=bool), np.ones(len(tied), dtype=bool)
        for k in range(LIMBS - 2, -1, -1):
            tied_less |= equal & (rest[:, k] < m[k])
            equal &= rest[:, k] == m[k]
        less[tied] = tied_less
    return less


def random_fr(count: int) -> np.ndarray:
    """``count`` uniform Fr elements as ``(count, 4)`` limbs, from the operating system's CSPRNG:
    254-bit draws, the ones at or above r rejected (about 15%) and drawn again."""
    out = np.zeros((0, LIMBS), dtype=np.uint64)
    top = (1 << (FR_MODULUS.bit_length() - 3 * 64)) - 1
    while len(out) < count:
        want = count - len(out)
        draw = np.frombuffer(os.urandom((want + want // 4 + 8) * ELEMENT_BYTES), dtype="<u8").reshape(-1, LIMBS).copy()
        draw[:, LIMBS - 1] &= np.uint64(top)
        out = np.concatenate([out, draw[below_modulus(draw)][:want]])
    return out


def signed_to_fr(values: np.ndarray) -> np.ndarray:
    """Signed int64 array (any shape) -> flat Fr limb array, ``x mod r``, without a Python loop."""
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    out = np.zeros((v.size, LIMBS), dtype=np.uint64)
    neg = v < 0
    out[~neg, 0] = v[~neg].astype(np.uint64)
    if neg.any():
        # r - |x| computed limb-wise with borrow; |x| < 2^63 so only limb 0 can borrow.
        r_limbs = ints_to_limbs([FR_MODULUS])[0]
        mag = (-v[neg]).astype(np.uint64)
        low = r_limbs[0] - mag
        borrow = (mag > r_limbs[0]).astype(np.uint64)
        out[neg, 0] = low
        out[neg, 1] = r_limbs[1] - borrow
        out[neg, 2] = r_limbs[2]
        out[neg, 3] = r_limbs[3]
    return out


def fr_to_signed(values: np.ndarray) -> np.ndarray:
    """Fr limb array whose values are small signed numbers (|x| < 2^63) -> int64 array.
    Raises ValueError for an element that is not such a small signed value."""
    vals = np.asarray(values, dtype=np.uint64).reshape(-1, LIMBS)
    small = (vals[:, 1] == 0) & (vals[:, 2] == 0) & (vals[:, 3] == 0) & (vals[:, 0] < (1 << 63))
    r_limbs = ints_to_limbs([FR_MODULUS])[0]
    # x = r - m with 0 < m < 2^63: limbs 2,3 equal r's and limb 1 equals r's or r's minus a borrow
    neg = (~small) & (vals[:, 3] == r_limbs[3]) & (vals[:, 2] == r_limbs[2])
    out = np.zeros(len(vals), dtype=np.int64)
    out[small] = vals[small, 0].astype(np.int64)
    if neg.any():
        mags = [FR_MODULUS - v for v in limbs_to_ints(vals[neg])]
        if any(m >= 1 << 63 for m in mags):
            raise ValueError("field element is not a small signed value")
        out[neg] = -np.array(mags, dtype=np.int64)
    if not (small | neg).all():
        raise ValueError("field element is not a small signed value")
    return out


def root_of_unity(n: int) -> int:
    """The primitive n-th root of unity (n a power of two <= 2^28) used by every NTT."""
    if n <= 0 or n & (n - 1) or n > 1 << FR_TWO_ADICITY:
        raise ValueError(f"NTT size must be a power of two up to 2^28, got {n}")
    return pow(FR_ROOT_OF_UNITY, (1 << FR_TWO_ADICITY) // n, FR_MODULUS)
