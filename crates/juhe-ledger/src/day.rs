//! Days in China time (UTC+8, no daylight saving): the ledger's calendar.

use std::fmt;
use std::str::FromStr;

use time::{Date, Month, OffsetDateTime, UtcOffset};

use crate::LedgerError;

const MS_PER_DAY: i64 = 86_400_000;
/// UTC+8 in milliseconds.
pub(crate) const CHINA_OFFSET_MS: i64 = 8 * 3_600_000;
/// The Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN: i32 = 2_440_588;

/// A calendar day in China time (`YYYY-MM-DD`), as `export --since/--until` take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day(Date);

impl Day {
    /// The day (China time) of a moment, in milliseconds since the Unix epoch.
    pub fn of_millis(at_ms: i64) -> Day {
        Day::from_number((at_ms + CHINA_OFFSET_MS).div_euclid(MS_PER_DAY))
    }

    /// Days since 1970-01-01 (China time).
    pub(crate) fn number(self) -> i64 {
        i64::from(self.0.to_julian_day() - UNIX_EPOCH_JULIAN)
    }

    pub(crate) fn from_number(n: i64) -> Day {
        let julian = i32::try_from(n).unwrap_or(0) + UNIX_EPOCH_JULIAN;
        Day(Date::from_julian_day(julian).unwrap_or(Date::MIN))
    }

    /// The first millisecond of the day (China time), since the Unix epoch.
    pub fn start_ms(self) -> i64 {
        self.number() * MS_PER_DAY - CHINA_OFFSET_MS
    }

    /// The first millisecond of the next day.
    pub fn end_ms(self) -> i64 {
        self.start_ms() + MS_PER_DAY
    }
}

impl FromStr for Day {
    type Err = LedgerError;

    fn from_str(s: &str) -> Result<Day, LedgerError> {
        let mut parts = s.trim().splitn(3, '-');
        let mut next = |len: usize| {
            parts
                .next()
                .filter(|p| p.len() == len && p.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|p| p.parse::<i32>().ok())
                .ok_or(LedgerError::InvalidDate)
        };
        let (y, m, d) = (next(4)?, next(2)?, next(2)?);
        let month = u8::try_from(m)
            .ok()
            .and_then(|m| Month::try_from(m).ok())
            .ok_or(LedgerError::InvalidDate)?;
        let day = u8::try_from(d).map_err(|_| LedgerError::InvalidDate)?;
        Date::from_calendar_date(y, month, day)
            .map(Day)
            .map_err(|_| LedgerError::InvalidDate)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}",
            d.year(),
            u8::from(d.month()),
            d.day()
        )
    }
}

/// A moment as RFC 3339 in China time, to the millisecond: `2026-11-30T15:55:48.123+08:00`.
pub(crate) fn rfc3339(at_ms: i64) -> String {
    let china = UtcOffset::from_hms(8, 0, 0).expect("a valid offset");
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(china);
    format!(
        "{}T{:02}:{:02}:{:02}.{:03}+08:00",
        Day(t.date()),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_china_time() {
        // 2026-11-30T16:00:00Z is 2026-12-01 00:00 in China.
        let at = 1_796_054_400_000;
        assert_eq!(Day::of_millis(at).to_string(), "2026-12-01");
        assert_eq!(Day::of_millis(at - 1).to_string(), "2026-11-30");
        assert_eq!(rfc3339(at), "2026-12-01T00:00:00.000+08:00");
        let day: Day = "2026-12-01".parse().unwrap();
        assert_eq!(day.start_ms(), at);
        assert_eq!(day.end_ms() - day.start_ms(), MS_PER_DAY);
        for bad in ["2026-13-01", "2026-02-30", "26-01-01", "2026-1-01", "", "x"] {
            assert!(bad.parse::<Day>().is_err(), "{bad}");
        }
    }
}
