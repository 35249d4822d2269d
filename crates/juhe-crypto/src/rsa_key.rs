//! Reading RSA keys from the forms people paste: PEM, or base64 DER on one line (what a Java
//! console prints for `key.getEncoded()`).

use base64::Engine as _;
use der::Decode;
use rsa::pkcs1::{DecodeRsaPublicKey, RsaPublicKeyRef};
use rsa::pkcs8::spki::SubjectPublicKeyInfoRef;
use zeroize::Zeroizing;

use crate::CryptoError;

const MIN_BITS: usize = 1024;
const MAX_BITS: usize = 4096;
const PUBLIC_FORMS: &str = "PEM PUBLIC KEY, PEM RSA PUBLIC KEY, base64 DER SubjectPublicKeyInfo";

/// Key text decoded to DER, with its PEM label if it was PEM.
struct KeyDer {
    label: Option<String>,
    der: Zeroizing<Vec<u8>>,
}

fn read(text: &str, expected: &'static str, accepted: &'static str) -> Result<KeyDer, CryptoError> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        let (label, der) =
            der::pem::decode_vec(text.as_bytes()).map_err(|e| CryptoError::NotAnRsaKey {
                expected,
                accepted,
                source: Some(Box::new(der::Error::from(e))),
            })?;
        return Ok(KeyDer {
            label: Some(label.to_owned()),
            der: Zeroizing::new(der),
        });
    }
    let compact: Zeroizing<String> =
        Zeroizing::new(text.chars().filter(|c| !c.is_whitespace()).collect());
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| CryptoError::KeyNotBase64)?;
    Ok(KeyDer {
        label: None,
        der: Zeroizing::new(der),
    })
}

fn check_bits(modulus: &[u8]) -> Result<(), CryptoError> {
    let bits = match modulus.first() {
        Some(first) => modulus.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    };
    if (MIN_BITS..=MAX_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(CryptoError::RsaKeySize { bits })
    }
}

fn not_public(source: Option<der::Error>) -> CryptoError {
    CryptoError::NotAnRsaKey {
        expected: "public",
        accepted: PUBLIC_FORMS,
        source: source.map(|e| Box::new(e) as crate::error::BoxError),
    }
}

fn public_from_pkcs1(der: &[u8]) -> Result<rsa::PublicKey, CryptoError> {
    let key = RsaPublicKeyRef::from_der(der).map_err(|e| not_public(Some(e)))?;
    check_bits(key.modulus.as_bytes())?;
    rsa::PublicKey::from_pkcs1_der(der).map_err(|e| CryptoError::rsa(e.into()))
}

fn public_from_spki(der: &[u8]) -> Result<rsa::PublicKey, CryptoError> {
    let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|e| not_public(Some(e)))?;
    if spki.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
        return Err(not_public(None));
    }
    public_from_pkcs1(
        spki.subject_public_key
            .as_bytes()
            .ok_or_else(|| not_public(None))?,
    )
}

/// The vendor's RSA public key, parsed and checked (1024–4096 bits). Public key material, but
/// `Debug` shows only its size, so logs stay short and the type can be passed around freely.
///
/// ```
/// use juhe_crypto::RsaPublicKey;
///
/// let key: RsaPublicKey = include_str!("../tests/data/rsa2048/pub.pem").parse()?;
/// assert_eq!(key.bits(), 2048);
/// assert_eq!(format!("{key:?}"), "RsaPublicKey { bits: 2048 }");
/// assert!(RsaPublicKey::parse("not a key").is_err());
/// # Ok::<(), juhe_crypto::CryptoError>(())
/// ```
#[derive(Clone)]
pub struct RsaPublicKey {
    key: rsa::PublicKey,
    pub(crate) engine: crate::rsa_engine::PublicEngine,
}

impl RsaPublicKey {
    /// Parses PEM `PUBLIC KEY`, PEM `RSA PUBLIC KEY`, or base64 DER (SubjectPublicKeyInfo, as
    /// the vendor console shows it, or bare PKCS#1); whitespace and line breaks allowed.
    pub fn parse(text: &str) -> Result<RsaPublicKey, CryptoError> {
        RsaPublicKey::from_rsa(public_key(text)?)
    }

    /// Wraps a key read by this module (or derived from a private key), for the engine.
    pub(crate) fn from_rsa(key: rsa::PublicKey) -> Result<RsaPublicKey, CryptoError> {
        Ok(RsaPublicKey {
            engine: crate::rsa_engine::PublicEngine::new(&key)?,
            key,
        })
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        use rsa::traits::PublicKeyParts;
        self.key.n().bit_width() as usize
    }

    /// The modulus size in bytes (the ciphertext length).
    pub(crate) fn size(&self) -> usize {
        use rsa::traits::PublicKeyParts;
        self.key.size()
    }
}

impl PartialEq for RsaPublicKey {
    fn eq(&self, other: &RsaPublicKey) -> bool {
        self.key == other.key
    }
}

impl Eq for RsaPublicKey {}

impl std::str::FromStr for RsaPublicKey {
    type Err = CryptoError;

    fn from_str(text: &str) -> Result<RsaPublicKey, CryptoError> {
        RsaPublicKey::parse(text)
    }
}

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaPublicKey")
            .field("bits", &self.bits())
            .finish()
    }
}

/// Parses an RSA public key (1024–4096 bits) from PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`) or
/// base64 DER (SubjectPublicKeyInfo, or bare PKCS#1), whitespace anywhere allowed.
fn public_key(text: &str) -> Result<rsa::PublicKey, CryptoError> {
    let key = read(text, "public", PUBLIC_FORMS)?;
    match key.label.as_deref() {
        Some("PUBLIC KEY") => public_from_spki(&key.der),
        Some("RSA PUBLIC KEY") => public_from_pkcs1(&key.der),
        Some(label) if label.contains("PRIVATE KEY") => Err(CryptoError::PrivateKeyGiven),
        Some(_) => Err(not_public(None)),
        None => public_from_spki(&key.der).or_else(|spki_err| match public_from_pkcs1(&key.der) {
            Ok(k) => Ok(k),
            Err(CryptoError::NotAnRsaKey { .. }) if looks_private(&key.der) => {
                Err(CryptoError::PrivateKeyGiven)
            }
            Err(CryptoError::NotAnRsaKey { .. }) => Err(spki_err),
            Err(other) => Err(other),
        }),
    }
}

#[cfg(all(test, feature = "aws-lc"))]
pub(crate) fn test_public_key(text: &str) -> rsa::PublicKey {
    public_key(text).expect("a valid test key")
}

fn looks_private(der: &[u8]) -> bool {
    rsa::pkcs8::PrivateKeyInfoRef::from_der(der).is_ok()
        || rsa::pkcs1::RsaPrivateKeyRef::from_der(der).is_ok()
}

#[cfg(feature = "decrypt")]
pub(crate) use private::private_key;

#[cfg(feature = "decrypt")]
mod private {
    use rsa::pkcs1::{DecodeRsaPrivateKey, RsaPrivateKeyRef};
    use rsa::pkcs8::PrivateKeyInfoRef;

    use super::*;

    const PRIVATE_FORMS: &str = "PEM PRIVATE KEY, PEM RSA PRIVATE KEY, base64 PKCS#8 DER";

    fn not_private(source: Option<der::Error>) -> CryptoError {
        CryptoError::NotAnRsaKey {
            expected: "private",
            accepted: PRIVATE_FORMS,
            source: source.map(|e| Box::new(e) as crate::error::BoxError),
        }
    }

    fn from_pkcs1(der: &[u8]) -> Result<rsa::PrivateKey, CryptoError> {
        let key = RsaPrivateKeyRef::from_der(der).map_err(|e| not_private(Some(e)))?;
        check_bits(key.modulus.as_bytes())?;
        rsa::PrivateKey::from_pkcs1_der(der).map_err(|e| CryptoError::rsa(e.into()))
    }

    fn from_pkcs8(der: &[u8]) -> Result<rsa::PrivateKey, CryptoError> {
        let info = PrivateKeyInfoRef::from_der(der).map_err(|e| not_private(Some(e)))?;
        if info.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
            return Err(not_private(None));
        }
        from_pkcs1(info.private_key.as_bytes())
    }

    /// Parses an RSA private key (1024–4096 bits) from PEM (`PRIVATE KEY` or `RSA PRIVATE
    /// KEY`) or base64 DER (PKCS#8, or bare PKCS#1).
    pub(crate) fn private_key(text: &str) -> Result<rsa::PrivateKey, CryptoError> {
        let key = read(text, "private", PRIVATE_FORMS)?;
        match key.label.as_deref() {
            Some("PRIVATE KEY") => from_pkcs8(&key.der),
            Some("RSA PRIVATE KEY") => from_pkcs1(&key.der),
            Some(_) => Err(not_private(None)),
            None => from_pkcs8(&key.der).or_else(|pkcs8_err| match from_pkcs1(&key.der) {
                Err(CryptoError::NotAnRsaKey { .. }) => Err(pkcs8_err),
                other => other,
            }),
        }
    }
}
