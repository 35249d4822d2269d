//! Stop a batch at a random point (SIGKILL, SIGINT, SIGTERM) × UTF-8 CSV, GBK CSV and JSONL,
//! then rerun: every row comes out exactly once, in order, its own columns byte for byte, and
//! the sandbox billed no pair twice. (Batch runs on the async client only: no client dimension.)

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use juhe_sandbox::{BlockingSandbox, DefaultVerdict, Fault, FaultPlan, Sandbox, demo};

const ROWS: usize = 60;

/// The input file's lines, as bytes, header first (for CSV).
fn input_lines(kind: &str) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    match kind {
        "jsonl" => {}
        "gbk" => lines.push(b"\xd0\xd5\xc3\xfb,idcard,mobile".to_vec()),
        _ => lines.push("姓名,idcard,mobile".as_bytes().to_vec()),
    }
    for (i, (id, m)) in common::pairs_from("3101041985", "131", ROWS)
        .into_iter()
        .enumerate()
    {
        lines.push(match kind {
            "jsonl" => {
                format!("{{\"n\":{i},\"idcard\":\"{id}\",\"mobile\":\"{m}\",\"名\":\"张{i}\"}}")
                    .into_bytes()
            }
            "gbk" => [b"\xd5\xc5".as_slice(), format!("{i},{id},{m}").as_bytes()].concat(),
            _ => format!("张{i},{id},{m}").into_bytes(),
        });
    }
    lines
}

fn run_batch(sb: &BlockingSandbox, input: &Path, output: &Path) -> std::process::Child {
    common::batch_cmd(&sb.base_url(), demo::API_KEY, &[], input, output)
        .args(["--concurrency", "4"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn jitter_ms() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    u64::from(nanos % 250)
}

fn check_output(kind: &str, lines: &[Vec<u8>], output: &Path) {
    let written = std::fs::read(output).unwrap();
    let out_lines: Vec<&[u8]> = written
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        out_lines.len(),
        lines.len(),
        "{kind}: every row exactly once"
    );
    for (input, out) in lines.iter().zip(&out_lines) {
        if kind == "jsonl" {
            let a: serde_json::Value = serde_json::from_slice(input).unwrap();
            let b: serde_json::Value = serde_json::from_slice(out).unwrap();
            for (k, v) in a.as_object().unwrap() {
                assert_eq!(&b[k], v, "{kind}: key {k} kept");
            }
        } else {
            assert!(
                out.starts_with(input) && out[input.len()] == b',',
                "{kind}: row kept byte for byte, in order"
            );
        }
    }
}

#[test]
fn any_stop_at_any_point_then_a_rerun_bills_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    for signal in ["KILL", "INT", "TERM"] {
        for kind in ["csv", "gbk", "jsonl"] {
            let sb = Sandbox::builder()
                .default_verdict(DefaultVerdict::Match)
                .faults(FaultPlan::new().then_times(Fault::DelayMs(15), 10 * ROWS))
                .spawn_blocking()
                .unwrap();
            let name = format!("{signal}-{kind}");
            let ext = if kind == "jsonl" { "jsonl" } else { "csv" };
            let input = dir.path().join(format!("{name}.{ext}"));
            let output = dir.path().join(format!("{name}.out.{ext}"));
            let lines = input_lines(kind);
            let mut bytes = lines.join(&b'\n');
            bytes.push(b'\n');
            std::fs::write(&input, bytes).unwrap();

            let mut child = run_batch(&sb, &input, &output);
            std::thread::sleep(Duration::from_millis(60 + jitter_ms()));
            Command::new("kill")
                .args([format!("-{signal}"), child.id().to_string()])
                .status()
                .unwrap();
            child.wait().unwrap();

            let rerun = run_batch(&sb, &input, &output).wait_with_output().unwrap();
            let code = rerun.status.code();
            assert!(matches!(code, Some(0) | Some(5)), "{name}: {code:?}");
            if signal != "KILL" {
                assert_eq!(
                    code,
                    Some(0),
                    "{name}: a drained stop leaves nothing unknown"
                );
            }
            check_output(kind, &lines, &output);
            assert_eq!(
                sb.pairs_billed_more_than_once(),
                0,
                "{name}: no pair billed twice"
            );
            assert!(sb.stats().billed <= ROWS as u64, "{name}");
        }
    }
}
