//! Store keys: derived from the API key with HMAC-SHA256, so nothing in the store names the key,
//! an ID card or a mobile number, and nothing there can be reversed without the API key. Tags
//! are written with the letters `a`–`p` (one per nibble): no digit in a key can be mistaken for
//! part of a number.

use hmac::{Hmac, KeyInit, Mac};
use juhe_proto::{IdCard, Mobile, PairIdentity};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::ApiKey;

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    Zeroizing::new(mac.finalize().into_bytes().into())
}

/// Hexadecimal with the letters `a`–`p` for 0–15.
fn letters(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|b| [b >> 4, b & 0x0f])
        .map(|nibble| char::from(b'a' + nibble))
        .collect()
}

/// The two keys of one pair: its answer (or in-flight marker), and its waiter count. They
/// share a `{hash tag}`, so a script may touch both on Redis Cluster too.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PairKeys {
    /// The pair's state: an in-flight marker or an answer.
    pub(crate) state: String,
    /// How many callers wait for the in-flight check.
    pub(crate) waiters: String,
}

/// Key derivation for one API key. The derived secrets zeroize on drop.
pub(crate) struct FleetKeys {
    rate: String,
    slow: String,
    budget: String,
    pair_secret: Zeroizing<[u8; 32]>,
}

impl FleetKeys {
    pub(crate) fn new(api_key: &ApiKey) -> FleetKeys {
        let key = api_key.expose_secret().as_bytes();
        let bucket = hmac(key, &[b"juhe-2fa/rate-bucket/v1"]);
        let tag = letters(&bucket[..16]);
        FleetKeys {
            rate: format!("juhe2fa:rate:{{{tag}}}"),
            slow: format!("juhe2fa:slow:{{{tag}}}"),
            budget: format!("juhe2fa:budget:{{{tag}}}"),
            pair_secret: hmac(key, &[b"juhe-2fa/pair/v1"]),
        }
    }

    /// The rate bucket shared by every client of this API key.
    pub(crate) fn rate(&self) -> &str {
        &self.rate
    }

    /// The bucket's 10012 slow-down factor (same hash tag as the bucket).
    pub(crate) fn slow(&self) -> &str {
        &self.slow
    }

    /// The prefix of the spend budgets' counters (one hash tag: a script may take them all).
    pub(crate) fn budget(&self) -> &str {
        &self.budget
    }

    /// The keys of one pair: HMAC-SHA256(secret derived from the API key, the pair's
    /// [`PairIdentity`], the one definition of "the same pair").
    pub(crate) fn pair(&self, idcard: &IdCard, mobile: &Mobile) -> PairKeys {
        let tag = letters(&*hmac(
            &*self.pair_secret,
            &PairIdentity::new(idcard, mobile).parts(),
        ));
        PairKeys {
            state: format!("juhe2fa:pair:{{{tag}}}"),
            waiters: format!("juhe2fa:wait:{{{tag}}}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "110105199003071239";
    const MOBILE: &str = "13012345678";

    fn pair(key: &str, id: &str, mobile: &str) -> PairKeys {
        FleetKeys::new(&ApiKey::new(key))
            .pair(&IdCard::parse(id).unwrap(), &Mobile::parse(mobile).unwrap())
    }

    #[test]
    fn keys_name_neither_the_api_key_nor_the_numbers() {
        let keys = FleetKeys::new(&ApiKey::new("secret-api-key"));
        let p = pair("secret-api-key", ID, MOBILE);
        for k in [
            keys.rate(),
            keys.slow(),
            p.state.as_str(),
            p.waiters.as_str(),
        ] {
            assert!(!k.contains("secret"), "{k}");
            let digits: String = k.chars().filter(char::is_ascii_digit).collect();
            assert_eq!(digits, "2", "only juhe2fa's own digit in {k}");
        }
        assert!(p.state.starts_with("juhe2fa:pair:{") && p.state.ends_with('}'));
        assert_eq!(p.state.len(), "juhe2fa:pair:{}".len() + 64);
    }

    #[test]
    fn one_pair_one_key_per_api_key() {
        assert_eq!(pair("k1", ID, MOBILE), pair("k1", ID, MOBILE));
        // Normalised input: the same pair written another way is the same key.
        assert_eq!(pair("k1", ID, MOBILE), pair("k1", ID, "+86 130 1234 5678"));
        assert_ne!(pair("k1", ID, MOBILE), pair("k2", ID, MOBILE));
        assert_ne!(pair("k1", ID, MOBILE), pair("k1", ID, "13012345679"));
        assert_ne!(
            FleetKeys::new(&ApiKey::new("k1")).rate(),
            FleetKeys::new(&ApiKey::new("k2")).rate()
        );
    }
}
