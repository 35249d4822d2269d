//! `--tls-cert` and `--tls-key`: TLS with rustls (ring), HTTP/1.1.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::CliError;

/// The acceptor for this certificate chain and key (PEM files).
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, CliError> {
    let bad = |flag: &str, path: &Path, e: &dyn std::fmt::Display| {
        CliError::usage(format!("{flag} {}: {e}", path.display()))
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad("--tls-cert", cert, &e))?;
    if certs.is_empty() {
        return Err(bad("--tls-cert", cert, &"no certificate in the file"));
    }
    // The key's content is never printed: only which file failed.
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| match e {
        // An I/O error says what happened to the file, never what it holds.
        tokio_rustls::rustls::pki_types::pem::Error::Io(io) => bad("--tls-key", key, &io),
        _ => bad("--tls-key", key, &"no PEM private key could be read"),
    })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CliError::failure(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, private)
        .map_err(|e| bad("--tls-key", key, &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
