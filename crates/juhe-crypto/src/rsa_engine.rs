//! The RSA-OAEP(SHA-1) engine behind `RsaOaepEncryptor` and `RsaOaepDecryptor`: the pure-Rust
//! `rsa` crate by default, AWS-LC (C and assembly) with feature `aws-lc`. Keys are always read
//! by `rsa_key` (same formats, same errors); the engine gets them as DER.

/// The RSA engine this build uses: `"rsa"` (pure Rust, the default) or `"aws-lc"`.
pub const RSA_BACKEND: &str = if cfg!(feature = "aws-lc") {
    "aws-lc"
} else {
    "rsa"
};

/// The pure-Rust engine: the default, and AWS-LC's fallback for keys under 2048 bits.
mod pure {
    use sha1::Sha1;

    use crate::CryptoError;

    #[derive(Clone)]
    pub(crate) struct PublicEngine(rsa::PublicKey);

    impl PublicEngine {
        pub(crate) fn new(key: &rsa::PublicKey) -> Result<PublicEngine, CryptoError> {
            Ok(PublicEngine(key.clone()))
        }

        pub(crate) fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
            self.0
                .oaep_encrypt::<Sha1>(plaintext)
                .map_err(CryptoError::rsa)
        }
    }

    #[cfg(feature = "decrypt")]
    pub(crate) struct PrivateEngine(rsa::PrivateKey);

    #[cfg(feature = "decrypt")]
    impl PrivateEngine {
        pub(crate) fn new(key: rsa::PrivateKey) -> Result<PrivateEngine, CryptoError> {
            Ok(PrivateEngine(key))
        }

        pub(crate) fn decrypt(
            &self,
            ciphertext: &[u8],
        ) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
            self.0
                .oaep_decrypt::<Sha1>(ciphertext)
                .map(zeroize::Zeroizing::new)
                .map_err(CryptoError::rsa)
        }
    }
}

#[cfg(feature = "aws-lc")]
mod imp {
    use std::sync::Arc;

    use aws_lc_rs::rsa::{
        OAEP_SHA1_MGF1SHA1, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
        PrivateDecryptingKey, PublicEncryptingKey,
    };
    use rsa::traits::PublicKeyParts;

    use super::pure;
    use crate::CryptoError;

    /// AWS-LC takes 2048 bits and more; smaller (legacy) keys stay on the pure-Rust engine.
    const AWS_LC_MIN_BITS: u32 = 2048;

    /// The failures AWS-LC reports carry no detail; they are reported as the `rsa` crate's
    /// errors for the same case, so callers see the same error whichever engine runs.
    fn failed<E>(error: rsa::Error) -> impl FnOnce(E) -> CryptoError {
        move |_| CryptoError::rsa(error)
    }

    fn invalid<E>(_: E) -> CryptoError {
        CryptoError::rsa(rsa::Error::InvalidModulus)
    }

    #[derive(Clone)]
    pub(crate) enum PublicEngine {
        AwsLc(Arc<OaepPublicEncryptingKey>),
        Pure(pure::PublicEngine),
    }

    impl PublicEngine {
        pub(crate) fn new(key: &rsa::PublicKey) -> Result<PublicEngine, CryptoError> {
            use rsa::pkcs8::EncodePublicKey;
            if key.n().bit_width() < AWS_LC_MIN_BITS {
                return pure::PublicEngine::new(key).map(PublicEngine::Pure);
            }
            let der = key.to_public_key_der().map_err(invalid)?;
            let key = PublicEncryptingKey::from_der(der.as_bytes()).map_err(invalid)?;
            let key = OaepPublicEncryptingKey::new(key).map_err(invalid)?;
            Ok(PublicEngine::AwsLc(Arc::new(key)))
        }

        pub(crate) fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
            let key = match self {
                PublicEngine::AwsLc(key) => key,
                PublicEngine::Pure(engine) => return engine.encrypt(plaintext),
            };
            let mut out = vec![0; key.ciphertext_size()];
            let len = key
                .encrypt(&OAEP_SHA1_MGF1SHA1, plaintext, &mut out, None)
                .map_err(failed(rsa::Error::Internal))?
                .len();
            out.truncate(len);
            Ok(out)
        }
    }

    #[cfg(feature = "decrypt")]
    pub(crate) enum PrivateEngine {
        AwsLc(OaepPrivateDecryptingKey),
        Pure(Box<pure::PrivateEngine>),
    }

    #[cfg(feature = "decrypt")]
    impl PrivateEngine {
        pub(crate) fn new(key: rsa::PrivateKey) -> Result<PrivateEngine, CryptoError> {
            use rsa::pkcs8::EncodePrivateKey;
            if key.n().bit_width() < AWS_LC_MIN_BITS {
                return pure::PrivateEngine::new(key).map(|e| PrivateEngine::Pure(Box::new(e)));
            }
            // A zeroizing document: the key's DER never lingers in freed memory.
            let der = key.to_pkcs8_der().map_err(invalid)?;
            let key = PrivateDecryptingKey::from_pkcs8(der.as_bytes()).map_err(invalid)?;
            Ok(PrivateEngine::AwsLc(
                OaepPrivateDecryptingKey::new(key).map_err(invalid)?,
            ))
        }

        pub(crate) fn decrypt(
            &self,
            ciphertext: &[u8],
        ) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
            let key = match self {
                PrivateEngine::AwsLc(key) => key,
                PrivateEngine::Pure(engine) => return engine.decrypt(ciphertext),
            };
            let mut out = zeroize::Zeroizing::new(vec![0; key.min_output_size()]);
            let len = key
                .decrypt(&OAEP_SHA1_MGF1SHA1, ciphertext, &mut out, None)
                .map_err(failed(rsa::Error::Decryption))?
                .len();
            out.truncate(len);
            Ok(out)
        }
    }
}

#[cfg(all(feature = "aws-lc", feature = "decrypt"))]
pub(crate) use imp::PrivateEngine;
#[cfg(feature = "aws-lc")]
pub(crate) use imp::PublicEngine;
#[cfg(all(not(feature = "aws-lc"), feature = "decrypt"))]
pub(crate) use pure::PrivateEngine;
#[cfg(not(feature = "aws-lc"))]
pub(crate) use pure::PublicEngine;

#[cfg(all(test, feature = "aws-lc"))]
mod tests {
    use super::PublicEngine;

    #[test]
    fn aws_lc_takes_2048_bits_and_up_the_pure_engine_smaller_keys() {
        let engine = |pem| match PublicEngine::new(&crate::rsa_key::test_public_key(pem)) {
            Ok(PublicEngine::AwsLc(_)) => "aws-lc",
            Ok(PublicEngine::Pure(_)) => "rsa",
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            engine(include_str!("../tests/data/rsa2048/pub.pem")),
            "aws-lc"
        );
        assert_eq!(engine(include_str!("../tests/data/rsa1024/pub.pem")), "rsa");
        assert_eq!(super::RSA_BACKEND, "aws-lc");
    }
}
