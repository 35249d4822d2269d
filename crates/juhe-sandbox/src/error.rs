//! The crate's one error type.

use std::path::PathBuf;

/// What can go wrong configuring or starting a sandbox.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A key (AES or RSA private key) could not be used.
    #[error("sandbox key configuration is invalid")]
    Crypto(#[from] juhe_crypto::CryptoError),
    /// A fixtures or faults file could not be read.
    #[error("cannot read {}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A fixtures or faults file has invalid content.
    #[error("{what}: {problem}")]
    InvalidFile {
        /// Which file or line.
        what: String,
        /// What is wrong.
        problem: String,
        /// The parser's error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The tokio runtime for a blocking sandbox could not be started.
    #[error("cannot start the sandbox runtime")]
    Runtime(#[source] std::io::Error),
    /// An external test server (`redis-server`) could not be started.
    #[error("{hint}")]
    Tool {
        /// What to do about it.
        hint: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Reads a configuration file, and tells whether its name ends in `.ext` (any case): the
/// fixtures and fault-plan loaders choose their format by extension.
pub(crate) fn read_config_file(
    path: &std::path::Path,
    ext: &str,
) -> Result<(String, bool), SandboxError> {
    let text = std::fs::read_to_string(path).map_err(|source| SandboxError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    let has_ext = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(ext));
    Ok((text, has_ext))
}
