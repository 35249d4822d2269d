//! The shared store's protocol: the operations the check engine asks for, their replies, and
//! the one definition of what a pair's key holds. A store runs each operation atomically
//! (Redis: one Lua script each, in `redis_store.rs`); async and blocking stores differ only in
//! how they wait for the reply.

use std::time::Duration;

use juhe_proto::{Carrier, Endpoint, Verdict};
use juhe_transport::BoxError;

use super::PairKeys;
use crate::Verification;

/// One atomic operation on the shared store.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StoreOp {
    /// GCRA: grant a request slot of the rate bucket if one is due now (reply: 0), else the
    /// microseconds to wait before asking again (nothing is booked). `slow` holds the 10012
    /// slow-down factor.
    Reserve {
        bucket: String,
        slow: String,
        interval: Duration,
        burst: u32,
    },
    /// A 10012 came back: slow the whole budget down (at most once a second).
    SlowDown { slow: String },
    /// Claim the pair for `marker` for `lease`, or count the caller as a waiter (reply: the
    /// pair's value, empty when claimed). A marker whose lease ran out is taken over if its
    /// holder had not sent, and turned into [`PairValue::Ambiguous`] if it had.
    Claim {
        keys: PairKeys,
        marker: String,
        lease: Duration,
        waiting: bool,
        /// How long answers (and a dead holder's ambiguous outcome) are kept (zero: for the
        /// current waiters only); markers outlive their lease at least this long.
        keep: Duration,
        /// Claim the pair even over an ambiguous outcome (the caller chose to resend).
        take_ambiguous: bool,
    },
    /// The holder of `marker` extends its lease, marking the pair sent when `sent` (reply: 1
    /// while it still holds the pair, 0 when it lost it).
    Hold {
        keys: PairKeys,
        marker: String,
        lease: Duration,
        sent: bool,
        /// As in `Claim`: the marker outlives its lease at least this long.
        keep: Duration,
    },
    /// The holder of `marker` ends its check: stores `value` for `keep` (zero: for the current
    /// waiters only, at most `linger`), or frees the pair when `None`.
    Settle {
        keys: PairKeys,
        marker: String,
        value: Option<String>,
        keep: Duration,
        linger: Duration,
    },
    /// A waiter leaves, having read `value` (or given up); the last one to read a value kept
    /// only for waiters removes it.
    Leave {
        keys: PairKeys,
        value: Option<String>,
    },
    /// Takes one unit of every budget (`keys`, each with its limit and time to live), or none:
    /// reply `[0, used…]`, or `[i]` when budget `i` (1-based) is spent.
    /// `receipt` is a key the spend leaves behind (for a while) so that its refund happens
    /// once, and only if the spend did.
    Spend {
        keys: Vec<String>,
        limits: Vec<u64>,
        ttls: Vec<Duration>,
        receipt: String,
    },
    /// Gives the units of a check that ended unbillable back: only while the spend's receipt
    /// is there (a check dropped while its spend was on the way may never have taken them).
    Refund {
        keys: Vec<String>,
        receipt: Option<String>,
    },
}

/// A store's reply: scripts return an integer or a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreReply {
    Int(i64),
    Text(String),
    Ints(Vec<i64>),
}

impl StoreReply {
    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            StoreReply::Int(n) => Some(*n),
            StoreReply::Text(t) => t.parse().ok(),
            StoreReply::Ints(v) => v.first().copied(),
        }
    }

    pub(crate) fn text(&self) -> String {
        match self {
            StoreReply::Int(n) => n.to_string(),
            StoreReply::Text(t) => t.clone(),
            StoreReply::Ints(_) => String::new(),
        }
    }

    pub(crate) fn ints(&self) -> Vec<i64> {
        match self {
            StoreReply::Ints(v) => v.clone(),
            other => other.int().into_iter().collect(),
        }
    }
}

/// The shared store, async.
#[async_trait::async_trait]
pub(crate) trait SharedStore: Send + Sync + 'static {
    /// Runs one operation atomically.
    async fn run(&self, op: &StoreOp) -> Result<StoreReply, BoxError>;
}

/// The shared store, blocking.
pub(crate) trait BlockingSharedStore: Send + Sync + 'static {
    /// Runs one operation atomically.
    fn run(&self, op: &StoreOp) -> Result<StoreReply, BoxError>;
}

/// What a pair's key holds. The store's scripts read only the prefixes (`p:`/`s:` in flight,
/// `a0:`/`x0:` kept for waiters, `a1:`/`x1:` kept, `x` ambiguous) and an in-flight marker's
/// expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PairValue {
    /// A check is in flight (`p:<expires_ms>:<marker>`, `s:` once its request left).
    InFlight { sent: bool },
    /// An answer: `a<kept>:<res>:<answered_at_ms>:<order_id>`.
    Answer {
        kept: bool,
        verdict: Verdict,
        at_ms: u64,
        order_id: String,
    },
    /// The holder's request may have been billed without an answer: `x<kept>:<at_ms>`.
    Ambiguous,
}

impl PairValue {
    /// The stored form of an answer (`kept`: for reuse, else for the current waiters only).
    pub(crate) fn answer(v: &Verification, kept: bool, at_ms: u64) -> String {
        format!("a{}:{}:{at_ms}:{}", u8::from(kept), v.res(), v.order_id)
    }

    /// The stored form of an ambiguous outcome (`kept`: as long as answers are, else for the
    /// current waiters only).
    pub(crate) fn ambiguous(at_ms: u64, kept: bool) -> String {
        format!("x{}:{at_ms}", u8::from(kept))
    }

    /// Reads a value back; `None` for anything this version did not write.
    pub(crate) fn parse(value: &str) -> Option<PairValue> {
        let (tag, rest) = value.split_once(':')?;
        match tag {
            "p" | "s" => Some(PairValue::InFlight { sent: tag == "s" }),
            "x" | "x0" | "x1" => rest.parse::<u64>().ok().map(|_| PairValue::Ambiguous),
            "a0" | "a1" => {
                let mut parts = rest.splitn(3, ':');
                let res = parts.next()?.parse().ok()?;
                let at_ms = parts.next()?.parse().ok()?;
                let order_id = parts.next()?;
                // Order ids are the vendor's letters and digits; anything else was not ours.
                if order_id.is_empty() || !order_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return None;
                }
                Some(PairValue::Answer {
                    kept: tag == "a1",
                    verdict: Verdict::from_res(res)?,
                    at_ms,
                    order_id: order_id.to_owned(),
                })
            }
            _ => None,
        }
    }

    /// A stored answer as this caller's result (`attempts` 0: nothing was sent).
    pub(crate) fn reused(&self, mode: Endpoint, carrier: Carrier) -> Option<Verification> {
        match self {
            PairValue::Answer {
                verdict,
                at_ms,
                order_id,
                ..
            } => Some(Verification {
                verdict: *verdict,
                order_id: order_id.clone(),
                mode,
                attempts: 0,
                carrier,
                reused_from: Some(*at_ms),
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_back() {
        let v = PairValue::parse("a1:2:1764460800000:JH10120261129000000001").unwrap();
        let v = v.reused(Endpoint::Rsa, Carrier::Unicom).unwrap();
        assert_eq!(v.verdict, Verdict::Mismatch);
        assert_eq!(v.order_id, "JH10120261129000000001");
        assert_eq!(
            (v.attempts, v.answered_at_ms()),
            (0, Some(1_764_460_800_000))
        );
        assert!(v.from_cache() && !v.is_billable());
        assert_eq!(
            PairValue::parse(&PairValue::answer(&v, false, 7)),
            Some(PairValue::Answer {
                kept: false,
                verdict: Verdict::Mismatch,
                at_ms: 7,
                order_id: v.order_id.clone()
            })
        );
        assert_eq!(
            PairValue::parse(&PairValue::ambiguous(5, true)),
            Some(PairValue::Ambiguous)
        );
        assert_eq!(
            PairValue::parse("s:1:abc"),
            Some(PairValue::InFlight { sent: true })
        );
        for bad in [
            "a1:9:1:JH",
            "a1:1:x:JH",
            "a1:1",
            "a1:1:1:",
            "a1:1:1:JH 1",
            "x:y",
            "q:1",
            "",
        ] {
            assert_eq!(PairValue::parse(bad), None, "{bad}");
        }
    }
}
