//! The Poseidon permutation over Fr, applied to many states at once.
//!
//! The kernel holds no parameters: the caller passes the round constants and the MDS matrix
//! (prover/poseidon.py regenerates circomlib's). Each round adds its constants, applies the
//! x^5 S-box (to every element in the first and last `full_rounds / 2` rounds, to the first
//! element only in the partial rounds between) and multiplies the state by the MDS matrix.

use ark_bn254::Fr;
use ark_ff::Field;
use numpy::{PyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::arrays::{c_order, call_error, fr, fr_limbs, input, output, parse_all, Arg, LIMBS};

fn sbox(x: Fr) -> Fr {
    let x2 = x.square();
    x2.square() * x
}

/// One state permuted in place.
fn permute(state: &mut [Fr], constants: &[Fr], mds: &[Fr], full_rounds: usize, scratch: &mut [Fr]) {
    let t = state.len();
    let rounds = constants.len() / t;
    let half = full_rounds / 2;
    for rnd in 0..rounds {
        for (s, c) in state.iter_mut().zip(&constants[rnd * t..(rnd + 1) * t]) {
            *s += c;
        }
        if rnd < half || rnd >= rounds - half {
            state.iter_mut().for_each(|s| *s = sbox(*s));
        } else {
            state[0] = sbox(state[0]);
        }
        for (i, out) in scratch.iter_mut().enumerate() {
            let row = &mds[i * t..(i + 1) * t];
            *out = row.iter().zip(state.iter()).map(|(m, s)| *m * s).sum();
        }
        state.copy_from_slice(scratch);
    }
}

/// Poseidon permutation of each state: `states` (n, t, 4), `constants` (rounds, t, 4) round-
/// major, `mds` (t, t, 4) with state'_i = sum_j mds[i][j] state_j, `full_rounds` even and at
/// most the number of rounds (the rest are partial rounds).
#[pyfunction]
#[pyo3(signature = (states, constants, mds, full_rounds))]
pub fn poseidon_permute<'py>(
    py: Python<'py>,
    states: &Bound<'py, PyAny>,
    constants: &Bound<'py, PyAny>,
    mds: &Bound<'py, PyAny>,
    full_rounds: usize,
) -> PyResult<Bound<'py, PyArrayDyn<u64>>> {
    const KERNEL: &str = "poseidon_permute";
    let (s_arg, c_arg, m_arg) = (
        Arg::new(KERNEL, "states"),
        Arg::new(KERNEL, "constants"),
        Arg::new(KERNEL, "mds"),
    );
    let (s_arr, c_arr, m_arr) = (
        input::<u64>(s_arg, states, "uint64")?,
        input::<u64>(c_arg, constants, "uint64")?,
        input::<u64>(m_arg, mds, "uint64")?,
    );
    let shape = s_arr.shape().to_vec();
    if shape.len() != 3 || shape[1] < 2 || shape[2] != LIMBS {
        return Err(s_arg.error(format!("must have shape (n, t, 4) with t >= 2, got {shape:?}")));
    }
    let t = shape[1];
    if m_arr.shape() != [t, t, LIMBS] {
        return Err(m_arg.error(format!(
            "must have shape ({t}, {t}, 4) for states of width {t}, got {:?}",
            m_arr.shape()
        )));
    }
    let c_shape = c_arr.shape();
    if c_shape.len() != 3 || c_shape[1] != t || c_shape[2] != LIMBS {
        return Err(c_arg.error(format!("must have shape (rounds, {t}, 4), got {c_shape:?}")));
    }
    if !full_rounds.is_multiple_of(2) || full_rounds > c_shape[0] {
        return Err(call_error(
            KERNEL,
            format!(
                "full_rounds must be even and at most the {} rounds, got {full_rounds}",
                c_shape[0]
            ),
        ));
    }
    let (s_data, c_data, m_data) = (c_order(&s_arr), c_order(&c_arr), c_order(&m_arr));
    let (s_data, c_data, m_data): (&[u64], &[u64], &[u64]) = (&s_data, &c_data, &m_data);
    let out = py.allow_threads(|| -> PyResult<Vec<u64>> {
        let mut values = parse_all(s_arg, s_data, LIMBS, fr)?;
        let constants = parse_all(c_arg, c_data, LIMBS, fr)?;
        let mds = parse_all(m_arg, m_data, LIMBS, fr)?;
        // a permutation is some thousand multiplications: a few states stay on this thread
        values.par_chunks_mut(t).with_min_len(16).for_each_init(
            || vec![Fr::from(0u64); t],
            |scratch, state| permute(state, &constants, &mds, full_rounds, scratch),
        );
        Ok(fr_limbs(&values))
    })?;
    Ok(output(py, out, &shape))
}
