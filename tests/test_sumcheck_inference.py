"""Inference proofs on the sumcheck backend (prover/sumcheck/inference.py) for the bundled
digits MLP (dense, rescale, relu), the quadratic-activation model (mul), and the cnn and lenet
(conv, maxpool, reshape; their reject twins are tests/test_sumcheck_conv.py): the proof verifies
against the architecture alone (weights zeroed) and the weights' commitments, its outputs are
the executor's bit for bit, and each reject twin is refused: a changed output, another input, a
changed weight (in the registration or in the prover's hands), a changed intermediate value, an
out-of-range remainder, a tampered message or commitment, a truncated proof, a prover without the
registration's blinding seed. Every commitment hides: two proofs of one batch share no commitment,
mask or opening."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.sumcheck_cases import (
    Case,
    check_changed_weights_refused,
    commitment_key,
    inputs,
    lenient_lookups,
    quantized,
)
from support.sumcheck_cases import digits as digits_data

from benchmarks.sumcheck import dense_network
from prover.errors import VerificationError
from prover.onnx import executor
from prover.onnx.importer import import_model
from prover.onnx.quantize import quantize
from prover.sumcheck import inference as inf
from prover.sumcheck.protocol import SumcheckProof

POWER = 11  # the largest tables: the mlp's first 32 x 64 weights, the cnn's 4 x (8, 8, 8) conv outputs
LENET_POWER = 15  # lenet's 128 x 256 first dense weights and, at batch 4, its first conv's 4 x (8, 32, 32)


@pytest.fixture(scope="module")
def key():
    return commitment_key(POWER)


@pytest.fixture(scope="module")
def lenet_key():
    return commitment_key(LENET_POWER)


@pytest.fixture(scope="module")
def digits():
    return digits_data()


@pytest.fixture(scope="module")
def mlp(key, digits):
    graph = quantized("mlp", digits)
    return Case(key, graph, inputs(graph, digits, 3))


@pytest.mark.parametrize(
    "name,batch",
    [
        ("mlp", 3),
        ("cnn", 1),
        ("cnn", 4),
        pytest.param("mlp", 1, marks=pytest.mark.slow),
        pytest.param("quadratic", 4, marks=pytest.mark.slow),
        pytest.param("lenet", 1, marks=pytest.mark.slow),
        pytest.param("lenet", 4, marks=pytest.mark.slow),
    ],
)
def test_proof_verifies_and_outputs_are_the_executors(request, key, digits, name, batch):
    """The bundled models (the cnn and lenet: convs, max pools, a flatten) at batch 1 and more."""
    if name == "lenet":
        key = request.getfixturevalue("lenet_key")
    graph = quantized(name, digits)
    case = Case(key, graph, inputs(graph, digits, batch, start=7))
    assert np.array_equal(case.outputs, executor.execute(graph, case.x)[graph.output])
    case.check()


def test_changed_output_is_refused(mlp):
    bad = mlp.outputs.copy()
    bad[2, 4] += 1
    with pytest.raises(VerificationError):
        mlp.check(outputs=bad)


def test_proof_for_another_input_is_refused(mlp, digits):
    other = inputs(mlp.graph, digits, 3, start=50)
    with pytest.raises(VerificationError):
        mlp.check(x=other, outputs=executor.execute(mlp.graph, other)[mlp.graph.output])


def test_changed_weight_is_refused(mlp):
    check_changed_weights_refused(mlp, registered=("dense2.W", (3, 5)), run=("dense1.W", (0, 20)))


def test_changed_intermediate_value_is_refused(mlp, monkeypatch):
    """A prover whose relu lets one negative value through, with everything after it computed
    from the changed value (so the outputs it claims are those of the changed run)."""
    honest = executor.execute
    graph = mlp.graph

    def tampered(g, x, keep_all=False):
        values = honest(g, x, keep_all=True)
        pre = values["dense1"]
        b, i = map(int, np.argwhere(pre[1:3] < 0)[0])  # not sample 0, whose copy pads the batch
        b += 1
        relu = values["relu1"].copy()
        relu[b, i] = pre[b, i]
        values["relu1"] = relu
        acc = relu @ graph.constants["dense2.W"].values.T + graph.constants["dense2.b"].values
        values["dense2:acc"] = acc
        values[graph.output] = acc >> graph.ops[-1].attrs["shift"]
        return values

    monkeypatch.setattr(inf, "execute", tampered)
    outputs, proof = mlp.prove(graph=graph)
    monkeypatch.undo()
    assert not np.array_equal(outputs, mlp.outputs)
    with pytest.raises(VerificationError):
        mlp.check(proof=proof, outputs=outputs)


def test_out_of_range_remainder_is_refused(mlp, monkeypatch):
    """A prover that shifts one output by one and its remainder by -2^s (so x = 2^s y + rem still
    holds) and commits to multiplicities as if the remainder were in range."""
    honest = executor.execute
    shift = mlp.graph.ops[-1].attrs["shift"]

    def tampered(g, x, keep_all=False):
        values = dict(honest(g, x, keep_all=True))
        out = values[g.output].copy()
        out[1, 0] += 1  # not sample 0, whose copy pads the batch
        values[g.output] = out
        return values

    monkeypatch.setattr(inf, "execute", tampered)
    monkeypatch.setattr(inf, "prove_lookups", lenient_lookups)
    outputs, proof = mlp.prove()
    monkeypatch.undo()
    assert outputs[1, 0] == mlp.outputs[1, 0] + 1 and shift > 0
    with pytest.raises(VerificationError, match="not in the table"):
        mlp.check(proof=proof, outputs=outputs)


def test_tampered_proofs_are_refused(mlp):
    messages = list(mlp.proof.messages)
    # a sent value changed
    k = next(i for i, m in enumerate(messages) if isinstance(m, tuple))
    changed = list(messages)
    changed[k] = ((changed[k][0] + 1) % inf.R, *changed[k][1:])
    with pytest.raises(VerificationError):
        mlp.check(proof=inf.InferenceProof(mlp.proof.advice, tuple(changed)))
    # a round polynomial changed
    k = next(i for i, m in enumerate(messages) if isinstance(m, SumcheckProof))
    rounds = [list(g) for g in messages[k].round_polynomials]
    rounds[-1][-1] = (rounds[-1][-1] + 1) % inf.R
    changed = list(messages)
    changed[k] = SumcheckProof(tuple(map(tuple, rounds)))
    with pytest.raises(VerificationError):
        mlp.check(proof=inf.InferenceProof(mlp.proof.advice, tuple(changed)))
    # an advice commitment swapped for another's
    advice = (mlp.proof.advice[1], mlp.proof.advice[0], *mlp.proof.advice[2:])
    with pytest.raises(VerificationError):
        mlp.check(proof=inf.InferenceProof(advice, mlp.proof.messages))
    # truncated, and with a message too many
    with pytest.raises(VerificationError, match="ends early"):
        mlp.check(proof=inf.InferenceProof(mlp.proof.advice, tuple(messages[:-1])))
    with pytest.raises(VerificationError, match="left over"):
        mlp.check(proof=inf.InferenceProof(mlp.proof.advice, (*messages, messages[-1])))
    # messages out of order
    swapped = list(messages)
    swapped[0], swapped[1] = swapped[1], swapped[0]
    with pytest.raises(VerificationError, match="belongs"):
        mlp.check(proof=inf.InferenceProof(mlp.proof.advice, tuple(swapped)))


def test_commitments_hide_and_every_proof_is_masked_afresh(mlp):
    from prover.sumcheck.batch_opening import BatchOpeningProof

    again = inf.prove_inference(mlp.key, mlp.graph, mlp.x, mlp.weights, mlp.seed, mlp.salts)
    assert np.array_equal(again[0], mlp.outputs)
    mlp.check(proof=again[1])
    assert all(not (a == b).all() for a, b in zip(mlp.proof.advice, again[1].advice, strict=True))
    first, second = (next(m for m in p.messages if isinstance(m, BatchOpeningProof)) for p in (mlp.proof, again[1]))
    assert not (first.mask == second.mask).all() and first.blind != second.blind
    assert first.opening.values != second.opening.values
    # a prover without the registration's seed cannot open the hiding weight commitments
    for seed in (None, bytes(32)):
        outputs, proof = inf.prove_inference(mlp.key, mlp.graph, mlp.x, mlp.weights, seed, mlp.salts)
        with pytest.raises(VerificationError):
            mlp.check(proof=proof, outputs=outputs)
    with pytest.raises(ValueError, match="32 bytes"):
        inf.weight_blinds(mlp.graph, b"short")


def test_malformed_statements_are_refused(mlp):
    with pytest.raises(VerificationError, match="outputs of shape"):
        mlp.check(outputs=mlp.outputs[:2])
    bad = mlp.x.copy()
    bad[0, 0] = 1 << 20
    with pytest.raises(VerificationError, match="outside its declared"):
        mlp.check(x=bad)
    with pytest.raises(VerificationError, match="weight commitments"):
        mlp.check(weights={k: v for k, v in mlp.weights.items() if k != "dense1.b"})


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.integers(1, 12), min_size=2, max_size=4),
    st.lists(st.sampled_from(["relu", "square"]), min_size=3, max_size=3),
    st.integers(1, 5),
    st.integers(0, 2**32 - 1),
)
def test_random_networks_agree_with_the_executor(key, widths, activations, batch, seed):
    """Random dense networks with relu and square activations: the proved outputs are the
    executor's bit for bit, they verify, and a changed output is refused."""
    rng = np.random.default_rng(seed)
    graph = quantize(
        import_model(dense_network(rng, widths, activations[: len(widths) - 2], bias_scale=0.1)),
        rng.normal(0, 1, (64, widths[0])),
    )
    x = executor.quantize_input(graph, np.clip(rng.normal(0, 1, (batch, widths[0])), -2, 2))
    case = Case(key, graph, x)
    assert np.array_equal(case.outputs, executor.execute(graph, x)[graph.output])
    case.check()
    bad = case.outputs.copy()
    bad[rng.integers(batch), rng.integers(widths[-1])] ^= 1
    with pytest.raises(VerificationError):
        case.check(outputs=bad)


def test_the_statement_holds_salted_commitments_of_the_inputs_and_outputs(mlp):
    """The statement holds each sample's input commitment (the Groth16 backend's, so one salted
    commitment names a request on either backend) and a salted output commitment; a proof made
    with other salts, or checked with them, is refused, and malformed salts are refused."""
    from prover import poseidon
    from prover.circuit.statements import input_commitment

    io = inf.io_commitments(mlp.graph, mlp.x, mlp.outputs, mlp.salts)
    assert io[0::2] == [input_commitment(mlp.graph, x, s) for x, s in zip(mlp.x, mlp.salts, strict=True)]
    assert io[1] == poseidon.commit([mlp.salts[0]] + [int(v) % inf.R for v in mlp.outputs[0]])
    other = [(s + 1) % inf.R for s in mlp.salts]
    assert all(a != b for a, b in zip(io, inf.io_commitments(mlp.graph, mlp.x, mlp.outputs, other), strict=True))
    with pytest.raises(VerificationError):
        mlp.check(salts=other)
    with pytest.raises(VerificationError):
        mlp.check(salts=None)
    outputs, proof = inf.prove_inference(mlp.key, mlp.graph, mlp.x, mlp.weights, mlp.seed, other)
    with pytest.raises(VerificationError):
        mlp.check(proof=proof, outputs=outputs)
    for bad in (mlp.salts[:2], [inf.R, *mlp.salts[1:]]):
        with pytest.raises(VerificationError, match="salts"):
            mlp.check(salts=bad)


def test_tables_past_the_block_size_are_committed_and_opened_in_blocks(key, digits, monkeypatch):
    """With blocks of 2^6 values the MLP's weights (32 x 64 = 2^11) are 32 commitments and the
    activations' advice at a batch of 3 several: the proof verifies, the registration lists
    every block, and a block value that does not add up to its table's claim, a weight changed in
    one block, and the registration of a block swapped for another's are each refused."""
    import dataclasses

    from support.sumcheck_cases import changed_weight

    from prover.sumcheck.batch_opening import BatchOpeningProof

    monkeypatch.setattr(inf, "BLOCK_BITS", 6)
    graph = quantized("mlp", digits)
    case = Case(key, graph, inputs(graph, digits, 3))
    case.check()
    assert len([n for n in case.weights if n.startswith("dense1.W#")]) == 32
    assert len(case.proof.advice) > len(inf._advice_names(graph))
    # the block values are the tuple sent just before the batch opening
    messages = list(case.proof.messages)
    k = max(i for i, m in enumerate(messages) if isinstance(m, tuple) and len(m) == 32)
    assert isinstance(messages[-1], BatchOpeningProof)
    changed = list(messages)
    changed[k] = ((changed[k][0] + 1) % inf.R, *changed[k][1:])
    with pytest.raises(VerificationError, match="do not add up"):
        case.check(proof=dataclasses.replace(case.proof, messages=tuple(changed)))
    outputs, proof = case.prove(graph=changed_weight(graph, "dense1.W", (3, 5)))
    with pytest.raises(VerificationError):
        case.check(proof=proof, outputs=outputs)
    swapped = dict(case.weights)
    swapped["dense1.W#0"], swapped["dense1.W#1"] = case.weights["dense1.W#1"], case.weights["dense1.W#0"]
    with pytest.raises(VerificationError):
        case.check(weights=swapped)
    assert inf.key_power(graph, 3) == 6
