//! The client-side rate limit: GCRA (generic cell rate algorithm), granted only when due and
//! slowed down by 10012 answers. The same rules run in Redis for a fleet
//! (`fleet/redis_store.rs`, script `RESERVE`); this is the in-process copy, with no dependency.
//!
//! Two choices matter for money and for the vendor's 10012 ("too many requests"):
//! - A slot is *granted when due*, never booked ahead: a caller that is not due is told how
//!   long to wait and asks again. A request leaves right after its grant, so a late wake-up
//!   delays it instead of bunching it with the next one, and a call dropped while it waits
//!   used no slot.
//! - A 10012 slows the budget down multiplicatively (at most once a second) and it recovers
//!   linearly (AIMD), so a server that counts differently from us is met, not fought.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::Error;

/// Slots are spaced this much wider than `1 / qps`: requests leave a little after their grant
/// (scheduling, a pre-send hook), and a server's sliding second must not see `qps + 1`.
pub(crate) const HEADROOM: f64 = 0.95;
/// A grant that comes late (a waiter woke up late, the store's round trip) may be made up by
/// the next one, up to this much: otherwise every late wake-up would lower the rate. Any one
/// second then holds at most `(1 s + CATCH_UP) × qps × HEADROOM + 1` requests, fewer than
/// `qps + 1` while `CATCH_UP` stays well under `1 s × (1 / HEADROOM - 1)` (52 ms).
pub(crate) const CATCH_UP: Duration = Duration::from_millis(20);
/// A 10012 multiplies the rate by this...
pub(crate) const DECREASE: f64 = 0.75;
/// ...at most once per this long (answers to requests already in flight come in together)...
pub(crate) const DECREASE_HOLD: Duration = Duration::from_secs(1);
/// ...never below this share of the configured rate...
pub(crate) const MIN_FACTOR: f64 = 0.1;
/// ...and the rate recovers by this share of the configured rate each second.
pub(crate) const RECOVERY_PER_SEC: f64 = 0.05;

/// GCRA state: the theoretical arrival time of the next request, and the slow-down factor.
#[derive(Debug)]
struct State {
    tat: Option<Instant>,
    /// The factor set by the last 10012 and when; it recovers from there.
    slowed: Option<(f64, Instant)>,
}

/// An in-process rate limit: `qps` requests a second, `burst` at once.
#[derive(Debug)]
pub(crate) struct RateLimit {
    interval: Duration,
    burst: u32,
    state: Mutex<State>,
}

/// The slow-down factor (1: the configured rate) at `now`, after a 10012 set it to `factor`
/// at `since`.
pub(crate) fn factor_at(slowed: Option<(f64, Instant)>, now: Instant) -> f64 {
    match slowed {
        None => 1.0,
        Some((factor, since)) => {
            let recovered = now.saturating_duration_since(since).as_secs_f64() * RECOVERY_PER_SEC;
            (factor + recovered).min(1.0)
        }
    }
}

impl RateLimit {
    /// `qps` requests per second (less [`HEADROOM`]), at most `burst` at once (1: evenly
    /// spaced).
    pub(crate) fn new(qps: f64, burst: u32) -> Result<RateLimit, Error> {
        if !(qps.is_finite() && qps > 0.0) {
            return Err(Error::config(
                "the rate limit must be a positive number of requests per second",
            ));
        }
        let interval = Duration::try_from_secs_f64(1.0 / (qps * HEADROOM))
            .ok()
            .filter(|i| *i <= Duration::from_secs(86_400))
            .ok_or_else(|| Error::config("the rate limit is too low"))?;
        if interval < Duration::from_micros(1) {
            return Err(Error::config("the rate limit is too high"));
        }
        Ok(RateLimit {
            interval,
            burst: burst.max(1),
            state: Mutex::new(State {
                tat: None,
                slowed: None,
            }),
        })
    }

    /// The spacing of slots at the configured rate (before any slow-down).
    #[cfg(feature = "redis")]
    pub(crate) fn interval(&self) -> Duration {
        self.interval
    }

    /// Slots allowed at once.
    #[cfg(feature = "redis")]
    pub(crate) fn burst(&self) -> u32 {
        self.burst
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Grants a slot now (`Ok`), or says how long to wait before asking again (`Err`); a
    /// caller that is told to wait holds nothing.
    pub(crate) fn try_acquire(&self, now: Instant) -> Result<(), Duration> {
        let mut state = self.state();
        let interval = self
            .interval
            .div_f64(factor_at(state.slowed, now).max(MIN_FACTOR));
        let tolerance = interval * (self.burst - 1);
        let tat = match state.tat {
            Some(tat) if tat + CATCH_UP >= now => tat,
            _ => now,
        };
        let due = tat.checked_sub(tolerance).unwrap_or(now);
        if due > now {
            return Err(due - now);
        }
        state.tat = Some(tat + interval);
        Ok(())
    }

    /// A 10012 came back: slow down (at most once per [`DECREASE_HOLD`]).
    pub(crate) fn slow_down(&self, now: Instant) {
        let mut state = self.state();
        let held = state
            .slowed
            .is_some_and(|(_, since)| now.saturating_duration_since(since) < DECREASE_HOLD);
        if held {
            return;
        }
        let factor = (factor_at(state.slowed, now) * DECREASE).max(MIN_FACTOR);
        let code = juhe_proto::ErrorCode::RateLimited;
        tracing::info!(factor, %code, "the API answered too many requests: slowing down");
        state.slowed = Some((factor, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_when_due_and_never_books_ahead() {
        let limit = RateLimit::new(10.0 / HEADROOM, 1).unwrap();
        let t0 = Instant::now();
        assert_eq!(limit.try_acquire(t0), Ok(()));
        let wait = limit.try_acquire(t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
        // A hundred callers told to wait hold nothing: the next slot is still 100 ms away.
        for _ in 0..100 {
            assert!(limit.try_acquire(t0 + Duration::from_millis(30)).is_err());
        }
        assert_eq!(limit.try_acquire(t0 + Duration::from_millis(100)), Ok(()));
        // Idle time is not saved up beyond the burst.
        assert_eq!(limit.try_acquire(t0 + Duration::from_secs(5)), Ok(()));
        assert!(limit.try_acquire(t0 + Duration::from_secs(5)).is_err());
        // A grant a little late is made up by the next one; a long stall is not.
        let t1 = t0 + Duration::from_secs(5);
        assert_eq!(limit.try_acquire(t1 + Duration::from_millis(110)), Ok(()));
        let wait = limit
            .try_acquire(t1 + Duration::from_millis(110))
            .unwrap_err();
        assert_eq!(wait, Duration::from_millis(90));
    }

    #[test]
    fn burst_allows_that_many_at_once() {
        let limit = RateLimit::new(1.0, 3).unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limit.try_acquire(t0), Ok(()));
        }
        assert!(limit.try_acquire(t0).is_err());
    }

    #[test]
    fn a_10012_slows_down_once_a_second_and_recovers() {
        let limit = RateLimit::new(10.0 / HEADROOM, 1).unwrap();
        let t0 = Instant::now();
        limit.slow_down(t0);
        limit.slow_down(t0 + Duration::from_millis(10));
        assert_eq!(limit.try_acquire(t0), Ok(()));
        let wait = limit.try_acquire(t0).unwrap_err().as_secs_f64();
        assert!((wait - 0.1 / DECREASE).abs() < 1e-3, "{wait}");
        let later = t0 + Duration::from_secs(10);
        assert!((factor_at(limit.state().slowed, later) - 1.0).abs() < 1e-9);
        limit.slow_down(t0 + Duration::from_secs(2));
        let factor = factor_at(limit.state().slowed, t0 + Duration::from_secs(2));
        let expected = (DECREASE + 2.0 * RECOVERY_PER_SEC) * DECREASE;
        assert!((factor - expected).abs() < 1e-9, "{factor}");
    }

    #[test]
    fn bad_rates_are_configuration_errors() {
        for qps in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-9, 1e12] {
            assert!(RateLimit::new(qps, 1).is_err(), "{qps}");
        }
    }
}
