//! Running commands from the workspace root.

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// Runs `cargo ARGS` (with `envs`) from the workspace root, echoing the command.
pub fn cargo(args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    println!("$ cargo {}", args.join(" "));
    let status = Command::new(cargo_bin())
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed", args.join(" ")))
    }
}

/// Runs a command from the workspace root and returns its stdout; fails on a non-zero exit.
pub fn output(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(workspace_root())
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Installs a cargo subcommand at a pinned version unless that version is already there.
pub fn ensure_cargo_tool(subcommand: &str, krate: &str, version: &str) -> Result<(), String> {
    let installed = Command::new(cargo_bin())
        .args([subcommand, "--version"])
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains(version));
    if installed {
        return Ok(());
    }
    cargo(&["install", "--locked", &format!("{krate}@{version}")], &[])
}

/// Installs Debian packages whose `binary` is not on `PATH` (one `apt-get update` first;
/// with `sudo` when not root). A `binary` with a `/` is a path, shell globs allowed (Debian's
/// PostgreSQL keeps its server binaries off `PATH`, under `/usr/lib/postgresql/<version>/bin`).
/// Tests that need a real server (redis-server, postgres, wrk) run on a fresh machine instead
/// of skipping.
pub fn ensure_apt_binaries(wanted: &[(&str, &str)]) -> Result<(), String> {
    let on_path = |binary: &str| {
        let check = if binary.contains('/') {
            format!("ls {binary}")
        } else {
            format!("command -v {binary}")
        };
        Command::new("sh")
            .args(["-c", &check])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(binary, _)| !on_path(binary))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let root = output("id", &["-u"]).is_ok_and(|uid| uid.trim() == "0");
    let apt = |args: &[&str]| {
        let mut command = if root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg("apt-get");
            sudo
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        run(command, &format!("apt-get {}", args.join(" ")))
    };
    apt(&["update", "-qq"])?;
    apt(&[
        &["install", "-y", "-qq", "--no-install-recommends"][..],
        &missing,
    ]
    .concat())
}

pub fn cargo_bin() -> String {
    env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Where cargo builds: `CARGO_TARGET_DIR` if set, else `target/` in the workspace.
pub fn target_dir() -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// A `cargo +nightly …` command through rustup's proxy, free of the stable toolchain's
/// variables that `cargo xtask` inherited.
pub fn nightly_cargo(args: &[&str]) -> Command {
    let mut command = Command::new("cargo");
    command
        .arg("+nightly")
        .args(args)
        .current_dir(workspace_root());
    for var in [
        "CARGO",
        "RUSTC",
        "RUSTDOC",
        "RUSTUP_TOOLCHAIN",
        "RUSTC_WRAPPER",
    ] {
        command.env_remove(var);
    }
    command
}

/// Whether a nightly toolchain is installed.
pub fn have_nightly() -> bool {
    nightly_cargo(&["--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs a prepared command, echoing it; fails on a non-zero exit.
pub fn run(mut command: Command, shown: &str) -> Result<(), String> {
    println!("$ {shown}");
    let status = command
        .status()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed"))
    }
}
