//! The gateway in operation: two replicas on one Redis, SIGTERM during a slow vendor answer,
//! floods of slow and idle connections, readiness, secrets at `-vv`, fresh tokens, TLS.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::gateway::{callers_file, gateway, get, pair_body, post, sandbox, sandbox_stats};
use juhe_sandbox::{RedisServer, demo};

const TOKEN: &str = "ops-token";

fn one_caller(dir: &std::path::Path) -> std::path::PathBuf {
    callers_file(dir, &[("ops", TOKEN, "")])
}

fn addr_of(url: &str) -> SocketAddr {
    url.trim_start_matches("http://").parse().unwrap()
}

/// Two gateway replicas on one Redis: 10 concurrent identical requests split across them are
/// sent and billed once, and all get the same order id.
#[test]
fn two_replicas_on_one_redis_bill_ten_identical_requests_once() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start().unwrap();
    let (idcard, mobile) = demo::MATCH;
    // The first answer is slow, so all ten are in flight at once.
    let faults = dir.path().join("faults.toml");
    std::fs::write(&faults, "sequence = [{ delay_ms = 1500 }]\n").unwrap();
    let sb = sandbox(&["--faults", faults.to_str().unwrap()]);
    let config = one_caller(dir.path());
    let redis_url = redis.url();
    let global = ["--redis", redis_url.as_str(), "--qps", "50"];
    let replicas = [
        gateway(&sb.url, &config, &global),
        gateway(&sb.url, &config, &global),
    ];
    let urls: Vec<String> = replicas.iter().map(|r| r.url.clone()).collect();
    let answers: Vec<_> = (0..10)
        .map(|i| {
            let url = urls[i % 2].clone();
            std::thread::spawn(move || {
                post(
                    &url,
                    "/v1/verify",
                    Some(TOKEN),
                    &pair_body(idcard, mobile, None),
                )
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let orders: Vec<String> = answers
        .iter()
        .map(|a| {
            assert_eq!(a.status, 200, "{}", a.body);
            a.json()["order_id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert!(orders.iter().all(|o| *o == orders[0]), "{orders:?}");
    let billed = answers
        .iter()
        .filter(|a| a.json()["billed"] == true)
        .count();
    assert_eq!(billed, 1, "exactly one answer is the billed one");
    let stats = sandbox_stats(&sb.url);
    assert_eq!(
        (stats["billed"].as_u64(), stats["requests"].as_u64()),
        (Some(1), Some(1))
    );
    // Both replicas are ready (Redis answers).
    for url in &urls {
        assert_eq!(get(url, "/readyz").status, 200);
    }
}

/// SIGTERM while a check waits for a slow vendor answer: that request still gets its 200,
/// new connections are refused, and the process exits 0.
#[test]
fn sigterm_during_a_slow_answer_finishes_it_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let faults = dir.path().join("faults.toml");
    std::fs::write(&faults, "sequence = [{ delay_ms = 2500 }]\n").unwrap();
    let sb = sandbox(&["--faults", faults.to_str().unwrap()]);
    let mut gw = gateway(&sb.url, &one_caller(dir.path()), &[]);
    let url = gw.url.clone();
    let (idcard, mobile) = demo::MATCH;
    let slow = std::thread::spawn(move || {
        post(
            &url,
            "/v1/verify",
            Some(TOKEN),
            &pair_body(idcard, mobile, None),
        )
    });
    // The request is with the sandbox (its delay runs) before the signal.
    let started = Instant::now();
    while sandbox_stats(&sb.url)["requests"].as_u64() != Some(1) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the check never left"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    gw.terminate();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        TcpStream::connect_timeout(&addr_of(&gw.url), Duration::from_secs(1)).is_err(),
        "no new connection is accepted after SIGTERM"
    );
    let answer = slow.join().unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["verdict"], "match");
    assert_eq!(gw.wait(30), 0, "{}", gw.output());
    assert!(gw.output().contains("stopped"));
}

/// One connection that sends complete headers announcing a 4,000-byte body, then one byte.
fn slow_body(addr: SocketAddr) -> Option<TcpStream> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_write_timeout(Some(Duration::from_millis(200))).ok()?;
    s.write_all(
        format!(
            "POST /v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n{{"
        )
        .as_bytes(),
    )
    .ok()?;
    s.set_nonblocking(true).ok()?;
    Some(s)
}

/// Keeps `n` connections open (slow bodies, or idle when `idle`), reopening those the server
/// closes, until `stop`.
fn flood(addr: SocketAddr, n: usize, idle: bool, stop: &AtomicBool, open: &AtomicUsize) {
    let connect = || match idle {
        true => TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok(),
        false => slow_body(addr),
    };
    let mut conns: Vec<Option<TcpStream>> = (0..n).map(|_| connect()).collect();
    open.fetch_add(conns.iter().flatten().count(), Ordering::Relaxed);
    while !stop.load(Ordering::Relaxed) {
        for slot in &mut conns {
            let mut probe = [0u8; 1];
            let closed = match slot {
                Some(s) => {
                    let _ = s.set_nonblocking(true);
                    !matches!(s.peek(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
                }
                None => true,
            };
            if closed {
                *slot = connect();
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// 2,000 connections (past the cap of 1,024), half trickling bodies, half idle, reopened as
/// soon as they are closed: normal requests made all through are answered within 3 s.
#[test]
fn slow_body_and_2000_connection_floods_do_not_stop_a_normal_request() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox(&[]);
    let gw = gateway(&sb.url, &one_caller(dir.path()), &[]);
    let addr = addr_of(&gw.url);
    let stop = Arc::new(AtomicBool::new(false));
    let open = Arc::new(AtomicUsize::new(0));
    let floods: Vec<_> = [false, true]
        .into_iter()
        .map(|idle| {
            let (stop, open) = (stop.clone(), open.clone());
            std::thread::spawn(move || flood(addr, 1_000, idle, &stop, &open))
        })
        .collect();
    let started = Instant::now();
    while open.load(Ordering::Relaxed) < 1_800 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (idcard, mobile) = demo::MATCH;
    let mut took = Vec::new();
    for _ in 0..4 {
        let t = Instant::now();
        let answer = post(
            &gw.url,
            "/v1/verify",
            Some(TOKEN),
            &pair_body(idcard, mobile, None),
        );
        took.push(t.elapsed());
        if answer.status != 200 || t.elapsed() >= Duration::from_secs(3) {
            stop.store(true, Ordering::Relaxed);
        }
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(t.elapsed() < Duration::from_secs(3), "{took:?}");
        std::thread::sleep(Duration::from_millis(1500));
    }
    stop.store(true, Ordering::Relaxed);
    for f in floods {
        f.join().unwrap();
    }
    assert!(
        open.load(Ordering::Relaxed) >= 1_800,
        "the flood opened its connections"
    );
    // No trickled body was ever taken for a check.
    assert_eq!(sandbox_stats(&sb.url)["billed"].as_u64(), Some(4));
}

/// Not ready while Redis does not answer (checks still fall back to the local limit).
#[test]
fn readyz_is_503_while_redis_does_not_answer() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox(&[]);
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}/", dead.local_addr().unwrap());
    drop(dead);
    let gw = gateway(
        &sb.url,
        &one_caller(dir.path()),
        &["--redis", &url, "--qps", "5"],
    );
    let a = get(&gw.url, "/readyz");
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(a.json()["error"]["class"], "not_ready");
    assert_eq!(get(&gw.url, "/healthz").status, 200);
}

/// The API key, the OpenID and the callers' tokens appear in no answer (body or header) and
/// in no line the gateway logs at `-vv`, whatever the requests.
#[test]
fn the_key_openid_and_tokens_never_leave_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox(&[]);
    let config = one_caller(dir.path());
    let mut gw = gateway(
        &sb.url,
        &config,
        &[
            "-vv",
            "--mode",
            "aes",
            "--openid",
            demo::OPENID,
            "--retries",
            "0",
        ],
    );
    let (idcard, mobile) = demo::MATCH;
    let mut answers = vec![
        post(
            &gw.url,
            "/v1/verify",
            Some(TOKEN),
            &pair_body(idcard, mobile, None),
        ),
        post(
            &gw.url,
            "/v1/verify",
            Some(TOKEN),
            &pair_body(demo::NO_RECORD.0, demo::NO_RECORD.1, None),
        ),
        post(
            &gw.url,
            "/v1/verify",
            Some(TOKEN),
            &pair_body("110105199003071238", mobile, None),
        ),
        post(
            &gw.url,
            "/v1/verify",
            Some("not-the-token"),
            &pair_body(idcard, mobile, None),
        ),
        post(&gw.url, "/v1/verify", Some(TOKEN), "{\"idcard\": \"x\""),
        post(
            &gw.url,
            "/v1/check",
            Some(TOKEN),
            &pair_body(idcard, mobile, None),
        ),
    ];
    for route in ["/metrics", "/readyz", "/openapi.json", "/nope"] {
        answers.push(get(&gw.url, route));
    }
    assert_eq!(answers[0].status, 200, "{}", answers[0].body);
    gw.terminate();
    assert_eq!(gw.wait(30), 0);
    let log = gw.output();
    assert!(log.contains("DEBUG"), "debug logging is on: {log}");
    let secrets = [demo::API_KEY, demo::OPENID, TOKEN, idcard];
    for secret in secrets {
        for a in &answers {
            assert!(!a.body.contains(secret), "{secret} in {}", a.body);
            for (name, value) in &a.headers {
                assert!(!value.contains(secret), "{secret} in {name}");
            }
        }
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

/// `--new-token NAME` prints a token once and the config lines; pasted, they let that token in.
#[test]
fn a_new_token_and_its_lines_let_the_caller_in() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::bin()
        .args(["serve", "--new-token", "billing"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let token = text.lines().find(|l| l.starts_with("j2fa_")).unwrap();
    let config_lines: String = text
        .lines()
        .skip_while(|l| *l != "[[caller]]")
        .map(|l| format!("{l}\n"))
        .collect();
    let config = dir.path().join("gateway.toml");
    std::fs::write(&config, &config_lines).unwrap();
    assert!(
        !config_lines.contains(token),
        "only the digest goes into the config"
    );
    let sb = sandbox(&[]);
    let gw = gateway(&sb.url, &config, &[]);
    let (idcard, mobile) = demo::MATCH;
    let a = post(
        &gw.url,
        "/v1/verify",
        Some(token),
        &pair_body(idcard, mobile, None),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    // Each run makes another token.
    let again = common::bin()
        .args(["serve", "--new-token", "billing"])
        .output()
        .unwrap();
    assert!(!String::from_utf8(again.stdout).unwrap().contains(token));
    // A config that would let nobody in, or a bad digest, is refused at start.
    std::fs::write(&config, "").unwrap();
    let run = common::run(common::bin().env("JUHE_KEY", demo::API_KEY).args([
        "serve",
        "--config",
        config.to_str().unwrap(),
    ]));
    assert_eq!(run.code, 2, "{}", run.stderr);
    std::fs::write(
        &config,
        "[[caller]]\nname = \"x\"\ntoken_sha256 = \"abc\"\n",
    )
    .unwrap();
    let run = common::run(common::bin().env("JUHE_KEY", demo::API_KEY).args([
        "serve",
        "--config",
        config.to_str().unwrap(),
    ]));
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("64 hex digits"), "{}", run.stderr);
}

/// `--tls-cert`/`--tls-key`: the API over TLS (a client that trusts the certificate gets its
/// answer), and nothing for a client that speaks plain HTTP to it.
#[test]
fn tls_serves_the_api_to_a_client_that_trusts_the_certificate() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let sb = sandbox(&[]);
    let own = [
        "--tls-cert",
        cert_file.to_str().unwrap(),
        "--tls-key",
        key_file.to_str().unwrap(),
    ];
    let gw = common::gateway::gateway_with(&sb.url, &one_caller(dir.path()), &[], &own);
    assert!(gw.url.starts_with("https://"), "{}", gw.url);
    let addr: SocketAddr = gw.url.trim_start_matches("https://").parse().unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let (idcard, mobile) = demo::MATCH;
    let body = pair_body(idcard, mobile, None);
    write!(
        tls,
        "POST /v1/verify HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = tls.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"verdict\":\"match\""), "{answer}");

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .new_agent()
        .get(format!("http://{addr}/healthz"))
        .call();
    assert!(plain.is_err(), "{plain:?}");
    assert_eq!(sandbox_stats(&sb.url)["billed"].as_u64(), Some(1));
}

/// Without Redis, a caller's budget starts from what the ledger recorded for that caller (and
/// only that caller) today: a restarted gateway does not hand out a spent budget again.
#[test]
fn after_a_restart_a_callers_budget_starts_from_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox(&["--default-verdict", "match"]);
    let config = callers_file(
        dir.path(),
        &[
            ("capped", TOKEN, "budget = [\"2/day\"]"),
            ("other", "other-token", ""),
        ],
    );
    let ledger = dir.path().join("checks.ledger");
    let global = ["--ledger", ledger.to_str().unwrap()];
    let pairs = common::pairs_from("4401061991", "156", 5);
    let verify = |url: &str, token: &str, i: usize| {
        post(
            url,
            "/v1/verify",
            Some(token),
            &pair_body(&pairs[i].0, &pairs[i].1, None),
        )
    };
    let mut first = gateway(&sb.url, &config, &global);
    assert_eq!(verify(&first.url, TOKEN, 0).status, 200);
    assert_eq!(verify(&first.url, "other-token", 1).status, 200);
    first.terminate();
    assert_eq!(first.wait(30), 0);

    let second = gateway(&sb.url, &config, &global);
    assert_eq!(verify(&second.url, TOKEN, 2).status, 200, "one of two left");
    let spent = verify(&second.url, TOKEN, 3);
    assert_eq!(spent.status, 429, "{}", spent.body);
    assert!(spent.header("retry-after").is_some());
    assert_eq!(verify(&second.url, "other-token", 4).status, 200);
    assert_eq!(sandbox_stats(&sb.url)["billed"].as_u64(), Some(4));
}

/// `serve --demo`: one command, no key or config: the gateway in front of an in-process
/// sandbox answers the caller whose token it printed, and nobody else; AES works too.
#[test]
fn serve_demo_answers_with_the_token_it_printed() {
    for mode in ["plain", "aes"] {
        let mut cmd = common::bin();
        cmd.args(["--mode", mode, "serve", "--demo", "--addr", "127.0.0.1:0"]);
        let gw = common::gateway::Proc::start(cmd, "listening on ");
        let started = Instant::now();
        let token = loop {
            let output = gw.output();
            if let Some(line) = output.lines().find(|l| l.starts_with("j2fa_")) {
                break line.to_owned();
            }
            assert!(started.elapsed() < Duration::from_secs(10), "{output}");
            std::thread::sleep(Duration::from_millis(20));
        };
        let (idcard, mobile) = demo::MATCH;
        let body = pair_body(idcard, mobile, None);
        let a = post(&gw.url, "/v1/verify", Some(&token), &body);
        assert_eq!(a.status, 200, "{mode}: {}", a.body);
        assert_eq!(a.json()["verdict"], "match");
        assert_eq!(
            post(&gw.url, "/v1/verify", Some("j2fa_other"), &body).status,
            401
        );
    }
    // Its own sandbox and key: a key or base URL given as well is a mistake, said so.
    let run = common::run(
        common::bin()
            .env("JUHE_KEY", "real-key")
            .args(["serve", "--demo"]),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!run.stderr.contains("real-key"));
}

/// A caller that hangs up while its check is with the API: the check may have been billed,
/// so it is in the ledger anyway, with its caller, as maybe billed (the gateway drops the
/// request and its check when the connection resets).
#[test]
fn a_caller_that_hangs_up_mid_check_is_still_in_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let faults = dir.path().join("faults.toml");
    std::fs::write(&faults, "sequence = [{ delay_ms = 2500 }]\n").unwrap();
    let sb = sandbox(&["--faults", faults.to_str().unwrap()]);
    let ledger = dir.path().join("checks.ledger");
    let global = ["--ledger", ledger.to_str().unwrap()];
    let mut gw = gateway(&sb.url, &one_caller(dir.path()), &global);
    let body = pair_body(demo::MATCH.0, demo::MATCH.1, Some("kyc"));
    let mut caller = TcpStream::connect(addr_of(&gw.url)).unwrap();
    let request = format!(
        "POST /v1/verify HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    caller.write_all(request.as_bytes()).unwrap();
    // The check is with the sandbox for 2.5 s (which counts it when it answers).
    std::thread::sleep(Duration::from_millis(500));
    // A reset, as a client that gives up sends it: the gateway drops the request at once.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    runtime.block_on(async {
        caller.set_nonblocking(true).unwrap();
        let caller = tokio::net::TcpStream::from_std(caller).unwrap();
        caller.set_zero_linger().unwrap();
    });
    std::thread::sleep(Duration::from_millis(300));
    gw.terminate();
    assert_eq!(gw.wait(30), 0, "{}", gw.output());
    let export = common::bin()
        .args(["--ledger", ledger.to_str().unwrap(), "ledger", "export"])
        .output()
        .unwrap();
    let csv = String::from_utf8_lossy(&export.stdout);
    let records: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(records.len(), 1, "{csv}");
    assert!(
        records[0].contains(",ops,kyc,") && records[0].contains(",ambiguous,maybe,"),
        "{csv}"
    );
}
