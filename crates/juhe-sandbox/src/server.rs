//! The sandbox's routes; serving them (connection cap, slow clients, shutdown) is
//! `juhe-server`'s, shared with the gateway.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::Response;
use axum::routing::{any, get, post};
use juhe_proto::Endpoint;

use crate::handler::{SandboxState, api, http_error, not_found, reset, stats};

/// Request bodies are a few hundred bytes; anything far larger is not a client of this API.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

pub(crate) fn router(state: Arc<SandboxState>, control: bool) -> Router {
    let mut router = Router::new();
    for endpoint in Endpoint::ALL {
        router = router.route(endpoint.path(), any(api));
    }
    if control {
        router = router
            .route("/__sandbox/stats", get(stats))
            .route("/__sandbox/reset", post(reset));
    }
    router
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// A body refused while it was read, in the vendor's JSON shape.
pub(crate) fn refuse(refusal: juhe_server::Refusal) -> Response {
    http_error(refusal.status(), refusal.reason())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sandbox;
    use crate::handler::ConnControl;
    use axum::body::Body;
    use proptest::prelude::*;
    use tokio::sync::Notify;
    use tower::ServiceExt;

    fn state() -> Arc<SandboxState> {
        let (_, state) = Sandbox::builder().into_state().unwrap();
        Arc::new(state)
    }

    async fn call(router: Router, request: http::Request<Body>) -> http::Response<Body> {
        let mut request = request;
        request
            .extensions_mut()
            .insert(ConnControl(Arc::new(Notify::new())));
        router.oneshot(request).await.unwrap_or_else(|e| match e {})
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Any method, path, query, content type and body gets an HTTP answer, never a panic.
        #[test]
        fn any_request_gets_an_answer(
            method in prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
            path in prop::sample::select(vec!["/telecom2Cucc/query", "/telecom2Cucc/queryEncry", "/telecom2Cucc/queryRV2", "/", "/x"]),
            query in "[a-z=&%+0-9A-F]{0,40}",
            content_type in prop::option::of(prop::sample::select(vec!["application/x-www-form-urlencoded", "application/json", "text/plain; charset=gbk", ""])),
            body in prop::collection::vec(proptest::arbitrary::any::<u8>(), 0..300),
            fields in prop::option::of(("\\PC{0,30}", "\\PC{0,30}", "\\PC{0,30}")),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let router = router(state(), true);
            let body = match &fields {
                Some((k, i, m)) => form_urlencoded::Serializer::new(String::new())
                    .append_pair("key", k).append_pair("idcard", i).append_pair("mobile", m).finish().into_bytes(),
                None => body,
            };
            let mut builder = http::Request::builder().method(method).uri(format!("{path}?{query}"));
            if let Some(ct) = content_type {
                builder = builder.header("content-type", ct);
            }
            let request = builder.body(Body::from(body)).unwrap();
            let response = rt.block_on(call(router, request));
            let status = response.status().as_u16();
            prop_assert!([200, 404, 405, 413, 415].contains(&status), "status {}", status);
            // Every answer is the vendor's JSON shape, with an error_code.
            let body = rt.block_on(axum::body::to_bytes(response.into_body(), 1 << 20)).unwrap();
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            prop_assert!(json["error_code"].is_i64(), "{}", json);
        }
    }
}
