//! Settings every backend honours.

use std::fmt;
use std::time::Duration;

use crate::Proxy;

/// Timeouts, proxy and pool settings for a backend. Safe defaults: 5 s to connect, 15 s for
/// the whole exchange, no redirects (always), connection reuse for at most 4 s of idleness.
#[derive(Clone)]
#[non_exhaustive]
pub struct TransportConfig {
    /// Time allowed to resolve and connect (and TLS handshake, where the backend separates it).
    pub connect_timeout: Duration,
    /// Time allowed for the whole exchange.
    pub timeout: Duration,
    /// A proxy (may carry credentials; never printed).
    pub proxy: Option<Proxy>,
    /// Idle connections kept per host for reuse.
    pub max_idle_per_host: usize,
    /// How long an idle connection stays in the pool (default 4 s). Keep it below the server's
    /// keep-alive timeout (nginx 75 s, Apache and Node.js 5 s): a connection the server closes
    /// just as a request goes out makes that request's fate unknown.
    pub idle_timeout: Duration,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Extra trusted root certificates, PEM (e.g. a corporate CA that inspects TLS).
    pub root_certificates: Vec<String>,
    /// Whether Mozilla's roots (webpki) are trusted too (default true).
    pub built_in_roots: bool,
}

/// Below the shortest common server keep-alive (Apache's and Node.js's 5 s).
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            proxy: None,
            max_idle_per_host: 32,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            user_agent: concat!("juhe-2fa/", env!("CARGO_PKG_VERSION")).to_owned(),
            root_certificates: Vec::new(),
            built_in_roots: true,
        }
    }
}

impl TransportConfig {
    /// Sets [`TransportConfig::connect_timeout`].
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`TransportConfig::timeout`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`TransportConfig::proxy`].
    pub fn with_proxy(mut self, proxy: Option<Proxy>) -> Self {
        self.proxy = proxy;
        self
    }

    /// Sets [`TransportConfig::max_idle_per_host`].
    pub fn with_max_idle_per_host(mut self, n: usize) -> Self {
        self.max_idle_per_host = n;
        self
    }

    /// Sets [`TransportConfig::idle_timeout`].
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Adds a trusted root certificate (PEM; a bundle of several is fine).
    pub fn with_root_certificate(mut self, pem: impl Into<String>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// Sets [`TransportConfig::built_in_roots`].
    pub fn with_built_in_roots(mut self, trusted: bool) -> Self {
        self.built_in_roots = trusted;
        self
    }

    /// Sets [`TransportConfig::user_agent`].
    pub fn with_user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = agent.into();
        self
    }
}

impl fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportConfig")
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("proxy", &self.proxy)
            .field("max_idle_per_host", &self.max_idle_per_host)
            .field("idle_timeout", &self.idle_timeout)
            .field("user_agent", &self.user_agent)
            .field("root_certificates", &self.root_certificates.len())
            .field("built_in_roots", &self.built_in_roots)
            .finish()
    }
}

/// The certificates of [`TransportConfig::root_certificates`], as every backend reads them:
/// the `CERTIFICATE` blocks of each PEM text (other blocks, such as a private key kept in the
/// same file, are skipped); a text without one, or with one that is not a certificate, is an
/// error.
#[cfg(any(feature = "reqwest", feature = "ureq"))]
pub(crate) fn extra_roots(
    config: &TransportConfig,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, crate::TransportError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = Vec::new();
    for pem in &config.root_certificates {
        let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| bad_root())?;
        // Each must be a trust anchor (base64 in PEM armour may be no X.509): refused here,
        // when the client is built, whichever the backend.
        let usable = certs.iter().all(|c| {
            rustls::RootCertStore::empty()
                .add(c.clone().into_owned())
                .is_ok()
        });
        if certs.is_empty() || !usable {
            return Err(bad_root());
        }
        roots.extend(certs);
    }
    Ok(roots)
}

/// A root certificate that cannot be used.
#[cfg(any(feature = "reqwest", feature = "ureq"))]
pub(crate) fn bad_root() -> crate::TransportError {
    crate::TransportError::not_sent(
        crate::NotSentReason::Setup,
        Some("a root certificate is not a PEM X.509 certificate".into()),
    )
}
