//! A throwaway PostgreSQL cluster on a free loopback port, for tests of the audit ledger
//! (`juhe-ledger`'s PostgreSQL backend). Not an emulation: the real server, from the system's
//! package (Debian: `apt-get install postgresql`; its binaries are under
//! `/usr/lib/postgresql/<version>/bin`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::SandboxError;
use crate::redis_server::free_port;

const INSTALL: &str = "PostgreSQL is not installed (Debian: apt-get install postgresql; `cargo xtask ci` installs it)";

/// A `postgres` cluster made by `initdb` in a temporary directory, listening on 127.0.0.1 only
/// with trust authentication, without fsync; stopped and deleted on drop. Run as root, it runs
/// the server as the `postgres` user (PostgreSQL refuses to run as root).
#[derive(Debug)]
pub struct PostgresServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

/// The directory of `initdb`, `postgres`, `psql`, `pg_dump`: on `PATH`, else Debian's newest
/// `/usr/lib/postgresql/<version>/bin`.
fn bin_dir() -> Option<PathBuf> {
    let complete = |dir: &Path| {
        ["initdb", "postgres", "psql", "pg_dump"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    // `initdb` on PATH may be a link into the version's directory: follow it.
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .filter_map(|p| std::fs::canonicalize(p.join("initdb")).ok())
            .filter_map(|initdb| initdb.parent().map(Path::to_path_buf))
            .find(|dir| complete(dir))
    });
    on_path.or_else(|| {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let version = e.file_name().to_str()?.parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                complete(&bin).then_some((version, bin))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, bin)| bin)
    })
}

/// `(uid, gid)` of the `postgres` user when we are root, else `None` (run as ourselves).
fn server_user() -> Result<Option<(u32, u32)>, SandboxError> {
    let id = |args: &[&str]| -> Option<u32> {
        let out = Command::new("id").args(args).output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    if id(&["-u"]) != Some(0) {
        return Ok(None);
    }
    match (id(&["-u", "postgres"]), id(&["-g", "postgres"])) {
        (Some(uid), Some(gid)) => Ok(Some((uid, gid))),
        _ => Err(SandboxError::Tool {
            hint: "running as root, but there is no `postgres` user to run PostgreSQL as (the postgresql package creates it)",
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        }),
    }
}

fn tool(hint: &'static str) -> impl FnOnce(std::io::Error) -> SandboxError {
    move |source| SandboxError::Tool { hint, source }
}

fn failed(hint: &'static str, out: &Output) -> SandboxError {
    SandboxError::Tool {
        hint,
        source: std::io::Error::other(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
    }
}

impl PostgresServer {
    /// Makes a cluster in a new temporary directory, starts it on a free port and waits until
    /// it accepts connections. Fails with a message that says how to install PostgreSQL when
    /// it is missing.
    pub fn start() -> Result<PostgresServer, SandboxError> {
        static N: AtomicU32 = AtomicU32::new(0);
        let bin = bin_dir().ok_or_else(|| SandboxError::Tool {
            hint: INSTALL,
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        })?;
        let user = server_user()?;
        let dir = std::env::temp_dir().join(format!(
            "juhe-postgres-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(tool("cannot create the PostgreSQL directory"))?;
        let mut server = PostgresServer {
            child: None,
            port: free_port()?,
            dir,
            bin,
        };
        server.initdb(user)?;
        // The server's log, for the error when it does not come up.
        let log = std::fs::File::create(server.dir.join("server.log"))
            .map_err(tool("cannot create the PostgreSQL log"))?;
        let child = server
            .as_server_user(Command::new(server.bin.join("postgres")), user)
            .arg("-D")
            .arg(server.data())
            .args(["-h", "127.0.0.1", "-p"])
            .arg(server.port.to_string())
            .arg("-k")
            .arg(&server.dir)
            .args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ])
            .args(["-c", "max_connections=100"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(tool("postgres could not be started"))?;
        server.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if server.psql("SELECT 1").is_ok() {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(server.dir.join("server.log")).unwrap_or_default();
        Err(SandboxError::Tool {
            hint: "postgres did not accept connections within 30 s (its log follows)",
            source: std::io::Error::other(log),
        })
    }

    /// Gives the directory to the server's user and makes the cluster in it.
    fn initdb(&self, user: Option<(u32, u32)>) -> Result<(), SandboxError> {
        if let Some((uid, gid)) = user {
            let out = Command::new("chown")
                .arg("-R")
                .arg(format!("{uid}:{gid}"))
                .arg(&self.dir)
                .output()
                .map_err(tool("cannot run chown"))?;
            if !out.status.success() {
                return Err(failed(
                    "cannot give the PostgreSQL directory to `postgres`",
                    &out,
                ));
            }
        }
        let out = self
            .as_server_user(Command::new(self.bin.join("initdb")), user)
            .arg("-D")
            .arg(self.data())
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .map_err(tool(INSTALL))?;
        if !out.status.success() {
            return Err(failed("initdb failed", &out));
        }
        Ok(())
    }

    fn as_server_user(&self, mut command: Command, user: Option<(u32, u32)>) -> Command {
        #[cfg(unix)]
        if let Some((uid, gid)) = user {
            use std::os::unix::process::CommandExt;
            command.uid(uid).gid(gid);
        }
        #[cfg(not(unix))]
        let _ = user;
        command.current_dir(&self.dir);
        command
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory of the PostgreSQL binaries (`psql`, `pg_dump`).
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// Runs SQL with `psql` (unaligned, tuples only) and returns what it printed.
    pub fn psql(&self, sql: &str) -> std::io::Result<String> {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-p",
            ])
            .arg(self.port.to_string())
            .args(["-d", "postgres", "-c", sql])
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(std::io::Error::other(
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `pg_dump` of the whole database (schema and data, plain SQL).
    pub fn dump(&self) -> std::io::Result<Vec<u8>> {
        let out = Command::new(self.bin.join("pg_dump"))
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .arg("postgres")
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(std::io::Error::other(
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
        Ok(out.stdout)
    }

    /// Stops the server (a fast shutdown, then a kill after 5 s) and deletes its directory.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGINT: PostgreSQL's fast shutdown (its backends exit with it).
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if !matches!(child.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
    }
}
