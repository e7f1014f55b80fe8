"""Inference proofs on the sumcheck backend: a batch of a quantized graph's runs, GKR-style.

Statement: for the architecture of a quantized graph (public), weights bound by their
commitments (``commit_weights``, made once at registration) and a batch of public inputs, the
public outputs are the graph's outputs on them, bit for bit as ``prover.onnx.executor`` computes
them. Steps of issue 15 still to come: hiding input and output commitments, zero-knowledge
masking, convolutions and the other op kinds, range checks of the weights at registration, and
the native kernels; this module is the plain-Python reference they will be checked against.

Tables. Every tensor (a batch of 1-D samples here) is a table with the sample index in the high
bits and the feature index in the low ones, each padded to a power of two: the batch with copies
of sample 0 (whose values are genuine runs), the features with zeros, which every supported op
maps to zeros. A dense layer's weights ``W[o, i]`` are a table with o in the high bits, its bias
a table over o.

Advice. Before any challenge the prover commits to what the graph's values do not determine
through low-degree relations: per ``rescale`` ``y = floor(x / 2^s)`` the remainder
``x - 2^s y`` (in ``[0, 2^s)``), and per ``relu`` the sign bit ``[x >= 0]`` (``y = sign * x``).

Walk. The verifier draws a point for the output and evaluates the output's extension there; then
the ops are reduced from the last to the first, each turning one claim about its output's
extension into claims about its operands (a tensor with several claims first merges them with
one sumcheck over ``sum_k c_k eq(p_k, x) y(x)``):

    dense    y~(rb, ro) = sum_i x~(rb, i) W~(ro, i) + bias~(ro)       (Thaler; degree 2)
    rescale  x~(p) = 2^s y~(p) + rem~(p);  rem in [0, 2^s), y in its declared bits (lookups)
    relu     y~(p) = sum_b eq(p, b) sign(b) x(b)  (degree 3);  (x, sign) in {(v, [v >= 0])}
    mul      y~(p) = sum_b eq(p, b) a(b) b(b)     (degree 3)

where the lookups (``prover.sumcheck.lookup``) leave claims of their own about what they check.
Claims about the input are evaluated by the verifier; claims about weights and advice are
settled against their commitments at the end, all of them by one batch opening.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from prover import kernels
from prover.errors import UnsupportedModelError, VerificationError
from prover.field import FR_MODULUS, signed_to_fr
from prover.onnx.executor import execute
from prover.onnx.graph import Graph, Op, bound_of
from prover.sumcheck import commitment as pcs
from prover.sumcheck.batch_opening import BatchOpeningProof, prove_batch_opening, verify_batch_opening
from prover.sumcheck.lookup import (
    LookupProof,
    MultiplicityClaim,
    prove_lookup,
    range_table,
    table_extension,
    verify_lookup,
)
from prover.sumcheck.mle import eq, eq_table, evaluate, fold, scaled
from prover.sumcheck.protocol import SumcheckError, SumcheckProof, Term, degree, prove, summand, verify
from prover.sumcheck.transcript import Transcript

R = FR_MODULUS
LABEL = "zkmarket/sumcheck/inference/v1"
SUPPORTED_KINDS = ("dense", "rescale", "relu", "mul")
# a relu's sign lookup has a table of 2^bits entries for its input's bits
MAX_LOOKUP_BITS = 20

PRODUCT = (Term(1, (0, 1)),)
WEIGHTED_PRODUCT = (Term(1, (0, 1, 2)),)


def _bits(n: int) -> int:
    return max(n - 1, 0).bit_length()


@dataclass(frozen=True)
class Layout:
    """A tensor's table: ``2^batch_bits`` samples of ``2^feature_bits`` features."""

    batch_bits: int
    feature_bits: int

    @property
    def n(self) -> int:
        return self.batch_bits + self.feature_bits


def check_supported(graph: Graph) -> None:
    """UnsupportedModelError unless this step of the backend proves every op of the graph."""
    for op in graph.ops:
        if op.kind not in SUPPORTED_KINDS:
            raise UnsupportedModelError(
                f"op {op.kind} ({op.source}): the sumcheck backend proves {', '.join(SUPPORTED_KINDS)} so far; "
                "use the Groth16 backend for this model"
            )
        if op.kind == "relu":
            bits = graph.tensors[op.inputs[0]].quantized_bits
            if bits > MAX_LOOKUP_BITS:
                raise UnsupportedModelError(
                    f"relu ({op.source}) of a {bits}-bit tensor: its sign lookup would need 2^{bits} entries "
                    f"(at most 2^{MAX_LOOKUP_BITS}); rescale before the relu"
                )
    for t in graph.tensors.values():
        if len(t.shape) != 1:
            raise UnsupportedModelError(
                f"tensor {t.name!r} has shape {t.shape}: the sumcheck backend proves 1-D samples so far"
            )
    checked = [graph.tensors[op.output] for op in graph.ops if op.kind == "rescale"]
    for t in checked:
        if t.quantized_bits > MAX_LOOKUP_BITS:
            raise UnsupportedModelError(
                f"tensor {t.name!r}: a {t.bits}-bit range check is more than 2^{MAX_LOOKUP_BITS}"
            )


def layouts(graph: Graph, batch: int) -> dict[str, Layout]:
    return {name: Layout(_bits(batch), _bits(t.shape[0])) for name, t in graph.tensors.items()}


def weight_tables(graph: Graph) -> dict[str, np.ndarray]:
    """Each dense layer's weight matrix and bias as tables (module docstring), by constant name."""
    tables: dict[str, np.ndarray] = {}
    for op in graph.ops:
        if op.kind != "dense":
            continue
        w = graph.constants[op.inputs[1]].values
        rows, cols = 1 << _bits(w.shape[0]), 1 << _bits(w.shape[1])
        full = np.zeros((rows, cols), dtype=np.int64)
        full[: w.shape[0], : w.shape[1]] = w
        tables[op.inputs[1]] = signed_to_fr(full)
        if len(op.inputs) > 2:
            bias = np.zeros(rows, dtype=np.int64)
            bias[: w.shape[0]] = graph.constants[op.inputs[2]].values
            tables[op.inputs[2]] = signed_to_fr(bias)
    return tables


def key_power(graph: Graph, batch: int) -> int:
    """The fewest G1 powers, as a power of two, that every table a proof of ``batch`` inputs
    commits needs: the weights, the advice (a tensor's size), the lookups' multiplicities (their
    tables' sizes)."""
    sizes = [len(t) for t in weight_tables(graph).values()]
    sizes += [1 << layout.n for layout in layouts(graph, batch).values()]
    sizes += [1 << graph.tensors[op.output].quantized_bits for op in graph.ops if op.kind == "rescale"]
    sizes += [1 << op.attrs["shift"] for op in graph.ops if op.kind == "rescale"]
    sizes += [1 << graph.tensors[op.inputs[0]].quantized_bits for op in graph.ops if op.kind == "relu"]
    return max(max(sizes) - 1, 1).bit_length()


def commit_weights(key: pcs.CommitmentKey, graph: Graph) -> dict[str, np.ndarray]:
    """The weights' commitments (one G1 point per dense weight and bias): the model's
    registration on this backend."""
    check_supported(graph)
    return {name: pcs.commit(key, table) for name, table in sorted(weight_tables(graph).items())}


def _padded_batch(x: np.ndarray) -> np.ndarray:
    size = 1 << _bits(len(x))
    return np.concatenate([x, np.repeat(x[:1], size - len(x), axis=0)])


def _full(values: np.ndarray, layout: Layout) -> np.ndarray:
    """A batch of samples as its table's int64 matrix: features padded with zeros."""
    full = np.zeros((1 << layout.batch_bits, 1 << layout.feature_bits), dtype=np.int64)
    full[: values.shape[0], : values.shape[1]] = values
    return full


def _table(values: np.ndarray, layout: Layout) -> np.ndarray:
    return signed_to_fr(_full(values, layout))


@dataclass(frozen=True)
class InferenceProof:
    """The advice commitments (op order) and the walk's messages in order: tuples of field
    elements the prover sent, sumcheck proofs, lookup proofs and openings."""

    advice: tuple[np.ndarray, ...]
    messages: tuple[object, ...]


def _absorb_statement(t: Transcript, graph: Graph, weights: dict[str, np.ndarray], x, y) -> None:
    """The architecture, the batch size, the weights' commitments, and the inputs and outputs
    (their padded int64 tables ``x`` and ``y``, packed: ``_packed``)."""
    from prover.circuit.statements import architecture_hash

    t.absorb([architecture_hash(graph), len(x)])
    for name in sorted(weights):
        pcs.absorb_point(t, weights[name])
    t.absorb(_packed(x, graph.tensors[graph.input].quantized_bits))
    t.absorb(_packed(y, graph.tensors[graph.output].quantized_bits))


# bits of a packed field element: below r's 254, so that the packing is an integer, not reduced
PACKED_BITS = 248


def _packed(values: np.ndarray, bits: int) -> list[int]:
    """A tensor's values, each within its declared ``bits`` (the verifier checks that first), as
    ``v - lo`` in ``[0, 2^bits)``, ``PACKED_BITS // bits`` of them to a field element: one-to-one
    on in-range values, and many times fewer hashes than absorbing each value."""
    lo, _ = bound_of(bits)
    flat = (np.asarray(values, dtype=np.int64).reshape(-1) - lo).astype(object)
    per = PACKED_BITS // bits
    groups = np.concatenate([flat, np.zeros(-len(flat) % per, dtype=object)]).reshape(-1, per)
    packed = np.zeros(len(groups), dtype=object)
    for k in range(per):
        packed += groups[:, k] << (bits * k)
    return [int(v) for v in packed]


def _advice_names(graph: Graph) -> list[str]:
    """The advice tables in commitment order: ``rem:<y>`` per rescale (shift > 0), ``sign:<y>``
    per relu."""
    names = []
    for op in graph.ops:
        if op.kind == "rescale" and op.attrs["shift"] > 0:
            names.append(f"rem:{op.output}")
        elif op.kind == "relu":
            names.append(f"sign:{op.output}")
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

    def lookup(
        self, n: int, bits: int, witness: Callable[[], np.ndarray], table: Callable[[], np.ndarray], table_at
    ) -> tuple[tuple[int, ...], int]:
        raise NotImplementedError

    def table(self, name: str) -> np.ndarray:
        raise NotImplementedError  # the prover's only

    def openings(self, names: list[str], claims: list[list[tuple[tuple[int, ...], int]]]) -> None:
        """Settle every claim about the committed tables ``names`` and every deferred
        multiplicity claim against their commitments."""
        raise NotImplementedError


class _Prover(_Walk):
    def __init__(self, graph, layout, transcript, tables, key):
        super().__init__(graph, layout, transcript)
        self.tables = tables
        self.key = key
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

    def lookup(self, n, bits, witness, table, table_at):
        proof, claim = prove_lookup(self.key, witness(), table(), self.transcript, deferred=self.deferred)
        self.messages.append(proof)
        return claim.point, claim.value

    def table(self, name):
        return self.tables[name]

    def openings(self, names, claims):
        tables = [self.tables[name] for name in names] + [m.table for m in self.deferred]
        claims = claims + [[(m.point, m.value)] for m in self.deferred]
        self.messages.append(prove_batch_opening(self.key, tables, claims, self.transcript))


class _Verifier(_Walk):
    def __init__(self, graph, layout, transcript, messages, vk):
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

    def lookup(self, n, bits, witness, table, table_at):
        claim = verify_lookup(self.vk, n, bits, table_at, self.next(LookupProof), self.transcript, self.deferred)
        return claim.point, claim.value

    def openings(self, names, claims):
        commitments = [self.commitments[name] for name in names] + [m.commitment for m in self.deferred]
        claims = claims + [[(m.point, m.value)] for m in self.deferred]
        sizes = [len(table_claims[0][0]) for table_claims in claims]
        proof = self.next(BatchOpeningProof)
        verify_batch_opening(self.vk, commitments, sizes, claims, proof, self.transcript)


def _merge(w: _Walk, name: str) -> tuple[tuple[int, ...], int]:
    """One claim about ``name`` in place of all of them: with c_k drawn,
    ``sum_k c_k v_k = sum_x (sum_k c_k eq(p_k, x)) name(x)`` by a sumcheck of degree 2."""
    claims = w.claims.pop(name)
    if len(claims) == 1:
        return claims[0]
    coefficients = w.transcript.challenges(len(claims))

    def tables():
        weights = scaled(eq_table(claims[0][0]), coefficients[0])
        for c, (point, _) in zip(coefficients[1:], claims[1:], strict=True):
            weights = kernels.fr_add(weights, scaled(eq_table(point), c))
        return [weights, w.table(name)]

    total = sum(c * v for c, (_, v) in zip(coefficients, claims, strict=True)) % R
    point, final, values = w.sumcheck(total, w.layout_of(name).n, PRODUCT, tables)
    (value,) = w.message(1, lambda: values[1:])
    weight = sum(c * eq(p, point) for c, (p, _) in zip(coefficients, claims, strict=True)) % R
    w.require(weight * value % R == final, f"merging the claims about {name!r}: the value does not fit the sumcheck")
    return point, value


def _range(w: _Walk, name: str, lo: int, bits: int) -> None:
    """A range check of ``name``'s values; its claim joins ``name``'s."""
    point, value = w.lookup(
        w.layout_of(name).n,
        bits,
        lambda: w.table(name),
        lambda: range_table(lo, bits),
        lambda pt: table_extension(lo, bits, pt),
    )
    w.claim(name, point, value)


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
        if y != w.graph.output:  # the output is public: the verifier reads its range
            bits = w.graph.tensors[y].quantized_bits
            _range(w, y, bound_of(bits)[0], bits)
        if shift > 0:
            _range(w, f"rem:{y}", 0, shift)
        point, value = _merge(w, y)
        if shift == 0:
            w.claim(op.inputs[0], point, value)
            return
        (rem,) = w.message(1, lambda: [evaluate(w.table(f"rem:{y}"), point)])
        w.claim(f"rem:{y}", point, rem)
        w.claim(op.inputs[0], point, (value << shift) + rem)
    elif op.kind == "relu":
        x, sign = op.inputs[0], f"sign:{y}"
        bits = w.graph.tensors[x].quantized_bits
        beta = w.transcript.challenge()
        point, value = w.lookup(
            w.layout[x].n,
            bits,
            lambda: kernels.fr_add(w.table(x), scaled(w.table(sign), beta)),
            lambda: _sign_table(bits, beta),
            lambda pt: _sign_table_at(bits, beta, pt),
        )
        x_val, s_val = w.message(2, lambda: [evaluate(w.table(x), point), evaluate(w.table(sign), point)])
        w.require((x_val + beta * s_val) % R == value, f"relu ({op.source}): the sign lookup's claim does not split")
        w.claim(x, point, x_val)
        w.claim(sign, point, s_val)
        point, value = _merge(w, y)
        _product(w, point, value, sign, x, f"relu ({op.source})")
    elif op.kind == "mul":
        point, value = _merge(w, y)
        _product(w, point, value, op.inputs[0], op.inputs[1], f"mul ({op.source})")
    elif op.kind == "dense":
        x, weight = op.inputs[0], op.inputs[1]
        point, value = _merge(w, y)
        kb = w.layout[y].batch_bits
        rb, ro = point[:kb], point[kb:]
        if len(op.inputs) > 2:
            bias_name = op.inputs[2]
            (bias,) = w.message(1, lambda: [evaluate(w.table(bias_name), ro)])
            w.claim(bias_name, ro, bias)
            value = (value - bias) % R

        def tables():
            rows, cols = w.table(x), w.table(weight)
            for r in rb:
                rows = fold(rows, r)
            for r in ro:
                cols = fold(cols, r)
            return [rows, cols]

        rho, final, values = w.sumcheck(value, w.layout[x].feature_bits, PRODUCT, tables)
        x_val, w_val = w.message(2, lambda: values)
        w.require(
            x_val * w_val % R == final, f"dense ({op.source}): the input and weight values do not fit the sumcheck"
        )
        w.claim(x, (*rb, *rho), x_val)
        w.claim(weight, (*ro, *rho), w_val)


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
    key: pcs.CommitmentKey, graph: Graph, inputs: np.ndarray, weights: dict[str, np.ndarray] | None = None
) -> tuple[np.ndarray, InferenceProof]:
    """Run the quantized graph on a batch of integer inputs and prove it: the outputs (the
    executor's, bit for bit) and the proof. ``weights`` are the registration's commitments
    (``commit_weights``, made once); without them they are computed here."""
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
    if weights is None:
        weights = {name: pcs.commit(key, t) for name, t in sorted(weight_tables(graph).items())}
    t = Transcript(LABEL)
    full = {name: _full(values[name], layout[name]) for name in (graph.input, graph.output)}
    _absorb_statement(t, graph, weights, full[graph.input], full[graph.output])
    advice = []
    for name in _advice_names(graph):
        c = pcs.commit(key, tables[name])
        pcs.absorb_point(t, c)
        advice.append(c)
    p = _Prover(graph, layout, t, tables, key)
    point = t.challenges(layout[graph.output].n)
    p.claim(graph.output, point, evaluate(tables[graph.output], point))
    for op in reversed(graph.ops):
        _reduce(p, op)
    _open_all(p)
    return values[graph.output][:batch], InferenceProof(tuple(advice), tuple(p.messages))


def _opened_names(graph: Graph) -> list[str]:
    return sorted(weight_tables(graph)) + _advice_names(graph)


def _open_all(w: _Walk) -> None:
    """Every claim about the committed tables, settled by one batch opening
    (``prover.sumcheck.batch_opening``: one sumcheck and one opening of the largest size)."""
    names = [name for name in _opened_names(w.graph) if name in w.claims]
    if names or w.deferred:
        w.openings(names, [w.claims.pop(name) for name in names])


def verify_inference(
    vk: pcs.VerifierKey,
    graph: Graph,
    weights: dict[str, np.ndarray],
    inputs: np.ndarray,
    outputs: np.ndarray,
    proof: InferenceProof,
) -> None:
    """Check that ``outputs`` are the outputs of the architecture ``graph`` (its weights' values
    are never read: ``prover.circuit.statements.architecture_graph`` makes such a graph) with
    the committed ``weights`` on ``inputs``. Raises InferenceError (or the sub-protocols'
    SumcheckError or OpeningError) when they are not."""
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
    if sorted(weights) != sorted(weight_tables(graph)):
        raise InferenceError(
            f"the model has weight commitments for {sorted(weight_tables(graph))}, got {sorted(weights)}"
        )
    names = _advice_names(graph)
    if len(proof.advice) != len(names):
        raise InferenceError(f"the proof has {len(proof.advice)} advice commitments, the graph {len(names)}")
    layout = layouts(graph, batch)
    x_full = _full(_padded_batch(inputs), layout[graph.input])
    y_full = _full(_padded_batch(outputs), layout[graph.output])
    x_table, y_table = signed_to_fr(x_full), signed_to_fr(y_full)
    t = Transcript(LABEL)
    _absorb_statement(t, graph, weights, x_full, y_full)
    for c in proof.advice:
        pcs.absorb_point(t, c)
    v = _Verifier(graph, layout, t, proof.messages, vk)
    point = t.challenges(layout[graph.output].n)
    v.claim(graph.output, point, evaluate(y_table, point))
    for op in reversed(graph.ops):
        _reduce(v, op)
    for p, value in v.claims.pop(graph.input, []):
        if evaluate(x_table, p) != value:
            raise InferenceError("a claim about the inputs is false: the proof is not of these inputs")
    v.commitments = {**weights, **dict(zip(names, proof.advice, strict=True))}
    _open_all(v)
    if v.claims or v.messages:
        raise InferenceError("the proof has messages or claims left over after the walk")
