//! The API key never reaches a URL (POST), a `Debug`, an error or a log; numbers are masked.

use std::io::Write;
use std::sync::{Arc, Mutex};

use juhe_2fa::{
    ClientBuilder, Error, HttpRequest, HttpResponse, Method, Mode, RetryPolicy, TransportError,
    layers::transport::{MaybeSentReason, NotSentReason},
};
use juhe_sandbox::demo;

const KEY: &str = "K3Y-s3cr3t-7f9a2b";
const ID: &str = "110105199003071239";
const MOBILE: &str = "13012345678";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn answer(body: &str) -> Result<HttpResponse, TransportError> {
    Ok(http::Response::new(body.as_bytes().to_vec()))
}

fn builder() -> ClientBuilder {
    ClientBuilder::new()
        .api_key(KEY)
        .base_url("http://127.0.0.1:9")
        .retry_policy(RetryPolicy::default().with_base_delay(std::time::Duration::from_millis(1)))
}

fn assert_clean(text: &str) {
    assert!(!text.contains(KEY), "API key leaked: {text}");
    assert!(!text.contains(ID), "ID number leaked: {text}");
    assert!(!text.contains(MOBILE), "mobile number leaked: {text}");
}

#[test]
fn post_keeps_the_key_out_of_the_url() {
    let seen: Arc<Mutex<Vec<HttpRequest>>> = Arc::default();
    let log = seen.clone();
    let transport = move |req: HttpRequest| {
        log.lock().unwrap().push(req);
        answer(r#"{"reason":"成功","result":{"res":1,"orderid":"JH1"},"error_code":0}"#)
    };
    let client = builder().build_blocking_with_transport(transport).unwrap();
    client.verify(ID, MOBILE).unwrap();
    let requests = seen.lock().unwrap();
    let req = &requests[0];
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(req.uri(), "http://127.0.0.1:9/telecom2Cucc/query");
    assert_eq!(
        req.headers()["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_clean(&req.uri().to_string());
    let body = String::from_utf8(req.body().clone()).unwrap();
    assert_eq!(body, format!("key={KEY}&idcard={ID}&mobile={MOBILE}"));
}

#[test]
fn get_puts_the_key_in_the_url_as_documented() {
    let seen: Arc<Mutex<Option<String>>> = Arc::default();
    let log = seen.clone();
    let transport = move |req: HttpRequest| {
        *log.lock().unwrap() = Some(req.uri().to_string());
        answer(r#"{"reason":"成功","result":{"res":2,"orderid":"JH1"},"error_code":0}"#)
    };
    let client = builder()
        .method(Method::Get)
        .build_blocking_with_transport(transport)
        .unwrap();
    client.verify(ID, MOBILE).unwrap();
    assert!(seen.lock().unwrap().as_deref().unwrap().contains(KEY));
}

#[test]
fn debug_of_public_types_is_clean() {
    let rsa = Mode::rsa(demo::RSA_PUBLIC_KEY_PEM).unwrap();
    let aes = Mode::Aes(juhe_2fa::AesConfig::new("AESKEY0123456789").unwrap());
    let openid = Mode::aes_openid("JHopenid-secret-4242").unwrap();
    assert!(!format!("{openid:?}").contains("4242"), "{openid:?}");
    let b = builder()
        .mode(aes.clone())
        .proxy("http://user:proxypass@127.0.0.1:1".parse().unwrap());
    let blocking = b.clone().build_blocking().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = rt.block_on(async { b.clone().build() }).unwrap();
    let shown = format!(
        "{b:?} {blocking:?} {client:?} {rsa:?} {aes:?} {:?}",
        juhe_2fa::ApiKey::new(KEY)
    );
    assert_clean(&shown);
    assert!(!shown.contains("AESKEY"));
    assert!(!shown.contains("proxypass"));
    assert!(!shown.contains("MII"), "no key material");
}

#[test]
fn errors_are_clean() {
    let errors: Vec<Error> = vec![
        builder()
            .build_blocking()
            .unwrap()
            .verify("11010519900307123X", MOBILE)
            .unwrap_err(),
        builder()
            .build_blocking()
            .unwrap()
            .verify(ID, "1301234567")
            .unwrap_err(),
        builder()
            .carrier_policy(juhe_2fa::CarrierPolicy::Refuse)
            .build_blocking()
            .unwrap()
            .verify(ID, "13800138000")
            .unwrap_err(),
        builder()
            .build_blocking_with_transport(|_| answer("<html>oops</html>"))
            .unwrap()
            .verify(ID, MOBILE)
            .unwrap_err(),
        builder()
            .build_blocking_with_transport(|_| {
                answer(r#"{"error_code":10001,"reason":"错误的请求KEY","result":null}"#)
            })
            .unwrap()
            .verify(ID, MOBILE)
            .unwrap_err(),
        builder()
            .build_blocking_with_transport(|_| {
                Err(TransportError::maybe_sent(MaybeSentReason::Timeout, None))
            })
            .unwrap()
            .verify(ID, MOBILE)
            .unwrap_err(),
        ClientBuilder::new().build_blocking().unwrap_err(),
        builder()
            .base_url(format!("http://x/?key={KEY}"))
            .build_blocking()
            .unwrap_err(),
        // A real transport failure with the key in a GET URL.
        builder()
            .method(Method::Get)
            .build_blocking()
            .unwrap()
            .verify(ID, MOBILE)
            .unwrap_err(),
    ];
    for e in &errors {
        let mut text = format!("{e} {e:?}");
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(&format!(" {s} {s:?}"));
            source = s.source();
        }
        assert_clean(&text);
    }
}

#[test]
fn tracing_output_is_masked() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        // Other tests on other threads may have cached "no interest" for these callsites.
        tracing::callsite::rebuild_interest_cache();
        let mut calls = 0;
        let flaky = std::sync::Mutex::new(0);
        let transport = move |_req: HttpRequest| {
            let mut n = flaky.lock().unwrap();
            *n += 1;
            if *n == 1 {
                Err(TransportError::not_sent(NotSentReason::Connect, None))
            } else {
                answer(r#"{"reason":"成功","result":{"res":1,"orderid":"JH42"},"error_code":0}"#)
            }
        };
        let client = builder()
            .method(Method::Get)
            .build_blocking_with_transport(transport)
            .unwrap();
        let v = client.verify(ID, MOBILE).unwrap();
        calls += v.attempts;
        assert_eq!(calls, 2);
        let _ = client.verify(ID, "13800138000");
    });
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("110105********1239"), "{text}");
    assert!(text.contains("130****5678"), "{text}");
    assert!(text.contains("JH42"), "order ids are logged");
    assert!(text.contains("retrying"));
    assert_clean(&text);
}

/// A key that form- and percent-encoding change.
const ODD_KEY: &str = "K3Y&s3cr=t+7f/9a";
const ODD_KEY_ENCODED: &str = "K3Y%26s3cr%3Dt%2B7f%2F9a";

/// What a request carried, as a middlebox would quote it: the form body, or the GET URL.
fn quoted(req: &HttpRequest) -> String {
    let body = String::from_utf8_lossy(req.body()).into_owned();
    format!("{} {body}", req.uri())
}

/// Runs `verify` at TRACE with a transport answering `respond(request)`; returns the error
/// with everything it shows, and the log.
fn echoed(
    method: Method,
    respond: impl Fn(&HttpRequest) -> String + Send + Sync + 'static,
) -> (Error, String, String) {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let error = tracing::subscriber::with_default(subscriber, || {
        tracing::callsite::rebuild_interest_cache();
        builder()
            .api_key(ODD_KEY)
            .method(method)
            .build_blocking_with_transport(move |req: HttpRequest| answer(&respond(&req)))
            .unwrap()
            .verify(ID, MOBILE)
            .unwrap_err()
    });
    let mut shown = format!("{error} {error:?}");
    let mut source = std::error::Error::source(&error);
    while let Some(s) = source {
        shown.push_str(&format!(" {s} {s:?}"));
        source = s.source();
    }
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    (error, shown, log)
}

fn assert_no_echo(what: &str, text: &str) {
    for secret in [ODD_KEY, ODD_KEY_ENCODED, ID, MOBILE] {
        assert!(!text.contains(secret), "{what} shows {secret}: {text}");
    }
}

/// A middlebox answering in the vendor's JSON shape, echoing the request into `reason`: the
/// error keeps the code and the text, never the key (raw or encoded) or a number.
#[test]
fn an_echo_in_the_vendors_shape_is_masked() {
    for method in [Method::Post, Method::Get] {
        let (error, shown, log) = echoed(method, |req| {
            let reason = format!("echo {}", quoted(req));
            serde_json::json!({"reason": reason, "error_code": 232904, "result": null}).to_string()
        });
        match &error {
            Error::Api { reason, .. } => assert!(reason.starts_with("echo http"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(error.error_code().map(|c| c.code()), Some(232904));
        assert_no_echo("the error", &shown);
        assert_no_echo("the log", &log);
    }
}

/// An order id that echoes the request (or is not shaped like one) is a decode error, maybe
/// billed (HTTP 200), never a verification whose order id would be stored.
#[test]
fn an_echo_in_the_order_id_is_a_maybe_billed_decode_error() {
    let echoes: [fn(&HttpRequest) -> serde_json::Value; 3] = [
        |req| serde_json::json!(quoted(req)),
        |_| serde_json::json!(MOBILE),
        |_| serde_json::json!(ID),
    ];
    for echo in echoes {
        let (error, shown, log) = echoed(Method::Post, move |req| {
            serde_json::json!({"reason": "成功", "error_code": 0,
                "result": {"res": 1, "orderid": echo(req)}})
            .to_string()
        });
        assert!(
            matches!(&error, Error::Decode(d) if d.status == 200),
            "{error:?}"
        );
        assert!(error.is_ambiguous());
        assert_no_echo("the error", &shown);
        assert_no_echo("the log", &log);
    }
}

/// An unknown `res` or a field of the wrong type: the error names no value of the response.
#[test]
fn a_garbled_answer_quotes_nothing_of_it() {
    let bodies: [fn(&HttpRequest) -> String; 3] = [
        |_| format!(r#"{{"error_code":0,"result":{{"res":"{MOBILE}","orderid":"JH1"}}}}"#),
        |_| format!(r#"{{"error_code":0,"result":"{ODD_KEY}"}}"#),
        |req| {
            format!(
                r#"{{"error_code":0,"result":{{"res":1,"orderid":["{}"]}}}}"#,
                quoted(req)
            )
        },
    ];
    for body in bodies {
        let (error, shown, log) = echoed(Method::Get, body);
        assert!(matches!(error, Error::Decode(_)), "{error:?}");
        assert_no_echo("the error", &shown);
        assert_no_echo("the log", &log);
    }
}

/// A captive portal quoting the request in HTML: the debug excerpt masks the key in the
/// percent-encoded form the request carried it in.
#[test]
fn the_debug_excerpt_masks_the_key_percent_encoded() {
    for method in [Method::Post, Method::Get] {
        let (error, _, log) = echoed(method, |req| format!("<pre>{}</pre>", quoted(req)));
        assert!(matches!(error, Error::Decode(_)), "{error:?}");
        assert_no_echo("the log", &log);
        assert!(log.contains("undecodable answer"), "{log}");
        assert!(log.contains("[redacted]"), "{log}");
    }
}
