"""The circuit builder: wires, linear combinations, constraints in bulk, and the witness program.

A circuit is built by gadgets (``prover.circuit.gadgets``) that take and return tensors of wires
or of linear combinations and add constraints for a whole tensor at once. Every gadget also
records a *witness step*: a function that, given the values of the wires it reads, computes the
wires it allocated, with numpy over the whole tensor. ``Circuit.witness`` replays the steps in
order, so witness generation has no Python loop per constraint.

Wire values during witness generation are signed ``int64`` (quantized values, bits, products),
checked for overflow, except *field wires* (packed values, hashes) whose values are Python ints
mod r. A value x stands for the field element x mod r (``prover.field.signed_to_fr``).

Linear combinations are free: they cost no constraint and no wire until a gadget needs a wire
(``Builder.materialize``). The constant 1 is wire 0, so a constant term is a coefficient on 0.

Wires get provisional numbers in creation order; ``Builder.finish`` renumbers them into the
order of ../shared/DESIGN.md: wire 0, public outputs, public inputs (statement order), private
inputs, internal wires.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from prover.errors import CircuitError
from prover.field import FR_MODULUS, LIMBS, ints_to_limbs, signed_to_fr
from prover.r1cs import R1CS, SparseMatrix

INT64_SAFE = 1 << 62  # bound below which sums of two int64 values cannot wrap


# --- linear combinations ---------------------------------------------------------------------


def _coeff_array(values) -> np.ndarray:
    """Coefficients as int64 when every one fits, else as an object array of Python ints."""
    arr = np.asarray(values)
    if arr.dtype == object:
        flat = arr.ravel()
        if flat.size == 0 or all(-INT64_SAFE < int(v) < INT64_SAFE for v in flat):
            return arr.astype(np.int64)
        return arr
    return arr.astype(np.int64)


def _max_abs(arr: np.ndarray) -> int:
    if arr.size == 0:
        return 0
    if arr.dtype == object:
        return max(abs(int(v)) for v in arr.ravel())
    return int(np.abs(arr).max())


@dataclass
class LinComb:
    """A tensor of linear combinations: element ``idx`` is
    ``sum_k coeffs[idx + (k,)] * w[wires[idx + (k,)]]``; wire 0 is the constant 1.

    ``wires`` is int64 of shape ``(*shape, m)``; ``coeffs`` has the same shape and is int64 or,
    when a coefficient does not fit, an object array of Python ints (signed; taken mod r)."""

    wires: np.ndarray
    coeffs: np.ndarray

    def __post_init__(self):
        self.wires = np.asarray(self.wires, dtype=np.int64)
        if not isinstance(self.coeffs, np.ndarray) or self.coeffs.dtype not in (np.int64, object):
            self.coeffs = _coeff_array(self.coeffs)
        if self.wires.ndim == 0 or self.wires.shape != self.coeffs.shape:
            raise ValueError(f"LinComb wires {self.wires.shape} and coeffs {self.coeffs.shape} differ")

    # constructors
    @classmethod
    def of(cls, wires) -> LinComb:
        """Each wire as a linear combination (coefficient 1)."""
        w = np.asarray(wires, dtype=np.int64)[..., None]
        return cls(w, np.ones_like(w))

    @classmethod
    def constant(cls, values) -> LinComb:
        """Constants (signed ints, any shape) as linear combinations of wire 0."""
        c = _coeff_array(np.asarray(values, dtype=object) if _is_big(values) else values)[..., None]
        return cls(np.zeros(c.shape, dtype=np.int64), c)

    @classmethod
    def lift(cls, x) -> LinComb:
        return x if isinstance(x, LinComb) else cls.of(x)

    # shape
    @property
    def shape(self) -> tuple[int, ...]:
        return self.wires.shape[:-1]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def terms(self) -> int:
        return self.wires.shape[-1]

    def __getitem__(self, idx) -> LinComb:
        # basic or fancy indexing of the leading (shape) axes; the term axis rides along
        return LinComb(self.wires[idx], self.coeffs[idx])

    def take(self, indices: np.ndarray) -> LinComb:
        """Elements of the flattened tensor at ``indices`` (any shape)."""
        flat_w = self.wires.reshape(-1, self.terms)
        flat_c = self.coeffs.reshape(-1, self.terms)
        return LinComb(flat_w[indices], flat_c[indices])

    def reshape(self, *shape) -> LinComb:
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple) else shape
        return LinComb(self.wires.reshape(*shape, self.terms), self.coeffs.reshape(*shape, self.terms))

    def transpose(self, *axes) -> LinComb:
        axes = tuple(axes) + (len(axes),)
        return LinComb(self.wires.transpose(axes), self.coeffs.transpose(axes))

    def single_wires(self) -> np.ndarray | None:
        """The wires, when every element is exactly one wire with coefficient 1."""
        if self.terms == 1 and self.coeffs.dtype == np.int64 and (self.coeffs == 1).all() and (self.wires != 0).all():
            return self.wires[..., 0]
        return None

    # arithmetic (all free)
    def __add__(self, other) -> LinComb:
        other = other if isinstance(other, LinComb) else LinComb.constant(other)
        shape = np.broadcast_shapes(self.shape, other.shape)
        ws = [np.broadcast_to(x.wires, shape + (x.terms,)) for x in (self, other)]
        cs = [np.broadcast_to(x.coeffs, shape + (x.terms,)) for x in (self, other)]
        if any(c.dtype == object for c in cs):
            cs = [c.astype(object) for c in cs]
        return LinComb(np.concatenate(ws, axis=-1), np.concatenate(cs, axis=-1))

    __radd__ = __add__

    def __neg__(self) -> LinComb:
        return self * -1

    def __sub__(self, other) -> LinComb:
        other = other if isinstance(other, LinComb) else LinComb.constant(other)
        return self + (-other)

    def __rsub__(self, other) -> LinComb:
        return (-self) + other

    def __mul__(self, k) -> LinComb:
        """Times integer constants ``k`` (a scalar or an array broadcast over the shape)."""
        k = np.asarray(k, dtype=object if _is_big(k) else np.int64)
        k = k[..., None] if k.ndim else k
        if (
            self.coeffs.dtype == np.int64
            and k.dtype == np.int64
            and _max_abs(self.coeffs) * max(_max_abs(k), 1) < INT64_SAFE
        ):
            coeffs = self.coeffs * k
        else:
            coeffs = _coeff_array(self.coeffs.astype(object) * k.astype(object))
        wires = np.broadcast_to(self.wires, coeffs.shape).copy()
        return LinComb(wires, np.ascontiguousarray(coeffs))

    __rmul__ = __mul__

    def sum(self, axis: int = -1) -> LinComb:
        """Sum over one axis of the shape: the terms are concatenated (free)."""
        axis = axis % len(self.shape)
        w = np.moveaxis(self.wires, axis, -2)
        c = np.moveaxis(self.coeffs, axis, -2)
        return LinComb(w.reshape(*w.shape[:-2], -1), c.reshape(*c.shape[:-2], -1))


def _is_big(values) -> bool:
    if isinstance(values, np.ndarray) and values.dtype != object:
        return False
    arr = np.asarray(values, dtype=object)
    return arr.size > 0 and any(not -INT64_SAFE < int(v) < INT64_SAFE for v in arr.ravel())


@dataclass
class Value:
    """A lowered tensor: its linear combinations and, if known, its signed-bit decomposition
    (a ``rescale`` output keeps it, so that a following ReLU reads the sign for free)."""

    lc: LinComb
    sign_bits: np.ndarray | None = None


def concatenate(lcs: Sequence[LinComb], axis: int = 0) -> LinComb:
    """Concatenate tensors of linear combinations along a shape axis (padding the term axis)."""
    m = max(x.terms for x in lcs)
    big = any(x.coeffs.dtype == object for x in lcs)
    ws, cs = [], []
    for x in lcs:
        pad = [(0, 0)] * len(x.shape) + [(0, m - x.terms)]
        ws.append(np.pad(x.wires, pad))
        cs.append(np.pad(x.coeffs.astype(object) if big else x.coeffs, pad, constant_values=0))
    axis = axis % len(lcs[0].shape)
    return LinComb(np.concatenate(ws, axis=axis), np.concatenate(cs, axis=axis))


# --- witness values --------------------------------------------------------------------------


class WitnessValues:
    """Values of all wires while the witness program runs (provisional wire numbers)."""

    def __init__(self, n_wires: int):
        self.ints = np.zeros(n_wires, dtype=np.int64)
        self.ints[0] = 1
        self.big = np.zeros(n_wires, dtype=object)
        self.is_big = np.zeros(n_wires, dtype=bool)

    def get(self, wires) -> np.ndarray:
        """Signed int64 values of small wires."""
        wires = np.asarray(wires, dtype=np.int64)
        if self.is_big[wires].any():
            raise CircuitError("a gadget read a field wire (hash or packed value) as a small integer")
        return self.ints[wires]

    def set(self, wires, values) -> None:
        wires = np.asarray(wires, dtype=np.int64)
        self.ints[wires] = np.asarray(values, dtype=np.int64).reshape(wires.shape)

    def get_field(self, wires) -> np.ndarray:
        """Values as Python ints in [0, r) (object array)."""
        wires = np.asarray(wires, dtype=np.int64)
        flat = wires.reshape(-1)
        out = self.ints[flat].astype(object) % FR_MODULUS
        big = self.is_big[flat]
        out[big] = self.big[flat[big]]
        return out.reshape(wires.shape)

    def set_field(self, wires, values) -> None:
        wires = np.asarray(wires, dtype=np.int64).ravel()
        vals = np.asarray(values, dtype=object).ravel() % FR_MODULUS
        self.big[wires] = vals
        self.is_big[wires] = True
        self.ints[wires] = 0

    def eval(self, lc: LinComb) -> np.ndarray:
        """Signed int64 values of small-valued linear combinations; raises CircuitError rather
        than wrap when a value does not fit in int64."""
        vals = self.get(lc.wires)
        if lc.coeffs.dtype == np.int64 and _max_abs(lc.coeffs) * max(_max_abs(vals), 1) * max(lc.terms, 1) < INT64_SAFE:
            return (lc.coeffs * vals).sum(axis=-1)
        exact = (lc.coeffs.astype(object) * vals.astype(object)).sum(axis=-1)
        if _max_abs(np.asarray(exact, dtype=object)) >= INT64_SAFE:
            raise CircuitError(
                "a linear combination's value does not fit in 62 bits: the quantized model "
                "overflows; use fewer bits per value or smaller scales"
            )
        return np.asarray(exact, dtype=object).astype(np.int64)

    def eval_field(self, lc: LinComb) -> np.ndarray:
        """Values mod r (object array of Python ints) of any linear combinations."""
        vals = self.get_field(lc.wires)
        return (lc.coeffs.astype(object, copy=False) * vals).sum(axis=-1) % FR_MODULUS

    def limbs(self, order: np.ndarray) -> np.ndarray:
        """The witness as Fr limbs, wires taken in ``order`` (final numbering)."""
        out = signed_to_fr(self.ints[order])
        big_pos = np.nonzero(self.is_big[order])[0]
        if len(big_pos):
            out[big_pos] = ints_to_limbs(int(v) for v in self.big[order[big_pos]])
        return out


WitnessStep = Callable[[WitnessValues], None]


# --- the builder ----------------------------------------------------------------------------


@dataclass
class _Input:
    name: str
    wires: np.ndarray  # provisional numbers, shaped like the input
    field: bool  # values are field elements (e.g. a salt) rather than small ints


class Builder:
    """Collects wires, constraints (in batches of COO entries) and witness steps."""

    def __init__(self) -> None:
        self.n_wires = 1  # wire 0 is the constant 1
        # per batch of constraints, for A, B, C: wires (n, m) and coefficients, int64 (n, m)
        # or Fr limbs (n, m, 4)
        self._batches: list[tuple[tuple[np.ndarray, np.ndarray], ...]] = []
        self.n_constraints = 0
        self.steps: list[WitnessStep] = []
        self.inputs: list[_Input] = []
        self._public: list[tuple[str, np.ndarray, str]] = []  # (name, wires, "output"|"input")

    # whether constrain keeps what it is given: a WitnessBuilder only counts, so a gadget whose
    # linear combinations cost work to form may count its constraints without forming them
    forms_constraints = True

    # wires
    def alloc(self, shape=()) -> np.ndarray:
        """New private wires (int64 array of provisional numbers) of the given shape."""
        n = math.prod(shape) if isinstance(shape, tuple) else int(np.prod(shape))
        wires = np.arange(self.n_wires, self.n_wires + n, dtype=np.int64).reshape(shape)
        self.n_wires += n
        return wires

    def input(self, name: str, shape, field: bool = False) -> np.ndarray:
        """Private input wires whose values ``Circuit.witness`` takes from ``inputs[name]``."""
        if any(i.name == name for i in self.inputs):
            raise ValueError(f"input {name!r} declared twice")
        wires = self.alloc(shape)
        self.inputs.append(_Input(name, wires, field))
        return wires

    def public(self, name: str, x, kind: str = "input") -> np.ndarray:
        """Make the wires of ``x`` public, in call order within ``kind`` ("output" wires come
        before "input" wires in the final numbering). Returns the wires."""
        if kind not in ("input", "output"):
            raise ValueError("kind must be 'input' or 'output'")
        wires = np.atleast_1d(self.materialize(x))
        taken = {int(w) for _, ws, _ in self._public for w in ws.ravel()}
        if taken & {int(w) for w in wires.ravel()} or (wires == 0).any():
            raise ValueError(f"public {name!r} reuses a wire that is already public or the constant")
        self._public.append((name, wires, kind))
        return wires

    # constraints and steps
    def constrain(self, a, b, c) -> None:
        """Add ``(a) * (b) = (c)`` element-wise over broadcast tensors of linear combinations."""
        a, b, c = (LinComb.lift(x) for x in (a, b, c))
        shape = np.broadcast_shapes(a.shape, b.shape, c.shape)
        n = int(np.prod(shape))
        if n == 0:
            return
        flat = []
        for x in (a, b, c):
            w = np.broadcast_to(x.wires, shape + (x.terms,)).reshape(n, x.terms)
            if x.coeffs.dtype == np.int64:
                k: np.ndarray = np.broadcast_to(x.coeffs, shape + (x.terms,)).reshape(n, x.terms)
            else:
                # big coefficients become Fr limbs now, once per distinct row of a broadcast
                k = np.broadcast_to(_limbs_of_broadcast(x.coeffs), shape + (x.terms, LIMBS)).reshape(n, x.terms, LIMBS)
            flat.append((w, k))
        self._batches.append(tuple(flat))
        self.n_constraints += n

    def count_constraints(self, n: int) -> None:
        """``n`` constraints a gadget did not form, on a builder that does not keep them."""
        if self.forms_constraints:
            raise TypeError("this builder keeps its constraints: add them with constrain")
        self.n_constraints += n

    def constrain_zero(self, x) -> None:
        """Add ``x = 0`` (as ``x * 1 = 0``)."""
        x = LinComb.lift(x)
        self.constrain(
            x, LinComb.constant(np.ones(x.shape, dtype=np.int64)), LinComb.constant(np.zeros(x.shape, dtype=np.int64))
        )

    def step(self, fn: WitnessStep) -> None:
        self.steps.append(fn)

    def materialize(self, x, field: bool = False) -> np.ndarray:
        """Wires holding the values of ``x``: its own wires if it is plain wires, otherwise new
        wires with one linear constraint each. The values are field elements when ``field`` is
        set or x involves field wires or big coefficients, else checked int64."""
        if not isinstance(x, LinComb):
            return np.asarray(x, dtype=np.int64)
        single = x.single_wires()
        if single is not None:
            return single
        out = self.alloc(x.shape)
        self.constrain(x, LinComb.constant(np.ones(x.shape, dtype=np.int64)), LinComb.of(out))

        def step(v):
            if field or x.coeffs.dtype == object or v.is_big[x.wires].any():
                v.set_field(out, v.eval_field(x))
            else:
                v.set(out, v.eval(x))

        self.step(step)
        return out

    # the result
    def _wire_order(self) -> tuple[np.ndarray, int, int, int]:
        """The final numbering: ``order[new] = provisional`` (wire 0, public outputs, public
        inputs, private inputs, internal wires), and the counts of outputs, public inputs and
        private inputs."""
        outputs = [w.ravel() for _, w, k in self._public if k == "output"]
        pub_in = [w.ravel() for _, w, k in self._public if k == "input"]
        priv_in = [i.wires.ravel() for i in self.inputs]
        first = (
            np.concatenate([np.zeros(1, dtype=np.int64)] + outputs + pub_in + priv_in)
            if (outputs or pub_in or priv_in)
            else np.zeros(1, dtype=np.int64)
        )
        # an input made public counts once, in its public position
        _, first_pos = np.unique(first, return_index=True)
        first = first[np.sort(first_pos)]
        seen = np.zeros(self.n_wires, dtype=bool)
        seen[first] = True
        order = np.concatenate([first, np.nonzero(~seen)[0]]).astype(np.int64)
        n_out = sum(len(w) for w in outputs)
        n_pub = sum(len(w) for w in pub_in)
        return order, n_out, n_pub, len(first) - 1 - n_out - n_pub

    def _program(self, order: np.ndarray) -> dict:
        """The fields of the witness program, shared by a Circuit and a WitnessProgram."""
        return {
            "n_wires": self.n_wires,
            "n_constraints": self.n_constraints,
            "steps": list(self.steps),
            "inputs": list(self.inputs),
            "public": list(self._public),
            "order": order,
        }

    def finish(self) -> Circuit:
        """Renumber wires into the R1CS order and assemble the CSR matrices."""
        order, n_out, n_pub, n_priv = self._wire_order()
        new_of_old = np.empty(self.n_wires, dtype=np.int64)
        new_of_old[order] = np.arange(self.n_wires, dtype=np.int64)
        mats = [_csr(self._batches, j, self.n_constraints, new_of_old) for j in range(3)]
        r1cs = R1CS(
            n_wires=self.n_wires,
            n_outputs=n_out,
            n_public_inputs=n_pub,
            n_private_inputs=n_priv,
            A=mats[0],
            B=mats[1],
            C=mats[2],
        )
        return Circuit(**self._program(order), r1cs=r1cs)


class WitnessBuilder(Builder):
    """A Builder for the witness program alone: the same construction (wires, inputs, public
    wires and every witness step, so the same final numbering and the same witnesses), with
    constraints only counted. It costs the lowering's index arithmetic without the R1CS's
    assembly: what a prover needs whose key, and the R1CS the key was made for, exist already."""

    forms_constraints = False

    def constrain(self, a, b, c) -> None:
        shapes = (x.shape if isinstance(x, LinComb) else np.shape(x) for x in (a, b, c))
        self.n_constraints += math.prod(np.broadcast_shapes(*shapes))

    def finish(self) -> WitnessProgram:  # type: ignore[override]
        """The witness program, numbered as ``Builder.finish`` numbers the circuit's wires."""
        return WitnessProgram(**self._program(self._wire_order()[0]))


def _object_limbs(coeffs: np.ndarray) -> np.ndarray:
    """Python-int coefficients (any shape) -> Fr limbs (shape + (4,)), reduced mod r."""
    vals = coeffs % FR_MODULUS
    out = np.empty(coeffs.shape + (LIMBS,), dtype=np.uint64)
    for j in range(LIMBS):
        out[..., j] = ((vals >> (64 * j)) & ((1 << 64) - 1)).astype(np.uint64)
    return out


def _limbs_of_broadcast(coeffs: np.ndarray) -> np.ndarray:
    """``_object_limbs`` of an array that may be a broadcast view: converted along its real
    (non-zero-stride) extent only, then broadcast again."""
    index = tuple(
        slice(0, 1) if stride == 0 and size > 1 else slice(None) for stride, size in zip(coeffs.strides, coeffs.shape)
    )
    return np.broadcast_to(_object_limbs(coeffs[index]), coeffs.shape + (LIMBS,))


def _merge_repeats(wires: np.ndarray, coeffs: np.ndarray, nonzero: np.ndarray):
    """Rows where a wire appears twice: add its coefficients into the first occurrence (rare,
    so a loop over those rows only)."""
    wires, coeffs, nonzero = wires.copy(), coeffs.copy(), nonzero.copy()
    limbs = coeffs.dtype != np.int64
    keyed = np.where(nonzero, wires, -1 - np.arange(wires.shape[1]))
    srt = np.sort(keyed, axis=1)
    for i in np.nonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1))[0]:
        first: dict[int, np.intp] = {}
        for j in np.nonzero(nonzero[i])[0]:
            w = int(wires[i, j])
            if w not in first:
                first[w] = j
                continue
            k = first[w]
            if limbs:
                total = (_limb_int(coeffs[i, k]) + _limb_int(coeffs[i, j])) % FR_MODULUS
                coeffs[i, k] = ints_to_limbs([total])[0]
                nonzero[i, k] = total != 0
            else:
                coeffs[i, k] += coeffs[i, j]
                nonzero[i, k] = coeffs[i, k] != 0
            nonzero[i, j] = False
    return wires, coeffs, nonzero


def _csr(batches, which: int, n_rows: int, new_of_old: np.ndarray) -> SparseMatrix:
    """One of A, B, C as CSR in final wire numbers; zero coefficients dropped, repeated wires
    merged. Rows are already in order (batches are consecutive constraint ranges)."""
    counts, cols, limbs = [], [], []
    for batch in batches:
        wires, coeffs = batch[which]
        nonzero = (coeffs != 0) if coeffs.dtype == np.int64 else coeffs.any(axis=-1)
        if wires.shape[1] > 1:
            keyed = np.sort(np.where(nonzero, wires, -1 - np.arange(wires.shape[1])), axis=1)
            if (keyed[:, 1:] == keyed[:, :-1]).any():
                wires, coeffs, nonzero = _merge_repeats(wires, coeffs, nonzero)
        counts.append(nonzero.sum(axis=1))
        cols.append(new_of_old[wires[nonzero]])
        kept = coeffs[nonzero]
        limbs.append(signed_to_fr(kept) if coeffs.dtype == np.int64 else kept)
    if not batches:
        return SparseMatrix.empty(n_rows)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.concatenate(counts), out=indptr[1:])
    return SparseMatrix(indptr, np.concatenate(cols).astype(np.int64), np.ascontiguousarray(np.concatenate(limbs)))


def _limb_int(limbs: np.ndarray) -> int:
    return sum(int(v) << (64 * j) for j, v in enumerate(limbs))


@dataclass
class WitnessProgram:
    """The program that computes a circuit's witness from named inputs (its witness steps in
    order, the inputs, the public wires, the final wire order), with the circuit's counts."""

    n_wires: int
    n_constraints: int
    steps: list[WitnessStep]
    inputs: list[_Input]
    public: list[tuple[str, np.ndarray, str]]
    order: np.ndarray  # order[new] = provisional wire number

    @property
    def n_public(self) -> int:
        """Public wires after wire 0 (outputs and public inputs)."""
        return sum(wires.size for _, wires, _ in self.public)

    def final(self, wires) -> np.ndarray:
        """Final (R1CS) numbers of provisional wires."""
        new_of_old = np.empty(len(self.order), dtype=np.int64)
        new_of_old[self.order] = np.arange(len(self.order), dtype=np.int64)
        return new_of_old[np.asarray(wires, dtype=np.int64)]

    def run(self, inputs: dict[str, np.ndarray], show_progress: bool = False) -> WitnessValues:
        """Run the witness program; returns the values in provisional numbering."""
        values = WitnessValues(self.n_wires)
        for spec in self.inputs:
            if spec.name not in inputs:
                raise CircuitError(f"witness input {spec.name!r} is missing")
            given = np.asarray(inputs[spec.name], dtype=object if spec.field else np.int64)
            if given.shape != spec.wires.shape:
                raise CircuitError(f"witness input {spec.name!r} has shape {given.shape}, expected {spec.wires.shape}")
            if spec.field:
                values.set_field(spec.wires, given)
            else:
                values.set(spec.wires, given)
        steps = self.steps
        if show_progress:
            from tqdm import tqdm

            steps = tqdm(steps, desc="witness", unit="step")
        for step in steps:
            step(values)
        return values

    def witness(self, inputs: dict[str, np.ndarray], show_progress: bool = False) -> np.ndarray:
        """The full witness (Fr limbs, final wire order) for ``inputs``."""
        return self.run(inputs, show_progress).limbs(self.order)

    def public_values(self, values: WitnessValues) -> dict[str, list[int]]:
        """Public wires by name, as field elements in [0, r)."""
        return {name: [int(v) for v in values.get_field(w.ravel())] for name, w, _ in self.public}


@dataclass
class Circuit(WitnessProgram):
    """An R1CS with the program that computes its witness from named inputs."""

    r1cs: R1CS
