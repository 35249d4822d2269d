//! `ErrorCode`: every `error_code` in the vendor document, with what it means for a caller.

use std::fmt;

/// What kind of failure an [`ErrorCode`] reports; decides what a caller should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server judged an input malformed (232901, 232902). Fix the input.
    InvalidInput,
    /// The number is not a China Unicom number (232903).
    UnsupportedNumber,
    /// The carrier has no record of the pair (232904).
    NoRecord,
    /// A passing failure on the vendor's side (232905, 232906, 10014, 10020). Retry later.
    Transient,
    /// A request-rate or quota limit (10011, 10012, 10013). Slow down.
    RateLimited,
    /// The key is wrong, expired or lacks permission (10001–10005, 10007). Fix the configuration.
    Credential,
    /// The key, IP or API is blocked or discontinued (10008, 10009, 10021). Contact the vendor.
    Disabled,
    /// A code this version does not know.
    Unknown,
}

/// How the vendor's codes are built (seed: "错误码格式说明").
///
/// A 6-digit code starting with `2` is a service code: `2` + 3-digit module (数据ID; this API
/// is module `329`, so its codes start with `2329`) + 2-digit detail. A 5-digit code starting
/// with `1` is a system code shared by every Juhe API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodeFormat {
    /// `error_code` 0.
    Success,
    /// A service-level code: `2` `MMM` `DD`.
    Service {
        /// The 3-digit service module (数据ID).
        module: u16,
        /// The 2-digit specific error.
        detail: u8,
    },
    /// A system-level code: `1` followed by four digits.
    System {
        /// The last two digits (legacy `resultcode` is `100 + detail`).
        detail: u8,
    },
    /// Anything else.
    Unrecognized,
}

impl CodeFormat {
    /// Classifies a raw `error_code` by the vendor's format rule.
    ///
    /// ```
    /// use juhe_proto::CodeFormat;
    /// assert_eq!(CodeFormat::of(232904), CodeFormat::Service { module: 329, detail: 4 });
    /// assert_eq!(CodeFormat::of(10012), CodeFormat::System { detail: 12 });
    /// assert_eq!(CodeFormat::of(0), CodeFormat::Success);
    /// ```
    pub fn of(code: i32) -> CodeFormat {
        match code {
            0 => CodeFormat::Success,
            200_000..=299_999 => CodeFormat::Service {
                module: ((code / 100) % 1000) as u16,
                detail: (code % 100) as u8,
            },
            10_000..=19_999 => CodeFormat::System {
                detail: (code % 100) as u8,
            },
            _ => CodeFormat::Unrecognized,
        }
    }
}

macro_rules! error_codes {
    ($($variant:ident = $code:literal, $kind:ident, $zh:literal, $en:literal;)*) => {
        /// An `error_code` from the API: every code in the vendor document, plus
        /// [`ErrorCode::Other`] for codes this version does not know.
        ///
        /// ```
        /// use juhe_proto::{ErrorCode, ErrorKind};
        ///
        /// let code = ErrorCode::from_code(232904);
        /// assert_eq!(code, ErrorCode::NoRecord);
        /// assert_eq!(code.kind(), ErrorKind::NoRecord);
        /// assert_eq!(code.reason_zh(), "查无记录");
        /// assert!(!code.is_retryable());
        /// assert_eq!(ErrorCode::from_code(10012).legacy_result_code(), Some(112));
        /// assert_eq!(ErrorCode::from_code(999).code(), 999);
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $(
                #[doc = concat!("`", stringify!($code), "` ", $zh, " — ", $en, ".")]
                $variant,
            )*
            /// A code not in the vendor document.
            Other(i32),
        }

        impl ErrorCode {
            /// Every documented code, in the vendor document's order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// Maps a raw `error_code` to its variant (unknown codes become [`ErrorCode::Other`]).
            pub fn from_code(code: i32) -> ErrorCode {
                match code {
                    $($code => ErrorCode::$variant,)*
                    other => ErrorCode::Other(other),
                }
            }

            /// The raw numeric code.
            pub fn code(self) -> i32 {
                match self {
                    $(ErrorCode::$variant => $code,)*
                    ErrorCode::Other(code) => code,
                }
            }

            /// The vendor's Chinese description (empty for unknown codes).
            pub fn reason_zh(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $zh,)*
                    ErrorCode::Other(_) => "",
                }
            }

            /// An English description a user can act on.
            pub fn description(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $en,)*
                    ErrorCode::Other(_) => "error code not in the vendor document",
                }
            }

            /// What kind of failure this is.
            pub fn kind(self) -> ErrorKind {
                match self {
                    $(ErrorCode::$variant => ErrorKind::$kind,)*
                    ErrorCode::Other(_) => ErrorKind::Unknown,
                }
            }
        }
    };
}

error_codes! {
    InvalidMobile = 232901, InvalidInput, "手机号码格式不正确", "the mobile number is malformed";
    InvalidIdCard = 232902, InvalidInput, "身份证号码不合法", "the ID card number is invalid";
    UnsupportedMobile = 232903, UnsupportedNumber, "暂不支持该手机号查询", "this mobile number is not supported (China Unicom numbers only)";
    NoRecord = 232904, NoRecord, "查无记录", "no record for this pair";
    NetworkError = 232905, Transient, "网络错误", "network error on the vendor's side; retry later";
    QueryFailed = 232906, Transient, "查询失败", "the query failed on the vendor's side; retry later";
    InvalidKey = 10001, Credential, "错误的请求KEY", "wrong API key";
    NoPermission = 10002, Credential, "该KEY无请求权限", "this key has no permission for this API";
    KeyExpired = 10003, Credential, "KEY过期", "the key has expired";
    InvalidOpenId = 10004, Credential, "错误的OPENID", "wrong OpenID";
    AppNotReviewed = 10005, Credential, "应用未审核超时，请提交认证", "the application was not reviewed in time; submit it for certification";
    UnknownSource = 10007, Credential, "未知的请求源", "unknown request source";
    ForbiddenIp = 10008, Disabled, "被禁止的IP", "this IP address is blocked";
    ForbiddenKey = 10009, Disabled, "被禁止的KEY", "this key is blocked";
    IpRateLimited = 10011, RateLimited, "当前IP请求超过限制", "too many requests from this IP address";
    RateLimited = 10012, RateLimited, "请求超过次数限制", "request limit exceeded";
    TestKeyLimited = 10013, RateLimited, "测试KEY超过请求限制", "the test key's request quota is used up";
    InternalError = 10014, Transient, "系统内部异常(调用充值类业务时，请务必联系客服或通过订单查询接口检测订单，避免造成损失)", "internal error on the vendor's side";
    Maintenance = 10020, Transient, "接口维护", "the API is under maintenance";
    Discontinued = 10021, Disabled, "接口停用", "the API is discontinued";
}

impl ErrorCode {
    /// The legacy `resultcode` for system codes (10001 → 101 … 10021 → 121).
    pub fn legacy_result_code(self) -> Option<u16> {
        match (self, CodeFormat::of(self.code())) {
            (ErrorCode::Other(_), _) => None,
            (_, CodeFormat::System { detail }) => Some(100 + u16::from(detail)),
            _ => None,
        }
    }

    /// How the code is built ([`CodeFormat::of`]).
    pub fn format(self) -> CodeFormat {
        CodeFormat::of(self.code())
    }

    /// True for outcomes that cannot have been billed and may succeed later: 232905, 232906,
    /// 10011, 10012, 10014, 10020. Rate-limit codes want a longer backoff.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::NetworkError
                | ErrorCode::QueryFailed
                | ErrorCode::IpRateLimited
                | ErrorCode::RateLimited
                | ErrorCode::InternalError
                | ErrorCode::Maintenance
        )
    }

    /// Whether an answer with this code is billed: never. The vendor charges only when
    /// `error_code` is 0 (`Answer::is_billable`, feature `wire`); this says so
    /// for code that counts spend over outcomes of both kinds.
    pub fn is_billable(self) -> bool {
        false
    }

    /// True for codes about the account or the service rather than the pair asked about:
    /// every credential and disabled code (wrong/expired/blocked key, no permission, wrong
    /// OpenID, blocked IP, discontinued API), the used-up test key (10013) and maintenance
    /// (10020). Sending other pairs cannot succeed until the account or service changes, so a
    /// batch stops at the first one instead of recording it against every row.
    pub fn is_account_level(self) -> bool {
        matches!(self.kind(), ErrorKind::Credential | ErrorKind::Disabled)
            || matches!(self, ErrorCode::TestKeyLimited | ErrorCode::Maintenance)
    }

    /// True for the codes that say the vendor could not read a field (232901 the mobile,
    /// 232902 the ID card): a malformed number — or, from an encrypted endpoint for numbers
    /// that passed local validation, a field it could not decrypt (wrong key material).
    pub fn is_unreadable_field(self) -> bool {
        matches!(self, ErrorCode::InvalidMobile | ErrorCode::InvalidIdCard)
    }

    /// True for the vendor's rate limits (10011, 10012): slow down, then try again.
    pub fn is_rate_limit(self) -> bool {
        matches!(self, ErrorCode::IpRateLimited | ErrorCode::RateLimited)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.description())
    }
}

impl From<i32> for ErrorCode {
    fn from(code: i32) -> Self {
        ErrorCode::from_code(code)
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        i32::deserialize(d).map(ErrorCode::from_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code_round_trips() {
        assert_eq!(ErrorCode::ALL.len(), 20);
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(code.code()), code);
            assert!(!code.reason_zh().is_empty());
        }
        assert_eq!(ErrorCode::from_code(10006), ErrorCode::Other(10006));
    }

    #[test]
    fn legacy_codes_and_format() {
        assert_eq!(ErrorCode::InvalidKey.legacy_result_code(), Some(101));
        assert_eq!(ErrorCode::Discontinued.legacy_result_code(), Some(121));
        assert_eq!(ErrorCode::NoRecord.legacy_result_code(), None);
        assert_eq!(ErrorCode::Other(10099).legacy_result_code(), None);
        assert_eq!(
            CodeFormat::of(200201),
            CodeFormat::Service {
                module: 2,
                detail: 1
            }
        );
        assert_eq!(CodeFormat::of(-1), CodeFormat::Unrecognized);
    }

    #[test]
    fn retry_classes() {
        let retryable: Vec<i32> = ErrorCode::ALL
            .iter()
            .filter(|c| c.is_retryable())
            .map(|c| c.code())
            .collect();
        assert_eq!(retryable, [232905, 232906, 10011, 10012, 10014, 10020]);
        assert_eq!(ErrorCode::ForbiddenKey.kind(), ErrorKind::Disabled);
        assert_eq!(ErrorCode::Other(1).kind(), ErrorKind::Unknown);
    }
}
