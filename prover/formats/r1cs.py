"""circom .r1cs files <-> ``prover.r1cs.R1CS``.

Sections (iden3 container, magic ``r1cs``, version 1):

1. header: ``n8``, prime r, wires (u32), outputs, public inputs, private inputs (u32 each),
   labels (u64), constraints (u32)
2. constraints: for each constraint, for A, B, C in turn: a u32 entry count, then per entry
   a u32 wire id and a canonical little-endian coefficient (``n8`` bytes)
3. wire -> label map: one u64 per wire
4, 5. custom gates (PLONK only; rejected here)

circom writes the sections in the order 2, 1, 3; ``write_r1cs`` does the same so that a file
read and written again is byte-identical.
"""

from __future__ import annotations

import os
import struct
from typing import NamedTuple

import numpy as np

from prover.field import ELEMENT_BYTES, FR_MODULUS, LIMBS
from prover.formats.binfile import BinFile, fr_elements, prime_header, read_binfile, read_prime, write_binfile
from prover.r1cs import R1CS, SparseMatrix

R1CS_VERSION = 1
HEADER_COUNTS = struct.Struct("<IIIIQI")
WORD = 4
ENTRY_WORDS = 1 + ELEMENT_BYTES // WORD  # wire id + coefficient, in u32 words
CUSTOM_GATE_SECTIONS = (4, 5)


class R1csHeader(NamedTuple):
    n_wires: int
    n_outputs: int
    n_public_inputs: int
    n_private_inputs: int
    n_labels: int
    n_constraints: int


def _header(bf: BinFile) -> R1csHeader:
    raw = bf.section(1, "header")
    pos = read_prime(bf, raw, 0, FR_MODULUS, "field prime")
    if len(raw) != pos + HEADER_COUNTS.size:
        raise bf.error(f"header section is {len(raw)} bytes, expected {pos + HEADER_COUNTS.size}")
    header = R1csHeader(*HEADER_COUNTS.unpack_from(raw.data, pos))
    if 1 + header.n_outputs + header.n_public_inputs + header.n_private_inputs > header.n_wires:
        raise bf.error(
            f"header counts {header.n_outputs} outputs, {header.n_public_inputs} public and "
            f"{header.n_private_inputs} private inputs, more than its {header.n_wires} wires"
        )
    return header


def read_r1cs_header(path: str | os.PathLike) -> R1csHeader:
    """The counts in an .r1cs header, without parsing the constraints."""
    return _header(read_binfile(path, "r1cs", R1CS_VERSION))


def _scan_lists(bf: BinFile, words: memoryview, n_lists: int) -> np.ndarray:
    """Word offset of the count that opens each of the 3 * n_constraints linear combinations.
    Each count says where the next combination starts, so this walk is sequential, but it loops
    per combination, not per coefficient."""
    positions: list[int] = []
    append = positions.append
    pos, end = 0, len(words)
    try:
        for _ in range(n_lists):
            append(pos)
            pos += 1 + ENTRY_WORDS * words[pos]
    except IndexError:
        raise bf.error(
            f"section 2 (constraints) is truncated: it ends inside constraint {(len(positions) - 1) // 3}"
        ) from None
    if pos != end:
        problem = "is truncated" if pos > end else f"has {end - pos} words after the last constraint"
        raise bf.error(f"section 2 (constraints) {problem}: the file is corrupt")
    return np.array(positions, dtype=np.int64)


def read_r1cs(path: str | os.PathLike) -> R1CS:
    """Parse an .r1cs file into CSR matrices. The entries are gathered with numpy; only the walk
    over the linear combinations is a Python loop."""
    bf = read_binfile(path, "r1cs", R1CS_VERSION)
    header = _header(bf)
    for sid in CUSTOM_GATE_SECTIONS:
        if bf.has(sid):
            raise bf.error(
                "the circuit uses custom gates, which only PLONK supports: compile it "
                "without custom templates for Groth16"
            )
    raw = bf.section(2, "constraints")
    if len(raw) % WORD:
        raise bf.error("section 2 (constraints) is not a whole number of 32-bit words: the file is corrupt")
    words_np = raw.view("<u4")
    n_lists = 3 * header.n_constraints
    count_pos = _scan_lists(bf, np.ascontiguousarray(raw).data.cast("I"), n_lists)
    counts = words_np[count_pos].astype(np.int64)

    # without the count words the section is a plain (nnz, 9) table of entries in file order
    # (constraint, then A/B/C, then entry), so no per-entry index arrays are needed
    is_count = np.zeros(len(words_np), dtype=bool)
    is_count[count_pos] = True
    table = words_np[~is_count].reshape(-1, ENTRY_WORDS)
    wires = table[:, 0].astype(np.int64)
    coeffs = fr_elements(table[:, 1:], bf.where(2, "constraints"))
    if len(wires) and wires.max() >= header.n_wires:
        raise bf.error(
            f"a constraint refers to wire {int(wires.max())}, but the circuit has "
            f"{header.n_wires} wires: the file is corrupt"
        )

    matrix_of_entry = np.repeat(np.tile(np.arange(3, dtype=np.int8), header.n_constraints), counts)
    matrices = []
    for m in range(3):
        mask = matrix_of_entry == m
        indptr = np.concatenate(([0], np.cumsum(counts[m::3]))).astype(np.int64)
        matrices.append(SparseMatrix(indptr, wires[mask], coeffs[mask]))

    wire_to_label = None
    if bf.has(3):
        wire_to_label = bf.section_array(3, "<u8", header.n_wires, "wire to label map").astype(np.uint64)
    return R1CS(
        header.n_wires,
        header.n_outputs,
        header.n_public_inputs,
        header.n_private_inputs,
        matrices[0],
        matrices[1],
        matrices[2],
        prime=FR_MODULUS,
        wire_to_label=wire_to_label,
    )


def _constraint_words(r1cs: R1CS) -> np.ndarray:
    """Section 2 as u32 words, laid out with numpy (no loop per coefficient)."""
    mats = (r1cs.A, r1cs.B, r1cs.C)
    n = r1cs.n_constraints
    for name, mat in zip("ABC", mats):
        if mat.n_rows != n:
            raise ValueError(f"matrix {name} has {mat.n_rows} rows, A has {n}")
    counts = np.stack([np.diff(mat.indptr) for mat in mats], axis=1).reshape(-1)  # (3n,) in file order
    list_start = np.arange(3 * n, dtype=np.int64)
    if n:
        list_start += ENTRY_WORDS * np.concatenate(([0], np.cumsum(counts)[:-1]))
    words = np.zeros(3 * n + ENTRY_WORDS * int(counts.sum()), dtype="<u4")
    words[list_start] = counts
    for m, mat in enumerate(mats):
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(mat.indptr))
        rank = np.arange(mat.nnz, dtype=np.int64) - mat.indptr[rows]
        pos = list_start[3 * rows + m] + 1 + ENTRY_WORDS * rank
        words[pos] = mat.indices
        coeff_words = np.ascontiguousarray(mat.coeffs, dtype="<u8").view("<u4").reshape(-1, 2 * LIMBS)
        words[pos[:, None] + 1 + np.arange(ENTRY_WORDS - 1)] = coeff_words
    return words


def write_r1cs(r1cs: R1CS, path: str | os.PathLike, n_labels: int | None = None) -> None:
    """Write ``r1cs`` as circom does. ``n_labels`` (the circuit's signal count before
    simplification, which ``R1CS`` does not keep) defaults to the largest label + 1; pass
    ``read_r1cs_header(original).n_labels`` to reproduce a circom file exactly."""
    wire_to_label = (
        np.arange(r1cs.n_wires, dtype=np.uint64)
        if r1cs.wire_to_label is None
        else np.asarray(r1cs.wire_to_label, dtype="<u8")
    )
    if n_labels is None:
        n_labels = int(wire_to_label.max()) + 1 if len(wire_to_label) else 0
    header = prime_header(r1cs.prime) + HEADER_COUNTS.pack(
        r1cs.n_wires, r1cs.n_outputs, r1cs.n_public_inputs, r1cs.n_private_inputs, n_labels, r1cs.n_constraints
    )
    write_binfile(path, "r1cs", R1CS_VERSION, [(2, _constraint_words(r1cs)), (1, header), (3, wire_to_label)])
