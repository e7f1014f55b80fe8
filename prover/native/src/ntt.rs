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

use crate::arrays::{c_order, fr, fr_limbs, input, leading_len, output, parse_all, Arg, LIMBS};

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
        if shift.is_zero() {
            // every point of the "coset" is 0: the polynomial's value there is its constant term
            let c0 = v[0];
            v.iter_mut().for_each(|x| *x = c0);
        } else {
            let coset = domain.get_coset(shift).expect("nonzero shift is invertible");
            if inverse {
                coset.ifft_in_place(&mut v);
            } else {
                coset.fft_in_place(&mut v);
            }
        }
        Ok(fr_limbs(&v))
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
