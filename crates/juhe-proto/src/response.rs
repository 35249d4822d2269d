//! Parsing the API's JSON answer (sans-IO), tolerant of what the vendor really sends.

use std::fmt;

use serde::Deserialize;

use crate::{DecodeError, DecodeProblem, ErrorCode, IdCard, Mobile, ResponseError, redact};

/// The answer of a successful check (`res`).
///
/// ```
/// use juhe_proto::Verdict;
/// assert_eq!(Verdict::from_res(1), Some(Verdict::Match));
/// assert_eq!(Verdict::Mismatch.res(), 2);
/// assert_eq!(Verdict::from_res(3), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// `res` 1 (一致): the ID card number owns the mobile number.
    Match,
    /// `res` 2 (不一致): it does not.
    Mismatch,
}

impl Verdict {
    /// The API's numeric `res` (1 or 2).
    pub fn res(self) -> u8 {
        match self {
            Verdict::Match => 1,
            Verdict::Mismatch => 2,
        }
    }

    /// The verdict for a `res` value, if it is 1 or 2.
    pub fn from_res(res: i64) -> Option<Verdict> {
        match res {
            1 => Some(Verdict::Match),
            2 => Some(Verdict::Mismatch),
            _ => None,
        }
    }

    /// `match` or `mismatch`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Match => "match",
            Verdict::Mismatch => "mismatch",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decoded successful answer (`error_code` 0, which the vendor bills): the verdict and the
/// billing reference (聚合单号).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Answer {
    /// Match or mismatch.
    pub verdict: Verdict,
    /// The vendor's order id (`JH…`), the reference for billing disputes.
    pub order_id: String,
}

impl Answer {
    /// Whether this answer is billed: always, since it carries `error_code` 0
    /// ([`ErrorCode::is_billable`] is false for every code).
    pub fn is_billable(&self) -> bool {
        true
    }
}

/// A number the vendor may send as a JSON number or as a string. Anything else keeps only its
/// kind, for an error message (never the value: the body is untrusted and may echo the key or
/// the numbers).
enum Loose {
    Int(i64),
    Text(String),
    Other(&'static str),
}

impl Loose {
    fn as_int(&self) -> Option<i64> {
        match self {
            Loose::Int(n) => Some(*n),
            Loose::Text(s) => s.trim().parse().ok(),
            Loose::Other(_) => None,
        }
    }

    fn as_text(&self) -> Option<String> {
        match self {
            Loose::Int(n) => Some(n.to_string()),
            Loose::Text(s) => Some(s.clone()),
            Loose::Other(_) => None,
        }
    }

    /// What kind of value this is, for an error message.
    fn kind(&self) -> &'static str {
        match self {
            Loose::Int(_) => "a number",
            Loose::Text(_) => "a string",
            Loose::Other(kind) => kind,
        }
    }
}

// By hand rather than `#[serde(untagged)]`: that buffers the value and builds (and formats)
// a failed attempt's error on every string, on every check.
impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

struct LooseVisitor;

impl<'de> serde::de::Visitor<'de> for LooseVisitor {
    type Value = Loose;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a number or a string")
    }

    fn visit_i64<E>(self, v: i64) -> Result<Loose, E> {
        Ok(Loose::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Loose, E> {
        Ok(i64::try_from(v).map_or(Loose::Other("a number"), Loose::Int))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Loose, E> {
        Ok(Loose::Other("a number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Loose, E> {
        Ok(Loose::Text(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Loose, E> {
        Ok(Loose::Text(v))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Loose, E> {
        Ok(Loose::Other("a boolean"))
    }

    fn visit_unit<E>(self) -> Result<Loose, E> {
        Ok(Loose::Other("null"))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Loose::Other("an array"))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(Loose::Other("an object"))
    }
}

#[derive(Deserialize)]
struct RawResponse {
    reason: Option<String>,
    result: Option<RawResult>,
    error_code: Option<Loose>,
}

#[derive(Deserialize)]
struct RawResult {
    res: Option<Loose>,
    orderid: Option<Loose>,
}

/// Parses the response to one check: [`parse_response_redacting`] with no secrets (runs of 6
/// or more digits are still masked in `reason`). Give the secrets when you have them.
///
/// ```
/// use juhe_proto::{Verdict, parse_response};
///
/// let body = r#"{"reason":"成功","result":{"res":1,"orderid":"JH329201808081618556756"},"error_code":0}"#;
/// let response = http::Response::new(body.as_bytes().to_vec());
/// let v = parse_response(&response)?;
/// assert_eq!(v.verdict, Verdict::Match);
/// assert_eq!(v.order_id, "JH329201808081618556756");
/// # Ok::<(), juhe_proto::ResponseError>(())
/// ```
pub fn parse_response(response: &http::Response<Vec<u8>>) -> Result<Answer, ResponseError> {
    parse_response_redacting(response, &[])
}

/// The longest `reason` kept, in characters: it ends up in terminals, CSV cells and journals.
const MAX_REASON_CHARS: usize = 200;

/// The longest order id accepted; the vendor's are 23 characters (`JH` and 21 digits).
const MAX_ORDER_ID_LEN: usize = 32;

/// Parses the response to one check, treating what the request carried as secrets that must
/// not come back: `secrets` are the API key and the field values as sent.
///
/// Tolerant as the vendor requires: `res` and `error_code` may be numbers or strings, `result`
/// is `null` on errors, unknown fields are ignored. Anything else (HTML, an empty or truncated
/// body, an unknown `res`, an order id that is not one) is [`ResponseError::Decode`] with the
/// HTTP status and the body's length (never its bytes). A non-zero `error_code` is
/// [`ResponseError::Api`], its `reason` masked with [`crate::redact`]: a middlebox may echo the
/// request into it.
///
/// ```
/// use juhe_proto::{ResponseError, parse_response_redacting};
///
/// let echo = r#"{"reason":"echo key=K3Y&mobile=13012345678","result":null,"error_code":232904}"#;
/// let response = http::Response::new(echo.as_bytes().to_vec());
/// match parse_response_redacting(&response, &["K3Y"]) {
///     Err(ResponseError::Api { reason, .. }) => {
///         assert_eq!(reason, "echo key=[redacted]&mobile=***********")
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
pub fn parse_response_redacting(
    response: &http::Response<Vec<u8>>,
    secrets: &[&str],
) -> Result<Answer, ResponseError> {
    parse_body(response.status().as_u16(), response.body(), secrets)
}

/// [`parse_response_redacting`] from an HTTP status and the body's bytes: for a saved answer,
/// a log, or another HTTP stack.
///
/// ```
/// use juhe_proto::{Verdict, parse_body};
/// let body = r#"{"reason":"成功","result":{"res":"2","orderid":"JH1"},"error_code":"0"}"#;
/// assert_eq!(parse_body(200, body.as_bytes(), &[])?.verdict, Verdict::Mismatch);
/// # Ok::<(), juhe_proto::ResponseError>(())
/// ```
pub fn parse_body(status: u16, body: &[u8], secrets: &[&str]) -> Result<Answer, ResponseError> {
    let decode = |problem, source| {
        ResponseError::Decode(DecodeError {
            status,
            problem,
            body_len: body.len(),
            source,
        })
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(decode(DecodeProblem::EmptyBody, None));
    }
    let raw: RawResponse = serde_json::from_slice(body)
        .map_err(|e| decode(DecodeProblem::NotJson, Some(without_values(&e))))?;
    let code = raw
        .error_code
        .as_ref()
        .and_then(Loose::as_int)
        .and_then(|c| i32::try_from(c).ok())
        .ok_or_else(|| decode(DecodeProblem::MissingField("error_code"), None))?;
    if code != 0 {
        let code = ErrorCode::from_code(code);
        let reason = raw
            .reason
            .map(|r| redact(&r, secrets))
            .map(|r| r.trim().chars().take(MAX_REASON_CHARS).collect::<String>())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| code.reason_zh().to_owned());
        return Err(ResponseError::Api { code, reason });
    }
    let result = raw
        .result
        .ok_or_else(|| decode(DecodeProblem::MissingField("result"), None))?;
    let res = result
        .res
        .ok_or_else(|| decode(DecodeProblem::MissingField("result.res"), None))?;
    let verdict = res
        .as_int()
        .and_then(Verdict::from_res)
        .ok_or_else(|| decode(DecodeProblem::UnknownRes(res.kind().to_owned()), None))?;
    let order_id = result
        .orderid
        .as_ref()
        .and_then(Loose::as_text)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| decode(DecodeProblem::MissingField("result.orderid"), None))?;
    if !is_order_id(&order_id, secrets) {
        return Err(decode(DecodeProblem::InvalidOrderId, None));
    }
    Ok(Answer { verdict, order_id })
}

/// Whether `id` looks like an order id and is no echo of the request: 1 to 32 ASCII letters and
/// digits, none of `secrets` inside, not itself a valid ID card or mobile number.
fn is_order_id(id: &str, secrets: &[&str]) -> bool {
    let shaped = id.len() <= MAX_ORDER_ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric());
    let upper = id.to_ascii_uppercase();
    let echoes = secrets
        .iter()
        .filter(|s| !s.is_empty())
        .any(|s| upper.contains(&s.to_ascii_uppercase()));
    shaped && !echoes && IdCard::parse(id).is_err() && Mobile::parse(id).is_err()
}

/// serde_json's error rewritten with its kind and position only: its message quotes the
/// offending value (`invalid type: string "…"`), which may be an echoed key or number.
fn without_values(e: &serde_json::Error) -> serde_json::Error {
    use serde::de::Error as _;
    let kind = match e.classify() {
        serde_json::error::Category::Io => "an I/O error",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Data => "a value of the wrong type or shape",
        serde_json::error::Category::Eof => "the JSON ends early",
    };
    serde_json::Error::custom(format_args!(
        "{kind} at line {} column {}",
        e.line(),
        e.column()
    ))
}
