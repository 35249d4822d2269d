//! The engine driven as a library, as a gateway or a binding would: rows in, events and a
//! summary out, a stop handle, typed errors. Against an in-process sandbox on loopback.

use std::num::NonZeroUsize;
use std::path::Path;
use std::time::Duration;

use juhe_2fa::{Client, Mode};
use juhe_batch::{Error, Event, Job, Origin, Role, Status, StopHandle, Summary};
use juhe_sandbox::{DefaultVerdict, Sandbox, SandboxHandle, demo};

async fn sandbox() -> SandboxHandle {
    Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn()
        .await
        .unwrap()
}

fn client(sandbox: &SandboxHandle, mode: Mode, stop: &StopHandle) -> Client {
    Client::builder()
        .api_key(demo::API_KEY)
        .base_url(sandbox.base_url())
        .mode(mode)
        .timeout(Duration::from_secs(5))
        .timer(stop.clone())
        .build()
        .unwrap()
}

/// Runs `job` and collects each row's event as (row number, status, origin).
async fn run(
    job: Job,
    client: Client,
    mut also: impl FnMut() + Send,
) -> (Vec<(u64, Status, Origin)>, Summary) {
    let mut rows = Vec::new();
    let mut drained = false;
    let summary = job
        .open(client)
        .unwrap()
        .run(|event| match event {
            Event::Row {
                row,
                result,
                origin,
                counts,
            } => {
                assert!(!drained);
                rows.push((row.number, result.status, origin));
                assert_eq!(counts.rows(), rows.len() as u64);
                also();
            }
            Event::Drained { .. } => drained = true,
            _ => {}
        })
        .await
        .unwrap();
    assert!(drained);
    (rows, summary)
}

fn write(path: &Path, rows: &[(&str, &str)]) {
    let mut text = String::from("name,idcard,mobile\n");
    for (i, (idcard, mobile)) in rows.iter().enumerate() {
        text.push_str(&format!("n{i},{idcard},{mobile}\n"));
    }
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_in_results_and_events_out_in_input_order() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    let (idcard, mobile) = demo::MATCH;
    // A match, a row refused locally, the first pair again, a mismatch.
    write(
        &input,
        &[
            (idcard, mobile),
            ("not-an-id", mobile),
            (idcard, mobile),
            demo::MISMATCH,
        ],
    );
    let stop = StopHandle::new();
    let job = Job::new(&input, &output).stop_handle(stop.clone());
    let (rows, summary) = run(job, client(&sb, Mode::Plain, &stop), || {}).await;
    assert_eq!(
        rows,
        [
            (1, Status::Match, Origin::Sent),
            (2, Status::Rejected, Origin::NotSent),
            (3, Status::Match, Origin::Copy),
            (4, Status::Mismatch, Origin::Sent),
        ]
    );
    assert_eq!(
        (summary.rows, summary.billable, summary.duplicates),
        (4, 2, 1)
    );
    assert_eq!(summary.not_final(), 0);
    assert_eq!(summary.stopped, None);
    assert_eq!(sb.stats().requests, 2, "the repeated pair is not sent");
    let written = std::fs::read_to_string(&output).unwrap();
    assert!(
        written.starts_with("name,idcard,mobile,status,res,order_id,error_code,reason\n"),
        "{written}"
    );
    assert_eq!(written.lines().count(), 5);
    assert!(!stop.is_stopped());
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_from_outside_sends_nothing_more_and_a_rerun_finishes_the_job() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    let pairs = [
        demo::MATCH,
        demo::MISMATCH,
        ("11010519491231002X", "13012345679"),
    ];
    let lines: String = pairs
        .iter()
        .map(|(i, m)| format!("{{\"idcard\":\"{i}\",\"mobile\":\"{m}\"}}\n"))
        .collect();
    std::fs::write(&input, lines).unwrap();
    let one = NonZeroUsize::MIN;

    // Stopped after the first row: nothing else is read or sent, no output is written.
    let stop = StopHandle::new();
    let job = Job::new(&input, &output)
        .concurrency(one)
        .stop_handle(stop.clone());
    let stopper = stop.clone();
    let (rows, summary) = run(job, client(&sb, Mode::Plain, &stop), move || stopper.stop()).await;
    assert_eq!(rows, [(1, Status::Match, Origin::Sent)]);
    assert_eq!(
        summary.stopped, None,
        "stopped by the caller, not by the job"
    );
    assert_eq!(sb.stats().requests, 1);
    assert!(!output.exists() && !dir.path().join("out.jsonl.partial").exists());

    // The rerun resumes from the journal: row 1 is not sent again.
    let stop = StopHandle::new();
    let job = Job::new(&input, &output).stop_handle(stop.clone());
    let (rows, summary) = run(job, client(&sb, Mode::Plain, &stop), || {}).await;
    assert_eq!(
        rows,
        [
            (1, Status::Match, Origin::Earlier),
            (2, Status::Mismatch, Origin::Sent),
            (3, Status::Match, Origin::Sent),
        ]
    );
    assert_eq!((summary.billable, summary.billable_this_run), (3, 2));
    assert_eq!(sb.stats().requests, 3);
    assert_eq!(std::fs::read_to_string(&output).unwrap().lines().count(), 3);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_material_stops_the_job_with_its_rows_pending() {
    // The sandbox decrypts with another OpenID: every row is unreadable to it (232901/232902).
    let sb = Sandbox::builder()
        .openid("JHanother0penid000000000000000001")
        .unwrap()
        .default_verdict(DefaultVerdict::Match)
        .spawn()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    write(
        &input,
        &[demo::MATCH, demo::MISMATCH, demo::NO_RECORD, demo::MATCH],
    );
    let stop = StopHandle::new();
    let job = Job::new(&input, &output)
        .concurrency(NonZeroUsize::MIN)
        .key_material("the OpenID")
        .stop_handle(stop.clone());
    let mode = Mode::aes_openid(demo::OPENID).unwrap();
    let (rows, summary) = run(job, client(&sb, mode, &stop), || {}).await;
    assert_eq!(rows.len(), 3, "the job stops at the third such answer");
    let why = summary.stopped.as_deref().unwrap();
    assert!(why.contains("check the OpenID"), "{why}");
    assert_eq!(
        summary.by_status["failed"], 3,
        "all three reopened as pending"
    );
    assert_eq!(summary.by_status["api_error"], 0);
    assert!(stop.is_stopped());
    assert!(!output.exists());
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn problems_with_the_files_are_typed_and_found_before_anything_is_sent() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    write(&input, &[demo::MATCH]);
    let stop = StopHandle::new();
    let make = || client(&sb, Mode::Plain, &stop);

    let same = Job::new(&input, &input).open(make()).err().unwrap();
    assert!(
        matches!(
            same,
            Error::SameFile {
                file: Role::Output,
                other: Role::Input
            }
        ),
        "{same:?}"
    );
    assert!(same.is_setup());

    // A second job on the same journal while the first holds it.
    let first = Job::new(&input, &output).open(make()).unwrap();
    let elsewhere = dir.path().join("other.csv");
    let second = Job::new(&input, &elsewhere)
        .journal(first.journal_path())
        .open(make())
        .err()
        .unwrap();
    assert!(matches!(second, Error::InUse { .. }), "{second:?}");
    assert!(second.is_setup());
    drop(first);

    std::fs::write(&input, "name,phone\nx,1\n").unwrap();
    let header = Job::new(&input, &output).open(make()).err().unwrap();
    match &header {
        Error::MissingColumns { missing, .. } => assert_eq!(missing, &["idcard", "mobile"]),
        other => panic!("{other:?}"),
    }
    assert_eq!(sb.stats().requests, 0);
    sb.shutdown().await;
}
