"""Prepare a phase-1 powers of tau for phase 2: the Lagrange-basis sections 12-15.

For each domain size n = 2^k (k = 0..power, and k = power + 1 for tau G1, whose top power is
missing and taken as zero), the points ``L_i(tau) P`` for ``i < n`` are the inverse NTT, over the
group, of ``tau^j P`` for ``j < n``: ``L_i(tau) = (1/n) sum_j tau^j w^(-ij)``. Nobody needs to
know tau for this. The inverse NTT runs as radix-2 stages, each one sparse linear combination
(two points per output) on the native kernels: n log n scalar multiplications per block.
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from prover import kernels
from prover.field import FR_MODULUS, ints_to_limbs
from prover.formats.ptau import LAGRANGE_SECTIONS, PHASE1_SECTIONS, PointSection, PowersOfTau


def _bit_reversed(n: int) -> np.ndarray:
    bits = n.bit_length() - 1
    index = np.arange(n)
    out = np.zeros(n, dtype=np.int64)
    for b in range(bits):
        out |= ((index >> b) & 1) << (bits - 1 - b)
    return out


def group_intt(points: np.ndarray, group: str) -> np.ndarray:
    """The inverse NTT of a power-of-two run of points: ``out_i = (1/n) sum_j w^(-ij) P_j``,
    with ``w = kernels.root_of_unity(n)`` (decimation in time, 1/n folded into the first stage)."""
    n = len(points)
    lincomb = kernels.g1_sparse_lincomb if group == "g1" else kernels.g2_sparse_lincomb
    a = np.ascontiguousarray(points[_bit_reversed(n)])
    scale = pow(n, -1, FR_MODULUS)
    length = 2
    while length <= n:
        half = length // 2
        w = pow(kernels.root_of_unity(length), -1, FR_MODULUS)
        twiddles = [pow(w, j, FR_MODULUS) for j in range(half)]
        indices, coeffs = [], []
        for start in range(0, n, length):
            for j in range(half):
                lo, hi = start + j, start + j + half
                indices.append((lo, hi))
                coeffs.append((scale, scale * twiddles[j]))
            for j in range(half):
                lo, hi = start + j, start + j + half
                indices.append((lo, hi))
                coeffs.append((scale, -scale * twiddles[j]))
        # the rows were built in output order: per block, its first half then its second half
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        cs = ints_to_limbs([c for pair in coeffs for c in pair], FR_MODULUS)
        a = lincomb(np.arange(0, 2 * n + 1, 2, dtype=np.int64), idx, cs, a)
        scale = 1
        length *= 2
    return a


def prepare_phase2(ptau: PowersOfTau, *, progress: bool = False) -> PowersOfTau:
    """``ptau`` with its Lagrange sections (snarkjs ``powersoftau prepare phase2``); the phase-1
    sections and the transcript are kept as they are."""
    n_max = 1 << ptau.power
    lagrange = {}
    total = sum(1 for series in LAGRANGE_SECTIONS for k in range(ptau.power + 1 + (series == "tau_g1")))
    with tqdm(total=total, desc="prepare phase2", unit="block", disable=not progress, leave=False) as bar:
        for series in LAGRANGE_SECTIONS:
            group = PHASE1_SECTIONS[series][1]
            powers = getattr(ptau, series)
            blocks = []
            n = 1
            while n <= n_max or (series == "tau_g1" and n == 2 * n_max):
                block = np.zeros((n,) + powers.lem.shape[1:], dtype=np.uint64)
                available = min(n, len(powers))
                block[:available] = powers[:available]
                blocks.append(group_intt(block, group))
                bar.update()
                n *= 2
            lagrange[series] = PointSection.from_points(np.concatenate(blocks), group, ptau.source)
    return PowersOfTau(ptau.power, ptau.tau_g1, ptau.tau_g2, ptau.alpha_tau_g1, ptau.beta_tau_g1, ptau.beta_g2,
                       ceremony_power=ptau.ceremony_power, contributions=ptau.contributions,
                       lagrange=lagrange, source=ptau.source)
