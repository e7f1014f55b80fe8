"""Contribution keys and their proofs of knowledge, and the point arithmetic the ceremony needs.

A contributor multiplies the parameters by a secret ``x`` and publishes, as proof that it knows
``x`` (so that it cannot cancel someone else's contribution), a *key*: a random G1 point
``g1_s``, ``g1_sx = x * g1_s`` and ``g2_spx = x * g2_sp``, where ``g2_sp`` is a G2 point
hashed from the challenge and the two G1 points (see ``rng.hash_to_g2``), so it was fixed
only after ``g1_s`` and ``g1_sx``. The key is valid when ``e(g1_s, g2_spx) = e(g1_sx, g2_sp)``,
and the same pairing ratio then shows that the new parameters are the old ones times ``x``.

Phase 1 uses three keys (tau, alpha, beta) with personalisations 0, 1, 2 mixed into the hash
of ``g2_sp``; phase 2 one key (delta) whose ``g2_sp`` is hashed from the circuit's transcript.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from prover import kernels
from prover.ceremony.rng import ChaCha, fr_from_rng, g1_from_rng, hash_to_g2
from prover.field import FR_MODULUS, ints_to_limbs
from prover.formats.binfile import points_uncompressed

PHASE1_SECRETS = ("tau", "alpha", "beta")  # in the order they are drawn and personalised


@dataclass
class PublicKey:
    """The published half of one contribution secret ``x`` (see the module docstring)."""

    g1_s: np.ndarray
    g1_sx: np.ndarray
    g2_spx: np.ndarray


# --- point arithmetic on kernel-layout arrays ---------------------------------------------------


def g1_mul(point: np.ndarray, scalar: int) -> np.ndarray:
    return kernels.g1_batch_mul(np.ascontiguousarray(point), ints_to_limbs([scalar % FR_MODULUS]))[0]


def g2_mul(point: np.ndarray, scalar: int) -> np.ndarray:
    return kernels.g2_batch_mul(np.ascontiguousarray(point), ints_to_limbs([scalar % FR_MODULUS]))[0]


def scale_points(points: np.ndarray, scalars: np.ndarray, group: str) -> np.ndarray:
    """``[s_i * P_i]``: each point times its own scalar (a one-entry-per-row sparse lincomb)."""
    n = len(points)
    rows = np.arange(n + 1, dtype=np.int64)
    lincomb = kernels.g1_sparse_lincomb if group == "g1" else kernels.g2_sparse_lincomb
    return lincomb(rows, rows[:-1].copy(), np.ascontiguousarray(scalars), np.ascontiguousarray(points))


def is_zero(point: np.ndarray) -> bool:
    return not np.asarray(point).any()


def same_ratio(g1_a: np.ndarray, g1_b: np.ndarray, g2_a: np.ndarray, g2_b: np.ndarray) -> bool:
    """Is there an ``x`` with ``g1_b = x g1_a`` and ``g2_b = x g2_a``: ``e(g1_a, g2_b) =
    e(g1_b, g2_a)``, none of the points being the identity (which would prove nothing)."""
    if any(is_zero(p) for p in (g1_a, g1_b, g2_a, g2_b)):
        return False
    try:
        return bool(kernels.pairing_check(np.stack([g1_a, g1_mul(g1_b, -1)]), np.stack([g2_b, g2_a])))
    except ValueError:  # a point off its curve or outside G2
        return False


# --- keys ---------------------------------------------------------------------------------------


def phase1_g2_sp(personalisation: int, challenge: bytes, g1_s: np.ndarray, g1_sx: np.ndarray) -> np.ndarray:
    """``g2_sp`` of a phase-1 key: hashed from the personalisation byte, the challenge it answers
    and its two G1 points."""
    digest = hashlib.blake2b(
        bytes([personalisation]) + challenge + points_uncompressed(g1_s, "g1") + points_uncompressed(g1_sx, "g1"),
        digest_size=64,
    ).digest()
    return hash_to_g2(digest)


def phase1_key(challenge: bytes, rng: ChaCha) -> tuple[dict[str, int], dict[str, PublicKey]]:
    """Secrets tau, alpha, beta and their public keys for a contribution answering
    ``challenge``, drawn from ``rng`` in snarkjs's order (the three secrets, then per secret its
    ``g1_s``), so that a beacon's key is reproducible by anyone."""
    secrets = {name: fr_from_rng(rng) for name in PHASE1_SECRETS}
    public = {}
    for personalisation, name in enumerate(PHASE1_SECRETS):
        g1_s = g1_from_rng(rng)
        g1_sx = g1_mul(g1_s, secrets[name])
        g2_sp = phase1_g2_sp(personalisation, challenge, g1_s, g1_sx)
        public[name] = PublicKey(g1_s, g1_sx, g2_mul(g2_sp, secrets[name]))
    return secrets, public


def phase2_key(transcript_prefix: hashlib.blake2b, rng: ChaCha) -> tuple[int, PublicKey, bytes]:
    """Secret delta, its public key and the contribution's transcript hash: the circuit hash and
    earlier contributions (``transcript_prefix``, left unchanged) followed by ``g1_s, g1_sx``;
    ``g2_sp`` is hashed from that transcript."""
    delta = fr_from_rng(rng)
    g1_s = g1_from_rng(rng)
    g1_sx = g1_mul(g1_s, delta)
    transcript = phase2_transcript(transcript_prefix, g1_s, g1_sx)
    return delta, PublicKey(g1_s, g1_sx, g2_mul(hash_to_g2(transcript), delta)), transcript


def phase2_transcript(transcript_prefix: hashlib.blake2b, g1_s: np.ndarray, g1_sx: np.ndarray) -> bytes:
    hasher = transcript_prefix.copy()
    hasher.update(points_uncompressed(g1_s, "g1") + points_uncompressed(g1_sx, "g1"))
    return hasher.digest()
