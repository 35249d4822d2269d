//! The HTTP boundary of the juhe-2fa SDK: `http::Request<Vec<u8>>` in,
//! `http::Response<Vec<u8>>` out (as oauth2-rs does).
//!
//! - [`Transport`] (async, object-safe through `async-trait`) and [`BlockingTransport`] (sync).
//! - Closures implement them, so a unit test needs no server:
//!
//! ```
//! use juhe_transport::{BlockingTransport, HttpRequest, HttpResponse, TransportError};
//!
//! let fake = |_req: HttpRequest| -> Result<HttpResponse, TransportError> {
//!     Ok(http::Response::new(br#"{"error_code":10001,"reason":"","result":null}"#.to_vec()))
//! };
//! let response = fake.send(http::Request::new(Vec::new()))?;
//! assert_eq!(response.status(), 200);
//! # Ok::<(), TransportError>(())
//! ```
//!
//! - Backends, each behind its own feature: `ReqwestTransport` (`reqwest`) and `UreqTransport`
//!   (`ureq`), both rustls with the ring provider, no redirects, timeouts, connection reuse.
//!   Backend types stay inside these newtypes, so a backend's major version is not ours.
//! - `mock` exports mockall mocks of both traits.
//!
//! With no feature this crate is just the traits and the error type.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod error;
#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub mod mock;
mod proxy;
#[cfg(feature = "reqwest")]
mod reqwest_backend;
#[cfg(feature = "ureq")]
mod ureq_backend;

use std::future::Future;
use std::sync::Arc;

pub use config::TransportConfig;
pub use error::{BoxError, MaybeSentReason, NotSentReason, TransportError};
pub use proxy::{Proxy, ProxyScheme};
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use reqwest_backend::ReqwestTransport;
#[cfg(feature = "ureq")]
#[cfg_attr(docsrs, doc(cfg(feature = "ureq")))]
pub use ureq_backend::UreqTransport;

/// A request as every backend takes it.
pub type HttpRequest = http::Request<Vec<u8>>;
/// A response as every backend returns it, whatever its status.
pub type HttpResponse = http::Response<Vec<u8>>;

/// Sends one request and returns the response, whatever its HTTP status. Async.
#[async_trait::async_trait]
pub trait Transport: Send + Sync {
    /// Sends `request`. HTTP error statuses are responses, not errors.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;
}

/// Sends one request and returns the response, whatever its HTTP status. Blocking.
pub trait BlockingTransport: Send + Sync {
    /// Sends `request`. HTTP error statuses are responses, not errors.
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;
}

#[async_trait::async_trait]
impl<F, Fut> Transport for F
where
    F: Fn(HttpRequest) -> Fut + Send + Sync,
    Fut: Future<Output = Result<HttpResponse, TransportError>> + Send,
{
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self(request).await
    }
}

impl<F> BlockingTransport for F
where
    F: Fn(HttpRequest) -> Result<HttpResponse, TransportError> + Send + Sync,
{
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self(request)
    }
}

#[async_trait::async_trait]
impl Transport for Box<dyn Transport> {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        (**self).send(request).await
    }
}

#[async_trait::async_trait]
impl Transport for Arc<dyn Transport> {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        (**self).send(request).await
    }
}

impl BlockingTransport for Box<dyn BlockingTransport> {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        (**self).send(request)
    }
}

impl BlockingTransport for Arc<dyn BlockingTransport> {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        (**self).send(request)
    }
}
