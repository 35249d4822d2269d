//! Hard spend budgets: at most N billable calls a calendar day or month (China time), refused
//! *before sending* once spent.
//!
//! A check reserves one unit of every budget before its first request leaves and gives it back
//! when it ends not billable (rejected, refused, an API error, surely unbilled), so only
//! billable calls — billed, or maybe billed — count. With a fleet store (Redis) the units are
//! counted there, atomically, for every process on the API key; otherwise in this process,
//! starting from what the audit ledger counted for the period, when there is a ledger.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::{Date, Month, OffsetDateTime, UtcOffset};

use crate::Error;

/// How long a budget lasts: a calendar day or month in China time (UTC+8, no daylight saving).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Period {
    /// From 00:00 to 24:00 China time.
    Day,
    /// From the 1st, 00:00 China time, to the next month's.
    Month,
}

/// A hard budget: at most `limit` billable calls per [`Period`]. Parsed from `1000/day` or
/// `20000/month`.
///
/// ```
/// use juhe_2fa::budget::{Budget, Period};
/// let b: Budget = "1000/day".parse().unwrap();
/// assert_eq!((b.limit(), b.period()), (1000, Period::Day));
/// assert_eq!(b.to_string(), "1000/day");
/// assert!("1000/week".parse::<Budget>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Budget {
    limit: u64,
    period: Period,
}

impl Budget {
    /// At most `limit` billable calls a day.
    pub fn per_day(limit: u64) -> Budget {
        Budget {
            limit,
            period: Period::Day,
        }
    }

    /// At most `limit` billable calls a month.
    pub fn per_month(limit: u64) -> Budget {
        Budget {
            limit,
            period: Period::Month,
        }
    }

    /// The most billable calls per period.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The period.
    pub fn period(&self) -> Period {
        self.period
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let period = match self.period {
            Period::Day => "day",
            Period::Month => "month",
        };
        write!(f, "{}/{period}", self.limit)
    }
}

impl FromStr for Budget {
    type Err = Error;

    fn from_str(s: &str) -> Result<Budget, Error> {
        let bad = || Error::config("a budget is written N/day or N/month, e.g. 1000/day");
        let (limit, period) = s.trim().split_once('/').ok_or_else(bad)?;
        let limit = limit.trim().parse::<u64>().map_err(|_| bad())?;
        match period.trim() {
            "day" => Ok(Budget::per_day(limit)),
            "month" => Ok(Budget::per_month(limit)),
            _ => Err(bad()),
        }
    }
}

const CHINA: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

/// One budget's current period: a number that names it, its first day (China time) and when
/// the next one starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) index: i64,
    pub(crate) starts: SystemTime,
    pub(crate) resets: SystemTime,
}

fn at_midnight(date: Date) -> SystemTime {
    let start = date.midnight().assume_offset(CHINA).unix_timestamp();
    UNIX_EPOCH + Duration::from_secs(u64::try_from(start).unwrap_or(0))
}

impl Period {
    pub(crate) fn window(self, now: SystemTime) -> Window {
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let today = OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(0))
            .map_or(OffsetDateTime::UNIX_EPOCH, |t| t.to_offset(CHINA))
            .date();
        match self {
            Period::Day => {
                let next = today.next_day().unwrap_or(today);
                Window {
                    index: i64::from(today.to_julian_day()),
                    starts: at_midnight(today),
                    resets: at_midnight(next),
                }
            }
            Period::Month => {
                let first = today.replace_day(1).unwrap_or(today);
                let (year, month) = match today.month() {
                    Month::December => (today.year() + 1, Month::January),
                    m => (today.year(), m.next()),
                };
                let next = Date::from_calendar_date(year, month, 1).unwrap_or(first);
                Window {
                    index: i64::from(today.year()) * 12 + i64::from(u8::from(today.month())),
                    starts: at_midnight(first),
                    resets: at_midnight(next),
                }
            }
        }
    }

    #[cfg(feature = "redis")]
    fn tag(self) -> &'static str {
        match self {
            Period::Day => "d",
            Period::Month => "m",
        }
    }
}

/// The spend error for `budget`, spent until `resets`.
pub(crate) fn spent(budget: Budget, resets: SystemTime) -> Error {
    let resets_at = OffsetDateTime::from(resets).to_offset(CHINA);
    Error::Budget {
        budget,
        resets_at: format!(
            "{:04}-{:02}-{:02} 00:00 China time",
            resets_at.year(),
            u8::from(resets_at.month()),
            resets_at.day()
        ),
    }
}

/// A unit of one budget reserved by a check: given back if the check ends unbillable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unit {
    /// One of the caller's budgets ([`CallerLimits`]) rather than the client's.
    pub(crate) caller: bool,
    pub(crate) budget: usize,
    pub(crate) window: i64,
    /// The store key when counted in the fleet's store.
    pub(crate) key: Option<String>,
    /// The store's receipt of the spend that took it (see `StoreOp::Spend`).
    pub(crate) receipt: Option<String>,
}

/// One caller's own limits, on top of the client's: a rate of checks (refused, not waited
/// for, when exceeded: [`Error::CallerRate`]) and spend budgets ([`Error::Budget`]). Carried by
/// the per-call [`Context`](crate::ledger::Context) (`Client::with_context`); a gateway keeps
/// one per caller and hands a clone (cheap: shared) to every call. With a fleet store (Redis)
/// the rate and the budgets are counted there for every process, under the caller's name (the
/// process's own count serves while the store fails); without one, in the process, the budgets
/// starting from what the audit ledger recorded for the caller.
///
/// ```
/// use juhe_2fa::budget::CallerLimits;
/// let limits = CallerLimits::new("billing", Some(5.0), vec!["100/day".parse()?])?;
/// assert_eq!(limits.name(), "billing");
/// assert!(CallerLimits::new("x", Some(0.0), vec![]).is_err());
/// # Ok::<(), juhe_2fa::Error>(())
/// ```
#[derive(Clone)]
pub struct CallerLimits(std::sync::Arc<CallerInner>);

struct CallerInner {
    name: String,
    qps: Option<f64>,
    rate: Option<crate::rate_limit::RateLimit>,
    budgets: Option<Budgets>,
}

impl CallerLimits {
    /// `qps` checks a second (a second's worth at once), and these budgets, for the caller
    /// `name`.
    pub fn new(
        name: impl Into<String>,
        qps: Option<f64>,
        budgets: Vec<Budget>,
    ) -> Result<CallerLimits, Error> {
        let rate = qps
            .map(|q| {
                // A second's worth at once: a caller is limited per second, not spaced.
                let burst = if q.is_finite() && q >= 1.0 {
                    q.ceil() as u32
                } else {
                    1
                };
                crate::rate_limit::RateLimit::new(q, burst)
            })
            .transpose()?;
        Ok(CallerLimits(std::sync::Arc::new(CallerInner {
            name: name.into(),
            qps,
            rate,
            budgets: Budgets::new(budgets),
        })))
    }

    /// The caller's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Takes a slot of the caller's rate now, or says how long until one is due.
    pub(crate) fn try_rate(&self) -> Result<(), Duration> {
        match &self.0.rate {
            Some(rate) => rate.try_acquire(std::time::Instant::now()),
            None => Ok(()),
        }
    }

    /// The rate's spacing and burst, for the fleet's store.
    #[cfg(feature = "redis")]
    pub(crate) fn rate(&self) -> Option<(Duration, u32)> {
        let rate = self.0.rate.as_ref()?;
        Some((rate.interval(), rate.burst()))
    }

    pub(crate) fn budgets(&self) -> Option<&Budgets> {
        self.0.budgets.as_ref()
    }
}

impl fmt::Debug for CallerLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallerLimits")
            .field("name", &self.0.name)
            .field("qps", &self.0.qps)
            .field("budgets", &self.0.budgets.as_ref().map(|b| &b.budgets))
            .finish()
    }
}

/// The same limits: the same shared object.
impl PartialEq for CallerLimits {
    fn eq(&self, other: &CallerLimits) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for CallerLimits {}

/// How long until `budget`'s current period ends (a spent budget's `Retry-After`).
pub fn resets_in(budget: Budget, now: SystemTime) -> Duration {
    budget
        .period
        .window(now)
        .resets
        .duration_since(now)
        .unwrap_or_default()
}

/// A client's budgets and its in-process book.
pub(crate) struct Budgets {
    pub(crate) budgets: Vec<Budget>,
    /// Units used per (budget, window), when counted in-process.
    book: Mutex<HashMap<(usize, i64), u64>>,
    /// Windows whose count was seeded from the ledger.
    seeded: Mutex<HashSet<(usize, i64)>>,
    warned: Mutex<HashSet<(usize, i64)>>,
}

impl Budgets {
    pub(crate) fn new(budgets: Vec<Budget>) -> Option<Budgets> {
        (!budgets.is_empty()).then(|| Budgets {
            budgets,
            book: Mutex::default(),
            seeded: Mutex::default(),
            warned: Mutex::default(),
        })
    }

    /// Windows of the in-process book not yet seeded from the ledger: (budget, window, start).
    pub(crate) fn unseeded(&self, now: SystemTime) -> Vec<(usize, i64, SystemTime)> {
        let seeded = self.seeded.lock().unwrap_or_else(|e| e.into_inner());
        self.budgets
            .iter()
            .enumerate()
            .map(|(i, b)| (i, b.period.window(now)))
            .filter(|(i, w)| !seeded.contains(&(*i, w.index)))
            .map(|(i, w)| (i, w.index, w.starts))
            .collect()
    }

    /// The ledger counted `used` billable calls in this window (`None`: it cannot say).
    pub(crate) fn seed(&self, budget: usize, window: i64, used: Option<u64>) {
        self.seeded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((budget, window));
        if let Some(used) = used {
            let mut book = self.book.lock().unwrap_or_else(|e| e.into_inner());
            let entry = book.entry((budget, window)).or_default();
            *entry = (*entry).max(used);
        }
    }

    /// Reserves one unit of every budget in-process, or none and the error of the first one
    /// spent.
    pub(crate) fn reserve_local(&self, now: SystemTime) -> Result<Vec<Unit>, Error> {
        let mut book = self.book.lock().unwrap_or_else(|e| e.into_inner());
        let windows: Vec<Window> = self.budgets.iter().map(|b| b.period.window(now)).collect();
        for (i, (budget, window)) in self.budgets.iter().zip(&windows).enumerate() {
            if book.get(&(i, window.index)).copied().unwrap_or(0) >= budget.limit {
                return Err(spent(*budget, window.resets));
            }
        }
        let mut units = Vec::with_capacity(self.budgets.len());
        for (i, window) in windows.iter().enumerate() {
            let used = book.entry((i, window.index)).or_default();
            *used += 1;
            self.observe(i, window.index, *used);
            units.push(Unit {
                caller: false,
                budget: i,
                window: window.index,
                key: None,
                receipt: None,
            });
        }
        Ok(units)
    }

    /// The fleet's store counted `used` units of budget `i` in `window`: the in-process book
    /// never counts fewer, so if the store fails later the fallback starts from what the fleet
    /// had spent, not from zero (a spend budget must not reopen when Redis goes down).
    #[cfg(feature = "redis")]
    pub(crate) fn counted_in_store(&self, i: usize, window: i64, used: u64) {
        let mut book = self.book.lock().unwrap_or_else(|e| e.into_inner());
        let entry = book.entry((i, window)).or_default();
        *entry = (*entry).max(used);
    }

    /// Gives in-process units back (the check ended unbillable).
    pub(crate) fn refund_local(&self, units: &[Unit]) {
        let mut book = self.book.lock().unwrap_or_else(|e| e.into_inner());
        for unit in units.iter().filter(|u| u.key.is_none()) {
            if let Some(used) = book.get_mut(&(unit.budget, unit.window)) {
                *used = used.saturating_sub(1);
            }
        }
    }

    /// After a unit of budget `i` was taken, `used` are used: the gauge, and one warning at
    /// 80 %.
    pub(crate) fn observe(&self, i: usize, window: i64, used: u64) {
        let budget = self.budgets[i];
        let remaining = budget.limit.saturating_sub(used);
        metrics::gauge!("juhe_budget_remaining", "budget" => budget.to_string())
            .set(remaining as f64);
        if used.saturating_mul(5) >= budget.limit.saturating_mul(4) {
            let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
            if warned.insert((i, window)) {
                tracing::warn!(budget = %budget, used, "80 % of a spend budget is used");
            }
        }
    }

    /// The store key of budget `i`'s current window, under the API key's tag.
    #[cfg(feature = "redis")]
    pub(crate) fn key(&self, prefix: &str, i: usize, now: SystemTime) -> (String, Duration) {
        let budget = self.budgets[i];
        let window = budget.period.window(now);
        let ttl = window
            .resets
            .duration_since(now)
            .unwrap_or_default()
            .saturating_add(Duration::from_secs(86_400));
        let key = format!(
            "{prefix}:{}{}:{}",
            budget.period.tag(),
            budget.limit,
            window.index
        );
        (key, ttl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(unix: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix)
    }

    #[test]
    fn periods_are_china_calendar_days_and_months() {
        // 2026-11-30 15:59:59 UTC is 23:59:59 in China; a second later it is December 1st.
        let before = Period::Day.window(at(1_796_054_399));
        let after = Period::Day.window(at(1_796_054_400));
        assert_eq!(after.index, before.index + 1);
        assert_eq!(before.resets, at(1_796_054_400));
        let november = Period::Month.window(at(1_796_054_399));
        let december = Period::Month.window(at(1_796_054_400));
        assert_eq!(december.index, november.index + 1);
        assert_eq!(november.resets, december.starts);
    }

    #[test]
    fn a_spent_budget_refuses_and_refunds_give_units_back() {
        let budgets = Budgets::new(vec![Budget::per_day(2), Budget::per_month(10)]).unwrap();
        let now = SystemTime::now();
        let first = budgets.reserve_local(now).unwrap();
        let _second = budgets.reserve_local(now).unwrap();
        let e = budgets.reserve_local(now).unwrap_err();
        assert!(e.to_string().contains("2/day"), "{e}");
        budgets.refund_local(&first);
        assert!(
            budgets.reserve_local(now).is_ok(),
            "a refunded unit is free again"
        );
        assert!(budgets.reserve_local(now).is_err());
    }

    #[cfg(feature = "redis")]
    #[test]
    fn the_stores_count_carries_into_the_fallback() {
        let budgets = Budgets::new(vec![Budget::per_day(3)]).unwrap();
        let now = SystemTime::now();
        let window = Budget::per_day(3).period.window(now).index;
        budgets.counted_in_store(0, window, 2);
        budgets.counted_in_store(0, window, 1);
        assert!(budgets.reserve_local(now).is_ok());
        assert!(
            budgets.reserve_local(now).is_err(),
            "2 spent in the store, 1 here"
        );
    }
}
