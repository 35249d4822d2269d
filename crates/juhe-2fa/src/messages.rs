//! What to tell people about a failure: the person being verified (`public_message`,
//! `message_zh`: short, no key, no digits, no Rust names, no vendor internals) and the operator
//! (`hint`: what to do about it). `Display` stays the developer's detailed message.

use juhe_proto::{Endpoint, ErrorCode, ErrorKind};

use crate::{Error, ErrorClass};

/// The messages for people, in English and Chinese, one per situation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Public {
    NotUnicom,
    InvalidMobile,
    InvalidIdCard,
    NoRecord,
    TryLater,
    TooMany,
    Unavailable,
    Unconfirmed,
    Cancelled,
}

impl Public {
    fn en(self) -> &'static str {
        match self {
            Public::NotUnicom => "Only China Unicom mobile numbers can be checked.",
            Public::InvalidMobile => "The mobile number is not valid.",
            Public::InvalidIdCard => "The ID card number is not valid.",
            Public::NoRecord => "No record was found for this ID card number and mobile number.",
            Public::TryLater => "The check is temporarily unavailable. Please try again later.",
            Public::TooMany => "Too many checks right now. Please try again later.",
            Public::Unavailable => "The check is unavailable right now.",
            Public::Unconfirmed => {
                "The result could not be confirmed. Please contact us before trying again."
            }
            Public::Cancelled => "The check was cancelled.",
        }
    }

    fn zh(self) -> &'static str {
        match self {
            Public::NotUnicom => "仅支持核验中国联通手机号码。",
            Public::InvalidMobile => "手机号码无效。",
            Public::InvalidIdCard => "身份证号码无效。",
            Public::NoRecord => "未查到该身份证号码与手机号码的记录。",
            Public::TryLater => "核验服务暂时不可用，请稍后再试。",
            Public::TooMany => "当前核验请求过多，请稍后再试。",
            Public::Unavailable => "核验服务暂不可用。",
            Public::Unconfirmed => "核验结果无法确认，请先联系我们再重试。",
            Public::Cancelled => "核验已取消。",
        }
    }
}

impl Error {
    /// True when the answer most likely means wrong key material rather than a wrong number:
    /// 232901 (malformed mobile) or 232902 (invalid ID card) from an encrypted endpoint for
    /// numbers that passed local validation — the vendor could not decrypt them (a wrong OpenID,
    /// AES key or RSA key) — or 10004 (wrong OpenID).
    ///
    /// ```
    /// use juhe_2fa::{Endpoint, Error, ErrorCode};
    /// let aes = Error::Api { code: ErrorCode::InvalidMobile, reason: String::new(), mode: Endpoint::Aes };
    /// assert!(aes.likely_key_material());
    /// let plain = Error::Api { code: ErrorCode::InvalidMobile, reason: String::new(), mode: Endpoint::Plain };
    /// assert!(!plain.likely_key_material());
    /// ```
    pub fn likely_key_material(&self) -> bool {
        match self {
            Error::Api { code, mode, .. } if code.is_unreadable_field() => *mode != Endpoint::Plain,
            Error::Api {
                code: ErrorCode::InvalidOpenId,
                ..
            } => true,
            _ => false,
        }
    }

    /// What the operator can do about it, when there is something (the `juhe-2fa` command
    /// prints it under the error).
    pub fn hint(&self) -> Option<&'static str> {
        if self.likely_key_material() {
            return Some(
                "the vendor could not read the encrypted fields: check the OpenID / AES key / RSA public key (--openid, --aes-key, --rsa-public-key); `juhe-2fa doctor` finds the scheme your account accepts",
            );
        }
        match self.class() {
            ErrorClass::Api(code) => match code.kind() {
                ErrorKind::Credential => Some(
                    "check the API key (--key / JUHE_KEY) and its permissions in the Juhe console",
                ),
                ErrorKind::Disabled => Some("the key, IP or API is blocked: contact Juhe"),
                ErrorKind::RateLimited => {
                    Some("slow down (a rate limit, e.g. --qps) or wait; the quota resets")
                }
                ErrorKind::UnsupportedNumber => {
                    Some("this API answers only for China Unicom numbers")
                }
                _ => None,
            },
            ErrorClass::Ambiguous => {
                Some("the request may have been billed; check the order before sending it again")
            }
            ErrorClass::Unbilled => Some("check the network, the base URL and the timeout"),
            ErrorClass::Budget if matches!(self, Error::CallerRate { .. }) => {
                Some("this caller sends more checks a second than its qps allows: slow down")
            }
            ErrorClass::Budget => {
                Some("the budget resets at the time given; raise it only if the spend is intended")
            }
            ErrorClass::Config => Some("fix the configuration named above"),
            ErrorClass::Rejected | ErrorClass::Cancelled => None,
        }
    }

    fn public(&self) -> Public {
        if self.likely_key_material() {
            return Public::Unavailable;
        }
        match self.class() {
            ErrorClass::Rejected => match self {
                Error::UnsupportedCarrier { .. } => Public::NotUnicom,
                Error::InvalidInput(e) if e.field() == juhe_proto::Field::Mobile => {
                    Public::InvalidMobile
                }
                _ => Public::InvalidIdCard,
            },
            ErrorClass::Api(code) => match (code, code.kind()) {
                (ErrorCode::InvalidMobile, _) => Public::InvalidMobile,
                (ErrorCode::InvalidIdCard, _) => Public::InvalidIdCard,
                (_, ErrorKind::UnsupportedNumber) => Public::NotUnicom,
                (_, ErrorKind::NoRecord) => Public::NoRecord,
                (_, ErrorKind::Transient) => Public::TryLater,
                (_, ErrorKind::RateLimited) => Public::TooMany,
                _ => Public::Unavailable,
            },
            ErrorClass::Budget if matches!(self, Error::CallerRate { .. }) => Public::TooMany,
            ErrorClass::Unbilled | ErrorClass::Budget => Public::TryLater,
            ErrorClass::Ambiguous => Public::Unconfirmed,
            ErrorClass::Config => Public::Unavailable,
            ErrorClass::Cancelled => Public::Cancelled,
        }
    }

    /// A short message for the person being verified, in English: no key, no digits, no Rust
    /// names, no vendor internals. An invalid number says what is wrong with it
    /// (`ValidationError::public_message`).
    ///
    /// ```
    /// let e = juhe_2fa::IdCard::parse("110105199003071238").map_err(juhe_2fa::Error::from).unwrap_err();
    /// assert_eq!(e.public_message(), "The ID card number is not valid (check digit).");
    /// assert_eq!(e.message_zh(), "身份证号码校验位不正确");
    /// ```
    pub fn public_message(&self) -> String {
        match self {
            Error::InvalidInput(e) => e.public_message(),
            _ => self.public().en().to_owned(),
        }
    }

    /// [`Error::public_message`] in Chinese.
    pub fn message_zh(&self) -> String {
        match self {
            Error::InvalidInput(e) => e.message_zh(),
            _ => self.public().zh().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use juhe_transport::{MaybeSentReason, NotSentReason, TransportError};

    fn api(code: ErrorCode, mode: Endpoint) -> Error {
        Error::Api {
            code,
            reason: "reason from the vendor 13012345678".into(),
            mode,
        }
    }

    #[test]
    fn every_code_and_class_has_safe_messages_in_both_languages() {
        let mut errors: Vec<Error> = (0..=300_000)
            .filter_map(|n| {
                let code = ErrorCode::from_code(n);
                (!matches!(code, ErrorCode::Other(_))).then(|| api(code, Endpoint::Plain))
            })
            .collect();
        errors.extend([
            api(ErrorCode::InvalidMobile, Endpoint::Rsa),
            api(ErrorCode::Other(239999), Endpoint::Plain),
            Error::Transport(TransportError::not_sent(NotSentReason::Connect, None)),
            Error::Transport(TransportError::maybe_sent(MaybeSentReason::Timeout, None)),
            Error::AmbiguousElsewhere,
            Error::Deadline { sent: false },
            Error::CallerRate {
                retry_after: std::time::Duration::from_millis(1500),
            },
            Error::Cancelled("no".into()),
            Error::config("the base URL names no host"),
            Error::Budget {
                budget: crate::budget::Budget::per_day(5),
                resets_at: "2026-12-01 00:00 China time".into(),
            },
        ]);
        for input in [
            "11010519900307123",
            "110105199003071238",
            "12012345678",
            "11",
        ] {
            errors.push(Error::from(
                juhe_proto::IdCard::parse(input)
                    .err()
                    .or_else(|| juhe_proto::Mobile::parse(input).err())
                    .unwrap(),
            ));
        }
        assert!(errors.len() > 25);
        for e in &errors {
            for message in [e.public_message(), e.message_zh()] {
                assert!(!message.is_empty(), "{e:?}");
                // Counts and positions only: never a run of digits long enough to be a number.
                let longest = message
                    .split(|c: char| !c.is_ascii_digit())
                    .map(str::len)
                    .max()
                    .unwrap_or(0);
                assert!(longest <= 2, "{e:?}: {message}");
                for word in ["::", "Error", "juhe", "KEY", "error_code", "reason", "客服"] {
                    assert!(!message.contains(word), "{e:?}: {message}");
                }
            }
            assert!(
                e.message_zh()
                    .chars()
                    .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{e:?}"
            );
        }
    }

    #[test]
    fn key_material_is_suspected_only_on_encrypted_endpoints() {
        assert!(api(ErrorCode::InvalidIdCard, Endpoint::Aes).likely_key_material());
        assert!(api(ErrorCode::InvalidMobile, Endpoint::Rsa).likely_key_material());
        assert!(!api(ErrorCode::InvalidMobile, Endpoint::Plain).likely_key_material());
        assert!(!api(ErrorCode::NoRecord, Endpoint::Rsa).likely_key_material());
        let e = api(ErrorCode::InvalidMobile, Endpoint::Aes);
        assert!(e.hint().unwrap().contains("doctor"));
        assert_eq!(e.public_message(), Public::Unavailable.en());
    }
}
