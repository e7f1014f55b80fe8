"""The op registry (``prover.onnx.ops``): complete (every ONNX operator the importer accepts
leads to kinds with semantics and a lowering; every lowering has an executor twin), read by
every stage, and the bundled models' circuits pinned bit for bit."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from support.onnx_cases import CASES, MOVES, OPS, make_model

from marketplace.models import digits_split, example_models, model_inputs
from prover.circuit import statements as S
from prover.circuit.builder import Builder
from prover.circuit.compile import check_compilable, lower
from prover.errors import CircuitError
from prover.formats.r1cs import write_r1cs
from prover.onnx import executor
from prover.onnx.graph import Graph, Op, Tensor
from prover.onnx.importer import SUPPORTED_OPS, import_model
from prover.onnx.ops import IMPORTS, REGISTRY, STAGES, validate_graph
from prover.onnx.quantize import quantize


def _lowered_kinds(kind: str) -> set[str]:
    """The kinds that reach the circuit for a kind of the float graph."""
    spec = REGISTRY[kind]
    return set(spec.quantized_as) if spec.stage == "float" else {kind}


def test_every_imported_operator_has_semantics_quantization_and_lowering():
    assert SUPPORTED_OPS == frozenset(IMPORTS)
    for op_type, entry in IMPORTS.items():
        for kind in entry.emits:
            spec = REGISTRY.get(kind)
            assert spec is not None, f"{op_type} emits {kind}, which has no registry entry"
            assert spec.stage != "quantized", f"{op_type} emits {kind}, which only quantization makes"
            assert spec.quantize is not None, f"{kind} has no quantization rule"
            for lowered in _lowered_kinds(kind):
                assert REGISTRY[lowered].lower is not None, f"{op_type} -> {kind} -> {lowered} has no lowering"


def test_every_lowering_has_an_executor_twin_and_every_stage_is_consistent():
    for kind, spec in REGISTRY.items():
        assert spec.kind == kind and spec.stage in STAGES and spec.arity
        assert callable(spec.execute), f"{kind} has no executor semantics"
        if spec.stage == "float":
            assert spec.lower is None and spec.quantized_as, f"float-only {kind} must say what it becomes"
            assert all(REGISTRY[k].lower is not None for k in spec.quantized_as)
        else:
            assert spec.lower is not None, f"{kind} reaches the circuit without a lowering"
        if spec.stage == "quantized":
            assert spec.quantize is None  # made by the quantizer, never found in a float graph


@pytest.mark.parametrize("case", sorted(CASES))
def test_imported_kinds_are_the_declared_ones(case, rng):
    """What the importer and the quantizer really emit stays inside the registry's declarations."""
    nodes, in_shape, out_shape, weights = CASES[case](rng)
    graph = import_model(make_model(nodes, in_shape, out_shape, weights))
    declared = {k for n in nodes if n.op_type in IMPORTS for k in IMPORTS[n.op_type].emits}
    assert {op.kind for op in graph.ops} <= declared
    q = quantize(graph, rng.normal(0, 1, (16, *in_shape)))
    allowed = set().union(*(_lowered_kinds(k) for k in declared)) | {"rescale"}
    assert {op.kind for op in q.ops} <= allowed


def test_a_kind_outside_the_registry_is_refused_by_every_stage(rng):
    nodes, in_shape, out_shape, weights = CASES["gemm"](rng)
    q = quantize(import_model(make_model(nodes, in_shape, out_shape, weights)), rng.normal(0, 1, (16, *in_shape)))
    bogus = Graph(q.input, "z", dict(q.tensors), dict(q.constants), list(q.ops), quantized=True)
    bogus.ops.append(Op("teleport", (q.output,), "z"))
    bogus.tensors["z"] = Tensor("z", q.output_tensor.shape, q.output_tensor.scale, q.output_tensor.bits)
    with pytest.raises(CircuitError, match="unknown op kind"):
        validate_graph(bogus)
    with pytest.raises(CircuitError):
        check_compilable(bogus, "public")
    # a float-only kind in a quantized graph is refused, its quantized twin accepted
    first = q.ops[0]
    q.ops[0] = Op("sumpool", (q.input,), first.output)
    validate_graph(q)
    q.ops[0] = Op("avgpool", (q.input,), first.output)
    with pytest.raises(CircuitError, match="not allowed in a quantized graph"):
        validate_graph(q)


def test_a_kind_made_by_quantization_is_not_taken_as_float_input(rng):
    nodes, in_shape, out_shape, weights = CASES["gemm"](rng)
    graph = import_model(make_model(nodes, in_shape, out_shape, weights))
    graph.ops[0] = Op("rescale", (graph.input,), graph.output, {"shift": 1})
    with pytest.raises(CircuitError, match="not allowed in a float graph"):
        validate_graph(graph)
    with pytest.raises(CircuitError, match="not allowed in a float graph"):
        quantize(graph, rng.normal(0, 1, (4, *in_shape)))


# --- the bundled models, pinned --------------------------------------------------------------

# sha256 prefixes of (architecture spec, .r1cs file, witness of test sample 0 with salt 12345)
# and the model commitment, as made by main before the op registry (bit-identical since)
PINNED = {
    "cnn": (
        "8fdf4d87b1a80c19",
        "10360293497945668052324446407885322425066281971880265642315021859104217396142",
        {"private": ("21534dfc50400dd5", "a4a3787d1b6db893"), "public": ("2cd08dfe03a5a475", "d9f6369920ec3db8")},
    ),
    "lenet": (
        "01fc5c0da71c4253",
        "12672469877037831123675950191007572119991324111806396411562482292201320295099",
        {"private": ("69f0fb8e9a3c2bf3", "a231b765b779e258"), "public": ("5f363e5614d1c0b1", "81847e5be704a37a")},
    ),
    "mlp": (
        "956898494bbebb46",
        "17924517828373900034333745002658191564050881845079485763081203171653666425308",
        {"private": ("71ac5f674bacdc4a", "eb2ff0a5af154f95"), "public": ("bc5a361b65738ae4", "f729be4980ded2b1")},
    ),
    "quadratic": (
        "d03768403eac434b",
        "21223763196946144148487936051936813592063427472867560254314458776079500539660",
        {"private": ("361cd63ec995fffd", "b82050406b57e9d4"), "public": ("4274e3b02672cc52", "ad634411385a8937")},
    ),
}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


@pytest.mark.parametrize("name", ["cnn", "mlp", "quadratic", pytest.param("lenet", marks=pytest.mark.slow)], ids=str)
def test_bundled_models_compile_bit_identically(name, tmp_path):
    model = example_models()[name]
    x_tr, _, x_te, _ = digits_split()
    graph = import_model(model.path)
    q = quantize(graph, model_inputs(model.input_shape, x_tr), model.precision)
    spec_digest, commitment, circuits = PINNED[name]
    assert _digest(json.dumps(S.architecture_spec(q), sort_keys=True).encode()) == spec_digest
    assert str(S.model_commitment(q)) == commitment
    sample = executor.quantize_input(q, model_inputs(model.input_shape, x_te[:1]))[0]
    for mode, (r1cs_digest, witness_digest) in circuits.items():
        ic = S.inference_circuit(q, mode)
        write_r1cs(ic.r1cs, tmp_path / f"{mode}.r1cs")
        assert _digest((tmp_path / f"{mode}.r1cs").read_bytes()) == r1cs_digest, mode
        witness = ic.witness(sample, 12345).witness
        assert _digest(np.ascontiguousarray(witness).tobytes()) == witness_digest, mode


def test_new_kinds_survive_the_graph_file_and_the_architecture_spec(rng, tmp_path):
    """A client rebuilds the circuit from the published architecture spec, and the provider
    reloads graph.json: both must give back the same circuit for every new kind's attributes
    (nested index lists, None bounds, shifts)."""
    from prover.onnx.graph_file import load_graph, save_graph

    for nodes, in_shape, out_shape, *_ in list(MOVES.values()) + list(OPS.values()):
        model = make_model(nodes, in_shape, out_shape, opset=18)
        q = quantize(import_model(model), rng.normal(0, 1, (16, *in_shape)))
        save_graph(q, tmp_path)
        again = load_graph(tmp_path)
        sample = executor.quantize_input(q, rng.normal(0, 1, in_shape).clip(-2, 2))
        assert (executor.execute(again, sample)[again.output] == executor.execute(q, sample)[q.output]).all()
        rebuilt = S.architecture_graph(S.architecture_spec(q))
        assert S.architecture_hash(rebuilt) == S.architecture_hash(q)
        ours, theirs = (_lowered_r1cs(g) for g in (q, rebuilt))
        for m in "ABC":
            a, b = getattr(ours, m), getattr(theirs, m)
            assert (a.indptr == b.indptr).all() and (a.indices == b.indices).all() and (a.coeffs == b.coeffs).all()


def _lowered_r1cs(graph: Graph):
    """The constraints of the graph alone (public mode: no weights in these models)."""
    b = Builder()
    lower(b, graph, b.input("input", graph.input_tensor.shape), "public")
    return b.finish().r1cs


def test_operators_of_another_domain_are_keyed_by_it():
    """One table for every domain: an ai.onnx.ml operator is ``domain.op_type``, never a bare
    name that a default-domain operator of the same name could shadow."""
    from prover.onnx.ops.registry import ML_DOMAIN, onnx_key

    ml = {k: e for k, e in IMPORTS.items() if e.domain == ML_DOMAIN}
    assert set(ml) == {
        f"{ML_DOMAIN}.{t}"
        for t in (
            "LinearClassifier",
            "LinearRegressor",
            "Scaler",
            "TreeEnsembleClassifier",
            "TreeEnsembleRegressor",
        )
    }
    assert all(e.key == k == onnx_key(e.domain, e.op_type) for k, e in IMPORTS.items())
    assert onnx_key("ai.onnx", "Gemm") == onnx_key("", "Gemm") == "Gemm" and "LinearClassifier" not in IMPORTS
