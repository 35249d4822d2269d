//! A fleet on one API key (feature `redis`): a QPS budget and in-flight de-duplication shared
//! by every process that uses the key, through a store all of them reach (Redis).
//!
//! The store's protocol is the small [`SharedStore`] trait (and [`BlockingSharedStore`] for
//! the blocking client); [`RedisStore`] and [`BlockingRedisStore`] implement it. What is
//! stored, the failure modes and sizing are in `docs/fleet.md`.

mod keys;
mod policy;
mod redis_store;

use std::time::Duration;

use juhe_transport::BoxError;

pub use keys::PairKeys;
pub(crate) use policy::{FleetCore, FleetPlan, Turn, reused};
pub use redis_store::{BlockingRedisStore, RedisStore};

/// What [`SharedStore::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// The pair was free: the caller now holds the in-flight marker and sends.
    Claimed,
    /// Another caller's check is in flight (the caller is now counted as a waiter).
    InFlight,
    /// An answer is there (the value as [`SharedStore::settle`] stored it).
    Answer(String),
}

/// The shared store's protocol, async. Four atomic operations; a store must make each one
/// atomic (Redis: one Lua script each). Errors are the store's own, boxed.
#[async_trait::async_trait]
pub trait SharedStore: Send + Sync + 'static {
    /// GCRA (generic cell rate algorithm): reserves the next request slot of `bucket`, slots
    /// `interval` apart with up to `burst` at once, on the store's clock, and returns how long
    /// the caller must wait before using it.
    async fn reserve(
        &self,
        bucket: &str,
        interval: Duration,
        burst: u32,
    ) -> Result<Duration, BoxError>;

    /// If `keys.state` is free, sets it to `marker` for `lease` ([`Claim::Claimed`]; a caller
    /// that was `waiting` stops being counted as a waiter). If it holds an in-flight marker,
    /// counts the caller as a waiter unless it is `waiting` already ([`Claim::InFlight`]). If
    /// it holds an answer, returns it.
    async fn claim(
        &self,
        keys: &PairKeys,
        marker: &str,
        lease: Duration,
        waiting: bool,
    ) -> Result<Claim, BoxError>;

    /// The holder of `marker` ends its check: with `answer`, stores it for `keep` (zero: only
    /// for the callers already waiting, at most `linger`); without, frees the pair. Does
    /// nothing if the marker is no longer there (its lease ran out).
    async fn settle(
        &self,
        keys: &PairKeys,
        marker: &str,
        answer: Option<&str>,
        keep: Duration,
        linger: Duration,
    ) -> Result<(), BoxError>;

    /// A waiter leaves (it read `answer`, or gave up with `None`); the last waiter to read an
    /// answer kept only for waiters removes it.
    async fn leave(&self, keys: &PairKeys, answer: Option<&str>) -> Result<(), BoxError>;
}

/// [`SharedStore`] for the blocking client: the same four operations, blocking.
pub trait BlockingSharedStore: Send + Sync + 'static {
    /// See [`SharedStore::reserve`].
    fn reserve(&self, bucket: &str, interval: Duration, burst: u32) -> Result<Duration, BoxError>;
    /// See [`SharedStore::claim`].
    fn claim(
        &self,
        keys: &PairKeys,
        marker: &str,
        lease: Duration,
        waiting: bool,
    ) -> Result<Claim, BoxError>;
    /// See [`SharedStore::settle`].
    fn settle(
        &self,
        keys: &PairKeys,
        marker: &str,
        answer: Option<&str>,
        keep: Duration,
        linger: Duration,
    ) -> Result<(), BoxError>;
    /// See [`SharedStore::leave`].
    fn leave(&self, keys: &PairKeys, answer: Option<&str>) -> Result<(), BoxError>;
}

/// How the fleet features behave (`ClientBuilder::fleet_options`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FleetOptions {
    /// Requests allowed at once by the shared budget (default 1: evenly spaced).
    pub burst: u32,
    /// How many processes share the key. When the store is unreachable each process falls
    /// back to a local limit of `qps / expected_replicas` (default 1).
    pub expected_replicas: u32,
    /// Wait for the store instead of falling back when it is unreachable (default false).
    pub fail_closed: bool,
    /// Time allowed for one store operation (default 500 ms).
    pub store_timeout: Duration,
    /// How long a caller waits for another caller's in-flight check of the same pair, or
    /// (fail-closed) for the store to come back (default 60 s).
    pub max_wait: Duration,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            burst: 1,
            expected_replicas: 1,
            fail_closed: false,
            store_timeout: Duration::from_millis(500),
            max_wait: Duration::from_secs(60),
        }
    }
}

impl FleetOptions {
    /// Sets [`FleetOptions::burst`].
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = burst;
        self
    }

    /// Sets [`FleetOptions::expected_replicas`].
    pub fn with_expected_replicas(mut self, replicas: u32) -> Self {
        self.expected_replicas = replicas;
        self
    }

    /// Sets [`FleetOptions::fail_closed`].
    pub fn with_fail_closed(mut self, fail_closed: bool) -> Self {
        self.fail_closed = fail_closed;
        self
    }

    /// Sets [`FleetOptions::store_timeout`].
    pub fn with_store_timeout(mut self, timeout: Duration) -> Self {
        self.store_timeout = timeout;
        self
    }

    /// Sets [`FleetOptions::max_wait`].
    pub fn with_max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }
}
