//! `cargo xtask <task>`: the project's chores in plain Rust, readable top to bottom.
//!
//! - `ci`: everything CI checks (format, lints, tests, docs, dependency rules, supply chain,
//!   fuzz targets build).
//! - `bench [--quick]`: one table from one run: the clients, `batch`, a Python peer and `wrk`
//!   against one sandbox, the crypto floor; a full run updates docs/performance.md (never in
//!   `ci`).
//! - `release <VERSION> [--dry-run]`: checks, packages, builds the archive; then bumps, commits
//!   and tags (never publishes or pushes).
//! - `deny`: licences, bans and sources with cargo-deny.
//! - `tidy`: no vendor code literals, no over-long functions.
//! - `fuzz [--seconds N]`: every fuzz target for N seconds.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod bench_gateway;
mod ci;
mod deny;
mod fuzz;
mod release;
mod tidy;
mod util;

use std::env;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <ci | bench [--quick] | release VERSION [--dry-run] | deny | tidy | fuzz [--seconds N]>";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::ci(),
        Some("bench") => bench::run(&args[1..]),
        Some("release") => release::release(&args[1..]),
        Some("deny") => deny::run(),
        Some("tidy") => tidy::run(),
        Some("fuzz") => fuzz::fuzz(&args[1..]),
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
