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
:func:`known_secret_setup` skips the ptau altogether and makes a circuit's key (the one
``setup`` would make from that ptau) straight from the secret.
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from prover import kernels
from prover.field import FR_MODULUS, ints_to_limbs
from prover.formats.ptau import PointSection, PowersOfTau
from prover.groth16.setup import G1_GENERATOR as G1
from prover.groth16.setup import G2_GENERATOR as G2


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
        power,
        tau_g1=tau_g1,
        tau_g2=tau_g2,
        alpha_tau_g1=alpha_tau_g1,
        beta_tau_g1=beta_tau_g1,
        beta_g2=kernels.g2_batch_mul(G2, ints_to_limbs([beta % FR_MODULUS]))[0],
        lagrange=lagrange_sections,
        source=source,
    )


def known_secret_setup(r1cs, tau: int, alpha: int, beta: int, *, progress: bool = False):
    """The Groth16 key that :func:`prover.groth16.setup.setup` makes for ``r1cs`` from
    ``known_secret_ptau(log2(domain), tau, alpha, beta)``, point for point and with the same
    circuit hash, computed from the KNOWN secret directly (INSECURE, see the module docstring).

    Instead of combining ptau points wire by wire it evaluates each wire's QAP polynomials at
    ``tau`` as field elements (sparse products with the Lagrange scalars) and multiplies the
    generators once per key point: no ptau of twice the domain is built, so keys for circuits
    of millions of constraints (the accuracy and retrieval benchmarks) take minutes, not hours.
    """
    from prover.errors import CircuitError
    from prover.groth16 import qap
    from prover.groth16.setup import circuit_hash, h_hash_count, key_before_phase2

    if r1cs.prime != FR_MODULUS:
        raise CircuitError("the circuit is not over the BN254 scalar field: compile it for bn128")
    tau, alpha, beta = (x % FR_MODULUS for x in (tau, alpha, beta))
    if 0 in (tau, alpha, beta):
        raise ValueError("tau, alpha and beta must be non-zero modulo r")
    n = qap.domain_size(r1cs.n_constraints, r1cs.n_public)
    steps = ("Lagrange scalars", "A", "B1", "B2", "IC and C", "H", "circuit hash")
    with tqdm(
        total=len(steps),
        desc=f"known-secret setup 2^{n.bit_length() - 1} (INSECURE)",
        unit="step",
        disable=not progress,
        leave=False,
    ) as bar:

        def step(name: str) -> None:
            bar.set_postfix_str(name)

        step(steps[0])
        # the ptau of power log2(n) has tau^0 .. tau^(2n-2) in G1: its 2n Lagrange block lacks
        # the top power (see lagrange_scalars), and so does the key made from it
        powers = tau_powers(tau, 2 * n - 1)
        lagrange_n = kernels.intt(np.ascontiguousarray(powers[:n]))
        top = np.zeros((2 * n, powers.shape[1]), dtype=np.uint64)
        top[: 2 * n - 1] = powers
        lagrange_2n = kernels.intt(top)
        del top
        a_qap, b_qap = qap.qap_matrices(r1cs)
        rows = a_qap.n_rows
        lag = np.ascontiguousarray(lagrange_n[:rows])
        u = a_qap.transpose(r1cs.n_wires).dot(lag)
        v = b_qap.transpose(r1cs.n_wires).dot(lag)
        c_rows = r1cs.C.n_rows
        w = r1cs.C.transpose(r1cs.n_wires).dot(np.ascontiguousarray(lagrange_n[:c_rows]))
        bar.update()

        step(steps[1])
        a_points = kernels.g1_batch_mul(G1, u)
        bar.update()
        step(steps[2])
        b1_points = kernels.g1_batch_mul(G1, v)
        bar.update()
        step(steps[3])
        b2_points = kernels.g2_batch_mul(G2, v)
        bar.update()
        step(steps[4])
        # gamma = delta = 1: IC_j and C_j are (beta u_j + alpha v_j + w_j) G1
        ic_c = kernels.fr_add(kernels.fr_add(_scaled(u, beta), _scaled(v, alpha)), w)
        ic_c_points = kernels.g1_batch_mul(G1, ic_c)
        bar.update()
        step(steps[5])
        h_points = kernels.g1_batch_mul(G1, np.ascontiguousarray(lagrange_2n[1::2]))
        del lagrange_2n
        bar.update()
        pk = key_before_phase2(
            r1cs,
            (a_qap, b_qap),
            alpha1=kernels.g1_batch_mul(G1, ints_to_limbs([alpha]))[0],
            beta1=kernels.g1_batch_mul(G1, ints_to_limbs([beta]))[0],
            beta2=kernels.g2_batch_mul(G2, ints_to_limbs([beta]))[0],
            points=(a_points, b1_points, b2_points, ic_c_points, h_points),
        )
        step(steps[6])
        # the circuit hash hashes tau^i (tau^n - 1) G1 in place of the H query
        count = h_hash_count(n, 2 * n - 1)
        tau_n_minus_1 = (pow(tau, n, FR_MODULUS) - 1) % FR_MODULUS
        h_hash = kernels.g1_batch_mul(G1, _scaled(np.ascontiguousarray(powers[:count]), tau_n_minus_1))
        pk.mpc_params = {"cs_hash": circuit_hash(pk, h_hash), "contributions": []}
        bar.update()
    return pk
