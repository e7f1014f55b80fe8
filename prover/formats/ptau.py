"""snarkjs powers-of-tau files (.ptau): the phase-1 output that Groth16 setup starts from.

Sections (all points LEM, see ``binfile``), for ``power`` p:

1. header: ``n8``, q, power (u32), ceremony power (u32)
2. tau_g1: ``tau^i * G1`` for i < 2^(p+1) - 1
3. tau_g2: ``tau^i * G2`` for i < 2^p
4. alpha_tau_g1, 5. beta_tau_g1: ``alpha * tau^i * G1``, ``beta * tau^i * G1`` for i < 2^p
6. beta_g2: ``beta * G2``
7. the contribution transcript (kept as raw bytes here)
12-15. after ``snarkjs powersoftau prepare phase2``: the same four series in the Lagrange basis,
   for every domain size n = 1, 2, 4, ...: the n points ``L_i(tau)`` of domain n start at point
   index n - 1. Section 12 (G1) goes up to n = 2^(p+1) (its last block is computed from the
   2^(p+1) - 1 available powers with the missing top power taken as zero), 13-15 up to 2^p.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

import numpy as np

from prover.errors import FormatError
from prover.field import FQ_MODULUS
from prover.formats.binfile import (
    POINT_BYTES,
    POINT_SHAPES,
    Chunks,
    points_from_lem,
    points_to_lem,
    prime_header,
    read_binfile,
    read_prime,
    write_binfile,
)

PTAU_VERSION = 1
NO_CONTRIBUTIONS = struct.pack("<I", 0)

PHASE1_SECTIONS = {"tau_g1": (2, "g1"), "tau_g2": (3, "g2"), "alpha_tau_g1": (4, "g1"), "beta_tau_g1": (5, "g1")}
BETA_G2_SECTION = 6
CONTRIBUTIONS_SECTION = 7
# phase-1 series -> its Lagrange-basis section (written by `prepare phase2`)
LAGRANGE_SECTIONS = {"tau_g1": 12, "tau_g2": 13, "alpha_tau_g1": 14, "beta_tau_g1": 15}


class PointSection:
    """A read-only array of curve points kept as stored (LEM limbs, possibly a memmap).

    Indexing converts only the points it selects to canonical kernel layout, so that a setup
    touching 2^k of a ptau's 2^28 points never converts the rest."""

    def __init__(self, lem: np.ndarray, group: str, where: str):
        self.lem = lem.reshape((-1,) + POINT_SHAPES[group])
        self.group = group
        self.where = where

    @classmethod
    def from_points(cls, points: np.ndarray, group: str, where: str = "points") -> PointSection:
        points = np.asarray(points, dtype=np.uint64)
        return cls(points_to_lem(points).reshape(points.shape), group, where)

    def __len__(self) -> int:
        return len(self.lem)

    def __getitem__(self, key) -> np.ndarray:
        selected = self.lem[key]
        single = selected.ndim == len(POINT_SHAPES[self.group])
        out = points_from_lem(selected, self.group, self.where)
        return out[0] if single else out

    def __array__(self, dtype=None, copy=None):
        out = self[:]
        return out if dtype is None else out.astype(dtype)


@dataclass
class PowersOfTau:
    """A phase-1 ceremony output. The point series are ``PointSection`` views; the Lagrange
    series exist only in a ptau prepared for phase 2."""

    power: int
    tau_g1: PointSection
    tau_g2: PointSection
    alpha_tau_g1: PointSection
    beta_tau_g1: PointSection
    beta_g2: np.ndarray  # G2 (2, 2, 4), canonical
    ceremony_power: int = 0  # 0: same as power
    contributions: bytes = NO_CONTRIBUTIONS  # section 7 as stored
    lagrange: dict[str, PointSection] | None = field(default=None, repr=False)
    source: str = "powers of tau"  # file name for messages

    def _lagrange(self, series: str, domain_size: int) -> np.ndarray:
        if not self.lagrange:
            raise FormatError(
                f"{self.source}: this powers-of-tau file is not prepared for phase 2 "
                f"(no Lagrange sections 12-15): run `snarkjs powersoftau prepare phase2 "
                f"IN.ptau OUT.ptau` and use OUT.ptau"
            )
        points = self.lagrange[series]
        if domain_size <= 0 or domain_size & (domain_size - 1) or 2 * domain_size - 1 > len(points):
            largest = (len(points) + 1) // 2
            raise FormatError(
                f"{self.source}: no Lagrange basis of size {domain_size} for {series} "
                f"(power {self.power} holds power-of-two sizes up to {largest}): use a "
                f"powers-of-tau file of a larger power"
            )
        return points[domain_size - 1 : 2 * domain_size - 1]

    def lagrange_g1(self, domain_size: int) -> np.ndarray:
        """``L_i(tau) * G1`` over the domain of ``domain_size`` (up to 2^(power+1))."""
        return self._lagrange("tau_g1", domain_size)

    def lagrange_g2(self, domain_size: int) -> np.ndarray:
        return self._lagrange("tau_g2", domain_size)

    def lagrange_alpha_g1(self, domain_size: int) -> np.ndarray:
        return self._lagrange("alpha_tau_g1", domain_size)

    def lagrange_beta_g1(self, domain_size: int) -> np.ndarray:
        return self._lagrange("beta_tau_g1", domain_size)


def read_ptau(path: str | os.PathLike) -> PowersOfTau:
    """Map a .ptau file. Checks the header (BN254, section sizes against the power); points are
    converted only when read."""
    bf = read_binfile(path, "ptau", PTAU_VERSION)
    header = bf.section(1, "header")
    pos = read_prime(bf, header, 0, FQ_MODULUS, "base field prime q")
    if len(header) != pos + 8:
        raise bf.error(f"header section is {len(header)} bytes, expected {pos + 8}")
    power, ceremony_power = struct.unpack_from("<II", header.data, pos)
    if power > 28:
        raise bf.error(f"power {power} exceeds BN254's 2^28 roots of unity: the header is corrupt")

    def series(section_id: int, group: str, name: str, count: int) -> PointSection:
        raw = bf.section_array(section_id, np.uint8, count * POINT_BYTES[group], name)
        return PointSection(raw.view("<u8"), group, bf.where(section_id, name))

    n = 1 << power
    sizes = {"tau_g1": 2 * n - 1, "tau_g2": n, "alpha_tau_g1": n, "beta_tau_g1": n}
    phase1 = {name: series(sid, group, name, sizes[name]) for name, (sid, group) in PHASE1_SECTIONS.items()}
    beta_g2 = series(BETA_G2_SECTION, "g2", "beta_g2", 1)[0]
    contributions = bytes(bf.section(CONTRIBUTIONS_SECTION, "contributions"))

    lagrange = None
    present = [bf.has(sid) for sid in LAGRANGE_SECTIONS.values()]
    if all(present):
        lagrange = {}
        for name, sid in LAGRANGE_SECTIONS.items():
            top = 2 * n if name == "tau_g1" else n  # largest domain in the section (see above)
            lagrange[name] = series(sid, PHASE1_SECTIONS[name][1], f"lagrange {name}", 2 * top - 1)
    elif any(present):
        raise bf.error(
            "only some of the phase-2 Lagrange sections 12-15 are present: the file is "
            "corrupt; prepare it again with `snarkjs powersoftau prepare phase2`"
        )
    return PowersOfTau(
        power,
        **phase1,
        beta_g2=beta_g2,
        ceremony_power=ceremony_power,
        contributions=contributions,
        lagrange=lagrange,
        source=str(bf.path),
    )


def write_ptau(ptau: PowersOfTau, path: str | os.PathLike) -> None:
    """Write a powers of tau as snarkjs does: sections 1-7, then the Lagrange sections 12-15
    when ``ptau`` has them (a ``PowersOfTau`` with ``lagrange=None`` gives a phase-1-only file,
    the input of ``snarkjs powersoftau prepare phase2``). Points are written as stored."""
    header = prime_header(FQ_MODULUS) + struct.pack("<II", ptau.power, ptau.ceremony_power or ptau.power)
    sections: list[tuple[int, Chunks]] = [(1, header)]
    for name, (sid, _) in PHASE1_SECTIONS.items():
        sections.append((sid, getattr(ptau, name).lem))
    sections.append((BETA_G2_SECTION, points_to_lem(ptau.beta_g2)))
    sections.append((CONTRIBUTIONS_SECTION, ptau.contributions))
    if ptau.lagrange:
        sections += [(sid, ptau.lagrange[name].lem) for name, sid in LAGRANGE_SECTIONS.items()]
    write_binfile(path, "ptau", PTAU_VERSION, sections)
