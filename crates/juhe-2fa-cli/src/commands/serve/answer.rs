//! The gateway's answers: a check's result, and every failure as one JSON shape with the status
//! its class calls for (docs/gateway.md has the table).

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use juhe_2fa::{Error, ErrorClass, Verification};
use serde_json::json;

/// A failure as the API answers it: `{"error": {class, code, message, message_zh, retryable}}`.
pub struct Failure {
    pub status: StatusCode,
    pub class: &'static str,
    pub code: Option<i64>,
    pub message: String,
    pub message_zh: String,
    pub retryable: bool,
    /// Seconds, for `Retry-After` (429).
    pub retry_after: Option<u64>,
}

/// The status of a check's failure, by its class: refused locally 400, a spent budget or a
/// caller's rate 429, the vendor's error or an unbilled failure 502, maybe billed 504, a
/// configuration the gateway cannot check with (the ledger cannot record, the store refuses)
/// 503.
pub fn status_of(class: ErrorClass) -> StatusCode {
    match class {
        ErrorClass::Rejected => StatusCode::BAD_REQUEST,
        ErrorClass::Budget => StatusCode::TOO_MANY_REQUESTS,
        ErrorClass::Api(_) | ErrorClass::Unbilled | ErrorClass::Cancelled => {
            StatusCode::BAD_GATEWAY
        }
        ErrorClass::Ambiguous => StatusCode::GATEWAY_TIMEOUT,
        ErrorClass::Config => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Whole seconds, at least 1, rounded up: a client that waits that long finds a slot.
pub fn retry_seconds(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

impl Failure {
    /// A check's failure. The messages are the SDK's public ones: no key, no number, no Rust
    /// names.
    pub fn of(e: &Error) -> Failure {
        let class = e.class();
        let status = status_of(class);
        Failure {
            status,
            class: class.as_str(),
            code: e.error_code().map(|c| i64::from(c.code())),
            message: e.public_message(),
            message_zh: e.message_zh(),
            // A 429 is worth trying again after Retry-After; the rest as the SDK says.
            retryable: class == ErrorClass::Budget || e.is_retryable(),
            retry_after: (status == StatusCode::TOO_MANY_REQUESTS)
                .then(|| retry_seconds(e.retry_after().unwrap_or(Duration::from_secs(1)))),
        }
    }

    /// One of the gateway's own refusals.
    pub fn gateway(status: StatusCode, class: &'static str, en: &str, zh: &str) -> Failure {
        Failure {
            status,
            class,
            code: None,
            message: en.to_owned(),
            message_zh: zh.to_owned(),
            retryable: false,
            retry_after: None,
        }
    }

    pub fn unauthorized() -> Failure {
        Failure::gateway(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "A valid bearer token is required.",
            "需要有效的访问令牌。",
        )
    }

    pub fn forbidden_purpose() -> Failure {
        Failure::gateway(
            StatusCode::FORBIDDEN,
            "forbidden",
            "This purpose is not allowed for this caller.",
            "该调用方不允许此用途。",
        )
    }

    pub fn invalid_request(en: &str) -> Failure {
        Failure::gateway(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            en,
            "请求格式不正确。",
        )
    }

    pub fn not_found() -> Failure {
        Failure::gateway(
            StatusCode::NOT_FOUND,
            "not_found",
            "No such endpoint.",
            "没有此接口。",
        )
    }

    pub fn method_not_allowed() -> Failure {
        Failure::gateway(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "This method is not allowed here.",
            "此接口不支持该请求方法。",
        )
    }

    pub fn refused_body(refusal: juhe_server::Refusal) -> Failure {
        let (class, zh) = match refusal.status() {
            StatusCode::REQUEST_TIMEOUT => ("timeout", "请求发送过慢。"),
            StatusCode::PAYLOAD_TOO_LARGE => ("too_large", "请求内容过大。"),
            _ => ("invalid_request", "请求内容无法读取。"),
        };
        Failure::gateway(
            refusal.status(),
            class,
            &format!("{}.", capital(refusal.reason())),
            zh,
        )
    }

    pub fn not_ready(e: &Error) -> Failure {
        Failure {
            status: StatusCode::SERVICE_UNAVAILABLE,
            class: "not_ready",
            retryable: true,
            ..Failure::of(e)
        }
    }
}

fn capital(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = json!({ "error": {
            "class": self.class,
            "code": self.code,
            "message": self.message,
            "message_zh": self.message_zh,
            "retryable": self.retryable,
        }});
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"juhe-2fa\""),
            );
        }
        response
    }
}

/// A check's answer: 200 `{verdict, res, order_id, billed, from_cache}`.
pub fn verified(v: &Verification) -> Response {
    let body = Verified {
        verdict: if v.is_match() { "match" } else { "mismatch" },
        res: v.res(),
        order_id: &v.order_id,
        billed: v.is_billable(),
        from_cache: v.from_cache(),
    };
    let mut response = (StatusCode::OK, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The 200 body of `/v1/verify` (a struct, not a `json!` map: no map and key strings built for
/// every check).
#[derive(serde::Serialize)]
struct Verified<'a> {
    verdict: &'static str,
    res: u8,
    order_id: &'a str,
    billed: bool,
    from_cache: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_its_status_and_retry_after_is_whole_seconds() {
        use juhe_2fa::ErrorCode;
        for (class, status) in [
            (ErrorClass::Rejected, 400),
            (ErrorClass::Budget, 429),
            (ErrorClass::Api(ErrorCode::NoRecord), 502),
            (ErrorClass::Unbilled, 502),
            (ErrorClass::Ambiguous, 504),
            (ErrorClass::Config, 503),
            (ErrorClass::Cancelled, 502),
        ] {
            assert_eq!(status_of(class).as_u16(), status, "{class:?}");
        }
        assert_eq!(retry_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(retry_seconds(Duration::ZERO), 1);
        assert_eq!(retry_seconds(Duration::from_secs(3)), 3);
    }
}
