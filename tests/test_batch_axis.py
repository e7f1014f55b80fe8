"""Where the batch lies (``prover.onnx.batch``): a Reshape's new place for the batch is exactly the
set of reshapes that keep each sample's values a tensor of their own, checked exhaustively on
small shapes; attention's moves of the batch (a Transpose of it, its merge with the heads) import
and agree with onnxruntime at other batch sizes, and every op that would act along the axis
holding the batch, or mix samples, is refused by name."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from onnx import helper
from support.onnx_cases import const, flat, make_model, onnxruntime_run, w

from prover.errors import UnsupportedModelError
from prover.onnx import executor
from prover.onnx.batch import PROBE_BATCH, BatchAxis, reshaped_batch
from prover.onnx.importer import import_model

n = helper.make_node
i64 = np.int64
SIZE = 12  # the per-sample size of the exhaustive reshape check
BATCH = 3


def _shapes(size: int, rank: int):
    """Every shape of ``rank`` axes of product ``size``."""
    if rank == 1:
        yield (size,)
        return
    for d in range(1, size + 1):
        if size % d == 0:
            for rest in _shapes(size // d, rank - 1):
                yield (d, *rest)


def _layouts(shape: tuple[int, ...]):
    """Every place a batch can lie in a tensor of batch-1 shape ``shape``."""
    for axis, length in enumerate(shape):
        for outer in range(1, length + 1):
            if length % outer == 0:
                yield BatchAxis(axis, outer, length // outer)


def _with_batch(shape: tuple[int, ...], batch: BatchAxis, size: int) -> tuple[int, ...]:
    return shape[: batch.axis] + (shape[batch.axis] * size,) + shape[batch.axis + 1 :]


def _batched(samples: list[np.ndarray], batch: BatchAxis) -> np.ndarray:
    """The ONNX tensor of ``samples`` (each at its batch-1 shape) with the batch at ``batch``."""
    shape = samples[0].shape
    split = shape[: batch.axis] + (batch.outer, batch.inner) + shape[batch.axis + 1 :]
    stacked = np.stack([s.reshape(split) for s in samples], axis=batch.axis + 1)
    return stacked.reshape(_with_batch(shape, batch, len(samples)))


def _sample(tensor: np.ndarray, shape: tuple[int, ...], batch: BatchAxis, index: int) -> np.ndarray:
    """Sample ``index`` of an ONNX tensor whose batch lies at ``batch`` (batch-1 shape ``shape``)."""
    split = shape[: batch.axis] + (batch.outer, -1, batch.inner) + shape[batch.axis + 1 :]
    return np.take(tensor.reshape(split), index, axis=batch.axis + 1).reshape(shape)


def _keeps_samples(before, batch, after, target_batch) -> bool:
    """Whether some place of the batch in ``after`` reads every sample back from the reshape at
    BATCH (the batch growing ``after``'s axis ``target_batch``, as a -1 there would)."""
    samples = [np.arange(SIZE).reshape(before) + 100 * k for k in range(BATCH)]
    out = _batched(samples, batch).reshape(_with_batch(after, BatchAxis(target_batch), BATCH))
    wanted = [s.reshape(after) for s in samples]
    return any(
        all((_sample(out, after, place, k) == wanted[k]).all() for k in range(BATCH))
        for place in _layouts(after)
        if place.axis == target_batch
    )


CASES = [
    (before, batch, after, m)
    for r_in, r_out in itertools.product((1, 2, 3), repeat=2)
    for before in _shapes(SIZE, r_in)
    for batch in _layouts(before)
    for after in _shapes(SIZE, r_out)
    for m in range(r_out)
]


def test_a_reshape_moves_the_batch_exactly_when_each_sample_stays_a_tensor_of_its_own():
    """Over every shape of 12 values in ranks 1 to 3, every place of the batch and every axis of
    the target that the batch grows: ``reshaped_batch`` accepts exactly the reshapes that some
    place of the batch reads every sample back from (the reject twins are all the others), and
    the place it names is one of them."""
    accepted = refused = 0
    for before, batch, after, m in CASES:
        before_probe = _with_batch(before, batch, PROBE_BATCH)
        after_probe = _with_batch(after, BatchAxis(m), PROBE_BATCH)
        moved = reshaped_batch(batch, before, before_probe, after, after_probe)
        assert (moved is not None) == _keeps_samples(before, batch, after, m), (before, batch, after, m)
        if moved is None:
            refused += 1
            continue
        accepted += 1
        samples = [np.arange(SIZE).reshape(before) - 50 * k for k in range(BATCH)]
        out = _batched(samples, batch).reshape(_with_batch(after, BatchAxis(m), BATCH))
        assert all((_sample(out, after, moved, k) == samples[k].reshape(after)).all() for k in range(BATCH))
    assert accepted > 100 and refused > 100


def test_shapes_that_do_not_show_the_batch_where_it_is_said_to_be_are_refused():
    # the probe grows another axis than the one recorded, or grows two, or by another factor
    assert reshaped_batch(BatchAxis(0), (1, 4), (1, 28), (4,), (28,)) is None
    assert reshaped_batch(BatchAxis(0), (2, 2), (14, 14), (4,), (28,)) is None
    assert reshaped_batch(BatchAxis(0), (1, 4), (2, 4), (4,), (8,)) is None
    assert reshaped_batch(BatchAxis(0), (1, 4), (7, 4), (4,), (28,)) == BatchAxis(0, 1, 4)


# --- attention's moves of the batch, end to end ------------------------------------------------

L, E, H = 4, 6, 2  # sequence, embedding, heads
D = E // H


def _attention_nodes(merge: str = "heads") -> list:
    """nn.MultiheadAttention's data movement as the dynamo exporter writes it, around a dense
    and a product per head: x [N, L, E] -> [L, N, E] -> (dense) -> [L, N*H, D] (the batch merged
    with the heads) -> [N*H, L, D] -> [N, H, L, D] -> scores Q Q^T per head -> back to
    [L*N, E] (the batch merged with the sequence) -> a dense -> [L, N, E] -> [N, L, E]."""
    split = [L, -1, D] if merge == "heads" else [-1, L * 2, D // 2]
    return [
        n("Transpose", ["x"], ["t"], name="to_seq_first", perm=[1, 0, 2]),
        n("MatMul", ["t", "Wq"], ["q0"], name="q_proj"),
        n("Add", ["q0", "bq"], ["q"], name="q_bias"),
        const("split", np.array(split, i64)),
        n("Reshape", ["q", "split"], ["heads"], name="split_heads"),
        n("Transpose", ["heads"], ["bh"], name="heads_first", perm=[1, 0, 2]),
        const("unmerge", np.array([-1, H, L, D], i64)),
        n("Reshape", ["bh", "unmerge"], ["qh"], name="unmerge_batch"),
        n("Transpose", ["qh"], ["kt"], name="k_transposed", perm=[0, 1, 3, 2]),
        n("MatMul", ["qh", "kt"], ["scores"], name="scores"),
        n("Softmax", ["scores"], ["p"], name="softmax", axis=-1),
        n("MatMul", ["p", "qh"], ["att"], name="weighted"),
        n("Transpose", ["att"], ["lnhd"], name="seq_first_again", perm=[2, 0, 1, 3]),
        const("rows", np.array([-1, E], i64)),
        n("Reshape", ["lnhd", "rows"], ["flat_rows"], name="merge_seq"),
        n("Gemm", ["flat_rows", "Wo", "bo"], ["o"], name="out_proj", transB=1),
        const("unrows", np.array([L, -1, E], i64)),
        n("Reshape", ["o", "unrows"], ["lne"], name="unmerge_seq"),
        n("Transpose", ["lne"], ["nle"], name="batch_first_again", perm=[1, 0, 2]),
        flat("nle"),
    ]


def _attention_weights(rng) -> dict:
    return {"Wq": w(rng, E, E), "bq": w(rng, E), "Wo": w(rng, E, E), "bo": w(rng, E)}


def test_attention_that_moves_and_merges_the_batch_agrees_with_onnxruntime_at_other_batch_sizes(rng):
    model = make_model(_attention_nodes(), (L, E), (L * E,), _attention_weights(rng), opset=17)
    graph = import_model(model)
    assert "matmul" in [op.kind for op in graph.ops]
    for batch in (1, 2, 5):
        x = rng.normal(0, 1, (batch, L, E)).astype(np.float32)
        np.testing.assert_allclose(executor.run_float(graph, x), onnxruntime_run(model, x), rtol=1e-4, atol=1e-5)


def test_a_reshape_that_merges_samples_into_one_row_is_refused(rng):
    """The reject twin: the same model with the heads split off the batch axis's side of the
    sequence ([L, N, E] -> [N*?, 2L, D/2] reads rows of two samples as one) is refused."""
    model = make_model(_attention_nodes(merge="rows"), (L, E), (L * E,), _attention_weights(rng), opset=17)
    with pytest.raises(UnsupportedModelError, match="node split_heads: Reshape .* mixes the values of different"):
        import_model(model)


def _moved(tail: list, weights=None, opset=17):
    """x [N, L, E] transposed to [L, N, E], then ``tail``."""
    nodes = [n("Transpose", ["x"], ["t"], name="to_seq_first", perm=[1, 0, 2]), *tail]
    return make_model(nodes, (L, E), ("M",), weights, opset=opset)


@pytest.mark.parametrize(
    "tail, weights, reason",
    [
        # attention across the batch (batch_first mixed up): Q K^T contracts E but pairs samples
        (
            [
                n("Transpose", ["t"], ["tt"], name="kt", perm=[0, 2, 1]),
                n("MatMul", ["t", "tt"], ["s"], name="across_batch"),
                flat("s"),
            ],
            None,
            "node across_batch: operand t has its batch axis at position 1",
        ),
        ([n("Softmax", ["t"], ["s"], name="softmax_of_moved", axis=1), flat("s")], None, "softmax_of_moved"),
        # an elementwise op of a moved tensor is not understood (only a dense's bias is folded)
        (
            [n("Add", ["t", "c"], ["s"], name="add_of_moved"), flat("s")],
            {"c": np.ones(E, np.float32)},
            "add_of_moved: operand t has its batch axis at position 1",
        ),
        (
            [
                n("Transpose", ["t"], ["te"], name="batch_last", perm=[0, 2, 1]),
                n("MatMul", ["te", "W"], ["s"], name="contracts_batch"),
                flat("s"),
            ],
            {"W": np.ones((1, 3), np.float32)},
            "node contracts_batch: MatMul contracts the axis of te that holds the batch",
        ),
        (
            [const("fixed", np.array([L, 1, E], i64)), n("Reshape", ["t", "fixed"], ["s"], name="batch_of_one")]
            + [flat("s")],
            None,
            "node batch_of_one: Reshape of t, whose batch is not its first axis, in a model that runs at batch 1 only",
        ),
    ],
    ids=["matmul_across_batch", "softmax", "add", "dense_over_batch", "batch_one_only"],
)
def test_ops_that_act_along_the_axis_holding_the_batch_are_refused(tail, weights, reason):
    with pytest.raises(UnsupportedModelError, match=reason):
        import_model(_moved(tail, weights))


def test_a_model_that_runs_at_batch_one_only_keeps_its_batch_first(rng):
    """The accept twin of ``batch_one_only``: a Reshape whose target writes the batch as 1
    imports where the batch is first (the model has no other batch size to disagree with)."""
    nodes = [const("fixed", np.array([1, L * E], i64)), n("Reshape", ["x", "fixed"], ["y"], name="batch_of_one")]
    graph = import_model(make_model(nodes, (L, E), (L * E,)))
    x = rng.normal(0, 1, (1, L, E))
    np.testing.assert_array_equal(executor.run_float(graph, x), x.reshape(1, -1))


def _slice_of_the_moved_batch(end: int):
    """x [N, L, E] -> [L, N, E], a Slice along the batch's axis up to ``end``, and back."""
    return _moved(
        [
            const("starts", np.array([0, 1], i64)),
            const("ends", np.array([end, L], i64)),
            const("axes", np.array([1, 0], i64)),
            n("Slice", ["t", "starts", "ends", "axes"], ["s"], name="slice_batch"),
            n("Transpose", ["s"], ["b"], name="batch_first_again", perm=[1, 0, 2]),
            flat("b"),
        ]
    )


def test_a_slice_of_the_whole_batch_axis_is_accepted_and_of_its_first_sample_refused(rng):
    """An end that is 1 at batch 1 takes only the first sample at any other batch size."""
    model = _slice_of_the_moved_batch(np.iinfo(np.int64).max)
    graph = import_model(model)
    x = rng.normal(0, 1, (3, L, E)).astype(np.float32)
    np.testing.assert_allclose(executor.run_float(graph, x), onnxruntime_run(model, x), rtol=1e-6)
    with pytest.raises(UnsupportedModelError, match=r"node slice_batch: Slice of the batch axis \(start 0, end 1"):
        import_model(_slice_of_the_moved_batch(1))
