//! Client-side rate limit (governor), spaced evenly so a server's one-second window never
//! sees a burst.

#[cfg(feature = "rate-limit")]
use std::num::NonZeroU32;
#[cfg(feature = "rate-limit")]
use std::time::Duration;

#[cfg(feature = "rate-limit")]
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

#[cfg(feature = "rate-limit")]
use crate::Error;

#[cfg(feature = "rate-limit")]
pub(crate) struct RateLimit(DefaultDirectRateLimiter);

/// Without the `rate-limit` feature there is no limiter: the type has no values.
#[cfg(not(feature = "rate-limit"))]
pub(crate) enum RateLimit {}

#[cfg(not(feature = "rate-limit"))]
impl RateLimit {
    pub(crate) async fn wait(&self) {
        match *self {}
    }

    pub(crate) fn wait_blocking(&self) {
        match *self {}
    }
}

#[cfg(feature = "rate-limit")]
impl RateLimit {
    /// `qps` requests per second, at most `burst` at once (1: evenly spaced).
    pub(crate) fn new(qps: f64, burst: u32) -> Result<RateLimit, Error> {
        if !(qps.is_finite() && qps > 0.0) {
            return Err(Error::config(
                "the rate limit must be a positive number of requests per second",
            ));
        }
        let period = Duration::try_from_secs_f64(1.0 / qps)
            .map_err(|_| Error::config("the rate limit is too low"))?;
        let quota = Quota::with_period(period)
            .ok_or_else(|| Error::config("the rate limit is too high"))?
            .allow_burst(NonZeroU32::new(burst.max(1)).expect("at least 1"));
        Ok(RateLimit(RateLimiter::direct(quota)))
    }

    pub(crate) async fn wait(&self) {
        self.0.until_ready().await;
    }

    pub(crate) fn wait_blocking(&self) {
        use governor::clock::{Clock, DefaultClock};
        let clock = DefaultClock::default();
        while let Err(not_until) = self.0.check() {
            std::thread::sleep(not_until.wait_time_from(clock.now()));
        }
    }
}
