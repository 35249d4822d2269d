//! Input and output files as users really have them: ragged CSV, BOMs, non-UTF-8 bytes, column
//! names that collide with ours, stray quotes, pipes.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

mod common;

use common::{batch_cmd, bin};
use juhe_sandbox::{BlockingSandbox, DefaultVerdict, Sandbox, demo};
use serde_json::Value;

fn batch(
    sb: &BlockingSandbox,
    input: &Path,
    output: &Path,
    extra: &[&str],
) -> std::process::Output {
    batch_cmd(&sb.base_url(), demo::API_KEY, &["--json"], input, output)
        .args(extra)
        .output()
        .unwrap()
}

fn records(path: &Path) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .unwrap()
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn sandbox() -> BlockingSandbox {
    Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap()
}

#[test]
fn ragged_csv_rows_are_rejected_and_columns_stay_aligned() {
    let sb = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    let (id, m) = demo::MATCH;
    std::fs::write(
        &input,
        format!("idcard,mobile,note\n{id},{m},ok\n{id},{m},a,EXTRA\n{id},{m}\n"),
    )
    .unwrap();
    let out = batch(&sb, &input, &output, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = records(&output);
    assert_eq!(rows[0][3], "status");
    assert_eq!(rows[1][3], "match");
    assert_eq!(rows[2][3], "rejected", "{:?}", rows[2]);
    assert!(rows[2][7].contains("4 fields"), "{:?}", rows[2]);
    assert_eq!(
        rows[2][8], "EXTRA",
        "the overflow is kept, after the added columns"
    );
    assert_eq!(
        (rows[3][2].as_str(), rows[3][3].as_str()),
        ("", "rejected"),
        "{:?}",
        rows[3]
    );
    assert_eq!(sb.stats().requests, 1);
    let check = bin()
        .args(["--json", "check", "--input", input.to_str().unwrap()])
        .output()
        .unwrap();
    let lines: Vec<Value> = String::from_utf8_lossy(&check.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[1]["idcard_valid"], false,
        "check and batch agree: {}",
        lines[1]
    );
}

#[test]
fn jsonl_bom_keys_in_any_case_and_non_utf8_lines() {
    let sb = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    let (id, m) = demo::MATCH;
    let gbk_line: &[u8] = b"{\"idcard\":\"\xd5\xc5\xc8\xfd\",\"mobile\":\"1\"}";
    let mut text = format!("\u{feff}{{\"idcard\":\"{id}\",\"mobile\":\"{m}\"}}\n{{\"IDCARD\":\"{id}\",\"Mobile\":\"{m}\"}}\n").into_bytes();
    text.extend_from_slice(gbk_line);
    text.push(b'\n');
    std::fs::write(&input, text).unwrap();
    let out = batch(&sb, &input, &output, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["status"], "match", "the BOM line: {}", lines[0]);
    assert_eq!(lines[1]["status"], "match", "upper-case keys: {}", lines[1]);
    assert_eq!(lines[2]["status"], "rejected");
    use base64::Engine as _;
    let kept = base64::engine::general_purpose::STANDARD
        .decode(lines[2]["input_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        kept, gbk_line,
        "kept byte for byte, never replaced with U+FFFD"
    );
}

#[test]
fn names_we_add_are_refused_or_prefixed() {
    let sb = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    std::fs::write(
        &input,
        format!(
            "idcard,mobile,Status\n{},{},vip\n",
            demo::MATCH.0,
            demo::MATCH.1
        ),
    )
    .unwrap();
    let refused = batch(&sb, &input, &output, &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--prefix"));
    assert_eq!(sb.stats().requests, 0);
    let prefixed = batch(&sb, &input, &output, &["--prefix", "juhe_"]);
    assert_eq!(prefixed.status.code(), Some(0));
    let rows = records(&output);
    assert_eq!(
        (rows[0][2].as_str(), rows[0][3].as_str()),
        ("Status", "juhe_status")
    );
    assert_eq!((rows[1][2].as_str(), rows[1][3].as_str()), ("vip", "match"));

    let (jin, jout) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    std::fs::write(
        &jin,
        format!(
            "{{\"idcard\":\"{}\",\"mobile\":\"{}\",\"reason\":\"kyc\"}}\n",
            demo::MATCH.0,
            demo::MATCH.1
        ),
    )
    .unwrap();
    let before = sb.stats().requests;
    let refused = batch(&sb, &jin, &jout, &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(sb.stats().requests, before, "refused before sending");
}

#[test]
fn a_stray_quote_is_warned_about() {
    let sb = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
    let (id, m) = demo::MATCH;
    std::fs::write(
        &input,
        format!("name,idcard,mobile\n\"Zhang,{id},{m}\nLi,{id},{m}\n"),
    )
    .unwrap();
    let out = bin()
        .args(["--base-url", &sb.base_url(), "--key", demo::API_KEY])
        .args([
            "batch",
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("stray quote") && stderr.contains("check --input"),
        "{stderr}"
    );
    let check = bin()
        .args(["check", "--input", input.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&check.stdout).contains("stray quote"));
}

#[test]
fn a_pipe_is_streamed_without_a_total() {
    let sb = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.csv");
    let mut child = bin()
        .args([
            "--base-url",
            &sb.base_url(),
            "--key",
            demo::API_KEY,
            "--json",
        ])
        .args([
            "batch",
            "--input",
            "/dev/stdin",
            "--output",
            output.to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "idcard,mobile").unwrap();
        for _ in 0..3 {
            writeln!(stdin, "{},{}", demo::MATCH.0, demo::MATCH.1).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["rows"], 3);
    assert_eq!(records(&output).len(), 4);
}

#[test]
fn gbk_and_bom_files_come_back_in_their_own_encoding() {
    let sb = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let (id, m) = demo::MATCH;
    // "姓名,idcard,mobile\n张三,…" in GBK.
    let mut gbk = b"\xd0\xd5\xc3\xfb,idcard,mobile\n\xd5\xc5\xc8\xfd,".to_vec();
    gbk.extend_from_slice(format!("{id},{m}\n").as_bytes());
    let (input, output) = (dir.path().join("gbk.csv"), dir.path().join("gbk_out.csv"));
    std::fs::write(&input, &gbk).unwrap();
    let out = batch(&sb, &input, &output, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read(&output).unwrap();
    assert!(
        written.starts_with(b"\xd0\xd5\xc3\xfb,idcard,mobile,status"),
        "{written:?}"
    );
    assert!(
        written.windows(4).any(|w| w == b"\xd5\xc5\xc8\xfd"),
        "the name is still GBK"
    );
    assert!(std::str::from_utf8(&written).is_err(), "no UTF-8 mixed in");
    let forced = batch(
        &sb,
        &input,
        &dir.path().join("forced.csv"),
        &["--encoding", "utf-8"],
    );
    assert_eq!(forced.status.code(), Some(0));

    let (input, output) = (dir.path().join("bom.csv"), dir.path().join("bom_out.csv"));
    std::fs::write(
        &input,
        format!("\u{feff}姓名,idcard,mobile\n张三,{id},{m}\n"),
    )
    .unwrap();
    let out = batch(&sb, &input, &output, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(&output).unwrap();
    assert!(
        written.starts_with("\u{feff}姓名,idcard,mobile,status"),
        "{written}"
    );
    assert!(written.contains("张三,110105199003071239"));
}
