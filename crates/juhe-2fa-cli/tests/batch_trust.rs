//! `batch` with money at stake: account-level errors stop the job and a fixed rerun resumes;
//! gateway errors are never resent as "unbilled".

use std::path::Path;
use std::process::{Command, Stdio};

mod common;

use common::{Run, batch_cmd, bin, pairs, run, wait_at_most, write_csv};
use juhe_2fa::ErrorCode;
use juhe_sandbox::{BlockingSandbox, DefaultVerdict, Fault, FaultPlan, Sandbox, demo};
use serde_json::Value;

fn batch(sb: &BlockingSandbox, key: &str, input: &Path, output: &Path, extra: &[&str]) -> Run {
    let global = ["--retries", "0", "--json"];
    run(batch_cmd(&sb.base_url(), key, &global, input, output).args(extra))
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
    write_csv(&input, &pairs(200));

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
    write_csv(&input, &pairs(3));
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

fn spawn_batch(
    sb: &BlockingSandbox,
    input: &Path,
    output: &Path,
    extra: &[&str],
) -> std::process::Child {
    batch_cmd(
        &sb.base_url(),
        demo::API_KEY,
        &["--retries", "0"],
        input,
        output,
    )
    .args(extra)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap()
}

fn slow_sandbox(rows: usize, delay_ms: u64) -> BlockingSandbox {
    Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .faults(FaultPlan::new().then_times(Fault::DelayMs(delay_ms), rows))
        .spawn_blocking()
        .unwrap()
}

#[test]
fn a_second_run_on_the_same_journal_is_refused_at_once() {
    let sb = slow_sandbox(10, 150);
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    write_csv(&input, &pairs(10));
    let first = spawn_batch(&sb, &input, &output, &["--concurrency", "1"]);
    let pid = first.id();
    let lock = dir.path().join("out.csv.journal.lock");
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.contains("pid")) {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let second = batch(&sb, demo::API_KEY, &input, &output, &[]);
    assert_eq!(second.code, 2, "{}", second.stderr);
    assert!(
        second.stderr.contains("in use by another batch run")
            && second.stderr.contains(&format!("pid {pid}")),
        "{}",
        second.stderr
    );
    let first = wait_at_most(first, 30);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(
        (sb.stats().billed, sb.pairs_billed_more_than_once()),
        (10, 0)
    );
    assert_eq!(
        std::fs::read_to_string(&output).unwrap().lines().count(),
        11
    );
    // The lock file left behind by a finished (or killed) run is taken over.
    assert!(lock.exists());
    let again = batch(&sb, demo::API_KEY, &input, &output, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
}

#[test]
fn sigint_drains_in_flight_rows_and_the_rerun_finishes() {
    let sb = slow_sandbox(40, 200);
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    write_csv(&input, &pairs(40));
    let child = spawn_batch(&sb, &input, &output, &["--concurrency", "4"]);
    while sb.stats().requests < 4 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let run = wait_at_most(child, 20);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr.contains("stopping") && run.stderr.contains("interrupted"),
        "{}",
        run.stderr
    );
    let sent = sb.stats().requests;
    assert!(sent < 40, "stopped sending: {sent}");
    assert_eq!(
        sb.stats().billed,
        sent,
        "every request in flight was answered and recorded"
    );
    let rerun = batch(&sb, demo::API_KEY, &input, &output, &[]);
    assert_eq!(
        rerun.code, 0,
        "nothing was left `unknown`: {}",
        rerun.stderr
    );
    assert_eq!(
        (sb.stats().billed, sb.pairs_billed_more_than_once()),
        (40, 0)
    );
}

#[test]
fn files_are_private_and_digests_salted_per_job() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    write_csv(&input, &pairs(2));
    let mut digests = Vec::new();
    for name in ["a.csv", "b.csv"] {
        let output = dir.path().join(name);
        assert_eq!(batch(&sb, demo::API_KEY, &input, &output, &[]).code, 0);
        let journal = dir.path().join(format!("{name}.journal"));
        for file in [&output, &journal] {
            let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
        let conn = rusqlite_pair(&journal);
        digests.push(conn);
    }
    assert_ne!(
        digests[0], digests[1],
        "the same pair has another digest in another job"
    );
}

/// The pair digest of row 1, read with the sqlite3-free route: the journal's own report has no
/// digests, so read the file with SQLite through the `batch --report` JSON is not enough.
fn rusqlite_pair(journal: &Path) -> i64 {
    let conn = rusqlite::Connection::open(journal).unwrap();
    conn.query_row("SELECT pair FROM rows WHERE row = 1", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn path_guards_compare_files_not_strings() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("same.csv");
    write_csv(&input, &pairs(1));
    let before = std::fs::read_to_string(&input).unwrap();
    let dotted = dir.path().join(".").join("same.csv");
    let r = batch(&sb, demo::API_KEY, &input, &dotted, &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let out = dir.path().join("out.csv");
    let r = batch(
        &sb,
        demo::API_KEY,
        &input,
        &out,
        &["--journal", out.to_str().unwrap()],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = batch(&sb, demo::API_KEY, &input, dir.path(), &[]);
    assert_eq!(r.code, 2, "a directory as output: {}", r.stderr);
    assert_eq!(std::fs::read_to_string(&input).unwrap(), before);
    assert_eq!(sb.stats().requests, 0, "found before anything was sent");
}

#[test]
fn a_fixed_rejected_row_is_checked_without_resending_the_rest() {
    let sb = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    let mut rows = pairs(3);
    let good = rows[1].clone();
    rows[1]
        .0
        .replace_range(17..18, if good.0.ends_with('0') { "1" } else { "0" });
    write_csv(&input, &rows);
    let first = batch(&sb, demo::API_KEY, &input, &output, &[]);
    assert_eq!(
        summary(&first)["by_status"]["rejected"],
        1,
        "{}",
        first.stdout
    );
    assert_eq!(sb.stats().requests, 2);
    rows[1] = good;
    write_csv(&input, &rows);
    let second = batch(&sb, demo::API_KEY, &input, &output, &[]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(sb.stats().requests, 3, "only the fixed row was sent");
    // A row that was sent may not change.
    rows[0] = pairs(4)[3].clone();
    write_csv(&input, &rows);
    let third = batch(&sb, demo::API_KEY, &input, &output, &[]);
    assert_eq!(third.code, 2, "{}", third.stderr);
}

#[test]
fn key_file_and_key_from_stdin() {
    use std::io::Write;
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, format!("{}\n", demo::API_KEY)).unwrap();
    let verify = [
        "verify",
        "--idcard",
        demo::MATCH.0,
        "--mobile",
        demo::MATCH.1,
    ];
    let from_file = bin()
        .args([
            "--base-url",
            &sb.base_url(),
            "--key-file",
            key_file.to_str().unwrap(),
        ])
        .args(verify)
        .output()
        .unwrap();
    assert_eq!(
        from_file.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&from_file.stderr)
    );
    let mut child = bin()
        .args(["--base-url", &sb.base_url(), "--key", "-"])
        .args(verify)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{}", demo::API_KEY).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let help = bin().arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("`ps`"));
}

#[test]
fn a_repeated_pair_is_sent_once_unless_asked() {
    let sb = Sandbox::builder()
        .default_verdict(DefaultVerdict::Hash)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    let distinct = pairs(5);
    // Each pair four times, interleaved so copies are in flight together.
    let rows: Vec<(String, String)> = (0..4).flat_map(|_| distinct.clone()).collect();
    write_csv(&input, &rows);
    let run = batch(&sb, demo::API_KEY, &input, &output, &["--concurrency", "8"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s = summary(&run);
    assert_eq!(
        (s["rows"].as_u64(), s["duplicates"].as_u64()),
        (Some(20), Some(15)),
        "{s}"
    );
    assert_eq!(sb.stats().requests, 5, "each pair sent once");
    assert_eq!(sb.pairs_billed_more_than_once(), 0);
    let out = std::fs::read_to_string(&output).unwrap();
    let lines: Vec<&str> = out.lines().skip(1).collect();
    for (i, line) in lines.iter().enumerate() {
        let order = line.split(',').nth(4).unwrap();
        let first = lines[i % 5].split(',').nth(4).unwrap();
        assert_eq!(
            order,
            first,
            "row {} carries the first row's order id",
            i + 1
        );
    }
    assert!(lines[7].contains("same pair as row 3"), "{}", lines[7]);

    let output2 = dir.path().join("out2.csv");
    let all = batch(&sb, demo::API_KEY, &input, &output2, &["--no-dedupe"]);
    assert_eq!(all.code, 0);
    assert_eq!(sb.stats().requests, 25, "--no-dedupe sends every row");
}
