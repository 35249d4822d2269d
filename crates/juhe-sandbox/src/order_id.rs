//! Unique order ids in the vendor's style: `JH` + digits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// `JH` + 13-digit Unix milliseconds + 6-digit process-wide sequence. Unique within a process
/// unless a million ids are issued in one millisecond.
pub(crate) fn next() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed) % 1_000_000;
    format!("JH{millis:013}{seq:06}")
}
