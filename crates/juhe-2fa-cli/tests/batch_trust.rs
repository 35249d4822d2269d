//! `batch` with money at stake: account-level errors stop the job and a fixed rerun resumes;
//! gateway errors are never resent as "unbilled".

use std::path::Path;
use std::process::{Command, Stdio};

use assert_cmd::cargo::CommandCargoExt;
use juhe_2fa::ErrorCode;
use juhe_sandbox::{BlockingSandbox, DefaultVerdict, Fault, FaultPlan, Sandbox, demo};
use serde_json::Value;

fn bin() -> Command {
    let mut cmd = Command::cargo_bin("juhe-2fa").unwrap();
    for var in [
        "JUHE_KEY",
        "JUHE_BASE_URL",
        "JUHE_MODE",
        "JUHE_OPENID",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// `n` valid Unicom pairs.
fn pairs(n: usize) -> Vec<(String, String)> {
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    (0..n)
        .map(|i| {
            let first17 = format!(
                "1101051990{:02}{:02}{:03}",
                1 + i % 12,
                1 + (i / 12) % 28,
                i % 1000
            );
            let sum: u32 = first17
                .bytes()
                .zip(weights)
                .map(|(b, w)| u32::from(b - b'0') * w)
                .sum();
            let id = format!("{first17}{}", b"10X98765432"[(sum % 11) as usize] as char);
            (id, format!("130{i:08}"))
        })
        .collect()
}

fn csv(path: &Path, rows: &[(String, String)]) {
    let mut text = String::from("idcard,mobile\n");
    for (i, m) in rows {
        text.push_str(&format!("{i},{m}\n"));
    }
    std::fs::write(path, text).unwrap();
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn batch(sb: &BlockingSandbox, key: &str, input: &Path, output: &Path, extra: &[&str]) -> Run {
    let out = bin()
        .args([
            "--base-url",
            &sb.base_url(),
            "--key",
            key,
            "--retries",
            "0",
            "--json",
        ])
        .args([
            "batch",
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ])
        .args(extra)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn summary(run: &Run) -> Value {
    serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {} {}", run.stdout, run.stderr))
}

#[test]
fn a_wrong_key_stops_the_job_and_the_fixed_rerun_resumes() {
    let sb = Sandbox::builder()
        .default_verdict(DefaultVerdict::Hash)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    csv(&input, &pairs(200));

    let wrong = batch(&sb, "not-the-key", &input, &output, &["--concurrency", "4"]);
    assert_eq!(wrong.code, 4, "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains("the job stopped") && wrong.stderr.contains("10001"),
        "{}",
        wrong.stderr
    );
    assert!(
        summary(&wrong)["stopped"]
            .as_str()
            .unwrap()
            .contains("10001")
    );
    let sent = sb.stats().requests;
    assert!(
        sent <= 8,
        "stops after the first: {sent} requests for 200 rows"
    );
    assert!(!output.exists(), "no partial output is left as if complete");

    let right = batch(&sb, demo::API_KEY, &input, &output, &[]);
    assert_eq!(right.code, 0, "{}", right.stderr);
    let s = summary(&right);
    assert_eq!(
        (s["rows"].as_u64(), s["billable"].as_u64()),
        (Some(200), Some(200))
    );
    assert_eq!(sb.stats().billed, 200);
    assert_eq!(sb.pairs_billed_more_than_once(), 0);
    let text = std::fs::read_to_string(&output).unwrap();
    assert_eq!(text.lines().count(), 201);
    assert!(
        !text.contains("api_error"),
        "no row was finalised with the account error"
    );
}

#[test]
fn gateway_errors_are_unknown_and_not_resent_unbilled_ones_are() {
    // Row 1: a 504 after the backend billed. Row 2: 10014, surely unbilled. Row 3: a 503.
    let plan = FaultPlan::new()
        .then(Fault::HttpStatus(504))
        .then(Fault::ErrorCode(ErrorCode::InternalError))
        .then(Fault::HttpStatus(503));
    let sb = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .faults(plan)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    csv(&input, &pairs(3));
    let first = batch(&sb, demo::API_KEY, &input, &output, &["--concurrency", "1"]);
    assert_eq!(first.code, 5, "{}", first.stderr);
    let s = summary(&first);
    assert_eq!(
        (
            s["by_status"]["unknown"].as_u64(),
            s["by_status"]["failed"].as_u64()
        ),
        (Some(1), Some(2)),
        "{s}"
    );
    assert_eq!(sb.stats().billed, 1, "the 504 came after billing");

    let second = batch(&sb, demo::API_KEY, &input, &output, &[]);
    assert_eq!(
        second.code, 5,
        "the unknown row stays unknown: {}",
        second.stderr
    );
    assert_eq!(
        sb.stats().billed,
        3,
        "only the two unbilled rows were sent again"
    );
    assert_eq!(sb.pairs_billed_more_than_once(), 0);

    let third = batch(&sb, demo::API_KEY, &input, &output, &["--retry-ambiguous"]);
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert_eq!(
        sb.pairs_billed_more_than_once(),
        1,
        "--retry-ambiguous resends, knowingly"
    );
}
