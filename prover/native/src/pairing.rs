//! The pairing-product check prod_i e(P_i, Q_i) == 1: one multi-Miller loop and one final
//! exponentiation.

use ark_bn254::{Bn254, G1Projective, G2Projective};
use ark_ec::pairing::Pairing;
use ark_ec::AffineRepr;
use ark_ff::One;
use numpy::PyUntypedArrayMethods;
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::arrays::{c_order, call_error, input, leading_len, points, Arg, Curve};

/// Is prod_i e(g1_points[i], g2_points[i]) the identity of GT? Every G2 point must be in the
/// prime-order subgroup: the twist has other points on which the pairing is not bilinear.
#[pyfunction]
pub fn pairing_check<'py>(
    py: Python<'py>,
    g1_points: &Bound<'py, PyAny>,
    g2_points: &Bound<'py, PyAny>,
) -> PyResult<bool> {
    const KERNEL: &str = "pairing_check";
    let (p_arg, q_arg) = (Arg::new(KERNEL, "g1_points"), Arg::new(KERNEL, "g2_points"));
    let p_arr = input::<u64>(p_arg, g1_points, "uint64")?;
    let q_arr = input::<u64>(q_arg, g2_points, "uint64")?;
    let n = leading_len(p_arg, p_arr.shape(), G1Projective::POINT_SHAPE)?;
    let m = leading_len(q_arg, q_arr.shape(), G2Projective::POINT_SHAPE)?;
    if n != m {
        return Err(call_error(
            KERNEL,
            format!("needs as many G1 as G2 points, got {n} and {m}"),
        ));
    }
    let (p_data, q_data) = (c_order(&p_arr), c_order(&q_arr));
    let (p_data, q_data): (&[u64], &[u64]) = (&p_data, &q_data);
    py.allow_threads(|| -> PyResult<bool> {
        let ps = points::<G1Projective>(p_arg, p_data)?;
        let qs = points::<G2Projective>(q_arg, q_data)?;
        let outside = qs
            .par_iter()
            .position_first(|q| !q.is_zero() && !q.is_in_correct_subgroup_assuming_on_curve());
        if let Some(i) = outside {
            return Err(q_arg.error_at(i, "is on the twist curve but not in the prime-order subgroup G2"));
        }
        // a pair with the identity on either side contributes e = 1
        let (ps, qs): (Vec<_>, Vec<_>) = ps
            .into_iter()
            .zip(qs)
            .filter(|(p, q)| !p.is_zero() && !q.is_zero())
            .unzip();
        let miller = Bn254::multi_miller_loop(ps, qs);
        Ok(Bn254::final_exponentiation(miller).is_some_and(|gt| gt.0.is_one()))
    })
}
