//! Counting and recording requests (numbers masked) so tests can assert what was sent.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use juhe_proto::{Endpoint, IdCard, Mobile};
use sha1::{Digest, Sha1};

use crate::Fault;

/// What stands for every path, or method, the sandbox does not know: the counters and records
/// stay bounded whatever a client sends.
const OTHER: &str = "(other)";

/// How many recent requests are kept in full (counters cover all requests).
const RECENT: usize = 10_000;

/// One request as the sandbox saw it. Numbers are masked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RequestRecord {
    /// Arrival number, from 1.
    pub seq: u64,
    /// When the request arrived (its body read), in Unix milliseconds. Records are in the
    /// order they were answered, so a delayed request can follow a later one.
    pub at_ms: u64,
    /// The endpoint, if the path was one.
    pub endpoint: Option<Endpoint>,
    /// HTTP method; `"(other)"` for one that is not a standard method (so a client cannot
    /// fill the recent records with made-up methods).
    pub method: String,
    /// Masked ID card number, if it decrypted and validated.
    pub idcard: Option<String>,
    /// Masked mobile number, if it decrypted and validated.
    pub mobile: Option<String>,
    /// The `error_code` answered (`None` for faults that sent no JSON answer).
    pub error_code: Option<i32>,
    /// `res` answered on success.
    pub res: Option<u8>,
    /// The order id issued on success.
    pub order_id: Option<String>,
    /// The fault applied, if any.
    pub fault: Option<Fault>,
    /// Whether the vendor would have charged for it (`error_code` 0).
    pub billed: bool,
}

/// Counters over every request since the sandbox started.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// Every HTTP request, including 404s.
    pub requests: u64,
    /// Requests answered with `error_code` 0 (charged by the real vendor).
    pub billed: u64,
    /// Answers by `error_code` (0 included).
    pub by_error_code: BTreeMap<i32, u64>,
    /// Requests by URL path: the API paths, and [`Stats::OTHER_PATHS`] for all other paths
    /// together (so a client cannot grow the table with made-up paths).
    pub by_path: BTreeMap<String, u64>,
    /// Requests that got an injected fault (other than `none` and delays).
    pub faults: u64,
}

impl Stats {
    /// The `by_path` entry that counts every request to a path that is not an API path.
    pub const OTHER_PATHS: &'static str = OTHER;
}

/// Requests and charges for one (ID card, mobile) pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct PairCount {
    /// Requests that carried this pair (after decryption and validation).
    pub requests: u64,
    /// Of those, answers with `error_code` 0.
    pub billed: u64,
}

#[derive(Default)]
struct Inner {
    stats: Stats,
    recent: VecDeque<RequestRecord>,
    pairs: HashMap<[u8; 20], PairCount>,
}

#[derive(Default)]
pub(crate) struct Recorder {
    inner: Mutex<Inner>,
    /// Log one masked line per request (target `juhe_sandbox::request`, level info).
    pub(crate) log: bool,
}

/// What the handler learned about one request, recorded when it answers.
pub(crate) struct Observation {
    pub(crate) arrived: SystemTime,
    /// `None` for a path that is not an API path; the path itself is not kept.
    pub(crate) endpoint: Option<Endpoint>,
    pub(crate) method: String,
    pub(crate) pair: Option<(IdCard, Mobile)>,
    pub(crate) error_code: Option<i32>,
    pub(crate) res: Option<u8>,
    pub(crate) order_id: Option<String>,
    pub(crate) fault: Option<Fault>,
}

impl Observation {
    /// A request that arrived now, with nothing learned about it yet.
    pub(crate) fn arrived(method: &http::Method, endpoint: Option<Endpoint>) -> Observation {
        Observation {
            arrived: SystemTime::now(),
            endpoint,
            method: method_name(method).to_owned(),
            pair: None,
            error_code: None,
            res: None,
            order_id: None,
            fault: None,
        }
    }
}

/// The methods kept by name; any other (extension methods are any token, of any length) is
/// recorded as `"(other)"`.
const METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "CONNECT",
];

fn method_name(method: &http::Method) -> &'static str {
    METHODS
        .into_iter()
        .find(|m| *m == method.as_str())
        .unwrap_or(OTHER)
}

/// Pairs are keyed by a digest so the table holds no numbers in clear.
pub(crate) fn pair_key(idcard: &IdCard, mobile: &Mobile) -> [u8; 20] {
    Sha1::new()
        .chain_update(idcard.as_unmasked_str().as_bytes())
        .chain_update(b"|")
        .chain_update(mobile.as_unmasked_str().as_bytes())
        .finalize()
        .into()
}

impl Recorder {
    pub(crate) fn new(log: bool) -> Recorder {
        Recorder {
            log,
            ..Recorder::default()
        }
    }

    pub(crate) fn record(&self, obs: Observation) {
        let billed = obs.error_code == Some(0);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.stats.requests += 1;
        let path = obs.endpoint.map_or(Stats::OTHER_PATHS, |e| e.path());
        // Known keys are looked up first so counting allocates nothing.
        match inner.stats.by_path.get_mut(path) {
            Some(n) => *n += 1,
            None => {
                inner.stats.by_path.insert(path.to_owned(), 1);
            }
        }
        if billed {
            inner.stats.billed += 1;
        }
        if let Some(code) = obs.error_code {
            *inner.stats.by_error_code.entry(code).or_default() += 1;
        }
        if obs
            .fault
            .is_some_and(|f| !matches!(f, Fault::None | Fault::DelayMs(_)))
        {
            inner.stats.faults += 1;
        }
        if let Some((idcard, mobile)) = &obs.pair {
            let count = inner.pairs.entry(pair_key(idcard, mobile)).or_default();
            count.requests += 1;
            if billed {
                count.billed += 1;
            }
        }
        let record = RequestRecord {
            seq: inner.stats.requests,
            // A clock before 1970 is not worth an error: it reads as 0.
            at_ms: obs
                .arrived
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            endpoint: obs.endpoint,
            method: obs.method,
            idcard: obs.pair.as_ref().map(|(i, _)| i.masked()),
            mobile: obs.pair.as_ref().map(|(_, m)| m.masked()),
            error_code: obs.error_code,
            res: obs.res,
            order_id: obs.order_id,
            fault: obs.fault,
            billed,
        };
        if self.log {
            tracing::info!(
                target: "juhe_sandbox::request",
                seq = record.seq,
                method = %record.method,
                path,
                idcard = record.idcard.as_deref().unwrap_or("-"),
                mobile = record.mobile.as_deref().unwrap_or("-"),
                error_code = ?record.error_code,
                billed = record.billed,
                fault = ?record.fault,
                "request"
            );
        }
        if inner.recent.len() == RECENT {
            inner.recent.pop_front();
        }
        inner.recent.push_back(record);
    }

    pub(crate) fn stats(&self) -> Stats {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stats
            .clone()
    }

    pub(crate) fn recent(&self) -> Vec<RequestRecord> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .recent
            .iter()
            .cloned()
            .collect()
    }

    pub(crate) fn pair_count(&self, idcard: &str, mobile: &str) -> PairCount {
        let (Ok(idcard), Ok(mobile)) = (IdCard::parse(idcard), Mobile::parse(mobile)) else {
            return PairCount::default();
        };
        let key = pair_key(&idcard, &mobile);
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pairs
            .get(&key)
            .copied()
            .unwrap_or_default()
    }

    /// Forgets every request (the counters start again from zero).
    pub(crate) fn reset(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *inner = Inner::default();
    }

    /// Pairs that were billed more than once: what a client must never cause by accident.
    pub(crate) fn pairs_billed_more_than_once(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pairs
            .values()
            .filter(|c| c.billed > 1)
            .count()
    }
}
