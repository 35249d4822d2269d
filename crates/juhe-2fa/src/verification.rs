//! `Verification`: what a successful check returns.

use juhe_proto::{Carrier, Endpoint, Verdict};

/// A successful check: the verdict, the billing reference, and how it was obtained.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Verification {
    /// Match (`res` 1) or mismatch (`res` 2).
    pub verdict: Verdict,
    /// The vendor's order id (聚合单号): the reference for billing questions. Always kept.
    pub order_id: String,
    /// The endpoint used (`plain`, `aes`, `rsa`).
    pub mode: Endpoint,
    /// Requests sent for this check (1 unless retried).
    pub attempts: u32,
    /// The carrier of the mobile number's segment (advice: numbers can be ported).
    pub carrier: Carrier,
    /// When another caller's answer was reused (feature `redis`): that answer's time, in
    /// milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reused_from: Option<u64>,
}

impl Verification {
    /// The API's `res` (1 match, 2 mismatch).
    pub fn res(&self) -> u8 {
        self.verdict.res()
    }

    /// True for a match.
    pub fn is_match(&self) -> bool {
        self.verdict == Verdict::Match
    }

    /// True when this result is another caller's answer for the same pair, shared through the
    /// fleet store ([`ClientBuilder::dedupe`](crate::ClientBuilder), feature `redis`): nothing
    /// was sent and nothing billed for this call (`attempts` is 0).
    pub fn from_cache(&self) -> bool {
        self.reused_from.is_some()
    }

    /// For a reused result ([`Verification::from_cache`]), when the original answer came, in
    /// milliseconds since the Unix epoch.
    pub fn answered_at_ms(&self) -> Option<u64> {
        self.reused_from
    }

    /// Whether this check was billed: always when it was sent (a verdict comes with
    /// `error_code` 0), never when reused ([`Verification::from_cache`]); failures never are,
    /// except possibly the ambiguous ones ([`crate::Error::is_ambiguous`]).
    pub fn is_billable(&self) -> bool {
        !self.from_cache()
    }
}
