//! The SDK's metrics after a batch equal what the sandbox counted: checks by outcome, billed
//! calls and attempts (the metrics facade, captured by a debugging recorder in this process).

use std::path::Path;
use std::time::Duration;

use juhe_2fa::Client;
use juhe_batch::Job;
use juhe_sandbox::{DefaultVerdict, Fault, FaultPlan, Sandbox, demo};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

fn write_input(path: &Path) {
    let mut csv = String::from("idcard,mobile\n");
    for i in 0..12 {
        let (id, mobile) = demo::pair(i);
        csv.push_str(&format!("{id},{mobile}\n"));
    }
    // A no-record pair (an API error, not billed) and an invalid one (rejected, not sent).
    csv.push_str(&format!("{},{}\n", demo::NO_RECORD.0, demo::NO_RECORD.1));
    csv.push_str("110105199003071230,13012345678\n");
    std::fs::write(path, csv).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_counters_equal_the_sandboxs_counts_after_a_batch() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();
    // A 503 first: one check takes two attempts.
    let sandbox = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .faults(FaultPlan::new().then(Fault::HttpStatus(503)))
        .spawn()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    write_input(&input);
    let client = Client::builder()
        .api_key(demo::API_KEY)
        .base_url(sandbox.base_url())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let summary = Job::new(&input, &output)
        .open(client)
        .unwrap()
        .run(|_| {})
        .await
        .unwrap();
    assert_eq!(summary.stopped, None);

    let mut checks = std::collections::HashMap::<String, u64>::new();
    let (mut billed, mut attempts) = (0, 0);
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let (_, key) = key.into_parts();
        let DebugValue::Counter(n) = value else {
            continue;
        };
        let label = |name: &str| {
            key.labels()
                .find(|l| l.key() == name)
                .map(|l| l.value().to_owned())
                .unwrap_or_default()
        };
        match key.name() {
            "juhe_checks_total" => *checks.entry(label("outcome")).or_default() += n,
            "juhe_billed_total" => billed += n,
            "juhe_attempts_total" => attempts += n,
            _ => {}
        }
    }
    let stats = sandbox.stats();
    assert_eq!(checks.get("match").copied(), Some(stats.billed));
    assert_eq!(billed, stats.billed);
    assert_eq!(
        attempts, stats.requests,
        "every request the sandbox saw, and only those"
    );
    assert_eq!(checks.get("api_error").copied(), Some(1));
    // Rows the batch rejects itself never reach the SDK: its summary counts them.
    assert_eq!(summary.by_status.get("rejected").copied(), Some(1));
    assert_eq!(stats.billed, 12);
}
