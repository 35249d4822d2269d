//! What a client does with the shared store: when to use it, when to fall back, how long to
//! wait. The async and blocking drivers differ only in how they sleep and call the store.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use juhe_proto::{Carrier, Endpoint, IdCard, Mobile, Verdict};
use juhe_transport::BoxError;

use super::keys::FleetKeys;
use super::{BlockingSharedStore, Claim, FleetOptions, PairKeys, SharedStore};
use crate::rate_limit::RateLimit;
use crate::timer::Timer;
use crate::{ApiKey, Error, Verification};

/// Slots are spaced this much wider than `1 / qps`: a request that leaves a few milliseconds
/// late must not put `qps + 1` requests into a server's sliding second (2 % = 20 ms a second).
const HEADROOM: f64 = 0.98;
/// How often a waiter looks at another caller's in-flight check.
const POLL: Duration = Duration::from_millis(25);
/// After a store failure, how long the store is left alone (the local limiter serves).
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// At most one warning a minute while the store stays unreachable.
const WARN_EVERY: Duration = Duration::from_secs(60);
/// An answer kept only for the callers already waiting lives at most this long.
const LINGER: Duration = Duration::from_secs(10);

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
    local: RateLimit,
}

#[derive(Default)]
struct Health {
    down_since: Option<Instant>,
    next_probe: Option<Instant>,
    last_warning: Option<Instant>,
}

/// The fleet part of a client: derived keys, the shared budget with its local fallback, and
/// the store's health.
pub(crate) struct FleetCore {
    keys: FleetKeys,
    rate: Option<SharedRate>,
    dedupe_keep: Option<Duration>,
    options: FleetOptions,
    lease: Duration,
    health: Mutex<Health>,
}

/// A claimed in-flight marker, settled when the check ends.
pub(crate) struct Held {
    keys: PairKeys,
    marker: String,
}

/// Before sending: send (holding the pair's marker, if de-duplicating), or reuse an answer.
pub(crate) enum Turn {
    Send(Option<Held>),
    Reused(Verification),
}

enum Step {
    /// The caller holds the pair's marker.
    Claimed,
    /// Send without de-duplication (the store failed, or held something unreadable).
    SendUnguarded,
    Reused(Verification, String),
    Poll,
    Fail(Error),
}

impl FleetCore {
    /// `busy_for`: the longest a check may take from claim to answer (attempts, backoff).
    pub(crate) fn new(
        plan: &FleetPlan,
        api_key: &ApiKey,
        busy_for: Duration,
    ) -> Result<FleetCore, Error> {
        let options = plan.options.clone();
        if options.expected_replicas == 0 {
            return Err(Error::config(
                "the expected replica count must be at least 1",
            ));
        }
        let rate = match plan.qps {
            Some(qps) => {
                let local =
                    RateLimit::new(qps / f64::from(options.expected_replicas), options.burst)?;
                let interval = Duration::try_from_secs_f64(1.0 / (qps * HEADROOM))
                    .map_err(|_| Error::config("the shared rate limit is too low"))?;
                Some(SharedRate { interval, local })
            }
            None => None,
        };
        Ok(FleetCore {
            keys: FleetKeys::new(api_key),
            rate,
            dedupe_keep: plan.dedupe_keep,
            lease: options.max_wait.max(busy_for) + Duration::from_secs(5),
            options,
            health: Mutex::new(Health::default()),
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

    fn rate_step(&self, result: Option<Result<Duration, BoxError>>) -> Result<Duration, ()> {
        match result {
            Some(Ok(wait)) => {
                self.store_ok();
                Ok(wait)
            }
            Some(Err(e)) => {
                self.store_failed(&e);
                Err(())
            }
            None => Err(()),
        }
    }

    /// Waits for this attempt's slot in the fleet's budget (async).
    pub(crate) async fn wait_turn(
        &self,
        store: &dyn SharedStore,
        timer: &dyn Timer,
    ) -> Result<(), Error> {
        let Some(rate) = &self.rate else {
            return Ok(());
        };
        let deadline = Instant::now() + self.options.max_wait;
        loop {
            let reserved = match self.store_usable() {
                true => Some(
                    store
                        .reserve(self.keys.rate(), rate.interval, self.options.burst)
                        .await,
                ),
                false => None,
            };
            match self.rate_step(reserved) {
                Ok(wait) if wait.is_zero() => break,
                Ok(wait) => break timer.sleep(wait).await,
                Err(()) if !self.options.fail_closed => break rate.local.wait().await,
                Err(()) if Instant::now() >= deadline => return Err(Self::unreachable()),
                Err(()) => timer.sleep(POLL * 4).await,
            }
        }
        Ok(())
    }

    /// Waits for this attempt's slot in the fleet's budget (blocking).
    pub(crate) fn wait_turn_blocking(&self, store: &dyn BlockingSharedStore) -> Result<(), Error> {
        let Some(rate) = &self.rate else {
            return Ok(());
        };
        let deadline = Instant::now() + self.options.max_wait;
        loop {
            let reserved = self
                .store_usable()
                .then(|| store.reserve(self.keys.rate(), rate.interval, self.options.burst));
            match self.rate_step(reserved) {
                Ok(wait) => break std::thread::sleep(wait),
                Err(()) if !self.options.fail_closed => break rate.local.wait_blocking(),
                Err(()) if Instant::now() >= deadline => return Err(Self::unreachable()),
                Err(()) => std::thread::sleep(POLL * 4),
            }
        }
        Ok(())
    }

    fn marker() -> String {
        format!("p:{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
    }

    fn claim_step(
        &self,
        result: Option<Result<Claim, BoxError>>,
        waiting: &mut bool,
        deadline: Instant,
        reuse: impl Fn(&str) -> Option<Verification>,
    ) -> Step {
        let claim = match result {
            Some(Ok(claim)) => {
                self.store_ok();
                claim
            }
            failed => {
                if let Some(Err(e)) = failed {
                    self.store_failed(&e);
                }
                return match self.options.fail_closed {
                    false => Step::SendUnguarded,
                    true if Instant::now() >= deadline => Step::Fail(Self::unreachable()),
                    true => Step::Poll,
                };
            }
        };
        match claim {
            Claim::Claimed => Step::Claimed,
            Claim::Answer(answer) => match reuse(&answer) {
                Some(v) => Step::Reused(v, answer),
                None => {
                    tracing::warn!("an unreadable answer in the shared store; sending");
                    Step::SendUnguarded
                }
            },
            Claim::InFlight if Instant::now() >= deadline => Step::Fail(Error::SharedStore {
                problem: "another caller's check of this pair did not end in time",
                source: None,
            }),
            Claim::InFlight => {
                *waiting = true;
                Step::Poll
            }
        }
    }

    fn start(&self, idcard: &IdCard, mobile: &Mobile) -> Option<(Held, Instant)> {
        self.dedupe_keep?;
        let held = Held {
            keys: self.keys.pair(idcard, mobile),
            marker: Self::marker(),
        };
        Some((held, Instant::now() + self.options.max_wait))
    }

    /// Before the first attempt: claim the pair, or wait for and reuse another caller's answer.
    pub(crate) async fn begin(
        &self,
        store: &dyn SharedStore,
        timer: &dyn Timer,
        (idcard, mobile): (&IdCard, &Mobile),
        reuse: impl Fn(&str) -> Option<Verification>,
    ) -> Result<Turn, Error> {
        let Some((held, deadline)) = self.start(idcard, mobile) else {
            return Ok(Turn::Send(None));
        };
        let mut waiting = false;
        loop {
            let result = match self.store_usable() {
                true => Some(
                    store
                        .claim(&held.keys, &held.marker, self.lease, waiting)
                        .await,
                ),
                false => None,
            };
            let was_waiting = waiting;
            match self.claim_step(result, &mut waiting, deadline, &reuse) {
                Step::Claimed => return Ok(Turn::Send(Some(held))),
                Step::SendUnguarded => return Ok(Turn::Send(None)),
                Step::Reused(v, answer) => {
                    if was_waiting {
                        let _ = store.leave(&held.keys, Some(&answer)).await;
                    }
                    return Ok(Turn::Reused(v));
                }
                Step::Poll => timer.sleep(POLL).await,
                Step::Fail(e) => {
                    if was_waiting {
                        let _ = store.leave(&held.keys, None).await;
                    }
                    return Err(e);
                }
            }
        }
    }

    /// [`FleetCore::begin`] for the blocking client.
    pub(crate) fn begin_blocking(
        &self,
        store: &dyn BlockingSharedStore,
        (idcard, mobile): (&IdCard, &Mobile),
        reuse: impl Fn(&str) -> Option<Verification>,
    ) -> Result<Turn, Error> {
        let Some((held, deadline)) = self.start(idcard, mobile) else {
            return Ok(Turn::Send(None));
        };
        let mut waiting = false;
        loop {
            let result = self
                .store_usable()
                .then(|| store.claim(&held.keys, &held.marker, self.lease, waiting));
            let was_waiting = waiting;
            match self.claim_step(result, &mut waiting, deadline, &reuse) {
                Step::Claimed => return Ok(Turn::Send(Some(held))),
                Step::SendUnguarded => return Ok(Turn::Send(None)),
                Step::Reused(v, answer) => {
                    if was_waiting {
                        let _ = store.leave(&held.keys, Some(&answer));
                    }
                    return Ok(Turn::Reused(v));
                }
                Step::Poll => std::thread::sleep(POLL),
                Step::Fail(e) => {
                    if was_waiting {
                        let _ = store.leave(&held.keys, None);
                    }
                    return Err(e);
                }
            }
        }
    }

    /// The stored form of an answer: `a1:` kept for reuse, `a0:` only for current waiters.
    fn answer(&self, result: &Result<Verification, Error>) -> Option<String> {
        let v = result.as_ref().ok()?;
        let kept = u8::from(self.dedupe_keep.is_some_and(|keep| !keep.is_zero()));
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Some(format!("a{kept}:{}:{at}:{}", v.res(), v.order_id))
    }

    fn settled(&self, result: Result<(), BoxError>) {
        match result {
            Ok(()) => self.store_ok(),
            // The marker runs out with its lease; callers waiting for it then send themselves.
            Err(e) => self.store_failed(&e),
        }
    }

    /// After the check: store the answer (or free the pair after a failure: ambiguous failures
    /// are never kept).
    pub(crate) async fn end(
        &self,
        store: &dyn SharedStore,
        held: Held,
        result: &Result<Verification, Error>,
    ) {
        let answer = self.answer(result);
        let keep = self.dedupe_keep.unwrap_or_default();
        let settled = store
            .settle(&held.keys, &held.marker, answer.as_deref(), keep, LINGER)
            .await;
        self.settled(settled);
    }

    /// [`FleetCore::end`] for the blocking client.
    pub(crate) fn end_blocking(
        &self,
        store: &dyn BlockingSharedStore,
        held: Held,
        result: &Result<Verification, Error>,
    ) {
        let answer = self.answer(result);
        let keep = self.dedupe_keep.unwrap_or_default();
        let settled = store.settle(&held.keys, &held.marker, answer.as_deref(), keep, LINGER);
        self.settled(settled);
    }
}

/// Reads a stored answer back as this caller's result (`attempts` 0: nothing was sent).
pub(crate) fn reused(answer: &str, mode: Endpoint, carrier: Carrier) -> Option<Verification> {
    let mut parts = answer.splitn(4, ':');
    let (_, res, at, order_id) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    Some(Verification {
        verdict: Verdict::from_res(res.parse().ok()?)?,
        order_id: order_id.to_owned(),
        mode,
        attempts: 0,
        carrier,
        reused_from: Some(at.parse().ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_answers_read_back() {
        let v = reused(
            "a1:2:1764460800000:JH10120261129000000001",
            Endpoint::Rsa,
            Carrier::Unicom,
        )
        .unwrap();
        assert_eq!(v.verdict, Verdict::Mismatch);
        assert_eq!(v.order_id, "JH10120261129000000001");
        assert_eq!(
            (v.attempts, v.answered_at_ms()),
            (0, Some(1_764_460_800_000))
        );
        assert!(v.from_cache() && !v.is_billable());
        for bad in ["a1:9:1:JH", "a1:1:x:JH", "a1:1", "p:abc", ""] {
            assert!(
                reused(bad, Endpoint::Plain, Carrier::Unicom).is_none(),
                "{bad}"
            );
        }
    }
}
