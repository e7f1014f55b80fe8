"""Commitments to data sets (an accuracy test set, a retrieval corpus) and their circuit side.

An *item* is one quantized model input. Its hash is

    item_hash(x) = commit(pack_values(x, input bits))

(``prover.poseidon.commit`` of the input packed as the inference statement packs it), so a
party that holds the raw item and knows the model's input quantization can recompute it. A data
set of n items is committed by

    items_commitment = commit([item_hash(x_0), ..., item_hash(x_{n-1})] + extra)

where ``extra`` is the packed labels for a test set (``accuracy``) and nothing for a corpus
(``retrieval``). Hashing each item on its own costs more constraints than packing the whole set
into one stream, but it lets a retrieval answer name its items by hash without revealing the
others.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from prover import poseidon
from prover.circuit import gadgets as G
from prover.circuit.builder import Builder, LinComb, concatenate
from prover.circuit.compile import Lowering, lower
from prover.errors import CircuitError
from prover.onnx.graph import Graph, InputShapeError


def check_items(graph: Graph, items: np.ndarray, what: str = "item") -> np.ndarray:
    """The quantized items as int64 of shape (n, *input shape), or InputShapeError."""
    items = np.asarray(items)
    want = graph.input_tensor.shape
    if items.ndim != len(want) + 1 or items.shape[1:] != want or len(items) == 0:
        raise InputShapeError(
            f"{what}s have shape {items.shape}; expected (n >= 1, {', '.join(map(str, want))}): "
            "quantize them with prover.onnx.executor.quantize_input first"
        )
    return items.astype(np.int64)


def item_hash(graph: Graph, x_quantized: np.ndarray) -> int:
    """The hash of one quantized item (see module docstring)."""
    return poseidon.commit(G.pack_values(x_quantized, graph.input_tensor.quantized_bits))


def item_hashes(graph: Graph, items: np.ndarray) -> list[int]:
    """``item_hash`` of every item, batched: one Poseidon batch per tree level."""
    items = check_items(graph, items)
    bits = graph.input_tensor.quantized_bits
    packed = [G.pack_values(x, bits) for x in items]
    if len(packed[0]) <= poseidon.ARITY:  # one tree level: hash all items in two batches
        roots = poseidon.poseidon_batch(packed)
        return poseidon.poseidon_batch([[r, len(packed[0])] for r in roots])
    return [poseidon.commit(p) for p in packed]


def items_commitment(hashes: Sequence[int], extra: Sequence[int] = ()) -> int:
    """The commitment to a data set from its item hashes (and, for a test set, packed labels)."""
    return poseidon.commit([int(h) for h in hashes] + [int(e) for e in extra])


# --- circuit side -----------------------------------------------------------------------------


def classify_items(
    b: Builder, graph: Graph, items: np.ndarray, mode: str, show_progress: bool = False
) -> tuple[np.ndarray, np.ndarray, Lowering]:
    """Run the model on every item wire tensor of ``items`` (shape (n, *input shape)): range
    check and pack each item, lower the graph on it, take the argmax label. Every sample shares
    the first lowering's weight wires, so the caller commits to the weights once.

    Returns the packed wires (n, k), the label wires (n,) and the first lowering."""
    packed, labels = [], []
    first: Lowering | None = None
    samples = range(len(items))
    if show_progress:
        from tqdm import tqdm

        samples = tqdm(samples, desc="circuit", unit="item")
    for i in samples:
        packed.append(G.pack(b, items[i], graph.input_tensor.quantized_bits))  # also the item's range check
        low = lower(b, graph, items[i], mode, first.weight_wires if first else None)
        first = first or low
        logits = b.materialize(low.output.reshape(-1))
        labels.append(G.argmax(b, logits, graph.output_tensor.quantized_bits))
    if first is None:
        raise CircuitError("no items to classify: a data set has at least one item (check it with check_items)")
    return np.stack(packed), np.array(labels, dtype=np.int64), first


def hash_items(b: Builder, packed: np.ndarray) -> np.ndarray:
    """Wires of ``item_hash`` for packed items (shape (n, k): k packed wires per item). When an
    item fits one Poseidon (k <= 16) the n hashes are two batched Poseidon gadgets; otherwise
    one ``G.commit`` per item."""
    n, k = packed.shape
    if k <= poseidon.ARITY:
        roots = b.materialize(G.poseidon(b, LinComb.of(packed)), field=True)
        pairs = concatenate([LinComb.of(roots[:, None]), LinComb.constant(np.full((n, 1), k, dtype=np.int64))], axis=1)
        return b.materialize(G.poseidon(b, pairs), field=True)
    return np.array([G.commit(b, LinComb.of(row)) for row in packed], dtype=np.int64)


def commit_items(b: Builder, hashes: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
    """The wire of ``items_commitment`` over item-hash wires (and extra packed wires)."""
    parts = [LinComb.of(np.asarray(hashes, dtype=np.int64))]
    if extra is not None and len(extra):
        parts.append(LinComb.of(np.asarray(extra, dtype=np.int64)))
    return G.commit(b, concatenate(parts))
