"""`zkmarket groth16 / zkey / r1cs / wtns` against snarkjs: each side accepts the other's keys and
proofs, and every bad input gets a non-zero exit with one error line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from circuits.artifacts import snarkjs
from support.cli import assert_one_error_line, zkmarket

from prover.field import FR_MODULUS
from prover.formats.wtns import read_wtns, write_wtns
from prover.kernels.reference import bn

ZKMARKET = Path(sys.executable).parent / "zkmarket"
G1_GENERATOR = ["1", "2", "1"]
G2_GENERATOR = [
    [str(c) for c in bn.normalize(bn.G2)[0].coeffs],
    [str(c) for c in bn.normalize(bn.G2)[1].coeffs],
    ["1", "0"],
]


# --- interop ----------------------------------------------------------------------------------


def test_setup_writes_snarkjs_key_that_snarkjs_proves_with(artifacts, tmp_path, capsys):
    art = artifacts.circuits["multiplier"]
    code, out, err = zkmarket(capsys, "groth16", "setup", art.r1cs, artifacts.ptau, tmp_path / "c.zkey")
    assert code == 0 and out.startswith("Circuit hash: ")
    assert "anyone can forge" in err
    assert (tmp_path / "c.zkey").read_bytes() == art.zkey.read_bytes()
    snarkjs("groth16", "prove", tmp_path / "c.zkey", art.wtns, tmp_path / "proof.json", tmp_path / "public.json")
    snarkjs("zkey", "export", "verificationkey", tmp_path / "c.zkey", tmp_path / "vk.json")
    assert "OK" in snarkjs("groth16", "verify", tmp_path / "vk.json", tmp_path / "public.json", tmp_path / "proof.json")


def test_setup_at_the_ptau_power_limit(artifacts, tmp_path, capsys):
    """Multiplier's domain is 2^3: a power-3 ptau still serves it (H comes from the 2^4 G1 block
    snarkjs adds), byte for byte as snarkjs does; the 2^8-row Poseidon circuit is refused."""
    snarkjs("powersoftau", "new", "bn128", "3", tmp_path / "pot3_0.ptau")
    snarkjs("powersoftau", "prepare", "phase2", tmp_path / "pot3_0.ptau", tmp_path / "pot3.ptau")
    art = artifacts.circuits["multiplier"]
    snarkjs("groth16", "setup", art.r1cs, tmp_path / "pot3.ptau", tmp_path / "snarkjs.zkey")
    code, _, _ = zkmarket(capsys, "groth16", "setup", art.r1cs, tmp_path / "pot3.ptau", tmp_path / "ours.zkey")
    assert code == 0
    assert (tmp_path / "ours.zkey").read_bytes() == (tmp_path / "snarkjs.zkey").read_bytes()
    code, _, err = zkmarket(
        capsys,
        "groth16",
        "setup",
        artifacts.circuits["poseidon_preimage"].r1cs,
        tmp_path / "pot3.ptau",
        tmp_path / "big.zkey",
    )
    assert_one_error_line(code, err, "larger")
    assert not (tmp_path / "big.zkey").exists()


def test_setup_from_unprepared_ptau_fails_with_advice(artifacts, tmp_path, capsys):
    art = artifacts.circuits["multiplier"]
    code, _, err = zkmarket(capsys, "groth16", "setup", art.r1cs, artifacts.ptau_phase1, tmp_path / "c.zkey")
    assert_one_error_line(code, err, "prepare phase2")
    assert not (tmp_path / "c.zkey").exists()


@pytest.mark.parametrize("circuit", ["multiplier", "poseidon_preimage"])
def test_snarkjs_verifies_our_proof_from_its_zkey(artifacts, tmp_path, capsys, circuit):
    art = artifacts.circuits[circuit]
    proof, public = tmp_path / "proof.json", tmp_path / "public.json"
    code, _, err = zkmarket(capsys, "groth16", "prove", art.zkey, art.wtns, proof, public)
    assert code == 0, err
    assert json.loads(public.read_text()) == json.loads(art.public.read_text())
    assert json.loads(proof.read_text()) != json.loads(art.proof.read_text())  # fresh randomness
    assert "OK" in snarkjs("groth16", "verify", art.vk, public, proof)
    # and snarkjs rejects it for another public signal
    (tmp_path / "other.json").write_text(json.dumps(["103", "3"]))
    with pytest.raises(subprocess.CalledProcessError):
        snarkjs("groth16", "verify", art.vk, tmp_path / "other.json", proof)


@pytest.mark.parametrize("circuit", ["multiplier", "poseidon_preimage"])
def test_we_verify_snarkjs_proofs(artifacts, capsys, circuit):
    art = artifacts.circuits[circuit]
    code, out, err = zkmarket(capsys, "groth16", "verify", art.vk, art.public, art.proof)
    assert (code, out.strip(), err) == (0, "OK", "")


def test_exports_match_snarkjs(artifacts, tmp_path, capsys):
    art = artifacts.circuits["poseidon_preimage"]
    code, _, _ = zkmarket(capsys, "zkey", "export", "verificationkey", art.zkey_beacon, tmp_path / "vk.json")
    assert code == 0
    snarkjs("zkey", "export", "verificationkey", art.zkey_beacon, tmp_path / "snarkjs_vk.json")
    assert (tmp_path / "vk.json").read_text() == (tmp_path / "snarkjs_vk.json").read_text()
    code, out, _ = zkmarket(capsys, "zkey", "export", "soliditycalldata", art.public, art.proof)
    assert code == 0
    assert out.strip() == snarkjs("zkey", "export", "soliditycalldata", art.public, art.proof).strip()


def test_installed_command_verifies_and_rejects(artifacts, tmp_path):
    """The console script, as a user runs it."""
    art = artifacts.circuits["multiplier"]
    ok = subprocess.run(
        [ZKMARKET, "groth16", "verify", art.vk, art.public, art.proof], capture_output=True, text=True, timeout=300
    )
    assert (ok.returncode, ok.stdout.strip()) == (0, "OK")
    (tmp_path / "public.json").write_text(json.dumps(["101", "3"]))
    bad = subprocess.run(
        [ZKMARKET, "groth16", "verify", art.vk, tmp_path / "public.json", art.proof],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode != 0 and bad.stdout == ""
    assert_one_error_line(bad.returncode, bad.stderr, "invalid proof")


# --- reject twins -----------------------------------------------------------------------------


def _tampered(artifacts, tmp_path, key: str, value) -> Path:
    art = artifacts.circuits["multiplier"]
    proof = json.loads(art.proof.read_text())
    proof[key] = value
    path = tmp_path / f"proof_{key}.json"
    path.write_text(json.dumps(proof))
    return path


@pytest.mark.parametrize("key, value", [("pi_a", G1_GENERATOR), ("pi_b", G2_GENERATOR), ("pi_c", G1_GENERATOR)])
def test_tampered_proof_is_rejected(artifacts, tmp_path, capsys, key, value):
    art = artifacts.circuits["multiplier"]
    code, out, err = zkmarket(
        capsys, "groth16", "verify", art.vk, art.public, _tampered(artifacts, tmp_path, key, value)
    )
    assert out == ""
    assert_one_error_line(code, err, "invalid proof")


@pytest.mark.parametrize(
    "signals, fragment",
    [
        (["102", "4"], "invalid proof"),
        (["102", str(3 + FR_MODULUS)], "not below the scalar field"),
        (["102", "three"], "not a decimal number"),
        (["102"], "expects 2"),
    ],
)
def test_bad_public_signals_are_rejected(artifacts, tmp_path, capsys, signals, fragment):
    art = artifacts.circuits["multiplier"]
    (tmp_path / "public.json").write_text(json.dumps(signals))
    code, out, err = zkmarket(capsys, "groth16", "verify", art.vk, tmp_path / "public.json", art.proof)
    assert out == ""
    assert_one_error_line(code, err, fragment)


@pytest.mark.parametrize("which", ["vk", "public", "proof"])
def test_malformed_json_is_rejected(artifacts, tmp_path, capsys, which):
    art = artifacts.circuits["multiplier"]
    files = {"vk": art.vk, "public": art.public, "proof": art.proof}
    broken = tmp_path / f"{which}.json"
    broken.write_text(files[which].read_text()[:-20])
    files[which] = broken
    code, _, err = zkmarket(capsys, "groth16", "verify", files["vk"], files["public"], files["proof"])
    assert_one_error_line(code, err, "not valid JSON", broken.name)


def test_off_curve_proof_point_is_rejected(artifacts, tmp_path, capsys):
    art = artifacts.circuits["multiplier"]
    code, _, err = zkmarket(
        capsys, "groth16", "verify", art.vk, art.public, _tampered(artifacts, tmp_path, "pi_a", ["1", "3", "1"])
    )
    assert_one_error_line(code, err, "pi_a is not a point")


def test_prove_with_a_witness_of_another_circuit_fails(artifacts, tmp_path, capsys):
    art = artifacts.circuits["multiplier"]
    other = artifacts.circuits["poseidon_preimage"].wtns
    code, _, err = zkmarket(capsys, "groth16", "prove", art.zkey, other, tmp_path / "p.json", tmp_path / "q.json")
    assert_one_error_line(code, err, "witness")
    assert not (tmp_path / "p.json").exists()


# --- r1cs / wtns ------------------------------------------------------------------------------


def test_r1cs_info_matches_snarkjs(artifacts, capsys):
    art = artifacts.circuits["poseidon_preimage"]
    code, out, _ = zkmarket(capsys, "r1cs", "info", art.r1cs)
    assert code == 0
    ref = snarkjs("r1cs", "info", art.r1cs)
    for label in ("Wires", "Constraints", "Private Inputs", "Public Inputs", "Labels", "Outputs"):
        ours = next(line for line in out.splitlines() if f"# of {label}:" in line).split(":")[-1].strip()
        theirs = next(line for line in ref.splitlines() if f"# of {label}:" in line).split(":")[-1].strip()
        assert ours == theirs, label


def test_wtns_check_accepts_the_witness_and_rejects_a_changed_one(artifacts, tmp_path, capsys):
    art = artifacts.circuits["multiplier"]
    code, out, _ = zkmarket(capsys, "wtns", "check", art.r1cs, art.wtns)
    assert (code, out.strip()) == (0, "OK")
    witness = read_wtns(art.wtns)
    witness[3, 0] += 1  # b: 11 -> 12 breaks only c = a^2 * b + a
    write_wtns(witness, tmp_path / "bad.wtns")
    code, _, err = zkmarket(capsys, "wtns", "check", art.r1cs, tmp_path / "bad.wtns")
    assert_one_error_line(code, err, "violates 1 of 2 constraints")
    shutil.copy(art.r1cs, tmp_path / "x.wtns")
    code, _, err = zkmarket(capsys, "wtns", "check", art.r1cs, tmp_path / "x.wtns")
    assert_one_error_line(code, err, "not a wtns file")
