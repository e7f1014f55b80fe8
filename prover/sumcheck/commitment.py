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
claimed value in place of ``f_n(beta^2)``). The ``3n`` evaluations are proved at once. With
``rho`` drawn, ``B = sum_j rho^j f_j`` takes the values ``b_k = sum_j rho^j f_j(x_k)`` at the
three points, and they are opened together by the multi-point opening of Boneh, Drake, Fisch
and Gabizon (2020, "shplonk"): with ``Z(X) = prod_k (X - x_k)`` and ``I`` the quadratic through
the ``(x_k, b_k)``, the prover sends ``W = [h(tau)]_1``, ``h = (B - I) / Z``; with ``z`` drawn,

    L(X) = B(X) - I(z) - Z(z) h(X)

vanishes at z, and the prover sends ``W' = [L(X) / (X - z)]_1``. The verifier checks

    e([L(tau)]_1 + z W', G2) = e(W', tau G2),   [L(tau)]_1 = [B(tau)]_1 - I(z) G1 - Z(z) W,

where ``[B(tau)]_1 = sum_j rho^j [f_j(tau)]_1``: two multi-scalar multiplications of the table's
size for the prover (against three for one KZG witness per point), and fixed G2 points for the
verifier (the EVM's pairing precompile takes no G2 arithmetic). ``h`` is a polynomial exactly
when B takes the claimed values, and then ``L(z) = 0``; a false ``b_k`` makes ``B - I`` not
divisible by Z, so the check fails except with probability about ``N / |Fr|`` over z. Because the
fold checks hold at a beta drawn after the folds were committed, they hold as polynomial
identities except with probability about ``n deg / |Fr|``, and the last one forces ``f_n`` to be
the constant claimed. Binding rests on the strong Diffie–Hellman assumption for the ceremony's
tau, as in KZG.

Hiding. ``commit(key, table, blind)`` adds ``blind * H``, where ``H`` (``BLINDING_BASE``) is a
G1 point found by hashing a fixed label onto the curve (``hash_to_g1``), so that no one knows
its discrete logarithm to G1 or to any power of tau. With a uniform ``blind`` the commitment is
a uniform group element whatever the table (perfectly hiding, as Pedersen's), and it stays
binding: opening ``[f(tau)]_1 + b H`` as another table would write H in the basis of the powers
of tau. An opening does not take a blinded commitment: the caller subtracts the blinding
times H once the value it reveals hides nothing (``prover.sumcheck.batch_opening`` reveals
one blinding, of a random combination that a fresh mask makes uniform).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from prover import kernels
from prover.errors import VerificationError
from prover.field import FQ_MODULUS, FR_MODULUS, ints_to_limbs, limbs_to_ints
from prover.sumcheck.mle import as_table, element, n_variables, scaled
from prover.sumcheck.transcript import Transcript

R = FR_MODULUS
INVERSE_TWO = pow(2, -1, R)
BLINDING_LABEL = b"zkmarket/sumcheck/blinding-base/v1"


def hash_to_g1(label: bytes) -> tuple[int, int]:
    """A BN254 G1 point that nobody knows the discrete logarithm of: try and increment. For
    ``k = 0, 1, ..`` take ``x = SHA-256(label || k) mod q`` (k as 4 big-endian bytes) until
    ``x^3 + 3`` is a square mod q, and return ``(x, y)`` with y its square root
    ``(x^3 + 3)^((q + 1) / 4)`` (q = 3 mod 4) made even. G1 is the whole curve (cofactor 1), so
    every point found lies in the group."""
    q = FQ_MODULUS
    for k in range(1 << 16):
        x = int.from_bytes(hashlib.sha256(label + k.to_bytes(4, "big")).digest(), "big") % q
        rhs = (x * x * x + 3) % q
        y = pow(rhs, (q + 1) // 4, q)
        if y * y % q == rhs:
            return x, y if y % 2 == 0 else q - y
    raise AssertionError("no point found")  # each try succeeds with probability about 1/2


BLINDING_BASE = ints_to_limbs(hash_to_g1(BLINDING_LABEL), FQ_MODULUS).reshape(2, 4)


def random_blind() -> int:
    """A uniform field element for a hiding commitment (from the operating system's CSPRNG)."""
    return secrets.randbelow(R)


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


def commit(key: CommitmentKey, table, blind: int = 0) -> np.ndarray:
    """``[f(tau)]_1 + blind H``: the multi-scalar multiplication of the table with the G1
    powers, hiding when ``blind`` is uniform (module docstring)."""
    scalars = as_table(table)
    if len(scalars) > len(key.tau_g1):
        raise ValueError(f"a table of {len(scalars)} values is longer than the key's {len(key.tau_g1)} powers")
    if blind % R == 0:
        return kernels.g1_msm(key.tau_g1[: len(scalars)], scalars)
    points = np.concatenate([key.tau_g1[: len(scalars)], BLINDING_BASE[None]])
    return kernels.g1_msm(points, np.concatenate([scalars, ints_to_limbs([blind % R])]))


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
    """The folds' commitments, every fold's values at (beta, -beta, beta^2), and the two
    witnesses ``W``, ``W'`` of their multi-point opening (module docstring)."""

    folds: tuple[np.ndarray, ...]  # n - 1 G1 points
    values: tuple[tuple[int, int, int], ...]  # n triples
    witnesses: tuple[np.ndarray, np.ndarray]


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
    points = (beta, R - beta, beta * beta % R)
    at = [sum(pow(rho, j, R) * triple[k] for j, triple in enumerate(values)) % R for k in range(3)]
    size = len(batched)
    if size < 4:  # room for the quadratic I; the quotients' entries past the table's size are 0
        batched = np.concatenate([batched, np.zeros((4 - size, 4), dtype=np.uint64)])
    # h = (B - I) / Z: B - I vanishes at the three points, so each division by (X - x_k) is exact
    h = batched.copy()
    h[:3] = kernels.fr_sub(h[:3], ints_to_limbs(_interpolation(points, at)))
    for x in points:
        h = kernels.poly_quotient(h, element(x))
    w = commit(key, h[:size])
    absorb_point(transcript, w)
    z = transcript.challenge()
    # L = B - I(z) - Z(z) h, which vanishes at z
    low = batched.copy()
    low[: len(h)] = kernels.fr_sub(low[: len(h)], scaled(h, _vanishing(points, z)))
    low[:1] = kernels.fr_sub(low[:1], ints_to_limbs([_evaluate(_interpolation(points, at), z)]))
    w_z = commit(key, kernels.poly_quotient(low, element(z))[:size])
    absorb_point(transcript, w_z)
    return value, EvaluationProof(folds, values, (w, w_z))  # type: ignore[arg-type]


def _interpolation(points: Sequence[int], values: Sequence[int]) -> list[int]:
    """The coefficients (lowest first) of the quadratic through three (point, value) pairs."""
    coefficients = [0, 0, 0]
    for k, (x, v) in enumerate(zip(points, values, strict=True)):
        others = [p for m, p in enumerate(points) if m != k]
        scale = v * pow((x - others[0]) * (x - others[1]), -1, R) % R
        # (X - a)(X - b) = X^2 - (a + b) X + a b
        for i, c in enumerate((others[0] * others[1], -(others[0] + others[1]), 1)):
            coefficients[i] = (coefficients[i] + scale * c) % R
    return coefficients


def _evaluate(coefficients: Sequence[int], x: int) -> int:
    return sum(c * pow(x, i, R) for i, c in enumerate(coefficients)) % R


def _vanishing(points: Sequence[int], x: int) -> int:
    out = 1
    for p in points:
        out = out * (x - p) % R
    return out


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
    if len(proof.folds) != n - 1 or len(proof.values) != n or len(proof.witnesses) != 2:
        raise OpeningError(f"an opening at {n} coordinates has {n - 1} folds, {n} value triples and 2 witnesses")
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
    w, w_z = proof.witnesses
    absorb_point(transcript, w)
    z = transcript.challenge()
    absorb_point(transcript, w_z)
    rho_powers = [pow(rho, j, R) for j in range(n)]
    at = [sum(rp * proof.values[j][k] for j, rp in enumerate(rho_powers)) % R for k in range(3)]
    if len(set(xs)) < 3 or z in xs:
        raise OpeningError("the transcript drew coinciding opening points; no opening can be checked at them")
    i_z = _evaluate(_interpolation(xs, at), z)
    # [L(tau)]_1 + z W' = sum_j rho^j [f_j(tau)]_1 - I(z) G1 - Z(z) W + z W'
    left_points = np.stack([np.asarray(commitment), *proof.folds, vk.g1, w, w_z])
    left_scalars = [*rho_powers, (-i_z) % R, (-_vanishing(xs, z)) % R, z]
    try:
        left = kernels.g1_msm(left_points, ints_to_limbs(left_scalars))
        minus_w_z = kernels.g1_msm(np.stack([w_z]), ints_to_limbs([R - 1]))
    except ValueError as exc:  # the kernels check every point is on the curve
        raise OpeningError(f"an opening's commitment, fold or witness is not a G1 point: {exc}") from exc
    if not kernels.pairing_check(np.stack([left, minus_w_z]), np.stack([vk.g2, vk.tau_g2])):
        raise OpeningError("the batched KZG check failed: the opening is not of the committed table")
