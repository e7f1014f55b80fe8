"""Convolutions, max pools and reshapes on the sumcheck backend (prover/sumcheck/inference.py and
wiring.py): the bundled cnn and lenet and small synthetic conv graphs (stride 2, zero padding,
grouped and depthwise, 1x1, channels and sizes that are no powers of two, padded max pools of
negative values, a reshape that moves entries) prove and verify with the executor's outputs bit
for bit, and each reject twin is refused: a changed conv weight, a changed conv output, a max
pool selector at a non-maximum and a two-hot one, a changed output, another input, a tampered
sumcheck message; and the gathered-view reduction alone catches a false claim."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper
from support.onnx_cases import const, flat, gemm, make_model, w
from support.sumcheck_cases import (
    Case,
    check_changed_value_refused,
    check_changed_weights_refused,
    commitment_key,
    digits,
    inputs,
    quantized,
    rerun_after,
    tampered_run,
)

from prover.errors import UnsupportedModelError, VerificationError
from prover.field import fr_to_signed, signed_to_fr
from prover.onnx import executor
from prover.onnx.importer import import_model
from prover.onnx.quantize import quantize
from prover.sumcheck import inference as inf
from prover.sumcheck import wiring
from prover.sumcheck.mle import evaluate
from prover.sumcheck.proof_file import read_proof, write_proof
from prover.sumcheck.protocol import SumcheckError, SumcheckProof
from prover.sumcheck.transcript import Transcript
from prover.sumcheck.wiring import Wiring

POWER = 11  # the cnn at batch 4: its conv's 4 x (8, 8, 8) accumulator and the 16 x 128 dense weights


@pytest.fixture(scope="module")
def key():
    return commitment_key(POWER)


@pytest.fixture(scope="module")
def cnn(key):
    graph = quantized("cnn", digits())
    return Case(key, graph, inputs(graph, digits(), 4, start=11))


def conv(inp, out, weight, bias=None, **attrs):
    names = [inp, weight] + ([bias] if bias else [])
    return helper.make_node("Conv", names, [out], name=out, **attrs)


def maxpool(inp, out, **attrs):
    return helper.make_node("MaxPool", [inp], [out], name=out, **attrs)


def conv_pool_dense(r, in_shape, weight_shape, features, classes, **attrs):
    """conv (with bias; ``attrs`` its attributes) -> relu -> 2 x 2 max pool -> flatten (to
    ``features``) -> gemm (to ``classes``)."""
    o, _, kh, kw = weight_shape
    nodes = [
        conv("x", "h", "k", "kb", kernel_shape=[kh, kw], **attrs),
        helper.make_node("Relu", ["h"], ["hr"], name="relu"),
        maxpool("hr", "m", kernel_shape=[2, 2], strides=[2, 2]),
        flat("m", "f"),
        gemm("g", "f", "y"),
    ]
    weights = {"k": w(r, *weight_shape), "kb": w(r, o), "g.W": w(r, classes, features), "g.b": w(r, classes)}
    return nodes, in_shape, (classes,), weights


# name -> (nodes, input shape, output shape, weights) for a seeded rng
SYNTHETIC = {
    # stride 2, asymmetric zero padding, two groups, 6 channels and 7 x 7 inputs; the flatten of
    # (6, 2, 2) is a relabelling
    "strided_grouped": lambda r: conv_pool_dense(
        r, (4, 7, 7), (6, 2, 3, 3), 24, 3, strides=[2, 2], pads=[1, 0, 1, 2], group=2
    ),
    # depthwise (group = C = 3) on a 6 x 5 input, padded; the flatten of (3, 3, 2) moves entries
    "depthwise": lambda r: conv_pool_dense(r, (3, 6, 5), (3, 1, 3, 3), 18, 4, pads=[1, 1, 1, 1], group=3),
    # a 1x1 conv and a padded 3 x 3 max pool of stride 2 over values of both signs (padding
    # never wins), then a conv without bias of stride (2, 1) straight to the output
    "pointwise": lambda r: (
        [
            conv("x", "h", "k", "kb", kernel_shape=[1, 1]),
            maxpool("h", "m", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
            conv("m", "c", "k2", strides=[2, 1], kernel_shape=[2, 2]),
            flat("c", "y"),
        ],
        (5, 5, 5),
        (3 * 1 * 2,),
        {"k": w(r, 2, 5, 1, 1), "kb": w(r, 2), "k2": w(r, 3, 2, 2, 2)},
    ),
    # a 1-D input reshaped to (3, 3, 3) (entries move: 32 padded indexes to 64) for a conv
    "reshape_to_image": lambda r: (
        [
            const("shape", np.array([-1, 3, 3, 3], dtype=np.int64)),
            helper.make_node("Reshape", ["x", "shape"], ["img"], name="reshape"),
            conv("img", "h", "k", "kb", kernel_shape=[2, 2]),
            flat("h", "y"),
        ],
        (27,),
        (2 * 2 * 2,),
        {"k": w(r, 2, 3, 2, 2), "kb": w(r, 2)},
    ),
}


def synthetic(name, seed=3):
    rng = np.random.default_rng(seed)
    nodes, in_shape, out_shape, weights = SYNTHETIC[name](rng)
    graph = quantize(import_model(make_model(nodes, in_shape, out_shape, weights)), rng.normal(0, 1, (64, *in_shape)))
    x = executor.quantize_input(graph, np.clip(rng.normal(0, 1, (3, *in_shape)), -2, 2))
    return graph, x


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_synthetic_convs_agree_with_the_executor(key, name):
    graph, x = synthetic(name)
    assert "conv" in [op.kind for op in graph.ops]
    Case(key, graph, x).check_outputs_are_the_executors((2, 1))


def test_reshapes_relabel_or_move(cnn):
    """The cnn's flatten of (8, 4, 4) keeps every index and is a relabelling; the depthwise
    graph's of (3, 3, 2) moves entries and is reduced through its wiring."""
    (flatten,) = [op for op in cnn.graph.ops if op.kind == "reshape"]
    assert inf._reshape_wiring(cnn.graph, flatten) is None
    graph, _ = synthetic("depthwise")
    (flatten,) = [op for op in graph.ops if op.kind == "reshape"]
    moved = inf._reshape_wiring(graph, flatten)
    assert moved is not None and len(moved.entries) == 18 and (moved.k_bits, moved.q_bits) == (5, 5)


def test_changed_output_and_another_input_are_refused(cnn):
    bad = cnn.outputs.copy()
    bad[3, 4] += 1
    with pytest.raises(VerificationError):
        cnn.check(outputs=bad)
    other = inputs(cnn.graph, digits(), 4, start=60)
    with pytest.raises(VerificationError):
        cnn.check(x=other, outputs=executor.execute(cnn.graph, other)[cnn.graph.output])


def test_changed_conv_weight_is_refused(cnn):
    check_changed_weights_refused(cnn, registered=("conv1.W", (2, 0, 1, 1)), run=("conv1.W", (5, 0, 2, 0)))


def test_changed_conv_output_is_refused(cnn, monkeypatch):
    """One accumulator of the conv raised by 2^shift (so that its rescale and everything after
    change too, computed from it): the conv's own relation fails."""
    shift = cnn.graph.ops[1].attrs["shift"]

    def change(g, values):
        acc = values["conv1:acc"].copy()
        acc[2, 3, 4, 5] += 1 << shift
        return rerun_after(g, {**values, "conv1:acc": acc}, "conv1:acc")

    tampered_run(monkeypatch, change)
    outputs, proof = cnn.prove()
    monkeypatch.undo()
    with pytest.raises(VerificationError):
        cnn.check(proof=proof, outputs=outputs)


def test_selector_at_a_non_maximum_is_refused(cnn, monkeypatch):
    """A max pool output set to the smallest value of its window (the selector points there, the
    rest follows from it) passes the selection and the one-hot check; the difference to the
    window's maximum is negative, and the lookup refuses it even with forged multiplicities."""
    pre = executor.execute(cnn.graph, cnn.x, keep_all=True)["relu1"]
    windows = pre.reshape(4, 8, 4, 2, 4, 2).transpose(0, 1, 2, 4, 3, 5).reshape(4, 8, 4, 4, 4)
    b, c, py, px = map(int, np.argwhere(windows.max(axis=-1) > windows.min(axis=-1))[-1])

    def lower(pooled):
        pooled[b, c, py, px] = windows[b, c, py, px].min()

    check_changed_value_refused(cnn, monkeypatch, "maxpool1", lower, "not in the table")


def test_two_hot_selector_is_refused(cnn, monkeypatch):
    """A second selector set where its window value is 0 (y = sum_j sel_j x_j and every
    difference still hold): only the zero-check of one-hotness is left to fail."""
    honest = inf._pool_tables

    def two_hot(graph, op, x, y, layout):
        tables = dict(honest(graph, op, x, y, layout))
        sel = [fr_to_signed(tables[f"sel{j}:{op.output}"]) for j in range(4)]
        views = [fr_to_signed(tables[f"view{j}:{op.output}"]) for j in range(4)]
        i, j = next((i, j) for i in range(len(sel[0])) for j in range(4) if sel[j][i] == 0 and views[j][i] == 0)
        sel[j][i] = 1
        tables[f"sel{j}:{op.output}"] = signed_to_fr(sel[j])
        return tables

    monkeypatch.setattr(inf, "_pool_tables", two_hot)
    outputs, proof = cnn.prove()
    monkeypatch.undo()
    assert np.array_equal(outputs, cnn.outputs)
    with pytest.raises(VerificationError):
        cnn.check(proof=proof, outputs=outputs)


def test_selector_at_padding_is_refused(key, monkeypatch):
    """A padded max pool whose window inside x is all negative, its output set to 0 as if the
    zero padding won, the selector at a window position outside x: the output is the selected
    view's value (0) and at least every other, the selectors are one-hot, and only the
    zero-check of ``sel_j - in_j sel_j^2`` (no selector outside x) is left to fail."""
    graph, x = synthetic("pointwise")
    case = Case(key, graph, x)
    pool = next(op for op in graph.ops if op.kind == "maxpool")
    (kh, kw), (sh, sw), (top, left) = pool.attrs["kernel"], pool.attrs["strides"], pool.attrs["pads"][:2]
    pre = executor.execute(graph, x, keep_all=True)[pool.inputs[0]]
    height, width = pre.shape[2:]
    for py, px in np.ndindex(*graph.tensors[pool.output].shape[1:]):
        rows = [py * sh + k - top for k in range(kh)]
        cols = [px * sw + k - left for k in range(kw)]
        inside = pre[1:, :, [r for r in rows if 0 <= r < height]][..., [q for q in cols if 0 <= q < width]]
        negative = np.argwhere(inside.max(axis=(2, 3)) < 0)  # not sample 0, whose copy pads the batch
        outside = [
            jy * kw + jx
            for jy, r in enumerate(rows)
            for jx, q in enumerate(cols)
            if not (0 <= r < height and 0 <= q < width)
        ]
        if outside and len(negative):
            (b, c), j = negative[0] + (1, 0), outside[0]
            break
    else:
        raise AssertionError("no window of negative values beside the padding")
    where = (int(b), int(c), py, px)

    def change(g, values):
        pooled = values[pool.output].copy()
        pooled[where] = 0
        return rerun_after(g, {**values, pool.output: pooled}, pool.output)

    tampered_run(monkeypatch, change)
    honest = inf._pool_tables

    def at_padding(graph, op, x, y, layout):
        tables = dict(honest(graph, op, x, y, layout))
        i = np.ravel_multi_index(where, layout.shape)
        for k in range(kh * kw):
            sel = fr_to_signed(tables[f"sel{k}:{op.output}"])
            sel[i] = int(k == j)
            tables[f"sel{k}:{op.output}"] = signed_to_fr(sel)
        return tables

    monkeypatch.setattr(inf, "_pool_tables", at_padding)
    outputs, proof = case.prove()
    monkeypatch.undo()
    with pytest.raises(VerificationError):
        case.check(proof=proof, outputs=outputs)


def test_tampered_sumcheck_messages_are_refused(cnn):
    """Every sumcheck of the walk (merges, the conv's two, the max pool's, the dense layer's, the
    relu's) with one value of its last round changed."""
    messages = list(cnn.proof.messages)
    places = [k for k, m in enumerate(messages) if isinstance(m, SumcheckProof)]
    assert len(places) >= 6
    for k in places:
        rounds = [list(g) for g in messages[k].round_polynomials]
        rounds[-1][-1] = (rounds[-1][-1] + 1) % inf.R
        changed = list(messages)
        changed[k] = SumcheckProof(tuple(map(tuple, rounds)))
        with pytest.raises(VerificationError):
            cnn.check(proof=inf.InferenceProof(cnn.proof.advice, tuple(changed)))


def gathered(axes, table, point, value, tampered_axes=None):
    """A view claim reduced by ``_gather`` on each side (the prover's predicate from
    ``tampered_axes`` if given): the verifier's claim left about the source."""
    layout = {"x": inf.Layout(1, (2, 3))}
    prover = inf._Prover(None, layout, Transcript("test"), {"x": table}, None, {})
    inf._gather(prover, "x", [(tampered_axes or axes, point, value)], "test")
    verifier = inf._Verifier(None, layout, Transcript("test"), prover.messages, None)
    inf._gather(verifier, "x", [(axes, point, value)], "test")
    ((at, claimed),) = verifier.claims["x"]
    return at, claimed


def test_gathered_view_reduction_catches_false_claims():
    """A view of a (2 x 4 x 8) source with field weights on one axis: the honest claim leaves a
    true claim about the source; a false value, a prover whose source differs from the
    verifier's and a prover with other wiring are each caught."""
    rng = np.random.default_rng(5)
    x = rng.integers(-50, 50, (2, 4, 8))
    table = signed_to_fr(x)
    axes = (
        Wiring(2, 2, ((0, 1, 1), (1, 0, 1), (2, 3, 1), (3, 3, 1))),
        Wiring(2, 3, ((0, 0, 7), (0, 1, 11), (1, 2, 1), (2, 5, inf.R - 3), (3, 7, 2))),
    )
    point = tuple(int(v) for v in rng.integers(1, 1 << 60, 5))
    value = evaluate(wiring.apply(axes, table, lead=2), point)
    at, claimed = gathered(axes, table, point, value)
    assert evaluate(table, at) == claimed

    with pytest.raises(SumcheckError):
        gathered(axes, table, point, (value + 1) % inf.R)

    other = x.copy()
    other[1, 3, 7] += 1
    other_table = signed_to_fr(other)
    other_value = evaluate(wiring.apply(axes, other_table, lead=2), point)
    assert other_value != value
    at, claimed = gathered(axes, other_table, point, other_value)
    assert evaluate(table, at) != claimed  # the source's own check (the next layer, or the input) fails

    rewired = (axes[0], Wiring(2, 3, ((0, 0, 7), (0, 1, 11), (1, 2, 1), (2, 5, inf.R - 3), (3, 6, 2))))
    with pytest.raises(SumcheckError, match="does not fit"):
        gathered(axes, table, point, evaluate(wiring.apply(rewired, table, lead=2), point), rewired)


def test_unsupported_ops_are_refused(key):
    rng = np.random.default_rng(1)
    dilated = make_model(
        [conv("x", "h", "k", dilations=[2, 1], kernel_shape=[2, 2]), flat("h")],
        (2, 5, 5),
        (24,),
        {"k": w(rng, 2, 2, 2, 2)},
    )
    for model, match in ((dilated, "dilation 1"),):
        imported = import_model(model)
        graph = quantize(imported, rng.normal(0, 1, (16, *imported.input_tensor.shape)))
        x = executor.quantize_input(graph, rng.normal(0, 1, (1, *graph.input_tensor.shape)) * 0.1)
        with pytest.raises(UnsupportedModelError, match=match):
            inf.prove_inference(key, graph, x)


def test_proof_file_round_trip(cnn, tmp_path):
    """A conv model's proof (its conv, max pool and gather messages) written as the proof file
    and read back verifies."""
    write_proof(cnn.proof, tmp_path / "proof.json")
    cnn.check(proof=read_proof(tmp_path / "proof.json"))
