//! A service as a user writes it, through `juhe_2fa::` only: every `ErrorClass` mapped to an
//! HTTP status and a message for the person (an exhaustive `match`: a new class would not
//! compile), a deadline against a slow sandbox, and an RSA check tested with a mock and the
//! demo keys of `juhe_2fa::testing::demo` (no sandbox crate needed for the key).

use std::time::{Duration, Instant};

use juhe_2fa::testing::{answer, demo};
use juhe_2fa::{Client, Error, ErrorClass, Mode, RetryPolicy, RsaPublicKey};

/// What a KYC endpoint answers its own caller.
fn respond(result: &Result<juhe_2fa::Verification, Error>) -> (u16, String) {
    let e = match result {
        Ok(v) if v.is_match() => return (200, "核验一致".to_owned()),
        Ok(_) => return (200, "核验不一致".to_owned()),
        Err(e) => e,
    };
    let status = match e.class() {
        ErrorClass::Rejected => 400,
        ErrorClass::Api(code) if code.is_account_level() => 503,
        ErrorClass::Api(_) => 422,
        ErrorClass::Unbilled => 503,
        ErrorClass::Budget => 429,
        ErrorClass::Ambiguous => 504,
        ErrorClass::Config | ErrorClass::Cancelled => 500,
    };
    (status, e.message_zh())
}

#[tokio::test]
async fn every_class_gets_a_status_and_a_chinese_message() {
    let invalid = Client::builder()
        .api_key("k")
        .build_with_transport(|_req| async { Ok(answer::matched("JH1")) })
        .unwrap();
    let (status, message) = respond(&invalid.verify("110105199003071238", "13012345678").await);
    assert_eq!((status, message.as_str()), (400, "身份证号码校验位不正确"));
    let timed_out = Client::builder()
        .api_key("k")
        .build_with_transport(|_req| async { Err(answer::maybe_sent()) })
        .unwrap();
    let (status, message) = respond(&timed_out.verify(demo_pair().0, demo_pair().1).await);
    assert_eq!(status, 504);
    assert!(!message.is_empty() && !message.contains("13012345678"));
}

fn demo_pair() -> (&'static str, &'static str) {
    ("110105199003071239", "13012345678")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_bounds_the_whole_call_against_a_slow_sandbox() {
    use juhe_sandbox::{Fault, FaultPlan, Sandbox};
    let sandbox = Sandbox::builder()
        .faults(FaultPlan::new().then_times(Fault::HttpStatus(503), 5))
        .spawn()
        .await
        .unwrap();
    let client = Client::builder()
        .api_key(demo::API_KEY)
        .base_url(sandbox.base_url())
        .retry_policy(
            RetryPolicy::default()
                .with_max_retries(4)
                .with_base_delay(Duration::from_millis(600)),
        )
        .deadline(Duration::from_millis(900))
        .build()
        .unwrap();
    let started = Instant::now();
    let e = client
        .verify(demo_pair().0, demo_pair().1)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Deadline { .. }), "{e:?}");
    assert!(started.elapsed() < Duration::from_millis(900));
    assert_eq!(respond(&Err(e)).0, 503);
}

#[tokio::test]
async fn rsa_mode_with_a_mock_and_the_demo_key() {
    use juhe_2fa::mock::MockTransport;
    let mut transport = MockTransport::new();
    transport
        .expect_send()
        .times(1)
        .withf(|req| !req.body().is_empty())
        .returning(|_req| Ok(answer::matched("JH2")));
    let client = Client::builder()
        .api_key(demo::API_KEY)
        .mode(Mode::Rsa(
            RsaPublicKey::parse(demo::RSA_PUBLIC_KEY_PEM).unwrap(),
        ))
        .build_with_transport(transport)
        .unwrap();
    let v = client.verify(demo_pair().0, demo_pair().1).await.unwrap();
    assert_eq!(v.order_id, "JH2");
    assert_eq!(respond(&Ok(v)).0, 200);
}
