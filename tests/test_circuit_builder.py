"""The circuit builder: wire order, free linear combinations, matrix assembly, witness program."""

from __future__ import annotations

import numpy as np
import pytest

from prover.circuit import gadgets as G
from prover.circuit.builder import Builder, Circuit, LinComb, WitnessBuilder, WitnessProgram, concatenate
from prover.errors import CircuitError
from prover.field import FR_MODULUS, fr_to_signed, limbs_to_ints


def _row(matrix, i):
    lo, hi = matrix.indptr[i], matrix.indptr[i + 1]
    return dict(zip(matrix.indices[lo:hi].tolist(), limbs_to_ints(matrix.coeffs[lo:hi])))


def test_public_wires_come_first_in_statement_order():
    b = Builder()
    x = b.input("x", (3,))
    s = b.materialize(LinComb.of(x).sum())
    d = b.materialize(LinComb.of(x[0]) - LinComb.of(x[1]))
    b.public("out", d, kind="output")
    b.public("second", s)
    b.public("third", x[2])
    c = b.finish()
    r = c.r1cs
    assert (r.n_outputs, r.n_public_inputs, r.n_private_inputs) == (1, 2, 2)
    assert list(c.final([d, s, x[2]])) == [1, 2, 3]
    assert sorted(c.final(x[:2])) == [4, 5]
    values = c.run({"x": np.array([5, 7, -2])})
    w = values.limbs(c.order)
    assert list(fr_to_signed(w[:4])) == [1, -2, 10, -2]
    assert c.public_values(values) == {"out": [FR_MODULUS - 2], "second": [10], "third": [FR_MODULUS - 2]}
    assert r.is_satisfied(w)
    with pytest.raises(ValueError):
        b.public("again", s)


def test_linear_combinations_cost_nothing():
    b = Builder()
    x = b.input("x", (4,))
    lc = (LinComb.of(x) * np.array([1, -2, 3, 0]) + 7).sum() - LinComb.of(x[3]) * 5
    assert b.n_constraints == 0 and b.n_wires == 5
    y = b.materialize(lc)
    assert b.n_constraints == 1
    c = b.finish()
    values = c.run({"x": np.array([1, 2, 3, 4])})
    assert values.get(y) == 1 - 4 + 9 + 0 + 28 - 20
    assert c.r1cs.is_satisfied(values.limbs(c.order))
    # materializing plain wires adds nothing
    assert (b.materialize(LinComb.of(x)) == x).all()


def test_matrices_merge_repeated_wires_and_drop_zeros():
    b = Builder()
    x = b.input("x", (2,))
    lc = LinComb.of(x[0]) * 3 + LinComb.of(x[0]) * 4 + LinComb.of(x[1]) - LinComb.of(x[1]) + 0
    y = b.materialize(lc)
    c = b.finish()
    xw, yw = c.final([x[0], y])
    assert _row(c.r1cs.A, 0) == {int(xw): 7}
    assert _row(c.r1cs.B, 0) == {0: 1}
    assert _row(c.r1cs.C, 0) == {int(yw): 1}


def test_big_coefficients_are_field_elements():
    b = Builder()
    x = b.input("x", (2,))
    big = 1 << 200
    y = b.materialize(LinComb.of(x[0]) * big + LinComb.of(x[1]) * -1)
    c = b.finish()
    values = c.run({"x": np.array([3, 5])})
    assert int(values.get_field(y)) == (3 * big - 5) % FR_MODULUS
    assert values.is_big[y]
    assert c.r1cs.is_satisfied(values.limbs(c.order))
    assert sorted(_row(c.r1cs.A, 0).values()) == sorted([big, FR_MODULUS - 1])


def test_overflow_is_an_error_not_a_wrap():
    b = Builder()
    x = b.input("x", (2,))
    y = b.materialize(LinComb.of(x) * (1 << 40))
    c = b.finish()
    c.run({"x": np.array([1 << 20, -(1 << 20)])})
    with pytest.raises(CircuitError):
        c.run({"x": np.array([1 << 30, 0])})
    assert y.shape == (2,)


def test_witness_inputs_are_checked():
    b = Builder()
    b.input("x", (2, 2))
    with pytest.raises(ValueError):
        b.input("x", (1,))
    c = b.finish()
    with pytest.raises(CircuitError, match="missing"):
        c.run({})
    with pytest.raises(CircuitError, match="shape"):
        c.run({"x": np.zeros(4, dtype=np.int64)})
    assert c.r1cs.is_satisfied(c.witness({"x": np.zeros((2, 2), dtype=np.int64)}))


def test_a_wrong_witness_is_caught_where_it_is_wrong():
    b = Builder()
    x = b.input("x", (3,))
    y = b.alloc((3,))
    b.constrain(LinComb.of(x), LinComb.of(x), LinComb.of(y))
    b.step(lambda v: v.set(y, v.get(x) ** 2 + np.array([0, 1, 0])))  # a buggy step
    c = b.finish()
    w = c.witness({"x": np.array([2, 3, 4])})
    assert list(c.r1cs.unsatisfied(w)) == [1]


def test_tensor_operations():
    b = Builder()
    x = b.input("x", (2, 3))
    lc = LinComb.of(x)
    assert lc.transpose(1, 0).shape == (3, 2)
    assert lc.reshape(6).shape == (6,)
    assert lc[1].shape == (3,)
    assert lc.sum().shape == (2,) and lc.sum(0).shape == (3,)
    both = concatenate([lc, lc * 2 + 1], axis=0)
    assert both.shape == (4, 3) and both.terms == 2
    y = b.materialize(both.transpose(1, 0))
    c = b.finish()
    xv = np.arange(6).reshape(2, 3)
    values = c.run({"x": xv})
    assert (values.get(y) == np.concatenate([xv, 2 * xv + 1]).T).all()


def _poseidon_and_product(b: Builder):
    x = b.input("x", (2, 3), field=True)
    h = b.materialize(G.poseidon(b, x), field=True)
    G.unsigned_bits(b, b.materialize(LinComb.of(b.input("y", (2,))) * 3 + 20), 5)
    b.public("h", h)
    return b.finish()


def test_a_witness_builder_keeps_the_program_and_counts_the_constraints():
    """The same construction on a WitnessBuilder: the circuit's counts, wire order and witness,
    its Poseidon constraints counted without forming them; the twin: a Builder, which keeps
    its constraints, refuses to count constraints that were not formed."""
    circuit, program = _poseidon_and_product(Builder()), _poseidon_and_product(WitnessBuilder())
    assert isinstance(program, WitnessProgram) and not isinstance(program, Circuit)
    assert (program.n_constraints, program.n_wires, program.n_public) == (
        circuit.r1cs.n_constraints,
        circuit.r1cs.n_wires,
        circuit.r1cs.n_public,
    )
    assert (program.order == circuit.order).all()
    inputs = {"x": np.array([[1, 2, 3], [FR_MODULUS - 1, 0, 5]], dtype=object), "y": np.array([3, -6])}
    witness = program.witness(inputs)
    assert (witness == circuit.witness(inputs)).all() and circuit.r1cs.is_satisfied(witness)
    with pytest.raises(TypeError, match="keeps its constraints"):
        Builder().count_constraints(3)
