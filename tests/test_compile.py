"""Quantized graphs to circuits: every op and the example models, in both weight modes, agree
with the integer executor bit for bit, satisfy their R1CS, and bind weights, input and output
through the commitments of the inference statement."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from support.models import prove_with_test_key
from support.onnx_cases import CASES, case_graph, make_model

from marketplace.models import CATALOG, MODELS_DIR, digits_split, example_models, model_inputs
from marketplace.npm import run_npm_tool
from prover.circuit import statements as S
from prover.circuit.compile import MODES, weight_names
from prover.errors import CircuitError, UnsupportedModelError, ValueRangeError
from prover.field import FR_MODULUS, ints_to_limbs, limbs_to_ints
from prover.formats.r1cs import write_r1cs
from prover.formats.wtns import write_wtns
from prover.onnx import executor
from prover.onnx.graph import InputShapeError
from prover.onnx.importer import import_model
from prover.onnx.quantize import Precision, quantize

SALT = 0x5A17_0F_C0FFEE


def _check_sample(ic: S.InferenceCircuit, sample: np.ndarray, salt: int = SALT) -> S.InferenceResult:
    q = ic.graph
    result = ic.witness(sample, salt)
    logits = executor.execute(q, sample)[q.output]
    assert (result.logits == logits).all()
    assert result.label == int(executor.argmax_label(logits.reshape(-1)))
    assert ic.r1cs.is_satisfied(result.witness)
    assert result.public == {
        "model_commitment": S.model_commitment(q),
        "input_commitment": S.input_commitment(q, sample, salt),
        "label": result.label,
        "output_commitment": S.output_commitment(logits),
    }
    # the public inputs are wires 1..4, in statement order
    assert limbs_to_ints(result.witness[1:5]) == [result.public[k] for k in S.PUBLIC_INPUTS]
    return result


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_op_lowers_to_the_executors_values(case, mode, rng):
    q, calibration = case_graph(case, rng)
    ic = S.inference_circuit(q, mode)
    assert ic.r1cs.n_public_inputs == 4 and ic.r1cs.n_outputs == 0
    result = _check_sample(ic, executor.quantize_input(q, calibration[0]))
    # the reject twin: a witness claiming another label fails
    wrong = result.witness.copy()
    wrong[3] = ints_to_limbs([(result.label + 1) % 4])[0]
    assert not ic.r1cs.is_satisfied(wrong)
    _check_witness_program(ic, executor.quantize_input(q, calibration[0]), result)


def _check_witness_program(ic: S.InferenceCircuit, sample: np.ndarray, result: S.InferenceResult) -> None:
    """The witness program built alone has the circuit's counts and wire order and computes its
    witness bit for bit; it has no R1CS to hand out."""
    program = S.inference_witness_program(ic.graph, ic.mode, ic.batch)
    counts = (program.circuit.n_constraints, program.circuit.n_wires, program.circuit.n_public)
    assert counts == (ic.r1cs.n_constraints, ic.r1cs.n_wires, ic.r1cs.n_public)
    assert (program.circuit.order == ic.circuit.order).all()
    alone = program.witness(sample, SALT)
    assert (alone.witness == result.witness).all() and alone.public == result.public
    with pytest.raises(CircuitError, match="witnesses alone"):
        _ = program.r1cs


def test_weights_are_bound_to_the_model_commitment(rng):
    q, calibration = case_graph("conv_stride_pad_groups", rng)
    ic = S.inference_circuit(q, "private")
    sample = executor.quantize_input(q, calibration[0])
    honest = ic.witness(sample, SALT)
    inputs = {"input": sample[None], "salt": np.array([SALT], dtype=object)}
    inputs |= {f"weight:{n}": q.constants[n].values.copy() for n in weight_names(q)}
    w_name = weight_names(q)[0]
    inputs[f"weight:{w_name}"].flat[0] ^= 1
    values = ic.circuit.run(inputs)
    public = ic.circuit.public_values(values)
    assert public["model_commitment"] != [honest.public["model_commitment"]]
    assert ic.r1cs.is_satisfied(values.limbs(ic.circuit.order))
    # a weight outside its packed range cannot be committed to at all
    c = q.constants[w_name]
    inputs[f"weight:{w_name}"].flat[0] = 1 << (c.bits - 1)
    with pytest.raises(ValueRangeError):
        ic.circuit.run(inputs)


def test_both_modes_make_the_same_statement_and_public_weights_are_cheaper(rng):
    q, calibration = case_graph("gemm", rng)
    sample = executor.quantize_input(q, calibration[0])
    private, public = (S.inference_circuit(q, m) for m in MODES)
    assert private.witness(sample, SALT).public == public.witness(sample, SALT).public
    assert public.r1cs.n_constraints < private.r1cs.n_constraints
    # and a different salt hides the input behind another commitment
    assert (
        public.witness(sample, SALT + 1).public["input_commitment"]
        != public.witness(sample, SALT).public["input_commitment"]
    )


def test_architecture_hash_names_the_architecture(rng):
    q, _ = case_graph("mul_square_and_const", rng)
    h = S.architecture_hash(q)
    assert 0 <= h < FR_MODULUS and h == S.architecture_hash(q)
    q.ops[0].attrs["marker"] = 1
    assert S.architecture_hash(q) != h


def test_bad_inputs_are_refused_before_any_output(rng):
    q, calibration = case_graph("relu_maxpool_padded", rng)
    ic = S.inference_circuit(q, "public")
    sample = executor.quantize_input(q, calibration[0])
    with pytest.raises(InputShapeError):
        ic.witness(sample.reshape(-1), SALT)
    too_big = sample.copy()
    too_big.flat[0] = 1 << q.input_tensor.bits
    with pytest.raises(ValueRangeError):
        ic.witness(too_big, SALT)
    with pytest.raises(ValueError):
        ic.witness(sample, FR_MODULUS)
    float_graph = import_model(make_model(*CASES["gemm"](rng)))
    with pytest.raises(UnsupportedModelError):
        S.inference_circuit(float_graph, "public")
    with pytest.raises(ValueError):
        S.inference_circuit(q, "secret")


# --- the example models ---------------------------------------------------------------------

# the scale model of the issue (LeNet-5 size) is checked on a few samples only, and slowly
SCALE_MODELS = {"lenet"}


def _example_graphs(scale: bool):
    """(name, quantized graph, quantized test inputs) of the committed example models (or of
    the scale models)."""
    if CATALOG.exists():
        models = [(m.name, m.path, m.precision) for m in example_models().values()]
    else:  # the catalog is written by scripts/train_models.py; before it, the files alone
        models = [(p.stem, p, Precision()) for p in sorted(MODELS_DIR.glob("*.onnx"))]
    x_tr, _, x_te, _ = digits_split()
    out = []
    for name, path, precision in models:
        if (name in SCALE_MODELS) != scale:
            continue
        graph = import_model(path)
        shape = graph.input_tensor.shape
        q = quantize(graph, model_inputs(shape, x_tr), precision)
        out.append((name, q, executor.quantize_input(q, model_inputs(shape, x_te))))
    if not out:
        pytest.skip("no example models in marketplace/models (run scripts/train_models.py)")
    return out


@pytest.fixture(scope="module")
def example_graphs():
    return _example_graphs(scale=False)


@pytest.mark.parametrize("mode", MODES)
def test_example_models_prove_what_the_executor_computes(example_graphs, mode):
    for _name, q, test_inputs in example_graphs:
        ic = S.inference_circuit(q, mode)
        for sample in test_inputs[:3]:
            result = _check_sample(ic, sample)
        _check_witness_program(ic, test_inputs[2], result)


def test_a_batch_witness_program_computes_the_batch_circuits_witness(rng):
    q, calibration = case_graph("gemm", rng)
    samples = np.stack([executor.quantize_input(q, x) for x in calibration[:2]])
    ic, program = S.inference_circuit(q, batch=3), S.inference_witness_program(q, batch=3)
    assert (program.circuit.n_constraints, program.circuit.n_wires) == (ic.r1cs.n_constraints, ic.r1cs.n_wires)
    alone, built = program.batch_witness(samples, [SALT, SALT + 1]), ic.batch_witness(samples, [SALT, SALT + 1])
    assert (alone.witness == built.witness).all() and ic.r1cs.is_satisfied(alone.witness)
    assert alone.public == built.public


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_example_models_on_every_test_sample(example_graphs, mode):
    for name, q, test_inputs in example_graphs:
        ic = S.inference_circuit(q, mode)
        expected = executor.execute(q, test_inputs)[q.output]
        for sample, logits in zip(test_inputs, expected):
            result = ic.witness(sample, SALT)
            assert (result.logits == logits).all(), name
            assert result.label == int(np.argmax(logits)), name
            assert ic.r1cs.is_satisfied(result.witness), name


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_scale_model_proves_what_the_executor_computes(mode):
    for _name, q, test_inputs in _example_graphs(scale=True):
        ic = S.inference_circuit(q, mode)
        for sample in test_inputs[:3]:
            _check_sample(ic, sample)


def test_snarkjs_accepts_our_r1cs_with_our_witness(example_graphs, tmp_path):
    name, q, test_inputs = example_graphs[0]
    ic = S.inference_circuit(q, "private")
    result = ic.witness(test_inputs[0], SALT)
    write_r1cs(ic.r1cs, tmp_path / "circuit.r1cs")
    write_wtns(result.witness, tmp_path / "good.wtns")
    run_npm_tool("snarkjs", "wtns", "check", tmp_path / "circuit.r1cs", tmp_path / "good.wtns", timeout=600)
    bad = result.witness.copy()
    bad[3] = ints_to_limbs([(result.label + 1) % 10])[0]
    write_wtns(bad, tmp_path / "bad.wtns")
    with pytest.raises(subprocess.CalledProcessError):
        run_npm_tool("snarkjs", "wtns", "check", tmp_path / "circuit.r1cs", tmp_path / "bad.wtns", timeout=600)


@pytest.mark.slow
def test_inference_proof_verifies_and_a_wrong_label_does_not(rng):
    """End to end with the Groth16 core: the statement's public inputs are what the verifier
    checks (known-secret ptau: a test key, never a real one)."""
    from prover.groth16.verify import verify

    q, calibration = case_graph("gemm", rng)
    ic = S.inference_circuit(q, "public")
    result = ic.witness(executor.quantize_input(q, calibration[0]), SALT)
    pk, proof, public = prove_with_test_key(ic.r1cs, result.witness)
    assert public == [result.public[k] for k in S.PUBLIC_INPUTS]
    assert verify(pk.verifying_key(), public, proof)
    for i in range(4):
        wrong = list(public)
        wrong[i] = (wrong[i] + 1) % FR_MODULUS
        assert not verify(pk.verifying_key(), wrong, proof)
