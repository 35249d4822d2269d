//! Fault injection: what can go wrong between a client and the vendor.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::SandboxError;

/// One injected fault.
///
/// In JSON: `"none"`, `{"delay_ms": 200}`, `"http500"`, `{"http_status": 504}`, `"drop"`,
/// `"truncated_json"`, `"res_as_string"`, `{"error_code": 232905}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fault {
    /// No fault: answer normally.
    None,
    /// Wait this many milliseconds, then answer normally.
    DelayMs(u64),
    /// HTTP 500 with an HTML body (a broken gateway). Not billed.
    Http500,
    /// This HTTP status with an HTML body, as a gateway or proxy answers. With 502 and 504 the
    /// request is processed (and billed when the answer would have been a verdict) first: a
    /// gateway error may come after the backend did its work. Other statuses (429, 503…) are
    /// answered in front of the backend, unprocessed and unbilled.
    HttpStatus(u16),
    /// Close the connection without answering, after reading the request. Not billed.
    Drop,
    /// Answer normally (billed, with an order id) but cut the JSON body in half.
    TruncatedJson,
    /// Answer normally with `res` sent as a string (`"res":"1"`), as the vendor sometimes does.
    ResAsString,
    /// Answer with this `error_code` (and its documented reason). Not billed.
    ErrorCode(juhe_proto::ErrorCode),
}

impl Fault {
    pub(crate) fn delay(self) -> Option<Duration> {
        match self {
            Fault::DelayMs(ms) => Some(Duration::from_millis(ms)),
            _ => None,
        }
    }
}

/// Faults applied to requests in arrival order: the n-th request to an API path gets the
/// n-th fault of the sequence; requests after the end of the sequence get none.
///
/// ```
/// use juhe_sandbox::{Fault, FaultPlan};
///
/// let plan = FaultPlan::new().then(Fault::Http500).then(Fault::ErrorCode(juhe_proto::ErrorCode::NetworkError));
/// let same: FaultPlan = FaultPlan::from_json(r#"{"sequence": ["http500", {"error_code": 232905}]}"#)?;
/// assert_eq!(plan, same);
/// let toml = FaultPlan::from_toml(r#"sequence = ["http500", { error_code = 232905 }]"#)?;
/// assert_eq!(plan, toml);
/// # Ok::<(), juhe_sandbox::SandboxError>(())
/// ```
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct FaultPlan {
    /// The faults, in request order.
    pub sequence: Vec<Fault>,
    #[serde(skip)]
    cursor: AtomicUsize,
}

impl PartialEq for FaultPlan {
    fn eq(&self, other: &Self) -> bool {
        self.sequence == other.sequence
    }
}

impl Clone for FaultPlan {
    fn clone(&self) -> Self {
        FaultPlan {
            sequence: self.sequence.clone(),
            cursor: AtomicUsize::new(0),
        }
    }
}

impl FaultPlan {
    /// An empty plan.
    pub fn new() -> FaultPlan {
        FaultPlan::default()
    }

    /// Appends a fault for the next request in order.
    pub fn then(mut self, fault: Fault) -> FaultPlan {
        self.sequence.push(fault);
        self
    }

    /// Appends `fault` for the next `n` requests.
    pub fn then_times(mut self, fault: Fault, n: usize) -> FaultPlan {
        self.sequence.extend(std::iter::repeat_n(fault, n));
        self
    }

    /// Parses `{"sequence": [...]}`.
    pub fn from_json(text: &str) -> Result<FaultPlan, SandboxError> {
        serde_json::from_str(text).map_err(|e| SandboxError::InvalidFile {
            what: "fault plan".into(),
            problem: "expected {\"sequence\": [fault, ...]}".into(),
            source: Some(Box::new(e)),
        })
    }

    /// Parses TOML: `sequence = ["http500", { delay_ms = 200 }, { error_code = 232905 }]`.
    pub fn from_toml(text: &str) -> Result<FaultPlan, SandboxError> {
        toml::from_str(text).map_err(|e| SandboxError::InvalidFile {
            what: "fault plan".into(),
            problem: "expected sequence = [fault, ...]".into(),
            source: Some(Box::new(e)),
        })
    }

    /// Reads a fault plan file: TOML when the name ends in `.toml`, JSON otherwise.
    pub fn load(path: &Path) -> Result<FaultPlan, SandboxError> {
        let (text, is_toml) = crate::error::read_config_file(path, "toml")?;
        if is_toml {
            FaultPlan::from_toml(&text)
        } else {
            FaultPlan::from_json(&text)
        }
    }

    /// The fault for the next request (each call advances the plan).
    pub(crate) fn next(&self) -> Fault {
        if self.sequence.is_empty() {
            return Fault::None;
        }
        let i = self.cursor.fetch_add(1, Ordering::Relaxed);
        self.sequence.get(i).copied().unwrap_or(Fault::None)
    }
}
