//! The crate's one error type.

/// A dependency's error, kept as a source without naming its type in our API.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong parsing keys, encrypting or decrypting.
///
/// Messages never contain key material or plaintext. Where a dependency's error would echo
/// key characters (hex/base64 decoders name the offending character), the source is dropped
/// on purpose and the message says what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// An AES key of the wrong length.
    #[error("AES key must be 16, 24 or 32 bytes (AES-128/192/256), got {found} bytes")]
    AesKeyLength {
        /// The length found, in bytes (after `hex:`/`base64:` decoding).
        found: usize,
    },
    /// A `hex:` or `base64:` key that does not decode.
    #[error("AES key after the `{prefix}` prefix is not valid {prefix} text")]
    AesKeyEncoding {
        /// `hex` or `base64`.
        prefix: &'static str,
    },
    /// An empty or whitespace-only OpenID given to [`AesConfig::from_openid`](crate::AesConfig::from_openid).
    #[error(
        "the OpenID is empty: copy it from the Juhe console (个人中心), where it is shown beside the account"
    )]
    EmptyOpenId,
    /// A `fixed:` IV that is not 32 hex digits.
    #[error("a fixed IV must be written as `fixed:` followed by 32 hex digits (16 bytes)")]
    InvalidIv,
    /// An unknown option name (mode, IV policy, encoding).
    #[error("unknown {what} {value:?}: expected {expected}")]
    UnknownOption {
        /// Which option.
        what: &'static str,
        /// What was given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// Key text that is neither PEM nor base64.
    #[error("the RSA key is neither PEM nor base64 DER (a key as Java's getEncoded() prints it)")]
    KeyNotBase64,
    /// DER that is not the kind of key expected.
    #[error("not an RSA {expected} key (accepted: {accepted})")]
    NotAnRsaKey {
        /// `public` or `private`.
        expected: &'static str,
        /// The formats accepted.
        accepted: &'static str,
        /// The DER decoder's error.
        #[source]
        source: Option<BoxError>,
    },
    /// A private key was given where a public key is needed.
    #[error(
        "this is an RSA private key; give the vendor's public key instead (and keep the private one secret)"
    )]
    PrivateKeyGiven,
    /// An RSA key outside 1024–4096 bits.
    #[error("RSA key has {bits} bits; only 1024 to 4096 bits are accepted")]
    RsaKeySize {
        /// The modulus size.
        bits: usize,
    },
    /// The plaintext does not fit one RSA-OAEP(SHA-1) block (k − 42 bytes).
    #[error("plaintext has {len} bytes, but RSA-OAEP(SHA-1) with this key fits at most {max}")]
    PlaintextTooLong {
        /// Bytes given.
        len: usize,
        /// The most this key can encrypt.
        max: usize,
    },
    /// The RSA operation failed (a broken key, an RNG failure, a decryption error).
    #[error("RSA operation failed")]
    Rsa(#[source] BoxError),
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random(#[source] BoxError),
    /// A ciphertext that is not valid base64 (or hex).
    #[error("ciphertext is not valid base64/hex text")]
    CiphertextEncoding,
    /// A ciphertext whose length is not whole AES blocks (or lacks the IV prefix).
    #[error("ciphertext has {len} bytes, which is not a whole number of 16-byte AES blocks")]
    CiphertextLength {
        /// Bytes after decoding (and after removing an IV prefix).
        len: usize,
    },
    /// Wrong PKCS#7 padding after AES decryption: wrong key, IV or mode.
    #[error("wrong padding after AES decryption (wrong key, IV or mode?)")]
    Padding,
    /// The decrypted bytes are not UTF-8.
    #[error("decrypted bytes are not UTF-8 text")]
    NotUtf8(#[source] std::str::Utf8Error),
}

impl CryptoError {
    pub(crate) fn rsa(e: rsa::Error) -> CryptoError {
        CryptoError::Rsa(Box::new(e))
    }
}
