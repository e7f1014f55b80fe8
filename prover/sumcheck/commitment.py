"""The multilinear polynomial commitment of the sumcheck backend: KZG over the phase-1 powers of
tau with Gemini's reduction from multilinear to univariate evaluations (HyperKZG, as in Nova).

Why this scheme: it needs no setup beyond the powers of tau the project already takes from a
public ceremony (only ``tau^i G1`` and ``tau G2``), a commitment is one G1 point, and an opening
is checked with one product of two pairings plus a multi-scalar multiplication of ``n + 5``
points for a table of ``2^n`` values: cheap with the EVM's BN254 precompiles, which is where the
openings go (issue 16). A transparent scheme (Hyrax, FRI-based) would avoid trusting the
ceremony but costs an opening of ``sqrt(N)`` group elements or thousands of hashes on-chain.

Commitment. A table ``f`` of ``N = 2^n`` values is the univariate ``f(X) = sum_i f[i] X^i`` and
its commitment is ``[f(tau)]_1 = sum_i f[i] tau^i G1``.

Opening at ``u`` (``mle`` order: ``u_0`` binds the index's most significant bit). Splitting
``f_j(X) = E_j(X^2) + X O_j(X^2)`` into even and odd coefficients binds the least significant
bit; Gemini's folds are

    f_0 = f,   f_{j+1}(Y) = (1 - u_{n-1-j}) E_j(Y) + u_{n-1-j} O_j(Y),   f_n = f~(u),

so at any beta, with ``E_j(beta^2) = (f_j(beta) + f_j(-beta)) / 2`` and
``O_j(beta^2) = (f_j(beta) - f_j(-beta)) / (2 beta)``,

    f_{j+1}(beta^2) = (1 - u_{n-1-j}) E_j(beta^2) + u_{n-1-j} O_j(beta^2).        (fold check)

The prover commits to ``f_1 .. f_{n-1}``; the transcript draws beta; the prover sends every
``f_j`` at ``x = (beta, -beta, beta^2)``; the verifier runs the fold check for each j (with the
claimed value in place of ``f_n(beta^2)``). The ``3n`` evaluations are proved at once: with
``rho`` drawn, ``B = sum_j rho^j f_j``, the prover sends ``W_k = [(B(X) - B(x_k)) / (X - x_k)]_1``
for the three points, and with ``gamma`` drawn after them the verifier checks

    e(L, G2) = e(R, tau G2),    R = sum_k gamma^k W_k,
    L = (sum_k gamma^k) [B(tau)]_1 - (sum_k gamma^k B(x_k)) G1 + sum_k gamma^k x_k W_k,

which is the three KZG equations ``B(tau) - B(x_k) = (tau - x_k) W_k`` combined. Because the
fold checks hold at a beta drawn after the folds were committed, they hold as polynomial
identities except with probability about ``n deg / |Fr|``, and the last one forces ``f_n`` to be
the constant claimed. Binding rests on the strong Diffie–Hellman assumption for the ceremony's
tau, as in KZG. Not hiding: the zero-knowledge masking is a later step of issue 15.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from prover import kernels
from prover.errors import VerificationError
from prover.field import FR_MODULUS, ints_to_limbs, limbs_to_ints
from prover.sumcheck.mle import as_table, element, n_variables, scaled
from prover.sumcheck.transcript import Transcript

R = FR_MODULUS
INVERSE_TWO = pow(2, -1, R)


class OpeningError(VerificationError):
    """An evaluation proof failed: the value is not the committed table's at the point."""


@dataclass(frozen=True)
class CommitmentKey:
    """The prover's key: ``tau^i G1`` for ``i < 2^n`` (the ceremony's first G1 powers) and what
    the verifier needs."""

    tau_g1: np.ndarray  # (N, 2, 4) canonical affine points
    verifier: VerifierKey


@dataclass(frozen=True)
class VerifierKey:
    """``G1``, ``G2`` and ``tau G2``: all an opening check needs."""

    g1: np.ndarray  # (2, 4)
    g2: np.ndarray  # (2, 2, 4)
    tau_g2: np.ndarray  # (2, 2, 4)


def commitment_key(ptau, n: int) -> CommitmentKey:
    """The key for tables of up to ``2^n`` values from a phase-1 ``PowersOfTau``."""
    if (1 << n) > len(ptau.tau_g1):
        raise ValueError(
            f"tables of 2^{n} values need 2^{n} G1 powers; the powers of tau hold {len(ptau.tau_g1)}: "
            "take a ceremony of a larger power"
        )
    tau_g1 = np.ascontiguousarray(ptau.tau_g1[: 1 << n])
    return CommitmentKey(tau_g1, VerifierKey(tau_g1[0].copy(), ptau.tau_g2[0], ptau.tau_g2[1]))


def commit(key: CommitmentKey, table) -> np.ndarray:
    """``[f(tau)]_1``: the multi-scalar multiplication of the table with the G1 powers."""
    scalars = as_table(table)
    if len(scalars) > len(key.tau_g1):
        raise ValueError(f"a table of {len(scalars)} values is longer than the key's {len(key.tau_g1)} powers")
    return kernels.g1_msm(key.tau_g1[: len(scalars)], scalars)


def absorb_point(transcript: Transcript, point: np.ndarray) -> None:
    """A G1 point into the transcript: each coordinate (an Fq element, wider than Fr) as its
    low 128 bits and the rest, so that distinct points absorb distinct values."""
    limbs = np.asarray(point, dtype=np.uint64).reshape(2, 4)
    halves = []
    for coordinate in limbs:
        c = [int(x) for x in coordinate]
        halves += [c[0] | c[1] << 64, c[2] | c[3] << 64]
    transcript.absorb(halves)


@dataclass(frozen=True)
class EvaluationProof:
    """The folds' commitments, every fold's values at (beta, -beta, beta^2), the three KZG
    witnesses of the batched opening."""

    folds: tuple[np.ndarray, ...]  # n - 1 G1 points
    values: tuple[tuple[int, int, int], ...]  # n triples
    witnesses: tuple[np.ndarray, np.ndarray, np.ndarray]


def _challenges(transcript: Transcript, folds, point, value) -> int:
    transcript.absorb([*point, value])
    for c in folds:
        absorb_point(transcript, c)
    return transcript.challenge()


def prove_evaluation(
    key: CommitmentKey, table, point: Sequence[int], transcript: Transcript
) -> tuple[int, EvaluationProof]:
    """``f~(point)`` and its proof against ``commit(key, table)`` (which the transcript must
    already hold). The folds, evaluations and quotients are the ``mle_fold``, ``poly_evaluate``
    and ``poly_quotient`` kernels."""
    f = as_table(table)
    n = n_variables(len(f))
    if len(point) != n:
        raise ValueError(f"a table of {len(f)} values is opened at a point of {n} coordinates, not {len(point)}")
    if n == 0:  # one value: the table [f0, 0] (the same commitment) at the point (0)
        f, point, n = np.concatenate([f, np.zeros_like(f)]), (0,), 1
    polys = [f]
    for j in range(n):
        f = polys[-1]
        # E_j + u (O_j - E_j): the even coefficients as the low half, the odd ones as the high
        polys.append(kernels.mle_fold(np.concatenate([f[0::2], f[1::2]]), element(point[n - 1 - j])))
    value = limbs_to_ints(polys.pop())[0]
    folds = tuple(commit(key, f) for f in polys[1:])
    beta = _challenges(transcript, folds, point, value)
    xs = ints_to_limbs([beta, R - beta, beta * beta % R])
    values = tuple(tuple(limbs_to_ints(kernels.poly_evaluate(f, xs))) for f in polys)
    for triple in values:
        transcript.absorb(triple)
    rho = transcript.challenge()
    batched = polys[0].copy()
    weight = 1
    for f in polys[1:]:
        weight = weight * rho % R
        batched[: len(f)] = kernels.fr_add(batched[: len(f)], scaled(f, weight))
    w_beta, w_minus, w_square = (commit(key, kernels.poly_quotient(batched, x)) for x in xs)
    for w in (w_beta, w_minus, w_square):
        absorb_point(transcript, w)
    transcript.challenge()  # gamma: the verifier's, drawn here too so both transcripts go on alike
    return value, EvaluationProof(folds, values, (w_beta, w_minus, w_square))  # type: ignore[arg-type]


def verify_evaluation(
    vk: VerifierKey,
    commitment: np.ndarray,
    point: Sequence[int],
    value: int,
    proof: EvaluationProof,
    transcript: Transcript,
) -> None:
    """Check that the table committed in ``commitment`` has ``f~(point) = value``. Raises
    OpeningError otherwise."""
    if not point:  # one value: as opened, the table [f0, 0] at the point (0)
        point = (0,)
    n = len(point)
    if len(proof.folds) != n - 1 or len(proof.values) != n or len(proof.witnesses) != 3:
        raise OpeningError(f"an opening at {n} coordinates has {n - 1} folds, {n} value triples and 3 witnesses")
    if any(not 0 <= v < R for triple in proof.values for v in triple) or not 0 <= value < R:
        raise OpeningError("an opening's values must be field elements")
    beta = _challenges(transcript, proof.folds, point, value)
    if beta == 0:
        raise OpeningError("the transcript drew beta = 0; no opening can be checked at it")
    xs = (beta, R - beta, beta * beta % R)
    inverse_two_beta = pow(2 * beta, -1, R)
    for j in range(n):
        plus, minus, _ = proof.values[j]
        u = point[n - 1 - j]
        even = (plus + minus) * INVERSE_TWO % R
        odd = (plus - minus) * inverse_two_beta % R
        folded = (even + u * (odd - even)) % R
        expected = proof.values[j + 1][2] if j + 1 < n else value
        if folded != expected:
            raise OpeningError(f"fold {j} does not fold to the next one at beta^2: the value or the folds are false")
    for triple in proof.values:
        transcript.absorb(triple)
    rho = transcript.challenge()
    for w in proof.witnesses:
        absorb_point(transcript, w)
    gamma = transcript.challenge()
    rho_powers = [pow(rho, j, R) for j in range(n)]
    gammas = [1, gamma, gamma * gamma % R]
    total_gamma = sum(gammas) % R
    batched_at = [sum(rp * proof.values[j][k] for j, rp in enumerate(rho_powers)) % R for k in range(3)]
    constant = (-sum(g * b for g, b in zip(gammas, batched_at, strict=True))) % R
    left_points = np.stack([np.asarray(commitment), *proof.folds, vk.g1, *proof.witnesses])
    left_scalars = (
        [rp * total_gamma % R for rp in rho_powers] + [constant] + [g * x % R for g, x in zip(gammas, xs, strict=True)]
    )
    try:
        left = kernels.g1_msm(left_points, ints_to_limbs(left_scalars))
        minus_right = kernels.g1_msm(np.stack(proof.witnesses), ints_to_limbs([(-g) % R for g in gammas]))
    except ValueError as exc:  # the kernels check every point is on the curve
        raise OpeningError(f"an opening's commitment, fold or witness is not a G1 point: {exc}") from exc
    if not kernels.pairing_check(np.stack([left, minus_right]), np.stack([vk.g2, vk.tau_g2])):
        raise OpeningError("the batched KZG check failed: the opening is not of the committed table")
