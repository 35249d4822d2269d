//! `--budget`: billable calls per calendar day or month, refused before sending once spent (exit
//! 6); counted across processes through the ledger, or Redis when there is one; a batch stopped
//! by its budget resumes without billing a row twice.

mod common;

use std::process::Stdio;

use common::{batch_cmd, bin, pairs_from, run, wait_at_most, write_csv};
use juhe_sandbox::{DefaultVerdict, RedisServer, Sandbox, demo};

fn sandbox() -> juhe_sandbox::BlockingSandbox {
    Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap()
}

#[test]
fn seven_calls_on_a_budget_of_five_bill_five_and_exit_6() {
    let sandbox = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.db");
    let pairs = pairs_from("1101051990", "130", 7);
    let codes: Vec<i32> = pairs
        .iter()
        .map(|(idcard, mobile)| {
            let mut cmd = bin();
            cmd.env("JUHE_KEY", demo::API_KEY)
                .args(["--base-url", &sandbox.base_url()])
                .args(["--budget", "5/day", "--ledger", ledger.to_str().unwrap()])
                .args(["verify", "--idcard", idcard, "--mobile", mobile]);
            let out = run(&mut cmd);
            if out.code == 6 {
                assert!(
                    out.stderr.contains("5/day") && out.stderr.contains("China time"),
                    "{}",
                    out.stderr
                );
            }
            out.code
        })
        .collect();
    assert_eq!(codes, [0, 0, 0, 0, 0, 6, 6]);
    assert_eq!(sandbox.stats().billed, 5);
    assert_eq!(sandbox.stats().requests, 5, "calls 6 and 7 sent nothing");
}

#[test]
fn three_batches_on_one_redis_budget_bill_exactly_the_budget() {
    let redis = RedisServer::start().unwrap();
    let sandbox = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..3)
        .map(|i| {
            let input = dir.path().join(format!("in{i}.csv"));
            write_csv(
                &input,
                &pairs_from(&format!("31010419{}5", 7 + i), "131", 20),
            );
            let output = dir.path().join(format!("out{i}.csv"));
            batch_cmd(
                &sandbox.base_url(),
                demo::API_KEY,
                &["--budget", "20/day"],
                &input,
                &output,
            )
            .env("JUHE_REDIS_URL", redis.url())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let runs: Vec<_> = children.into_iter().map(|c| wait_at_most(c, 60)).collect();
    // Never above the budget. A check cancelled while its unit was being taken (the job
    // stopping) may keep that unit: a unit kept, never one spent twice.
    let billed = sandbox.stats().billed;
    assert!(
        (17..=20).contains(&billed),
        "the budget of 20 in total: {billed}"
    );
    assert!(
        runs.iter().any(|r| r.code == 6),
        "a batch stopped by the budget exits 6"
    );
    assert_eq!(sandbox.pairs_billed_more_than_once(), 0);
}

#[test]
fn a_batch_stopped_by_its_budget_resumes_without_billing_twice() {
    let sandbox = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    write_csv(&input, &pairs_from("4403051992", "186", 10));
    let output = dir.path().join("out.csv");
    let ledger = dir.path().join("ledger.db");
    let ledger = ["--ledger", ledger.to_str().unwrap()];
    let first = run(batch_cmd(
        &sandbox.base_url(),
        demo::API_KEY,
        &[&ledger[..], &["--budget", "4/day"]].concat(),
        &input,
        &output,
    )
    .args(["--concurrency", "1"]));
    assert_eq!(first.code, 6, "{}", first.stderr);
    assert_eq!(sandbox.stats().billed, 4);
    assert!(!output.exists(), "no output while rows are pending");
    // A larger budget, as a user who means the spend would give: the rest, each once.
    let second = run(&mut batch_cmd(
        &sandbox.base_url(),
        demo::API_KEY,
        &[&ledger[..], &["--budget", "10/day"]].concat(),
        &input,
        &output,
    ));
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(sandbox.stats().billed, 10);
    assert_eq!(sandbox.pairs_billed_more_than_once(), 0);
}

#[test]
fn metrics_are_served_in_the_prometheus_format_while_a_batch_runs() {
    use std::io::{Read, Write};
    let sandbox = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .faults(juhe_sandbox::FaultPlan::new().then_times(juhe_sandbox::Fault::DelayMs(300), 100))
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    write_csv(&input, &pairs_from("3201021978", "185", 8));
    let output = dir.path().join("out.csv");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = batch_cmd(&sandbox.base_url(), demo::API_KEY, &[], &input, &output)
        .args(["--metrics-addr", &addr, "--concurrency", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Scrape once a few checks are in.
    let mut page = String::new();
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let Ok(mut stream) = std::net::TcpStream::connect(&addr) else {
            continue;
        };
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        page.clear();
        stream.read_to_string(&mut page).unwrap();
        if page.contains("juhe_checks_total") {
            break;
        }
    }
    let run = wait_at_most(child, 60);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        page.contains("juhe_checks_total{") && page.contains("outcome=\"match\""),
        "{page}"
    );
    assert!(page.contains("juhe_billed_total"), "{page}");
    for (id, mobile) in pairs_from("3201021978", "185", 8) {
        assert!(
            !page.contains(&id) && !page.contains(&mobile),
            "no number in a label"
        );
    }
    assert!(!page.contains(demo::API_KEY));
}
