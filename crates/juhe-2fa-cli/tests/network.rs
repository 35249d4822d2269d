//! `--proxy`, `--ca-cert`, `--no-built-in-roots`: the command reaches the sandbox over TLS
//! through a loopback HTTP CONNECT proxy that counts what it tunnels; the proxy's password is
//! never printed; bad settings are configuration errors (exit 2) that send nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

mod common;

use common::{bin, run, test_ca};
use juhe_sandbox::{BlockingSandbox, Sandbox, demo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The sandbox behind a TLS front for `localhost` (signed by a test CA), and a CONNECT proxy,
/// all on loopback, on their own runtime.
struct Net {
    sandbox: BlockingSandbox,
    tls_port: u16,
    proxy_port: u16,
    /// CONNECT requests the proxy tunnelled.
    tunnels: Arc<AtomicU32>,
    /// The head of the last CONNECT request.
    last_connect: Arc<std::sync::Mutex<String>>,
    ca: tempfile::NamedTempFile,
    _rt: tokio::runtime::Runtime,
}

impl Net {
    fn start() -> Net {
        let sandbox = Sandbox::builder().spawn_blocking().unwrap();
        let sandbox_addr = sandbox.addr();
        let (ca_pem, server) = test_ca();
        let ca = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(ca.path(), ca_pem).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let tls = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let tls_port = tls.local_addr().unwrap().port();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        // TLS in front of the sandbox: decrypt and pass the bytes on.
        rt.spawn(async move {
            while let Ok((tcp, _)) = tls.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(sandbox_addr).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        let proxy = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let proxy_port = proxy.local_addr().unwrap().port();
        let tunnels = Arc::new(AtomicU32::new(0));
        let last_connect = Arc::new(std::sync::Mutex::new(String::new()));
        let (count, last) = (tunnels.clone(), last_connect.clone());
        // The proxy: `CONNECT host:port`, then a tunnel. Whatever the host, it connects on
        // loopback only (the port is the TLS front's).
        rt.spawn(async move {
            while let Ok((mut client, _)) = proxy.accept().await {
                let (count, last) = (count.clone(), last.clone());
                tokio::spawn(async move {
                    let head = read_head(&mut client).await;
                    let Some(port) = connect_port(&head) else {
                        let _ = client.write_all(b"HTTP/1.1 405 Only CONNECT\r\n\r\n").await;
                        return;
                    };
                    count.fetch_add(1, Ordering::SeqCst);
                    *last.lock().unwrap() = head;
                    let Ok(mut upstream) =
                        tokio::net::TcpStream::connect(("127.0.0.1", port)).await
                    else {
                        return;
                    };
                    let _ = client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .await;
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                });
            }
        });
        Net {
            sandbox,
            tls_port,
            proxy_port,
            tunnels,
            last_connect,
            ca,
            _rt: rt,
        }
    }

    fn base_url(&self) -> String {
        format!("https://localhost:{}", self.tls_port)
    }

    fn proxy(&self) -> String {
        format!("http://ops:hunter2@127.0.0.1:{}", self.proxy_port)
    }

    fn ca(&self) -> &str {
        self.ca.path().to_str().unwrap()
    }

    fn tunnels(&self) -> u32 {
        self.tunnels.load(Ordering::SeqCst)
    }
}

async fn read_head(stream: &mut tokio::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// The port of `CONNECT host:port HTTP/1.1`.
fn connect_port(head: &str) -> Option<u16> {
    let target = head.strip_prefix("CONNECT ")?.split(' ').next()?;
    target.rsplit(':').next()?.parse().ok()
}

fn verify_args(net: &Net) -> Vec<String> {
    let (idcard, mobile) = demo::MATCH;
    [
        "--base-url",
        &net.base_url(),
        "--key",
        demo::API_KEY,
        "verify",
        "--idcard",
        idcard,
        "--mobile",
        mobile,
    ]
    .map(str::to_owned)
    .to_vec()
}

/// CLI → proxy → TLS → sandbox: the proxy tunnels the request (it counts it, with the
/// credentials sent as `Proxy-Authorization`), the sandbox answers it, and the password shows
/// nowhere, even at -vv. Both clients (`--client blocking` is ureq).
#[test]
fn verify_goes_through_the_proxy_and_trusts_the_ca_cert() {
    let net = Net::start();
    for client in ["async", "blocking"] {
        let before = (net.tunnels(), net.sandbox.stats().requests);
        let r = run(bin()
            .args(["--proxy", &net.proxy(), "--ca-cert", net.ca(), "-vv"])
            .args(["--client", client])
            .args(verify_args(&net)));
        assert_eq!(r.code, 0, "{client}: {}", r.stderr);
        assert!(r.stdout.starts_with("match"), "{}", r.stdout);
        assert_eq!(net.tunnels(), before.0 + 1, "{client}: one tunnel");
        assert_eq!(net.sandbox.stats().requests, before.1 + 1, "{client}");
        let connect = net.last_connect.lock().unwrap().to_ascii_lowercase();
        assert!(
            connect.contains("proxy-authorization: basic"),
            "{client}: {connect}"
        );
        assert!(!r.stderr.contains("hunter2") && !r.stdout.contains("hunter2"));
    }
    // JUHE_PROXY works as the flag does, and only the --ca-cert roots are needed: another CA
    // given too (the flag repeats) does no harm.
    let other = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(other.path(), test_ca().0).unwrap();
    let before = net.tunnels();
    let r = run(bin()
        .env("JUHE_PROXY", net.proxy())
        .args(["--ca-cert", other.path().to_str().unwrap()])
        .args(["--ca-cert", net.ca(), "--no-built-in-roots"])
        .args(verify_args(&net)));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(net.tunnels(), before + 1);
    // Only the other CA: the server is not trusted.
    let r = run(bin()
        .env("JUHE_PROXY", net.proxy())
        .args([
            "--ca-cert",
            other.path().to_str().unwrap(),
            "--no-built-in-roots",
        ])
        .args(["--retries", "0"])
        .args(verify_args(&net)));
    assert_eq!(r.code, 5, "{}", r.stderr);
    // An empty JUHE_PROXY (as a template leaves it, or `JUHE_PROXY= juhe-2fa …` to turn it
    // off) means no proxy, as an empty JUHE_LANG means no language; so does `--proxy ""`.
    for (env, flag) in [
        ("", None),
        (" ", None),
        ("http://ops:hunter2@127.0.0.1:1", Some("")),
    ] {
        let before = net.tunnels();
        let mut cmd = bin();
        cmd.env("JUHE_PROXY", env).args(["--ca-cert", net.ca()]);
        if let Some(flag) = flag {
            cmd.args(["--proxy", flag]);
        }
        let r = run(cmd.args(verify_args(&net)));
        assert_eq!(r.code, 0, "{env:?} {flag:?}: {}", r.stderr);
        assert_eq!(net.tunnels(), before, "direct");
    }
    // The help never shows JUHE_PROXY's value.
    let help = run(bin()
        .env("JUHE_PROXY", net.proxy())
        .args(["verify", "--help"]));
    assert!(help.stdout.contains("--proxy <URL>"), "{}", help.stdout);
    assert!(!help.stdout.contains("hunter2"), "{}", help.stdout);
}

/// Without the CA the sandbox's certificate is not trusted (nothing answered); without a proxy
/// flag nothing goes through the proxy.
#[test]
fn the_server_is_not_trusted_without_the_ca_cert() {
    let net = Net::start();
    let r = run(bin()
        .args(["--proxy", &net.proxy()])
        .args(verify_args(&net)));
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert_eq!(net.sandbox.stats().requests, 0);
    // Each attempt (a refused handshake is unbilled, so retried) opened a tunnel.
    let tunnels = net.tunnels();
    assert_eq!(
        tunnels, 3,
        "the tunnel was opened, TLS refused, retried twice"
    );
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
    let r = run(bin().args(["--ca-cert", net.ca()]).args(verify_args(&net)));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(net.tunnels(), tunnels, "no proxy flag: direct");
}

/// Bad settings: exit 2, the flag and the file named, the password never, nothing sent.
#[test]
fn bad_network_settings_are_configuration_errors() {
    let net = Net::start();
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("ca.der");
    std::fs::write(&not_pem, b"\x30\x82\x01\x0a not a pem").unwrap();
    let missing = dir.path().join("missing.pem");
    // PEM armour around bytes that are no certificate: refused up front, whichever client
    // (one would refuse it only when it builds, the other only when it connects).
    let junk = dir.path().join("junk.pem");
    std::fs::write(
        &junk,
        "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["--no-built-in-roots".into()],
            "--no-built-in-roots needs --ca-cert".into(),
        ),
        (
            vec!["--proxy".into(), "ftp://ops:hunter2@proxy.corp:21".into()],
            "--proxy: the scheme is not http, https or socks5".into(),
        ),
        (
            vec!["--proxy".into(), "http://ops:hunter2@:3128".into()],
            "--proxy: no host".into(),
        ),
        (
            vec!["--ca-cert".into(), missing.display().to_string()],
            format!("cannot read --ca-cert {}", missing.display()),
        ),
        (
            vec!["--ca-cert".into(), not_pem.display().to_string()],
            format!("--ca-cert {} holds no PEM certificate", not_pem.display()),
        ),
        (
            vec!["--ca-cert".into(), junk.display().to_string()],
            format!("--ca-cert {} holds no PEM certificate", junk.display()),
        ),
        (
            vec![
                "--ca-cert".into(),
                junk.display().to_string(),
                "--client".into(),
                "blocking".into(),
            ],
            format!("--ca-cert {} holds no PEM certificate", junk.display()),
        ),
    ];
    for (flags, expected) in &cases {
        for lang in ["en", "zh"] {
            let r = run(bin()
                .args(flags)
                .args(["--lang", lang])
                .args(verify_args(&net)));
            assert_eq!(r.code, 2, "{flags:?}: {}", r.stderr);
            if lang == "en" {
                assert!(
                    r.stderr.contains(expected.as_str()),
                    "{flags:?}: {}",
                    r.stderr
                );
            } else {
                assert!(r.stderr.contains("错误："), "{flags:?}: {}", r.stderr);
                assert!(r.stderr.contains("提示："), "{flags:?}: {}", r.stderr);
            }
            assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
        }
    }
    // A password with characters a URL cannot hold as they are: the hint says how to write
    // them (percent-encoded, as both clients decode them), and never repeats the password.
    for lang in ["en", "zh"] {
        let r = run(bin()
            .args([
                "--lang",
                lang,
                "--proxy",
                "http://ops:hünter2@proxy.corp:3128",
            ])
            .args(verify_args(&net)));
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("%40"), "{}", r.stderr);
        assert!(!r.stderr.contains("hünter2"), "{}", r.stderr);
    }
    assert_eq!(net.tunnels(), 0);
    assert_eq!(net.sandbox.stats().requests, 0);
    // A proxy that cannot be reached: a transport failure (exit 5), logged at -vv, with the
    // password nowhere, for every scheme and both clients.
    for scheme in ["http", "https", "socks5"] {
        for client in ["async", "blocking"] {
            let r = run(bin()
                .args(["--proxy", &format!("{scheme}://ops:hunter2@127.0.0.1:1")])
                .args(["-vv", "--client", client, "--retries", "0"])
                .args(verify_args(&net)));
            assert_eq!(r.code, 5, "{scheme} {client}: {}", r.stderr);
            assert!(r.stderr.contains("DEBUG"), "{}", r.stderr);
            assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
        }
    }
}

/// `doctor` shows the proxy (credentials hidden) and the roots in use, connects through the
/// proxy, and its JSON has them too.
#[test]
fn doctor_reports_the_proxy_masked_and_the_ca() {
    let net = Net::start();
    let (idcard, mobile) = demo::MATCH;
    let doctor = |extra: &[&str]| {
        run(bin()
            .args(["--base-url", &net.base_url(), "--key", demo::API_KEY])
            .args(["--proxy", &net.proxy(), "--ca-cert", net.ca()])
            .args(extra)
            .args(["doctor", "--idcard", idcard, "--mobile", mobile, "--yes"]))
    };
    let r = doctor(&[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let masked = format!("http://[redacted]@127.0.0.1:{}", net.proxy_port);
    assert!(
        r.stdout.contains(&format!("proxy:    {masked}")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains(net.ca()), "{}", r.stdout);
    assert!(
        r.stdout.contains("the account accepts plain"),
        "{}",
        r.stdout
    );
    assert!(net.tunnels() >= 1);
    let zh = doctor(&["--lang", "zh"]);
    assert_eq!(zh.code, 0, "{}", zh.stderr);
    assert!(
        zh.stdout.contains(&format!("代理：    {masked}")),
        "{}",
        zh.stdout
    );
    assert!(zh.stdout.contains("账户接受 plain 方案"), "{}", zh.stdout);
    let json = doctor(&["--json"]);
    let value: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(value["proxy"], masked.as_str());
    assert_eq!(value["ca_certs"][0], net.ca());
    assert_eq!(value["built_in_roots"], true);
    for out in [&r, &zh, &json] {
        assert!(!out.stdout.contains("hunter2") && !out.stderr.contains("hunter2"));
    }
}

/// A proxy that fails the CONNECT in a way that, after a request, would mean "maybe sent": it
/// resets the connection, or answers with something that is not HTTP. Nothing of the request
/// can have left (the tunnel was never made), so both clients call it unbilled — retried, and
/// `doctor` does not say "may have been billed".
#[test]
fn a_proxy_that_breaks_the_connect_is_unbilled() {
    for reset in [true, false] {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let proxy = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = proxy.local_addr().unwrap().port();
        let connects = Arc::new(AtomicU32::new(0));
        let count = connects.clone();
        rt.spawn(async move {
            while let Ok((mut client, _)) = proxy.accept().await {
                let head = read_head(&mut client).await;
                if head.starts_with("CONNECT ") {
                    count.fetch_add(1, Ordering::SeqCst);
                }
                if reset {
                    let _ = client.set_zero_linger();
                } else {
                    let _ = client.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
                }
                drop(client);
            }
        });
        let (idcard, mobile) = demo::MATCH;
        let proxy_url = format!("http://ops:hunter2@127.0.0.1:{port}");
        // An https API: both clients open a CONNECT tunnel.
        let base = ["--base-url", "https://localhost:9", "--key", demo::API_KEY];
        for client in ["async", "blocking"] {
            let before = connects.load(Ordering::SeqCst);
            let r = run(bin()
                .args(base)
                .args(["--proxy", &proxy_url, "--client", client, "--retries", "1"])
                .args(["verify", "--idcard", idcard, "--mobile", mobile]));
            assert_eq!(r.code, 5, "{reset} {client}: {}", r.stderr);
            assert!(
                r.stderr.contains("the request was not sent"),
                "{reset} {client}: {}",
                r.stderr
            );
            assert!(
                !r.stderr.contains("may have"),
                "{reset} {client}: {}",
                r.stderr
            );
            // Unbilled, so retried.
            assert_eq!(
                connects.load(Ordering::SeqCst),
                before + 2,
                "{reset} {client}"
            );
            assert!(!r.stderr.contains("hunter2"));
        }
        let r = run(bin()
            .args(base)
            .args(["--proxy", &proxy_url, "--json"])
            .args(["doctor", "--idcard", idcard, "--mobile", mobile, "--yes"]));
        assert_eq!(r.code, 5, "{reset}: {}{}", r.stdout, r.stderr);
        assert!(!r.stdout.contains("may have"), "{reset}: {}", r.stdout);
        assert!(!r.stdout.contains("hunter2"));
        // A request that never left is not counted as a call sent.
        let report: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
        assert_eq!(report["calls"], 0, "{reset}: {}", r.stdout);
    }
}

/// A CA file as people have them: a key before the certificate (a file kept with its key),
/// CRLF line ends (saved on Windows), a bundle of two. Both clients take each the same way.
#[test]
fn ca_files_as_people_have_them_work_with_both_clients() {
    let net = Net::start();
    let ca = std::fs::read_to_string(net.ca()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("key-and-cert.pem", format!("{key}{ca}")),
        ("crlf.pem", ca.replace('\n', "\r\n")),
        ("bundle.pem", format!("{}{ca}", test_ca().0)),
    ];
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        for client in ["async", "blocking"] {
            let r = run(bin()
                .args(["--proxy", &net.proxy(), "--no-built-in-roots"])
                .args(["--ca-cert", path.to_str().unwrap(), "--client", client])
                .args(verify_args(&net)));
            assert_eq!(r.code, 0, "{name} {client}: {}", r.stderr);
        }
    }
}
