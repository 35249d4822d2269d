//! Throughput of the async and the blocking client against the sandbox over loopback, and
//! client CPU per request. `cargo bench -p juhe-2fa --bench throughput -- [seconds]`.
//!
//! By default the sandbox runs in this process, so the CPU figure covers client and server.
//! With `JUHE_BENCH_BASE_URL` set to a sandbox started separately (`juhe-2fa sandbox
//! --default-verdict hash`), only the client is measured, as `benches/python_client.py` does.
//! Bounded in time; loopback only.
#![allow(missing_docs, clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use juhe_2fa::{AesConfig, ClientBuilder, Mode, RetryPolicy};
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

fn main() {
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
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
        ("aes", Mode::Aes(AesConfig::new(demo::AES_KEY).unwrap())),
        ("rsa", Mode::rsa(demo::RSA_PUBLIC_KEY_B64).unwrap()),
    ];
    println!(
        "{:<6} {:<22} {:>10} {:>14}",
        "mode", "client", "checks/s", "CPU µs/check"
    );
    for (name, mode) in modes {
        let builder = ClientBuilder::new()
            .api_key(demo::API_KEY)
            .base_url(base_url.clone())
            .mode(mode)
            .retry_policy(RetryPolicy::none());

        // Async: one client, 16 checks in flight.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let client = rt.block_on(async { builder.clone().build() }).unwrap();
        let (cpu0, t0) = (cpu_time(), Instant::now());
        let done = rt.block_on(async {
            let deadline = t0 + Duration::from_secs(seconds);
            let inputs = futures_util::stream::iter(0u64..)
                .take_while(|_| futures_util::future::ready(Instant::now() < deadline));
            let inputs = inputs.map(|i| (demo::MATCH.0.to_owned(), mobile(i)));
            client
                .verify_all(inputs, 16)
                .filter(|(_, r)| futures_util::future::ready(r.is_ok()))
                .count()
                .await
        });
        report(name, "async (16 in flight)", done as u64, t0, cpu0);
        drop(rt);

        // Blocking: one client shared by 16 threads.
        let client = builder.build_blocking().unwrap();
        let (stop, ok) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let (cpu0, t0) = (cpu_time(), Instant::now());
        let threads: Vec<_> = (0..16u64)
            .map(|t| {
                let (client, stop, ok) = (client.clone(), stop.clone(), ok.clone());
                std::thread::spawn(move || {
                    let mut i = t * 1_000_000;
                    while !stop.load(Ordering::Relaxed) {
                        if client.verify(demo::MATCH.0, &mobile(i)).is_ok() {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        i += 1;
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
        threads.into_iter().for_each(|t| t.join().unwrap());
        report(
            name,
            "blocking (16 threads)",
            ok.load(Ordering::Relaxed),
            t0,
            cpu0,
        );
    }
}

fn report(mode: &str, client: &str, done: u64, t0: Instant, cpu0: Duration) {
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = (cpu_time() - cpu0).as_secs_f64();
    println!(
        "{mode:<6} {client:<22} {:>10.0} {:>14.1}",
        done as f64 / elapsed,
        cpu * 1e6 / (done.max(1) as f64)
    );
}
