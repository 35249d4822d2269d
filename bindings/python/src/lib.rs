//! The native half of the `juhe_2fa` Python package (`juhe_2fa._core`): the juhe-2fa SDK's
//! clients, its exceptions, number validation, field encryption and the sandbox, for CPython
//! 3.9+ through one abi3 wheel. The pure-Python half (`bindings/python/python/juhe_2fa/`)
//! re-exports these names and adds the pytest fixture; docs/python.md is the user's guide.
//!
//! Every check goes through the SDK's one engine: the blocking `Client` drives
//! `juhe_2fa::BlockingClient` with the GIL released, the `AsyncClient` drives the async
//! `juhe_2fa::Client` on the module's tokio runtime (`src/bridge.rs`).

mod bridge;
mod client;
mod errors;
mod numbers;
mod options;
mod sandbox;

use pyo3::prelude::*;

/// `juhe_2fa._core`.
#[pymodule]
#[pyo3(name = "_core")]
fn core_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<client::Client>()?;
    m.add_class::<client::AsyncClient>()?;
    m.add_class::<client::Verification>()?;
    m.add_class::<numbers::IdCard>()?;
    m.add_class::<numbers::Mobile>()?;
    m.add_function(wrap_pyfunction!(numbers::encrypt, m)?)?;
    m.add_class::<sandbox::Sandbox>()?;
    errors::register(m)?;
    bridge::register(m)?;
    Ok(())
}
