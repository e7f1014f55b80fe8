use pyo3::prelude::*;

/// Native BN254 kernels for zkml-market (see prover/kernels/__init__.py for the contract).
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
