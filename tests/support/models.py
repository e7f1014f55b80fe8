"""Small real models the tests build and prove with test keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PRICE = 10**15
# the sizes of the statement keys of conftest's ``keys`` fixture
STATEMENT_SAMPLES, STATEMENT_ITEMS = 3, 6


def prove_with_test_key(r1cs, witness):
    """(proving key, proof, public signals) from a known secret: a test key, never a real one.
    ``known_secret_setup`` writes the very key that setup from the known-secret ptau makes
    (tests/test_groth16.py), from scalars instead of point sums."""
    from prover.ceremony.known_secret import known_secret_setup
    from prover.groth16.prove import prove

    pk = known_secret_setup(r1cs, 5, 7, 11)
    proof, public = prove(pk, witness, r1cs=r1cs)
    return pk, proof, public


def prove_label_and_check(quantized, mode: str, x, salt: int) -> None:
    """Prove one real input's inference with a test key: the witness gives the executor's logits
    and satisfies the R1CS, the proof verifies with the executor's label, and the same proof
    with the next label does not."""
    from prover.circuit import statements as S
    from prover.groth16.verify import verify
    from prover.onnx import executor

    ic = S.inference_circuit(quantized, mode)
    sample = executor.quantize_input(quantized, x)
    result = ic.witness(sample, salt)
    assert (result.logits == executor.execute(quantized, sample)[quantized.output]).all()
    assert ic.r1cs.is_satisfied(result.witness)
    pk, proof, public = prove_with_test_key(ic.r1cs, result.witness)
    label = S.PUBLIC_INPUTS.index("label")
    assert public[label] == executor.predict(quantized, np.asarray(x)[None]).label[0]
    assert verify(pk.verifying_key(), public, proof)
    wrong = list(public)
    wrong[label] = (wrong[label] + 1) % quantized.output_tensor.size
    assert not verify(pk.verifying_key(), wrong, proof)


def write_small_model(path: Path, seed: int = 0, n_in: int = 16, n_hidden: int = 8, n_out: int = 4) -> np.ndarray:
    """Write a Gemm-ReLU-Gemm ONNX model (its circuit fits a 2^12 domain) to ``path``; returns
    a calibration batch of inputs in [0, 1]."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.5, (n_hidden, n_in)).astype(np.float32)
    b1 = rng.normal(0, 0.1, n_hidden).astype(np.float32)
    w2 = rng.normal(0, 0.5, (n_out, n_hidden)).astype(np.float32)
    b2 = rng.normal(0, 0.1, n_out).astype(np.float32)
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Gemm", ["r", "w2", "b2"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "small",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", n_in])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", n_out])],
        [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return rng.uniform(0, 1, (64, n_in))


def register_served(market, provider, served, verifier: str, **verifiers) -> int:
    """Register ``served`` for ``provider`` (its account and endpoint) with the inference
    ``verifier`` and any other verifiers given, bypassing ``Provider.register``: how a
    dishonest provider registers verifiers of its choice beside the honest card. Returns the
    model id (and makes it the one the provider's card names)."""
    card = served.card
    model_id = market.register_model(
        provider.account,
        served.model_commitment,
        verifier,
        PRICE,
        architecture_hash=bytes.fromhex(card["architecture_hash"][2:]),
        transcript_hash=bytes.fromhex(card["setup_transcript_hash"][2:]),
        metadata_uri=provider.endpoint,
        **verifiers,
    )
    provider.state.model_id = model_id
    return model_id
