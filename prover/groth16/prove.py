"""The Groth16 prover: a proof that the prover knows a witness for the key's circuit.

With the key's points (``tau``, ``alpha``, ``beta``, ``delta`` hidden in the exponent), fresh
random ``r``, ``s`` and the QAP values of the witness:

    pi_a = alpha1 + sum_i w_i A_i + r delta1
    pi_b = beta2  + sum_i w_i B2_i + s delta2        (B1: the same in G1, with beta1, delta1)
    pi_c = sum_(private i) w_i C_i + sum_j h_j H_j + s pi_a + r B1 - r s delta1

Each line is one multi-scalar multiplication over the key's points (the kernels skip the
points at infinity and the zero scalars), then one small one adding its fixed terms, so all
curve work goes through ``prover.kernels`` and no Python loop runs over wires or constraints. ``r`` and ``s`` make the
proof zero-knowledge: two proofs of the same witness
differ and reveal nothing beyond the public signals.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import numpy as np

from prover import kernels
from prover.errors import CircuitError
from prover.field import FR_MODULUS, LIMBS, below_modulus, ints_to_limbs, limbs_to_ints
from prover.groth16 import qap
from prover.groth16.keys import Proof, ProvingKey
from prover.r1cs import R1CS

Reduction = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

_STAGES = ("witness polynomials", "quotient", "pi_a", "pi_b", "pi_c")


def prove(
    pk: ProvingKey,
    witness: np.ndarray,
    *,
    progress: bool = False,
    r1cs: R1CS | None = None,
    reduction: Reduction = qap.circom_quotient,
) -> tuple[Proof, list[int]]:
    """Prove knowledge of ``witness`` (an Fr limb array ``(n_vars, 4)``) for ``pk``'s circuit.

    Returns the proof and the public signals (wires ``1..n_public`` as ints). Checks the
    witness's shape, wire 0 and that every value is a canonical field element; with ``r1cs``
    also that it satisfies every constraint (otherwise the proof would simply not verify).
    ``reduction`` must match the key's H points (snarkjs keys: ``qap.circom_quotient``).
    """
    witness = check_witness(pk, witness)
    if r1cs is not None:
        check_satisfies(r1cs, witness)
    bar = _progress_bar(progress)
    try:
        r, s = secrets.randbelow(FR_MODULUS - 1) + 1, secrets.randbelow(FR_MODULUS - 1) + 1

        bar.set_postfix_str(_STAGES[0])
        a, b, c = qap.evaluations(pk.A, pk.B, witness, pk.domain_size)
        bar.update()
        bar.set_postfix_str(_STAGES[1])
        h = reduction(a, b, c)
        del a, b, c
        bar.update()

        bar.set_postfix_str(_STAGES[2])
        mont = pk.points_montgomery  # the key's points as its file stores them
        pi_a = _combine(kernels.g1_msm, kernels.g1_msm(pk.a_points, witness, mont), (pk.alpha1, 1), (pk.delta1, r))
        bar.update()
        bar.set_postfix_str(_STAGES[3])
        pi_b = _combine(kernels.g2_msm, kernels.g2_msm(pk.b2_points, witness, mont), (pk.beta2, 1), (pk.delta2, s))
        b1 = _combine(kernels.g1_msm, kernels.g1_msm(pk.b1_points, witness, mont), (pk.beta1, 1), (pk.delta1, s))
        bar.update()
        bar.set_postfix_str(_STAGES[4])
        private = witness[pk.n_public + 1 :]
        pi_c = _combine(
            kernels.g1_msm,
            kernels.g1_msm(pk.c_points, private, mont),
            # H apart: no concatenated copy of the two, and two MSMs of 2^20 points take no
            # longer than one of 2^21 (its wider windows' buckets fall out of the caches)
            (kernels.g1_msm(pk.h_points, h, mont), 1),
            (pi_a, s),
            (b1, r),
            (pk.delta1, -r * s),
        )
        bar.update()
    finally:
        bar.close()
    return Proof(pi_a, pi_b, pi_c), limbs_to_ints(witness[1 : pk.n_public + 1])


class _NoBar:
    """The progress bar's calls, doing nothing: without a bar, tqdm is not even imported (it
    costs a short proof a third of its start-up)."""

    def set_postfix_str(self, text: str) -> None:
        pass

    def update(self) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(progress: bool):
    if not progress:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=len(_STAGES), desc="groth16 prove", unit="stage", leave=False)


def check_witness(pk: ProvingKey, witness: np.ndarray) -> np.ndarray:
    """The witness as a contiguous ``uint64`` array, after checking its shape against the key,
    that wire 0 is 1 and that every value is below r."""
    witness = np.ascontiguousarray(witness, dtype=np.uint64)
    if witness.shape != (pk.n_vars, LIMBS):
        raise CircuitError(
            f"the witness has shape {witness.shape} but the proving key expects "
            f"({pk.n_vars}, {LIMBS}): was it computed for this circuit?"
        )
    if not (witness[0, 0] == 1 and not witness[0, 1:].any()):
        raise CircuitError("witness wire 0 must be the constant 1: was it computed for this circuit?")
    if not below_modulus(witness).all():
        raise CircuitError("the witness holds values >= r: reduce them modulo the field order")
    return witness


def check_satisfies(r1cs: R1CS, witness: np.ndarray) -> None:
    """CircuitError, naming the first, unless ``witness`` satisfies every constraint of ``r1cs``."""
    bad = r1cs.unsatisfied(witness)
    if len(bad):
        raise CircuitError(
            f"the witness violates {len(bad)} constraint(s), first #{int(bad[0])}: "
            "recompute it from the circuit's inputs"
        )


def _combine(kernel, total: np.ndarray, *terms: tuple[np.ndarray, int]) -> np.ndarray:
    """``total + sum k P`` over the few fixed ``(P, k)`` terms, one small MSM. (The kernels
    themselves drop the key's points at infinity, wires absent from a matrix such as most of B,
    and the zero scalars.)"""
    points = np.stack([total, *(p for p, _ in terms)])
    return kernel(points, ints_to_limbs([1, *(k for _, k in terms)], FR_MODULUS))
