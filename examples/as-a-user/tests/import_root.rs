//! Ordinary user code, written against `juhe_2fa::` alone (this crate has no `http` or layer
//! crate of its own): both clients against the sandbox, every error class, a mockall mock and
//! closures with typed answers, typed key and proxy arguments.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use juhe_2fa::mock::{MockBlockingTransport, MockTransport};
use juhe_2fa::testing::answer;
use juhe_2fa::{
    BlockingClient, Client, ClientBuilder, Error, ErrorClass, ErrorCode, Field, HttpRequest,
    HttpResponse, IdCard, Mobile, Mode, Proxy, RetryPolicy, TransportError, ValidationError,
    Verdict, http,
};
use juhe_sandbox::{Sandbox, demo};

const ID: &str = "110105199003071239";
const MOBILE: &str = "13012345678";

#[tokio::test]
async fn async_and_blocking_clients_verify_against_the_sandbox() {
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    for mode in [Mode::Plain, Mode::rsa(demo::RSA_PUBLIC_KEY_PEM).unwrap()] {
        let builder = ClientBuilder::new()
            .api_key(demo::API_KEY)
            .base_url(sandbox.base_url())
            .mode(mode);
        let v = builder.clone().build().unwrap().verify(ID, MOBILE).await;
        assert_eq!(v.unwrap().verdict, Verdict::Match);
        let blocking = builder.build_blocking().unwrap();
        let (id, mobile) = demo::MISMATCH;
        let v = tokio::task::spawn_blocking(move || blocking.verify(id, mobile))
            .await
            .unwrap();
        assert_eq!(v.unwrap().verdict, Verdict::Mismatch);
    }
    assert_eq!(sandbox.stats().billed, 4);
    sandbox.shutdown().await;
}

/// A blocking client over a closure, no retries.
fn blocking_with(
    answer: impl Fn(HttpRequest) -> Result<HttpResponse, TransportError> + Send + Sync + 'static,
) -> BlockingClient {
    BlockingClient::builder()
        .api_key("k")
        .retry_policy(RetryPolicy::none())
        .build_blocking_with_transport(answer)
        .unwrap()
}

#[test]
fn every_error_class_is_told_apart() {
    let class = |r: Result<_, Error>| r.unwrap_err().class();

    let invalid =
        blocking_with(|_| Ok(answer::matched("JH1"))).verify("110105199003071238", MOBILE);
    let Err(Error::InvalidInput(e)) = &invalid else {
        panic!("{invalid:?}")
    };
    assert_eq!(e.field(), Field::IdCard);
    assert_eq!(class(invalid), ErrorClass::Rejected);

    let no_record = blocking_with(|_| Ok(answer::error(ErrorCode::NoRecord))).verify(ID, MOBILE);
    assert_eq!(class(no_record), ErrorClass::Api(ErrorCode::NoRecord));

    for unbilled in [
        blocking_with(|_| Err(answer::not_sent())).verify(ID, MOBILE),
        blocking_with(|_| Ok(answer::http_status(503))).verify(ID, MOBILE),
    ] {
        assert_eq!(class(unbilled), ErrorClass::Unbilled);
    }
    for ambiguous in [
        blocking_with(|_| Err(answer::maybe_sent())).verify(ID, MOBILE),
        blocking_with(|_| Ok(answer::http_status(502))).verify(ID, MOBILE),
    ] {
        assert_eq!(class(ambiguous), ErrorClass::Ambiguous);
    }

    let client = blocking_with(|_| Ok(answer::matched("JH1")));
    let (idcard, mobile) = (IdCard::parse(ID).unwrap(), Mobile::parse(MOBILE).unwrap());
    let cancelled = client.verify_with(&idcard, &mobile, |_attempt| Err("journal is full".into()));
    assert_eq!(class(cancelled), ErrorClass::Cancelled);

    let configs: [Result<(), Error>; 3] = [
        Mode::rsa("not a key").map(drop),
        Proxy::parse("ftp://proxy").map(drop).map_err(Error::from),
        ClientBuilder::new()
            .base_url("not a url")
            .build_blocking_with_transport(|_| Ok(answer::matched("JH1")))
            .map(drop),
    ];
    for config in configs {
        assert_eq!(config.unwrap_err().class(), ErrorClass::Config);
    }
}

#[test]
fn validation_errors_speak_english_and_chinese() {
    let e: ValidationError = IdCard::parse("110105199003071238").unwrap_err();
    assert!(e.message_zh().contains("身份证"), "{}", e.message_zh());
    assert!(!e.public_message().chars().any(|c| c.is_ascii_digit()));
}

#[tokio::test]
async fn a_mockall_mock_sees_the_request_and_returns_typed_answers() {
    let mut transport = MockTransport::new();
    transport
        .expect_send()
        .withf(|req: &HttpRequest| req.method() == http::Method::POST)
        .times(2)
        .returning({
            let calls = Arc::new(AtomicU32::new(0));
            move |_req| match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Ok(answer::http_status(503)), // not billed: retried
                _ => Ok(answer::mismatched("JH2")),
            }
        });
    let client = Client::builder()
        .api_key("k")
        .retry_policy(RetryPolicy::default().with_base_delay(std::time::Duration::ZERO))
        .build_with_transport(transport)
        .unwrap();
    let v = client.verify(ID, MOBILE).await.unwrap();
    assert_eq!(
        (v.verdict, v.order_id.as_str(), v.attempts),
        (Verdict::Mismatch, "JH2", 2)
    );
}

#[test]
fn a_blocking_mock_is_never_called_for_rejected_input() {
    let mut transport = MockBlockingTransport::new();
    transport.expect_send().times(0);
    let client = BlockingClient::builder()
        .api_key("k")
        .build_blocking_with_transport(transport)
        .unwrap();
    let e = client.verify(ID, "1301234567").unwrap_err();
    assert!(e.nothing_sent());
}
