//! Load benchmark: how many plain checks per second the sandbox answers on this machine.
//!
//! `cargo run --release -p juhe-sandbox --example load -- [seconds] [client threads]`
//!
//! Clients are blocking ureq agents with keep-alive, in this process: they share the two
//! cores with the server, so the figure is a floor for the server alone. Bounded in time and
//! sent to loopback only.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use juhe_proto::Endpoint;
use juhe_sandbox::{DefaultVerdict, Sandbox, demo};

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let threads: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(4);
    let sandbox = Sandbox::builder()
        .default_verdict(DefaultVerdict::Hash)
        .spawn_blocking()
        .expect("sandbox");
    let url = format!("{}{}", sandbox.base_url(), Endpoint::Plain.path());
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (url, stop, ok, failed) = (url.clone(), stop.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(5)))
                    .build()
                    .new_agent();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mobile = format!("130{:08}", (t as u64) * 10_000_000 + i % 10_000_000);
                    let body = format!(
                        "key={}&idcard={}&mobile={mobile}",
                        demo::API_KEY,
                        demo::MATCH.0
                    );
                    let answered = agent
                        .post(&url)
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .send(&body)
                        .ok()
                        .and_then(|mut r| r.body_mut().read_to_string().ok())
                        .is_some_and(|t| t.contains("\"error_code\":0"));
                    if answered { &ok } else { &failed }.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let ok = ok.load(Ordering::Relaxed);
    println!(
        "sandbox load: {ok} answered, {} failed in {elapsed:.1} s with {threads} client threads: {:.0} requests/s",
        failed.load(Ordering::Relaxed),
        ok as f64 / elapsed
    );
    println!(
        "sandbox counted {} requests, {} billed",
        sandbox.stats().requests,
        sandbox.stats().billed
    );
}
