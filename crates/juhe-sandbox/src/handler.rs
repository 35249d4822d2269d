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

use crate::rate_limit::QpsLimiter;
use crate::recorder::{Observation, Recorder};
use crate::{DefaultVerdict, Fault, FaultPlan, Fixtures, KeyStatus, Outcome, order_id};

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
pub(crate) use juhe_server::ConnControl;

/// How the sandbox answers.
enum Answer {
    Code(ErrorCode),
    Verdict {
        verdict: Verdict,
        order_id: String,
        res_as_string: bool,
        truncated: bool,
    },
    Http500,
    /// A gateway or proxy error page; with `Some(answer)` the request was processed first
    /// (and billed if that answer was a verdict).
    Gateway(u16, Option<Box<Answer>>),
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

/// An HTTP-level refusal, in the JSON shape of every other answer.
pub(crate) fn http_error(status: StatusCode, reason: &str) -> Response {
    json_response(
        status,
        json!({ "reason": reason, "result": null, "error_code": status.as_u16() }),
    )
}

fn code_body(code: ErrorCode) -> serde_json::Value {
    json!({ "reason": code.reason_zh(), "result": null, "error_code": code.code() })
}

/// Unknown paths: 404 with a JSON body, counted like every request (all under one bucket:
/// the path itself is not kept).
pub(crate) async fn not_found(State(state): State<Arc<SandboxState>>, method: Method) -> Response {
    state.recorder.record(Observation::arrived(&method, None));
    json_response(
        StatusCode::NOT_FOUND,
        json!({ "reason": "Not Found", "result": null, "error_code": 404 }),
    )
}

/// `GET /__sandbox/stats`: the counters, for test suites in any language. Numbers masked.
pub(crate) async fn stats(State(state): State<Arc<SandboxState>>) -> Response {
    let recent = state.recorder.recent();
    let recent = &recent[recent.len().saturating_sub(100)..];
    json_response(
        StatusCode::OK,
        json!({
            "stats": state.recorder.stats(),
            "pairs_billed_more_than_once": state.recorder.pairs_billed_more_than_once(),
            "recent": recent,
        }),
    )
}

/// `POST /__sandbox/reset`: counters back to zero.
pub(crate) async fn reset(State(state): State<Arc<SandboxState>>) -> Response {
    state.recorder.reset();
    json_response(StatusCode::OK, json!({ "reset": true }))
}

/// The parameters of a request, or the HTTP answer for a request the API does not take.
fn read_params(
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<Params, Box<Response>> {
    let mut params = Params::default();
    if let Some(query) = query {
        params.absorb(query.as_bytes());
    }
    match *method {
        Method::GET => Ok(params),
        Method::POST
            if is_form(headers)
                || body.is_empty() && headers.get(header::CONTENT_TYPE).is_none() =>
        {
            params.absorb(body);
            Ok(params)
        }
        Method::POST => Err(Box::new(json_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!({ "reason": "Content-Type must be application/x-www-form-urlencoded", "result": null, "error_code": 415 }),
        ))),
        _ => Err(Box::new(json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({ "reason": "use GET or POST", "result": null, "error_code": 405 }),
        ))),
    }
}

/// The three API paths. The request is judged on its own task, so like the vendor's server
/// the sandbox finishes (and counts, and bills) a request whose client has gone away.
pub(crate) async fn api(
    State(state): State<Arc<SandboxState>>,
    Extension(conn): Extension<ConnControl>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut obs = Observation::arrived(&method, Endpoint::from_path(uri.path()));
    let params = match read_params(&method, &headers, query.as_deref(), &body) {
        Ok(params) => params,
        Err(response) => {
            state.recorder.record(obs);
            return *response;
        }
    };
    let endpoint = obs.endpoint.unwrap_or(Endpoint::Plain);
    let task = tokio::spawn(async move {
        let answer = decide(&state, endpoint, params, &mut obs).await;
        let response = render(answer, &mut obs);
        state.recorder.record(obs);
        response
    });
    match task.await {
        Ok(Some(response)) => response,
        Ok(None) => {
            conn.0.notify_one();
            // The connection task drops the connection; this answer is never sent.
            std::future::pending().await
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, HTML_500).into_response(),
    }
}

/// The HTTP answer for a decision (`None`: drop the connection), noted in `obs`.
fn render(answer: Answer, obs: &mut Observation) -> Option<Response> {
    Some(match answer {
        Answer::Code(code) => {
            obs.error_code = Some(code.code());
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
            verdict_response(verdict, &order_id, res_as_string, truncated)
        }
        Answer::Http500 => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/html")],
            HTML_500,
        )
            .into_response(),
        Answer::Gateway(status, processed) => {
            // Counted (and billed) as the backend answered; the client sees the gateway page.
            if let Some(answer) = processed {
                let _ = render(*answer, obs);
            }
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            let page = format!("<html><body><h1>{status}</h1></body></html>");
            (status, [(header::CONTENT_TYPE, "text/html")], page).into_response()
        }
        Answer::Drop => return None,
    })
}

fn verdict_response(
    verdict: Verdict,
    order_id: &str,
    res_as_string: bool,
    truncated: bool,
) -> Response {
    let res = if res_as_string {
        json!(verdict.res().to_string())
    } else {
        json!(verdict.res())
    };
    let body =
        json!({ "reason": "成功", "result": { "res": res, "orderid": order_id }, "error_code": 0 });
    if !truncated {
        return json_response(StatusCode::OK, body);
    }
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
        Fault::None
        | Fault::DelayMs(_)
        | Fault::TruncatedJson
        | Fault::ResAsString
        | Fault::HttpStatus(_) => None,
    }
}

fn decrypt(state: &SandboxState, endpoint: Endpoint, value: Option<&str>) -> Option<String> {
    let value = value.unwrap_or_default();
    match endpoint {
        Endpoint::Plain => Some(value.to_owned()),
        Endpoint::Aes => state.aes.as_ref()?.decrypt(value).ok(),
        Endpoint::Rsa => state.rsa.as_ref()?.decrypt(value).ok(),
        // An endpoint this sandbox does not know cannot decrypt anything.
        _ => None,
    }
}

/// The pair a request is about, decrypted and validated as the vendor does, or the code the
/// vendor answers when it cannot read one.
fn identify(
    state: &SandboxState,
    endpoint: Endpoint,
    params: &Params,
) -> Result<(IdCard, Mobile), ErrorCode> {
    let mobile = decrypt(state, endpoint, params.mobile.as_deref())
        .and_then(|m| Mobile::parse(&m).ok())
        .ok_or(ErrorCode::InvalidMobile)?;
    let idcard = decrypt(state, endpoint, params.idcard.as_deref())
        .and_then(|i| IdCard::parse(&i).ok())
        .ok_or(ErrorCode::InvalidIdCard)?;
    Ok((idcard, mobile))
}

/// The checks about the caller, not the pair: key, rate limit, permission for the endpoint.
fn admit(state: &SandboxState, endpoint: Endpoint, key: Option<&str>) -> Result<(), ErrorCode> {
    match key.and_then(|k| state.keys.get(k)) {
        None => return Err(ErrorCode::InvalidKey),
        Some(KeyStatus::Expired) => return Err(ErrorCode::KeyExpired),
        Some(KeyStatus::Disabled) => return Err(ErrorCode::ForbiddenKey),
        Some(KeyStatus::Active) => {}
    }
    if let Some(limiter) = &state.limiter {
        if !limiter.admit(key.unwrap_or_default(), Instant::now()) {
            return Err(ErrorCode::RateLimited);
        }
    }
    let configured = match endpoint {
        Endpoint::Plain => true,
        Endpoint::Aes => state.aes.is_some(),
        Endpoint::Rsa => state.rsa.is_some(),
        _ => false,
    };
    // No key configured for this endpoint: the account has no permission for it.
    if configured {
        Ok(())
    } else {
        Err(ErrorCode::NoPermission)
    }
}

async fn decide(
    state: &SandboxState,
    endpoint: Endpoint,
    params: Params,
    obs: &mut Observation,
) -> Answer {
    // The pair is read first, so every request counts for its pair, faults included.
    let pair = identify(state, endpoint, &params);
    if let Ok((idcard, mobile)) = &pair {
        obs.pair = Some((idcard.clone(), mobile.clone()));
    }
    let fault = state.faults.next();
    if let Some(answer) = apply(fault, obs).await {
        return answer;
    }
    if let Fault::HttpStatus(status) = fault {
        if !matches!(status, 502 | 504) {
            // Refused in front of the backend: nothing processed.
            return Answer::Gateway(status, None);
        }
    }
    let answer = match (admit(state, endpoint, params.key.as_deref()), pair) {
        (Err(code), _) | (Ok(()), Err(code)) => Answer::Code(code),
        (Ok(()), Ok((idcard, mobile))) => judge(state, &idcard, &mobile, fault, obs).await,
    };
    match fault {
        Fault::HttpStatus(status) => Answer::Gateway(status, Some(Box::new(answer))),
        _ => answer,
    }
}

/// The answer for a readable pair from an admitted caller.
async fn judge(
    state: &SandboxState,
    idcard: &IdCard,
    mobile: &Mobile,
    mut fault: Fault,
    obs: &mut Observation,
) -> Answer {
    if mobile.carrier() != Carrier::Unicom {
        return Answer::Code(ErrorCode::UnsupportedMobile);
    }
    let outcome = match state.fixtures.get(idcard, mobile) {
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
            DefaultVerdict::NoRecord => Outcome::Error(ErrorCode::NoRecord),
            DefaultVerdict::Match => Outcome::Match,
            DefaultVerdict::Mismatch => Outcome::Mismatch,
            DefaultVerdict::Hash => hash_verdict(idcard, mobile),
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
