//! `cargo xtask ci`: everything CI checks, in the order a failure is cheapest to see.

use std::process::Command;

use crate::util::{
    cargo, cargo_bin, ensure_apt_binaries, have_nightly, nightly_cargo, run, workspace_root,
};

/// Crates that must never be in a pure crate's normal dependency tree.
const NETWORK_AND_RUNTIME: &[&str] = &["reqwest", "ureq", "hyper", "tokio", "axum"];
const CRYPTO: &[&str] = &["rsa", "aes"];

pub fn ci() -> Result<(), String> {
    cargo(&["fmt", "--all", "--", "--check"], &[])?;
    crate::tidy::run()?;
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
    // The fleet tests run a real redis-server on loopback, the audit ledger's tests a real
    // PostgreSQL cluster (`juhe_sandbox::PostgresServer`).
    ensure_apt_binaries(&[
        ("redis-server", "redis-server"),
        ("/usr/lib/postgresql/*/bin/initdb", "postgresql"),
    ])?;
    cargo(&["test", "--workspace", "--locked"], &[])?;
    // The curl, Python and Java examples of docs/ against a real sandbox.
    crate::doc_examples::run()?;
    // The Python package as users get it: the wheel (on the dev build the tests just made),
    // installed into a fresh venv, under its pytest suite.
    let wheel = crate::wheel::build(crate::wheel::Profile::Dev)?;
    crate::wheel::test(&wheel)?;
    // The workspace run has juhe-crypto on AWS-LC (the sandbox and the command enable it); the
    // library's default engine is the pure-Rust one: its known-answer, Java and OpenSSL tests
    // run again on it.
    cargo(
        &[
            "clippy",
            "-p",
            "juhe-crypto",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    cargo(&["test", "-p", "juhe-crypto", "--locked"], &[])?;
    cargo(
        &["doc", "--workspace", "--no-deps", "--locked"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    layering()?;
    crate::deny::run()?;
    if have_nightly() {
        docs_rs()?;
        crate::fuzz::build(crate::fuzz::Profile::Check)?;
    } else {
        println!("xtask ci: SKIPPED docs.rs build and fuzz build: no nightly toolchain");
    }
    println!("xtask ci: all checks passed");
    Ok(())
}

/// The layering of docs/architecture.md, enforced.
fn layering() -> Result<(), String> {
    forbid_deps("juhe-proto", &[], &[NETWORK_AND_RUNTIME, CRYPTO].concat())?;
    // Validation alone needs none of the wire crates.
    forbid_deps(
        "juhe-proto",
        &["--no-default-features"],
        &["http", "serde_json", "form_urlencoded", "percent-encoding"],
    )?;
    forbid_deps("juhe-crypto", &[], NETWORK_AND_RUNTIME)?;
    forbid_deps(
        "juhe-transport",
        &["--no-default-features"],
        NETWORK_AND_RUNTIME,
    )?;

    // Each backend alone builds, and pulls in only itself; with none, both clients still build.
    let none = ["--no-default-features"];
    let ureq_only = ["--no-default-features", "--features", "ureq"];
    let reqwest_only = ["--no-default-features", "--features", "reqwest"];
    for features in [&none[..], &ureq_only, &reqwest_only] {
        cargo(
            &[&["check", "--locked", "-p", "juhe-2fa"][..], features].concat(),
            &[],
        )?;
    }
    forbid_deps("juhe-2fa", &none, &["reqwest", "ureq", "hyper", "tokio"])?;
    forbid_deps(
        "juhe-2fa",
        &ureq_only,
        &["tokio", "reqwest", "hyper", "governor"],
    )?;
    forbid_deps("juhe-2fa", &reqwest_only, &["ureq"])?;
    // The batch engine brings no HTTP backend, server or command-line crate of its own: its
    // caller's client decides.
    forbid_deps(
        "juhe-batch",
        &[],
        &["reqwest", "ureq", "hyper", "axum", "clap", "indicatif"],
    )?;
    // The blocking client's fleet (Redis) needs no async runtime either.
    let ureq_redis = ["--no-default-features", "--features", "ureq,redis"];
    cargo(
        &[&["check", "--locked", "-p", "juhe-2fa"][..], &ureq_redis].concat(),
        &[],
    )?;
    forbid_deps("juhe-2fa", &ureq_redis, &["tokio", "reqwest", "hyper"])?;
    // A user crate with `default-features = false` and its own transport, on another runtime.
    let example = "juhe-2fa-no-backend-example";
    cargo(&["run", "--locked", "--quiet", "-p", example], &[])?;
    forbid_deps(example, &[], &["reqwest", "ureq", "hyper", "tokio"])?;
    // The user-crate tests (and the guides' examples) name everything through `juhe_2fa::`.
    forbid_deps(
        "juhe-2fa-as-a-user",
        &["-e", "dev", "--depth", "1"],
        &["http", "juhe-proto", "juhe-crypto", "juhe-transport"],
    )
}

/// The docs as docs.rs builds them: every feature, `--cfg docsrs` (feature labels), nightly.
fn docs_rs() -> Result<(), String> {
    let mut command = nightly_cargo(&[
        "doc",
        "--workspace",
        "--no-deps",
        "--all-features",
        "--locked",
    ]);
    command.env("RUSTDOCFLAGS", "--cfg docsrs -D warnings");
    run(
        command,
        "RUSTDOCFLAGS='--cfg docsrs -D warnings' cargo +nightly doc --all-features",
    )
}

/// Fails if `krate`'s normal (non-dev, non-build) dependency tree, with `features`, contains
/// any of `banned`.
pub fn forbid_deps(krate: &str, features: &[&str], banned: &[&str]) -> Result<(), String> {
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
