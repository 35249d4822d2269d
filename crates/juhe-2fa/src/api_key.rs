//! `ApiKey`: the secret that pays for every call.

use std::fmt;

use zeroize::Zeroizing;

/// The Juhe API key. Zeroized on drop; `Debug` prints `ApiKey([redacted])`; there is no
/// `Display`. Only the request builder reads it.
///
/// ```
/// let key = juhe_2fa::ApiKey::new("0123456789abcdef");
/// assert_eq!(format!("{key:?}"), "ApiKey([redacted])");
/// ```
#[derive(Clone)]
pub struct ApiKey(Zeroizing<String>);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(Zeroizing::new(key.into()))
    }

    /// The key itself. Named loudly: use it to send, never to print.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

impl From<String> for ApiKey {
    fn from(key: String) -> Self {
        ApiKey::new(key)
    }
}

impl From<&str> for ApiKey {
    fn from(key: &str) -> Self {
        ApiKey::new(key)
    }
}
