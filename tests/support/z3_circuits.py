"""A circuit's R1CS as z3 constraints, for soundness proofs of gadgets at small widths, and
the mutated witnesses of their twins."""

from __future__ import annotations

import numpy as np
import z3

from prover.circuit.builder import Circuit
from prover.field import FR_MODULUS, ints_to_limbs, limbs_to_ints

R = FR_MODULUS


class NotLinearisable(Exception):
    pass


def _rows(matrix, i):
    lo, hi = matrix.indptr[i], matrix.indptr[i + 1]
    return [(int(c), v) for c, v in zip(matrix.indices[lo:hi], limbs_to_ints(matrix.coeffs[lo:hi]))]


class Z3Circuit:
    """The constraints of a circuit as z3 formulas; ``value(w)`` is wire w's value in [0, r)."""

    def __init__(self, circuit: Circuit, drop: frozenset[int] = frozenset(), nonlinear: bool = False):
        """``drop``: indices of constraints left out (a mutated gadget, for the twins);
        ``nonlinear``: a product of two non-bit linear combinations becomes a z3 product (a
        claim then fixes the inputs, so that z3 solves a linear system) instead of raising."""
        r1cs = circuit.r1cs
        self.circuit, self.nonlinear = circuit, nonlinear
        # a context of its own: z3's search order follows term ids, which in the shared global
        # context depend on every formula earlier tests built (a proof of 3 s alone ran past
        # 9 minutes mid-suite)
        self.ctx = ctx = z3.Context()
        rows = [(_rows(r1cs.A, i), _rows(r1cs.B, i), _rows(r1cs.C, i)) for i in range(r1cs.n_constraints)]
        rows = [row for i, row in enumerate(rows) if i not in drop]
        booleanity = [
            not c and len(a) == 1 and a[0][1] == 1 and sorted(b) == sorted([(a[0][0], 1), (0, R - 1)])
            for a, b, c in rows
        ]
        self.bits = {a[0][0]: z3.Bool(f"b{a[0][0]}", ctx) for (a, _, _), is_bit in zip(rows, booleanity) if is_bit}
        self.ints = {w: z3.Int(f"w{w}", ctx) for w in range(1, r1cs.n_wires) if w not in self.bits}
        self.solver = z3.Solver(ctx=ctx)
        for v in self.ints.values():
            self.solver.add(v >= 0, v < R)
        for i, (a, b, c) in enumerate(rows):
            if booleanity[i]:
                continue  # encoded by the Bool type
            self.solver.add(self._product(a, b) - self._lin(c) == R * z3.Int(f"k{i}", ctx))

    def value(self, w: int):
        if w == 0:
            return z3.IntVal(1, self.ctx)
        if w in self.bits:
            return z3.If(self.bits[w], 1, 0)
        return self.ints[w]

    def signed(self, w: int):
        v = self.value(w)
        return z3.If(v > R // 2, v - R, v)

    def _lin(self, terms):
        return z3.Sum([z3.IntVal(0, self.ctx)] + [c * self.value(w) for w, c in terms])

    def _product(self, a, b):
        for x, y in ((a, b), (b, a)):
            if all(w == 0 for w, _ in x):
                return self._lin(x) * self._lin(y) if x else z3.IntVal(0, self.ctx)
            if len(x) == 1 and x[0][0] in self.bits:
                return x[0][1] * z3.If(self.bits[x[0][0]], self._lin(y), 0)
        for x, y in ((a, b), (b, a)):
            if all(w == 0 or w in self.bits for w, _ in x):  # a sum of bits times y: linear in y
                other = self._lin(y)
                return z3.Sum([c * (other if w == 0 else z3.If(self.bits[w], other, 0)) for w, c in x])
        if self.nonlinear:
            return self._lin(a) * self._lin(b)
        raise NotLinearisable("a product of two non-bit linear combinations")

    def _here(self, formula):
        """``formula`` in this circuit's context: a claim built over one circuit's wires holds
        the same named terms in its twin's (dropped-constraint) circuit."""
        return formula if formula.ctx == self.ctx else formula.translate(self.ctx)

    def refutes(self, claim) -> bool:
        """True when no satisfying assignment violates ``claim`` (z3 answers unsat)."""
        self.solver.push()
        self.solver.add(z3.Not(self._here(claim)))
        result = self.solver.check()
        self.solver.pop()
        assert result != z3.unknown
        return result == z3.unsat

    def satisfiable(self, *extra) -> bool:
        self.solver.push()
        self.solver.add(*[self._here(e) for e in extra])
        result = self.solver.check()
        self.solver.pop()
        return result == z3.sat


def final_values(circuit, wires):
    """The circuit's computed values of ``wires`` as ints."""
    return [int(w) for w in np.atleast_1d(circuit.final(wires)).ravel()]


def mutated(witness: np.ndarray, wire: int, delta: int = 1) -> np.ndarray:
    """The witness with ``wire`` moved by ``delta`` (a cheating prover's witness)."""
    out = witness.copy()
    out[wire] = ints_to_limbs([(limbs_to_ints(witness[wire : wire + 1])[0] + delta) % R])[0]
    return out


def graph_circuit(graph, k: int):
    """A one-input quantized graph lowered as the compiler lowers it (public mode), its input x
    range checked as k-bit signed: (circuit, x, y)."""
    from prover.circuit import gadgets as G
    from prover.circuit.builder import Builder
    from prover.circuit.compile import lower

    b = Builder()
    x = b.input(graph.input, graph.input_tensor.shape)
    G.signed_bits(b, x, k)
    y = b.materialize(lower(b, graph, x, "public").output)
    return b.finish(), x, y


def one_op_graph(kind: str, attrs: dict, s: int, k: int, t: int, out_bits: int):
    """The quantized graph of one op ``kind`` from x (one k-bit value at scale s) to y (at scale
    t, ``out_bits`` bits), both range checked."""
    from prover.onnx.graph import Graph, Op, Tensor

    tensors = {"x": Tensor("x", (1,), s, k, True), "y": Tensor("y", (1,), t, out_bits, True)}
    return Graph("x", "y", tensors, {}, [Op(kind, ("x",), "y", attrs, "test")], quantized=True)
