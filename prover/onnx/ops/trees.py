"""Tree ensembles: ``trees`` (ai.onnx.ml TreeEnsembleClassifier and TreeEnsembleRegressor of ml
opset 1 to 3, scikit-learn's forests, boosted trees and single trees as skl2onnx exports them).

Semantics (inputs ``x`` (features,), ``thresholds`` (internal nodes,), ``leaves`` (leaves,
targets), ``base`` (targets,); the structure is in the attrs, so it is architecture):

    trees   attrs ``feature``, ``modes``, ``true_child``, ``false_child`` (one per internal node,
            parents before children), ``roots`` (one per tree), ``missing`` (float graph only).
            A child or a root is an internal node's index (>= 0) or ``-1 - j`` for leaf j.
            Internal node i tests ``x[feature[i]]`` against ``thresholds[i]`` by ``modes[i]``
            (LEQ, LT, GTE, GT, EQ, NEQ: the test is true for x <= t, x < t, ...) and sends the
            path to ``true_child[i]`` when the test holds; a NaN feature goes to the true child
            where ``missing[i]`` is 1 (ONNX's missing-value tracks). The output is
            ``base + sum over trees of leaves[reached leaf]``.

Quantized (``s`` is x's scale): a threshold t becomes an integer T at scale s with the test
rewritten as ``x <= T`` or ``x == T`` with the children swapped where needed, so that the integer
test equals the float test on every quantized input exactly: LEQ is x <= floor(t 2^s), LT is
x <= ceil(t 2^s) - 1, GTE and GT are the negations of those two, EQ is x == t 2^s when that is an
integer and never true otherwise, NEQ its negation. A T outside x's interval [lo, hi] is clamped
to lo - 1 (never true) or hi (always true), so T has at most one bit more than x. The leaves get
the weight scale of ``weight_bits`` (``Quantizer.weight``), the base that scale too; the sum is
brought back to the output's calibrated scale by a ``rescale`` whose rounding half is folded into
the base. Quantized graphs carry only LEQ and EQ, and no ``missing`` (integers are never NaN).

Circuit, per internal node: LEQ is ``gadgets.at_least(T, x)`` (the sign bit of the
range-checked difference T - x: w + 2 constraints, w = max(bits(x), bits(T))), EQ is
``gadgets.is_equal`` (2 constraints); the path indicator of each child is one product
ind(node) * bit (``gadgets.path_indicators``; none at a root). The output is the sum of
indicator times leaf value plus the base: free in public mode (the leaves are constants), one
product per leaf and target in private mode, where thresholds, leaves and base are hidden
weights (``OpSpec.weights``: range checked at their bits and packed into the model commitment,
bits + 1 constraints per value there). With 8-bit inputs and thresholds inside their bits
(w = 8) a node costs 11 constraints (10 at a root), a leaf 0 (public) or ``targets``
(private): the 10-tree digits forest of the zoo (516 internal nodes, 526 leaves, 10 classes)
lowers to 5,666 constraints public, 10,926 private before the commitment.

Import: ``nodes_*`` attributes (``nodes_values`` or ``nodes_values_as_tensor``), leaf weights
``class_*`` (classifier) or ``target_*`` (regressor), ``base_values``; aggregate SUM or AVERAGE
(regressor; AVERAGE divides the leaves by the number of trees); a classifier's post_transform
and label output are its tail (``prover.onnx.tail``), a regressor's post_transform must be NONE.
A two-class classifier whose leaves score one class only (onnxruntime's binary rule) is refused,
as are the aggregates MIN and MAX and ml opset 5's TreeEnsemble (not registered).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from prover.circuit import gadgets as G
from prover.circuit.builder import LinComb, Value
from prover.errors import UnsupportedModelError
from prover.onnx.graph import Constant, Op, bits_for_range
from prover.onnx.ops.registry import ML_DOMAIN, OpSpec, register, register_onnx
from prover.onnx.ops.sklearn import feature_vector, score_output, text

MODES = ("LEQ", "LT", "GTE", "GT", "EQ", "NEQ")
# the float tests of the node modes (onnxruntime compares in the input's float type)
FLOAT_TESTS = {
    "LEQ": np.less_equal,
    "LT": np.less,
    "GTE": np.greater_equal,
    "GT": np.greater,
    "EQ": np.equal,
    "NEQ": np.not_equal,
}

# --- semantics -------------------------------------------------------------------------------


def execute_trees(x, thresholds, leaves, base, *, feature, modes, true_child, false_child, roots, missing=None):
    v = x[:, list(feature)]
    go = np.zeros(v.shape, dtype=bool)
    for mode in set(modes):
        cols = np.array([m == mode for m in modes])
        go[:, cols] = FLOAT_TESTS[mode](v[:, cols], thresholds[cols])
    if missing is not None and v.dtype.kind == "f":
        go = np.where(np.isnan(v), np.asarray(missing, dtype=bool), go)
    dtype = np.result_type(x, leaves)
    internal = np.zeros(v.shape, dtype=dtype)
    reached = np.zeros((len(x), leaves.shape[0]), dtype=dtype)

    def put(child: int, value) -> None:
        if child >= 0:
            internal[:, child] = value
        else:
            reached[:, -1 - child] = value

    for r in roots:
        put(r, 1)
    for i in range(v.shape[1]):  # parents come before their children
        t = internal[:, i] * go[:, i]
        put(true_child[i], t)
        put(false_child[i], internal[:, i] - t)
    return reached @ leaves + base


def tree_leaves(attrs: dict) -> list[np.ndarray]:
    """The leaf indices of each tree, in ``roots`` order."""
    out = []
    for r in attrs["roots"]:
        found, stack = [], [int(r)]
        while stack:
            node = stack.pop()
            if node < 0:
                found.append(-1 - node)
            else:
                stack += [int(attrs["true_child"][node]), int(attrs["false_child"][node])]
        out.append(np.array(sorted(found), dtype=np.int64))
    return out


# --- quantization ----------------------------------------------------------------------------


def integer_tests(thresholds: np.ndarray, modes, scale: int, lo: int, hi: int):
    """The float tests at input scale ``scale`` as integer ones on x in [lo, hi]: (T, modes of
    LEQ or EQ, swap) with ``swap`` true where the children trade places (the integer test is
    the float one's negation)."""
    t = np.asarray(thresholds, dtype=np.float64) * 2.0**scale
    big = np.clip(t, lo - 2, hi + 2)  # outside [lo - 1, hi] every test is constant
    floor, ceil = np.floor(big), np.ceil(big)
    mode = np.array(modes)
    T = np.where(np.isin(mode, ("LT", "GTE")), ceil - 1, floor)
    equal = np.isin(mode, ("EQ", "NEQ"))
    exact = floor == big
    # an EQ on a threshold between two quantized values never holds: x <= lo - 1
    never = equal & ~(exact & (big >= lo) & (big <= hi))
    T = np.where(never, lo - 1, np.clip(T, lo - 1, hi)).astype(np.int64)
    new_modes = tuple("EQ" if e and not n else "LEQ" for e, n in zip(equal, never))
    swap = np.isin(mode, ("GTE", "GT", "NEQ"))
    return T, new_modes, swap


def quantize_trees(qz, op: Op):
    x, thresholds, leaves, base = op.inputs
    s, (lo, hi) = qz.scale(x), qz.interval[x]
    a = dict(op.attrs)
    T, modes, swap = integer_tests(qz.f.constants[thresholds].values, a["modes"], s, lo, hi)
    tests = qz.add_const(Constant(thresholds, T, s, bits_for_range(T.min(initial=0), T.max(initial=0))))
    true, false = np.asarray(a["true_child"], dtype=np.int64), np.asarray(a["false_child"], dtype=np.int64)
    a["true_child"] = tuple(int(c) for c in np.where(swap, false, true))
    a["false_child"] = tuple(int(c) for c in np.where(swap, true, false))
    a["modes"], a["missing"] = modes, None
    held = qz.weight(leaves)
    per_tree = tree_leaves(a)

    def interval(b):
        values = held.values.astype(object)
        b = np.asarray(b).astype(object)
        low = b + sum(values[idx].min(axis=0) for idx in per_tree)
        high = b + sum(values[idx].max(axis=0) for idx in per_tree)
        return int(low.min()), int(high.max())

    u = held.quantized_scale
    new = Op("trees", (x, tests, held.name, base), op.output, a, op.source)
    qz.requantize_biased(new, u, qz.constant(base, qz.f.constants[base].values, u), interval)


# --- lowering --------------------------------------------------------------------------------


def lower_trees(b, low, op: Op) -> Value:
    a, graph = op.attrs, low.graph
    x_name, thresholds, leaves, base = op.inputs
    xf = low.values[x_name].lc.take(np.asarray(a["feature"], dtype=np.int64))
    if low.mode == "public":
        T = LinComb.constant(graph.constants[thresholds].values)
    else:
        T = LinComb.of(low.weight_wires[thresholds])
    equal = np.array([m == "EQ" for m in a["modes"]], dtype=bool)
    go = np.zeros(equal.shape, dtype=np.int64)
    width = max(graph.tensors[x_name].quantized_bits, graph.constants[thresholds].quantized_bits)
    what = f"trees ({op.source})"
    if (~equal).any():  # x <= T exactly when T - x >= 0
        go[~equal] = G.at_least(b, T[~equal], xf[~equal], width, what=what)
    if equal.any():
        go[equal] = G.is_equal(b, xf[equal], T[equal])
    n_leaves = graph.constants[leaves].values.shape[0]
    ind = G.path_indicators(b, go, a["true_child"], a["false_child"], a["roots"], n_leaves).reshape(n_leaves, 1)
    if low.mode == "public":
        total = (ind * graph.constants[leaves].values).sum(axis=0) + graph.constants[base].values
    else:
        products = G.multiply(b, ind, LinComb.of(low.weight_wires[leaves]))
        total = LinComb.of(products).sum(axis=0) + LinComb.of(low.weight_wires[base])
    return Value(total)


register(OpSpec("trees", (4,), execute_trees, quantize_trees, lower_trees, weights=True))

# --- ONNX ------------------------------------------------------------------------------------


def _floats(attrs: dict, name: str):
    """A float list attribute, or its ``_as_tensor`` twin (ml opset 3)."""
    value = attrs.get(f"{name}_as_tensor")
    if value is not None:
        from onnx import numpy_helper  # at import only: proving never loads onnx

        return numpy_helper.to_array(value).astype(np.float64).reshape(-1)
    return np.asarray(attrs.get(name, ()), dtype=np.float64)


def _structure(im, attrs: dict) -> tuple[dict, np.ndarray, dict[tuple[int, int], int]]:
    """(the op's structure attrs, the thresholds, the leaf index of each (tree id, node id)) in
    the op's numbering: each tree's nodes breadth first from its root, trees in id order."""
    tree_ids = list(attrs.get("nodes_treeids", ()))
    node_ids = list(attrs.get("nodes_nodeids", ()))
    columns = {
        "feature": list(attrs.get("nodes_featureids", ())),
        "mode": [text(m) for m in attrs.get("nodes_modes", ())],
        "true": list(attrs.get("nodes_truenodeids", ())),
        "false": list(attrs.get("nodes_falsenodeids", ())),
        "value": list(_floats(attrs, "nodes_values")),
        "missing": list(attrs.get("nodes_missing_value_tracks_true", ())) or [0] * len(tree_ids),
    }
    if not tree_ids or any(len(c) != len(tree_ids) for c in (node_ids, *columns.values())):
        raise UnsupportedModelError(
            f"node {im.where}: the nodes_* attributes are missing or of different lengths; export the ensemble again"
        )
    for mode in set(columns["mode"]):
        if mode != "LEAF" and mode.removeprefix("BRANCH_") not in MODES:
            raise UnsupportedModelError(
                f"node {im.where}: tree node mode {mode} is not supported (supported: LEAF and "
                f"{', '.join('BRANCH_' + m for m in MODES)}); export the trees with those tests"
            )
    row = {key: k for k, key in enumerate(zip(tree_ids, node_ids))}
    branch = [k for k, m in enumerate(columns["mode"]) if m != "LEAF"]
    children = {(tree_ids[k], columns[side][k]) for k in branch for side in ("true", "false")}
    order: list[int] = []  # the rows of the internal nodes, in the op's numbering
    leaf: dict[tuple[int, int], int] = {}
    tops: list[tuple[int, int]] = []
    for tree in sorted(set(tree_ids)):
        top = [key for key in row if key[0] == tree and key not in children]
        if len(top) != 1:
            raise UnsupportedModelError(f"node {im.where}: tree {tree} has {len(top)} roots; a tree has one")
        tops.append(top[0])
        queue, seen = deque(top), set()
        while queue:
            key = queue.popleft()
            if key in seen or key not in row:
                raise UnsupportedModelError(
                    f"node {im.where}: tree {tree} is not a tree (its node {key[1]} is reached twice or is missing)"
                )
            seen.add(key)
            k = row[key]
            if columns["mode"][k] == "LEAF":
                leaf[key] = len(leaf)
            else:
                order.append(k)
                queue.extend((tree, columns[side][k]) for side in ("true", "false"))
    number = {k: i for i, k in enumerate(order)}

    def code(key) -> int:
        return -1 - leaf[key] if key in leaf else number[row[key]]

    structure = {
        "feature": tuple(int(columns["feature"][k]) for k in order),
        "modes": tuple(columns["mode"][k].removeprefix("BRANCH_") for k in order),
        "true_child": tuple(code((tree_ids[k], columns["true"][k])) for k in order),
        "false_child": tuple(code((tree_ids[k], columns["false"][k])) for k in order),
        "roots": tuple(code(key) for key in tops),
        "missing": tuple(int(columns["missing"][k]) for k in order),
    }
    return structure, np.array([columns["value"][k] for k in order], dtype=np.float64), leaf


def _leaf_table(im, attrs: dict, leaf: dict, prefix: str, targets: int) -> np.ndarray:
    """The (leaves, targets) table of ``{prefix}_treeids/nodeids/ids/weights``, summed per entry."""
    trees, nodes, ids = (list(attrs.get(f"{prefix}_{k}", ())) for k in ("treeids", "nodeids", "ids"))
    weights = _floats(attrs, f"{prefix}_weights")
    if not len(trees) == len(nodes) == len(ids) == len(weights):
        raise UnsupportedModelError(f"node {im.where}: the {prefix}_* attributes have different lengths")
    table = np.zeros((len(leaf), targets))
    for t, n, i, w in zip(trees, nodes, ids, weights):
        if (t, n) not in leaf:
            raise UnsupportedModelError(f"node {im.where}: a {prefix} weight names node {n} of tree {t}, not a leaf")
        if not 0 <= i < targets:
            raise UnsupportedModelError(f"node {im.where}: {prefix} id {i} is outside the {targets} outputs")
        table[leaf[(t, n)], i] += w
    return table


def _emit(im, node, out: str, targets: int, prefix: str, aggregate: str = "SUM") -> None:
    """The ``trees`` op of a TreeEnsemble node, its leaves the ``{prefix}_*`` weights."""
    x, n_features = feature_vector(im, node)
    attrs = im.attrs(node)
    structure, thresholds, leaf = _structure(im, attrs)
    if max(structure["feature"], default=0) >= n_features:
        raise UnsupportedModelError(f"node {im.where}: a tree reads a feature beyond the input's {n_features}")
    leaves = _leaf_table(im, attrs, leaf, prefix, targets)
    if aggregate == "AVERAGE":
        leaves = leaves / len(structure["roots"])
    elif aggregate != "SUM":
        raise UnsupportedModelError(
            f"node {im.where}: aggregate_function {aggregate} is not supported (SUM and AVERAGE are); "
            "export a sum or an average of trees"
        )
    base = _floats(attrs, "base_values")
    if base.size not in (0, targets):
        raise UnsupportedModelError(f"node {im.where}: {base.size} base_values for {targets} outputs")
    inputs = [
        x,
        im.add_constant(f"{out}.thresholds", thresholds),
        im.add_constant(f"{out}.leaves", leaves),
        im.add_constant(f"{out}.base", base if base.size else np.zeros(targets)),
    ]
    im.emit("trees", inputs, out, out_shape=(targets,), **structure)


@register_onnx("TreeEnsembleClassifier", emits=("trees",), domain=ML_DOMAIN)
def import_tree_classifier(im, node):
    """Scores per class: base_values plus the summed class weights of the reached leaves."""
    attrs = im.attrs(node)
    labels = attrs.get("classlabels_int64s") or attrs.get("classlabels_strings") or ()
    out = score_output(im, node)
    if len(labels) == 2 and len(set(attrs.get("class_ids", ()))) < 2:
        raise UnsupportedModelError(
            f"node {im.where}: a two-class TreeEnsembleClassifier whose leaves score one class only "
            "(onnxruntime derives the other class's score from it) is not supported; export the leaves "
            "with a weight for each class"
        )
    _emit(im, node, out, len(labels), "class")


@register_onnx("TreeEnsembleRegressor", emits=("trees",), domain=ML_DOMAIN)
def import_tree_regressor(im, node):
    attrs = im.attrs(node)
    post = text(attrs.get("post_transform", "NONE"))
    if post != "NONE":
        raise UnsupportedModelError(
            f"node {im.where}: TreeEnsembleRegressor with post_transform {post} is not supported; export the "
            "regressor with post_transform NONE"
        )
    targets = int(attrs.get("n_targets", 1))
    _emit(im, node, node.output[0], targets, "target", text(attrs.get("aggregate_function", "SUM")))
