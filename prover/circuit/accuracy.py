"""The accuracy statement: a committed model labels ``n_correct`` of ``n`` samples drawn at
random from a committed test pool as the pool does.

A *test pool* is a list of quantized test inputs with labels, committed by the root of a binary
Poseidon Merkle tree of depth ``POOL_DEPTH`` over the leaves

    leaf_i = poseidon([item_hash(x_i), label_i])      (``datasets.item_hash``: the item as a
                                                       retrieval corpus hashes it)

padded with zero leaves; a parent is ``poseidon([left, right])``. The samples are not chosen by
anyone: the AccuracyAudit contract fixes a public *draw* from a block hash that exists only
after the challenge is mined,

    draw = seed * 2^32 + pool_size * 2^16 + n_samples        (seed < 2^216, so draw < 2^248 < r)

and the sample indices follow from it: for every group g of ``INDICES_PER_HASH`` samples,
``h_g = poseidon([draw, g])``; sample 15 g + k takes the k-th 16-bit digit of h_g (as an integer
below r) modulo the pool size (with replacement).

Public inputs, in this order (wires 1..4):

1. ``model_commitment`` = ``statements.model_commitment`` (the inference statement's, so an
   accuracy proof and an inference proof speak of the same weights);
2. ``pool_root``        = the test pool's Merkle root;
3. ``draw``             = as above; the circuit splits it (range-checked, so uniquely) into the
   seed, the pool size and the sample count, which must equal the circuit's own ``n``;
4. ``n_correct``        = how many drawn samples the model labels as the pool does, where the
   model's label is ``executor.argmax_label`` of the integer executor's logits.

What the constraints prove, per sample: the index is the digit of the hash of the draw (its
digits are a canonical decomposition, checked below r, so the prover has no second reading)
reduced modulo the pool size; the sample's (item hash, label) leaf sits at that index under the
root (the index's bits steer the path); the model's label on the item is compared with the
pool's. The weights are witness wires shared by every sample and committed once per proof.
Constraints grow linearly with n: the model's inference, one item hash, one leaf hash, and
``POOL_DEPTH`` path hashes per sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from prover import poseidon
from prover.circuit import datasets as D
from prover.circuit import gadgets as G
from prover.circuit.builder import Builder, Circuit, LinComb, concatenate
from prover.circuit.compile import Lowering, check_compilable
from prover.circuit.statements import model_commitment, model_commitment_wire, weight_inputs
from prover.field import FR_MODULUS
from prover.onnx import executor
from prover.onnx.graph import Graph, InputShapeError

PUBLIC_INPUTS = ("model_commitment", "pool_root", "draw", "n_correct")
LABEL_BITS = 8  # labels are class indices 0..127
POOL_DEPTH = 12  # a pool holds at most 2^12 = 4096 samples (AccuracyAudit.MAX_POOL_SIZE)
MAX_POOL_SIZE = 1 << POOL_DEPTH
DIGIT_BITS = 16  # pool sizes and sample counts fit 16 bits in the draw
INDICES_PER_HASH = 15  # 16-bit digits of one hash below bit 240
SEED_BITS = 216
SEED_CHUNK_BITS = 54  # the seed's range check in int64-sized chunks
MAX_SAMPLES = (1 << DIGIT_BITS) - 1
_R_DIGITS = np.array([(FR_MODULUS >> (DIGIT_BITS * j)) & 0xFFFF for j in range(16)], dtype=np.int64)


# --- the draw and the indices (the reference the circuit must agree with) ----------------------


def make_draw(seed: int, pool_size: int, n_samples: int) -> int:
    """The draw public input from a 216-bit seed (what ``AccuracyAudit.draw`` computes)."""
    if not 0 <= seed < 1 << SEED_BITS or not 1 <= pool_size <= MAX_POOL_SIZE or not 1 <= n_samples <= MAX_SAMPLES:
        raise ValueError(
            f"a draw needs seed < 2^{SEED_BITS}, 1 <= pool size <= {MAX_POOL_SIZE} and 1 <= samples <= {MAX_SAMPLES}"
        )
    return (seed << 32) | (pool_size << 16) | n_samples


def split_draw(draw: int) -> tuple[int, int, int]:
    """(seed, pool size, sample count) of a draw."""
    draw = int(draw)
    if not 0 <= draw < 1 << (SEED_BITS + 32):
        raise ValueError(f"a draw is below 2^{SEED_BITS + 32}, got {draw}")
    return draw >> 32, (draw >> 16) & 0xFFFF, draw & 0xFFFF


def sample_indices(draw: int) -> list[int]:
    """The pool positions the draw selects (module docstring), in sample order."""
    _, size, n = split_draw(draw)
    if size == 0:
        raise ValueError("the draw names an empty pool")
    groups = -(-n // INDICES_PER_HASH)
    hashes = poseidon.poseidon_batch([[int(draw), g] for g in range(groups)])
    digits = [(int(h) >> (DIGIT_BITS * k)) & 0xFFFF for h in hashes for k in range(INDICES_PER_HASH)]
    return [d % size for d in digits[:n]]


# --- the test pool ------------------------------------------------------------------------------


def check_labels(labels: np.ndarray, n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise InputShapeError(f"labels have shape {labels.shape}; expected ({n},), one per test input")
    if labels.size and (labels.min() < 0 or labels.max() >= 1 << (LABEL_BITS - 1)):
        raise InputShapeError(f"labels must be class indices in [0, {(1 << (LABEL_BITS - 1)) - 1}]")
    return labels.astype(np.int64)


@dataclass
class TestPool:
    """A test pool and its Merkle tree (``levels[0]`` the padded leaves, ``levels[-1]`` the root)."""

    __test__ = False  # not a pytest class

    inputs: np.ndarray
    labels: np.ndarray
    levels: list[list[int]] = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.labels)

    @property
    def depth(self) -> int:
        return len(self.levels) - 1

    @property
    def root(self) -> int:
        return self.levels[-1][0]

    def path(self, index: int) -> list[int]:
        """The siblings of leaf ``index``, bottom first."""
        return [self.levels[level][(index >> level) ^ 1] for level in range(self.depth)]


def build_pool(graph: Graph, inputs: np.ndarray, labels: np.ndarray, depth: int = POOL_DEPTH) -> TestPool:
    """The pool of quantized ``inputs`` with ``labels`` and its tree; InputShapeError for a wrong
    shape, a label that is not a class index, or more samples than the tree holds."""
    items = D.check_items(graph, inputs, "pool input")
    labels = check_labels(labels, len(items))
    if len(items) > 1 << depth:
        raise InputShapeError(f"a pool holds at most {1 << depth} samples, this one has {len(items)}")
    leaves = poseidon.poseidon_batch([[h, int(y)] for h, y in zip(D.item_hashes(graph, items), labels)])
    levels = [leaves + [0] * ((1 << depth) - len(leaves))]
    for _ in range(depth):
        below = levels[-1]
        levels.append(poseidon.poseidon_batch([below[i : i + 2] for i in range(0, len(below), 2)]))
    return TestPool(items, labels, levels)


def pool_root(graph: Graph, inputs: np.ndarray, labels: np.ndarray) -> int:
    """The commitment a pool is registered by (module docstring)."""
    return build_pool(graph, inputs, labels).root


def count_correct(graph: Graph, x_quantized: np.ndarray, labels: np.ndarray) -> int:
    """The reference count: the integer executor's labels compared with the test labels."""
    logits = executor.execute(graph, D.check_items(graph, x_quantized, "test input"))[graph.output]
    return int((executor.argmax_label(logits.reshape(len(labels), -1)) == np.asarray(labels)).sum())


# --- circuit side -----------------------------------------------------------------------------


def canonical_digits(b: Builder, h: np.ndarray) -> np.ndarray:
    """Wires d (shape (m, 16)) of the base-2^16 digits of each field wire of ``h`` as an integer
    below r: h = sum_j 2^(16 j) d_j with d_0..d_14 16-bit and d_15 14-bit (so the sum is below
    2^254, and equals h as an integer once it is below r), and the digit string is
    lexicographically below r's, compared from the top: L_j = lt_j + eq_j L_(j-1) with lt_j
    = [d_j < r_j] and eq_j = [d_j = r_j], and L_15 = 1. Without the comparison some field
    values would have two readings (h and h + r), i.e. two index sets to choose from."""
    h = np.asarray(h, dtype=np.int64).reshape(-1)
    m = len(h)
    digits = b.alloc((m, 16))

    def split(v):
        hv = v.get_field(h)
        v.set(
            digits,
            np.array([[(int(x) >> (DIGIT_BITS * j)) & 0xFFFF for j in range(16)] for x in hv], dtype=np.int64).reshape(
                m, 16
            ),
        )

    b.step(split)
    G.unsigned_bits(b, digits[:, :15], DIGIT_BITS, what="hash digit")
    G.unsigned_bits(b, digits[:, 15], 254 - 15 * DIGIT_BITS, what="hash digit")
    weights = np.array([1 << (DIGIT_BITS * j) for j in range(16)], dtype=object)
    b.constrain_zero(LinComb.of(h) - (LinComb.of(digits) * weights).sum())
    lt = b.alloc((m, 16))
    b.step(lambda v: v.set(lt, (v.get(digits) < _R_DIGITS).astype(np.int64)))
    G.booleans(b, lt)
    # d < r_j exactly when r_j - 1 - d is in [0, 2^16); otherwise r_j - 1 - d + 2^16 is
    G.unsigned_bits(
        b,
        (1 - LinComb.of(lt)) * (1 << DIGIT_BITS) - LinComb.of(digits) + (_R_DIGITS - 1),
        DIGIT_BITS,
        what="digit comparison",
    )
    eq = G.is_equal(b, LinComb.of(digits), LinComb.constant(np.broadcast_to(_R_DIGITS, (m, 16)).copy()))
    below = [lt[:, 0]]
    for j in range(1, 16):
        nxt = b.alloc(m)
        b.constrain(LinComb.of(eq[:, j]), LinComb.of(below[-1]), LinComb.of(nxt) - LinComb.of(lt[:, j]))
        below.append(nxt)

    def compare(v):
        acc = v.get(lt[:, 0])
        for j in range(1, 16):
            acc = v.get(lt[:, j]) + v.get(eq[:, j]) * acc
            v.set(below[j], acc)

    b.step(compare)
    b.constrain_zero(LinComb.of(below[-1]) - 1)
    return digits


def _select_samples(b: Builder, draw: np.ndarray, pool_size: np.ndarray, n: int, depth: int) -> np.ndarray:
    """The index bits (n, depth) of the samples the draw selects (module docstring):
    digit = q * size + index with q 16-bit, index < size (size - 1 - index 16-bit) and index
    ``depth``-bit, so the index is the digit modulo the size."""
    groups = -(-n // INDICES_PER_HASH)
    pairs = concatenate(
        [
            LinComb.of(np.full((groups, 1), int(draw), dtype=np.int64)),
            LinComb.constant(np.arange(groups, dtype=np.int64)[:, None]),
        ],
        axis=1,
    )
    hashes = b.materialize(G.poseidon(b, pairs), field=True)
    digit = canonical_digits(b, hashes)[:, :INDICES_PER_HASH].reshape(-1)[:n]
    size = LinComb.of(np.full(n, int(pool_size), dtype=np.int64))
    q, index = b.alloc(n), b.alloc(n)

    def divide(v):
        dv, sv = v.get(digit), int(v.get(pool_size))
        if sv < 1:
            raise InputShapeError("the draw names an empty pool")
        v.set(q, dv // sv)
        v.set(index, dv % sv)

    b.step(divide)
    b.constrain(LinComb.of(q), size, LinComb.of(digit) - LinComb.of(index))
    G.unsigned_bits(b, q, DIGIT_BITS, what="index quotient")
    G.unsigned_bits(b, size - 1 - LinComb.of(index), DIGIT_BITS, what="sample index")
    return G.unsigned_bits(b, index, depth, what="sample index")


@dataclass
class AccuracyResult:
    """A witness and what it proves: the public inputs by name, the drawn pool positions and the
    model's label on each drawn sample."""

    witness: np.ndarray
    public: dict[str, int]
    indices: list[int]
    predicted: np.ndarray

    @property
    def n_correct(self) -> int:
        return int(self.public["n_correct"])


@dataclass
class AccuracyCircuit:
    graph: Graph
    mode: str
    n_samples: int
    pool_depth: int
    circuit: Circuit
    lowering: Lowering  # the first sample's (its weight wires are every sample's)
    predicted_wires: np.ndarray

    @property
    def r1cs(self):
        return self.circuit.r1cs

    def witness(self, pool: TestPool, draw: int, show_progress: bool = False) -> AccuracyResult:
        """The witness for the samples ``draw`` selects from ``pool``. Raises InputShapeError
        when the draw is for another sample count or pool size, or the pool for another depth."""
        seed, size, n = split_draw(draw)
        if n != self.n_samples:
            raise InputShapeError(
                f"the draw asks for {n} samples; this circuit proves accuracy on exactly {self.n_samples}"
            )
        if size != pool.size or pool.depth != self.pool_depth:
            raise InputShapeError(
                f"the draw is for a pool of {size} samples, this pool has {pool.size} "
                f"(tree depth {pool.depth}; the circuit's is {self.pool_depth})"
            )
        indices = sample_indices(draw)
        chunks = [
            (seed >> (SEED_CHUNK_BITS * j)) & ((1 << SEED_CHUNK_BITS) - 1) for j in range(SEED_BITS // SEED_CHUNK_BITS)
        ]
        inputs = {
            "samples": pool.inputs[indices],
            "sample_labels": pool.labels[indices],
            "siblings": np.array([pool.path(i) for i in indices], dtype=object).reshape(n, self.pool_depth),
            "seed_chunks": np.array(chunks, dtype=np.int64),
            "pool_size": np.array([size], dtype=np.int64),
        }
        inputs.update(weight_inputs(self.lowering))
        values = self.circuit.run(inputs, show_progress)
        public = {k: v[0] for k, v in self.circuit.public_values(values).items()}
        return AccuracyResult(values.limbs(self.circuit.order), public, indices, values.get(self.predicted_wires))


def accuracy_circuit(
    graph: Graph, n_samples: int, mode: str = "private", show_progress: bool = False, pool_depth: int = POOL_DEPTH
) -> AccuracyCircuit:
    """Build the accuracy statement's circuit for ``n_samples`` samples drawn from a pool of
    tree depth ``pool_depth`` (module docstring)."""
    check_compilable(graph, mode)
    if not 1 <= n_samples <= MAX_SAMPLES:
        raise ValueError(f"an accuracy statement takes 1..{MAX_SAMPLES} samples")
    if not 1 <= pool_depth <= DIGIT_BITS:
        raise ValueError(f"a pool's tree depth is 1..{DIGIT_BITS}")
    b = Builder()
    shape = graph.input_tensor.shape
    xs = b.input("samples", (n_samples, *shape))
    labels = b.input("sample_labels", (n_samples,))
    siblings = b.input("siblings", (n_samples, pool_depth), field=True)
    chunks = b.input("seed_chunks", (SEED_BITS // SEED_CHUNK_BITS,))
    pool_size = b.input("pool_size", (1,))
    # the draw: seed, pool size and the circuit's own sample count, each range-checked
    G.unsigned_bits(b, chunks, SEED_CHUNK_BITS, what="draw seed")
    G.unsigned_bits(b, pool_size, DIGIT_BITS, what="pool size")
    seed_weights = np.array([1 << (32 + SEED_CHUNK_BITS * j) for j in range(len(chunks))], dtype=object)
    draw = b.materialize(
        (LinComb.of(chunks) * seed_weights).sum() + LinComb.of(pool_size[0]) * (1 << 16) + n_samples, field=True
    )
    index_bits = _select_samples(b, draw, pool_size[0], n_samples, pool_depth)
    # the model on every sample, the leaves and their paths to one root
    packed, predicted, first = D.classify_items(b, graph, xs, mode, show_progress)
    model = model_commitment_wire(b, first)
    hashes = D.hash_items(b, packed)
    node = b.materialize(
        G.poseidon(b, concatenate([LinComb.of(hashes[:, None]), LinComb.of(labels[:, None])], axis=1)), field=True
    )
    for level in range(pool_depth):
        bit, sibling = index_bits[:, level], siblings[:, level]
        swap = b.alloc(n_samples)  # bit * (sibling - node): the node is the right child when bit = 1

        def step(v, bit=bit, sibling=sibling, node=node, swap=swap):
            v.set_field(swap, v.get(bit).astype(object) * (v.get_field(sibling) - v.get_field(node)))

        b.step(step)
        b.constrain(LinComb.of(bit), LinComb.of(sibling) - LinComb.of(node), LinComb.of(swap))
        pair = concatenate(
            [(LinComb.of(node) + LinComb.of(swap))[:, None], (LinComb.of(sibling) - LinComb.of(swap))[:, None]], axis=1
        )
        node = b.materialize(G.poseidon(b, pair), field=True)
    if n_samples > 1:
        b.constrain_zero(LinComb.of(node[1:]) - LinComb.of(np.full(n_samples - 1, node[0], dtype=np.int64)))
    correct = b.materialize(LinComb.of(G.is_equal(b, LinComb.of(predicted), LinComb.of(labels))).sum())
    for name, wire in zip(PUBLIC_INPUTS, (model, node[0], draw, correct)):
        b.public(name, wire)
    return AccuracyCircuit(graph, mode, n_samples, pool_depth, b.finish(), first, predicted)


def public_inputs(graph: Graph, pool: TestPool, draw: int) -> list[int]:
    """The statement's public inputs as a verifier recomputes them from the model, the pool and
    the draw (statement order)."""
    indices = sample_indices(draw)
    return [
        model_commitment(graph),
        pool.root,
        int(draw),
        count_correct(graph, pool.inputs[indices], pool.labels[indices]),
    ]
