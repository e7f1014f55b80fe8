"""Thaler's sumcheck protocol for a matrix product, as SafetyNets uses it for dense layers.

For ``C = A B`` with A of ``2^a x 2^k``, B of ``2^k x 2^b`` (zero-padded) and tables in row-major
order (``mle.matrix_table``), the multilinear extensions satisfy, at any point,

    C~(r_x, r_y) = sum_{z in {0,1}^k} A~(r_x, z) * B~(z, r_y)

since both sides are multilinear in (r_x, r_y) and agree on the cube. A claim about C at a
random point therefore reduces, by one sumcheck of degree 2 over the k contracted variables, to
the two claims ``A~(r_x, r_z) = a`` and ``B~(r_z, r_y) = b`` at the sumcheck's point r_z, with
``a * b`` equal to its subclaim. The prover's work is linear in the sizes of A and B (it folds
the row of A and the column of B that the point selects), not in the ``2^(a+k+b)`` multiplies.
Those two claims go to whatever vouches for A and B: the weights' commitment, the layer below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from prover import kernels
from prover.field import FR_MODULUS, limbs_to_ints
from prover.sumcheck.mle import as_table, eq_table, fold, n_variables, scaled
from prover.sumcheck.protocol import SumcheckError, SumcheckProof, Term, prove, require_equal, verify
from prover.sumcheck.transcript import Transcript

PRODUCT = (Term(1, (0, 1)),)


@dataclass(frozen=True)
class EvaluationClaim:
    """``table~(point) = value``: a claim the caller must settle against the table's source."""

    point: tuple[int, ...]
    value: int


@dataclass(frozen=True)
class MatmulProof:
    """The sumcheck over the contracted index and the two factors' values at its point."""

    sumcheck: SumcheckProof
    a_value: int
    b_value: int


def row_table(a, n_cols: int, r_x: Sequence[int]) -> np.ndarray:
    """``A~(r_x, z)`` over z: A's row variables (the high bits) bound to r_x."""
    table = as_table(a)
    for r in r_x:
        table = fold(table, r)
    if len(table) != 1 << n_cols:
        raise ValueError("the row point does not fit the matrix")
    return table


def column_table(b, n_cols: int, r_y: Sequence[int]) -> np.ndarray:
    """``B~(z, r_y)`` over z: B's column variables (the low bits) bound to r_y, i.e. each row
    of B (a block of ``2^n_cols`` entries) weighted by ``eq(r_y, .)`` and summed."""
    if len(r_y) != n_cols:
        raise ValueError("the column point does not fit the matrix")
    rows = as_table(b).reshape(-1, 1 << n_cols, 4)
    weights = limbs_to_ints(eq_table(r_y))
    columns = [scaled(np.ascontiguousarray(rows[:, j]), w) for j, w in enumerate(weights)]
    total = columns[0]
    for c in columns[1:]:
        total = kernels.fr_add(total, c)
    return total


def prove_matmul(
    a: Sequence[int], b: Sequence[int], k: int, r_x: Sequence[int], r_y: Sequence[int], transcript: Transcript
) -> tuple[MatmulProof, tuple[int, ...]]:
    """Prove ``C~(r_x, r_y) = sum_z A~(r_x, z) B~(z, r_y)`` for A, B as tables (A has ``2^k``
    columns, B ``2^k`` rows). Returns the proof and the sumcheck's point r_z."""
    n_b_cols = n_variables(len(as_table(b))) - k
    tables = [row_table(a, k, r_x), column_table(b, n_b_cols, r_y)]
    proof, r_z, (a_value, b_value) = prove(tables, PRODUCT, transcript)
    transcript.absorb([a_value, b_value])
    return MatmulProof(proof, a_value, b_value), r_z


def verify_matmul(
    claim: int, r_x: Sequence[int], r_y: Sequence[int], k: int, proof: MatmulProof, transcript: Transcript
) -> tuple[EvaluationClaim, EvaluationClaim]:
    """Check a proof of ``C~(r_x, r_y) = claim`` and return the claims it leaves about
    ``A~(r_x, r_z)`` and ``B~(r_z, r_y)``. Raises SumcheckError on a failed check."""
    sub = verify(claim, k, 2, proof.sumcheck, transcript)
    require_equal(
        proof.a_value * proof.b_value % FR_MODULUS,
        sub.value,
        lambda: SumcheckError("the factors' values do not multiply to the sumcheck's final claim"),
    )
    transcript.absorb([proof.a_value, proof.b_value])
    return (
        EvaluationClaim((*r_x, *sub.point), proof.a_value),
        EvaluationClaim((*sub.point, *r_y), proof.b_value),
    )
