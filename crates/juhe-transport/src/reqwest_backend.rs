//! The async backend: reqwest with rustls (ring provider, webpki roots), no redirects.

use std::cell::RefCell;
use std::sync::Arc;

use crate::{
    BoxError, HttpRequest, HttpResponse, MaybeSentReason, NotSentReason, Transport,
    TransportConfig, TransportError,
};

/// Bodies of this API are under 1 KiB; a larger answer is not the vendor's.
const MAX_BODY: usize = 1024 * 1024;

/// The async [`Transport`] over a pooled `reqwest::Client`. Clones share the pool.
#[derive(Debug, Clone)]
pub struct ReqwestTransport(reqwest::Client);

/// Trusted roots: Mozilla's (unless turned off) and the configured extra ones.
fn roots(config: &TransportConfig) -> Result<rustls::RootCertStore, TransportError> {
    let mut roots = rustls::RootCertStore::empty();
    if config.built_in_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for cert in crate::config::extra_roots(config)? {
        roots.add(cert).map_err(|_| crate::config::bad_root())?;
    }
    Ok(roots)
}

fn tls_config(config: &TransportConfig) -> Result<rustls::ClientConfig, TransportError> {
    let roots = roots(config)?;
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .map_err(|e| TransportError::not_sent(NotSentReason::Setup, Some(Box::new(e) as BoxError)))
}

impl ReqwestTransport {
    /// A client with `config`'s timeouts, proxy and pool size.
    pub fn new(config: &TransportConfig) -> Result<ReqwestTransport, TransportError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .pool_max_idle_per_host(config.max_idle_per_host)
            .pool_idle_timeout(config.idle_timeout)
            .user_agent(config.user_agent.clone())
            .tls_backend_preconfigured(tls_config(config)?)
            .no_proxy();
        if let Some(proxy) = &config.proxy {
            // The proxy URL may carry credentials: its error is not kept.
            let proxy = reqwest::Proxy::all(proxy.url())
                .map_err(|_| TransportError::not_sent(NotSentReason::Setup, None))?;
            builder = builder.proxy(proxy);
        }
        builder
            .build()
            .map(ReqwestTransport)
            .map_err(|e| setup_error(e.without_url()))
    }
}

impl ReqwestTransport {
    /// Whether reqwest can send to `uri`: it parses URLs itself (WHATWG rules, stricter than
    /// `http::Uri` about ports and IPv4 hosts). Checked when a client is built, so a URL it
    /// refuses fails there rather than on every call. The URL is not kept in the error.
    pub fn check_uri(uri: &http::Uri) -> Result<(), TransportError> {
        reqwest::Url::parse(&uri.to_string())
            .map(drop)
            .map_err(|e| {
                TransportError::not_sent(
                    NotSentReason::InvalidRequest,
                    Some(Box::new(e) as BoxError),
                )
            })
    }
}

fn setup_error(e: reqwest::Error) -> TransportError {
    TransportError::not_sent(NotSentReason::Setup, Some(Box::new(e) as BoxError))
}

/// Sorts reqwest's errors by whether the request may have been sent; drops the URL.
fn classify(e: reqwest::Error) -> TransportError {
    let e = e.without_url();
    if e.is_builder() {
        return TransportError::not_sent(
            NotSentReason::InvalidRequest,
            Some(Box::new(e) as BoxError),
        );
    }
    if e.is_connect() {
        return TransportError::not_sent(NotSentReason::Connect, Some(Box::new(e) as BoxError));
    }
    if handed_back_unsent(&e) {
        return TransportError::not_sent(
            NotSentReason::ConnectionClosed,
            Some(Box::new(e) as BoxError),
        );
    }
    let reason = if e.is_timeout() {
        MaybeSentReason::Timeout
    } else if e.is_request() || e.is_body() {
        MaybeSentReason::ConnectionClosed
    } else if e.is_decode() {
        MaybeSentReason::Protocol
    } else {
        MaybeSentReason::Io
    };
    TransportError::maybe_sent(reason, Some(Box::new(e) as BoxError))
}

/// Whether hyper gave the request back unwritten: its connection closed before the request was
/// handed to it (hyper-util already retried it once if the connection was a reused one).
fn handed_back_unsent(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(hyper) = s.downcast_ref::<hyper::Error>() {
            return hyper.is_canceled();
        }
        source = s.source();
    }
    false
}

/// `request` for reqwest. Its own conversion formats the URI and parses it again as a URL on
/// every call (about a twentieth of a gateway's CPU); the vendor's URL is the same each time,
/// so each thread keeps the last one it parsed.
fn to_reqwest(request: HttpRequest) -> Result<reqwest::Request, reqwest::Error> {
    thread_local! {
        static LAST: RefCell<Option<(http::Uri, reqwest::Url)>> = const { RefCell::new(None) };
    }
    let known = LAST.with_borrow(|last| {
        last.as_ref()
            .filter(|(uri, _)| uri == request.uri())
            .map(|(_, url)| url.clone())
    });
    // Extensions cannot be set through reqwest's public API: such a request takes its way.
    match known {
        Some(url) if request.extensions().is_empty() => {
            let (parts, body) = request.into_parts();
            let mut converted = reqwest::Request::new(parts.method, url);
            *converted.headers_mut() = parts.headers;
            *converted.version_mut() = parts.version;
            *converted.body_mut() = Some(body.into());
            Ok(converted)
        }
        _ => {
            let uri = request.uri().clone();
            let converted = reqwest::Request::try_from(request)?;
            LAST.set(Some((uri, converted.url().clone())));
            Ok(converted)
        }
    }
}

#[async_trait::async_trait]
impl Transport for ReqwestTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let request = to_reqwest(request).map_err(|e| {
            TransportError::not_sent(
                NotSentReason::InvalidRequest,
                Some(Box::new(e.without_url()) as BoxError),
            )
        })?;
        // A pooled connection the server closed while this runtime was not running (a caller
        // that drives it only during calls, a busy worker) still looks open until its
        // connection task reads the close, and a request written into it has an unknown fate.
        // One turn lets the runtime poll its I/O driver, a second lets the woken connection
        // task run and leave the pool; the call then takes a live or a new connection.
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
        let mut response = self.0.execute(request).await.map_err(classify)?;
        let mut builder = http::Response::builder()
            .status(response.status())
            .version(response.version());
        if let Some(headers) = builder.headers_mut() {
            *headers = std::mem::take(response.headers_mut());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(TransportError::maybe_sent(MaybeSentReason::Protocol, None));
            }
            body.extend_from_slice(&chunk);
        }
        builder.body(body).map_err(|e| {
            TransportError::maybe_sent(MaybeSentReason::Protocol, Some(Box::new(e) as BoxError))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::to_reqwest;

    fn request(uri: &str, body: &str) -> crate::HttpRequest {
        http::Request::builder()
            .method("POST")
            .uri(uri)
            .version(http::Version::HTTP_11)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    #[test]
    fn each_request_keeps_its_own_url_headers_and_body_when_a_parsed_url_is_reused() {
        let sent = [
            ("http://127.0.0.1:1/a?x=1", "one"),
            ("http://127.0.0.1:1/a?x=1", "two"),
            ("https://127.0.0.1:2/b", "three"),
            ("http://127.0.0.1:1/a?x=1", "four"),
            ("http://127.0.0.1:1/a?x=2", "five"),
        ];
        for (uri, body) in sent {
            let converted = to_reqwest(request(uri, body)).unwrap();
            assert_eq!(converted.url().as_str(), uri);
            assert_eq!(converted.method(), http::Method::POST);
            assert_eq!(converted.version(), http::Version::HTTP_11);
            assert_eq!(
                converted.headers()["content-type"],
                "application/x-www-form-urlencoded"
            );
            let bytes = converted.body().and_then(reqwest::Body::as_bytes);
            assert_eq!(bytes, Some(body.as_bytes()), "{uri}");
        }
    }
}
