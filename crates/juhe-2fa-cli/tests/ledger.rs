//! The audit ledger from the command line: `verify`, `batch` and `doctor` record every check
//! they send (`--ledger`, `--caller`, `--purpose`, before or after the command); `juhe-2fa
//! ledger` exports, counts, finds, purges and verifies; a ledger that cannot record stops the
//! command before anything is sent unless `--ledger-optional`; three batches share one
//! PostgreSQL ledger.

use std::path::Path;
use std::process::Stdio;

mod common;

use common::{batch_cmd, bin, pairs_from, run, wait_at_most, write_csv};
use juhe_sandbox::{DefaultVerdict, PostgresServer, Sandbox, demo};
use serde_json::Value;

fn ledger(location: &str, args: &[&str]) -> common::Run {
    run(bin().args(["ledger", "--ledger", location]).args(args))
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every file of the SQLite ledger (the database, its WAL), as bytes.
fn ledger_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("checks.ledger")
        {
            all.extend(std::fs::read(path).unwrap());
        }
    }
    all
}

#[test]
fn verify_batch_and_doctor_record_every_check_and_ledger_reads_them() {
    let sandbox = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checks.ledger");
    let file_arg = file.display().to_string();
    let base = ["--base-url", &sandbox.base_url(), "--key", demo::API_KEY];
    let (idcard, mobile) = demo::MATCH;

    // `verify`: options before the command, and from the environment.
    let r = run(bin()
        .env("JUHE_LEDGER", &file_arg)
        .env("JUHE_PURPOSE", "account opening")
        .args(base)
        .args([
            "--caller", "desk", "verify", "--idcard", idcard, "--mobile", mobile,
        ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // `batch`: options after the command.
    let pairs = pairs_from("3101041985", "131", 5);
    let input = dir.path().join("in.csv");
    write_csv(&input, &pairs);
    let mut cmd = batch_cmd(
        &sandbox.base_url(),
        demo::API_KEY,
        &[],
        &input,
        &dir.path().join("out.csv"),
    );
    cmd.args([
        "--ledger",
        &file_arg,
        "--caller",
        "nightly",
        "--purpose",
        "re-check",
    ]);
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // `doctor` sends (and may bill): recorded too.
    let r = run(bin().args(base).args([
        "doctor", "--yes", "--idcard", idcard, "--mobile", mobile, "--ledger", &file_arg,
        "--caller", "setup",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sent = sandbox.stats().requests;
    assert_eq!(sent, 7, "verify 1, batch 5, doctor 1");

    let r = ledger(&file_arg, &["stats", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stats: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let by_caller = |c: &str| {
        stats
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["caller"] == c)
            .unwrap_or_else(|| panic!("no {c}: {stats}"))
            .clone()
    };
    assert_eq!(by_caller("desk")["billed"], 1);
    assert_eq!(by_caller("nightly")["checks"], 5);
    assert_eq!(by_caller("nightly")["billed"], 5);
    assert_eq!(by_caller("setup")["checks"], 1);

    let r = ledger(
        &file_arg,
        &["export", "--format", "csv", "--caller", "nightly"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "a header and 5 records: {}", r.stdout);
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.contains(",nightly,re-check,plain,")),
        "{}",
        r.stdout
    );
    let r = ledger(
        &file_arg,
        &[
            "export",
            "--format",
            "jsonl",
            "--since",
            "2000-01-01",
            "--until",
            "2000-12-31",
        ],
    );
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "nothing from 2000");

    // `find`: the batch's third person, spelled with a country prefix.
    let (id3, m3) = &pairs[2];
    let r = ledger(
        &file_arg,
        &[
            "find",
            "--idcard",
            id3,
            "--mobile",
            &format!("+86{m3}"),
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let found: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let checks = found["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 1, "{found}");
    assert_eq!(checks[0]["caller"], "nightly");
    assert_eq!(checks[0]["purpose"], "re-check");
    assert!(
        !r.stdout.contains(id3.as_str()) && !r.stdout.contains(m3.as_str()),
        "{}",
        r.stdout
    );
    let r = ledger(&file_arg, &["find", "--idcard", idcard, "--mobile", mobile]);
    assert!(
        r.stdout
            .starts_with("110105********1239 / 130****5678: 2 check(s) recorded"),
        "{}",
        r.stdout
    );

    let r = ledger(&file_arg, &["verify"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("7 record(s) in 3 chain(s): intact"),
        "{}",
        r.stdout
    );
    // JUHE_CALLER, exported for the checks, neither filters nor is refused; the flag is.
    let with_env = |args: &[&str]| {
        run(bin()
            .env("JUHE_CALLER", "desk")
            .args(["ledger", "--ledger", &file_arg])
            .args(args))
    };
    let r = with_env(&["export", "--format", "jsonl"]);
    assert_eq!((r.code, r.stdout.lines().count()), (0, 7), "{}", r.stderr);
    assert_eq!(with_env(&["verify"]).code, 0);
    let r = ledger(&file_arg, &["verify", "--caller", "desk"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("--caller selects records for `ledger export`"),
        "{}",
        r.stderr
    );

    // No number, key or OpenID in the ledger's bytes.
    let bytes = ledger_bytes(dir.path());
    for needle in [idcard, mobile, demo::API_KEY, id3.as_str(), m3.as_str()] {
        assert!(!contains(&bytes, needle), "{needle} is in the ledger");
    }
    assert!(contains(&bytes, "130****5678"), "the masked mobile is");

    // Retention: the default (3 years) removes nothing; 0 days removes all, and what is left
    // (nothing) still verifies.
    let r = ledger(&file_arg, &["purge"]);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, "purged 0 record(s) older than 1096 day(s)"),
        "{}",
        r.stderr
    );
    let r = ledger(&file_arg, &["purge", "--older-than", "0"]);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, "purged 7 record(s) older than 0 day(s)"),
        "{}",
        r.stderr
    );
    let r = ledger(&file_arg, &["verify"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn ledger_verify_names_an_edited_a_deleted_and_a_moved_record() {
    let sandbox = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checks.ledger");
    let file_arg = file.display().to_string();
    let input = dir.path().join("in.csv");
    write_csv(&input, &pairs_from("4403051992", "186", 8));
    let mut cmd = batch_cmd(
        &sandbox.base_url(),
        demo::API_KEY,
        &["--ledger", &file_arg],
        &input,
        &dir.path().join("out.csv"),
    );
    let r = run(cmd.args(["--concurrency", "1"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(ledger(&file_arg, &["verify"]).code, 0);

    let db = rusqlite::Connection::open(&file).unwrap();
    db.execute(
        "UPDATE juhe_ledger_checks SET billed = 'no' WHERE seq = 2",
        [],
    )
    .unwrap();
    db.execute("DELETE FROM juhe_ledger_checks WHERE seq = 4", [])
        .unwrap();
    // Rows 6 and 7 trade places (every column but the row id).
    db.execute_batch(
        "UPDATE juhe_ledger_checks SET seq = -seq WHERE seq IN (6, 7); \
         CREATE TEMP TABLE t AS SELECT * FROM juhe_ledger_checks WHERE seq IN (-6, -7); \
         UPDATE juhe_ledger_checks SET (writer, seq, at_ms, caller, purpose, mode, pair_digest, \
           idcard_masked, mobile_masked, outcome, res, error_code, error_class, billed, order_id, \
           attempts, from_cache, latency_ms, prev_hash, hash) = (SELECT writer, -seq, at_ms, \
           caller, purpose, mode, pair_digest, idcard_masked, mobile_masked, outcome, res, \
           error_code, error_class, billed, order_id, attempts, from_cache, latency_ms, \
           prev_hash, hash FROM t WHERE t.seq = -13 - juhe_ledger_checks.seq) \
         WHERE seq IN (-6, -7);",
    )
    .unwrap();
    drop(db);
    let r = ledger(&file_arg, &["verify"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    for finding in [
        "record 2 (row 2) was edited",
        "record 4 was deleted",
        "record 6 (row 7) was moved: it stands after record 7",
        "problem(s): the ledger was tampered with",
    ] {
        assert!(r.stdout.contains(finding), "{finding}: {}", r.stdout);
    }
    let r = ledger(&file_arg, &["verify", "--json"]);
    assert_eq!(r.code, 1);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["clean"], false, "{v}");
}

#[test]
fn a_ledger_that_cannot_record_stops_verify_and_batch_before_sending_unless_optional() {
    let sandbox = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (idcard, mobile) = demo::MATCH;
    let base = ["--base-url", &sandbox.base_url(), "--key", demo::API_KEY];
    let unreachable = "postgres://auditor:pg-s3cret@127.0.0.1:1/ledger";
    let missing_dir = dir.path().join("no-such-dir").join("checks.ledger");
    for location in [unreachable.to_owned(), missing_dir.display().to_string()] {
        let r = run(bin()
            .args(base)
            .env("JUHE_LEDGER", &location)
            .args(["verify", "--idcard", idcard, "--mobile", mobile]));
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(
            r.stderr.contains("juhe-2fa: error: cannot use the ledger"),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("--ledger-optional"), "{}", r.stderr);
        assert!(
            !r.stderr.contains("pg-s3cret") && !r.stderr.contains(idcard),
            "{}",
            r.stderr
        );

        let input = dir.path().join("in.csv");
        write_csv(&input, &pairs_from("1101051990", "130", 3));
        let output = dir.path().join("out.csv");
        let r = run(&mut batch_cmd(
            &sandbox.base_url(),
            demo::API_KEY,
            &["--ledger", &location],
            &input,
            &output,
        ));
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("cannot use the ledger"), "{}", r.stderr);
        assert!(!output.exists(), "no output");
    }
    assert_eq!(sandbox.stats().requests, 0, "nothing was sent unrecorded");

    let r = run(bin().args(base).args([
        "--ledger",
        unreachable,
        "--ledger-optional",
        "verify",
        "--idcard",
        idcard,
        "--mobile",
        mobile,
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("juhe-2fa: warning: cannot use the ledger"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("pg-s3cret"), "{}", r.stderr);
    assert_eq!(sandbox.stats().requests, 1);

    let r = run(bin().args(base).args([
        "--ledger-optional",
        "verify",
        "--idcard",
        idcard,
        "--mobile",
        mobile,
    ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--ledger-optional needs --ledger"),
        "{}",
        r.stderr
    );
    // Help shows that JUHE_LEDGER is read, never its value (the URL may hold a password).
    let help = run(bin()
        .env("JUHE_LEDGER", unreachable)
        .args(["batch", "--help"]));
    assert!(help.stdout.contains("JUHE_LEDGER"), "{}", help.stdout);
    assert!(!help.stdout.contains("pg-s3cret"), "{}", help.stdout);
    let r = run(bin().args(["ledger", "verify"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("`ledger` needs the ledger"),
        "{}",
        r.stderr
    );
    let r = ledger(&missing_dir.display().to_string(), &["stats"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no ledger at"), "{}", r.stderr);
}

#[test]
fn three_batches_on_one_postgres_ledger_record_every_check_once() {
    let pg = PostgresServer::start().unwrap();
    let sandbox = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = pg.url();
    let jobs: Vec<Vec<(String, String)>> = (0..3)
        .map(|p| pairs_from(&format!("11010519{}", 70 + p), "130", 40))
        .collect();
    let children: Vec<_> = jobs
        .iter()
        .enumerate()
        .map(|(p, pairs)| {
            let input = dir.path().join(format!("in{p}.csv"));
            write_csv(&input, pairs);
            let mut cmd = batch_cmd(
                &sandbox.base_url(),
                demo::API_KEY,
                &["--caller", &format!("job-{p}")],
                &input,
                &dir.path().join(format!("out{p}.csv")),
            );
            cmd.env("JUHE_LEDGER", &url)
                .args(["--concurrency", "8"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    for run in children.into_iter().map(|c| wait_at_most(c, 120)) {
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    assert_eq!(sandbox.stats().requests, 120);
    let counts = pg
        .psql(
            "SELECT COUNT(*), COUNT(DISTINCT order_id), COUNT(DISTINCT pair_digest), \
             COUNT(DISTINCT writer), COUNT(DISTINCT (writer, seq)) FROM juhe_ledger_checks",
        )
        .unwrap();
    assert_eq!(
        counts.trim(),
        "120|120|120|3|120",
        "every check recorded once"
    );
    let per_job = pg
        .psql("SELECT caller, COUNT(*), MAX(seq) FROM juhe_ledger_checks GROUP BY caller ORDER BY caller")
        .unwrap();
    assert_eq!(per_job.trim(), "job-0|40|40\njob-1|40|40\njob-2|40|40");

    let r = ledger(&url, &["verify"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("120 record(s) in 3 chain(s): intact"),
        "{}",
        r.stdout
    );
    // Another job's pair is found; a plain-SQL dump holds no number.
    let (id, m) = &jobs[1][7];
    let r = ledger(&url, &["find", "--idcard", id, "--mobile", m, "--json"]);
    let found: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(found["checks"][0]["caller"], "job-1", "{found}");
    let dump = pg.dump().unwrap();
    for (id, m) in jobs.iter().flatten() {
        assert!(
            !contains(&dump, id) && !contains(&dump, m),
            "a number in the dump"
        );
    }
    assert!(!contains(&dump, demo::API_KEY));
    // A tampered row is caught in PostgreSQL too.
    pg.psql("UPDATE juhe_ledger_checks SET caller = 'job-0' WHERE caller = 'job-2' AND seq = 9")
        .unwrap();
    let r = ledger(&url, &["verify"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("record 9 (row"), "{}", r.stdout);
}
