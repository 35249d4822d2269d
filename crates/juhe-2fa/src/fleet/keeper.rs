//! The keeper: keeps every pair this client holds alive in the store (a short lease, renewed
//! while the holder lives, so a dead holder is noticed within one lease), and carries out what
//! a check dropped mid-way left to do (free its pair, or settle it as ambiguous).
//!
//! It is sans-IO like the engine: [`Keeper::round`] says which operations are due; the client's
//! driver runs them on a task (async) or a thread (blocking) that lives only while there is
//! something to keep.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use super::PairKeys;
use super::store::StoreOp;

/// A held pair's lease: how long after its holder dies the pair is given up.
pub(crate) const LEASE: Duration = Duration::from_secs(10);
/// How often a live holder renews its lease.
pub(crate) const RENEW_EVERY: Duration = Duration::from_secs(2);

#[derive(Default)]
struct State {
    /// Held pairs by marker, and whether their request has left.
    held: HashMap<String, (PairKeys, bool)>,
    /// Operations left by dropped checks.
    jobs: Vec<StoreOp>,
    /// Of those, how many a runner took and has not finished.
    in_progress: usize,
    last_renewal: Option<Instant>,
    running: bool,
}

/// Starts a runner for the keeper (set by the client's builder, which has the store).
pub(crate) type Starter = Box<dyn Fn(Arc<Keeper>) -> bool + Send + Sync>;

/// See the module documentation.
#[derive(Default)]
pub(crate) struct Keeper {
    /// How long answers are kept (held markers outlive their lease at least this long).
    keep: Duration,
    starter: OnceLock<Starter>,
    state: Mutex<State>,
    /// Wakes a blocking runner early (jobs to run).
    wake: Condvar,
    /// Wakes an async runner early.
    #[cfg(feature = "reqwest")]
    notify: tokio::sync::Notify,
}

impl Keeper {
    pub(crate) fn new(keep: Duration) -> Keeper {
        Keeper {
            keep,
            ..Keeper::default()
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How runners are started (once, at build).
    pub(crate) fn set_starter(&self, starter: Starter) {
        let _ = self.starter.set(starter);
    }

    /// Starts a runner if `start` says none is running.
    fn ensure_runner(self: &Arc<Self>, start: bool) {
        if !start {
            return;
        }
        let started = self.starter.get().is_some_and(|s| s(self.clone()));
        if !started {
            self.not_started();
        }
    }

    /// True when the caller must start a runner (none is running).
    fn start(state: &mut State) -> bool {
        !std::mem::replace(&mut state.running, true)
    }

    /// A check now holds the pair under `marker`.
    pub(crate) fn hold(self: &Arc<Self>, keys: &PairKeys, marker: &str) {
        let start = {
            let mut state = self.state();
            state.held.insert(marker.to_owned(), (keys.clone(), false));
            Self::start(&mut state)
        };
        self.ensure_runner(start);
    }

    /// The held pair's request is about to leave: renewals keep it marked sent.
    pub(crate) fn sent(&self, marker: &str) {
        if let Some(entry) = self.state().held.get_mut(marker) {
            entry.1 = true;
        }
    }

    /// The check settled (or lost) its pair: stop renewing it.
    pub(crate) fn release(&self, marker: &str) {
        self.state().held.remove(marker);
    }

    /// A dropped check's last operation, run as soon as possible.
    pub(crate) fn submit(self: &Arc<Self>, marker: Option<&str>, op: StoreOp) {
        let start = {
            let mut state = self.state();
            if let Some(marker) = marker {
                state.held.remove(marker);
            }
            state.jobs.push(op);
            Self::start(&mut state)
        };
        self.wake.notify_all();
        #[cfg(feature = "reqwest")]
        self.notify.notify_one();
        self.ensure_runner(start);
    }

    /// What is due now: the dropped checks' operations, and renewals when their time has come.
    /// `None` when there is nothing left to keep: the runner stops (the next `hold` or
    /// `submit` starts another).
    pub(crate) fn round(&self) -> Option<Vec<StoreOp>> {
        let mut state = self.state();
        state.in_progress = 0;
        if state.held.is_empty() && state.jobs.is_empty() {
            state.running = false;
            state.last_renewal = None;
            return None;
        }
        let mut ops = std::mem::take(&mut state.jobs);
        state.in_progress = ops.len();
        let now = Instant::now();
        if state
            .last_renewal
            .is_none_or(|at| now.duration_since(at) >= RENEW_EVERY)
        {
            state.last_renewal = Some(now);
            ops.extend(
                state
                    .held
                    .iter()
                    .map(|(marker, (keys, sent))| StoreOp::Hold {
                        keys: keys.clone(),
                        marker: marker.clone(),
                        lease: LEASE,
                        sent: *sent,
                        keep: self.keep,
                    }),
            );
        }
        Some(ops)
    }

    /// The runner could not be started (no runtime): nothing runs the jobs; leases run out.
    fn not_started(&self) {
        let mut state = self.state();
        state.running = false;
        state.jobs.clear();
    }

    /// Whether work handed over by dropped checks is still to run.
    pub(crate) fn has_jobs(&self) -> bool {
        let state = self.state();
        !state.jobs.is_empty() || state.in_progress > 0
    }

    /// The runner ran what its last round gave it.
    pub(crate) fn ran(&self) {
        self.state().in_progress = 0;
    }

    /// Marks the runner stopped when it ends in any way (its runtime shut down, say), so the
    /// next hold starts another.
    pub(crate) fn runner_guard(self: &Arc<Self>) -> RunnerGuard {
        RunnerGuard(self.clone())
    }

    /// Blocks a runner thread until the next round is due or a job comes.
    pub(crate) fn wait_blocking(&self) {
        let state = self.state();
        if state.jobs.is_empty() {
            let _ = self.wake.wait_timeout(state, RENEW_EVERY / 4);
        }
    }

    /// Waits (async) until the next round is due or a job comes.
    #[cfg(feature = "reqwest")]
    pub(crate) async fn wait(&self) {
        let _ = tokio::time::timeout(RENEW_EVERY / 4, self.notify.notified()).await;
    }
}

/// See [`Keeper::runner_guard`].
pub(crate) struct RunnerGuard(Arc<Keeper>);

impl Drop for RunnerGuard {
    fn drop(&mut self) {
        self.0.state().running = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> PairKeys {
        PairKeys {
            state: "s".into(),
            waiters: "w".into(),
        }
    }

    #[test]
    fn renews_held_pairs_runs_jobs_and_stops_when_idle() {
        let keeper = Arc::new(Keeper::default());
        let starts = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counter = starts.clone();
        keeper.set_starter(Box::new(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            true
        }));
        let started = || starts.load(std::sync::atomic::Ordering::SeqCst);
        keeper.hold(&keys(), "m1");
        keeper.hold(&keys(), "m2");
        assert_eq!(started(), 1, "one runner at a time");
        keeper.sent("m1");
        let ops = keeper.round().unwrap();
        assert_eq!(ops.len(), 2);
        assert!(ops.contains(&StoreOp::Hold {
            keys: keys(),
            marker: "m1".into(),
            lease: LEASE,
            sent: true,
            keep: Duration::ZERO,
        }));
        assert_eq!(keeper.round(), Some(vec![]), "renewals every RENEW_EVERY");
        keeper.release("m1");
        let free = StoreOp::Leave {
            keys: keys(),
            value: None,
        };
        keeper.submit(Some("m2"), free.clone());
        assert_eq!(started(), 1);
        assert_eq!(keeper.round(), Some(vec![free]));
        assert_eq!(keeper.round(), None, "nothing left: the runner stops");
        keeper.hold(&keys(), "m3");
        assert_eq!(started(), 2, "and the next hold starts one");
    }
}
