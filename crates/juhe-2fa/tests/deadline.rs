//! A deadline bounds the whole check: attempts, back-off, rate-limit and fleet waits. When the
//! next wait or attempt would pass it, the check ends with `Error::Deadline`, never billed.

use std::time::{Duration, Instant};

use juhe_2fa::{ClientBuilder, Error, ErrorClass, RetryPolicy};
use juhe_sandbox::{DefaultVerdict, Fault, FaultPlan, RedisServer, Sandbox, demo};

const ID: &str = "110105199003071239";
const MOBILE: &str = "13012345678";

fn builder(url: &str) -> ClientBuilder {
    ClientBuilder::new().api_key(demo::API_KEY).base_url(url)
}

#[tokio::test]
async fn back_off_past_the_deadline_ends_the_check_unbilled() {
    let sandbox = Sandbox::builder()
        .faults(FaultPlan::new().then_times(Fault::HttpStatus(503), 10))
        .spawn()
        .await
        .unwrap();
    let retrying = RetryPolicy::default()
        .with_max_retries(5)
        .with_base_delay(Duration::from_millis(800));
    let client = builder(&sandbox.base_url())
        .retry_policy(retrying)
        .build()
        .unwrap();
    let started = Instant::now();
    let e = client
        .with_deadline(Some(Duration::from_millis(1000)))
        .verify(ID, MOBILE)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Deadline { sent: true }), "{e:?}");
    assert_eq!(e.class(), ErrorClass::Unbilled);
    assert!(!e.nothing_sent());
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    let requests = sandbox.stats().requests;
    assert!((1..=2).contains(&requests), "{requests}");
    assert_eq!(sandbox.stats().billed, 0);
}

#[test]
fn a_rate_limit_wait_past_the_deadline_sends_nothing() {
    let sandbox = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let client = builder(&sandbox.base_url())
        .rate_limit(0.2)
        .deadline(Duration::from_secs(1))
        .build_blocking()
        .unwrap();
    client.verify(ID, MOBILE).unwrap(); // uses the slot; the next is 5 s away
    let e = client.verify(ID, MOBILE).unwrap_err();
    assert!(matches!(e, Error::Deadline { sent: false }), "{e:?}");
    assert!(e.nothing_sent());
    assert_eq!(sandbox.stats().requests, 1);
    // Without it, the call waits for its slot.
    let patient = client.with_deadline(None).verify(ID, MOBILE).unwrap();
    assert_eq!(patient.attempts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_wait_past_the_deadline_leaves_without_sending() {
    let redis = RedisServer::start().unwrap();
    let sandbox = Sandbox::builder()
        .faults(FaultPlan::new().then(Fault::DelayMs(2000)))
        .spawn()
        .await
        .unwrap();
    let client = builder(&sandbox.base_url())
        .retry_policy(RetryPolicy::none())
        .dedupe(redis.url(), Duration::ZERO)
        .build()
        .unwrap();
    let holder = tokio::spawn({
        let client = client.clone();
        async move { client.verify(ID, MOBILE).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let e = client
        .with_deadline(Some(Duration::from_millis(500)))
        .verify(ID, MOBILE)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Deadline { sent: false }), "{e:?}");
    let v = holder.await.unwrap().unwrap();
    assert_eq!(v.attempts, 1);
    assert_eq!(sandbox.pair_count(ID, MOBILE).requests, 1);
    // The waiter left: nothing is kept for it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !redis
            .keys()
            .unwrap()
            .iter()
            .any(|k| k.starts_with("juhe2fa:wait:")),
        "{:?}",
        redis.keys()
    );
}

#[test]
fn a_deadline_past_the_clocks_range_is_no_deadline_not_a_panic() {
    let sandbox = Sandbox::builder()
        .faults(FaultPlan::new().then(Fault::Http500))
        .spawn_blocking()
        .unwrap();
    let client = builder(&sandbox.base_url())
        .retry_policy(RetryPolicy::default().with_base_delay(Duration::from_millis(1)))
        .deadline(Duration::MAX)
        .timeout(Duration::MAX)
        .build_blocking()
        .unwrap();
    // The first answer is a 500: a back-off wait, checked against the deadline, then a retry.
    let v = client.verify(ID, MOBILE).unwrap();
    assert_eq!(v.attempts, 2);
}
