//! `cargo xtask bench [--quick]`: one run, one table. Against one sandbox (a separate
//! `juhe-2fa sandbox` process on loopback), for plain, AES and RSA: `wrk` (the loopback
//! ceiling), the async client driven as a service drives it (16 spawned tasks, current-thread
//! and 2-worker runtimes) with its floors (raw hyper, bare reqwest), the blocking client, `juhe-2fa batch`, the Python peer
//! (`benches/python_client.py` in the venv of `venv.rs`) and the `juhe_2fa` Python package
//! beside it (`benches/python_package.py`: sync on 16 threads, asyncio with 16 in flight, the
//! release wheel installed in that venv); then the crypto floor (`openssl
//! speed` against our RSA engines) and the no-regression figures (`check`, batch memory).
//! A full run writes the table, date and machine into `docs/performance.md`; `--quick`
//! (about 2 minutes once built) only prints it. Never part of `ci`.

use std::fmt::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{cargo, cargo_bin, ensure_apt_binaries, target_dir, workspace_root};

const MODES: [&str; 3] = ["plain", "aes", "rsa"];
pub(crate) const KEY: &str = "sandbox-demo-key";
/// The sandbox's demo OpenID (`juhe_sandbox::demo::OPENID`).
const OPENID: &str = "JHdemo0penid5andb0x0000000000001";
const DOC: &str = "docs/performance.md";
const BEGIN: &str = "<!-- bench:begin -->";
const END: &str = "<!-- bench:end -->";

/// One line of the table; `None` prints as `—`.
pub(crate) struct Row {
    pub(crate) mode: &'static str,
    pub(crate) who: String,
    pub(crate) per_s: Option<f64>,
    pub(crate) cpu_us: Option<f64>,
    pub(crate) p50_ms: Option<f64>,
    pub(crate) p99_ms: Option<f64>,
}

pub fn run(args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|a| a == "--quick");
    let seconds = if quick { 3 } else { 10 };
    ensure_apt_binaries(&[("wrk", "wrk"), ("openssl", "openssl")])?;
    cargo(
        &["build", "--release", "--locked", "-p", "juhe-2fa-cli"],
        &[],
    )?;
    let cli = target_dir().join("release").join("juhe-2fa");
    let sandbox = SandboxProcess::start(&cli)?;
    let dir = target_dir().join("bench-run");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if args.iter().any(|a| a == "--gateway") {
        return gateway_only(&cli, &sandbox.url, seconds, &dir);
    }
    let python = crate::venv::python()?;
    install_python_package(&python)?;

    let mut rows = Vec::new();
    for mode in MODES {
        println!("xtask bench: {mode}");
        rows.push(wrk(mode, &cli, &sandbox.url, seconds, &dir)?);
        rows.extend(clients(mode, &sandbox.url, seconds)?);
        rows.extend(crate::bench_gateway::rows(
            mode,
            &cli,
            &sandbox.url,
            seconds,
            &dir,
        )?);
        let n = match (mode, quick) {
            ("rsa", true) => 1_500,
            (_, true) => 4_000,
            ("rsa", false) => 10_000,
            (_, false) => 40_000,
        };
        rows.push(batch(mode, &cli, &sandbox.url, n, &dir)?);
        rows.push(python_peer(mode, &python, &sandbox.url, seconds)?);
        rows.extend(python_package(mode, &python, &sandbox.url, seconds)?);
    }
    drop(sandbox);
    let floor = crypto_floor(quick)?;
    let extra = no_regression(&cli, &python, quick, &dir)?;
    let table = render(&rows, &floor, &extra, quick);
    println!("\n{table}");
    if quick {
        println!("xtask bench: --quick run; {DOC} keeps the last full run");
        Ok(())
    } else {
        write_doc(&table)
    }
}

fn run_ok(command: &mut Command) -> Result<String, String> {
    let out = command
        .current_dir(workspace_root())
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `juhe-2fa sandbox` on a free loopback port, answering every valid pair; killed on drop.
struct SandboxProcess {
    child: Child,
    url: String,
}

impl SandboxProcess {
    fn start(cli: &Path) -> Result<SandboxProcess, String> {
        let mut command = Command::new(cli);
        command
            .args(["sandbox", "--default-verdict", "hash"])
            .env("JUHE_KEY", KEY);
        let (child, url) = spawn_listening(command, "the sandbox")?;
        Ok(SandboxProcess { child, url })
    }
}

/// Starts a server `command` with `--addr` on a free loopback port (output discarded) and
/// waits up to 10 s until it accepts connections; the child and its `http://` URL.
pub fn spawn_listening(mut command: Command, what: &str) -> Result<(Child, String), String> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = command
        .args(["--addr", &addr])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    let started = Instant::now();
    while TcpStream::connect(&addr).is_err() {
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!("{what} did not listen within 10 s"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((child, format!("http://{addr}")))
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The CLI's mode flags for `mode`, with the sandbox's demo keys.
pub(crate) fn mode_flags(mode: &str) -> Result<Vec<String>, String> {
    Ok(match mode {
        "aes" => vec![
            "--mode".into(),
            "aes".into(),
            "--openid".into(),
            OPENID.into(),
        ],
        "rsa" => {
            let path = workspace_root().join("crates/juhe-crypto/demo/rsa_public.b64");
            let key = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            vec![
                "--mode".into(),
                "rsa".into(),
                "--rsa-public-key".into(),
                key.trim().into(),
            ]
        }
        _ => vec!["--mode".into(), "plain".into()],
    })
}

/// A field value as `mode` sends it, form-encoded (what `juhe-2fa encrypt` prints).
pub(crate) fn field(cli: &Path, mode: &str, value: &str) -> Result<String, String> {
    let text = run_ok(
        Command::new(cli)
            .args(mode_flags(mode)?)
            .args(["encrypt", "--value", value]),
    )?;
    let text = text.trim();
    Ok(text.chars().fold(String::new(), |mut out, c| {
        match c {
            '+' => out.push_str("%2B"),
            '/' => out.push_str("%2F"),
            '=' => out.push_str("%3D"),
            c => out.push(c),
        }
        out
    }))
}

/// `wrk` POSTing one valid, already encoded check: the sandbox's ceiling on this machine.
fn wrk(mode: &'static str, cli: &Path, url: &str, seconds: u64, dir: &Path) -> Result<Row, String> {
    let path = match mode {
        "aes" => "/telecom2Cucc/queryEncry",
        "rsa" => "/telecom2Cucc/queryRV2",
        _ => "/telecom2Cucc/query",
    };
    let body = format!(
        "key={KEY}&idcard={}&mobile={}",
        field(cli, mode, "110105199003071239")?,
        field(cli, mode, "13012345678")?
    );
    let script = dir.join(format!("wrk-{mode}.lua"));
    let lua = format!(
        "wrk.method = \"POST\"\nwrk.body = \"{body}\"\nwrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n"
    );
    std::fs::write(&script, lua).map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let (out, cpu) = measured(
        Command::new("wrk")
            .args(["-t2", "-c16", &format!("-d{seconds}s"), "--latency", "-s"])
            .arg(&script)
            .arg(format!("{url}{path}")),
    )?;
    let per_s = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok());
    let percentile = |p: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(p))
            .and_then(|v| duration_ms(v.trim()))
    };
    Ok(Row {
        mode,
        who: "wrk (2 threads, 16 connections)".into(),
        per_s,
        cpu_us: per_s.map(|r| cpu * 1e6 / (r * seconds as f64)),
        p50_ms: percentile("50%"),
        p99_ms: percentile("99%"),
    })
}

/// wrk's `1.23ms`, `456.00us`, `1.01s` in milliseconds.
pub(crate) fn duration_ms(text: &str) -> Option<f64> {
    let (number, factor) = if let Some(v) = text.strip_suffix("us") {
        (v, 1e-3)
    } else if let Some(v) = text.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = text.strip_suffix('s') {
        (v, 1e3)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * factor)
}

/// Runs a command to the end and returns its stdout and its CPU seconds (its children
/// included: the kernel adds a waited-for child's time to ours).
fn measured(command: &mut Command) -> Result<(String, f64), String> {
    let before = children_cpu();
    let out = command
        .current_dir(workspace_root())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{command:?} failed"));
    }
    Ok((
        String::from_utf8_lossy(&out.stdout).into_owned(),
        children_cpu() - before,
    ))
}

/// CPU seconds of this process's waited-for children, from `/proc/self/stat` (cutime+cstime).
fn children_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    fields
        .get(13..15)
        .map(|f| f.iter().filter_map(|t| t.parse::<f64>().ok()).sum::<f64>() / 100.0)
        .unwrap_or(0.0)
}

/// The SDK's async client (as a service drives it, on both runtime flavours) beside its two
/// floors, and the blocking client (`benches/throughput.rs`, AWS-LC RSA engine).
fn clients(mode: &'static str, url: &str, seconds: u64) -> Result<Vec<Row>, String> {
    let out = run_ok(
        Command::new(cargo_bin())
            .args([
                "bench",
                "--locked",
                "-q",
                "-p",
                "juhe-2fa",
                "--features",
                "aws-lc",
            ])
            .args(["--bench", "throughput", "--"])
            .arg(seconds.to_string())
            .arg(mode)
            .env("JUHE_BENCH_BASE_URL", url),
    )?;
    Ok(parse_clients(mode, &out))
}

/// The rows of `benches/throughput.rs`'s lines (`mode client checks/s cpu_µs p50_ms p99_ms`);
/// a client name this table does not know is skipped, not guessed.
fn parse_clients(mode: &'static str, out: &str) -> Vec<Row> {
    out.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
            let who = CLIENT_ROWS.iter().find(|(tag, _)| f.get(1) == Some(tag))?.1;
            Some(Row {
                mode,
                who: who.into(),
                per_s: num(2),
                cpu_us: num(3),
                p50_ms: num(4),
                p99_ms: num(5),
            })
        })
        .collect()
}

/// `benches/throughput.rs`'s client names and their rows in the table, in its order.
const CLIENT_ROWS: [(&str, &str); 7] = [
    (
        "async-ct",
        "SDK `Client` (async, current-thread runtime, 16 tasks)",
    ),
    (
        "reqwest-ct",
        "floor: bare reqwest, our settings (current-thread)",
    ),
    (
        "hyper-ct",
        "floor: raw hyper http1, 16 connections (current-thread)",
    ),
    (
        "async-mt",
        "SDK `Client` (async, 2-worker runtime, 16 tasks)",
    ),
    (
        "reqwest-mt",
        "floor: bare reqwest, our settings (2 workers)",
    ),
    (
        "hyper-mt",
        "floor: raw hyper http1, 16 connections (2 workers)",
    ),
    ("blocking", "SDK `BlockingClient` (16 threads)"),
];

/// Per mode and runtime: the async client's row and its two floors' (bare reqwest, raw hyper).
const FLOORS: [(&str, [&str; 3]); 2] = [
    ("current-thread", ["async-ct", "reqwest-ct", "hyper-ct"]),
    ("2 workers", ["async-mt", "reqwest-mt", "hyper-mt"]),
];

/// The table's row name of a `benches/throughput.rs` client.
fn client_row(tag: &str) -> &'static str {
    CLIENT_ROWS
        .iter()
        .find(|(t, _)| *t == tag)
        .map_or("", |(_, who)| who)
}

/// The async client against its floors: CPU per check of each, the SDK's own cost above bare
/// reqwest, and the async client's ratio to each floor (CPU, and checks/s).
fn render_floors(rows: &[Row]) -> String {
    let mut t = String::from(
        "\nThe async client against its floors (the same encoded request, sent without the SDK), \
         client CPU µs/check:\n\n\
         | mode | runtime | SDK `Client` | bare reqwest | raw hyper | SDK − reqwest | \
         CPU vs reqwest | CPU vs hyper | checks/s vs reqwest | checks/s vs hyper |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for mode in MODES {
        for (runtime, [sdk, reqwest, hyper]) in FLOORS {
            let [sdk, reqwest, hyper] =
                [sdk, reqwest, hyper].map(|tag| find_exact(rows, mode, client_row(tag)));
            if sdk.is_none() {
                continue;
            }
            let cpu = |r: Option<&Row>| r.and_then(|r| r.cpu_us);
            let rate = |r: Option<&Row>| r.and_then(|r| r.per_s);
            let above = match (cpu(sdk), cpu(reqwest)) {
                (Some(a), Some(b)) => format!("{:+.1}", a - b),
                _ => "—".into(),
            };
            let _ = writeln!(
                t,
                "| {mode} | {runtime} | {} | {} | {} | {above} | {} | {} | {} | {} |",
                cell(cpu(sdk), 1),
                cell(cpu(reqwest), 1),
                cell(cpu(hyper), 1),
                ratio(cpu(sdk), cpu(reqwest)),
                ratio(cpu(sdk), cpu(hyper)),
                ratio(rate(sdk), rate(reqwest)),
                ratio(rate(sdk), rate(hyper)),
            );
        }
    }
    t
}

fn find_exact<'a>(rows: &'a [Row], mode: &str, who: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.mode == mode && r.who == who)
}

/// `n` distinct valid Unicom pairs as CSV (the same series as `juhe_sandbox::demo::pair`; ID
/// numbers repeat after 336,000, but each pair has its own mobile number up to 10⁸).
fn write_pairs(path: &Path, n: usize) -> Result<(), String> {
    let mut csv = String::from("idcard,mobile\n");
    for i in 0..n {
        let first17 = format!(
            "1101051990{:02}{:02}{:03}",
            1 + (i / 28_000) % 12,
            1 + (i / 1000) % 28,
            i % 1000
        );
        let idcard = juhe_proto::IdCard::with_check_digit(&first17).ok_or("17 digits")?;
        let _ = writeln!(csv, "{idcard},130{:08}", i % 100_000_000);
    }
    std::fs::write(path, csv).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `juhe-2fa batch` of `n` rows, 16 in flight, journal and all: rows/s and CPU per row.
fn batch(mode: &'static str, cli: &Path, url: &str, n: usize, dir: &Path) -> Result<Row, String> {
    let input = dir.join(format!("batch-{mode}.csv"));
    let output = dir.join(format!("batch-{mode}.out.csv"));
    write_pairs(&input, n)?;
    for stale in [
        output.clone(),
        dir.join(format!("batch-{mode}.out.csv.journal")),
    ] {
        let _ = std::fs::remove_file(stale);
    }
    let started = Instant::now();
    let (_, cpu) = measured(
        Command::new(cli)
            .env("JUHE_KEY", KEY)
            .args(["--base-url", url])
            .args(mode_flags(mode)?)
            .args(["batch", "--concurrency", "16", "--input"])
            .arg(&input)
            .arg("--output")
            .arg(&output),
    )?;
    let wall = started.elapsed().as_secs_f64();
    Ok(Row {
        mode,
        who: format!("`juhe-2fa batch` ({n} rows, 16 in flight)"),
        per_s: Some(n as f64 / wall),
        cpu_us: Some(cpu * 1e6 / n as f64),
        p50_ms: None,
        p99_ms: None,
    })
}

/// The Python peer: `requests` + `cryptography`, 16 threads.
fn python_peer(mode: &'static str, python: &Path, url: &str, seconds: u64) -> Result<Row, String> {
    let out = run_ok(Command::new(python).args([
        "benches/python_client.py",
        url,
        mode,
        &seconds.to_string(),
        "16",
    ]))?;
    Ok(python_row(
        mode,
        "Python requests + cryptography (16 threads)",
        &out,
    ))
}

/// The rows of the `juhe_2fa` Python package (the release wheel, installed in the venv by
/// [`install_python_package`]): one shared `Client` on 16 threads, and an `AsyncClient` with
/// 16 checks in flight on one event loop.
fn python_package(
    mode: &'static str,
    python: &Path,
    url: &str,
    seconds: u64,
) -> Result<Vec<Row>, String> {
    [
        ("sync", PACKAGE_SYNC),
        ("async", "`juhe_2fa` Python package, asyncio (16 in flight)"),
    ]
    .into_iter()
    .map(|(style, who)| {
        let out = run_ok(Command::new(python).args([
            "benches/python_package.py",
            url,
            mode,
            &seconds.to_string(),
            "16",
            style,
        ]))?;
        Ok(python_row(mode, who, &out))
    })
    .collect()
}

/// The sync package row's name (the checks/s target compares it with the peer).
const PACKAGE_SYNC: &str = "`juhe_2fa` Python package, sync (16 threads)";

/// The release wheel (`cargo xtask wheel`), installed over any earlier one in the bench's venv.
fn install_python_package(python: &Path) -> Result<(), String> {
    let wheel = crate::wheel::build(crate::wheel::Profile::Release)?;
    let mut pip = Command::new(python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--force-reinstall",
        "--no-deps",
    ])
    .arg(&wheel);
    crate::util::run(pip, &format!("pip install {}", wheel.display()))
}

/// A row from a Python script's line: `NAME MODE CHECKS_PER_S CPU_US P50_MS P99_MS`.
fn python_row(mode: &'static str, who: &str, out: &str) -> Row {
    let f: Vec<f64> = out
        .split_whitespace()
        .skip(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    Row {
        mode,
        who: who.into(),
        per_s: f.first().copied(),
        cpu_us: f.get(1).copied(),
        p50_ms: f.get(2).copied(),
        p99_ms: f.get(3).copied(),
    }
}

/// RSA-2048: OpenSSL's public-key operation, our two engines' OAEP encryption, and the SDK's
/// whole RSA check without network (criterion), in µs.
struct Floor {
    openssl_public_op: f64,
    pure_encrypt: f64,
    aws_lc_encrypt: f64,
    client_overhead: f64,
}

fn crypto_floor(quick: bool) -> Result<Floor, String> {
    let speed = run_ok(Command::new("openssl").args([
        "speed",
        "-seconds",
        if quick { "1" } else { "3" },
        "rsa2048",
    ]))?;
    let verify_per_s = speed
        .lines()
        .find(|l| l.starts_with("rsa 2048") || l.starts_with("rsa  2048"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or("cannot read `openssl speed rsa2048`")?;
    let time = if quick { "2" } else { "5" };
    let criterion = |args: &[&str], name: &str| -> Result<f64, String> {
        let out = run_ok(
            Command::new(cargo_bin())
                .args(["bench", "--locked", "-q"])
                .args(args)
                .args([
                    "--",
                    name,
                    "--warm-up-time",
                    "1",
                    "--measurement-time",
                    time,
                ]),
        )?;
        criterion_mid_us(&out).ok_or_else(|| format!("no criterion figure for {name}"))
    };
    Ok(Floor {
        openssl_public_op: 1e6 / verify_per_s,
        pure_encrypt: criterion(
            &["-p", "juhe-crypto", "--bench", "encrypt"],
            "encrypt_18_bytes/rsa2048_oaep_sha1",
        )?,
        aws_lc_encrypt: criterion(
            &[
                "-p",
                "juhe-crypto",
                "--features",
                "aws-lc",
                "--bench",
                "encrypt",
            ],
            "encrypt_18_bytes/rsa2048_oaep_sha1",
        )?,
        client_overhead: criterion(
            &[
                "-p",
                "juhe-2fa",
                "--features",
                "aws-lc",
                "--bench",
                "overhead",
            ],
            "client_overhead/blocking/rsa",
        )?,
    })
}

/// The middle figure of criterion's `time: [low mid high]`, in µs.
fn criterion_mid_us(out: &str) -> Option<f64> {
    let line = out.lines().find(|l| l.trim_start().starts_with("time:"))?;
    let inside = line.split('[').nth(1)?.trim_end_matches(']');
    let parts: Vec<&str> = inside.split_whitespace().collect();
    let (value, unit) = (parts.get(2)?.parse::<f64>().ok()?, *parts.get(3)?);
    Some(match unit {
        "ns" => value / 1e3,
        "ms" => value * 1e3,
        "s" => value * 1e6,
        _ => value,
    })
}

/// `check` speed and `batch` memory, against the figures the project promises.
struct Extra {
    check_lines: usize,
    check_lines_per_s: f64,
    batch_rows: usize,
    batch_peak_rss_mib: f64,
}

fn no_regression(cli: &Path, python: &Path, quick: bool, dir: &Path) -> Result<Extra, String> {
    let lines = if quick { 300_000 } else { 1_000_000 };
    let input = dir.join("check.csv");
    write_pairs(&input, lines)?;
    let measure = |args: &[&str]| -> Result<(f64, f64), String> {
        let out = run_ok(
            Command::new(python)
                .arg("benches/measure.py")
                .arg(cli)
                .args(args)
                .env("JUHE_KEY", KEY),
        )?;
        let f: Vec<f64> = out
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        Ok((
            f.first().copied().unwrap_or(0.0),
            f.get(2).copied().unwrap_or(0.0),
        ))
    };
    let input_str = input.to_string_lossy().into_owned();
    let (check_wall, _) = measure(&["check", "--input", &input_str])?;
    let rows = if quick { 100_000 } else { 1_000_000 };
    let batch_input = dir.join("rss.csv");
    write_pairs(&batch_input, rows)?;
    let sandbox = SandboxProcess::start(cli)?;
    let out = dir.join("rss.out.csv");
    for stale in [out.clone(), dir.join("rss.out.csv.journal")] {
        let _ = std::fs::remove_file(stale);
    }
    let (_, rss_kb) = measure(&[
        "--base-url",
        &sandbox.url,
        "batch",
        "--concurrency",
        "16",
        "--input",
        &batch_input.to_string_lossy(),
        "--output",
        &out.to_string_lossy(),
    ])?;
    Ok(Extra {
        check_lines: lines,
        check_lines_per_s: lines as f64 / check_wall.max(1e-9),
        batch_rows: rows,
        batch_peak_rss_mib: rss_kb / 1024.0,
    })
}

fn cell(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.digits$}"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "—".into(),
    }
}

fn find<'a>(rows: &'a [Row], mode: &str, who: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.mode == mode && r.who.starts_with(who))
}

fn verdict(ok: bool, measured: f64, target: f64) -> String {
    if ok {
        "met".into()
    } else {
        format!(
            "**missed** by {:.0} %",
            ((measured / target) - 1.0).abs() * 100.0
        )
    }
}

fn render(rows: &[Row], floor: &Floor, extra: &Extra, quick: bool) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| mode | client | checks/s | client CPU µs/check | p50 ms | p99 ms | CPU vs Python | checks/s vs wrk |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|---|---|---|");
    for r in rows {
        let python = find(rows, r.mode, "Python");
        let wrk = find(rows, r.mode, "wrk");
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.mode,
            r.who,
            cell(r.per_s, 0),
            cell(r.cpu_us, 1),
            cell(r.p50_ms, 2),
            cell(r.p99_ms, 2),
            ratio(r.cpu_us, python.and_then(|p| p.cpu_us)),
            ratio(r.per_s, wrk.and_then(|w| w.per_s)),
        );
    }
    t.push_str(&render_floors(rows));
    let two_openssl = 2.0 * floor.openssl_public_op;
    let _ = writeln!(
        t,
        "\nCrypto floor, RSA-2048: OpenSSL public-key operation {:.1} µs (`openssl speed rsa2048`); \
         our OAEP-SHA1 encryption {:.1} µs with AWS-LC, {:.1} µs with the pure-Rust `rsa` crate; \
         the SDK's whole RSA check without network (validate, two encryptions, request, parse; \
         criterion, AWS-LC) {:.1} µs = {:.2} × two OpenSSL public-key operations.",
        floor.openssl_public_op,
        floor.aws_lc_encrypt,
        floor.pure_encrypt,
        floor.client_overhead,
        floor.client_overhead / two_openssl
    );
    t.push_str(&targets(rows, floor, extra));
    let how = if quick {
        "`cargo xtask bench --quick`"
    } else {
        "`cargo xtask bench`"
    };
    let _ = writeln!(t, "\n{}, {}. {how}", today(), machine());
    t
}

/// The Python package's targets, per mode: CPU per check ≤ 1/5 of the peer's (sync and
/// asyncio rows), checks/s ≥ 5 × the peer's with 16 threads. Each: name, measured, met, and
/// (measured, target) for how much it missed by.
fn package_targets(rows: &[Row]) -> Vec<(String, String, bool, (f64, f64))> {
    let mut out = Vec::new();
    for mode in MODES {
        let python = find(rows, mode, "Python");
        let package = rows
            .iter()
            .filter(|r| r.mode == mode && r.who.starts_with("`juhe_2fa` Python package"));
        for row in package {
            if let (Some(p), Some(c)) = (python.and_then(|p| p.cpu_us), row.cpu_us) {
                out.push((
                    format!("{mode} {} CPU/check ≤ 1/5 of Python's", row.who),
                    format!("1/{:.1}", p / c),
                    p / c >= 5.0,
                    (p / c, 5.0),
                ));
            }
        }
        let sync = find_exact(rows, mode, PACKAGE_SYNC).and_then(|r| r.per_s);
        if let (Some(s), Some(p)) = (sync, python.and_then(|p| p.per_s)) {
            out.push((
                format!("{mode} Python package checks/s ≥ 5 × Python's (16 threads)"),
                format!("{:.1} ×", s / p),
                s / p >= 5.0,
                (s / p, 5.0),
            ));
        }
    }
    out
}

/// The targets, each met or missed by how much.
fn targets(rows: &[Row], floor: &Floor, extra: &Extra) -> String {
    let two_openssl = 2.0 * floor.openssl_public_op;
    let mut t = String::from("\n| target | measured | |\n|---|---|---|\n");
    let mut target = |name: &str, measured: String, ok: bool, off: (f64, f64)| {
        let _ = writeln!(t, "| {name} | {measured} | {} |", verdict(ok, off.0, off.1));
    };
    let overhead = floor.client_overhead / two_openssl;
    target(
        "RSA check overhead ≤ 1.25 × two OpenSSL public ops",
        format!("{overhead:.2} ×"),
        overhead <= 1.25,
        (overhead, 1.25),
    );
    for (mode, limit) in [("rsa", 6.0), ("plain", 10.0), ("aes", 10.0)] {
        let batch = find(rows, mode, "`juhe-2fa batch`").and_then(|r| r.cpu_us);
        let python = find(rows, mode, "Python").and_then(|r| r.cpu_us);
        if let (Some(b), Some(p)) = (batch, python) {
            target(
                &format!("{mode} batch CPU/check ≤ 1/{limit:.0} of Python's"),
                format!("1/{:.1}", p / b),
                p / b >= limit,
                (p / b, limit),
            );
        }
    }
    for (name, measured, ok, off) in package_targets(rows) {
        target(&name, measured, ok, off);
    }
    for (runtime, [sdk, reqwest, _]) in FLOORS {
        let cpu = |tag: &str| find_exact(rows, "plain", client_row(tag)).and_then(|r| r.cpu_us);
        if let (Some(a), Some(b)) = (cpu(sdk), cpu(reqwest)) {
            target(
                &format!("plain: SDK above bare reqwest ≤ 1.0 µs/check ({runtime})"),
                format!("{:+.1} µs", a - b),
                a - b <= 1.0,
                (a - b, 1.0),
            );
        }
    }
    if let (Some(a), Some(w)) = (
        find_exact(rows, "plain", client_row("async-mt")).and_then(|r| r.per_s),
        find(rows, "plain", "wrk").and_then(|r| r.per_s),
    ) {
        target(
            "async plain (2 workers) ≥ 70 % of wrk",
            format!("{:.0} %", a / w * 100.0),
            a / w >= 0.7,
            (a / w, 0.7),
        );
    }
    gateway_targets(rows, &mut target);
    if let Some(w) = find(rows, "rsa", "wrk").and_then(|r| r.per_s) {
        target(
            "sandbox RSA ≥ 3 × 400 checks/s",
            format!("{w:.0}/s"),
            w >= 1200.0,
            (w, 1200.0),
        );
    }
    target(
        "`check` ≥ 1.5 M lines/s",
        format!(
            "{:.2} M lines/s ({} lines)",
            extra.check_lines_per_s / 1e6,
            extra.check_lines
        ),
        extra.check_lines_per_s >= 1.5e6,
        (extra.check_lines_per_s, 1.5e6),
    );
    target(
        "batch peak RSS < 64 MiB",
        format!(
            "{:.1} MiB ({} rows)",
            extra.batch_peak_rss_mib, extra.batch_rows
        ),
        extra.batch_peak_rss_mib < 64.0,
        (extra.batch_peak_rss_mib, 64.0),
    );
    t
}

/// `bench --gateway`: only what the gateway's targets compare (plain mode: the async client,
/// the gateway, the paced pair), printed; the committed table is left as it is.
fn gateway_only(cli: &Path, url: &str, seconds: u64, dir: &Path) -> Result<(), String> {
    let mut rows = clients("plain", url, seconds)?;
    rows.extend(crate::bench_gateway::rows("plain", cli, url, seconds, dir)?);
    let mut t = String::from(
        "| client | checks/s | client CPU µs/check | p50 ms | p99 ms |\n|---|---|---|---|---|\n",
    );
    for r in &rows {
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} |",
            r.who,
            cell(r.per_s, 0),
            cell(r.cpu_us, 1),
            cell(r.p50_ms, 2),
            cell(r.p99_ms, 2)
        );
    }
    t.push_str("\n| target | measured | |\n|---|---|---|\n");
    gateway_targets(
        &rows,
        &mut |name: &str, measured: String, ok: bool, off: (f64, f64)| {
            let _ = writeln!(t, "| {name} | {measured} | {} |", verdict(ok, off.0, off.1));
        },
    );
    let _ = writeln!(
        t,
        "\n{}, {}. `cargo xtask bench --gateway`",
        today(),
        machine()
    );
    println!("\n{t}");
    Ok(())
}

/// The gateway's targets: half the async client's checks/s in plain mode, and at most 2 ms of
/// p99 added at about 1,000 checks/s.
fn gateway_targets(rows: &[Row], target: &mut impl FnMut(&str, String, bool, (f64, f64))) {
    use crate::bench_gateway::{PACED_DIRECT, PACED_GATEWAY};
    if let (Some(g), Some(a)) = (
        find(rows, "plain", "gateway `serve`").and_then(|r| r.per_s),
        find_exact(rows, "plain", client_row("async-mt")).and_then(|r| r.per_s),
    ) {
        target(
            "gateway plain ≥ 50 % of the async client's checks/s (2 workers)",
            format!("{:.0} %", g / a * 100.0),
            g / a >= 0.5,
            (g / a, 0.5),
        );
    }
    let p99 = |who: &str| find_exact(rows, "plain", who).and_then(|r| r.p99_ms);
    if let (Some(g), Some(d)) = (p99(PACED_GATEWAY), p99(PACED_DIRECT)) {
        target(
            "gateway p99 added at ~1,000 checks/s ≤ 2 ms",
            format!("{:+.2} ms", g - d),
            g - d <= 2.0,
            (g - d, 2.0),
        );
    }
}

fn today() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{}-{:02}-{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    )
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    format!("{cores} cores ({model}), {mem_gib:.0} GiB")
}

/// Replaces the generated part of `docs/performance.md`.
fn write_doc(table: &str) -> Result<(), String> {
    let path = workspace_root().join(DOC);
    let doc = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {DOC}: {e}"))?;
    let (Some(begin), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        return Err(format!("{DOC} has no {BEGIN} … {END} section"));
    };
    let updated = format!("{}{BEGIN}\n{table}{}", &doc[..begin], &doc[end..]);
    std::fs::write(&path, updated).map_err(|e| format!("cannot write {DOC}: {e}"))?;
    println!("xtask bench: wrote {DOC}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const THROUGHPUT: &str =
        "# mode client checks/s cpu_us_per_check p50_ms p99_ms (RSA engine: aws-lc)
plain async-ct 30000.0 14.0 0.50 1.00
plain reqwest-ct 31000.0 12.0 0.50 1.00
plain hyper-ct 40000.0 7.0 0.40 0.90
plain async-mt 28000.0 16.0 0.55 1.10
plain reqwest-mt 29000.0 13.0 0.52 1.05
plain hyper-mt 38000.0 8.0 0.42 0.95
plain blocking 11000.0 130.0 1.20 6.00
";

    #[test]
    fn floor_rows_are_named_and_the_async_client_is_set_against_them() {
        let rows = parse_clients("plain", THROUGHPUT);
        let names: Vec<&str> = rows.iter().map(|r| r.who.as_str()).collect();
        assert_eq!(names, CLIENT_ROWS.map(|(_, who)| who));
        assert!(names.iter().any(|w| w.contains("raw hyper")));
        assert!(names.iter().any(|w| w.contains("bare reqwest")));
        let floors = render_floors(&rows);
        // SDK 14.0 against reqwest 12.0 and hyper 7.0; 16.0 against 13.0 and 8.0.
        assert!(
            floors.contains(
                "| plain | current-thread | 14.0 | 12.0 | 7.0 | +2.0 | 1.17 | 2.00 | 0.97 | 0.75 |"
            ),
            "{floors}"
        );
        assert!(
            floors.contains(
                "| plain | 2 workers | 16.0 | 13.0 | 8.0 | +3.0 | 1.23 | 2.00 | 0.97 | 0.74 |"
            ),
            "{floors}"
        );
    }

    #[test]
    fn an_unknown_client_name_is_no_row() {
        assert!(parse_clients("plain", "plain something-new 1.0 2.0 3.0 4.0\n").is_empty());
    }

    #[test]
    fn python_package_rows_are_set_against_the_peer() {
        let rows = vec![
            python_row(
                "plain",
                "Python requests + cryptography (16 threads)",
                "python plain 800.0 1000.0 17.0 57.0\n",
            ),
            python_row(
                "plain",
                PACKAGE_SYNC,
                "python-package plain 9000.0 125.0 1.4 4.3\n",
            ),
            python_row(
                "plain",
                "`juhe_2fa` Python package, asyncio (16 in flight)",
                "python-package plain 8000.0 250.0 1.3 8.7\n",
            ),
        ];
        assert_eq!(rows[1].cpu_us, Some(125.0));
        assert_eq!(rows[2].p99_ms, Some(8.7));
        let targets = package_targets(&rows);
        let met: Vec<(&str, bool)> = targets
            .iter()
            .map(|(name, measured, ok, _)| (measured.as_str(), *ok && !name.is_empty()))
            .collect();
        // Sync: 1000/125 = 8 (met); asyncio: 1000/250 = 4 (missed); 9000/800 = 11.2 × (met).
        assert_eq!(met, [("1/8.0", true), ("1/4.0", false), ("11.2 ×", true)]);
    }
}
