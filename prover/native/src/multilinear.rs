//! Multilinear-table kernels of the sumcheck backend: binding a variable (fold), the values of
//! one sumcheck round, the table of eq(point, .) and univariate evaluation.
//!
//! A table holds 2^n canonical Fr elements, variable 0 the most significant bit of the index
//! (prover/sumcheck/mle.py), so binding it combines the two halves: lo + r (hi - lo).

use ark_bn254::Fr;
use ark_ff::{Field, One, Zero};
use numpy::{PyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::arrays::{c_order, call_error, fr, fr_limbs, input, leading_len, output, parse_all, Arg, LIMBS};

/// Rows per rayon task: small tables stay on one thread.
const CHUNK: usize = 1 << 12;

fn elements(arg: Arg, obj: &Bound<'_, PyAny>) -> PyResult<(Vec<Fr>, Vec<usize>)> {
    let arr = input::<u64>(arg, obj, "uint64")?;
    let shape = arr.shape().to_vec();
    if shape.last() != Some(&LIMBS) {
        return Err(arg.error(format!(
            "must have shape (..., 4) (4 uint64 limbs per element), got {shape:?}"
        )));
    }
    let data = c_order(&arr);
    Ok((parse_all(arg, &data, LIMBS, fr)?, shape))
}

fn one_element(arg: Arg, obj: &Bound<'_, PyAny>) -> PyResult<Fr> {
    let (v, shape) = elements(arg, obj)?;
    if v.len() != 1 {
        return Err(arg.error(format!("must be one element (shape (4,)), got shape {shape:?}")));
    }
    Ok(v[0])
}

fn fold_in(table: &[Fr], r: Fr) -> Vec<Fr> {
    let half = table.len() / 2;
    let (lo, hi) = table.split_at(half);
    lo.par_iter()
        .with_min_len(CHUNK)
        .zip(hi.par_iter())
        .map(|(l, h)| *l + r * (*h - l))
        .collect()
}

/// The table with variable 0 bound to `r`: (2^n, 4) -> (2^(n-1), 4).
#[pyfunction]
pub fn mle_fold<'py>(
    py: Python<'py>,
    table: &Bound<'py, PyAny>,
    r: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    const KERNEL: &str = "mle_fold";
    let t_arg = Arg::new(KERNEL, "table");
    let n = leading_len(t_arg, input::<u64>(t_arg, table, "uint64")?.shape(), &[LIMBS])?;
    if n < 2 || !n.is_power_of_two() {
        return Err(t_arg.error(format!("must hold 2^n >= 2 elements, got {n}")));
    }
    let (values, _) = elements(t_arg, table)?;
    let r = one_element(Arg::new(KERNEL, "r"), r)?;
    let out = py.allow_threads(|| fr_limbs(&fold_in(&values, r)));
    Ok(output(py, out, &[n / 2, LIMBS]))
}

/// The table of eq(point, b) over the cube: point (n, 4) -> (2^n, 4).
#[pyfunction]
pub fn mle_eq_table<'py>(py: Python<'py>, point: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    let arg = Arg::new("mle_eq_table", "point");
    let (point, shape) = elements(arg, point)?;
    if shape.len() != 2 || point.len() > 30 {
        return Err(arg.error(format!("must have shape (n, 4) with n <= 30, got {shape:?}")));
    }
    let out = py.allow_threads(|| {
        let mut table = vec![Fr::one()];
        for r in &point {
            // each entry splits in two: the new variable is the least significant bit so far
            let one_minus = Fr::one() - r;
            table = table
                .par_iter()
                .with_min_len(CHUNK)
                .flat_map_iter(|v| [*v * one_minus, *v * r])
                .collect();
        }
        fr_limbs(&table)
    });
    Ok(output(py, out, &[1 << point.len(), LIMBS]))
}

/// One sumcheck round: the values at X = 0..degree of
/// g(X) = sum_b sum_t c_t prod_{j in J_t} f_j(X, b) for tables (m, 2^n, 4), terms J_t (lists of
/// table indices) with coefficients (T, 4). Returns (degree + 1, 4).
#[pyfunction]
pub fn sumcheck_round<'py>(
    py: Python<'py>,
    tables: &Bound<'py, PyAny>,
    factors: Vec<Vec<usize>>,
    coefficients: &Bound<'py, PyAny>,
    degree: usize,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    const KERNEL: &str = "sumcheck_round";
    let t_arg = Arg::new(KERNEL, "tables");
    let (values, shape) = elements(t_arg, tables)?;
    if shape.len() != 3 || shape[1] < 2 || !shape[1].is_power_of_two() {
        return Err(t_arg.error(format!("must have shape (m, 2^n, 4) with n >= 1, got {shape:?}")));
    }
    let (m, size) = (shape[0], shape[1]);
    let (coefficients, _) = elements(Arg::new(KERNEL, "coefficients"), coefficients)?;
    if coefficients.len() != factors.len() {
        return Err(call_error(
            KERNEL,
            format!("{} terms but {} coefficients", factors.len(), coefficients.len()),
        ));
    }
    for (t, term) in factors.iter().enumerate() {
        if term.len() > degree {
            return Err(call_error(
                KERNEL,
                format!("term {t} has {} factors, more than degree {degree}", term.len()),
            ));
        }
        if let Some(j) = term.iter().find(|&&j| j >= m) {
            return Err(call_error(KERNEL, format!("term {t} names table {j}, there are {m}")));
        }
    }
    let out = py.allow_threads(|| {
        let half = size / 2;
        let evals = (0..half)
            .into_par_iter()
            .with_min_len(CHUNK)
            .fold(
                || (vec![Fr::zero(); degree + 1], vec![Fr::zero(); m], vec![Fr::zero(); m]),
                |(mut acc, mut at, mut slope), b| {
                    for j in 0..m {
                        let lo = values[j * size + b];
                        at[j] = lo;
                        slope[j] = values[j * size + b + half] - lo;
                    }
                    for a in acc.iter_mut() {
                        for (term, c) in factors.iter().zip(&coefficients) {
                            *a += term.iter().fold(*c, |p, &j| p * at[j]);
                        }
                        for j in 0..m {
                            at[j] += slope[j];
                        }
                    }
                    (acc, at, slope)
                },
            )
            .map(|(acc, _, _)| acc)
            .reduce(
                || vec![Fr::zero(); degree + 1],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        fr_limbs(&evals)
    });
    Ok(output(py, out, &[degree + 1, LIMBS]))
}

/// The values p(x) = sum_i coeffs[i] x^i at each point: coeffs (N, 4), points (k, 4) -> (k, 4).
#[pyfunction]
pub fn poly_evaluate<'py>(
    py: Python<'py>,
    coeffs: &Bound<'py, PyAny>,
    points: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    const KERNEL: &str = "poly_evaluate";
    let (coeffs, _) = elements(Arg::new(KERNEL, "coeffs"), coeffs)?;
    let (points, _) = elements(Arg::new(KERNEL, "points"), points)?;
    let k = points.len();
    let out = py.allow_threads(|| {
        let values: Vec<Fr> = points
            .iter()
            .map(|x| {
                // chunks evaluated in parallel by Horner, then shifted into place by x^(chunk start)
                let step = x.pow([CHUNK as u64]);
                let parts: Vec<Fr> = coeffs
                    .par_chunks(CHUNK)
                    .with_min_len(4)
                    .map(|c| c.iter().rev().fold(Fr::zero(), |acc, v| acc * x + v))
                    .collect();
                parts.iter().rev().fold(Fr::zero(), |acc, v| acc * step + v)
            })
            .collect();
        fr_limbs(&values)
    });
    Ok(output(py, out, &[k, LIMBS]))
}

/// (p(X) - p(x)) / (X - x) by synthetic division: coeffs (N, 4), x (4,) -> (N - 1, 4).
#[pyfunction]
pub fn poly_quotient<'py>(
    py: Python<'py>,
    coeffs: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    const KERNEL: &str = "poly_quotient";
    let c_arg = Arg::new(KERNEL, "coeffs");
    let (coeffs, _) = elements(c_arg, coeffs)?;
    if coeffs.len() < 2 {
        return Err(c_arg.error(format!("must hold at least 2 coefficients, got {}", coeffs.len())));
    }
    let x = one_element(Arg::new(KERNEL, "x"), x)?;
    let n = coeffs.len();
    let out = py.allow_threads(|| {
        let mut q = vec![Fr::zero(); n - 1];
        let mut acc = Fr::zero();
        for i in (1..n).rev() {
            acc = acc * x + coeffs[i];
            q[i - 1] = acc;
        }
        fr_limbs(&q)
    });
    Ok(output(py, out, &[n - 1, LIMBS]))
}
