"""Verify a whole phase-1 transcript, so that a public .ptau is trusted only once it is checked.

``verify_ptau_transcript(ptau)`` checks, as snarkjs ``powersoftau verify`` does:

1. every contribution record against the one before it (the initial all-generator parameters
   for the first): its three proofs of knowledge (tau, alpha, beta), each against the G2 point
   hashed from the challenge it answered; that its tau G1/G2, alpha G1, beta G1/G2 are the
   previous ones times the secrets its keys prove; and a beacon's keys are the ones its public
   value gives;
2. the parameters themselves against the last record: they start with the generator and the
   record's points, and each series is a run of consecutive powers of the same tau, checked
   with random scalars r_i as ``e(sum r_i P_i, tau G2) = e(sum r_i P_(i+1), G2)`` (one pair of
   multi-scalar products per series; G2 the same way against tau G1);
3. the last record's next challenge is the hash of these parameters (so the file is exactly
   what the last contributor produced);
4. for a file prepared for phase 2, every Lagrange block: ``sum L_i r^_i = sum r_j tau^j``
   where ``r^`` is the NTT of random ``r`` (since ``sum_i L_i(x) w^(ij) = x^j``).

It raises ``VerificationError`` naming the first problem and otherwise returns a report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from prover import kernels
from prover.ceremony.keypair import PHASE1_SECRETS, phase1_g2_sp, phase1_key, same_ratio
from prover.ceremony.powersoftau import BEACON, CHUNK, Contribution, first_challenge, next_challenge, read_contributions
from prover.ceremony.rng import beacon_rng, random_scalars
from prover.errors import FormatError, VerificationError
from prover.field import ints_to_limbs
from prover.formats.ptau import LAGRANGE_SECTIONS, PHASE1_SECTIONS, PowersOfTau
from prover.groth16.setup import G1_GENERATOR, G2_GENERATOR


@dataclass
class Phase1Report:
    power: int
    contributions: list[tuple[str, str, str]]  # (name, "contribution" | "beacon", response hash hex)
    next_challenge: str  # the challenge a further contribution would answer
    prepared: bool  # holds the Lagrange sections for phase 2


def _fail(problem: str) -> VerificationError:
    return VerificationError(f"powers of tau rejected: {problem}")


def _initial(power: int) -> dict:
    return {
        "tau_g1": G1_GENERATOR,
        "tau_g2": G2_GENERATOR,
        "alpha_g1": G1_GENERATOR,
        "beta_g1": G1_GENERATOR,
        "beta_g2": G2_GENERATOR,
        "next_challenge": first_challenge(power),
    }


def verify_contribution(index: int, cur: Contribution, prev: dict) -> None:
    """Check one record against the previous record's points and challenge (see item 1)."""
    label = f"contribution #{index}" + (f" ({cur.name})" if cur.name else "")
    challenge = prev["next_challenge"]
    if cur.type == BEACON:
        if cur.beacon_hash is None or cur.num_iterations_exp is None:
            raise _fail(f"{label}: a beacon record without its beacon value and iteration count")
        _, expected = phase1_key(challenge, beacon_rng(cur.beacon_hash, cur.num_iterations_exp))
        for name in PHASE1_SECRETS:
            for attr in ("g1_s", "g1_sx", "g2_spx"):
                if not np.array_equal(getattr(expected[name], attr), getattr(cur.key[name], attr)):
                    raise _fail(f"{label}: the beacon's {name} key is not the one its beacon value gives")
    g2_sp = {}
    for personalisation, name in enumerate(PHASE1_SECRETS):
        key = cur.key[name]
        g2_sp[name] = phase1_g2_sp(personalisation, challenge, key.g1_s, key.g1_sx)
        if not same_ratio(key.g1_s, key.g1_sx, g2_sp[name], key.g2_spx):
            raise _fail(
                f"{label}: its proof of knowledge of {name} is invalid (or it answers another "
                f"challenge: a contribution before it was dropped or changed)"
            )
    tau, alpha, beta = (cur.key[n] for n in PHASE1_SECRETS)
    checks = (
        ("tau G1", same_ratio(prev["tau_g1"], cur.tau_g1, g2_sp["tau"], tau.g2_spx)),
        ("tau G2", same_ratio(tau.g1_s, tau.g1_sx, prev["tau_g2"], cur.tau_g2)),
        ("alpha G1", same_ratio(prev["alpha_g1"], cur.alpha_g1, g2_sp["alpha"], alpha.g2_spx)),
        ("beta G1", same_ratio(prev["beta_g1"], cur.beta_g1, g2_sp["beta"], beta.g2_spx)),
        ("beta G2", same_ratio(beta.g1_s, beta.g1_sx, prev["beta_g2"], cur.beta_g2)),
    )
    for what, ok in checks:
        if not ok:
            raise _fail(f"{label}: its {what} does not follow from the previous contribution by its secret")


def _consecutive_powers(ptau: PowersOfTau, series: str, group: str) -> tuple[np.ndarray, np.ndarray]:
    """``(sum r_i P_i, sum r_i P_(i+1))`` over the series, chunk by chunk."""
    section = getattr(ptau, series)
    msm = kernels.g1_msm if group == "g1" else kernels.g2_msm
    lower, upper = [], []
    for start in range(0, len(section) - 1, CHUNK):
        points = section[start : min(start + CHUNK + 1, len(section))]
        r = random_scalars(len(points) - 1)
        lower.append(msm(np.ascontiguousarray(points[:-1]), r))
        upper.append(msm(np.ascontiguousarray(points[1:]), r))
    ones = ints_to_limbs([1] * len(lower))
    return msm(np.stack(lower), ones), msm(np.stack(upper), ones)


def _check_powers(ptau: PowersOfTau, last: Contribution) -> None:
    first = {
        "tau_g1": (G1_GENERATOR, last.tau_g1),
        "tau_g2": (G2_GENERATOR, last.tau_g2),
        "alpha_tau_g1": (last.alpha_g1,),
        "beta_tau_g1": (last.beta_g1,),
    }
    for series, expected in first.items():
        section = getattr(ptau, series)
        for i, point in enumerate(expected):
            if not np.array_equal(section[i], point):
                raise _fail(f"point {i} of {series} is not the one the last contribution records")
    if not np.array_equal(ptau.beta_g2, last.beta_g2):
        raise _fail("beta G2 is not the one the last contribution records")
    for series, (_, group) in PHASE1_SECTIONS.items():
        if len(getattr(ptau, series)) < 2:
            continue
        low, high = _consecutive_powers(ptau, series, group)
        ok = (
            same_ratio(low, high, G2_GENERATOR, last.tau_g2)
            if group == "g1"
            else same_ratio(G1_GENERATOR, last.tau_g1, low, high)
        )
        if not ok:
            raise _fail(f"the {series} points are not consecutive powers of tau (a changed point)")


def _check_lagrange(ptau: PowersOfTau, progress: bool) -> None:
    if ptau.lagrange is None:
        raise _fail("the file has no Lagrange sections to check (an unprepared powers of tau)")
    n_max = 1 << ptau.power
    blocks = [
        (series, n)
        for series in LAGRANGE_SECTIONS
        for n in (1 << k for k in range(ptau.power + 2))
        if n <= n_max or (series == "tau_g1" and n == 2 * n_max)
    ]
    for series, n in tqdm(blocks, desc="verify Lagrange sections", disable=not progress, leave=False):
        group = PHASE1_SECTIONS[series][1]
        msm = kernels.g1_msm if group == "g1" else kernels.g2_msm
        powers = getattr(ptau, series)
        r = random_scalars(n)
        available = min(n, len(powers))
        r[available:] = 0  # the 2n block has one power fewer than points: its top power counts as zero
        expected = msm(np.ascontiguousarray(powers[:available]), np.ascontiguousarray(r[:available]))
        lagrange = ptau.lagrange[series][n - 1 : 2 * n - 1]
        got = msm(np.ascontiguousarray(lagrange), kernels.ntt(r))
        if not np.array_equal(got, expected):
            raise _fail(
                f"the Lagrange block of size {n} of {series} does not match the powers of tau (prepare the file again)"
            )


def verify_ptau_transcript(ptau: PowersOfTau, *, progress: bool = False) -> Phase1Report:
    """Check a whole phase-1 transcript (see the module docstring); a file without any
    contribution is rejected, as it protects nothing."""
    try:
        records = read_contributions(ptau.contributions)
    except FormatError as exc:
        raise _fail(str(exc)) from exc
    if not records:
        raise _fail("it has no contribution: its tau is 1 and anyone can forge proofs with it")
    ceremony_power = ptau.ceremony_power or ptau.power
    prev = _initial(ceremony_power)
    report = []
    for i, record in enumerate(tqdm(records, desc="verify contributions", disable=not progress, leave=False)):
        verify_contribution(i + 1, record, prev)
        prev = {
            **{k: getattr(record, k) for k in ("tau_g1", "tau_g2", "alpha_g1", "beta_g1", "beta_g2")},
            "next_challenge": record.next_challenge,
        }
        report.append(
            (record.name, "beacon" if record.type == BEACON else "contribution", record.response_hash().hex())
        )
    last = records[-1]
    _check_powers(ptau, last)
    if ptau.power == ceremony_power and next_challenge(last.response_hash(), ptau) != last.next_challenge:
        raise _fail(
            "the parameters are not the ones the last contribution hashed into its next "
            "challenge (the file was changed after it, or a contribution is missing)"
        )
    if ptau.lagrange:
        _check_lagrange(ptau, progress)
    return Phase1Report(ptau.power, report, last.next_challenge.hex(), bool(ptau.lagrange))


def import_ptau(path, *, progress: bool = False) -> tuple[PowersOfTau, Phase1Report]:
    """Read a .ptau from elsewhere (e.g. a public ceremony's file) and return it only once its
    whole transcript verifies: nothing downstream should see an unverified powers of tau."""
    from prover.formats.ptau import read_ptau

    ptau = read_ptau(path)
    return ptau, verify_ptau_transcript(ptau, progress=progress)
