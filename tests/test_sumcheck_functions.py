"""Elementwise functions on the sumcheck backend (``prover/sumcheck/inference.py``,
``FUNCTION_KINDS``): Tanh, Sigmoid, Erf, Softplus, Exp and both Gelu forms, each proved by a
lookup of (x, y) in the executor's own table with y committed. Networks of them verify and their
outputs are the executor's bit for bit; the table's extension is its entries' (checked at random
points); the padding indicator is the layout's. Reject twins: one output of a function moved off
its table (the rest of the run recomputed from it), a padded entry set to f(0) (padding must stay
0), a sent value changed, and an input too wide for a table."""

from __future__ import annotations

import random

import numpy as np
import pytest
from onnx import helper
from support.onnx_cases import gemm, make_model, w
from support.sumcheck_cases import Case, check_changed_value_refused, commitment_key, lenient_lookups, tampered_run

from prover.errors import UnsupportedModelError, VerificationError
from prover.field import FR_MODULUS as R
from prover.field import fr_to_signed, signed_to_fr
from prover.onnx import executor
from prover.onnx.importer import import_model
from prover.onnx.ops import REGISTRY
from prover.onnx.quantize import Precision, quantize
from prover.sumcheck import inference as inf
from prover.sumcheck import mle

POWER = 12


@pytest.fixture(scope="module")
def key():
    return commitment_key(POWER)


def network(functions, width=6, opset=13, seed=5, rows=24):
    """Gemm, then each ONNX function of ``functions`` followed by a Gemm, on inputs of 5 values."""
    rng = np.random.default_rng(seed)
    nodes, weights, inp = [], {}, "x"
    sizes = [5] + [width] * len(functions) + [3]
    for k, size in enumerate(sizes[1:]):
        name = f"g{k}"
        out = "y" if k == len(functions) else f"h{k}"
        nodes.append(gemm(name, inp, out))
        weights[f"{name}.W"], weights[f"{name}.b"] = w(rng, size, sizes[k]), w(rng, size, scale=0.2)
        if k < len(functions):
            kind, attrs = functions[k]
            nodes.append(helper.make_node(kind, [out], [f"f{k}"], name=f"{kind}{k}", **attrs))
            inp = f"f{k}"
    model = make_model(nodes, (5,), (3,), weights, opset=opset)
    graph = quantize(import_model(model), rng.normal(0, 1, (rows, 5)), Precision(8, 8))
    x = executor.quantize_input(graph, rng.normal(0, 1, (3, 5)))
    return graph, x


NETWORKS = {
    "tanh_sigmoid": ([("Tanh", {}), ("Sigmoid", {})], 13),
    "erf_softplus": ([("Erf", {}), ("Softplus", {})], 13),
    "exp": ([("Exp", {})], 13),
    "gelu": ([("Gelu", {}), ("Gelu", {"approximate": "tanh"})], 20),
}


@pytest.fixture(scope="module")
def cases(key):
    return {name: Case(key, *network(functions, opset=opset)) for name, (functions, opset) in NETWORKS.items()}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_function_networks_verify_with_the_executors_outputs(cases, name):
    case = cases[name]
    kinds = {op.kind for op in case.graph.ops}
    assert kinds & set(inf.FUNCTION_KINDS), kinds
    case.check_outputs_are_the_executors((1, 2))


def test_the_tables_extension_and_the_padding_indicator(cases):
    graph = cases["tanh_sigmoid"].graph
    op = next(op for op in graph.ops if op.kind == "sigmoid")
    bits = graph.tensors[op.inputs[0]].quantized_bits
    rng = random.Random(2)
    beta = rng.randrange(R)
    table = inf._function_table(op, bits, beta)
    assert len(table) == 2 << bits
    f = inf._function_values(op, bits)
    lo, hi = inf.bound_of(bits)
    for v in (lo, -1, 0, 1, hi):
        assert f[v - lo] == REGISTRY["sigmoid"].execute(np.array([v]), **op.attrs)[0]
    for _ in range(3):
        point = [rng.randrange(R) for _ in range(bits + 1)]
        assert inf._function_table_at(op, bits, beta, point) == mle.evaluate(table, point)
    layout, shape = inf.Layout(2, (3, 2)), (5, 3)
    pad = fr_to_signed(inf._padding(layout, shape)).reshape(4, 8, 4)
    assert pad[:, :5, :3].sum() == 0 and pad.sum() == 4 * (32 - 15)
    point = [rng.randrange(R) for _ in range(layout.n)]
    assert inf._padding_at(layout, shape, point) == mle.evaluate(signed_to_fr(pad.reshape(-1)), point)


def _function_op(case, kind):
    return next(op for op in case.graph.ops if op.kind == kind)


def test_an_output_off_the_functions_table_is_refused(cases, monkeypatch):
    """A prover whose tanh returns one value plus one, with every op after it run on the
    changed value: the lookup of (x, y) fails."""
    case = cases["tanh_sigmoid"]
    op = _function_op(case, "tanh")

    def bump(values):
        values[1, 0] += 1

    check_changed_value_refused(case, monkeypatch, op.output, bump, "not in the table")


class _Marked(np.ndarray):
    """The values of the tensor whose padding a test changes."""


def test_padding_set_to_f_of_zero_is_refused(cases, monkeypatch):
    """A prover whose sigmoid output has sigmoid(0) in its padded entries (as an elementwise
    table would give them), in its commitment and everywhere it is used: the padding
    indicator tells padded entries apart, so the lookup fails."""
    case = cases["tanh_sigmoid"]
    op = _function_op(case, "sigmoid")
    bits = case.graph.tensors[op.inputs[0]].quantized_bits
    f0 = int(inf._function_values(op, bits)[-inf.bound_of(bits)[0]])
    assert f0 != 0
    honest = inf._table

    def padded_with_f0(values, layout):
        out = honest(values, layout)
        if isinstance(values, _Marked):
            pad = fr_to_signed(inf._padding(layout, case.graph.tensors[op.output].shape)).astype(bool)
            full = fr_to_signed(out)
            full[pad] = f0
            out = signed_to_fr(full)
        return out

    tampered_run(monkeypatch, lambda g, values: {**values, op.output: values[op.output].view(_Marked)})
    monkeypatch.setattr(inf, "_table", padded_with_f0)
    monkeypatch.setattr(inf, "prove_lookups", lenient_lookups)
    outputs, proof = case.prove()
    monkeypatch.undo()
    assert np.array_equal(outputs, case.outputs)
    with pytest.raises(VerificationError, match="not in the table"):
        case.check(proof=proof, outputs=outputs)


def test_a_changed_input_or_output_value_of_the_lookup_is_refused(cases):
    case = cases["gelu"]
    messages = list(case.proof.messages)
    k = next(i for i, m in enumerate(messages) if isinstance(m, tuple) and len(m) == 2)
    changed = list(messages)
    changed[k] = (messages[k][0], (messages[k][1] + 1) % R)
    with pytest.raises(VerificationError):
        case.check(proof=inf.InferenceProof(case.proof.advice, tuple(changed)))


def test_an_input_too_wide_for_a_table_is_refused(key):
    import dataclasses

    graph, _ = network([("Tanh", {})])
    op = next(o for o in graph.ops if o.kind == "tanh")
    wide = dataclasses.replace(graph.tensors[op.inputs[0]], bits=inf.MAX_LOOKUP_BITS)
    graph = dataclasses.replace(graph, tensors={**graph.tensors, op.inputs[0]: wide})
    assert graph.tensors[op.inputs[0]].quantized_bits == inf.MAX_LOOKUP_BITS
    with pytest.raises(UnsupportedModelError, match="table's lookup"):
        inf.check_supported(graph)
