//! Bearer tokens: made once (`--new-token`), known to the gateway only by their SHA-256, and
//! compared in constant time.

use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::config::Caller;

/// Tokens the gateway makes start with this, so secret scanners can find leaked ones.
const PREFIX: &str = "j2fa_";

/// SHA-256 of a token.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A fresh token: 256 random bits from the operating system.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{PREFIX}{}", hex::encode(bytes)))
}

/// The token of `Authorization: Bearer <token>`. Two `Authorization` headers are no token:
/// which one counts would depend on who reads them (a proxy may add its own).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let value = values.next()?.to_str().ok()?;
    if values.next().is_some() {
        return None;
    }
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The caller whose token the request carries. Every caller's digest is compared, in constant
/// time, whichever matches: the time taken says nothing about the token.
pub fn caller<'c>(callers: &'c [Caller], headers: &HeaderMap) -> Option<&'c Caller> {
    let presented = digest(bearer(headers)?);
    let mut found = None;
    for caller in callers {
        if bool::from(caller.digest.ct_eq(&presented)) {
            found = Some(caller);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn bearer_tokens_are_read_strictly() {
        assert_eq!(bearer(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&headers("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(&headers("Basic abc")), None);
        assert_eq!(bearer(&headers("Bearer ")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
        let mut two = headers("Bearer abc");
        two.append(http::header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&two), None);
        let token = new_token().unwrap();
        assert!(token.starts_with(PREFIX) && token.len() == PREFIX.len() + 64);
        assert_ne!(token, new_token().unwrap());
    }
}
