//! The gateway (`juhe-2fa serve`) and a sandbox as processes, and an HTTP client for them.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use super::bin;

/// A running `juhe-2fa` process whose output is collected, and the URL it printed.
pub struct Proc {
    child: Child,
    pub url: String,
    output: Arc<Mutex<String>>,
}

/// Collects a pipe's lines into `output`, sending the first one with `marker` on `found`.
fn collect(
    pipe: impl Read + Send + 'static,
    output: Arc<Mutex<String>>,
    marker: &'static str,
    found: mpsc::Sender<String>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Some((_, url)) = line.split_once(marker) {
                let _ = found.send(url.trim().to_owned());
            }
            let mut all = output.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
}

impl Proc {
    /// Starts `cmd` and waits (at most 30 s) for the line `… <marker> URL`.
    pub fn start(mut cmd: Command, marker: &'static str) -> Proc {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        let (found, url) = mpsc::channel();
        collect(
            child.stdout.take().unwrap(),
            output.clone(),
            marker,
            found.clone(),
        );
        collect(child.stderr.take().unwrap(), output.clone(), marker, found);
        let url = match url.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("no {marker:?} line: {}", output.lock().unwrap());
            }
        };
        Proc { child, url, output }
    }

    /// Everything it printed so far (stdout and stderr).
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits at most `seconds` for it to exit; its exit code.
    pub fn wait(&mut self, seconds: u64) -> i32 {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            if started.elapsed() > Duration::from_secs(seconds) {
                let _ = self.child.kill();
                panic!("did not exit within {seconds} s: {}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `juhe-2fa sandbox` on a free loopback port, with these extra flags.
pub fn sandbox(extra: &[&str]) -> Proc {
    let mut cmd = bin();
    cmd.args(["sandbox", "--addr", "127.0.0.1:0"]).args(extra);
    Proc::start(cmd, "listening on ")
}

/// A callers file: (name, token, extra TOML lines).
pub fn callers_file(dir: &Path, callers: &[(&str, &str, &str)]) -> PathBuf {
    let mut text = String::new();
    for (name, token, extra) in callers {
        text.push_str(&format!(
            "[[caller]]\nname = \"{name}\"\ntoken_sha256 = \"{}\"\n{extra}\n\n",
            sha256_hex(token)
        ));
    }
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The hex SHA-256 of a token, as a callers file holds it.
pub fn sha256_hex(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// `juhe-2fa --base-url SANDBOX --key demo <global…> serve --config FILE --addr 127.0.0.1:0`.
pub fn gateway(sandbox_url: &str, config: &Path, global: &[&str]) -> Proc {
    gateway_with(sandbox_url, config, global, &[])
}

/// [`gateway`] with flags of `serve`'s own after it.
pub fn gateway_with(sandbox_url: &str, config: &Path, global: &[&str], own: &[&str]) -> Proc {
    let mut cmd = bin();
    cmd.args(["--base-url", sandbox_url])
        .env("JUHE_KEY", juhe_sandbox::demo::API_KEY)
        .args(global)
        .args(["serve", "--config", config.to_str().unwrap()])
        .args(["--addr", "127.0.0.1:0"])
        .args(own);
    Proc::start(cmd, "listening on ")
}

/// An answer: status, headers (lower-case names) and body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

fn answer(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut response = response.unwrap();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    Answer {
        status: response.status().as_u16(),
        headers,
        body: response.body_mut().read_to_string().unwrap(),
    }
}

/// `POST url+path` with a JSON body and, if any, a bearer token.
pub fn post(url: &str, path: &str, token: Option<&str>, body: &str) -> Answer {
    let mut request = agent()
        .post(format!("{url}{path}"))
        .header("Content-Type", "application/json");
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    answer(request.send(body))
}

/// `GET url+path`.
pub fn get(url: &str, path: &str) -> Answer {
    answer(agent().get(format!("{url}{path}")).call())
}

/// Any method, no body.
pub fn request(method: &str, url: &str, path: &str) -> Answer {
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{url}{path}"))
        .body(())
        .unwrap();
    answer(agent().run(request))
}

/// The verify body for a pair.
pub fn pair_body(idcard: &str, mobile: &str, purpose: Option<&str>) -> String {
    let mut body = serde_json::json!({ "idcard": idcard, "mobile": mobile });
    if let Some(purpose) = purpose {
        body["purpose"] = purpose.into();
    }
    body.to_string()
}

/// The sandbox's counters (`GET /__sandbox/stats`).
pub fn sandbox_stats(url: &str) -> serde_json::Value {
    get(url, "/__sandbox/stats").json()["stats"].clone()
}

/// The sum of a Prometheus counter's series (0 when absent).
pub fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
