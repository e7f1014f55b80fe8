"""The snarkjs/circom file formats, checked against files made by circom2 and snarkjs.

Readers are checked against snarkjs's own JSON exports of the same files (an independent
decoder), writers by byte identity with snarkjs's files and by snarkjs accepting what we write.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import subprocess

import numpy as np
import pytest
from circuits.artifacts import PTAU_POWER, snarkjs
from hypothesis import given, settings
from hypothesis import strategies as st

from prover import kernels
from prover.errors import FormatError
from prover.field import FQ_MODULUS, FR_MODULUS, ints_to_limbs, limbs_to_ints
from prover.formats.binfile import read_binfile, write_binfile
from prover.formats.ptau import read_ptau, write_ptau
from prover.formats.r1cs import read_r1cs, read_r1cs_header, write_r1cs
from prover.formats.snarkjs_json import (
    read_proof,
    read_public,
    read_verification_key,
    solidity_calldata,
    write_proof,
    write_public,
    write_verification_key,
)
from prover.formats.wtns import read_wtns, write_wtns
from prover.formats.zkey import read_zkey, write_zkey
from prover.groth16.prove import prove
from prover.groth16.verify import verify
from prover.kernels.reference import bn, g1_to_array, g2_to_array
from prover.r1cs import R1CS, SparseMatrix

CIRCUITS = ("multiplier", "poseidon_preimage")


def export_json(tmp_path, *args) -> object:
    out = tmp_path / "export.json"
    snarkjs(*args, out)
    return json.loads(out.read_text())


def as_ints(points: np.ndarray) -> list[int]:
    return limbs_to_ints(np.asarray(points).reshape(-1, 4))


def snarkjs_g1(p) -> list[int]:
    """snarkjs's projective decimal triple -> affine [x, y] ints (z is 1, or 0 for infinity)."""
    assert p[2] in ("1", "0")
    return [int(p[0]), int(p[1])] if p[2] == "1" else [0, 0]


def snarkjs_g2(p) -> list[int]:
    return [int(v) for c in p[:2] for v in c] if p[2] != ["0", "0"] else [0, 0, 0, 0]


# --- .r1cs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("circuit", CIRCUITS)
def test_r1cs_matches_snarkjs_export(artifacts, tmp_path, circuit):
    art = artifacts.circuits[circuit]
    r1cs = read_r1cs(art.r1cs)
    ref = export_json(tmp_path, "r1cs", "export", "json", art.r1cs)
    assert (r1cs.n_wires, r1cs.n_outputs, r1cs.n_public_inputs, r1cs.n_private_inputs, r1cs.n_constraints) == (
        ref["nVars"],
        ref["nOutputs"],
        ref["nPubInputs"],
        ref["nPrvInputs"],
        ref["nConstraints"],
    )
    for m, mat in enumerate((r1cs.A, r1cs.B, r1cs.C)):
        coeffs = limbs_to_ints(mat.coeffs)
        for row, constraint in enumerate(ref["constraints"]):
            lo, hi = mat.indptr[row], mat.indptr[row + 1]
            ours = {str(int(w)): str(c) for w, c in zip(mat.indices[lo:hi], coeffs[lo:hi])}
            assert ours == constraint[m], (circuit, "ABC"[m], row)
    assert read_r1cs_header(art.r1cs).n_labels == ref["nLabels"]


@pytest.mark.parametrize("circuit", CIRCUITS)
def test_witness_satisfies_r1cs_and_a_changed_one_does_not(artifacts, circuit):
    art = artifacts.circuits[circuit]
    r1cs, witness = read_r1cs(art.r1cs), read_wtns(art.wtns)
    assert r1cs.is_satisfied(witness)
    witness[-1] = ints_to_limbs([limbs_to_ints(witness[-1:])[0] + 1], FR_MODULUS)[0]
    assert not r1cs.is_satisfied(witness)


@pytest.mark.parametrize("circuit", CIRCUITS)
def test_r1cs_written_back_is_byte_identical(artifacts, tmp_path, circuit):
    art = artifacts.circuits[circuit]
    out = tmp_path / "again.r1cs"
    write_r1cs(read_r1cs(art.r1cs), out, n_labels=read_r1cs_header(art.r1cs).n_labels)
    assert out.read_bytes() == art.r1cs.read_bytes()


def _random_matrix(rng, rows: int, n_wires: int) -> SparseMatrix:
    per_row = rng.integers(0, 4, rows)  # empty rows included
    nnz = int(per_row.sum())
    values = [int(v) for v in rng.integers(0, 2**62, nnz)]
    values = [FR_MODULUS - 1 - v if k % 3 == 0 else v for k, v in enumerate(values)]  # near r too
    return SparseMatrix(
        np.concatenate(([0], np.cumsum(per_row))).astype(np.int64),
        rng.integers(0, n_wires, nnz).astype(np.int64),
        ints_to_limbs(values),
    )


@settings(max_examples=25, deadline=None)
@given(n_constraints=st.integers(0, 40), n_wires=st.integers(1, 30), seed=st.integers(0, 2**32 - 1))
def test_r1cs_round_trip_on_random_systems(tmp_path_factory, n_constraints, n_wires, seed):
    rng = np.random.default_rng(seed)
    r1cs = R1CS(n_wires, min(1, n_wires - 1), 0, 0, *(_random_matrix(rng, n_constraints, n_wires) for _ in "ABC"))
    path = tmp_path_factory.mktemp("r1cs") / "random.r1cs"
    write_r1cs(r1cs, path)
    again = read_r1cs(path)
    assert again.n_constraints == n_constraints and again.n_wires == n_wires
    for ours, theirs in zip((r1cs.A, r1cs.B, r1cs.C), (again.A, again.B, again.C)):
        assert np.array_equal(ours.indptr, theirs.indptr)
        assert np.array_equal(ours.indices, theirs.indices)
        assert np.array_equal(ours.coeffs, theirs.coeffs)


def test_r1cs_we_write_is_read_by_snarkjs(artifacts, tmp_path):
    """A changed coefficient shows up in snarkjs's own reading of our file."""
    r1cs = read_r1cs(artifacts.circuits["multiplier"].r1cs)
    r1cs.C.coeffs[0] = ints_to_limbs([12345])[0]
    write_r1cs(r1cs, tmp_path / "changed.r1cs")
    ref = export_json(tmp_path, "r1cs", "export", "json", tmp_path / "changed.r1cs")
    assert list(ref["constraints"][0][2].values()) == ["12345"]
    assert ref["nLabels"] == r1cs.n_wires  # identity label map by default


# --- .wtns ------------------------------------------------------------------------------------


@pytest.mark.parametrize("circuit", CIRCUITS)
def test_wtns_matches_snarkjs_export_and_round_trips(artifacts, tmp_path, circuit):
    art = artifacts.circuits[circuit]
    witness = read_wtns(art.wtns)
    assert limbs_to_ints(witness) == [int(v) for v in export_json(tmp_path, "wtns", "export", "json", art.wtns)]
    write_wtns(witness, tmp_path / "again.wtns")
    assert (tmp_path / "again.wtns").read_bytes() == art.wtns.read_bytes()


def test_non_canonical_witness_is_not_written(tmp_path):
    witness = ints_to_limbs([1, 5, FR_MODULUS])
    with pytest.raises(ValueError, match=">= r"):
        write_wtns(witness, tmp_path / "w.wtns")
    assert not list(tmp_path.iterdir())
    write_wtns(ints_to_limbs([1, 5, FR_MODULUS - 1]), tmp_path / "w.wtns")
    assert limbs_to_ints(read_wtns(tmp_path / "w.wtns")) == [1, 5, FR_MODULUS - 1]


def test_snarkjs_checks_the_witness_we_write(artifacts, tmp_path):
    art = artifacts.circuits["multiplier"]
    witness = read_wtns(art.wtns)
    write_wtns(witness, tmp_path / "good.wtns")
    snarkjs("wtns", "check", art.r1cs, tmp_path / "good.wtns")
    witness[3] = ints_to_limbs([12])[0]  # b: 11 -> 12 breaks c = a^2 b + a
    write_wtns(witness, tmp_path / "bad.wtns")
    with pytest.raises(subprocess.CalledProcessError):
        snarkjs("wtns", "check", art.r1cs, tmp_path / "bad.wtns")


# --- .ptau ------------------------------------------------------------------------------------


def test_ptau_points_are_powers_of_one_tau(artifacts):
    """e(tau G1, G2) = e(G1, tau G2) and e(alpha tau G1, G2) = e(alpha G1, tau G2): the sections
    decode to consistent points (a wrong Montgomery or byte order would give off-curve points)."""
    ptau = read_ptau(artifacts.ptau)
    n = 1 << PTAU_POWER
    assert ptau.power == PTAU_POWER and len(ptau.tau_g1) == 2 * n - 1 and len(ptau.tau_g2) == n
    g2 = g2_to_array(bn.G2)
    neg = lambda p: g1_to_array(bn.neg(kernels.reference.g1_from_array(p)))  # noqa: E731
    assert kernels.pairing_check(np.stack([ptau.tau_g1[1], neg(ptau.tau_g1[0])]), np.stack([g2, ptau.tau_g2[1]]))
    assert kernels.pairing_check(
        np.stack([ptau.alpha_tau_g1[1], neg(ptau.alpha_tau_g1[0])]), np.stack([g2, ptau.tau_g2[1]])
    )
    assert not kernels.pairing_check(np.stack([ptau.tau_g1[2], neg(ptau.tau_g1[0])]), np.stack([g2, ptau.tau_g2[1]]))


def test_ptau_lagrange_bases_sum_to_the_generator(artifacts):
    """sum_i L_i(tau) = 1 on every domain, so the G1 Lagrange points of a domain sum to G1."""
    ptau = read_ptau(artifacts.ptau)
    top = 2 << PTAU_POWER  # 2^(power+1): the block snarkjs adds for the H query
    for n in (1, 8, top):
        points = ptau.lagrange_g1(n)
        assert len(points) == n
        total = kernels.g1_msm(points, ints_to_limbs([1] * n))
        assert as_ints(total) == [1, 2]
    assert as_ints(kernels.g1_msm(ptau.lagrange_g1(8)[:7], ints_to_limbs([1] * 7))) != [1, 2]
    with pytest.raises(FormatError, match="larger power"):
        ptau.lagrange_g2(top)


def test_ptau_round_trips_byte_identical(artifacts, tmp_path):
    for source in (artifacts.ptau, artifacts.ptau_phase1):
        write_ptau(read_ptau(source), tmp_path / "again.ptau")
        assert (tmp_path / "again.ptau").read_bytes() == source.read_bytes()


def test_unprepared_ptau_says_to_prepare_phase2(artifacts):
    ptau = read_ptau(artifacts.ptau_phase1)
    assert ptau.tau_g1[0].tolist() == g1_to_array(bn.G1).tolist()
    with pytest.raises(FormatError, match="prepare phase2"):
        ptau.lagrange_g1(8)


def test_known_secret_ptau_equals_what_snarkjs_prepares(tmp_path):
    """Our phase-1 file, prepared by snarkjs, is byte for byte the prepared file we write."""
    from prover.ceremony.known_secret import known_secret_ptau

    ptau = known_secret_ptau(3, 1234567, 5, 7)
    write_ptau(dataclasses.replace(ptau, lagrange=None), tmp_path / "phase1.ptau")
    snarkjs("powersoftau", "prepare", "phase2", tmp_path / "phase1.ptau", tmp_path / "snarkjs.ptau")
    write_ptau(ptau, tmp_path / "ours.ptau")
    assert (tmp_path / "ours.ptau").read_bytes() == (tmp_path / "snarkjs.ptau").read_bytes()


# --- .zkey ------------------------------------------------------------------------------------


@pytest.mark.parametrize("circuit", CIRCUITS)
@pytest.mark.parametrize("kind", ["zkey", "zkey_contributed", "zkey_beacon"])
def test_zkey_written_back_is_byte_identical(artifacts, tmp_path, circuit, kind):
    source = getattr(artifacts.circuits[circuit], kind)
    pk = read_zkey(source)
    write_zkey(pk, tmp_path / "again.zkey")
    assert (tmp_path / "again.zkey").read_bytes() == source.read_bytes()
    n_contributions = {"zkey": 0, "zkey_contributed": 1, "zkey_beacon": 2}[kind]
    assert len(pk.mpc_params["contributions"]) == n_contributions


POINT_FIELDS = ("a_points", "b1_points", "b2_points", "c_points", "h_points")


@pytest.mark.parametrize("kind", ["zkey", "zkey_beacon"])
def test_zkey_read_for_proving_keeps_the_montgomery_points(artifacts, tmp_path, kind):
    """montgomery_points=True: the same key with the five point sections as the file stores
    them (v R mod q, computed here in Python), written back byte for byte, and converted back
    to the canonical key; a proof from it verifies, and one from a key with one point changed
    does not."""
    source = getattr(artifacts.circuits["poseidon_preimage"], kind)
    canonical, mont = read_zkey(source), read_zkey(source, montgomery_points=True)
    assert mont.points_montgomery and not canonical.points_montgomery
    for name in POINT_FIELDS:
        want = [v * 2**256 % FQ_MODULUS for v in limbs_to_ints(getattr(canonical, name))]
        assert limbs_to_ints(getattr(mont, name)) == want
        assert getattr(mont, name).shape == getattr(canonical, name).shape
    write_zkey(mont, tmp_path / "again.zkey")
    assert (tmp_path / "again.zkey").read_bytes() == source.read_bytes()
    back = mont.with_canonical_points()
    assert all((getattr(back, n) == getattr(canonical, n)).all() for n in POINT_FIELDS)
    assert canonical.with_canonical_points() is canonical

    witness = read_wtns(artifacts.circuits["poseidon_preimage"].wtns)
    proof, public = prove(mont, witness)
    assert verify(mont.verifying_key(), public, proof)
    h_points = mont.h_points.copy()
    h_points[0] = h_points[1]
    forged, _ = prove(dataclasses.replace(mont, h_points=h_points), witness)
    assert not verify(mont.verifying_key(), public, forged)


def test_zkey_point_not_below_q_is_a_format_error_read_either_way(artifacts, tmp_path):
    art = artifacts.circuits["multiplier"]
    _patch_section(art.zkey, tmp_path / "big.zkey", 5, 0, FQ_MODULUS.to_bytes(32, "little"))
    for montgomery in (False, True):
        with pytest.raises(FormatError, match="not below the field modulus"):
            read_zkey(tmp_path / "big.zkey", montgomery_points=montgomery)


def test_zkey_matches_snarkjs_export(artifacts, tmp_path):
    art = artifacts.circuits["multiplier"]
    pk = read_zkey(art.zkey_beacon)
    ref = export_json(tmp_path, "zkey", "export", "json", art.zkey_beacon)
    assert (pk.n_vars, pk.n_public, pk.domain_size) == (ref["nVars"], ref["nPublic"], ref["domainSize"])
    for ours, theirs in (("alpha1", "vk_alpha_1"), ("beta1", "vk_beta_1"), ("delta1", "vk_delta_1")):
        assert as_ints(getattr(pk, ours)) == snarkjs_g1(ref[theirs])
    for ours, theirs in (("beta2", "vk_beta_2"), ("gamma2", "vk_gamma_2"), ("delta2", "vk_delta_2")):
        assert as_ints(getattr(pk, ours)) == snarkjs_g2(ref[theirs])
    assert [as_ints(p) for p in pk.ic] == [snarkjs_g1(p) for p in ref["IC"]]
    assert [as_ints(p) for p in pk.h_points] == [snarkjs_g1(p) for p in ref["hExps"]]
    assert [as_ints(p) for p in pk.b2_points] == [snarkjs_g2(p) for p in ref["B2"]]
    # the export gives the coefficient values in plain form: ours must match after the R^2 undoing
    theirs = sorted((c["matrix"], c["constraint"], c["signal"], int(c["value"])) for c in ref["ccoefs"])
    ours = []
    for m, mat in enumerate((pk.A, pk.B)):
        for row in range(mat.n_rows):
            for k in range(mat.indptr[row], mat.indptr[row + 1]):
                ours.append((m, row, int(mat.indices[k]), limbs_to_ints(mat.coeffs[k : k + 1])[0]))
    assert sorted(ours) == theirs
    assert pk.mpc_params["contributions"][1]["name"] == "final beacon"
    assert pk.mpc_params["contributions"][1]["num_iterations_exp"] == 10


@pytest.mark.parametrize("circuit", CIRCUITS)
def test_setup_zkey_is_byte_identical_to_snarkjs(artifacts, tmp_path, circuit):
    from prover.groth16.setup import setup

    art = artifacts.circuits[circuit]
    pk = setup(read_r1cs(art.r1cs), read_ptau(artifacts.ptau))
    write_zkey(pk, tmp_path / "ours.zkey")
    assert (tmp_path / "ours.zkey").read_bytes() == art.zkey.read_bytes()


def test_zkey_without_circuit_hash_is_not_written(artifacts, tmp_path):
    pk = read_zkey(artifacts.circuits["multiplier"].zkey)
    pk.mpc_params = {}
    with pytest.raises(ValueError, match="circuit hash"):
        write_zkey(pk, tmp_path / "nohash.zkey")
    assert not list(tmp_path.iterdir())


# --- malformed files --------------------------------------------------------------------------

READERS = {"r1cs": read_r1cs, "wtns": read_wtns, "ptau": read_ptau, "zkey": read_zkey}


def _source(artifacts, kind):
    art = artifacts.circuits["multiplier"]
    return {"r1cs": art.r1cs, "wtns": art.wtns, "ptau": artifacts.ptau, "zkey": art.zkey}[kind]


@pytest.mark.parametrize("kind", READERS)
def test_truncated_file_is_a_format_error(artifacts, tmp_path, kind):
    data = _source(artifacts, kind).read_bytes()
    for cut in (3, 20, len(data) // 2, len(data) - 1):
        path = tmp_path / f"cut{cut}.{kind}"
        path.write_bytes(data[:cut])
        with pytest.raises(FormatError, match=str(path.name)):
            READERS[kind](path)


@pytest.mark.parametrize("kind", READERS)
def test_wrong_magic_and_version_are_format_errors(artifacts, tmp_path, kind):
    data = bytearray(_source(artifacts, kind).read_bytes())
    (tmp_path / "magic").write_bytes(b"abcd" + data[4:])
    with pytest.raises(FormatError, match=f"not a {kind} file"):
        READERS[kind](tmp_path / "magic")
    data[4:8] = struct.pack("<I", 7)
    (tmp_path / "version").write_bytes(bytes(data))
    with pytest.raises(FormatError, match="version 7 is not supported"):
        READERS[kind](tmp_path / "version")


def _patch_section(path, out, section_id, offset, new: bytes):
    bf = read_binfile(path, path.suffix[1:], 2)
    start = bf.sections[section_id][0][0] + offset
    data = bytearray(path.read_bytes())
    data[start : start + len(new)] = new
    out.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "kind, section, offset", [("r1cs", 1, 4), ("wtns", 1, 4), ("ptau", 1, 4), ("zkey", 2, 4), ("zkey", 2, 40)]
)
def test_wrong_field_prime_is_a_format_error(artifacts, tmp_path, kind, section, offset):
    other_prime = FQ_MODULUS if offset == 40 or kind == "r1cs" or kind == "wtns" else FR_MODULUS
    _patch_section(
        _source(artifacts, kind), tmp_path / f"p.{kind}", section, offset, other_prime.to_bytes(32, "little")
    )
    with pytest.raises(FormatError, match="another curve"):
        READERS[kind](tmp_path / f"p.{kind}")


def test_wrong_and_missing_sections_are_format_errors(artifacts, tmp_path):
    zkey = artifacts.circuits["multiplier"].zkey
    _patch_section(zkey, tmp_path / "plonk.zkey", 1, 0, struct.pack("<I", 2))
    with pytest.raises(FormatError, match="PLONK key"):
        read_zkey(tmp_path / "plonk.zkey")
    bf = read_binfile(zkey, "zkey", 1)
    write_binfile(tmp_path / "noh.zkey", "zkey", 1, [(sid, bytes(bf.section(sid))) for sid in bf.sections if sid != 9])
    with pytest.raises(FormatError, match="section 9"):
        read_zkey(tmp_path / "noh.zkey")
    with pytest.raises(FormatError, match="not a wtns file"):
        read_wtns(artifacts.circuits["multiplier"].r1cs)

    ptau = read_binfile(artifacts.ptau, "ptau", 1)
    short = {sid: bytes(ptau.section(sid)) for sid in ptau.sections}
    short[12] = short[12][: len(short[12]) // 2]
    write_binfile(tmp_path / "short.ptau", "ptau", 1, short.items())
    with pytest.raises(FormatError, match="section 12"):
        read_ptau(tmp_path / "short.ptau")
    partial = {sid: data for sid, data in short.items() if sid not in (13, 14, 15)}
    write_binfile(tmp_path / "partial.ptau", "ptau", 1, partial.items())
    with pytest.raises(FormatError, match="only some of the phase-2"):
        read_ptau(tmp_path / "partial.ptau")


def test_constraint_section_of_the_wrong_length_is_a_format_error(artifacts, tmp_path):
    bf = read_binfile(artifacts.circuits["poseidon_preimage"].r1cs, "r1cs", 1)
    sections = {sid: bytes(bf.section(sid)) for sid in bf.sections}
    for name, constraints, message in (
        ("short", sections[2][:-36], "truncated"),
        ("cut", sections[2][:4000], "truncated"),
        ("long", sections[2] + bytes(4), "1 words after the last constraint"),
    ):
        write_binfile(tmp_path / f"{name}.r1cs", "r1cs", 1, {**sections, 2: constraints}.items())
        with pytest.raises(FormatError, match=message):
            read_r1cs(tmp_path / f"{name}.r1cs")


def test_non_canonical_values_are_format_errors(artifacts, tmp_path):
    art = artifacts.circuits["multiplier"]
    _patch_section(art.wtns, tmp_path / "big.wtns", 2, 32, (FR_MODULUS + 1).to_bytes(32, "little"))
    with pytest.raises(FormatError, match="not below the field modulus"):
        read_wtns(tmp_path / "big.wtns")
    _patch_section(art.r1cs, tmp_path / "big.r1cs", 2, 8, FR_MODULUS.to_bytes(32, "little"))
    with pytest.raises(FormatError, match="not below the field modulus"):
        read_r1cs(tmp_path / "big.r1cs")


def test_interrupted_write_leaves_no_file(tmp_path):
    def chunks():
        yield b"partial"
        raise KeyboardInterrupt

    target = tmp_path / "out.wtns"
    with pytest.raises(KeyboardInterrupt):
        write_binfile(target, "wtns", 2, [(1, b"header"), (2, chunks())])
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"previous content")
    with pytest.raises(KeyboardInterrupt):
        write_binfile(target, "wtns", 2, [(2, chunks())])
    assert target.read_bytes() == b"previous content"
    assert [p.name for p in tmp_path.iterdir()] == ["out.wtns"]


# --- JSON and calldata ------------------------------------------------------------------------


@pytest.mark.parametrize("circuit", CIRCUITS)
def test_verification_key_json_is_what_snarkjs_exports(artifacts, tmp_path, circuit):
    """Including vk_alphabeta_12 (our pairing, matched to snarkjs's final exponentiation)."""
    art = artifacts.circuits[circuit]
    write_verification_key(read_zkey(art.zkey).verifying_key(), tmp_path / "vk.json")
    assert (tmp_path / "vk.json").read_text() == art.vk.read_text()
    vk = read_verification_key(art.vk)
    assert vk.n_public == 2 and np.array_equal(vk.ic, read_zkey(art.zkey).ic)


@pytest.mark.parametrize("circuit", CIRCUITS)
def test_proof_and_public_json_round_trip_and_calldata(artifacts, tmp_path, circuit):
    art = artifacts.circuits[circuit]
    proof, public = read_proof(art.proof), read_public(art.public)
    write_proof(proof, tmp_path / "proof.json")
    write_public(public, tmp_path / "public.json")
    assert (tmp_path / "proof.json").read_text() == art.proof.read_text()
    assert (tmp_path / "public.json").read_text() == art.public.read_text()
    assert (
        solidity_calldata(proof, public) == snarkjs("zkey", "export", "soliditycalldata", art.public, art.proof).strip()
    )
    # G2 in calldata is (imaginary, real): the first b word is pi_b's x.c1
    b_x_c1 = limbs_to_ints(proof.b[0, 1:2])[0]
    assert solidity_calldata(proof, public).split("[[")[1].startswith(f'"0x{b_x_c1:064x}"')


@pytest.mark.parametrize(
    "content, message",
    [
        (f'["{FR_MODULUS}"]', "not below the scalar field"),
        ('["12", "abc"]', "not a decimal number"),
        ('["-5"]', "not a decimal number"),
        ('["0xZZ"]', "not a decimal number"),
        ('["12", "0x"]', "not a decimal number"),
        ("[1.5]", "not a number"),
        ('{"a": 1}', "expected a JSON list"),
        ('["1", ', "not valid JSON"),
    ],
)
def test_bad_public_json_is_rejected(tmp_path, content, message):
    (tmp_path / "public.json").write_text(content)
    with pytest.raises(FormatError, match=message):
        read_public(tmp_path / "public.json")


def test_public_json_reads_decimal_and_hex_like_snarkjs(tmp_path):
    (tmp_path / "public.json").write_text(json.dumps(["102", "0x03", 7]))
    assert read_public(tmp_path / "public.json") == [102, 3, 7]


def test_bad_proof_json_is_rejected(artifacts, tmp_path):
    good = json.loads(artifacts.circuits["multiplier"].proof.read_text())
    cases = {
        "off curve": ({**good, "pi_a": [good["pi_a"][0], "5", "1"]}, "not a point on the BN254 curve"),
        "off twist": (
            {**good, "pi_b": [good["pi_b"][0], [good["pi_b"][1][1], good["pi_b"][1][0]], ["1", "0"]]},
            "twist curve",
        ),
        "projective": ({**good, "pi_c": [*good["pi_c"][:2], "2"]}, "affine"),
        "too big": ({**good, "pi_a": [str(FQ_MODULUS), "2", "1"]}, "base field"),
        "missing": ({k: v for k, v in good.items() if k != "pi_b"}, "'pi_b' is missing"),
        "plonk": ({**good, "protocol": "plonk"}, "only groth16"),
    }
    for obj, message in cases.values():
        (tmp_path / "proof.json").write_text(json.dumps(obj))
        with pytest.raises(FormatError, match=message):
            read_proof(tmp_path / "proof.json")
    (tmp_path / "proof.json").write_text(json.dumps(good))
    assert np.array_equal(read_proof(tmp_path / "proof.json").a, read_proof(artifacts.circuits["multiplier"].proof).a)
