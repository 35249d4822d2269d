//! AES field encryption (`queryEncry`). The default is the vendor's scheme (AES-128-ECB with a
//! key derived from the account's OpenID); every other mode and IV policy stays configurable,
//! since the API document itself says only "AES".

use std::fmt;
use std::str::FromStr;

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockCipherEncrypt, BlockModeEncrypt, KeyInit, KeyIvInit};
use aes::{Aes128, Aes192, Aes256};
use base64::Engine as _;
use zeroize::Zeroizing;

use crate::{CryptoError, FieldEncryptor, OutputEncoding};

const BLOCK: usize = 16;

/// AES block mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AesMode {
    /// ECB (default, what the vendor's own sample code uses): Java `AES/ECB/PKCS5Padding` (and
    /// Java's bare `"AES"`). The IV policy is ignored.
    #[default]
    Ecb,
    /// CBC: Java `AES/CBC/PKCS5Padding`, with the IV from [`IvPolicy`].
    Cbc,
}

impl FromStr for AesMode {
    type Err = CryptoError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cbc" => Ok(AesMode::Cbc),
            "ecb" => Ok(AesMode::Ecb),
            _ => Err(CryptoError::UnknownOption {
                what: "AES mode",
                value: s.to_owned(),
                expected: "cbc or ecb",
            }),
        }
    }
}

/// Where the CBC initialisation vector comes from (ignored in ECB mode).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IvPolicy {
    /// IV = the first 16 key bytes (default for CBC; a common convention in Java snippets).
    #[default]
    SameAsKey,
    /// 16 zero bytes.
    Zero,
    /// A fixed IV.
    Fixed([u8; 16]),
    /// A random IV per message, prepended to the ciphertext before encoding.
    RandomPrefix,
}

impl fmt::Debug for IvPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IvPolicy::SameAsKey => f.write_str("SameAsKey"),
            IvPolicy::Zero => f.write_str("Zero"),
            IvPolicy::Fixed(iv) => write!(f, "Fixed({})", hex::encode(iv)),
            IvPolicy::RandomPrefix => f.write_str("RandomPrefix"),
        }
    }
}

impl FromStr for IvPolicy {
    type Err = CryptoError;

    /// `same-as-key`, `zero`, `prefix` (or `random-prefix`), `fixed:<32 hex digits>`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some(hex_iv) = s.strip_prefix("fixed:") {
            let bytes = hex::decode(hex_iv).map_err(|_| CryptoError::InvalidIv)?;
            return bytes
                .try_into()
                .map(IvPolicy::Fixed)
                .map_err(|_| CryptoError::InvalidIv);
        }
        match s.to_ascii_lowercase().as_str() {
            "same-as-key" => Ok(IvPolicy::SameAsKey),
            "zero" => Ok(IvPolicy::Zero),
            "prefix" | "random-prefix" => Ok(IvPolicy::RandomPrefix),
            _ => Err(CryptoError::UnknownOption {
                what: "IV policy",
                value: s.to_owned(),
                expected: "same-as-key, zero, prefix or fixed:<32 hex digits>",
            }),
        }
    }
}

/// An AES key with its mode, IV policy and output encoding. Key bytes are zeroized on drop and
/// never printed.
///
/// The vendor's scheme is [`AesConfig::from_openid`]: AES-128-ECB, PKCS#5, base64, with the
/// key derived from the account's OpenID.
///
/// ```
/// use juhe_crypto::{AesConfig, AesEncryptor, AesMode, FieldEncryptor};
///
/// let vendor = AesConfig::from_openid("JH0123456789abcdef0123456789abcd")?;
/// assert_eq!(vendor.mode(), AesMode::Ecb);
/// assert_eq!(AesEncryptor::new(vendor).encrypt("13800000000")?, "4OrXBktLnN8vEvItmH/ZFQ==");
/// assert!(AesConfig::from_openid("  ").is_err());
/// # Ok::<(), juhe_crypto::CryptoError>(())
/// ```
///
/// Other schemes, for accounts set up differently:
///
/// ```
/// use juhe_crypto::{AesConfig, AesMode, IvPolicy};
///
/// let c = AesConfig::new("hex:000102030405060708090a0b0c0d0e0f")?
///     .with_mode(AesMode::Cbc)
///     .with_iv("zero".parse()?);
/// assert_eq!(c.key_bits(), 128);
/// assert!(!format!("{c:?}").contains("0a0b"));
/// assert!(AesConfig::new("too short").is_err());
/// # Ok::<(), juhe_crypto::CryptoError>(())
/// ```
#[derive(Clone)]
pub struct AesConfig {
    key: Zeroizing<Vec<u8>>,
    from_openid: bool,
    mode: AesMode,
    iv: IvPolicy,
    output: OutputEncoding,
}

impl AesConfig {
    /// The vendor's scheme for its encrypted (加密版) endpoints: the key is the first 16
    /// characters of the lowercase hex MD5 of the account's OpenID, used as 16 text bytes (not
    /// hex-decoded); AES-128-ECB, PKCS#5 padding, standard base64. In Java:
    /// `new SecretKeySpec(md5Hex(openid).substring(0, 16).getBytes(UTF_8), "AES")` with
    /// `Cipher.getInstance("AES/ECB/PKCS5Padding")`.
    ///
    /// Surrounding whitespace (a pasted newline) is ignored; an empty OpenID is an error. The
    /// OpenID and the derived key are zeroized after use and never printed.
    pub fn from_openid(openid: &str) -> Result<AesConfig, CryptoError> {
        use md5::{Digest, Md5};

        let openid = openid.trim();
        if openid.is_empty() {
            return Err(CryptoError::EmptyOpenId);
        }
        let mut digest = Md5::digest(openid.as_bytes());
        let hex_digest = Zeroizing::new(hex::encode(digest.as_slice()));
        zeroize::Zeroize::zeroize(digest.as_mut_slice());
        let mut config = AesConfig::from_bytes(&hex_digest.as_bytes()[..16])?;
        config.from_openid = true;
        Ok(config)
    }

    /// A key from text: `hex:<hex digits>`, `base64:<base64>`, or else the UTF-8 bytes of the
    /// string itself (what Java's `key.getBytes(UTF_8)` gives). Must be 16, 24 or 32 bytes.
    /// Defaults: ECB (the vendor's mode), base64 output; with [`AesMode::Cbc`] the IV defaults
    /// to [`IvPolicy::SameAsKey`].
    pub fn new(key: &str) -> Result<AesConfig, CryptoError> {
        let bytes = if let Some(h) = key.strip_prefix("hex:") {
            Zeroizing::new(
                hex::decode(h.trim()).map_err(|_| CryptoError::AesKeyEncoding { prefix: "hex" })?,
            )
        } else if let Some(b) = key.strip_prefix("base64:") {
            Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .map_err(|_| CryptoError::AesKeyEncoding { prefix: "base64" })?,
            )
        } else {
            Zeroizing::new(key.as_bytes().to_vec())
        };
        AesConfig::from_bytes(&bytes)
    }

    /// A key from raw bytes (16, 24 or 32).
    pub fn from_bytes(key: &[u8]) -> Result<AesConfig, CryptoError> {
        if !matches!(key.len(), 16 | 24 | 32) {
            return Err(CryptoError::AesKeyLength { found: key.len() });
        }
        Ok(AesConfig {
            key: Zeroizing::new(key.to_vec()),
            from_openid: false,
            mode: AesMode::default(),
            iv: IvPolicy::default(),
            output: OutputEncoding::default(),
        })
    }

    /// Sets the block mode.
    pub fn with_mode(mut self, mode: AesMode) -> AesConfig {
        self.mode = mode;
        self
    }

    /// Sets the IV policy (CBC only).
    pub fn with_iv(mut self, iv: IvPolicy) -> AesConfig {
        self.iv = iv;
        self
    }

    /// Sets the text encoding of ciphertexts.
    pub fn with_output(mut self, output: OutputEncoding) -> AesConfig {
        self.output = output;
        self
    }

    /// The block mode.
    pub fn mode(&self) -> AesMode {
        self.mode
    }

    /// The IV policy.
    pub fn iv_policy(&self) -> IvPolicy {
        self.iv
    }

    /// The output encoding.
    pub fn output(&self) -> OutputEncoding {
        self.output
    }

    /// Whether the key was derived from an OpenID ([`AesConfig::from_openid`]).
    pub fn is_openid_derived(&self) -> bool {
        self.from_openid
    }

    /// 128, 192 or 256.
    pub fn key_bits(&self) -> usize {
        self.key.len() * 8
    }

    /// The IV for one message (`None` for ECB), and whether it goes in front of the ciphertext.
    fn iv_for_message(&self) -> Result<Option<([u8; BLOCK], bool)>, CryptoError> {
        if self.mode == AesMode::Ecb {
            return Ok(None);
        }
        let mut iv = [0u8; BLOCK];
        let prefixed = match self.iv {
            IvPolicy::SameAsKey => {
                iv.copy_from_slice(&self.key[..BLOCK]);
                false
            }
            IvPolicy::Zero => false,
            IvPolicy::Fixed(fixed) => {
                iv = fixed;
                false
            }
            IvPolicy::RandomPrefix => {
                getrandom::fill(&mut iv).map_err(|e| CryptoError::Random(Box::new(e)))?;
                true
            }
        };
        Ok(Some((iv, prefixed)))
    }
}

impl fmt::Debug for AesConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = f.debug_struct("AesConfig");
        f.field(
            "key",
            &format_args!(
                "[redacted {} bits{}]",
                self.key_bits(),
                if self.from_openid {
                    ", from OpenID"
                } else {
                    ""
                }
            ),
        )
        .field("mode", &self.mode);
        // ECB has no IV: printing the (unused) IV policy would suggest one.
        if self.mode != AesMode::Ecb {
            f.field("iv", &self.iv);
        }
        f.field("output", &self.output).finish()
    }
}

fn cbc_encrypt<C: BlockCipherEncrypt>(key: &[u8], iv: &[u8; BLOCK], plaintext: &[u8]) -> Vec<u8>
where
    cbc::Encryptor<C>: KeyIvInit + BlockModeEncrypt,
{
    cbc::Encryptor::<C>::new_from_slices(key, iv)
        .expect("key length checked in AesConfig::from_bytes")
        .encrypt_padded_vec::<Pkcs7>(plaintext)
}

fn ecb_encrypt<C: BlockCipherEncrypt>(key: &[u8], plaintext: &[u8]) -> Vec<u8>
where
    ecb::Encryptor<C>: KeyInit + BlockModeEncrypt,
{
    ecb::Encryptor::<C>::new_from_slice(key)
        .expect("key length checked in AesConfig::from_bytes")
        .encrypt_padded_vec::<Pkcs7>(plaintext)
}

/// Dispatches on key length to the AES-128/192/256 instance of a generic function.
macro_rules! by_key_size {
    ($key:expr, $f:ident($($arg:expr),*)) => {
        match $key.len() {
            16 => $f::<Aes128>($($arg),*),
            24 => $f::<Aes192>($($arg),*),
            _ => $f::<Aes256>($($arg),*),
        }
    };
}

/// Encrypts field values with an [`AesConfig`]; PKCS#7 padding, output as configured.
#[derive(Clone, Debug)]
pub struct AesEncryptor {
    config: AesConfig,
}

impl AesEncryptor {
    /// An encryptor for `config` (the key was checked when the config was built).
    pub fn new(config: AesConfig) -> AesEncryptor {
        AesEncryptor { config }
    }

    /// The configuration.
    pub fn config(&self) -> &AesConfig {
        &self.config
    }

    /// Encrypts raw bytes to raw bytes (IV first with [`IvPolicy::RandomPrefix`]).
    pub fn encrypt_bytes(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let key = &self.config.key[..];
        Ok(match self.config.iv_for_message()? {
            None => by_key_size!(key, ecb_encrypt(key, plaintext)),
            Some((iv, prefixed)) => {
                let ciphertext = by_key_size!(key, cbc_encrypt(key, &iv, plaintext));
                if prefixed {
                    [&iv[..], &ciphertext].concat()
                } else {
                    ciphertext
                }
            }
        })
    }
}

impl FieldEncryptor for AesEncryptor {
    fn encrypt(&self, plaintext: &str) -> Result<String, CryptoError> {
        Ok(self
            .config
            .output
            .encode(&self.encrypt_bytes(plaintext.as_bytes())?))
    }
}

#[cfg(feature = "decrypt")]
mod decrypt {
    use aes::cipher::{BlockCipherDecrypt, BlockModeDecrypt};

    use super::*;
    use crate::FieldDecryptor;

    fn cbc_decrypt<C: BlockCipherDecrypt>(
        key: &[u8],
        iv: &[u8; BLOCK],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError>
    where
        cbc::Decryptor<C>: KeyIvInit + BlockModeDecrypt,
    {
        cbc::Decryptor::<C>::new_from_slices(key, iv)
            .expect("key length checked in AesConfig::from_bytes")
            .decrypt_padded_vec::<Pkcs7>(ciphertext)
            .map_err(|_| CryptoError::Padding)
    }

    fn ecb_decrypt<C: BlockCipherDecrypt>(
        key: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError>
    where
        ecb::Decryptor<C>: KeyInit + BlockModeDecrypt,
    {
        ecb::Decryptor::<C>::new_from_slice(key)
            .expect("key length checked in AesConfig::from_bytes")
            .decrypt_padded_vec::<Pkcs7>(ciphertext)
            .map_err(|_| CryptoError::Padding)
    }

    /// Decrypts what an [`AesEncryptor`] with the same [`AesConfig`] (or Java) produced.
    #[cfg_attr(docsrs, doc(cfg(feature = "decrypt")))]
    #[derive(Clone, Debug)]
    pub struct AesDecryptor {
        config: AesConfig,
    }

    impl AesDecryptor {
        /// A decryptor for `config`.
        pub fn new(config: AesConfig) -> AesDecryptor {
            AesDecryptor { config }
        }

        /// Decrypts raw bytes (IV first with [`IvPolicy::RandomPrefix`]).
        pub fn decrypt_bytes(&self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
            let key = &self.config.key[..];
            let cfg = &self.config;
            let (iv, body) = match (cfg.mode, cfg.iv) {
                (AesMode::Ecb, _) => (None, data),
                (AesMode::Cbc, IvPolicy::RandomPrefix) => {
                    if data.len() < BLOCK {
                        return Err(CryptoError::CiphertextLength { len: data.len() });
                    }
                    let (iv, body) = data.split_at(BLOCK);
                    (
                        Some(<[u8; BLOCK]>::try_from(iv).expect("split at 16")),
                        body,
                    )
                }
                (AesMode::Cbc, _) => (cfg.iv_for_message()?.map(|(iv, _)| iv), data),
            };
            if body.is_empty() || body.len() % BLOCK != 0 {
                return Err(CryptoError::CiphertextLength { len: body.len() });
            }
            let plain = match iv {
                None => by_key_size!(key, ecb_decrypt(key, body)),
                Some(iv) => by_key_size!(key, cbc_decrypt(key, &iv, body)),
            }?;
            Ok(Zeroizing::new(plain))
        }
    }

    impl FieldDecryptor for AesDecryptor {
        fn decrypt(&self, ciphertext: &str) -> Result<String, CryptoError> {
            let data = self.config.output.decode(ciphertext)?;
            let plain = self.decrypt_bytes(&data)?;
            std::str::from_utf8(&plain)
                .map(str::to_owned)
                .map_err(CryptoError::NotUtf8)
        }
    }
}

#[cfg(feature = "decrypt")]
#[cfg_attr(docsrs, doc(cfg(feature = "decrypt")))]
pub use decrypt::AesDecryptor;
