//! The threads that serve the gateway's connections: one single-threaded runtime each
//! (thread-per-core). A connection, its handler, the check and the pooled connection to the
//! API it uses all run on one thread, so a check wakes no other thread on its way
//! (docs/gateway.md, "Workers"). Everything else (accepting, signals, metrics, the fleet's
//! store) runs on the main runtime.

use std::thread::JoinHandle;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::error::CliError;

/// The worker threads; stopped and joined on drop.
pub struct Workers {
    running: Vec<Running>,
}

struct Running {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Workers {
    /// `--workers` threads (default: one per CPU this process may use), each running its own
    /// runtime until dropped.
    pub fn start(count: Option<u16>) -> Result<Workers, CliError> {
        let count = count.map_or_else(
            || std::thread::available_parallelism().map_or(1, usize::from),
            usize::from,
        );
        let mut workers = Workers {
            running: Vec::new(),
        };
        for i in 0..count.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| CliError::failure(format!("cannot start a worker's runtime: {e}")))?;
            let handle = runtime.handle().clone();
            let (stop, stopped) = oneshot::channel::<()>();
            let thread = std::thread::Builder::new()
                .name(format!("juhe-2fa-serve-{i}"))
                // Tasks spawned on the runtime run while it is driven: until stopped.
                .spawn(move || runtime.block_on(async move { drop(stopped.await) }))
                .map_err(|e| CliError::failure(format!("cannot start a worker thread: {e}")))?;
            workers.running.push(Running {
                handle,
                stop: Some(stop),
                thread: Some(thread),
            });
        }
        Ok(workers)
    }

    /// Each worker's runtime.
    pub fn handles(&self) -> impl Iterator<Item = &Handle> {
        self.running.iter().map(|r| &r.handle)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for running in &mut self.running {
            if let Some(stop) = running.stop.take() {
                let _ = stop.send(());
            }
        }
        for running in &mut self.running {
            if let Some(thread) = running.thread.take() {
                let _ = thread.join();
            }
        }
    }
}
