"""Tree ensembles (``prover.onnx.ops.trees``): ai.onnx.ml TreeEnsembleClassifier and
TreeEnsembleRegressor. The lowering is sound at a tiny tree (z3 over the exact R1CS: every
3-bit input has one satisfying output, the executor's) and a dropped constraint lets a wrong leaf
through; the integer tests equal the float ones on every quantized input; every node mode, the
base values, AVERAGE and the missing-value tracks match onnxruntime; a Normalizer is cut at the
end and refused in the middle."""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import z3
from onnx import helper
from support.z3_circuits import Z3Circuit, final_values, mutated

from prover.circuit import gadgets as G
from prover.circuit import statements as S
from prover.circuit.builder import Builder
from prover.circuit.compile import lower
from prover.errors import UnsupportedModelError
from prover.onnx import executor
from prover.onnx.graph import Constant, Graph, Op, Tensor
from prover.onnx.importer import import_model
from prover.onnx.ops.trees import FLOAT_TESTS, MODES, integer_tests
from prover.onnx.quantize import Precision, quantize
from prover.onnx.tail import apply_transforms

FLOAT = onnx.TensorProto.FLOAT

# --- tiny ensembles by onnx.helper -----------------------------------------------------------


def _flatten(trees, prefix: str):
    """The nodes_* and {prefix}_* attributes of trees given as nested tuples: a branch is
    ``(mode, feature, threshold, true subtree, false subtree[, missing_true])``, a leaf a list
    of (target, weight) pairs. Node ids are depth-first and deliberately not breadth-first."""
    nodes: dict[str, list] = {
        k: [] for k in ("treeids", "nodeids", "featureids", "modes", "values", "truenodeids", "falsenodeids", "missing")
    }
    leaves: dict[str, list] = {k: [] for k in ("treeids", "nodeids", "ids", "weights")}

    def visit(tree_id, tree, counter):
        node_id = next(counter)
        row = len(nodes["treeids"])
        for k, v in zip(("treeids", "nodeids"), (tree_id, node_id)):
            nodes[k].append(v)
        if isinstance(tree, list):
            for k, v in zip(
                ("featureids", "modes", "values", "truenodeids", "falsenodeids", "missing"), (0, "LEAF", 0.0, 0, 0, 0)
            ):
                nodes[k].append(v)
            for target, weight in tree:
                for k, v in zip(leaves, (tree_id, node_id, target, weight)):
                    leaves[k].append(v)
            return node_id
        mode, feature, threshold, yes, no, *missing = tree
        for k, v in zip(
            ("featureids", "modes", "values", "missing"),
            (feature, f"BRANCH_{mode}", threshold, missing[0] if missing else 0),
        ):
            nodes[k].append(v)
        nodes["truenodeids"].append(None)
        nodes["falsenodeids"].append(None)
        nodes["truenodeids"][row] = visit(tree_id, yes, counter)
        nodes["falsenodeids"][row] = visit(tree_id, no, counter)
        return node_id

    for tree_id, tree in enumerate(trees):
        visit(tree_id, tree, itertools.count())
    attrs = {f"nodes_{k}": v for k, v in nodes.items() if k != "missing"}
    attrs["nodes_missing_value_tracks_true"] = nodes["missing"]
    attrs.update({f"{prefix}_{k}": v for k, v in leaves.items()})
    return attrs


def regressor(trees, n_features: int, targets: int = 1, **attrs) -> onnx.ModelProto:
    node = helper.make_node(
        "TreeEnsembleRegressor",
        ["x"],
        ["y"],
        domain="ai.onnx.ml",
        name="forest",
        n_targets=targets,
        **_flatten(trees, "target"),
        **attrs,
    )
    return _model([node], n_features, [helper.make_tensor_value_info("y", FLOAT, ["N", targets])])


def classifier(trees, n_features: int, classes: int, **attrs) -> onnx.ModelProto:
    node = helper.make_node(
        "TreeEnsembleClassifier",
        ["x"],
        ["label", "scores"],
        domain="ai.onnx.ml",
        name="forest",
        classlabels_int64s=list(range(classes)),
        **_flatten(trees, "class"),
        **attrs,
    )
    outputs = [
        helper.make_tensor_value_info("label", onnx.TensorProto.INT64, ["N"]),
        helper.make_tensor_value_info("scores", FLOAT, ["N", classes]),
    ]
    return _model([node], n_features, outputs)


def _model(nodes, n_features: int, outputs, ml_opset: int = 3) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", FLOAT, ["N", n_features])], outputs)
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", ml_opset)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model


def run_ort(model: onnx.ModelProto, x: np.ndarray) -> list:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x.astype(np.float32)})


# every mode, on thresholds that are and are not multiples of the input's resolution
ALL_MODES = [
    ("LEQ", 0, 0.3, ("GT", 1, -0.25, [(0, 1.0)], [(0, -2.0)]), ("LT", 0, 1.0, [(0, 0.5)], [(0, 4.0)])),
    ("GTE", 1, 0.1, ("EQ", 0, 0.5, [(0, -1.5)], [(0, 2.25)]), ("NEQ", 1, -1.0, [(0, 3.0)], [(0, 0.125)])),
    [(0, 0.75)],  # a tree that is one leaf
]


# --- soundness at a tiny tree, by z3 ----------------------------------------------------------


def _tiny_graph(modes=("LEQ", "LEQ", "LEQ")) -> Graph:
    """Depth 2 over two 3-bit features: x0 <= 1, then x1 <= -2 or x1 <= 2; leaves 5, -3, 7, 2
    (LEQ tests only: EQ's ``is_equal`` multiplies two non-bit wires, which z3 cannot take
    linearly here; the witness tests run it)."""
    thresholds = np.array([1, -2, 2], dtype=np.int64)
    tensors = {"x": Tensor("x", (2,), 0, 3, True), "y": Tensor("y", (1,), 0, 5)}
    constants = {
        "T": Constant("T", thresholds, 0, 3),
        "L": Constant("L", np.array([[5], [-3], [7], [2]], dtype=np.int64), 0, 4),
        "B": Constant("B", np.zeros(1, dtype=np.int64), 0, 1),
    }
    attrs = {
        "feature": (0, 1, 1),
        "modes": ("LEQ", "LEQ", modes[2]),
        "true_child": (1, -1, -3),
        "false_child": (2, -2, -4),
        "roots": (0,),
        "missing": None,
    }
    return Graph("x", "y", tensors, constants, [Op("trees", ("x", "T", "L", "B"), "y", attrs)], quantized=True)


def _tiny_circuit(mode: str = "public", modes=("LEQ", "LEQ", "LEQ")):
    graph = _tiny_graph(modes)
    b = Builder()
    x = b.input("x", (2,))
    G.signed_bits(b, x, 3)  # the statement's input range check
    low = lower(b, graph, x, mode)
    y = b.materialize(low.output)
    return graph, b.finish(), x, y, low


def _inputs_3bit():
    return [np.array(v, dtype=np.int64) for v in itertools.product(range(-4, 4), repeat=2)]


def test_the_tiny_tree_has_one_satisfying_output_the_executors():
    graph, c, x, y, _ = _tiny_circuit()
    z = Z3Circuit(c)
    (xw0, xw1), (yw,) = final_values(c, x), final_values(c, y)
    for sample in _inputs_3bit():
        expected = int(executor.execute(graph, sample)["y"][0])
        pinned = z3.And(z.signed(xw0) == int(sample[0]), z.signed(xw1) == int(sample[1]))
        assert z.refutes(z3.Implies(pinned, z.signed(yw) == expected)), sample
    # and the executor is the tree: x0 <= 1 ? (x1 <= -2 ? 5 : -3) : (x1 <= 2 ? 7 : 2)
    for s in _inputs_3bit():
        want = (5 if s[1] <= -2 else -3) if s[0] <= 1 else (7 if s[1] <= 2 else 2)
        assert executor.execute(graph, s)["y"][0] == want


def test_a_dropped_path_product_lets_a_wrong_leaf_through():
    """The mutation twin: without the last path product (the indicator of the second level's
    true child), some input has a satisfying output that is not the executor's."""
    graph, c, x, y, _ = _tiny_circuit()
    z = Z3Circuit(c, drop=frozenset({c.r1cs.n_constraints - 1}))
    (xw0, xw1), (yw,) = final_values(c, x), final_values(c, y)
    wrong = []
    for sample in _inputs_3bit():
        expected = int(executor.execute(graph, sample)["y"][0])
        pinned = z3.And(z.signed(xw0) == int(sample[0]), z.signed(xw1) == int(sample[1]))
        if z.satisfiable(pinned, z.signed(yw) != expected):
            wrong.append(tuple(sample))
    assert wrong


@pytest.mark.parametrize("test", ["LEQ", "EQ"])
@pytest.mark.parametrize("mode", ["public", "private"])
def test_the_tiny_tree_witness_is_the_executors_and_a_moved_wire_is_refused(mode, test):
    graph, c, x, y, low = _tiny_circuit(mode, ("LEQ", "LEQ", test))
    weights = {f"weight:{n}": graph.constants[n].values for n in low.weight_wires}
    for sample in _inputs_3bit():
        values = c.run({"x": sample, **weights})
        assert values.get(y)[0] == executor.execute(graph, sample)["y"][0]
    w = c.run({"x": np.array([2, 2]), **weights}).limbs(c.order)
    assert c.r1cs.is_satisfied(w)
    (yw,) = final_values(c, y)
    assert not c.r1cs.is_satisfied(mutated(w, yw)) and not c.r1cs.is_satisfied(mutated(w, yw, -9))


def test_at_least_is_sound_and_a_flipped_bit_is_refused():
    b = Builder()
    x = b.input("x", (2,))
    G.signed_bits(b, x, 3)
    s = G.at_least(b, x[0], x[1], 3)
    c = b.finish()
    z = Z3Circuit(c)
    (x0, x1), (sw,) = final_values(c, x), final_values(c, s)
    assert z.refutes((z.value(sw) == 1) == (z.signed(x0) >= z.signed(x1)))
    w = c.run({"x": np.array([-1, -1])}).limbs(c.order)
    assert c.r1cs.is_satisfied(w) and not c.r1cs.is_satisfied(mutated(w, sw, -1))


def test_path_indicators_are_the_reached_leaf_for_every_choice_of_bits():
    """Free boolean ``go`` wires over two trees (one of depth 2, one a lone leaf): each leaf's
    indicator is the product of the tests on its path, and nothing else satisfies."""
    b = Builder()
    go = b.input("go", (3,))
    G.booleans(b, go)
    ind = b.materialize(G.path_indicators(b, go, (1, -1, -3), (2, -2, -4), (0, -5), 5))
    c = b.finish()
    z = Z3Circuit(c)
    g0, g1, g2 = (z.value(w) for w in final_values(c, go))
    e = [z.value(w) for w in final_values(c, ind)]
    expected = [g0 * g1, g0 * (1 - g1), (1 - g0) * g2, (1 - g0) * (1 - g2), 1]
    assert z.refutes(z3.And(*[a == want for a, want in zip(e, expected)]))
    w = c.run({"go": np.array([1, 0, 1])}).limbs(c.order)
    assert c.r1cs.is_satisfied(w) and not c.r1cs.is_satisfied(mutated(w, final_values(c, ind)[1]))


def test_path_indicators_cost_one_product_per_non_root_node():
    b = Builder()
    go = b.alloc((3,))
    G.booleans(b, go)
    before = b.n_constraints
    G.path_indicators(b, go, (1, -1, -3), (2, -2, -4), (0,), 4)
    assert b.n_constraints - before == 2


# --- the integer tests equal the float tests -----------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_integer_tests_equal_the_float_tests_on_every_quantized_input(mode):
    """Exhaustively over an 8-bit input at scale 3, thresholds on, between and outside the
    quantized values: the integer test (with its swap) is the float test."""
    lo, hi, s = -128, 127, 3
    thresholds = np.array([-100.0, -16.0, -1.0625, -0.125, 0.0, 0.3, 0.375, 5.01, 15.875, 15.9, 40.0, 3.4e38, -3.4e38])
    T, modes, swap = integer_tests(thresholds, [mode] * len(thresholds), s, lo, hi)
    q = np.arange(lo, hi + 1)
    real = (q * 2.0**-s).astype(np.float32).astype(np.float64)
    for t, T_i, m, w in zip(thresholds.astype(np.float32).astype(np.float64), T, modes, swap):
        integer = q <= T_i if m == "LEQ" else q == T_i
        assert (np.logical_xor(integer, w) == FLOAT_TESTS[mode](real, t)).all(), (mode, t)
        assert lo - 1 <= T_i <= hi


# --- against onnxruntime -----------------------------------------------------------------------


def test_every_mode_base_values_and_average_match_onnxruntime(rng):
    model = regressor(ALL_MODES, 2, aggregate_function="AVERAGE", base_values=[0.5])
    graph = import_model(model)
    assert [op.kind for op in graph.ops] == ["trees"]
    x = rng.normal(0, 1, (256, 2)).astype(np.float32)
    x[:8, 0], x[8:16, 1] = 0.5, -1.0  # the EQ and NEQ thresholds themselves
    np.testing.assert_allclose(executor.run_float(graph, x), run_ort(model, x)[0], rtol=1e-6, atol=1e-6)
    q = quantize(graph, x, Precision(10, 10))
    xq = executor.quantize_input(q, x)
    ints = executor.execute(q, xq)[q.output]
    assert {op.kind for op in q.ops} <= {"trees", "rescale"}
    assert set(q.ops[0].attrs["modes"]) <= {"LEQ", "EQ"}
    # onnxruntime on the quantized inputs, read as reals: within the leaves' rounding
    reference = run_ort(model, executor.dequantize(q, q.input, xq))[0]
    real = executor.dequantize(q, q.output, ints)
    assert np.abs(real - reference).max() <= 2.0**-q.output_tensor.quantized_scale
    for mode in ("private", "public"):
        ic = S.inference_circuit(q, mode)
        for sample, logits in zip(xq[:4], ints[:4]):
            result = ic.witness(sample, 7)
            assert (result.logits == logits).all() and ic.r1cs.is_satisfied(result.witness)


def test_dyadic_leaves_are_exact_on_every_quantized_input():
    """One feature at scale 4, every 8-bit input: the quantized ensemble is onnxruntime's on the
    dequantized input exactly (leaves multiples of 2**-3, so nothing rounds)."""
    trees = [
        ("LT", 0, 0.3, [(0, 1.0)], ("GTE", 0, 2.0, [(0, -0.5)], [(0, 0.25)])),
        ("EQ", 0, -1.5, [(0, 2.0)], [(0, 0.0)]),
    ]
    model = regressor(trees, 1)
    graph = import_model(model)
    q = quantize(graph, np.linspace(-3.9, 3.9, 64)[:, None], Precision(8, 8))
    assert q.input_tensor.scale == 4
    xq = np.arange(-128, 128, dtype=np.int64)[:, None]
    real = executor.dequantize(q, q.output, executor.execute(q, xq)[q.output])
    np.testing.assert_array_equal(real, run_ort(model, executor.dequantize(q, q.input, xq))[0])


def test_missing_values_follow_their_tracks_in_the_float_graph():
    trees = [("LEQ", 0, 0.0, [(0, 1.0)], [(0, 2.0)], 1), ("GT", 1, 0.0, [(0, 10.0)], [(0, 20.0)], 0)]
    model = regressor(trees, 2)
    x = np.array([[np.nan, np.nan], [np.nan, 1.0], [1.0, np.nan], [-1.0, -1.0]], dtype=np.float32)
    np.testing.assert_array_equal(executor.run_float(import_model(model), x), run_ort(model, x)[0])


def test_a_classifier_scores_match_onnxruntime_and_its_tail_is_recorded(rng):
    trees = [
        ("LEQ", 0, 0.0, [(0, 0.6), (1, 0.3), (2, 0.1)], ("LEQ", 1, 0.5, [(1, 0.9)], [(2, 0.7), (0, 0.2)])),
        ("GT", 1, -0.2, [(2, 0.5), (1, 0.5)], [(0, 1.0)]),
    ]
    model = classifier(trees, 2, 3, post_transform="SOFTMAX", base_values=[0.1, 0.0, -0.1])
    graph = import_model(model)
    post = graph.meta["postprocess"]
    assert post["transforms"] == ["softmax"] and post["classes"] == [0, 1, 2]
    x = rng.normal(0, 1, (128, 2)).astype(np.float32)
    label, probabilities = run_ort(model, x)
    scores = executor.run_float(graph, x)
    np.testing.assert_allclose(apply_transforms(post, scores), probabilities, rtol=1e-5, atol=1e-6)
    assert (scores.argmax(-1) == label).all()
    q = quantize(graph, x, Precision(10, 10))
    assert S.architecture_graph(S.architecture_spec(q)).meta["postprocess"] == post
    assert (executor.predict(q, x).label == label).mean() >= 0.95


def test_the_tree_structure_is_architecture_and_the_values_are_weights(rng):
    model = regressor(ALL_MODES, 2, targets=1)
    q = quantize(import_model(model), rng.normal(0, 1, (64, 2)))
    spec = S.architecture_spec(q)
    (kind, inputs, _, attrs) = spec["ops"][0]
    assert kind == "trees" and attrs["feature"] and attrs["true_child"] and attrs["roots"]
    assert all(spec["constants"][name][3] is None for name in inputs[1:])
    rebuilt = S.architecture_graph(spec)
    assert (
        S.inference_circuit(rebuilt, "private").r1cs.n_constraints
        == S.inference_circuit(q, "private").r1cs.n_constraints
    )
    # another threshold is another model: same architecture, another commitment
    other = quantize(
        import_model(regressor([("LEQ", 0, 0.9, *ALL_MODES[0][3:])] + ALL_MODES[1:], 2)), rng.normal(0, 1, (64, 2))
    )
    assert S.model_commitment(other) != S.model_commitment(q)


# --- refusals ----------------------------------------------------------------------------------


def test_unsupported_ensembles_are_refused_by_name():
    with pytest.raises(UnsupportedModelError, match="aggregate_function MAX is not supported"):
        import_model(regressor(ALL_MODES[:1], 2, aggregate_function="MAX"))
    with pytest.raises(UnsupportedModelError, match="post_transform PROBIT is not supported"):
        import_model(regressor(ALL_MODES[:1], 2, post_transform="PROBIT"))
    binary = [("LEQ", 0, 0.0, [(1, 0.7)], [(1, 0.2)])]
    with pytest.raises(UnsupportedModelError, match="node forest.*two-class TreeEnsembleClassifier"):
        import_model(classifier(binary, 2, 2))
    bad = regressor(ALL_MODES[:1], 2)
    for a in bad.graph.node[0].attribute:
        if a.name == "nodes_modes":
            a.strings[0] = b"BRANCH_SOMETIMES"
    with pytest.raises(UnsupportedModelError, match="mode BRANCH_SOMETIMES is not supported"):
        import_model(bad)
    opset5 = helper.make_node("TreeEnsemble", ["x"], ["y"], domain="ai.onnx.ml", name="ens5")
    with pytest.raises(UnsupportedModelError, match="ai.onnx.ml.TreeEnsemble in node ens5"):
        import_model(_model([opset5], 2, [helper.make_tensor_value_info("y", FLOAT, ["N", 1])], ml_opset=5))


def _normalizer_model(trailing: bool) -> onnx.ModelProto:
    trees = regressor(ALL_MODES, 2, targets=1).graph.node[0]
    if trailing:
        nodes = [
            helper.make_node(trees.op_type, ["x"], ["t"], domain="ai.onnx.ml", name="forest"),
            helper.make_node("Normalizer", ["t"], ["y"], domain="ai.onnx.ml", name="norm", norm="L2"),
        ]
    else:
        nodes = [
            helper.make_node("Normalizer", ["x"], ["n"], domain="ai.onnx.ml", name="norm", norm="L1"),
            helper.make_node(trees.op_type, ["n"], ["y"], domain="ai.onnx.ml", name="forest"),
        ]
    for node in nodes:
        if node.name == "forest":
            node.attribute.extend(trees.attribute)
    return _model(nodes, 2, [helper.make_tensor_value_info("y", FLOAT, ["N", 1])])


def test_a_trailing_normalizer_is_cut_and_one_in_the_middle_refused():
    graph = import_model(_normalizer_model(trailing=True))
    assert graph.meta["postprocess"]["transforms"] == ["normalize_l2"] and [op.kind for op in graph.ops] == ["trees"]
    with pytest.raises(UnsupportedModelError, match="ai.onnx.ml.Normalizer in node norm .*accepted only at the end"):
        import_model(_normalizer_model(trailing=False))
