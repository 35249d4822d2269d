//! The sandbox without a socket: requests in, responses out, on the caller's runtime. For
//! tests that want the vendor's behaviour behind a custom transport, and for fuzzing.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use tokio::sync::Notify;
use tower::ServiceExt;

use crate::handler::{ConnControl, SandboxState};
use crate::{SandboxBuilder, SandboxError, Stats, server};

/// A sandbox answering [`http::Request`]s directly. Built with
/// [`SandboxBuilder::build_in_process`]; cheap to clone (clones share counters).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use juhe_sandbox::{Sandbox, demo};
///
/// let sandbox = Sandbox::builder().build_in_process()?;
/// let uri = format!("/telecom2Cucc/query?key={}&idcard={}&mobile={}",
///     demo::API_KEY, demo::MATCH.0, demo::MATCH.1);
/// let request = http::Request::get(uri).body(Vec::new())?;
/// let response = sandbox.handle(request).await.expect("not a `drop` fault");
/// assert!(std::str::from_utf8(response.body())?.contains("\"res\":1"));
/// assert_eq!(sandbox.stats().billed, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct InProcessSandbox {
    state: Arc<SandboxState>,
    router: Router,
}

impl std::fmt::Debug for InProcessSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InProcessSandbox { .. }")
    }
}

impl SandboxBuilder {
    /// Builds the sandbox without binding a socket (the address is ignored).
    pub fn build_in_process(self) -> Result<InProcessSandbox, SandboxError> {
        let control = self.control_on(None);
        let (_, state) = self.into_state()?;
        let state = Arc::new(state);
        Ok(InProcessSandbox {
            router: server::router(state.clone(), control),
            state,
        })
    }
}

impl InProcessSandbox {
    /// Answers one request as the server would; `None` when a `drop` fault closes the
    /// connection without an answer. Needs a tokio runtime (delays sleep on its timer).
    pub async fn handle(&self, request: http::Request<Vec<u8>>) -> Option<http::Response<Vec<u8>>> {
        let drop_now = Arc::new(Notify::new());
        let (parts, body) = request.into_parts();
        let mut request = http::Request::from_parts(parts, Body::from(body));
        request
            .extensions_mut()
            .insert(ConnControl(drop_now.clone()));
        let response = tokio::select! {
            response = self.router.clone().oneshot(request) => response.unwrap_or_else(|e| match e {}),
            _ = drop_now.notified() => return None,
        };
        let (parts, body) = response.into_parts();
        // Answers are small JSON or HTML documents; the limit only guards the conversion.
        let bytes = axum::body::to_bytes(body, 1 << 20).await.ok()?;
        Some(http::Response::from_parts(parts, bytes.to_vec()))
    }

    /// Counters over every request so far.
    pub fn stats(&self) -> Stats {
        self.state.recorder.stats()
    }

    /// How many pairs were billed more than once.
    pub fn pairs_billed_more_than_once(&self) -> usize {
        self.state.recorder.pairs_billed_more_than_once()
    }
}
