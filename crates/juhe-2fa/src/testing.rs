//! Typed canned answers for tests of code that uses the SDK (feature `testing`, also enabled by
//! `mock`): what the vendor sends, without hand-writing its JSON. They fit closures and
//! mockall mocks alike.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), juhe_2fa::Error> {
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use juhe_2fa::{Client, ErrorCode, testing::answer};
//!
//! // A retry test: first a 503, then a match.
//! let calls = AtomicU32::new(0);
//! let client = Client::builder().api_key("k").build_with_transport(move |_req| {
//!     let n = calls.fetch_add(1, Ordering::SeqCst);
//!     async move { if n == 0 { Ok(answer::http_status(503)) } else { Ok(answer::matched("JH1")) } }
//! })?;
//! let v = client.verify("110105199003071239", "13012345678").await?;
//! assert_eq!((v.order_id.as_str(), v.attempts), ("JH1", 2));
//!
//! let refused = Client::builder().api_key("k")
//!     .build_with_transport(|_req| async { Ok(answer::error(ErrorCode::InvalidKey)) })?;
//! let e = refused.verify("110105199003071239", "13012345678").await.unwrap_err();
//! assert_eq!(e.error_code(), Some(ErrorCode::InvalidKey));
//! # Ok(()) }
//! ```
//!
//! With a mockall mock (feature `mock`), wired into the client the same way:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), juhe_2fa::Error> {
//! use juhe_2fa::{Client, ErrorClass, mock::MockTransport, testing::answer};
//!
//! let mut transport = MockTransport::new();
//! transport
//!     .expect_send()
//!     .times(1) // a timeout after sending is never retried: it may have been billed
//!     .returning(|_req| Err(answer::maybe_sent()));
//! let client = Client::builder().api_key("k").build_with_transport(transport)?;
//! let e = client.verify("110105199003071239", "13012345678").await.unwrap_err();
//! assert_eq!(e.class(), ErrorClass::Ambiguous);
//! # Ok(()) }
//! ```

/// The sandbox's demo account — API key, OpenID and RSA keys — for tests in AES and RSA mode
/// without the sandbox crate (these are public test values: never use them for anything real).
/// `juhe-2fa sandbox --export-demo-keys DIR` writes the same keys as files
/// ([`demo::FILES`] names them).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use juhe_2fa::{Client, Mode, RsaPublicKey, testing::{answer, demo}};
///
/// let client = Client::builder()
///     .api_key(demo::API_KEY)
///     .mode(Mode::Rsa(RsaPublicKey::parse(demo::RSA_PUBLIC_KEY_PEM)?))
///     .build_with_transport(|_req| async { Ok(answer::matched("JH1")) })?;
/// assert!(client.verify("110105199003071239", "13012345678").await?.is_match());
/// # Ok(()) }
/// ```
pub mod demo {
    pub use juhe_crypto::demo::{
        AES_KEY, API_KEY, FILES, OPENID, RSA_PRIVATE_KEY_PEM, RSA_PUBLIC_KEY_B64,
        RSA_PUBLIC_KEY_PEM,
    };
}

/// Responses and transport failures, as a transport returns them.
pub mod answer {
    use juhe_proto::{ErrorCode, Verdict};
    use juhe_transport::{HttpResponse, MaybeSentReason, NotSentReason, TransportError};

    fn json(status: u16, body: serde_json::Value) -> HttpResponse {
        http::Response::builder()
            .status(status)
            .header("content-type", "application/json;charset=utf-8")
            .body(body.to_string().into_bytes())
            .expect("a valid status")
    }

    fn verdict(verdict: Verdict, order_id: &str) -> HttpResponse {
        json(
            200,
            serde_json::json!({
                "reason": "成功",
                "result": { "res": verdict.res(), "orderid": order_id },
                "error_code": 0,
            }),
        )
    }

    /// `res` 1 (match), billed, with this order id.
    pub fn matched(order_id: &str) -> HttpResponse {
        verdict(Verdict::Match, order_id)
    }

    /// `res` 2 (mismatch), billed, with this order id.
    pub fn mismatched(order_id: &str) -> HttpResponse {
        verdict(Verdict::Mismatch, order_id)
    }

    /// An `error_code` answer with the vendor's reason text (HTTP 200, as the vendor does).
    pub fn error(code: ErrorCode) -> HttpResponse {
        json(
            200,
            serde_json::json!({ "reason": code.reason_zh(), "result": null, "error_code": code.code() }),
        )
    }

    /// An HTML error page with this HTTP status, as a proxy or gateway sends it.
    pub fn http_status(status: u16) -> HttpResponse {
        http::Response::builder()
            .status(status)
            .header("content-type", "text/html")
            .body(format!("<html><body><h1>{status}</h1></body></html>").into_bytes())
            .expect("a valid status")
    }

    /// A failure before anything was sent (connection refused): retryable, never billed.
    pub fn not_sent() -> TransportError {
        TransportError::not_sent(NotSentReason::Connect, None)
    }

    /// A failure after the request may have gone out (a timeout): ambiguous, maybe billed.
    pub fn maybe_sent() -> TransportError {
        TransportError::maybe_sent(MaybeSentReason::Timeout, None)
    }
}
