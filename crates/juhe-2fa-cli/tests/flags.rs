//! Each command takes only the global options it uses: docs/cli.md's table, each command's
//! `--help` and the refusals agree; a refused flag stops the command before it reads, writes or
//! sends anything; the options still work before or after the command; an environment variable
//! is never refused.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

mod common;

use common::{bin, pairs, run, wait_at_most, write_csv};
use juhe_sandbox::{BlockingSandbox, Sandbox, demo};
use serde_json::Value;

/// The commands, in the table's column order.
const COMMANDS: [&str; 9] = [
    "verify", "check", "batch", "encrypt", "doctor", "sandbox", "demo", "ledger", "serve",
];

/// docs/cli.md's "Which command takes which option": each option (`--base-url`, `-v`) and
/// whether each of [`COMMANDS`] takes it.
fn table() -> Vec<(String, Vec<bool>)> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/cli.md")).unwrap();
    let header = format!(
        "| option | {} |",
        COMMANDS.map(|c| format!("`{c}`")).join(" | ")
    );
    let rows: Vec<(String, Vec<bool>)> = doc
        .lines()
        .skip_while(|l| *l != header)
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let option = cells[0].split('`').nth(1).unwrap().to_owned();
            let takes = cells[1..]
                .iter()
                .map(|c| match *c {
                    "✓" => true,
                    "✗" => false,
                    other => panic!("{option}: cell {other:?}"),
                })
                .collect::<Vec<_>>();
            assert_eq!(takes.len(), COMMANDS.len(), "{line}");
            (option, takes)
        })
        .collect();
    assert_eq!(rows.len(), 29, "every global option has a row");
    rows
}

/// The option with a value that parses (`--flag VALUE`, or the flag alone).
fn with_value(option: &str, sb: &BlockingSandbox, key_file: &Path) -> Vec<String> {
    let value = match option {
        "--base-url" => Some(sb.base_url()),
        "--key" => Some(demo::API_KEY.to_owned()),
        "--key-file" => Some(key_file.display().to_string()),
        "--mode" => Some("plain".to_owned()),
        "--openid" => Some(demo::OPENID.to_owned()),
        "--aes-key" => Some(demo::AES_KEY.to_owned()),
        "--aes-mode" => Some("ecb".to_owned()),
        "--aes-iv" => Some("same-as-key".to_owned()),
        "--rsa-public-key" => Some(demo::RSA_PUBLIC_KEY_B64.to_owned()),
        "--method" => Some("post".to_owned()),
        "--timeout" => Some("5".to_owned()),
        "--retries" => Some("0".to_owned()),
        "--qps" => Some("100".to_owned()),
        "--redis" => Some("redis://127.0.0.1:1".to_owned()),
        "--dedupe-ttl" => Some("0".to_owned()),
        "--expected-replicas" => Some("1".to_owned()),
        "--client" => Some("blocking".to_owned()),
        "--ledger" => Some(
            key_file
                .with_file_name("checks.ledger")
                .display()
                .to_string(),
        ),
        "--caller" => Some("ops".to_owned()),
        "--purpose" => Some("kyc".to_owned()),
        "--budget" => Some("1000/day".to_owned()),
        "--deadline" => Some("30".to_owned()),
        // A closed port: a command that takes it fails to connect, quickly.
        "--proxy" => Some("http://127.0.0.1:1".to_owned()),
        "--ca-cert" => Some(key_file.with_file_name("ca.pem").display().to_string()),
        "--lang" => Some("en".to_owned()),
        "--json" | "-v" | "--ledger-optional" | "--no-built-in-roots" => None,
        other => panic!("no value for {other}"),
    };
    std::iter::once(option.to_owned()).chain(value).collect()
}

/// The command with what it needs to parse; `sandbox` writes the demo keys into `dir` and exits
/// instead of serving.
fn command_args(command: &str, dir: &Path) -> Vec<String> {
    let (idcard, mobile) = demo::MATCH;
    let args: Vec<String> = match command {
        "verify" | "check" | "doctor" => ["--idcard", idcard, "--mobile", mobile]
            .map(str::to_owned)
            .to_vec(),
        "batch" => vec![
            "--report".into(),
            dir.join("none.journal").display().to_string(),
        ],
        "encrypt" => vec!["--value".into(), mobile.into()],
        "ledger" => vec!["stats".into()],
        // Prints a token and exits instead of serving.
        "serve" => vec!["--new-token".into(), "flags".into()],
        "sandbox" => vec![
            "--addr".into(),
            "127.0.0.1:0".into(),
            "--export-demo-keys".into(),
            dir.display().to_string(),
        ],
        _ => Vec::new(),
    };
    let yes = (command == "doctor").then(|| "--yes".to_owned());
    std::iter::once(command.to_owned())
        .chain(args)
        .chain(yes)
        .collect()
}

/// The option lines of `<command> -h` (indented at most 6: wrapped help text is indented more).
fn listed(help: &str, option: &str) -> bool {
    help.lines().any(|line| {
        let text = line.trim_start();
        line.len() - text.len() <= 6
            && text
                .strip_prefix(option)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', ',']))
    })
}

fn spawn(cmd: &mut Command) -> common::Run {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_at_most(child, 60)
}

/// Every cell of the table, with the option before and after the command: a ✗ is a usage error
/// naming the option and the command, a ✓ is taken and listed in the command's `-h`. JUHE_KEY
/// and JUHE_BASE_URL are set for every run: an environment variable is never refused.
#[test]
fn the_table_in_cli_md_is_what_each_command_takes_before_or_after_its_name() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, demo::API_KEY).unwrap();
    std::fs::write(dir.path().join("ca.pem"), common::test_ca().0).unwrap();
    let table = table();
    let mut refused_runs = 0;
    let mut requests_of_refused_runs = 0;
    let mut n = 0;
    for (c, command) in COMMANDS.iter().enumerate() {
        let help = run(bin().args([command, "-h"]));
        assert_eq!(help.code, 0, "{}", help.stderr);
        for (option, takes) in &table {
            assert_eq!(
                listed(&help.stdout, option),
                takes[c],
                "`{command} -h` lists {option} exactly when {command} takes it:\n{}",
                help.stdout
            );
            for before in [true, false] {
                n += 1;
                let out_dir = dir.path().join(format!("run-{n}"));
                let flag = with_value(option, &sb, &key_file);
                let mut cmd = bin();
                cmd.env("JUHE_KEY", demo::API_KEY)
                    .env("JUHE_BASE_URL", sb.base_url());
                if before {
                    cmd.args(&flag).args(command_args(command, &out_dir));
                } else {
                    cmd.args(command_args(command, &out_dir)).args(&flag);
                }
                let sent_before = sb.stats().requests;
                let r = spawn(&mut cmd);
                let what = format!(
                    "{option} {} {command}",
                    if before { "before" } else { "after" }
                );
                let refusal = format!("{option} does not apply to `{command}` (");
                if takes[c] {
                    assert!(
                        !r.stderr.contains("does not apply"),
                        "{what} is taken: {}",
                        r.stderr
                    );
                } else {
                    assert_eq!(r.code, 2, "{what}: {}", r.stderr);
                    assert!(r.stderr.contains(&refusal), "{what}: {}", r.stderr);
                    assert!(r.stdout.is_empty(), "{what}: {}", r.stdout);
                    assert!(!out_dir.exists(), "{what}: nothing is written");
                    refused_runs += 1;
                    requests_of_refused_runs += sb.stats().requests - sent_before;
                }
            }
        }
    }
    let crosses = table.iter().flat_map(|(_, t)| t).filter(|t| !**t).count();
    assert!(crosses > 60, "the table has its ✗ cells");
    assert_eq!(refused_runs, 2 * crosses, "each ✗ cell ran twice");
    assert_eq!(requests_of_refused_runs, 0, "a refused run sends nothing");
}

/// `check` refuses the API options (nothing to send) but not their environment variables, and
/// `--json` works on either side.
#[test]
fn check_refuses_api_flags_not_their_environment() {
    let (idcard, mobile) = demo::MATCH;
    let pair = ["--idcard", idcard, "--mobile", mobile];
    let r = run(bin()
        .args(["--redis", "redis://127.0.0.1:1", "check"])
        .args(pair));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("--redis does not apply to `check` (it validates locally and sends nothing)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("`juhe-2fa check --help`"), "{}", r.stderr);
    let two = run(bin()
        .args(["check"])
        .args(pair)
        .args(["--key", "k", "--qps", "3"]));
    assert_eq!(two.code, 2, "{}", two.stderr);
    assert!(
        two.stderr.contains("--key, --qps do not apply to `check`"),
        "{}",
        two.stderr
    );

    let before = run(bin()
        .env("JUHE_REDIS_URL", "redis://127.0.0.1:1")
        .env("JUHE_KEY", "k")
        .env("JUHE_MODE", "aes")
        .args(["--json", "check"])
        .args(pair));
    assert_eq!(before.code, 0, "{}", before.stderr);
    let after = run(bin().args(["check"]).args(pair).arg("--json"));
    assert_eq!(after.code, 0, "{}", after.stderr);
    assert_eq!(before.stdout, after.stdout);
    let v: Value = serde_json::from_str(after.stdout.trim()).unwrap();
    assert_eq!(v["supported"], true, "{v}");
}

/// `batch` refuses `--client` (and its old name `--transport`) wherever it stands, before
/// opening anything: no request, no output, no journal. The documented positions of the other
/// options still work.
#[test]
fn batch_refuses_client_and_sends_nothing() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    write_csv(&input, &pairs(3));
    let output = dir.path().join("out.csv");
    let base = ["--base-url", &sb.base_url(), "--key", demo::API_KEY];
    let io = |out: &Path| {
        [
            "--input".to_owned(),
            input.display().to_string(),
            "--output".to_owned(),
            out.display().to_string(),
        ]
    };
    for (flag, before) in [("--client", true), ("--transport", false)] {
        let mut cmd = bin();
        if before {
            cmd.args(base)
                .args([flag, "blocking", "batch"])
                .args(io(&output));
        } else {
            cmd.args(["batch"])
                .args(io(&output))
                .args(base)
                .args([flag, "async"]);
        }
        let r = run(&mut cmd);
        assert_eq!(r.code, 2, "{flag}: {}", r.stderr);
        assert!(
            r.stderr.contains(
                "--client does not apply to `batch` (it always runs on the async client)"
            ),
            "{}",
            r.stderr
        );
        assert!(!output.exists(), "no output");
        assert!(!dir.path().join("out.csv.journal").exists(), "no journal");
    }
    assert_eq!(sb.stats().requests, 0, "nothing was sent");

    // `juhe-2fa --base-url … --key … batch …`, and the same options after `batch`.
    let first = dir.path().join("first.csv");
    let r = run(bin()
        .args(base)
        .args(["--retries", "0", "batch"])
        .args(io(&first)));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let second = dir.path().join("second.csv");
    let r = run(bin()
        .args(["batch"])
        .args(io(&second))
        .args(base)
        .args(["--retries", "0"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(&first).unwrap().lines().count(),
        std::fs::read_to_string(&second).unwrap().lines().count()
    );
    assert_eq!(sb.stats().requests, 6, "both runs sent their rows");
}

/// `doctor` refuses what it would ignore (the fleet, retries, the AES block options, the
/// client) before its plan and question, and sends nothing; a `JUHE_REDIS_URL` in the
/// environment is no error (covered in tests/doctor.rs). Its options work on either side.
#[test]
fn doctor_refuses_what_it_ignores_before_its_plan() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let (idcard, mobile) = demo::MATCH;
    let base = ["--base-url", &sb.base_url(), "--key", demo::API_KEY];
    let pair = ["--yes", "--idcard", idcard, "--mobile", mobile];
    for (flag, value, why) in [
        (
            "--redis",
            "redis://127.0.0.1:1",
            "it sends each check itself",
        ),
        ("--qps", "1", "it sends each check itself"),
        ("--retries", "0", "it sends each scheme once"),
        ("--aes-mode", "cbc", "it tries the AES schemes itself"),
        ("--aes-iv", "zero", "it tries the AES schemes itself"),
        (
            "--client",
            "blocking",
            "it always runs on the blocking client",
        ),
    ] {
        for before in [true, false] {
            let mut cmd = bin();
            cmd.args(base);
            if before {
                cmd.args([flag, value, "doctor"]).args(pair);
            } else {
                cmd.arg("doctor").args(pair).args([flag, value]);
            }
            let r = run(&mut cmd);
            assert_eq!(r.code, 2, "{flag}: {}", r.stderr);
            let message = format!("{flag} does not apply to `doctor` ({why}");
            assert!(r.stderr.contains(&message), "{}", r.stderr);
            assert!(
                !r.stderr.contains("doctor will send"),
                "no plan: {}",
                r.stderr
            );
        }
    }
    assert_eq!(sb.stats().requests, 0, "nothing was sent");

    let before = run(bin().args(base).args(["--json", "doctor"]).args(pair));
    let after = run(bin().args(["doctor"]).args(pair).args(base).arg("--json"));
    for r in [&before, &after] {
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
        assert_eq!(v["scheme"], "plain", "{v}");
    }
    assert_eq!(sb.stats().requests, 2);
}

/// `encrypt` sends nothing: the sending options are refused, the scheme's work on either side.
#[test]
fn encrypt_refuses_sending_options() {
    let r = run(bin().args(["--key", "k", "encrypt", "--value", "x"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("--key does not apply to `encrypt` (it sends nothing"),
        "{}",
        r.stderr
    );
    let r = run(bin().args([
        "encrypt",
        "--value",
        "x",
        "--method",
        "get",
        "--timeout",
        "3",
    ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("--method, --timeout do not apply to `encrypt`"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());

    let scheme = ["--mode", "aes", "--openid", demo::OPENID];
    let before = run(bin()
        .env("JUHE_KEY", "k")
        .env("JUHE_BASE_URL", "http://127.0.0.1:9")
        .args(scheme)
        .args(["encrypt", "--value", demo::MATCH.1]));
    let after = run(bin()
        .args(["encrypt", "--value", demo::MATCH.1])
        .args(scheme));
    assert_eq!(
        (before.code, after.code),
        (0, 0),
        "{}{}",
        before.stderr,
        after.stderr
    );
    // The vendor's scheme is ECB: the same value encrypts the same way.
    assert_eq!(before.stdout, after.stdout);
    assert!(!before.stdout.contains(demo::MATCH.1));
}

/// `sandbox` refuses the client's options without writing or serving anything; its own global
/// options (`--key`, the AES key) work on either side.
#[test]
fn sandbox_refuses_client_options_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (args, message) in [
        (
            vec!["--mode", "aes", "sandbox"],
            "--mode does not apply to `sandbox` (it serves all three endpoints)",
        ),
        (
            vec!["sandbox", "--base-url", "http://127.0.0.1:9"],
            "--base-url does not apply to `sandbox` (it listens on --addr)",
        ),
        (
            vec!["sandbox", "--rsa-public-key", demo::RSA_PUBLIC_KEY_B64],
            "--rsa-public-key does not apply to `sandbox` (it decrypts with --rsa-private-key)",
        ),
    ] {
        let keys = dir.path().join("keys");
        let mut cmd = bin();
        cmd.args(args)
            .args(["--addr", "127.0.0.1:0", "--export-demo-keys"])
            .arg(&keys);
        let r = spawn(&mut cmd);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains(message), "{}", r.stderr);
        assert!(!keys.exists(), "nothing was written");
    }

    // `--key` before or after `sandbox`: the only key it accepts.
    for before in [true, false] {
        let mut cmd = bin();
        let own = ["--key", "my-own-key", "--json"];
        if before {
            cmd.args(own).arg("sandbox");
        } else {
            cmd.arg("sandbox").args(own);
        }
        let mut child = cmd
            .args(["--addr", "127.0.0.1:0", "--no-demo-key"])
            .env("JUHE_BASE_URL", "http://127.0.0.1:9")
            .env("JUHE_MODE", "rsa")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        let v: Value = serde_json::from_str(line.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
        assert_eq!(
            v["keys"],
            serde_json::json!(["a key of 10 characters (not shown)"]),
            "{v}"
        );
        assert!(v["demo_key"].is_null(), "{v}");
    }
}

/// `demo` runs its own sandbox: every API option is refused, `--json` works on either side.
#[test]
fn demo_refuses_api_options() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let r = run(bin().args(["--base-url", &sb.base_url(), "demo"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("--base-url does not apply to `demo` (it runs its own in-process sandbox"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    let r = run(bin().args(["demo", "--mode", "rsa", "--client", "blocking"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--mode, --client do not apply to `demo`"),
        "{}",
        r.stderr
    );
    assert_eq!(sb.stats().requests, 0);

    for args in [["--json", "demo"], ["demo", "--json"]] {
        let r = run(bin()
            .env("JUHE_KEY", "k")
            .env("JUHE_BASE_URL", sb.base_url())
            .args(args));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 6, "{v}");
    }
    assert_eq!(sb.stats().requests, 0, "demo ignores JUHE_BASE_URL");
}
