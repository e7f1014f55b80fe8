//! Number-theoretic transforms over Fr on power-of-two domains, plain and on a coset (the
//! inverse transform over curve points is group_ntt.rs).
//!
//! The domain generator is w_n = w^(2^28/n) with w = 5^((r-1)/2^28), the root snarkjs uses.
//! ark-bn254 derives its two-adic root from the same generator 5, so arkworks' radix-2 domain
//! evaluates at exactly these points (tests/test_kernels.py checks it against the reference).

use ark_bn254::Fr;
use ark_ff::{PrimeField, Zero};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use num_bigint::{BigInt as PyInt, BigUint, Sign};
use numpy::{PyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::arrays::{c_order, call_error, fr, fr_limbs, input, leading_len, output, parse_all, Arg, LIMBS};

pub const TWO_ADICITY: u32 = 28;

/// A Python int reduced mod r.
fn shift_element(shift: &Bound<'_, PyAny>, kernel: &'static str) -> PyResult<Fr> {
    let value: PyInt = shift
        .extract()
        .map_err(|_| PyTypeError::new_err(format!("{kernel}: shift must be an int, got {}", shift.get_type())))?;
    let r = PyInt::from_biguint(Sign::Plus, BigUint::from(Fr::MODULUS));
    let reduced = ((value % &r) + &r) % &r;
    Ok(Fr::from(reduced.to_biguint().expect("reduced mod r is non-negative")))
}

/// A domain size is a power of two up to 2^28.
pub fn check_domain_size(arg: Arg, n: usize) -> PyResult<()> {
    if n == 0 || !n.is_power_of_two() || n > 1 << TWO_ADICITY {
        return Err(arg.error(format!("length must be a power of two up to 2^28, got {n}")));
    }
    Ok(())
}

fn transform<'py>(
    py: Python<'py>,
    kernel: &'static str,
    name: &'static str,
    values: &Bound<'py, PyAny>,
    shift: Fr,
    inverse: bool,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    let arg = Arg::new(kernel, name);
    let arr = input::<u64>(arg, values, "uint64")?;
    let n = leading_len(arg, arr.shape(), &[LIMBS])?;
    check_domain_size(arg, n)?;
    if inverse && shift.is_zero() {
        return Err(Arg::new(kernel, "shift").error("must be nonzero mod r (a coset of zero cannot be inverted)"));
    }
    let data = c_order(&arr);
    let data: &[u64] = &data;
    let out = py.allow_threads(|| -> PyResult<Vec<u64>> {
        let mut v = parse_all(arg, data, LIMBS, fr)?;
        let domain = Radix2EvaluationDomain::<Fr>::new(n).expect("power-of-two size up to 2^28");
        if inverse {
            let coset = domain.get_coset(shift).expect("nonzero shift is invertible");
            coset.ifft_in_place(&mut v);
        } else {
            evaluate_on_coset(&domain, shift, &mut v);
        }
        Ok(fr_limbs(&v))
    })?;
    Ok(output(py, out, &[n, LIMBS]))
}

/// Coefficients in `v` -> their polynomial's values at shift * w_n^i.
fn evaluate_on_coset(domain: &Radix2EvaluationDomain<Fr>, shift: Fr, v: &mut Vec<Fr>) {
    if shift.is_zero() {
        // every point of the "coset" is 0: the polynomial's value there is its constant term
        let c0 = v[0];
        v.iter_mut().for_each(|x| *x = c0);
    } else {
        domain
            .get_coset(shift)
            .expect("nonzero shift is invertible")
            .fft_in_place(v);
    }
}

/// Values at shift * w_n^i of A(x) B(x) - C(x), where A, B, C interpolate `a`, `b`, `c` on the
/// n-domain: three inverse and three coset transforms with the elements kept in arkworks' form
/// throughout, so that only the inputs and the result are converted.
#[pyfunction]
pub fn coset_ab_minus_c<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    c: &Bound<'py, PyAny>,
    shift: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    const KERNEL: &str = "coset_ab_minus_c";
    let s = shift_element(shift, KERNEL)?;
    let args = [Arg::new(KERNEL, "a"), Arg::new(KERNEL, "b"), Arg::new(KERNEL, "c")];
    let arrays = [
        input::<u64>(args[0], a, "uint64")?,
        input::<u64>(args[1], b, "uint64")?,
        input::<u64>(args[2], c, "uint64")?,
    ];
    let n = leading_len(args[0], arrays[0].shape(), &[LIMBS])?;
    check_domain_size(args[0], n)?;
    for (arg, arr) in args.iter().zip(&arrays).skip(1) {
        let m = leading_len(*arg, arr.shape(), &[LIMBS])?;
        if m != n {
            return Err(call_error(
                KERNEL,
                format!("a, b and c must have the same length, got {n} and {m}"),
            ));
        }
    }
    let data: Vec<_> = arrays.iter().map(c_order).collect();
    let out = py.allow_threads(|| -> PyResult<Vec<u64>> {
        let domain = Radix2EvaluationDomain::<Fr>::new(n).expect("power-of-two size up to 2^28");
        let mut polys = Vec::with_capacity(3);
        for (arg, values) in args.iter().zip(&data) {
            let mut v = parse_all(*arg, values, LIMBS, fr)?;
            domain.ifft_in_place(&mut v);
            evaluate_on_coset(&domain, s, &mut v);
            polys.push(v);
        }
        let (c, b) = (polys.pop().expect("three"), polys.pop().expect("three"));
        let mut ab = polys.pop().expect("three");
        ab.par_iter_mut()
            .zip(b.par_iter().zip(c.par_iter()))
            .for_each(|(x, (y, z))| *x = *x * y - z);
        Ok(fr_limbs(&ab))
    })?;
    Ok(output(py, out, &[n, LIMBS]))
}

/// Evaluations of the polynomial with these coefficients at w_n^i, i = 0..n.
#[pyfunction]
pub fn ntt<'py>(py: Python<'py>, coeffs: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    transform(py, "ntt", "coeffs", coeffs, Fr::from(1u64), false)
}

/// Coefficients of the polynomial with these evaluations at w_n^i (inverse of `ntt`).
#[pyfunction]
pub fn intt<'py>(py: Python<'py>, evals: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    transform(py, "intt", "evals", evals, Fr::from(1u64), true)
}

/// Evaluations at shift * w_n^i.
#[pyfunction]
pub fn coset_ntt<'py>(
    py: Python<'py>,
    coeffs: &Bound<'py, PyAny>,
    shift: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    let s = shift_element(shift, "coset_ntt")?;
    transform(py, "coset_ntt", "coeffs", coeffs, s, false)
}

/// Coefficients of the polynomial with these evaluations at shift * w_n^i (inverse of `coset_ntt`).
#[pyfunction]
pub fn coset_intt<'py>(
    py: Python<'py>,
    evals: &Bound<'py, PyAny>,
    shift: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    let s = shift_element(shift, "coset_intt")?;
    transform(py, "coset_intt", "evals", evals, s, true)
}
