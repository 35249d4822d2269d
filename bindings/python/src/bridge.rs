//! From a Rust future on the module's tokio runtime to an asyncio future, and the runtime
//! itself.
//!
//! Why not pyo3-async-runtimes' `future_into_py`: it settles the asyncio future from a tokio
//! thread with `loop.call_soon_threadsafe`, which releases the GIL while it wakes the loop. If
//! the program ends meanwhile (the loop already saw the result), CPython ≤ 3.13 ends that
//! thread with `pthread_exit` when it asks for the GIL back, unwinding through Rust frames:
//! a segfault at exit, one run in a few. Here every Python call from a runtime thread is
//! counted, an `atexit` hook (which runs before finalization) waits for those in progress,
//! and none starts once it has run.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

/// The tokio runtime the module owns: the async client's requests, timers and Redis
/// connections, and the sandbox's server. Made on first use.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("juhe-2fa")
            .enable_all()
            .build()
            .expect("a tokio runtime (threads, epoll) can be made")
    })
}

static ENTERED: AtomicUsize = AtomicUsize::new(0);
static EXITING: AtomicBool = AtomicBool::new(false);

/// Runs `f` with the GIL from a runtime thread, unless the interpreter is exiting (then
/// `None`: nobody is left to receive the result).
pub(crate) fn attach<T>(f: impl for<'py> FnOnce(Python<'py>) -> T) -> Option<T> {
    // Counted before the flag is read: the exit hook sets the flag, then waits for the count.
    ENTERED.fetch_add(1, Ordering::SeqCst);
    let result = if EXITING.load(Ordering::SeqCst) {
        None
    } else {
        Some(Python::attach(f))
    };
    ENTERED.fetch_sub(1, Ordering::SeqCst);
    result
}

/// The `atexit` hook: no runtime thread enters Python from now on, and those inside finish
/// (waiting at most 2 s, the GIL released).
#[pyfunction]
fn _before_exit(py: Python<'_>) {
    EXITING.store(true, Ordering::SeqCst);
    py.detach(|| {
        let until = Instant::now() + Duration::from_secs(2);
        while ENTERED.load(Ordering::SeqCst) > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// Registers the exit hook and the helper that settles futures on their loop.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let hook = wrap_pyfunction!(_before_exit, m)?;
    m.py().import("atexit")?.call_method1("register", (hook,))?;
    Ok(())
}

/// `_settle(future, ok, value)`, run by the event loop: a cancelled future stays cancelled.
fn settle(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static SETTLE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    SETTLE
        .get_or_try_init(py, || {
            PyModule::from_code(
                py,
                c"def settle(future, ok, value):\n    if not future.done():\n        (future.set_result if ok else future.set_exception)(value)\n",
                c"juhe_2fa/_bridge.py",
                c"juhe_2fa._bridge",
            )?
            .getattr("settle")
            .map(Bound::unbind)
        })
        .map(|f| f.bind(py))
}

/// Cancels the tokio task when its asyncio future is cancelled (a done-callback).
#[pyclass(frozen)]
struct AbortOnCancel(Mutex<Option<tokio::task::AbortHandle>>);

#[pymethods]
impl AbortOnCancel {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        let handle = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let (Some(handle), true) = (handle, future.call_method0("cancelled")?.extract()?) {
            handle.abort();
        }
        Ok(())
    }
}

/// An asyncio future (of the running loop) for `work`, run on the module's runtime; `done`
/// turns its output into the result or the exception, with the GIL.
pub(crate) fn awaitable<'py, T, F, D>(
    py: Python<'py>,
    work: F,
    done: D,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
    D: for<'a> FnOnce(Python<'a>, T) -> PyResult<Bound<'a, PyAny>> + Send + 'static,
{
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let future = event_loop.call_method0("create_future")?;
    let (loop_ref, future_ref) = (event_loop.unbind(), future.clone().unbind());
    let task = runtime().spawn(async move {
        let output = work.await;
        attach(|py| {
            let (ok, value) = match done(py, output) {
                Ok(value) => (true, value),
                Err(e) => (false, e.into_value(py).into_bound(py).into_any()),
            };
            // A closed loop has nobody waiting: nothing to deliver.
            let _ = settle(py).and_then(|settle| {
                loop_ref.bind(py).call_method1(
                    "call_soon_threadsafe",
                    (settle, future_ref.bind(py), ok, value),
                )
            });
        });
    });
    future.call_method1(
        "add_done_callback",
        (AbortOnCancel(Mutex::new(Some(task.abort_handle()))),),
    )?;
    Ok(future)
}
