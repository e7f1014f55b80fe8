"""Phase-1 ceremony: the snarkjs randomness and hashes reproduced, snarkjs verifying our
transcripts and we verifying its, prepare phase 2 against snarkjs, tampered files rejected."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
from dataclasses import replace

import numpy as np
import pytest
from py_ecc import optimized_bn128 as bn

from marketplace.npm import REPO_ROOT, run_npm_tool
from prover.ceremony import powersoftau
from prover.ceremony.blake2b import ResumableBlake2b
from prover.ceremony.keypair import g1_mul
from prover.ceremony.known_secret import known_secret_ptau
from prover.ceremony.powersoftau_verify import verify_ptau_transcript
from prover.ceremony.prepare_phase2 import prepare_phase2
from prover.ceremony.rng import ChaCha, fr_from_rng, g1_from_rng, g2_from_rng
from prover.errors import FormatError, VerificationError
from prover.field import ints_to_limbs, limbs_to_ints
from prover.formats.ptau import PointSection, read_ptau, write_ptau

BEACON = bytes.fromhex("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")


def _snarkjs(*args, check=True):
    return run_npm_tool("snarkjs", *args, check=check, timeout=600)


@pytest.mark.parametrize("size", [0, 1, 127, 128, 129, 256, 1000])
def test_resumable_blake2b_is_blake2b_from_any_saved_state(size):
    data = os.urandom(size)
    assert ResumableBlake2b().update(data).digest() == hashlib.blake2b(data).digest()
    for cut in {0, size // 3, size // 2, size}:
        state = ResumableBlake2b().update(data[:cut]).partial_state()
        resumed = ResumableBlake2b.from_partial_state(state).update(data[cut:]).digest()
        assert resumed == hashlib.blake2b(data).digest()
    assert ResumableBlake2b().update(data).digest() != hashlib.blake2b(data + b"x").digest()


def test_native_blake2b_compression_is_the_reference_one():
    from prover.ceremony import blake2b as b2

    for counter, last in ((128, False), (1 << 70, False), (5, True)):
        block = os.urandom(128)
        h_native, h_reference = list(b2._IV), list(b2._IV)
        b2._compress(h_native, block, counter, last)
        b2.compress_reference(h_reference, block, counter, last)
        assert h_native == h_reference
        b2.compress_reference(h_reference, block, counter + 1, last)
        assert h_native != h_reference


def test_rng_draws_what_ffjavascript_draws(tmp_path):
    """ChaCha words, an Fr element, a G1 and a G2 point from the same seed, in ffjavascript."""
    script = REPO_ROOT / "node_modules" / f".ceremony_rng_{os.getpid()}.mjs"
    script.write_text(
        'import { buildBn128, ChaCha } from "ffjavascript";\n'
        "const curve = await buildBn128(true);\n"
        "let rng = new ChaCha([1,2,3,4,5,6,7,8]);\n"
        "const out = {u32: [rng.nextU32(), rng.nextU32()]};\n"
        "rng = new ChaCha([9,8,7,6,5,4,3,2]);\n"
        "out.fr = curve.Fr.toObject(curve.Fr.fromRng(rng)).toString();\n"
        "out.g1 = curve.G1.toObject(curve.G1.toAffine(curve.G1.fromRng(rng))).slice(0, 2).map(String);\n"
        "out.g2 = curve.G2.toObject(curve.G2.toAffine(curve.G2.fromRng(rng))).slice(0, 2).flat().map(String);\n"
        "console.log(JSON.stringify(out));\nawait curve.terminate();\n"
    )
    try:
        node = subprocess.run(["node", str(script)], capture_output=True, text=True, check=True, timeout=120)
    finally:
        script.unlink()
    theirs = json.loads(node.stdout)
    rng = ChaCha([1, 2, 3, 4, 5, 6, 7, 8])
    assert [rng.next_u32(), rng.next_u32()] == theirs["u32"]
    rng = ChaCha([9, 8, 7, 6, 5, 4, 3, 2])
    assert fr_from_rng(rng) == int(theirs["fr"])
    assert limbs_to_ints(g1_from_rng(rng)) == [int(x) for x in theirs["g1"]]
    assert limbs_to_ints(g2_from_rng(rng)) == [int(x) for x in theirs["g2"]]
    other = ChaCha([9, 8, 7, 6, 5, 4, 3, 3])
    assert fr_from_rng(other) != int(theirs["fr"])


@pytest.mark.parametrize("bits", [128, 100, 64, 253])
def test_verifier_scalars_are_the_integers_their_random_bytes_give(bits):
    """The vectorised conversion against the integer path: each scalar is its bytes read
    little-endian, masked to ``bits`` bits."""
    from prover.ceremony.rng import random_scalars, scalars_from_bytes

    words = -(-bits // 64)
    raw = os.urandom(50 * 8 * words)
    expected = [int.from_bytes(raw[i : i + 8 * words], "little") % (1 << bits) for i in range(0, len(raw), 8 * words)]
    assert limbs_to_ints(scalars_from_bytes(raw, 50, bits)) == expected
    drawn = random_scalars(2000, bits)
    values = limbs_to_ints(drawn)
    assert drawn.shape == (2000, 4) and max(values) < 1 << bits
    assert len(set(values)) == 2000
    # every bit position varies (a stuck word or a wrong mask would show)
    for b in (0, 63, bits - 1):
        assert 0 < sum(v >> b & 1 for v in values) < 2000
    assert not np.array_equal(random_scalars(8, bits), random_scalars(8, bits))


def test_verifier_scalars_refuse_sizes_that_could_reach_r():
    from prover.ceremony.rng import random_scalars, scalars_from_bytes

    with pytest.raises(ValueError, match="1 to 253 bits"):
        random_scalars(4, 254)
    with pytest.raises(ValueError, match="take 64 random bytes, got 63"):
        scalars_from_bytes(bytes(63), 4, 128)


def test_response_hash_is_the_hash_of_the_compressed_response():
    """The saved state really is BLAKE2b over (challenge || new points, compressed)."""
    start = powersoftau.new(3)
    result = powersoftau.contribute(start, "alice")
    data = powersoftau.first_challenge(3)
    for _, group, points in powersoftau.series_chunks(result.ptau):
        data += powersoftau.points_compressed(points, group)
    data += powersoftau.key_bytes(result.contribution.key)
    assert result.response_hash == hashlib.blake2b(data).digest() == result.contribution.response_hash()


def test_contributing_after_a_beacon_record_without_its_parameters_is_a_format_error():
    """A corrupt file can hold a beacon record without its beacon value and iteration count;
    the next contribution writes the records again and refuses it with a typed error."""
    first = powersoftau.contribute(powersoftau.new(3), "alice")
    raw = bytearray(powersoftau.write_contributions([replace(first.contribution, name="")]))
    assert raw[-8:] == struct.pack("<II", powersoftau.CONTRIBUTION, 0)  # type, then no parameters
    raw[-8:-4] = struct.pack("<I", powersoftau.BEACON)
    corrupt = replace(first.ptau, contributions=bytes(raw))
    assert powersoftau.read_contributions(corrupt.contributions)[0].beacon_hash is None
    with pytest.raises(FormatError, match="no beacon value or iteration count"):
        powersoftau.contribute(corrupt, "bob")
    assert powersoftau.contribute(first.ptau, "bob").ptau.contributions  # the intact file takes it


@pytest.fixture(scope="module")
def our_transcript(tmp_path_factory):
    """Two contributions and a beacon, made by us, written as .ptau files."""
    base = tmp_path_factory.mktemp("ptau")
    first = powersoftau.contribute(powersoftau.new(5), "alice", "alice's entropy")
    second = powersoftau.contribute(first.ptau, "bob")
    final = powersoftau.beacon(second.ptau, BEACON, 10, "beacon")
    paths = {}
    for name, result in (("first", first), ("second", second), ("final", final)):
        paths[name] = base / f"{name}.ptau"
        write_ptau(result.ptau, paths[name])
    return base, paths


@pytest.mark.slow  # snarkjs over a whole transcript: seconds
def test_snarkjs_verifies_our_transcript_and_we_verify_it(our_transcript):
    base, paths = our_transcript
    for path in paths.values():
        assert _snarkjs("powersoftau", "verify", path, check=False).returncode == 0
    report = verify_ptau_transcript(read_ptau(paths["final"]))
    assert [(n, k) for n, k, _ in report.contributions] == [
        ("alice", "contribution"),
        ("bob", "contribution"),
        ("beacon", "beacon"),
    ]


def test_our_prepare_phase2_is_snarkjs_byte_for_byte_and_verifies(our_transcript):
    base, paths = our_transcript
    _snarkjs("powersoftau", "prepare", "phase2", paths["final"], base / "snarkjs_prepared.ptau")
    ours = prepare_phase2(read_ptau(paths["final"]))
    write_ptau(ours, base / "ours_prepared.ptau")
    assert (base / "ours_prepared.ptau").read_bytes() == (base / "snarkjs_prepared.ptau").read_bytes()
    assert verify_ptau_transcript(read_ptau(base / "ours_prepared.ptau")).prepared


def test_we_verify_snarkjs_transcripts_and_our_contribution_on_top(artifacts, tmp_path):
    for path in (artifacts.ptau, artifacts.ptau_phase1):
        assert [n for n, _, _ in verify_ptau_transcript(read_ptau(path)).contributions] == ["tests"]
    ours = powersoftau.contribute(read_ptau(artifacts.ptau_phase1), "carol")
    write_ptau(ours.ptau, tmp_path / "more.ptau")
    assert _snarkjs("powersoftau", "verify", tmp_path / "more.ptau", check=False).returncode == 0


def _tampered(ptau):
    """(what was done, ptau, message that must name it)."""
    records = powersoftau.read_contributions(ptau.contributions)
    points = ptau.tau_g1[:]
    points[3] = g1_mul(points[3], 2)
    yield "changed point", replace(ptau, tau_g1=PointSection.from_points(points, "g1")), "tau_g1 .*powers"
    dropped = powersoftau.write_contributions([records[0], records[2]])
    yield "dropped contribution", replace(ptau, contributions=dropped), "contribution #2 \\(beacon\\)"
    dropped_last = powersoftau.write_contributions(records[:2])
    yield "dropped last contribution", replace(ptau, contributions=dropped_last), "last contribution"
    bad = replace(records[1], name="bob")
    bad.key = {**bad.key, "alpha": records[0].key["alpha"]}
    yield (
        "foreign key",
        replace(ptau, contributions=powersoftau.write_contributions([records[0], bad, records[2]])),
        "proof of knowledge of alpha",
    )
    yield "no contribution", replace(ptau, contributions=powersoftau.write_contributions([])), "no contribution"


def test_tampered_transcripts_are_rejected_naming_the_problem(our_transcript):
    base, paths = our_transcript
    ptau = read_ptau(paths["final"])
    for what, bad, message in _tampered(ptau):
        with pytest.raises(VerificationError, match=message):
            verify_ptau_transcript(bad)
            pytest.fail(f"{what} was accepted")


def test_a_changed_lagrange_point_is_rejected(our_transcript):
    base, paths = our_transcript
    prepared = prepare_phase2(read_ptau(paths["final"]))
    points = prepared.lagrange["alpha_tau_g1"][:]
    points[5] = g1_mul(points[5], 3)
    bad = replace(prepared, lagrange={**prepared.lagrange, "alpha_tau_g1": PointSection.from_points(points, "g1")})
    with pytest.raises(VerificationError, match="Lagrange block of size 4 of alpha_tau_g1"):
        verify_ptau_transcript(bad)


def test_import_ptau_hands_out_only_verified_files(artifacts, tmp_path):
    from prover.ceremony.powersoftau_verify import import_ptau

    ptau, report = import_ptau(artifacts.ptau)
    assert report.prepared and ptau.lagrange
    write_ptau(known_secret_ptau(3, 5, 6, 7), tmp_path / "insecure.ptau")
    with pytest.raises(VerificationError, match="no contribution"):  # the known-secret ptau
        import_ptau(tmp_path / "insecure.ptau")


@pytest.mark.parametrize("group", ["g1", "g2"])
def test_stage_by_stage_group_intt_is_the_inverse_dft_computed_with_py_ecc(group):
    """The slow reference of prepare phase 2 (radix-2 stages on the sparse kernels) against the
    definition, point by point in py_ecc."""
    from prover.ceremony.prepare_phase2 import group_intt_by_stages
    from prover.kernels import reference

    n = 8 if group == "g1" else 4  # py_ecc's G2 arithmetic is slow
    ref_intt, to_array, base = (
        (reference.g1_intt, reference.g1_to_array, bn.G1)
        if group == "g1"
        else (reference.g2_intt, reference.g2_to_array, bn.G2)
    )
    points = np.stack([to_array(bn.multiply(base, 1000 + 7 * j)) for j in range(n)])
    expected = ref_intt(points)
    assert np.array_equal(group_intt_by_stages(points, group), expected)
    assert not np.array_equal(group_intt_by_stages(points[::-1].copy(), group), expected)


@pytest.mark.parametrize("group, n", [("g1", 1), ("g1", 2), ("g1", 64), ("g2", 2), ("g2", 16)])
def test_group_intt_kernel_is_the_stage_by_stage_reference(group, n):
    """One kernel call per block against the stage-by-stage path, on random points with the
    point at infinity among them."""
    from prover import kernels
    from prover.ceremony.prepare_phase2 import group_intt, group_intt_by_stages
    from prover.kernels import reference

    rng = np.random.default_rng(n)
    scalars = ints_to_limbs([int(x) for x in rng.integers(1, 2**62, size=n)])
    if group == "g1":
        points = kernels.g1_batch_mul(reference.g1_to_array(bn.G1), scalars)
    else:
        points = kernels.g2_batch_mul(reference.g2_to_array(bn.G2), scalars)
    if n > 1:
        points[n // 2] = 0
    expected = group_intt_by_stages(points, group)
    assert np.array_equal(group_intt(points, group), expected)
    changed = points.copy()
    changed[0] = 0
    assert not np.array_equal(group_intt(changed, group), expected)


def test_reduced_files_verify_and_refuse_contributions(our_transcript):
    """A file cut down to a smaller power (as the public ceremonies distribute theirs) keeps the
    full ceremony's transcript: its records still verify, its powers too, and it cannot take a
    further contribution."""
    base, paths = our_transcript
    write_ptau(prepare_phase2(read_ptau(paths["final"])), base / "full.ptau")
    _snarkjs("powersoftau", "truncate", base / "full.ptau")  # writes full_01.ptau .. full_04.ptau
    reduced = read_ptau(base / "full_03.ptau")
    assert (reduced.power, reduced.ceremony_power) == (3, 5)
    assert len(verify_ptau_transcript(reduced).contributions) == 3
    with pytest.raises(powersoftau.CeremonyError, match="reduced"):
        powersoftau.contribute(reduced)
    points = reduced.beta_tau_g1[:]
    points[7] = g1_mul(points[7], 2)
    with pytest.raises(VerificationError, match="beta_tau_g1"):
        verify_ptau_transcript(replace(reduced, beta_tau_g1=PointSection.from_points(points, "g1")))
