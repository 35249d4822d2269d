//! Per-key QPS limit with a sliding one-second window, as the vendor's 10012 behaves.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(1);

pub(crate) struct QpsLimiter {
    limit: usize,
    windows: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl QpsLimiter {
    pub(crate) fn new(limit: u32) -> QpsLimiter {
        QpsLimiter {
            limit: limit as usize,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Admits a request for `key` at `now` unless `limit` requests were admitted in the
    /// preceding second. Rejected requests do not count.
    pub(crate) fn admit(&self, key: &str, now: Instant) -> bool {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let window = windows.entry(key.to_owned()).or_default();
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            window.pop_front();
        }
        if window.len() >= self.limit {
            return false;
        }
        window.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window() {
        let limiter = QpsLimiter::new(2);
        let t0 = Instant::now();
        assert!(limiter.admit("k", t0));
        assert!(limiter.admit("k", t0 + Duration::from_millis(400)));
        assert!(!limiter.admit("k", t0 + Duration::from_millis(900)));
        assert!(
            limiter.admit("other", t0 + Duration::from_millis(900)),
            "per key"
        );
        assert!(limiter.admit("k", t0 + Duration::from_millis(1000)));
        assert!(!limiter.admit("k", t0 + Duration::from_millis(1300)));
        assert!(limiter.admit("k", t0 + Duration::from_millis(1400)));
    }
}
