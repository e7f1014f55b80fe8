"""Phase 2, per circuit: contribute to a Groth16 key's delta, or close its ceremony with a beacon.

A key from ``prover.groth16.setup`` (snarkjs ``zkey new``) has delta = 1, so anyone can forge
proofs for it. A contribution with secret ``d`` multiplies delta (``delta1``, ``delta2``) by
``d`` and divides the points that carry delta in their denominator, the C points (the .zkey's
"L" section) and the H points, by ``d``. After one honest contribution delta is unknown to all.

Each contribution appends a record to the key's transcript (``ProvingKey.mpc_params``, the
.zkey section 10) as snarkjs does: delta after it (G1), its proof of knowledge of ``d``
(``keypair.PublicKey``, whose ``g2_sp`` is hashed from the transcript so far) and that
transcript hash, BLAKE2b(circuit hash || earlier records || g1_s || g1_sx).
"""

from __future__ import annotations

import hashlib
from copy import copy

import numpy as np
from tqdm import tqdm

from prover import kernels
from prover.ceremony.keypair import PublicKey, g1_mul, g2_mul, phase2_key
from prover.ceremony.powersoftau import BEACON, CHUNK, CONTRIBUTION, check_beacon
from prover.ceremony.rng import ChaCha, beacon_rng, contribution_rng
from prover.errors import FormatError
from prover.field import FR_MODULUS, ints_to_limbs
from prover.formats.binfile import points_uncompressed
from prover.groth16.keys import ProvingKey


def record_bytes(record: dict) -> bytes:
    """A transcript record as the hashes consume it: delta after, g1_s, g1_sx, g2_spx
    (uncompressed), then its transcript hash."""
    return (
        points_uncompressed(record["delta_after"], "g1")
        + points_uncompressed(record["g1_s"], "g1")
        + points_uncompressed(record["g1_sx"], "g1")
        + points_uncompressed(record["g2_spx"], "g2")
        + record["transcript"]
    )


def contribution_hash(record: dict) -> bytes:
    """What a contributor notes down to find its contribution later: BLAKE2b of its record."""
    return hashlib.blake2b(record_bytes(record), digest_size=64).digest()


def transcript_hasher(mpc_params: dict, upto: int | None = None) -> hashlib.blake2b:
    """BLAKE2b over the circuit hash and the first ``upto`` records (all by default)."""
    if len(mpc_params.get("cs_hash", b"")) != 64:
        raise FormatError(
            "the key has no 64-byte circuit hash in its phase-2 section: make it with "
            "`zkmarket zkey new` or `snarkjs zkey new`"
        )
    hasher = hashlib.blake2b(mpc_params["cs_hash"], digest_size=64)
    for record in mpc_params["contributions"][:upto]:
        hasher.update(record_bytes(record))
    return hasher


def scale_by(points: np.ndarray, scalar: int, *, progress: bool = False, desc: str = "") -> np.ndarray:
    """Every G1 point times one scalar, in chunks (a one-entry-per-row sparse lincomb)."""
    out = np.empty_like(points)
    coeff = ints_to_limbs([scalar % FR_MODULUS])
    for start in tqdm(range(0, len(points), CHUNK), desc=desc, unit="chunk", disable=not progress, leave=False):
        part = np.ascontiguousarray(points[start : start + CHUNK])
        rows = np.arange(len(part) + 1, dtype=np.int64)
        out[start : start + len(part)] = kernels.g1_sparse_lincomb(
            rows, rows[:-1].copy(), np.repeat(coeff, len(part), axis=0), part
        )
    return out


def contribute(
    pk: ProvingKey, name: str = "", entropy: str | bytes = b"", *, progress: bool = False
) -> tuple[ProvingKey, bytes]:
    """A new key with a contribution from a fresh secret (OS CSPRNG plus ``entropy``), and the
    contribution hash. ``pk`` is left unchanged; the secret is dropped on return."""
    return _apply_delta(pk, contribution_rng(entropy), {"type": CONTRIBUTION, "name": name}, progress)


def beacon(
    pk: ProvingKey, beacon_hash: bytes, iterations_exp: int, name: str = "", *, progress: bool = False
) -> tuple[ProvingKey, bytes]:
    """Close the ceremony with a contribution anyone can recompute from the public random
    ``beacon_hash`` hashed ``2^iterations_exp`` times (snarkjs ``zkey beacon``)."""
    check_beacon(beacon_hash, iterations_exp)
    return _apply_delta(
        pk,
        beacon_rng(beacon_hash, iterations_exp),
        {"type": BEACON, "name": name, "num_iterations_exp": iterations_exp, "beacon_hash": bytes(beacon_hash)},
        progress,
    )


def _apply_delta(pk: ProvingKey, rng: ChaCha, params: dict, progress: bool) -> tuple[ProvingKey, bytes]:
    pk = pk.with_canonical_points()
    delta, key, transcript = phase2_key(transcript_hasher(pk.mpc_params), rng)
    new = copy(pk)
    new.delta1 = g1_mul(pk.delta1, delta)
    new.delta2 = g2_mul(pk.delta2, delta)
    inverse = pow(delta, -1, FR_MODULUS)
    new.c_points = scale_by(pk.c_points, inverse, progress=progress, desc="zkey contribute: L")
    new.h_points = scale_by(pk.h_points, inverse, progress=progress, desc="zkey contribute: H")
    record = {
        "delta_after": new.delta1,
        "g1_s": key.g1_s,
        "g1_sx": key.g1_sx,
        "g2_spx": key.g2_spx,
        "transcript": transcript,
        **{k: v for k, v in params.items() if v or k == "type"},
    }
    new.mpc_params = {"cs_hash": pk.mpc_params["cs_hash"], "contributions": [*pk.mpc_params["contributions"], record]}
    del delta, inverse  # the toxic waste
    return new, contribution_hash(record)


def record_key(record: dict) -> PublicKey:
    return PublicKey(record["g1_s"], record["g1_sx"], record["g2_spx"])
