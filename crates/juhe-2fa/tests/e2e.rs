//! End to end against the sandbox: both clients × three modes × GET/POST, every error code,
//! every fault, retries.

use std::time::{Duration, Instant};

use juhe_2fa::{
    AesConfig, BlockingClient, Client, ClientBuilder, Endpoint, Error, ErrorCode, Method, Mode,
    RetryPolicy, Verdict,
};
use juhe_sandbox::{BlockingSandbox, Fault, FaultPlan, KeyStatus, Sandbox, demo};

fn mode(endpoint: Endpoint) -> Mode {
    match endpoint {
        Endpoint::Plain => Mode::Plain,
        Endpoint::Aes => Mode::aes_openid(demo::OPENID).unwrap(),
        Endpoint::Rsa => Mode::rsa(demo::RSA_PUBLIC_KEY_B64).unwrap(),
        other => panic!("no test mode for {other}"),
    }
}

fn builder(sb: &BlockingSandbox, endpoint: Endpoint) -> ClientBuilder {
    ClientBuilder::new()
        .api_key(demo::API_KEY)
        .base_url(sb.base_url())
        .mode(mode(endpoint))
        .timeout(Duration::from_secs(2))
        .retry_policy(RetryPolicy::default().with_base_delay(Duration::from_millis(5)))
}

/// Runs the same check through the blocking client and the async client.
struct Both {
    blocking: BlockingClient,
    async_client: Client,
    rt: tokio::runtime::Runtime,
}

impl Both {
    fn new(b: ClientBuilder) -> Both {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let async_client = rt.block_on(async { b.clone().build() }).unwrap();
        Both {
            blocking: b.build_blocking().unwrap(),
            async_client,
            rt,
        }
    }

    fn verify(&self, pair: (&str, &str)) -> [Result<juhe_2fa::Verification, Error>; 2] {
        [
            self.blocking.verify(pair.0, pair.1),
            self.rt.block_on(self.async_client.verify(pair.0, pair.1)),
        ]
    }
}

#[test]
fn aes_with_an_openid_and_with_an_explicit_older_scheme() {
    let openid = "JHf3a9c1d27b8e4605a1c9d3e7b2f4a6c8";
    let cbc = AesConfig::new(demo::AES_KEY)
        .unwrap()
        .with_mode(juhe_2fa::AesMode::Cbc)
        .with_iv(juhe_2fa::IvPolicy::SameAsKey);
    let cases = [
        (
            Sandbox::builder().openid(openid).unwrap(),
            Mode::aes_openid(openid).unwrap(),
        ),
        (Sandbox::builder().aes(Some(cbc.clone())), Mode::Aes(cbc)),
    ];
    for (sandbox, mode) in cases {
        let sb = sandbox.spawn_blocking().unwrap();
        for method in [Method::Post, Method::Get] {
            let both = Both::new(
                builder(&sb, Endpoint::Aes)
                    .mode(mode.clone())
                    .method(method),
            );
            for result in both.verify(demo::MATCH) {
                let v = result.unwrap_or_else(|e| panic!("{mode:?} {method:?}: {e}"));
                assert_eq!((v.verdict, v.mode), (Verdict::Match, Endpoint::Aes));
            }
            for result in both.verify(demo::MISMATCH) {
                assert_eq!(result.unwrap().verdict, Verdict::Mismatch);
            }
        }
        // The wrong OpenID: the vendor cannot decrypt the mobile number (232901), unbilled.
        let wrong = Both::new(
            builder(&sb, Endpoint::Aes).mode(Mode::aes_openid("JHsomeone-else").unwrap()),
        );
        for result in wrong.verify(demo::MATCH) {
            let e = result.unwrap_err();
            assert_eq!(e.error_code(), Some(ErrorCode::InvalidMobile), "{e:?}");
        }
        assert_eq!(sb.stats().billed, 8);
    }
}

#[test]
fn both_clients_all_modes_get_and_post() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    for endpoint in Endpoint::ALL {
        for method in [Method::Post, Method::Get] {
            let both = Both::new(builder(&sb, endpoint).method(method));
            for result in both.verify(demo::MATCH) {
                let v = result.unwrap_or_else(|e| panic!("{endpoint} {method:?}: {e}"));
                assert_eq!(v.verdict, Verdict::Match);
                assert_eq!(v.mode, endpoint);
                assert_eq!(v.attempts, 1);
                assert!(v.order_id.starts_with("JH"));
                assert_eq!(v.carrier, juhe_2fa::Carrier::Unicom);
            }
            for result in both.verify(demo::MISMATCH) {
                assert_eq!(result.unwrap().verdict, Verdict::Mismatch);
            }
        }
    }
    assert_eq!(sb.pair_count(demo::MATCH.0, demo::MATCH.1).requests, 12);
    assert_eq!(sb.stats().requests, 24);
}

fn api_code(result: &Result<juhe_2fa::Verification, Error>) -> ErrorCode {
    match result {
        Err(Error::Api { code, .. }) => *code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[test]
fn every_service_code() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let both = Both::new(builder(&sb, Endpoint::Rsa).retry_policy(RetryPolicy::none()));
    for (pair, code) in [
        (demo::VENDOR_INVALID_MOBILE, 232901),
        (demo::VENDOR_INVALID_IDCARD, 232902),
        (demo::NON_UNICOM, 232903),
        (demo::NO_RECORD, 232904),
        (demo::NETWORK_ERROR, 232905),
        (demo::QUERY_FAILED, 232906),
    ] {
        for result in both.verify(pair) {
            assert_eq!(api_code(&result), ErrorCode::from_code(code));
            assert!(!result.as_ref().unwrap_err().is_ambiguous());
        }
    }
}

#[test]
fn every_system_code() {
    let codes: Vec<i32> = ErrorCode::ALL
        .iter()
        .map(|c| c.code())
        .filter(|c| *c < 200_000)
        .collect();
    assert_eq!(codes.len(), 14);
    let plan = codes.iter().fold(FaultPlan::new(), |p, c| {
        p.then(Fault::ErrorCode(ErrorCode::from_code(*c)))
            .then(Fault::ErrorCode(ErrorCode::from_code(*c)))
    });
    let sb = Sandbox::builder().faults(plan).spawn_blocking().unwrap();
    let both = Both::new(builder(&sb, Endpoint::Plain).retry_policy(RetryPolicy::none()));
    for code in codes {
        for result in both.verify(demo::MATCH) {
            let got = api_code(&result);
            assert_eq!(got, ErrorCode::from_code(code));
            assert_eq!(result.unwrap_err().is_retryable(), got.is_retryable());
        }
    }
}

#[test]
fn real_key_states() {
    let sb = Sandbox::builder()
        .key("live")
        .key_with_status("old", KeyStatus::Expired)
        .key_with_status("banned", KeyStatus::Disabled)
        .spawn_blocking()
        .unwrap();
    for (key, code) in [("wrong", 10001), ("old", 10003), ("banned", 10009)] {
        let both = Both::new(builder(&sb, Endpoint::Plain).api_key(key));
        for result in both.verify(demo::MATCH) {
            let e = result.unwrap_err();
            assert_eq!(e.error_code(), Some(ErrorCode::from_code(code)));
            assert_eq!(
                e.kind_name(),
                if code == 10001 || code == 10003 {
                    "credential"
                } else {
                    "disabled"
                }
            );
        }
    }
    // Non-retryable codes are sent exactly once; every request counts for its pair.
    let count = sb.pair_count(demo::MATCH.0, demo::MATCH.1);
    assert_eq!((count.requests, count.billed), (6, 0));
    assert_eq!(sb.stats().requests, 6);
}

#[test]
fn each_fault_is_a_typed_error() {
    let plan = FaultPlan::new()
        .then_times(Fault::Http500, 2)
        .then_times(Fault::Drop, 2)
        .then_times(Fault::TruncatedJson, 2)
        .then_times(Fault::ResAsString, 2)
        .then_times(Fault::DelayMs(3000), 2);
    let sb = Sandbox::builder().faults(plan).spawn_blocking().unwrap();
    let both = Both::new(
        builder(&sb, Endpoint::Aes)
            .retry_policy(RetryPolicy::none())
            .timeout(Duration::from_millis(800)),
    );

    for r in both.verify(demo::MATCH) {
        let e = r.unwrap_err();
        assert!(
            matches!(&e, Error::Decode(juhe_2fa::DecodeError { status: 500, .. })),
            "{e:?}"
        );
        assert!(e.is_retryable() && !e.is_ambiguous());
    }
    for r in both.verify(demo::MATCH) {
        let e = r.unwrap_err();
        assert!(
            matches!(&e, Error::Transport(t) if t.may_have_been_sent()),
            "{e:?}"
        );
        assert!(e.is_ambiguous() && !e.is_retryable());
    }
    for r in both.verify(demo::MATCH) {
        let e = r.unwrap_err();
        assert!(matches!(&e, Error::Decode(_)), "{e:?}");
        assert!(e.is_ambiguous(), "a garbled 200 may have been billed");
    }
    for r in both.verify(demo::MATCH) {
        assert_eq!(
            r.unwrap().verdict,
            Verdict::Match,
            "res as a string is fine"
        );
    }
    for r in both.verify(demo::MATCH) {
        let started = Instant::now();
        let e = r.unwrap_err();
        assert!(
            matches!(&e, Error::Transport(t) if t.may_have_been_sent()),
            "{e:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}

#[test]
fn retryable_codes_are_retried_up_to_the_policy() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let both = Both::new(builder(&sb, Endpoint::Plain));
    for result in both.verify(demo::NETWORK_ERROR) {
        assert_eq!(api_code(&result), ErrorCode::NetworkError);
    }
    assert_eq!(
        sb.pair_count(demo::NETWORK_ERROR.0, demo::NETWORK_ERROR.1)
            .requests,
        6,
        "1 + 2 retries, twice"
    );
    for result in both.verify(demo::NO_RECORD) {
        assert_eq!(api_code(&result), ErrorCode::NoRecord);
    }
    assert_eq!(
        sb.pair_count(demo::NO_RECORD.0, demo::NO_RECORD.1).requests,
        2,
        "exactly once each"
    );
}

#[test]
fn transient_faults_then_success() {
    let plan = FaultPlan::new()
        .then(Fault::Http500)
        .then(Fault::ErrorCode(ErrorCode::InternalError))
        .then(Fault::None);
    let sb = Sandbox::builder().faults(plan).spawn_blocking().unwrap();
    let client = builder(&sb, Endpoint::Plain).build_blocking().unwrap();
    let v = client.verify(demo::MATCH.0, demo::MATCH.1).unwrap();
    assert_eq!(v.attempts, 3);
    assert_eq!(sb.stats().billed, 1);
}

#[test]
fn ambiguous_failures_are_not_retried_unless_asked() {
    let sb = Sandbox::builder()
        .faults(FaultPlan::new().then_times(Fault::Drop, 2))
        .spawn_blocking()
        .unwrap();
    let client = builder(&sb, Endpoint::Plain).build_blocking().unwrap();
    assert!(
        client
            .verify(demo::MATCH.0, demo::MATCH.1)
            .unwrap_err()
            .is_ambiguous()
    );
    assert_eq!(
        sb.stats().requests,
        1,
        "a dropped connection after sending is not retried"
    );
    let opted_in = builder(&sb, Endpoint::Plain)
        .retry_policy(
            RetryPolicy::default()
                .with_retry_ambiguous(true)
                .with_base_delay(Duration::from_millis(5)),
        )
        .build_blocking()
        .unwrap();
    let v = opted_in.verify(demo::MATCH.0, demo::MATCH.1).unwrap();
    assert_eq!(v.attempts, 2);
    assert_eq!(sb.stats().requests, 3);
}

#[test]
fn invalid_input_sends_nothing() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let both = Both::new(builder(&sb, Endpoint::Rsa));
    for result in both.verify(("110105199003071230", demo::MATCH.1)) {
        let e = result.unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)));
        assert!(e.nothing_sent());
        assert_eq!(e.to_string(), "ID card check digit should be 9, got 0");
    }
    for result in both.verify((demo::MATCH.0, "1234")) {
        assert!(matches!(result.unwrap_err(), Error::InvalidInput(_)));
    }
    assert_eq!(sb.stats().requests, 0);
}

#[test]
fn refusing_non_unicom_numbers_sends_nothing() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let both =
        Both::new(builder(&sb, Endpoint::Plain).carrier_policy(juhe_2fa::CarrierPolicy::Refuse));
    for result in both.verify(demo::NON_UNICOM) {
        let e = result.unwrap_err();
        assert!(matches!(
            e,
            Error::UnsupportedCarrier {
                carrier: juhe_2fa::Carrier::Mobile,
                ..
            }
        ));
        assert!(e.to_string().contains("138****8000"));
    }
    assert_eq!(sb.stats().requests, 0);
}

#[test]
fn bad_configuration_fails_at_build() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let cases = [
        ClientBuilder::new().base_url(sb.base_url()),
        builder(&sb, Endpoint::Plain).api_key("  "),
        builder(&sb, Endpoint::Plain).base_url("ftp://x"),
        builder(&sb, Endpoint::Plain).base_url("not a url"),
        builder(&sb, Endpoint::Plain).rate_limit(0.0),
    ];
    for b in cases {
        let e = b.build_blocking().unwrap_err();
        assert!(matches!(e, Error::Config { .. }), "{e:?}");
        assert_eq!(e.kind_name(), "config");
    }
    // Typed arguments refuse bad text where it is written, as config errors.
    for e in [
        Mode::rsa("not a key").unwrap_err(),
        Error::from(juhe_2fa::Proxy::parse("::bad::").unwrap_err()),
    ] {
        assert_eq!(e.class(), juhe_2fa::ErrorClass::Config, "{e:?}");
        assert!(!e.is_retryable() && e.nothing_sent(), "{e:?}");
    }
}

#[tokio::test]
async fn verify_all_tags_results_with_their_index() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let client = Client::builder()
        .api_key(demo::API_KEY)
        .base_url(sb.base_url())
        .build()
        .unwrap();
    let inputs = vec![
        demo::MATCH,
        demo::MISMATCH,
        ("bad", "bad"),
        demo::NO_RECORD,
        demo::MATCH,
    ];
    use futures_util::StreamExt;
    let mut results: Vec<_> = client
        .verify_all(futures_util::stream::iter(inputs), 3)
        .collect()
        .await;
    results.sort_by_key(|(i, _)| *i);
    assert_eq!(results.len(), 5);
    assert_eq!(results[0].1.as_ref().unwrap().verdict, Verdict::Match);
    assert_eq!(results[1].1.as_ref().unwrap().verdict, Verdict::Mismatch);
    assert!(matches!(results[2].1, Err(Error::InvalidInput(_))));
    assert_eq!(
        results[3].1.as_ref().unwrap_err().error_code(),
        Some(ErrorCode::NoRecord)
    );
    assert_eq!(sb.stats().requests, 4);
    sb.shutdown().await;
}
