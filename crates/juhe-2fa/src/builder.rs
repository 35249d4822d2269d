//! `ClientBuilder`: one configuration for both clients.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use juhe_crypto::{
    AesConfig, AesEncryptor, FieldEncryptor, PlainEncoder, RsaOaepEncryptor, RsaPublicKey,
};
use juhe_proto::{Endpoint, Method, QueryParams};
use juhe_transport::{BlockingTransport, Proxy, Transport, TransportConfig};

use crate::core::Core;
use crate::rate_limit::RateLimit;
use crate::timer::{DefaultTimer, Timer};
use crate::{ApiKey, BlockingClient, Client, Error, RetryPolicy};

/// The vendor's production base URL.
pub const DEFAULT_BASE_URL: &str = "https://apis.juhe.cn";

/// Which endpoint to use, with its key material.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Mode {
    /// `/telecom2Cucc/query`: fields in plain text (TLS protects them on the wire).
    #[default]
    Plain,
    /// `/telecom2Cucc/queryEncry`: fields AES-encrypted with these settings. The vendor's
    /// scheme is [`Mode::aes_openid`]; a config from [`AesConfig::new`] covers other set-ups.
    Aes(AesConfig),
    /// `/telecom2Cucc/queryRV2`: fields RSA-OAEP(SHA-1) encrypted with the vendor's public key
    /// (see [`Mode::rsa`] to parse it from the PEM or base64 DER text the console shows).
    Rsa(RsaPublicKey),
}

impl Mode {
    /// The vendor's AES scheme for the account with this OpenID (shown in the Juhe console):
    /// key = first 16 characters of the lowercase hex MD5 of the OpenID, AES-128-ECB, PKCS#5,
    /// base64. An empty OpenID is an error.
    ///
    /// ```
    /// use juhe_2fa::{FieldEncryptor, Mode};
    /// let mode = Mode::aes_openid("JH0123456789abcdef0123456789abcd")?;
    /// assert_eq!(mode.encryptor()?.encrypt("13800000000")?, "4OrXBktLnN8vEvItmH/ZFQ==");
    /// assert!(Mode::aes_openid("").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn aes_openid(openid: &str) -> Result<Mode, Error> {
        AesConfig::from_openid(openid)
            .map(Mode::Aes)
            .map_err(|e| Error::Config {
                problem: "the OpenID cannot be used as an AES key source".into(),
                source: Some(Box::new(e)),
            })
    }

    /// RSA mode with the vendor's public key as text: PEM, or base64 DER as the vendor console
    /// shows it. The key is parsed and checked here, so a bad key fails before any client is
    /// built.
    ///
    /// ```
    /// use juhe_2fa::Mode;
    /// assert!(Mode::rsa("not a key").is_err());
    /// let mode = Mode::rsa(juhe_sandbox::demo::RSA_PUBLIC_KEY_B64)?; // the sandbox's key
    /// assert_eq!(format!("{mode:?}"), "Rsa(RsaPublicKey { bits: 2048 })");
    /// # Ok::<(), juhe_2fa::Error>(())
    /// ```
    pub fn rsa(public_key: &str) -> Result<Mode, Error> {
        RsaPublicKey::parse(public_key)
            .map(Mode::Rsa)
            .map_err(|e| Error::Config {
                problem: "the RSA public key cannot be used".into(),
                source: Some(Box::new(e)),
            })
    }

    /// The field encryptor for this mode, its key parsed and checked (what `build` uses; also
    /// handy to see what would be sent, as the CLI's `encrypt` does).
    ///
    /// ```
    /// use juhe_2fa::{AesConfig, AesMode, FieldEncryptor, Mode};
    /// let config = AesConfig::new("1234567890abcdef")?.with_mode(AesMode::Cbc);
    /// let aes = Mode::Aes(config).encryptor()?;
    /// assert_eq!(aes.encrypt("13800138000")?, "ed94IFh2niaJJjw1QLO6vw==");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encryptor(&self) -> Result<Box<dyn FieldEncryptor>, Error> {
        Ok(match self {
            Mode::Plain => Box::new(PlainEncoder),
            Mode::Aes(config) => Box::new(AesEncryptor::new(config.clone())),
            Mode::Rsa(key) => Box::new(RsaOaepEncryptor::new(key.clone())),
        })
    }

    /// The endpoint this mode calls.
    pub fn endpoint(&self) -> Endpoint {
        match self {
            Mode::Plain => Endpoint::Plain,
            Mode::Aes(_) => Endpoint::Aes,
            Mode::Rsa(_) => Endpoint::Rsa,
        }
    }
}

impl fmt::Debug for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Plain => f.write_str("Plain"),
            Mode::Aes(config) => f.debug_tuple("Aes").field(config).finish(),
            Mode::Rsa(key) => f.debug_tuple("Rsa").field(key).finish(),
        }
    }
}

/// What to do with a mobile number outside China Unicom's segments (the API answers 232903
/// for those, but numbers can be ported, so the segment is only advice).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CarrierPolicy {
    /// Log a warning and send anyway (default).
    #[default]
    Report,
    /// Refuse locally with [`Error::UnsupportedCarrier`]; nothing is sent.
    Refuse,
}

/// Builds a [`Client`] or a [`BlockingClient`]: over the built-in backends (`build` with
/// feature `reqwest`, `build_blocking` with feature `ureq`) or over any transport
/// (`build_with_transport`, `build_blocking_with_transport`, no feature needed).
///
/// ```
/// use std::time::Duration;
/// use juhe_2fa::{ClientBuilder, Method, Mode, RetryPolicy};
///
/// let builder = ClientBuilder::new()
///     .api_key("my-key")
///     .base_url("http://127.0.0.1:8080")
///     .mode(Mode::Plain)
///     .method(Method::Post)
///     .timeout(Duration::from_secs(10))
///     .retry_policy(RetryPolicy::none())
///     .rate_limit(20.0);
/// assert!(!format!("{builder:?}").contains("my-key"));
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until `build…` is called"]
pub struct ClientBuilder {
    api_key: Option<ApiKey>,
    base_url: String,
    mode: Mode,
    method: Method,
    transport: TransportConfig,
    retry: RetryPolicy,
    rate_limit: Option<(f64, u32)>,
    deadline: Option<Duration>,
    ledger: Option<(Arc<dyn crate::Ledger>, bool)>,
    budgets: Vec<crate::budget::Budget>,
    context: crate::ledger::Context,
    carrier_policy: CarrierPolicy,
    timer: Option<Arc<dyn Timer>>,
    #[cfg(feature = "redis")]
    fleet: crate::fleet::FleetPlan,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder::new()
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = f.debug_struct("ClientBuilder");
        f.field("api_key", &self.api_key)
            .field("base_url", &shown_base_url(&self.base_url))
            .field("mode", &self.mode)
            .field("method", &self.method)
            .field("transport", &self.transport)
            .field("retry", &self.retry)
            .field("rate_limit", &self.rate_limit)
            .field("deadline", &self.deadline)
            .field(
                "ledger",
                &self
                    .ledger
                    .as_ref()
                    .map(|(_, optional)| if *optional { "optional" } else { "required" }),
            )
            .field("context", &self.context)
            .field("budgets", &self.budgets)
            .field("carrier_policy", &self.carrier_policy)
            .field(
                "timer",
                &self.timer.as_ref().map_or("default", |_| "custom"),
            );
        // The Redis URL may hold a password: only whether there is one.
        #[cfg(feature = "redis")]
        f.field("shared_store", &self.fleet.url.as_ref().map(|_| "redis"))
            .field("shared_rate_limit", &self.fleet.qps)
            .field("dedupe", &self.fleet.dedupe_keep);
        f.finish()
    }
}

impl ClientBuilder {
    /// Defaults: base URL [`DEFAULT_BASE_URL`], plain mode, POST, 5 s connect / 15 s total
    /// timeouts, [`RetryPolicy::default`], no rate limit, [`CarrierPolicy::Report`].
    pub fn new() -> ClientBuilder {
        ClientBuilder {
            api_key: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            mode: Mode::Plain,
            method: Method::Post,
            transport: TransportConfig::default(),
            retry: RetryPolicy::default(),
            rate_limit: None,
            deadline: None,
            ledger: None,
            budgets: Vec::new(),
            context: crate::ledger::Context::default(),
            carrier_policy: CarrierPolicy::Report,
            timer: None,
            #[cfg(feature = "redis")]
            fleet: Default::default(),
        }
    }

    /// The API key (required).
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The base URL, e.g. a sandbox's `http://127.0.0.1:PORT`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The endpoint and its key material.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// POST (default) or GET. With GET the key travels in the URL, where proxies and access
    /// logs may record it.
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Time allowed for a whole exchange (default 15 s), by the built-in backends (`build`,
    /// `build_blocking`). A transport of your own (`build_with_transport`,
    /// `build_blocking_with_transport`) is not bounded by it: give it its own timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.transport.timeout = timeout;
        self
    }

    /// Time allowed to connect (default 5 s), by the built-in backends only (as
    /// [`ClientBuilder::timeout`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.transport.connect_timeout = timeout;
        self
    }

    /// Sends through this proxy (`http://`, `https://` or `socks5://`, parsed by
    /// [`Proxy::parse`], so a bad URL fails where it is written). Without it no proxy is used,
    /// whatever the environment says.
    ///
    /// ```
    /// use juhe_2fa::{ClientBuilder, Proxy};
    /// let builder = ClientBuilder::new().proxy(Proxy::parse("http://user:secret@10.0.0.1:3128")?);
    /// assert!(!format!("{builder:?}").contains("secret"));
    /// # Ok::<(), juhe_2fa::TransportError>(())
    /// ```
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.transport.proxy = Some(proxy);
        self
    }

    /// Trusts this root certificate too (PEM; a bundle is fine), for both backends: e.g. the
    /// CA of a corporate proxy that inspects TLS. Parsed at `build`.
    pub fn add_root_certificate(mut self, pem: impl Into<String>) -> Self {
        self.transport.root_certificates.push(pem.into());
        self
    }

    /// Whether Mozilla's roots are trusted (default true). Off, only the certificates given to
    /// [`ClientBuilder::add_root_certificate`] are.
    pub fn tls_built_in_roots(mut self, trusted: bool) -> Self {
        self.transport.built_in_roots = trusted;
        self
    }

    /// Replaces all transport settings.
    pub fn transport_config(mut self, config: TransportConfig) -> Self {
        self.transport = config;
        self
    }

    /// Time allowed for each whole check (default: none), across its attempts, back-off,
    /// rate-limit and fleet waits: [`ClientBuilder::timeout`] bounds one attempt. When the
    /// next wait or attempt would pass it, the check ends with [`Error::Deadline`] (class
    /// `Unbilled`: whatever was sent was answered unbilled); an attempt already sent runs to
    /// its own timeout, so its billing is known. Per call: `Client::with_deadline`.
    /// docs/usage.md says what dropping a call means instead.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Records every check in this audit ledger (the `juhe-ledger` crate has SQLite and
    /// PostgreSQL ones): asked before a check's first request leaves — a ledger that cannot
    /// record refuses the check ([`Error::Ledger`], nothing sent) — and told how every check
    /// ended. See [`crate::ledger`].
    pub fn ledger(mut self, ledger: impl crate::Ledger) -> Self {
        self.ledger = Some((Arc::new(ledger), false));
        self
    }

    /// A hard spend budget (repeatable: e.g. a day's and a month's): at most N billable calls
    /// (billed or maybe billed) per calendar day or month, China time. A check that would
    /// exceed one is refused before sending ([`Error::Budget`], class `Budget`, saying which
    /// budget and when it resets); a warning is logged once at 80 %. With a fleet store
    /// (`shared_rate_limit` or `dedupe`, feature `redis`) every process on the API key shares
    /// the count, atomically; otherwise it is this process's, starting from what the audit
    /// ledger counted ([`ClientBuilder::ledger`]).
    pub fn budget(mut self, budget: crate::budget::Budget) -> Self {
        self.budgets.push(budget);
        self
    }

    /// Lets checks go on (with a warning) when the ledger cannot record (default false).
    pub fn ledger_optional(mut self, optional: bool) -> Self {
        if let Some((_, o)) = &mut self.ledger {
            *o = optional;
        }
        self
    }

    /// Who checks, recorded with every check (per call: `Client::with_context`).
    pub fn caller(mut self, caller: impl Into<String>) -> Self {
        self.context.caller = Some(caller.into());
        self
    }

    /// Why people are checked, recorded with every check.
    pub fn purpose(mut self, purpose: impl Into<String>) -> Self {
        self.context.purpose = Some(purpose.into());
        self
    }

    /// The retry policy.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// At most `qps` requests per second (retries included), evenly spaced, less 5 % headroom
    /// for requests that leave a little late. A slot is granted when due, never booked ahead,
    /// and a 10012 answer slows the limit down until it recovers (docs/usage.md). In every
    /// feature set: the limiter needs no dependency.
    pub fn rate_limit(self, qps: f64) -> Self {
        self.rate_limit_with_burst(qps, 1)
    }

    /// At most `qps` requests per second, allowing `burst` at once.
    pub fn rate_limit_with_burst(mut self, qps: f64, burst: u32) -> Self {
        self.rate_limit = Some((qps, burst));
        self
    }

    /// At most `qps` requests per second for every client of this API key, in every process
    /// that uses the same Redis (feature `redis`): a GCRA budget in one atomic script, keyed by
    /// a hash of the API key. Retries count. When Redis is unreachable each process falls back
    /// to `qps / expected_replicas` locally ([`FleetOptions`](crate::FleetOptions)) and logs once a minute.
    ///
    /// ```
    /// use juhe_2fa::{ClientBuilder, FleetOptions};
    /// let builder = ClientBuilder::new()
    ///     .api_key("key")
    ///     .shared_rate_limit("redis://:secret@10.0.0.5:6379/0", 50.0)
    ///     .fleet_options(FleetOptions::default().with_expected_replicas(10));
    /// assert!(!format!("{builder:?}").contains("secret"));
    /// ```
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn shared_rate_limit(mut self, redis_url: impl Into<String>, qps: f64) -> Self {
        self.fleet.set_url(redis_url.into());
        self.fleet.qps = Some(qps);
        self
    }

    /// De-duplicates checks of the same pair across every client of this API key that uses
    /// the same Redis (feature `redis`): a caller that finds the pair in flight elsewhere waits
    /// for that answer instead of sending (and paying) again. The answer is then kept for
    /// `keep` ([`Duration::ZERO`]: only for the callers already waiting) and returned with
    /// [`Verification::from_cache`](crate::Verification::from_cache). Failures are never kept.
    /// The store holds HMAC-SHA256 tags keyed by a secret derived from the API key, never a
    /// number.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn dedupe(mut self, redis_url: impl Into<String>, keep: Duration) -> Self {
        self.fleet.set_url(redis_url.into());
        self.fleet.dedupe_keep = Some(keep);
        self
    }

    /// Burst, fallback and waiting behaviour of [`ClientBuilder::shared_rate_limit`] and
    /// [`ClientBuilder::dedupe`].
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn fleet_options(mut self, options: crate::FleetOptions) -> Self {
        self.fleet.options = options;
        self
    }

    /// How the async client sleeps between attempts (default [`DefaultTimer`]: tokio's timer
    /// inside a tokio runtime, a runtime-free timer thread elsewhere).
    pub fn timer(mut self, timer: impl Timer) -> Self {
        self.timer = Some(Arc::new(timer));
        self
    }

    /// What to do with non-Unicom numbers.
    pub fn carrier_policy(mut self, policy: CarrierPolicy) -> Self {
        self.carrier_policy = policy;
        self
    }

    /// Checks everything that can be checked without sending: the key is present, the base URL
    /// is an http(s) URL, the encryption key parses, the rate limit is sane.
    pub(crate) fn into_core(self) -> Result<(Core, Option<String>), Error> {
        let api_key = self
            .api_key
            .clone()
            .filter(|k| !k.expose_secret().trim().is_empty())
            .ok_or_else(|| {
                Error::config("the API key is missing (set it with ClientBuilder::api_key)")
            })?;
        let base_url = checked_base_url(&self.base_url, self.mode.endpoint(), self.method)?;
        let endpoint = self.mode.endpoint();
        let encryptor = self.mode.encryptor()?;
        let rate_limit = self
            .rate_limit
            .map(|(qps, burst)| RateLimit::new(qps, burst))
            .transpose()?;
        #[cfg(feature = "redis")]
        let (fleet, store_url) = self.fleet_core(&api_key)?;
        #[cfg(not(feature = "redis"))]
        let store_url = None;
        let core = Core {
            api_key,
            base_url,
            endpoint,
            method: self.method,
            encryptor,
            retry: self.retry,
            rate_limit,
            carrier_policy: self.carrier_policy,
            #[cfg(feature = "redis")]
            fleet,
            ledger: self
                .ledger
                .map(|(ledger, optional)| crate::core::LedgerSettings { ledger, optional }),
            budgets: crate::budget::Budgets::new(self.budgets),
        };
        Ok((core, store_url))
    }

    /// The fleet part, if a Redis URL was given, and that URL.
    #[cfg(feature = "redis")]
    fn fleet_core(
        &self,
        api_key: &ApiKey,
    ) -> Result<(Option<crate::fleet::FleetCore>, Option<String>), Error> {
        let plan = &self.fleet;
        let Some(url) = plan.url.clone() else {
            return Ok((None, None));
        };
        if plan.conflict {
            return Err(Error::config(
                "shared_rate_limit and dedupe name different Redis URLs; use one store",
            ));
        }
        let fleet = crate::fleet::FleetCore::new(plan, api_key)?;
        Ok((Some(fleet), Some(url)))
    }

    /// Builds the async client over reqwest (feature `reqwest`). Fails on a missing key, a bad
    /// base URL or key material, never later on the first call.
    #[cfg(feature = "reqwest")]
    #[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
    pub fn build(self) -> Result<Client, Error> {
        let base_url = checked_base_url(&self.base_url, self.mode.endpoint(), self.method)?;
        let endpoint_url = format!("{base_url}{}", self.mode.endpoint().path());
        if let Ok(uri) = endpoint_url.parse::<http::Uri>() {
            juhe_transport::ReqwestTransport::check_uri(&uri).map_err(|e| Error::Config {
                problem: "the HTTP client cannot send to the base URL".into(),
                source: Some(Box::new(e)),
            })?;
        }
        let config = Arc::new(self.transport.clone());
        let transport = reqwest_transport(&config)?;
        let mut client = self.build_with_transport(transport)?;
        client.transport_config = Some(config);
        Ok(client)
    }

    /// Builds the async client over your own [`Transport`] (a closure, a mock, another HTTP
    /// stack). Timeouts ([`ClientBuilder::timeout`] does not apply), proxy, TLS and pool
    /// settings are then the transport's business.
    ///
    /// The client then runs on any executor, with one exception: a shared store
    /// (`shared_rate_limit` or `dedupe`, feature `redis`)
    /// talks to Redis through tokio, so calls must run inside a tokio runtime.
    pub fn build_with_transport(
        self,
        transport: impl Transport + 'static,
    ) -> Result<Client, Error> {
        let timer = self.timer.clone().unwrap_or_else(|| Arc::new(DefaultTimer));
        #[cfg(feature = "redis")]
        let (store_timeout, roots) = (
            self.fleet.options.store_timeout,
            self.transport.root_certificates.clone(),
        );
        let (deadline, context) = (self.deadline, self.context.clone());
        let (core, _store_url) = self.into_core()?;
        Ok(Client {
            core: Arc::new(core),
            transport: Arc::new(transport),
            timer,
            deadline,
            context,
            #[cfg(feature = "reqwest")]
            transport_config: None,
            #[cfg(feature = "redis")]
            store: _store_url
                .map(|url| async_store(&url, store_timeout, &roots))
                .transpose()?,
        })
        .inspect(Client::start_keeper)
    }

    /// Builds the blocking client over ureq (feature `ureq`).
    #[cfg(feature = "ureq")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ureq")))]
    pub fn build_blocking(self) -> Result<BlockingClient, Error> {
        let transport =
            juhe_transport::UreqTransport::new(&self.transport).map_err(|e| Error::Config {
                problem: "the transport settings (proxy, root certificates) were refused".into(),
                source: Some(Box::new(e)),
            })?;
        self.build_blocking_with_transport(transport)
    }

    /// Builds the blocking client over your own [`BlockingTransport`]. Timeouts
    /// ([`ClientBuilder::timeout`] does not apply: a blocking call cannot be cut short from
    /// outside), proxy, TLS and pool settings are then the transport's business.
    pub fn build_blocking_with_transport(
        self,
        transport: impl BlockingTransport + 'static,
    ) -> Result<BlockingClient, Error> {
        #[cfg(feature = "redis")]
        let (store_timeout, roots) = (
            self.fleet.options.store_timeout,
            self.transport.root_certificates.clone(),
        );
        let (deadline, context) = (self.deadline, self.context.clone());
        let (core, _store_url) = self.into_core()?;
        Ok(BlockingClient {
            core: Arc::new(core),
            transport: Arc::new(transport),
            deadline,
            context,
            #[cfg(feature = "redis")]
            store: _store_url
                .map(|url| crate::fleet::BlockingRedisStore::new(&url, store_timeout, &roots))
                .transpose()
                .map_err(store_config)?
                .map(|store| Arc::new(store) as Arc<dyn crate::fleet::BlockingSharedStore>),
        })
        .inspect(BlockingClient::start_keeper)
    }
}

/// The async client's store: Redis through tokio, which comes with the `reqwest` feature.
#[cfg(feature = "redis")]
fn async_store(
    url: &str,
    timeout: Duration,
    roots: &[String],
) -> Result<Arc<dyn crate::fleet::SharedStore>, Error> {
    #[cfg(feature = "reqwest")]
    return crate::fleet::RedisStore::new(url, timeout, roots)
        .map(|store| Arc::new(store) as Arc<dyn crate::fleet::SharedStore>)
        .map_err(store_config);
    #[cfg(not(feature = "reqwest"))]
    {
        let _ = (url, timeout, roots);
        Err(Error::config(
            "the async client's shared store (Redis) needs the `reqwest` feature (tokio); the blocking client's does not",
        ))
    }
}

/// The base URL, trimmed, once it is sure to make requests: an http(s) URL naming a host, a
/// port from 1 to 65535 if any, no credentials, query or fragment (the endpoint path is
/// appended to it, and they would end up in every URL), and a request for `endpoint` built
/// from it. `http::Uri` keeps a port such as 99999, which would fail only when sent.
fn checked_base_url(raw: &str, endpoint: Endpoint, method: Method) -> Result<String, Error> {
    let base_url = raw.trim().trim_end_matches('/').to_owned();
    let uri: http::Uri = base_url.parse().map_err(|e| Error::Config {
        problem: "the base URL is not a valid URL".into(),
        source: Some(Box::new(e)),
    })?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(Error::config(
            "the base URL must start with http:// or https:// and name a host",
        ));
    }
    let authority = uri.authority().map_or("", |a| a.as_str());
    if uri.query().is_some() || base_url.contains('#') || authority.contains('@') {
        return Err(Error::config(
            "the base URL must be scheme, host, port and path only (no query, fragment or credentials)",
        ));
    }
    // After the host (an IPv6 one is in brackets): `:port`, if anything.
    let after_host = authority
        .rsplit_once(']')
        .map_or(authority, |(_, rest)| rest);
    if let Some((_, port)) = after_host.rsplit_once(':')
        && !port.parse::<u16>().is_ok_and(|p| p != 0)
    {
        return Err(Error::config(
            "the base URL's port must be a number from 1 to 65535",
        ));
    }
    let params = QueryParams::new("key", "idcard", "mobile");
    juhe_proto::build_request(&base_url, endpoint, method, &params)?;
    Ok(base_url)
}

/// The base URL as `Debug` shows it: without credentials, query or fragment, which may carry
/// secrets (the builder takes any text; `build` refuses these). Read as text, not parsed: a
/// password may hold characters that end a URL's authority.
fn shown_base_url(raw: &str) -> String {
    let raw = raw.trim();
    let (scheme, rest) = match raw.split_once("://") {
        Some((scheme, rest)) => (&raw[..scheme.len() + 3], rest),
        None => ("", raw),
    };
    let (credentials, rest) = match rest.rsplit_once('@') {
        Some((_, after)) => ("[redacted]@", after),
        None => ("", rest),
    };
    let (place, query) = match rest.find(['?', '#']) {
        Some(at) => (&rest[..at], "?[redacted]"),
        None => (rest, ""),
    };
    format!("{scheme}{credentials}{place}{query}")
}

#[cfg(feature = "redis")]
fn store_config(e: juhe_transport::BoxError) -> Error {
    Error::Config {
        problem: "the shared store cannot be used".into(),
        source: Some(e),
    }
}

/// The reqwest transport for these settings.
#[cfg(feature = "reqwest")]
pub(crate) fn reqwest_transport(
    config: &juhe_transport::TransportConfig,
) -> Result<juhe_transport::ReqwestTransport, Error> {
    juhe_transport::ReqwestTransport::new(config).map_err(|e| Error::Config {
        problem: "the transport settings (proxy, root certificates) were refused".into(),
        source: Some(Box::new(e)),
    })
}
