//! `doctor`: with the user's real key, finds which encryption scheme the account accepts, in as
//! few calls as possible and with at most one billed (the vendor bills only `error_code` 0).

use std::io::{BufRead, IsTerminal, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use juhe_2fa::layers::transport::{TransportConfig, UreqTransport};
use juhe_2fa::{
    AesConfig, AesMode, BlockingClient, BlockingTransport, DEFAULT_BASE_URL, Error, ErrorClass,
    ErrorCode, ErrorKind, HttpRequest, HttpResponse, IdCard, IvPolicy, Mobile, Mode, RetryPolicy,
    TransportError,
};
use serde_json::json;

use crate::cli::{DoctorArgs, Global, ModeArg};
use crate::config::{
    Network, direct_client_builder, literal_aes_key, missing_aes_key, network, openid_key,
    redact_url, rsa_public_key, timeout,
};
use crate::error::{CliError, Exit, chain};
use crate::lang;

/// One scheme to try, and the flags that select it.
struct Candidate {
    name: String,
    mode: Mode,
    flags: String,
}

/// The AES schemes tried for each key source, vendor's first.
const AES_SCHEMES: [(&str, AesMode, IvPolicy, &str); 3] = [
    ("ecb", AesMode::Ecb, IvPolicy::SameAsKey, ""),
    (
        "cbc-same-as-key",
        AesMode::Cbc,
        IvPolicy::SameAsKey,
        " --aes-mode cbc --aes-iv same-as-key",
    ),
    (
        "cbc-zero",
        AesMode::Cbc,
        IvPolicy::Zero,
        " --aes-mode cbc --aes-iv zero",
    ),
];

fn candidates(global: &Global) -> Result<(Vec<Candidate>, Option<usize>), CliError> {
    match global.mode {
        ModeArg::Plain => Ok((vec![candidate("plain", Mode::Plain, "--mode plain")], None)),
        ModeArg::Rsa => {
            let key = rsa_public_key(global)?;
            let bits = key.bits();
            let flags = "--mode rsa --rsa-public-key <the key>";
            Ok((vec![candidate("rsa", Mode::Rsa(key), flags)], Some(bits)))
        }
        ModeArg::Aes => {
            let mut sources: Vec<(&str, AesConfig, &str)> = Vec::new();
            if let Some(openid) = &global.openid {
                sources.push(("openid", openid_key(openid)?, "--openid <your OpenID>"));
            }
            if let Some(key) = &global.aes_key {
                sources.push(("aes-key", literal_aes_key(key)?, "--aes-key <your key>"));
            }
            if sources.is_empty() {
                return Err(missing_aes_key());
            }
            let list = sources
                .iter()
                .flat_map(|(source, key, key_flag)| {
                    AES_SCHEMES.iter().map(move |(scheme, mode, iv, extra)| {
                        let config = key.clone().with_mode(*mode).with_iv(*iv);
                        candidate(
                            &format!("{source}/{scheme}"),
                            Mode::Aes(config),
                            &format!("--mode aes {key_flag}{extra}"),
                        )
                    })
                })
                .collect();
            Ok((list, None))
        }
    }
}

fn candidate(name: &str, mode: Mode, flags: &str) -> Candidate {
    Candidate {
        name: name.to_owned(),
        mode,
        flags: flags.to_owned(),
    }
}

/// The blocking backend, counting what it sends (a request that surely never left, e.g. the
/// proxy refused the tunnel, is not counted) and keeping the server's `Date` header.
#[derive(Clone)]
struct Recording {
    inner: Arc<UreqTransport>,
    sent: Arc<AtomicU32>,
    date: Arc<Mutex<Option<String>>>,
}

impl BlockingTransport for Recording {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let result = self.inner.send(request);
        if result
            .as_ref()
            .map_or_else(TransportError::may_have_been_sent, |_| true)
        {
            self.sent.fetch_add(1, Ordering::SeqCst);
        }
        let response = result?;
        if let Some(date) = response.headers().get("date").and_then(|v| v.to_str().ok()) {
            *self.date.lock().unwrap_or_else(|e| e.into_inner()) = Some(date.to_owned());
        }
        Ok(response)
    }
}

/// The codes that mean "the vendor could not decrypt the fields", as the plan names them (the
/// decision is the SDK's: `Error::likely_key_material`).
const CANNOT_DECRYPT: [ErrorCode; 3] = [
    ErrorCode::InvalidMobile,
    ErrorCode::InvalidIdCard,
    ErrorCode::InvalidOpenId,
];

fn cannot_decrypt() -> String {
    let codes: Vec<String> = CANNOT_DECRYPT
        .iter()
        .map(|c| c.code().to_string())
        .collect();
    codes.join("/")
}

/// Why doctor stopped before a scheme was accepted; printed in the run's language (`--json`
/// in English).
#[derive(Clone)]
enum Why {
    /// No answer (true: none readable, the call may have been billed), and the detail.
    NoAnswer(bool, String),
    /// The account was refused with this code.
    Refused(String),
    /// A rate limit or a passing failure: nothing learnt.
    Inconclusive(String),
    /// The network check failed.
    Unreachable(String),
}

impl Why {
    fn text(&self) -> String {
        match self {
            Why::NoAnswer(ambiguous, detail) => lang::doctor_no_answer(*ambiguous, detail),
            Why::Refused(code) => lang::doctor_refused(code),
            Why::Inconclusive(code) => lang::doctor_inconclusive(code),
            Why::Unreachable(problem) => lang::doctor_unreachable(problem),
        }
    }
}

/// How one answer moves the search on.
enum Step {
    /// The vendor could not decrypt (232901/232902/10004): try the next scheme.
    Next,
    /// The vendor read the fields: this scheme is accepted.
    Accepted,
    /// Nothing more to learn from trying other schemes.
    Stop(Exit, Why),
}

fn step(result: &Result<juhe_2fa::Verification, Error>) -> Step {
    let e = match result {
        Ok(_) => return Step::Accepted,
        Err(e) => e,
    };
    let Some(code) = e.error_code() else {
        let ambiguous = e.class() == ErrorClass::Ambiguous;
        return Step::Stop(Exit::Failure, Why::NoAnswer(ambiguous, chain(e)));
    };
    match (code, code.kind()) {
        _ if e.likely_key_material() => Step::Next,
        (_, ErrorKind::Credential | ErrorKind::Disabled) => {
            Step::Stop(Exit::Api, Why::Refused(code.to_string()))
        }
        (_, ErrorKind::RateLimited) | (ErrorCode::InternalError | ErrorCode::Maintenance, _) => {
            Step::Stop(Exit::Api, Why::Inconclusive(code.to_string()))
        }
        // A service answer about the pair (no record, carrier, a passing failure upstream)
        // means the vendor decrypted both fields.
        _ => Step::Accepted,
    }
}

/// Resolves the base URL's host (or, with a proxy, the proxy's) and connects once (no request
/// is sent).
fn reach(base_url: &str, net: &Network, limit: Duration) -> Result<(String, f64), String> {
    if let Some(proxy) = &net.proxy {
        return connect((proxy.host(), proxy.port()), limit);
    }
    let printed = redact_url(base_url);
    let uri: http::Uri = base_url
        .parse()
        .map_err(|_| format!("{printed} is not a URL"))?;
    let host = uri
        .host()
        .ok_or_else(|| format!("{printed} names no host"))?;
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("http") {
            80
        } else {
            443
        });
    connect((host, port), limit)
}

/// Resolves `host` and connects once to its first address.
fn connect((host, port): (&str, u16), limit: Duration) -> Result<(String, f64), String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let started = Instant::now();
    TcpStream::connect_timeout(&addr, limit)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    Ok((addr.to_string(), started.elapsed().as_secs_f64() * 1000.0))
}

/// The plan on stderr, then a yes from the terminal (or `--yes`).
fn confirm(plan: &str, yes: bool) -> Result<(), CliError> {
    eprintln!("{plan}");
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        let (message, hint) = lang::doctor_no_terminal();
        return Err(CliError::usage(message).with_hint(hint));
    }
    eprint!("{}", lang::doctor_ask());
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(CliError::usage(lang::doctor_cancelled()))
    }
}

/// Seconds the local clock is ahead of the server (negative: behind).
fn clock_skew(date: Option<&str>) -> Option<i64> {
    let server = httpdate::parse_http_date(date?).ok()?;
    let now = SystemTime::now();
    Some(match now.duration_since(server) {
        Ok(ahead) => ahead.as_secs() as i64,
        Err(behind) => -(behind.duration().as_secs() as i64),
    })
}

pub fn run(global: &Global, args: &DoctorArgs) -> Result<Exit, CliError> {
    let (idcard, mobile) = match (IdCard::parse(&args.idcard), Mobile::parse(&args.mobile)) {
        (Ok(i), Ok(m)) => (i, m),
        (Err(e), _) | (_, Err(e)) => {
            let problem = match lang::Lang::current() {
                lang::Lang::En => e.to_string(),
                lang::Lang::Zh => e.message_zh(),
            };
            crate::print_error(&lang::doctor_invalid(&problem), None);
            return Ok(Exit::Rejected);
        }
    };
    let (candidates, rsa_bits) = candidates(global)?;
    // Everything is checked before asking: a bad flag is reported now, not after a yes. The
    // clients send each check themselves: no shared (`--redis`) answer, no retry.
    let builder = direct_client_builder(global)?;
    let base_url = global.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL);
    let limit = timeout(global)?;
    let net = network(global)?;
    let config = net.transport(
        TransportConfig::default()
            .with_timeout(limit)
            .with_connect_timeout(limit.min(Duration::from_secs(5))),
    );
    let recording = Recording {
        inner: Arc::new(UreqTransport::new(&config).map_err(|e| CliError::usage(chain(&e)))?),
        sent: Arc::default(),
        date: Arc::default(),
    };
    let clients = candidates
        .iter()
        .map(|c| {
            builder
                .clone()
                .mode(c.mode.clone())
                .retry_policy(RetryPolicy::none())
                .build_blocking_with_transport(recording.clone())
                .map_err(|e| CliError::usage(chain(&e)))
        })
        .collect::<Result<Vec<BlockingClient>, CliError>>()?;
    // Only JUHE_REDIS_URL can get here: the --redis flag is refused for doctor.
    let fleet_note = if global.redis.is_some() {
        lang::doctor_fleet_note()
    } else {
        ""
    };
    let names: Vec<&str> = candidates.iter().map(|c| c.name.as_str()).collect();
    let plan = lang::doctor_plan(
        candidates.len(),
        &format!("{idcard} / {mobile}"),
        &redact_url(base_url),
        &names.join(", "),
        &cannot_decrypt(),
    );
    confirm(&format!("{plan}{fleet_note}"), args.yes)?;
    let reached = reach(base_url, &net, limit.min(Duration::from_secs(5)));
    if let Err(problem) = &reached {
        let mut unreachable = Report::unreachable(&candidates, problem);
        unreachable.network_settings(&net);
        return report(global.json, &unreachable);
    }
    let mut report_data = Report::new(&candidates, rsa_bits, reached.ok());
    report_data.network_settings(&net);
    for (c, client) in candidates.iter().zip(&clients) {
        let result = client.verify_parsed(&idcard, &mobile);
        let step = step(&result);
        report_data.record(c, &result, &step);
        if !matches!(step, Step::Next) {
            break;
        }
    }
    report_data.calls = recording.sent.load(Ordering::SeqCst);
    let date = recording
        .date
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    report_data.clock_skew_s = clock_skew(date.as_deref());
    report(global.json, &report_data)
}

/// What doctor found, for text or JSON output.
struct Report {
    max_calls: usize,
    calls: u32,
    network: Option<(String, f64)>,
    network_problem: Option<String>,
    rsa_bits: Option<usize>,
    clock_skew_s: Option<i64>,
    attempts: Vec<serde_json::Value>,
    /// Each attempt's error as people read it, in the run's language (`attempts` is the JSON).
    attempt_errors: Vec<Option<String>>,
    /// The proxy (credentials hidden), the `--ca-cert` files, whether the built-in roots are
    /// trusted.
    proxy: Option<String>,
    ca_files: String,
    built_in_roots: bool,
    accepted: Option<(String, String)>,
    billed: Billed,
    stop: Option<(Exit, Why)>,
}

/// Whether doctor's calls were billed: an answer that did not come back whole may have been.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Billed {
    No,
    Maybe,
    Yes,
}

impl Billed {
    fn of(result: &Result<juhe_2fa::Verification, Error>) -> Billed {
        match result {
            Ok(_) => Billed::Yes,
            Err(e) if e.class() == ErrorClass::Ambiguous => Billed::Maybe,
            Err(_) => Billed::No,
        }
    }

    /// `true`, `false` or `"maybe"`.
    fn json(self) -> serde_json::Value {
        match self {
            Billed::No => json!(false),
            Billed::Maybe => json!("maybe"),
            Billed::Yes => json!(true),
        }
    }
}

impl Report {
    fn new(candidates: &[Candidate], rsa_bits: Option<usize>, net: Option<(String, f64)>) -> Self {
        Report {
            max_calls: candidates.len(),
            calls: 0,
            network: net,
            network_problem: None,
            rsa_bits,
            clock_skew_s: None,
            attempts: Vec::new(),
            attempt_errors: Vec::new(),
            proxy: None,
            ca_files: String::new(),
            built_in_roots: true,
            accepted: None,
            billed: Billed::No,
            stop: None,
        }
    }

    fn unreachable(candidates: &[Candidate], problem: &str) -> Self {
        let mut r = Report::new(candidates, None, None);
        r.network_problem = Some(problem.to_owned());
        r.stop = Some((Exit::Failure, Why::Unreachable(problem.to_owned())));
        r
    }

    fn network_settings(&mut self, net: &Network) {
        self.proxy = net.proxy.as_ref().map(ToString::to_string);
        self.ca_files = net.root_files();
        self.built_in_roots = net.built_in_roots;
    }

    fn record(&mut self, c: &Candidate, result: &Result<juhe_2fa::Verification, Error>, s: &Step) {
        let (code, verdict, order_id) = match result {
            Ok(v) => (
                Some(0),
                Some(v.verdict.to_string()),
                Some(v.order_id.clone()),
            ),
            Err(e) => (e.error_code().map(|c| c.code()), None, None),
        };
        let billed = Billed::of(result);
        self.billed = self.billed.max(billed);
        self.attempts.push(json!({
            "scheme": c.name, "error_code": code, "verdict": verdict, "order_id": order_id,
            "billed": billed.json(), "error": result.as_ref().err().map(|e| chain(e)),
        }));
        let error = result.as_ref().err();
        self.attempt_errors
            .push(error.map(|e| lang::check_error(e).0));
        match s {
            Step::Accepted => self.accepted = Some((c.name.clone(), c.flags.clone())),
            Step::Stop(exit, why) => self.stop = Some((*exit, why.clone())),
            Step::Next => {}
        }
    }

    fn exit(&self) -> Exit {
        match (&self.accepted, &self.stop) {
            (Some(_), _) => Exit::Ok,
            (None, Some((exit, _))) => *exit,
            (None, None) => Exit::Api,
        }
    }

    fn conclusion(&self) -> String {
        match (&self.accepted, &self.stop) {
            (Some((name, flags)), _) => lang::doctor_accepts(name, flags),
            (None, Some((_, why))) => why.text(),
            (None, None) => lang::doctor_none_accepted(&cannot_decrypt()),
        }
    }
}

fn report(json: bool, r: &Report) -> Result<Exit, CliError> {
    if json {
        let out = json!({
            "max_calls": r.max_calls,
            "calls": r.calls,
            "billed": r.billed.json(),
            "network": r.network.as_ref().map(|(addr, ms)| json!({"address": addr, "connect_ms": ms}))
                .unwrap_or_else(|| json!({"error": r.network_problem})),
            "clock_skew_s": r.clock_skew_s,
            "proxy": r.proxy,
            "ca_certs": r.ca_files.split(", ").filter(|f| !f.is_empty()).collect::<Vec<_>>(),
            "built_in_roots": r.built_in_roots,
            "rsa_key_bits": r.rsa_bits,
            "attempts": r.attempts,
            "scheme": r.accepted.as_ref().map(|(name, _)| name),
            "flags": r.accepted.as_ref().map(|(_, flags)| flags),
            "conclusion": lang::in_english(|| r.conclusion()),
        });
        crate::print_line(&out.to_string());
        return Ok(r.exit());
    }
    if let Some(proxy) = &r.proxy {
        crate::print_line(&lang::doctor_proxy(proxy));
    }
    crate::print_line(&lang::doctor_roots(&r.ca_files, r.built_in_roots));
    match (&r.network, &r.network_problem) {
        (Some((addr, ms)), _) => crate::print_line(&lang::doctor_network(addr, *ms)),
        (None, Some(problem)) => crate::print_line(&lang::doctor_network_problem(problem)),
        (None, None) => {}
    }
    if let Some(bits) = r.rsa_bits {
        crate::print_line(&lang::doctor_rsa(bits));
    }
    if let Some(skew) = r.clock_skew_s {
        crate::print_line(&lang::doctor_clock(skew));
    }
    for (a, error) in r.attempts.iter().zip(&r.attempt_errors) {
        let answer = match (&a["error_code"], error) {
            (serde_json::Value::Number(n), _) if n.as_i64() == Some(0) => lang::doctor_billed(
                a["verdict"].as_str().unwrap_or(""),
                a["order_id"].as_str().unwrap_or(""),
            ),
            (_, Some(e)) if a["billed"] == "maybe" => lang::doctor_maybe_billed(e),
            (_, Some(e)) => e.clone(),
            _ => String::new(),
        };
        crate::print_line(&lang::doctor_try(
            a["scheme"].as_str().unwrap_or(""),
            &answer,
        ));
    }
    crate::print_line(&lang::doctor_calls(r.calls, r.max_calls));
    crate::print_line(&r.conclusion());
    Ok(r.exit())
}
