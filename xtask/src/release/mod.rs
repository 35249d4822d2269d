//! `cargo xtask release <VERSION> [--dry-run]`, one module per step:
//!
//! 1. [`preflight`]: a clean tree, a version greater than the current one, a changelog with
//!    something under `Unreleased`.
//! 2. `ci`: every check CI runs.
//! 3. [`bump`] (not in a dry run): the new version across the workspace, `Unreleased` dated.
//! 4. [`package`]: `cargo package` of every publishable crate, each built from its tarball.
//! 5. [`dist`]: the release binary in `target/dist/juhe-2fa-<VERSION>-<target>.tar.gz` with
//!    README, licences and changelog, the Python wheel (`juhe_2fa-<VERSION>-cp39-abi3-….whl`),
//!    plus `SHA256SUMS`, verified.
//! 6. [`bump::commit_and_tag`] (not in a dry run), then the `cargo publish` commands to run.
//!
//! It never publishes or pushes. A dry run changes nothing tracked by git (everything it writes
//! is under `target/`); its archive holds the binary at the current version.

mod bump;
mod dist;
mod package;
mod preflight;

/// Publishable crates, each after the crates it depends on.
pub const PUBLISH_ORDER: [&str; 8] = [
    "juhe-proto",
    "juhe-crypto",
    "juhe-transport",
    "juhe-sandbox",
    "juhe-2fa",
    "juhe-batch",
    "juhe-ledger",
    "juhe-2fa-cli",
];

pub fn release(args: &[String]) -> Result<(), String> {
    let (version, dry_run) = match args {
        [v] => (v.as_str(), false),
        [v, flag] | [flag, v] if flag == "--dry-run" => (v.as_str(), true),
        _ => return Err("usage: cargo xtask release <VERSION> [--dry-run]".into()),
    };
    let plan = preflight::check(version)?;
    println!(
        "xtask release: {} -> {}{}",
        plan.current,
        plan.next,
        if dry_run { " (dry run)" } else { "" }
    );
    crate::ci::ci()?;
    if dry_run {
        package::all(&plan.current.to_string(), false)?;
        dist::build(&plan.next.to_string())?;
        println!("xtask release: dry run passed; nothing tracked was changed");
        return Ok(());
    }
    bump::apply(&plan)?;
    let built = package::all(&plan.next.to_string(), true)
        .and_then(|()| dist::build(&plan.next.to_string()));
    if let Err(e) = built {
        bump::undo();
        return Err(e);
    }
    bump::commit_and_tag(&plan)?;
    println!("Now publish, in this order (each waits for the one before to be indexed):");
    for krate in PUBLISH_ORDER {
        println!("  cargo publish --locked -p {krate}");
    }
    println!(
        "the Python wheel (PyPI project juhe-2fa): maturin upload target/dist/juhe_2fa-{}-*.whl",
        plan.next
    );
    println!("and push: git push && git push origin v{}", plan.next);
    Ok(())
}
