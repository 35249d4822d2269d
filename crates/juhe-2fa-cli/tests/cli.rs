//! The built `juhe-2fa` binary against the sandbox: every command, exit code and JSON shape.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

use common::{bin, pairs, run};
use juhe_crypto::{AesConfig, AesDecryptor, AesMode, FieldDecryptor, IvPolicy, RsaOaepDecryptor};
use juhe_sandbox::{BlockingSandbox, Sandbox, demo};
use serde_json::Value;

/// `verify` of the demo pair that the sandbox answers `match`.
const VERIFY_MATCH: [&str; 5] = [
    "verify",
    "--idcard",
    demo::MATCH.0,
    "--mobile",
    demo::MATCH.1,
];

fn client(sb: &BlockingSandbox) -> Command {
    let mut cmd = bin();
    cmd.args([
        "--base-url",
        &sb.base_url(),
        "--key",
        demo::API_KEY,
        "--retries",
        "0",
    ]);
    cmd
}

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[test]
fn verify_exit_codes_and_json_shapes() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let m = run(client(&sb).args(["--json"]).args(VERIFY_MATCH));
    assert_eq!(m.code, 0, "{}", m.stderr);
    let v = json(&m.stdout);
    assert_eq!(keys(&v), ["verdict", "res", "order_id", "mode"]);
    assert_eq!(
        (v["verdict"].as_str(), v["res"].as_i64(), v["mode"].as_str()),
        (Some("match"), Some(1), Some("plain"))
    );
    assert!(v["order_id"].as_str().unwrap().starts_with("JH"));

    let mm = run(client(&sb).args([
        "--json",
        "verify",
        "--idcard",
        demo::MISMATCH.0,
        "--mobile",
        demo::MISMATCH.1,
    ]));
    assert_eq!(mm.code, 1);
    assert_eq!(json(&mm.stdout)["verdict"], "mismatch");

    let api = run(client(&sb).args([
        "--json",
        "verify",
        "--idcard",
        demo::NO_RECORD.0,
        "--mobile",
        demo::NO_RECORD.1,
    ]));
    assert_eq!(api.code, 4);
    let e = json(&api.stdout);
    assert_eq!(keys(&e), ["error"]);
    assert_eq!(keys(&e["error"]), ["kind", "code", "reason", "retryable"]);
    assert_eq!(e["error"]["code"], 232904);
    assert_eq!(e["error"]["kind"], "no_record");
    assert_eq!(e["error"]["reason"], "查无记录");
    assert_eq!(e["error"]["retryable"], false);

    let before = sb.stats().requests;
    let bad = run(client(&sb).args([
        "--json",
        "verify",
        "--idcard",
        "110105199003071230",
        "--mobile",
        demo::MATCH.1,
    ]));
    assert_eq!(bad.code, 3);
    assert_eq!(json(&bad.stdout)["error"]["kind"], "invalid_input");
    assert_eq!(sb.stats().requests, before, "nothing sent");

    let human = run(client(&sb).args([
        "verify",
        "--idcard",
        demo::NETWORK_ERROR.0,
        "--mobile",
        demo::NETWORK_ERROR.1,
    ]));
    assert_eq!(human.code, 4);
    assert!(
        human
            .stderr
            .starts_with("juhe-2fa: error: API error 232905"),
        "{}",
        human.stderr
    );
    assert_eq!(
        human.stderr.lines().count(),
        1,
        "one line, no hint for this code: {}",
        human.stderr
    );
    assert!(!human.stderr.contains("panicked"));
}

#[test]
fn transport_failure_and_usage_errors() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = run(bin()
        .args([
            "--base-url",
            &format!("http://127.0.0.1:{port}"),
            "--key",
            "k",
            "--json",
        ])
        .args(VERIFY_MATCH));
    assert_eq!(down.code, 5, "{}", down.stderr);
    assert_eq!(json(&down.stdout)["error"]["kind"], "transport");

    let no_key = run(bin().args(VERIFY_MATCH));
    assert_eq!(no_key.code, 2);
    assert!(
        no_key.stderr.contains("no API key") && no_key.stderr.contains("JUHE_KEY"),
        "{}",
        no_key.stderr
    );

    let bad_flag = run(bin().args(["verify", "--idcard", "x", "--mobile", "y", "--bogus"]));
    assert_eq!(bad_flag.code, 2);
    let bad_mode = run(bin().args(["--mode", "sm4", "encrypt", "--value", "x"]));
    assert_eq!(bad_mode.code, 2);
    let no_aes = run(bin()
        .args(["--mode", "aes", "--key", "k"])
        .args(VERIFY_MATCH));
    assert_eq!(no_aes.code, 2);
    assert!(
        no_aes.stderr.contains("--aes-key") && no_aes.stderr.contains("--openid"),
        "{}",
        no_aes.stderr
    );
    let both = run(bin()
        .args([
            "--mode",
            "aes",
            "--openid",
            "JHx",
            "--aes-key",
            "1234567890abcdef",
        ])
        .args(["encrypt", "--value", "1"]));
    assert_eq!(both.code, 2, "{}", both.stderr);
    let empty_openid =
        run(bin().args(["--mode", "aes", "--openid", " ", "encrypt", "--value", "1"]));
    assert_eq!(empty_openid.code, 2);
    assert!(
        empty_openid.stderr.contains("--openid"),
        "{}",
        empty_openid.stderr
    );
    let iv_with_ecb = run(bin().args([
        "--mode",
        "aes",
        "--openid",
        "JHx",
        "--aes-mode",
        "ecb",
        "--aes-iv",
        "zero",
        "encrypt",
        "--value",
        "1",
    ]));
    assert_eq!(iv_with_ecb.code, 2, "{}", iv_with_ecb.stderr);
    let bad_url = run(bin()
        .args(["--base-url", "ftp://x", "--key", "k"])
        .args(VERIFY_MATCH));
    assert_eq!(bad_url.code, 2);
    let bad_iv = run(bin().args(["--aes-iv", "fixed:12", "encrypt", "--value", "x"]));
    assert_eq!(bad_iv.code, 2);
}

#[test]
fn extreme_numbers_are_usage_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.csv");
    for timeout in ["1e300", "0", "nan", "inf"] {
        let r = run(bin()
            .args([
                "--key",
                "k",
                "--base-url",
                "http://127.0.0.1:9",
                "--timeout",
                timeout,
            ])
            .args(VERIFY_MATCH));
        assert_eq!(r.code, 2, "--timeout {timeout}: {}", r.stderr);
        assert!(
            r.stderr.contains("--timeout must be a positive number"),
            "{}",
            r.stderr
        );
    }
    for qps in ["1e-300", "1e300", "0", "nan"] {
        let r = run(bin().args([
            "--key",
            "k",
            "--base-url",
            "http://127.0.0.1:9",
            "batch",
            "--input",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/customers.csv"),
            "--output",
            out.to_str().unwrap(),
            "--qps",
            qps,
        ]));
        assert_eq!(r.code, 2, "--qps {qps}: {}", r.stderr);
        assert!(r.stderr.contains("rate limit"), "{}", r.stderr);
        assert!(!r.stderr.contains("panicked"));
    }
}

#[test]
fn environment_and_precedence() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let env_only = run(bin()
        .env("JUHE_KEY", demo::API_KEY)
        .env("JUHE_BASE_URL", sb.base_url())
        .args(VERIFY_MATCH));
    assert_eq!(env_only.code, 0, "{}", env_only.stderr);
    assert!(
        env_only.stdout.starts_with("match (res 1)"),
        "{}",
        env_only.stdout
    );
    let flag_wins = run(bin()
        .env("JUHE_KEY", "wrong-key")
        .env("JUHE_BASE_URL", sb.base_url())
        .args(["--key", demo::API_KEY])
        .args(VERIFY_MATCH));
    assert_eq!(flag_wins.code, 0, "{}", flag_wins.stderr);
    let env_wrong = run(bin()
        .env("JUHE_KEY", "wrong-key")
        .env("JUHE_BASE_URL", sb.base_url())
        .args(VERIFY_MATCH));
    assert_eq!(env_wrong.code, 4);
    assert!(
        !env_wrong.stderr.contains("wrong-key"),
        "the key is never printed"
    );
}

#[test]
fn every_mode_through_both_transports() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("pub.pem");
    std::fs::write(&key_file, demo::RSA_PUBLIC_KEY_PEM).unwrap();
    let modes: [Vec<&str>; 4] = [
        vec!["--mode", "plain"],
        vec!["--mode", "aes", "--openid", demo::OPENID],
        vec![
            "--mode",
            "rsa",
            "--rsa-public-key",
            key_file.to_str().unwrap(),
        ],
        vec![
            "--mode",
            "rsa",
            "--rsa-public-key",
            demo::RSA_PUBLIC_KEY_B64,
        ],
    ];
    for mode in &modes {
        for transport in ["async", "blocking"] {
            for method in ["post", "get"] {
                let r = run(client(&sb)
                    .args(mode)
                    .args([
                        "--transport",
                        transport,
                        "--method",
                        method,
                        "--json",
                        "verify",
                    ])
                    .args(["--idcard", demo::MATCH.0, "--mobile", demo::MATCH.1]));
                assert_eq!(r.code, 0, "{mode:?} {transport} {method}: {}", r.stderr);
                assert_eq!(json(&r.stdout)["mode"], mode[1]);
            }
        }
    }
    let env_mode = run(client(&sb)
        .env("JUHE_MODE", "aes")
        .env("JUHE_OPENID", demo::OPENID)
        .args(["--json"])
        .args(VERIFY_MATCH));
    assert_eq!(json(&env_mode.stdout)["mode"], "aes");

    // The scheme this tool used to default to still works when asked for explicitly.
    let cbc = AesConfig::new(demo::AES_KEY)
        .unwrap()
        .with_mode(AesMode::Cbc)
        .with_iv(IvPolicy::SameAsKey);
    let old = Sandbox::builder().aes(Some(cbc)).spawn_blocking().unwrap();
    for transport in ["async", "blocking"] {
        let r = run(client(&old)
            .args(["--mode", "aes", "--aes-key", demo::AES_KEY])
            .args([
                "--aes-mode",
                "cbc",
                "--aes-iv",
                "same-as-key",
                "--transport",
                transport,
            ])
            .args(VERIFY_MATCH));
        assert_eq!(r.code, 0, "{transport}: {}", r.stderr);
    }
}

#[test]
fn rsa_public_key_as_pem_text_argument() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    for key in [
        demo::RSA_PUBLIC_KEY_PEM,
        demo::RSA_PUBLIC_KEY_PEM.trim_end(),
    ] {
        let r = run(client(&sb)
            .args(["--mode", "rsa", "--rsa-public-key", key, "--json"])
            .args(VERIFY_MATCH));
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(json(&r.stdout)["mode"], "rsa");
        // `=` form too.
        let r = run(bin()
            .args(["--mode", "rsa", &format!("--rsa-public-key={key}")])
            .args(["encrypt", "--value", "13012345678"]));
        let dec = RsaOaepDecryptor::from_private_key(demo::RSA_PRIVATE_KEY_PEM).unwrap();
        assert_eq!(dec.decrypt(r.stdout.trim()).unwrap(), "13012345678");
    }
}

#[test]
fn encrypt_prints_what_would_be_sent() {
    // The vendor's scheme: a Java JCE vector (AES/ECB/PKCS5Padding, key from MD5 of the OpenID).
    let openid = run(bin().args([
        "--mode",
        "aes",
        "--openid",
        "JH0123456789abcdef0123456789abcd",
        "encrypt",
        "--value",
        "13800000000",
    ]));
    assert_eq!(
        (openid.code, openid.stdout.trim()),
        (0, "4OrXBktLnN8vEvItmH/ZFQ==")
    );
    let aes = run(bin().args([
        "--mode",
        "aes",
        "--aes-key",
        "1234567890abcdef",
        "--aes-mode",
        "cbc",
        "--aes-iv",
        "same-as-key",
        "encrypt",
        "--value",
        "13800138000",
    ]));
    assert_eq!(
        (aes.code, aes.stdout.trim()),
        (0, "ed94IFh2niaJJjw1QLO6vw==")
    );
    let default_mode = run(bin().args([
        "--mode",
        "aes",
        "--aes-key",
        "1234567890abcdef",
        "encrypt",
        "--value",
        "13800138000",
    ]));
    assert_eq!(
        default_mode.stdout.trim(),
        "SWIv9s4D+TR4V5NKBdALRg==",
        "ECB by default"
    );
    let ecb = run(bin().args([
        "--mode",
        "aes",
        "--aes-key",
        "1234567890abcdef",
        "--aes-mode",
        "ecb",
        "encrypt",
        "--value",
        "110101199003077777",
    ]));
    assert_eq!(
        ecb.stdout.trim(),
        "PQjmfarf08QnRhDWb5jGW6iURriOYfHwd7jYzjvazBY="
    );
    let prefix = run(bin().args([
        "--mode",
        "aes",
        "--aes-key",
        demo::AES_KEY,
        "--aes-iv",
        "prefix",
        "encrypt",
        "--value",
        "13012345678",
    ]));
    let config = AesConfig::new(demo::AES_KEY)
        .unwrap()
        .with_mode(AesMode::Cbc)
        .with_iv("prefix".parse().unwrap());
    assert_eq!(
        AesDecryptor::new(config)
            .decrypt(prefix.stdout.trim())
            .unwrap(),
        "13012345678"
    );
    let rsa = run(bin().args([
        "--mode",
        "rsa",
        "--rsa-public-key",
        demo::RSA_PUBLIC_KEY_B64,
        "encrypt",
        "--value",
        "13012345678",
    ]));
    let dec = RsaOaepDecryptor::from_private_key(demo::RSA_PRIVATE_KEY_PEM).unwrap();
    assert_eq!(dec.decrypt(rsa.stdout.trim()).unwrap(), "13012345678");
    let plain = run(bin().args(["encrypt", "--value", "x y"]));
    assert_eq!(plain.stdout.trim(), "x y");
    let bad_key = run(bin().args([
        "--mode",
        "rsa",
        "--rsa-public-key",
        "not-a-key",
        "encrypt",
        "--value",
        "1",
    ]));
    assert_eq!(bad_key.code, 2);
    assert!(
        bad_key
            .stderr
            .starts_with("juhe-2fa: error: --rsa-public-key"),
        "{}",
        bad_key.stderr
    );
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn check_single_and_files() {
    let ok = run(bin().args([
        "--json",
        "check",
        "--idcard",
        " 11010519491231002x ",
        "--mobile",
        "+86 138 0013 8000",
    ]));
    assert_eq!(ok.code, 0);
    let v = json(&ok.stdout);
    assert_eq!(
        keys(&v),
        [
            "line",
            "idcard_valid",
            "idcard_error",
            "mobile_valid",
            "mobile_error",
            "carrier",
            "supported"
        ]
    );
    assert_eq!(
        (v["carrier"].as_str(), v["supported"].as_bool()),
        (Some("mobile"), Some(false))
    );

    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    write(
        &csv,
        &format!(
            "name,IdCard,mobile\nA,{},{}\nB,123,13012345678\nC,{},abc\nD,{}\n",
            demo::MATCH.0,
            demo::MATCH.1,
            demo::MATCH.0,
            demo::MATCH.0
        ),
    );
    let r = run(bin().args(["--json", "check", "--input", csv.to_str().unwrap()]));
    assert_eq!(r.code, 3, "some rows are invalid");
    let lines: Vec<Value> = r.stdout.lines().map(json).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines
            .iter()
            .map(|l| l["line"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(lines[0]["idcard_valid"], true);
    assert_eq!(lines[1]["idcard_valid"], false);
    assert_eq!(
        lines[1]["idcard_error"],
        "ID card number must have 18 characters, got 3"
    );
    assert_eq!(lines[2]["mobile_valid"], false);
    assert_eq!(lines[3]["mobile_valid"], false, "malformed row");

    let jsonl = dir.path().join("in.jsonl");
    write(
        &jsonl,
        &format!(
            "{{\"idcard\":\"{}\",\"mobile\":\"{}\"}}\n\nnot json\n",
            demo::MATCH.0,
            demo::MATCH.1
        ),
    );
    let r = run(bin().args(["--json", "check", "--input", jsonl.to_str().unwrap()]));
    let lines: Vec<Value> = r.stdout.lines().map(json).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (
            lines[0]["idcard_valid"].as_bool(),
            lines[1]["idcard_valid"].as_bool()
        ),
        (Some(true), Some(false))
    );

    let human = run(bin().args(["check", "--input", csv.to_str().unwrap()]));
    assert!(human.stdout.contains("4 rows: 1 valid"), "{}", human.stdout);

    let no_mobile = dir.path().join("nomobile.csv");
    write(&no_mobile, "idcard,phone\n1,2\n");
    let r = run(bin().args(["check", "--input", no_mobile.to_str().unwrap()]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("has no mobile column"), "{}", r.stderr);

    let missing = run(bin().args([
        "check",
        "--input",
        dir.path().join("nope.csv").to_str().unwrap(),
    ]));
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("cannot read"), "{}", missing.stderr);
    let neither = run(bin().args(["check"]));
    assert_eq!(neither.code, 2);
}

#[test]
fn batch_csv_keeps_columns_and_order() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("people.csv");
    write(
        &input,
        &format!(
            "id,idcard,note,mobile\n1,{},\"a, quoted\",{}\n2,{},x,{}\n3,bad,y,{}\n4,{},z\n5,{},w,{}\n6,{},v,{}\n",
            demo::MATCH.0,
            demo::MATCH.1,
            demo::MISMATCH.0,
            demo::MISMATCH.1,
            demo::MATCH.1,
            demo::MATCH.0,
            demo::NO_RECORD.0,
            demo::NO_RECORD.1,
            demo::NON_UNICOM.0,
            demo::NON_UNICOM.1,
        ),
    );
    let output = dir.path().join("out.csv");
    let r = run(client(&sb).args([
        "batch",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("6 rows"), "{}", r.stderr);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&output)
        .unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
            "id",
            "idcard",
            "note",
            "mobile",
            "status",
            "res",
            "order_id",
            "error_code",
            "reason"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(
        rows.iter().map(|r| r[0].to_owned()).collect::<Vec<_>>(),
        ["1", "2", "3", "4", "5", "6"]
    );
    assert_eq!(&rows[0][2], "a, quoted");
    assert_eq!((&rows[0][4], &rows[0][5]), ("match", "1"));
    assert!(rows[0][6].starts_with("JH"));
    assert_eq!((&rows[1][4], &rows[1][5]), ("mismatch", "2"));
    assert_eq!(&rows[2][4], "rejected");
    assert_eq!(&rows[3][4], "rejected", "malformed row: {:?}", rows[3]);
    assert_eq!((&rows[4][4], &rows[4][7]), ("api_error", "232904"));
    assert_eq!((&rows[5][4], &rows[5][7]), ("api_error", "232903"));
    assert_eq!(sb.stats().requests, 4, "rejected rows are not sent");

    // A rerun sends nothing and writes the same output.
    let first = std::fs::read_to_string(&output).unwrap();
    let again = run(client(&sb).args([
        "batch",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]));
    assert_eq!(again.code, 0);
    assert_eq!(sb.stats().requests, 4);
    assert_eq!(std::fs::read_to_string(&output).unwrap(), first);

    let journal = dir.path().join("out.csv.journal");
    let report = run(bin().args(["batch", "--report", journal.to_str().unwrap()]));
    assert_eq!(report.code, 0);
    assert_eq!(
        report.stdout.lines().count(),
        3,
        "header + 2 order ids: {}",
        report.stdout
    );
    assert!(report.stdout.contains(&rows[0][6]));
}

#[test]
fn batch_jsonl_and_json_summary() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    write(
        &input,
        &format!(
            "{{\"ref\":\"r1\",\"idcard\":\"{}\",\"mobile\":\"{}\"}}\n[1]\n{{\"ref\":\"r3\",\"idcard\":\"{}\",\"mobile\":{}}}\n",
            demo::MATCH.0,
            demo::MATCH.1,
            demo::MISMATCH.0,
            demo::MISMATCH.1
        ),
    );
    let output = dir.path().join("out.jsonl");
    let journal = dir.path().join("j.sqlite");
    let r = run(client(&sb).args([
        "--json",
        "batch",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--concurrency",
        "2",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let summary = json(&r.stdout);
    assert_eq!(summary["rows"], 3);
    assert_eq!(summary["billable"], 2);
    let lines: Vec<Value> = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .map(json)
        .collect();
    assert_eq!(
        keys(&lines[0]),
        [
            "ref",
            "idcard",
            "mobile",
            "status",
            "res",
            "order_id",
            "error_code",
            "reason"
        ]
    );
    assert_eq!(lines[0]["status"], "match");
    assert_eq!(
        (lines[1]["input"].as_str(), lines[1]["status"].as_str()),
        (Some("[1]"), Some("rejected"))
    );
    assert_eq!(lines[2]["status"], "mismatch");
}

#[test]
fn batch_refuses_a_journal_from_another_input() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (a, b, out) = (
        dir.path().join("a.csv"),
        dir.path().join("b.csv"),
        dir.path().join("out.csv"),
    );
    write(
        &a,
        &format!("idcard,mobile\n{},{}\n", demo::MATCH.0, demo::MATCH.1),
    );
    write(
        &b,
        &format!("idcard,mobile\n{},{}\n", demo::MISMATCH.0, demo::MISMATCH.1),
    );
    assert_eq!(
        run(client(&sb).args([
            "batch",
            "--input",
            a.to_str().unwrap(),
            "--output",
            out.to_str().unwrap()
        ]))
        .code,
        0
    );
    let r = run(client(&sb).args([
        "batch",
        "--input",
        b.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("another input"), "{}", r.stderr);
}

#[test]
fn batch_survives_sigkill_and_never_bills_a_row_twice() {
    let sb = Sandbox::builder()
        .default_verdict(juhe_sandbox::DefaultVerdict::Hash)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.csv");
    let all = pairs(6000);
    let mut text = String::from("n,idcard,mobile\n");
    for (i, (id, m)) in all.iter().enumerate() {
        text.push_str(&format!("{i},{id},{m}\n"));
    }
    write(&input, &text);
    let output = dir.path().join("big.out.csv");
    let args = |extra: &[&str]| {
        let mut cmd = client(&sb);
        cmd.args([
            "batch",
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
            "--qps",
            "2000",
            "--concurrency",
            "8",
        ]);
        cmd.args(extra);
        cmd
    };
    let mut child = args(&[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it is well under way.
    let started = std::time::Instant::now();
    while sb.stats().requests < 1500 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let sent_before = sb.stats().requests;
    assert!(
        sent_before > 0 && sent_before < 6000,
        "killed mid-run after {sent_before} requests"
    );
    assert!(!output.exists(), "no partial output under the final name");

    let rerun = run(&mut args(&[]));
    assert!(rerun.code == 0 || rerun.code == 5, "{}", rerun.stderr);
    assert_eq!(
        sb.pairs_billed_more_than_once(),
        0,
        "no row with a final result was sent twice"
    );
    let mut reader = csv::Reader::from_path(&output).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 6000, "every row exactly once");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0].parse::<usize>().unwrap(), i, "in input order");
        assert!(
            ["match", "mismatch", "unknown"].contains(&&row[3]),
            "{row:?}"
        );
    }
    let unknown = rows.iter().filter(|r| &r[3] == "unknown").count();
    assert!(
        unknown <= 8,
        "only rows in flight at the kill are unknown: {unknown}"
    );
    assert_eq!(rerun.code, if unknown == 0 { 0 } else { 5 });

    // Opting in resends exactly the unknown rows.
    let before = sb.stats().requests;
    let last = run(&mut args(&["--retry-ambiguous"]));
    assert_eq!(last.code, 0, "{}", last.stderr);
    assert_eq!(sb.stats().requests - before, unknown as u64);
    let rows: Vec<csv::StringRecord> = csv::Reader::from_path(&output)
        .unwrap()
        .records()
        .map(Result::unwrap)
        .collect();
    assert!(rows.iter().all(|r| &r[3] == "match" || &r[3] == "mismatch"));
}

#[test]
fn sandbox_command_serves_until_sigterm() {
    let mut child = bin()
        .args(["sandbox", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{first}");
    let rest: Vec<String> = lines.by_ref().take(5).map(Result::unwrap).collect();
    assert!(rest[0].contains(demo::API_KEY), "{rest:?}");
    let r = run(bin()
        .args([
            "--base-url",
            &url,
            "--key",
            demo::API_KEY,
            "--mode",
            "aes",
            "--openid",
            demo::OPENID,
        ])
        .args(VERIFY_MATCH));
    assert_eq!(r.code, 0, "{}", r.stderr);
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(wait_at_most(&mut child, 20).code(), Some(0));
}

#[test]
fn sandbox_command_with_files() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = dir.path().join("f.csv");
    write(
        &fixtures,
        &format!(
            "idcard,mobile,outcome\n{},{},mismatch\n",
            demo::MATCH.0,
            demo::MATCH.1
        ),
    );
    let faults = dir.path().join("faults.toml");
    write(&faults, "sequence = [{ error_code = 10020 }]\n");
    let mut child = bin()
        .args([
            "sandbox",
            "--addr",
            "127.0.0.1:0",
            "--key",
            "k1",
            "--fixtures",
            fixtures.to_str().unwrap(),
            "--faults",
            faults.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let first = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let url = first.rsplit(' ').next().unwrap().to_owned();
    let verify = |key: &str| {
        run(bin()
            .args(["--base-url", &url, "--key", key, "--retries", "0", "--json"])
            .args(VERIFY_MATCH))
    };
    assert_eq!(
        json(&verify("k1").stdout)["error"]["code"],
        10020,
        "the fault plan"
    );
    assert_eq!(verify("k1").code, 1, "the fixture says mismatch");
    assert_eq!(
        verify(demo::API_KEY).code,
        1,
        "--key adds to the demo key (answered: the fixture says mismatch)"
    );
    child.kill().unwrap();
    child.wait().unwrap();

    // A file that is not a fixture table must stop the sandbox at once, not start it empty.
    let mut bad = bin()
        .args([
            "sandbox",
            "--addr",
            "127.0.0.1:0",
            "--fixtures",
            faults.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert_eq!(wait_at_most(&mut bad, 20).code(), Some(2));
}

/// Waits for a child, killing it (and failing) after `seconds`: a regression must not hang CI.
fn wait_at_most(child: &mut std::process::Child, seconds: u64) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > Duration::from_secs(seconds) {
            child.kill().unwrap();
            panic!("the process did not exit within {seconds} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn demo_runs_offline() {
    let r = run(bin().arg("demo"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for mode in ["plain", "aes", "rsa"] {
        assert_eq!(
            r.stdout.lines().filter(|l| l.starts_with(mode)).count(),
            2,
            "{}",
            r.stdout
        );
    }
    assert!(r.stdout.contains("6 requests, 6 billed"));
}
