"""The traced verifier (``prover.wrapper.trace``): traced Poseidon against the native hash, the
traced transcript and sumcheck against the plain verifier, the circuit's independence from the
proof's values, Groth16 proofs of a traced verification, and cheating provers caught."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from prover import poseidon as hash_spec
from prover.ceremony.known_secret import known_secret_setup
from prover.errors import VerificationError
from prover.field import FR_MODULUS, limbs_to_ints
from prover.groth16.prove import prove
from prover.groth16.verify import verify, verify_reference
from prover.sumcheck.matmul import MatmulProof, prove_matmul, verify_matmul
from prover.sumcheck.mle import evaluate, matrix_table
from prover.sumcheck.protocol import SumcheckError, SumcheckProof
from prover.sumcheck.transcript import Transcript
from prover.wrapper.trace import CircuitTranscript, Tracer, Var, poseidon

R = FR_MODULUS
LABEL = "wrapper test"


def _same_r1cs(a, b) -> bool:
    return (a.n_wires, a.n_outputs, a.n_public_inputs) == (b.n_wires, b.n_outputs, b.n_public_inputs) and all(
        np.array_equal(getattr(x, f), getattr(y, f))
        for x, y in ((a.A, b.A), (a.B, b.B), (a.C, b.C))
        for f in ("indptr", "indices", "coeffs")
    )


@pytest.mark.parametrize("n", range(1, hash_spec.MAX_INPUTS + 1))
def test_traced_poseidon_is_circomlibs_hash_with_three_constraints_per_sbox(n):
    rng = random.Random(n)
    values = [rng.randrange(R) for _ in range(n)]
    t = Tracer()
    h = poseidon([t.private(v) for v in values])
    assert h.value == hash_spec.poseidon(values)
    t_width = n + 1
    sboxes = hash_spec.FULL_ROUNDS * t_width + hash_spec.partial_rounds(t_width)
    assert t.n_constraints == 3 * (sboxes - 1)  # the first round's capacity S-box is a constant
    r1cs, witness = t.finish(), t.witness()
    assert r1cs.is_satisfied(witness)
    bad = witness.copy()
    bad[-1, 0] ^= 1  # one S-box value off
    assert not r1cs.is_satisfied(bad)


def test_traced_transcript_draws_the_native_challenges():
    rng = random.Random(1)
    values = [rng.randrange(R) for _ in range(40)]
    native, t = Transcript(LABEL), Tracer()
    traced = CircuitTranscript(LABEL)
    native.absorb(values)
    traced.absorb([t.private(v) for v in values])
    assert [c.value for c in traced.challenges(3)] == native.challenges(3)
    assert t.finish().is_satisfied(t.witness())


def _matmul_instance(seed: int):
    rng = random.Random(seed)
    a = [[rng.randrange(-50, 50) for _ in range(8)] for _ in range(4)]
    b = [[rng.randrange(-50, 50) for _ in range(2)] for _ in range(8)]
    c = [[sum(a[i][k] * b[k][j] for k in range(8)) for j in range(2)] for i in range(4)]
    r_x, r_y = [rng.randrange(R) for _ in range(2)], [rng.randrange(R)]
    claim = evaluate(matrix_table(c), [*r_x, *r_y])
    proof, _ = prove_matmul(matrix_table(a), matrix_table(b), 3, r_x, r_y, Transcript(LABEL))
    return claim, r_x, r_y, proof


def _trace_matmul(claim, r_x, r_y, proof: MatmulProof | None):
    """The matmul verifier traced: public inputs the claim and its point, public outputs the
    two claims it leaves; the proof private. ``proof`` None: the building run, no values."""
    t = Tracer(values=proof is not None)
    statement = [claim, *r_x, *r_y] if proof is not None else [None] * 4
    pub = [t.public(f"x{i}", v) for i, v in enumerate(statement)]
    if proof is None:
        rounds = tuple(tuple(t.private() for _ in range(2)) for _ in range(3))
        private = MatmulProof(SumcheckProof(rounds), t.private(), t.private())
    else:
        private = MatmulProof(
            SumcheckProof(tuple(tuple(t.private(v) for v in rnd) for rnd in proof.sumcheck.round_polynomials)),
            t.private(proof.a_value),
            t.private(proof.b_value),
        )
    a_claim, b_claim = verify_matmul(pub[0], pub[1:3], pub[3:], 3, private, CircuitTranscript(LABEL))
    for name, x in (("a", a_claim), ("b", b_claim)):
        for i, coordinate in enumerate(x.point):
            t.public(f"{name}_point{i}", coordinate, kind="output")
        t.public(f"{name}_value", x.value, kind="output")
    return t


def test_traced_matmul_verifier_leaves_the_native_claims_and_a_satisfied_circuit():
    claim, r_x, r_y, proof = _matmul_instance(2)
    a_claim, b_claim = verify_matmul(claim, r_x, r_y, 3, proof, Transcript(LABEL))
    t = _trace_matmul(claim, r_x, r_y, proof)
    r1cs, witness = t.finish(), t.witness()
    assert r1cs.is_satisfied(witness)
    n_out = r1cs.n_outputs
    expected = [*a_claim.point, a_claim.value, *b_claim.point, b_claim.value]
    assert t.public_values()[:n_out] == expected
    assert t.public_values()[n_out:] == [claim, *r_x, *r_y]
    # the circuit is one for every proof: built without values, or witnessed from another proof
    assert _same_r1cs(r1cs, _trace_matmul(None, None, None, None).finish())
    other = _matmul_instance(3)
    assert _same_r1cs(r1cs, _trace_matmul(*other).finish())


def test_a_cheating_matmul_prover_gets_no_witness_and_a_forged_wire_breaks_a_constraint():
    claim, r_x, r_y, proof = _matmul_instance(4)
    with pytest.raises(SumcheckError, match="do not multiply"):
        _trace_matmul(claim, r_x, r_y, replace(proof, a_value=(proof.a_value + 1) % R))
    with pytest.raises(SumcheckError, match="do not multiply"):
        _trace_matmul((claim + 1) % R, r_x, r_y, proof)  # a false claim, the honest proof
    t = _trace_matmul(claim, r_x, r_y, proof)
    r1cs, witness = t.finish(), t.witness()
    for wire in (1, r1cs.n_public + 1, r1cs.n_wires - 1):  # an output, a round value, the last
        bad = witness.copy()
        bad[wire, 0] ^= 2
        assert not r1cs.is_satisfied(bad)


def test_groth16_proof_of_a_traced_verification_checks_and_binds_its_public_claims():
    claim, r_x, r_y, proof = _matmul_instance(5)
    t = _trace_matmul(claim, r_x, r_y, proof)
    r1cs, witness = t.finish(), t.witness()
    pk = known_secret_setup(r1cs, 0x1234, 0x77, 0x99)
    groth, public = prove(pk, witness, r1cs=r1cs)
    assert public == t.public_values()
    assert verify(pk.verifying_key(), public, groth)
    assert verify_reference(pk.verifying_key(), public, groth)
    for i in (0, r1cs.n_outputs):  # a claim it leaves, the claim it checked
        wrong = list(public)
        wrong[i] = (wrong[i] + 1) % R
        assert not verify(pk.verifying_key(), wrong, groth)


def test_traced_values_refuse_to_branch_or_leave_the_circuit():
    t = Tracer()
    x, y = t.private(3), t.private(0)
    for misuse in (lambda: bool(x), lambda: int(x), lambda: x == y, lambda: x % 7):
        with pytest.raises((TypeError, ValueError)):
            misuse()
    with pytest.raises(VerificationError, match="divides by zero"):
        y.inverse()
    inv = pow(x, -1, R)
    assert inv.value * 3 % R == 1 and (x**5).value == 243
    assert isinstance(x * 2 + 1, Var) and t.n_constraints == 4  # x^-1, and x^5 in three
    assert t.finish().is_satisfied(t.witness())
    with pytest.raises(ValueError, match="needs every input"):
        t.private()


def test_public_values_are_in_r1cs_order():
    t = Tracer()
    a = t.public("in", 5)
    t.public("out", a * a, kind="output")
    r1cs, witness = t.finish(), t.witness()
    assert (r1cs.n_outputs, r1cs.n_public_inputs) == (1, 1)
    assert limbs_to_ints(witness[1:3]) == [25, 5] == t.public_values()
