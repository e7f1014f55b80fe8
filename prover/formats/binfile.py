"""The iden3 binary container shared by .r1cs, .wtns, .ptau and .zkey, and its element encodings.

A file is a 4-byte magic (``r1cs``, ``wtns``, ``ptau``, ``zkey``), a u32 version, a u32 section
count, then that many sections, each a u32 id, a u64 byte size and the bytes. All integers are
little-endian. A section id may in principle repeat; the formats used here expect each once.

Element encodings inside sections:

- a field element is ``n8`` little-endian bytes (32 for BN254);
- a curve point in .ptau/.zkey point sections is "LEM": affine ``x, y`` little-endian in
  Montgomery form (G2 coordinates as ``c0, c1``), the point at infinity all zero bytes;
- snarkjs hashes points "uncompressed" (``points_uncompressed``; the circuit hash and the
  ceremony transcripts): each coordinate big-endian in canonical form, where a G2 coordinate
  is the 64-byte big-endian reading of ``c0 || c1`` (so ``c1`` comes first).
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from prover import kernels
from prover.errors import FormatError, ZkmarketError
from prover.field import ELEMENT_BYTES, FQ_MODULUS, FR_MODULUS, LIMBS, below_modulus  # noqa: F401 (re-exported)

MAGIC_BYTES = 4
FILE_HEADER = struct.Struct("<4sII")
SECTION_HEADER = struct.Struct("<IQ")

# limbs per point in the kernel layouts: G1 (2, 4), G2 (2, 2, 4)
POINT_SHAPES = {"g1": (2, LIMBS), "g2": (2, 2, LIMBS)}
POINT_BYTES = {"g1": 2 * ELEMENT_BYTES, "g2": 4 * ELEMENT_BYTES}


@dataclass
class BinFile:
    """A memory-mapped container. Section contents are zero-copy views into the mapping."""

    path: Path
    kind: str
    version: int
    data: np.ndarray  # uint8 memmap of the whole file
    sections: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # id -> [(offset, size)]

    def error(self, problem: str) -> FormatError:
        return FormatError(f"{self.path}: {problem}")

    def where(self, section_id: int, what: str) -> str:
        """How messages name a section: ``file: section 2 (constraints)``."""
        return f"{self.path}: section {section_id} ({what})"

    def has(self, section_id: int) -> bool:
        return section_id in self.sections

    def section(self, section_id: int, what: str = "") -> np.ndarray:
        """The bytes of a section that must appear exactly once, as a uint8 view."""
        found = self.sections.get(section_id)
        name = f"section {section_id}" + (f" ({what})" if what else "")
        if not found:
            raise self.error(f"{name} is missing: the file is incomplete or not a {self.kind} file")
        if len(found) > 1:
            raise self.error(f"{name} appears {len(found)} times; a {self.kind} file holds it once")
        offset, size = found[0]
        return self.data[offset : offset + size]

    def section_array(self, section_id: int, dtype, count: int, what: str = "", offset: int = 0) -> np.ndarray:
        """``count`` items of ``dtype`` starting ``offset`` bytes into a section, checking that the
        section is long enough (a truncated section is a FormatError, never a short array)."""
        raw = self.section(section_id, what)
        dtype = np.dtype(dtype)
        need = offset + count * dtype.itemsize
        if len(raw) < need:
            raise self.error(
                f"section {section_id} ({what}) holds {len(raw)} bytes, expected at least "
                f"{need}: the file is truncated or corrupt"
            )
        return raw[offset:need].view(dtype)


def read_binfile(path: str | os.PathLike, kind: str, max_version: int) -> BinFile:
    """Map ``path`` and index its sections. Checks the magic, the version and that every section
    lies inside the file."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise FormatError(f"{path}: cannot read the {kind} file ({exc.strerror})") from exc
    if size < FILE_HEADER.size:
        raise FormatError(f"{path}: {size} bytes is too short for a {kind} file header")
    data = np.memmap(path, dtype=np.uint8, mode="r")
    # struct reads an array through .data (its buffer): numpy's stubs declare ndarray a buffer on 3.12+ only
    magic, version, n_sections = FILE_HEADER.unpack_from(data.data, 0)
    if magic != kind.encode():
        raise FormatError(f"{path}: not a {kind} file (magic {magic!r}, expected {kind.encode()!r})")
    if version == 0 or version > max_version:
        raise FormatError(
            f"{path}: {kind} version {version} is not supported (this reader knows versions 1 to {max_version})"
        )
    sections: dict[int, list[tuple[int, int]]] = {}
    pos = FILE_HEADER.size
    for index in range(n_sections):
        if pos + SECTION_HEADER.size > size:
            raise FormatError(
                f"{path}: truncated: header of section #{index + 1} of {n_sections} lies past the end of the file"
            )
        section_id, section_size = SECTION_HEADER.unpack_from(data.data, pos)
        pos += SECTION_HEADER.size
        if pos + section_size > size:
            raise FormatError(
                f"{path}: truncated: section {section_id} declares {section_size} bytes but only {size - pos} remain"
            )
        sections.setdefault(section_id, []).append((pos, section_size))
        pos += section_size
    return BinFile(path, kind, version, data, sections)


Chunks = bytes | bytearray | memoryview | np.ndarray | Iterable


def _chunks(content: Chunks) -> Iterable:
    if isinstance(content, (bytes, bytearray, memoryview, np.ndarray)):
        return (content,)
    return content


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, mode: str = "wb", permissions: int = 0o644):
    """Open a temporary file beside ``path`` for writing and move it onto ``path`` only when the
    block completes, so an interrupted or failed write never leaves a partial file under the
    final name (and leaves a previous file there untouched). The file gets ``permissions``
    (0o600 for a secret)."""
    path = Path(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ZkmarketError(
            f"{path}: cannot write here ({exc.strerror}): check that the folder exists and is writable"
        ) from exc
    try:
        with os.fdopen(fd, mode) as out:
            yield out
        os.chmod(tmp_name, permissions)
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise


def write_binfile(path: str | os.PathLike, kind: str, version: int, sections: Iterable[tuple[int, Chunks]]) -> None:
    """Write a container atomically (see ``atomic_output``). Each section's content is a
    bytes-like object / array or an iterable of them (written in order), so large sections can
    be produced chunk by chunk."""
    sections = list(sections)
    with atomic_output(path) as out:
        out.write(FILE_HEADER.pack(kind.encode(), version, len(sections)))
        for section_id, content in sections:
            header_pos = out.tell()
            out.write(SECTION_HEADER.pack(section_id, 0))
            size = 0
            for chunk in _chunks(content):
                buf = np.ascontiguousarray(chunk).view(np.uint8) if isinstance(chunk, np.ndarray) else memoryview(chunk)
                out.write(buf)
                size += buf.nbytes
            end = out.tell()
            out.seek(header_pos)
            out.write(SECTION_HEADER.pack(section_id, size))
            out.seek(end)


# --- field elements ---------------------------------------------------------------------------


def prime_header(prime: int) -> bytes:
    """``n8`` (u32) then the prime in ``n8`` little-endian bytes, as the headers store it."""
    return struct.pack("<I", ELEMENT_BYTES) + prime.to_bytes(ELEMENT_BYTES, "little")


def read_prime(binfile: BinFile, header: np.ndarray, offset: int, expected: int, what: str) -> int:
    """Read an ``n8, prime`` pair at ``offset`` of a header section; it must be BN254's ``expected``.
    Returns the offset after it."""
    if len(header) < offset + 4:
        raise binfile.error(f"header section is truncated before the {what} size")
    (n8,) = struct.unpack_from("<I", header.data, offset)
    if n8 != ELEMENT_BYTES or len(header) < offset + 4 + n8:
        raise binfile.error(f"{what} is {n8} bytes wide; only BN254 (32-byte elements) is supported")
    prime = int.from_bytes(bytes(header[offset + 4 : offset + 4 + n8]), "little")
    if prime != expected:
        raise binfile.error(
            f"{what} is {prime}, not BN254's {expected}: the file is for another curve; regenerate it for bn128/BN254"
        )
    return offset + 4 + n8


def field_elements(raw: np.ndarray, modulus: int, where: str, copy: bool = True) -> np.ndarray:
    """Little-endian bytes / words -> ``(n, 4)`` uint64 limbs (a copy, or with ``copy=False`` a
    view of contiguous ``raw``), checked to be canonical; ``where`` names the file and section
    in the error."""
    limbs = np.ascontiguousarray(raw).view("<u8").reshape(-1, LIMBS)
    if copy:
        limbs = limbs.astype(np.uint64)
    bad = ~below_modulus(limbs, modulus)
    if bad.any():
        raise FormatError(
            f"{where}: element #{int(np.argmax(bad))} is not below the field modulus "
            f"(not a canonical field element): the file is corrupt"
        )
    return limbs


def fr_elements(raw: np.ndarray, where: str) -> np.ndarray:
    return field_elements(raw, FR_MODULUS, where)


# --- curve points -----------------------------------------------------------------------------


def points_from_lem(raw: np.ndarray, group: str, where: str) -> np.ndarray:
    """LEM point bytes (Montgomery, little-endian) -> canonical point array in kernel layout."""
    mont = field_elements(raw, FQ_MODULUS, where)
    canonical = kernels.from_montgomery(mont, "fq")
    return np.asarray(canonical, dtype=np.uint64).reshape((-1,) + POINT_SHAPES[group])


def lem_points(raw: np.ndarray, group: str, where: str) -> np.ndarray:
    """LEM point bytes -> the same Montgomery limbs in kernel layout (``montgomery=True`` for
    the MSM kernels), checked below q; a view of ``raw``, not a copy."""
    return field_elements(raw, FQ_MODULUS, where, copy=False).reshape((-1,) + POINT_SHAPES[group])


def points_to_lem(points: np.ndarray) -> np.ndarray:
    """Canonical point array (any number of points) -> LEM limbs, flat ``(k, 4)``."""
    flat = np.ascontiguousarray(points, dtype=np.uint64).reshape(-1, LIMBS)
    return np.asarray(kernels.to_montgomery(flat, "fq"), dtype=np.uint64)


def points_uncompressed(points: np.ndarray, group: str) -> bytes:
    """Canonical points -> snarkjs's uncompressed encoding (the bytes its hashes consume)."""
    coord_bytes = ELEMENT_BYTES * (1 if group == "g1" else 2)
    raw = np.ascontiguousarray(points, dtype="<u8").view(np.uint8).reshape(-1, 2, coord_bytes)
    return raw[:, :, ::-1].tobytes()
