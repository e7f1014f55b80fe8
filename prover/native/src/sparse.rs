//! Sparse (CSR) products: matrix times Fr vector, and rows of scalars times a table of curve
//! points (one point per row, for the Groth16 setup's per-wire sums).

use ark_bn254::{Fr, G1Projective, G2Projective};
use ark_ff::{BigInt, BigInteger, BitIteratorBE, Fp, PrimeField, Zero};
use numpy::{PyArrayDyn, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::arrays::{
    below, bigint, c_order, call_error, check_all, fr, fr_int, input, leading_len, output, parse_all, point_limbs,
    points, points_shape, Arg, Curve, LIMBS, NOT_FR,
};

/// Rows longer than this go to the Pippenger MSM (one at a time, each parallel); shorter ones
/// are summed in parallel, small coefficients term by term and full-size ones by `straus`.
const SHORT_ROW: usize = 512;

/// The CSR structure of a kernel call, borrowed from its numpy arguments.
struct Csr<'py> {
    indptr: PyReadonlyArrayDyn<'py, i64>,
    indices: PyReadonlyArrayDyn<'py, i64>,
    coeffs: PyReadonlyArrayDyn<'py, u64>,
    rows: usize,
}

impl<'py> Csr<'py> {
    /// Borrow and shape-check indptr (rows+1,), indices (nnz,), coeffs (nnz, 4).
    fn borrow(
        kernel: &'static str,
        indptr: &Bound<'py, PyAny>,
        indices: &Bound<'py, PyAny>,
        coeffs: &Bound<'py, PyAny>,
    ) -> PyResult<Self> {
        let (p_arg, i_arg, c_arg) = (
            Arg::new(kernel, "indptr"),
            Arg::new(kernel, "indices"),
            Arg::new(kernel, "coeffs"),
        );
        let indptr = input::<i64>(p_arg, indptr, "int64")?;
        let indices = input::<i64>(i_arg, indices, "int64")?;
        let coeffs = input::<u64>(c_arg, coeffs, "uint64")?;
        let rows_plus_one = leading_len(p_arg, indptr.shape(), &[])?;
        let nnz = leading_len(i_arg, indices.shape(), &[])?;
        let n_coeffs = leading_len(c_arg, coeffs.shape(), &[LIMBS])?;
        if rows_plus_one == 0 {
            return Err(p_arg.error("must have rows + 1 entries (at least one), got none"));
        }
        if nnz != n_coeffs {
            return Err(call_error(
                kernel,
                format!("indices and coeffs must have the same length, got {nnz} and {n_coeffs}"),
            ));
        }
        Ok(Csr {
            indptr,
            indices,
            coeffs,
            rows: rows_plus_one - 1,
        })
    }
}

/// Check the CSR invariants: indptr starts at 0, never decreases, ends at nnz; every column
/// index is in [0, columns); every coefficient is below r.
fn check_csr(kernel: &'static str, indptr: &[i64], indices: &[i64], coeffs: &[u64], columns: usize) -> PyResult<()> {
    let p_arg = Arg::new(kernel, "indptr");
    if indptr[0] != 0 {
        return Err(p_arg.error_at(0, format!("must be 0, got {}", indptr[0])));
    }
    if let Some(i) = indptr.windows(2).position(|w| w[1] < w[0]) {
        return Err(p_arg.error_at(
            i + 1,
            format!(
                "= {} is below the entry before it (indptr must not decrease)",
                indptr[i + 1]
            ),
        ));
    }
    let last = indptr[indptr.len() - 1];
    if last != indices.len() as i64 {
        return Err(p_arg.error(format!(
            "must end at the number of nonzeros {}, got {last}",
            indices.len()
        )));
    }
    if let Some(k) = indices.par_iter().position_first(|&j| j < 0 || j as usize >= columns) {
        return Err(Arg::new(kernel, "indices")
            .error_at(k, format!("= {} is not a column index in [0, {columns})", indices[k])));
    }
    check_all(Arg::new(kernel, "coeffs"), coeffs, LIMBS, |l| {
        if below(l, &Fr::MODULUS) {
            Ok(())
        } else {
            Err(NOT_FR)
        }
    })
}

fn row_range(indptr: &[i64], row: usize) -> std::ops::Range<usize> {
    indptr[row] as usize..indptr[row + 1] as usize
}

/// CSR matrix (indptr, indices, coeffs) times an Fr vector -> one Fr element per row.
#[pyfunction]
pub fn sparse_matvec<'py>(
    py: Python<'py>,
    indptr: &Bound<'py, PyAny>,
    indices: &Bound<'py, PyAny>,
    coeffs: &Bound<'py, PyAny>,
    vector: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    const KERNEL: &str = "sparse_matvec";
    let csr = Csr::borrow(KERNEL, indptr, indices, coeffs)?;
    let v_arg = Arg::new(KERNEL, "vector");
    let v_arr = input::<u64>(v_arg, vector, "uint64")?;
    let columns = leading_len(v_arg, v_arr.shape(), &[LIMBS])?;
    let (ip, idx, cs, vs) = (
        c_order(&csr.indptr),
        c_order(&csr.indices),
        c_order(&csr.coeffs),
        c_order(&v_arr),
    );
    let (ip, idx, cs, vs): (&[i64], &[i64], &[u64], &[u64]) = (&ip, &idx, &cs, &vs);
    let rows = csr.rows;
    let out = py.allow_threads(|| -> PyResult<Vec<u64>> {
        check_csr(KERNEL, ip, idx, cs, columns)?;
        let vector = parse_all(v_arg, vs, LIMBS, fr)?;
        let mut out = vec![0u64; rows * LIMBS];
        out.par_chunks_exact_mut(LIMBS).enumerate().for_each(|(row, o)| {
            // a raw coefficient c times a Montgomery-form v*R is c*v in raw form, so the
            // coefficients need no conversion and the sum is the canonical result
            let mut acc = Fr::zero();
            for k in row_range(ip, row) {
                let c: Fr = Fp::new_unchecked(bigint(&cs[LIMBS * k..LIMBS * (k + 1)]));
                acc += c * vector[idx[k] as usize];
            }
            o.copy_from_slice(&acc.0 .0);
        });
        Ok(out)
    })?;
    Ok(output(py, out, &[rows, LIMBS]))
}

/// The shorter of s and r - s, when it fits 64 bits: R1CS coefficients are mostly small
/// positive or small negative numbers, for which double-and-add is a handful of group
/// operations. None for a full-size coefficient.
fn short_form(s: &BigInt<4>) -> Option<(BigInt<4>, bool)> {
    let mut negated = Fr::MODULUS;
    negated.sub_with_borrow(s);
    let (k, negate) = if negated.num_bits() < s.num_bits() {
        (negated, true)
    } else {
        (*s, false)
    };
    (k.num_bits() <= 64).then_some((k, negate))
}

/// (-1)^negate k P by double-and-add, for a short k (see `short_form`).
fn small_mul<G: Curve>(point: &G::MulBase, k: BigInt<4>, negate: bool) -> G {
    let mut acc = G::zero();
    for bit in BitIteratorBE::without_leading_zeros(k) {
        acc.double_in_place();
        if bit {
            acc += point;
        }
    }
    if negate {
        -acc
    } else {
        acc
    }
}

/// Bits per window of `straus`.
const STRAUS_WINDOW: usize = 4;

/// sum_i s_i P_i for a few full-size scalars by Straus's interleaving: a table of the
/// multiples 1..15 of each point, then one shared run of doublings for all terms and per term
/// one mixed addition for each 4-bit window: about 80 additions a term instead of a whole
/// double-and-add. The setup's per-wire sums hold many full-size coefficients (Poseidon's
/// round constants and MDS entries). The tables are per row, not per point, so that memory
/// stays that of the row however large the circuit.
fn straus<G: Curve>(terms: &[(G::MulBase, BigInt<4>)]) -> G {
    const DIGITS: usize = 1 << STRAUS_WINDOW;
    let mut multiples: Vec<G> = Vec::with_capacity(terms.len() * (DIGITS - 1));
    for (point, _) in terms {
        let mut m = G::zero();
        for _ in 1..DIGITS {
            m += point;
            multiples.push(m);
        }
    }
    // affine multiples make every addition of the main loop a mixed one
    let multiples = G::batch_convert_to_mul_base(&multiples);
    let mut acc = G::zero();
    for window in (0..256 / STRAUS_WINDOW).rev() {
        for _ in 0..STRAUS_WINDOW {
            acc.double_in_place();
        }
        let (limb, shift) = (window * STRAUS_WINDOW / 64, window * STRAUS_WINDOW % 64);
        for (i, (_, s)) in terms.iter().enumerate() {
            let digit = ((s.0[limb] >> shift) as usize) & (DIGITS - 1);
            if digit != 0 {
                acc += &multiples[i * (DIGITS - 1) + digit - 1];
            }
        }
    }
    acc
}

fn sparse_lincomb<'py, G: Curve>(
    py: Python<'py>,
    kernel: &'static str,
    indptr: &Bound<'py, PyAny>,
    indices: &Bound<'py, PyAny>,
    coeffs: &Bound<'py, PyAny>,
    points_obj: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    let csr = Csr::borrow(kernel, indptr, indices, coeffs)?;
    let t_arg = Arg::new(kernel, "points");
    let t_arr = input::<u64>(t_arg, points_obj, "uint64")?;
    let columns = leading_len(t_arg, t_arr.shape(), G::POINT_SHAPE)?;
    let (ip, idx, cs, ts) = (
        c_order(&csr.indptr),
        c_order(&csr.indices),
        c_order(&csr.coeffs),
        c_order(&t_arr),
    );
    let (ip, idx, cs, ts): (&[i64], &[i64], &[u64], &[u64]) = (&ip, &idx, &cs, &ts);
    let rows = csr.rows;
    let out = py.allow_threads(|| -> PyResult<Vec<u64>> {
        check_csr(kernel, ip, idx, cs, columns)?;
        let table = points::<G>(t_arg, ts)?;
        let scalars = parse_all(Arg::new(kernel, "coeffs"), cs, LIMBS, fr_int)?;
        let mut sums = vec![G::zero(); rows];
        sums.par_iter_mut().enumerate().for_each(|(row, sum)| {
            let range = row_range(ip, row);
            if range.len() <= SHORT_ROW {
                let mut full: Vec<(G::MulBase, BigInt<4>)> = Vec::new();
                for k in range {
                    let (point, s) = (&table[idx[k] as usize], &scalars[k]);
                    if s.is_zero() {
                        continue;
                    }
                    match short_form(s) {
                        Some((k, negate)) => *sum += small_mul::<G>(point, k, negate),
                        None => full.push((*point, *s)),
                    }
                }
                *sum += match full.len() {
                    0 => G::zero(),
                    1 => G::mul_full(&full[0].0, &full[0].1),
                    _ => straus::<G>(&full),
                };
            }
        });
        // the few long rows: one Pippenger MSM each, itself parallel
        for (row, sum) in sums.iter_mut().enumerate() {
            let range = row_range(ip, row);
            if range.len() > SHORT_ROW {
                let bases: Vec<G::MulBase> = idx[range.clone()].iter().map(|&j| table[j as usize]).collect();
                *sum = G::multi_scalar_mul(&bases, &scalars[range]);
            }
        }
        Ok(point_limbs::<G>(&sums))
    })?;
    Ok(output(py, out, &points_shape::<G>(rows)))
}

/// A `#[pyfunction]` for one group: for each CSR row, sum_k coeffs[k] * points[indices[k]].
macro_rules! lincomb_kernel {
    ($name:ident, $group:ty) => {
        #[doc = concat!("For each CSR row, sum_k coeffs[k] * points[indices[k]] (", stringify!($group), ").")]
        #[pyfunction]
        pub fn $name<'py>(
            py: Python<'py>,
            indptr: &Bound<'py, PyAny>,
            indices: &Bound<'py, PyAny>,
            coeffs: &Bound<'py, PyAny>,
            points: &Bound<'py, PyAny>,
        ) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
            sparse_lincomb::<$group>(py, stringify!($name), indptr, indices, coeffs, points)
        }
    };
}

lincomb_kernel!(g1_sparse_lincomb, G1Projective);
lincomb_kernel!(g2_sparse_lincomb, G2Projective);
