//! `Client`: the async client, over reqwest (feature `reqwest`) or any [`Transport`].

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{Stream, StreamExt};
use juhe_proto::{IdCard, Mobile};
use juhe_transport::{BoxError, Transport};
use tracing::Instrument;

use crate::core::{Core, parse_inputs};
use crate::engine::{Check, Input, Step};
use crate::timer::Timer;
use crate::{Attempt, ClientBuilder, Error, Verification};

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
    pub(crate) core: Arc<Core>,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) timer: Arc<dyn Timer>,
    #[cfg(feature = "redis")]
    pub(crate) store: Option<Arc<dyn crate::fleet::SharedStore>>,
    pub(crate) deadline: Option<Duration>,
    pub(crate) context: crate::ledger::Context,
    /// The settings `transport` was made from, when the builder made it (reqwest).
    #[cfg(feature = "reqwest")]
    pub(crate) transport_config: Option<Arc<juhe_transport::TransportConfig>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.core.endpoint)
            .field("base_url", &self.core.base_url)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A builder (same as [`ClientBuilder::new`]).
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// Lets the fleet's keeper run (renewing held pairs, finishing dropped checks) on a tokio
    /// task while it has work; the Redis store needs a tokio runtime anyway.
    pub(crate) fn start_keeper(&self) {
        #[cfg(all(feature = "redis", feature = "reqwest"))]
        if let (Some(fleet), Some(store)) = (&self.core.fleet, &self.store) {
            let store = store.clone();
            fleet.keeper.set_starter(Box::new(move |keeper| {
                let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                    return false;
                };
                let store = store.clone();
                runtime.spawn(async move {
                    let _gone = keeper.runner_guard();
                    while let Some(ops) = keeper.round() {
                        for op in ops {
                            let _ = store.run(&op).await;
                        }
                        keeper.ran();
                        keeper.wait().await;
                    }
                });
                true
            }));
        }
    }

    /// This client with a deadline for each whole check: attempts, back-off, rate-limit and
    /// fleet waits (see [`ClientBuilder::deadline`]). A cheap clone sharing everything else;
    /// `None` removes it.
    ///
    /// ```
    /// # fn f(client: &juhe_2fa::Client) {
    /// let quick = client.with_deadline(Some(std::time::Duration::from_secs(2)));
    /// # }
    /// ```
    pub fn with_deadline(&self, deadline: Option<Duration>) -> Client {
        let mut client = self.clone();
        client.deadline = deadline;
        client
    }

    /// This client recording another caller and purpose with its checks (the audit
    /// ledger, [`ClientBuilder::ledger`]): a cheap clone sharing everything else.
    pub fn with_context(&self, context: crate::ledger::Context) -> Client {
        let mut client = self.clone();
        client.context = context;
        client
    }

    /// A client that shares everything with this one (rate limits, budgets, de-duplication,
    /// the fleet's store, the ledger, deadline and context) but opens its own connections.
    ///
    /// For a server that runs one single-threaded runtime per core: a pooled connection's task
    /// runs on the runtime that opened it, so with one such client per runtime a check stays
    /// on its thread instead of waking another for every request and answer. It may be made
    /// on any thread: its connections are opened on the runtime that runs its calls.
    ///
    /// [`Error::Config`] for a client built over your own transport
    /// ([`ClientBuilder::build_with_transport`]): its connections are yours to share or not.
    ///
    /// ```
    /// # fn f(client: &juhe_2fa::Client) -> Result<(), juhe_2fa::Error> {
    /// let per_thread = client.with_own_connections()?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "reqwest")]
    #[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
    pub fn with_own_connections(&self) -> Result<Client, Error> {
        let Some(config) = &self.transport_config else {
            return Err(Error::config(
                "with_own_connections: this client was built over your own transport; build one client per transport instead",
            ));
        };
        let transport = crate::builder::reqwest_transport(config)?;
        let mut client = self.clone();
        client.transport = Arc::new(transport);
        Ok(client)
    }

    /// Finishes the fleet's pending work before the client goes away (feature `redis`): the
    /// pairs of calls dropped mid-way are freed (or settled ambiguous) in the background;
    /// call this before a process exits or its runtime shuts down, so other processes do not
    /// wait for those pairs' leases. Waits at most 2 s; does nothing without a fleet.
    pub async fn close(&self) {
        #[cfg(feature = "redis")]
        if let Some(fleet) = &self.core.fleet {
            const POLL: Duration = Duration::from_millis(10);
            let until = std::time::Instant::now() + Duration::from_secs(2);
            while fleet.busy() && std::time::Instant::now() < until {
                self.timer.sleep(POLL).await;
            }
        }
    }

    /// Whether what every check needs answers now, for a service's readiness probe: the
    /// fleet's shared store (one round trip, feature `redis`) and the audit ledger
    /// ([`Ledger::admit`](crate::Ledger::admit)). Sends nothing to the API.
    pub async fn ready(&self) -> Result<(), Error> {
        #[cfg(feature = "redis")]
        if let Some(store) = &self.store {
            // A refund of nothing: a script run that changes nothing.
            let ping = crate::fleet::StoreOp::Refund {
                keys: Vec::new(),
                receipt: None,
            };
            store
                .run(&ping)
                .await
                .map_err(|source| Error::SharedStore {
                    problem: "the shared store (Redis) does not answer",
                    source: Some(source),
                })?;
        }
        if let Some(settings) = &self.core.ledger {
            settings
                .ledger
                .admit(&self.context)
                .map_err(Error::Ledger)?;
        }
        Ok(())
    }

    /// Checks one pair. Both numbers are validated first; an invalid one returns
    /// [`Error::InvalidInput`] and sends nothing.
    pub async fn verify(&self, idcard: &str, mobile: &str) -> Result<Verification, Error> {
        let (idcard, mobile) =
            parse_inputs(idcard, mobile).inspect_err(|e| self.core.rejected(&self.context, e))?;
        self.verify_parsed(&idcard, &mobile).await
    }

    /// Checks one already-validated pair.
    pub async fn verify_parsed(
        &self,
        idcard: &IdCard,
        mobile: &Mobile,
    ) -> Result<Verification, Error> {
        self.verify_with(idcard, mobile, |_| async { Ok(()) }).await
    }

    /// Checks one pair, calling `on_send` just before each attempt goes out (after the rate
    /// limit, so "about to send" is true when it runs). Record there, durably, that the request
    /// may be billed; an `Err` from it cancels the attempt ([`Error::Cancelled`], nothing sent).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), juhe_2fa::Error> {
    /// use juhe_2fa::{Client, IdCard, Mobile, testing::answer};
    ///
    /// let client = Client::builder().api_key("k")
    ///     .build_with_transport(|_req| async { Ok(answer::matched("JH1")) })?;
    /// let (id, m) = (IdCard::parse("110105199003071239")?, Mobile::parse("13012345678")?);
    /// let mut journal = Vec::new();
    /// let v = client.verify_with(&id, &m, |attempt| {
    ///     journal.push(attempt.number());
    ///     async { Ok(()) }
    /// }).await?;
    /// assert_eq!((v.order_id.as_str(), journal), ("JH1", vec![1]));
    /// # Ok(()) }
    /// ```
    pub async fn verify_with<F, Fut>(
        &self,
        idcard: &IdCard,
        mobile: &Mobile,
        mut on_send: F,
    ) -> Result<Verification, Error>
    where
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<(), BoxError>>,
    {
        let mut check = Check::new(&self.core, (idcard, mobile), self.deadline, &self.context)?;
        let span = check.span().clone();
        async move {
            let mut input = Input::Go;
            loop {
                input = match check.step(input) {
                    Step::Sleep(wait) => {
                        self.timer.sleep(wait).await;
                        Input::Go
                    }
                    Step::Hook(attempt) => Input::Hooked(on_send(attempt).await),
                    Step::Send(request) => Input::Answered(self.transport.send(request).await),
                    Step::Ledger(call) => self.core.ledger_call(call),
                    #[cfg(feature = "redis")]
                    Step::Store(op) => Input::Stored(match &self.store {
                        Some(store) => store.run(&op).await,
                        None => Err("no shared store".into()),
                    }),
                    Step::Done(result) => return result,
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Checks a stream of pairs with at most `concurrency` in flight (and the rate limit).
    /// Results come in input order, tagged with their input's index.
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
        self.checks(inputs).buffered(concurrency.max(1))
    }

    /// [`Client::verify_all`], with results as they finish rather than in input order.
    pub fn verify_all_unordered<'a, S, I, M>(
        &'a self,
        inputs: S,
        concurrency: usize,
    ) -> impl Stream<Item = (usize, Result<Verification, Error>)> + 'a
    where
        S: Stream<Item = (I, M)> + 'a,
        I: AsRef<str> + 'a,
        M: AsRef<str> + 'a,
    {
        self.checks(inputs).buffer_unordered(concurrency.max(1))
    }

    /// One indexed check future per input, not yet started.
    fn checks<'a, S, I, M>(
        &'a self,
        inputs: S,
    ) -> impl Stream<Item = impl Future<Output = (usize, Result<Verification, Error>)> + 'a> + 'a
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
    }

    /// [`Client::verify_all`] over validated pairs with a pre-send hook (see
    /// [`Client::verify_with`]) that also gets the input's index. Results in input order.
    pub fn verify_all_with<'a, S, F, Fut>(
        &'a self,
        inputs: S,
        concurrency: usize,
        on_send: F,
    ) -> impl Stream<Item = (usize, Result<Verification, Error>)> + 'a
    where
        S: Stream<Item = (IdCard, Mobile)> + 'a,
        F: Fn(usize, Attempt) -> Fut + 'a,
        Fut: Future<Output = Result<(), BoxError>> + 'a,
    {
        let on_send = Arc::new(on_send);
        inputs
            .enumerate()
            .map(move |(index, (idcard, mobile))| {
                let on_send = on_send.clone();
                async move {
                    let hook = |attempt| on_send(index, attempt);
                    (index, self.verify_with(&idcard, &mobile, hook).await)
                }
            })
            .buffered(concurrency.max(1))
    }
}
