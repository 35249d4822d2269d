//! RSA field encryption (`queryRV2`): Java's `RSA/ECB/OAEPWithSHA-1AndMGF1Padding`.

use std::fmt;

use crate::{CryptoError, FieldEncryptor, OutputEncoding, RsaPublicKey};

/// OAEP overhead with SHA-1: 2 × 20-byte digests + 2.
const OAEP_SHA1_OVERHEAD: usize = 42;

/// Encrypts field values with the vendor's RSA public key: OAEP, SHA-1 digest, MGF1 with
/// SHA-1, empty label (exactly what Java's `OAEPWithSHA-1AndMGF1Padding` means); standard
/// base64 output. OAEP is randomised: two encryptions of one value differ.
///
/// ```
/// use juhe_crypto::{FieldEncryptor, RsaOaepEncryptor};
///
/// let pem = include_str!("../tests/data/rsa2048/pub.pem");
/// let rsa = RsaOaepEncryptor::from_public_key(pem)?;
/// assert_eq!(rsa.key_bits(), 2048);
/// assert_eq!(rsa.max_plaintext_len(), 214);
/// let c = rsa.encrypt("13800138000")?;
/// assert_eq!(c.len(), 344); // 256 bytes in base64
/// assert_ne!(c, rsa.encrypt("13800138000")?);
/// # Ok::<(), juhe_crypto::CryptoError>(())
/// ```
#[derive(Clone)]
pub struct RsaOaepEncryptor {
    key: RsaPublicKey,
    output: OutputEncoding,
}

impl RsaOaepEncryptor {
    /// Parses the vendor's public key once: PEM `PUBLIC KEY`, PEM `RSA PUBLIC KEY`, or base64
    /// DER SubjectPublicKeyInfo on one line (whitespace and line breaks allowed); 1024–4096 bits.
    pub fn from_public_key(text: &str) -> Result<RsaOaepEncryptor, CryptoError> {
        RsaPublicKey::parse(text).map(RsaOaepEncryptor::new)
    }

    /// An encryptor for a key already parsed.
    pub fn new(key: RsaPublicKey) -> RsaOaepEncryptor {
        RsaOaepEncryptor {
            key,
            output: OutputEncoding::default(),
        }
    }

    /// Sets the text encoding of ciphertexts (base64 by default).
    pub fn with_output(mut self, output: OutputEncoding) -> RsaOaepEncryptor {
        self.output = output;
        self
    }

    /// The modulus size in bits.
    pub fn key_bits(&self) -> usize {
        self.key.bits()
    }

    /// The longest plaintext this key can encrypt: k − 42 bytes (86 / 214 / 470 for 1024 /
    /// 2048 / 4096-bit keys).
    pub fn max_plaintext_len(&self) -> usize {
        self.key.size() - OAEP_SHA1_OVERHEAD
    }

    /// Encrypts raw bytes to the k-byte ciphertext.
    pub fn encrypt_bytes(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let max = self.max_plaintext_len();
        if plaintext.len() > max {
            return Err(CryptoError::PlaintextTooLong {
                len: plaintext.len(),
                max,
            });
        }
        self.key.engine.encrypt(plaintext)
    }
}

impl FieldEncryptor for RsaOaepEncryptor {
    fn encrypt(&self, plaintext: &str) -> Result<String, CryptoError> {
        Ok(self
            .output
            .encode(&self.encrypt_bytes(plaintext.as_bytes())?))
    }
}

impl fmt::Debug for RsaOaepEncryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaOaepEncryptor")
            .field("bits", &self.key_bits())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "decrypt")]
#[cfg_attr(docsrs, doc(cfg(feature = "decrypt")))]
pub use decrypt::RsaOaepDecryptor;

#[cfg(feature = "decrypt")]
mod decrypt {
    use super::*;
    use crate::FieldDecryptor;

    /// Decrypts OAEP-SHA1 ciphertexts with a private key (servers and the sandbox only).
    ///
    /// Uses blinding against timing attacks on the private-key operation; see
    /// `docs/security.md` on RUSTSEC-2023-0071. The key zeroizes itself on drop.
    #[cfg_attr(docsrs, doc(cfg(feature = "decrypt")))]
    pub struct RsaOaepDecryptor {
        engine: crate::rsa_engine::PrivateEngine,
        public: RsaPublicKey,
        output: OutputEncoding,
    }

    impl RsaOaepDecryptor {
        /// Parses a private key: PEM `PRIVATE KEY` (PKCS#8), PEM `RSA PRIVATE KEY` (PKCS#1),
        /// or base64 DER (PKCS#8 or PKCS#1).
        pub fn from_private_key(text: &str) -> Result<RsaOaepDecryptor, CryptoError> {
            let key = crate::rsa_key::private_key(text)?;
            Ok(RsaOaepDecryptor {
                public: RsaPublicKey::from_rsa(key.to_public_key())?,
                engine: crate::rsa_engine::PrivateEngine::new(key)?,
                output: OutputEncoding::default(),
            })
        }

        /// Sets the text encoding of ciphertexts (base64 by default).
        pub fn with_output(mut self, output: OutputEncoding) -> RsaOaepDecryptor {
            self.output = output;
            self
        }

        /// The matching encryptor (for tests and demos).
        pub fn encryptor(&self) -> RsaOaepEncryptor {
            RsaOaepEncryptor {
                key: self.public.clone(),
                output: self.output,
            }
        }

        /// Decrypts a k-byte ciphertext to raw bytes.
        pub fn decrypt_bytes(
            &self,
            ciphertext: &[u8],
        ) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
            self.engine.decrypt(ciphertext)
        }
    }

    impl FieldDecryptor for RsaOaepDecryptor {
        fn decrypt(&self, ciphertext: &str) -> Result<String, CryptoError> {
            let plain = self.decrypt_bytes(&self.output.decode(ciphertext)?)?;
            std::str::from_utf8(&plain)
                .map(str::to_owned)
                .map_err(CryptoError::NotUtf8)
        }
    }

    impl fmt::Debug for RsaOaepDecryptor {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("RsaOaepDecryptor([redacted])")
        }
    }
}
