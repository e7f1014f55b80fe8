//! The inverse NTT over G1 / G2 points (coefficients in Fr, values in the group):
//! `out_i = (1/n) sum_j w_n^(-ij) P_j`, the Lagrange bases of phase-2 preparation, one kernel
//! call per power-of-two block.
//!
//! Radix-2 decimation in time. Almost all the work is the twiddle products (n/2 per stage, and
//! the final 1/n), so they get the care: before each stage the points to be multiplied, with
//! their odd multiples P, 3P, 5P, 7P, are made affine with one batched inversion, so that every
//! addition inside a product is a mixed one; each twiddle is split with the GLV endomorphism
//! into two halves of about 128 bits, whose width-4 NAF digits are added from the table (and
//! from its image under the endomorphism) with one doubling per bit. The endomorphism acts as
//! the scalar lambda on the prime-order group, where the transform is defined (its coefficients
//! are mod r); for a twist point outside G2 the result depends on how products are reduced.

use ark_bn254::{g1, g2, Fr};
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::short_weierstrass::{Affine, Projective};
use ark_ec::{AdditiveGroup, CurveConfig, CurveGroup};
use ark_ff::{BigInteger, Field, One, PrimeField, Zero};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use numpy::{PyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::arrays::{c_order, input, leading_len, output, point_limbs, points, points_shape, Arg, Curve};
use crate::ntt::check_domain_size;

/// Width of the NAF digits of each GLV half: odd digits up to 7 in absolute value.
const WINDOW: usize = 4;
/// Table entries per point: P, 3P, 5P, 7P.
const TABLE: usize = 1 << (WINDOW - 2);

/// Points whose tables are made affine together (one inversion per 2^11 table points, a
/// negligible cost): bounds the tables' memory whatever the block size.
const BATCH: usize = 1 << 9;

/// `[s(i) * P_i]`: each point times its own scalar (see the module docstring).
fn multiply_all<P>(points: &[Projective<P>], scalar: impl Fn(usize) -> Fr + Sync) -> Vec<Projective<P>>
where
    P: GLVConfig + CurveConfig<ScalarField = Fr>,
{
    let mut out = Vec::with_capacity(points.len());
    for (b, batch) in points.chunks(BATCH).enumerate() {
        let odd_multiples: Vec<Projective<P>> = batch
            .par_iter()
            .flat_map_iter(|&p| {
                let twice = p.double();
                let mut row = [p; TABLE];
                for i in 1..TABLE {
                    row[i] = row[i - 1] + twice;
                }
                row
            })
            .collect();
        let tables = Projective::normalize_batch(&odd_multiples);
        let products = tables
            .par_chunks_exact(TABLE)
            .zip(batch.par_iter())
            .enumerate()
            .map(|(i, (table, &p))| {
                let k = scalar(b * BATCH + i);
                if k.is_one() {
                    p
                } else {
                    mul_by_table(table, k)
                }
            });
        out.par_extend(products);
    }
    out
}

/// `k * P` from P's affine table `[P, 3P, 5P, 7P]`: `k = k1 + k2 lambda` (GLV), then the
/// width-4 NAF digits of k1 against the table and of k2 against its endomorphism image.
fn mul_by_table<P>(table: &[Affine<P>], k: Fr) -> Projective<P>
where
    P: GLVConfig + CurveConfig<ScalarField = Fr>,
{
    let ((k1_positive, k1), (k2_positive, k2)) = P::scalar_decomposition(k);
    let naf1 = k1.into_bigint().find_wnaf(WINDOW).expect("the window is in 2..64");
    let naf2 = k2.into_bigint().find_wnaf(WINDOW).expect("the window is in 2..64");
    let image: [Affine<P>; TABLE] = std::array::from_fn(|i| P::endomorphism_affine(&table[i]));
    let halves = [(&naf1, k1_positive, table), (&naf2, k2_positive, &image[..])];
    let mut acc = Projective::<P>::zero();
    for bit in (0..naf1.len().max(naf2.len())).rev() {
        acc.double_in_place();
        for &(naf, positive, entries) in &halves {
            let digit = naf.get(bit).copied().unwrap_or(0);
            if digit != 0 {
                let entry = entries[(digit.unsigned_abs() / 2) as usize];
                if (digit > 0) == positive {
                    acc += entry;
                } else {
                    acc += -entry;
                }
            }
        }
    }
    acc
}

/// The inverse NTT of `v` in place (its length a power of two up to 2^28).
fn intt_in_place<P>(v: &mut [Projective<P>])
where
    P: GLVConfig + CurveConfig<ScalarField = Fr>,
{
    let n = v.len();
    if n == 1 {
        return;
    }
    let log_n = n.trailing_zeros();
    for i in 0..n {
        let j = i.reverse_bits() >> (usize::BITS - log_n);
        if i < j {
            v.swap(i, j);
        }
    }
    let domain = Radix2EvaluationDomain::<Fr>::new(n).expect("power-of-two size up to 2^28");
    let mut len = 2;
    while len <= n {
        let half = len / 2;
        // the twiddles w_len^(-j), j < half
        let w = domain.group_gen_inv.pow([(n / len) as u64]);
        let mut twiddles = Vec::with_capacity(half);
        let mut power = Fr::one();
        for _ in 0..half {
            twiddles.push(power);
            power *= w;
        }
        let upper: Vec<Projective<P>> = v
            .par_chunks(len)
            .flat_map_iter(|block| block[half..].iter().copied())
            .collect();
        let products = if half == 1 {
            upper
        } else {
            multiply_all(&upper, |i| twiddles[i % half])
        };
        v.par_chunks_mut(len)
            .zip(products.par_chunks(half))
            .for_each(|(block, products)| {
                let (lower, upper) = block.split_at_mut(half);
                for ((lo, hi), t) in lower.iter_mut().zip(upper.iter_mut()).zip(products) {
                    *hi = *lo - t;
                    *lo += t;
                }
            });
        len *= 2;
    }
    let scaled = multiply_all(v, |_| domain.size_inv);
    v.copy_from_slice(&scaled);
}

fn group_intt<'py, P>(
    py: Python<'py>,
    kernel: &'static str,
    points_obj: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>>
where
    P: GLVConfig + CurveConfig<ScalarField = Fr>,
    Projective<P>: Curve<MulBase = Affine<P>>,
{
    let arg = Arg::new(kernel, "points");
    let arr = input::<u64>(arg, points_obj, "uint64")?;
    let n = leading_len(arg, arr.shape(), Projective::<P>::POINT_SHAPE)?;
    check_domain_size(arg, n)?;
    let data = c_order(&arr);
    let data: &[u64] = &data;
    let out = py.allow_threads(|| -> PyResult<Vec<u64>> {
        let affine = points::<Projective<P>>(arg, data)?;
        let mut v: Vec<Projective<P>> = affine.par_iter().map(|&p| p.into()).collect();
        intt_in_place(&mut v);
        Ok(point_limbs::<Projective<P>>(&v))
    })?;
    Ok(output(py, out, &points_shape::<Projective<P>>(n)))
}

/// Inverse NTT of a power-of-two run of G1 points: out_i = (1/n) sum_j w_n^(-ij) points[j].
#[pyfunction]
pub fn g1_intt<'py>(py: Python<'py>, points: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    group_intt::<g1::Config>(py, "g1_intt", points)
}

/// Inverse NTT of a power-of-two run of G2 points: out_i = (1/n) sum_j w_n^(-ij) points[j].
#[pyfunction]
pub fn g2_intt<'py>(py: Python<'py>, points: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    group_intt::<g2::Config>(py, "g2_intt", points)
}
