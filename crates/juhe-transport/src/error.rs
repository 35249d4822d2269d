//! The crate's one error type: above all, whether the request may have reached the server.

use std::fmt;

/// A boxed source error (the backend's own error, kept for its chain).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a request surely did not reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NotSentReason {
    /// The host name did not resolve.
    Dns,
    /// The TCP connection failed or timed out.
    Connect,
    /// The TLS handshake failed.
    Tls,
    /// The proxy refused or failed.
    Proxy,
    /// The request itself is invalid (a bad URL, say) and was never sent.
    InvalidRequest,
    /// The backend could not be built (bad proxy URL, TLS setup).
    Setup,
    /// The connection closed before the request was written to it (a pooled connection the
    /// server had closed): nothing went out.
    ConnectionClosed,
}

/// Why a request may have reached the server without a complete answer coming back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MaybeSentReason {
    /// Timed out after the connection was made.
    Timeout,
    /// The connection closed or reset before a complete answer.
    ConnectionClosed,
    /// The answer was not valid HTTP.
    Protocol,
    /// Another I/O failure after connecting.
    Io,
    /// The call was dropped (its caller went away, a timeout around it) while the request was
    /// out: its answer was never read.
    Dropped,
}

impl fmt::Display for NotSentReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotSentReason::Dns => "the host name did not resolve",
            NotSentReason::Connect => "could not connect",
            NotSentReason::Tls => "the TLS handshake failed",
            NotSentReason::Proxy => "the proxy failed",
            NotSentReason::InvalidRequest => "the request is invalid (check the base URL)",
            NotSentReason::Setup => {
                "the HTTP client could not be set up (check the proxy URL and the root certificates)"
            }
            NotSentReason::ConnectionClosed => {
                "the connection closed before the request was written"
            }
        })
    }
}

impl fmt::Display for MaybeSentReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MaybeSentReason::Timeout => "timed out waiting for the answer",
            MaybeSentReason::ConnectionClosed => "the connection closed before a complete answer",
            MaybeSentReason::Protocol => "the answer was not valid HTTP",
            MaybeSentReason::Io => "an I/O error after connecting",
            MaybeSentReason::Dropped => "the call was dropped before its answer was read",
        })
    }
}

/// A transport failure. [`TransportError::may_have_been_sent`] tells whether the server may
/// have seen (and billed) the request. Messages never contain the URL (which holds the key
/// with GET); the backend's error is kept as the source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The request surely did not reach the server: safe to retry.
    #[error("{reason}; the request was not sent")]
    NotSent {
        /// Why.
        reason: NotSentReason,
        /// The backend's error.
        #[source]
        source: Option<BoxError>,
    },
    /// The request may have reached the server: retrying may bill twice.
    #[error("{reason}; the request may have reached the server")]
    MaybeSent {
        /// Why.
        reason: MaybeSentReason,
        /// The backend's error.
        #[source]
        source: Option<BoxError>,
    },
    /// A proxy URL did not parse (see [`crate::Proxy::parse`]); the URL itself is not repeated,
    /// as it may carry credentials.
    #[error(
        "invalid proxy URL: {problem}; expected http://, https:// or socks5://[user:password@]host[:port]"
    )]
    InvalidProxy {
        /// What is wrong with it.
        problem: &'static str,
    },
}

impl TransportError {
    /// A not-sent error.
    pub fn not_sent(reason: NotSentReason, source: Option<BoxError>) -> TransportError {
        TransportError::NotSent { reason, source }
    }

    /// A maybe-sent error.
    pub fn maybe_sent(reason: MaybeSentReason, source: Option<BoxError>) -> TransportError {
        TransportError::MaybeSent { reason, source }
    }

    /// True when the server may have received the request (so it may have been billed).
    pub fn may_have_been_sent(&self) -> bool {
        matches!(self, TransportError::MaybeSent { .. })
    }
}
