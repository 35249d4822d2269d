//! The facade's one error type, and the one place failures are classified.

use juhe_crypto::CryptoError;
use juhe_proto::{Carrier, DecodeError, ErrorCode, RequestError, ResponseError, ValidationError};
use juhe_transport::{BoxError, NotSentReason, TransportError};

/// Everything a check can fail with. Messages never contain the API key or an unmasked number.
///
/// What to do about a failure follows from its [`Error::class`]: was anything sent, was it
/// answered, may it have been billed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input failed local validation; nothing was sent.
    #[error(transparent)]
    InvalidInput(ValidationError),
    /// The mobile number is not China Unicom's and the client refuses those
    /// ([`crate::CarrierPolicy::Refuse`]); nothing was sent.
    #[error(
        "mobile number {mobile} belongs to {carrier}; this API answers only for China Unicom numbers (refused locally, nothing sent)"
    )]
    UnsupportedCarrier {
        /// The carrier of the segment.
        carrier: Carrier,
        /// The masked number.
        mobile: String,
    },
    /// Field encryption failed (the key cannot encrypt this value); nothing was sent.
    #[error(transparent)]
    Crypto(CryptoError),
    /// The request failed in transport. See [`TransportError::may_have_been_sent`].
    #[error(transparent)]
    Transport(TransportError),
    /// The API answered with a non-zero `error_code`. Not billed.
    #[error("API error {}: {reason}", code.code())]
    Api {
        /// The code.
        code: ErrorCode,
        /// The server's reason text, masked where it is parsed (the API key raw or encoded,
        /// the fields as sent, runs of 6+ digits: a middlebox may echo the request into it)
        /// and at most 200 characters.
        reason: String,
        /// The endpoint that answered (an encrypted one makes 232901/232902 point at the key
        /// material: [`Error::likely_key_material`]).
        mode: juhe_proto::Endpoint,
    },
    /// The answer could not be decoded (HTML, truncated or unknown JSON).
    #[error(transparent)]
    Decode(DecodeError),
    /// The client configuration is invalid (no key, a bad base URL or key file…).
    #[error("invalid configuration: {problem}")]
    Config {
        /// What to fix.
        problem: String,
        /// The underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },
    /// The caller's pre-send hook refused (see [`crate::Client::verify_with`]); nothing was
    /// sent for that attempt.
    #[error("the pre-send hook stopped the request; nothing was sent")]
    Cancelled(#[source] BoxError),
    /// The fleet's shared store (Redis, feature `redis`) could not be used where the client
    /// must not go on without it (fail-closed), or another caller's in-flight check of the
    /// same pair did not end in time. Nothing was sent; not billed.
    #[error("{problem}; nothing was sent")]
    SharedStore {
        /// What happened.
        problem: &'static str,
        /// The store's error, if any.
        #[source]
        source: Option<BoxError>,
    },
    /// Another caller's check of the same pair (de-duplication, feature `redis`) ended
    /// without an answer after its request had left, or its holder died after sending: that
    /// request may have been billed. This call sent nothing; sending the pair again may bill
    /// it twice. Class [`ErrorClass::Ambiguous`].
    #[error(
        "another caller's check of this pair may have been billed without an answer; nothing was sent by this call"
    )]
    AmbiguousElsewhere,
    /// A spend budget ([`ClientBuilder::budget`](crate::ClientBuilder::budget)) is spent:
    /// refused before sending. Class [`ErrorClass::Budget`].
    #[error("the spend budget {budget} is spent until {resets_at}; nothing was sent")]
    Budget {
        /// The budget that is spent.
        budget: crate::budget::Budget,
        /// When it resets (the next calendar day or month, China time).
        resets_at: String,
    },
    /// The caller's own rate ([`crate::budget::CallerLimits`], e.g. a gateway's per-caller
    /// `qps`) is used up: refused before sending, not waited for. Class
    /// [`ErrorClass::Budget`].
    #[error("this caller's rate limit is reached; try again in {} ms; nothing was sent", .retry_after.as_millis())]
    CallerRate {
        /// When a slot is due.
        retry_after: std::time::Duration,
    },
    /// The audit ledger ([`ClientBuilder::ledger`](crate::ClientBuilder::ledger)) refused the
    /// check before anything was sent (it cannot record: unreachable, full, …). Class
    /// [`ErrorClass::Config`]: fix the ledger, or let checks go on without it
    /// (`ledger_optional`).
    #[error("the audit ledger cannot record this check, so it was refused; nothing was sent")]
    Ledger(#[source] BoxError),
    /// The check's deadline ([`ClientBuilder::deadline`](crate::ClientBuilder::deadline))
    /// passed before it could finish: no new attempt was started and no wait went on. Every
    /// attempt that was sent was answered with a failure that is not billed. Class
    /// [`ErrorClass::Unbilled`].
    #[error("the check's deadline passed before it could finish; {}", if *.sent { "the attempts sent were not billed" } else { "nothing was sent" })]
    Deadline {
        /// Whether any attempt was sent (and answered, unbilled).
        sent: bool,
    },
}

/// What a failure means for money and for the next step. Every [`Error`] has exactly one
/// class; exit codes, batch statuses and retry decisions are derived from it.
///
/// Exhaustive on purpose: the set of classes is the contract, so a `match` over them needs no
/// wildcard arm into which a new class could fall unnoticed (adding one is a breaking change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Refused locally (invalid input, unsupported carrier): nothing was sent, fix the input.
    Rejected,
    /// The API answered with this code: not billed. [`ErrorCode::is_account_level`] tells
    /// codes about the account or service from codes about the pair.
    Api(ErrorCode),
    /// Certainly not billed: not sent, or refused before processing (HTTP 429, 500, 503, a
    /// 4xx). Retryable when [`Error::is_retryable`] says so.
    Unbilled,
    /// May have been billed without an answer coming back: a timeout or dropped connection
    /// after sending, a gateway error (HTTP 502, 504), or a garbled success-status answer.
    /// Never retried unless the policy opts in.
    Ambiguous,
    /// The configuration is wrong (key, base URL, key material); nothing was sent.
    Config,
    /// The caller's pre-send hook refused; nothing was sent.
    Cancelled,
    /// A spend budget is spent, or the caller's own rate used up: refused before sending
    /// until it resets ([`Error::retry_after`] says when).
    Budget,
}

impl ErrorClass {
    /// A stable lower-case name: `rejected`, `api`, `unbilled`, `ambiguous`, `config`,
    /// `cancelled`, `budget`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Rejected => "rejected",
            ErrorClass::Api(_) => "api",
            ErrorClass::Unbilled => "unbilled",
            ErrorClass::Ambiguous => "ambiguous",
            ErrorClass::Config => "config",
            ErrorClass::Cancelled => "cancelled",
            ErrorClass::Budget => "budget",
        }
    }
}

/// The one table of HTTP statuses: an undecodable answer's class, and whether it is worth
/// trying again. A gateway error (502, 504) may come after the backend billed; 429 and the other
/// 5xx and 4xx come from a server that did not process the request (429 and 5xx may pass, a
/// 4xx will not); a success status with a garbled body was processed.
fn http_status(status: u16) -> (ErrorClass, bool) {
    match status {
        502 | 504 => (ErrorClass::Ambiguous, false),
        429 | 500..=599 => (ErrorClass::Unbilled, true),
        400..=499 => (ErrorClass::Unbilled, false),
        _ => (ErrorClass::Ambiguous, false),
    }
}

impl From<ValidationError> for Error {
    fn from(e: ValidationError) -> Error {
        Error::InvalidInput(e)
    }
}

impl From<ResponseError> for Error {
    fn from(e: ResponseError) -> Error {
        // No wildcard: a new kind of response error must be classified here.
        match e {
            ResponseError::Api { code, reason } => Error::Api {
                code,
                reason,
                mode: juhe_proto::Endpoint::Plain,
            },
            ResponseError::Decode(decode) => Error::Decode(decode),
        }
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Error {
        match e {
            TransportError::InvalidProxy { .. } => Error::Config {
                problem: "the proxy cannot be used".into(),
                source: Some(Box::new(e)),
            },
            e => Error::Transport(e),
        }
    }
}

impl From<RequestError> for Error {
    fn from(e: RequestError) -> Error {
        Error::Config {
            problem: "the base URL does not make a valid request".into(),
            source: Some(Box::new(e)),
        }
    }
}

impl Error {
    pub(crate) fn config(problem: impl Into<String>) -> Error {
        Error::Config {
            problem: problem.into(),
            source: None,
        }
    }

    /// The one classification of this failure.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::InvalidInput(_) | Error::UnsupportedCarrier { .. } => ErrorClass::Rejected,
            Error::Crypto(_) | Error::Config { .. } => ErrorClass::Config,
            Error::Transport(TransportError::InvalidProxy { .. }) => ErrorClass::Config,
            // A request that cannot be made never will be: not a network failure to retry.
            Error::Transport(TransportError::NotSent {
                reason: NotSentReason::InvalidRequest,
                ..
            }) => ErrorClass::Config,
            Error::Transport(e) if e.may_have_been_sent() => ErrorClass::Ambiguous,
            Error::Transport(_) => ErrorClass::Unbilled,
            Error::Api { code, .. } => ErrorClass::Api(*code),
            Error::Decode(d) => http_status(d.status).0,
            Error::Cancelled(_) => ErrorClass::Cancelled,
            Error::SharedStore { .. } => ErrorClass::Unbilled,
            Error::AmbiguousElsewhere => ErrorClass::Ambiguous,
            Error::Deadline { .. } => ErrorClass::Unbilled,
            Error::Ledger(_) => ErrorClass::Config,
            Error::Budget { .. } | Error::CallerRate { .. } => ErrorClass::Budget,
        }
    }

    /// True when a retry may succeed and the failed attempt cannot have been billed: a
    /// request surely not sent, HTTP 429, 500, 503 (and other 5xx but 502/504), and the codes
    /// [`ErrorCode::is_retryable`] names.
    pub fn is_retryable(&self) -> bool {
        match (self.class(), self) {
            (ErrorClass::Api(code), _) => code.is_retryable(),
            (ErrorClass::Unbilled, Error::Decode(d)) => http_status(d.status).1,
            (ErrorClass::Unbilled, _) => true,
            _ => false,
        }
    }

    /// True when the request may have been billed without an answer coming back
    /// ([`ErrorClass::Ambiguous`]).
    pub fn is_ambiguous(&self) -> bool {
        self.class() == ErrorClass::Ambiguous
    }

    /// True when the failure happened before anything was sent.
    pub fn nothing_sent(&self) -> bool {
        match self.class() {
            ErrorClass::Rejected
            | ErrorClass::Config
            | ErrorClass::Cancelled
            | ErrorClass::Budget => true,
            ErrorClass::Unbilled => {
                matches!(
                    self,
                    Error::Transport(_)
                        | Error::SharedStore { .. }
                        | Error::Deadline { sent: false }
                )
            }
            ErrorClass::Ambiguous => matches!(self, Error::AmbiguousElsewhere),
            ErrorClass::Api(_) => false,
        }
    }

    /// When trying again may succeed, for a refusal that says: a caller's rate (when its next
    /// slot is due) or a spent budget (when its period ends, China time).
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Error::CallerRate { retry_after } => Some(*retry_after),
            Error::Budget { budget, .. } => Some(crate::budget::resets_in(
                *budget,
                std::time::SystemTime::now(),
            )),
            _ => None,
        }
    }

    /// The API error code, for [`Error::Api`].
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self.class() {
            ErrorClass::Api(code) => Some(code),
            _ => None,
        }
    }

    /// A short machine-readable name: the [`juhe_proto::ErrorKind`] for API errors
    /// (`no_record`, `credential`, …), else `invalid_input`, `unsupported_carrier`, `crypto`,
    /// `transport`, `decode`, `config`, `cancelled`, `shared_store`, `ambiguous_elsewhere`, `deadline`, `ledger` or `budget`.
    pub fn kind_name(&self) -> &'static str {
        use juhe_proto::ErrorKind as K;
        match self {
            Error::InvalidInput(_) => "invalid_input",
            Error::UnsupportedCarrier { .. } => "unsupported_carrier",
            Error::Crypto(_) => "crypto",
            Error::Transport(_) => "transport",
            Error::Decode(_) => "decode",
            Error::Config { .. } => "config",
            Error::Cancelled(_) => "cancelled",
            Error::SharedStore { .. } => "shared_store",
            Error::AmbiguousElsewhere => "ambiguous_elsewhere",
            Error::Deadline { .. } => "deadline",
            Error::Ledger(_) => "ledger",
            Error::Budget { .. } => "budget",
            Error::CallerRate { .. } => "caller_rate",
            Error::Api { code, .. } => match code.kind() {
                K::InvalidInput => "invalid_input",
                K::UnsupportedNumber => "unsupported_number",
                K::NoRecord => "no_record",
                K::Transient => "transient",
                K::RateLimited => "rate_limited",
                K::Credential => "credential",
                K::Disabled => "disabled",
                _ => "unknown",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use juhe_proto::DecodeProblem;

    fn decode(status: u16) -> Error {
        Error::Decode(DecodeError::new(status, DecodeProblem::NotJson, 10))
    }

    #[test]
    fn gateway_errors_are_ambiguous_other_statuses_unbilled() {
        for (status, class, retryable) in [
            (200, ErrorClass::Ambiguous, false),
            (302, ErrorClass::Ambiguous, false),
            (404, ErrorClass::Unbilled, false),
            (429, ErrorClass::Unbilled, true),
            (500, ErrorClass::Unbilled, true),
            (502, ErrorClass::Ambiguous, false),
            (503, ErrorClass::Unbilled, true),
            (504, ErrorClass::Ambiguous, false),
        ] {
            let e = decode(status);
            assert_eq!(e.class(), class, "{status}");
            assert_eq!(e.is_retryable(), retryable, "{status}");
            assert_eq!(e.is_ambiguous(), class == ErrorClass::Ambiguous);
            assert!(!e.nothing_sent());
        }
    }
}
