//! Configuring, starting and stopping a sandbox.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use juhe_crypto::{AesConfig, AesDecryptor, RsaOaepDecryptor};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::handler::SandboxState;
use crate::rate_limit::QpsLimiter;
use crate::recorder::Recorder;
use crate::{FaultPlan, Fixtures, PairCount, RequestRecord, SandboxError, Stats, demo, server};

/// The state of a configured API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Accepted.
    Active,
    /// Answered with 10003 (KEY过期).
    Expired,
    /// Answered with 10009 (被禁止的KEY).
    Disabled,
}

/// The answer for valid China Unicom pairs that are not in the fixture table.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum DefaultVerdict {
    /// 232904 查无记录 (default).
    #[default]
    NoRecord,
    /// `res` 1.
    Match,
    /// `res` 2.
    Mismatch,
    /// `res` 1 or 2, decided by a hash of the pair: stable across runs.
    Hash,
}

impl std::str::FromStr for DefaultVerdict {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "no-record" => Ok(DefaultVerdict::NoRecord),
            "match" => Ok(DefaultVerdict::Match),
            "mismatch" => Ok(DefaultVerdict::Mismatch),
            "hash" => Ok(DefaultVerdict::Hash),
            _ => Err(format!(
                "unknown default verdict {s:?}: expected no-record, match, mismatch or hash"
            )),
        }
    }
}

/// Entry point: `Sandbox::builder()`.
#[derive(Debug)]
pub struct Sandbox;

impl Sandbox {
    /// A builder preset for the demo: the demo API key (unless [`SandboxBuilder::key`] adds
    /// others), the AES endpoint on the vendor's scheme with the demo OpenID
    /// ([`demo::OPENID`]), the demo RSA key, the demo fixtures, unknown pairs answered 232904,
    /// listening on `127.0.0.1:0` (a free port).
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            keys: HashMap::new(),
            aes: Some(AesConfig::from_openid(demo::OPENID).expect("demo OpenID is valid")),
            rsa_private_key: Some(demo::RSA_PRIVATE_KEY_PEM.to_owned()),
            fixtures: demo::fixtures(),
            default_verdict: DefaultVerdict::NoRecord,
            qps_limit: None,
            faults: FaultPlan::new(),
            control: None,
            log_requests: false,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            min_body_rate: DEFAULT_MIN_BODY_RATE,
        }
    }
}

/// Connections served at once before new ones wait to be accepted.
pub const DEFAULT_MAX_CONNECTIONS: usize = 2048;

/// Time a client has to send a request's headers, or may idle between requests.
pub const DEFAULT_HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Time a client has to send a whole request, from its first byte to the end of its body.
pub const DEFAULT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Bytes per second a request body must keep up, on average, from one second after the
/// headers. API bodies are a few hundred bytes, so a client of the API never comes near it.
pub const DEFAULT_MIN_BODY_RATE: u32 = 1024;

/// Configures a sandbox; see [`Sandbox::builder`] for the defaults.
#[must_use = "a builder does nothing until `spawn` is called"]
pub struct SandboxBuilder {
    addr: SocketAddr,
    keys: HashMap<String, KeyStatus>,
    aes: Option<AesConfig>,
    rsa_private_key: Option<String>,
    fixtures: Fixtures,
    default_verdict: DefaultVerdict,
    qps_limit: Option<u32>,
    faults: FaultPlan,
    control: Option<bool>,
    log_requests: bool,
    max_connections: usize,
    header_timeout: std::time::Duration,
    request_timeout: std::time::Duration,
    min_body_rate: u32,
}

impl std::fmt::Debug for SandboxBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxBuilder")
            .field("addr", &self.addr)
            .field("keys", &self.keys.len())
            .field("aes", &self.aes)
            .field("fixtures", &self.fixtures.len())
            .field("default_verdict", &self.default_verdict)
            .field("qps_limit", &self.qps_limit)
            .finish_non_exhaustive()
    }
}

impl SandboxBuilder {
    /// The address to listen on (default `127.0.0.1:0`).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Accepts this API key. Once any key is added, the demo key is no longer accepted.
    pub fn key(self, key: impl Into<String>) -> Self {
        self.key_with_status(key, KeyStatus::Active)
    }

    /// Knows this key with a status (expired keys get 10003, disabled ones 10009).
    pub fn key_with_status(mut self, key: impl Into<String>, status: KeyStatus) -> Self {
        self.keys.insert(key.into(), status);
        self
    }

    /// The AES settings of the `queryEncry` endpoint (`None`: the endpoint answers 10002).
    /// Any mode and IV policy, to emulate an account set up differently from the vendor's
    /// scheme.
    pub fn aes(mut self, config: Option<AesConfig>) -> Self {
        self.aes = config;
        self
    }

    /// The account's OpenID: the `queryEncry` endpoint uses the vendor's scheme with it
    /// ([`AesConfig::from_openid`]: MD5-derived key, AES-128-ECB). An empty OpenID is an error.
    pub fn openid(self, openid: &str) -> Result<Self, SandboxError> {
        Ok(self.aes(Some(AesConfig::from_openid(openid)?)))
    }

    /// The RSA private key of the `queryRV2` endpoint, as PEM or base64 DER (`None`: the
    /// endpoint answers 10002). Checked at spawn.
    pub fn rsa_private_key(mut self, key: Option<&str>) -> Self {
        self.rsa_private_key = key.map(str::to_owned);
        self
    }

    /// Replaces the fixture table (the demo fixtures by default).
    pub fn fixtures(mut self, fixtures: Fixtures) -> Self {
        self.fixtures = fixtures;
        self
    }

    /// The answer for valid Unicom pairs not in the fixture table.
    pub fn default_verdict(mut self, verdict: DefaultVerdict) -> Self {
        self.default_verdict = verdict;
        self
    }

    /// Answers 10012 beyond `qps` requests per key in any sliding one-second window.
    pub fn qps_limit(mut self, qps: Option<u32>) -> Self {
        self.qps_limit = qps.filter(|q| *q > 0);
        self
    }

    /// Faults for requests in arrival order.
    pub fn faults(mut self, plan: FaultPlan) -> Self {
        self.faults = plan;
        self
    }

    /// `GET /__sandbox/stats` and `POST /__sandbox/reset`. Default (`None`): on when listening
    /// on a loopback address (and in process), off otherwise.
    pub fn control_endpoints(mut self, enabled: Option<bool>) -> Self {
        self.control = enabled;
        self
    }

    /// Logs one masked line per request (tracing target `juhe_sandbox::request`, level info).
    pub fn log_requests(mut self, enabled: bool) -> Self {
        self.log_requests = enabled;
        self
    }

    /// At most this many connections at once (default [`DEFAULT_MAX_CONNECTIONS`]). At the cap,
    /// a new connection takes the place of the one that has been idle or reading a request
    /// longest (at least a second); when none has, it waits to be accepted. So slow or idle
    /// clients cannot take the sandbox down.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long a client may take to send its headers, or idle between requests, before its
    /// connection is closed (default [`DEFAULT_HEADER_TIMEOUT`]).
    pub fn header_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// How long a client may take to send a whole request, from its first byte to the end of
    /// its body, before it is answered 408 and its connection closed (default
    /// [`DEFAULT_REQUEST_TIMEOUT`]). It also bounds the header timeout. Values over a day are
    /// taken as a day.
    pub fn request_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The slowest a request body may arrive, in bytes per second on average, counted from one
    /// second after the headers (default [`DEFAULT_MIN_BODY_RATE`]; 0: no minimum, the request
    /// timeout alone applies). A slower body is answered 408 and its connection closed, so
    /// clients trickling bodies cannot hold the connection slots.
    pub fn min_body_rate(mut self, bytes_per_second: u32) -> Self {
        self.min_body_rate = bytes_per_second;
        self
    }

    /// Whether the control endpoints are on for a sandbox listening on `addr`.
    pub(crate) fn control_on(&self, addr: Option<SocketAddr>) -> bool {
        self.control
            .unwrap_or_else(|| addr.is_none_or(|a| a.ip().is_loopback()))
    }

    pub(crate) fn into_state(self) -> Result<(SocketAddr, SandboxState), SandboxError> {
        let mut keys = self.keys;
        if keys.is_empty() {
            keys.insert(demo::API_KEY.to_owned(), KeyStatus::Active);
        }
        let rsa = self
            .rsa_private_key
            .as_deref()
            .map(RsaOaepDecryptor::from_private_key)
            .transpose()?;
        let state = SandboxState {
            keys,
            aes: self.aes.map(AesDecryptor::new),
            rsa,
            fixtures: self.fixtures,
            default_verdict: self.default_verdict,
            limiter: self.qps_limit.map(QpsLimiter::new),
            faults: self.faults,
            recorder: Recorder::new(self.log_requests),
        };
        Ok((self.addr, state))
    }

    /// Binds and starts serving on the current tokio runtime.
    pub async fn spawn(self) -> Result<SandboxHandle, SandboxError> {
        let control = self.control_on(Some(self.addr));
        let mut limits = juhe_server::Limits::default();
        limits.max_connections = self.max_connections;
        limits.header_timeout = self.header_timeout;
        limits.request_timeout = self.request_timeout;
        limits.min_body_rate = self.min_body_rate;
        limits.body_limit = server::BODY_LIMIT;
        let options = juhe_server::Options::new(limits, server::refuse);
        let (addr, state) = self.into_state()?;
        let listener =
            juhe_server::bind(addr).map_err(|source| SandboxError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| SandboxError::Bind { addr, source })?;
        let state = Arc::new(state);
        let (shutdown, watch_rx) = watch::channel(false);
        let task = tokio::spawn(juhe_server::serve(
            listener,
            server::router(state.clone(), control),
            watch_rx,
            options,
        ));
        tracing::info!(addr = %local, "sandbox listening");
        Ok(SandboxHandle {
            addr: local,
            state,
            shutdown,
            task,
        })
    }

    /// Starts the sandbox on its own runtime thread, for synchronous tests and programs.
    pub fn spawn_blocking(self) -> Result<BlockingSandbox, SandboxError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("juhe-sandbox")
            .enable_all()
            .build()
            .map_err(SandboxError::Runtime)?;
        let handle = runtime.block_on(self.spawn())?;
        Ok(BlockingSandbox {
            handle: Some(handle),
            runtime: Some(runtime),
        })
    }
}

/// A running sandbox. Stop it with [`SandboxHandle::shutdown`] (dropping it leaves the server
/// running until the runtime ends).
#[derive(Debug)]
pub struct SandboxHandle {
    addr: SocketAddr,
    state: Arc<SandboxState>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for SandboxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SandboxState { .. }")
    }
}

impl SandboxHandle {
    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, to give a client as its base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Counters over every request so far.
    pub fn stats(&self) -> Stats {
        self.state.recorder.stats()
    }

    /// The most recent requests (up to 10,000), oldest first, numbers masked.
    pub fn recent_requests(&self) -> Vec<RequestRecord> {
        self.state.recorder.recent()
    }

    /// How often a pair was asked for, and billed. Numbers are normalised as the API does.
    pub fn pair_count(&self, idcard: &str, mobile: &str) -> PairCount {
        self.state.recorder.pair_count(idcard, mobile)
    }

    /// How many pairs were billed more than once (a client should make this 0).
    pub fn pairs_billed_more_than_once(&self) -> usize {
        self.state.recorder.pairs_billed_more_than_once()
    }

    /// Forgets every request: counters, records and pair counts start again from zero (what
    /// `POST /__sandbox/reset` does). Fixtures, keys and the fault plan stay as configured.
    pub fn reset(&self) {
        self.state.recorder.reset();
    }

    /// Stops accepting, lets requests in flight finish (up to 5 s), and waits for the server.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }

    /// Serves until `signal` completes, then shuts down (for the CLI's foreground mode).
    pub async fn run_until(self, signal: impl std::future::Future<Output = ()>) {
        signal.await;
        self.shutdown().await;
    }
}

/// A sandbox on its own runtime thread; shuts down when dropped.
#[derive(Debug)]
pub struct BlockingSandbox {
    handle: Option<SandboxHandle>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl BlockingSandbox {
    fn handle(&self) -> &SandboxHandle {
        self.handle.as_ref().expect("present until drop")
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.handle().base_url()
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.handle().addr()
    }

    /// Counters over every request so far.
    pub fn stats(&self) -> Stats {
        self.handle().stats()
    }

    /// The most recent requests, numbers masked.
    pub fn recent_requests(&self) -> Vec<RequestRecord> {
        self.handle().recent_requests()
    }

    /// How often a pair was asked for, and billed.
    pub fn pair_count(&self, idcard: &str, mobile: &str) -> PairCount {
        self.handle().pair_count(idcard, mobile)
    }

    /// How many pairs were billed more than once.
    pub fn pairs_billed_more_than_once(&self) -> usize {
        self.handle().pairs_billed_more_than_once()
    }

    /// Forgets every request (see [`SandboxHandle::reset`]).
    pub fn reset(&self) {
        self.handle().reset();
    }

    /// Stops the server and its runtime.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let (Some(handle), Some(runtime)) = (self.handle.take(), self.runtime.take()) {
            runtime.block_on(handle.shutdown());
            runtime.shutdown_background();
        }
    }
}

impl Drop for BlockingSandbox {
    fn drop(&mut self) {
        self.stop();
    }
}
