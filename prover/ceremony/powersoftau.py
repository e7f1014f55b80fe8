"""Phase 1, the powers of tau: start a ceremony, contribute to it, close it with a beacon.

The parameters are ``tau^i G1`` (i < 2n - 1), ``tau^i G2``, ``alpha tau^i G1``,
``beta tau^i G1`` (i < n) and ``beta G2`` for n = 2^power (``prover.formats.ptau``). A new
ceremony sets tau = alpha = beta = 1 (every point a generator); each contribution multiplies
them by fresh secrets, so the final tau is the product of every contributor's and stays unknown
unless all of them collude.

The transcript (the .ptau section 7) is a chain of hashes, as in snarkjs:

- challenge 0 hashes the initial parameters; a contribution answering challenge c publishes
  a key (``keypair.phase1_key``) whose G2 points are hashed from c;
- its *response hash* is BLAKE2b(c || the new parameters, compressed || its key,
  uncompressed); the record keeps the BLAKE2b state before the key (``partial_hash``), so that
  anyone can recompute the response hash from the key alone;
- its *next challenge* is BLAKE2b(response hash || the new parameters, uncompressed), the
  challenge the next contribution answers.

The record also keeps the first points after the contribution (tau G1, tau G2, alpha G1,
beta G1, beta G2), which is what lets a verifier check every contribution against the previous
one without the intermediate parameters (``powersoftau_verify``).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from tqdm import tqdm

from prover import kernels
from prover.ceremony.blake2b import PARTIAL_STATE_BYTES, ResumableBlake2b
from prover.ceremony.keypair import PHASE1_SECRETS, PublicKey, g2_mul, phase1_key, scale_points
from prover.ceremony.known_secret import tau_powers
from prover.ceremony.rng import ChaCha, beacon_rng, contribution_rng
from prover.errors import FormatError, ZkmarketError
from prover.field import FQ_MODULUS, ints_to_limbs
from prover.formats.binfile import POINT_BYTES, below_modulus, points_from_lem, points_to_lem, points_uncompressed
from prover.formats.ptau import PHASE1_SECTIONS, PointSection, PowersOfTau
from prover.groth16.setup import G1_GENERATOR, G2_GENERATOR

HASH_BYTES = 64
CONTRIBUTION, BEACON = 0, 1
PARAM_NAME, PARAM_ITERATIONS, PARAM_BEACON_HASH = 1, 2, 3
MAX_POWER = 28  # BN254's Fr has 2^28-th roots of unity
CHUNK = 1 << 16  # points per kernel call, bounding memory at any power
# the key in the order snarkjs serialises it: the six G1 points, then the three G2 points
KEY_LAYOUT = [p for n in PHASE1_SECRETS for p in ((n, "g1_s", "g1"), (n, "g1_sx", "g1"))] + [
    (n, "g2_spx", "g2") for n in PHASE1_SECRETS
]
# first points of the parameters that each record keeps: (record field, series, index, group)
RECORD_POINTS = (
    ("tau_g1", "tau_g1", 1, "g1"),
    ("tau_g2", "tau_g2", 1, "g2"),
    ("alpha_g1", "alpha_tau_g1", 0, "g1"),
    ("beta_g1", "beta_tau_g1", 0, "g1"),
    ("beta_g2", "beta_g2", 0, "g2"),
)


class CeremonyError(ZkmarketError):
    """A ceremony step cannot run on this input (a reduced file, a bad beacon value)."""


@dataclass
class Contribution:
    """One record of a .ptau transcript (section 7); points in the kernel layouts."""

    tau_g1: np.ndarray
    tau_g2: np.ndarray
    alpha_g1: np.ndarray
    beta_g1: np.ndarray
    beta_g2: np.ndarray
    key: dict[str, PublicKey]
    partial_hash: bytes
    next_challenge: bytes
    type: int = CONTRIBUTION
    name: str = ""
    num_iterations_exp: int | None = None
    beacon_hash: bytes | None = None

    def response_hash(self) -> bytes:
        """The contribution's response hash: its saved BLAKE2b state finished with its key."""
        return ResumableBlake2b.from_partial_state(self.partial_hash).update(key_bytes(self.key)).digest()

    def contribution_hash(self) -> str:
        return self.response_hash().hex()


@dataclass
class Phase1Result:
    ptau: PowersOfTau
    contribution: Contribution
    response_hash: bytes


# --- encodings ----------------------------------------------------------------------------------


def key_bytes(key: dict[str, PublicKey]) -> bytes:
    """A phase-1 key uncompressed, as the response hash consumes it."""
    return b"".join(points_uncompressed(getattr(key[n], attr), g) for n, attr, g in KEY_LAYOUT)


def points_compressed(points: np.ndarray, group: str) -> bytes:
    """snarkjs's compressed encoding: x big-endian (a G2 x as c1 then c0) with the top bit set
    when y is "negative" (above (q-1)/2; for G2 judged on c1, or c0 when c1 is zero) and
    0x40 alone for the point at infinity."""
    points = np.ascontiguousarray(points, dtype=np.uint64).reshape((-1,) + ((2, 4) if group == "g1" else (2, 2, 4)))
    width = 32 if group == "g1" else 64
    raw = np.frombuffer(points_uncompressed(points, group), dtype=np.uint8).reshape(len(points), 2 * width)
    out = raw[:, :width].copy()
    y = points[:, 1].reshape(len(points), -1, 4)
    if group == "g1":
        sign_limbs = y[:, 0]
    else:  # c1 unless it is zero
        c1_zero = cast(np.ndarray, ~y[:, 1].any(axis=1))  # numpy's stubs allow a scalar
        sign_limbs = np.where(c1_zero[:, None], y[:, 0], y[:, 1])
    negative = ~below_modulus(sign_limbs, (FQ_MODULUS - 1) // 2 + 1)
    infinity = ~points.reshape(len(points), -1).any(axis=1)
    out[negative & ~infinity, 0] |= 0x80
    out[infinity] = 0
    out[infinity, 0] = 0x40
    return out.tobytes()


def read_contributions(raw: bytes, where: str = "section 7 (contributions)") -> list[Contribution]:
    """Parse a .ptau section 7."""
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(raw):
            raise FormatError(f"{where}: truncated contribution record: the file is corrupt")
        pos += n
        return bytes(raw[pos - n : pos])

    def point(group: str) -> np.ndarray:
        data = np.frombuffer(take(POINT_BYTES[group]), dtype=np.uint8)
        return points_from_lem(data, group, where)[0]

    (count,) = struct.unpack("<I", take(4))
    records = []
    for _ in range(count):
        first: dict[str, Any] = {name: point(group) for name, _, _, group in RECORD_POINTS}
        parts = {(n, attr): point(g) for n, attr, g in KEY_LAYOUT}
        key = {n: PublicKey(parts[n, "g1_s"], parts[n, "g1_sx"], parts[n, "g2_spx"]) for n in PHASE1_SECRETS}
        c = Contribution(
            **first,
            key=key,
            partial_hash=take(PARTIAL_STATE_BYTES),
            next_challenge=take(HASH_BYTES),
            type=struct.unpack("<I", take(4))[0],
        )
        params = take(struct.unpack("<I", take(4))[0])
        i, last_tag = 0, 0
        while i < len(params):
            tag = params[i]
            if tag <= last_tag:
                raise FormatError(f"{where}: contribution parameters are not sorted: the file is corrupt")
            last_tag = tag
            if tag == PARAM_NAME:
                c.name = params[i + 2 : i + 2 + params[i + 1]].decode("utf-8", errors="replace")
                i += 2 + params[i + 1]
            elif tag == PARAM_ITERATIONS:
                c.num_iterations_exp = params[i + 1]
                i += 2
            elif tag == PARAM_BEACON_HASH:
                c.beacon_hash = params[i + 2 : i + 2 + params[i + 1]]
                i += 2 + params[i + 1]
            else:
                raise FormatError(f"{where}: unknown contribution parameter type {tag}")
        records.append(c)
    if pos != len(raw):
        raise FormatError(f"{where}: trailing bytes after {count} contributions: the file is corrupt")
    return records


def write_contributions(records: list[Contribution]) -> bytes:
    out = bytearray(struct.pack("<I", len(records)))
    for c in records:
        for name, _, _, _ in RECORD_POINTS:
            out += points_to_lem(getattr(c, name)).tobytes()
        for n, attr, _ in KEY_LAYOUT:
            out += points_to_lem(getattr(c.key[n], attr)).tobytes()
        out += c.partial_hash + c.next_challenge + struct.pack("<I", c.type)
        params = bytearray()
        if c.name:
            encoded = c.name[:64].encode("utf-8")
            params += bytes([PARAM_NAME, len(encoded)]) + encoded
        if c.type == BEACON:
            if c.num_iterations_exp is None or c.beacon_hash is None:
                raise FormatError(
                    f"beacon record {c.name!r} has no beacon value or iteration count: the "
                    "transcript is corrupt (`zkmarket powersoftau verify` names the record)"
                )
            params += bytes([PARAM_ITERATIONS, c.num_iterations_exp, PARAM_BEACON_HASH, len(c.beacon_hash)])
            params += c.beacon_hash
        out += struct.pack("<I", len(params)) + params
    return bytes(out)


# --- hashes -------------------------------------------------------------------------------------


def first_challenge(power: int) -> bytes:
    """Challenge 0: BLAKE2b(BLAKE2b() || the all-generator parameters, uncompressed)."""
    n = 1 << power
    hasher = hashlib.blake2b(hashlib.blake2b(digest_size=HASH_BYTES).digest(), digest_size=HASH_BYTES)
    g1 = points_uncompressed(G1_GENERATOR, "g1")
    g2 = points_uncompressed(G2_GENERATOR, "g2")
    for point, count in ((g1, 2 * n - 1), (g2, n), (g1, n), (g1, n), (g2, 1)):
        block = point * min(count, 4096)
        for start in range(0, count, 4096):
            hasher.update(block if start + 4096 <= count else point * (count - start))
    return hasher.digest()


def series_chunks(ptau: PowersOfTau):
    """``(series, group, canonical points)`` over the five parameter series in file order, in
    chunks of at most ``CHUNK`` points."""
    for name, (_, group) in PHASE1_SECTIONS.items():
        section = getattr(ptau, name)
        for start in range(0, len(section), CHUNK):
            yield name, group, section[start : start + CHUNK]
    yield "beta_g2", "g2", ptau.beta_g2[None]


def next_challenge(response_hash: bytes, ptau: PowersOfTau) -> bytes:
    """The challenge after a contribution: BLAKE2b(response hash || parameters, uncompressed)."""
    hasher = hashlib.blake2b(response_hash, digest_size=HASH_BYTES)
    for _, group, points in series_chunks(ptau):
        hasher.update(points_uncompressed(points, group))
    return hasher.digest()


def last_challenge(ptau: PowersOfTau, records: list[Contribution]) -> bytes:
    return records[-1].next_challenge if records else first_challenge(ptau.power)


# --- the steps ----------------------------------------------------------------------------------


def new(power: int) -> PowersOfTau:
    """A new ceremony of ``power`` (snarkjs ``powersoftau new bn128 POWER``): every point the
    generator, no contribution. It protects nothing until someone contributes."""
    if not 1 <= power <= MAX_POWER:
        raise CeremonyError(f"power must be between 1 and {MAX_POWER}, got {power}")
    n = 1 << power
    source = f"new powers of tau 2^{power}"

    def series(point: np.ndarray, count: int, group: str) -> PointSection:
        return PointSection.from_points(np.broadcast_to(point, (count,) + point.shape), group, source)

    return PowersOfTau(
        power,
        tau_g1=series(G1_GENERATOR, 2 * n - 1, "g1"),
        tau_g2=series(G2_GENERATOR, n, "g2"),
        alpha_tau_g1=series(G1_GENERATOR, n, "g1"),
        beta_tau_g1=series(G1_GENERATOR, n, "g1"),
        beta_g2=G2_GENERATOR.copy(),
        ceremony_power=power,
        contributions=write_contributions([]),
        source=source,
    )


def contribute(
    ptau: PowersOfTau, name: str = "", entropy: str | bytes = b"", *, progress: bool = False
) -> Phase1Result:
    """Multiply the parameters by fresh secrets (from the OS CSPRNG plus ``entropy``) and append
    the contribution's record with its proof of knowledge; the secrets are dropped on return."""
    return _apply_key(ptau, contribution_rng(entropy), name, progress)


def beacon(
    ptau: PowersOfTau, beacon_hash: bytes, iterations_exp: int, name: str = "", *, progress: bool = False
) -> Phase1Result:
    """The closing contribution whose secrets anyone can recompute from a public random value
    ``beacon_hash`` (e.g. a future block hash) hashed ``2^iterations_exp`` times."""
    check_beacon(beacon_hash, iterations_exp)
    return _apply_key(
        ptau,
        beacon_rng(beacon_hash, iterations_exp),
        name,
        progress,
        beacon_params={"type": BEACON, "num_iterations_exp": iterations_exp, "beacon_hash": bytes(beacon_hash)},
    )


def check_beacon(beacon_hash: bytes, iterations_exp: int) -> None:
    if not 1 <= len(beacon_hash) <= 255:
        raise CeremonyError("the beacon value must be 1 to 255 bytes (give it in hexadecimal)")
    if not 10 <= iterations_exp <= 63:
        raise CeremonyError(f"the beacon's iteration exponent must be between 10 and 63, got {iterations_exp}")


def _apply_key(
    ptau: PowersOfTau, rng: ChaCha, name: str, progress: bool, beacon_params: dict | None = None
) -> Phase1Result:
    if ptau.ceremony_power and ptau.ceremony_power != ptau.power:
        raise CeremonyError(
            f"{ptau.source} was reduced from power {ptau.ceremony_power} to {ptau.power}: "
            f"contribute to the full-size file instead"
        )
    records = read_contributions(ptau.contributions)
    challenge = last_challenge(ptau, records)
    secrets, key = phase1_key(challenge, rng)
    n = 1 << ptau.power
    powers = tau_powers(secrets["tau"], 2 * n - 1)
    factors = {"tau_g1": 1, "tau_g2": 1, "alpha_tau_g1": secrets["alpha"], "beta_tau_g1": secrets["beta"]}

    response = ResumableBlake2b().update(challenge)
    new_series: dict[str, list[np.ndarray]] = {name: [] for name in PHASE1_SECTIONS}
    total = 4 * n
    with tqdm(total=total, desc="powersoftau contribute", unit="pt", disable=not progress, leave=False) as bar:
        for series_name, group, points in series_chunks(ptau):
            if series_name == "beta_g2":
                scaled = g2_mul(points[0], secrets["beta"])[None]
            else:
                start = sum(len(c) for c in new_series[series_name])
                scalars = powers[start : start + len(points)]
                if factors[series_name] != 1:
                    scalars = kernels.fr_mul(scalars, np.tile(ints_to_limbs([factors[series_name]]), (len(points), 1)))
                scaled = scale_points(points, scalars, group)
                new_series[series_name].append(scaled)
            response.update(points_compressed(scaled, group))
            bar.update(len(points))
        beta_g2 = scaled[0]
    partial_hash = response.partial_state()
    response_hash = response.update(key_bytes(key)).digest()

    sections = {
        name: PointSection.from_points(np.concatenate(chunks), PHASE1_SECTIONS[name][1], ptau.source)
        for name, chunks in new_series.items()
    }
    new_ptau = PowersOfTau(
        ptau.power,
        **sections,
        beta_g2=beta_g2,
        ceremony_power=ptau.power,
        contributions=b"",
        lagrange=None,
        source=ptau.source,
    )
    record = Contribution(
        tau_g1=sections["tau_g1"][1],
        tau_g2=sections["tau_g2"][1],
        alpha_g1=sections["alpha_tau_g1"][0],
        beta_g1=sections["beta_tau_g1"][0],
        beta_g2=beta_g2,
        key=key,
        partial_hash=partial_hash,
        next_challenge=next_challenge(response_hash, new_ptau),
        name=name,
        **(beacon_params or {}),
    )
    new_ptau.contributions = write_contributions(records + [record])
    del secrets, powers  # the toxic waste: nothing keeps it past this call
    return Phase1Result(new_ptau, record, response_hash)
