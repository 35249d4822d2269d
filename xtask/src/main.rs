//! `cargo xtask <task>`: the project's chores in plain Rust, readable top to bottom.
//!
//! - `ci`: everything CI checks (format, lints, tests, docs, dependency rules, supply chain,
//!   fuzz targets build).
//! - `bench [--quick] [--gateway]`: one table from one run: the clients, `batch`, a Python peer
//!   and `wrk` against one sandbox, the crypto floor; a full run updates docs/performance.md
//!   (never in `ci`). `--gateway`: only the gateway's rows and targets, printed.
//! - `release <VERSION> [--dry-run]`: checks, packages, builds the archive; then bumps, commits
//!   and tags (never publishes or pushes).
//! - `doc-examples`: the curl, Python and Java examples of `docs/` against a real sandbox.
//! - `deny`: licences, bans and sources with cargo-deny.
//! - `tidy`: no vendor code literals, no over-long functions.
//! - `fuzz [--seconds N]`: every fuzz target for N seconds.
//! - `wheel`: the Python package's abi3 wheel (maturin, release) in `target/wheels/`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod bench_gateway;
mod ci;
mod deny;
mod doc_examples;
mod fuzz;
mod release;
mod tidy;
mod util;
mod venv;
mod wheel;

use std::env;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <ci | bench [--quick] [--gateway] | release VERSION [--dry-run] | deny | doc-examples | tidy | fuzz [--seconds N] | wheel>";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::ci(),
        Some("bench") => bench::run(&args[1..]),
        Some("release") => release::release(&args[1..]),
        Some("deny") => deny::run(),
        Some("doc-examples") => doc_examples::run(),
        Some("tidy") => tidy::run(),
        Some("fuzz") => fuzz::fuzz(&args[1..]),
        Some("wheel") => wheel::wheel(),
        _ => {
            eprintln!("{USAGE}");
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
