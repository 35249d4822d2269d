//! `juhe-2fa serve` driven as an outside client would misuse it: ambiguous credentials, a
//! callers file with a mistake in it, a TLS key that is not there, and the OpenAPI document
//! against what `/v1/check` can answer.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::bin;
use common::gateway::{callers_file, gateway, get, pair_body, post, sandbox, sandbox_stats};

/// One request written by hand (so a header can be repeated), the whole answer read.
fn raw(url: &str, request: &str) -> String {
    let addr = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// Two `Authorization` headers are ambiguous (a proxy adding its own, a smuggled second
/// credential): the request is refused whichever comes first, and nothing is sent.
#[test]
fn two_authorization_headers_are_refused_whichever_comes_first() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox(&["--default-verdict", "match"]);
    let good = "good-token";
    let config = callers_file(dir.path(), &[("ops", good, "")]);
    let gw = gateway(&sb.url, &config, &[]);
    let body = pair_body("110105199003071239", "13012345678", None);
    for (first, second) in [(good, "other"), ("other", good), (good, good)] {
        let request = format!(
            "POST /v1/verify HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {first}\r\n\
             Authorization: Bearer {second}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let answer = raw(&gw.url, &request);
        assert!(
            answer.starts_with("HTTP/1.1 401 "),
            "{first} then {second}: {answer}"
        );
        assert!(answer.contains("\"class\":\"unauthorized\""), "{answer}");
    }
    assert_eq!(sandbox_stats(&sb.url)["requests"].as_u64(), Some(0));
    // One header with the same token is fine.
    let a = post(&gw.url, "/v1/verify", Some(good), &body);
    assert_eq!(a.status, 200, "{}", a.body);
}

/// A mistake in the callers file is reported with its line, so the operator can find it.
#[test]
fn a_callers_file_error_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    let digest = "0".repeat(64);
    std::fs::write(
        &path,
        format!("[[caller]]\nname = \"a\"\ntoken_sha256 = \"{digest}\"\nqps = \"ten\"\n"),
    )
    .unwrap();
    let out = bin()
        .args(["--base-url", "http://127.0.0.1:9", "--key", "k"])
        .args(["serve", "--config", path.to_str().unwrap()])
        .args(["--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line 4"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A TLS key file that does not exist says so, not that its content is wrong.
#[test]
fn a_missing_tls_file_says_it_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let config = callers_file(dir.path(), &[("ops", "t", "")]);
    let missing = dir.path().join("absent.pem");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let cert_file = dir.path().join("cert.pem");
    std::fs::write(&cert_file, cert.pem()).unwrap();
    for (cert, key) in [(&missing, &cert_file), (&cert_file, &missing)] {
        let out = bin()
            .args(["--base-url", "http://127.0.0.1:9", "--key", "k"])
            .args(["serve", "--config", config.to_str().unwrap()])
            .args(["--addr", "127.0.0.1:0", "--tls-cert"])
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("No such file"), "{stderr}");
    }
}

/// `/v1/check` never asks for a purpose (it sends nothing): its documented answers are the
/// ones it can give, and a caller limited to some purposes can validate without one.
#[test]
fn check_documents_only_what_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox(&[]);
    let config = callers_file(dir.path(), &[("kyc", "kyc-token", "purposes = [\"kyc\"]")]);
    let gw = gateway(&sb.url, &config, &[]);
    let body = pair_body("110105199003071239", "13012345678", Some("other"));
    assert_eq!(
        post(&gw.url, "/v1/check", Some("kyc-token"), &body).status,
        200
    );
    assert_eq!(
        post(&gw.url, "/v1/verify", Some("kyc-token"), &body).status,
        403
    );
    let doc = get(&gw.url, "/openapi.json").json();
    let check = &doc["paths"]["/v1/check"]["post"]["responses"];
    assert!(check.get("200").is_some() && check.get("401").is_some());
    assert!(check.get("403").is_none(), "{check}");
    assert!(
        doc["paths"]["/v1/verify"]["post"]["responses"]
            .get("403")
            .is_some()
    );
}

/// A purpose is recorded in the ledger and printed by `ledger find`: one with control
/// characters (a newline that forges a line, a terminal escape) is refused, nothing sent.
#[test]
fn a_purpose_with_control_characters_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox(&["--default-verdict", "match"]);
    let config = callers_file(dir.path(), &[("ops", "ops-token", "")]);
    let gw = gateway(&sb.url, &config, &[]);
    let (idcard, mobile) = ("110105199003071239", "13012345678");
    for purpose in [
        "kyc\n2026-01-01 other kyc",
        "\u{1b}[2Jkyc",
        "a\u{0}b",
        "kyc\u{85}",
    ] {
        for path in ["/v1/verify", "/v1/check"] {
            let a = post(
                &gw.url,
                path,
                Some("ops-token"),
                &pair_body(idcard, mobile, Some(purpose)),
            );
            assert_eq!(a.status, 400, "{path} {purpose:?}: {}", a.body);
            assert_eq!(a.json()["error"]["class"], "invalid_request", "{}", a.body);
        }
    }
    assert_eq!(sandbox_stats(&sb.url)["requests"].as_u64(), Some(0));
    let a = post(
        &gw.url,
        "/v1/verify",
        Some("ops-token"),
        &pair_body(idcard, mobile, Some("开户 KYC (account opening)")),
    );
    assert_eq!(a.status, 200, "{}", a.body);
}

/// A caller's budget spent across two replicas on one Redis stays spent when Redis goes down:
/// each replica's fallback starts from what the fleet had counted, not from zero.
#[test]
fn a_spent_caller_budget_stays_spent_when_redis_goes_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = juhe_sandbox::RedisServer::start().unwrap();
    let sb = sandbox(&["--default-verdict", "match"]);
    let config = callers_file(dir.path(), &[("ops", "ops-token", "budget = [\"2/day\"]")]);
    let redis_url = redis.url();
    let global = ["--redis", redis_url.as_str()];
    let replicas = [
        gateway(&sb.url, &config, &global),
        gateway(&sb.url, &config, &global),
    ];
    let pairs = common::pairs(12);
    let mut next = pairs.iter();
    let mut send = |url: &str| {
        let (idcard, mobile) = next.next().unwrap();
        post(
            url,
            "/v1/verify",
            Some("ops-token"),
            &pair_body(idcard, mobile, None),
        )
        .status
    };
    // Both replicas spend and then see the budget spent in Redis.
    let before: Vec<u16> = (0..6).map(|i| send(&replicas[i % 2].url)).collect();
    assert_eq!(
        before.iter().filter(|s| **s == 200).count(),
        2,
        "{before:?}"
    );
    redis.stop();
    let after: Vec<u16> = (0..6).map(|i| send(&replicas[i % 2].url)).collect();
    assert!(after.iter().all(|s| *s == 429), "{after:?}");
    assert_eq!(sandbox_stats(&sb.url)["billed"].as_u64(), Some(2));
}

/// Four workers, each with its own connections to the API, share one caller's budget: twelve
/// concurrent requests on their own connections bill three, the rest get 429. `--workers 0`
/// is refused.
#[test]
fn workers_share_a_callers_budget() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox(&["--default-verdict", "match"]);
    let config = callers_file(dir.path(), &[("ops", "ops-token", "budget = [\"3/day\"]")]);
    let gw = common::gateway::gateway_with(&sb.url, &config, &[], &["--workers", "4"]);
    let pairs = common::pairs(12);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let sent: Vec<_> = pairs
            .iter()
            .map(|(idcard, mobile)| {
                let body = pair_body(idcard, mobile, None);
                let url = &gw.url;
                s.spawn(move || post(url, "/v1/verify", Some("ops-token"), &body).status)
            })
            .collect();
        sent.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        9,
        "{statuses:?}"
    );
    assert_eq!(sandbox_stats(&sb.url)["billed"].as_u64(), Some(3));

    let refused = bin()
        .args([
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--workers",
            "0",
        ])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--workers"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
