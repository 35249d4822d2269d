//! Unique order ids shaped like the vendor's (`JH329201808081618556756`): `JH`, 3 digits,
//! `yyyyMMddHHmmss` (China time), 4 digits — 23 characters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use time::{OffsetDateTime, UtcOffset};

/// The 7 digits around the timestamp come from one process-wide counter, so ids are unique
/// unless ten million are issued in one second. It starts at a clock-derived offset so two
/// sandboxes started together rarely share ids.
static SEQUENCE: AtomicU64 = AtomicU64::new(u64::MAX);

const SPAN: u64 = 10_000_000;

fn next_sequence() -> u64 {
    let start = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::from(d.subsec_nanos()))
            .unwrap_or(0)
            % SPAN
    };
    // First caller seeds the counter; everyone else increments.
    let _ = SEQUENCE.compare_exchange(u64::MAX, start(), Ordering::Relaxed, Ordering::Relaxed);
    SEQUENCE.fetch_add(1, Ordering::Relaxed) % SPAN
}

pub(crate) fn next() -> String {
    let china = UtcOffset::from_hms(8, 0, 0).expect("+08:00 is a valid offset");
    let t = OffsetDateTime::now_utc().to_offset(china);
    let seq = next_sequence();
    format!(
        "JH{:03}{:04}{:02}{:02}{:02}{:02}{:02}{:04}",
        seq / 10_000,
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        seq % 10_000
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    #[test]
    fn shaped_like_the_vendors_and_unique() {
        let ids: Vec<String> = (0..50_000).map(|_| super::next()).collect();
        for id in &ids[..3] {
            assert_eq!(id.len(), 23, "{id}");
            assert!(id.starts_with("JH"));
            assert!(id[2..].bytes().all(|b| b.is_ascii_digit()), "{id}");
            let year: u32 = id[5..9].parse().unwrap();
            assert!((2024..2200).contains(&year), "{id}");
            let month: u32 = id[9..11].parse().unwrap();
            assert!((1..=12).contains(&month), "{id}");
        }
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    }
}
