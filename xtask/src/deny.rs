//! `cargo xtask deny`: licences, banned and duplicate crates, and sources, as `deny.toml` says.
//! Advisories need the advisory database from the network: maintainers run
//! `cargo deny check advisories` where they have it.

use crate::util::{cargo, ensure_cargo_tool};

/// The cargo-deny release this project is checked with.
const CARGO_DENY: &str = "0.20.2";

pub fn run() -> Result<(), String> {
    ensure_cargo_tool("deny", "cargo-deny", CARGO_DENY)?;
    cargo(
        &["deny", "--locked", "check", "licenses", "bans", "sources"],
        &[],
    )
}
