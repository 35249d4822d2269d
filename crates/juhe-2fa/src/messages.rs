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

/// What an operator can do about a failure, in English and Chinese, one per situation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hint {
    KeyMaterial,
    Credential,
    Disabled,
    RateLimited,
    NotUnicom,
    Ambiguous,
    Unbilled,
    Budget,
    CallerRate,
    Config,
}

impl Hint {
    #[cfg(test)]
    const ALL: [Hint; 10] = [
        Hint::KeyMaterial,
        Hint::Credential,
        Hint::Disabled,
        Hint::RateLimited,
        Hint::NotUnicom,
        Hint::Ambiguous,
        Hint::Unbilled,
        Hint::Budget,
        Hint::CallerRate,
        Hint::Config,
    ];

    fn en(self) -> &'static str {
        match self {
            Hint::KeyMaterial => {
                "the vendor could not read the encrypted fields: check the OpenID / AES key / RSA public key (--openid, --aes-key, --rsa-public-key); `juhe-2fa doctor` finds the scheme your account accepts"
            }
            Hint::Credential => {
                "check the API key (--key / JUHE_KEY) and its permissions in the Juhe console"
            }
            Hint::Disabled => "the key, IP or API is blocked: contact Juhe",
            Hint::RateLimited => "slow down (a rate limit, e.g. --qps) or wait; the quota resets",
            Hint::NotUnicom => "this API answers only for China Unicom numbers",
            Hint::Ambiguous => {
                "the request may have been billed; check the order before sending it again"
            }
            Hint::Unbilled => {
                "check the network, the proxy (--proxy / JUHE_PROXY) if one is set, the base URL and the timeout"
            }
            Hint::Budget => {
                "the budget resets at the time given; raise it only if the spend is intended"
            }
            Hint::CallerRate => {
                "this caller sends more checks a second than its qps allows: slow down"
            }
            Hint::Config => "fix the configuration named above",
        }
    }

    fn zh(self) -> &'static str {
        match self {
            Hint::KeyMaterial => {
                "聚合无法解密加密字段：请检查 OpenID / AES 密钥 / RSA 公钥（--openid、--aes-key、--rsa-public-key）；`juhe-2fa doctor` 可找出账户接受的加密方案"
            }
            Hint::Credential => "请检查 API 密钥（--key / JUHE_KEY）及其在聚合控制台中的权限",
            Hint::Disabled => "密钥、IP 或接口已被封禁：请联系聚合",
            Hint::RateLimited => "请降低请求速度（限速，例如 --qps）或稍候；额度会重置",
            Hint::NotUnicom => "本接口只核验中国联通号码",
            Hint::Ambiguous => "该请求可能已计费；再次发送前请先核对订单",
            Hint::Unbilled => {
                "请检查网络、代理（--proxy / JUHE_PROXY，如有设置）、接口地址（--base-url）和超时设置"
            }
            Hint::Budget => "预算会在所示时间重置；只有确需多花费时才调高预算",
            Hint::CallerRate => "该调用方每秒发送的核验超过了它的 qps 限额：请放慢",
            Hint::Config => "请修正上面指出的配置",
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
    /// prints it under the error). [`Error::hint_zh`] is the same in Chinese.
    pub fn hint(&self) -> Option<&'static str> {
        self.operator_hint().map(Hint::en)
    }

    /// [`Error::hint`] in Chinese, for operators (`juhe-2fa --lang zh`).
    ///
    /// ```
    /// use juhe_2fa::{Endpoint, Error, ErrorCode};
    /// let e = Error::Api { code: ErrorCode::InvalidMobile, reason: String::new(), mode: Endpoint::Aes };
    /// assert!(e.hint_zh().unwrap().contains("doctor"));
    /// ```
    pub fn hint_zh(&self) -> Option<&'static str> {
        self.operator_hint().map(Hint::zh)
    }

    fn operator_hint(&self) -> Option<Hint> {
        if self.likely_key_material() {
            return Some(Hint::KeyMaterial);
        }
        match self.class() {
            ErrorClass::Api(code) => match code.kind() {
                ErrorKind::Credential => Some(Hint::Credential),
                ErrorKind::Disabled => Some(Hint::Disabled),
                ErrorKind::RateLimited => Some(Hint::RateLimited),
                ErrorKind::UnsupportedNumber => Some(Hint::NotUnicom),
                _ => None,
            },
            ErrorClass::Ambiguous => Some(Hint::Ambiguous),
            ErrorClass::Unbilled => Some(Hint::Unbilled),
            ErrorClass::Budget if matches!(self, Error::CallerRate { .. }) => {
                Some(Hint::CallerRate)
            }
            ErrorClass::Budget => Some(Hint::Budget),
            ErrorClass::Config => Some(Hint::Config),
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
            // The operator's hint exists in both languages or in neither.
            assert_eq!(e.hint().is_some(), e.hint_zh().is_some(), "{e:?}");
            if let Some(zh) = e.hint_zh() {
                assert!(
                    zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                    "{e:?}"
                );
                assert_ne!(Some(zh), e.hint(), "{e:?}");
            }
        }
    }

    /// Every hint in both languages: the Chinese one names the same flags and commands.
    #[test]
    fn every_hint_has_its_chinese_twin() {
        for hint in Hint::ALL {
            let (en, zh) = (hint.en(), hint.zh());
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{hint:?}"
            );
            for word in en.split([' ', ',', '(', ')', ';']) {
                if word.starts_with("--") || word.starts_with("JUHE_") || word == "doctor`" {
                    assert!(zh.contains(word), "{hint:?}: {word} in {zh}");
                }
            }
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
