//! A throwaway `redis-server` on a free loopback port, for tests of the fleet features
//! (`juhe-2fa`'s `redis` feature). Not an emulation: the real server, from the system's
//! package (`apt-get install redis-server`).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::SandboxError;

/// A `redis-server` child process bound to 127.0.0.1, without persistence; stopped (killed)
/// on drop or by [`RedisServer::stop`], and startable again on the same port by
/// [`RedisServer::restart`].
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    /// Extra `redis-server` arguments (a password, TLS).
    extra: Vec<String>,
    tls_port: Option<u16>,
}

pub(crate) fn free_port() -> Result<u16, SandboxError> {
    let any = std::net::SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    TcpListener::bind(any)
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| SandboxError::Bind { addr: any, source })
}

impl RedisServer {
    /// Starts one on a free port and waits until it answers `PING`. Fails with a message that
    /// says how to install it when `redis-server` is not on `PATH`.
    pub fn start() -> Result<RedisServer, SandboxError> {
        RedisServer::start_with_args(&[])
    }

    /// [`RedisServer::start`] with extra `redis-server` arguments, e.g.
    /// `["--requirepass", "secret"]`.
    pub fn start_with_args(args: &[&str]) -> Result<RedisServer, SandboxError> {
        let mut server = RedisServer {
            child: None,
            port: free_port()?,
            extra: args.iter().map(|a| a.to_string()).collect(),
            tls_port: None,
        };
        server.restart()?;
        Ok(server)
    }

    /// [`RedisServer::start`], also serving TLS on a second free port with this certificate
    /// and key (PEM files), clients unauthenticated: see [`RedisServer::tls_url`].
    pub fn start_with_tls(cert_file: &Path, key_file: &Path) -> Result<RedisServer, SandboxError> {
        let tls_port = free_port()?;
        let mut server = RedisServer {
            child: None,
            port: free_port()?,
            extra: vec![
                "--tls-port".into(),
                tls_port.to_string(),
                "--tls-cert-file".into(),
                cert_file.display().to_string(),
                "--tls-key-file".into(),
                key_file.display().to_string(),
                "--tls-auth-clients".into(),
                "no".into(),
            ],
            tls_port: Some(tls_port),
        };
        server.restart()?;
        Ok(server)
    }

    /// `rediss://127.0.0.1:TLS_PORT/` when started with [`RedisServer::start_with_tls`].
    pub fn tls_url(&self) -> Option<String> {
        self.tls_port
            .map(|port| format!("rediss://127.0.0.1:{port}/"))
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (as a crash would: no shutdown, no save).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (an empty database: nothing is saved).
    pub fn restart(&mut self) -> Result<(), SandboxError> {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "yes"])
            .args(&self.extra)
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                let hint = if Path::new("/usr/bin/redis-server").exists() {
                    "redis-server could not be started"
                } else {
                    "redis-server is not installed (Debian: apt-get install redis-server; `cargo xtask ci` installs it)"
                };
                SandboxError::Tool { hint, source: e }
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.ping() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop();
        Err(SandboxError::Tool {
            hint: "redis-server did not answer PING within 10 s",
            source: std::io::Error::from(std::io::ErrorKind::TimedOut),
        })
    }

    /// Every key in the database (`KEYS *`: tests only), to check what the fleet stores.
    pub fn keys(&self) -> std::io::Result<Vec<String>> {
        let reply = self.command(&["KEYS", "*"])?;
        // An array reply of bulk strings: "*N\r\n$len\r\nkey\r\n…".
        Ok(reply
            .split("\r\n")
            .skip(1)
            .filter(|line| !line.starts_with('$') && !line.is_empty())
            .map(str::to_owned)
            .collect())
    }

    fn ping(&self) -> bool {
        // A server with a password answers NOAUTH: it is up.
        self.command(&["PING"])
            .is_ok_and(|r| r.starts_with("+PONG") || r.starts_with("-NOAUTH"))
    }

    /// One command in RESP, the whole reply as text (small replies only: tests).
    fn command(&self, args: &[&str]) -> std::io::Result<String> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes())?;
        stream.write_all(b"*1\r\n$4\r\nQUIT\r\n")?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply)?;
        Ok(reply.trim_end_matches("+OK\r\n").to_owned())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
