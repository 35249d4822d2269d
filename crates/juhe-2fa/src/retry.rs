//! `RetryPolicy`: retry what cannot have been billed, with exponential backoff and jitter.

use std::time::Duration;

use juhe_proto::ErrorCode;

use crate::Error;

/// When and how long to wait before trying a check again.
///
/// Only outcomes that cannot have been billed are retried ([`Error::is_retryable`]): requests
/// surely not sent, HTTP 5xx, 232905, 232906, 10014, 10020, and the rate-limit codes 10011 and
/// 10012 (with the longer [`RetryPolicy::rate_limited_delay`]). Never 232901–232904, key or
/// permission codes; never ambiguous failures (maybe billed) unless
/// [`RetryPolicy::retry_ambiguous`] is set.
///
/// ```
/// use std::time::Duration;
/// let policy = juhe_2fa::RetryPolicy::default().with_max_retries(3);
/// assert_eq!((policy.max_retries, policy.base_delay), (3, Duration::from_millis(200)));
/// assert!(juhe_2fa::RetryPolicy::none().max_retries == 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 2).
    pub max_retries: u32,
    /// The first backoff (default 200 ms); doubles each retry, with jitter.
    pub base_delay: Duration,
    /// The longest backoff (default 5 s).
    pub max_delay: Duration,
    /// The first backoff after 10011/10012 (default 1 s).
    pub rate_limited_delay: Duration,
    /// Also retry failures that may have been billed (default false: a double charge is
    /// worse than a failed check).
    pub retry_ambiguous: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            rate_limited_delay: Duration::from_secs(1),
            retry_ambiguous: false,
        }
    }
}

with_setters!(RetryPolicy {
    with_max_retries => max_retries: u32,
    with_base_delay => base_delay: Duration,
    with_max_delay => max_delay: Duration,
    with_rate_limited_delay => rate_limited_delay: Duration,
    with_retry_ambiguous => retry_ambiguous: bool,
});

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The wait before retry number `retry` (1-based) after `error`, or `None` to give up.
    pub fn delay_for(&self, error: &Error, retry: u32) -> Option<Duration> {
        if retry > self.max_retries {
            return None;
        }
        if !(error.is_retryable() || self.retry_ambiguous && error.is_ambiguous()) {
            return None;
        }
        let rate_limited = error.error_code().is_some_and(ErrorCode::is_rate_limit);
        let base = if rate_limited {
            self.rate_limited_delay
        } else {
            self.base_delay
        };
        let exp = base
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
            .min(self.max_delay.max(base));
        // "Equal jitter": half fixed, half random, so clients spread out but never retry at once.
        let half = exp / 2;
        Some(half + half.mul_f64(fastrand::f64()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use juhe_transport::{MaybeSentReason, NotSentReason, TransportError};

    fn api(code: i32) -> Error {
        Error::Api {
            code: ErrorCode::from_code(code),
            reason: String::new(),
            mode: juhe_proto::Endpoint::Plain,
        }
    }

    #[test]
    fn only_unbilled_outcomes_are_retried() {
        let p = RetryPolicy::default();
        for code in [232905, 232906, 10011, 10012, 10014, 10020] {
            assert!(p.delay_for(&api(code), 1).is_some(), "{code}");
        }
        for code in [
            232901, 232902, 232903, 232904, 10001, 10002, 10003, 10009, 10013, 10021, 999,
        ] {
            assert!(p.delay_for(&api(code), 1).is_none(), "{code}");
        }
        let not_sent = Error::Transport(TransportError::not_sent(NotSentReason::Connect, None));
        let maybe = Error::Transport(TransportError::maybe_sent(MaybeSentReason::Timeout, None));
        assert!(p.delay_for(&not_sent, 1).is_some());
        assert!(p.delay_for(&maybe, 1).is_none());
        assert!(
            RetryPolicy {
                retry_ambiguous: true,
                ..p.clone()
            }
            .delay_for(&maybe, 1)
            .is_some()
        );
        assert!(p.delay_for(&not_sent, 3).is_none(), "at most max_retries");
    }

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let p = RetryPolicy {
            max_retries: 10,
            ..RetryPolicy::default()
        };
        let e = api(232905);
        for _ in 0..50 {
            let first = p.delay_for(&e, 1).unwrap();
            assert!(
                first >= Duration::from_millis(100) && first <= Duration::from_millis(200),
                "{first:?}"
            );
            let second = p.delay_for(&e, 2).unwrap();
            assert!(second >= Duration::from_millis(200) && second <= Duration::from_millis(400));
            assert!(p.delay_for(&e, 10).unwrap() <= Duration::from_secs(5));
            let limited = p.delay_for(&api(10012), 1).unwrap();
            assert!(limited >= Duration::from_millis(500));
        }
    }
}
