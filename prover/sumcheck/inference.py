"""Inference proofs on the sumcheck backend: a batch of a quantized graph's runs, GKR-style.

Statement: for the architecture of a quantized graph (public), weights bound by their
commitments (``commit_weights``, made once at registration) and a batch of inputs, the outputs
are the graph's outputs on them, bit for bit as ``prover.onnx.executor`` computes them; the
statement holds each sample's salted input and output commitments (``io_commitments``; the
input's is the Groth16 backend's), and the verifier here reads their openings (the values and
salts). Every commitment hides: the weights' with blinds from the registration's secret seed,
the advice's and the multiplicities' with fresh blinds, the inputs' and outputs' with the
consumer's salts. Zero knowledge comes from the Groth16 wrapper of the verifier, for which this
proof is the private witness (``prover.sumcheck``). Still to come (issue 15): reducemax, softmax and
layer norm (division), moves of constants, and range checks of the weights at registration.

Tables. Every tensor (a batch of samples of shape ``(d_1, .., d_m)``) is a table whose index
bits are ``[batch | axis 1 | .. | axis m]``, each field padded to a power of two (``Layout``): the
batch with copies of sample 0 (whose values are genuine runs), every axis with zeros, which each
op's relation below maps to zeros (so it holds on padded entries too). A dense layer's weights
``W[o, i]`` are a table with o in the high bits, a convolution's ``W[o, c', ky, kx]`` one over
the four padded axes in that order, a bias a table over o.

Advice. Before any challenge the prover commits to what the graph's values do not determine
through low-degree relations: per ``rescale`` ``y = floor(x / 2^s)`` the remainder ``x - 2^s
y`` (in ``[0, 2^s)``), per ``relu`` the sign bit ``[x >= 0]`` (``y = sign * x``), per ``clip``
its indicators ``[x < low]`` and ``[x > high]``, and per ``maxpool`` one selector table
``sel_j`` per window position j (row-major), the one-hot choice of the window's maximum (the
first one; on padded entries j = 0).

Walk. The verifier draws a point for the output and evaluates the output's extension there; then
the ops are reduced from the last to the first, each turning one claim about its output's
extension into claims about its operands (a tensor with several claims first merges them with
one sumcheck over ``sum_k c_k eq(p_k, x) y(x)``):

    dense    y~(rb, ro) = sum_i x~(rb, i) W~(ro, i) + bias~(ro) E(rs)  (Thaler; degree 2), over
             x's last axis: rb holds the batch and any leading sample axes (a sequence),
             E(rs) = prod_leading sum_{s < size} eq(r_s, s) keeps their padding 0
    rescale  x~(p) = 2^s y~(p) + rem~(p);  rem in [0, 2^s), y in its declared bits (lookups)
    relu     y~(p) = sum_b eq(p, b) sign(b) x(b)  (degree 3);  (x, sign) in {(v, [v >= 0])}
    mul      y~(p) = sum_b eq(p, b) a(b) b(b)     (degree 3); by a public constant c:
             x~(p) = y~(p) / c
    add/sub  y = 2^s0 a +- 2^s1 b:  y~(p) = 2^s0 a~(p) +- 2^s1 b~(p) (the prover sends a~(p))
    clip     y = x + lo (low - x) + hi (high - x) with the indicators lo = [x < low] and
             hi = [x > high] committed: (x, lo, hi) in {(v, [v < low], [v > high])} (one
             lookup; the table's extension from ``_below_at``), then
             y~(p) = sum_b eq(p, b) (x + lo (low - x) + hi (high - x))(b)      (degree 3);
             0 must lie in [low, high], so that padding stays 0
    f(x)     an elementwise function of the executor (``FUNCTION_KINDS``: sigmoid, tanh, erf,
             exp, expneg and the GELU and softplus residuals): y is committed (advice
             ``out:<y>``, so its claims are opened), and one lookup of
             x + beta y + beta^2 pad (pad: the public 0/1 indicator of axis padding, whose
             extension is 1 - prod_axes sum_{i < size} eq(r_axis, i)) in the table of
             v + beta f(v) over x's declared range and 2^bits entries beta^2: a real entry is
             a pair (v, f(v)), a padded one (0, 0) whatever f(0) is
    sumpool  global (each (C, H, W) map to (C, 1, 1)): a table's sum over m cube variables is
             2^m times its extension at (1/2, .., 1/2), so x~(rb, rc, 1/2, ..) = y~(rb, rc) / 2^m
    sumpool  windowed, and reducesum: a view of x (below) with one 0/1 matrix per axis, a
             pool's rows [q = p s + k - top, k < kernel] (zero padding reads nothing), a
             reduced axis one row of ones (0 bits), the others the identity (``_sum_view``)

Gathered views (``prover.sumcheck.wiring``). A view of x is ``V[b, k] = sum_q P(k, q) x[b, q]``
with ``P`` a product of one sparse matrix per axis; a claim ``V~(rb, r) = v`` reduces to x by

    v = sum_{b, q} eq(rb, b) P_r(q) x(b, q)                             (degree 2, ``_gather``)

where the verifier computes ``P_r~`` at the sumcheck's point from the wiring itself; several
claims about views of one x are combined with random coefficients into one such sumcheck.

    conv     (strides s, zero pads, group; ``Cg = C / group``, ``g(o) = o // (O / group)``,
             output claim at ``(rb, ro, rpy, rpx)``, ``E_y(rpy) = sum_{py < Py} eq(rpy, py)``)
             y~ - bias~(ro) E_y(rpy) E_x(rpx) = sum_{o, c', ky, kx} eq(ro, o) W(o, c', ky, kx) X(o, c', ky, kx)
             (degree 3 over the weight's bits; its claim joins the weight's), where X is the view
             X(o, c', ky, kx) = sum_{c, qy, qx} Ch(o, c', c) My(ky, qy) Mx(kx, qx) x(rb, c, qy, qx),
             Ch = [o < O][c' < Cg][c = g(o) Cg + c'],
             My(ky, qy) = sum_{py < Py} eq(rpy, py) [ky < KH][qy = py s + ky - pad_top] (Mx alike):
             only valid outputs and valid input positions appear, so padding is forced to zeros
    reshape  a relabelling when both padded layouts put every element at the same index;
             otherwise y is the view of x with the one matrix [q = position of y's k in x]
    moves    transpose, slice, gather, concat, pad, expand, tile (``MOVEMENT_KINDS``): the
             executor's own move applied to index arrays gives, per computed operand, the
             one-matrix view from the output's features to the operand's (a concat's
             coefficient 2^shift) and the mask of entries the pad fills with its constant c;
             a claim y~(rb, r) = v becomes v - c mask~(r) about the views, split into one
             share per operand (sent when there are several, adding up to the claim), each
             gathered into its operand
    maxpool  (window position j = (jy, jx), ``x_j`` the view x(b, c, py s + jy - top,
             px s + jx - left), zero outside x; ``out_j`` the public 0/1 mask of valid outputs
             whose window position j lies outside x, ``in_j = 1 - out_j``)
             D(j, b) = y(b) - x_j(b) + 2^(bits-1) out_j(b) in [0, 2^bits) for every j
             (one range lookup over the stacked differences, bits = x's declared bits: y and
             x_j are both in x's range, so the difference is in (-2^bits, 2^bits) and lies in
             the table iff y >= x_j; where j is outside x the offset makes any y pass), then
             y~(p) + mu lam^J = sum_b eq(p, b) sum_j sel_j x_j
                               + mu eq(t, b) sum_j ((lam^j + lam^J) sel_j - lam^j in_j sel_j^2)
             (degree 4; lam, mu and t drawn): y = sum_j sel_j x_j, and the zero-check of
             sel_j - in_j sel_j^2 (sel_j in {0, 1}, and 0 where j is outside x) and of
             sum_j sel_j - 1 (one-hot). So y is one of its window's values inside x and at least
             every other: the maximum. Every claim about the views x_j goes to x in one gather.

The lookups (``prover.sumcheck.lookup``) run before the walk, after the advice is committed
and before the output's point is drawn: every op's lookups in one batch, one lookup per table
(the range tables by their bounds, the relu and clip tables by theirs, with one beta combining
a tuple's parts for all of them). The claims they leave join those of the tensors they are
about, and are merged with them when the walk reaches those tensors.
Claims about the input are evaluated by the verifier; claims about weights and advice are
settled against their commitments at the end, all of them by one batch opening.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from prover import kernels
from prover.errors import UnsupportedModelError, VerificationError
from prover.field import FR_MODULUS, ints_to_limbs, limbs_to_ints, signed_to_fr
from prover.onnx.executor import execute
from prover.onnx.graph import Graph, Op, bound_of
from prover.sumcheck import commitment as pcs
from prover.sumcheck import wiring
from prover.sumcheck.batch_opening import BatchOpeningProof, prove_batch_opening, verify_batch_opening
from prover.sumcheck.lookup import (
    Lookup,
    LookupProof,
    MultiplicityClaim,
    prove_lookups,
    range_table,
    table_extension,
    verify_lookups,
)
from prover.sumcheck.mle import eq, eq_table, evaluate, fold, n_variables, scaled
from prover.sumcheck.protocol import SumcheckError, SumcheckProof, Term, degree, prove, summand, verify
from prover.sumcheck.transcript import Transcript
from prover.sumcheck.wiring import Wiring

R = FR_MODULUS
LABEL = "zkmarket/sumcheck/inference/v1"
# elementwise functions of one operand given by the executor (the transcendental tables of
# ``prover.onnx.ops.transcendental``), each proved by a lookup of (x, y) in the function's table
FUNCTION_KINDS = (
    "sigmoid",
    "tanh",
    "erf",
    "exp",
    "expneg",
    "gelu_residual",
    "gelu_tanh_residual",
    "softplus_residual",
)
# data movement other than reshape: every output value is one of the computed operands' (times
# 2^shift for a concat's) or the pad's fill, found by moving index arrays (``_movement``)
MOVEMENT_KINDS = ("transpose", "slice", "gather", "concat", "pad", "expand", "tile")
SUPPORTED_KINDS = (
    "dense",
    "conv",
    "rescale",
    "relu",
    "clip",
    "maxpool",
    "sumpool",
    "reducesum",
    "add",
    "sub",
    "mul",
    "reshape",
    *MOVEMENT_KINDS,
    *FUNCTION_KINDS,
)
# a relu's sign lookup has a table of 2^bits entries for its input's bits
MAX_LOOKUP_BITS = 20

PRODUCT = (Term(1, (0, 1)),)
WEIGHTED_PRODUCT = (Term(1, (0, 1, 2)),)


def _bits(n: int) -> int:
    return max(n - 1, 0).bit_length()


@dataclass(frozen=True)
class Layout:
    """A tensor's table: ``2^batch_bits`` samples, each over axes of ``2^axes[i]`` entries (the
    index bits ``[batch | axis 0 | axis 1 | ..]``)."""

    batch_bits: int
    axes: tuple[int, ...]

    @property
    def feature_bits(self) -> int:
        return sum(self.axes)

    @property
    def n(self) -> int:
        return self.batch_bits + self.feature_bits

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(1 << b for b in (self.batch_bits, *self.axes))


def _refuse(op: Op, why: str) -> UnsupportedModelError:
    return UnsupportedModelError(f"{op.kind} ({op.source}): {why}; use the Groth16 backend for this model")


def _check_lookup_bits(graph: Graph, op: Op, name: str, what: str, extra: int = 0) -> None:
    bits = graph.tensors[name].quantized_bits + extra
    if bits > MAX_LOOKUP_BITS:
        raise _refuse(
            op,
            f"{what} of a {bits}-bit tensor would need 2^{bits} entries (at most 2^{MAX_LOOKUP_BITS}); rescale first",
        )


def check_supported(graph: Graph) -> None:
    """UnsupportedModelError unless this step of the backend proves every op of the graph."""
    for op in graph.ops:
        if op.kind not in SUPPORTED_KINDS:
            raise UnsupportedModelError(
                f"op {op.kind} ({op.source}): the sumcheck backend proves {', '.join(SUPPORTED_KINDS)} so far; "
                "use the Groth16 backend for this model"
            )
        shapes = [graph.tensors[n].shape for n in op.inputs if n in graph.tensors]
        if op.kind == "relu":
            _check_lookup_bits(graph, op, op.inputs[0], "its sign lookup")
        elif (
            op.kind == "mul"
            and _scalar_factor(graph, op) is None
            and (len(shapes) != 2 or any(s != graph.tensors[op.output].shape for s in shapes))
        ):
            raise _refuse(op, "the sumcheck backend multiplies two computed tensors of one shape, or by one constant")
        elif op.kind in ("add", "sub") and (
            len(shapes) != 2 or any(s != graph.tensors[op.output].shape for s in shapes) or op.inputs[0] == op.inputs[1]
        ):
            raise _refuse(op, "the sumcheck backend adds two distinct computed tensors of one shape only")
        elif op.kind == "clip":
            _check_lookup_bits(graph, op, op.inputs[0], "its bounds' lookup")
            low, high = op.attrs.get("low"), op.attrs.get("high")
            if (low is not None and low > 0) or (high is not None and high < 0):
                raise _refuse(op, "a clip whose range excludes 0 (the padding's value)")
        elif op.kind == "sumpool" and len(shapes[0]) != 3:
            raise _refuse(op, f"the sumcheck backend pools (C, H, W) samples, not {shapes[0]}")
        elif op.kind in ("sumpool", "reducesum") and op.inputs[0] not in graph.tensors:
            raise _refuse(op, "the sumcheck backend sums computed tensors only (a constant operand)")
        elif op.kind in ("conv", "maxpool") and len(shapes[0]) != 3:
            raise _refuse(op, f"the sumcheck backend takes (C, H, W) samples, not {shapes[0]}")
        if op.kind == "conv" and tuple(op.attrs["dilations"]) != (1, 1):
            raise _refuse(op, f"dilations {tuple(op.attrs['dilations'])}: the sumcheck backend proves dilation 1")
        if op.kind in ("dense", "conv") and not all(graph.is_constant(n) for n in op.inputs[1:]):
            raise _refuse(op, "the sumcheck backend takes committed constant weights only")
        if op.kind == "maxpool":
            _check_lookup_bits(graph, op, op.inputs[0], "its comparisons' lookup")
        if op.kind in FUNCTION_KINDS:
            _check_lookup_bits(graph, op, op.inputs[0], "its table's lookup", extra=1)
        if op.kind in MOVEMENT_KINDS:
            if not all(n in graph.tensors for n in op.inputs):
                raise _refuse(op, "the sumcheck backend moves computed tensors only (a constant operand)")
            _movement(graph, op)  # UnsupportedModelError when the move does not fit its operands
    checked = [op for op in graph.ops if op.kind == "rescale"]
    for op in checked:
        _check_lookup_bits(graph, op, op.output, "a range check")


def layouts(graph: Graph, batch: int) -> dict[str, Layout]:
    return {name: Layout(_bits(batch), tuple(_bits(d) for d in t.shape)) for name, t in graph.tensors.items()}


def _padded(values: np.ndarray, shape: Sequence[int] | None = None) -> np.ndarray:
    """``values`` (int64) with zeros after each axis up to ``shape`` (powers of two if not given)."""
    shape = tuple(1 << _bits(d) for d in values.shape) if shape is None else tuple(shape)
    full = np.zeros(shape, dtype=np.int64)
    full[tuple(slice(0, d) for d in values.shape)] = values
    return full


def weight_tables(graph: Graph) -> dict[str, np.ndarray]:
    """Each dense and conv layer's weights and bias as tables (module docstring), by constant
    name."""
    tables: dict[str, np.ndarray] = {}
    for op in graph.ops:
        if op.kind not in ("dense", "conv"):
            continue
        for name in op.inputs[1:]:
            tables[name] = signed_to_fr(_padded(graph.constants[name].values))
    return tables


def weight_bits(graph: Graph) -> dict[str, int]:
    """Each weight table's number of variables (its padded size's log), from the shapes alone."""
    out: dict[str, int] = {}
    for op in graph.ops:
        if op.kind in ("dense", "conv"):
            for name in op.inputs[1:]:
                out[name] = sum(_bits(d) for d in graph.constants[name].values.shape)
    return out


# a committed table of more than 2^BLOCK_BITS values is committed as blocks of 2^BLOCK_BITS (by
# the top bits of its index), so that the key and the one opening of a proof are of that size,
# however large the model's weight matrices or a batch's activations
BLOCK_BITS = 20


def block_names(name: str, bits: int) -> list[str]:
    """The commitments of a committed table of ``2^bits`` values: itself, or ``name#b`` per block."""
    if bits <= BLOCK_BITS:
        return [name]
    return [f"{name}#{b}" for b in range(1 << (bits - BLOCK_BITS))]


def _blocks(table: np.ndarray) -> list[np.ndarray]:
    """A table's blocks in order (``block_names``)."""
    size = 1 << BLOCK_BITS
    if len(table) <= size:
        return [table]
    return [table[b : b + size] for b in range(0, len(table), size)]


def key_power(graph: Graph, batch: int) -> int:
    """The fewest G1 powers, as a power of two, that every table a proof of ``batch`` inputs
    commits needs: the weights, the advice (a tensor's size), the lookups' multiplicities (their
    tables' sizes)."""
    sizes = [len(t) for t in weight_tables(graph).values()]
    sizes += [1 << layout.n for layout in layouts(graph, batch).values()]
    sizes += [1 << graph.tensors[op.output].quantized_bits for op in graph.ops if op.kind == "rescale"]
    sizes += [1 << op.attrs["shift"] for op in graph.ops if op.kind == "rescale"]
    sizes += [
        1 << graph.tensors[op.inputs[0]].quantized_bits for op in graph.ops if op.kind in ("relu", "clip", "maxpool")
    ]
    sizes += [2 << graph.tensors[op.inputs[0]].quantized_bits for op in graph.ops if op.kind in FUNCTION_KINDS]
    return min(max(max(sizes) - 1, 1).bit_length(), BLOCK_BITS)


BLIND_LABEL = b"zkmarket/sumcheck/weight-blind/v1"
SEED_BYTES = 32


def weight_blinds(graph: Graph, seed: bytes | None) -> dict[str, int]:
    """Each weight commitment's blind, derived from the provider's secret ``seed`` (kept beside
    the weights): ``SHA-512(label || seed || name) mod r``, 512 bits so that the reduction is
    uniform to within 2^-258. Without a seed every blind is 0 and the commitments do not hide."""
    names = _weight_commitment_names(graph)
    if seed is None:
        return dict.fromkeys(names, 0)
    if len(seed) != SEED_BYTES:
        raise ValueError(f"a blinding seed is {SEED_BYTES} bytes, not {len(seed)}")
    return {
        name: int.from_bytes(hashlib.sha512(BLIND_LABEL + seed + name.encode()).digest(), "big") % R for name in names
    }


def commit_weights(key: pcs.CommitmentKey, graph: Graph, seed: bytes | None = None) -> dict[str, np.ndarray]:
    """The weights' commitments (one G1 point per dense or conv weight and bias, or per block
    of one larger than ``2^BLOCK_BITS``): the model's registration on this backend, hiding with
    the blinds of ``seed`` (``weight_blinds``)."""
    check_supported(graph)
    blinds = weight_blinds(graph, seed)
    out = {}
    for name, table in sorted(weight_tables(graph).items()):
        for block_name, block in zip(block_names(name, n_variables(len(table))), _blocks(table), strict=True):
            out[block_name] = pcs.commit(key, block, blinds[block_name])
    return out


def _weight_commitment_names(graph: Graph) -> list[str]:
    return sorted(b for name, bits in weight_bits(graph).items() for b in block_names(name, bits))


def _advice_commitment_names(graph: Graph, layout: dict[str, Layout]) -> list[str]:
    """The advice's commitments in order: each advice table's blocks (``block_names``)."""
    return [b for name in _advice_names(graph) for b in block_names(name, layout[name.split(":", 1)[1]].n)]


def _padded_batch(x: np.ndarray) -> np.ndarray:
    size = 1 << _bits(len(x))
    return np.concatenate([x, np.repeat(x[:1], size - len(x), axis=0)])


def _full(values: np.ndarray, layout: Layout) -> np.ndarray:
    """A batch of samples as its table's int64 matrix (one row a sample): axes padded with zeros."""
    return _padded(values, layout.shape).reshape(layout.shape[0], -1)


def _table(values: np.ndarray, layout: Layout) -> np.ndarray:
    return signed_to_fr(_full(values, layout))


@dataclass(frozen=True)
class InferenceProof:
    """The advice commitments (op order) and the walk's messages in order: tuples of field
    elements the prover sent, sumcheck proofs, lookup proofs and openings."""

    advice: tuple[np.ndarray, ...]
    messages: tuple[object, ...]


def io_commitments(graph: Graph, inputs: np.ndarray, outputs: np.ndarray, salts: Sequence[int]) -> list[int]:
    """Per sample its input commitment and its output commitment, ``[in_0, out_0, in_1, ..]``:
    the input's is the Groth16 backend's (``prover.circuit.statements.input_commitment``:
    Poseidon of the salt and the packed input), the output's Poseidon of the same salt and the
    outputs mod r (salted, unlike the Groth16 backend's, so that it hides them too). With a
    uniform salt both hide their values; each binds them (a value within its declared bits,
    which the verifier checks first, packs one to one)."""
    from prover import poseidon
    from prover.circuit.statements import input_commitment

    if len(salts) != len(inputs) or len(outputs) != len(inputs):
        raise ValueError(
            f"a batch of {len(inputs)} inputs takes as many outputs and salts, got {len(outputs)} and {len(salts)}"
        )
    if any(not isinstance(v, int) or not 0 <= v < R for v in salts):
        raise ValueError("a salt is a field element (0 <= salt < r)")
    out = []
    for x, y, salt in zip(inputs, outputs, salts, strict=True):
        out.append(input_commitment(graph, x, salt))
        out.append(poseidon.commit([salt] + [int(v) % R for v in np.asarray(y).ravel()]))
    return out


def _absorb_statement(t: Transcript, graph: Graph, weights: dict[str, np.ndarray], io: Sequence[int]) -> None:
    """The architecture, the batch size, the weights' commitments, and every sample's input and
    output commitments (``io_commitments``): the inputs and outputs themselves enter the
    statement only through those, which the wrapper of issue 16 takes as its public inputs."""
    from prover.circuit.statements import architecture_hash

    t.absorb([architecture_hash(graph), len(io) // 2])
    for name in sorted(weights):
        pcs.absorb_point(t, weights[name])
    t.absorb(io)


def _salts(salts: Sequence[int] | None, batch: int) -> list[int]:
    return [0] * batch if salts is None else [int(v) for v in salts]


def _advice_names(graph: Graph) -> list[str]:
    """The advice tables in commitment order: ``rem:<y>`` per rescale (shift > 0), ``sign:<y>``
    per relu, ``sel<j>:<y>`` per maxpool and window position j."""
    names = []
    for op in graph.ops:
        if op.kind == "rescale" and op.attrs["shift"] > 0:
            names.append(f"rem:{op.output}")
        elif op.kind == "relu":
            names.append(f"sign:{op.output}")
        elif op.kind == "clip":
            names += [f"{side}:{op.output}" for side in _clip_sides(op)]
        elif op.kind == "maxpool":
            kh, kw = op.attrs["kernel"]
            names += [f"sel{j}:{op.output}" for j in range(kh * kw)]
        elif op.kind in FUNCTION_KINDS:
            names.append(f"out:{op.output}")
    return names


class InferenceError(VerificationError):
    """An inference proof failed: the outputs are not the committed model's on the inputs."""


@dataclass
class _Walk:
    """One side of the walk; the reductions (``_reduce``) are written once over it. The prover
    computes what it sends (the callables it is given), the verifier reads it from the proof;
    both absorb it, so both transcripts go on alike."""

    graph: Graph
    layout: dict[str, Layout]
    transcript: Transcript
    claims: dict[str, list[tuple[tuple[int, ...], int]]] = field(default_factory=dict)
    # the lookups' multiplicity claims, settled with the others by the batch opening
    deferred: list[MultiplicityClaim] = field(default_factory=list)
    # what a max pool's lookup leaves for its reduction: the claims about its windows' views
    views: dict[str, list[tuple[tuple[Wiring, ...], tuple[int, ...], int]]] = field(default_factory=dict)

    def claim(self, name: str, point: Sequence[int], value: int) -> None:
        self.claims.setdefault(name, []).append((tuple(point), value % R))

    def layout_of(self, name: str) -> Layout:
        if name in self.layout:
            return self.layout[name]
        return self.layout[name.split(":", 1)[1]]  # advice has its tensor's layout

    def require(self, holds: bool, what: str) -> None:
        if not holds:
            raise SumcheckError(what)

    # what each side does differently
    def message(self, n: int, compute: Callable[[], Sequence[int]]) -> tuple[int, ...]:
        raise NotImplementedError

    def sumcheck(
        self, claim: int, n: int, terms: tuple[Term, ...], tables: Callable[[], list[np.ndarray]]
    ) -> tuple[tuple[int, ...], int, list[int]]:
        """Run a sumcheck: its point, the subclaim's value and (prover only) the tables' values
        at the point."""
        raise NotImplementedError

    def lookups(self, requests: list[list[_Request]]) -> list[list[tuple[tuple[int, ...], int]]]:
        """Run the lookups (one per list of requests sharing a table) in one batch: per
        request, the claim ``(point, value)`` it leaves about its witness."""
        raise NotImplementedError

    def table(self, name: str) -> np.ndarray:
        raise NotImplementedError  # the prover's only

    def openings(self, names: list[str], claims: list[list[tuple[tuple[int, ...], int]]]) -> None:
        """Settle every claim about the committed tables ``names`` and every deferred
        multiplicity claim against their commitments."""
        raise NotImplementedError


class _Prover(_Walk):
    def __init__(self, graph, layout, transcript, tables, key, blinds) -> None:
        super().__init__(graph, layout, transcript)
        self.tables = tables
        self.key = key
        self.blinds = blinds  # each committed table's (or block's) blind, by name
        self.messages: list[object] = []

    def message(self, n, compute):
        values = tuple(int(v) % R for v in compute())
        self.transcript.absorb(values)
        self.messages.append(values)
        return values

    def sumcheck(self, claim, n, terms, tables):
        proof, point, values = prove(tables(), terms, self.transcript)
        self.messages.append(proof)
        return point, summand(terms, values), values

    def lookups(self, requests):
        batch = [
            Lookup(rs[0].bits, tuple(r.n for r in rs), table=rs[0].entries(), witnesses=tuple(r.witness() for r in rs))
            for rs in requests
        ]
        proof, claims = prove_lookups(self.key, batch, self.transcript, deferred=self.deferred)
        self.messages.append(proof)
        return [[(c.point, c.value) for c in cs] for cs in claims]

    def table(self, name):
        return self.tables[name]

    def _committed(self, name: str) -> np.ndarray:
        """A committed table, or a block ``name#b`` of one."""
        if name in self.tables:
            return self.tables[name]
        base, block = name.rsplit("#", 1)
        return _blocks(self.tables[base])[int(block)]

    def openings(self, names, claims):
        tables = [self._committed(name) for name in names] + [m.table for m in self.deferred]
        blinds = [self.blinds[name] for name in names] + [m.blind for m in self.deferred]
        claims = claims + [[(m.point, m.value)] for m in self.deferred]
        self.messages.append(prove_batch_opening(self.key, tables, claims, self.transcript, blinds))


class _Verifier(_Walk):
    def __init__(self, graph, layout, transcript, messages, vk) -> None:
        super().__init__(graph, layout, transcript)
        self.messages = list(messages)
        self.vk = vk
        self.commitments: dict[str, np.ndarray] = {}

    def next(self, kind):
        if not self.messages:
            raise InferenceError("the proof ends early")
        item = self.messages.pop(0)
        if not isinstance(item, kind):
            raise InferenceError(f"the proof has a {type(item).__name__} where a {kind.__name__} belongs")
        return item

    def message(self, n, compute):
        values = self.next(tuple)
        if len(values) != n or any(not isinstance(v, int) or not 0 <= v < R for v in values):
            raise InferenceError(f"the proof sends {len(values)} values where {n} field elements belong")
        self.transcript.absorb(values)
        return values

    def sumcheck(self, claim, n, terms, tables):
        sub = verify(claim, n, degree(terms), self.next(SumcheckProof), self.transcript)
        return sub.point, sub.value, []

    def lookups(self, requests):
        batch = [Lookup(rs[0].bits, tuple(r.n for r in rs), rs[0].entries_at) for rs in requests]
        claims = verify_lookups(self.vk, batch, self.next(LookupProof), self.transcript, self.deferred)
        return [[(c.point, c.value) for c in cs] for cs in claims]

    def openings(self, names, claims):
        commitments = [self.commitments[name] for name in names] + [m.commitment for m in self.deferred]
        claims = claims + [[(m.point, m.value)] for m in self.deferred]
        sizes = [len(table_claims[0][0]) for table_claims in claims]
        proof = self.next(BatchOpeningProof)
        verify_batch_opening(self.vk, commitments, sizes, claims, proof, self.transcript)


@dataclass(frozen=True)
class _Linear:
    """A claim ``sum_x P(x) t(x) = value`` about a table t, with a predicate P that the prover
    tabulates and the verifier evaluates at a point."""

    table: Callable[[], np.ndarray]
    at: Callable[[Sequence[int]], int]
    value: int


def _combine(w: _Walk, name: str, claims: Sequence[_Linear], what: str) -> tuple[tuple[int, ...], int]:
    """One claim about ``name`` in place of linear ones: with c_k drawn (for more than one),
    ``sum_k c_k v_k = sum_x (sum_k c_k P_k(x)) name(x)`` by a sumcheck of degree 2, whose last
    step the verifier settles with the predicates at its point."""
    coefficients = w.transcript.challenges(len(claims)) if len(claims) > 1 else [1]

    def tables():
        weights = claims[0].table()
        if len(claims) > 1:
            weights = scaled(weights, coefficients[0])
        for c, k in zip(coefficients[1:], claims[1:], strict=True):
            weights = kernels.fr_add(weights, scaled(k.table(), c))
        return [weights, w.table(name)]

    total = sum(c * k.value for c, k in zip(coefficients, claims, strict=True)) % R
    point, final, values = w.sumcheck(total, w.layout_of(name).n, PRODUCT, tables)
    (value,) = w.message(1, lambda: values[1:])
    weight = sum(c * k.at(point) for c, k in zip(coefficients, claims, strict=True)) % R
    w.require(weight * value % R == final, f"{what}: the value of {name!r} does not fit the sumcheck")
    return point, value


def _at_point(point: tuple[int, ...], value: int) -> _Linear:
    """``name~(point) = value`` as a linear claim: the predicate ``eq(point, x)``."""
    return _Linear(lambda: eq_table(point), lambda rho: eq(point, rho), value)


def _merge(w: _Walk, name: str) -> tuple[tuple[int, ...], int]:
    """One claim about ``name`` in place of all of them (``_combine`` of ``eq(p_k, x)``)."""
    claims = w.claims.pop(name)
    if len(claims) == 1:
        return claims[0]
    return _combine(w, name, [_at_point(p, v) for p, v in claims], f"merging the claims about {name!r}")


def _of_view(axes: tuple[Wiring, ...], batch_bits: int, point: tuple[int, ...], value: int) -> _Linear:
    """``V~(rb, r) = value`` about a view of the source (``prover.sumcheck.wiring``) as a linear
    claim about the source: the predicate ``eq(rb, b) P_r(q)``."""
    rb, r = point[:batch_bits], point[batch_bits:]
    return _Linear(
        lambda: wiring.outer(eq_table(rb), wiring.predicate_table(axes, r)),
        lambda rho: eq(rb, rho[:batch_bits]) * wiring.predicate_at(axes, r, rho[batch_bits:]) % R,
        value,
    )


def _gather(
    w: _Walk, source: str, claims: Sequence[tuple[tuple[Wiring, ...], tuple[int, ...], int]], what: str
) -> None:
    """Claims ``(axes, point, value)`` about gathered views of ``source`` (module docstring):
    one claim about the source in their place."""
    kb = w.layout[source].batch_bits
    point, value = _combine(w, source, [_of_view(axes, kb, p, v) for axes, p, v in claims], what)
    w.claim(source, point, value)


@dataclass(frozen=True)
class _Request:
    """A lookup an op needs: its witness (``2^n`` values) in a table of ``2^bits`` entries
    (``entries`` the prover's, ``entries_at`` its extension, the verifier's), and what becomes
    of the claim it leaves about the witness (``settle(w, point, value)``). Requests with the
    same ``table`` (the table's identity) share one lookup."""

    table: tuple
    bits: int
    n: int
    witness: Callable[[], np.ndarray]
    entries: Callable[[], np.ndarray]
    entries_at: Callable[[Sequence[int]], int]
    settle: Callable[[_Walk, tuple[int, ...], int], None]


def _parts_request(w: _Walk, table: tuple, bits: int, parts, entries, entries_at, what: str) -> _Request:
    """A request whose witness is ``sum_j c_j part_j`` over tables of one layout (``parts``:
    ``(name, c_j)``, the first with c = 1): its claim becomes claims about the parts, whose
    values the prover sends when there are more than one."""
    names = [name for name, _ in parts]

    def witness():
        out = w.table(names[0])
        for name, c in parts[1:]:
            out = kernels.fr_add(out, scaled(w.table(name), c))
        return out

    def settle(w: _Walk, point, value):
        if len(parts) == 1:
            w.claim(names[0], point, value)
            return
        sent = w.message(len(parts), lambda: [evaluate(w.table(n), point) for n in names])
        combined = sum(c * v for (_, c), v in zip(parts, sent, strict=True)) % R
        w.require(combined == value, f"{what}: the lookup's claim does not split into its parts")
        for name, v in zip(names, sent, strict=True):
            w.claim(name, point, v)

    return _Request(table, bits, w.layout_of(names[0]).n, witness, entries, entries_at, settle)


def _range(w: _Walk, name: str, lo: int, bits: int) -> _Request:
    """A range check of ``name``'s values; its claim joins ``name``'s."""
    return _parts_request(
        w,
        ("range", lo, bits),
        bits,
        [(name, 1)],
        lambda: range_table(lo, bits),
        lambda pt: table_extension(lo, bits, pt),
        f"the range check of {name!r}",
    )


def _requests(w: _Walk, op: Op, beta: int) -> list[_Request]:
    """The lookups ``op`` needs (``beta`` combines a tuple's parts into one value)."""
    y = op.output
    if op.kind == "rescale":
        out = []
        if y != w.graph.output:  # the output is public: the verifier reads its range
            bits = w.graph.tensors[y].quantized_bits
            out.append(_range(w, y, bound_of(bits)[0], bits))
        if op.attrs["shift"] > 0:
            out.append(_range(w, f"rem:{y}", 0, op.attrs["shift"]))
        return out
    if op.kind == "relu":
        bits = w.graph.tensors[op.inputs[0]].quantized_bits
        return [
            _parts_request(
                w,
                ("sign", bits),
                bits,
                [(op.inputs[0], 1), (f"sign:{y}", beta)],
                lambda: _sign_table(bits, beta),
                lambda pt: _sign_table_at(bits, beta, pt),
                f"relu ({op.source})",
            )
        ]
    if op.kind == "clip":
        bits = w.graph.tensors[op.inputs[0]].quantized_bits
        parts = [(op.inputs[0], 1)] + [(f"{side}:{y}", pow(beta, k, R)) for k, side in enumerate(_clip_sides(op), 1)]
        return [
            _parts_request(
                w,
                ("clip", bits, op.attrs.get("low"), op.attrs.get("high")),
                bits,
                parts,
                lambda: _clip_table(op, bits, beta),
                lambda pt: _clip_table_at(op, bits, beta, pt),
                f"clip ({op.source})",
            )
        ]
    if op.kind == "maxpool":
        return [_pool_request(w, op)]
    if op.kind in FUNCTION_KINDS:
        return [_function_request(w, op, beta)]
    return []


def _function_values(op: Op, bits: int) -> np.ndarray:
    """``f(v)`` for every v of the operand's declared range, lowest first: the executor's own
    function, so that the table is what the executor computes."""
    from prover.onnx.ops import REGISTRY

    lo, hi = bound_of(bits)
    v = np.arange(lo, hi + 1, dtype=np.int64)
    return np.asarray(REGISTRY[op.kind].execute(v, **op.attrs), dtype=np.int64).reshape(-1)


def _function_table(op: Op, bits: int, beta: int) -> np.ndarray:
    """The table of an elementwise function: ``v + beta f(v)`` for the operand's 2^bits values,
    then 2^bits entries ``beta^2`` (the padding's, whatever f(0) is)."""
    lo, _ = bound_of(bits)
    head = kernels.fr_add(range_table(lo, bits), scaled(signed_to_fr(_function_values(op, bits)), beta))
    tail = np.broadcast_to(ints_to_limbs([beta * beta % R]), head.shape)
    return np.concatenate([head, tail])


def _function_table_at(op: Op, bits: int, beta: int, point: Sequence[int]) -> int:
    """The table's extension: ``(1 - t_0) (ext(v) + beta f~(t')) + t_0 beta^2`` at ``(t_0, t')``."""
    lo, _ = bound_of(bits)
    head, rest = point[0], point[1:]
    inside = table_extension(lo, bits, rest) + beta * evaluate(signed_to_fr(_function_values(op, bits)), rest)
    return ((1 - head) * inside + head * beta * beta) % R


def _padding(layout: Layout, shape: tuple[int, ...]) -> np.ndarray:
    """The 0/1 table of a tensor's axis padding (1 where any axis index is past its size; the
    batch's padding holds genuine runs, so it is not padding here)."""
    inside = np.ones((1 << layout.batch_bits,), dtype=bool)
    for bits, size in zip(layout.axes, shape, strict=True):
        inside = np.logical_and.outer(inside, np.arange(1 << bits) < size)
    return signed_to_fr((~inside).astype(np.int64).reshape(-1))


def _padding_at(layout: Layout, shape: tuple[int, ...], point: Sequence[int]) -> int:
    """The padding table's extension: 1 minus the product over the axes of ``sum_{i < size}
    eq(r_axis, i)``."""
    inside, at = 1, layout.batch_bits
    for bits, size in zip(layout.axes, shape, strict=True):
        inside = inside * _eq_sum(point[at : at + bits], size) % R
        at += bits
    return (1 - inside) % R


def _function_request(w: _Walk, op: Op, beta: int) -> _Request:
    """``y = f(x)`` elementwise with y committed (``out:<y>``): the lookup of ``x + beta y +
    beta^2 pad`` (pad: the public padding indicator) in ``_function_table``. Real entries must
    be pairs (v, f(v)); padded ones are (0, 0), whatever f(0) is, so that y's padding stays 0."""
    x, y = op.inputs[0], op.output
    bits = w.graph.tensors[x].quantized_bits
    layout, shape = w.layout[x], w.graph.tensors[x].shape
    square = beta * beta % R

    def witness():
        parts = kernels.fr_add(w.table(x), scaled(w.table(f"out:{y}"), beta))
        return kernels.fr_add(parts, scaled(_padding(layout, shape), square))

    def settle(w: _Walk, point, value):
        xv, yv = w.message(2, lambda: [evaluate(w.table(x), point), evaluate(w.table(f"out:{y}"), point)])
        pad = _padding_at(layout, shape, point)
        w.require(
            (xv + beta * yv + square * pad) % R == value,
            f"{op.kind} ({op.source}): the lookup's claim does not split into the input and output",
        )
        w.claim(x, point, xv)
        w.claim(f"out:{y}", point, yv)

    return _Request(
        ("function", y),
        bits + 1,
        layout.n,
        witness,
        lambda: _function_table(op, bits, beta),
        lambda pt: _function_table_at(op, bits, beta, pt),
        settle,
    )


def _lookups(w: _Walk) -> None:
    """Every op's lookups, before the walk, in one batch (``prover.sumcheck.lookup``): the
    requests of one table share its lookup, and the claims they leave join those of the
    tensors they are about, settled when the walk reaches them."""
    beta = w.transcript.challenge()
    groups: dict[tuple, list[_Request]] = {}
    for op in w.graph.ops:
        for r in _requests(w, op, beta):
            groups.setdefault(r.table, []).append(r)
    if not groups:
        return
    for rs, claims in zip(groups.values(), w.lookups(list(groups.values())), strict=True):
        for r, (point, value) in zip(rs, claims, strict=True):
            r.settle(w, point, value)


def _product(w: _Walk, point, value: int, a: str, b: str, what: str) -> None:
    """``value = sum_x eq(point, x) a(x) b(x)``: claims about a and b at the sumcheck's point."""
    n = len(point)
    rho, final, values = w.sumcheck(value, n, WEIGHTED_PRODUCT, lambda: [eq_table(point), w.table(a), w.table(b)])
    a_val, b_val = w.message(2, lambda: values[1:])
    w.require(eq(point, rho) * a_val * b_val % R == final, f"{what}: the operands do not fit the sumcheck")
    w.claim(a, rho, a_val)
    w.claim(b, rho, b_val)


def _reduce(w: _Walk, op: Op) -> None:
    """Turn the claims about ``op``'s output into claims about its operands (module docstring)."""
    y = op.output
    if op.kind == "rescale":
        shift = op.attrs["shift"]
        point, value = _merge(w, y)
        if shift == 0:
            w.claim(op.inputs[0], point, value)
            return
        (rem,) = w.message(1, lambda: [evaluate(w.table(f"rem:{y}"), point)])
        w.claim(f"rem:{y}", point, rem)
        w.claim(op.inputs[0], point, (value << shift) + rem)
    elif op.kind == "relu":
        x, sign = op.inputs[0], f"sign:{y}"
        point, value = _merge(w, y)
        _product(w, point, value, sign, x, f"relu ({op.source})")
    elif op.kind == "mul":
        point, value = _merge(w, y)
        factor = _scalar_factor(w.graph, op)
        if factor is None:
            _product(w, point, value, op.inputs[0], op.inputs[1], f"mul ({op.source})")
        else:
            x, c = factor
            if c % R:
                w.claim(x, point, value * pow(c % R, -1, R))
            else:  # by zero: the output is all zeros, whatever x is
                w.require(value % R == 0, f"mul ({op.source}) by zero: the output is not zero")
    elif op.kind in ("add", "sub"):
        _add(w, op)
    elif op.kind == "clip":
        _clip(w, op)
    elif op.kind == "reducesum" or (op.kind == "sumpool" and not _is_global(w.graph, op)):
        axes = _sum_view(w.graph, op)
        _gather(w, op.inputs[0], [(axes, p, v) for p, v in w.claims.pop(y)], f"{op.kind} ({op.source})")
    elif op.kind == "sumpool":
        x = op.inputs[0]
        point, value = _merge(w, y)
        head = w.layout[x].batch_bits + w.layout[x].axes[0]  # batch and channel: the output's own bits
        spatial = w.layout[x].n - head
        # a multilinear table's sum over the cube is 2^m times its value at (1/2, .., 1/2)
        w.claim(x, (*point[:head], *[INVERSE_TWO] * spatial), value * pow(INVERSE_TWO, spatial, R))
    elif op.kind == "dense":
        x, weight = op.inputs[0], op.inputs[1]
        point, value = _merge(w, y)
        ly = w.layout[y]
        kb = ly.n - ly.axes[-1]  # the batch and every sample axis but the last
        rb, ro = point[:kb], point[kb:]
        if len(op.inputs) > 2:
            bias_name = op.inputs[2]
            (bias,) = w.message(1, lambda: [evaluate(w.table(bias_name), ro)])
            w.claim(bias_name, ro, bias)
            # the bias is added at the real positions of the leading sample axes only
            inside, at = 1, ly.batch_bits
            for bits, size in zip(ly.axes[:-1], w.graph.tensors[y].shape[:-1], strict=True):
                inside = inside * _eq_sum(point[at : at + bits], size) % R
                at += bits
            value = (value - bias * inside) % R

        def tables():
            rows, cols = w.table(x), w.table(weight)
            for r in rb:
                rows = fold(rows, r)
            for r in ro:
                cols = fold(cols, r)
            return [rows, cols]

        rho, final, values = w.sumcheck(value, w.layout[x].axes[-1], PRODUCT, tables)
        x_val, w_val = w.message(2, lambda: values)
        w.require(
            x_val * w_val % R == final, f"dense ({op.source}): the input and weight values do not fit the sumcheck"
        )
        w.claim(x, (*rb, *rho), x_val)
        w.claim(weight, (*ro, *rho), w_val)
    elif op.kind == "conv":
        _conv(w, op)
    elif op.kind == "maxpool":
        _maxpool(w, op)
    elif op.kind in FUNCTION_KINDS:  # y is committed: its claims are opened, the lookup ties it to x
        for p, v in w.claims.pop(y, []):
            w.claim(f"out:{y}", p, v)
    elif op.kind in MOVEMENT_KINDS:
        _move(w, op)
    elif op.kind == "reshape":
        x = op.inputs[0]
        moved = _reshape_wiring(w.graph, op)
        claims = w.claims.pop(y)
        if moved is None:
            for p, v in claims:
                w.claim(x, p, v)
        else:
            _gather(w, x, [((moved,), p, v) for p, v in claims], f"reshape ({op.source})")


INVERSE_TWO = pow(2, -1, R)


def _identity(size: int) -> Wiring:
    b = _bits(size)
    return Wiring(b, b, tuple((i, i, 1) for i in range(size)))


def _sum_view(graph: Graph, op: Op) -> tuple[Wiring, ...]:
    """A windowed sum pool or a reducesum as a view of its operand, one 0/1 matrix per axis: a
    pool's rows ``[q = p s + k - top, k < kernel]`` (zero padding reads nothing), a reduced
    axis one row of ones (0 bits: its output axis has one entry or none), the others the
    identity."""
    shape = graph.tensors[op.inputs[0]].shape
    if op.kind == "sumpool":
        (channels, height, width), (_, out_h, out_w) = shape, graph.tensors[op.output].shape
        (kh, kw), (sh, sw), (top, left) = op.attrs["kernel"], op.attrs["strides"], op.attrs["pads"][:2]
        rows = wiring.window_positions(out_h, kh, sh, top, height)
        cols = wiring.window_positions(out_w, kw, sw, left, width)
        return (
            _identity(channels),
            Wiring(_bits(out_h), _bits(height), tuple((p, q, 1) for p, _, q in rows)),
            Wiring(_bits(out_w), _bits(width), tuple((p, q, 1) for p, _, q in cols)),
        )
    reduced = {a % len(shape) for a in op.attrs["axes"]}
    return tuple(
        Wiring(0, _bits(d), tuple((0, q, 1) for q in range(d))) if a in reduced else _identity(d)
        for a, d in enumerate(shape)
    )


def _scalar_factor(graph: Graph, op: Op) -> tuple[str, int] | None:
    """``(x, c)`` for a ``mul`` of a computed tensor by one public constant (a mean's factor),
    else None."""
    if op.kind != "mul" or len(op.inputs) != 2:
        return None
    for x, c in (op.inputs, op.inputs[::-1]):
        if x in graph.tensors and c in graph.constants and graph.constants[c].values.size == 1:
            return x, int(graph.constants[c].values.reshape(-1)[0])
    return None


def _is_global(graph: Graph, op: Op) -> bool:
    """A sum pool over each whole (C, H, W) feature map, to (C, 1, 1)."""
    shape = graph.tensors[op.inputs[0]].shape
    return (
        len(shape) == 3
        and tuple(op.attrs["kernel"]) == tuple(shape[1:])
        and not any(op.attrs.get("pads", ()))
        and graph.tensors[op.output].shape == (shape[0], 1, 1)
    )


def _add(w: _Walk, op: Op) -> None:
    """``y = 2^s0 a + sign 2^s1 b`` element-wise, so ``y~(p) = 2^s0 a~(p) + sign 2^s1 b~(p)``:
    the prover sends ``a~(p)`` and b's value follows."""
    a, b = op.inputs
    s0, s1 = op.attrs.get("shifts", (0, 0))
    sign = 1 if op.kind == "add" else -1
    point, value = _merge(w, op.output)
    (a_val,) = w.message(1, lambda: [evaluate(w.table(a), point)])
    w.claim(a, point, a_val)
    w.claim(b, point, (value - (a_val << s0)) * pow(sign * (1 << s1) % R, -1, R))


def _clip_sides(op: Op) -> list[str]:
    return [side for side in ("low", "high") if op.attrs.get(side) is not None]


def _below_at(bits: int, c: int, point: Sequence[int]) -> int:
    """The extension of ``[j < c]`` over ``j < 2^bits`` (variable 0 the top bit of j): the sum
    over the bits i where c has a 1 of ``(1 - x_i) prod_{k < i} eq(x_k, c_k)``."""
    if c <= 0:
        return 0
    if c >= 1 << bits:
        return 1
    total, prefix = 0, 1
    for i, x in enumerate(point):
        bit = (c >> (bits - 1 - i)) & 1
        if bit:
            total = (total + prefix * (1 - x)) % R
        prefix = prefix * (x if bit else 1 - x) % R
    return total


def _clip_tables(op: Op, x: np.ndarray) -> dict[str, np.ndarray]:
    """The clip's advice from its (padded) input: ``low:<y>`` = [x < low], ``high:<y>`` = [x > high]."""
    out = {}
    for side in _clip_sides(op):
        bound = op.attrs[side]
        out[f"{side}:{op.output}"] = signed_to_fr((x < bound if side == "low" else x > bound).astype(np.int64))
    return out


def _clip_table(op: Op, bits: int, beta: int) -> np.ndarray:
    """The triples ``(v, [v < low], [v > high])`` over a ``bits``-bit range, as
    ``v + beta [v < low] + beta^2 [v > high]`` (a side without its bound left out)."""
    lo, _ = bound_of(bits)
    v = np.arange(lo, lo + (1 << bits), dtype=np.int64)
    out = signed_to_fr(v)
    for k, side in enumerate(_clip_sides(op), start=1):
        bound = op.attrs[side]
        indicator = (v < bound) if side == "low" else (v > bound)
        out = kernels.fr_add(out, scaled(signed_to_fr(indicator.astype(np.int64)), pow(beta, k, R)))
    return out


def _clip_table_at(op: Op, bits: int, beta: int, point: Sequence[int]) -> int:
    lo, _ = bound_of(bits)
    total = table_extension(lo, bits, point)
    for k, side in enumerate(_clip_sides(op), start=1):
        bound = op.attrs[side] - lo  # as an index j = v - lo
        indicator = _below_at(bits, bound, point) if side == "low" else 1 - _below_at(bits, bound + 1, point)
        total += pow(beta, k, R) * indicator
    return total % R


def _clip(w: _Walk, op: Op) -> None:
    """``y = x + [x < low] (low - x) + [x > high] (high - x)`` with the indicators committed: a
    lookup of ``(x, [x < low], [x > high])`` in the table of every ``bits``-bit value's triple,
    then a degree-3 sumcheck of ``y~(p) = sum_b eq(p, b) (x + below (low - x) + above (high - x))``."""
    x, y = op.inputs[0], op.output
    sides = _clip_sides(op)
    names = [f"{side}:{y}" for side in sides]
    point, value = _merge(w, y)
    # tables: eq, x, then each indicator; terms eq x + sum_side (bound eq ind - eq ind x)
    terms = [Term(1, (0, 1))]
    for k, side in enumerate(sides, start=2):
        terms += [Term(op.attrs[side] % R, (0, k)), Term(R - 1, (0, k, 1))]
    rho, final, values = w.sumcheck(
        value, len(point), tuple(terms), lambda: [eq_table(point), w.table(x), *(w.table(n) for n in names)]
    )
    sent = w.message(1 + len(names), lambda: values[1:])
    w.require(
        summand(tuple(terms), [eq(point, rho), *sent]) == final,
        f"clip ({op.source}): the input and its indicators do not fit the sumcheck",
    )
    for name, v in zip((x, *names), sent, strict=True):
        w.claim(name, rho, v)


def _positions(shape: tuple[int, ...]) -> np.ndarray:
    """Each element's index (C order) in its padded table."""
    padded = tuple(1 << _bits(d) for d in shape)
    return np.asarray(np.ravel_multi_index(np.indices(shape).reshape(len(shape), -1), padded))


def _reshape_wiring(graph: Graph, op: Op) -> Wiring | None:
    """None when the reshape's padded layouts put every element at one index (a relabelling),
    otherwise the one-axis wiring from each output element's index to its input's."""
    x_shape, y_shape = graph.tensors[op.inputs[0]].shape, graph.tensors[op.output].shape
    px, py = _positions(x_shape), _positions(y_shape)
    x_bits, y_bits = sum(_bits(d) for d in x_shape), sum(_bits(d) for d in y_shape)
    if x_bits == y_bits and np.array_equal(px, py):
        return None
    return Wiring(y_bits, x_bits, tuple((int(k), int(q), 1) for k, q in zip(py, px, strict=True)))


@dataclass(frozen=True)
class _Movement:
    """A move's wiring: per computed operand ``(name, wiring)`` from the output's feature index
    to the operand's (coefficient 2^shift), and the 0/1 mask (over the output's padded feature
    index) of the entries filled with the constant ``fill``."""

    sources: tuple[tuple[str, Wiring], ...]
    filled: np.ndarray
    fill: int


def _movement(graph: Graph, op: Op) -> _Movement:
    """The executor's own move applied to index arrays (operand j's elements numbered from
    ``offset_j + 1``, the fill a number past them all), as the Groth16 lowering does, so that
    the wiring cannot disagree with the executor."""
    from prover.onnx.ops import REGISTRY

    attrs = {k: v for k, v in op.attrs.items() if k != "shifts"}
    shifts = op.attrs.get("shifts") or (0,) * len(op.inputs)
    shapes = [graph.tensors[n].shape for n in op.inputs]
    arrays, offset = [], 1
    for shape in shapes:
        size = int(np.prod(shape, dtype=np.int64))
        arrays.append(np.arange(offset, offset + size, dtype=np.int64).reshape((1, *shape)))
        offset += size
    sentinel = offset
    fill = int(attrs.get("value", 0)) if attrs.get("mode", "constant") == "constant" else 0
    if "value" in attrs:
        attrs["value"] = sentinel
    y_shape = graph.tensors[op.output].shape
    try:
        index = np.asarray(REGISTRY[op.kind].execute(*arrays, **attrs))[0]
    except (ValueError, IndexError, TypeError, KeyError) as exc:
        raise _refuse(op, f"its attributes do not fit its operands ({exc})") from exc
    if index.shape != y_shape:
        raise _refuse(op, f"the move makes shape {index.shape}, the graph declares {y_shape}")
    flat = index.reshape(-1)
    py = _positions(y_shape)
    y_bits = sum(_bits(d) for d in y_shape)
    filled = np.zeros(1 << y_bits, dtype=np.int64)
    filled[py[flat == sentinel]] = 1
    sources, start = [], 1
    for name, shape, shift in zip(op.inputs, shapes, shifts, strict=True):
        size = int(np.prod(shape, dtype=np.int64))
        mine = (flat >= start) & (flat < start + size)
        px = _positions(shape)[flat[mine] - start]
        entries = tuple((int(k), int(q), 1 << int(shift)) for k, q in zip(py[mine], px, strict=True))
        sources.append((name, Wiring(y_bits, sum(_bits(d) for d in shape), entries)))
        start += size
    return _Movement(tuple(sources), filled, fill)


def _view_table(w: _Walk, source: str, moved: Wiring, layout: Layout) -> np.ndarray:
    """The prover's table of one operand's share of a move: ``V[b, k] = sum_q M[k, q] x[b, q]``."""
    view = np.zeros((1 << layout.batch_bits, 1 << moved.k_bits, 4), dtype=np.uint64)
    if not moved.entries:
        return view.reshape(-1, 4)
    ks, qs, coefficients = (np.array(v, dtype=np.int64) for v in zip(*moved.entries, strict=True))
    view[:, ks] = w.table(source).reshape(1 << layout.batch_bits, -1, 4)[:, qs]
    out = view.reshape(-1, 4)
    return out if coefficients[0] == 1 else scaled(out, int(coefficients[0]))  # one 2^shift per operand


def _shares(w: _Walk, move: _Movement, layout: Layout, point: Sequence[int]) -> list[int]:
    return [evaluate(_view_table(w, name, moved, layout), point) for name, moved in move.sources]


def _move(w: _Walk, op: Op) -> None:
    """A move's claims: the fill's share subtracted (its extension is the mask's over the
    features: the same in every sample), then per operand its share (sent when there are several,
    adding up to the claim), each a claim about a view of the operand, gathered per operand."""
    move = _movement(w.graph, op)
    y = op.output
    layout = w.layout[y]
    kb = layout.batch_bits
    what = f"{op.kind} ({op.source})"
    per_source: dict[str, list[tuple[tuple[Wiring, ...], tuple[int, ...], int]]] = {}
    for point, value in w.claims.pop(y, []):
        if move.fill % R and move.filled.any():
            value = (value - move.fill * evaluate(signed_to_fr(move.filled), point[kb:])) % R
        if len(move.sources) == 1:
            shares: Sequence[int] = (value,)
        else:
            shares = w.message(len(move.sources), partial(_shares, w, move, layout, point))
            w.require(sum(shares) % R == value, f"{what}: the operands' shares do not add up to the claim")
        for (name, moved), share in zip(move.sources, shares, strict=True):
            per_source.setdefault(name, []).append(((moved,), tuple(point), share))
    for name, claims in per_source.items():
        _gather(w, name, claims, what)


def _eq_sum(point: Sequence[int], n: int) -> int:
    """``sum_{i < n} eq(point, i)``: the extension of the indicator of the first n indexes."""
    return sum(limbs_to_ints(eq_table(point))[:n]) % R


def _conv_view(graph: Graph, op: Op, rpy: Sequence[int], rpx: Sequence[int]) -> tuple[Wiring, Wiring, Wiring]:
    """The view ``X(o, c', ky, kx)`` of the conv's input at the output rows' and columns' points
    (module docstring): the channel wiring Ch and the rows' and columns' My, Mx."""
    (channels, height, width), (_, out_h, out_w) = graph.tensors[op.inputs[0]].shape, graph.tensors[op.output].shape
    o_n, cg, kh, kw = graph.constants[op.inputs[1]].values.shape
    per_group = o_n // op.attrs["group"]
    (sh, sw), (top, left) = op.attrs["strides"], op.attrs["pads"][:2]
    cgb = _bits(cg)
    channel = Wiring(
        _bits(o_n) + cgb,
        _bits(channels),
        tuple(((o << cgb) | c, (o // per_group) * cg + c, 1) for o in range(o_n) for c in range(cg)),
    )
    axes = []
    for r, kernel, stride, pad, n_out, size in ((rpy, kh, sh, top, out_h, height), (rpx, kw, sw, left, out_w, width)):
        e = limbs_to_ints(eq_table(r))
        entries = tuple((k, q, e[p]) for p, k, q in wiring.window_positions(n_out, kernel, stride, pad, size))
        axes.append(Wiring(_bits(kernel), _bits(size), entries))
    return channel, axes[0], axes[1]


def _conv(w: _Walk, op: Op) -> None:
    """A conv's output claim: the weighted sum over the weight's bits, then the view X to x."""
    y, x, weight = op.output, op.inputs[0], op.inputs[1]
    _, out_h, out_w = w.graph.tensors[y].shape
    point, value = _merge(w, y)
    ly = w.layout[y]
    rb, ro, rpy, rpx = wiring.split(point, (ly.batch_bits, *ly.axes))
    if len(op.inputs) > 2:
        bias_name = op.inputs[2]
        (bias,) = w.message(1, lambda: [evaluate(w.table(bias_name), ro)])
        w.claim(bias_name, ro, bias)
        value = (value - bias * _eq_sum(rpy, out_h) * _eq_sum(rpx, out_w)) % R
    view = _conv_view(w.graph, op, rpy, rpx)
    n = sum(_bits(d) for d in w.graph.constants[weight].values.shape)

    def tables():
        rows = w.table(x)
        for r in rb:
            rows = fold(rows, r)
        return [np.repeat(eq_table(ro), 1 << (n - len(ro)), axis=0), w.table(weight), wiring.apply(view, rows)]

    rho, final, values = w.sumcheck(value, n, WEIGHTED_PRODUCT, tables)
    w_val, x_val = w.message(2, lambda: values[1:])
    w.require(
        eq(ro, rho[: len(ro)]) * w_val * x_val % R == final,
        f"conv ({op.source}): the weight and input values do not fit the sumcheck",
    )
    w.claim(weight, rho, w_val)
    _gather(w, x, [(view, (*rb, *rho), x_val)], f"conv ({op.source})")


@dataclass(frozen=True)
class _Window:
    """A max pool's window position j: the view ``x_j`` and the factors of its mask
    ``out_j = valid_c (valid_y valid_x - inside_y inside_x)`` (0/1 vectors over y's axes)."""

    view: tuple[Wiring, Wiring, Wiring]
    valid: tuple[np.ndarray, np.ndarray, np.ndarray]
    inside: tuple[np.ndarray, np.ndarray]

    def outside_table(self) -> np.ndarray:
        vc, vy, vx = self.valid
        iy, ix = self.inside
        return np.einsum("c,yx->cyx", vc, np.outer(vy, vx) - np.outer(iy, ix)).reshape(-1)

    def outside_at(self, point: Sequence[int]) -> int:
        """``out_j~`` at a point over y's sample bits."""
        rc, ry, rx = wiring.split(point, [_bits(len(v)) for v in self.valid])
        vc, vy, vx = (evaluate(v, r) for v, r in zip(self.valid, (rc, ry, rx), strict=True))
        iy, ix = (evaluate(v, r) for v, r in zip(self.inside, (ry, rx), strict=True))
        return vc * (vy * vx - iy * ix) % R


def _windows(graph: Graph, op: Op) -> list[_Window]:
    """The max pool's window positions, row-major (module docstring)."""
    (channels, height, width), (_, out_h, out_w) = graph.tensors[op.inputs[0]].shape, graph.tensors[op.output].shape
    (kh, kw), (sh, sw), (top, left) = op.attrs["kernel"], op.attrs["strides"], op.attrs["pads"][:2]
    cb = _bits(channels)
    channel = Wiring(cb, cb, tuple((c, c, 1) for c in range(channels)))
    rows = wiring.window_positions(out_h, kh, sh, top, height)
    cols = wiring.window_positions(out_w, kw, sw, left, width)
    vc, vy, vx = ((np.arange(1 << _bits(d)) < d).astype(np.int64) for d in (channels, out_h, out_w))
    out = []
    for jy in range(kh):
        for jx in range(kw):
            axes, inside = [], []
            for positions, j, n_out, size in ((rows, jy, out_h, height), (cols, jx, out_w, width)):
                entries = tuple((p, q, 1) for p, k, q in positions if k == j)
                mask = np.zeros(1 << _bits(n_out), dtype=np.int64)
                mask[[p for p, _, _ in entries]] = 1
                axes.append(Wiring(_bits(n_out), _bits(size), entries))
                inside.append(mask)
            out.append(_Window((channel, axes[0], axes[1]), (vc, vy, vx), (inside[0], inside[1])))
    return out


def _pool_terms(n_windows: int, lam: int, mu: int) -> tuple[Term, ...]:
    """The max pool's summand over the tables ``(eq_p, eq_t, sel_j.., x_j.., in_j..)``."""
    last = pow(lam, n_windows, R)
    terms = []
    for j in range(n_windows):
        sel, view, inside = 2 + j, 2 + n_windows + j, 2 + 2 * n_windows + j
        power = pow(lam, j, R)
        terms += [
            Term(1, (0, sel, view)),
            Term(mu * (power + last) % R, (1, sel)),
            Term(-mu * power % R, (1, inside, sel, sel)),
        ]
    return tuple(terms)


def _pool_request(w: _Walk, op: Op) -> _Request:
    """A max pool's lookup: its stacked differences in the ``bits``-bit range; the claim it
    leaves becomes one about y and one about each window's view (kept for ``_maxpool``)."""
    y, x = op.output, op.inputs[0]
    windows = _windows(w.graph, op)
    count = len(windows)
    ly = w.layout[y]
    kb, jb = ly.batch_bits, _bits(count)
    bits = w.graph.tensors[x].quantized_bits

    def settle(w: _Walk, point, value):
        rj, rest = point[:jb], point[jb:]
        sent = w.message(
            1 + count,
            lambda: [evaluate(w.table(name), rest) for name in (y, *(f"view{j}:{y}" for j in range(count)))],
        )
        ej = limbs_to_ints(eq_table(rj))
        offset = 1 << (bits - 1)
        total = sum(
            ej[j] * (sent[0] - sent[1 + j] + offset * win.outside_at(rest[kb:])) for j, win in enumerate(windows)
        )
        what = f"maxpool ({op.source})"
        w.require(total % R == value, f"{what}: the differences' lookup does not fit the output and its windows")
        w.claim(y, rest, sent[0])
        w.views[y] = [(win.view, rest, sent[1 + j]) for j, win in enumerate(windows)]

    return _Request(
        ("range", 0, bits),
        bits,
        jb + ly.n,
        lambda: w.table(f"diff:{y}"),
        lambda: range_table(0, bits),
        lambda pt: table_extension(0, bits, pt),
        settle,
    )


def _maxpool(w: _Walk, op: Op) -> None:
    """A max pool's output claims (module docstring): after its lookup (``_pool_request``), the
    selection and the selectors' zero-check, then every window's claims to x in one gather."""
    y, x = op.output, op.inputs[0]
    windows = _windows(w.graph, op)
    count = len(windows)
    ly = w.layout[y]
    kb = ly.batch_bits
    what = f"maxpool ({op.source})"
    views = w.views.pop(y)
    point, value = _merge(w, y)
    lam, mu = w.transcript.challenges(2)
    t = tuple(w.transcript.challenges(ly.n))
    terms = _pool_terms(count, lam, mu)
    names = [f"{kind}{j}:{y}" for kind in ("sel", "view", "inside") for j in range(count)]

    def tables():
        return [eq_table(point), eq_table(t), *(w.table(name) for name in names)]

    claim = (value + mu * pow(lam, count, R)) % R
    rho, final, values = w.sumcheck(claim, ly.n, terms, tables)
    sent = w.message(2 * count, lambda: values[2 : 2 + 2 * count])
    inside = [(1 - win.outside_at(rho[kb:])) % R for win in windows]
    w.require(
        summand(terms, [eq(point, rho), eq(t, rho), *sent, *inside]) == final,
        f"{what}: the selectors and windows do not fit the sumcheck",
    )
    for j, win in enumerate(windows):
        w.claim(f"sel{j}:{y}", rho, sent[j])
        views.append((win.view, rho, sent[count + j]))
    _gather(w, x, views, what)


def _pool_tables(graph: Graph, op: Op, x: np.ndarray, y: np.ndarray, layout: Layout) -> dict[str, np.ndarray]:
    """The prover's tables of a max pool from the int64 tables of x and y (one row a sample):
    the selectors (advice: the first window position holding y, inside x), the windows' views,
    the masks ``in_j`` and the stacked differences of the lookup."""
    windows = _windows(graph, op)
    batch = layout.shape[0]
    views = np.stack([wiring.apply(win.view, x.reshape(-1), lead=batch) for win in windows])
    outside = np.stack([np.tile(win.outside_table(), batch) for win in windows])
    y = y.reshape(-1)
    holds = (views == y) & (outside == 0)
    low = np.where(outside == 1, np.iinfo(np.int64).min, views)
    choice = np.where(holds.any(axis=0), holds.argmax(axis=0), low.argmax(axis=0))
    bits = graph.tensors[op.inputs[0]].quantized_bits
    diff = np.zeros((1 << _bits(len(windows)), len(y)), dtype=np.int64)
    diff[: len(windows)] = y - views + (outside << (bits - 1))
    tables = {f"diff:{op.output}": signed_to_fr(diff)}
    for j in range(len(windows)):
        tables[f"sel{j}:{op.output}"] = signed_to_fr((choice == j).astype(np.int64))
        tables[f"view{j}:{op.output}"] = signed_to_fr(views[j])
        tables[f"inside{j}:{op.output}"] = signed_to_fr(1 - outside[j])
    return tables


def _sign_table(bits: int, beta: int) -> np.ndarray:
    """The pairs ``(v, [v >= 0])`` over a ``bits``-bit range, as ``v + beta * sign``."""
    lo, _ = bound_of(bits)
    v = np.arange(lo, lo + (1 << bits), dtype=np.int64)
    return kernels.fr_add(signed_to_fr(v), scaled(signed_to_fr((v >= 0).astype(np.int64)), beta))


def _sign_table_at(bits: int, beta: int, point: Sequence[int]) -> int:
    """The sign table's extension: v's part is the range table's, and ``[v >= 0]`` over
    ``v = -2^(bits-1) + j`` is the top bit of j, i.e. the first coordinate."""
    lo, _ = bound_of(bits)
    return (table_extension(lo, bits, point) + beta * point[0]) % R


def prove_inference(
    key: pcs.CommitmentKey,
    graph: Graph,
    inputs: np.ndarray,
    weights: dict[str, np.ndarray] | None = None,
    seed: bytes | None = None,
    salts: Sequence[int] | None = None,
) -> tuple[np.ndarray, InferenceProof]:
    """Run the quantized graph on a batch of integer inputs and prove it: the outputs (the
    executor's, bit for bit) and the proof. ``weights`` are the registration's commitments
    (``commit_weights`` with the blinding ``seed``, made once); without them they are computed
    here. ``salts`` (one field element per input, the consumer's) salt the inputs' and outputs'
    commitments (``io_commitments``); without them they are 0 and the commitments do not hide."""
    check_supported(graph)
    inputs = np.asarray(inputs, dtype=np.int64)
    batch = len(inputs)
    values = execute(graph, _padded_batch(inputs), keep_all=True)
    layout = layouts(graph, batch)
    tables = {name: _table(v, layout[name]) for name, v in values.items()}
    tables.update(weight_tables(graph))
    for op in graph.ops:
        # on the padded tables, so that padding obeys each op's rule too (a padded 0 has sign 1)
        if op.kind == "rescale" and op.attrs["shift"] > 0:
            x, y = _full(values[op.inputs[0]], layout[op.output]), _full(values[op.output], layout[op.output])
            tables[f"rem:{op.output}"] = signed_to_fr(x - (y << op.attrs["shift"]))
        elif op.kind == "relu":
            tables[f"sign:{op.output}"] = signed_to_fr(
                (_full(values[op.inputs[0]], layout[op.output]) >= 0).astype(np.int64)
            )
        elif op.kind == "clip":
            tables.update(_clip_tables(op, _full(values[op.inputs[0]], layout[op.output])))
        elif op.kind == "maxpool":
            x, y = (_full(values[name], layout[name]) for name in (op.inputs[0], op.output))
            tables.update(_pool_tables(graph, op, x, y, layout[op.output]))
        elif op.kind in FUNCTION_KINDS:
            tables[f"out:{op.output}"] = tables[op.output]
    if weights is None:
        weights = commit_weights(key, graph, seed)
    blinds = weight_blinds(graph, seed)
    io = io_commitments(graph, inputs, values[graph.output][:batch], _salts(salts, batch))
    t = Transcript(LABEL)
    _absorb_statement(t, graph, weights, io)
    advice = []
    for name in _advice_names(graph):
        for block_name, block in zip(
            block_names(name, n_variables(len(tables[name]))), _blocks(tables[name]), strict=True
        ):
            blinds[block_name] = pcs.random_blind()
            c = pcs.commit(key, block, blinds[block_name])
            pcs.absorb_point(t, c)
            advice.append(c)
    p = _Prover(graph, layout, t, tables, key, blinds)
    _lookups(p)
    point = t.challenges(layout[graph.output].n)
    p.claim(graph.output, point, evaluate(tables[graph.output], point))
    for op in reversed(graph.ops):
        _reduce(p, op)
    _open_all(p)
    return values[graph.output][:batch], InferenceProof(tuple(advice), tuple(p.messages))


def _opened_names(graph: Graph) -> list[str]:
    return sorted(weight_tables(graph)) + _advice_names(graph)


def _block_values(w: _Walk, name: str, rest: tuple[int, ...]) -> list[int]:
    return [evaluate(block, rest) for block in _blocks(w.table(name))]


def _open_all(w: _Walk) -> None:
    """Every claim about the committed tables, settled by one batch opening
    (``prover.sumcheck.batch_opening``: one sumcheck and one opening of the largest size). A
    claim about a table committed in blocks first becomes claims about its blocks: at ``(top,
    rest)`` the prover sends every block's value at ``rest``, and ``sum_b eq(top, b) v_b`` must
    be the claimed value."""
    names, claims = [], []
    for name in _opened_names(w.graph):
        if name not in w.claims:
            continue
        table_claims = w.claims.pop(name)
        bits = len(table_claims[0][0])
        blocks = block_names(name, bits)
        if len(blocks) == 1:
            names.append(name)
            claims.append(table_claims)
            continue
        top = bits - BLOCK_BITS
        per_block: list[list[tuple[tuple[int, ...], int]]] = [[] for _ in blocks]
        for point, value in table_claims:
            head, rest = tuple(point[:top]), tuple(point[top:])
            sent = w.message(len(blocks), partial(_block_values, w, name, rest))
            weights = limbs_to_ints(eq_table(head))
            w.require(
                sum(c * v for c, v in zip(weights, sent, strict=True)) % R == value % R,
                f"the blocks of {name!r} do not add up to its claimed value",
            )
            for k, v in enumerate(sent):
                per_block[k].append((rest, v))
        names += blocks
        claims += per_block
    if names or w.deferred:
        w.openings(names, claims)


def verify_inference(
    vk: pcs.VerifierKey,
    graph: Graph,
    weights: dict[str, np.ndarray],
    inputs: np.ndarray,
    outputs: np.ndarray,
    proof: InferenceProof,
    salts: Sequence[int] | None = None,
) -> None:
    """Check that ``outputs`` are the outputs of the architecture ``graph`` (its weights' values
    are never read: ``prover.circuit.statements.architecture_graph`` makes such a graph) with
    the committed ``weights`` on ``inputs``, the statement holding their commitments with
    ``salts`` (``io_commitments``; 0 without them). Raises InferenceError (or the
    sub-protocols' SumcheckError or OpeningError) when they are not."""
    check_supported(graph)
    inputs, outputs = np.asarray(inputs, dtype=np.int64), np.asarray(outputs, dtype=np.int64)
    batch = len(inputs)
    if (
        batch == 0
        or inputs.shape[1:] != graph.input_tensor.shape
        or outputs.shape != (batch, *graph.output_tensor.shape)
    ):
        raise InferenceError(
            f"a batch of inputs of shape {graph.input_tensor.shape} and as many outputs of shape "
            f"{graph.output_tensor.shape} are needed, got {inputs.shape} and {outputs.shape}"
        )
    for name, given in ((graph.input, inputs), (graph.output, outputs)):
        lo, hi = bound_of(graph.tensors[name].quantized_bits)
        if given.min() < lo or given.max() > hi:
            raise InferenceError(f"a value of {name!r} is outside its declared {graph.tensors[name].bits} bits")
    expected = _weight_commitment_names(graph)
    if sorted(weights) != expected:
        raise InferenceError(f"the model has weight commitments for {expected}, got {sorted(weights)}")
    layout = layouts(graph, batch)
    names = _advice_commitment_names(graph, layout)
    if len(proof.advice) != len(names):
        raise InferenceError(f"the proof has {len(proof.advice)} advice commitments, the graph {len(names)}")
    x_full = _full(_padded_batch(inputs), layout[graph.input])
    y_full = _full(_padded_batch(outputs), layout[graph.output])
    x_table, y_table = signed_to_fr(x_full), signed_to_fr(y_full)
    salts = _salts(salts, batch)
    if len(salts) != batch or any(not 0 <= v < R for v in salts):
        raise InferenceError(f"a batch of {batch} inputs takes as many salts, each a field element")
    t = Transcript(LABEL)
    _absorb_statement(t, graph, weights, io_commitments(graph, inputs, outputs, salts))
    for c in proof.advice:
        pcs.absorb_point(t, c)
    v = _Verifier(graph, layout, t, proof.messages, vk)
    _lookups(v)
    point = t.challenges(layout[graph.output].n)
    v.claim(graph.output, point, evaluate(y_table, point))
    for op in reversed(graph.ops):
        _reduce(v, op)
    for p, value in v.claims.pop(graph.input, []):
        if evaluate(x_table, p) != value:
            raise InferenceError("a claim about the inputs is false: the proof is not of these inputs")
    v.commitments = {**weights, **dict(zip(names, proof.advice, strict=True))}
    _open_all(v)
    if v.claims or v.messages or v.views:
        raise InferenceError("the proof has messages or claims left over after the walk")
