//! Native BN254 kernels for zkml-market, compiled into `prover._native`.
//!
//! The contract (names, arguments, array layouts, semantics) is prover/kernels/__init__.py;
//! prover/kernels/reference.py is the slow reference these kernels are tested against.
//! Kernels only: no protocol logic lives here. Every kernel checks its arguments, releases
//! the GIL for the arithmetic and runs it on rayon's thread pool.

use pyo3::prelude::*;

mod arrays;
mod field;
mod group_ntt;
mod msm;
mod multilinear;
mod ntt;
mod pairing;
mod pippenger;
mod poseidon;
mod sparse;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(field::to_montgomery, m)?)?;
    m.add_function(wrap_pyfunction!(field::from_montgomery, m)?)?;
    m.add_function(wrap_pyfunction!(field::fr_add, m)?)?;
    m.add_function(wrap_pyfunction!(field::fr_sub, m)?)?;
    m.add_function(wrap_pyfunction!(field::fr_mul, m)?)?;
    m.add_function(wrap_pyfunction!(ntt::ntt, m)?)?;
    m.add_function(wrap_pyfunction!(ntt::intt, m)?)?;
    m.add_function(wrap_pyfunction!(ntt::coset_ntt, m)?)?;
    m.add_function(wrap_pyfunction!(ntt::coset_intt, m)?)?;
    m.add_function(wrap_pyfunction!(ntt::coset_ab_minus_c, m)?)?;
    m.add_function(wrap_pyfunction!(group_ntt::g1_intt, m)?)?;
    m.add_function(wrap_pyfunction!(group_ntt::g2_intt, m)?)?;
    m.add_function(wrap_pyfunction!(sparse::sparse_matvec, m)?)?;
    m.add_function(wrap_pyfunction!(msm::g1_msm, m)?)?;
    m.add_function(wrap_pyfunction!(msm::g2_msm, m)?)?;
    m.add_function(wrap_pyfunction!(msm::g1_batch_mul, m)?)?;
    m.add_function(wrap_pyfunction!(msm::g2_batch_mul, m)?)?;
    m.add_function(wrap_pyfunction!(sparse::g1_sparse_lincomb, m)?)?;
    m.add_function(wrap_pyfunction!(sparse::g2_sparse_lincomb, m)?)?;
    m.add_function(wrap_pyfunction!(pairing::pairing_check, m)?)?;
    m.add_function(wrap_pyfunction!(poseidon::poseidon_permute, m)?)?;
    m.add_function(wrap_pyfunction!(multilinear::mle_fold, m)?)?;
    m.add_function(wrap_pyfunction!(multilinear::mle_eq_table, m)?)?;
    m.add_function(wrap_pyfunction!(multilinear::sumcheck_round, m)?)?;
    m.add_function(wrap_pyfunction!(multilinear::poly_evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(multilinear::poly_quotient, m)?)?;
    Ok(())
}
