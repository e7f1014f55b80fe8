"""Groth16 setup, QAP reduction, prove and verify: against the textbook identity, a key computed
from the known secret by hand, py_ecc, and snarkjs (keys, proofs and verification both ways)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from circuits.artifacts import snarkjs
from py_ecc import optimized_bn128 as bn
from support.forgeries import twist_point_outside_g2

from marketplace.npm import run_npm_tool
from prover import kernels
from prover.ceremony.known_secret import known_secret_ptau, known_secret_setup, lagrange_scalars, tau_powers
from prover.errors import CircuitError
from prover.field import FQ_MODULUS, FR_MODULUS, ints_to_limbs, limbs_to_ints
from prover.formats.ptau import write_ptau
from prover.formats.r1cs import read_r1cs
from prover.formats.snarkjs_json import read_proof, read_public, read_verification_key, write_proof, write_public
from prover.formats.wtns import read_wtns
from prover.formats.zkey import read_zkey, write_zkey
from prover.groth16 import qap
from prover.groth16.keys import Proof
from prover.groth16.prove import prove
from prover.groth16.setup import setup
from prover.groth16.verify import verify, verify_reference
from prover.kernels.reference import g1_to_array, g2_to_array
from prover.r1cs import R1CS, SparseMatrix

R = FR_MODULUS
SECRET = {"tau": 0x5EC12E7, "alpha": 0xA1FA, "beta": 0xBE7A}


# --- hand-written circuits (Python ints, independent of the code under test) ---------------


def _csr(rows: list[list[tuple[int, int]]]) -> SparseMatrix:
    indptr = np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)
    wires = [w for r in rows for w, _ in r]
    return SparseMatrix(indptr, np.array(wires, dtype=np.int64), ints_to_limbs([c for r in rows for _, c in r], R))


class HandCircuit:
    """An R1CS kept as row lists of (wire, coefficient) plus a satisfying witness as ints."""

    def __init__(self, a, b, c, witness, n_outputs, n_public_inputs):
        self.rows = (a, b, c)
        self.witness = witness
        self.r1cs = R1CS(
            n_wires=len(witness),
            n_outputs=n_outputs,
            n_public_inputs=n_public_inputs,
            n_private_inputs=len(witness) - 1 - n_outputs - n_public_inputs,
            A=_csr(a),
            B=_csr(b),
            C=_csr(c),
        )

    def row_values(self, matrix: int, witness: list[int]) -> list[int]:
        return [sum(c * witness[w] for w, c in row) % R for row in self.rows[matrix]]


def multiplier_circuit(a: int = 3, b: int = 11) -> HandCircuit:
    """out = a^2 * b + a, with out public (output), a public (input), b private."""
    # wires: 0 one, 1 out, 2 a, 3 b, 4 a^2
    witness = [1, (a * a * b + a) % R, a, b, a * a % R]
    return HandCircuit(
        a=[[(2, 1)], [(4, 1)]],
        b=[[(2, 1)], [(3, 1)]],
        c=[[(4, 1)], [(1, 1), (2, R - 1)]],
        witness=witness,
        n_outputs=1,
        n_public_inputs=1,
    )


def random_circuit(rng, n_constraints: int = 10, n_inputs: int = 3) -> HandCircuit:
    """Each constraint defines a new wire as (lincomb of earlier wires) * (lincomb) - lincomb;
    two outputs copy the last wires (linear rows with B = 1), one input is public."""
    values = [1] + [0, 0] + [int(x) for x in rng.integers(1, 1 << 40, n_inputs)]
    first_internal = len(values)
    a_rows, b_rows, c_rows = [], [], []

    def lincomb():
        # any wire but the outputs (1, 2), which are set at the end
        wires = rng.choice([0] + list(range(3, len(values))), size=int(rng.integers(1, 4)), replace=False)
        return [(int(w), int(rng.integers(-5, 6)) % R) for w in wires]

    for _ in range(n_constraints):
        la, lb, lc = lincomb(), lincomb(), lincomb()
        va = sum(c * values[w] for w, c in la) % R
        vb = sum(c * values[w] for w, c in lb) % R
        vc = sum(c * values[w] for w, c in lc) % R
        new = len(values)
        values.append((va * vb - vc) % R)
        a_rows.append(la)
        b_rows.append(lb)
        c_rows.append(lc + [(new, 1)])
    for out, src in ((1, len(values) - 1), (2, first_internal)):
        values[out] = values[src]
        a_rows.append([(src, 1)])
        b_rows.append([(0, 1)])
        c_rows.append([(out, 1)])
    return HandCircuit(a_rows, b_rows, c_rows, values, n_outputs=2, n_public_inputs=1)


# --- polynomial helpers over Fr with Python ints (the textbook side) ----------------------


def _interpolate(evals: list[int]) -> list[int]:
    n = len(evals)
    w_inv = pow(kernels.root_of_unity(n), -1, R)
    n_inv = pow(n, -1, R)
    return [n_inv * sum(e * pow(w_inv, i * j, R) for j, e in enumerate(evals)) % R for i in range(n)]


def _evaluate(coeffs: list[int], x: int) -> int:
    acc = 0
    for c in reversed(coeffs):
        acc = (acc * x + c) % R
    return acc


def _poly_mul(p: list[int], q: list[int]) -> list[int]:
    out = [0] * (len(p) + len(q) - 1)
    for i, a in enumerate(p):
        for j, b in enumerate(q):
            out[i + j] = (out[i + j] + a * b) % R
    return out


def _divide_by_vanishing(p: list[int], n: int) -> tuple[list[int], list[int]]:
    """p = q (x^n - 1) + rem."""
    rem = list(p)
    q = [0] * max(1, len(p) - n)
    for k in range(len(rem) - 1, n - 1, -1):
        q[k - n] = rem[k]
        rem[k - n] = (rem[k - n] + rem[k]) % R
        rem[k] = 0
    return q, rem[:n]


def _lagrange_at(n: int, i: int, x: int) -> int:
    """L_i(x) on the n-th roots of unity, by the closed formula (x^n - 1) w^i / (n (x - w^i))."""
    wi = pow(kernels.root_of_unity(n), i, R)
    return (pow(x, n, R) - 1) * wi * pow(n * (x - wi), -1, R) % R


def _qap_polynomials(circuit: HandCircuit, witness: list[int], n: int):
    """A, B, C interpolated over the n domain: constraint rows, then A = w_j on the public rows."""
    pub = circuit.r1cs.n_public
    a = circuit.row_values(0, witness) + [witness[j] for j in range(pub + 1)]
    b = circuit.row_values(1, witness)
    c = circuit.row_values(2, witness)
    return [_interpolate(v + [0] * (n - len(v))) for v in (a, b, c)]


# --- the reduction ------------------------------------------------------------------------


@pytest.mark.parametrize("make", [multiplier_circuit, random_circuit])
def test_reduction_satisfies_the_textbook_identity(make, rng):
    circuit = make(rng) if make is random_circuit else make()
    r1cs = circuit.r1cs
    n = qap.domain_size(r1cs.n_constraints, r1cs.n_public)
    a_poly, b_poly, c_poly = _qap_polynomials(circuit, circuit.witness, n)
    h_poly, rem = _divide_by_vanishing([(x - y) % R for x, y in zip(_poly_mul(a_poly, b_poly), c_poly + [0] * n)], n)
    assert not any(rem), "a satisfying witness must give A*B - C divisible by x^n - 1"

    a_qap, b_qap = qap.qap_matrices(r1cs)
    a, b, c = qap.evaluations(a_qap, b_qap, ints_to_limbs(circuit.witness), n)
    h_odd = limbs_to_ints(qap.circom_quotient(a, b, c))
    z = int(rng.integers(1, 1 << 62)) * 0x1F2E3D4C5B6A7988 % R
    ab_c = (_evaluate(a_poly, z) * _evaluate(b_poly, z) - _evaluate(c_poly, z)) % R
    assert ab_c == _evaluate(h_poly, z) * (pow(z, n, R) - 1) % R
    # the H query pairs h_odd with the odd-index Lagrange basis of the 2n domain
    assert sum(h * _lagrange_at(2 * n, 2 * j + 1, z) for j, h in enumerate(h_odd)) % R == ab_c


def test_unsatisfying_witness_breaks_the_textbook_identity(rng):
    circuit = random_circuit(rng)
    bad = list(circuit.witness)
    bad[-3] = (bad[-3] + 1) % R
    n = qap.domain_size(circuit.r1cs.n_constraints, circuit.r1cs.n_public)
    a_poly, b_poly, c_poly = _qap_polynomials(circuit, bad, n)
    _, rem = _divide_by_vanishing([(x - y) % R for x, y in zip(_poly_mul(a_poly, b_poly), c_poly + [0] * n)], n)
    assert any(rem)


def test_domain_size_counts_constraints_public_rows_and_the_constant_wire():
    assert qap.domain_size(2, 2) == 8 and qap.domain_size(1, 2) == 4 and qap.domain_size(5, 2) == 8
    assert qap.domain_size(6, 2) == 16


# --- known-secret ptau and setup against the secret -----------------------------------------


def test_known_secret_lagrange_bases_match_the_closed_formula():
    tau = SECRET["tau"]
    powers = tau_powers(tau, 15)
    assert limbs_to_ints(powers) == [pow(tau, i, R) for i in range(15)]
    got = limbs_to_ints(lagrange_scalars(powers, 16))
    for n in (1, 2, 4, 8):
        assert got[n - 1 : 2 * n - 1] == [_lagrange_at(n, i, tau) for i in range(n)]
    # the 16 block has no tau^15: L_i(tau) - tau^15 w^i / 16
    w, top = kernels.root_of_unity(16), pow(tau, 15, R) * pow(16, -1, R)
    assert got[15:31] == [(_lagrange_at(16, i, tau) - top * pow(w, i, R)) % R for i in range(16)]
    assert got[15:31] != [_lagrange_at(16, i, tau) for i in range(16)]


@pytest.fixture(scope="module")
def ptau_small():
    """Power 4: domains up to 16, so an 8-row circuit's H query is the exact 16-domain basis."""
    return known_secret_ptau(4, **SECRET)


def _g1(s: int) -> np.ndarray:
    return g1_to_array(bn.multiply(bn.G1, s % R))


def test_known_secret_ptau_points(ptau_small):
    """A sample of each section against py_ecc (a sample: py_ecc takes milliseconds a point)."""
    tau, alpha, beta = SECRET["tau"], SECRET["alpha"], SECRET["beta"]
    assert (ptau_small.tau_g1[5] == _g1(pow(tau, 5, R))).all()
    assert (ptau_small.tau_g2[3] == g2_to_array(bn.multiply(bn.G2, pow(tau, 3, R)))).all()
    assert (ptau_small.alpha_tau_g1[2] == _g1(alpha * tau * tau)).all()
    assert (ptau_small.beta_g2 == g2_to_array(bn.multiply(bn.G2, beta))).all()
    assert (ptau_small.lagrange_beta_g1(4)[1] == _g1(beta * _lagrange_at(4, 1, tau))).all()
    assert (ptau_small.lagrange_g2(8)[7] == g2_to_array(bn.multiply(bn.G2, _lagrange_at(8, 7, tau)))).all()
    assert not (ptau_small.lagrange_g1(8)[7] == _g1(_lagrange_at(8, 6, tau))).all()


def test_setup_points_are_the_secret_polynomials(ptau_small):
    """Every key point is the QAP polynomial of its wire at tau, times the generator."""
    circuit = multiplier_circuit()
    r1cs = circuit.r1cs
    pk = setup(r1cs, ptau_small)
    tau, alpha, beta = SECRET["tau"], SECRET["alpha"], SECRET["beta"]
    n = pk.domain_size
    assert n == 8 and pk.n_public == 2 and pk.n_vars == 5
    lag = [_lagrange_at(n, i, tau) for i in range(n)]
    rows_a = circuit.rows[0] + [[(j, 1)] for j in range(r1cs.n_public + 1)]

    def at_tau(rows, wire):
        return sum(c * lag[i] for i, row in enumerate(rows) for w, c in row if w == wire) % R

    for wire in range(pk.n_vars):
        u, v, c = at_tau(rows_a, wire), at_tau(circuit.rows[1], wire), at_tau(circuit.rows[2], wire)
        assert (pk.a_points[wire] == _g1(u)).all()
        assert (pk.b1_points[wire] == _g1(v)).all()
        assert (pk.b2_points[wire] == g2_to_array(bn.multiply(bn.G2, v))).all()
        combined = _g1(beta * u + alpha * v + c)
        key_point = pk.ic[wire] if wire <= pk.n_public else pk.c_points[wire - pk.n_public - 1]
        assert (key_point == combined).all()
    for k in range(n):
        assert (pk.h_points[k] == _g1(_lagrange_at(2 * n, 2 * k + 1, tau))).all()
    assert (pk.alpha1 == _g1(alpha)).all() and (pk.beta1 == _g1(beta)).all()
    assert (pk.delta1 == _g1(1)).all()
    assert len(pk.mpc_params["cs_hash"]) == 64


@pytest.mark.parametrize("n_constraints", [1, 12, 40])
def test_known_secret_setup_is_the_setup_from_the_known_secret_ptau(rng, n_constraints, tmp_path):
    """The direct setup from the secret (no ptau) writes the very key, byte for byte with the
    same circuit hash, that setup makes from the known-secret ptau of the domain's power."""
    circuit = random_circuit(rng, n_constraints=n_constraints)
    n = qap.domain_size(circuit.r1cs.n_constraints, circuit.r1cs.n_public)
    from_ptau = setup(circuit.r1cs, known_secret_ptau(n.bit_length() - 1, **SECRET))
    direct = known_secret_setup(circuit.r1cs, **SECRET)
    write_zkey(from_ptau, tmp_path / "ptau.zkey")
    write_zkey(direct, tmp_path / "direct.zkey")
    assert (tmp_path / "ptau.zkey").read_bytes() == (tmp_path / "direct.zkey").read_bytes()
    assert direct.mpc_params["cs_hash"] == from_ptau.mpc_params["cs_hash"]
    proof, public = prove(direct, ints_to_limbs(circuit.witness))
    assert verify(direct.verifying_key(), public, proof)
    # another secret is another key
    other = known_secret_setup(circuit.r1cs, **{**SECRET, "tau": SECRET["tau"] + 1})
    assert not (other.a_points == direct.a_points).all()
    assert other.mpc_params["cs_hash"] != direct.mpc_params["cs_hash"]


@pytest.mark.slow
def test_known_secret_setup_past_the_hash_chunk_matches_the_ptau_setup():
    """Past 2^14 rows snarkjs's circuit hash reads its H points in whole chunks; the direct
    setup hashes what setup from the ptau hashes (a 2^15 domain of repeated squarings)."""
    rows = 20_000
    # wire 0 one, 1 x (public input), then x^2, x^4, ...: one multiplication per row
    a = [[(1 if i == 0 else i + 1, 1)] for i in range(rows)]
    c = [[(i + 2, 1)] for i in range(rows)]
    witness = [1, 3]
    for _ in range(rows):
        witness.append(witness[-1] * witness[-1] % R)
    r1cs = R1CS(
        n_wires=len(witness),
        n_outputs=0,
        n_public_inputs=1,
        n_private_inputs=len(witness) - 2,
        A=_csr(a),
        B=_csr(a),
        C=_csr(c),
    )
    assert r1cs.is_satisfied(ints_to_limbs(witness))
    assert qap.domain_size(r1cs.n_constraints, r1cs.n_public) == 1 << 15
    direct = known_secret_setup(r1cs, **SECRET)
    from_ptau = setup(r1cs, known_secret_ptau(15, **SECRET))
    assert direct.mpc_params["cs_hash"] == from_ptau.mpc_params["cs_hash"]
    assert (direct.h_points == from_ptau.h_points).all() and (direct.c_points == from_ptau.c_points).all()


def test_setup_refuses_a_ptau_too_small(rng):
    circuit = random_circuit(rng, n_constraints=20)  # 20 + 4 rows: domain 32
    with pytest.raises(CircuitError, match="power >= 5"):
        setup(circuit.r1cs, known_secret_ptau(2, **SECRET))


# --- prove and verify -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def proved():
    """A key (ptau power 3 = log2 of the domain: the H query uses the partial 2n G1 block),
    a proof and its public signals for the hand-written multiplier."""
    circuit = multiplier_circuit()
    pk = setup(circuit.r1cs, known_secret_ptau(3, **SECRET))
    proof, public = prove(pk, ints_to_limbs(circuit.witness), r1cs=circuit.r1cs)
    return circuit, pk, proof, public


def test_prove_verify_roundtrip(proved):
    circuit, pk, proof, public = proved
    assert public == circuit.witness[1:3]
    vk = pk.verifying_key()
    assert verify(vk, public, proof)
    assert verify_reference(vk, public, proof)
    assert verify(vk, [np.int64(x) for x in public], proof)  # numpy integers are signals too
    assert not verify(vk, [float(public[0]), public[1]], proof)  # not a field element: False, no raise


def test_roundtrip_with_the_smallest_ptau_and_a_random_circuit(rng):
    circuit = random_circuit(rng)  # 12 constraints + 4 rows: domain 16, ptau power 4
    pk = setup(circuit.r1cs, known_secret_ptau(4, **SECRET))
    proof, public = prove(pk, ints_to_limbs(circuit.witness))
    assert verify(pk.verifying_key(), public, proof)
    bad = list(circuit.witness)
    bad[-3] = (bad[-3] + 1) % R
    forged, _ = prove(pk, ints_to_limbs(bad))
    assert not verify(pk.verifying_key(), public, forged)


def test_two_proofs_of_one_witness_differ_and_both_verify(proved):
    circuit, pk, proof, public = proved
    again, public_again = prove(pk, ints_to_limbs(circuit.witness))
    assert public_again == public
    assert not (again.a == proof.a).all() and not (again.c == proof.c).all()
    assert verify(pk.verifying_key(), public, again)


def _tampered_cases(proof: Proof, public: list[int]):
    g1_other = _g1(7)
    a_x, a_y = limbs_to_ints(proof.a)
    yield "A replaced", replace(proof, a=g1_other), public
    yield "B replaced", replace(proof, b=g2_to_array(bn.multiply(bn.G2, 7))), public
    yield "C replaced", replace(proof, c=g1_other), public
    yield "A swapped with C", replace(proof, a=proof.c, c=proof.a), public
    for i in range(len(public)):
        changed = list(public)
        changed[i] = (changed[i] + 1) % R
        yield f"public signal {i} changed", proof, changed
    yield "public signal + r", proof, [public[0] + R] + public[1:]
    yield "negative public signal", proof, [public[0] - R] + public[1:]
    yield "one public signal too many", proof, public + [0]
    yield "one public signal too few", proof, public[:-1]
    yield "A off the curve", replace(proof, a=ints_to_limbs([a_x, a_y + 1])), public
    yield "A's y not canonical (y + q)", replace(proof, a=ints_to_limbs([a_x, a_y + FQ_MODULUS])), public
    yield "B outside the prime-order subgroup", replace(proof, b=twist_point_outside_g2()), public
    yield "A of the wrong shape", replace(proof, a=proof.a[:1]), public


def test_tampered_proofs_and_signals_are_rejected_by_both_verifiers(proved):
    _, pk, proof, public = proved
    vk = pk.verifying_key()
    for name, bad_proof, bad_public in _tampered_cases(proof, public):
        assert not verify(vk, bad_public, bad_proof), name
        assert not verify_reference(vk, bad_public, bad_proof), name


def test_prove_checks_the_witness(proved):
    circuit, pk, _, _ = proved
    witness = ints_to_limbs(circuit.witness)
    with pytest.raises(CircuitError, match="shape"):
        prove(pk, witness[:-1])
    not_one = witness.copy()
    not_one[0, 0] = 2
    with pytest.raises(CircuitError, match="wire 0"):
        prove(pk, not_one)
    too_big = witness.copy()
    too_big[3] = ints_to_limbs([R + 1])[0]
    with pytest.raises(CircuitError, match=">= r"):
        prove(pk, too_big)
    unsatisfied = ints_to_limbs(circuit.witness[:4] + [circuit.witness[4] + 1])
    with pytest.raises(CircuitError, match="violates 2 constraint"):
        prove(pk, unsatisfied, r1cs=circuit.r1cs)


# --- interoperability with snarkjs ------------------------------------------------------------


def _snarkjs_verifies(vk: Path, public: Path, proof: Path) -> bool:
    return run_npm_tool("snarkjs", "groth16", "verify", vk, public, proof, check=False, timeout=600).returncode == 0


@pytest.mark.parametrize("circuit", ["multiplier", pytest.param("poseidon_preimage", marks=pytest.mark.slow)])
def test_snarkjs_verifies_our_proof_from_its_contributed_key(artifacts, tmp_path, circuit):
    """Our prover on a snarkjs key with a phase-2 contribution (delta != 1), checked by snarkjs
    against the verification key it exports itself."""
    art = artifacts.circuits[circuit]
    vk_path = tmp_path / "verification_key.json"
    snarkjs("zkey", "export", "verificationkey", art.zkey_contributed, vk_path)
    proof, public = prove(read_zkey(art.zkey_contributed), read_wtns(art.wtns), r1cs=read_r1cs(art.r1cs))
    assert public == read_public(art.public)
    write_proof(proof, tmp_path / "proof.json")
    write_public(public, tmp_path / "public.json")
    assert _snarkjs_verifies(vk_path, tmp_path / "public.json", tmp_path / "proof.json")
    assert verify(read_verification_key(vk_path), public, proof)

    write_public([(public[0] + 1) % R] + public[1:], tmp_path / "changed.json")
    assert not _snarkjs_verifies(vk_path, tmp_path / "changed.json", tmp_path / "proof.json")
    write_proof(replace(proof, c=proof.a), tmp_path / "forged.json")
    assert not _snarkjs_verifies(vk_path, tmp_path / "public.json", tmp_path / "forged.json")


def test_we_verify_snarkjs_proofs(artifacts):
    art = artifacts.circuits["multiplier"]
    vk, proof, public = read_verification_key(art.vk), read_proof(art.proof), read_public(art.public)
    assert verify(vk, public, proof) and verify_reference(vk, public, proof)
    # the key as read from the .zkey gives the same verdicts
    assert verify(read_zkey(art.zkey).verifying_key(), public, proof)
    for name, bad_proof, bad_public in _tampered_cases(proof, public):
        assert not verify(vk, bad_public, bad_proof), name


def test_snarkjs_sets_up_from_our_known_secret_ptau_and_gets_our_key(tmp_path, artifacts):
    """snarkjs accepts the known-secret ptau we write, and its key is byte for byte ours (with
    the ptau's power equal to the circuit's domain, where the H query uses the partial 2n
    block)."""
    art = artifacts.circuits["multiplier"]
    ptau = known_secret_ptau(3, **SECRET)
    write_ptau(ptau, tmp_path / "known.ptau")
    snarkjs("groth16", "setup", art.r1cs, tmp_path / "known.ptau", tmp_path / "snarkjs.zkey")
    write_zkey(setup(read_r1cs(art.r1cs), ptau), tmp_path / "ours.zkey")
    assert (tmp_path / "ours.zkey").read_bytes() == (tmp_path / "snarkjs.zkey").read_bytes()
    # and a proof from that key verifies in snarkjs
    pk = read_zkey(tmp_path / "snarkjs.zkey")
    proof, public = prove(pk, read_wtns(art.wtns))
    snarkjs("zkey", "export", "verificationkey", tmp_path / "snarkjs.zkey", tmp_path / "vk.json")
    write_proof(proof, tmp_path / "proof.json")
    write_public(public, tmp_path / "public.json")
    assert _snarkjs_verifies(tmp_path / "vk.json", tmp_path / "public.json", tmp_path / "proof.json")
