//! Step 1: refuse what would make a bad release.

use semver::Version;

use crate::util::{output, workspace_root};

/// The versions a release moves between.
pub struct Plan {
    pub current: Version,
    pub next: Version,
}

pub fn check(requested: &str) -> Result<Plan, String> {
    let next = Version::parse(requested.trim_start_matches('v'))
        .map_err(|e| format!("{requested:?} is not a semantic version: {e}"))?;
    let dirty = output("git", &["status", "--porcelain"])?;
    if !dirty.trim().is_empty() {
        return Err(format!("the working tree is not clean:\n{dirty}"));
    }
    let current = current_version()?;
    if next <= current {
        return Err(format!(
            "{next} is not greater than the current version {current}"
        ));
    }
    let changelog = read("CHANGELOG.md")?;
    if unreleased_entries(&changelog) == 0 {
        return Err("CHANGELOG.md has nothing under `## [Unreleased]`".into());
    }
    Ok(Plan { current, next })
}

/// `version` of `[workspace.package]` in the root manifest.
pub fn current_version() -> Result<Version, String> {
    let manifest = read("Cargo.toml")?;
    let mut in_package = false;
    for line in manifest.lines() {
        if line.starts_with('[') {
            in_package = line.trim() == "[workspace.package]";
        } else if let Some(v) = line.strip_prefix("version = ").filter(|_| in_package) {
            return Version::parse(v.trim().trim_matches('"'))
                .map_err(|e| format!("Cargo.toml version: {e}"));
        }
    }
    Err("no version in [workspace.package] of Cargo.toml".into())
}

/// How many list items sit between `## [Unreleased]` and the next release heading.
pub fn unreleased_entries(changelog: &str) -> usize {
    changelog
        .lines()
        .skip_while(|l| !l.starts_with("## [Unreleased]"))
        .skip(1)
        .take_while(|l| !l.starts_with("## ["))
        .filter(|l| l.trim_start().starts_with("- "))
        .count()
}

pub fn read(name: &str) -> Result<String, String> {
    let path = workspace_root().join(name);
    std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}
