//! Multi-scalar multiplication (variable bases) and batch multiplication of one fixed base,
//! on G1 and G2.

use ark_bn254::{G1Projective, G2Projective};
use ark_ff::{BigInt, BigInteger};
use numpy::{PyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::arrays::{
    affine_limbs, c_order, call_error, exact_shape, fq, fq_montgomery, fr, fr_int, input, leading_len, output,
    parse_all, point_limbs, points_shape, Arg, Coordinate, Curve, LIMBS, MIN_TASK,
};

fn msm<'py, G: Curve>(
    py: Python<'py>,
    kernel: &'static str,
    points_obj: &Bound<'py, PyAny>,
    scalars_obj: &Bound<'py, PyAny>,
    montgomery: bool,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    let coord: Coordinate = if montgomery { fq_montgomery } else { fq };
    let (p_arg, s_arg) = (Arg::new(kernel, "points"), Arg::new(kernel, "scalars"));
    let p_arr = input::<u64>(p_arg, points_obj, "uint64")?;
    let s_arr = input::<u64>(s_arg, scalars_obj, "uint64")?;
    let n = leading_len(p_arg, p_arr.shape(), G::POINT_SHAPE)?;
    let m = leading_len(s_arg, s_arr.shape(), &[LIMBS])?;
    if n != m {
        return Err(call_error(
            kernel,
            format!("points and scalars must have the same length, got {n} and {m}"),
        ));
    }
    let (p_data, s_data) = (c_order(&p_arr), c_order(&s_arr));
    let (p_data, s_data): (&[u64], &[u64]) = (&p_data, &s_data);
    let out = py.allow_threads(|| -> PyResult<Vec<u64>> {
        // canonical limbs are already the integers the MSM consumes: no field conversion
        let scalars = parse_all(s_arg, s_data, LIMBS, fr_int)?;
        let (bases, scalars) = live_terms::<G>(p_arg, p_data, scalars, coord)?;
        let sum = G::multi_scalar_mul(&bases, &scalars);
        Ok(point_limbs::<G>(&[sum]))
    })?;
    Ok(output(py, out, G::POINT_SHAPE))
}

/// The terms that add something: every point is checked, but only those with a nonzero scalar
/// that are not at infinity are kept, so that a key's matrix that most wires are absent from
/// (B, whose points are then mostly zeros) costs a scan, not a copy of all its points.
fn live_terms<G: Curve>(
    arg: Arg,
    data: &[u64],
    scalars: Vec<BigInt<4>>,
    coord: Coordinate,
) -> PyResult<(Vec<G::MulBase>, Vec<BigInt<4>>)> {
    let stride = G::POINT_LIMBS;
    let kept: Result<Vec<(G::MulBase, BigInt<4>)>, usize> = data
        .par_chunks_exact(stride)
        .zip(scalars.par_iter())
        .enumerate()
        .with_min_len(MIN_TASK)
        .filter_map(|(i, (limbs, s))| {
            if limbs.iter().all(|&l| l == 0) {
                return None;
            }
            match G::parse_with(limbs, coord) {
                Err(_) => Some(Err(i)),
                Ok(_) if s.is_zero() => None,
                Ok(p) => Some(Ok((p, *s))),
            }
        })
        .collect();
    match kept {
        Ok(terms) => Ok(terms.into_iter().unzip()),
        Err(_) => {
            // the first bad point, whatever the threads' timing
            let index = (0..data.len() / stride)
                .find(|&i| G::parse_with(&data[i * stride..(i + 1) * stride], coord).is_err())
                .expect("a point failed to parse in parallel but not sequentially");
            let what = G::parse_with(&data[index * stride..(index + 1) * stride], coord)
                .err()
                .expect("a bad point");
            Err(arg.error_at(index, what))
        }
    }
}

fn batch_mul<'py, G: Curve>(
    py: Python<'py>,
    kernel: &'static str,
    base_obj: &Bound<'py, PyAny>,
    scalars_obj: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    let (b_arg, s_arg) = (Arg::new(kernel, "base"), Arg::new(kernel, "scalars"));
    let b_arr = input::<u64>(b_arg, base_obj, "uint64")?;
    let s_arr = input::<u64>(s_arg, scalars_obj, "uint64")?;
    exact_shape(b_arg, b_arr.shape(), G::POINT_SHAPE)?;
    let n = leading_len(s_arg, s_arr.shape(), &[LIMBS])?;
    let (b_data, s_data) = (c_order(&b_arr), c_order(&s_arr));
    let (b_data, s_data): (&[u64], &[u64]) = (&b_data, &s_data);
    let out = py.allow_threads(|| -> PyResult<Vec<u64>> {
        let base = G::parse(b_data).map_err(|what| b_arg.error(what))?;
        let scalars = parse_all(s_arg, s_data, LIMBS, fr)?;
        // arkworks tabulates the base's windowed multiples once, sized for this many scalars
        Ok(affine_limbs::<G>(&G::from(base).batch_mul(&scalars)))
    })?;
    Ok(output(py, out, &points_shape::<G>(n)))
}

/// The `#[pyfunction]`s of one group: its MSM and its batch multiplication.
macro_rules! group_kernels {
    ($msm:ident, $batch_mul:ident, $group:ty) => {
        #[doc = concat!("sum_i scalars[i] * points[i] (", stringify!($group), "); with `montgomery`, ")]
        #[doc = "the points' coordinates are given in Montgomery form (as a .zkey stores them)."]
        #[pyfunction]
        #[pyo3(signature = (points, scalars, montgomery = false))]
        pub fn $msm<'py>(
            py: Python<'py>,
            points: &Bound<'py, PyAny>,
            scalars: &Bound<'py, PyAny>,
            montgomery: bool,
        ) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
            msm::<$group>(py, stringify!($msm), points, scalars, montgomery)
        }

        #[doc = concat!("[scalars[i] * base] (", stringify!($group), ").")]
        #[pyfunction]
        pub fn $batch_mul<'py>(
            py: Python<'py>,
            base: &Bound<'py, PyAny>,
            scalars: &Bound<'py, PyAny>,
        ) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
            batch_mul::<$group>(py, stringify!($batch_mul), base, scalars)
        }
    };
}

group_kernels!(g1_msm, g1_batch_mul, G1Projective);
group_kernels!(g2_msm, g2_batch_mul, G2Projective);
