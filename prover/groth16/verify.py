"""The Groth16 verifier: does a proof show knowledge of a witness with these public signals?

With ``vk_x = IC_0 + sum_i pub_i IC_i`` the proof is accepted exactly when

    e(A, B) = e(alpha1, beta2) * e(vk_x, gamma2) * e(C, delta2),

checked as one product of four pairings equal to one (with ``-A``). Malformed input (a public
signal that is not a field element, the wrong number of them, a coordinate that is not a
canonical base-field element, a point off its curve or a G2 point outside the prime-order
subgroup) makes a proof invalid: both verifiers return False rather than raise.

:func:`verify` uses the native kernels; :func:`verify_reference` computes the same with py_ecc
alone, as the slow independent check (and the verifier of last resort).
"""

from __future__ import annotations

import numpy as np

from prover import kernels
from prover.field import FQ_MODULUS, FR_MODULUS, LIMBS, ints_to_limbs, limbs_to_ints
from prover.groth16.keys import Proof, VerifyingKey


def verify(vk: VerifyingKey, public_signals: list[int], proof: Proof) -> bool:
    """Accept ``proof`` for ``public_signals`` under ``vk`` (see the module docstring)."""
    if not _well_formed(vk, public_signals, proof):
        return False
    vk_x = kernels.g1_msm(vk.ic, ints_to_limbs([1, *map(int, public_signals)]))
    try:
        return bool(
            kernels.pairing_check(
                np.stack([_neg_g1(proof.a), vk.alpha1, vk_x, proof.c]),
                np.stack([proof.b, vk.beta2, vk.gamma2, vk.delta2]),
            )
        )
    except ValueError:  # a point off its curve, or B outside the subgroup
        return False


def verify_reference(vk: VerifyingKey, public_signals: list[int], proof: Proof) -> bool:
    """:func:`verify` computed with py_ecc only (slow; independent of the native kernels)."""
    # py_ecc loads here only: the native verifier, and a prover that checks its own proofs,
    # start without it
    from py_ecc import optimized_bn128 as bn

    from prover.kernels import reference

    if not _well_formed(vk, public_signals, proof):
        return False
    try:
        a, c = reference.g1_from_array(proof.a), reference.g1_from_array(proof.c)
        b = _py_ecc_g2(proof.b)
    except ValueError:
        return False
    vk_x = reference.g1_from_array(vk.ic[0])
    for point, signal in zip(vk.ic[1:], public_signals):
        vk_x = bn.add(vk_x, bn.multiply(reference.g1_from_array(point), int(signal)))
    product = bn.FQ12.one()
    for p, q in (
        (bn.neg(a), b),
        (reference.g1_from_array(vk.alpha1), _py_ecc_g2(vk.beta2)),
        (vk_x, _py_ecc_g2(vk.gamma2)),
        (c, _py_ecc_g2(vk.delta2)),
    ):
        product *= bn.pairing(q, p, final_exponentiate=False)
    return bn.final_exponentiate(product) == bn.FQ12.one()


def _well_formed(vk: VerifyingKey, public_signals: list[int], proof: Proof) -> bool:
    """The checks that come before any curve arithmetic: signal count and range, array shapes,
    canonical coordinates (an encoding >= q would alias another point)."""
    if len(public_signals) != vk.n_public:
        return False
    if not all(
        isinstance(x, (int, np.integer)) and not isinstance(x, bool) and 0 <= x < FR_MODULUS for x in public_signals
    ):
        return False
    shapes = ((proof.a, (2, LIMBS)), (proof.b, (2, 2, LIMBS)), (proof.c, (2, LIMBS)))
    if not all(isinstance(p, np.ndarray) and p.shape == shape for p, shape in shapes):
        return False
    coordinates = limbs_to_ints(np.concatenate([np.asarray(p, dtype=np.uint64).reshape(-1, LIMBS) for p, _ in shapes]))
    return all(x < FQ_MODULUS for x in coordinates)


def _neg_g1(point: np.ndarray) -> np.ndarray:
    x, y = limbs_to_ints(point)
    return ints_to_limbs([x, (FQ_MODULUS - y) % FQ_MODULUS])


def _py_ecc_g2(point: np.ndarray):
    from py_ecc import optimized_bn128 as bn

    from prover.kernels import reference

    q = reference.g2_from_array(point)
    if not bn.is_inf(bn.multiply(q, bn.curve_order)):
        raise ValueError("G2 point is not in the prime-order subgroup")
    return q
