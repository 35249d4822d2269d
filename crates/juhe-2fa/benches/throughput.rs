//! Throughput of the async and the blocking client against the sandbox over loopback, client
//! CPU and latency per check. The async client runs as a service runs it (16 spawned tasks,
//! on a current-thread and on a 2-worker runtime), each beside two floors that send the
//! SDK's encoded request without the SDK: bare `reqwest` with `ReqwestTransport`'s settings
//! and raw `hyper::client::conn::http1` over 16 connections. Rows are named `async-ct`,
//! `reqwest-ct`, `hyper-ct`, the same with `-mt`, and `blocking`. `cargo bench -p juhe-2fa --bench throughput -- [seconds]
//! [plain|aes|rsa]…`; `cargo xtask bench` runs it against a sandbox in another process and
//! puts its lines (`mode client checks/s cpu_µs p50_ms p99_ms`) into one table.
//!
//! By default the sandbox runs in this process, so the CPU figure covers client and server.
//! With `JUHE_BENCH_BASE_URL` set to a sandbox started separately (`juhe-2fa sandbox
//! --default-verdict hash`), only the client is measured, as `benches/python_client.py` does.
//! Bounded in time; loopback only.
#![allow(missing_docs, clippy::print_stdout)]

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use juhe_2fa::{ClientBuilder, HttpRequest, Mode, RetryPolicy, TransportConfig, TransportError};
use juhe_sandbox::{DefaultVerdict, Sandbox, demo};

/// CPU time (user + system) of this process so far.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks: u64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|t| t.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

fn mobile(i: u64) -> String {
    format!("130{:08}", i % 100_000_000)
}

/// Checks per second, client CPU per check and latency percentiles of one client run.
struct Run {
    done: u64,
    elapsed: Duration,
    cpu: Duration,
    latencies: Vec<Duration>,
}

fn main() {
    // `-- [seconds] [plain|aes|rsa]…`; criterion's own flags (`--bench`) are ignored.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(5);
    let wanted: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| ["plain", "aes", "rsa"].contains(a))
        .collect();
    let external = std::env::var("JUHE_BENCH_BASE_URL").ok();
    let sandbox = match &external {
        Some(_) => None,
        None => Some(
            Sandbox::builder()
                .default_verdict(DefaultVerdict::Hash)
                .spawn_blocking()
                .unwrap(),
        ),
    };
    let base_url =
        external.unwrap_or_else(|| sandbox.as_ref().map(|s| s.base_url()).unwrap_or_default());
    let modes = [
        ("plain", Mode::Plain),
        ("aes", Mode::aes_openid(demo::OPENID).unwrap()),
        ("rsa", Mode::rsa(demo::RSA_PUBLIC_KEY_B64).unwrap()),
    ];
    println!(
        "# mode client checks/s cpu_us_per_check p50_ms p99_ms (RSA engine: {})",
        juhe_2fa::layers::crypto::RSA_BACKEND
    );
    for (name, mode) in modes {
        if !wanted.is_empty() && !wanted.contains(&name) {
            continue;
        }
        let builder = ClientBuilder::new()
            .api_key(demo::API_KEY)
            .base_url(base_url.clone())
            .mode(mode)
            .retry_policy(RetryPolicy::none());
        let request = encoded_request(&builder);
        for flavour in [Flavour::CurrentThread, Flavour::TwoWorkers] {
            let tag = flavour.tag();
            report(
                name,
                &format!("async-{tag}"),
                &run_async(&builder, flavour, seconds),
            );
            report(
                name,
                &format!("reqwest-{tag}"),
                &run_reqwest(&request, flavour, seconds),
            );
            report(
                name,
                &format!("hyper-{tag}"),
                &run_hyper(&request, flavour, seconds),
            );
        }
        report(name, "blocking", &run_blocking(&builder, seconds));
    }
}

/// Checks (or requests) in flight in every async row.
const IN_FLIGHT: u64 = 16;

/// The two runtimes a service runs on.
#[derive(Clone, Copy)]
enum Flavour {
    /// `new_current_thread`: everything on one thread.
    CurrentThread,
    /// `new_multi_thread` with 2 workers (one per core here).
    TwoWorkers,
}

impl Flavour {
    /// The suffix of the row's client name: `-ct` or `-mt`.
    fn tag(self) -> &'static str {
        match self {
            Flavour::CurrentThread => "ct",
            Flavour::TwoWorkers => "mt",
        }
    }

    fn runtime(self) -> tokio::runtime::Runtime {
        match self {
            Flavour::CurrentThread => tokio::runtime::Builder::new_current_thread(),
            Flavour::TwoWorkers => {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                b.worker_threads(2);
                b
            }
        }
        .enable_all()
        .build()
        .unwrap()
    }
}

/// Drives a client as a service does: `IN_FLIGHT` tasks spawned on the runtime, each doing
/// one check after another until the deadline, so an answer wakes the task that sent it on
/// the worker that polls its connection (no hop to a `block_on` thread). `setup` runs inside
/// the runtime's context (clients that spawn their connection tasks need one); `task(i,
/// deadline)` is the `i`th task and returns its latencies of successful checks.
fn service<C, T, F>(flavour: Flavour, seconds: u64, setup: impl FnOnce() -> C, task: T) -> Run
where
    T: Fn(&C, u64, Instant) -> F,
    F: Future<Output = Vec<Duration>> + Send + 'static,
{
    let rt = flavour.runtime();
    let client = {
        let _context = rt.enter();
        setup()
    };
    let (cpu0, t0) = (cpu_time(), Instant::now());
    let deadline = t0 + Duration::from_secs(seconds);
    let latencies = rt.block_on(async {
        let tasks: Vec<_> = (0..IN_FLIGHT)
            .map(|i| tokio::spawn(task(&client, i, deadline)))
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    let run = Run {
        done: latencies.len() as u64,
        elapsed: t0.elapsed(),
        cpu: cpu_time() - cpu0,
        latencies,
    };
    drop(client);
    drop(rt);
    run
}

/// The SDK's async `Client`, one shared by all tasks, each check with its own mobile number.
fn run_async(builder: &ClientBuilder, flavour: Flavour, seconds: u64) -> Run {
    service(
        flavour,
        seconds,
        || builder.clone().build().unwrap(),
        |client, t, deadline| {
            let client = client.clone();
            async move {
                let mut latencies = Vec::new();
                let mut i = t * 1_000_000;
                while Instant::now() < deadline {
                    let started = Instant::now();
                    if client.verify(demo::MATCH.0, &mobile(i)).await.is_ok() {
                        latencies.push(started.elapsed());
                    }
                    i += 1;
                }
                latencies
            }
        },
    )
}

/// The request the SDK sends for `demo::MATCH` in this mode (method, URL, headers, encoded
/// body), taken from a client whose transport records it: the floors replay it as it is.
fn encoded_request(builder: &ClientBuilder) -> HttpRequest {
    let seen: Arc<Mutex<Option<HttpRequest>>> = Arc::default();
    let keep = seen.clone();
    let client = builder
        .clone()
        .build_blocking_with_transport(move |request: HttpRequest| {
            *keep.lock().unwrap() = Some(request);
            Ok::<_, TransportError>(http::Response::new(ANSWER.to_vec()))
        })
        .unwrap();
    client.verify(demo::MATCH.0, demo::MATCH.1).unwrap();
    seen.lock().unwrap().take().unwrap()
}

/// A canned success, for `encoded_request`'s recording transport.
const ANSWER: &[u8] =
    r#"{"reason":"成功","result":{"res":1,"orderid":"JH329201808081618556756"},"error_code":0}"#
        .as_bytes();

/// Floor: bare `reqwest` with `ReqwestTransport`'s settings (`TransportConfig::default()`:
/// timeouts, pool, user agent, no redirects, no proxy, rustls on ring), sending the encoded
/// request with its URL parsed once, as a hand-written client would.
fn run_reqwest(request: &HttpRequest, flavour: Flavour, seconds: u64) -> Run {
    let config = TransportConfig::default();
    let url = reqwest::Url::parse(&request.uri().to_string()).unwrap();
    let method = request.method().clone();
    let headers = request.headers().clone();
    let body = bytes::Bytes::from(request.body().clone());
    service(
        flavour,
        seconds,
        || {
            let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(config.connect_timeout)
                .timeout(config.timeout)
                .pool_max_idle_per_host(config.max_idle_per_host)
                .pool_idle_timeout(config.idle_timeout)
                .user_agent(config.user_agent.clone())
                .tls_backend_preconfigured(tls)
                .no_proxy()
                .build()
                .unwrap()
        },
        |client, _, deadline| {
            let (client, url, method) = (client.clone(), url.clone(), method.clone());
            let (headers, body) = (headers.clone(), body.clone());
            async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let started = Instant::now();
                    let sent = client
                        .request(method.clone(), url.clone())
                        .headers(headers.clone())
                        .body(body.clone())
                        .send()
                        .await;
                    let ok = match sent {
                        Ok(response) => {
                            response.status().is_success() && response.bytes().await.is_ok()
                        }
                        Err(_) => false,
                    };
                    if ok {
                        latencies.push(started.elapsed());
                    }
                }
                latencies
            }
        },
    )
}

/// Floor: raw `hyper::client::conn::http1`, one connection per task (16), the same encoded
/// request in origin form with a `Host` header; no pool, no timeouts.
fn run_hyper(request: &HttpRequest, flavour: Flavour, seconds: u64) -> Run {
    use http_body_util::{BodyExt, Full};
    let authority = request.uri().authority().unwrap().clone();
    let path = request.uri().path_and_query().unwrap().clone();
    let mut headers = request.headers().clone();
    headers.insert(
        http::header::HOST,
        http::HeaderValue::from_str(authority.as_str()).unwrap(),
    );
    let method = request.method().clone();
    let body = bytes::Bytes::from(request.body().clone());
    let addr = authority.as_str().to_owned();
    service(
        flavour,
        seconds,
        || (),
        |(), _, deadline| {
            let (addr, method, path) = (addr.clone(), method.clone(), path.clone());
            let (headers, body) = (headers.clone(), body.clone());
            async move {
                let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let (mut sender, connection) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(connection);
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let started = Instant::now();
                    if sender.ready().await.is_err() {
                        break;
                    }
                    let mut request = http::Request::new(Full::new(body.clone()));
                    *request.method_mut() = method.clone();
                    *request.uri_mut() = http::Uri::from(path.clone());
                    *request.headers_mut() = headers.clone();
                    let ok = match sender.send_request(request).await {
                        Ok(response) => {
                            response.status().is_success()
                                && response.into_body().collect().await.is_ok()
                        }
                        Err(_) => false,
                    };
                    if ok {
                        latencies.push(started.elapsed());
                    }
                }
                latencies
            }
        },
    )
}

/// One blocking client shared by 16 threads.
fn run_blocking(builder: &ClientBuilder, seconds: u64) -> Run {
    let client = builder.clone().build_blocking().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (cpu0, t0) = (cpu_time(), Instant::now());
    let threads: Vec<_> = (0..16u64)
        .map(|t| {
            let (client, stop) = (client.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                let mut i = t * 1_000_000;
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    if client.verify(demo::MATCH.0, &mobile(i)).is_ok() {
                        latencies.push(started.elapsed());
                    }
                    i += 1;
                }
                latencies
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    Run {
        done: latencies.len() as u64,
        elapsed: t0.elapsed(),
        cpu: cpu_time() - cpu0,
        latencies,
    }
}

fn report(mode: &str, client: &str, run: &Run) {
    let mut sorted = run.latencies.clone();
    sorted.sort_unstable();
    let at = |q: usize| {
        sorted
            .get((sorted.len() * q / 100).min(sorted.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "{mode} {client} {:.1} {:.1} {:.2} {:.2}",
        run.done as f64 / run.elapsed.as_secs_f64(),
        run.cpu.as_secs_f64() * 1e6 / (run.done.max(1) as f64),
        at(50),
        at(99)
    );
}
