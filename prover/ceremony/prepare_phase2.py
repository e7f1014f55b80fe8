"""Prepare a phase-1 powers of tau for phase 2: the Lagrange-basis sections 12-15.

For each domain size n = 2^k (k = 0..power, and k = power + 1 for tau G1, whose top power is
missing and taken as zero), the points ``L_i(tau) P`` for ``i < n`` are the inverse NTT, over the
group, of ``tau^j P`` for ``j < n``: ``L_i(tau) = (1/n) sum_j tau^j w^(-ij)``. Nobody needs to
know tau for this. Each block is one call of the group inverse-NTT kernel (``kernels.g1_intt`` /
``g2_intt``: radix 2, (n/2) log n + n scalar multiplications). ``group_intt_by_stages`` is the
same transform written out here stage by stage on the sparse-combination kernels, kept as the
readable reference the kernel is tested against.
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from prover import kernels
from prover.ceremony.keypair import scale_points
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
    with ``w = kernels.root_of_unity(n)``, in one kernel call."""
    intt = kernels.g1_intt if group == "g1" else kernels.g2_intt
    return intt(np.ascontiguousarray(points))


def group_intt_by_stages(points: np.ndarray, group: str) -> np.ndarray:
    """``group_intt`` as radix-2 decimation-in-time stages, one round trip to the sparse
    combination kernels per stage (the slow reference of the kernel)."""
    n = len(points)
    lincomb = kernels.g1_sparse_lincomb if group == "g1" else kernels.g2_sparse_lincomb
    a = np.ascontiguousarray(points[_bit_reversed(n)])
    length = 2
    while length <= n:
        half = length // 2
        w = pow(kernels.root_of_unity(length), -1, FR_MODULUS)
        twiddles = ints_to_limbs([pow(w, j, FR_MODULUS) for j in range(half)])
        blocks = np.arange(0, n, length)[:, None]
        lower = (blocks + np.arange(half)).reshape(-1)
        # the one full scalar multiplication of each butterfly: t = w^j P_(lower + half); then
        # P_lower +- t, whose coefficients +-1 cost the kernel almost nothing
        t = scale_points(a[lower + half], np.tile(twiddles, (n // length, 1)), group)
        stacked = np.concatenate([a[lower], t])
        m, n_blocks = len(lower), n // length
        # output row (block, half s, j) reads (P_lower, t) of butterfly (block, j) with signs (1, +-1)
        pairs = np.stack([np.arange(m), np.arange(m) + m], axis=1).reshape(n_blocks, 1, half, 2)
        indices = np.broadcast_to(pairs, (n_blocks, 2, half, 2)).reshape(-1).astype(np.int64)
        signs = ints_to_limbs([1, 1, 1, FR_MODULUS - 1]).reshape(1, 2, 1, 2, 4)
        coeffs = np.broadcast_to(signs, (n_blocks, 2, half, 2, 4)).reshape(-1, 4)
        a = lincomb(np.arange(0, 2 * n + 1, 2, dtype=np.int64), indices, np.ascontiguousarray(coeffs), stacked)
        length *= 2
    if n > 1:
        a = scale_points(a, np.tile(ints_to_limbs([pow(n, -1, FR_MODULUS)]), (n, 1)), group)
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
    return PowersOfTau(
        ptau.power,
        ptau.tau_g1,
        ptau.tau_g2,
        ptau.alpha_tau_g1,
        ptau.beta_tau_g1,
        ptau.beta_g2,
        ceremony_power=ptau.ceremony_power,
        contributions=ptau.contributions,
        lagrange=lagrange,
        source=ptau.source,
    )
