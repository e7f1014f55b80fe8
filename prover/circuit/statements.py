"""The inference statement and the commitments it is made of.

Public inputs, in this order (wires 1..4):

1. ``model_commitment``  = commit([architecture_hash, packed weights of every dense/conv
   weight and bias and every tree ensemble's thresholds, leaves and base, in
   ``compile.weight_names`` order, each packed with its own bit width]);
2. ``input_commitment``  = commit([salt, packed quantized input (the input's bit width)]);
3. ``label``             = argmax of the logits, lowest index on ties;
4. ``output_commitment`` = commit([logit mod r for every logit]).

``commit`` is ``prover.poseidon.commit`` and packing is ``gadgets.pack_values``. The statement
is: "the model with this commitment maps the input with this commitment to this label and to
the logits with this commitment", exactly as ``prover.onnx.executor`` computes them. Every
value that is packed is range checked, so a commitment determines the values it packs.

In ``public`` mode the weights are circuit constants; the model commitment is then a constant
the circuit pins, so the same commitment names the same model in both modes.

A batch statement (``inference_circuit(graph, batch=N)``) makes that statement for N requests at
once, on one set of weight wires that are committed and range checked once. Its public inputs
are the model commitment, then the N input commitments, the N labels packed LABELS_PER_ELEMENT
to a field element (LABEL_BITS bits each, the first label lowest: ``pack_labels``), then one
digest of the N output commitments (``outputs_digest``; ``batch_public_inputs``). A label is an
index below the number of logits, so it fits its bits and the packing is injective for a fixed
N; an element that packs a single label is that label's wire, and the digest of a single output
commitment is that commitment's wire, so batch 1 is the single statement above, wire for wire.

Each public input costs a verifier on-chain a scalar multiplication (6,000 gas). The input
commitments and labels must be public: the contract checks them against the requests' terms
and pays by them. The output commitments need not be: the contract only records them, and a
consumer checks its own against the digest (``outputs_digest`` of the batch's list, which the
fulfilment records), so the batch pays one multiplication for all of them. A batch of fewer
requests than N is padded by repeating its last request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from prover import poseidon
from prover.circuit import gadgets as G
from prover.circuit.builder import Builder, Circuit, LinComb, WitnessBuilder, WitnessProgram, concatenate
from prover.circuit.compile import Lowering, check_compilable, lower, weight_names
from prover.circuit.size import CircuitSize, CountingBuilder
from prover.errors import CircuitError, FormatError
from prover.field import FR_MODULUS
from prover.onnx.graph import Constant, Graph, InputShapeError, Op, Tensor
from prover.onnx.ops.registry import has_weights

PUBLIC_INPUTS = ("model_commitment", "input_commitment", "label", "output_commitment")

# The version of the statements' circuits and commitments, bumped whenever the same quantized
# model would get another R1CS or commitment, so that setups cached under the old one (keyed by
# the model, marketplace.setup.pipeline.quantized_graph) are rebuilt rather than reused.
# 2: packing marks where each element's values end (gadgets.packing_layout); the retrieval
# statement's returned-set commitment is salted.
# 3: the accuracy statement proves drawn samples of a test pool (Merkle root, draw) instead of a
# whole committed test set.
# 4: a batch statement's labels are packed, LABELS_PER_ELEMENT per public input.
# 5: a batch statement's output commitments are one public input, their digest.
CIRCUIT_FORMAT = 5

# the largest batch an inference circuit proves, and the batch sizes keys are set up for
MAX_BATCH = 64
BATCH_SIZES = (1, 8, 32, 64)
# a batch's labels as public inputs: LABELS_PER_ELEMENT labels of LABEL_BITS bits per field element
LABEL_BITS = 16
LABELS_PER_ELEMENT = 15


def pack_labels(labels: Sequence[int]) -> list[int]:
    """A batch's label public inputs: each run of LABELS_PER_ELEMENT labels as one field
    element, label j of the run at bits [LABEL_BITS * j, LABEL_BITS * (j + 1)) (a single
    label packs to itself). ValueError for a label outside [0, 2^LABEL_BITS)."""
    labels = [int(v) for v in labels]
    if any(not 0 <= v < 1 << LABEL_BITS for v in labels):
        raise ValueError(f"a label must lie in [0, 2^{LABEL_BITS}) to be packed, got {labels}")
    return [
        sum(v << (LABEL_BITS * j) for j, v in enumerate(labels[k : k + LABELS_PER_ELEMENT]))
        for k in range(0, len(labels), LABELS_PER_ELEMENT)
    ]


def batch_public_input_count(batch: int) -> int:
    """Public inputs of the batch statement of ``batch`` requests."""
    return 2 + batch + -(-batch // LABELS_PER_ELEMENT)


def outputs_digest(output_commitments: Sequence[int], batch: int | None = None) -> int:
    """The public input that stands for a batch's output commitments, one per slot:
    ``poseidon.commit`` of the list (first padded to ``batch`` slots by repeating its last, as
    a short batch is), or the commitment itself for a batch of one."""
    outs = [int(v) for v in output_commitments]
    batch = len(outs) if batch is None else batch
    if not 1 <= len(outs) <= batch:
        raise ValueError(f"a batch of {batch} has 1..{batch} output commitments, got {len(outs)}")
    outs += [outs[-1]] * (batch - len(outs))
    return outs[0] if batch == 1 else poseidon.commit(outs)


# --- commitments, computed outside the circuit ---------------------------------------------


def architecture_spec(graph: Graph) -> dict:
    """The weights-free architecture of a quantized graph: the preimage of ``architecture_hash``,
    and what a model card publishes as ``card["architecture"]`` so that any client can rebuild
    the model's circuits (``architecture_graph``). A JSON object:

    - ``input``, ``output``: the names of the input and output tensors;
    - ``ops``: ``[kind, [input names], output name, attrs]`` in execution order;
    - ``tensors``: ``{name: [shape, scale, bits, checked]}`` (the input's shape, scale and bit
      width among them);
    - ``constants``: ``{name: [shape, scale, bits, values]}``, where ``values`` is the flat list
      of a non-weight constant's values (they are circuit constants) and ``null`` for a weight
      (``compile.weight_names``: a dense/conv weight or bias, a tree's thresholds and leaves:
      private, bound by the model commitment instead);
    - ``postprocess`` (only for a model whose importer cut a classifier tail,
      ``prover.onnx.tail``): the transforms that turn the proved scores into the exporter's
      probabilities and the class labels that the proved label (the scores' argmax) indexes.
      They are not proved; the hash binds them, so a client applies what the provider committed to.
    """
    weights = set(weight_names(graph))
    extra = {"postprocess": graph.meta["postprocess"]} if "postprocess" in graph.meta else {}
    return {
        **extra,
        "input": graph.input,
        "output": graph.output,
        "ops": [[op.kind, list(op.inputs), op.output, _jsonable(op.attrs)] for op in graph.ops],
        "tensors": {n: [list(t.shape), t.scale, t.bits, t.checked] for n, t in sorted(graph.tensors.items())},
        "constants": {
            n: [list(c.values.shape), c.scale, c.bits, None if n in weights else c.values.ravel().tolist()]
            for n, c in sorted(graph.constants.items())
        },
    }


def architecture_spec_hash(spec: dict) -> int:
    """SHA-256 (mod r) of the canonical JSON (sorted keys, no spaces) of an architecture spec."""
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).digest()
    return int.from_bytes(digest, "big") % FR_MODULUS


def architecture_hash(graph: Graph) -> int:
    """A field element naming the quantized architecture: ``architecture_spec_hash`` of
    ``architecture_spec`` (the ops, tensors and constants, with the values of the non-weight
    constants, which are part of the circuit)."""
    return architecture_spec_hash(architecture_spec(graph))


# a client rebuilds a circuit from a spec it was sent: refuse one too large to build at all
MAX_SPEC_ELEMENTS = 1 << 26


def architecture_graph(spec: dict) -> Graph:
    """The quantized graph an architecture spec describes, with every weight 0 (a placeholder:
    in private mode a circuit depends on the weights' shapes and bounds only, so this graph's
    circuits are the model's). Raises FormatError when ``spec`` is not a well-formed spec; the
    graph's own checks (``Graph.validate``) run when a circuit is built from it."""

    def attrs_of(value):  # JSON lists back to the tuples the importer puts in op attributes
        if isinstance(value, list):
            return tuple(attrs_of(v) for v in value)
        if isinstance(value, dict):
            return {k: attrs_of(v) for k, v in value.items()}
        return value

    def shape_of(value) -> tuple[int, ...]:
        if not isinstance(value, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in value
        ):
            raise ValueError(f"a shape must be a list of positive integers, got {value!r}")
        return tuple(value)

    try:
        weights = set()
        for kind, inputs, _output, _attrs in spec["ops"]:
            if has_weights(kind):
                weights.update(inputs[1:])
        tensors, constants, elements = {}, {}, 0
        for name, (shape, scale, bits, checked) in spec["tensors"].items():
            tensors[name] = Tensor(name, shape_of(shape), scale, bits, bool(checked))
            elements += tensors[name].size
        for name, (shape, scale, bits, values) in spec["constants"].items():
            shape = shape_of(shape) if shape else ()
            elements += int(np.prod(shape, dtype=np.int64))
            if elements > MAX_SPEC_ELEMENTS:
                raise ValueError(f"more than {MAX_SPEC_ELEMENTS:,} values in all")
            if values is None:
                if name not in weights:
                    raise ValueError(f"constant {name!r} has no values but is no model weight")
                array = np.zeros(shape, dtype=np.int64)
            else:
                array = np.array(values, dtype=np.int64).reshape(shape)
            constants[name] = Constant(name, array, scale, bits)
        if elements > MAX_SPEC_ELEMENTS:
            raise ValueError(f"more than {MAX_SPEC_ELEMENTS:,} values in all")
        ops = [Op(kind, tuple(inputs), output, attrs_of(attrs)) for kind, inputs, output, attrs in spec["ops"]]
        meta = {"postprocess": spec["postprocess"]} if "postprocess" in spec else {}
        return Graph(spec["input"], spec["output"], tensors, constants, ops, quantized=True, meta=meta)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise FormatError(
            f"the model card's architecture is not a well-formed architecture spec ({exc}): "
            f"the provider publishes a broken card"
        ) from exc


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    return value


def packed_weights(graph: Graph) -> list[int]:
    """The packed field elements of the model's weights, in commitment order."""
    out: list[int] = []
    for name in weight_names(graph):
        c = graph.constants[name]
        out += G.pack_values(c.values, c.quantized_bits)
    return out


def model_commitment(graph: Graph) -> int:
    return poseidon.commit([architecture_hash(graph)] + packed_weights(graph))


def input_commitment(graph: Graph, x_quantized: np.ndarray, salt: int) -> int:
    return poseidon.commit([salt] + G.pack_values(x_quantized, graph.input_tensor.quantized_bits))


def output_commitment(logits: np.ndarray) -> int:
    return poseidon.commit([int(v) % FR_MODULUS for v in np.asarray(logits).ravel()])


# --- the circuit ----------------------------------------------------------------------------


@dataclass
class InferenceResult:
    """A witness and what it proves: the public inputs by name, the label and the logits."""

    witness: np.ndarray
    public: dict[str, int]
    label: int
    logits: np.ndarray


@dataclass
class BatchResult:
    """A batch statement's witness and, per request slot (padding included), what it proves:
    ``public[name]`` is the list of that public input's values in wire order (one per slot, the
    model commitment's one, the labels' packed: ``pack_labels``, the output commitments' one
    digest: ``outputs_digest``); ``labels`` and ``output_commitments`` one per slot."""

    witness: np.ndarray
    public: dict[str, list[int]]
    labels: list[int]
    output_commitments: list[int]
    logits: np.ndarray  # (batch, *output shape)
    n_requests: int  # the slots before the padding

    def public_inputs(self) -> list[int]:
        """The proof's public inputs in wire order (``batch_public_inputs``)."""
        return [v for name in PUBLIC_INPUTS for v in self.public[name]]


@dataclass
class InferenceCircuit:
    """The inference statement of a graph: its circuit (or, from ``inference_witness_program``,
    its witness program alone) and the wires that carry what it proves."""

    graph: Graph
    mode: str
    circuit: WitnessProgram  # a Circuit (with its R1CS) from inference_circuit
    lowering: Lowering
    logits_wires: np.ndarray  # (batch, n logits)
    label_wires: np.ndarray  # (batch,)
    output_wires: np.ndarray  # (batch,) the output commitments
    batch: int = 1

    @property
    def r1cs(self):
        if not isinstance(self.circuit, Circuit):
            raise CircuitError(
                "this statement was built for its witnesses alone (inference_witness_program): "
                "build it with inference_circuit for its R1CS"
            )
        return self.circuit.r1cs

    def witness(self, x_quantized: np.ndarray, salt: int, show_progress: bool = False) -> InferenceResult:
        """The witness for a quantized input and a salt (a circuit of batch 1). Raises
        InputShapeError for a wrong shape and ValueRangeError for a value outside the quantized
        ranges."""
        if self.batch != 1:
            raise InputShapeError(f"this circuit proves batches of {self.batch}: call batch_witness")
        x = np.asarray(x_quantized)
        if x.shape != self.graph.input_tensor.shape:
            raise InputShapeError(f"input has shape {x.shape}, the model expects {self.graph.input_tensor.shape}")
        result = self.batch_witness(x[None], [salt], show_progress)
        public = {name: values[0] for name, values in result.public.items()}  # batch 1: the single statement
        return InferenceResult(result.witness, public, result.labels[0], result.logits[0])

    def batch_witness(self, xs_quantized: np.ndarray, salts, show_progress: bool = False) -> BatchResult:
        """The witness for 1..batch requests (quantized inputs stacked on a first axis, one salt
        each). A short batch is padded by repeating its last request: the padded slots prove
        that request's true statement again, so they can neither pay nor change anything."""
        xs = np.asarray(xs_quantized)
        shape = self.graph.input_tensor.shape
        if xs.ndim != len(shape) + 1 or xs.shape[1:] != shape:
            raise InputShapeError(f"inputs have shape {xs.shape}, the batch expects (k, *{shape})")
        salts = [int(s) for s in salts]
        if len(salts) != len(xs) or not 1 <= len(xs) <= self.batch:
            raise InputShapeError(
                f"{len(xs)} inputs and {len(salts)} salts: a batch of {self.batch} takes 1..{self.batch} of each"
            )
        if not all(0 <= s < FR_MODULUS for s in salts):
            raise ValueError("a salt must be a field element (0 <= salt < r)")
        pad = self.batch - len(xs)
        xs = np.concatenate([xs, np.repeat(xs[-1:], pad, axis=0)]).astype(np.int64)
        salts = salts + [salts[-1]] * pad
        inputs = {"input": xs, "salt": np.array(salts, dtype=object)}
        inputs.update(weight_inputs(self.lowering))
        values = self.circuit.run(inputs, show_progress)
        public = self.circuit.public_values(values)
        logits = values.get(self.logits_wires).reshape(self.batch, *self.graph.output_tensor.shape)
        labels = [int(v) for v in values.get(self.label_wires)]
        outputs = [int(v) for v in values.get_field(self.output_wires)]
        return BatchResult(values.limbs(self.circuit.order), public, labels, outputs, logits, self.batch - pad)


def model_commitment_wire(b: Builder, low: Lowering) -> np.ndarray:
    """The wire of ``model_commitment``: in private mode computed from the lowering's weight
    wires (which packing range checks), in public mode the constant the circuit pins. Every
    statement about a model (inference, accuracy, retrieval) builds its commitment here, once
    per circuit however many samples run on the weights."""
    graph = low.graph
    if low.mode == "private":
        parts = [LinComb.constant(np.array([architecture_hash(graph)], dtype=object))]
        for name in weight_names(graph):
            parts.append(LinComb.of(G.pack(b, low.weight_wires[name], graph.constants[name].quantized_bits)))
        return G.commit(b, concatenate(parts))
    return b.materialize(LinComb.constant(np.array([model_commitment(graph)], dtype=object)), field=True)


def weight_inputs(low: Lowering) -> dict[str, np.ndarray]:
    """The witness inputs that carry a private-mode lowering's weights (none in public mode)."""
    return {f"weight:{name}": low.graph.constants[name].values for name in low.weight_wires}


def inference_circuit(graph: Graph, mode: str = "private", batch: int = 1) -> InferenceCircuit:
    """Build the inference statement's circuit for a quantized graph (see module docstring):
    ``batch`` inferences on the same weights, committed and range checked once. Batch 1 is the
    single-request statement; its R1CS is the one every earlier setup was made for."""
    b = Builder()
    parts = _build_inference(b, graph, mode, batch)
    return InferenceCircuit(graph, mode, b.finish(), *parts)


def inference_witness_program(graph: Graph, mode: str = "private", batch: int = 1) -> InferenceCircuit:
    """``inference_circuit(graph, mode, batch)`` without its R1CS: the same construction on a
    ``builder.WitnessBuilder``, so the same wires, counts and witnesses, for a prover whose key
    (and the R1CS it was made for) exist already. Its ``r1cs`` raises CircuitError."""
    b = WitnessBuilder()
    parts = _build_inference(b, graph, mode, batch)
    return InferenceCircuit(graph, mode, b.finish(), *parts)


def inference_size(graph: Graph, mode: str = "private", batch: int = 1) -> CircuitSize:
    """The exact size of ``inference_circuit(graph, mode, batch)`` without building it (the same
    construction on a ``size.CountingBuilder``), so a model too large can be refused first."""
    b = CountingBuilder()
    _build_inference(b, graph, mode, batch)
    return b.size()


def _build_inference(b: Builder, graph: Graph, mode: str, batch: int) -> tuple:
    """The statement's constraints and public inputs added to ``b``: returns the
    InferenceCircuit fields after the R1CS (lowering, logits, labels, output commitments, batch)."""
    check_compilable(graph, mode)
    if not 1 <= batch <= MAX_BATCH:
        raise ValueError(f"a batch holds 1..{MAX_BATCH} requests, got {batch}")
    if graph.output_tensor.size > 1 << LABEL_BITS:
        raise ValueError(f"a label is packed in {LABEL_BITS} bits: the model has {graph.output_tensor.size} logits")
    xs = b.input("input", (batch, *graph.input_tensor.shape))
    salts = b.input("salt", (batch,), field=True)
    packed: list[np.ndarray] = []
    lowerings: list[Lowering] = []
    for i in range(batch):
        packed.append(G.pack(b, xs[i], graph.input_tensor.quantized_bits))  # also the input's range check
        lowerings.append(lower(b, graph, xs[i], mode, lowerings[0].weight_wires if lowerings else None))
    model = model_commitment_wire(b, lowerings[0])
    inputs, labels, outputs, logits = [], [], [], []
    for i in range(batch):
        inputs.append(G.commit(b, concatenate([LinComb.of(np.array([salts[i]])), LinComb.of(packed[i])])))
        logits.append(b.materialize(lowerings[i].output.reshape(-1)))
        labels.append(G.argmax(b, logits[i], graph.output_tensor.quantized_bits))
        outputs.append(G.commit(b, logits[i]))
    packed = []
    for k in range(0, batch, LABELS_PER_ELEMENT):
        run = labels[k : k + LABELS_PER_ELEMENT]
        if len(run) == 1:
            packed.append(run[0])  # packs to itself: batch 1 keeps the single statement's wires
        else:
            shifts = np.array([1 << (LABEL_BITS * j) for j in range(len(run))], dtype=object)
            packed.append(b.materialize((LinComb.of(np.array(run, dtype=np.int64)) * shifts).sum(), field=True))
    output_wires = np.array(outputs, dtype=np.int64)
    # the digest of one commitment is that commitment: batch 1 keeps the single statement's wires
    digest = outputs[0] if batch == 1 else G.commit(b, LinComb.of(output_wires))
    for name, wires in zip(PUBLIC_INPUTS, (model, inputs, packed, [digest])):
        b.public(name, np.array(wires, dtype=np.int64).reshape(-1))
    label_wires = np.array(labels, dtype=np.int64)
    return lowerings[0], np.stack(logits), label_wires, output_wires, batch


def batch_public_inputs(model_commitment: int, requests: Sequence[tuple[int, int, int]], batch: int) -> list[int]:
    """The public inputs of a batch proof as a verifier lays them out from the model's commitment
    and each request's (input commitment, label, output commitment): the model commitment, then
    the batch's input commitments, its labels packed (``pack_labels``) and the digest of its
    output commitments (``outputs_digest``), the requests padded to ``batch`` by repeating the
    last (``InferenceCircuit.batch_witness``)."""
    if not 1 <= len(requests) <= batch:
        raise ValueError(f"a batch of {batch} settles 1..{batch} requests, got {len(requests)}")
    padded = list(requests) + [requests[-1]] * (batch - len(requests))
    return (
        [int(model_commitment)]
        + [int(r[0]) for r in padded]
        + pack_labels([r[1] for r in padded])
        + [outputs_digest([r[2] for r in padded])]
    )
