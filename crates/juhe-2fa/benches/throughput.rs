//! Throughput of the async and the blocking client against the sandbox over loopback, client
//! CPU and latency per check. `cargo bench -p juhe-2fa --bench throughput -- [seconds]
//! [plain|aes|rsa]…`; `cargo xtask bench` runs it against a sandbox in another process and
//! puts its lines (`mode client checks/s cpu_µs p50_ms p99_ms`) into one table.
//!
//! By default the sandbox runs in this process, so the CPU figure covers client and server.
//! With `JUHE_BENCH_BASE_URL` set to a sandbox started separately (`juhe-2fa sandbox
//! --default-verdict hash`), only the client is measured, as `benches/python_client.py` does.
//! Bounded in time; loopback only.
#![allow(missing_docs, clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use juhe_2fa::{ClientBuilder, Mode, RetryPolicy};
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
        report(name, "async", &run_async(&builder, seconds));
        report(name, "blocking", &run_blocking(&builder, seconds));
    }
}

/// One async client, 16 checks in flight, on a 2-thread runtime.
fn run_async(builder: &ClientBuilder, seconds: u64) -> Run {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = rt.block_on(async { builder.clone().build() }).unwrap();
    let (cpu0, t0) = (cpu_time(), Instant::now());
    let deadline = t0 + Duration::from_secs(seconds);
    let latencies: Vec<Duration> = rt.block_on(async {
        futures_util::stream::iter(0u64..)
            .take_while(|_| futures_util::future::ready(Instant::now() < deadline))
            .map(|i| {
                let client = &client;
                async move {
                    let started = Instant::now();
                    let ok = client.verify(demo::MATCH.0, &mobile(i)).await.is_ok();
                    ok.then(|| started.elapsed())
                }
            })
            .buffer_unordered(16)
            .filter_map(futures_util::future::ready)
            .collect()
            .await
    });
    Run {
        done: latencies.len() as u64,
        elapsed: t0.elapsed(),
        cpu: cpu_time() - cpu0,
        latencies,
    }
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
