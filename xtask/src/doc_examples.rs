//! `cargo xtask doc-examples`: the examples in `docs/` that call a running service, run for
//! real, so a team copying the curl, Python or Java snippet gets one that works.
//!
//! A fenced block whose info string is `<lang> ci` (`sh ci`, `python ci`, `java ci`) is
//! written to `target/doc-examples/` and run against a fresh `juhe-2fa sandbox` on a free
//! loopback port, with `JUHE_SANDBOX_URL` and `JUHE_KEY` (the demo key) in its environment. It
//! passes when it exits 0 within a minute. The examples of `docs/gateway.md` also get a
//! `juhe-2fa serve` in front of that sandbox, configured with the lines `serve --new-token`
//! prints, and its URL and token in `JUHE_GATEWAY_URL` and `JUHE_GATEWAY_TOKEN`.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{cargo, ensure_apt_binaries, target_dir, workspace_root};

/// The demo API key the sandbox accepts unless told otherwise.
const DEMO_KEY: &str = "sandbox-demo-key";
const TIME_LIMIT: Duration = Duration::from_secs(60);

/// One runnable block of a doc.
struct Example {
    /// `docs/sandbox.md:97`, for messages.
    place: String,
    lang: String,
    code: String,
}

pub fn run() -> Result<(), String> {
    let examples = collect(&workspace_root().join("docs"))?;
    if examples.iter().any(|e| e.lang == "java") {
        // `java File.java` runs a single source file (JDK 11+), no build step.
        ensure_apt_binaries(&[("java", "openjdk-17-jdk-headless")])?;
    }
    // The whole workspace, as `cargo test --workspace` built it: no second feature set.
    cargo(&["build", "--workspace", "--bins", "--locked"], &[])?;
    let python = crate::venv::python()?;
    let dir = target_dir().join("doc-examples");
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (n, example) in examples.iter().enumerate() {
        let sandbox = Sandbox::start()?;
        let gateway = match example.place.starts_with("docs/gateway.md") {
            true => Some(Gateway::start(&sandbox, &dir)?),
            false => None,
        };
        let file = dir.join(format!("example{n}.{}", extension(&example.lang)?));
        fs::write(&file, &example.code).map_err(|e| format!("{}: {e}", file.display()))?;
        let mut command = match example.lang.as_str() {
            "sh" => Command::new("sh"),
            "python" => Command::new(&python),
            _ => Command::new("java"),
        };
        command
            .arg(&file)
            .env("JUHE_SANDBOX_URL", &sandbox.url)
            .env("JUHE_KEY", DEMO_KEY)
            .current_dir(&dir);
        if let Some(gateway) = &gateway {
            command
                .env("JUHE_GATEWAY_URL", &gateway.url)
                .env("JUHE_GATEWAY_TOKEN", &gateway.token);
        }
        println!("$ {} example at {}", example.lang, example.place);
        finish(command, &example.place)?;
    }
    println!("xtask doc-examples: {} examples passed", examples.len());
    Ok(())
}

/// Every `<lang> ci` block of every Markdown file in `docs` (sorted, so runs are comparable).
fn collect(docs: &Path) -> Result<Vec<Example>, String> {
    let mut files: Vec<PathBuf> = fs::read_dir(docs)
        .map_err(|e| format!("cannot read {}: {e}", docs.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|x| x == "md"))
        .collect();
    files.sort();
    let mut examples = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let name = format!(
            "docs/{}",
            file.file_name().unwrap_or_default().to_string_lossy()
        );
        examples.extend(blocks(&name, &text));
    }
    Ok(examples)
}

/// The `<lang> ci` fenced blocks of one document.
fn blocks(name: &str, text: &str) -> Vec<Example> {
    let mut found = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for (n, line) in text.lines().enumerate() {
        match &mut open {
            None => {
                let info: Vec<&str> = line
                    .strip_prefix("```")
                    .map(|i| i.split_whitespace().collect())
                    .unwrap_or_default();
                if let [lang, "ci"] = info[..] {
                    open = Some((n + 1, lang.to_owned(), String::new()));
                }
            }
            Some((_, _, code)) if line.trim_end() != "```" => {
                code.push_str(line);
                code.push('\n');
            }
            Some(_) => {
                let (at, lang, code) = open.take().expect("matched Some");
                found.push(Example {
                    place: format!("{name}:{at}"),
                    lang,
                    code,
                });
            }
        }
    }
    found
}

fn extension(lang: &str) -> Result<&'static str, String> {
    match lang {
        "sh" => Ok("sh"),
        "python" => Ok("py"),
        "java" => Ok("java"),
        other => Err(format!(
            "no runner for `{other} ci` blocks (sh, python, java)"
        )),
    }
}

/// Runs an example to its end, killing it after [`TIME_LIMIT`].
fn finish(mut command: Command, place: &str) -> Result<(), String> {
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run the example at {place}: {e}"))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("the example at {place} failed: {status}")),
            Ok(None) if started.elapsed() > TIME_LIMIT => {
                let _ = child.kill();
                return Err(format!("the example at {place} ran over {TIME_LIMIT:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("the example at {place}: {e}")),
        }
    }
}

fn binary() -> PathBuf {
    target_dir().join("debug").join("juhe-2fa")
}

/// `juhe-2fa sandbox` on a free port, stopped when dropped.
struct Sandbox {
    child: Child,
    url: String,
}

impl Sandbox {
    fn start() -> Result<Sandbox, String> {
        let binary = binary();
        let mut child = Command::new(&binary)
            .args(["--json", "sandbox", "--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let mut first = String::new();
        let stdout = child.stdout.take().ok_or("the sandbox has no stdout")?;
        let _ = BufReader::new(stdout).read_line(&mut first);
        // The first line is `{"base_url":"http://127.0.0.1:PORT",...}`.
        let url = first
            .split("\"base_url\":\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(str::to_owned);
        let mut sandbox = Sandbox {
            child,
            url: String::new(),
        };
        sandbox.url = url.ok_or_else(|| format!("the sandbox did not say its URL: {first:?}"))?;
        Ok(sandbox)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `juhe-2fa serve` on a free port in front of a sandbox, with one caller whose config lines
/// and token come from `serve --new-token` as a user would paste them; stopped when dropped.
struct Gateway {
    child: Child,
    url: String,
    token: String,
}

impl Gateway {
    fn start(sandbox: &Sandbox, dir: &Path) -> Result<Gateway, String> {
        let out = Command::new(binary())
            .args(["serve", "--new-token", "docs"])
            .output()
            .map_err(|e| format!("cannot run serve --new-token: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let token = text
            .lines()
            .find(|line| line.starts_with("j2fa_"))
            .ok_or_else(|| format!("serve --new-token printed no token: {text}"))?
            .to_owned();
        let lines = &text[text
            .find("[[caller]]")
            .ok_or("serve --new-token printed no config")?..];
        let config = dir.join("gateway.toml");
        fs::write(&config, lines).map_err(|e| format!("{}: {e}", config.display()))?;
        let mut child = Command::new(binary())
            .args([
                "--base-url",
                &sandbox.url,
                "--key",
                DEMO_KEY,
                "serve",
                "--config",
            ])
            .arg(&config)
            .args(["--addr", "127.0.0.1:0"])
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the gateway: {e}"))?;
        let mut stderr = BufReader::new(child.stderr.take().ok_or("the gateway has no stderr")?);
        let mut url = None;
        let mut line = String::new();
        while url.is_none() && stderr.read_line(&mut line).unwrap_or(0) > 0 {
            // `juhe-2fa serve: listening on http://127.0.0.1:PORT`
            url = line
                .split("listening on ")
                .nth(1)
                .map(|u| u.trim().to_owned());
            line.clear();
        }
        // Keep reading its log so a full pipe never stalls it.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        let mut gateway = Gateway {
            child,
            url: String::new(),
            token,
        };
        gateway.url = url.ok_or("the gateway did not say where it listens")?;
        Ok(gateway)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
