//! From a Rust future on the module's tokio runtime to an asyncio future, and the runtime
//! itself.
//!
//! Why not pyo3-async-runtimes' `future_into_py`: it settles each asyncio future from a tokio
//! thread with the GIL (`loop.call_soon_threadsafe`). That costs a GIL hand-over per check
//! under load, and `call_soon_threadsafe` releases the GIL while it wakes the loop: if the
//! program ends meanwhile, CPython ≤ 3.13 ends that thread with `pthread_exit` when it asks
//! for the GIL back, unwinding through Rust frames (a segfault at exit, one run in a few).
//! Here a finished check is queued for its loop without the GIL, and the first of a batch
//! wakes the loop through a socket it watches (`add_reader`); the loop's thread settles the
//! whole batch. A loop that cannot watch sockets (Windows' proactor) is woken with
//! `call_soon_threadsafe` instead; that, and the `on_send` hook, are the only Python calls
//! from runtime threads: they are counted, and an `atexit` hook (run before finalization)
//! waits for those in progress and lets no new one start.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

/// The tokio runtime the module owns: the async client's requests, timers and Redis
/// connections, and the sandbox's server. Made on first use, and again in a child process
/// after `fork`: the parent's worker threads do not exist there, so a task spawned on its
/// runtime would never run (an `await` or a sandbox that hangs forever). The parent's runtime
/// is left alone in the child (its memory is a copy; dropping it would wait for threads that
/// are not there).
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: Mutex<Option<(u32, &'static tokio::runtime::Runtime)>> = Mutex::new(None);
    let pid = std::process::id();
    let current = *RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, runtime)) = current.filter(|(owner, _)| *owner == pid) {
        return runtime;
    }
    // Made outside the lock: a fork while another thread holds it would leave it held in the
    // child for ever.
    let made = tokio::runtime::Builder::new_multi_thread()
        .thread_name("juhe-2fa")
        .enable_all()
        .build()
        .expect("a tokio runtime (threads, epoll) can be made");
    let mut current = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    match *current {
        // Another thread made this process's runtime meanwhile: use it, stop ours.
        Some((owner, runtime)) if owner == pid => {
            made.shutdown_background();
            runtime
        }
        _ => {
            let runtime: &'static tokio::runtime::Runtime = Box::leak(Box::new(made));
            *current = Some((pid, runtime));
            runtime
        }
    }
}

/// Runs `future` on the module's runtime and waits for it, from any thread: also from one of
/// the runtime's own (an `AsyncClient`'s `on_send` hook that makes or closes a `Sandbox`),
/// where a plain `block_on` panics; there the worker hands its other tasks over first.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    if tokio::runtime::Handle::try_current().is_ok() {
        tokio::task::block_in_place(|| runtime().handle().block_on(future))
    } else {
        runtime().block_on(future)
    }
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

/// Makes a future's value (or exception) on the loop's thread.
type Settle = Box<dyn for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyAny>> + Send>;

/// A result waiting for its event loop: the asyncio future and how to make its value.
struct Pending {
    future: Py<PyAny>,
    settle: Settle,
}

/// One event loop's results, queued by runtime threads without the GIL and handed over on the
/// loop's own thread by [`Mailbox::drain`], many per wake-up. It holds no reference to the
/// loop, so a finished loop is freed with its mailbox.
struct Queue {
    pending: Mutex<Vec<Pending>>,
    /// Wakes the loop, which watches the other end (`loop.add_reader`): no GIL needed.
    #[cfg(unix)]
    wake: OnceLock<std::os::unix::net::UnixStream>,
    /// Where the loop cannot watch a socket (Windows' proactor): weak references to the loop
    /// and to `drain`, for `loop.call_soon_threadsafe(drain)` with the GIL.
    fallback: OnceLock<(Py<PyAny>, Py<PyAny>)>,
}

impl Queue {
    /// Queues a result; the first one of a batch wakes the loop.
    fn push(&self, pending: Pending) {
        let first = {
            let mut queue = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            queue.push(pending);
            queue.len() == 1
        };
        if first {
            self.wake();
        }
    }

    fn wake(&self) {
        #[cfg(unix)]
        if let Some(mut wake) = self.wake.get() {
            use std::io::Write;
            // A full socket already holds a wake-up: nothing is lost.
            let _ = wake.write(&[1]);
            return;
        }
        if let Some((event_loop, drain)) = self.fallback.get() {
            attach(|py| {
                let (event_loop, drain) = (event_loop.call0(py), drain.call0(py));
                if let (Ok(event_loop), Ok(drain)) = (event_loop, drain) {
                    if !event_loop.is_none(py) && !drain.is_none(py) {
                        let _ = event_loop.call_method1(py, "call_soon_threadsafe", (drain,));
                    }
                }
            });
        }
    }
}

/// The loop-side end of a [`Queue`]: its `drain` runs on the loop's thread.
#[pyclass(frozen, weakref)]
struct Mailbox {
    queue: std::sync::Arc<Queue>,
    #[cfg(unix)]
    readable: Option<std::os::unix::net::UnixStream>,
}

#[pymethods]
impl Mailbox {
    /// Settles every queued future (a cancelled one stays cancelled).
    fn drain(&self, py: Python<'_>) {
        #[cfg(unix)]
        if let Some(mut readable) = self.readable.as_ref() {
            use std::io::Read;
            let mut buf = [0u8; 256];
            while matches!(readable.read(&mut buf), Ok(n) if n > 0) {}
        }
        let batch =
            std::mem::take(&mut *self.queue.pending.lock().unwrap_or_else(|e| e.into_inner()));
        for Pending { future, settle } in batch {
            let future = future.bind(py);
            if future
                .call_method0("done")
                .and_then(|d| d.extract::<bool>())
                .unwrap_or(true)
            {
                continue;
            }
            let _ = match settle(py) {
                Ok(value) => future.call_method1("set_result", (value,)),
                Err(e) => future.call_method1("set_exception", (e.into_value(py),)),
            };
        }
    }
}

/// The running loop's queue, made (and its wake-up socket watched) on first use.
fn queue_of(py: Python<'_>, event_loop: &Bound<'_, PyAny>) -> PyResult<std::sync::Arc<Queue>> {
    static MAILBOXES: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let weakref = py.import("weakref")?;
    let mailboxes = MAILBOXES
        .get_or_try_init(py, || {
            weakref.call_method0("WeakKeyDictionary").map(Bound::unbind)
        })?
        .bind(py);
    if let Ok(found) = mailboxes
        .call_method1("get", (event_loop,))?
        .cast::<Mailbox>()
    {
        return Ok(found.get().queue.clone());
    }
    let queue = std::sync::Arc::new(Queue {
        pending: Mutex::new(Vec::new()),
        #[cfg(unix)]
        wake: OnceLock::new(),
        fallback: OnceLock::new(),
    });
    #[cfg(unix)]
    let pair = std::os::unix::net::UnixStream::pair()
        .ok()
        .filter(|(r, w)| r.set_nonblocking(true).is_ok() && w.set_nonblocking(true).is_ok());
    #[cfg(unix)]
    let (readable, writable) = match pair {
        Some((r, w)) => (Some(r), Some(w)),
        None => (None, None),
    };
    let mailbox = Bound::new(
        py,
        Mailbox {
            queue: queue.clone(),
            #[cfg(unix)]
            readable,
        },
    )?;
    let drain = mailbox.getattr("drain")?;
    #[cfg(unix)]
    let watched = match (mailbox.get().readable.as_ref(), writable) {
        (Some(readable), Some(writable)) => {
            use std::os::fd::AsRawFd;
            event_loop
                .call_method1("add_reader", (readable.as_raw_fd(), &drain))
                .is_ok()
                && queue.wake.set(writable).is_ok()
        }
        _ => false,
    };
    #[cfg(not(unix))]
    let watched = false;
    if !watched {
        let weak_loop = weakref.call_method1("ref", (event_loop,))?.unbind();
        let weak_drain = weakref.call_method1("WeakMethod", (&drain,))?.unbind();
        let _ = queue.fallback.set((weak_loop, weak_drain));
    }
    mailboxes.set_item(event_loop, &mailbox)?;
    Ok(queue)
}

/// Settles a task's asyncio future if the task ends without a result: a panic in the work
/// (a bug) raises `PanicException` in the awaiting code instead of leaving it waiting for
/// ever. An aborted task (its future cancelled) queues this too; `drain` skips done futures.
struct Unsettled(Option<(std::sync::Arc<Queue>, Py<PyAny>)>);

impl Drop for Unsettled {
    fn drop(&mut self) {
        if let Some((queue, future)) = self.0.take() {
            queue.push(Pending {
                future,
                settle: Box::new(|_| {
                    Err(pyo3::panic::PanicException::new_err(
                        "the check stopped without a result (a bug in juhe_2fa)",
                    ))
                }),
            });
        }
    }
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
/// turns its output into the result or the exception, on the loop's thread.
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
    let queue = queue_of(py, &event_loop)?;
    let future = event_loop.call_method0("create_future")?;
    let future_ref = future.clone().unbind();
    // No GIL on the runtime's threads: the result waits in the loop's queue.
    let task = runtime().spawn(async move {
        let mut unsettled = Unsettled(Some((queue, future_ref)));
        let output = work.await;
        if let Some((queue, future)) = unsettled.0.take() {
            queue.push(Pending {
                future,
                settle: Box::new(move |py| done(py, output)),
            });
        }
    });
    future.call_method1(
        "add_done_callback",
        (AbortOnCancel(Mutex::new(Some(task.abort_handle()))),),
    )?;
    Ok(future)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyo3::types::{PyCFunction, PyDict, PyTuple};

    #[test]
    fn a_task_that_panics_raises_in_the_awaiting_code_instead_of_hanging() {
        Python::initialize();
        Python::attach(|py| {
            let start = PyCFunction::new_closure(
                py,
                None,
                None,
                |args: &Bound<'_, PyTuple>, _: Option<&Bound<'_, PyDict>>| {
                    let work = async { panic!("a bug") };
                    awaitable(args.py(), work, |py, ()| Ok(py.None().into_bound(py)))
                        .map(Bound::unbind)
                },
            )
            .unwrap();
            let globals = PyDict::new(py);
            globals.set_item("start", start).unwrap();
            let code = c"
import asyncio
async def main():
    try:
        await asyncio.wait_for(start(), 10)
    except asyncio.TimeoutError:
        return 'hung'
    except BaseException as e:
        return type(e).__name__
outcome = asyncio.run(main())
";
            py.run(code, Some(&globals), None).unwrap();
            let outcome: String = globals
                .get_item("outcome")
                .unwrap()
                .unwrap()
                .extract()
                .unwrap();
            assert_eq!(outcome, "PanicException");
        });
    }
}
