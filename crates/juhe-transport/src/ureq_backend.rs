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
        let config = ureq::Agent::config_builder()
            .tls_config(tls_config(config)?)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(bounded(config.connect_timeout)))
            .timeout_global(Some(bounded(config.timeout)))
            .max_idle_connections_per_host(config.max_idle_per_host)
            .max_idle_age(bounded(config.idle_timeout))
            .user_agent(config.user_agent.as_str())
            .proxy(proxy)
            .build();
        let agent = ureq::Agent::with_parts(
            config,
            Connecting::default(),
            ureq::unversioned::resolver::DefaultResolver::default(),
        );
        Ok(UreqTransport(agent))
    }
}

/// ureq's own connectors (SOCKS, the proxy's CONNECT, TCP, TLS) with their failures marked as
/// [`WhileConnecting`]: ureq writes nothing of the request before the connection is made, so a
/// failure there was not sent, whatever it looks like. A proxy that resets the CONNECT or
/// answers it with something that is not HTTP gives an I/O or protocol error that after a
/// request would mean "maybe sent" (and a batch row `unknown`). `ureq::unversioned` may change
/// in a minor release: tests/backends.rs (`a_broken_connect_through_the_proxy_was_not_sent`)
/// shows whether it still holds.
#[derive(Debug, Default)]
struct Connecting(ureq::unversioned::transport::DefaultConnector);

impl ureq::unversioned::transport::Connector for Connecting {
    type Out = Box<dyn ureq::unversioned::transport::Transport>;

    fn connect(
        &self,
        details: &ureq::unversioned::transport::ConnectionDetails<'_>,
        chained: Option<()>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        self.0
            .connect(details, chained)
            .map_err(|e| ureq::Error::Other(Box::new(WhileConnecting(e))))
    }
}

/// A failure of ureq's connectors, sorted by [`classify`] as never sent.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct WhileConnecting(ureq::Error);

/// A timeout ureq can add to `Instant::now()`: it panics past the clock's range, so anything
/// longer than a century (`Duration::MAX` included) is taken as a century, i.e. never.
fn bounded(timeout: Duration) -> Duration {
    timeout.min(Duration::from_secs(100 * 365 * 24 * 3600))
}

/// Trusted roots: Mozilla's (unless turned off) and the configured extra ones. ureq takes one
/// list of certificates, so Mozilla's come as certificates (`webpki-root-certs`) when combined.
fn tls_config(config: &TransportConfig) -> Result<ureq::tls::TlsConfig, TransportError> {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    if config.built_in_roots && config.root_certificates.is_empty() {
        return Ok(TlsConfig::builder().root_certs(RootCerts::WebPki).build());
    }
    let mut certs: Vec<Certificate<'static>> = Vec::new();
    if config.built_in_roots {
        certs.extend(
            webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .map(|der| Certificate::from_der(der.as_ref()).to_owned()),
        );
    }
    certs.extend(
        crate::config::extra_roots(config)?
            .iter()
            .map(|der| Certificate::from_der(der.as_ref()).to_owned()),
    );
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
        // Nothing is written before the connection is made: whatever failed, not sent.
        E::Other(other) => match other.downcast::<WhileConnecting>() {
            Ok(connecting) => match classify(connecting.0) {
                TransportError::MaybeSent { source, .. } => {
                    TransportError::not_sent(NotSentReason::Connect, source)
                }
                not_sent => not_sent,
            },
            Err(other) => TransportError::maybe_sent(MaybeSentReason::Io, Some(other)),
        },
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
