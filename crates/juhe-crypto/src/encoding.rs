//! How ciphertext bytes become text on the wire.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::CryptoError;

/// Text encoding of ciphertexts. The vendor expects standard base64 (with padding), as Java's
/// `Base64.getEncoder()` writes it; hex is there for vendors' variants and debugging.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OutputEncoding {
    /// Standard base64 with `+`, `/` and `=` padding (default).
    #[default]
    Base64,
    /// Lower-case hex.
    Hex,
}

impl OutputEncoding {
    pub(crate) fn encode(self, bytes: &[u8]) -> String {
        match self {
            OutputEncoding::Base64 => STANDARD.encode(bytes),
            OutputEncoding::Hex => hex::encode(bytes),
        }
    }

    #[cfg_attr(not(feature = "decrypt"), allow(dead_code))]
    pub(crate) fn decode(self, text: &str) -> Result<Vec<u8>, CryptoError> {
        match self {
            OutputEncoding::Base64 => STANDARD
                .decode(text)
                .map_err(|_| CryptoError::CiphertextEncoding),
            OutputEncoding::Hex => hex::decode(text).map_err(|_| CryptoError::CiphertextEncoding),
        }
    }
}

impl std::str::FromStr for OutputEncoding {
    type Err = CryptoError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "base64" => Ok(OutputEncoding::Base64),
            "hex" => Ok(OutputEncoding::Hex),
            _ => Err(CryptoError::UnknownOption {
                what: "output encoding",
                value: s.to_owned(),
                expected: "base64 or hex",
            }),
        }
    }
}
