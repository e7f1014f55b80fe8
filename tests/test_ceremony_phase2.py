"""Phase-2 ceremony: interop with snarkjs both ways, proofs from a multi-party key, the forgery
that a provider-only setup allows (and an honest contribution prevents), tampered transcripts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from support.forgeries import forge_proof

from marketplace.npm import run_npm_tool
from prover.ceremony import phase2
from prover.ceremony.keypair import g1_mul
from prover.ceremony.known_secret import known_secret_ptau
from prover.ceremony.phase2_verify import verify_zkey_transcript
from prover.ceremony.rng import beacon_rng, fr_from_rng
from prover.errors import VerificationError
from prover.field import FR_MODULUS
from prover.formats.ptau import read_ptau
from prover.formats.r1cs import read_r1cs
from prover.formats.wtns import read_wtns
from prover.formats.zkey import read_zkey, write_zkey
from prover.groth16.prove import prove
from prover.groth16.setup import setup
from prover.groth16.verify import verify

BEACON = bytes.fromhex("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")


@pytest.fixture(scope="module")
def multiplier(artifacts):
    art = artifacts.circuits["multiplier"]
    return art, read_r1cs(art.r1cs), read_ptau(artifacts.ptau)


def _snarkjs_zkey_verify(r1cs: Path, ptau: Path, zkey: Path) -> bool:
    return run_npm_tool("snarkjs", "zkey", "verify", r1cs, ptau, zkey, check=False, timeout=600).returncode == 0


def test_we_verify_snarkjs_transcripts(multiplier):
    art, r1cs, ptau = multiplier
    assert verify_zkey_transcript(r1cs, ptau, read_zkey(art.zkey)).n_contributions == 0
    report = verify_zkey_transcript(r1cs, ptau, read_zkey(art.zkey_beacon))
    assert [(c.name, c.kind) for c in report.contributions] == [
        ("first contributor", "contribution"),
        ("final beacon", "beacon"),
    ]
    # the transcript hash commits to the ceremony: one contribution less, another hash
    assert report.transcript_hash != verify_zkey_transcript(r1cs, ptau, read_zkey(art.zkey_contributed)).transcript_hash


def test_snarkjs_verifies_our_multi_party_key_and_its_proofs_verify(multiplier, artifacts, tmp_path):
    art, r1cs, ptau = multiplier
    pk = setup(r1cs, ptau)
    pk, first = phase2.contribute(pk, "provider", "provider entropy")
    pk, second = phase2.contribute(pk, "consumer")
    pk, _ = phase2.beacon(pk, BEACON, 10, "closing beacon")
    assert first != second
    write_zkey(pk, tmp_path / "ours.zkey")
    assert _snarkjs_zkey_verify(art.r1cs, artifacts.ptau, tmp_path / "ours.zkey")
    report = verify_zkey_transcript(r1cs, ptau, read_zkey(tmp_path / "ours.zkey"))
    assert [c.name for c in report.contributions] == ["provider", "consumer", "closing beacon"]
    assert report.contributions[0].contribution_hash == first.hex()

    proof, public = prove(pk, read_wtns(art.wtns))
    assert verify(pk.verifying_key(), public, proof)
    assert not verify(pk.verifying_key(), [(public[0] + 1) % FR_MODULUS] + public[1:], proof)
    # a key whose delta has moved on does not accept proofs made before the last contribution
    later, _ = phase2.contribute(pk, "late")
    assert not verify(later.verifying_key(), public, proof)


def test_snarkjs_rejects_our_key_with_a_changed_point(multiplier, artifacts, tmp_path):
    art, r1cs, ptau = multiplier
    pk, _ = phase2.contribute(setup(r1cs, ptau), "provider")
    pk.h_points = pk.h_points.copy()
    pk.h_points[0] = g1_mul(pk.h_points[0], 2)
    write_zkey(pk, tmp_path / "bad.zkey")
    assert not _snarkjs_zkey_verify(art.r1cs, artifacts.ptau, tmp_path / "bad.zkey")
    with pytest.raises(VerificationError, match="H points"):
        verify_zkey_transcript(r1cs, ptau, read_zkey(tmp_path / "bad.zkey"))


def _tampered(pk):
    """(what was done, key, the message that must name it)."""
    records = pk.mpc_params["contributions"]
    c_points = pk.c_points.copy()
    c_points[1] = g1_mul(c_points[1], 3)
    yield "changed L point", replace(pk, c_points=c_points), "L \\(C\\) points"
    yield "changed A point", replace(pk, a_points=np.roll(pk.a_points, 1, axis=0)), "a_points"
    dropped_middle = {**pk.mpc_params, "contributions": [records[0], records[2]]}
    yield "dropped contribution", replace(pk, mpc_params=dropped_middle), "contribution #2.*dropped"
    dropped_last = {**pk.mpc_params, "contributions": records[:2]}
    yield "dropped last contribution", replace(pk, mpc_params=dropped_last), "contribution is missing"
    bad_key = {**records[1], "g2_spx": records[0]["g2_spx"]}
    yield (
        "forged proof of knowledge",
        replace(pk, mpc_params={**pk.mpc_params, "contributions": [records[0], bad_key, records[2]]}),
        "proof of knowledge",
    )
    yield "delta not from the key", replace(pk, delta1=g1_mul(pk.delta1, 5)), "delta1"


def test_tampered_transcripts_are_rejected_naming_the_problem(multiplier):
    art, r1cs, ptau = multiplier
    pk = setup(r1cs, ptau)
    for name in ("a", "b", "c"):
        pk, _ = phase2.contribute(pk, name)
    verify_zkey_transcript(r1cs, ptau, pk)  # the untouched key passes
    for what, bad, message in _tampered(pk):
        with pytest.raises(VerificationError, match=message):
            verify_zkey_transcript(r1cs, ptau, bad)
            pytest.fail(f"{what} was accepted")


def test_a_key_for_another_circuit_is_rejected(artifacts, multiplier):
    art, r1cs, ptau = multiplier
    other = read_r1cs(artifacts.circuits["poseidon_preimage"].r1cs)
    with pytest.raises(VerificationError, match="another circuit"):
        verify_zkey_transcript(other, ptau, read_zkey(art.zkey_beacon))


# --- why the ceremony matters ------------------------------------------------------------------

SECRET = {"tau": 1234567, "alpha": 7654321, "beta": 1111111}


def test_provider_only_setup_lets_a_wrong_label_verify_and_an_honest_contribution_stops_it(multiplier):
    """The provider runs phase 1 from a secret it knows and makes the only phase-2 contribution
    (a beacon value it chose, so it knows that delta too). It then "proves" the multiplier's
    output c + 1, a statement no witness satisfies, and the verifier accepts. After one honest
    contribution the same forgery fails. (A real setup also needs an honest phase 1: with tau
    known, 1/delta G1 can be read off the H points.)"""
    art, r1cs, _ = multiplier
    ptau = known_secret_ptau(4, **SECRET)
    pk, _ = phase2.beacon(setup(r1cs, ptau), b"provider's own value", 10, "provider")
    rng = beacon_rng(b"provider's own value", 10)
    delta = fr_from_rng(rng)  # what the provider knows about its own contribution
    proof, public = prove(pk, read_wtns(art.wtns))
    assert verify(pk.verifying_key(), public, proof)
    wrong = [(public[0] + 1) % FR_MODULUS] + public[1:]
    assert not verify(pk.verifying_key(), wrong, proof)  # an honest prover cannot do this

    forged = forge_proof(pk, wrong, SECRET["alpha"], delta)
    assert verify(pk.verifying_key(), wrong, forged)

    honest, _ = phase2.contribute(pk, "consumer")
    assert not verify(honest.verifying_key(), wrong, forge_proof(honest, wrong, SECRET["alpha"], delta))
    assert not verify(honest.verifying_key(), wrong, forged)
    proof, public = prove(honest, read_wtns(art.wtns))
    assert verify(honest.verifying_key(), public, proof)  # honest proofs still verify


def test_verify_setup_checks_both_phases_and_names_the_setup(multiplier):
    from prover.ceremony.verify_setup import verify_setup

    art, r1cs, ptau = multiplier
    report = verify_setup(r1cs, ptau, read_zkey(art.zkey_beacon))
    assert report.phase2_contributors == ["first contributor", "final beacon"]
    assert report.phase1.contributions and report.phase1.prepared
    other = verify_setup(r1cs, ptau, read_zkey(art.zkey_contributed))
    assert other.transcript_hash != report.transcript_hash
    # an unverifiable phase 1 (the known-secret ptau has no contribution) fails the whole setup
    insecure = known_secret_ptau(4, **SECRET)
    with pytest.raises(VerificationError, match="powers of tau rejected"):
        verify_setup(r1cs, insecure, setup(r1cs, insecure))
