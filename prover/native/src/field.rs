//! Element-wise field kernels: Montgomery conversions for the snarkjs byte layouts, and Fr
//! add/sub/mul.
//!
//! arkworks keeps an element x as the integer x*R mod p (R = 2^256), which is exactly the
//! snarkjs Montgomery layout, so each conversion is one reinterpretation plus one Montgomery
//! multiplication per element.

use ark_bn254::{Fq, Fr};
use ark_ff::{BigInt, Fp, PrimeField};
use numpy::{PyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::arrays::{below, bigint, c_order, check_all, input, output, Arg, LIMBS, MIN_TASK, NOT_FQ, NOT_FR};

/// Shape check for element-wise kernels: any array whose last axis holds the 4 limbs.
fn element_shape(arg: Arg, shape: &[usize]) -> PyResult<()> {
    if shape.last() == Some(&LIMBS) {
        Ok(())
    } else {
        Err(arg.error(format!(
            "must have shape (..., 4) (4 uint64 limbs per element), got {shape:?}"
        )))
    }
}

/// Apply `f` to every 4-limb element of `data` after checking that it is below `modulus`.
fn map_elements(
    arg: Arg,
    data: &[u64],
    modulus: &BigInt<4>,
    not_below: &'static str,
    f: impl Fn(BigInt<4>) -> BigInt<4> + Sync + Send,
) -> PyResult<Vec<u64>> {
    check_all(arg, data, LIMBS, |l| {
        if below(l, modulus) {
            Ok(())
        } else {
            Err(not_below)
        }
    })?;
    let mut out = vec![0u64; data.len()];
    out.par_chunks_exact_mut(LIMBS)
        .zip(data.par_chunks_exact(LIMBS))
        .with_min_len(MIN_TASK)
        .for_each(|(o, l)| o.copy_from_slice(&f(bigint(l)).0));
    Ok(out)
}

fn montgomery<'py>(
    py: Python<'py>,
    kernel: &'static str,
    values: &Bound<'py, PyAny>,
    field: &str,
    into: bool,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    let arg = Arg::new(kernel, "values");
    let arr = input::<u64>(arg, values, "uint64")?;
    element_shape(arg, arr.shape())?;
    let data = c_order(&arr);
    let data: &[u64] = &data;
    // into:  x -> x*R, the internal form of x;   out of: x*R -> x, reading x*R as internal form
    let out = py.allow_threads(|| match (field, into) {
        ("fr", true) => map_elements(arg, data, &Fr::MODULUS, NOT_FR, |x| Fr::from_bigint(x).unwrap().0),
        ("fr", false) => map_elements(arg, data, &Fr::MODULUS, NOT_FR, |x| Fr::new_unchecked(x).into_bigint()),
        ("fq", true) => map_elements(arg, data, &Fq::MODULUS, NOT_FQ, |x| Fq::from_bigint(x).unwrap().0),
        ("fq", false) => map_elements(arg, data, &Fq::MODULUS, NOT_FQ, |x| Fq::new_unchecked(x).into_bigint()),
        _ => Err(Arg::new(kernel, "field").error(format!("must be 'fr' or 'fq', got {field:?}"))),
    })?;
    Ok(output(py, out, arr.shape()))
}

/// values * R mod p for each element (R = 2^256; field "fr" or "fq").
#[pyfunction]
pub fn to_montgomery<'py>(
    py: Python<'py>,
    values: &Bound<'py, PyAny>,
    field: &str,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    montgomery(py, "to_montgomery", values, field, true)
}

/// values * R^-1 mod p for each element (R = 2^256; field "fr" or "fq").
#[pyfunction]
pub fn from_montgomery<'py>(
    py: Python<'py>,
    values: &Bound<'py, PyAny>,
    field: &str,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    montgomery(py, "from_montgomery", values, field, false)
}

/// The raw integer as an element in Montgomery form: for addition and subtraction the
/// representation does not matter, and multiplying it by a proper element x*R gives x*y
/// back as a raw integer, which saves two conversions per element.
fn raw(x: BigInt<4>) -> Fr {
    Fp::new_unchecked(x)
}

fn binary<'py>(
    py: Python<'py>,
    kernel: &'static str,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    op: impl Fn(BigInt<4>, BigInt<4>) -> BigInt<4> + Sync + Send,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    let (a_arg, b_arg) = (Arg::new(kernel, "a"), Arg::new(kernel, "b"));
    let (a_arr, b_arr) = (input::<u64>(a_arg, a, "uint64")?, input::<u64>(b_arg, b, "uint64")?);
    element_shape(a_arg, a_arr.shape())?;
    element_shape(b_arg, b_arr.shape())?;
    if a_arr.shape() != b_arr.shape() {
        return Err(crate::arrays::call_error(
            kernel,
            format!(
                "a and b must have the same shape, got {:?} and {:?}",
                a_arr.shape(),
                b_arr.shape()
            ),
        ));
    }
    let (a_data, b_data) = (c_order(&a_arr), c_order(&b_arr));
    let (a_data, b_data): (&[u64], &[u64]) = (&a_data, &b_data);
    let out = py.allow_threads(|| -> PyResult<Vec<u64>> {
        let not_fr = |l: &[u64]| if below(l, &Fr::MODULUS) { Ok(()) } else { Err(NOT_FR) };
        check_all(a_arg, a_data, LIMBS, not_fr)?;
        check_all(b_arg, b_data, LIMBS, not_fr)?;
        let mut out = vec![0u64; a_data.len()];
        out.par_chunks_exact_mut(LIMBS)
            .zip(a_data.par_chunks_exact(LIMBS).zip(b_data.par_chunks_exact(LIMBS)))
            .with_min_len(MIN_TASK)
            .for_each(|(o, (x, y))| o.copy_from_slice(&op(bigint(x), bigint(y)).0));
        Ok(out)
    })?;
    Ok(output(py, out, a_arr.shape()))
}

/// (a + b) mod r, element-wise.
#[pyfunction]
pub fn fr_add<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    binary(py, "fr_add", a, b, |x, y| (raw(x) + raw(y)).0)
}

/// (a - b) mod r, element-wise.
#[pyfunction]
pub fn fr_sub<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    binary(py, "fr_sub", a, b, |x, y| (raw(x) - raw(y)).0)
}

/// (a * b) mod r, element-wise.
#[pyfunction]
pub fn fr_mul<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    binary(py, "fr_mul", a, b, |x, y| (Fr::from_bigint(x).unwrap() * raw(y)).0)
}
