"""Groth16 circuit-specific setup from a prepared powers of tau: snarkjs's ``zkey new``.

From the phase-1 points (``tau^i``, ``alpha tau^i``, ``beta tau^i`` in G1, ``tau^i`` in G2, and
their Lagrange-basis forms ``L_i(tau)`` over each power-of-two domain), the key for a circuit
with QAP matrices ``A``, ``B``, ``C`` (see :mod:`prover.groth16.qap`) is, per wire ``j``:

    A_j  = sum_i A_ij L_i(tau) G1          B1_j = sum_i B_ij L_i(tau) G1
    B2_j = sum_i B_ij L_i(tau) G2
    IC_j (public j) and C_j (private j) = sum_i (A_ij beta L_i(tau) + B_ij alpha L_i(tau)
                                                  + C_ij L_i(tau)) G1
    H_k  = L_(2k+1)(tau) G1 over the 2n domain (the reduction's H query)

with ``gamma = delta = 1``: gamma2 = delta2 = the G2 generator, delta1 = the G1 generator.

INSECURE ON ITS OWN: with ``delta = 1`` anyone can forge a proof for this key, exactly as with a
fresh ``snarkjs zkey new``. The key becomes sound only after at least one honest phase-2
contribution (a later step, see ``prover.ceremony``), which rescales delta and the C and H
points. Use this key directly for tests and benchmarks only.
"""

from __future__ import annotations

import hashlib

import numpy as np

from prover import kernels
from prover.errors import CircuitError
from prover.field import FR_MODULUS, ints_to_limbs
from prover.formats.binfile import points_uncompressed
from prover.groth16 import qap
from prover.groth16.keys import ProvingKey
from prover.kernels import reference
from prover.r1cs import R1CS, SparseMatrix

# The generators, in the kernel layouts (gamma2 = delta2 = G2, delta1 = G1 before phase 2).
G1_GENERATOR = reference.g1_to_array(reference.bn.G1)
G2_GENERATOR = reference.g2_to_array(reference.bn.G2)

# snarkjs hashes the circuit's H query in chunks of this many points (see circuit_hash).
_H_HASH_CHUNK = 1 << 14


def setup(r1cs: R1CS, ptau) -> ProvingKey:
    """The proving key of ``r1cs`` from the prepared powers of tau ``ptau`` (a
    ``prover.formats`` PowersOfTau), point for point what ``snarkjs groth16 setup`` writes.
    Raises CircuitError when the ptau is too small for the circuit."""
    if r1cs.prime != FR_MODULUS:
        raise CircuitError("the circuit is not over the BN254 scalar field: compile it for bn128")
    n = qap.domain_size(r1cs.n_constraints, r1cs.n_public)
    log_n = n.bit_length() - 1
    # the H query is on the 2n domain, whose G1 Lagrange block a prepared ptau of power log n
    # already holds (computed without the missing top power, which AB - C never reaches)
    if ptau.power < log_n:
        raise CircuitError(
            f"the circuit needs a domain of 2^{log_n} rows ({r1cs.n_constraints} constraints + "
            f"{r1cs.n_public + 1} public rows), so a powers of tau of power >= {log_n}; this one "
            f"has power {ptau.power}: use a larger (prepared) ptau"
        )
    a_qap, b_qap = qap.qap_matrices(r1cs)
    rows = a_qap.n_rows
    lagrange = np.ascontiguousarray(ptau.lagrange_g1(n)[:rows])

    a_t = a_qap.transpose(r1cs.n_wires)
    b_t = b_qap.transpose(r1cs.n_wires)
    a_points = kernels.g1_sparse_lincomb(a_t.indptr, a_t.indices, a_t.coeffs, lagrange)
    b1_points = kernels.g1_sparse_lincomb(b_t.indptr, b_t.indices, b_t.coeffs, lagrange)
    b2_points = kernels.g2_sparse_lincomb(
        b_t.indptr, b_t.indices, b_t.coeffs, np.ascontiguousarray(ptau.lagrange_g2(n)[:rows])
    )

    # IC and C share one combination: wire j's terms against [beta L | alpha L | L]
    points = np.concatenate([ptau.lagrange_beta_g1(n)[:rows], ptau.lagrange_alpha_g1(n)[:rows], lagrange])
    ic_c = _vstack([a_qap, b_qap, r1cs.C], rows).transpose(r1cs.n_wires)
    ic_c_points = kernels.g1_sparse_lincomb(ic_c.indptr, ic_c.indices, ic_c.coeffs, points)

    pk = key_before_phase2(
        r1cs,
        (a_qap, b_qap),
        alpha1=np.array(ptau.alpha_tau_g1[0]),
        beta1=np.array(ptau.beta_tau_g1[0]),
        beta2=np.array(ptau.beta_g2),
        points=(a_points, b1_points, b2_points, ic_c_points, qap.circom_h_query(ptau.lagrange_g1(2 * n))),
    )
    pk.mpc_params = {"cs_hash": circuit_hash(pk, h_hash_points(ptau.tau_g1, n)), "contributions": []}
    return pk


def key_before_phase2(
    r1cs: R1CS,
    qap_matrices: tuple[SparseMatrix, SparseMatrix],
    *,
    alpha1: np.ndarray,
    beta1: np.ndarray,
    beta2: np.ndarray,
    points: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> ProvingKey:
    """The key of ``r1cs`` with ``gamma = delta = 1`` (before any phase-2 contribution), from its
    QAP matrices ``(A, B)`` and its query points ``(A, B1, B2, IC and C, H)``; the IC and C
    points are one array, the public wires' first. Both setups (from a ptau, and from a known
    secret) end here, so they cannot disagree on the layout."""
    a_qap, b_qap = qap_matrices
    a_points, b1_points, b2_points, ic_c_points, h_points = points
    n_ic = r1cs.n_public + 1
    return ProvingKey(
        n_vars=r1cs.n_wires,
        n_public=r1cs.n_public,
        domain_size=qap.domain_size(r1cs.n_constraints, r1cs.n_public),
        alpha1=alpha1,
        beta1=beta1,
        beta2=beta2,
        gamma2=G2_GENERATOR.copy(),
        delta1=G1_GENERATOR.copy(),
        delta2=G2_GENERATOR.copy(),
        ic=ic_c_points[:n_ic],
        A=a_qap,
        B=b_qap,
        a_points=a_points,
        b1_points=b1_points,
        b2_points=b2_points,
        c_points=ic_c_points[n_ic:],
        h_points=h_points,
        n_constraints=r1cs.n_constraints,
    )


def _vstack(matrices: list[SparseMatrix], rows: int) -> SparseMatrix:
    """The matrices one below the other, each padded to ``rows`` rows (matrix k's row i becomes
    row ``k * rows + i``)."""
    indptr, nnz = [np.zeros(1, dtype=np.int64)], 0
    for m in matrices:
        ptr = m.indptr[1:].astype(np.int64)
        ptr = np.concatenate([ptr, np.full(rows - m.n_rows, ptr[-1] if len(ptr) else 0, dtype=np.int64)])
        indptr.append(nnz + ptr)
        nnz += m.nnz
    return SparseMatrix(
        np.concatenate(indptr),
        np.concatenate([m.indices.astype(np.int64) for m in matrices]),
        np.concatenate([m.coeffs for m in matrices]),
    )


def h_hash_count(n: int, n_tau_g1: int) -> int:
    """How many ``tau^i (tau^n - 1) G1`` points snarkjs hashes for a domain of ``n`` rows, given
    a ptau with ``n_tau_g1`` G1 powers."""
    # snarkjs hashes min(n - 1, 2^14)-point chunks starting below n - 1, so past 2^14 rows the
    # last chunk runs to n points (a quirk kept for byte-identical keys)
    count = n - 1 if n - 1 <= _H_HASH_CHUNK else -(-(n - 1) // _H_HASH_CHUNK) * _H_HASH_CHUNK
    # ... which with a ptau of power exactly log2(n) reads one point past the G1 powers, into
    # the next section's bytes; that one point is left out here (the only hash that differs)
    return min(count, n_tau_g1 - n)


def h_hash_points(tau_g1: np.ndarray, n: int) -> np.ndarray:
    """The points :func:`circuit_hash` hashes in place of the H query, ``tau^i (tau^n - 1) G1``,
    from a ptau's G1 powers."""
    count = h_hash_count(n, len(tau_g1))
    index = np.arange(count, dtype=np.int64)
    return kernels.g1_sparse_lincomb(
        np.arange(0, 2 * count + 1, 2, dtype=np.int64),
        np.stack([index + n, index], axis=1).reshape(-1),
        np.tile(ints_to_limbs([1, FR_MODULUS - 1]), (count, 1)),
        np.ascontiguousarray(tau_g1[: n + count]),
    )


def circuit_hash(pk: ProvingKey, h_hash: np.ndarray) -> bytes:
    """The phase-2 circuit hash snarkjs stores in a new .zkey (and every contribution chains
    from): BLAKE2b-512 over the key's points in uncompressed form, with the H query hashed as
    ``h_hash`` (:func:`h_hash_points`: ``tau^i (tau^n - 1) G1``) rather than as stored."""
    n = pk.domain_size
    hasher = hashlib.blake2b(digest_size=64)
    for point in (pk.alpha1, pk.beta1, pk.beta2, pk.gamma2, pk.delta1, pk.delta2):
        hasher.update(points_uncompressed(point, "g2" if point.ndim == 3 else "g1"))
    for length, points, group in (
        (len(pk.ic), pk.ic, "g1"),
        (n - 1, h_hash, "g1"),
        (len(pk.c_points), pk.c_points, "g1"),
        (pk.n_vars, pk.a_points, "g1"),
        (pk.n_vars, pk.b1_points, "g1"),
        (pk.n_vars, pk.b2_points, "g2"),
    ):
        hasher.update(length.to_bytes(4, "big"))
        hasher.update(points_uncompressed(points, group))
    return hasher.digest()
