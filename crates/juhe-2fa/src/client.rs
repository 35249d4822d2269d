//! `Client`: the async client (reqwest by default, or any [`Transport`]).

use std::fmt;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::{Stream, StreamExt};
use juhe_proto::{IdCard, Mobile};
use juhe_transport::{ReqwestTransport, Transport};
use tracing::Instrument;

use crate::core::{Core, parse_inputs};
use crate::{ClientBuilder, Error, Verification};

/// The async client. Cheap to clone (clones share the connection pool and rate limit).
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), juhe_2fa::Error> {
/// let client = juhe_2fa::Client::builder().api_key("key").build()?;
/// match client.verify("110105199003071239", "13012345678").await {
///     Ok(v) => tracing::info!(verdict = %v.verdict, order = %v.order_id, "checked"),
///     Err(e) if e.is_ambiguous() => tracing::warn!("may have been billed: check before resending"),
///     Err(e) => tracing::warn!(%e, "check failed"),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    core: Arc<Core>,
    transport: Arc<dyn Transport>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.core.endpoint)
            .field("base_url", &self.core.base_url)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Builds the async client over reqwest. Fails on a missing key, a bad base URL or key
    /// material, never later on the first call.
    pub fn build(self) -> Result<Client, Error> {
        let (core, config) = self.into_core()?;
        let transport = ReqwestTransport::new(&config).map_err(|e| Error::Config {
            problem: "the HTTP client could not be set up".into(),
            source: Some(Box::new(e)),
        })?;
        Ok(Client {
            core: Arc::new(core),
            transport: Arc::new(transport),
        })
    }

    /// Builds the async client over your own [`Transport`] (a closure, a mock, another HTTP
    /// stack). Timeouts and proxy settings are then the transport's business.
    pub fn build_with_transport(
        self,
        transport: impl Transport + 'static,
    ) -> Result<Client, Error> {
        let (core, _) = self.into_core()?;
        Ok(Client {
            core: Arc::new(core),
            transport: Arc::new(transport),
        })
    }
}

impl Client {
    /// A builder (same as [`ClientBuilder::new`]).
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// Checks one pair. Both numbers are validated first; an invalid one returns
    /// [`Error::InvalidInput`] and sends nothing.
    pub async fn verify(&self, idcard: &str, mobile: &str) -> Result<Verification, Error> {
        let (idcard, mobile) = parse_inputs(idcard, mobile)?;
        self.verify_parsed(&idcard, &mobile).await
    }

    /// Checks one already-validated pair.
    pub async fn verify_parsed(
        &self,
        idcard: &IdCard,
        mobile: &Mobile,
    ) -> Result<Verification, Error> {
        let prepared = self.core.prepare(idcard, mobile)?;
        let span = prepared.span.clone();
        async {
            let mut attempt = 0;
            loop {
                attempt += 1;
                if let Some(limit) = &self.core.rate_limit {
                    limit.wait().await;
                }
                let request = self.core.request(&prepared)?;
                let started = Instant::now();
                let outcome = self.transport.send(request).await;
                match self
                    .core
                    .after_attempt(&prepared, outcome, attempt, started.elapsed())
                {
                    ControlFlow::Break(result) => return result,
                    ControlFlow::Continue(delay) => tokio::time::sleep(delay).await,
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Checks a stream of pairs with at most `concurrency` in flight (and the rate limit).
    /// Results come as they finish, tagged with their input's index.
    pub fn verify_all<'a, S, I, M>(
        &'a self,
        inputs: S,
        concurrency: usize,
    ) -> impl Stream<Item = (usize, Result<Verification, Error>)> + 'a
    where
        S: Stream<Item = (I, M)> + 'a,
        I: AsRef<str> + 'a,
        M: AsRef<str> + 'a,
    {
        inputs
            .enumerate()
            .map(move |(index, (idcard, mobile))| async move {
                (index, self.verify(idcard.as_ref(), mobile.as_ref()).await)
            })
            .buffer_unordered(concurrency.max(1))
    }
}
