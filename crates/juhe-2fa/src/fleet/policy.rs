//! What a check does with the shared store, sans I/O: which operation to ask for next, what a
//! reply means, when to fall back and how long to wait. The engine (`engine.rs`) calls these;
//! the drivers run the operations.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use juhe_proto::{Carrier, Endpoint, IdCard, Mobile};
use juhe_transport::BoxError;

use super::keeper::{Keeper, LEASE};
use super::keys::FleetKeys;
use super::store::{PairValue, StoreOp, StoreReply};
use super::{FleetOptions, PairKeys};
use crate::rate_limit::RateLimit;
use crate::{ApiKey, Error, Verification};

/// How often a waiter looks at another caller's in-flight check: often at first (most checks
/// are answered within a second), then less, so many waiters do not keep Redis busy.
const POLL: Duration = Duration::from_millis(25);
const POLL_LATER: Duration = Duration::from_millis(100);
/// Polls at the first rate, about half a second.
const QUICK_POLLS: u32 = 20;
/// After a store failure, how long the store is left alone (the local limiter serves).
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// At most one warning a minute while the store stays unreachable.
const WARN_EVERY: Duration = Duration::from_secs(60);
/// A value kept only for the callers already waiting lives at most this long.
pub(crate) const LINGER: Duration = Duration::from_secs(10);

/// The builder's fleet settings, turned into a [`FleetCore`] at `build`.
#[derive(Clone, Default)]
pub(crate) struct FleetPlan {
    pub(crate) url: Option<String>,
    pub(crate) qps: Option<f64>,
    pub(crate) dedupe_keep: Option<Duration>,
    pub(crate) options: FleetOptions,
    pub(crate) conflict: bool,
}

impl FleetPlan {
    pub(crate) fn set_url(&mut self, url: String) {
        if self.url.as_ref().is_some_and(|u| *u != url) {
            self.conflict = true;
        }
        self.url = Some(url);
    }
}

struct SharedRate {
    interval: Duration,
    /// Used while the store is unreachable: `qps / expected_replicas`, same headroom.
    fallback: RateLimit,
}

#[derive(Default)]
struct Health {
    down_since: Option<Instant>,
    next_probe: Option<Instant>,
    last_warning: Option<Instant>,
}

/// The fleet part of a client: derived keys, the shared budget with its local fallback, the
/// store's health, and the keeper of held pairs.
pub(crate) struct FleetCore {
    keys: FleetKeys,
    rate: Option<SharedRate>,
    dedupe_keep: Option<Duration>,
    options: FleetOptions,
    health: Mutex<Health>,
    pub(crate) keeper: Arc<Keeper>,
}

/// One check's part in de-duplication.
pub(crate) struct PairTurn {
    keys: PairKeys,
    marker: String,
    deadline: Instant,
    /// Counted as a waiter on another caller's check.
    waiting: bool,
    /// How many times it looked.
    polls: u32,
    /// Holds the pair (claimed, not yet settled).
    pub(crate) held: bool,
}

/// What a claim's reply means for the check.
pub(crate) enum ClaimStep {
    /// The check holds the pair: go on and send.
    Claimed,
    /// Another caller's check is in flight: ask again after this long.
    Wait(Duration),
    /// Send without de-duplication (the store failed, or held something unreadable).
    Unguarded,
    /// Done: another caller's answer (or its ambiguous outcome, as an error). A waiter then
    /// leaves with `Leave`.
    Done(Result<Verification, Error>, Option<StoreOp>),
}

/// What a rate reservation's reply means.
pub(crate) enum RateStep {
    Go,
    Wait(Duration),
    /// The store failed: use the local fallback limiter.
    Fallback,
    Fail(Error),
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl FleetCore {
    pub(crate) fn new(plan: &FleetPlan, api_key: &ApiKey) -> Result<FleetCore, Error> {
        let options = plan.options.clone();
        if options.expected_replicas == 0 {
            return Err(Error::config(
                "the expected replica count must be at least 1",
            ));
        }
        let rate = match plan.qps {
            Some(qps) => {
                let fallback =
                    RateLimit::new(qps / f64::from(options.expected_replicas), options.burst)?;
                let interval = RateLimit::new(qps, options.burst)?.interval();
                Some(SharedRate { interval, fallback })
            }
            None => None,
        };
        Ok(FleetCore {
            keys: FleetKeys::new(api_key),
            rate,
            dedupe_keep: plan.dedupe_keep,
            options,
            health: Mutex::new(Health::default()),
            keeper: Arc::new(Keeper::new(plan.dedupe_keep.unwrap_or_default())),
        })
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// False while a failed store is left alone (one probe a second).
    fn store_usable(&self) -> bool {
        self.health()
            .next_probe
            .is_none_or(|at| Instant::now() >= at)
    }

    /// Records a store operation's outcome for the health tracking.
    pub(crate) fn stored(&self, result: &Result<StoreReply, BoxError>) {
        match result {
            Ok(_) => self.store_ok(),
            Err(e) => self.store_failed(e),
        }
    }

    fn store_failed(&self, error: &BoxError) {
        let now = Instant::now();
        let mut health = self.health();
        health.down_since.get_or_insert(now);
        health.next_probe = Some(now + PROBE_EVERY);
        if health
            .last_warning
            .is_none_or(|at| now.duration_since(at) >= WARN_EVERY)
        {
            health.last_warning = Some(now);
            let fallback = if self.options.fail_closed {
                "waiting for it (fail-closed)"
            } else {
                "using the local limit and no de-duplication"
            };
            tracing::warn!(%error, fallback, "the shared store (Redis) is unreachable");
        }
    }

    fn store_ok(&self) {
        let mut health = self.health();
        health.next_probe = None;
        if let Some(since) = health.down_since.take() {
            health.last_warning = None;
            let down_ms = since.elapsed().as_millis() as u64;
            tracing::info!(down_ms, "the shared store (Redis) is reachable again");
        }
    }

    fn unreachable() -> Error {
        Error::SharedStore {
            problem: "the shared store (Redis) stayed unreachable and the client fails closed",
            source: None,
        }
    }

    /// The reservation to ask for before an attempt, if the budget is shared and the store is
    /// worth asking now.
    pub(crate) fn reserve_op(&self) -> Option<StoreOp> {
        let rate = self.rate.as_ref()?;
        Some(StoreOp::Reserve {
            bucket: self.keys.rate().to_owned(),
            slow: self.keys.slow().to_owned(),
            interval: rate.interval,
            burst: self.options.burst,
        })
        .filter(|_| self.store_usable())
    }

    /// A caller's own rate in the store: its bucket under this API key's tag, for every
    /// process (`None`: the store is not worth asking now; the caller's rate is then this
    /// process's).
    pub(crate) fn caller_reserve_op(
        &self,
        caller: &str,
        (interval, burst): (Duration, u32),
    ) -> Option<StoreOp> {
        Some(StoreOp::Reserve {
            bucket: format!("{}:caller:{caller}", self.keys.rate()),
            // Never slowed down: a 10012 is the vendor's rate, not a caller's.
            slow: format!("{}:caller:{caller}", self.keys.slow()),
            interval,
            burst,
        })
        .filter(|_| self.store_usable())
    }

    /// Whether the budget is shared at all.
    pub(crate) fn shares_rate(&self) -> bool {
        self.rate.is_some()
    }

    /// A reservation's reply (`None`: the store was not asked).
    pub(crate) fn on_reserve(
        &self,
        reply: Option<Result<StoreReply, BoxError>>,
        since: Instant,
    ) -> RateStep {
        if let Some(Ok(StoreReply::Int(wait_us))) = reply {
            return match u64::try_from(wait_us) {
                Ok(0) | Err(_) => RateStep::Go,
                Ok(us) => RateStep::Wait(Duration::from_micros(us)),
            };
        }
        if !self.options.fail_closed {
            return RateStep::Fallback;
        }
        if since.elapsed() >= self.options.max_wait {
            return RateStep::Fail(Self::unreachable());
        }
        RateStep::Wait(POLL * 4)
    }

    /// The local fallback limiter (while the store is unreachable).
    pub(crate) fn fallback_acquire(&self, now: Instant) -> Result<(), Duration> {
        match &self.rate {
            Some(rate) => rate.fallback.try_acquire(now),
            None => Ok(()),
        }
    }

    /// A 10012 came back: slow the fallback down, and the shared budget if there is one.
    pub(crate) fn slow_down(&self, now: Instant) -> Option<StoreOp> {
        let rate = self.rate.as_ref()?;
        rate.fallback.slow_down(now);
        Some(StoreOp::SlowDown {
            slow: self.keys.slow().to_owned(),
        })
        .filter(|_| self.store_usable())
    }

    /// The budgets' units to take in the store (`None`: the store is left alone for now, the
    /// budgets count in-process).
    pub(crate) fn spend_op(
        &self,
        budgets: Option<&crate::budget::Budgets>,
        caller: Option<(&str, &crate::budget::Budgets)>,
        now: SystemTime,
    ) -> Option<(StoreOp, Vec<crate::budget::Unit>)> {
        if !self.store_usable() {
            return None;
        }
        let (mut keys, mut ttls, mut units, mut limits) = (vec![], vec![], vec![], vec![]);
        let receipt = format!(
            "{}:r:{:016x}{:016x}",
            self.keys.budget(),
            fastrand::u64(..),
            fastrand::u64(..)
        );
        // The client's budgets, then the caller's under its name: one atomic spend.
        let caller_prefix = caller.map(|(name, _)| format!("{}:caller:{name}", self.keys.budget()));
        let sets = [
            (budgets, self.keys.budget(), false),
            (
                caller.map(|(_, b)| b),
                caller_prefix.as_deref().unwrap_or(""),
                true,
            ),
        ];
        for (set, prefix, is_caller) in sets {
            let Some(set) = set else { continue };
            for (i, budget) in set.budgets.iter().enumerate() {
                let (key, ttl) = set.key(prefix, i, now);
                units.push(crate::budget::Unit {
                    caller: is_caller,
                    budget: i,
                    window: budget.period().window(now).index,
                    key: Some(key.clone()),
                    receipt: Some(receipt.clone()),
                });
                keys.push(key);
                ttls.push(ttl);
                limits.push(budget.limit());
            }
        }
        let spend = StoreOp::Spend {
            keys,
            limits,
            ttls,
            receipt,
        };
        Some((spend, units))
    }

    /// The check's de-duplication turn, when de-duplicating.
    pub(crate) fn turn(&self, idcard: &IdCard, mobile: &Mobile) -> Option<PairTurn> {
        self.dedupe_keep?;
        Some(PairTurn {
            keys: self.keys.pair(idcard, mobile),
            marker: format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
            deadline: Instant::now() + self.options.max_wait,
            waiting: false,
            polls: 0,
            held: false,
        })
    }

    /// The claim to ask for (`None`: the store is left alone for now).
    pub(crate) fn claim_op(&self, turn: &PairTurn) -> Option<StoreOp> {
        Some(StoreOp::Claim {
            keys: turn.keys.clone(),
            marker: turn.marker.clone(),
            lease: LEASE,
            waiting: turn.waiting,
            keep: self.dedupe_keep.unwrap_or_default(),
            take_ambiguous: self.options.resend_ambiguous,
        })
        .filter(|_| self.store_usable())
    }

    /// What a claim's reply (`None`: the store was not asked) means.
    pub(crate) fn on_claim(
        &self,
        turn: &mut PairTurn,
        reply: Option<Result<StoreReply, BoxError>>,
        (mode, carrier): (Endpoint, Carrier),
    ) -> ClaimStep {
        let found = match reply {
            Some(Ok(reply)) => reply.text(),
            _ if !self.options.fail_closed => return ClaimStep::Unguarded,
            _ if Instant::now() >= turn.deadline => {
                return self.give_up(turn, Self::unreachable());
            }
            _ => return ClaimStep::Wait(POLL * 4),
        };
        if found.is_empty() {
            turn.held = true;
            return ClaimStep::Claimed;
        }
        let leave = |turn: &PairTurn| {
            turn.waiting.then(|| StoreOp::Leave {
                keys: turn.keys.clone(),
                value: Some(found.clone()),
            })
        };
        match PairValue::parse(&found) {
            Some(PairValue::InFlight { .. }) if Instant::now() >= turn.deadline => self.give_up(
                turn,
                Error::SharedStore {
                    problem: "another caller's check of this pair did not end in time",
                    source: None,
                },
            ),
            Some(PairValue::InFlight { .. }) => {
                turn.waiting = true;
                turn.polls += 1;
                ClaimStep::Wait(if turn.polls <= QUICK_POLLS {
                    POLL
                } else {
                    POLL_LATER
                })
            }
            Some(PairValue::Ambiguous) => {
                ClaimStep::Done(Err(Error::AmbiguousElsewhere), leave(turn))
            }
            Some(value @ PairValue::Answer { .. }) => match value.reused(mode, carrier) {
                Some(v) => {
                    tracing::debug!(verdict = %v.verdict, "answer reused from the shared store");
                    ClaimStep::Done(Ok(v), leave(turn))
                }
                None => ClaimStep::Unguarded,
            },
            None => {
                tracing::warn!("an unreadable value in the shared store; sending");
                ClaimStep::Unguarded
            }
        }
    }

    fn give_up(&self, turn: &PairTurn, error: Error) -> ClaimStep {
        let leave = turn.waiting.then(|| StoreOp::Leave {
            keys: turn.keys.clone(),
            value: None,
        });
        ClaimStep::Done(Err(error), leave)
    }

    /// The check now holds the pair: keep it alive while it lives.
    pub(crate) fn hold(&self, turn: &PairTurn) {
        self.keeper.hold(&turn.keys, &turn.marker);
    }

    /// The held pair is settled or lost: stop keeping it.
    pub(crate) fn release(&self, turn: &mut PairTurn) {
        self.keeper.release(&turn.marker);
        turn.held = false;
    }

    /// A dropped check's last operation, for the keeper to run.
    pub(crate) fn hand_over(&self, turn: &PairTurn, op: StoreOp) {
        let marker = turn.held.then_some(turn.marker.as_str());
        self.keeper.submit(marker, op);
    }

    /// Whether the keeper still has dropped checks' work to do.
    pub(crate) fn busy(&self) -> bool {
        self.keeper.has_jobs()
    }

    /// An operation for the keeper to run soon (a dropped check's budget refund).
    pub(crate) fn run_later(&self, op: StoreOp) {
        self.keeper.submit(None, op);
    }

    /// Just before the holder's request leaves: mark the pair sent.
    pub(crate) fn mark_sent(&self, turn: &PairTurn) -> StoreOp {
        self.keeper.sent(&turn.marker);
        StoreOp::Hold {
            keys: turn.keys.clone(),
            marker: turn.marker.clone(),
            lease: LEASE,
            sent: true,
            keep: self.dedupe_keep.unwrap_or_default(),
        }
    }

    /// How the holder ends its turn with `result`: the answer (kept for reuse, or for the
    /// current waiters only), an ambiguous outcome (for the current waiters: they must not
    /// send it again), or nothing (the pair is freed and a waiter sends).
    pub(crate) fn settle_op(
        &self,
        turn: &PairTurn,
        result: &Result<Verification, Error>,
    ) -> StoreOp {
        let value = match result {
            Ok(v) => Some(PairValue::answer(v, self.keeps(), now_ms())),
            Err(e) if e.is_ambiguous() => Some(PairValue::ambiguous(now_ms(), self.keeps())),
            Err(_) => None,
        };
        self.settle(turn, value)
    }

    fn keeps(&self) -> bool {
        self.dedupe_keep.is_some_and(|keep| !keep.is_zero())
    }

    fn settle(&self, turn: &PairTurn, value: Option<String>) -> StoreOp {
        StoreOp::Settle {
            keys: turn.keys.clone(),
            marker: turn.marker.clone(),
            value,
            keep: self.dedupe_keep.unwrap_or_default(),
            linger: LINGER,
        }
    }

    /// What a check dropped before its end leaves to do: settle its pair as ambiguous (`sent`:
    /// a request was on its way) or free it, or stop waiting.
    pub(crate) fn abandon(&self, turn: &PairTurn, sent: bool) -> Option<StoreOp> {
        if turn.held {
            let ambiguous = sent.then(|| PairValue::ambiguous(now_ms(), self.keeps()));
            return Some(self.settle(turn, ambiguous));
        }
        turn.waiting.then(|| StoreOp::Leave {
            keys: turn.keys.clone(),
            value: None,
        })
    }
}
