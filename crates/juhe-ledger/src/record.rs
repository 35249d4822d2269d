//! One row of the ledger: what is stored for a check, its digest and its chain hash.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use juhe_2fa::PairIdentity;
use juhe_2fa::ledger::Entry;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::day;

/// The previous hash of a chain's first record.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One check as the ledger keeps it: no number in clear, the API key or key material.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Record {
    /// When the check ended, RFC 3339 in China time (UTC+8), milliseconds.
    pub time: String,
    /// When the check ended, milliseconds since the Unix epoch (UTC).
    pub at_ms: i64,
    /// Who checked (`--caller`).
    pub caller: Option<String>,
    /// Why (`--purpose`).
    pub purpose: Option<String>,
    /// The endpoint: `plain`, `aes` or `rsa`.
    pub mode: String,
    /// HMAC-SHA256 of the normalised pair under the ledger's secret, hex: the same person
    /// gives the same digest in every job on this ledger.
    pub pair_digest: String,
    /// The ID card number, masked (`110105********1239`).
    pub idcard: String,
    /// The mobile number, masked (`130****5678`).
    pub mobile: String,
    /// `match`, `mismatch`, `api_error`, `unbilled`, `ambiguous` or `rejected`.
    pub outcome: String,
    /// `res` (1 or 2) when answered with a verdict.
    pub res: Option<i64>,
    /// The vendor's error code, if it answered one.
    pub error_code: Option<i64>,
    /// The SDK's class of the failure, if it failed.
    pub error_class: Option<String>,
    /// `yes`, `no` or `maybe`.
    pub billed: String,
    /// The vendor's order id.
    pub order_id: Option<String>,
    /// Requests sent.
    pub attempts: i64,
    /// Another caller's answer, reused (not billed).
    pub from_cache: bool,
    /// From the start of the check to its end, milliseconds.
    pub latency_ms: i64,
    /// The chain (one per opened ledger handle: a random id).
    pub writer: String,
    /// The record's place in its chain, from 1.
    pub seq: i64,
    /// The hash of the chain's previous record, hex.
    #[serde(skip)]
    pub prev_hash: String,
    /// SHA-256 over `prev_hash` and this record's content, hex.
    #[serde(skip)]
    pub hash: String,
    /// The row's id in the table (its insertion order); 0 before it is stored.
    #[serde(skip)]
    pub id: i64,
}

/// The ledger's secret for pair digests (32 random bytes made when the ledger was created).
pub(crate) struct Secret(pub(crate) Zeroizing<Vec<u8>>);

impl Secret {
    /// HMAC-SHA256 of the pair's canonical bytes, hex.
    pub(crate) fn digest(&self, pair: PairIdentity<'_>) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        for part in pair.parts() {
            mac.update(part);
        }
        hex::encode(mac.finalize().into_bytes())
    }
}

pub(crate) fn millis(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

impl Record {
    /// The record of an entry, before it is chained (`writer`, `seq`, hashes left empty).
    pub(crate) fn of(entry: &Entry, secret: &Secret) -> Record {
        let at_ms = millis(entry.at);
        Record {
            time: day::rfc3339(at_ms),
            at_ms,
            caller: entry.context.caller.clone(),
            purpose: entry.context.purpose.clone(),
            mode: entry.mode.as_str().to_owned(),
            pair_digest: secret.digest(PairIdentity::new(&entry.idcard, &entry.mobile)),
            idcard: entry.idcard.masked(),
            mobile: entry.mobile.masked(),
            outcome: entry.outcome.as_str().to_owned(),
            res: entry.res.map(i64::from),
            error_code: entry.error_code.map(|c| i64::from(c.code())),
            error_class: entry.class.map(|c| c.as_str().to_owned()),
            billed: entry.billed.as_str().to_owned(),
            order_id: entry.order_id.clone(),
            attempts: i64::from(entry.attempts),
            from_cache: entry.from_cache,
            latency_ms: i64::try_from(entry.latency.as_millis()).unwrap_or(i64::MAX),
            writer: String::new(),
            seq: 0,
            prev_hash: String::new(),
            hash: String::new(),
            id: 0,
        }
    }

    /// SHA-256 over `prev` and every stored field but the hashes and the row id, each field
    /// length-prefixed (so no two contents share bytes), hex.
    pub(crate) fn chain_hash(&self, prev: &str) -> String {
        let mut h = Sha256::new();
        let mut field = |value: Option<&str>| match value {
            None => h.update([0xff]),
            Some(v) => {
                h.update((v.len() as u32).to_le_bytes());
                h.update(v.as_bytes());
            }
        };
        field(Some("juhe-ledger/1"));
        field(Some(prev));
        field(Some(&self.writer));
        field(Some(&self.seq.to_string()));
        field(Some(&self.at_ms.to_string()));
        field(self.caller.as_deref());
        field(self.purpose.as_deref());
        field(Some(&self.mode));
        field(Some(&self.pair_digest));
        field(Some(&self.idcard));
        field(Some(&self.mobile));
        field(Some(&self.outcome));
        field(self.res.map(|r| r.to_string()).as_deref());
        field(self.error_code.map(|c| c.to_string()).as_deref());
        field(self.error_class.as_deref());
        field(Some(&self.billed));
        field(self.order_id.as_deref());
        field(Some(&self.attempts.to_string()));
        field(Some(if self.from_cache { "1" } else { "0" }));
        field(Some(&self.latency_ms.to_string()));
        hex::encode(h.finalize())
    }
}
