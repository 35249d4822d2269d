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

/// The lines of a file, each without its line end (`\n`, keeping any `\r`).
fn byte_lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if lines.last() == Some(&&b""[..]) {
        lines.pop();
    }
    lines
}

/// Pass-through columns come back byte for byte, even bytes GBK does not define the same way
/// everywhere (0x80, € in Windows' CP936) or at all (0xFF, 0x81 0x20): only our columns are
/// encoded. CSV and JSON Lines.
#[test]
fn gbk_pass_through_bytes_come_back_exactly() {
    let sb = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let (id, m) = demo::MATCH;
    // 姓名,idcard,mobile,备注 / 张三€,…,<invalid> / "张,€" (quoted, with a comma),…,x
    let mut csv_in = b"\xd0\xd5\xc3\xfb,idcard,mobile,\xb1\xb8\xd7\xa2\n".to_vec();
    csv_in.extend_from_slice(b"\xd5\xc5\xc8\xfd\x80,");
    csv_in.extend_from_slice(format!("{id},{m},").as_bytes());
    csv_in.extend_from_slice(b"\xff\x81\x20bad\n\"\xd5\xc5,\x80\",");
    csv_in.extend_from_slice(format!("{id},{m},x\n").as_bytes());
    let (input, output) = (dir.path().join("gbk.csv"), dir.path().join("out.csv"));
    std::fs::write(&input, &csv_in).unwrap();
    let out = batch(&sb, &input, &output, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read(&output).unwrap();
    let (ins, outs) = (byte_lines(&csv_in), byte_lines(&written));
    assert_eq!(ins.len(), outs.len());
    for (i, o) in ins.iter().zip(&outs) {
        assert!(
            o.starts_with(i) && o[i.len()] == b',',
            "{:x?} does not start with {:x?}",
            o,
            i
        );
    }
    for (i, o) in ins.iter().zip(&outs).skip(1) {
        assert!(o[i.len()..].starts_with(b",match,1,JH"), "{o:x?}");
    }

    let mut jsonl_in = b"{\"name\":\"".to_vec();
    jsonl_in.extend_from_slice(b"\xd5\xc5\x80\xff");
    jsonl_in.extend_from_slice(format!("\",\"idcard\":\"{id}\",\"mobile\":\"{m}\"}}\n").as_bytes());
    let (input, output) = (dir.path().join("gbk.jsonl"), dir.path().join("out.jsonl"));
    std::fs::write(&input, &jsonl_in).unwrap();
    let out = batch(&sb, &input, &output, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read(&output).unwrap();
    let object = &jsonl_in[..jsonl_in.len() - 2];
    assert!(
        written.starts_with(object)
            && written[object.len()..].starts_with(b",\"status\":\"match\""),
        "{:x?}",
        written
    );
    assert!(written.ends_with(b"}\n"));
}

/// UTF-16 (with or without a byte order mark) is refused with what to do, not misread as a
/// file without the columns.
#[test]
fn utf16_input_is_refused_with_a_clear_message() {
    let sb = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let (id, m) = demo::MATCH;
    let text = format!("idcard,mobile\r\n{id},{m}\r\n");
    let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    for (name, bytes) in [
        ("le_bom.csv", [&b"\xff\xfe"[..], &le].concat()),
        ("be_bom.csv", [&b"\xfe\xff"[..], &be].concat()),
        ("le.csv", le.clone()),
        ("le.jsonl", le),
    ] {
        let input = dir.path().join(name);
        std::fs::write(&input, bytes).unwrap();
        let out = batch(&sb, &input, &dir.path().join(format!("out_{name}")), &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains("UTF-16 text, which is not supported")
                && stderr.contains("save it as UTF-8 or GBK"),
            "{name}: {stderr}"
        );
        let check = bin()
            .args(["check", "--input", input.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(check.status.code(), Some(2), "{name}");
        assert!(String::from_utf8_lossy(&check.stderr).contains("UTF-16"));
    }
    assert_eq!(sb.stats().requests, 0);
}

/// CRLF line ends come back CRLF (CSV, with a quoted field spanning lines, and JSON Lines); a
/// last line without a line end stays without one.
#[test]
fn crlf_line_ends_are_kept() {
    let sb = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let (id, m) = demo::MATCH;
    let csv_in =
        format!("name,idcard,mobile\r\nZhang,{id},{m}\r\n\"Li\r\nSi\",{id},{m}\r\nWang,{id},{m}");
    let (input, output) = (dir.path().join("crlf.csv"), dir.path().join("out.csv"));
    std::fs::write(&input, &csv_in).unwrap();
    let out = batch(&sb, &input, &output, &["--no-dedupe"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(&output).unwrap();
    let lines: Vec<&str> = written.split("\r\n").collect();
    assert_eq!(lines.len(), 5, "{written:?}");
    assert_eq!(
        lines[0],
        "name,idcard,mobile,status,res,order_id,error_code,reason"
    );
    assert!(
        lines[1].starts_with(&format!("Zhang,{id},{m},match,1,")),
        "{written:?}"
    );
    assert_eq!(lines[2], "\"Li", "the quoted field is kept as it was");
    assert!(
        lines[3].starts_with(&format!("Si\",{id},{m},match,1,")),
        "{written:?}"
    );
    assert!(
        lines[4].starts_with(&format!("Wang,{id},{m},match,1,")),
        "{written:?}"
    );
    assert!(
        !lines[4].ends_with('\n'),
        "no line end added to the last line"
    );
    assert_eq!(written.matches('\n').count(), 4, "no bare LF: {written:?}");

    let jsonl_in = format!(
        "{{\"idcard\":\"{id}\",\"mobile\":\"{m}\"}}\r\n{{\"idcard\":\"{id}\",\"mobile\":\"{m}\"}}\r\n"
    );
    let (input, output) = (dir.path().join("crlf.jsonl"), dir.path().join("out.jsonl"));
    std::fs::write(&input, &jsonl_in).unwrap();
    let out = batch(&sb, &input, &output, &[]);
    assert_eq!(out.status.code(), Some(0));
    let written = std::fs::read_to_string(&output).unwrap();
    assert_eq!(written.matches("}\r\n").count(), 2, "{written:?}");
    assert_eq!(written.matches('\n').count(), 2, "{written:?}");
}

/// `--escape-formulas` puts a `'` before cells a spreadsheet would run as a formula (OWASP CSV
/// injection: = + - @ tab CR); without it the bytes come back exactly.
#[test]
fn escape_formulas_is_opt_in() {
    let sb = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let (id, m) = demo::MATCH;
    let notes = [
        "=HYPERLINK(\"http://x\",\"y\")",
        "+1",
        "-2",
        "@SUM(A1)",
        "\tx",
        "ok",
    ];
    let mut csv_in = String::from("idcard,mobile,note\n");
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    for note in notes {
        w.write_record([id, m, note]).unwrap();
    }
    csv_in.push_str(&String::from_utf8(w.into_inner().unwrap()).unwrap());
    let input = dir.path().join("in.csv");
    std::fs::write(&input, &csv_in).unwrap();

    let plain = dir.path().join("plain.csv");
    let out = batch(&sb, &input, &plain, &[]);
    assert_eq!(out.status.code(), Some(0));
    let written = std::fs::read_to_string(&plain).unwrap();
    for (i, o) in csv_in.lines().zip(written.lines()) {
        assert!(o.starts_with(&format!("{i},")), "off by default: {o}");
    }

    let escaped = dir.path().join("escaped.csv");
    let out = batch(&sb, &input, &escaped, &["--escape-formulas"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = records(&escaped);
    let got: Vec<&str> = rows[1..].iter().map(|r| r[2].as_str()).collect();
    assert_eq!(
        got,
        [
            "'=HYPERLINK(\"http://x\",\"y\")",
            "'+1",
            "'-2",
            "'@SUM(A1)",
            "'\tx",
            "ok"
        ]
    );
    assert!(rows[1..].iter().all(|r| r[3] == "match"), "{rows:?}");
}
