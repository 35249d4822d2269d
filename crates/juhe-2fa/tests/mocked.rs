//! Unit tests with mockall mocks and closures: no server.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use juhe_2fa::layers::transport::NotSentReason;
use juhe_2fa::mock::{MockBlockingTransport, MockTransport};
use juhe_2fa::{ClientBuilder, Error, ErrorCode, RetryPolicy, TransportError, Verdict};

const OK: &str = r#"{"reason":"成功","result":{"res":1,"orderid":"JH7"},"error_code":0}"#;

fn builder() -> ClientBuilder {
    ClientBuilder::new()
        .api_key("k")
        .base_url("http://127.0.0.1:9")
        .retry_policy(RetryPolicy::default().with_base_delay(Duration::from_millis(1)))
}

fn response(status: u16, body: &str) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .unwrap()
}

#[test]
fn invalid_input_never_reaches_the_transport() {
    let mut mock = MockBlockingTransport::new();
    mock.expect_send().times(0);
    let client = builder().build_blocking_with_transport(mock).unwrap();
    assert!(matches!(
        client.verify("1", "13012345678"),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        client.verify("110105199003071239", "abc"),
        Err(Error::InvalidInput(_))
    ));
}

#[test]
fn not_sent_failures_are_retried_then_reported() {
    let mut mock = MockBlockingTransport::new();
    mock.expect_send()
        .times(3)
        .returning(|_| Err(TransportError::not_sent(NotSentReason::Connect, None)));
    let client = builder().build_blocking_with_transport(mock).unwrap();
    let e = client
        .verify("110105199003071239", "13012345678")
        .unwrap_err();
    assert!(matches!(e, Error::Transport(_)));
    assert!(e.nothing_sent());
}

#[test]
fn http_503_is_retried_and_success_counts_attempts() {
    let calls = AtomicU32::new(0);
    let transport = move |_req: juhe_2fa::HttpRequest| {
        Ok(if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            response(503, "<html>service unavailable</html>")
        } else {
            response(200, OK)
        })
    };
    let v = builder()
        .build_blocking_with_transport(transport)
        .unwrap()
        .verify("110105199003071239", "13012345678")
        .unwrap();
    assert_eq!(v.attempts, 2);
    assert_eq!(v.order_id, "JH7");
}

#[test]
fn gateway_errors_may_have_been_billed_and_are_not_retried() {
    for status in [502, 504] {
        let calls = std::sync::Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let transport = move |_req: juhe_2fa::HttpRequest| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(response(status, "<html>gateway</html>"))
        };
        let e = builder()
            .build_blocking_with_transport(transport)
            .unwrap()
            .verify("110105199003071239", "13012345678")
            .unwrap_err();
        assert_eq!(e.class(), juhe_2fa::ErrorClass::Ambiguous, "{status}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{status} is not retried");
    }
}

#[test]
fn the_policy_bounds_retries() {
    let mut mock = MockBlockingTransport::new();
    mock.expect_send().times(5).returning(|_| {
        Ok(response(
            200,
            r#"{"error_code":232906,"reason":"查询失败","result":null}"#,
        ))
    });
    let client = builder()
        .retry_policy(
            RetryPolicy::default()
                .with_max_retries(4)
                .with_base_delay(Duration::from_millis(1)),
        )
        .build_blocking_with_transport(mock)
        .unwrap();
    assert_eq!(
        client
            .verify("110105199003071239", "13012345678")
            .unwrap_err()
            .error_code(),
        Some(ErrorCode::QueryFailed)
    );
}

#[tokio::test]
async fn async_client_with_mock() {
    let mut mock = MockTransport::new();
    mock.expect_send().times(1).returning(|req| {
        assert_eq!(req.uri().path(), "/telecom2Cucc/query");
        Ok(response(200, OK))
    });
    let client = builder().build_with_transport(mock).unwrap();
    assert_eq!(
        client
            .verify("110105199003071239", "13012345678")
            .await
            .unwrap()
            .verdict,
        Verdict::Match
    );
}

/// Connections of your own transport are yours to share: a client over one cannot make
/// itself a new pool.
#[test]
fn a_client_over_your_own_transport_cannot_open_its_own_connections() {
    let client = builder()
        .build_with_transport(MockTransport::new())
        .unwrap();
    let e = client.with_own_connections().unwrap_err();
    assert!(matches!(e, juhe_2fa::Error::Config { .. }), "{e:?}");
    assert!(e.to_string().contains("your own transport"), "{e}");
}

#[tokio::test]
async fn async_closure_transport() {
    let transport = |_req: juhe_2fa::HttpRequest| async {
        Ok::<_, TransportError>(response(
            200,
            r#"{"error_code":0,"result":{"res":"2","orderid":"JH9"}}"#,
        ))
    };
    let client = builder().build_with_transport(transport).unwrap();
    let v = client
        .verify("110105199003071239", "13012345678")
        .await
        .unwrap();
    assert_eq!(v.verdict, Verdict::Mismatch);
}
