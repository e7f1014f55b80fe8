"""Verify a phase-2 transcript: is this Groth16 key the circuit's key from this powers of tau,
changed only by the contributions its transcript lists, each with a valid proof of knowledge?

``verify_zkey_transcript(r1cs, ptau, pk)`` recomputes the initial key (``prover.groth16.setup``,
delta = 1) and checks, as snarkjs ``zkey verify`` does:

1. the circuit hash, the sizes and every point that no contribution may change (alpha, beta,
   gamma, IC, the A/B coefficients, the A, B1 and B2 points) equal the initial key's;
2. for each record in order: its transcript hash is BLAKE2b of the circuit hash, the records
   before it and its ``g1_s, g1_sx`` (so no record was dropped, inserted or reordered); its
   proof of knowledge holds against the G2 point hashed from that transcript; delta after it is
   the delta before it times the same secret; a beacon's key is the one its public value gives;
3. delta1 is the last record's delta after, and delta2 carries the same secret;
4. the C ("L") and H points are the initial ones divided by delta: for random scalars r_i,
   ``e(sum r_i P_i(initial), delta2) = e(sum r_i P_i, G2)`` (one multi-scalar product each).

It raises ``VerificationError`` naming the first problem, and otherwise returns a report whose
``transcript_hash`` commits to the whole ceremony (what the marketplace publishes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from prover import kernels
from prover.ceremony.keypair import g1_mul, is_zero, phase2_transcript, same_ratio
from prover.ceremony.phase2 import contribution_hash, record_key, transcript_hasher
from prover.ceremony.powersoftau import BEACON
from prover.ceremony.rng import beacon_rng, fr_from_rng, g1_from_rng, hash_to_g2, random_scalars
from prover.errors import VerificationError
from prover.groth16.keys import ProvingKey
from prover.groth16.setup import G1_GENERATOR, G2_GENERATOR, setup
from prover.r1cs import R1CS


@dataclass
class ContributionInfo:
    index: int
    name: str
    kind: str  # "contribution" or "beacon"
    contribution_hash: str


@dataclass
class Phase2Report:
    circuit_hash: str
    contributions: list[ContributionInfo]
    transcript_hash: str  # BLAKE2b(circuit hash || every record): commits to the whole ceremony

    @property
    def n_contributions(self) -> int:
        return len(self.contributions)


def _fail(problem: str) -> VerificationError:
    return VerificationError(f"phase-2 transcript rejected: {problem}")


def _random_combination(points: np.ndarray, scalars: np.ndarray) -> np.ndarray:
    return kernels.g1_msm(np.ascontiguousarray(points), scalars)


def _same_scaling(name: str, initial: np.ndarray, current: np.ndarray, delta2: np.ndarray) -> None:
    """``current = initial / delta`` point by point, checked on one random combination."""
    if initial.shape != current.shape:
        raise _fail(
            f"the {name} section has {len(current)} points, the circuit's key {len(initial)}: "
            f"the key is for another circuit"
        )
    if not len(initial):
        return
    scalars = random_scalars(len(initial))
    r_initial, r_current = _random_combination(initial, scalars), _random_combination(current, scalars)
    if is_zero(r_initial) and is_zero(r_current):
        return
    if not same_ratio(r_initial, r_current, delta2, G2_GENERATOR):
        raise _fail(
            f"the {name} points are not the circuit's divided by the key's delta (a changed "
            f"point or a contribution that did not scale them)"
        )


def verify_zkey_transcript(r1cs: R1CS, ptau, pk: ProvingKey, *, progress: bool = False) -> Phase2Report:
    """Check ``pk`` against the circuit ``r1cs`` and the prepared powers of tau ``ptau`` (see
    the module docstring); the ptau itself is checked by ``powersoftau_verify``."""
    pk = pk.with_canonical_points()
    mpc = pk.mpc_params
    with tqdm(
        total=3 + len(mpc.get("contributions", [])), desc="zkey verify", unit="step", disable=not progress, leave=False
    ) as bar:
        bar.set_postfix_str("initial key")
        initial = setup(r1cs, ptau)
        bar.update()
        return _verify(initial, pk, bar)


def verify_zkey_from_initial(initial: ProvingKey, pk: ProvingKey, *, progress: bool = False) -> Phase2Report:
    """The checks of ``verify_zkey_transcript`` against the circuit's initial key (delta = 1)
    instead of recomputing it from a ptau: for a key whose phase 1 is a KNOWN secret
    (``prover.ceremony.known_secret.known_secret_setup`` makes that initial key), which only
    demonstrations accept."""
    with tqdm(
        total=2 + len(pk.mpc_params.get("contributions", [])),
        desc="zkey verify",
        unit="step",
        disable=not progress,
        leave=False,
    ) as bar:
        return _verify(initial, pk, bar)


def _verify(initial: ProvingKey, pk: ProvingKey, bar) -> Phase2Report:
    mpc = pk.mpc_params
    if (pk.n_vars, pk.n_public, pk.domain_size) != (initial.n_vars, initial.n_public, initial.domain_size):
        raise _fail(
            f"the key is for another circuit: it has {pk.n_vars} wires, {pk.n_public} public and a "
            f"domain of {pk.domain_size}; the circuit {initial.n_vars}, {initial.n_public} and "
            f"{initial.domain_size}"
        )
    if mpc.get("cs_hash") != initial.mpc_params["cs_hash"]:
        raise _fail(
            "the circuit hash differs from this circuit's with this powers of tau: the key is for "
            "another circuit or another ptau"
        )

    records = mpc.get("contributions", [])
    infos = []
    delta = G1_GENERATOR
    for i, record in enumerate(records):
        label = f"contribution #{i + 1}" + (f" ({record['name']})" if record.get("name") else "")
        key = record_key(record)
        expected = phase2_transcript(transcript_hasher(mpc, upto=i), key.g1_s, key.g1_sx)
        if expected != record["transcript"]:
            raise _fail(
                f"{label}: its transcript hash does not follow from the circuit hash and the records "
                f"before it (a contribution was dropped, inserted, reordered or altered)"
            )
        g2_sp = hash_to_g2(record["transcript"])
        if not same_ratio(key.g1_s, key.g1_sx, g2_sp, key.g2_spx):
            raise _fail(f"{label}: its proof of knowledge of the secret is invalid")
        if not same_ratio(delta, record["delta_after"], g2_sp, key.g2_spx):
            raise _fail(f"{label}: delta after it is not the previous delta times the contributor's secret")
        if record.get("type") == BEACON:
            if "beacon_hash" not in record or "num_iterations_exp" not in record:
                raise _fail(f"{label}: a beacon record without its beacon value and iteration count")
            rng = beacon_rng(record["beacon_hash"], record["num_iterations_exp"])
            secret = fr_from_rng(rng)
            g1_s = g1_from_rng(rng)
            if not (np.array_equal(g1_s, key.g1_s) and np.array_equal(g1_mul(g1_s, secret), key.g1_sx)):
                raise _fail(f"{label}: the beacon's key is not the one its beacon value gives")
        infos.append(
            ContributionInfo(
                i + 1,
                record.get("name", ""),
                "beacon" if record.get("type") == BEACON else "contribution",
                contribution_hash(record).hex(),
            )
        )
        delta = record["delta_after"]
        bar.update()

    for name in ("alpha1", "beta1", "beta2", "gamma2"):
        if not np.array_equal(getattr(pk, name), getattr(initial, name)):
            raise _fail(f"{name} differs from the circuit's key: only delta may change in phase 2")
    if not np.array_equal(pk.delta1, delta):
        raise _fail(
            "delta1 of the key is not the delta after the last recorded contribution (a "
            "contribution is missing from the transcript)"
        )
    if not same_ratio(G1_GENERATOR, pk.delta1, G2_GENERATOR, pk.delta2):
        raise _fail("delta2 does not carry the same secret as delta1")
    for name in ("ic", "a_points", "b1_points", "b2_points"):
        if not np.array_equal(getattr(pk, name), getattr(initial, name)):
            raise _fail(f"the {name} section differs from the circuit's key: only delta, C and H may change")
    for name in ("A", "B"):
        mine, theirs = getattr(pk, name), getattr(initial, name)
        if not (
            np.array_equal(mine.indptr, theirs.indptr)
            and np.array_equal(mine.indices, theirs.indices)
            and np.array_equal(mine.coeffs, theirs.coeffs)
        ):
            raise _fail(f"the {name} coefficients differ from the circuit's: the key is for another circuit")
    bar.update()
    bar.set_postfix_str("L and H points")
    _same_scaling("L (C)", initial.c_points, pk.c_points, pk.delta2)
    _same_scaling("H", initial.h_points, pk.h_points, pk.delta2)
    bar.update()
    return Phase2Report(mpc["cs_hash"].hex(), infos, transcript_hasher(mpc).hexdigest())
