"""A verifier traced into R1CS: field values that record the constraints their arithmetic needs.

The Groth16 wrapper of the sumcheck backend proves "this sumcheck proof verifies". Rather than
a second verifier written as a circuit, the one verifier (``prover.sumcheck``) runs on
``Var`` values: each ``Var`` is a linear combination of wires, so additions and products by
constants cost nothing, and a product of two of them allocates a wire and the constraint
``(a) * (b) = (w)``. Its control flow depends only on the statement's shape (the architecture
and the batch), never on the proof's values, so every run of it makes the same constraints:
one fixed circuit per architecture, rebuilt by anyone from the architecture alone.

A tracer runs in one of two modes over the same code:

- *building* (``Tracer(values=False)``): Vars carry no values; the result is the R1CS, what the
  key is made for and what a client rebuilds and compares;
- *witnessing* (``Tracer()``): every Var carries its value too, so the same run yields the
  witness. A check that fails on the values (``Var.require_equal``) raises the verifier's own
  error at once: a cheating proof never yields a satisfying witness.

Wire numbers are provisional in creation order; ``Tracer.finish`` renumbers them as
../shared/DESIGN.md orders an R1CS's wires (0, public outputs, public inputs, private wires).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from prover.errors import VerificationError
from prover.field import FR_MODULUS, LIMBS, ints_to_limbs
from prover.r1cs import R1CS, SparseMatrix
from prover.sumcheck.transcript import Transcript

R = FR_MODULUS


class Tracer:
    """The wires, constraints and (when witnessing) values of one traced run."""

    def __init__(self, values: bool = True) -> None:
        self.has_values = values
        self.values: list[int | None] = [1]  # wire 0 is the constant 1
        # the constraints as COO triples per matrix (A, B, C): rows, wires, coefficients
        self._rows = (array("q"), array("q"), array("q"))
        self._wires = (array("q"), array("q"), array("q"))
        self._coeffs: tuple[list[int], list[int], list[int]] = ([], [], [])
        self.n_constraints = 0
        self._public: list[tuple[str, int, str]] = []  # (name, wire, "output" | "input")

    # values and wires
    def _alloc(self, value: int | None) -> int:
        self.values.append(value if self.has_values else None)
        return len(self.values) - 1

    def constant(self, c: int) -> Var:
        return Var(self, {0: c % R} if c % R else {}, c % R)

    def private(self, value: int | None = None) -> Var:
        """A private input wire (its value is the prover's; None when building)."""
        self._need(value)
        return Var(self, {self._alloc(_reduced(value)): 1}, _reduced(value))

    def public(self, name: str, x: Var | int | None = None, kind: str = "input") -> Var:
        """A public wire: a fresh one holding ``x`` (a value when ``x`` is an int or None, else
        the Var's), in call order within ``kind``; "output" wires come before "input" ones."""
        if kind not in ("input", "output"):
            raise ValueError("kind must be 'input' or 'output'")
        if isinstance(x, Var):
            wire = self._alloc(x.value)
            out = Var(self, {wire: 1}, x.value)
            self.constrain(x, self.constant(1), out)
        else:
            self._need(x)
            wire = self._alloc(_reduced(x))
            out = Var(self, {wire: 1}, _reduced(x))
        self._public.append((name, wire, kind))
        return out

    def _need(self, value) -> None:
        if self.has_values and value is None:
            raise ValueError("a witnessing tracer needs every input's value")

    # constraints
    def constrain(self, a: Var, b: Var, c: Var) -> None:
        """``(a) * (b) = (c)``."""
        row = self.n_constraints
        for j, x in enumerate((a, b, c)):
            rows, wires, coeffs = self._rows[j], self._wires[j], self._coeffs[j]
            for w, k in x.lc.items():
                rows.append(row)
                wires.append(w)
                coeffs.append(k)
        self.n_constraints += 1

    def product(self, a: Var, b: Var) -> Var:
        value = a.value * b.value % R if a.value is not None and b.value is not None else None
        out = Var(self, {self._alloc(value): 1}, value)
        self.constrain(a, b, out)
        return out

    # the result
    def _order(self) -> tuple[np.ndarray, int, int]:
        outputs = [w for _, w, k in self._public if k == "output"]
        inputs = [w for _, w, k in self._public if k == "input"]
        first = np.array([0, *outputs, *inputs], dtype=np.int64)
        rest = np.ones(len(self.values), dtype=bool)
        rest[first] = False
        return np.concatenate([first, np.nonzero(rest)[0]]), len(outputs), len(inputs)

    def finish(self) -> R1CS:
        """The constraints as an R1CS in the final wire order."""
        order, n_out, n_in = self._order()
        new_of_old = np.empty(len(order), dtype=np.int64)
        new_of_old[order] = np.arange(len(order), dtype=np.int64)
        mats = []
        for j in range(3):
            rows = np.frombuffer(self._rows[j], dtype=np.int64)
            wires = new_of_old[np.frombuffer(self._wires[j], dtype=np.int64)]
            # rows are in order already; within a row, wires ascending (one canonical matrix)
            sort = np.lexsort((wires, rows))
            indptr = np.zeros(self.n_constraints + 1, dtype=np.int64)
            np.cumsum(np.bincount(rows, minlength=self.n_constraints), out=indptr[1:])
            coeffs = ints_to_limbs([self._coeffs[j][i] for i in sort]) if len(sort) else np.zeros((0, LIMBS), np.uint64)
            mats.append(SparseMatrix(indptr, wires[sort], coeffs))
        return R1CS(
            n_wires=len(order),
            n_outputs=n_out,
            n_public_inputs=n_in,
            n_private_inputs=len(order) - 1 - n_out - n_in,
            A=mats[0],
            B=mats[1],
            C=mats[2],
        )

    def witness(self) -> np.ndarray:
        """The witness (Fr limbs) in the final wire order: a witnessing tracer's only."""
        if not self.has_values:
            raise ValueError("a building tracer has no values; trace with values to witness")
        order, _, _ = self._order()
        return ints_to_limbs([self.values[int(w)] or 0 for w in order])

    def public_values(self) -> list[int]:
        """The public signals in the R1CS order (outputs, then inputs)."""
        order, n_out, n_in = self._order()
        return [self.values[int(w)] or 0 for w in order[1 : 1 + n_out + n_in]]


def _reduced(value: int | None) -> int | None:
    return None if value is None else int(value) % R


class Var:
    """A field element inside a traced circuit: ``sum_w lc[w] * wire_w`` (wire 0 is 1), and its
    value when the tracer witnesses. Mixes with ints as field elements; ``x % r`` is ``x``."""

    __slots__ = ("tracer", "lc", "value")
    traced = True  # what the verifier's checks ask of a value (``prover.sumcheck.protocol``)

    def __init__(self, tracer: Tracer, lc: dict[int, int], value: int | None) -> None:
        self.tracer = tracer
        self.lc = lc
        self.value = value

    def _lift(self, other) -> Var:
        if isinstance(other, Var):
            if other.tracer is not self.tracer:
                raise ValueError("values of two traces do not mix")
            return other
        if isinstance(other, (int, np.integer)):
            return self.tracer.constant(int(other))
        return NotImplemented

    def _value(self, f: Callable[[int], int]) -> int | None:
        return None if self.value is None else f(self.value) % R

    def constant_value(self) -> int | None:
        """The value when the Var is a constant (no wire but 0), else None."""
        if all(w == 0 for w in self.lc):
            return self.lc.get(0, 0)
        return None

    # linear arithmetic: no constraint
    def __add__(self, other) -> Var:
        o = self._lift(other)
        if o is NotImplemented:
            return o
        lc = dict(self.lc)
        for w, k in o.lc.items():
            s = (lc.get(w, 0) + k) % R
            if s:
                lc[w] = s
            else:
                lc.pop(w, None)
        value = None if self.value is None or o.value is None else (self.value + o.value) % R
        return Var(self.tracer, lc, value)

    __radd__ = __add__

    def __neg__(self) -> Var:
        return self * -1

    def __sub__(self, other) -> Var:
        o = self._lift(other)
        return o if o is NotImplemented else self + (-o)

    def __rsub__(self, other) -> Var:
        o = self._lift(other)
        return o if o is NotImplemented else o + (-self)

    def __mul__(self, other) -> Var:
        o = self._lift(other)
        if o is NotImplemented:
            return o
        k = o.constant_value()
        if k is None:
            k = self.constant_value()
            if k is None:
                return self.tracer.product(self, o)
            o, self_ = self, o
        else:
            self_ = self
        k %= R
        lc = {w: c * k % R for w, c in self_.lc.items()} if k else {}
        return Var(self.tracer, lc, self_._value(lambda v: v * k))

    __rmul__ = __mul__

    def __mod__(self, modulus: int) -> Var:
        if modulus != R:
            raise ValueError("a traced value is reduced modulo r only")
        return self

    def __pow__(self, exponent: int, modulus: int | None = None) -> Var:
        if modulus not in (None, R):
            raise ValueError("a traced value is reduced modulo r only")
        if exponent == -1:
            return self.inverse()
        if exponent < 1:
            raise ValueError("a traced power takes an exponent >= 1, or -1")
        out: Var | None = None
        base = self
        while exponent:
            if exponent & 1:
                out = base if out is None else out * base
            exponent >>= 1
            if exponent:
                base = base * base
        assert out is not None
        return out

    def inverse(self) -> Var:
        """``1 / x``, with the constraint ``x * inv = 1`` (unsatisfiable for x = 0)."""
        k = self.constant_value()
        if k is not None:
            return self.tracer.constant(pow(k, -1, R))
        if self.value == 0:
            raise VerificationError("the verifier divides by zero: the proof is malformed")
        value = None if self.value is None else pow(self.value, -1, R)
        out = Var(self.tracer, {self.tracer._alloc(value): 1}, value)
        self.tracer.constrain(self, out, self.tracer.constant(1))
        return out

    def wire(self) -> Var:
        """The Var as one wire of its own (one linear constraint when it is not one already)."""
        if len(self.lc) == 1:
            ((w, k),) = self.lc.items()
            if w != 0 and k == 1:
                return self
        out = Var(self.tracer, {self.tracer._alloc(self.value): 1}, self.value)
        self.tracer.constrain(self, self.tracer.constant(1), out)
        return out

    def require_equal(self, other, error: Callable[[], Exception]) -> None:
        """Constrain ``self == other``; when witnessing, raise ``error()`` if the values differ."""
        o = self._lift(other)
        if self.value is not None and o.value is not None and self.value != o.value:
            raise error()
        self.tracer.constrain(self - o, self.tracer.constant(1), self.tracer.constant(0))

    def __eq__(self, other) -> bool:
        raise TypeError("traced values are compared with require_equal, which constrains them")

    __ne__ = __eq__
    __hash__ = object.__hash__

    def __int__(self) -> int:
        raise TypeError("a traced value has no int; the verifier must keep it as a field element")

    def __bool__(self) -> bool:
        raise TypeError("a traced value cannot decide a branch: the circuit would depend on it")

    def __repr__(self) -> str:
        return f"Var({len(self.lc)} terms, value={self.value})"


# --- Poseidon ----------------------------------------------------------------------------------


def poseidon(inputs: Sequence) -> Var | int:
    """circomlib's Poseidon of 1..16 field elements, traced: the permutation's linear layers as
    ``prover.circuit.gadgets.poseidon_schedule`` (shared with the tensor gadget) and 3
    constraints per S-box. With no Var among the inputs it is the plain hash."""
    from prover import poseidon as hash_spec
    from prover.circuit.gadgets import poseidon_schedule

    tracer = next((x.tracer for x in inputs if isinstance(x, Var)), None)
    if tracer is None:
        return hash_spec.poseidon([int(x) for x in inputs])
    if not 1 <= len(inputs) <= hash_spec.MAX_INPUTS:
        raise ValueError(f"poseidon takes 1..{hash_spec.MAX_INPUTS} inputs, got {len(inputs)}")
    rounds, output = poseidon_schedule(len(inputs) + 1)
    basis = [x.wire() if isinstance(x, Var) else tracer.constant(int(x)) for x in inputs]
    for full, coeffs in rounds:
        outs = []
        for row in coeffs:
            x = _linear(tracer, basis, row)
            x2 = x * x
            outs.append(x2 * x2 * x)
        basis = outs if full else basis + outs
    return _linear(tracer, basis, output)


def _linear(tracer: Tracer, basis: Sequence[Var], row) -> Var:
    """``sum_i row[i] basis[i] + row[-1]``, summed into one linear combination."""
    lc: dict[int, int] = {}
    value = 0 if tracer.has_values else None
    for k, x in zip(row[:-1], basis, strict=True):
        k = int(k)
        if not k:
            continue
        for w, c in x.lc.items():
            lc[w] = (lc.get(w, 0) + k * c) % R
        if value is not None and x.value is not None:
            value += k * x.value
    const = int(row[-1]) % R
    if const:
        lc[0] = (lc.get(0, 0) + const) % R
        if value is not None:
            value += const
    lc = {w: c for w, c in lc.items() if c}
    return Var(tracer, lc, None if value is None else value % R)


class CircuitTranscript(Transcript):
    """The sumcheck backend's transcript over traced values: the same chain of hashes, each a
    traced Poseidon once a Var has entered it (until then, constants hashed natively)."""

    @staticmethod
    def _hash(values: list):
        return poseidon(values)

    @staticmethod
    def _element(value):
        return value if isinstance(value, Var) else int(value) % R


@dataclass(frozen=True)
class TracedCircuit:
    """A traced statement: its R1CS, and when witnessed its witness and public signals."""

    r1cs: R1CS
    witness: np.ndarray | None
    public: list[int] | None
