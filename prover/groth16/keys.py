"""Groth16 keys and proofs as plain data. Points use the layouts of ``prover.kernels``.

Serialization lives in ``prover.formats`` (snarkjs .zkey, verification_key.json, proof.json).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from prover.errors import CircuitError
from prover.r1cs import SparseMatrix


@dataclass
class VerifyingKey:
    alpha1: np.ndarray  # G1 (2, 4)
    beta2: np.ndarray  # G2 (2, 2, 4)
    gamma2: np.ndarray  # G2
    delta2: np.ndarray  # G2
    ic: np.ndarray  # G1 (n_public + 1, 2, 4): IC[0] + sum public_i * IC[i]

    @property
    def n_public(self) -> int:
        return len(self.ic) - 1


@dataclass
class ProvingKey:
    """The content of a snarkjs Groth16 .zkey.

    ``A`` and ``B`` are the QAP matrices over the evaluation domain as snarkjs stores them
    (the circuit's constraints, then one row per public wire and the constant wire), so the
    prover evaluates ``A.w`` and ``B.w`` on ``domain_size`` rows and takes C's evaluations as
    their product on the constraint rows.
    """

    n_vars: int  # wires, including the constant wire 0
    n_public: int  # public wires after wire 0 (outputs + public inputs)
    domain_size: int  # power of two >= n_constraints + n_public + 1
    alpha1: np.ndarray  # G1
    beta1: np.ndarray  # G1
    beta2: np.ndarray  # G2
    gamma2: np.ndarray  # G2
    delta1: np.ndarray  # G1
    delta2: np.ndarray  # G2
    ic: np.ndarray  # G1 (n_public + 1)
    A: SparseMatrix  # rows: domain rows used; columns: wires
    B: SparseMatrix
    a_points: np.ndarray  # G1 (n_vars)
    b1_points: np.ndarray  # G1 (n_vars)
    b2_points: np.ndarray  # G2 (n_vars)
    c_points: np.ndarray  # G1 (n_vars - n_public - 1): private wires only
    h_points: np.ndarray  # G1 (domain_size)
    n_constraints: int = 0  # constraints of the circuit itself (rows of C)
    # phase-2 transcript (the .zkey section 10): circuit hash and contributions, opaque here
    mpc_params: dict = field(default_factory=dict, repr=False)
    # a_points .. h_points hold Montgomery forms (v R mod q) of their coordinates, as the .zkey
    # stores them: a key read for proving only (``read_zkey(..., montgomery_points=True)``),
    # whose points the prover hands to the MSM kernels unconverted
    points_montgomery: bool = False

    def verifying_key(self) -> VerifyingKey:
        return VerifyingKey(self.alpha1, self.beta2, self.gamma2, self.delta2, self.ic)

    def with_canonical_points(self) -> ProvingKey:
        """This key with canonical point arrays (a copy if they are in Montgomery form): what
        code that computes with the points in Python (the ceremony) needs."""
        if not self.points_montgomery:
            return self
        from prover import kernels

        def canonical(points: np.ndarray) -> np.ndarray:
            flat = np.ascontiguousarray(points, dtype=np.uint64).reshape(-1, 4)
            return np.asarray(kernels.from_montgomery(flat, "fq"), dtype=np.uint64).reshape(points.shape)

        return replace(
            self,
            points_montgomery=False,
            a_points=canonical(self.a_points),
            b1_points=canonical(self.b1_points),
            b2_points=canonical(self.b2_points),
            c_points=canonical(self.c_points),
            h_points=canonical(self.h_points),
        )


@dataclass
class Proof:
    a: np.ndarray  # G1 (2, 4)
    b: np.ndarray  # G2 (2, 2, 4)
    c: np.ndarray  # G1 (2, 4)


def check_key_matches(pk: ProvingKey, r1cs, source, how: str) -> None:
    """The one check that a proving key read from ``source`` is for the circuit ``r1cs`` (an
    R1CS or a circuit's witness program: its wire, public-input and constraint counts);
    CircuitError saying ``how`` to get the right one otherwise."""
    key = (pk.n_vars, pk.n_public, pk.n_constraints)
    circuit = (r1cs.n_wires, r1cs.n_public, r1cs.n_constraints)
    if key != circuit:
        raise CircuitError(
            f"{source} is a key for another circuit ({key[0]} wires, {key[1]} public inputs, {key[2]} constraints; "
            f"this one has {circuit[0]}, {circuit[1]} and {circuit[2]}): {how}"
        )
