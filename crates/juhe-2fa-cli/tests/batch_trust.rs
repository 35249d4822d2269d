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

/// Waits (at most 30 s) until the sandbox has received `n` requests: the run is under way.
fn wait_for_requests(sb: &BlockingSandbox, n: u64) {
    let started = std::time::Instant::now();
    while sb.stats().requests < n {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the first run never started sending"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn a_second_run_on_the_same_journal_is_refused_at_once() {
    let sb = slow_sandbox(10, 150);
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    write_csv(&input, &pairs(10));
    let first = spawn_batch(&sb, &input, &output, &["--concurrency", "1"]);
    let pid = first.id();
    wait_for_requests(&sb, 1);
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
    // The lock dies with the run that held it (even killed): the next run takes it.
    let again = batch(&sb, demo::API_KEY, &input, &output, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
}

/// The lock belongs to the journal file, not to its path: a run that reaches a journal in use
/// through a symbolic link or a hard link (with its own --output) is refused, naming the
/// holder, and no pair is billed twice.
#[test]
fn a_journal_in_use_is_refused_through_any_link() {
    let rows = 40;
    let sb = slow_sandbox(rows, 100);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    write_csv(&input, &pairs(rows));
    let journal = dir.path().join("job.db");
    let first = spawn_batch(
        &sb,
        &input,
        &dir.path().join("out.csv"),
        &["--concurrency", "2", "--journal", journal.to_str().unwrap()],
    );
    let pid = first.id();
    wait_for_requests(&sb, 1);
    let symlink = dir.path().join("link.db");
    std::os::unix::fs::symlink(&journal, &symlink).unwrap();
    let hard = dir.path().join("sub").join("hard.db");
    std::fs::create_dir(hard.parent().unwrap()).unwrap();
    std::fs::hard_link(&journal, &hard).unwrap();
    for (link, out) in [(&symlink, "out2.csv"), (&hard, "out3.csv")] {
        let output = dir.path().join(out);
        let journal_flag = ["--journal", link.to_str().unwrap()];
        let second = batch(&sb, demo::API_KEY, &input, &output, &journal_flag);
        assert_eq!(second.code, 2, "{}: {}", link.display(), second.stderr);
        assert!(
            second.stderr.contains("in use by another batch run")
                && second.stderr.contains(&format!("pid {pid}")),
            "{}",
            second.stderr
        );
        assert!(!output.exists());
    }
    let first = wait_at_most(first, 60);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(
        (sb.stats().requests, sb.pairs_billed_more_than_once()),
        (rows as u64, 0),
        "every pair sent once, by the run holding the journal"
    );
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

/// `text` with its ASCII digits and letters in their full-width forms (U+FF10…).
fn full_width(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
            other => other,
        })
        .collect()
}

/// Two distinct pairs, the second with an ID number ending in `X`.
fn two_pairs() -> [(String, String); 2] {
    let all = pairs(60);
    let x = all
        .iter()
        .find(|(id, _)| id.ends_with('X'))
        .unwrap()
        .clone();
    [all[0].clone(), x]
}

#[test]
fn the_same_pair_written_differently_is_sent_once() {
    let sb = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    let [(a_id, a_m), (b_id, b_m)] = two_pairs();
    let spaced = format!("{} {} {}", &a_m[..3], &a_m[3..7], &a_m[7..]);
    let dashed = format!("{}-{}-{}", &b_m[..3], &b_m[3..7], &b_m[7..]);
    let mut rows = vec![
        (a_id.clone(), a_m.clone()),
        (a_id.clone(), spaced),
        (a_id.clone(), format!("+86{a_m}")),
        (b_id.clone(), b_m.clone()),
        (b_id.to_lowercase(), b_m.clone()),
        (full_width(&a_id), full_width(&a_m)),
        (b_id.clone(), dashed),
    ];
    write_csv(&input, &rows);
    let first = batch(&sb, demo::API_KEY, &input, &output, &["--concurrency", "8"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(sb.stats().requests, 2, "two pairs, two requests");
    assert_eq!(sb.pairs_billed_more_than_once(), 0);
    assert_eq!(summary(&first)["duplicates"], 5, "{}", first.stdout);

    // A resumed job finds them through the journal: new spellings of both pairs are copies,
    // and a sent row may be re-spelled without the journal calling it another input.
    rows[0].1 = format!("0086 {a_m}");
    rows.push((format!(" {b_id} "), full_width(&format!("+86{b_m}"))));
    rows.push((a_id.to_lowercase(), format!("86{a_m}")));
    write_csv(&input, &rows);
    let resumed = batch(&sb, demo::API_KEY, &input, &output, &[]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(sb.stats().requests, 2, "nothing sent again");
    let text = std::fs::read_to_string(&output).unwrap();
    assert_eq!(text.lines().filter(|l| l.contains(",match,")).count(), 9);
}

/// `juhe-2fa` at `--qps`/`--concurrency` as a child with piped output.
fn spawn_with(
    sb: &BlockingSandbox,
    global: &[&str],
    input: &Path,
    output: &Path,
    extra: &[&str],
) -> std::process::Child {
    batch_cmd(&sb.base_url(), demo::API_KEY, global, input, output)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn interrupt(child: &std::process::Child) {
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
}

/// How many journal rows are in each state.
fn journal_states(journal: &Path) -> std::collections::BTreeMap<String, i64> {
    let conn = rusqlite::Connection::open(journal).unwrap();
    let mut stmt = conn
        .prepare("SELECT state, COUNT(*) FROM rows GROUP BY state")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn after_sigint_no_row_waiting_on_qps_is_sent() {
    let sb = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    write_csv(&input, &pairs(20));
    // One request every 500 ms, four rows waiting on the limit at any time.
    let global = ["--retries", "0", "--qps", "2"];
    let child = spawn_with(&sb, &global, &input, &output, &["--concurrency", "4"]);
    while sb.stats().requests < 2 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    interrupt(&child);
    let at_signal = sb.stats().requests;
    let run = wait_at_most(child, 20);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stderr.contains("stopping"), "{}", run.stderr);
    assert_eq!(
        sb.stats().requests,
        at_signal,
        "no request left after the signal"
    );
    let states = journal_states(&dir.path().join("out.csv.journal"));
    assert_eq!(
        states.get("sent"),
        None,
        "no row left maybe-billed: {states:?}"
    );
    assert_eq!(
        states.get("done").copied(),
        Some(at_signal as i64),
        "{states:?}"
    );

    let rerun = batch(&sb, demo::API_KEY, &input, &output, &[]);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    assert_eq!(
        (sb.stats().billed, sb.pairs_billed_more_than_once()),
        (20, 0)
    );
}

#[test]
fn after_sigint_a_row_slowed_down_by_10012_is_not_sent_again() {
    // The batch's own slow-down wait (no client retries), then the client's retry backoff.
    for retries in ["0", "2"] {
        slowed_down_row_after_sigint(retries);
    }
}

fn slowed_down_row_after_sigint(retries: &str) {
    let sb = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .faults(FaultPlan::new().then(Fault::ErrorCode(ErrorCode::RateLimited)))
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    write_csv(&input, &pairs(3));
    let global = ["--retries", retries];
    let child = spawn_with(&sb, &global, &input, &output, &["--concurrency", "1"]);
    while !sb.stats().by_error_code.contains_key(&10012) {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    // The row now waits (1 s or more) before sending again.
    std::thread::sleep(std::time::Duration::from_millis(200));
    interrupt(&child);
    let run = wait_at_most(child, 20);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert_eq!(
        sb.stats().requests,
        1,
        "--retries {retries}: the waiting row was not sent"
    );
    let states = journal_states(&dir.path().join("out.csv.journal"));
    assert_eq!(states.get("sent"), None, "{states:?}");

    let rerun = batch(&sb, demo::API_KEY, &input, &output, &[]);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    assert_eq!(
        (sb.stats().billed, sb.pairs_billed_more_than_once()),
        (3, 0)
    );
}

/// Rows of the journal recorded as final.
fn done_rows(journal: &Path) -> i64 {
    journal_states(journal).get("done").copied().unwrap_or(0)
}

#[test]
fn a_wrong_openid_stops_the_job_and_the_right_one_resumes() {
    let sb = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    let journal = dir.path().join("out.csv.journal");
    write_csv(&input, &pairs(40));
    let wrong = batch(
        &sb,
        demo::API_KEY,
        &input,
        &output,
        &[
            "--mode",
            "aes",
            "--openid",
            "JHnot-this-account-0000000000000",
        ],
    );
    assert_eq!(wrong.code, 4, "{}", wrong.stderr);
    let said = &wrong.stderr;
    assert!(
        said.contains("--openid") && said.contains("--aes-key") && said.contains("doctor"),
        "{said}"
    );
    assert_eq!(
        said.matches("the job stopped").count(),
        1,
        "one message: {said}"
    );
    assert!(
        summary(&wrong)["stopped"]
            .as_str()
            .unwrap()
            .contains("232901"),
        "{}",
        wrong.stdout
    );
    assert!(
        sb.stats().requests <= 3 + 8,
        "stops after the third: {:?}",
        sb.stats()
    );
    assert_eq!(
        done_rows(&journal),
        0,
        "no row finalised with the key's error"
    );
    assert!(!output.exists());

    let right = batch(
        &sb,
        demo::API_KEY,
        &input,
        &output,
        &["--mode", "aes", "--openid", demo::OPENID],
    );
    assert_eq!(right.code, 0, "{}", right.stderr);
    assert_eq!(
        (sb.stats().billed, sb.pairs_billed_more_than_once()),
        (40, 0)
    );
    let text = std::fs::read_to_string(&output).unwrap();
    assert_eq!(text.lines().filter(|l| l.contains(",match,")).count(), 40);
}

#[test]
fn a_wrong_rsa_key_stops_the_job_and_the_right_one_resumes() {
    let sb = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    write_csv(&input, &pairs(12));
    // Another RSA key than the one the vendor (the sandbox) decrypts with.
    let other = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../juhe-crypto/tests/data/rsa2048/pub.pem"
    );
    let rsa = |key: &'static str| {
        [
            "--mode",
            "rsa",
            "--rsa-public-key",
            key,
            "--concurrency",
            "1",
        ]
    };
    let wrong = batch(&sb, demo::API_KEY, &input, &output, &rsa(other));
    assert_eq!(wrong.code, 4, "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains("--rsa-public-key") && wrong.stderr.contains("doctor"),
        "{}",
        wrong.stderr
    );
    assert_eq!(sb.stats().requests, 3, "{:?}", sb.stats());
    assert_eq!(done_rows(&dir.path().join("out.csv.journal")), 0);

    let right = batch(
        &sb,
        demo::API_KEY,
        &input,
        &output,
        &rsa(demo::RSA_PUBLIC_KEY_B64),
    );
    assert_eq!(right.code, 0, "{}", right.stderr);
    assert_eq!(
        (sb.stats().billed, sb.pairs_billed_more_than_once()),
        (12, 0)
    );
}

#[test]
fn a_few_232901_in_aes_mode_and_any_in_plain_mode_are_the_rows_answers() {
    let two = FaultPlan::new().then_times(Fault::ErrorCode(ErrorCode::InvalidMobile), 2);
    let aes = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .faults(two)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    write_csv(&input, &pairs(6));
    let output = dir.path().join("aes.csv");
    let flags = [
        "--mode",
        "aes",
        "--openid",
        demo::OPENID,
        "--concurrency",
        "1",
    ];
    let run = batch(&aes, demo::API_KEY, &input, &output, &flags);
    assert_eq!(run.code, 0, "two in a row, then answers: {}", run.stderr);
    let s = summary(&run);
    assert_eq!(
        (
            s["by_status"]["api_error"].as_u64(),
            s["by_status"]["match"].as_u64()
        ),
        (Some(2), Some(4)),
        "{s}"
    );

    let five = FaultPlan::new().then_times(Fault::ErrorCode(ErrorCode::InvalidMobile), 5);
    let plain = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .faults(five)
        .spawn_blocking()
        .unwrap();
    let output = dir.path().join("plain.csv");
    let run = batch(
        &plain,
        demo::API_KEY,
        &input,
        &output,
        &["--concurrency", "1"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s = summary(&run);
    assert_eq!(s["by_status"]["api_error"], 5, "{s}");
    assert!(s["stopped"].is_null(), "{s}");
}

#[test]
fn billable_calls_count_requests_not_copies() {
    let sb = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    let distinct = pairs(3);
    let rows: Vec<(String, String)> = (0..3).flat_map(|_| distinct.clone()).collect();
    write_csv(&input, &rows);
    let run = batch(&sb, demo::API_KEY, &input, &output, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s = summary(&run);
    assert_eq!(sb.stats().billed, 3);
    assert_eq!(
        (
            s["billable"].as_u64(),
            s["billable_this_run"].as_u64(),
            s["duplicates"].as_u64()
        ),
        (Some(3), Some(3), Some(6)),
        "{s}"
    );
    // The job's count holds on a rerun, and the text summary says the same.
    let again = run_text(&sb, &input, &output);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("billable calls 3 (0 this run)"),
        "{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("6 row(s) repeated"),
        "{}",
        again.stderr
    );
    assert_eq!(sb.stats().billed, 3);
}

fn run_text(sb: &BlockingSandbox, input: &Path, output: &Path) -> Run {
    run(&mut batch_cmd(
        &sb.base_url(),
        demo::API_KEY,
        &["--retries", "0"],
        input,
        output,
    ))
}

/// A tmpfs of `size` mounted on `dir`, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "mounting a tmpfs needs root, as the tests run in CI"
        );
        Tmpfs(dir.to_owned())
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_under_the_output_loses_no_answer() {
    let rows = 300;
    // Each request takes a while, so rows are in flight when the output fills up.
    let sb = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .faults(FaultPlan::new().then_times(Fault::DelayMs(20), rows))
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let journal = dir.path().join("job.journal");
    let full = Tmpfs::mount(&dir.path().join("small"), "128k");
    let output = full.0.join("out.csv");
    // A wide column so the output outgrows the tmpfs after about a hundred rows.
    let note = "n".repeat(1500);
    let mut text = String::from("idcard,mobile,note\n");
    for (id, m) in pairs(rows) {
        text.push_str(&format!("{id},{m},{note}\n"));
    }
    std::fs::write(&input, text).unwrap();
    let journal_flag = ["--journal", journal.to_str().unwrap(), "--concurrency", "8"];
    let first = batch(&sb, demo::API_KEY, &input, &output, &journal_flag);
    assert_eq!(first.code, 5, "{}", first.stderr);
    assert!(first.stderr.contains("No space left"), "{}", first.stderr);
    let billed = sb.stats().billed;
    assert!(billed > 0 && billed < rows as u64, "{billed}");
    let states = journal_states(&journal);
    assert_eq!(states.get("sent"), None, "no answer lost: {states:?}");
    assert_eq!(
        done_rows(&journal),
        billed as i64,
        "every billed answer is journalled"
    );

    full.resize("8m");
    let rerun = batch(&sb, demo::API_KEY, &input, &output, &journal_flag);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    assert_eq!(
        (sb.stats().billed, sb.pairs_billed_more_than_once()),
        (rows as u64, 0),
        "each row billed once"
    );
    let out = std::fs::read_to_string(&output).unwrap();
    assert_eq!(out.lines().filter(|l| l.contains(",match,")).count(), rows);
}

/// Links planted where batch creates files — `<output>.partial`, the journal, SQLite's `-wal`,
/// the old `<journal>.lock` — are never written through: the input stays as it was.
#[test]
fn planted_links_beside_the_output_never_overwrite_the_input() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
    let sb = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.csv");
    write_csv(&input, &pairs(300));
    let original = std::fs::read(&input).unwrap();
    let small = dir.path().join("small.csv");
    write_csv(&small, &pairs(3));
    let path = |name: &str| dir.path().join(name);

    // A symbolic link at the partial output: removed and recreated, the run completes.
    symlink(&input, path("a.csv.partial")).unwrap();
    // One at the lock file older versions used beside the journal: not used at all.
    symlink(&input, path("a.csv.journal.lock")).unwrap();
    let run = batch(&sb, demo::API_KEY, &small, &path("a.csv"), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(std::fs::read(&input).unwrap(), original, "input untouched");
    let out = std::fs::symlink_metadata(path("a.csv")).unwrap();
    assert!(
        out.is_file() && out.nlink() == 1,
        "a new file, not the link"
    );
    assert_eq!(out.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::read_to_string(path("a.csv"))
            .unwrap()
            .lines()
            .count(),
        4
    );

    // A hard link at the partial output is the input itself: refused before anything is sent.
    std::fs::hard_link(&input, path("b.csv.partial")).unwrap();
    let before = sb.stats().requests;
    let run = batch(&sb, demo::API_KEY, &input, &path("b.csv"), &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(sb.stats().requests, before);

    // A symbolic link, or a hard link, as the journal: refused, never opened as a database.
    symlink(&input, path("c.csv.journal")).unwrap();
    std::fs::write(path("other"), b"").unwrap();
    std::fs::hard_link(path("other"), path("d.csv.journal")).unwrap();
    for (output, why) in [("c.csv", "symbolic link"), ("d.csv", "hard links")] {
        let run = batch(&sb, demo::API_KEY, &small, &path(output), &[]);
        assert_eq!(run.code, 2, "{output}: {}", run.stderr);
        assert!(run.stderr.contains(why), "{}", run.stderr);
    }
    // A symbolic link at SQLite's write-ahead log.
    symlink(&input, path("e.csv.journal-wal")).unwrap();
    let run = batch(&sb, demo::API_KEY, &small, &path("e.csv"), &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(sb.stats().requests, before, "nothing sent by a refused run");
    assert_eq!(std::fs::read(&input).unwrap(), original, "input untouched");
}

/// In a shared (1777) directory, a journal or partial output created first by another user is
/// refused (exit 2, nothing sent); our own leftover partial output is recreated 0600, and our
/// own journal open to others is refused. Needs root (to chown to `nobody`): CI runs as root.
#[test]
fn files_another_user_created_first_are_refused() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt, chown};
    let sb = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let input = dir.path().join("in.csv");
    write_csv(&input, &pairs(2));
    let path = |name: &str| dir.path().join(name);
    let nobody = 65534;
    let planted = |name: &str| {
        let file = path(name);
        std::fs::write(&file, b"").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        chown(&file, Some(nobody), Some(nobody))
            .expect("this test needs root to chown a file to nobody (CI runs as root)");
        file
    };
    planted("res.csv.partial");
    planted("res2.csv.journal");
    for output in ["res.csv", "res2.csv"] {
        let run = batch(&sb, demo::API_KEY, &input, &path(output), &[]);
        assert_eq!(run.code, 2, "{output}: {}", run.stderr);
        assert!(
            run.stderr.contains("another user") && run.stderr.contains("uid 65534"),
            "{}",
            run.stderr
        );
        assert!(!path(output).exists(), "no output written");
    }
    assert_eq!(sb.stats().requests, 0, "nothing sent");
    for planted in ["res.csv.partial", "res2.csv.journal"] {
        let meta = std::fs::metadata(path(planted)).unwrap();
        assert_eq!((meta.uid(), meta.len()), (nobody, 0), "left as it was");
    }

    // Our own leftover partial output, 0644: recreated 0600.
    let own = path("own.csv.partial");
    std::fs::write(&own, b"old").unwrap();
    std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = batch(&sb, demo::API_KEY, &input, &path("own.csv"), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mode = std::fs::metadata(path("own.csv"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Our own journal, readable by others: refused, with what to do.
    let journal = path("own.csv.journal");
    std::fs::set_permissions(&journal, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = batch(&sb, demo::API_KEY, &input, &path("own.csv"), &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("readable or writable by other users")
            && run.stderr.contains("chmod 600"),
        "{}",
        run.stderr
    );
}
