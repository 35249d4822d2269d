//! `cargo xtask <task>`: the project's chores in plain Rust, readable top to bottom.
//!
//! - `ci`: everything CI checks (format, lints, tests, docs, dependency rules).
//! - `bench`: the criterion benchmarks and the sandbox load benchmark (long; never in `ci`).
//! - `release`: `ci`, then the release binary copied to `target/dist/`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::env;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

/// Crates that must never be in a pure crate's normal dependency tree.
const NETWORK_AND_RUNTIME: &[&str] = &["reqwest", "ureq", "hyper", "tokio", "axum"];
const CRYPTO: &[&str] = &["rsa", "aes"];

fn main() -> ExitCode {
    let task = env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "ci" => ci(),
        "bench" => bench(),
        "release" => release(),
        _ => {
            eprintln!("usage: cargo xtask <ci|bench|release>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn ci() -> Result<(), String> {
    cargo(&["fmt", "--all", "--", "--check"], &[])?;
    cargo(
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    cargo(&["test", "--workspace", "--locked"], &[])?;
    cargo(
        &["doc", "--workspace", "--no-deps", "--locked"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;

    // The layering of DESIGN.md, enforced.
    forbid_deps("juhe-proto", &[], &[NETWORK_AND_RUNTIME, CRYPTO].concat())?;
    forbid_deps("juhe-crypto", &[], NETWORK_AND_RUNTIME)?;
    forbid_deps(
        "juhe-transport",
        &["--no-default-features"],
        NETWORK_AND_RUNTIME,
    )?;

    // Each client alone builds, and pulls in only its own backend.
    let blocking_only = ["--no-default-features", "--features", "blocking"];
    let async_only = ["--no-default-features", "--features", "async"];
    cargo(
        &[&["check", "--locked", "-p", "juhe-2fa"][..], &blocking_only].concat(),
        &[],
    )?;
    forbid_deps("juhe-2fa", &blocking_only, &["tokio", "reqwest", "hyper"])?;
    cargo(
        &[&["check", "--locked", "-p", "juhe-2fa"][..], &async_only].concat(),
        &[],
    )?;
    forbid_deps("juhe-2fa", &async_only, &["ureq"])?;

    println!("xtask ci: all checks passed");
    Ok(())
}

fn bench() -> Result<(), String> {
    cargo(&["bench", "--workspace", "--locked"], &[])?;
    cargo(
        &[
            "run",
            "--release",
            "--locked",
            "-p",
            "juhe-sandbox",
            "--example",
            "load",
            "--",
            "5",
            "4",
        ],
        &[],
    )
}

fn release() -> Result<(), String> {
    ci()?;
    cargo(
        &["build", "--release", "--locked", "-p", "juhe-2fa-cli"],
        &[],
    )?;
    let target = workspace_root().join("target");
    let dist = target.join("dist");
    std::fs::create_dir_all(&dist).map_err(|e| format!("cannot create {}: {e}", dist.display()))?;
    let name = format!(
        "juhe-2fa-{}-{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    );
    let from = target
        .join("release")
        .join(format!("juhe-2fa{}", std::env::consts::EXE_SUFFIX));
    let to = dist.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let bytes =
        std::fs::copy(&from, &to).map_err(|e| format!("cannot copy {}: {e}", from.display()))?;
    println!(
        "xtask release: {} ({:.1} MiB)",
        to.display(),
        bytes as f64 / (1024.0 * 1024.0)
    );
    Ok(())
}

/// Fails if `krate`'s normal (non-dev, non-build) dependency tree, with `features`, contains
/// any of `banned`.
fn forbid_deps(krate: &str, features: &[&str], banned: &[&str]) -> Result<(), String> {
    let output = Command::new(cargo_bin())
        .args([
            "tree", "--locked", "-p", krate, "-e", "normal", "--prefix", "none", "--format", "{p}",
        ])
        .args(features)
        .current_dir(workspace_root())
        .output()
        .map_err(|e| format!("cannot run cargo tree: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo tree -p {krate} failed"));
    }
    let tree = String::from_utf8_lossy(&output.stdout);
    let found: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| banned.contains(name))
        .collect();
    if found.is_empty() {
        println!(
            "xtask: {krate} {} depends on none of {banned:?}",
            features.join(" ")
        );
        Ok(())
    } else {
        Err(format!(
            "{krate} {} must not depend on {found:?}",
            features.join(" ")
        ))
    }
}

fn cargo(args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
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

fn cargo_bin() -> String {
    env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}
