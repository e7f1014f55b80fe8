"""`zkmarket model compile | witness | setup | prove | verify`, in-process, on small real ONNX
models: the proof chain works end to end (snarkjs accepts our proof), and each way of getting
it wrong (another model, another key, a changed public signal, bad input, unsupported op, an
interrupted compile) is refused with one error line and no partial output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from circuits.artifacts import snarkjs
from onnx import TensorProto, helper, numpy_helper
from support.cli import assert_one_error_line, zkmarket

from marketplace.cli import main
from marketplace.setup.model_folder import FORMAT_VERSION, REQUIRED_FIELDS, ModelFolderError, read_model_json
from marketplace.setup.pipeline import load_compiled
from prover.ceremony.known_secret import known_secret_ptau
from prover.circuit.statements import (
    architecture_hash,
    architecture_spec,
    input_commitment,
    model_commitment,
    output_commitment,
)
from prover.field import ints_to_limbs, limbs_to_ints
from prover.formats.ptau import write_ptau
from prover.formats.r1cs import read_r1cs
from prover.formats.wtns import read_wtns
from prover.formats.zkey import read_zkey, write_zkey
from prover.onnx import executor
from prover.onnx.graph_file import load_graph, save_graph
from prover.onnx.importer import import_model
from prover.onnx.quantize import Precision, accuracy, quantize

N_IN, HIDDEN, N_OUT = 8, 4, 3
SALT = 0xC0FFEE
# the small models' circuits have a 2^12 domain
PTAU_POWER = 12


def write_model(path: Path, seed: int, activation: str = "Relu", nudge: float = 0.0) -> Path:
    """An 8 -> 4 -> 3 perceptron (Gemm, activation, Gemm) with random weights, as ONNX;
    ``nudge`` is added to one first-layer weight (a model with other weights but, when small,
    the same scales and so the same circuit)."""
    rng = np.random.default_rng(seed)
    weights = {
        "w1": rng.normal(size=(HIDDEN, N_IN)),
        "b1": rng.normal(size=HIDDEN),
        "w2": rng.normal(size=(N_OUT, HIDDEN)),
        "b2": rng.normal(size=N_OUT),
    }
    weights["w1"][1, 1] += nudge
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
        helper.make_node(activation, ["h"], ["a"]),
        helper.make_node("Gemm", ["a", "w2", "b2"], ["y"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "perceptron",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, N_IN])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, N_OUT])],
        [numpy_helper.from_array(v.astype(np.float32), n) for n, v in weights.items()],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def printed(out: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Two models of one circuit (A, B: one weight apart), their calibration inputs and a known-secret ptau."""
    base = tmp_path_factory.mktemp("model_cli")
    rng = np.random.default_rng(7)
    calibration = rng.uniform(-1, 1, size=(200, N_IN))
    np.save(base / "cal.npy", calibration)
    np.save(base / "x.npy", calibration[3])
    ptau = base / "small.ptau"
    write_ptau(known_secret_ptau(PTAU_POWER, tau=0x7A0, alpha=0xA1, beta=0xBE), ptau)
    return {
        "base": base,
        "a": write_model(base / "a.onnx", seed=1),
        "b": write_model(base / "b.onnx", seed=1, nudge=0.1),
        "cal": base / "cal.npy",
        "x": base / "x.npy",
        "calibration": calibration,
        "ptau": ptau,
    }


def compiled(work, capsys, name: str, *options) -> Path:
    outdir = work["base"] / f"{name}{''.join(o.strip('-') for o in map(str, options))}"
    if not outdir.exists():
        code, out, err = zkmarket(
            capsys, "model", "compile", work[name], outdir, "--calibration", work["cal"], *options
        )
        assert code == 0, err
    return outdir


@pytest.fixture(scope="module")
def proved(work):
    """Model A compiled, set up on the known-secret ptau and proved on input x."""
    capsys = _NoCapture()
    outdir = compiled(work, capsys, "a")
    assert main(["model", "setup", str(outdir), "--ptau", str(work["ptau"])]) == 0
    proof, public = work["base"] / "a_proof.json", work["base"] / "a_public.json"
    assert main(["model", "prove", str(outdir), str(work["x"]), str(proof), str(public), "--salt", hex(SALT)]) == 0
    return outdir, proof, public


class _NoCapture:
    """Stands in for capsys in module fixtures (whose output pytest shows only on failure)."""

    def readouterr(self):
        return "", ""


def reference_graph(work, name: str = "a"):
    """The quantized graph made directly with the importer and quantizer, as compile should."""
    return quantize(import_model(work[name]), work["calibration"], Precision())


# --- compile ---------------------------------------------------------------------------------


def test_compile_writes_circuit_and_model_json(work, capsys):
    outdir = compiled(work, capsys, "a")
    info = json.loads((outdir / "model.json").read_text())
    graph = reference_graph(work)
    assert int(info["model_commitment"], 16) == model_commitment(graph)
    r1cs = read_r1cs(outdir / "circuit.r1cs")
    assert (info["constraints"], info["wires"]) == (r1cs.n_constraints, r1cs.n_wires)
    assert r1cs.n_public == 4 and info["public_inputs"][0] == "model_commitment"
    assert info["input"]["scale"] == graph.input_tensor.scale and info["calibration_samples"] == 200
    assert "accuracy" not in info
    assert sorted(p.name for p in outdir.iterdir()) == ["circuit.r1cs", "graph.json", "model.json", "weights.npz"]


def test_saved_graph_is_the_quantized_graph(work, capsys, tmp_path):
    graph = reference_graph(work)
    save_graph(graph, tmp_path)
    loaded = load_graph(tmp_path)
    x = executor.quantize_input(graph, work["calibration"])
    assert np.array_equal(executor.execute(loaded, x)[loaded.output], executor.execute(graph, x)[graph.output])
    assert model_commitment(loaded) == model_commitment(graph)
    # twin: a changed weight changes what the directory's commitment check sees
    name = next(iter(graph.constants))
    graph.constants[name].values.flat[0] += 1
    assert model_commitment(graph) != model_commitment(loaded)


def test_compile_with_labels_records_the_accuracy(work, capsys, tmp_path):
    graph = import_model(work["a"])
    labels = executor.argmax_label(executor.run_float(graph, work["calibration"]))
    np.save(tmp_path / "y.npy", labels)
    code, out, err = zkmarket(
        capsys,
        "model",
        "compile",
        work["a"],
        tmp_path / "out",
        "--calibration",
        work["cal"],
        "--labels",
        tmp_path / "y.npy",
        "--bits",
        8,
        8,
    )
    assert code == 0, err
    info = json.loads((tmp_path / "out" / "model.json").read_text())
    assert info["accuracy"]["float"] == 1.0  # the labels are the float model's own
    assert info["accuracy"]["quantized"] == accuracy(reference_graph(work), work["calibration"], labels)
    assert "quantized" in out
    # twin: labels that do not match the calibration batch are refused
    np.save(tmp_path / "y_short.npy", labels[:-1])
    code, _, err = zkmarket(
        capsys,
        "model",
        "compile",
        work["a"],
        tmp_path / "out2",
        "--calibration",
        work["cal"],
        "--labels",
        tmp_path / "y_short.npy",
    )
    assert_one_error_line(code, err, "labels")
    assert not (tmp_path / "out2").exists()


def test_public_model_mode_has_the_same_commitment_and_fewer_constraints(work, capsys):
    private = json.loads((compiled(work, capsys, "a") / "model.json").read_text())
    public = json.loads((compiled(work, capsys, "a", "--public-model") / "model.json").read_text())
    assert public["mode"] == "public" and private["mode"] == "private"
    assert public["model_commitment"] == private["model_commitment"]
    assert public["constraints"] < private["constraints"]


def test_unsupported_op_is_refused_before_any_output(work, capsys, tmp_path):
    model = write_model(tmp_path / "sin.onnx", seed=1, activation="Sin")
    code, _, err = zkmarket(capsys, "model", "compile", model, tmp_path / "out", "--calibration", work["cal"])
    assert_one_error_line(code, err, "Sin")
    assert list(tmp_path.iterdir()) == [model]
    # twin: the same model with a supported activation compiles
    model = write_model(tmp_path / "relu.onnx", seed=1)
    assert zkmarket(capsys, "model", "compile", model, tmp_path / "out", "--calibration", work["cal"])[0] == 0


def test_calibration_of_the_wrong_shape_is_refused(work, capsys, tmp_path):
    np.save(tmp_path / "cal7.npy", np.zeros((10, N_IN - 1)))
    code, _, err = zkmarket(
        capsys, "model", "compile", work["a"], tmp_path / "out", "--calibration", tmp_path / "cal7.npy"
    )
    assert_one_error_line(code, err, "shape")
    assert not (tmp_path / "out").exists()


def test_compile_refuses_a_directory_with_files_and_leaves_it_alone(work, capsys, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    code, _, err = zkmarket(capsys, "model", "compile", work["a"], tmp_path / "out", "--calibration", work["cal"])
    assert_one_error_line(code, err, "not an empty directory")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]
    # twin: an existing empty directory is filled
    (tmp_path / "empty").mkdir()
    assert zkmarket(capsys, "model", "compile", work["a"], tmp_path / "empty", "--calibration", work["cal"])[0] == 0
    assert (tmp_path / "empty" / "model.json").exists()


def test_interrupted_compile_leaves_nothing(work, capsys, tmp_path, monkeypatch):
    import prover.formats.r1cs

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(prover.formats.r1cs, "write_r1cs", interrupted)
    code, _, err = zkmarket(capsys, "model", "compile", work["a"], tmp_path / "out", "--calibration", work["cal"])
    assert code == 130 and "interrupted" in err
    assert list(tmp_path.iterdir()) == []  # neither OUTDIR nor its temporary twin


def test_model_json_is_the_versioned_schema_and_its_reader_accepts_it(work, capsys):
    outdir = compiled(work, capsys, "a")
    info = read_model_json(outdir)
    assert info["format_version"] == FORMAT_VERSION
    assert set(REQUIRED_FIELDS) <= set(info) and "setup" not in info
    graph = reference_graph(work)
    assert int(info["architecture_hash"], 16) == architecture_hash(graph)
    assert info["architecture"] == json.loads(json.dumps(architecture_spec(graph)))
    assert load_compiled(outdir).circuit.r1cs.n_constraints == info["constraints"]


def _edited_copy(work, capsys, tmp_path, edit) -> Path:
    """A copy of model A's compiled folder whose model.json ``edit`` changed."""
    import shutil

    outdir = tmp_path / "copy"
    shutil.copytree(compiled(work, capsys, "a"), outdir)
    info = json.loads((outdir / "model.json").read_text())
    edit(info)
    (outdir / "model.json").write_text(json.dumps(info))
    return outdir


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (lambda info: info.update(format_version=1), "format version 1, this zkmarket reads version 2"),
        (lambda info: info.update(format_version=99), "format version 99"),
        (lambda info: info.update(format_version="2"), "format version '2'"),
        (lambda info: info.pop("format_version"), "no format version"),
        (lambda info: info.pop("architecture"), "no 'architecture'"),
        (lambda info: info.pop("wires"), "no 'wires'"),
        (lambda info: info.update(constraints="12"), "'constraints' is not a JSON int"),
        (lambda info: info.update(model_commitment="12 apples"), "'model_commitment' is not a hex number"),
    ],
)
def test_a_model_json_of_another_version_or_missing_a_field_is_refused(work, capsys, tmp_path, edit, fragment):
    outdir = _edited_copy(work, capsys, tmp_path, edit)
    with pytest.raises(ModelFolderError, match=re.escape(fragment)) as refused:
        read_model_json(outdir)
    assert "zkmarket model compile" in str(refused.value)  # says what to run
    code, _, err = zkmarket(capsys, "model", "witness", outdir, work["x"], tmp_path / "w.wtns")
    assert_one_error_line(code, err, fragment)
    assert not (tmp_path / "w.wtns").exists()


def test_a_tampered_architecture_hash_is_refused(work, capsys, tmp_path):
    outdir = _edited_copy(
        work, capsys, tmp_path, lambda info: info.update(architecture_hash=hex(int(info["architecture_hash"], 16) ^ 1))
    )
    read_model_json(outdir)  # well formed: only the check against the graph finds it
    with pytest.raises(ModelFolderError, match="architecture hash"):
        load_compiled(outdir)


# --- witness ---------------------------------------------------------------------------------


def test_witness_satisfies_the_circuit_and_matches_the_executor(work, capsys, tmp_path):
    outdir = compiled(work, capsys, "a")
    code, out, err = zkmarket(capsys, "model", "witness", outdir, work["x"], tmp_path / "w.wtns", "--salt", hex(SALT))
    assert code == 0, err
    witness = read_wtns(tmp_path / "w.wtns")
    assert read_r1cs(outdir / "circuit.r1cs").is_satisfied(witness)
    graph = reference_graph(work)
    x = executor.quantize_input(graph, np.load(work["x"]))
    logits, label = executor.predict(graph, np.load(work["x"]))
    shown = printed(out)
    assert int(shown["label"]) == int(label)
    assert int(shown["output commitment"]) == output_commitment(logits)
    assert int(shown["input commitment"]) == input_commitment(graph, x, SALT)
    assert shown["salt"] == hex(SALT)
    # twin: another salt commits to the same input differently
    code, out, _ = zkmarket(capsys, "model", "witness", outdir, work["x"], tmp_path / "w2.wtns", "--salt", "0x1")
    assert code == 0 and int(printed(out)["input commitment"]) != input_commitment(graph, x, SALT)


def test_snarkjs_checks_our_witness_against_our_circuit(work, capsys, tmp_path):
    outdir = compiled(work, capsys, "a")
    assert zkmarket(capsys, "model", "witness", outdir, work["x"], tmp_path / "w.wtns")[0] == 0
    assert "WITNESS IS CORRECT" in snarkjs("wtns", "check", outdir / "circuit.r1cs", tmp_path / "w.wtns")


@pytest.mark.parametrize(
    "bad_input, fragment",
    [
        (np.zeros(N_IN - 1), "shape"),
        (np.full(N_IN, 1000.0), "outside"),
        (np.array(["a"] * N_IN), "real numbers"),
    ],
)
def test_bad_inputs_get_one_line_and_no_witness(work, capsys, tmp_path, bad_input, fragment):
    np.save(tmp_path / "bad.npy", bad_input)
    outdir = compiled(work, capsys, "a")
    code, _, err = zkmarket(capsys, "model", "witness", outdir, tmp_path / "bad.npy", tmp_path / "w.wtns")
    assert_one_error_line(code, err, fragment)
    assert not (tmp_path / "w.wtns").exists()


def test_a_batch_of_one_is_an_input_and_bad_salts_are_refused(work, capsys, tmp_path):
    outdir = compiled(work, capsys, "a")
    np.save(tmp_path / "batch.npy", np.load(work["x"])[None])
    assert zkmarket(capsys, "model", "witness", outdir, tmp_path / "batch.npy", tmp_path / "w.wtns")[0] == 0
    for salt, fragment in (("xyz", "hexadecimal"), (hex(1 << 254), "below")):
        code, _, err = zkmarket(capsys, "model", "witness", outdir, work["x"], tmp_path / "w2.wtns", "--salt", salt)
        assert_one_error_line(code, err, fragment)
    assert not (tmp_path / "w2.wtns").exists()


def test_a_directory_that_was_tampered_with_is_refused(work, capsys, tmp_path):
    import shutil

    outdir = tmp_path / "copy"
    shutil.copytree(compiled(work, capsys, "a"), outdir)
    info = json.loads((outdir / "model.json").read_text())
    info["model_commitment"] = hex(int(info["model_commitment"], 16) + 1)
    (outdir / "model.json").write_text(json.dumps(info))
    code, _, err = zkmarket(capsys, "model", "witness", outdir, work["x"], tmp_path / "w.wtns")
    assert_one_error_line(code, err, "model commitment")
    code, _, err = zkmarket(capsys, "model", "witness", tmp_path, work["x"], tmp_path / "w.wtns")
    assert_one_error_line(code, err, "not a compiled model")


# --- setup, prove, verify --------------------------------------------------------------------


def test_proof_verifies_here_and_in_snarkjs(work, proved, capsys):
    outdir, proof, public = proved
    code, out, err = zkmarket(capsys, "model", "verify", outdir, proof, public)
    assert code == 0 and out.startswith("OK"), err
    signals = json.loads(public.read_text())
    graph = reference_graph(work)
    logits, label = executor.predict(graph, np.load(work["x"]))
    assert signals == [
        str(model_commitment(graph)),
        str(input_commitment(graph, executor.quantize_input(graph, np.load(work["x"])), SALT)),
        str(int(label)),
        str(output_commitment(logits)),
    ]
    assert "OK" in snarkjs("groth16", "verify", outdir / "verification_key.json", public, proof)


def test_changed_public_signal_is_rejected(work, proved, capsys, tmp_path):
    outdir, proof, public = proved
    signals = json.loads(public.read_text())
    for i in (1, 2, 3):  # input commitment, label, output commitment
        changed = list(signals)
        changed[i] = str((int(changed[i]) + 1) % 10)
        (tmp_path / "public.json").write_text(json.dumps(changed))
        code, _, err = zkmarket(capsys, "model", "verify", outdir, proof, tmp_path / "public.json")
        assert_one_error_line(code, err, "invalid proof")


@pytest.mark.slow  # a second compile, setup and proof
def test_proof_for_another_model_of_the_same_architecture_is_rejected(work, proved, capsys):
    """Both models share one circuit and (same ptau) one key: the proof checks out under B's
    key, and only the model commitment tells the models apart."""
    outdir_a, proof, public = proved
    outdir_b = compiled(work, capsys, "b")
    assert zkmarket(capsys, "model", "setup", outdir_b, "--ptau", work["ptau"])[0] == 0
    assert (outdir_b / "verification_key.json").read_text() == (outdir_a / "verification_key.json").read_text()
    code, _, err = zkmarket(capsys, "model", "verify", outdir_b, proof, public)
    assert_one_error_line(code, err, "another model")
    # twin: B's own proof verifies in B
    proof_b, public_b = outdir_b / "proof.json", outdir_b / "public.json"
    assert zkmarket(capsys, "model", "prove", outdir_b, work["x"], proof_b, public_b)[0] == 0
    assert zkmarket(capsys, "model", "verify", outdir_b, proof_b, public_b)[0] == 0


def test_proof_checked_with_another_circuits_key_is_rejected(work, proved, capsys):
    """The public-model compile of A has A's commitment but its own circuit and key (set up
    here without --ptau, from a throw-away local one)."""
    _, proof, public = proved
    outdir = compiled(work, capsys, "a", "--public-model")
    code, out, err = zkmarket(capsys, "model", "setup", outdir)
    assert code == 0 and "no --ptau" in err
    code, _, err = zkmarket(capsys, "model", "verify", outdir, proof, public)
    assert_one_error_line(code, err, "invalid proof")
    # twin: its own proof of the same input verifies, with the same public signals as A's
    own_proof, own_public = outdir / "proof.json", outdir / "public.json"
    code, _, err = zkmarket(capsys, "model", "prove", outdir, work["x"], own_proof, own_public, "--salt", hex(SALT))
    assert code == 0, err
    assert json.loads(own_public.read_text()) == json.loads(public.read_text())
    assert zkmarket(capsys, "model", "verify", outdir, own_proof, own_public)[0] == 0


def _copy_with_key(work, proved, tmp_path, edit) -> Path:
    """A copy of the set-up model A whose proving key ``edit`` changed (and wrote back)."""
    import shutil

    outdir = tmp_path / "copy"
    shutil.copytree(proved[0], outdir, ignore=shutil.ignore_patterns("*proof*", "*public*"))
    pk = read_zkey(outdir / "circuit.zkey")
    edit(pk)
    write_zkey(pk, outdir / "circuit.zkey")
    return outdir


def test_a_key_whose_proofs_do_not_verify_under_it_is_refused_and_nothing_is_written(work, proved, capsys, tmp_path):
    """The witness program alone is rebuilt to prove, so the proof is checked against the key
    before it is written: a key of the right size whose H points are another key's (here: its
    own, reversed) gives a proof that does not verify, and is refused naming the key; the twin:
    the untouched copy proves."""
    outdir = _copy_with_key(work, proved, tmp_path, lambda pk: setattr(pk, "h_points", pk.h_points[::-1].copy()))
    proof, public = tmp_path / "p.json", tmp_path / "q.json"
    code, _, err = zkmarket(capsys, "model", "prove", outdir, work["x"], proof, public)
    assert_one_error_line(code, err, "not a key for this model's circuit", "model setup")
    assert not proof.exists() and not public.exists()
    honest = _copy_with_key(work, proved, tmp_path / "honest", lambda pk: None)
    assert zkmarket(capsys, "model", "prove", honest, work["x"], proof, public)[0] == 0
    assert zkmarket(capsys, "model", "verify", honest, proof, public)[0] == 0


def test_a_key_for_another_number_of_constraints_is_refused(work, proved, capsys, tmp_path):
    """Same wires and public inputs, one constraint fewer (A's R1CS without its last
    constraint, set up on a known secret): the key's counts do not match the rebuilt program."""
    import shutil

    from prover.ceremony.known_secret import known_secret_setup
    from prover.r1cs import R1CS, SparseMatrix

    outdir = tmp_path / "copy"
    shutil.copytree(proved[0], outdir, ignore=shutil.ignore_patterns("*proof*", "*public*"))
    r1cs = read_r1cs(outdir / "circuit.r1cs")

    def without_last(m: SparseMatrix) -> SparseMatrix:
        end = int(m.indptr[-2])
        return SparseMatrix(m.indptr[:-1].copy(), m.indices[:end].copy(), m.coeffs[:end].copy())

    fewer = R1CS(
        r1cs.n_wires,
        r1cs.n_outputs,
        r1cs.n_public_inputs,
        r1cs.n_private_inputs,
        without_last(r1cs.A),
        without_last(r1cs.B),
        without_last(r1cs.C),
    )
    write_zkey(known_secret_setup(fewer, tau=0x7A0, alpha=0xA1, beta=0xBE), outdir / "circuit.zkey")
    assert read_zkey(outdir / "circuit.zkey").n_vars == r1cs.n_wires
    code, _, err = zkmarket(capsys, "model", "prove", outdir, work["x"], tmp_path / "p.json", tmp_path / "q.json")
    assert_one_error_line(code, err, "key for another circuit", f"{r1cs.n_constraints - 1} constraints")
    assert not (tmp_path / "p.json").exists()


def test_a_witness_breaking_a_constraint_is_named_and_no_proof_is_written(work, proved, capsys, tmp_path, monkeypatch):
    """When the proof does not verify, the full circuit is rebuilt to say why: a witness that
    breaks one of its constraints is refused naming the constraint (not blamed on the key)."""
    import marketplace.cli.model as model_cli

    honest = model_cli.inference_witness

    def broken(statement, input_path, salt):
        result = honest(statement, input_path, salt)
        result.witness[-1] = ints_to_limbs([limbs_to_ints(result.witness[-1:])[0] + 1])[0]  # an internal wire
        return result

    monkeypatch.setattr(model_cli, "inference_witness", broken)
    outdir = proved[0]
    code, _, err = zkmarket(capsys, "model", "prove", outdir, work["x"], tmp_path / "p.json", tmp_path / "q.json")
    assert_one_error_line(code, err, "the witness violates", "constraint(s), first #")
    assert not (tmp_path / "p.json").exists()


def test_prove_before_setup_and_bad_input_leave_no_proof(work, capsys, tmp_path):
    import shutil

    outdir = tmp_path / "fresh"  # the compile's files only, without the keys of other tests
    shutil.copytree(
        compiled(work, capsys, "a"),
        outdir,
        ignore=shutil.ignore_patterns("circuit.zkey", "verification_key.json", "*.wtns", "*proof*", "*public*"),
    )
    code, _, err = zkmarket(capsys, "model", "prove", outdir, work["x"], tmp_path / "p.json", tmp_path / "q.json")
    assert_one_error_line(code, err, "model setup")
    assert not (tmp_path / "p.json").exists()
    code, _, err = zkmarket(capsys, "model", "verify", outdir, tmp_path / "p.json", tmp_path / "q.json")
    assert_one_error_line(code, err, "model setup")
