"""What an attacker builds: a proof forged from known toxic waste, a twist point outside G2."""

from __future__ import annotations

import numpy as np
from py_ecc import optimized_bn128 as bn

from prover import kernels
from prover.ceremony.keypair import g1_mul
from prover.field import FQ_MODULUS, FR_MODULUS, ints_to_limbs
from prover.groth16.keys import Proof
from prover.groth16.setup import G1_GENERATOR, G2_GENERATOR
from prover.kernels.reference import g2_to_array


def fq2_sqrt(a: bn.FQ2):
    """A square root in Fq2 (q = 3 mod 4), or None."""
    q = FQ_MODULUS
    a1 = a ** ((q - 3) // 4)
    alpha = a1 * a1 * a
    if alpha**q * alpha == bn.FQ2([q - 1, 0]):
        return None
    x0 = a1 * a
    if alpha == bn.FQ2([q - 1, 0]):
        return bn.FQ2([0, 1]) * x0
    return (bn.FQ2.one() + alpha) ** ((q - 1) // 2) * x0


def twist_point_outside_g2() -> np.ndarray:
    """A point on the twist curve that is not in the order-r subgroup G2."""
    for x in range(1, 50):
        xx = bn.FQ2([x, 1])
        y = fq2_sqrt(xx**3 + bn.b2)
        if y is not None and y * y == xx**3 + bn.b2:
            point = (xx, y, bn.FQ2.one())
            if not bn.is_inf(bn.multiply(point, FR_MODULUS)):
                return g2_to_array(point)
    raise AssertionError("no point found")


def forge_proof(pk, public: list[int], alpha: int, delta: int) -> Proof:
    """A proof of ANY public signals from the toxic waste alpha and delta (gamma = 1, as in every
    snarkjs key): A = a G1, B = b G2, C = (ab G1 - alpha beta1 - vk_x) / delta, so that
    e(A, B) = e(alpha1, beta2) e(vk_x, gamma2) e(C, delta2)."""
    a, b = 5, 7
    vk_x = kernels.g1_msm(pk.ic, ints_to_limbs([1, *public]))
    numerator = kernels.g1_msm(
        np.stack([G1_GENERATOR, pk.beta1, vk_x]), ints_to_limbs([a * b, FR_MODULUS - alpha, FR_MODULUS - 1])
    )
    return Proof(
        g1_mul(G1_GENERATOR, a),
        kernels.g2_batch_mul(G2_GENERATOR, ints_to_limbs([b]))[0],
        g1_mul(numerator, pow(delta, -1, FR_MODULUS)),
    )
