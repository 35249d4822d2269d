//! Echoing middleboxes and files at rest: the key and the numbers never land in output,
//! errors, journals or logs; the sandbox writes its demo keys only when asked, privately.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;

mod common;

use common::{batch_cmd, bin};
use juhe_sandbox::demo;

const KEY: &str = "SECRETKEY0123456789";

/// A captive portal: answers every request with a 200 HTML page that quotes the request.
fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = vec![0u8; 8192];
                let n = stream.read(&mut buf).unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).into_owned();
                let body = format!(
                    "<html><body>Blocked by policy. Your request:<pre>{request}</pre></body></html>"
                );
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    url
}

fn assert_clean(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for secret in [KEY, demo::MATCH.0, demo::MATCH.1, "13012345678"] {
        assert!(!text.contains(secret), "{what} holds {secret}: {text}");
    }
}

#[test]
fn an_echoing_middlebox_leaks_nothing() {
    let url = echo_server();
    for method in ["post", "get"] {
        for flags in [vec!["--json"], vec!["-vv"]] {
            let out = bin()
                .args([
                    "--base-url",
                    &url,
                    "--key",
                    KEY,
                    "--method",
                    method,
                    "--retries",
                    "0",
                ])
                .env("RUST_LOG", "trace")
                .args(&flags)
                .args([
                    "verify",
                    "--idcard",
                    demo::MATCH.0,
                    "--mobile",
                    demo::MATCH.1,
                ])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(5), "{method} {flags:?}");
            assert_clean("stdout", &out.stdout);
            assert_clean("stderr", &out.stderr);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    std::fs::write(
        &input,
        format!("idcard,mobile\n{},{}\n", demo::MATCH.0, demo::MATCH.1),
    )
    .unwrap();
    let out = batch_cmd(&url, KEY, &["--json", "-vv"], &input, &output)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert_clean("batch stdout", &out.stdout);
    assert_clean("batch stderr", &out.stderr);
    let written = std::fs::read_to_string(&output).unwrap();
    assert!(
        written.contains("unknown"),
        "a garbled 200 may have been billed: {written}"
    );
    // The output keeps the input's numbers (they are the user's own data); the added columns
    // hold nothing of the response.
    let added: Vec<&str> = written.lines().nth(1).unwrap().split(',').skip(2).collect();
    assert_clean("added columns", added.join(",").as_bytes());
    for file in std::fs::read_dir(dir.path()).unwrap().flatten() {
        if file.file_name().to_string_lossy().contains("journal") {
            assert_clean("journal", &std::fs::read(file.path()).unwrap());
        }
    }
}

/// A key that a form body and a query string percent-encode.
const ECHO_KEY: &str = "Echo+K3y&=s3cret/x";
const ECHO_KEY_ENCODED: &str = "Echo%2BK3y%26%3Ds3cret%2Fx";

/// Where a vendor-shaped echo puts the request.
#[derive(Clone, Copy, Debug)]
enum EchoInto {
    /// `{"reason":"echo <request>","error_code":232904,"result":null}`
    Reason,
    /// A success whose `orderid` is the request.
    OrderId,
}

/// A middlebox that answers in the vendor's JSON shape, quoting the whole request (request
/// line, headers, body) into `reason` or `orderid`.
fn json_echo_server(into: EchoInto) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let request = read_request(&mut stream);
                let echo = format!("echo {request}");
                let body = match into {
                    EchoInto::Reason => serde_json::json!({
                        "reason": echo, "error_code": 232904, "result": null
                    }),
                    EchoInto::OrderId => serde_json::json!({
                        "reason": "成功", "error_code": 0,
                        "result": {"res": 1, "orderid": echo}
                    }),
                }
                .to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    url
}

/// The request's head and its `Content-Length` body.
fn read_request(stream: &mut std::net::TcpStream) -> String {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&bytes);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if bytes.len() >= end + 4 + length {
                break;
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn assert_no_echo(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for secret in [ECHO_KEY, ECHO_KEY_ENCODED, demo::MATCH.0, demo::MATCH.1] {
        assert!(!text.contains(secret), "{what} holds {secret}: {text}");
    }
}

/// A middlebox echoing the request into the vendor's own fields: stderr, `--json`, the batch
/// output's added columns and the journal hold neither the key (raw or encoded) nor a number.
#[test]
fn an_echo_in_the_vendors_json_shape_leaks_nothing() {
    for into in [EchoInto::Reason, EchoInto::OrderId] {
        let url = json_echo_server(into);
        for method in ["post", "get"] {
            for flags in [vec!["--json"], vec!["-vv"]] {
                let out = bin()
                    .args(["--base-url", &url, "--key", ECHO_KEY, "--method", method])
                    .args(["--retries", "0"])
                    .env("RUST_LOG", "debug")
                    .args(&flags)
                    .args([
                        "verify",
                        "--idcard",
                        demo::MATCH.0,
                        "--mobile",
                        demo::MATCH.1,
                    ])
                    .output()
                    .unwrap();
                let what = format!("{into:?} {method} {flags:?}");
                assert_ne!(out.status.code(), Some(0), "{what}");
                assert_no_echo(&format!("stdout, {what}"), &out.stdout);
                assert_no_echo(&format!("stderr, {what}"), &out.stderr);
                if matches!(into, EchoInto::Reason) && flags == ["--json"] {
                    let shown = String::from_utf8_lossy(&out.stdout);
                    assert!(shown.contains("232904"), "the code stays: {shown}");
                }
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
        std::fs::write(
            &input,
            format!("idcard,mobile\n{},{}\n", demo::MATCH.0, demo::MATCH.1),
        )
        .unwrap();
        let out = batch_cmd(&url, ECHO_KEY, &["--json", "-vv"], &input, &output)
            .env("RUST_LOG", "debug")
            .output()
            .unwrap();
        assert_no_echo("batch stdout", &out.stdout);
        assert_no_echo("batch stderr", &out.stderr);
        let written = std::fs::read_to_string(&output).unwrap();
        let row = written.lines().nth(1).unwrap();
        let expected = match into {
            EchoInto::Reason => "api_error",
            EchoInto::OrderId => "unknown",
        };
        assert!(row.contains(expected), "{into:?}: {written}");
        // The input's own columns are the user's data; the added ones hold nothing echoed.
        let added: Vec<&str> = row.split(',').skip(2).collect();
        assert_no_echo("added columns", added.join(",").as_bytes());
        let mut journals = 0;
        for file in std::fs::read_dir(dir.path()).unwrap().flatten() {
            if file.file_name().to_string_lossy().contains("journal") {
                journals += 1;
                assert_no_echo("journal", &std::fs::read(file.path()).unwrap());
            }
        }
        assert!(journals > 0, "the journal was written");
    }
}

/// Writes the demo keys and exits (a setup step: no server is started).
fn export(dir: &Path) -> common::Run {
    let child = bin()
        .args(["sandbox", "--export-demo-keys", dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_at_most(child, 10)
}

#[test]
fn demo_keys_are_written_only_when_asked_privately_never_through_links() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = std::env::temp_dir().join("juhe-2fa-sandbox-demo");
    let existed = tmp.exists();
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let out = export(&keys);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for (name, _) in demo::FILES {
        assert!(
            out.stdout.contains(name),
            "the files are listed: {}",
            out.stdout
        );
    }
    assert_eq!(
        std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for name in [
        "rsa_public.pem",
        "rsa_private.pem",
        "openid.txt",
        "aes_key.txt",
    ] {
        let mode = std::fs::metadata(keys.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{name}");
    }
    assert_eq!(
        std::fs::read_to_string(keys.join("openid.txt")).unwrap(),
        demo::OPENID
    );
    // Existing files are refused, not overwritten.
    let again = export(&keys);
    assert_eq!(again.code, 2, "{}", again.stderr);
    // A symlink planted where the folder should be is refused.
    let victim = dir.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let linked = export(&link);
    assert_eq!(linked.code, 2);
    assert_eq!(
        std::fs::read_dir(&victim).unwrap().count(),
        0,
        "nothing written through the link"
    );
    // Without the flag, nothing is written to the shared temporary folder.
    if !existed {
        assert!(!tmp.exists(), "{} was created", tmp.display());
    }
}

/// Starts `juhe-2fa sandbox` with `args`; returns the child and its first stdout lines.
fn sandbox_cli(args: &[&str], env_key: Option<&str>) -> (std::process::Child, Vec<String>) {
    use std::io::BufRead;
    let mut cmd = bin();
    cmd.args(["sandbox", "--addr", "127.0.0.1:0"]).args(args);
    if let Some(key) = env_key {
        cmd.env("JUHE_KEY", key);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(child.stdout.take().unwrap())
        .lines()
        .take(4)
        .map(Result::unwrap)
        .collect();
    (child, lines)
}

fn get(url: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut resp = agent.get(url).call().unwrap();
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_string().unwrap(),
    )
}

#[test]
fn sandbox_keys_are_shown_masked_and_the_demo_key_stays_unless_asked() {
    let (mut child, lines) = sandbox_cli(&[], Some("my-real-key-123456"));
    child.kill().unwrap();
    let text = lines.join("\n");
    assert!(!text.contains("my-real-key-123456"), "{text}");
    assert!(
        text.contains("a key of 18 characters (not shown)")
            && text.contains("sandbox-demo-key (the demo key)"),
        "{text}"
    );
    assert!(
        !text.contains("my-"),
        "not even a prefix of a real key: {text}"
    );
    let (mut child, lines) = sandbox_cli(&["--no-demo-key", "--key", "k1"], None);
    child.kill().unwrap();
    assert!(!lines.join("\n").contains("sandbox-demo-key"), "{lines:?}");
    let refused = bin()
        .args(["sandbox", "--addr", "127.0.0.1:0", "--no-demo-key"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
}

#[test]
fn sandbox_counters_over_http_and_masked_request_log() {
    let (mut child, lines) = sandbox_cli(&["--log-requests"], None);
    let url = lines[0].rsplit(' ').next().unwrap().to_owned();
    let verify = bin()
        .args(["--base-url", &url, "--key", demo::API_KEY])
        .args([
            "verify",
            "--idcard",
            demo::MATCH.0,
            "--mobile",
            demo::MATCH.1,
        ])
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(0));
    let (status, body) = get(&format!("{url}/__sandbox/stats"));
    assert_eq!(status, 200);
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(stats["stats"]["billed"], 1, "{stats}");
    assert_eq!(
        stats["stats"]["by_path"]["/telecom2Cucc/query"], 1,
        "{stats}"
    );
    assert_eq!(stats["pairs_billed_more_than_once"], 0);
    assert_eq!(stats["recent"][0]["idcard"], "110105********1239");
    assert!(
        !body.contains(demo::MATCH.0) && !body.contains(demo::MATCH.1),
        "{body}"
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let reset = agent
        .post(format!("{url}/__sandbox/reset"))
        .send_empty()
        .unwrap();
    assert_eq!(reset.status().as_u16(), 200);
    let (_, body) = get(&format!("{url}/__sandbox/stats"));
    assert!(body.contains("\"requests\":0"), "{body}");
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("110105********1239") && log.contains("billed=true"),
        "{log}"
    );
    assert!(!log.contains(demo::MATCH.0), "{log}");
}
