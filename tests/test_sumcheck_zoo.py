"""The op-coverage zoo on the sumcheck backend: the models people bring (scikit-learn's MLP, the
torch MLP with Tanh and Sigmoid, the GRU and LSTM exports, SqueezeNet 1.1 with its Fire
concats and ceil-mode max pools) prove and verify with the executor's outputs bit for bit, and a
changed output is refused; ResNet-18 and MobileNet v2 prove in ``benchmarks/sumcheck.py``. The
tree ensembles and the transformer (an add that broadcasts) are refused by name."""

from __future__ import annotations

import numpy as np
import pytest
from support.sumcheck_cases import Case, commitment_key

from benchmarks.zoo import load, quantized_and_accuracy
from prover.errors import UnsupportedModelError
from prover.onnx import executor
from prover.sumcheck import inference as inf


def zoo_case(name: str, batch: int) -> Case:
    q, _, calibration, x = quantized_and_accuracy(name, load(name))
    xs = np.stack([x, *calibration[: batch - 1]])
    graph_inputs = executor.quantize_input(q, xs)
    return Case(commitment_key(inf.key_power(q, batch)), q, graph_inputs)


@pytest.mark.parametrize(
    "name, batch",
    [
        ("sklearn_mlp", 3),
        ("torch_mlp_ts17", 3),
        ("gru", 2),
        ("lstm", 2),
        pytest.param("squeezenet1_1", 1, marks=pytest.mark.slow),
    ],
)
def test_zoo_models_prove_on_the_sumcheck_backend(name, batch):
    case = zoo_case(name, batch)
    case.check_outputs_are_the_executors((0, 1))


@pytest.mark.parametrize("name, why", [("sklearn_forest", "op trees"), ("transformer", "adds two distinct")])
def test_zoo_models_with_ops_still_to_come_are_refused_by_name(name, why):
    q, _, _, _ = quantized_and_accuracy(name, load(name))
    with pytest.raises(UnsupportedModelError, match=why):
        inf.check_supported(q)
