//! The identity "encryptor" for the plain endpoint.

use crate::{CryptoError, FieldEncryptor};

/// Passes values through unchanged, so a client treats the plain endpoint like the others.
///
/// ```
/// use juhe_crypto::{FieldEncryptor, PlainEncoder};
/// assert_eq!(PlainEncoder.encrypt("13800138000").unwrap(), "13800138000");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlainEncoder;

impl FieldEncryptor for PlainEncoder {
    fn encrypt(&self, plaintext: &str) -> Result<String, CryptoError> {
        Ok(plaintext.to_owned())
    }
}
