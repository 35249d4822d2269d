//! The crate's one error type.

use std::fmt;

#[cfg(feature = "wire")]
use crate::ErrorCode;

/// Which input field a [`ValidationError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The 18-character resident ID card number (`idcard`).
    IdCard,
    /// The mobile number (`mobile`).
    Mobile,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::IdCard => "ID card number",
            Field::Mobile => "mobile number",
        })
    }
}

/// Why a birth date inside an ID card number is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BirthDateProblem {
    /// Digits 7–14 are not a real calendar date (e.g. February 30th).
    NotACalendarDate,
    /// The date lies after today (China Standard Time).
    InTheFuture,
    /// The date lies before 1900-01-01.
    Before1900,
}

impl fmt::Display for BirthDateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BirthDateProblem::NotACalendarDate => "digits 7-14 are not a real calendar date",
            BirthDateProblem::InTheFuture => "the date is in the future",
            BirthDateProblem::Before1900 => "the date is before 1900",
        })
    }
}

/// What was wrong with a response body that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeProblem {
    /// The body was empty.
    EmptyBody,
    /// The body was not JSON (an HTML error page, a truncated body…).
    NotJson,
    /// A field the protocol requires was missing or had the wrong type.
    MissingField(&'static str),
    /// `result.res` was neither 1 (match) nor 2 (mismatch). The text says what kind of JSON
    /// value it was (`a number`, `a string`…), never the value: a middlebox may have echoed a
    /// key or a number into it.
    UnknownRes(String),
    /// `result.orderid` is not shaped like an order id (1 to 32 ASCII letters and digits), or
    /// holds what the request carried (the key, an ID card or mobile number): an echo, not an
    /// answer. Never stored.
    InvalidOrderId,
}

impl fmt::Display for DecodeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeProblem::EmptyBody => f.write_str("the body is empty"),
            DecodeProblem::NotJson => f.write_str("the body is not JSON"),
            DecodeProblem::MissingField(name) => write!(f, "field `{name}` is missing or invalid"),
            DecodeProblem::UnknownRes(kind) => write!(f, "`res` is {kind}, neither 1 nor 2"),
            DecodeProblem::InvalidOrderId => {
                f.write_str("field `result.orderid` is not shaped like an order id")
            }
        }
    }
}

/// Why an ID card or mobile number failed local validation (what [`IdCard::parse`] and
/// [`Mobile::parse`] return). Nothing should be sent for such an input.
///
/// Messages say what is wrong without echoing the ID card or mobile number.
///
/// [`IdCard::parse`]: crate::IdCard::parse
/// [`Mobile::parse`]: crate::Mobile::parse
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The field was empty (after trimming whitespace).
    #[error("{field} is empty")]
    Empty {
        /// Which field.
        field: Field,
    },
    /// The field has the wrong number of characters.
    #[error("{field} must have {expected} characters, got {found}")]
    Length {
        /// Which field.
        field: Field,
        /// How many characters the field must have.
        expected: usize,
        /// How many it had (after normalisation).
        found: usize,
    },
    /// A 15-digit first-generation ID card number; the API takes only 18-digit numbers.
    #[error(
        "ID card number has 15 digits (first-generation format); convert it with \
         IdCard::from_legacy_15 or ask for the 18-digit number"
    )]
    LegacyIdCard,
    /// A character that is not allowed at its position.
    #[error("{field} has an invalid character at position {position}: {expected}")]
    Character {
        /// Which field.
        field: Field,
        /// 1-based position, counted after normalisation.
        position: usize,
        /// What is allowed there.
        expected: &'static str,
    },
    /// The first two digits of the ID card number are no known province code.
    #[error("ID card number starts with {code:02}, which is no known province code")]
    Province {
        /// The two leading digits.
        code: u8,
    },
    /// The birth date in the ID card number is not acceptable.
    #[error("ID card number has an invalid birth date: {problem}")]
    BirthDate {
        /// What is wrong with it.
        problem: BirthDateProblem,
    },
    /// The GB 11643 (ISO 7064 MOD 11-2) check digit does not match.
    #[error("ID card check digit should be {expected}, got {found}")]
    CheckDigit {
        /// The check digit computed from the first 17 digits.
        expected: char,
        /// The 18th character found.
        found: char,
    },
    /// A mobile number that does not start with 13–19.
    #[error("mobile number must start with 13 to 19, got {prefix}")]
    MobilePrefix {
        /// The first two digits.
        prefix: String,
    },
}

#[cfg(feature = "wire")]
#[cfg_attr(docsrs, doc(cfg(feature = "wire")))]
/// Why an answer from the API is not a verdict: an error code, or a body that could not be
/// decoded. Deliberately not `#[non_exhaustive]`: callers classify every case, and a new one
/// must fail their build rather than fall into a wildcard.
#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    /// The API answered with a non-zero `error_code`.
    #[error("API error {code}: {reason}")]
    Api {
        /// The error code.
        code: ErrorCode,
        /// The `reason` text the server sent, masked by [`crate::redact`] (the secrets given
        /// to [`crate::parse_response_redacting`], runs of 6+ digits) and cut to 200
        /// characters; the documented one if it sent none.
        reason: String,
    },
    /// The body could not be decoded.
    #[error(transparent)]
    Decode(DecodeError),
}

#[cfg(feature = "wire")]
#[cfg_attr(docsrs, doc(cfg(feature = "wire")))]
/// A response body that could not be decoded. Keeps the HTTP status and the body's length,
/// never its bytes: a proxy that echoes the request would otherwise put the API key and the
/// numbers into error messages.
#[derive(Debug, thiserror::Error)]
#[error("could not decode the response (HTTP {status}, {body_len} bytes): {problem}")]
#[non_exhaustive]
pub struct DecodeError {
    /// The HTTP status code of the response.
    pub status: u16,
    /// What was wrong.
    pub problem: DecodeProblem,
    /// The body's length in bytes.
    pub body_len: usize,
    /// The JSON error, when the body was not JSON: its kind and position only, rewritten
    /// without the offending value that serde_json quotes.
    #[source]
    pub source: Option<serde_json::Error>,
}

#[cfg(feature = "wire")]
impl DecodeError {
    /// A decode error without a JSON source (for tests and other transports' adapters).
    pub fn new(status: u16, problem: DecodeProblem, body_len: usize) -> DecodeError {
        DecodeError {
            status,
            problem,
            body_len,
            source: None,
        }
    }
}

#[cfg(feature = "wire")]
#[cfg_attr(docsrs, doc(cfg(feature = "wire")))]
/// The request could not be built (usually an invalid base URL).
#[derive(Debug, thiserror::Error)]
#[error("could not build the HTTP request (check the base URL)")]
pub struct RequestError(#[source] pub http::Error);

impl Field {
    /// The Chinese name: 身份证号码, 手机号码.
    pub fn zh_name(self) -> &'static str {
        match self {
            Field::IdCard => "身份证号码",
            Field::Mobile => "手机号码",
        }
    }
}

impl BirthDateProblem {
    fn zh(self) -> &'static str {
        match self {
            BirthDateProblem::NotACalendarDate => "不是真实的日期",
            BirthDateProblem::InTheFuture => "晚于今天",
            BirthDateProblem::Before1900 => "早于1900年",
        }
    }
}

impl ValidationError {
    /// The message for a public form, in English: what is wrong, never the expected check digit
    /// (which would let anyone complete a guessed number). `Display` keeps the detail for
    /// operators.
    ///
    /// ```
    /// use juhe_proto::IdCard;
    /// let e = IdCard::parse("110105199003071238").unwrap_err();
    /// assert_eq!(e.to_string(), "ID card check digit should be 9, got 8");
    /// assert_eq!(e.public_message(), "The ID card number is not valid (check digit).");
    /// assert_eq!(e.message_zh(), "身份证号码校验位不正确");
    /// ```
    pub fn public_message(&self) -> String {
        let name = |field: &Field| match field {
            Field::IdCard => "ID card number",
            Field::Mobile => "mobile number",
        };
        match self {
            ValidationError::Empty { field } => format!("The {} is missing.", name(field)),
            ValidationError::Length {
                field,
                expected,
                found,
            } => format!(
                "The {} must have {expected} characters, not {found}.",
                name(field)
            ),
            ValidationError::LegacyIdCard => {
                "The ID card number is a first-generation (15-digit) one: please give the 18-digit number."
                    .to_owned()
            }
            ValidationError::Character {
                field, position, ..
            } => format!(
                "The {} has an invalid character at position {position}.",
                name(field)
            ),
            ValidationError::Province { .. } => {
                "The ID card number is not valid (region code).".to_owned()
            }
            ValidationError::BirthDate { .. } => {
                "The ID card number is not valid (birth date).".to_owned()
            }
            ValidationError::CheckDigit { .. } => {
                "The ID card number is not valid (check digit).".to_owned()
            }
            ValidationError::MobilePrefix { .. } => {
                "The mobile number must start with 13 to 19.".to_owned()
            }
        }
    }

    /// The message in Chinese, safe for a public form (no expected check digit).
    pub fn message_zh(&self) -> String {
        match self {
            ValidationError::Empty { field } => format!("{}为空", field.zh_name()),
            ValidationError::Length {
                field,
                expected,
                found,
            } => {
                format!("{}应为{expected}位，实际为{found}位", field.zh_name())
            }
            ValidationError::LegacyIdCard => {
                "这是15位的第一代身份证号码，请提供18位号码".to_owned()
            }
            ValidationError::Character {
                field, position, ..
            } => {
                format!("{}第{position}位字符无效", field.zh_name())
            }
            ValidationError::Province { .. } => "身份证号码的地区代码无效".to_owned(),
            ValidationError::BirthDate { problem } => {
                format!("身份证号码中的出生日期{}", problem.zh())
            }
            ValidationError::CheckDigit { .. } => "身份证号码校验位不正确".to_owned(),
            ValidationError::MobilePrefix { .. } => "手机号码应以13至19开头".to_owned(),
        }
    }

    /// The input field this error is about.
    pub fn field(&self) -> Field {
        match self {
            ValidationError::Empty { field }
            | ValidationError::Length { field, .. }
            | ValidationError::Character { field, .. } => *field,
            ValidationError::LegacyIdCard
            | ValidationError::Province { .. }
            | ValidationError::BirthDate { .. }
            | ValidationError::CheckDigit { .. } => Field::IdCard,
            ValidationError::MobilePrefix { .. } => Field::Mobile,
        }
    }
}
