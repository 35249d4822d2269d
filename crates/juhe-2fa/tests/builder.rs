//! What `build` refuses, so that it never fails later on the first call, and what the
//! builder's `Debug` shows of a base URL.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use juhe_2fa::layers::transport::NotSentReason;
use juhe_2fa::{ClientBuilder, Error, ErrorClass, HttpRequest, TransportError};

fn builder(url: &str) -> ClientBuilder {
    ClientBuilder::new().api_key("k").base_url(url)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Ports outside 1..=65535 and hosts the HTTP stack cannot send to are configuration errors at
/// build, for every way of building, never a retried "not sent" on the first call.
#[test]
fn a_base_url_that_cannot_be_sent_to_fails_at_build() {
    let rt = rt();
    for url in [
        "http://127.0.0.1:99999",
        "http://127.0.0.1:65536",
        "http://127.0.0.1:0",
        "http://127.0.0.1:",
        "https://[::1]:123456/",
    ] {
        let blocking = builder(url).build_blocking().unwrap_err();
        assert_eq!(blocking.class(), ErrorClass::Config, "{url}: {blocking}");
        let custom = builder(url)
            .build_blocking_with_transport(|_| -> Result<_, TransportError> {
                unreachable!("nothing is sent")
            })
            .unwrap_err();
        assert_eq!(custom.class(), ErrorClass::Config, "{url}: {custom}");
        let built = rt.block_on(async { builder(url).build() });
        assert!(
            matches!(&built, Err(e) if e.class() == ErrorClass::Config),
            "{url}: {:?}",
            built.err()
        );
    }
    // reqwest parses URLs by WHATWG rules: a host ending in a number is an IPv4 address.
    let refused = rt.block_on(async { builder("http://1.2.3.4.5").build() });
    assert!(matches!(refused, Err(e) if e.class() == ErrorClass::Config));
    for url in [
        "http://127.0.0.1:65535",
        "http://127.0.0.1:1/",
        "http://[::1]:8080",
        "https://apis.juhe.cn",
        "http://localhost/prefix/",
    ] {
        builder(url).build_blocking().unwrap();
        rt.block_on(async { builder(url).build() }).unwrap();
    }
}

/// A request a transport reports as invalid (never sent) is a configuration error: tried once,
/// not retried as if the network had failed.
#[test]
fn an_invalid_request_is_config_and_not_retried() {
    let sends = Arc::new(AtomicU32::new(0));
    let counter = sends.clone();
    let client = builder("http://127.0.0.1:9")
        .build_blocking_with_transport(move |_: HttpRequest| {
            counter.fetch_add(1, Ordering::SeqCst);
            Err(TransportError::not_sent(
                NotSentReason::InvalidRequest,
                None,
            ))
        })
        .unwrap();
    let e = client
        .verify("110105199003071239", "13012345678")
        .unwrap_err();
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    assert_eq!(e.class(), ErrorClass::Config);
    assert!(!e.is_retryable() && e.nothing_sent());
    assert_eq!(sends.load(Ordering::SeqCst), 1);
}

/// `Debug` shows where the builder points, never a password, user or query in the base URL.
#[test]
fn debug_hides_the_base_urls_credentials_and_query() {
    let shown = format!(
        "{:?}",
        builder("https://alice:hunter2@gw.corp:8443/juhe?key=K3Y#frag")
    );
    for secret in ["hunter2", "alice", "K3Y", "frag"] {
        assert!(!shown.contains(secret), "{secret}: {shown}");
    }
    assert!(
        shown.contains("https://[redacted]@gw.corp:8443/juhe"),
        "{shown}"
    );
    let odd = format!("{:?}", builder("http://bob:p/w?d#x@10.0.0.1:8080"));
    assert!(odd.contains("\"http://[redacted]@10.0.0.1:8080\""), "{odd}");
    let plain = format!("{:?}", builder("http://127.0.0.1:8080"));
    assert!(plain.contains("\"http://127.0.0.1:8080\""), "{plain}");
}
