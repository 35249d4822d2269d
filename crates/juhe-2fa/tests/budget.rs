//! Hard spend budgets: refused before sending once spent; only billable calls count; shared
//! atomically through Redis; seeded from the ledger's count.

use std::time::{Duration, SystemTime};

use juhe_2fa::budget::Budget;
use juhe_2fa::ledger::{Context, Entry};
use juhe_2fa::{ClientBuilder, Error, ErrorClass, Ledger, RetryPolicy};
use juhe_sandbox::{DefaultVerdict, RedisServer, Sandbox, demo};

fn builder(url: &str) -> ClientBuilder {
    ClientBuilder::new()
        .api_key(demo::API_KEY)
        .base_url(url)
        .retry_policy(RetryPolicy::none())
}

#[test]
fn seven_calls_on_a_budget_of_five_bill_five_and_send_nothing_more() {
    let sandbox = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let client = builder(&sandbox.base_url())
        .budget("5/day".parse().unwrap())
        .budget(Budget::per_month(100))
        .build_blocking()
        .unwrap();
    // Not billable, so not counted: an API error and a local rejection.
    client
        .verify(demo::NO_RECORD.0, demo::NO_RECORD.1)
        .unwrap_err();
    client
        .verify("110105199003071230", demo::MATCH.1)
        .unwrap_err();
    let results: Vec<_> = (0..7)
        .map(|i| {
            let (id, mobile) = demo::pair(i);
            client.verify(&id, &mobile)
        })
        .collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 5);
    for e in results.into_iter().skip(5).map(Result::unwrap_err) {
        assert_eq!(e.class(), ErrorClass::Budget, "{e}");
        assert!(e.nothing_sent());
        let shown = e.to_string();
        assert!(
            shown.contains("5/day") && shown.contains("China time"),
            "{shown}"
        );
    }
    assert_eq!(sandbox.stats().billed, 5);
    assert_eq!(
        sandbox.stats().requests,
        6,
        "5 billed and the 232904, nothing more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clients_on_one_redis_budget_bill_exactly_the_budget() {
    let redis = RedisServer::start().unwrap();
    let sandbox = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn()
        .await
        .unwrap();
    let clients: Vec<_> = (0..3)
        .map(|_| {
            builder(&sandbox.base_url())
                .shared_rate_limit(redis.url(), 1000.0)
                .budget(Budget::per_day(20))
                .build()
                .unwrap()
        })
        .collect();
    let checks = (0..60).map(|i| {
        let client = clients[i % 3].clone();
        let (id, mobile) = demo::pair(1000 + i);
        tokio::spawn(async move { client.verify(&id, &mobile).await })
    });
    let results = futures_util::future::join_all(checks).await;
    let refused = results
        .into_iter()
        .map(Result::unwrap)
        .filter(|r| matches!(r, Err(Error::Budget { .. })))
        .count();
    assert_eq!(refused, 40);
    assert_eq!(sandbox.stats().billed, 20);
    assert_eq!(sandbox.stats().requests, 20);
}

/// A ledger that counted `n` billable checks today already.
struct Counted(u64);

impl Ledger for Counted {
    fn admit(&self, _: &Context) -> Result<(), juhe_2fa::BoxError> {
        Ok(())
    }
    fn record(&self, _: &Entry) -> Result<(), juhe_2fa::BoxError> {
        Ok(())
    }
    fn billable_since(&self, since: SystemTime) -> Result<Option<u64>, juhe_2fa::BoxError> {
        assert!(SystemTime::now().duration_since(since).unwrap() < Duration::from_secs(86_400));
        Ok(Some(self.0))
    }
}

#[test]
fn without_redis_the_budget_starts_from_the_ledgers_count() {
    let sandbox = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let client = builder(&sandbox.base_url())
        .ledger(Counted(4))
        .budget(Budget::per_day(5))
        .build_blocking()
        .unwrap();
    client.verify(demo::MATCH.0, demo::MATCH.1).unwrap();
    let e = client
        .verify(demo::MISMATCH.0, demo::MISMATCH.1)
        .unwrap_err();
    assert!(matches!(e, Error::Budget { .. }), "{e:?}");
    assert_eq!(sandbox.stats().requests, 1);
}

/// A caller's own limits, carried by the per-call context: its budget is counted apart from
/// other callers' (in-process here), its rate refuses rather than waits, and the client's
/// own budget still bounds everyone.
#[test]
fn a_callers_limits_refuse_before_sending_and_apart_from_other_callers() {
    use juhe_2fa::budget::CallerLimits;
    let sandbox = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let client = builder(&sandbox.base_url())
        .budget(Budget::per_day(5))
        .build_blocking()
        .unwrap();
    let small = CallerLimits::new("small", None, vec![Budget::per_day(2)]).unwrap();
    let small = client.with_context(Context::new(Some("small".into()), None).with_limits(small));
    let big = CallerLimits::new("big", None, vec![Budget::per_day(100)]).unwrap();
    let big = client.with_context(Context::new(Some("big".into()), None).with_limits(big));
    let mut pairs = (0..).map(|i| demo::pair(2000 + i));
    let mut verify = |c: &juhe_2fa::BlockingClient| {
        let (id, mobile) = pairs.next().unwrap();
        c.verify(&id, &mobile)
    };
    assert!(verify(&small).is_ok() && verify(&small).is_ok());
    let e = verify(&small).unwrap_err();
    assert!(matches!(e, Error::Budget { .. }) && e.nothing_sent(), "{e}");
    let wait = e.retry_after().unwrap();
    assert!(wait > Duration::ZERO && wait <= Duration::from_secs(86_400));
    // Another caller is not bound by `small`'s budget, but by the client's (5 in all).
    for _ in 0..3 {
        verify(&big).unwrap();
    }
    assert!(matches!(verify(&big).unwrap_err(), Error::Budget { .. }));
    assert_eq!(sandbox.stats().billed, 5);

    // A rate of 1 a second: the second check at once is refused, with when to come back.
    let client = builder(&sandbox.base_url()).build_blocking().unwrap();
    let quick = CallerLimits::new("quick", Some(1.0), vec![]).unwrap();
    let quick = client.with_context(Context::default().with_limits(quick));
    verify(&quick).unwrap();
    let e = verify(&quick).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Budget);
    assert!(
        matches!(e, Error::CallerRate { .. }) && e.nothing_sent(),
        "{e}"
    );
    let wait = e.retry_after().unwrap();
    assert!(
        wait > Duration::from_millis(500) && wait <= Duration::from_millis(1100),
        "{wait:?}"
    );
    assert_eq!(sandbox.stats().billed, 6);
}

/// With Redis, a caller's budget is one count for every client (replica) under its name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_budget_is_shared_through_redis() {
    use juhe_2fa::budget::CallerLimits;
    let redis = RedisServer::start().unwrap();
    let sandbox = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn()
        .await
        .unwrap();
    // Two replicas, each with its own copy of the caller's limits.
    let replicas: Vec<_> = (0..2)
        .map(|_| {
            let limits = CallerLimits::new("team", None, vec![Budget::per_day(3)]).unwrap();
            builder(&sandbox.base_url())
                .shared_rate_limit(redis.url(), 1000.0)
                .build()
                .unwrap()
                .with_context(Context::new(Some("team".into()), None).with_limits(limits))
        })
        .collect();
    let mut refused = 0;
    for i in 0..8 {
        let (id, mobile) = demo::pair(3000 + i);
        if let Err(e) = replicas[i % 2].verify(&id, &mobile).await {
            assert!(matches!(e, Error::Budget { .. }), "{e}");
            refused += 1;
        }
    }
    assert_eq!((refused, sandbox.stats().billed), (5, 3));
}

/// With Redis, a caller's rate is one count for every replica: a check refused on the second
/// replica right after the first one's, though each has its own copy of the limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_rate_is_shared_through_redis() {
    use juhe_2fa::budget::CallerLimits;
    let redis = RedisServer::start().unwrap();
    let sandbox = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn()
        .await
        .unwrap();
    let replicas: Vec<_> = (0..2)
        .map(|_| {
            let limits = CallerLimits::new("paced", Some(1.0), vec![]).unwrap();
            builder(&sandbox.base_url())
                .dedupe(redis.url(), Duration::ZERO)
                .build()
                .unwrap()
                .with_context(Context::default().with_limits(limits))
        })
        .collect();
    let (id, mobile) = demo::pair(4000);
    replicas[0].verify(&id, &mobile).await.unwrap();
    let (id, mobile) = demo::pair(4001);
    let e = replicas[1].verify(&id, &mobile).await.unwrap_err();
    assert!(matches!(e, Error::CallerRate { .. }), "{e}");
    let wait = e.retry_after().unwrap();
    assert!(
        wait > Duration::from_millis(500) && wait <= Duration::from_millis(1100),
        "{wait:?}"
    );
    assert_eq!(sandbox.stats().requests, 1);
    // Another caller on the same replicas is not limited by it.
    let other = CallerLimits::new("other", Some(1.0), vec![]).unwrap();
    let other = replicas[1].with_context(Context::default().with_limits(other));
    other.verify(&id, &mobile).await.unwrap();
}

/// Clients with their own connections, one per thread and runtime (a thread-per-core server),
/// still share one budget: 3 threads × 4 checks on a budget of 5 bill 5.
#[test]
fn clients_with_their_own_connections_share_one_budget() {
    let sandbox = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let client = builder(&sandbox.base_url())
        .budget("5/day".parse().unwrap())
        .build()
        .unwrap();
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let own = client.with_own_connections().unwrap();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let mut results = Vec::new();
                    for i in 0..4 {
                        let (id, mobile) = demo::pair(t * 4 + i);
                        results.push(own.verify(&id, &mobile).await);
                    }
                    results
                })
            })
        })
        .collect();
    let results: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 5);
    for e in results.into_iter().filter_map(Result::err) {
        assert_eq!(e.class(), ErrorClass::Budget, "{e}");
    }
    assert_eq!(sandbox.stats().billed, 5);
    assert_eq!(sandbox.stats().requests, 5);
}
