"""snarkjs/circom witness files (.wtns) <-> Fr limb arrays.

Sections (iden3 container, magic ``wtns``, version 2):

1. header: ``n8``, prime r, number of witness values (u32)
2. the values, canonical little-endian, ``n8`` bytes each (wire 0 is the constant 1)
"""

from __future__ import annotations

import os
import struct

import numpy as np

from prover.field import ELEMENT_BYTES, FR_MODULUS, LIMBS
from prover.formats.binfile import below_modulus, fr_elements, prime_header, read_binfile, read_prime, write_binfile

WTNS_VERSION = 2


def read_wtns(path: str | os.PathLike) -> np.ndarray:
    """The witness as an ``(n, 4)`` uint64 Fr array, each value checked canonical."""
    bf = read_binfile(path, "wtns", WTNS_VERSION)
    header = bf.section(1, "header")
    pos = read_prime(bf, header, 0, FR_MODULUS, "field prime")
    if len(header) != pos + 4:
        raise bf.error(f"header section is {len(header)} bytes, expected {pos + 4}")
    (n,) = struct.unpack_from("<I", header.data, pos)
    values = bf.section(2, "witness values")
    if len(values) != n * ELEMENT_BYTES:
        raise bf.error(
            f"section 2 (witness values) holds {len(values)} bytes, the header announces "
            f"{n} values ({n * ELEMENT_BYTES} bytes): the file is truncated or corrupt"
        )
    return fr_elements(values, bf.where(2, "witness values"))


def write_wtns(witness: np.ndarray, path: str | os.PathLike) -> None:
    """Write an ``(n, 4)`` Fr array (canonical) as a .wtns file."""
    witness = np.ascontiguousarray(witness, dtype="<u8")
    if witness.ndim != 2 or witness.shape[1] != LIMBS:
        raise ValueError(f"witness must have shape (n, {LIMBS}), got {witness.shape}")
    if not below_modulus(witness, FR_MODULUS).all():
        raise ValueError("the witness holds values >= r: reduce them modulo the field order first")
    header = prime_header(FR_MODULUS) + struct.pack("<I", len(witness))
    write_binfile(path, "wtns", WTNS_VERSION, [(1, header), (2, witness)])
