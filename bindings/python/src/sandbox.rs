//! `juhe_2fa.testing.Sandbox`: juhe-sandbox in-process, on `127.0.0.1:0`, served by the
//! module's tokio runtime, so Python tests run offline against the vendor's behaviour.

use std::sync::Mutex;

use juhe_sandbox::{DefaultVerdict, FaultPlan, Fixtures, SandboxHandle, demo};
use pyo3::exceptions::{PyOverflowError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors::detailed;

/// The sandbox, a real HTTP server on `127.0.0.1` (a free port) that behaves like the vendor:
/// the three endpoints, key checks, AES/RSA decryption with the demo keys, validation, the
/// demo fixtures, fault injection and counters. A context manager (closing it stops the
/// server); `juhe_2fa.testing` also gives it as the pytest fixture `juhe_sandbox`.
///
/// `Sandbox(*, api_key=None, fixtures=None, default_verdict=None, faults=None,
/// qps_limit=None)`: `api_key` replaces the demo key `sandbox-demo-key`; `fixtures` adds
/// pairs to the demo ones, as `(idcard, mobile, outcome)` tuples or `{"idcard", "mobile",
/// "outcome", "fault"}` dicts (outcome `"match"`, `"mismatch"` or an error code); unknown
/// pairs get `default_verdict` (`"no-record"`, `"match"`, `"mismatch"` or `"hash"`);
/// `faults` is the fault plan, the n-th request getting the n-th fault (`"http500"`,
/// `"drop"`, `"truncated_json"`, `"res_as_string"`, `{"delay_ms": 200}`,
/// `{"http_status": 504}`, `{"error_code": 232905}`); `qps_limit` answers 10012 above it.
#[pyclass(frozen, module = "juhe_2fa.testing", name = "Sandbox")]
pub(crate) struct Sandbox {
    handle: Mutex<Option<SandboxHandle>>,
    /// The process that serves it: after a `fork`, the child has a copy of this object but
    /// not the server's threads, and must not wait for them.
    pid: u32,
    url: String,
    api_key: String,
}

impl Sandbox {
    fn with_handle<T>(&self, f: impl FnOnce(&SandboxHandle) -> T) -> PyResult<T> {
        let handle = self.handle.lock().unwrap_or_else(|e| e.into_inner());
        handle
            .as_ref()
            .map(f)
            .ok_or_else(|| PyRuntimeError::new_err("the sandbox is closed"))
    }
}

/// A Python value as JSON text (the sandbox reads fixtures and fault plans as JSON).
fn json_text(value: &Bound<'_, PyAny>) -> PyResult<String> {
    value
        .py()
        .import("json")?
        .getattr("dumps")?
        .call1((value,))?
        .extract()
}

/// The fixtures argument as the sandbox's JSON array of objects (tuples become objects).
fn fixtures_json(fixtures: &Bound<'_, PyAny>) -> PyResult<String> {
    let py = fixtures.py();
    let rows = PyList::empty(py);
    for item in fixtures.try_iter()? {
        let item = item?;
        if item.is_instance_of::<PyDict>() {
            rows.append(item)?;
            continue;
        }
        let (idcard, mobile, outcome): (Bound<'_, PyAny>, Bound<'_, PyAny>, Bound<'_, PyAny>) =
            item.extract().map_err(|_| {
                PyValueError::new_err(
                    "a fixture is an (idcard, mobile, outcome) tuple or a dict with those keys",
                )
            })?;
        let row = PyDict::new(py);
        row.set_item("idcard", idcard)?;
        row.set_item("mobile", mobile)?;
        row.set_item("outcome", outcome)?;
        rows.append(row)?;
    }
    json_text(rows.as_any())
}

fn sandbox_error(e: &juhe_sandbox::SandboxError) -> PyErr {
    PyValueError::new_err(detailed(e))
}

#[pymethods]
impl Sandbox {
    #[new]
    #[pyo3(signature = (*, api_key = None, fixtures = None, default_verdict = None, faults = None, qps_limit = None))]
    fn new(
        py: Python<'_>,
        api_key: Option<String>,
        fixtures: Option<&Bound<'_, PyAny>>,
        default_verdict: Option<&str>,
        faults: Option<&Bound<'_, PyAny>>,
        qps_limit: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Sandbox> {
        let qps_limit = qps_limit
            .map(|limit| {
                limit.extract::<u32>().map_err(|e| {
                    if e.is_instance_of::<PyOverflowError>(py) {
                        PyValueError::new_err(
                            "qps_limit must be a whole number from 0 to 4294967295",
                        )
                    } else {
                        e
                    }
                })
            })
            .transpose()?;
        let mut builder = juhe_sandbox::Sandbox::builder().qps_limit(qps_limit);
        if let Some(key) = &api_key {
            builder = builder.key(key.clone());
        }
        if let Some(fixtures) = fixtures {
            let mut all = demo::fixtures();
            all.extend(
                Fixtures::from_json(&fixtures_json(fixtures)?).map_err(|e| sandbox_error(&e))?,
            );
            builder = builder.fixtures(all);
        }
        if let Some(verdict) = default_verdict {
            let verdict: DefaultVerdict = verdict.parse().map_err(PyValueError::new_err)?;
            builder = builder.default_verdict(verdict);
        }
        if let Some(faults) = faults {
            let plan = PyDict::new(py);
            plan.set_item("sequence", faults)?;
            let plan =
                FaultPlan::from_json(&json_text(plan.as_any())?).map_err(|e| sandbox_error(&e))?;
            builder = builder.faults(plan);
        }
        let handle = py
            .detach(|| crate::bridge::block_on(builder.spawn()))
            .map_err(|e| sandbox_error(&e))?;
        Ok(Sandbox {
            url: handle.base_url(),
            handle: Mutex::new(Some(handle)),
            pid: std::process::id(),
            api_key: api_key.unwrap_or_else(|| demo::API_KEY.to_owned()),
        })
    }

    /// `http://127.0.0.1:PORT`: the client's `base_url`.
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// The key the sandbox accepts (the demo key unless `api_key` was given).
    #[getter]
    fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The demo OpenID: `mode="aes", openid=sandbox.openid`.
    #[getter]
    fn openid(&self) -> &'static str {
        demo::OPENID
    }

    /// The demo RSA public key (PEM): `mode="rsa", rsa_public_key=sandbox.rsa_public_key`.
    #[getter]
    fn rsa_public_key(&self) -> &'static str {
        demo::RSA_PUBLIC_KEY_PEM
    }

    /// A demo pair answered `res` 1.
    #[classattr]
    #[pyo3(name = "MATCH")]
    fn match_pair() -> (&'static str, &'static str) {
        demo::MATCH
    }

    /// A demo pair answered `res` 2.
    #[classattr]
    #[pyo3(name = "MISMATCH")]
    fn mismatch_pair() -> (&'static str, &'static str) {
        demo::MISMATCH
    }

    /// A demo pair answered 232904 (no record).
    #[classattr]
    #[pyo3(name = "NO_RECORD")]
    fn no_record_pair() -> (&'static str, &'static str) {
        demo::NO_RECORD
    }

    /// A demo pair answered 232905 (network error, retried by the client).
    #[classattr]
    #[pyo3(name = "NETWORK_ERROR")]
    fn network_error_pair() -> (&'static str, &'static str) {
        demo::NETWORK_ERROR
    }

    /// A demo pair with a China Mobile number (232903, or refused locally).
    #[classattr]
    #[pyo3(name = "NON_UNICOM")]
    fn non_unicom_pair() -> (&'static str, &'static str) {
        demo::NON_UNICOM
    }

    /// Counters over every request since the start (or the last `reset()`): `requests`,
    /// `billed`, `by_error_code` ({code: count}), `by_path`, `faults`,
    /// `pairs_billed_more_than_once`.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (stats, twice) = self.with_handle(|h| (h.stats(), h.pairs_billed_more_than_once()))?;
        let dict = PyDict::new(py);
        dict.set_item("requests", stats.requests)?;
        dict.set_item("billed", stats.billed)?;
        dict.set_item("by_error_code", stats.by_error_code)?;
        dict.set_item("by_path", stats.by_path)?;
        dict.set_item("faults", stats.faults)?;
        dict.set_item("pairs_billed_more_than_once", twice)?;
        Ok(dict)
    }

    /// Requests and billed answers for one pair: `{"requests": n, "billed": m}`.
    fn pair_count<'py>(
        &self,
        py: Python<'py>,
        idcard: &Bound<'py, PyAny>,
        mobile: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (idcard, mobile) = (
            crate::numbers::number_text(idcard)?,
            crate::numbers::number_text(mobile)?,
        );
        let count = self.with_handle(|h| h.pair_count(&idcard, &mobile))?;
        let dict = PyDict::new(py);
        dict.set_item("requests", count.requests)?;
        dict.set_item("billed", count.billed)?;
        Ok(dict)
    }

    /// The most recent requests (up to 10,000), oldest first, as dicts, numbers masked.
    fn recent_requests<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let records = self.with_handle(|h| h.recent_requests())?;
        let text =
            serde_json::to_string(&records).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        py.import("json")?.getattr("loads")?.call1((text,))
    }

    /// Forgets every request: the counters start again from zero (fixtures, key and fault
    /// plan stay).
    fn reset(&self) -> PyResult<()> {
        self.with_handle(SandboxHandle::reset)
    }

    /// Stops the server (requests in flight finish first). Idempotent.
    fn close(&self, py: Python<'_>) {
        let handle = self.handle.lock().unwrap_or_else(|e| e.into_inner()).take();
        // A forked child's copy is dropped unwaited: the parent's server is the parent's to stop.
        if let Some(handle) = handle.filter(|_| self.pid == std::process::id()) {
            py.detach(|| crate::bridge::block_on(handle.shutdown()));
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _kind: Option<&Bound<'_, PyAny>>,
        _value: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) {
        self.close(py);
    }

    fn __repr__(&self) -> String {
        format!("Sandbox(url='{}')", self.url)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Not closed: stop it in the background (a drop cannot wait on the runtime).
        let handle = self.handle.get_mut().map(Option::take).unwrap_or(None);
        if let Some(handle) = handle.filter(|_| self.pid == std::process::id()) {
            crate::bridge::runtime().spawn(handle.shutdown());
        }
    }
}
