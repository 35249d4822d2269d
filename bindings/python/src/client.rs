//! `Client` (blocking, the GIL released while a check runs), `AsyncClient` (asyncio, on the
//! module's tokio runtime) and `Verification`. Both drive the SDK's one engine.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use pyo3::prelude::*;

use crate::errors::to_py_err;
use crate::numbers::number_text;
use crate::options::ClientOptions;

/// A successful check.
///
/// `verdict` is `"match"` or `"mismatch"` (`res` 1 or 2); `order_id` is the vendor's billing
/// reference (keep it); `billed` is False only for an answer reused from another caller
/// (`from_cache`, fleet de-duplication); `attempts` counts the requests sent; `latency` is the
/// call's duration in seconds. `idcard` and `mobile` are masked.
#[pyclass(frozen, module = "juhe_2fa", name = "Verification")]
pub(crate) struct Verification {
    /// `"match"` or `"mismatch"`.
    #[pyo3(get)]
    verdict: &'static str,
    /// The API's `res`: 1 match, 2 mismatch.
    #[pyo3(get)]
    res: u8,
    /// The vendor's order id (聚合单号).
    #[pyo3(get)]
    order_id: String,
    /// Whether this check was billed.
    #[pyo3(get)]
    billed: bool,
    /// Whether this is another caller's answer (fleet de-duplication): nothing sent.
    #[pyo3(get)]
    from_cache: bool,
    /// Requests sent (1 unless retried; 0 when reused).
    #[pyo3(get)]
    attempts: u32,
    /// Seconds the call took.
    #[pyo3(get)]
    latency: f64,
    /// The endpoint used: `plain`, `aes` or `rsa`.
    #[pyo3(get)]
    mode: &'static str,
    /// The carrier of the mobile number's segment.
    #[pyo3(get)]
    carrier: &'static str,
    /// The ID card number, masked.
    #[pyo3(get)]
    idcard: String,
    /// The mobile number, masked.
    #[pyo3(get)]
    mobile: String,
}

impl Verification {
    fn new(v: juhe_2fa::Verification, started: Instant, idcard: &str, mobile: &str) -> Self {
        Verification {
            verdict: v.verdict.as_str(),
            res: v.res(),
            billed: v.is_billable(),
            from_cache: v.from_cache(),
            attempts: v.attempts,
            latency: started.elapsed().as_secs_f64(),
            mode: v.mode.as_str(),
            carrier: v.carrier.as_str(),
            // The check validated both: these parse.
            idcard: juhe_2fa::IdCard::parse(idcard).map_or_else(|_| String::new(), |n| n.masked()),
            mobile: juhe_2fa::Mobile::parse(mobile).map_or_else(|_| String::new(), |n| n.masked()),
            order_id: v.order_id,
        }
    }
}

#[pymethods]
impl Verification {
    /// True for a match.
    #[getter]
    fn is_match(&self) -> bool {
        self.res == 1
    }

    fn __bool__(&self) -> bool {
        self.is_match()
    }

    fn __repr__(&self) -> String {
        format!(
            "Verification(verdict='{}', res={}, order_id='{}', billed={}, from_cache={}, attempts={}, latency={:.4}, mode='{}', idcard='{}', mobile='{}')",
            self.verdict,
            self.res,
            self.order_id,
            py_bool(self.billed),
            py_bool(self.from_cache),
            self.attempts,
            self.latency,
            self.mode,
            self.idcard,
            self.mobile,
        )
    }
}

/// Both numbers parsed, for the hook's path (`verify_with` takes parsed numbers).
fn parsed(
    idcard: &str,
    mobile: &str,
) -> Result<(juhe_2fa::IdCard, juhe_2fa::Mobile), juhe_2fa::Error> {
    Ok((
        juhe_2fa::IdCard::parse(idcard)?,
        juhe_2fa::Mobile::parse(mobile)?,
    ))
}

/// Calls the Python pre-send hook: `False` or an exception cancels the attempt. A
/// `KeyboardInterrupt` or `SystemExit` (not an `Exception`) is kept in `escaped`, to be
/// raised instead of `CancelledError`: Ctrl-C in a hook must stop the program, not one check.
/// So is the `TypeError` for a hook that returns an awaitable (a coroutine function).
fn call_hook(
    hook: &Py<PyAny>,
    attempt: juhe_2fa::Attempt,
    escaped: &Mutex<Option<PyErr>>,
) -> Result<(), juhe_2fa::BoxError> {
    crate::bridge::attach(|py| match hook.call1(py, (attempt.number(),)) {
        Ok(answer) if matches!(answer.extract::<bool>(py), Ok(false)) => {
            Err("on_send returned False".into())
        }
        // A coroutine function: its answer would never be awaited (and is truthy).
        Ok(answer) if answer.bind(py).hasattr("__await__").unwrap_or(false) => {
            let _ = answer.call_method0(py, "close");
            let problem = "on_send must be a plain function, not a coroutine function";
            *escaped.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(pyo3::exceptions::PyTypeError::new_err(problem));
            Err(problem.into())
        }
        Ok(_) => Ok(()),
        Err(e) => {
            let text = format!("on_send raised {e}");
            if !e.is_instance_of::<pyo3::exceptions::PyException>(py) {
                *escaped.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            }
            Err(text.into())
        }
    })
    .unwrap_or_else(|| Err("the interpreter is exiting".into()))
}

/// The check's outcome as Python sees it: a `BaseException` that escaped the hook wins.
fn outcome(
    py: Python<'_>,
    result: Result<Verification, juhe_2fa::Error>,
    escaped: &Mutex<Option<PyErr>>,
) -> PyResult<Verification> {
    if let Some(e) = escaped.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e);
    }
    result.map_err(|e| to_py_err(py, &e))
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// The constructors' shared signature, gathered.
#[allow(clippy::too_many_arguments)]
fn options(
    api_key: Option<String>,
    base_url: Option<String>,
    mode: Option<String>,
    openid: Option<String>,
    aes_key: Option<String>,
    rsa_public_key: Option<&Bound<'_, PyAny>>,
    timeout: Option<f64>,
    deadline: Option<f64>,
    retries: Option<&Bound<'_, PyAny>>,
    qps: Option<f64>,
    redis: Option<String>,
    ledger: Option<&Bound<'_, PyAny>>,
    caller: Option<String>,
    purpose: Option<String>,
    budget: Option<&Bound<'_, PyAny>>,
) -> PyResult<ClientOptions> {
    Ok(ClientOptions {
        api_key,
        base_url,
        mode,
        openid,
        aes_key,
        rsa_public_key: rsa_public_key.map(path_or_text).transpose()?,
        timeout,
        deadline,
        retries: retries.map(retry_count).transpose()?,
        qps,
        redis,
        ledger: ledger.map(path_or_text).transpose()?,
        caller,
        purpose,
        budgets: match budget {
            None => Vec::new(),
            Some(one) if one.is_instance_of::<pyo3::types::PyString>() => vec![one.extract()?],
            Some(several) => several.extract()?,
        },
    })
}

/// `retries` as a count: a negative or huge int is a `ConfigError`, as every bad option is,
/// not the conversion's `OverflowError`.
fn retry_count(value: &Bound<'_, PyAny>) -> PyResult<u32> {
    match value.extract::<u32>() {
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyOverflowError>(value.py()) => {
            let problem =
                crate::errors::config("retries must be a whole number from 0 to 4294967295");
            Err(to_py_err(value.py(), &problem))
        }
        other => other,
    }
}

/// A `str`, or an `os.PathLike` as its path text.
fn path_or_text(value: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(text) = value.extract::<String>() {
        return Ok(text);
    }
    let path: std::path::PathBuf = value.extract()?;
    Ok(path.to_string_lossy().into_owned())
}

/// How a client shows itself: mode and base URL, never the key (a base URL that built
/// holds no credentials, query or fragment).
fn shown(kind: &str, options: &ClientOptions) -> String {
    format!(
        "{kind}(mode='{}', base_url='{}')",
        options.mode.as_deref().unwrap_or("plain"),
        options
            .base_url
            .as_deref()
            .unwrap_or(juhe_2fa::DEFAULT_BASE_URL)
            .trim()
            .trim_end_matches('/')
    )
}

/// The blocking client: `Client(api_key=None, *, base_url=None, mode="plain", openid=None,
/// aes_key=None, rsa_public_key=None, timeout=None, deadline=None, retries=None, qps=None,
/// redis=None, ledger=None, caller=None, purpose=None)`.
///
/// `api_key` falls back to the `JUHE_KEY` environment variable. `verify` releases the GIL
/// while the check runs, so threads verify in parallel; one client is meant to be shared
/// (connection pool, rate limit).
#[pyclass(frozen, module = "juhe_2fa", name = "Client")]
pub(crate) struct Client {
    inner: juhe_2fa::BlockingClient,
    shown: String,
}

#[pymethods]
impl Client {
    #[new]
    #[pyo3(signature = (api_key = None, *, base_url = None, mode = "plain", openid = None, aes_key = None,
        rsa_public_key = None, timeout = None, deadline = None, retries = None, qps = None,
        redis = None, ledger = None, caller = None, purpose = None, budget = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        api_key: Option<String>,
        base_url: Option<String>,
        mode: &str,
        openid: Option<String>,
        aes_key: Option<String>,
        rsa_public_key: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
        deadline: Option<f64>,
        retries: Option<&Bound<'_, PyAny>>,
        qps: Option<f64>,
        redis: Option<String>,
        ledger: Option<&Bound<'_, PyAny>>,
        caller: Option<String>,
        purpose: Option<String>,
        budget: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Client> {
        let options = options(
            api_key,
            base_url,
            Some(mode.to_owned()),
            openid,
            aes_key,
            rsa_public_key,
            timeout,
            deadline,
            retries,
            qps,
            redis,
            ledger,
            caller,
            purpose,
            budget,
        )?;
        let shown = shown("Client", &options);
        py.detach(|| options.builder().and_then(|b| b.build_blocking()))
            .map(|inner| Client { inner, shown })
            .map_err(|e| to_py_err(py, &e))
    }

    /// Checks one pair (each a `str` or an `IdCard` / `Mobile`) and returns a
    /// `Verification`; raises a `JuheError` subclass. The GIL is released meanwhile.
    /// `on_send(attempt)` is called just before each request leaves (1 for the first, 2 for
    /// the first retry…): returning `False` or raising cancels it (`CancelledError`, nothing
    /// sent).
    #[pyo3(signature = (idcard, mobile, *, on_send = None))]
    fn verify(
        &self,
        py: Python<'_>,
        idcard: &Bound<'_, PyAny>,
        mobile: &Bound<'_, PyAny>,
        on_send: Option<Py<PyAny>>,
    ) -> PyResult<Verification> {
        let (idcard, mobile) = (number_text(idcard)?, number_text(mobile)?);
        let started = Instant::now();
        let escaped = Mutex::new(None);
        let result = py.detach(|| match &on_send {
            None => self.inner.verify(&idcard, &mobile),
            Some(hook) => parsed(&idcard, &mobile).and_then(|(i, m)| {
                self.inner
                    .verify_with(&i, &m, |attempt| call_hook(hook, attempt, &escaped))
            }),
        });
        let result = result.map(|v| Verification::new(v, started, &idcard, &mobile));
        outcome(py, result, &escaped)
    }

    /// Finishes the fleet's pending work (with `redis`), at most 2 s; nothing otherwise.
    fn close(&self, py: Python<'_>) {
        py.detach(|| self.inner.close());
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
        self.shown.clone()
    }
}

/// The asyncio client: the same options as `Client`; `await client.verify(idcard, mobile)`.
/// Checks run on a tokio runtime owned by the module, so many are in flight at once without
/// threads; the event loop is never blocked.
#[pyclass(frozen, module = "juhe_2fa", name = "AsyncClient")]
pub(crate) struct AsyncClient {
    inner: juhe_2fa::Client,
    shown: String,
}

#[pymethods]
impl AsyncClient {
    #[new]
    #[pyo3(signature = (api_key = None, *, base_url = None, mode = "plain", openid = None, aes_key = None,
        rsa_public_key = None, timeout = None, deadline = None, retries = None, qps = None,
        redis = None, ledger = None, caller = None, purpose = None, budget = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        api_key: Option<String>,
        base_url: Option<String>,
        mode: &str,
        openid: Option<String>,
        aes_key: Option<String>,
        rsa_public_key: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
        deadline: Option<f64>,
        retries: Option<&Bound<'_, PyAny>>,
        qps: Option<f64>,
        redis: Option<String>,
        ledger: Option<&Bound<'_, PyAny>>,
        caller: Option<String>,
        purpose: Option<String>,
        budget: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<AsyncClient> {
        let options = options(
            api_key,
            base_url,
            Some(mode.to_owned()),
            openid,
            aes_key,
            rsa_public_key,
            timeout,
            deadline,
            retries,
            qps,
            redis,
            ledger,
            caller,
            purpose,
            budget,
        )?;
        let shown = shown("AsyncClient", &options);
        py.detach(|| {
            // Inside the runtime: the Redis store connects on it.
            let _entered = crate::bridge::runtime().enter();
            options.builder().and_then(|b| b.build())
        })
        .map(|inner| AsyncClient { inner, shown })
        .map_err(|e| to_py_err(py, &e))
    }

    /// Checks one pair; returns an awaitable of `Verification` (raises a `JuheError`
    /// subclass). Cancelling the awaiting task drops the check (docs/usage.md: a request
    /// already sent may still be billed).
    /// `on_send` as for `Client.verify` (a plain function, called on the runtime's thread).
    #[pyo3(signature = (idcard, mobile, *, on_send = None))]
    fn verify<'py>(
        &self,
        py: Python<'py>,
        idcard: &Bound<'py, PyAny>,
        mobile: &Bound<'py, PyAny>,
        on_send: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (idcard, mobile) = (number_text(idcard)?, number_text(mobile)?);
        let client = self.inner.clone();
        let escaped = Arc::new(Mutex::new(None));
        let escaped_in_hook = escaped.clone();
        let work = async move {
            let started = Instant::now();
            let result = match &on_send {
                None => client.verify(&idcard, &mobile).await,
                Some(hook) => match parsed(&idcard, &mobile) {
                    Ok((i, m)) => {
                        let hook = |attempt| {
                            std::future::ready(call_hook(hook, attempt, &escaped_in_hook))
                        };
                        client.verify_with(&i, &m, hook).await
                    }
                    Err(e) => Err(e),
                },
            };
            result.map(|v| Verification::new(v, started, &idcard, &mobile))
        };
        crate::bridge::awaitable(py, work, move |py, result| {
            Ok(Bound::new(py, outcome(py, result, &escaped)?)?.into_any())
        })
    }

    /// Finishes the fleet's pending work (with `redis`), at most 2 s; an awaitable.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.clone();
        crate::bridge::awaitable(py, async move { client.close().await }, |py, ()| {
            Ok(py.None().into_bound(py))
        })
    }

    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let me = slf.clone().unbind().into_any();
        crate::bridge::awaitable(slf.py(), async {}, move |py, ()| Ok(me.into_bound(py)))
    }

    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        _kind: Option<&Bound<'py, PyAny>>,
        _value: Option<&Bound<'py, PyAny>>,
        _traceback: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.close(py)
    }

    fn __repr__(&self) -> String {
        self.shown.clone()
    }
}
