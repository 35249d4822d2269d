//! Field encryption for Juhe's encrypted `telecom2Cucc` endpoints: AES (`queryEncry`) and
//! RSA-OAEP with SHA-1 (`queryRV2`), interoperable with Java JCE and OpenSSL.
//!
//! Build an encryptor once (keys are parsed and checked then) and share it across threads;
//! every [`FieldEncryptor::encrypt`] call returns the base64 text the API expects.
//!
//! ```
//! use juhe_crypto::{AesConfig, AesEncryptor, AesMode, FieldEncryptor, IvPolicy};
//!
//! // The vendor's scheme: key from the account's OpenID, AES-128-ECB, base64. Byte for byte
//! // what Java's Cipher.getInstance("AES/ECB/PKCS5Padding") produces:
//! let aes = AesEncryptor::new(AesConfig::from_openid("JH0123456789abcdef0123456789abcd")?);
//! assert_eq!(aes.encrypt("13800000000")?, "4OrXBktLnN8vEvItmH/ZFQ==");
//!
//! // Any other scheme an account may use, e.g. CBC with the IV equal to the key:
//! let config = AesConfig::new("1234567890abcdef")?.with_mode(AesMode::Cbc).with_iv(IvPolicy::SameAsKey);
//! assert_eq!(AesEncryptor::new(config).encrypt("13800138000")?, "ed94IFh2niaJJjw1QLO6vw==");
//! # Ok::<(), juhe_crypto::CryptoError>(())
//! ```
//!
//! Key material is zeroized on drop and never printed: `Debug` shows `[redacted]`.
//! Decryptors (what a server does) are behind the `decrypt` feature.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod aes_field;
#[cfg(feature = "demo")]
#[cfg_attr(docsrs, doc(cfg(feature = "demo")))]
pub mod demo;
mod encoding;
mod error;
mod plain;
mod rsa_engine;
mod rsa_key;
mod rsa_oaep;

pub use aes_field::{AesConfig, AesEncryptor, AesMode, IvPolicy};
pub use encoding::OutputEncoding;
pub use error::CryptoError;
pub use plain::PlainEncoder;
pub use rsa_engine::RSA_BACKEND;
pub use rsa_key::RsaPublicKey;
pub use rsa_oaep::RsaOaepEncryptor;

#[cfg(feature = "decrypt")]
#[cfg_attr(docsrs, doc(cfg(feature = "decrypt")))]
pub use aes_field::AesDecryptor;
#[cfg(feature = "decrypt")]
#[cfg_attr(docsrs, doc(cfg(feature = "decrypt")))]
pub use rsa_oaep::RsaOaepDecryptor;

/// Turns one plain field value (an ID card number, a mobile number) into what the endpoint
/// expects in that field.
///
/// Object-safe and `Send + Sync`, so a client can hold a `Box<dyn FieldEncryptor>` for
/// whichever mode it was configured with.
pub trait FieldEncryptor: Send + Sync {
    /// Encrypts (or, for [`PlainEncoder`], passes through) one field value.
    fn encrypt(&self, plaintext: &str) -> Result<String, CryptoError>;
}

/// The inverse of [`FieldEncryptor`], for servers such as the sandbox.
#[cfg(feature = "decrypt")]
#[cfg_attr(docsrs, doc(cfg(feature = "decrypt")))]
pub trait FieldDecryptor: Send + Sync {
    /// Decrypts one field value back to its UTF-8 plaintext.
    fn decrypt(&self, ciphertext: &str) -> Result<String, CryptoError>;
}

impl<T: FieldEncryptor + ?Sized> FieldEncryptor for Box<T> {
    fn encrypt(&self, plaintext: &str) -> Result<String, CryptoError> {
        (**self).encrypt(plaintext)
    }
}

impl<T: FieldEncryptor + ?Sized> FieldEncryptor for std::sync::Arc<T> {
    fn encrypt(&self, plaintext: &str) -> Result<String, CryptoError> {
        (**self).encrypt(plaintext)
    }
}
