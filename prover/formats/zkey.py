"""snarkjs Groth16 proving keys (.zkey) <-> ``prover.groth16.keys.ProvingKey``.

Sections (iden3 container, magic ``zkey``, version 1); points are LEM (see ``binfile``):

1. protocol: u32, 1 = Groth16 (PLONK and FFLONK keys are refused)
2. Groth16 header: ``n8q``, q, ``n8r``, r, n_vars, n_public, domain_size (u32 each), then
   alpha1, beta1, beta2, gamma2, delta1, delta2 (in this order, whatever snarkjs's comment says)
3. IC: n_public + 1 G1 points
4. coefficients: a u32 count, then per entry u32 matrix (0 = A, 1 = B), u32 row, u32 wire and
   the value stored as ``v * R^2 mod r`` (R = 2^256): its Montgomery form, times R once more
5. A, 6. B1 (G1) and 7. B2 (G2): one point per wire
8. C: one G1 point per private wire
9. H: domain_size G1 points
10. phase-2 transcript: the 64-byte circuit hash, a u32 count, then per contribution delta
    after it (G1), its proof of knowledge (G1 s, G1 s*x, G2 s*x), a 64-byte transcript hash,
    a u32 type (0 contribution, 1 beacon) and length-prefixed parameters (1 name, 2 iteration
    exponent, 3 beacon hash).

``snarkjs groth16 setup`` writes the sections in the order 1, 2, 4, 3, 9, 8, 5, 6, 7, 10, and every
later step (contribute, beacon) in the order 1 to 10; the coefficients go row by row, A's
entries before B's. ``write_zkey`` follows the same rules (setup order while the key has no
contribution), so a key read and written again, or made by ``prover.groth16.setup``, is
byte-identical to snarkjs's.

``ProvingKey.mpc_params`` holds section 10 as ``{"cs_hash": bytes, "contributions": [dict]}``
where each contribution has ``delta_after``, ``g1_s``, ``g1_sx`` (G1), ``g2_spx`` (G2),
``transcript`` (bytes), ``type`` (int) and, when present, ``name`` (str),
``num_iterations_exp`` (int) and ``beacon_hash`` (bytes).
"""

from __future__ import annotations

import os
import struct

import numpy as np

from prover import kernels
from prover.field import FQ_MODULUS, FR_MODULUS, LIMBS
from prover.formats.binfile import (
    POINT_BYTES,
    BinFile,
    field_elements,
    lem_points,
    points_from_lem,
    points_to_lem,
    prime_header,
    read_binfile,
    read_prime,
    write_binfile,
)
from prover.groth16.keys import ProvingKey, VerifyingKey
from prover.r1cs import SparseMatrix

ZKEY_VERSION = 1
GROTH16 = 1
PROTOCOL_NAMES = {1: "Groth16", 2: "PLONK", 10: "FFLONK"}
CS_HASH_BYTES = 64
COEFFICIENT = np.dtype([("matrix", "<u4"), ("row", "<u4"), ("wire", "<u4"), ("value", "<u8", (LIMBS,))])
HEADER_POINTS = (
    ("alpha1", "g1"),
    ("beta1", "g1"),
    ("beta2", "g2"),
    ("gamma2", "g2"),
    ("delta1", "g1"),
    ("delta2", "g2"),
)
SETUP_SECTION_ORDER = (1, 2, 4, 3, 9, 8, 5, 6, 7, 10)
# contribution parameter tags (section 10)
PARAM_NAME, PARAM_ITERATIONS, PARAM_BEACON_HASH = 1, 2, 3


def _points(bf: BinFile, section_id: int, group: str, count: int, what: str, montgomery: bool = False) -> np.ndarray:
    """A point section, canonical, or with ``montgomery`` as the file stores it (the coordinates
    checked below q, not converted, no copy)."""
    raw = bf.section(section_id, what)
    if len(raw) != count * POINT_BYTES[group]:
        raise bf.error(
            f"section {section_id} ({what}) holds {len(raw)} bytes, expected {count} "
            f"{group.upper()} points ({count * POINT_BYTES[group]} bytes): the file is "
            f"truncated or corrupt"
        )
    if montgomery:
        return lem_points(raw, group, bf.where(section_id, what))
    return points_from_lem(raw, group, bf.where(section_id, what))


def _header(bf: BinFile) -> dict:
    protocol = bf.section_array(1, "<u4", 1, "protocol")[0]
    if protocol != GROTH16:
        name = PROTOCOL_NAMES.get(int(protocol), f"protocol {int(protocol)}")
        raise bf.error(
            f"this is a {name} key; only Groth16 keys are supported: make one with "
            f"`zkmarket groth16 setup` or `snarkjs groth16 setup`"
        )
    raw = bf.section(2, "Groth16 header")
    pos = read_prime(bf, raw, 0, FQ_MODULUS, "base field prime q")
    pos = read_prime(bf, raw, pos, FR_MODULUS, "scalar field prime r")
    expected = pos + 12 + sum(POINT_BYTES[g] for _, g in HEADER_POINTS)
    if len(raw) != expected:
        raise bf.error(f"section 2 (Groth16 header) is {len(raw)} bytes, expected {expected}")
    n_vars, n_public, domain_size = struct.unpack_from("<III", raw.data, pos)
    if domain_size == 0 or domain_size & (domain_size - 1) or n_public + 1 > n_vars:
        raise bf.error(
            f"header counts (n_vars {n_vars}, n_public {n_public}, domain {domain_size}) are "
            f"inconsistent: the file is corrupt"
        )
    header = {"n_vars": n_vars, "n_public": n_public, "domain_size": domain_size}
    pos += 12
    for name, group in HEADER_POINTS:
        header[name] = points_from_lem(raw[pos : pos + POINT_BYTES[group]], group, bf.where(2, name))[0]
        pos += POINT_BYTES[group]
    return header


def _coefficients(bf: BinFile, n_vars: int, domain_size: int) -> tuple[SparseMatrix, SparseMatrix, int]:
    """Sections 4 -> CSR A and B with the same number of rows (the domain rows in use)."""
    count = int(bf.section_array(4, "<u4", 1, "coefficients")[0])
    raw = bf.section(4, "coefficients")
    if len(raw) != 4 + count * COEFFICIENT.itemsize:
        raise bf.error(
            f"section 4 (coefficients) holds {len(raw)} bytes for {count} entries of "
            f"{COEFFICIENT.itemsize} bytes: the file is truncated or corrupt"
        )
    # the records' fields copied out once, contiguous (numpy reads a field of a 44-byte
    # structured record many times slower than a plain column)
    records = raw[4:].reshape(count, COEFFICIENT.itemsize)
    fields = np.ascontiguousarray(records[:, :12]).view("<u4")
    matrix, row, wire = (np.ascontiguousarray(fields[:, k]) for k in range(3))
    where = bf.where(4, "coefficients")
    if count and (matrix.max() > 1 or wire.max() >= n_vars or row.max() >= domain_size):
        raise bf.error(
            "section 4 (coefficients) has an entry outside matrices A/B, the wires or the domain: the file is corrupt"
        )
    # stored v R^2: two Montgomery reductions give v back
    stored = field_elements(np.ascontiguousarray(records[:, 12:]), FR_MODULUS, where, copy=False)  # copied once
    values = np.asarray(kernels.from_montgomery(kernels.from_montgomery(stored, "fr"), "fr"), dtype=np.uint64)
    rows = int(row.max()) + 1 if count else 0
    matrices = []
    for m in (0, 1):
        mine = np.flatnonzero(matrix == m)
        mine_rows = row[mine].astype(np.int64)
        if len(mine) > 1 and (np.diff(mine_rows) < 0).any():  # snarkjs and we write them by row
            order = np.argsort(mine_rows, kind="stable")  # keep file order within a row
            mine, mine_rows = mine[order], mine_rows[order]
        per_row = np.bincount(mine_rows, minlength=rows)
        matrices.append(
            SparseMatrix(
                np.concatenate(([0], np.cumsum(per_row))).astype(np.int64),
                wire[mine].astype(np.int64),
                np.ascontiguousarray(values[mine]),
            )
        )
    return matrices[0], matrices[1], rows


def _mpc_params(bf: BinFile) -> dict:
    raw = bytes(bf.section(10, "phase-2 contributions"))
    reader = _Reader(bf, raw)
    cs_hash = reader.take(CS_HASH_BYTES)
    contributions = []
    for _ in range(reader.u32()):
        c = {
            "delta_after": reader.points("g1"),
            "g1_s": reader.points("g1"),
            "g1_sx": reader.points("g1"),
            "g2_spx": reader.points("g2"),
            "transcript": reader.take(CS_HASH_BYTES),
            "type": reader.u32(),
        }
        params = _Reader(bf, reader.take(reader.u32()))
        while not params.done():
            tag = params.take(1)[0]
            if tag == PARAM_NAME:
                c["name"] = params.take(params.take(1)[0]).decode("utf-8", errors="replace")
            elif tag == PARAM_ITERATIONS:
                c["num_iterations_exp"] = params.take(1)[0]
            elif tag == PARAM_BEACON_HASH:
                c["beacon_hash"] = params.take(params.take(1)[0])
            else:
                raise bf.error(f"section 10 has a contribution parameter of unknown type {tag}")
        contributions.append(c)
    if not reader.done():
        raise bf.error("section 10 (phase-2 contributions) has trailing bytes: the file is corrupt")
    return {"cs_hash": cs_hash, "contributions": contributions}


class _Reader:
    """Sequential reads over a small byte string, with truncation as a FormatError."""

    def __init__(self, bf: BinFile, data: bytes):
        self.bf, self.data, self.pos = bf, data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise self.bf.error("section 10 (phase-2 contributions) is truncated: the file is corrupt")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def points(self, group: str) -> np.ndarray:
        raw = np.frombuffer(self.take(POINT_BYTES[group]), dtype=np.uint8)
        return points_from_lem(raw, group, self.bf.where(10, "contribution"))[0]

    def done(self) -> bool:
        return self.pos == len(self.data)


def read_zkey(path: str | os.PathLike, *, montgomery_points: bool = False) -> ProvingKey:
    """Read a snarkjs Groth16 .zkey, checking every section's size against the header.

    With ``montgomery_points`` the five proving-point sections stay in the file's Montgomery
    form (``ProvingKey.points_montgomery``): what a prover wants, since the MSM kernels read
    that form directly, and converting some 12M coordinates at 2^20 constraints twice (to
    canonical here, back inside the kernels) costs a tenth of the proof."""
    bf = read_binfile(path, "zkey", ZKEY_VERSION)
    h = _header(bf)
    n_vars, n_public, domain_size = h["n_vars"], h["n_public"], h["domain_size"]
    a, b, rows = _coefficients(bf, n_vars, domain_size)
    if rows < n_public + 1:
        raise bf.error("section 4 (coefficients) lacks the public-input rows every Groth16 key has")
    return ProvingKey(
        n_vars=n_vars,
        n_public=n_public,
        domain_size=domain_size,
        **{name: h[name] for name, _ in HEADER_POINTS},
        ic=_points(bf, 3, "g1", n_public + 1, "IC"),
        A=a,
        B=b,
        a_points=_points(bf, 5, "g1", n_vars, "A points", montgomery_points),
        b1_points=_points(bf, 6, "g1", n_vars, "B1 points", montgomery_points),
        b2_points=_points(bf, 7, "g2", n_vars, "B2 points", montgomery_points),
        c_points=_points(bf, 8, "g1", n_vars - n_public - 1, "C points", montgomery_points),
        h_points=_points(bf, 9, "g1", domain_size, "H points", montgomery_points),
        n_constraints=rows - n_public - 1,
        mpc_params=_mpc_params(bf),
        points_montgomery=montgomery_points,
    )


def read_verifying_key(path: str | os.PathLike) -> VerifyingKey:
    """Only the verifying key of a .zkey (header and IC sections): what `zkey export
    verificationkey` needs, without converting the proving points."""
    bf = read_binfile(path, "zkey", ZKEY_VERSION)
    h = _header(bf)
    return VerifyingKey(
        h["alpha1"], h["beta2"], h["gamma2"], h["delta2"], _points(bf, 3, "g1", h["n_public"] + 1, "IC")
    )


def _as_lem(points: np.ndarray, montgomery: bool) -> np.ndarray:
    if montgomery:
        return np.ascontiguousarray(points, dtype=np.uint64).reshape(-1, LIMBS)
    return points_to_lem(points)


def _coefficient_section(pk: ProvingKey) -> np.ndarray:
    """Section 4 as structured records: per row, A's entries then B's, each in matrix order."""
    parts = []
    for m, mat in enumerate((pk.A, pk.B)):
        part = np.zeros(mat.nnz, dtype=COEFFICIENT)
        part["matrix"] = m
        part["row"] = np.repeat(np.arange(mat.n_rows), np.diff(mat.indptr))
        part["wire"] = mat.indices
        part["value"] = np.asarray(kernels.to_montgomery(kernels.to_montgomery(mat.coeffs, "fr"), "fr"))
        parts.append(part)
    records = np.concatenate(parts)
    order = np.argsort(records["row"].astype(np.int64) * 2 + records["matrix"], kind="stable")
    return records[order]


def _mpc_section(mpc_params: dict) -> bytes:
    cs_hash = mpc_params.get("cs_hash")
    if cs_hash is None or len(cs_hash) != CS_HASH_BYTES:
        raise ValueError(
            "the proving key has no 64-byte circuit hash (mpc_params['cs_hash']): make it "
            "with prover.groth16.setup.setup, which computes it"
        )
    out = bytearray(cs_hash)
    contributions = mpc_params.get("contributions", [])
    out += struct.pack("<I", len(contributions))
    for c in contributions:
        for key in ("delta_after", "g1_s", "g1_sx", "g2_spx"):
            out += points_to_lem(c[key]).tobytes()
        out += c["transcript"]
        out += struct.pack("<I", c.get("type", 0))
        params = bytearray()
        if c.get("name"):
            name = c["name"].encode("utf-8")[:64]
            params += bytes([PARAM_NAME, len(name)]) + name
        if c.get("type", 0) == 1:
            params += bytes([PARAM_ITERATIONS, c["num_iterations_exp"]])
            params += bytes([PARAM_BEACON_HASH, len(c["beacon_hash"])]) + c["beacon_hash"]
        out += struct.pack("<I", len(params)) + params
    return bytes(out)


def write_zkey(pk: ProvingKey, path: str | os.PathLike) -> None:
    """Write ``pk`` exactly as snarkjs lays out a Groth16 .zkey (section order, coefficient order
    and encodings); needs ``pk.mpc_params['cs_hash']``."""
    mpc = _mpc_section(pk.mpc_params)  # first: a key without a circuit hash writes nothing
    header = (
        prime_header(FQ_MODULUS)
        + prime_header(FR_MODULUS)
        + struct.pack("<III", pk.n_vars, pk.n_public, pk.domain_size)
    )
    header_points = [points_to_lem(getattr(pk, name)) for name, _ in HEADER_POINTS]
    coefficients = _coefficient_section(pk)
    sections = {
        1: struct.pack("<I", GROTH16),
        2: [header, *header_points],
        3: points_to_lem(pk.ic),
        4: [struct.pack("<I", len(coefficients)), coefficients],
        **{
            sid: _as_lem(getattr(pk, name), pk.points_montgomery)
            for sid, name in ((5, "a_points"), (6, "b1_points"), (7, "b2_points"), (8, "c_points"), (9, "h_points"))
        },
        10: mpc,
    }
    order = SETUP_SECTION_ORDER if not pk.mpc_params.get("contributions") else sorted(sections)
    write_binfile(path, "zkey", ZKEY_VERSION, [(sid, sections[sid]) for sid in order])
