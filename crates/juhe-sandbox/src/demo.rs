//! Built-in demo credentials, keys and fixtures, so the sandbox (and the CLI's `demo`) need no
//! setup. These keys are public test keys: never use them for anything real.

use juhe_proto::{ErrorCode, IdCard};

use crate::{Fixtures, Outcome};

pub use juhe_crypto::demo::{
    AES_KEY, API_KEY, FILES, OPENID, RSA_PRIVATE_KEY_PEM, RSA_PUBLIC_KEY_B64, RSA_PUBLIC_KEY_PEM,
};

/// A pair answered `res` 1 (match).
pub const MATCH: (&str, &str) = ("110105199003071239", "13012345678");
/// A pair answered `res` 2 (mismatch).
pub const MISMATCH: (&str, &str) = ("310104198511204567", "13112345678");
/// A pair answered 232904 (no record).
pub const NO_RECORD: (&str, &str) = ("440305199208157893", "18612345678");
/// A pair answered 232905 (network error, retryable).
pub const NETWORK_ERROR: (&str, &str) = ("320102197801012349", "18512345678");
/// A pair answered 232906 (query failed, retryable).
pub const QUERY_FAILED: (&str, &str) = ("510107200002295671", "15612345678");
/// A locally valid pair the vendor calls a malformed mobile number (232901).
pub const VENDOR_INVALID_MOBILE: (&str, &str) = ("330106198808088882", "17612345678");
/// A locally valid pair the vendor calls an invalid ID card number (232902).
pub const VENDOR_INVALID_IDCARD: (&str, &str) = ("420102199506060666", "16612345678");
/// A China Mobile number: answered 232903 (not supported) by the carrier check.
pub const NON_UNICOM: (&str, &str) = ("610103197001010121", "13800138000");

/// The demo fixture table: match, mismatch, and each service error code.
pub fn fixtures() -> Fixtures {
    let rows = [
        (MATCH, Outcome::Match),
        (MISMATCH, Outcome::Mismatch),
        (NO_RECORD, Outcome::Error(ErrorCode::NoRecord)),
        (NETWORK_ERROR, Outcome::Error(ErrorCode::NetworkError)),
        (QUERY_FAILED, Outcome::Error(ErrorCode::QueryFailed)),
        (
            VENDOR_INVALID_MOBILE,
            Outcome::Error(ErrorCode::InvalidMobile),
        ),
        (
            VENDOR_INVALID_IDCARD,
            Outcome::Error(ErrorCode::InvalidIdCard),
        ),
    ];
    rows.into_iter()
        .fold(Fixtures::new(), |f, ((idcard, mobile), outcome)| {
            f.with(idcard, mobile, outcome)
                .expect("demo pairs are valid")
        })
}

/// The `n`th of a series of distinct, locally valid China Unicom pairs (ID cards born in 1990
/// in Beijing's Chaoyang district, mobiles `130…`), for load tests and benchmarks. Distinct for
/// `n` below 336,000; unknown to the fixtures, so answered by the default verdict.
pub fn pair(n: usize) -> (String, String) {
    let first17 = format!(
        "1101051990{:02}{:02}{:03}",
        1 + (n / 28_000) % 12,
        1 + (n / 1000) % 28,
        n % 1000
    );
    let idcard = IdCard::with_check_digit(&first17).expect("17 digits");
    (idcard, format!("130{:08}", n % 100_000_000))
}

#[cfg(test)]
mod tests {
    #[test]
    fn series_pairs_are_valid_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for n in (0..336_000).step_by(97).chain([335_999]) {
            let (id, mobile) = super::pair(n);
            juhe_proto::IdCard::parse(&id).unwrap();
            assert_eq!(
                juhe_proto::Mobile::parse(&mobile).unwrap().carrier(),
                juhe_proto::Carrier::Unicom
            );
            assert!(seen.insert(id), "{n}");
        }
    }
}
