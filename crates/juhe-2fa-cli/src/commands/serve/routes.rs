//! The API's routes: `/v1/verify`, `/v1/check`, `/healthz`, `/readyz`, `/metrics`,
//! `/openapi.json`, and JSON answers for everything else (never an HTML page).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use juhe_2fa::ledger::Context;
use juhe_2fa::{Client, IdCard, Mobile};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use serde_json::json;

use super::answer::{Failure, verified};
use super::auth;
use super::config::Caller;

/// A request body is a few dozen bytes of JSON: anything larger is refused unread.
pub const BODY_LIMIT: usize = 4 * 1024;

/// What every request may use.
pub struct Gateway {
    pub client: Client,
    pub callers: Arc<[Caller]>,
    /// The Prometheus text, when served on the API's address.
    pub metrics: Option<PrometheusHandle>,
}

/// `POST /v1/verify` and `/v1/check`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckRequest {
    idcard: String,
    mobile: String,
    #[serde(default)]
    purpose: Option<String>,
}

pub fn router(gateway: Arc<Gateway>) -> Router {
    let mut router = Router::new()
        .route("/v1/verify", post(verify))
        .route("/v1/check", post(check))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi));
    if gateway.metrics.is_some() {
        router = router.route("/metrics", get(metrics));
    }
    router
        .fallback(|| async { Failure::not_found() })
        .method_not_allowed_fallback(|| async { Failure::method_not_allowed() })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(track))
        .with_state(gateway)
}

/// The routes of a separate `--metrics-addr`.
pub fn metrics_router(handle: PrometheusHandle) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let handle = handle.clone();
                async move { prometheus(&handle) }
            }),
        )
        .fallback(|| async { Failure::not_found() })
}

/// HTTP request metrics by route (the matched pattern, never the path a client sent) and
/// status, and a debug line per request without its body, headers or path.
async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let elapsed = started.elapsed();
    metrics::counter!("juhe_gateway_http_requests_total", "route" => route.clone(), "status" => status.clone())
        .increment(1);
    metrics::histogram!("juhe_gateway_http_request_duration_seconds", "route" => route.clone())
        .record(elapsed.as_secs_f64());
    tracing::debug!(%method, %route, %status, latency_ms = elapsed.as_millis() as u64, "request");
    response
}

/// The caller, the request and (for a check that is sent) its purpose, in that order: 401,
/// 400, 403.
fn admit<'g>(
    gateway: &'g Gateway,
    headers: &HeaderMap,
    body: &[u8],
    purpose_checked: bool,
) -> Result<(&'g Caller, CheckRequest), Failure> {
    let caller = auth::caller(&gateway.callers, headers).ok_or_else(Failure::unauthorized)?;
    let request: CheckRequest = serde_json::from_slice(body).map_err(|e| {
        // serde's message names the field or position, never the value.
        let what = match e.classify() {
            serde_json::error::Category::Data => {
                "The body must be JSON with the string fields idcard and mobile (and optionally purpose), and no others."
            }
            _ => "The body is not valid JSON.",
        };
        Failure::invalid_request(what)
    })?;
    // The purpose is recorded and printed back (`ledger find`): a newline could forge a line,
    // an escape sequence drive the operator's terminal.
    if request
        .purpose
        .as_deref()
        .is_some_and(|p| p.chars().any(char::is_control))
    {
        return Err(Failure::invalid_request(
            "The purpose must be text without control characters.",
        ));
    }
    if let Some(allowed) = caller.purposes.as_ref().filter(|_| purpose_checked) {
        let given = request.purpose.as_deref().unwrap_or("");
        if !allowed.iter().any(|p| p == given) {
            return Err(Failure::forbidden_purpose());
        }
    }
    Ok((caller, request))
}

async fn verify(State(gateway): State<Arc<Gateway>>, headers: HeaderMap, body: Bytes) -> Response {
    let (caller, request) = match admit(&gateway, &headers, &body, true) {
        Ok(admitted) => admitted,
        Err(failure) => return failure.into_response(),
    };
    let context =
        Context::new(Some(caller.name.clone()), request.purpose).with_limits(caller.limits.clone());
    let client = gateway.client.with_context(context);
    let result = client.verify(&request.idcard, &request.mobile).await;
    let outcome = match &result {
        Ok(v) if v.is_match() => "match",
        Ok(_) => "mismatch",
        Err(e) => e.class().as_str(),
    };
    metrics::counter!("juhe_gateway_checks_total", "caller" => caller.name.clone(), "outcome" => outcome)
        .increment(1);
    match result {
        Ok(v) => verified(&v),
        Err(e) => Failure::of(&e).into_response(),
    }
}

/// Local validation only: what `/v1/verify` would refuse before sending. Free.
async fn check(State(gateway): State<Arc<Gateway>>, headers: HeaderMap, body: Bytes) -> Response {
    let (_, request) = match admit(&gateway, &headers, &body, false) {
        Ok(admitted) => admitted,
        Err(failure) => return failure.into_response(),
    };
    let parsed = IdCard::parse(&request.idcard)
        .and_then(|_| Mobile::parse(&request.mobile))
        .map_err(juhe_2fa::Error::from);
    match parsed {
        Ok(mobile) => {
            let carrier = mobile.carrier();
            let body = json!({
                "valid": true,
                "carrier": carrier,
                "supported": carrier == juhe_2fa::Carrier::Unicom,
            });
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Err(e) => Failure::of(&e).into_response(),
    }
}

async fn healthz() -> Response {
    (StatusCode::OK, axum::Json(json!({ "status": "ok" }))).into_response()
}

/// Ready when the configuration was accepted (it was: the gateway is serving) and Redis and
/// the ledger answer.
async fn readyz(State(gateway): State<Arc<Gateway>>) -> Response {
    match gateway.client.ready().await {
        Ok(()) => (StatusCode::OK, axum::Json(json!({ "status": "ready" }))).into_response(),
        Err(e) => {
            tracing::warn!(error = %crate::error::chain(&e), "not ready");
            Failure::not_ready(&e).into_response()
        }
    }
}

async fn metrics(State(gateway): State<Arc<Gateway>>) -> Response {
    match &gateway.metrics {
        Some(handle) => prometheus(handle),
        None => Failure::not_found().into_response(),
    }
}

fn prometheus(handle: &PrometheusHandle) -> Response {
    let mut response = handle.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

async fn openapi() -> Response {
    (StatusCode::OK, axum::Json(super::openapi::document())).into_response()
}
