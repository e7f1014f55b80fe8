"""Rank-1 constraint systems: (A.w) * (B.w) = (C.w), with sparse A, B, C over Fr.

Wire order is the circom/snarkjs convention (../shared/DESIGN.md): wire 0 is the constant 1,
then the public wires (circuit outputs first, then public inputs, in statement order), then
private wires. ``n_public = n_outputs + n_public_inputs`` wires follow wire 0.
A witness is an Fr limb array of shape ``(n_wires, 4)`` (see ``prover.field``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from prover import kernels
from prover.field import FR_MODULUS, LIMBS


@dataclass
class SparseMatrix:
    """CSR matrix over Fr: rows are constraints, columns are wires."""

    indptr: np.ndarray  # int64 (rows + 1,)
    indices: np.ndarray  # int64 (nnz,)
    coeffs: np.ndarray  # uint64 (nnz, 4), canonical Fr limbs

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    @property
    def nnz(self) -> int:
        return len(self.indices)

    def dot(self, witness: np.ndarray) -> np.ndarray:
        return kernels.sparse_matvec(self.indptr, self.indices, self.coeffs, witness)

    def transpose(self, n_cols: int) -> SparseMatrix:
        """The CSR transpose (columns become rows), keeping row order within each column."""
        rows = np.repeat(np.arange(self.n_rows, dtype=np.int64), np.diff(self.indptr))
        order = np.argsort(self.indices, kind="stable")
        counts = np.bincount(self.indices, minlength=n_cols)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return SparseMatrix(indptr, rows[order], np.ascontiguousarray(self.coeffs[order]))

    @classmethod
    def empty(cls, n_rows: int) -> SparseMatrix:
        return cls(
            np.zeros(n_rows + 1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros((0, LIMBS), dtype=np.uint64)
        )


@dataclass
class R1CS:
    n_wires: int
    n_outputs: int
    n_public_inputs: int
    n_private_inputs: int
    A: SparseMatrix
    B: SparseMatrix
    C: SparseMatrix
    prime: int = FR_MODULUS
    # wire -> label id (the .r1cs section 3 map); identity when a builder has no labels
    wire_to_label: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_constraints(self) -> int:
        return self.A.n_rows

    @property
    def n_public(self) -> int:
        return self.n_outputs + self.n_public_inputs

    def unsatisfied(self, witness: np.ndarray) -> np.ndarray:
        """Indices of the constraints the witness violates (empty when it satisfies them all).
        Also checks that wire 0 is the constant 1."""
        if witness.shape != (self.n_wires, LIMBS):
            raise ValueError(f"witness has shape {witness.shape}, expected ({self.n_wires}, {LIMBS})")
        if not (witness[0, 0] == 1 and not witness[0, 1:].any()):
            raise ValueError("witness wire 0 must be the constant 1")
        lhs = kernels.fr_mul(self.A.dot(witness), self.B.dot(witness))
        rhs = self.C.dot(witness)
        return np.nonzero((lhs != rhs).any(axis=1))[0]

    def is_satisfied(self, witness: np.ndarray) -> bool:
        return len(self.unsatisfied(witness)) == 0
