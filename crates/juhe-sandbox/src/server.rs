//! Accepting connections: hyper per connection, so a handler can drop its connection (the
//! `drop` fault) and shutdown can be graceful.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use juhe_proto::Endpoint;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::handler::{ConnControl, SandboxState, api, not_found, reset, stats};

/// Request bodies are a few hundred bytes; anything far larger is not a client of this API.
const BODY_LIMIT: usize = 64 * 1024;
const GRACE: Duration = Duration::from_secs(5);

/// What keeps slow or idle clients from taking the server down.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_connections: usize,
    pub(crate) header_timeout: Duration,
}

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

pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
    limits: Limits,
) {
    let Limits {
        max_connections,
        header_timeout,
    } = limits;
    let mut connections = JoinSet::new();
    let slots = Arc::new(Semaphore::new(max_connections));
    loop {
        // At the cap, stop accepting until a connection ends: the kernel's backlog holds the
        // rest, and clients already served keep being served.
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                tracing::warn!(
                    max_connections,
                    "connection cap reached; new connections wait"
                );
                tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot { Ok(s) => s, Err(_) => break },
                    _ = shutdown.changed() => break,
                }
            }
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let conn = connection(stream, router.clone(), shutdown.clone(), header_timeout);
                    connections.spawn(async move {
                        conn.await;
                        drop(slot);
                    });
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
    }
}

async fn connection(
    stream: TcpStream,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
    header_timeout: Duration,
) {
    let _ = stream.set_nodelay(true);
    let drop_now = Arc::new(Notify::new());
    let control = ConnControl(drop_now.clone());
    let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
        request.extensions_mut().insert(control.clone());
        let router = router.clone();
        async move { Ok::<_, Infallible>(router.oneshot(request).await.unwrap_or_else(|e| match e {})) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // A client that trickles its headers (or idles between requests) is cut off.
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            // Dropping `conn` closes the socket without an answer.
            _ = drop_now.notified() => return,
            Ok(()) = shutdown.changed() => conn.as_mut().graceful_shutdown(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sandbox;
    use axum::body::Body;
    use proptest::prelude::*;

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
