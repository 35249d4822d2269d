//! A fleet on one API key (feature `redis`): a QPS budget and in-flight de-duplication shared
//! by every process that uses the key, through a store all of them reach (Redis).
//!
//! The store's protocol (`store.rs`) is a handful of atomic operations that the check engine
//! asks for; `policy.rs` decides, without I/O, which one comes next and what a reply means;
//! `keeper.rs` keeps held pairs alive and finishes what dropped checks left; `redis_store.rs`
//! runs the operations as Lua scripts. What is stored, the failure modes and sizing are in
//! `docs/fleet.md`.

mod keeper;
mod keys;
mod policy;
mod redis_store;
mod store;

use std::time::Duration;

pub(crate) use keys::PairKeys;
pub(crate) use policy::{ClaimStep, FleetCore, FleetPlan, PairTurn, RateStep};
#[cfg(feature = "reqwest")]
pub(crate) use redis_store::RedisStore;
pub(crate) use redis_store::{BlockingRedisStore, Misconfigured};
pub(crate) use store::{BlockingSharedStore, SharedStore, StoreOp, StoreReply};

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
    /// Send a pair even when another caller's check of it may have been billed without an
    /// answer (default false: such a caller gets `Error::AmbiguousElsewhere`). For a caller that
    /// chose to resend ambiguous checks (the batch's `--retry-ambiguous`).
    pub resend_ambiguous: bool,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            burst: 1,
            expected_replicas: 1,
            fail_closed: false,
            store_timeout: Duration::from_millis(500),
            max_wait: Duration::from_secs(60),
            resend_ambiguous: false,
        }
    }
}

with_setters!(FleetOptions {
    with_burst => burst: u32,
    with_expected_replicas => expected_replicas: u32,
    with_fail_closed => fail_closed: bool,
    with_store_timeout => store_timeout: Duration,
    with_max_wait => max_wait: Duration,
    with_resend_ambiguous => resend_ambiguous: bool,
});
