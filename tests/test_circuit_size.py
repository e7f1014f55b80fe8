"""A circuit's size is known before it is built (``prover.circuit.size``): exact for the bundled
models in both modes and at several batch sizes, and a model too large for the Groth16 backend
is refused with its estimate before any circuit or folder exists."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper
from support.onnx_cases import make_model

from marketplace.models import example_models
from marketplace.setup.pipeline import circuit_power, compile_model, quantized_graph
from prover.circuit.size import (
    MAX_DOMAIN_POWER,
    CircuitSize,
    CountingBuilder,
    ModelTooLargeError,
    check_fits,
)
from prover.circuit.statements import inference_circuit, inference_size
from prover.errors import UnsupportedModelError


@pytest.mark.parametrize("name", ["mlp", "cnn"])
@pytest.mark.parametrize("mode", ["private", "public"])
@pytest.mark.parametrize("batch", [1, 3])
def test_the_count_is_the_built_circuits(name, mode, batch):
    graph = quantized_graph(example_models()[name].path).graph
    size = inference_size(graph, mode, batch)
    r1cs = inference_circuit(graph, mode, batch).r1cs
    assert (size.constraints, size.wires, size.public) == (r1cs.n_constraints, r1cs.n_wires, r1cs.n_public)
    assert size.domain_power == circuit_power(r1cs)
    # entries before duplicate wires merge: at least the matrices' nonzeros, and close to them
    nnz = r1cs.A.nnz + r1cs.B.nnz + r1cs.C.nnz
    assert nnz <= size.nonzeros <= 1.5 * nnz


def test_a_counting_builder_has_no_circuit_to_finish():
    with pytest.raises(TypeError, match="only counts"):
        CountingBuilder().finish()


def _wide_model(tmp_path, hidden: int):
    """64 -> hidden -> ReLU -> 10: private mode pays a constraint per weight and its range check."""
    rng = np.random.default_rng(0)
    weights = {
        "W0": rng.normal(0, 0.1, (64, hidden)),
        "b0": np.zeros(hidden),
        "W1": rng.normal(0, 0.1, (hidden, 10)),
        "b1": np.zeros(10),
    }
    nodes = [
        helper.make_node("MatMul", ["x", "W0"], ["m0"]),
        helper.make_node("Add", ["m0", "b0"], ["z0"]),
        helper.make_node("Relu", ["z0"], ["a0"]),
        helper.make_node("MatMul", ["a0", "W1"], ["m1"]),
        helper.make_node("Add", ["m1", "b1"], ["y"]),
    ]
    path = tmp_path / f"wide{hidden}.onnx"
    onnx.save(make_model(nodes, (64,), (10,), weights), path)
    return quantized_graph(path, rng.normal(0, 1, (8, 64)))


@pytest.mark.slow  # counts a 12M-constraint circuit (seconds, not the minutes of building it)
def test_a_model_beyond_the_backend_is_refused_with_its_estimate_before_anything_is_built(tmp_path):
    model = _wide_model(tmp_path, 1 << 14)
    folder = tmp_path / "compiled"
    with pytest.raises(ModelTooLargeError) as err:
        compile_model(model, folder, "private")
    message = str(err.value)
    assert f"past the 2^{MAX_DOMAIN_POWER} the Groth16 backend proves" in message
    assert "public-model mode" in message and "sumcheck" in message
    assert isinstance(err.value, UnsupportedModelError)  # the CLI reports it as one line
    assert not folder.exists() and not list(tmp_path.glob(".compiled.*"))
    # its twin: the same weights as circuit constants fit
    check_fits(inference_size(model.graph, "public"), "the public-mode circuit")


def test_memory_beyond_the_machine_is_refused_and_a_fitting_size_passes():
    size = CircuitSize(constraints=1_000_000, wires=1_000_000, nonzeros=5_000_000)
    assert size.domain_power == 20
    check_fits(size, "a million constraints", memory=size.memory_bytes)
    with pytest.raises(ModelTooLargeError, match=r"estimated 2\.5 GiB to prove, this machine has 1\.0"):
        check_fits(size, "a million constraints", memory=1 << 30)
    # the domain holds the constraints, the public rows and the constant row (snarkjs's layout)
    edge = CircuitSize(constraints=(1 << MAX_DOMAIN_POWER) - 5, wires=1, nonzeros=1, public=4)
    check_fits(edge, "the largest domain", memory=edge.memory_bytes)
    with pytest.raises(ModelTooLargeError, match=f"a domain of 2\\^{MAX_DOMAIN_POWER + 1}, past"):
        check_fits(CircuitSize((1 << MAX_DOMAIN_POWER) - 4, 1, 1, 4), "one row more", memory=1 << 50)
