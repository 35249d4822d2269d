//! Both backends against the sandbox and against misbehaving servers on loopback.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use juhe_sandbox::{Fault, FaultPlan, Sandbox, demo};
use juhe_transport::{
    BlockingTransport, HttpRequest, MaybeSentReason, NotSentReason, Proxy, ReqwestTransport,
    Transport, TransportConfig, TransportError, UreqTransport,
};

fn config() -> TransportConfig {
    TransportConfig::default()
        .with_timeout(Duration::from_millis(700))
        .with_connect_timeout(Duration::from_millis(500))
}

fn check_request(base: &str, get: bool) -> HttpRequest {
    let form = format!(
        "key={}&idcard={}&mobile={}",
        demo::API_KEY,
        demo::MATCH.0,
        demo::MATCH.1
    );
    if get {
        http::Request::get(format!("{base}/telecom2Cucc/query?{form}"))
            .body(Vec::new())
            .unwrap()
    } else {
        http::Request::post(format!("{base}/telecom2Cucc/query"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.into_bytes())
            .unwrap()
    }
}

/// Runs `f` with both backends: ureq directly, reqwest on a tokio runtime.
fn both(f: impl Fn(&dyn Fn(HttpRequest) -> Result<http::Response<Vec<u8>>, TransportError>)) {
    let ureq = UreqTransport::new(&config()).unwrap();
    f(&|r| ureq.send(r));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reqwest = rt
        .block_on(async { ReqwestTransport::new(&config()) })
        .unwrap();
    f(&|r| rt.block_on(Transport::send(&reqwest, r)));
}

#[test]
fn answers_come_back_whatever_their_status() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let base = sb.base_url();
    both(|send| {
        let ok = send(check_request(&base, false)).unwrap();
        assert_eq!(ok.status(), 200);
        assert!(String::from_utf8_lossy(ok.body()).contains("\"error_code\":0"));
        let get = send(check_request(&base, true)).unwrap();
        assert_eq!(get.status(), 200);
        let not_found = send(
            http::Request::get(format!("{base}/nope"))
                .body(Vec::new())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(not_found.status(), 404);
    });
    let ureq = UreqTransport::new(&config()).unwrap();
    let sb2 = Sandbox::builder()
        .faults(FaultPlan::new().then(Fault::Http500))
        .spawn_blocking()
        .unwrap();
    let html = ureq.send(check_request(&sb2.base_url(), false)).unwrap();
    assert_eq!(html.status(), 500);
    assert!(html.body().starts_with(b"<html>"));
}

#[test]
fn refused_connections_were_not_sent() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    both(|send| {
        let err = send(check_request(&format!("http://127.0.0.1:{port}"), false)).unwrap_err();
        assert!(!err.may_have_been_sent(), "{err:?}");
        assert!(
            matches!(
                err,
                TransportError::NotSent {
                    reason: NotSentReason::Connect,
                    ..
                }
            ),
            "{err:?}"
        );
    });
}

#[test]
fn dropped_connections_and_timeouts_may_have_been_sent() {
    let plan = FaultPlan::new()
        .then(Fault::Drop)
        .then(Fault::DelayMs(1500))
        .then(Fault::Drop)
        .then(Fault::DelayMs(1500));
    let sb = Sandbox::builder().faults(plan).spawn_blocking().unwrap();
    let base = sb.base_url();
    both(|send| {
        let dropped = send(check_request(&base, false)).unwrap_err();
        assert!(dropped.may_have_been_sent(), "{dropped:?}");
        let slow = send(check_request(&base, false)).unwrap_err();
        assert!(
            matches!(
                slow,
                TransportError::MaybeSent {
                    reason: MaybeSentReason::Timeout,
                    ..
                }
            ),
            "{slow:?}"
        );
    });
}

#[test]
fn errors_never_show_the_url_and_keep_their_source() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url =
        format!("http://127.0.0.1:{port}/telecom2Cucc/query?key=SECRET-KEY-123&idcard=1&mobile=2");
    both(|send| {
        let err = send(http::Request::get(&url).body(Vec::new()).unwrap()).unwrap_err();
        let mut chain = format!("{err} | {err:?}");
        let mut source = std::error::Error::source(&err);
        assert!(source.is_some(), "keeps the backend's error");
        while let Some(s) = source {
            chain.push_str(&format!(" | {s} | {s:?}"));
            source = s.source();
        }
        assert!(!chain.contains("SECRET-KEY-123"), "{chain}");
    });
}

#[test]
fn redirects_are_not_followed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(2) {
            let mut stream = stream.unwrap();
            read_request(&mut stream);
            let _ = stream.write_all(b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    both(|send| {
        let resp = send(check_request(&format!("http://{addr}"), false)).unwrap();
        assert_eq!(resp.status(), 302);
    });
}

#[test]
fn closures_and_mocks_are_transports() {
    use juhe_transport::mock::{MockBlockingTransport, MockTransport};
    let closure =
        |_r: HttpRequest| Ok::<_, TransportError>(http::Response::new(b"closure".to_vec()));
    assert_eq!(
        BlockingTransport::send(&closure, HttpRequest::default())
            .unwrap()
            .body(),
        b"closure"
    );

    let mut mock = MockBlockingTransport::new();
    mock.expect_send()
        .times(2)
        .returning(|r| Ok(http::Response::new(r.into_body())));
    let boxed: Box<dyn BlockingTransport> = Box::new(mock);
    assert_eq!(
        boxed
            .send(http::Request::new(b"echo".to_vec()))
            .unwrap()
            .body(),
        b"echo"
    );
    assert_eq!(
        boxed
            .send(http::Request::new(b"again".to_vec()))
            .unwrap()
            .body(),
        b"again"
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut mock = MockTransport::new();
    mock.expect_send()
        .returning(|_| Err(TransportError::not_sent(NotSentReason::Dns, None)));
    let boxed: Box<dyn Transport> = Box::new(mock);
    let err = rt.block_on(boxed.send(HttpRequest::default())).unwrap_err();
    assert!(!err.may_have_been_sent());
    let async_closure =
        |_r: HttpRequest| async { Ok::<_, TransportError>(http::Response::new(b"async".to_vec())) };
    assert_eq!(
        rt.block_on(Transport::send(&async_closure, HttpRequest::default()))
            .unwrap()
            .body(),
        b"async"
    );
}

#[test]
fn config_debug_hides_the_proxy() {
    let proxy = Proxy::parse("http://user:pass@127.0.0.1:3128").unwrap();
    let cfg = TransportConfig::default().with_proxy(Some(proxy));
    assert!(!format!("{cfg:?}").contains("pass"));
    assert!(UreqTransport::new(&cfg).is_ok());
    assert!(ReqwestTransport::new(&cfg).is_ok());
    assert!(matches!(
        Proxy::parse("::not a url::"),
        Err(TransportError::InvalidProxy { .. })
    ));
}

#[test]
fn requests_go_through_a_configured_proxy() {
    // A loopback "proxy" that answers itself: the target port is closed, so an answer proves
    // the request went to the proxy (in absolute form, as HTTP proxies receive it).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(2) {
            let mut stream = stream.unwrap();
            let mut request = read_request(&mut stream);
            let head = request.lines().next().unwrap_or_default().to_owned();
            if head.starts_with("CONNECT ") {
                // ureq tunnels through HTTP proxies: accept, then read the tunnelled request.
                let _ = stream.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                request = read_request(&mut stream);
            }
            log.lock().unwrap().push(head);
            assert!(request.contains("/telecom2Cucc/query"), "{request}");
            let body = r#"{"error_code":0,"reason":"ok","result":{"res":1,"orderid":"JH1"}}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("http://127.0.0.1:{closed}");
    let cfg = config().with_proxy(Some(proxy.parse().unwrap()));
    let ureq = UreqTransport::new(&cfg).unwrap();
    assert_eq!(
        ureq.send(check_request(&target, false)).unwrap().status(),
        200
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reqwest = rt.block_on(async { ReqwestTransport::new(&cfg) }).unwrap();
    assert_eq!(
        rt.block_on(Transport::send(&reqwest, check_request(&target, false)))
            .unwrap()
            .status(),
        200
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    for line in seen.iter() {
        assert!(
            line.starts_with(&format!("POST {target}/telecom2Cucc/query"))
                || line.starts_with(&format!("CONNECT 127.0.0.1:{closed}")),
            "{line}"
        );
    }
}

/// Reads one whole HTTP/1.1 request (headers and a Content-Length body), so that closing the
/// socket afterwards does not reset the connection under the client.
fn read_request(stream: &mut std::net::TcpStream) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&data).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0usize);
            if data.len() >= end + 4 + length {
                return text;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return text,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
}

/// ureq tunnels through an HTTP proxy with CONNECT before it writes any of the request: a
/// proxy that answers the CONNECT with something that is not HTTP, or resets it, fails the
/// connection, so the request was not sent (after a request, the same errors mean maybe sent).
#[test]
fn a_broken_connect_through_the_proxy_was_not_sent() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(2) {
            let mut stream = stream.unwrap();
            let head = read_request(&mut stream);
            assert!(head.starts_with("CONNECT "), "{head}");
            let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n");
        }
    });
    let cfg = config().with_proxy(Some(proxy.parse().unwrap()));
    let ureq = UreqTransport::new(&cfg).unwrap();
    for base in ["https://localhost:9", "http://127.0.0.1:9"] {
        let err = ureq.send(check_request(base, false)).unwrap_err();
        assert!(
            matches!(
                err,
                TransportError::NotSent {
                    reason: NotSentReason::Connect,
                    ..
                }
            ),
            "{base}: {err:?}"
        );
    }
}

/// An extra root that is no certificate (PEM armour around other bytes, or only a key) is
/// refused when either backend is built, not later when one connects.
#[test]
fn both_backends_refuse_a_root_that_is_no_certificate() {
    let junk = "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n";
    let key = "-----BEGIN PRIVATE KEY-----\nAAAAAAAA\n-----END PRIVATE KEY-----\n";
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for pem in [junk, key] {
        let cfg = config().with_root_certificate(pem);
        let setup = |e: TransportError| {
            matches!(
                e,
                TransportError::NotSent {
                    reason: NotSentReason::Setup,
                    ..
                }
            )
        };
        assert!(setup(UreqTransport::new(&cfg).unwrap_err()), "{pem}");
        let reqwest = rt.block_on(async { ReqwestTransport::new(&cfg) });
        assert!(setup(reqwest.unwrap_err()), "{pem}");
    }
}

#[test]
fn timeouts_past_the_clocks_range_mean_never_not_a_panic() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let endless = TransportConfig::default()
        .with_timeout(Duration::MAX)
        .with_connect_timeout(Duration::MAX)
        .with_idle_timeout(Duration::MAX);
    let ureq = UreqTransport::new(&endless).unwrap();
    let answer = ureq.send(check_request(&sb.base_url(), false)).unwrap();
    assert_eq!(answer.status(), 200);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reqwest = rt
        .block_on(async { ReqwestTransport::new(&endless) })
        .unwrap();
    let answer = rt
        .block_on(Transport::send(
            &reqwest,
            check_request(&sb.base_url(), false),
        ))
        .unwrap();
    assert_eq!(answer.status(), 200);
}
