"""``zkmarket model`` on the sumcheck backend (``marketplace/cli/model.py``, its sumcheck section, the folder
``marketplace/setup/sumcheck_folder.py``, the proof file ``prover/sumcheck/proof_file.py``):
compile, set up, prove a batch and verify it, run as a user would. Each reject twin is refused
with one error line: a changed output, other inputs, another model's public file, a tampered or
malformed proof file, weights changed after the registration, a tampered commitment key, a
missing or another registration's blinding seed, a batch over the key's size, and the
Groth16-only verbs and options on a sumcheck folder. The registered weight commitments hide the
weights: the seed that blinds them is the provider's alone (mode 0600)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support.cli import assert_one_error_line, zkmarket

from marketplace.models import MODELS_DIR, digits_split, model_inputs
from marketplace.setup import sumcheck_folder
from prover.ceremony.known_secret import known_secret_ptau
from prover.formats.ptau import write_ptau
from prover.sumcheck import proof_file

POWER = 11


@pytest.fixture(scope="module")
def ptau(tmp_path_factory):
    path = tmp_path_factory.mktemp("ptau") / "p.ptau"
    write_ptau(known_secret_ptau(POWER, 0x5C11, 3, 5), path)  # INSECURE known secret: tests only
    return path


@pytest.fixture(scope="module")
def proved(tmp_path_factory, ptau):
    """The digits MLP compiled, set up for batches of 4, and a proof of 3 test inputs."""
    from marketplace.cli import main

    work = tmp_path_factory.mktemp("sumcheck_cli")
    _, _, x_te, _ = digits_split()
    np.save(work / "x.npy", model_inputs((64,), x_te[:3]))
    np.save(work / "y.npy", model_inputs((64,), x_te[3:6]))
    np.save(work / "big.npy", model_inputs((64,), x_te[:5]))
    folder = work / "mlp"
    assert main(["model", "compile", str(MODELS_DIR / "mlp.onnx"), str(folder), "--backend", "sumcheck"]) == 0
    assert main(["model", "setup", str(folder), "--ptau", str(ptau), "--max-batch", "4"]) == 0
    args = ["model", "prove", str(folder), str(work / "x.npy"), str(work / "proof.json"), str(work / "public.json")]
    assert main(args) == 0
    return work, folder


def test_a_batch_is_proved_and_verified(capsys, proved):
    work, folder = proved
    code, out, _ = zkmarket(capsys, "model", "verify", folder, work / "proof.json", work / "public.json")
    assert code == 0 and out.startswith("OK")
    info = sumcheck_folder.read_info(folder)
    public = json.loads((work / "public.json").read_text())
    assert public["model_commitment"] == info["model_commitment"] and len(public["outputs"]) == 3
    assert info["setup"]["max_batch"] == 4 and info["setup"]["key_power"] <= POWER


def changed_public(work, tmp_path, edit):
    public = json.loads((work / "public.json").read_text())
    edit(public)
    path = tmp_path / "public.json"
    path.write_text(json.dumps(public))
    return path


def test_a_changed_output_is_refused(capsys, proved, tmp_path):
    work, folder = proved

    def bump(p):
        p["outputs"][1][2] += 1

    code, _, err = zkmarket(
        capsys, "model", "verify", folder, work / "proof.json", changed_public(work, tmp_path, bump)
    )
    assert_one_error_line(code, err, "invalid proof")


def test_other_inputs_are_refused(capsys, proved, tmp_path):
    work, folder = proved
    code, _, err = zkmarket(capsys, "model", "prove", folder, work / "y.npy", tmp_path / "p.json", tmp_path / "q.json")
    assert code == 0
    other = json.loads((tmp_path / "q.json").read_text())

    def swap(p):
        p["inputs"] = other["inputs"]

    code, _, err = zkmarket(
        capsys, "model", "verify", folder, work / "proof.json", changed_public(work, tmp_path, swap)
    )
    assert_one_error_line(code, err, "invalid proof")


def test_commitments_that_do_not_open_or_open_to_other_values_are_refused(capsys, proved, tmp_path):
    """The public file's commitments must be its inputs', outputs' and salts'; consistent
    commitments of other inputs, other outputs or other salts fail the proof."""
    from prover.sumcheck.inference import io_commitments

    work, folder = proved
    model = sumcheck_folder.load(folder, prover=False)

    def recommitted(edit):
        def change(p):
            edit(p)
            io = io_commitments(
                model.architecture, np.array(p["inputs"]), np.array(p["outputs"]), [int(v, 16) for v in p["salts"]]
            )
            p["input_commitments"], p["output_commitments"] = [hex(v) for v in io[0::2]], [hex(v) for v in io[1::2]]

        return change

    def salt(p):
        p["salts"][0] = hex(int(p["salts"][0], 16) + 1)

    def first_input(p):
        p["inputs"][0][3] = (p["inputs"][0][3] + 1) % 16

    def output(p):
        p["outputs"][2][0] += 1

    for edit, why in ((salt, "not those of its inputs"), (first_input, "not those of its inputs")):
        code, _, err = zkmarket(
            capsys, "model", "verify", folder, work / "proof.json", changed_public(work, tmp_path, edit)
        )
        assert_one_error_line(code, err, why)
    for edit in (salt, first_input, output):
        path = changed_public(work, tmp_path, recommitted(edit))
        code, _, err = zkmarket(capsys, "model", "verify", folder, work / "proof.json", path)
        assert_one_error_line(code, err, "does not prove")

    def malformed(p):
        p["salts"] = p["salts"][:1]

    def not_hex(p):
        p["output_commitments"][0] = "12"

    for edit in (malformed, not_hex):
        code, _, err = zkmarket(
            capsys, "model", "verify", folder, work / "proof.json", changed_public(work, tmp_path, edit)
        )
        assert_one_error_line(code, err, "per input")


def test_a_public_file_of_another_model_is_refused(capsys, proved, tmp_path):
    work, folder = proved

    def other(p):
        p["model_commitment"] = hex(int(p["model_commitment"], 16) + 1)

    code, _, err = zkmarket(
        capsys, "model", "verify", folder, work / "proof.json", changed_public(work, tmp_path, other)
    )
    assert_one_error_line(code, err, "another model")


def test_tampered_and_malformed_proof_files_are_refused(capsys, proved, tmp_path):
    work, folder = proved
    text = (work / "proof.json").read_text()
    data = json.loads(text)
    advice = data["proof"]["advice"][0]["g1"]
    cases = {
        "tampered": text.replace(advice[0], advice[1], 1) if advice[0] != advice[1] else None,
        "truncated": text[: len(text) // 2],
        "unknown part": text.replace('"SumcheckProof"', '"MagicProof"', 1),
        "out of the field": text.replace(advice[0], "0x" + "f" * 70, 1),
        "not a proof": json.dumps({"format": "other"}),
    }
    expected = {
        "tampered": "invalid proof",
        "truncated": "not a JSON proof",
        "unknown part": "unknown proof part",
        "out of the field": "not below",
        "not a proof": "not a zkmarket-sumcheck-proof",
    }
    for name, content in cases.items():
        if content is None:
            continue
        path = tmp_path / f"{name}.json"
        path.write_text(content)
        code, _, err = zkmarket(capsys, "model", "verify", folder, path, work / "public.json")
        assert_one_error_line(code, err, expected.get(name, ""))


def test_the_proof_file_round_trips(proved):
    work, _ = proved
    proof = proof_file.read_proof(work / "proof.json")
    again = work / "again.json"
    proof_file.write_proof(proof, again)
    assert again.read_text() == (work / "proof.json").read_text()


def test_weights_changed_after_the_registration_are_refused(capsys, proved, tmp_path):
    import shutil

    work, folder = proved
    copy = tmp_path / "mlp"
    shutil.copytree(folder, copy)
    with np.load(copy / "weights.npz") as data:
        weights = {k: data[k].copy() for k in data.files}
    name = sorted(weights)[0]
    weights[name].flat[0] += 1
    np.savez(copy / "weights.npz", **weights)
    code, _, err = zkmarket(capsys, "model", "prove", copy, work / "x.npy", tmp_path / "p.json", tmp_path / "q.json")
    assert_one_error_line(code, err)
    assert not (tmp_path / "p.json").exists()


def test_a_tampered_commitment_key_is_refused(capsys, proved, tmp_path):
    import shutil

    work, folder = proved
    copy = tmp_path / "mlp"
    shutil.copytree(folder, copy)
    with np.load(copy / sumcheck_folder.COMMITMENT_KEY) as data:
        key = {k: data[k].copy() for k in data.files}
    key["tau_g1"][3] = key["tau_g1"][4]
    np.savez(copy / sumcheck_folder.COMMITMENT_KEY, **key)
    code, _, err = zkmarket(capsys, "model", "verify", copy, work / "proof.json", work / "public.json")
    assert_one_error_line(code, err, "not the key model.json records")


def test_the_weight_commitments_hide_and_the_seed_is_the_providers(capsys, proved, tmp_path):
    import os
    import shutil
    import stat

    from prover.sumcheck import inference

    work, folder = proved
    seed_path = folder / sumcheck_folder.BLINDING_SEED
    assert stat.S_IMODE(os.stat(seed_path).st_mode) == 0o600
    model = sumcheck_folder.load(folder)
    assert model.seed == seed_path.read_bytes() and model.key is not None and model.weights is not None
    plain = inference.commit_weights(model.key, model.graph)
    assert set(plain) == set(model.weights)
    assert all(not (plain[name] == model.weights[name]).all() for name in plain)  # blinded
    assert all(
        (c == model.weights[n]).all() for n, c in inference.commit_weights(model.key, model.graph, model.seed).items()
    )
    public = sumcheck_folder.load(folder, prover=False)
    assert public.seed is None  # a verifier never reads it
    for edit, why in (
        (lambda p: p.unlink(), "is missing"),
        (lambda p: p.write_bytes(os.urandom(32)), "not the blinding seed"),
    ):
        copy = tmp_path / f"mlp_{len(why)}"
        shutil.copytree(folder, copy)
        edit(copy / sumcheck_folder.BLINDING_SEED)
        code, _, err = zkmarket(
            capsys, "model", "prove", copy, work / "x.npy", tmp_path / "p.json", tmp_path / "q.json"
        )
        assert_one_error_line(code, err, why)
        assert not (tmp_path / "p.json").exists()
        # the verifier's side needs no seed
        code, out, _ = zkmarket(capsys, "model", "verify", copy, work / "proof.json", work / "public.json")
        assert code == 0 and out.startswith("OK")


def test_a_batch_over_the_key_size_and_groth16_only_verbs_are_refused(capsys, proved, tmp_path):
    work, folder = proved
    code, _, err = zkmarket(
        capsys, "model", "prove", folder, work / "big.npy", tmp_path / "p.json", tmp_path / "q.json"
    )
    assert_one_error_line(code, err, "--max-batch 5")
    code, _, err = zkmarket(capsys, "model", "setup", folder, "--max-batch", "0")
    assert_one_error_line(code, err, "at least one input")
    code, _, err = zkmarket(capsys, "model", "witness", folder, work / "x.npy", tmp_path / "w.wtns")
    assert_one_error_line(code, err, "no witness file")
    code, _, err = zkmarket(
        capsys, "model", "compile", MODELS_DIR / "mlp.onnx", tmp_path / "m", "--backend", "sumcheck", "--public-model"
    )
    assert_one_error_line(code, err, "--public-model")


def test_a_torch_export_with_tanh_and_sigmoid_is_proved(capsys, tmp_path):
    """The zoo's torch MLP (Gemm, BatchNorm folded, Tanh, Sigmoid; its final Softmax dropped as
    monotone) compiles, proves and verifies on the sumcheck backend, as a user runs it."""
    from pathlib import Path

    model = Path(__file__).parent / "zoo" / "torch" / "torch_mlp_ts17.onnx"
    _, _, x_te, _ = digits_split()
    np.save(tmp_path / "cal.npy", x_te.reshape(len(x_te), -1))
    np.save(tmp_path / "x.npy", x_te[:2].reshape(2, -1))
    folder = tmp_path / "m"
    code, _, err = zkmarket(
        capsys, "model", "compile", model, folder, "--backend", "sumcheck", "--calibration", tmp_path / "cal.npy"
    )
    assert code == 0, err
    ptau = tmp_path / "p12.ptau"  # its tanh's table: 2^12 entries
    write_ptau(known_secret_ptau(POWER + 1, 0x5C12, 3, 5), ptau)  # INSECURE known secret: tests only
    assert zkmarket(capsys, "model", "setup", folder, "--ptau", ptau, "--max-batch", "2")[0] == 0
    files = [tmp_path / "p.json", tmp_path / "q.json"]
    assert zkmarket(capsys, "model", "prove", folder, tmp_path / "x.npy", *files)[0] == 0
    code, out, _ = zkmarket(capsys, "model", "verify", folder, *files)
    assert code == 0 and out.startswith("OK")


def test_a_model_with_ops_the_backend_does_not_prove_yet_is_refused_by_name(capsys, tmp_path):
    from pathlib import Path

    model = Path(__file__).parent / "zoo" / "sklearn_forest.onnx"  # a tree ensemble
    _, _, x_te, _ = digits_split()
    np.save(tmp_path / "cal.npy", x_te.reshape(len(x_te), -1))
    code, _, err = zkmarket(
        capsys,
        "model",
        "compile",
        model,
        tmp_path / "m",
        "--backend",
        "sumcheck",
        "--calibration",
        tmp_path / "cal.npy",
    )
    assert_one_error_line(code, err, "use the Groth16 backend")
    assert not (tmp_path / "m").exists()


def test_an_unset_folder_says_to_run_the_setup(capsys, tmp_path):
    folder = tmp_path / "m"
    assert zkmarket(capsys, "model", "compile", MODELS_DIR / "mlp.onnx", folder, "--backend", "sumcheck")[0] == 0
    np.save(tmp_path / "x.npy", np.zeros((1, 64)))
    code, _, err = zkmarket(capsys, "model", "prove", folder, tmp_path / "x.npy", tmp_path / "p.json", tmp_path / "q")
    assert_one_error_line(code, err, "model setup")
