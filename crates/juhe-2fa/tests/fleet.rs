//! The fleet features against a real `redis-server` (started here on a free loopback port)
//! and the sandbox: one bill for a pair checked by several clients at once, a shared QPS
//! budget, Redis failing under load, and nothing personal in Redis.

use std::time::{Duration, Instant};

use juhe_2fa::{ClientBuilder, ErrorClass, FleetOptions, IdCard, Mobile, RetryPolicy};
use juhe_sandbox::{DefaultVerdict, Fault, FaultPlan, RedisServer, Sandbox, SandboxBuilder, demo};

const ID: &str = "110105199003071239";
const MOBILE: &str = "13012345678";

fn builder(sandbox_url: &str) -> ClientBuilder {
    ClientBuilder::new()
        .api_key(demo::API_KEY)
        .base_url(sandbox_url)
        .retry_policy(RetryPolicy::none())
}

/// A sandbox that answers unknown pairs (the load tests' pairs) with a billed match.
fn answering() -> SandboxBuilder {
    Sandbox::builder().default_verdict(DefaultVerdict::Match)
}

/// Every request answered after `ms`, so concurrent callers overlap.
fn slow(ms: u64) -> FaultPlan {
    FaultPlan::new().then_times(Fault::DelayMs(ms), 1000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_of_one_pair_are_billed_once() {
    let redis = RedisServer::start().unwrap();
    let sandbox = Sandbox::builder().faults(slow(300)).spawn().await.unwrap();
    // Four separate clients: four connections to Redis, as four processes would have.
    let clients: Vec<_> = (0..4)
        .map(|_| {
            builder(&sandbox.base_url())
                .dedupe(redis.url(), Duration::ZERO)
                .build()
                .unwrap()
        })
        .collect();
    let results =
        futures_util::future::join_all(clients.iter().map(|c| c.verify(ID, MOBILE))).await;
    let results: Vec<_> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(sandbox.pair_count(ID, MOBILE).billed, 1);
    assert!(results.iter().all(|v| v.order_id == results[0].order_id));
    assert_eq!(results.iter().filter(|v| v.from_cache()).count(), 3);
    assert!(results.iter().all(|v| v.from_cache() == (v.attempts == 0)));

    // Keep 0: once the waiters have their answer, a later call sends again.
    let later = clients[0].verify(ID, MOBILE).await.unwrap();
    assert!(!later.from_cache());
    assert_ne!(later.order_id, results[0].order_id);
    assert_eq!(sandbox.pair_count(ID, MOBILE).billed, 2);
    assert!(redis.keys().unwrap().is_empty(), "{:?}", redis.keys());
}

#[test]
fn blocking_clients_share_answers_for_the_configured_time() {
    let redis = RedisServer::start().unwrap();
    let sandbox = Sandbox::builder()
        .faults(slow(200))
        .spawn_blocking()
        .unwrap();
    let client = builder(&sandbox.base_url())
        .dedupe(redis.url(), Duration::from_secs(60))
        .build_blocking()
        .unwrap();
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || client.verify(ID, MOBILE).unwrap())
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(sandbox.pair_count(ID, MOBILE).billed, 1);
    assert_eq!(results.iter().filter(|v| v.from_cache()).count(), 2);
    // Kept for 60 s: a later call is answered from Redis, not sent.
    let later = client.verify(ID, MOBILE).unwrap();
    assert!(later.from_cache() && later.answered_at_ms().is_some());
    assert_eq!(later.order_id, results[0].order_id);
    assert_eq!(sandbox.stats().requests, 1);
}

#[test]
fn an_ambiguous_holder_makes_its_waiters_ambiguous_and_nobody_sends_again() {
    let redis = RedisServer::start().unwrap();
    // The first request times out after being sent (ambiguous), the rest are answered.
    let plan = FaultPlan::new()
        .then(Fault::DelayMs(1500))
        .then_times(Fault::DelayMs(100), 10);
    let sandbox = Sandbox::builder().faults(plan).spawn_blocking().unwrap();
    let client = builder(&sandbox.base_url())
        .timeout(Duration::from_millis(800))
        .dedupe(redis.url(), Duration::from_secs(60))
        .build_blocking()
        .unwrap();
    let first = {
        let client = client.clone();
        std::thread::spawn(move || client.verify(ID, MOBILE))
    };
    std::thread::sleep(Duration::from_millis(200));
    let second = client.verify(ID, MOBILE).unwrap_err();
    let first = first.join().unwrap().unwrap_err();
    assert_eq!(first.class(), ErrorClass::Ambiguous);
    // The waiter gets the holder's outcome: maybe billed, and it sent nothing itself.
    assert_eq!(second.class(), ErrorClass::Ambiguous, "{second}");
    assert!(second.nothing_sent(), "{second}");
    // (The sandbox drops the timed-out request's handler before it records it.)
    let before = sandbox.pair_count(ID, MOBILE).requests;
    assert!(before <= 1, "{before}");
    // Answers are kept (60 s), and so is the ambiguous outcome: a later call sends nothing.
    let third = client.verify(ID, MOBILE).unwrap_err();
    assert!(
        matches!(third, juhe_2fa::Error::AmbiguousElsewhere),
        "{third:?}"
    );
    assert_eq!(sandbox.pair_count(ID, MOBILE).requests, before);
}

#[test]
fn unbilled_failures_free_the_pair_and_a_waiter_sends_itself() {
    let redis = RedisServer::start().unwrap();
    // The first request is refused before processing (503: not billed).
    let plan = FaultPlan::new().then(Fault::HttpStatus(503));
    let sandbox = Sandbox::builder().faults(plan).spawn_blocking().unwrap();
    let client = builder(&sandbox.base_url())
        .dedupe(redis.url(), Duration::ZERO)
        .build_blocking()
        .unwrap();
    let first = {
        let client = client.clone();
        let (id, mobile) = (IdCard::parse(ID).unwrap(), Mobile::parse(MOBILE).unwrap());
        // The holder takes its time before sending, so the other call waits for it.
        let slowly = |_| {
            std::thread::sleep(Duration::from_millis(600));
            Ok(())
        };
        std::thread::spawn(move || client.verify_with(&id, &mobile, slowly))
    };
    std::thread::sleep(Duration::from_millis(200));
    let second = client.verify(ID, MOBILE).unwrap();
    let first = first.join().unwrap().unwrap_err();
    assert_eq!(first.class(), ErrorClass::Unbilled, "{first}");
    assert!(!second.from_cache(), "the failure was not shared");
    assert_eq!(sandbox.pair_count(ID, MOBILE).billed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_queued_behind_the_rate_limit_keeps_its_pair() {
    let redis = RedisServer::start().unwrap();
    let sandbox = answering().spawn().await.unwrap();
    // The holder waits 8 s for its rate slot: longer than any fixed lease would have been.
    let holder = builder(&sandbox.base_url())
        .timeout(Duration::from_secs(1))
        .rate_limit(1.0 / 8.0)
        .dedupe(redis.url(), Duration::ZERO)
        .fleet_options(FleetOptions::default().with_max_wait(Duration::from_secs(1)))
        .build()
        .unwrap();
    let other = builder(&sandbox.base_url())
        .dedupe(redis.url(), Duration::ZERO)
        .fleet_options(FleetOptions::default().with_max_wait(Duration::from_secs(1)))
        .build()
        .unwrap();
    let (warm_id, warm_mobile) = demo::pair(1);
    holder.verify(&warm_id, &warm_mobile).await.unwrap(); // uses the slot
    let queued = tokio::spawn({
        let holder = holder.clone();
        async move { holder.verify(ID, MOBILE).await }
    });
    tokio::time::sleep(Duration::from_millis(6500)).await;
    // Still in flight: the duplicate waits (max_wait 1 s), gives up, sends nothing.
    let e = other.verify(ID, MOBILE).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Unbilled, "{e}");
    assert!(e.nothing_sent());
    let v = queued.await.unwrap().unwrap();
    assert_eq!(v.attempts, 1);
    assert_eq!(sandbox.pair_count(ID, MOBILE).requests, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_call_frees_its_pair_or_settles_it_as_ambiguous() {
    let redis = RedisServer::start().unwrap();
    let sandbox = answering().spawn().await.unwrap();
    let options = FleetOptions::default().with_max_wait(Duration::from_secs(20));
    let queued = builder(&sandbox.base_url())
        .rate_limit(1.0 / 30.0)
        .dedupe(redis.url(), Duration::ZERO)
        .fleet_options(options.clone())
        .build()
        .unwrap();
    let other = builder(&sandbox.base_url())
        .dedupe(redis.url(), Duration::ZERO)
        .fleet_options(options)
        .build()
        .unwrap();
    let (warm_id, warm_mobile) = demo::pair(1);
    queued.verify(&warm_id, &warm_mobile).await.unwrap(); // the next slot is 30 s away

    // Dropped while waiting for its rate slot, before sending: the pair is free at once.
    let dropped = tokio::time::timeout(Duration::from_millis(300), queued.verify(ID, MOBILE));
    assert!(dropped.await.is_err(), "timed out");
    let started = Instant::now();
    let v = other.verify(ID, MOBILE).await.unwrap();
    assert!(!v.from_cache());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "waited for a dropped call"
    );
    assert_eq!(sandbox.pair_count(ID, MOBILE).requests, 1);

    // Dropped while its request is on the wire: waiters are told it may be billed.
    let (id, mobile) = demo::pair(2);
    let sandbox = answering().faults(slow(1500)).spawn().await.unwrap();
    let sender = builder(&sandbox.base_url())
        .dedupe(redis.url(), Duration::ZERO)
        .build()
        .unwrap();
    let other = builder(&sandbox.base_url())
        .dedupe(redis.url(), Duration::ZERO)
        .build()
        .unwrap();
    let in_flight = tokio::spawn({
        let (id, mobile) = (id.clone(), mobile.clone());
        async move { sender.verify(&id, &mobile).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiter = tokio::spawn({
        let (other, id, mobile) = (other.clone(), id.clone(), mobile.clone());
        async move { other.verify(&id, &mobile).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    in_flight.abort();
    let e = waiter.await.unwrap().unwrap_err();
    assert_eq!(e.class(), ErrorClass::Ambiguous, "{e}");
    assert!(e.nothing_sent());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sandbox.pair_count(&id, &mobile).requests, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_calls_use_no_shared_rate_slots() {
    let redis = RedisServer::start().unwrap();
    let sandbox = answering().spawn().await.unwrap();
    let client = builder(&sandbox.base_url())
        .shared_rate_limit(redis.url(), 10.0)
        .build()
        .unwrap();
    let calls = (0..100).map(|i| {
        let (id, mobile) = demo::pair(i);
        let client = client.clone();
        async move {
            let call = client.verify(&id, &mobile);
            tokio::time::timeout(Duration::from_millis(30), call).await
        }
    });
    let finished = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .filter(Result::is_ok)
        .count();
    assert!(finished <= 2, "{finished}");
    let started = Instant::now();
    let (id, mobile) = demo::pair(500);
    client.verify(&id, &mobile).await.unwrap();
    // At 10/s the next slot is at most one interval away, not 100 booked slots (10 s).
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// Tests that measure rates or load the CPU run one at a time.
static TIMING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Checks `n` pairs with `clients`, `per_client` at a time; returns the elapsed time.
async fn run_load(clients: &[juhe_2fa::Client], n: usize) -> Duration {
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(c, client)| {
            let client = client.clone();
            tokio::spawn(async move {
                let pairs = (0..n).map(move |i| demo::pair(c * 100_000 + i));
                let checks = client.verify_all(futures_util::stream::iter(pairs), 8);
                futures_util::StreamExt::collect::<Vec<_>>(checks).await
            })
        })
        .collect();
    for task in tasks {
        for (_, result) in task.await.unwrap() {
            result.unwrap();
        }
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clients_share_one_budget() {
    let _timing = TIMING.lock().await;
    let redis = RedisServer::start().unwrap();
    let sandbox = answering().qps_limit(Some(40)).spawn().await.unwrap();
    let clients: Vec<_> = (0..3)
        .map(|_| {
            builder(&sandbox.base_url())
                .shared_rate_limit(redis.url(), 40.0)
                .build()
                .unwrap()
        })
        .collect();
    let elapsed = run_load(&clients, 40).await;
    let stats = sandbox.stats();
    assert_eq!(stats.by_error_code.get(&10012), None, "{stats:?}");
    let rate = 120.0 / elapsed.as_secs_f64();
    // 120 checks at 40/s: about 3 s, never faster than the budget, at least 90 % of it.
    assert!((40.0 * 0.90..=40.0 * 1.02).contains(&rate), "{rate:.1}/s");
}

/// Keeps both cores busy until dropped, as other processes on a loaded host would.
struct CpuLoad(
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    Vec<std::thread::JoinHandle<()>>,
);

impl CpuLoad {
    fn start() -> CpuLoad {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..2)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                })
            })
            .collect();
        CpuLoad(stop, threads)
    }
}

impl Drop for CpuLoad {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.1.drain(..) {
            let _ = t.join();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_at_the_servers_limit_gets_no_10012_on_a_loaded_host() {
    let _timing = TIMING.lock().await;
    let redis = RedisServer::start().unwrap();
    let sandbox = answering().qps_limit(Some(50)).spawn().await.unwrap();
    let clients: Vec<_> = (0..3)
        .map(|_| {
            builder(&sandbox.base_url())
                .shared_rate_limit(redis.url(), 50.0)
                .build()
                .unwrap()
        })
        .collect();
    let load = CpuLoad::start();
    run_load(&clients, 60).await;
    drop(load);
    let stats = sandbox.stats();
    assert_eq!(stats.by_error_code.get(&10012), None, "{stats:?}");
    assert_eq!(stats.by_error_code.get(&0), Some(&180));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_the_replicas_split_the_budget_and_get_no_10012() {
    let _timing = TIMING.lock().await;
    let mut redis = RedisServer::start().unwrap();
    let url = redis.url();
    redis.stop();
    let sandbox = answering().qps_limit(Some(50)).spawn().await.unwrap();
    let clients: Vec<_> = (0..3)
        .map(|_| {
            builder(&sandbox.base_url())
                .shared_rate_limit(url.clone(), 50.0)
                .fleet_options(
                    FleetOptions::default()
                        .with_expected_replicas(3)
                        .with_store_timeout(Duration::from_millis(100)),
                )
                .build()
                .unwrap()
        })
        .collect();
    let load = CpuLoad::start();
    run_load(&clients, 30).await;
    drop(load);
    let stats = sandbox.stats();
    assert_eq!(stats.by_error_code.get(&10012), None, "{stats:?}");
    assert_eq!(stats.by_error_code.get(&0), Some(&90));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_above_the_servers_limit_slows_down_after_10012() {
    let _timing = TIMING.lock().await;
    let redis = RedisServer::start().unwrap();
    let sandbox = answering().qps_limit(Some(20)).spawn().await.unwrap();
    let client = builder(&sandbox.base_url())
        .retry_policy(RetryPolicy::default().with_max_retries(6))
        .shared_rate_limit(redis.url(), 60.0)
        .build()
        .unwrap();
    run_load(std::slice::from_ref(&client), 120).await;
    let stats = sandbox.stats();
    let refused = stats.by_error_code.get(&10012).copied().unwrap_or(0);
    // At a steady 57/s against 20/s, about 2 of every 3 requests would be refused.
    assert!(refused < 60, "{refused} × 10012: {stats:?}");
    assert_eq!(stats.by_error_code.get(&0), Some(&120));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_failing_mid_run_falls_back_and_recovers() {
    let _timing = TIMING.lock().await;
    let mut redis = RedisServer::start().unwrap();
    let sandbox = answering().spawn().await.unwrap();
    let client = builder(&sandbox.base_url())
        .shared_rate_limit(redis.url(), 100.0)
        .dedupe(redis.url(), Duration::ZERO)
        .fleet_options(
            FleetOptions::default()
                .with_expected_replicas(2)
                .with_store_timeout(Duration::from_millis(200)),
        )
        .build()
        .unwrap();
    run_load(std::slice::from_ref(&client), 20).await;
    assert!(
        redis
            .keys()
            .unwrap()
            .iter()
            .any(|k| k.starts_with("juhe2fa:rate:"))
    );

    redis.stop();
    // Down: checks go on at 100 / 2 per second, each within the store timeout.
    let elapsed = run_load(std::slice::from_ref(&client), 50).await;
    assert!(
        elapsed >= Duration::from_millis(900),
        "{elapsed:?}: not limited locally"
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");

    redis.restart().unwrap();
    std::thread::sleep(Duration::from_millis(1100)); // one probe interval
    run_load(std::slice::from_ref(&client), 20).await;
    assert!(
        redis
            .keys()
            .unwrap()
            .iter()
            .any(|k| k.starts_with("juhe2fa:rate:")),
        "shared limiting resumed"
    );
    assert_eq!(sandbox.stats().by_error_code.get(&0), Some(&90));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_waits_for_redis_and_sends_nothing_without_it() {
    let redis = RedisServer::start().unwrap();
    let url = redis.url();
    drop(redis);
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let client = builder(&sandbox.base_url())
        .shared_rate_limit(url, 10.0)
        .fleet_options(
            FleetOptions::default()
                .with_fail_closed(true)
                .with_max_wait(Duration::from_millis(600)),
        )
        .build()
        .unwrap();
    let e = client.verify(ID, MOBILE).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Unbilled);
    assert!(e.nothing_sent());
    assert_eq!(sandbox.stats().requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_holds_no_number_and_no_key() {
    let redis = RedisServer::start().unwrap();
    let sandbox = answering().spawn().await.unwrap();
    let client = builder(&sandbox.base_url())
        .shared_rate_limit(redis.url(), 200.0)
        .dedupe(redis.url(), Duration::from_secs(60))
        .build()
        .unwrap();
    run_load(std::slice::from_ref(&client), 30).await;
    let keys = redis.keys().unwrap();
    assert_eq!(keys.len(), 31, "{keys:?}"); // 30 kept answers and the rate bucket
    let numbers: Vec<String> = (0..30)
        .flat_map(|i| {
            let (id, mobile) = demo::pair(i);
            let masked = juhe_2fa::IdCard::parse(&id).unwrap().masked();
            [id, mobile, masked]
        })
        .collect();
    for key in &keys {
        assert!(!key.contains(demo::API_KEY), "{key}");
        for n in &numbers {
            assert!(!key.contains(n.as_str()) && !key.contains(&n[..6]), "{key}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_redis_password_is_a_configuration_error_and_sends_nothing() {
    let redis = RedisServer::start_with_args(&["--requirepass", "right-password"]).unwrap();
    let sandbox = answering().spawn().await.unwrap();
    let url = format!("redis://:wrong-password@127.0.0.1:{}/", redis.port());
    let async_client = builder(&sandbox.base_url())
        .shared_rate_limit(url.clone(), 10.0)
        .dedupe(url.clone(), Duration::ZERO)
        .build()
        .unwrap();
    let e = async_client.verify(ID, MOBILE).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Config, "{e}");
    assert!(e.to_string().contains("password"), "{e}");
    assert!(!format!("{e:?}{e}").contains("wrong-password"), "{e:?}");
    let blocking = builder(&sandbox.base_url())
        .dedupe(url, Duration::ZERO)
        .build_blocking()
        .unwrap();
    let e = tokio::task::spawn_blocking(move || blocking.verify(ID, MOBILE))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Config, "{e}");
    assert_eq!(sandbox.stats().requests, 0);

    // The right one works.
    let url = format!("redis://:right-password@127.0.0.1:{}/", redis.port());
    let client = builder(&sandbox.base_url())
        .dedupe(url, Duration::from_secs(60))
        .build()
        .unwrap();
    client.verify(ID, MOBILE).await.unwrap();
    assert!(client.verify(ID, MOBILE).await.unwrap().from_cache());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_with_a_private_ca_is_supported() {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "juhe-2fa test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let dir = std::env::temp_dir().join(format!("juhe-2fa-rediss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
    let redis = RedisServer::start_with_tls(&cert, &key).unwrap();
    let tls_url = redis.tls_url().unwrap();
    let sandbox = answering().spawn().await.unwrap();

    let client = builder(&sandbox.base_url())
        .add_root_certificate(ca.pem())
        .dedupe(tls_url.clone(), Duration::from_secs(60))
        .build()
        .unwrap();
    client.verify(ID, MOBILE).await.unwrap();
    let again = client.verify(ID, MOBILE).await.unwrap();
    assert!(again.from_cache(), "the answer went through Redis over TLS");
    let blocking = builder(&sandbox.base_url())
        .add_root_certificate(ca.pem())
        .dedupe(tls_url, Duration::from_secs(60))
        .build_blocking()
        .unwrap();
    let reused = tokio::task::spawn_blocking(move || blocking.verify(ID, MOBILE))
        .await
        .unwrap()
        .unwrap();
    assert!(reused.from_cache());
    assert_eq!(sandbox.pair_count(ID, MOBILE).billed, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_kept_ambiguous_outcome_holds_for_later_callers_unless_they_choose_to_resend() {
    let redis = RedisServer::start().unwrap();
    let plan = FaultPlan::new().then(Fault::DelayMs(1500));
    let sandbox = Sandbox::builder().faults(plan).spawn_blocking().unwrap();
    let keep = Duration::from_secs(60);
    let client = builder(&sandbox.base_url())
        .timeout(Duration::from_millis(500))
        .dedupe(redis.url(), keep)
        .build_blocking()
        .unwrap();
    let e = client.verify(ID, MOBILE).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Ambiguous);
    // Later callers, none of them waiting when it happened: still ambiguous, nothing sent.
    for _ in 0..2 {
        let later = client.verify(ID, MOBILE).unwrap_err();
        assert!(
            matches!(later, juhe_2fa::Error::AmbiguousElsewhere),
            "{later:?}"
        );
    }
    std::thread::sleep(Duration::from_millis(1200));
    assert!(sandbox.pair_count(ID, MOBILE).requests <= 1);
    // A caller that chose to resend ambiguous checks sends.
    let resend = builder(&sandbox.base_url())
        .dedupe(redis.url(), keep)
        .fleet_options(FleetOptions::default().with_resend_ambiguous(true))
        .build_blocking()
        .unwrap();
    let v = resend.verify(ID, MOBILE).unwrap();
    assert_eq!(v.attempts, 1);
}

#[test]
fn a_redis_database_that_does_not_exist_is_a_configuration_error() {
    let redis = RedisServer::start().unwrap();
    let sandbox = answering().spawn_blocking().unwrap();
    let url = format!("redis://127.0.0.1:{}/99", redis.port());
    let client = builder(&sandbox.base_url())
        .dedupe(url, Duration::ZERO)
        .build_blocking()
        .unwrap();
    let e = client.verify(ID, MOBILE).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Config, "{e}");
    assert!(e.to_string().contains("database"), "{e}");
    assert_eq!(sandbox.stats().requests, 0);
}
