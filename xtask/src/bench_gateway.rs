//! The gateway's rows of `cargo xtask bench`: `juhe-2fa serve` in front of the same sandbox,
//! loaded by `wrk` with a Lua script (JSON body, bearer token): checks/s and latency at full
//! load, and p50/p99 at about 1,000 checks/s beside the sandbox reached directly at the same
//! pace, for the latency the gateway adds (alternating rounds, medians).

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::bench::{KEY, Row, duration_ms, field, mode_flags, spawn_listening};

/// Connections and the pause each takes after an answer, for about 1,000 checks/s.
const PACED_CONNECTIONS: u32 = 8;
const PACED_PAUSE_MS: u32 = 7;

/// `juhe-2fa serve` on a free loopback port with one caller; killed on drop.
struct Gateway {
    child: Child,
    url: String,
    token: String,
}

impl Gateway {
    fn start(cli: &Path, mode: &str, sandbox: &str, dir: &Path) -> Result<Gateway, String> {
        // The command makes the token and its config lines: no hashing here.
        let out = Command::new(cli)
            .args(["serve", "--new-token", "bench"])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", cli.display()))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let token = text
            .lines()
            .find(|l| l.starts_with("j2fa_"))
            .ok_or("serve --new-token printed no token")?
            .to_owned();
        let config: String = text
            .lines()
            .skip_while(|l| *l != "[[caller]]")
            .map(|l| format!("{l}\n"))
            .collect();
        let config_path = dir.join("gateway.toml");
        std::fs::write(&config_path, config)
            .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
        let mut command = Command::new(cli);
        command
            .args(["--base-url", sandbox, "--retries", "0"])
            .args(mode_flags(mode)?)
            .args(["serve", "--config"])
            .arg(&config_path)
            .env("JUHE_KEY", KEY);
        let (child, url) = spawn_listening(command, "the gateway")?;
        Ok(Gateway { child, url, token })
    }

    /// CPU seconds the gateway process has used (utime + stime).
    fn cpu(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        fields
            .get(11..13)
            .map(|f| f.iter().filter_map(|t| t.parse::<f64>().ok()).sum::<f64>() / 100.0)
            .unwrap_or(0.0)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one `wrk` run measured.
struct Load {
    per_s: Option<f64>,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
}

/// `wrk` with `lua` against `url`, for `seconds`.
fn wrk(
    lua: &str,
    url: &str,
    connections: u32,
    seconds: u64,
    script: &Path,
) -> Result<Load, String> {
    std::fs::write(script, lua).map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let threads = connections.min(2);
    let out = Command::new("wrk")
        .args([
            &format!("-t{threads}"),
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(url)
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let out = String::from_utf8_lossy(&out.stdout);
    if out.contains("Non-2xx") {
        return Err(format!("wrk got answers other than 200 from {url}:\n{out}"));
    }
    let percentile = |p: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(p))
            .and_then(|v| duration_ms(v.trim()))
    };
    Ok(Load {
        per_s: out
            .lines()
            .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse::<f64>().ok()),
        p50_ms: percentile("50%"),
        p99_ms: percentile("99%"),
    })
}

/// The Lua of a gateway check (`pause` ms after each answer, when given).
fn gateway_lua(token: &str, pause: Option<u32>) -> String {
    let mut lua = format!(
        "wrk.method = \"POST\"\n\
         wrk.body = '{{\"idcard\":\"110105199003071239\",\"mobile\":\"13012345678\",\"purpose\":\"bench\"}}'\n\
         wrk.headers[\"Content-Type\"] = \"application/json\"\n\
         wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"
    );
    if let Some(ms) = pause {
        lua.push_str(&format!("function delay() return {ms} end\n"));
    }
    lua
}

/// The gateway's rows for `mode`: full load (16 connections); in plain mode also the paced
/// pair (through the gateway, and the sandbox directly) at about 1,000 checks/s.
pub(crate) fn rows(
    mode: &'static str,
    cli: &Path,
    sandbox: &str,
    seconds: u64,
    dir: &Path,
) -> Result<Vec<Row>, String> {
    let gateway = Gateway::start(cli, mode, sandbox, dir)?;
    let verify = format!("{}/v1/verify", gateway.url);
    let script = dir.join(format!("wrk-gateway-{mode}.lua"));
    let before = gateway.cpu();
    let full = wrk(
        &gateway_lua(&gateway.token, None),
        &verify,
        16,
        seconds,
        &script,
    )?;
    let cpu = gateway.cpu() - before;
    let mut rows = vec![Row {
        mode,
        who: "gateway `serve` (wrk, 16 connections)".into(),
        per_s: full.per_s,
        cpu_us: full.per_s.map(|r| cpu * 1e6 / (r * seconds as f64)),
        p50_ms: full.p50_ms,
        p99_ms: full.p99_ms,
    }];
    if mode != "plain" {
        return Ok(rows);
    }
    let paced_lua = gateway_lua(&gateway.token, Some(PACED_PAUSE_MS));
    let direct_lua = format!(
        "wrk.method = \"POST\"\nwrk.body = \"key={KEY}&idcard={}&mobile={}\"\n\
         wrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n\
         function delay() return {PACED_PAUSE_MS} end\n",
        field(cli, mode, "110105199003071239")?,
        field(cli, mode, "13012345678")?
    );
    let direct_url = format!("{sandbox}/telecom2Cucc/query");
    // One run of each says more about the machine's neighbours than about the gateway: the
    // two alternate, and each row is the median of its rounds.
    let round_seconds = seconds.div_ceil(2).max(2);
    let (mut through, mut direct) = (Vec::new(), Vec::new());
    for round in 1..=PACED_ROUNDS {
        let g = wrk(
            &paced_lua,
            &verify,
            PACED_CONNECTIONS,
            round_seconds,
            &script,
        )?;
        let d = wrk(
            &direct_lua,
            &direct_url,
            PACED_CONNECTIONS,
            round_seconds,
            &script,
        )?;
        println!(
            "  paced round {round}/{PACED_ROUNDS}: gateway p99 {} ms, sandbox directly p99 {} ms",
            shown(g.p99_ms),
            shown(d.p99_ms)
        );
        through.push(g);
        direct.push(d);
    }
    rows.push(median_row(mode, PACED_GATEWAY, &through));
    rows.push(median_row(mode, PACED_DIRECT, &direct));
    Ok(rows)
}

/// Rounds of the paced pair (gateway, then the sandbox directly).
const PACED_ROUNDS: u32 = 5;

fn shown(ms: Option<f64>) -> String {
    ms.map_or_else(|| "?".to_owned(), |v| format!("{v:.2}"))
}

/// A row whose every figure is the median of `loads`' (those that have it).
fn median_row(mode: &'static str, who: &str, loads: &[Load]) -> Row {
    let median = |pick: fn(&Load) -> Option<f64>| {
        let mut v: Vec<f64> = loads.iter().filter_map(pick).collect();
        v.sort_by(f64::total_cmp);
        match v.len() {
            0 => None,
            n if n % 2 == 1 => Some(v[n / 2]),
            n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
        }
    };
    Row {
        mode,
        who: who.into(),
        per_s: median(|l| l.per_s),
        cpu_us: None,
        p50_ms: median(|l| l.p50_ms),
        p99_ms: median(|l| l.p99_ms),
    }
}

/// The paced rows' names.
pub(crate) const PACED_GATEWAY: &str =
    "gateway at ~1,000/s (8 connections, 7 ms pauses; median of 5 rounds)";
pub(crate) const PACED_DIRECT: &str =
    "sandbox directly at ~1,000/s (same pacing, alternating rounds)";
