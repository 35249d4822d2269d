//! The vendor's behaviour, one decision step after another.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use juhe_crypto::{AesDecryptor, FieldDecryptor, RsaOaepDecryptor};
use juhe_proto::{Carrier, Endpoint, ErrorCode, IdCard, Mobile, Verdict};
use serde_json::json;
use tokio::sync::Notify;

use crate::rate_limit::QpsLimiter;
use crate::recorder::{Observation, Recorder};
use crate::{DefaultVerdict, Fault, FaultPlan, Fixtures, KeyStatus, Outcome, order_id};

const MOBILE_INVALID: i32 = 232901;
const IDCARD_INVALID: i32 = 232902;
const UNSUPPORTED_MOBILE: i32 = 232903;
const NO_RECORD: i32 = 232904;

const HTML_500: &str = "<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n\
<center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/// Everything a request is judged against.
pub(crate) struct SandboxState {
    pub(crate) keys: HashMap<String, KeyStatus>,
    pub(crate) aes: Option<AesDecryptor>,
    pub(crate) rsa: Option<RsaOaepDecryptor>,
    pub(crate) fixtures: Fixtures,
    pub(crate) default_verdict: DefaultVerdict,
    pub(crate) limiter: Option<QpsLimiter>,
    pub(crate) faults: FaultPlan,
    pub(crate) recorder: Recorder,
}

/// Lets a handler close its connection without answering (the `drop` fault).
#[derive(Clone)]
pub(crate) struct ConnControl(pub(crate) Arc<Notify>);

/// How the sandbox answers.
enum Answer {
    Code(i32),
    Verdict {
        verdict: Verdict,
        order_id: String,
        res_as_string: bool,
        truncated: bool,
    },
    Http500,
    Drop,
}

#[derive(Default)]
struct Params {
    key: Option<String>,
    idcard: Option<String>,
    mobile: Option<String>,
}

impl Params {
    fn absorb(&mut self, form: &[u8]) {
        for (name, value) in form_urlencoded::parse(form) {
            match &*name {
                "key" => self.key = Some(value.into_owned()),
                "idcard" => self.idcard = Some(value.into_owned()),
                "mobile" => self.mobile = Some(value.into_owned()),
                _ => {}
            }
        }
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn code_body(code: i32) -> serde_json::Value {
    json!({ "reason": ErrorCode::from_code(code).reason_zh(), "result": null, "error_code": code })
}

/// Unknown paths: 404 with a JSON body, counted like every request.
pub(crate) async fn not_found(State(state): State<Arc<SandboxState>>, method: Method) -> Response {
    state.recorder.record(Observation {
        method: method.to_string(),
        ..Observation::default()
    });
    json_response(
        StatusCode::NOT_FOUND,
        json!({ "reason": "Not Found", "result": null, "error_code": 404 }),
    )
}

/// The three API paths.
pub(crate) async fn api(
    State(state): State<Arc<SandboxState>>,
    Extension(conn): Extension<ConnControl>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut obs = Observation {
        endpoint: Endpoint::from_path(uri.path()),
        method: method.to_string(),
        ..Observation::default()
    };
    let mut params = Params::default();
    if let Some(query) = &query {
        params.absorb(query.as_bytes());
    }
    match method {
        Method::GET => {}
        Method::POST
            if is_form(&headers)
                || body.is_empty() && headers.get(header::CONTENT_TYPE).is_none() =>
        {
            params.absorb(&body)
        }
        Method::POST => {
            state.recorder.record(obs);
            return json_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                json!({ "reason": "Content-Type must be application/x-www-form-urlencoded", "result": null, "error_code": 415 }),
            );
        }
        _ => {
            state.recorder.record(obs);
            return json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                json!({ "reason": "use GET or POST", "result": null, "error_code": 405 }),
            );
        }
    }
    let endpoint = obs.endpoint.unwrap_or(Endpoint::Plain);
    let answer = decide(&state, endpoint, params, &mut obs).await;
    let response = match answer {
        Answer::Code(code) => {
            obs.error_code = Some(code);
            json_response(StatusCode::OK, code_body(code))
        }
        Answer::Verdict {
            verdict,
            order_id,
            res_as_string,
            truncated,
        } => {
            obs.error_code = Some(0);
            obs.res = Some(verdict.res());
            obs.order_id = Some(order_id.clone());
            let res = if res_as_string {
                json!(verdict.res().to_string())
            } else {
                json!(verdict.res())
            };
            let body = json!({ "reason": "成功", "result": { "res": res, "orderid": order_id }, "error_code": 0 });
            if truncated {
                let text = body.to_string();
                let cut = text
                    .char_indices()
                    .map(|(i, _)| i)
                    .take_while(|i| *i <= text.len() / 2)
                    .last()
                    .unwrap_or(0);
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
                    text[..cut].to_owned(),
                )
                    .into_response()
            } else {
                json_response(StatusCode::OK, body)
            }
        }
        Answer::Http500 => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/html")],
            HTML_500,
        )
            .into_response(),
        Answer::Drop => {
            state.recorder.record(obs);
            conn.0.notify_one();
            // The connection task drops the connection; this answer is never sent.
            return std::future::pending().await;
        }
    };
    state.recorder.record(obs);
    response
}

/// Applies a fault: `Some(answer)` replaces the normal answer; delays just wait.
async fn apply(fault: Fault, obs: &mut Observation) -> Option<Answer> {
    if fault != Fault::None {
        obs.fault = Some(fault);
    }
    if let Some(delay) = fault.delay() {
        tokio::time::sleep(delay).await;
    }
    match fault {
        Fault::Http500 => Some(Answer::Http500),
        Fault::Drop => Some(Answer::Drop),
        Fault::ErrorCode(code) => Some(Answer::Code(code)),
        Fault::None | Fault::DelayMs(_) | Fault::TruncatedJson | Fault::ResAsString => None,
    }
}

fn decrypt(state: &SandboxState, endpoint: Endpoint, value: &str) -> Option<String> {
    match endpoint {
        Endpoint::Plain => Some(value.to_owned()),
        Endpoint::Aes => state.aes.as_ref()?.decrypt(value).ok(),
        Endpoint::Rsa => state.rsa.as_ref()?.decrypt(value).ok(),
    }
}

async fn decide(
    state: &SandboxState,
    endpoint: Endpoint,
    params: Params,
    obs: &mut Observation,
) -> Answer {
    let mut fault = state.faults.next();
    if let Some(answer) = apply(fault, obs).await {
        return answer;
    }
    match params.key.as_deref().and_then(|k| state.keys.get(k)) {
        None => return Answer::Code(10001),
        Some(KeyStatus::Expired) => return Answer::Code(10003),
        Some(KeyStatus::Disabled) => return Answer::Code(10009),
        Some(KeyStatus::Active) => {}
    }
    if let Some(limiter) = &state.limiter {
        if !limiter.admit(params.key.as_deref().unwrap_or_default(), Instant::now()) {
            return Answer::Code(10012);
        }
    }
    let needs_key = match endpoint {
        Endpoint::Plain => false,
        Endpoint::Aes => state.aes.is_none(),
        Endpoint::Rsa => state.rsa.is_none(),
    };
    if needs_key {
        // No key configured for this endpoint: the account has no permission for it.
        return Answer::Code(10002);
    }
    let Some(mobile) = decrypt(
        state,
        endpoint,
        params.mobile.as_deref().unwrap_or_default(),
    ) else {
        return Answer::Code(MOBILE_INVALID);
    };
    let Some(idcard) = decrypt(
        state,
        endpoint,
        params.idcard.as_deref().unwrap_or_default(),
    ) else {
        return Answer::Code(IDCARD_INVALID);
    };
    let Ok(mobile) = Mobile::parse(&mobile) else {
        return Answer::Code(MOBILE_INVALID);
    };
    let Ok(idcard) = IdCard::parse(&idcard) else {
        return Answer::Code(IDCARD_INVALID);
    };
    let carrier = mobile.carrier();
    let fixture = state.fixtures.get(&idcard, &mobile);
    let hashed = hash_verdict(&idcard, &mobile);
    obs.pair = Some((idcard, mobile));
    if carrier != Carrier::Unicom {
        return Answer::Code(UNSUPPORTED_MOBILE);
    }
    let outcome = match fixture {
        Some((outcome, pair_fault)) => {
            if let Some(pair_fault) = pair_fault {
                if let Some(answer) = apply(pair_fault, obs).await {
                    return answer;
                }
                fault = pair_fault;
            }
            outcome
        }
        None => match state.default_verdict {
            DefaultVerdict::NoRecord => Outcome::Error(NO_RECORD),
            DefaultVerdict::Match => Outcome::Match,
            DefaultVerdict::Mismatch => Outcome::Mismatch,
            DefaultVerdict::Hash => hashed,
        },
    };
    let verdict = match outcome {
        Outcome::Error(code) => return Answer::Code(code),
        Outcome::Match => Verdict::Match,
        Outcome::Mismatch => Verdict::Mismatch,
    };
    Answer::Verdict {
        verdict,
        order_id: order_id::next(),
        res_as_string: fault == Fault::ResAsString,
        truncated: fault == Fault::TruncatedJson,
    }
}

/// A verdict that depends only on the pair, so reruns agree.
fn hash_verdict(idcard: &IdCard, mobile: &Mobile) -> Outcome {
    if crate::recorder::pair_key(idcard, mobile)[0] & 1 == 0 {
        Outcome::Match
    } else {
        Outcome::Mismatch
    }
}
