"""Where the batch lies in an ONNX tensor, as the importer (``prover.onnx.importer``) tracks it.

The model graph is per sample: the importer fixes the batch to 1 and each graph tensor holds one
sample's values. An exporter may move the batch away from the first axis (a Transpose to
[seq, batch, ...] before an RNN or inside ``nn.MultiheadAttention``) and even merge it into
another axis (attention's Reshape of [L, N, E] to [L, N*H, E/H], which splits the heads).
``BatchAxis`` records where it lies; a rule that reads such a tensor maps its ONNX axes to the
sample's and refuses to act along the axis that holds the batch, so that the graph computes at
every batch size what the model computes for each sample.

Where a Reshape puts the batch is read from shapes: those of the model at batch 1, and those
inferred again at ``PROBE_BATCH`` (``reshaped_batch``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# the second batch size at which shapes are inferred, to see where a Reshape puts the batch: a
# prime, so that the axis holding the batch is the one whose length it multiplies
PROBE_BATCH = 7


@dataclass(frozen=True)
class BatchAxis:
    """The batch lies along ONNX axis ``axis``, which holds in C order ``outer`` values of the
    sample, the batch, then ``inner`` values of the sample. So at any batch size the values of
    one sample, in C order, are its tensor at batch 1, and the sample's shape is the batch-1
    shape: without the axis when it is the batch's alone (``outer = inner = 1``), with it when
    the batch is merged into it."""

    axis: int
    outer: int = 1
    inner: int = 1

    @property
    def merged(self) -> bool:
        return self.outer * self.inner != 1


BATCH_FIRST = BatchAxis(0)


def probe_axis(one: tuple[int, ...], probe: tuple[int, ...]) -> int | None:
    """The axis that holds the batch of a tensor of shape ``one`` at batch 1 and ``probe`` at
    batch PROBE_BATCH: the one axis PROBE_BATCH times longer, every other the same; None when
    the shapes are not so."""
    if len(one) != len(probe):
        return None
    changed = [k for k, (a, b) in enumerate(zip(one, probe)) if a != b]
    if len(changed) != 1 or probe[changed[0]] != PROBE_BATCH * one[changed[0]]:
        return None
    return changed[0]


def reshaped_batch(
    batch: BatchAxis,
    before: tuple[int, ...],
    before_probe: tuple[int, ...],
    after: tuple[int, ...],
    after_probe: tuple[int, ...],
) -> BatchAxis | None:
    """Where the batch lies after a reshape of a tensor of shape ``before`` (at batch 1;
    ``before_probe`` at PROBE_BATCH), its batch at ``batch``, to ``after`` (``after_probe``).
    None when each sample's values do not stay a tensor of their own: the reshape mixes
    samples, or the shapes do not show the batch where ``batch`` says.

    At batch N the tensor is, in C order, [P, N, Q]: P values of the sample outside the batch
    (``prod(before[:axis]) * outer``), Q inside. Let k be the axis of ``after`` that holds the
    batch (``probe_axis``). When the product ``lead`` of the axes before k divides P, those
    axes index P alone, and axis k holds P / lead values of the sample, the batch, and the rest
    of its length (which P / lead must divide): a BatchAxis again, at every N."""
    k = probe_axis(after, after_probe)
    if k is None or probe_axis(before, before_probe) != batch.axis:
        return None
    outside = int(np.prod(before[: batch.axis], dtype=np.int64)) * batch.outer
    lead = int(np.prod(after[:k], dtype=np.int64))
    if outside % lead or after[k] % (outside // lead):
        return None
    outer = outside // lead
    return BatchAxis(k, outer, after[k] // outer)
