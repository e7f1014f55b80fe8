"""Inference proofs on the sumcheck backend (prover/sumcheck/inference.py) for the bundled
digits MLP (dense, rescale, relu) and the quadratic-activation model (mul): the proof verifies
against the architecture alone (weights zeroed) and the weights' commitments, its outputs are
the executor's bit for bit, and each reject twin is refused: a changed output, another input, a
changed weight (in the registration or in the prover's hands), a changed intermediate value, an
out-of-range remainder, a tampered message or commitment, a truncated proof."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.sumcheck import dense_network
from marketplace.models import MODELS_DIR, digits_split, model_inputs
from prover.ceremony.known_secret import known_secret_ptau
from prover.circuit.statements import architecture_graph, architecture_spec
from prover.errors import UnsupportedModelError, VerificationError
from prover.field import limbs_to_ints
from prover.onnx import executor
from prover.onnx.importer import import_model
from prover.onnx.quantize import quantize
from prover.sumcheck import commitment as pc
from prover.sumcheck import inference as inf
from prover.sumcheck import lookup
from prover.sumcheck.protocol import SumcheckProof

POWER = 11  # the largest table: the first dense layer's 32 x 64 weights


@pytest.fixture(scope="module")
def key():
    return pc.commitment_key(known_secret_ptau(POWER, 0x5A11, 3, 5), POWER)


@pytest.fixture(scope="module")
def digits():
    x_tr, _, x_te, _ = digits_split()
    return x_tr, x_te


def quantized(name, digits):
    x_tr, _ = digits
    g = import_model(MODELS_DIR / f"{name}.onnx")
    return quantize(g, model_inputs(g.input_tensor.shape, x_tr))


def inputs(graph, digits, n, start=0):
    _, x_te = digits
    return executor.quantize_input(graph, model_inputs(graph.input_tensor.shape, x_te[start : start + n]))


class Case:
    def __init__(self, key, graph, x):
        self.key, self.graph, self.x = key, graph, x
        self.architecture = architecture_graph(architecture_spec(graph))
        self.weights = inf.commit_weights(key, graph)
        self.outputs, self.proof = inf.prove_inference(key, graph, x, self.weights)

    def check(self, proof=None, outputs=None, x=None, weights=None):
        inf.verify_inference(
            self.key.verifier,
            self.architecture,
            self.weights if weights is None else weights,
            self.x if x is None else x,
            self.outputs if outputs is None else outputs,
            self.proof if proof is None else proof,
        )


@pytest.fixture(scope="module")
def mlp(key, digits):
    graph = quantized("mlp", digits)
    return Case(key, graph, inputs(graph, digits, 3))


@pytest.mark.parametrize(
    "name,batch",
    [("mlp", 3), pytest.param("mlp", 1, marks=pytest.mark.slow), pytest.param("quadratic", 4, marks=pytest.mark.slow)],
)
def test_proof_verifies_and_outputs_are_the_executors(key, digits, name, batch):
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


def changed_weight(graph, name="dense2.W", where=(3, 5)):
    g = dataclasses.replace(graph, constants=dict(graph.constants))
    c = g.constants[name]
    values = c.values.copy()
    values[where] += 1
    g.constants[name] = dataclasses.replace(c, values=values)
    return g


def test_changed_weight_is_refused(mlp, key):
    """Checked against another registration the proof fails (the weights' commitments are part
    of the statement), and a prover who runs other weights than the registered ones is refused
    at the opening of the changed table."""
    other = inf.commit_weights(key, changed_weight(mlp.graph))
    with pytest.raises(VerificationError):
        mlp.check(weights=other)
    outputs, proof = inf.prove_inference(key, changed_weight(mlp.graph, "dense1.W", (0, 20)), mlp.x, mlp.weights)
    with pytest.raises(pc.OpeningError):
        mlp.check(proof=proof, outputs=outputs)


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
    outputs, proof = inf.prove_inference(mlp.key, graph, mlp.x)
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

    def lenient(key, witness, table, transcript, counts=None, deferred=None):
        entries = limbs_to_ints(table)
        known = set(entries)
        counted = [v if v in known else entries[0] for v in limbs_to_ints(witness)]  # counted as another
        counts = lookup.multiplicities(counted, entries)
        return lookup.prove_lookup(key, witness, table, transcript, counts, deferred)

    monkeypatch.setattr(inf, "execute", tampered)
    monkeypatch.setattr(inf, "prove_lookup", lenient)
    outputs, proof = inf.prove_inference(mlp.key, mlp.graph, mlp.x)
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
    rounds[-1][2] = (rounds[-1][2] + 1) % inf.R
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


def test_malformed_statements_are_refused(mlp):
    with pytest.raises(VerificationError, match="outputs of shape"):
        mlp.check(outputs=mlp.outputs[:2])
    bad = mlp.x.copy()
    bad[0, 0] = 1 << 20
    with pytest.raises(VerificationError, match="outside its declared"):
        mlp.check(x=bad)
    with pytest.raises(VerificationError, match="weight commitments"):
        mlp.check(weights={k: v for k, v in mlp.weights.items() if k != "dense1.b"})


def test_unsupported_ops_are_refused(digits, key):
    graph = quantized("cnn", digits)
    with pytest.raises(UnsupportedModelError, match="sumcheck backend proves"):
        inf.prove_inference(key, graph, inputs(graph, digits, 1))


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


def test_the_statement_packs_in_range_values_one_to_one():
    """The inputs and outputs enter the transcript packed many to a field element: every pair
    (and every run that a value splits across elements) packs differently."""
    pairs = {tuple(inf._packed(np.array([a, b]), 3)) for a in range(-4, 4) for b in range(-4, 4)}
    assert len(pairs) == 64
    bits = 9
    run = np.arange(200) % 256 - 128
    packs = {tuple(inf._packed(run, bits))}
    for where in (0, inf.PACKED_BITS // bits - 1, inf.PACKED_BITS // bits, 199):
        changed = run.copy()
        changed[where] += 1
        packs.add(tuple(inf._packed(changed, bits)))
    assert len(packs) == 5
    assert all(0 <= v < inf.R for v in inf._packed(np.full(100, 255), bits))
