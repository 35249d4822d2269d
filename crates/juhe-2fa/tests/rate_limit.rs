//! The client-side rate limit against the sandbox's per-key QPS limit: at 95 QPS against a
//! limit of 100, 30 seconds of calls get zero 10012. (A functional check: it takes 30 s.)

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use juhe_2fa::{Client, RetryPolicy};
use juhe_sandbox::{DefaultVerdict, Sandbox, demo};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ninety_five_qps_never_trips_a_limit_of_one_hundred() {
    let sb = Sandbox::builder()
        .qps_limit(Some(100))
        .default_verdict(DefaultVerdict::Match)
        .spawn()
        .await
        .unwrap();
    let client = Client::builder()
        .api_key(demo::API_KEY)
        .base_url(sb.base_url())
        .rate_limit(95.0)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let total = 95 * 30;
    let inputs = (0..total).map(|i| (demo::MATCH.0.to_owned(), format!("130{:08}", i)));
    let started = Instant::now();
    let results: Vec<_> = client
        .verify_all(futures_util::stream::iter(inputs), 8)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let stats = sb.stats();
    assert_eq!(results.len(), total);
    assert_eq!(
        stats.by_error_code.get(&10012).copied().unwrap_or(0),
        0,
        "{stats:?}"
    );
    assert!(results.iter().all(|(_, r)| r.is_ok()));
    assert_eq!(stats.requests, total as u64);
    // The limiter really limits: 2,850 requests cannot finish much faster than 30 s.
    assert!(elapsed >= Duration::from_secs(29), "{elapsed:?}");
    sb.shutdown().await;
}
