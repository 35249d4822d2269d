//! `doctor` against sandboxes set up with each AES scheme, and the OpenID as a secret.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

mod common;

use common::bin;
use juhe_crypto::{AesConfig, AesDecryptor, AesMode, FieldDecryptor, IvPolicy};
use juhe_sandbox::{BlockingSandbox, Sandbox, SandboxBuilder, demo};
use serde_json::Value;

const OPENID: &str = "JH7c0ffee5a1d9b3e2f40112358132134";

fn doctor(sb: &BlockingSandbox, flags: &[&str], pair: (&str, &str)) -> (i32, Value, String) {
    let out = bin()
        .args([
            "--base-url",
            &sb.base_url(),
            "--key",
            demo::API_KEY,
            "--json",
        ])
        .args(flags)
        .args(["doctor", "--idcard", pair.0, "--mobile", pair.1, "--yes"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let json = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout} / {stderr}"));
    (out.status.code().unwrap(), json, stderr)
}

fn aes(key: AesConfig, mode: AesMode, iv: IvPolicy) -> SandboxBuilder {
    Sandbox::builder().aes(Some(key.with_mode(mode).with_iv(iv)))
}

#[test]
fn finds_each_scheme_in_announced_calls_with_one_billed() {
    let openid_key = || AesConfig::from_openid(OPENID).unwrap();
    let literal = || AesConfig::new(demo::AES_KEY).unwrap();
    let openid_flags: &[&str] = &["--mode", "aes", "--openid", OPENID];
    let literal_flags: &[&str] = &["--mode", "aes", "--aes-key", demo::AES_KEY];
    let cases = [
        (
            Sandbox::builder().openid(OPENID).unwrap(),
            openid_flags,
            "openid/ecb",
            1,
        ),
        (
            aes(openid_key(), AesMode::Cbc, IvPolicy::SameAsKey),
            openid_flags,
            "openid/cbc-same-as-key",
            2,
        ),
        (
            aes(openid_key(), AesMode::Cbc, IvPolicy::Zero),
            openid_flags,
            "openid/cbc-zero",
            3,
        ),
        (
            aes(literal(), AesMode::Cbc, IvPolicy::SameAsKey),
            literal_flags,
            "aes-key/cbc-same-as-key",
            2,
        ),
    ];
    for (builder, flags, scheme, calls) in cases {
        let sb = builder.spawn_blocking().unwrap();
        let (code, out, stderr) = doctor(&sb, flags, demo::MATCH);
        assert_eq!(code, 0, "{scheme}: {out} {stderr}");
        assert_eq!(out["scheme"], scheme, "{out}");
        assert_eq!(out["calls"], calls, "{out}");
        assert_eq!(out["max_calls"], 3);
        assert!(stderr.contains("at most 3 check(s)"), "{stderr}");
        assert_eq!(
            sb.stats().requests,
            calls,
            "the sandbox saw exactly the calls reported"
        );
        assert_eq!(sb.stats().billed, 1, "stops at the first billed answer");
        assert_eq!(out["billed"], true);
        assert!(
            !out.to_string().contains(OPENID),
            "the OpenID is never printed"
        );
        assert!(
            !out.to_string().contains(demo::MATCH.0),
            "numbers are masked"
        );
    }
}

#[test]
fn both_key_sources_are_tried_and_an_unbilled_answer_also_settles_it() {
    // The sandbox uses the literal key; doctor tries the OpenID's three schemes first.
    let sb = aes(
        AesConfig::new(demo::AES_KEY).unwrap(),
        AesMode::Ecb,
        IvPolicy::Zero,
    )
    .spawn_blocking()
    .unwrap();
    let flags = [
        "--mode",
        "aes",
        "--openid",
        OPENID,
        "--aes-key",
        demo::AES_KEY,
    ];
    let (code, out, _) = doctor(&sb, &flags, demo::NO_RECORD);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["max_calls"], 6);
    assert_eq!(
        (out["scheme"].as_str(), out["calls"].as_u64()),
        (Some("aes-key/ecb"), Some(4))
    );
    assert_eq!(
        out["billed"], false,
        "232904 is not billed but proves decryption worked"
    );
    assert_eq!(sb.stats().billed, 0);
}

#[test]
fn no_scheme_wrong_key_rsa_and_plain() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let (code, out, _) = doctor(
        &sb,
        &["--mode", "aes", "--openid", "JHnot-this-one"],
        demo::MATCH,
    );
    assert_eq!(
        (code, out["calls"].as_u64(), out["scheme"].is_null()),
        (4, Some(3), true),
        "{out}"
    );
    assert_eq!(sb.stats().billed, 0);

    let out = bin()
        .args([
            "--base-url",
            &sb.base_url(),
            "--key",
            "wrong",
            "--mode",
            "aes",
        ])
        .args(["--openid", demo::OPENID, "doctor", "--yes"])
        .args(["--idcard", demo::MATCH.0, "--mobile", demo::MATCH.1])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(text.contains("refused") && text.contains("10001"), "{text}");
    assert!(text.contains("1 of at most 3"), "stops at once: {text}");

    let (code, out, _) = doctor(
        &sb,
        &[
            "--mode",
            "rsa",
            "--rsa-public-key",
            demo::RSA_PUBLIC_KEY_PEM,
        ],
        demo::MISMATCH,
    );
    assert_eq!(
        (code, out["rsa_key_bits"].as_u64()),
        (0, Some(2048)),
        "{out}"
    );
    assert_eq!(out["scheme"], "rsa");
    let (code, out, _) = doctor(&sb, &[], demo::MATCH);
    assert_eq!(
        (code, out["scheme"].as_str(), out["calls"].as_u64()),
        (0, Some("plain"), Some(1))
    );
    assert!(out["clock_skew_s"].as_i64().unwrap().abs() < 5, "{out}");
}

#[test]
fn refuses_without_a_terminal_unless_yes_and_sends_nothing() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let out = bin()
        .args(["--base-url", &sb.base_url(), "--key", demo::API_KEY])
        .args(["--mode", "aes", "--openid", demo::OPENID, "doctor"])
        .args(["--idcard", demo::MATCH.0, "--mobile", demo::MATCH.1])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--yes") && stderr.contains("at most 3"),
        "{stderr}"
    );
    assert_eq!(sb.stats().requests, 0);

    let bad = bin()
        .args([
            "--base-url",
            &sb.base_url(),
            "--key",
            demo::API_KEY,
            "doctor",
            "--yes",
        ])
        .args(["--idcard", "110105199003071238", "--mobile", demo::MATCH.1])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(3), "rejected locally");
    assert_eq!(sb.stats().requests, 0);
}

#[test]
fn the_openid_never_appears_in_any_output() {
    let sb = Sandbox::builder()
        .openid(OPENID)
        .unwrap()
        .spawn_blocking()
        .unwrap();
    let base = [
        "--base-url".to_owned(),
        sb.base_url(),
        "--key".into(),
        demo::API_KEY.into(),
    ];
    let runs: Vec<Vec<&str>> = vec![
        vec!["-vv", "--transport", "async", "verify"],
        vec![
            "-vv",
            "--transport",
            "blocking",
            "--method",
            "get",
            "verify",
        ],
        vec!["-vv", "--json", "verify"],
        vec!["-vv", "doctor", "--yes"],
        vec!["-vv", "--json", "doctor", "--yes"],
    ];
    for args in &runs {
        for env_openid in [false, true] {
            let mut cmd = bin();
            cmd.args(&base)
                .args(["--mode", "aes"])
                .env("RUST_LOG", "trace");
            if env_openid {
                cmd.env("JUHE_OPENID", OPENID);
            } else {
                cmd.args(["--openid", OPENID]);
            }
            let out = cmd
                .args(args)
                .args(["--idcard", demo::MATCH.0, "--mobile", demo::MATCH.1])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{args:?}");
            for stream in [&out.stdout, &out.stderr] {
                let text = String::from_utf8_lossy(stream);
                assert!(
                    !text.contains(OPENID),
                    "{args:?} printed the OpenID: {text}"
                );
                assert!(!text.contains(&OPENID[2..14]), "{args:?}: {text}");
            }
        }
    }
    let help = bin()
        .env("JUHE_OPENID", OPENID)
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--openid") && !help.contains(OPENID),
        "{help}"
    );

    // The sandbox started with a user's OpenID says so without showing it.
    let mut child = bin()
        .args(["sandbox", "--addr", "127.0.0.1:0", "--openid", OPENID])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines: Vec<String> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .take(4)
        .map(Result::unwrap)
        .collect();
    child.kill().unwrap();
    child.wait().unwrap();
    let text = lines.join("\n");
    assert!(
        text.contains("your OpenID") && !text.contains(OPENID),
        "{text}"
    );
}

#[test]
fn what_the_cli_sends_decrypts_with_the_openid_key() {
    let out = bin()
        .args([
            "--mode",
            "aes",
            "--openid",
            OPENID,
            "encrypt",
            "--value",
            "110105199003071239",
        ])
        .output()
        .unwrap();
    let sent = String::from_utf8(out.stdout).unwrap();
    let dec = AesDecryptor::new(AesConfig::from_openid(OPENID).unwrap());
    assert_eq!(dec.decrypt(sent.trim()).unwrap(), "110105199003071239");
}

/// doctor never takes an answer from the fleet's shared answers: with `JUHE_REDIS_URL` in the
/// environment (accepted, and said in the plan) and a wrong OpenID it must send and find that
/// nothing is accepted, even though a right answer for the pair is cached. The `--redis` flag
/// is refused before anything is sent (doctor would ignore it).
#[test]
fn sends_every_check_even_with_a_fleet_cache() {
    use juhe_sandbox::RedisServer;
    let redis = RedisServer::start().unwrap();
    let sb = Sandbox::builder()
        .openid(OPENID)
        .unwrap()
        .spawn_blocking()
        .unwrap();
    let (idcard, mobile) = demo::MATCH;
    // A right answer for the pair, kept in Redis for ten minutes.
    let cached = bin()
        .args(["--base-url", &sb.base_url(), "--key", demo::API_KEY])
        .args(["--mode", "aes", "--openid", OPENID])
        .args(["--redis", &redis.url(), "--dedupe-ttl", "600"])
        .args(["verify", "--idcard", idcard, "--mobile", mobile])
        .output()
        .unwrap();
    assert_eq!(
        cached.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&cached.stderr)
    );
    let before = sb.stats().requests;
    let doctor = || {
        let mut cmd = bin();
        cmd.args([
            "--base-url",
            &sb.base_url(),
            "--key",
            demo::API_KEY,
            "--json",
        ])
        .args(["--mode", "aes", "--openid", "JHnot-this-one"])
        .args(["doctor", "--yes", "--idcard", idcard, "--mobile", mobile]);
        cmd
    };
    let flag = doctor().args(["--redis", &redis.url()]).output().unwrap();
    assert_eq!(flag.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&flag.stderr).contains("--redis does not apply to `doctor`"),
        "{}",
        String::from_utf8_lossy(&flag.stderr)
    );
    assert_eq!(sb.stats().requests, before, "a refused flag sends nothing");

    let out = doctor()
        .env("JUHE_REDIS_URL", redis.url())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        (
            out.status.code(),
            json["calls"].as_u64(),
            json["scheme"].is_null()
        ),
        (Some(4), Some(3), true),
        "no scheme is accepted with a wrong OpenID: {json}"
    );
    assert_eq!(json["billed"], false, "{json}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("JUHE_REDIS_URL is not used"),
        "the plan says so"
    );
    assert_eq!(sb.stats().requests, before + 3, "every check was sent");
}

/// An answer that came back cut short may have been billed: `billed: "maybe"`, never `false`.
#[test]
fn a_truncated_answer_is_reported_maybe_billed() {
    use juhe_sandbox::{Fault, FaultPlan};
    let sb = Sandbox::builder()
        .faults(FaultPlan::new().then(Fault::TruncatedJson))
        .spawn_blocking()
        .unwrap();
    let (code, out, _) = doctor(&sb, &[], demo::MATCH);
    assert_eq!((code, out["calls"].as_u64()), (5, Some(1)), "{out}");
    assert_eq!(out["billed"], "maybe", "{out}");
    assert_eq!(out["attempts"][0]["billed"], "maybe", "{out}");
    assert!(
        out["conclusion"]
            .as_str()
            .unwrap()
            .contains("may have been billed"),
        "{out}"
    );
    assert_eq!(sb.stats().billed, 1, "the sandbox did bill it");
}

/// The configuration is checked whole before the plan and the question: a base URL the client
/// refuses is a usage error at once, and credentials in it are never printed.
#[test]
fn the_configuration_is_checked_before_asking_and_credentials_never_printed() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let port = sb.base_url().rsplit(':').next().unwrap().to_owned();
    let with_password = format!("http://user:s3cret-pw@127.0.0.1:{port}");
    for (base_url, yes) in [
        (with_password.as_str(), false),
        (with_password.as_str(), true),
        ("ftp://127.0.0.1:1", true),
    ] {
        let mut cmd = bin();
        cmd.args(["--base-url", base_url, "--key", demo::API_KEY, "doctor"])
            .args(["--idcard", demo::MATCH.0, "--mobile", demo::MATCH.1]);
        if yes {
            cmd.arg("--yes");
        }
        let out = cmd.output().unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(2), "{base_url}: {all}");
        assert!(all.contains("base URL"), "{all}");
        assert!(
            !all.contains("doctor will send"),
            "no plan before the check: {all}"
        );
        assert!(!all.contains("s3cret-pw"), "{all}");
    }
    assert_eq!(sb.stats().requests, 0);
}
