"""INSECURE powers of tau from a KNOWN secret: for tests, benchmarks and forging demonstrations.

Whoever knows ``tau``, ``alpha`` and ``beta`` can forge a proof for any circuit set up from
these powers, and here they are chosen by the caller. Never use such a file for a key that
protects anything: real keys start from a public multi-party phase 1 (see DESIGN.md, Trust).

What it gives is speed and a known answer: a prepared phase-1 (what ``snarkjs powersoftau
prepare phase2`` outputs) computed directly from the secret with batch scalar multiplications
instead of a ceremony, i.e. ``tau^i G1`` for ``i < 2^(p+1) - 1``, ``tau^i G2``, ``alpha tau^i G1``,
``beta tau^i G1`` for ``i < 2^p``, ``beta G2``, and for every domain size ``n = 2^k`` the
Lagrange sections ``L_i(tau) G1`` (up to ``n = 2^(p+1)``, the H query of a ``2^p`` circuit),
``L_i(tau) G2``, ``alpha L_i(tau) G1``, ``beta L_i(tau) G1`` (up to ``n = 2^p``).
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from prover import kernels
from prover.field import FR_MODULUS, ints_to_limbs
from prover.formats.ptau import PointSection, PowersOfTau
from prover.groth16.setup import G1_GENERATOR as G1, G2_GENERATOR as G2


def tau_powers(tau: int, count: int) -> np.ndarray:
    """``[tau^0, ..., tau^(count-1)]`` as Fr limbs, by repeated doubling with the fr_mul kernel."""
    powers = ints_to_limbs([1])
    step = tau % FR_MODULUS
    while len(powers) < count:
        powers = np.concatenate([powers, kernels.fr_mul(powers, ints_to_limbs([step] * len(powers)))])
        step = step * step % FR_MODULUS
    return np.ascontiguousarray(powers[:count])


def lagrange_scalars(powers: np.ndarray, largest: int) -> np.ndarray:
    """``L_i(tau)`` for every domain size ``n = 1, 2, 4, ..., largest``, concatenated (size n at
    index n - 1). ``L_i(tau) = (1/n) sum_j tau^j w^(-ij)`` is the inverse NTT of
    ``tau^0..tau^(n-1)``; a power missing from ``powers`` counts as zero (as in the .ptau's
    largest G1 block, which has one power fewer than it has points)."""
    blocks = []
    n = 1
    while n <= largest:
        block = np.zeros((n, powers.shape[1]), dtype=np.uint64)
        block[: min(n, len(powers))] = powers[:n]
        blocks.append(kernels.intt(block))
        n *= 2
    return np.concatenate(blocks)


def _scaled(scalars: np.ndarray, factor: int) -> np.ndarray:
    return kernels.fr_mul(scalars, np.tile(ints_to_limbs([factor % FR_MODULUS]), (len(scalars), 1)))


def known_secret_ptau(power: int, tau: int, alpha: int, beta: int, *, progress: bool = False) -> PowersOfTau:
    """A prepared powers of tau of ``power`` built from the KNOWN secret (INSECURE, see the
    module docstring); ``prover.formats.write_ptau`` writes it as a file snarkjs accepts."""
    if not 1 <= power <= 27:
        raise ValueError(f"power must be in 1..27, got {power}")
    if any(x % FR_MODULUS == 0 for x in (tau, alpha, beta)):
        raise ValueError("tau, alpha and beta must be non-zero modulo r")
    size = 1 << power
    source = f"known-secret ptau 2^{power} (INSECURE)"
    with tqdm(total=9, desc=source, unit="section", disable=not progress, leave=False) as bar:
        def series(name: str, group: str, scalars: np.ndarray, factor: int = 1) -> PointSection:
            bar.set_postfix_str(name)
            if factor != 1:
                scalars = _scaled(scalars, factor)
            batch_mul = kernels.g1_batch_mul if group == "g1" else kernels.g2_batch_mul
            points = batch_mul(G1 if group == "g1" else G2, scalars)
            bar.update()
            return PointSection.from_points(points, group, source)

        powers = tau_powers(tau, 2 * size - 1)
        # the G1 Lagrange section reaches the 2^(p+1) domain (for the H query), the others 2^p
        lagrange_g1 = lagrange_scalars(powers, 2 * size)
        lagrange = lagrange_g1[: 2 * size - 1]
        bar.update()
        tau_g1 = series("tau G1", "g1", powers)
        tau_g2 = series("tau G2", "g2", powers[:size])
        alpha_tau_g1 = series("alpha tau G1", "g1", powers[:size], alpha)
        beta_tau_g1 = series("beta tau G1", "g1", powers[:size], beta)
        lagrange_sections = {
            "tau_g1": series("Lagrange G1", "g1", lagrange_g1),
            "tau_g2": series("Lagrange G2", "g2", lagrange),
            "alpha_tau_g1": series("Lagrange alpha G1", "g1", lagrange, alpha),
            "beta_tau_g1": series("Lagrange beta G1", "g1", lagrange, beta),
        }
    return PowersOfTau(
        power, tau_g1=tau_g1, tau_g2=tau_g2, alpha_tau_g1=alpha_tau_g1, beta_tau_g1=beta_tau_g1,
        beta_g2=kernels.g2_batch_mul(G2, ints_to_limbs([beta % FR_MODULUS]))[0],
        lagrange=lagrange_sections, source=source,
    )
