//! The blocking backend: ureq 3 with rustls (ring), no redirects, HTTP error statuses returned
//! as responses.

use std::io::Read;
use std::time::Duration;

use crate::{
    BlockingTransport, BoxError, HttpRequest, HttpResponse, MaybeSentReason, NotSentReason,
    TransportConfig, TransportError,
};

const MAX_BODY: u64 = 1024 * 1024;

/// The blocking [`BlockingTransport`] over a pooled `ureq::Agent`. Clones share the pool.
#[derive(Debug, Clone)]
pub struct UreqTransport(ureq::Agent);

impl UreqTransport {
    /// An agent with `config`'s timeouts, proxy and pool size.
    pub fn new(config: &TransportConfig) -> Result<UreqTransport, TransportError> {
        let proxy = match &config.proxy {
            // The proxy URL may carry credentials: its error is not kept.
            Some(proxy) => Some(
                ureq::Proxy::new(proxy.url())
                    .map_err(|_| TransportError::not_sent(NotSentReason::Setup, None))?,
            ),
            None => None,
        };
        let agent = ureq::Agent::config_builder()
            .tls_config(tls_config(config)?)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(bounded(config.connect_timeout)))
            .timeout_global(Some(bounded(config.timeout)))
            .max_idle_connections_per_host(config.max_idle_per_host)
            .max_idle_age(bounded(config.idle_timeout))
            .user_agent(config.user_agent.as_str())
            .proxy(proxy)
            .build()
            .new_agent();
        Ok(UreqTransport(agent))
    }
}

/// A timeout ureq can add to `Instant::now()`: it panics past the clock's range, so anything
/// longer than a century (`Duration::MAX` included) is taken as a century, i.e. never.
fn bounded(timeout: Duration) -> Duration {
    timeout.min(Duration::from_secs(100 * 365 * 24 * 3600))
}

/// Trusted roots: Mozilla's (unless turned off) and the configured extra ones. ureq takes one
/// list of certificates, so Mozilla's come as certificates (`webpki-root-certs`) when combined.
fn tls_config(config: &TransportConfig) -> Result<ureq::tls::TlsConfig, TransportError> {
    use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
    if config.built_in_roots && config.root_certificates.is_empty() {
        return Ok(TlsConfig::builder().root_certs(RootCerts::WebPki).build());
    }
    let bad_root = || {
        TransportError::not_sent(
            NotSentReason::Setup,
            Some("a root certificate is not a PEM X.509 certificate".into()),
        )
    };
    let mut certs: Vec<Certificate<'static>> = Vec::new();
    if config.built_in_roots {
        certs.extend(
            webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .map(|der| Certificate::from_der(der.as_ref()).to_owned()),
        );
    }
    for pem in &config.root_certificates {
        let before = certs.len();
        for item in ureq::tls::parse_pem(pem.as_bytes()) {
            match item.map_err(|_| bad_root())? {
                PemItem::Certificate(cert) => certs.push(cert.to_owned()),
                _ => return Err(bad_root()),
            }
        }
        if certs.len() == before {
            return Err(bad_root());
        }
    }
    Ok(TlsConfig::builder()
        .root_certs(RootCerts::Specific(std::sync::Arc::new(certs)))
        .build())
}

fn boxed(e: ureq::Error) -> Option<BoxError> {
    Some(Box::new(e))
}

/// Sorts ureq's errors by whether the request may have been sent; never keeps a URL.
fn classify(e: ureq::Error) -> TransportError {
    use ureq::Error as E;
    use ureq::Timeout as T;
    match e {
        E::BadUri(_) | E::Http(_) => TransportError::not_sent(NotSentReason::InvalidRequest, None),
        E::HostNotFound => TransportError::not_sent(NotSentReason::Dns, boxed(e)),
        E::ConnectionFailed => TransportError::not_sent(NotSentReason::Connect, boxed(e)),
        E::Tls(_) => TransportError::not_sent(NotSentReason::Tls, boxed(e)),
        E::InvalidProxyUrl | E::ConnectProxyFailed(_) => {
            TransportError::not_sent(NotSentReason::Proxy, None)
        }
        E::Timeout(T::Resolve) => TransportError::not_sent(NotSentReason::Dns, boxed(e)),
        E::Timeout(T::Connect) => TransportError::not_sent(NotSentReason::Connect, boxed(e)),
        E::Timeout(_) => TransportError::maybe_sent(MaybeSentReason::Timeout, boxed(e)),
        E::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            TransportError::not_sent(NotSentReason::Connect, Some(Box::new(io) as BoxError))
        }
        // rustls reports a refused certificate (or any handshake failure) as an I/O error: the
        // handshake comes before the request, so nothing was sent.
        E::Io(io)
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>()) =>
        {
            TransportError::not_sent(NotSentReason::Tls, Some(Box::new(io) as BoxError))
        }
        E::Io(io) => TransportError::maybe_sent(
            MaybeSentReason::ConnectionClosed,
            Some(Box::new(io) as BoxError),
        ),
        E::Protocol(_) => TransportError::maybe_sent(MaybeSentReason::Protocol, boxed(e)),
        other => TransportError::maybe_sent(MaybeSentReason::Io, boxed(other)),
    }
}

impl BlockingTransport for UreqTransport {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let response = self.0.run(request).map_err(classify)?;
        let (parts, body) = response.into_parts();
        let mut bytes = Vec::new();
        body.into_reader()
            .take(MAX_BODY + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                TransportError::maybe_sent(
                    MaybeSentReason::ConnectionClosed,
                    Some(Box::new(e) as BoxError),
                )
            })?;
        if bytes.len() as u64 > MAX_BODY {
            return Err(TransportError::maybe_sent(MaybeSentReason::Protocol, None));
        }
        Ok(http::Response::from_parts(parts, bytes))
    }
}
