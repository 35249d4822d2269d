//! The facade's one error type.

use juhe_crypto::CryptoError;
use juhe_proto::{Carrier, ErrorCode};
use juhe_transport::TransportError;

/// Everything a check can fail with. Messages never contain the API key or an unmasked number.
///
/// Two questions matter for every failure: may it be retried ([`Error::is_retryable`]), and
/// may it have been billed ([`Error::is_ambiguous`])?
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input failed local validation; nothing was sent.
    #[error(transparent)]
    InvalidInput(juhe_proto::Error),
    /// The mobile number is not China Unicom's and the client refuses those
    /// ([`crate::CarrierPolicy::Refuse`]); nothing was sent.
    #[error(
        "mobile number {mobile} is a {carrier} number; this API answers only for China Unicom numbers (refused locally, nothing sent)"
    )]
    UnsupportedCarrier {
        /// The carrier of the segment.
        carrier: Carrier,
        /// The masked number.
        mobile: String,
    },
    /// Field encryption failed; nothing was sent.
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
        /// The server's reason text.
        reason: String,
    },
    /// The answer could not be decoded (HTML, truncated or unknown JSON).
    #[error(transparent)]
    Decode(juhe_proto::Error),
    /// The client configuration is invalid (no key, a bad base URL or key file…).
    #[error("invalid configuration: {problem}")]
    Config {
        /// What to fix.
        problem: String,
        /// The underlying error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl Error {
    pub(crate) fn config(problem: impl Into<String>) -> Error {
        Error::Config {
            problem: problem.into(),
            source: None,
        }
    }

    pub(crate) fn from_proto(e: juhe_proto::Error) -> Error {
        match e {
            juhe_proto::Error::Api { code, reason } => Error::Api { code, reason },
            e @ juhe_proto::Error::Decode { .. } => Error::Decode(e),
            juhe_proto::Error::Request(source) => Error::Config {
                problem: "the base URL does not make a valid request".into(),
                source: Some(Box::new(source)),
            },
            e => Error::InvalidInput(e),
        }
    }

    /// The HTTP status of an undecodable answer.
    fn decode_status(&self) -> Option<u16> {
        match self {
            Error::Decode(juhe_proto::Error::Decode { status, .. }) => Some(*status),
            _ => None,
        }
    }

    /// True when a retry may succeed and the failed attempt cannot have been billed:
    /// a request that was surely not sent, HTTP 5xx, and the codes 232905, 232906, 10011,
    /// 10012, 10014, 10020.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport(e) => !e.may_have_been_sent(),
            Error::Api { code, .. } => code.is_retryable(),
            Error::Decode(_) => self.decode_status().is_some_and(|s| s >= 500),
            _ => false,
        }
    }

    /// True when the request may have reached the server and been billed without an answer
    /// coming back: a timeout or dropped connection after sending, or a garbled success-status
    /// answer. Such checks are not retried unless the policy opts in.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            Error::Transport(e) => e.may_have_been_sent(),
            Error::Decode(_) => self.decode_status().is_some_and(|s| s < 500),
            _ => false,
        }
    }

    /// True when the failure happened before anything was sent.
    pub fn nothing_sent(&self) -> bool {
        matches!(
            self,
            Error::InvalidInput(_)
                | Error::UnsupportedCarrier { .. }
                | Error::Crypto(_)
                | Error::Config { .. }
        ) || matches!(self, Error::Transport(e) if !e.may_have_been_sent())
    }

    /// The API error code, for [`Error::Api`].
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            Error::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// A short machine-readable name: the [`juhe_proto::ErrorKind`] for API errors
    /// (`no_record`, `credential`, …), else `invalid_input`, `unsupported_carrier`, `crypto`,
    /// `transport`, `decode` or `config`.
    pub fn kind_name(&self) -> &'static str {
        use juhe_proto::ErrorKind as K;
        match self {
            Error::InvalidInput(_) => "invalid_input",
            Error::UnsupportedCarrier { .. } => "unsupported_carrier",
            Error::Crypto(_) => "crypto",
            Error::Transport(_) => "transport",
            Error::Decode(_) => "decode",
            Error::Config { .. } => "config",
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
