//! Steps 3 and 6: the version across the workspace, the dated changelog, the commit and tag.

use super::preflight::{Plan, read};
use crate::util::{cargo, output, workspace_root};

pub fn apply(plan: &Plan) -> Result<(), String> {
    let (current, next) = (plan.current.to_string(), plan.next.to_string());
    let manifest = set_versions(&read("Cargo.toml")?, &current, &next)?;
    write("Cargo.toml", &manifest)?;
    let today = time::OffsetDateTime::now_utc().date();
    let changelog = date_unreleased(&read("CHANGELOG.md")?, &current, &next, &today.to_string());
    write("CHANGELOG.md", &changelog)?;
    // Only the workspace's own entries of Cargo.lock change.
    cargo(&["update", "--workspace", "--offline"], &[])
}

/// Puts back what `apply` changed, when a later step fails.
pub fn undo() {
    let _ = output(
        "git",
        &["checkout", "--", "Cargo.toml", "Cargo.lock", "CHANGELOG.md"],
    );
}

pub fn commit_and_tag(plan: &Plan) -> Result<(), String> {
    let message = format!("Release {}", plan.next);
    output("git", &["commit", "--quiet", "-am", &message])?;
    output(
        "git",
        &["tag", "-a", &format!("v{}", plan.next), "-m", &message],
    )?;
    println!("xtask release: committed and tagged v{}", plan.next);
    Ok(())
}

/// `[workspace.package] version` and every `juhe-…` entry of `[workspace.dependencies]`.
fn set_versions(manifest: &str, current: &str, next: &str) -> Result<String, String> {
    let from = format!("version = \"{current}\"");
    let to = format!("version = \"{next}\"");
    let mut section = String::new();
    let mut changed = 0;
    let lines: Vec<String> = manifest
        .lines()
        .map(|line| {
            if line.starts_with('[') {
                section = line.trim().to_owned();
            }
            let ours = (section == "[workspace.package]" && line.starts_with("version = "))
                || (section == "[workspace.dependencies]" && line.starts_with("juhe-"));
            if ours && line.contains(&from) {
                changed += 1;
                line.replace(&from, &to)
            } else {
                line.to_owned()
            }
        })
        .collect();
    if changed < 2 {
        return Err(format!(
            "found {changed} versions {current} to change in Cargo.toml"
        ));
    }
    Ok(lines.join("\n") + "\n")
}

/// Moves the `Unreleased` entries under `## [next] - date`, leaving `Unreleased` empty, and
/// updates the comparison links at the bottom.
fn date_unreleased(changelog: &str, current: &str, next: &str, date: &str) -> String {
    let heading = "## [Unreleased]";
    let dated = format!("{heading}\n\n## [{next}] - {date}");
    let mut text = changelog.replacen(heading, &dated, 1);
    let old_link =
        format!("[Unreleased]: https://github.com/juhe-2fa/juhe-2fa/compare/v{current}...HEAD");
    let new_links = format!(
        "[Unreleased]: https://github.com/juhe-2fa/juhe-2fa/compare/v{next}...HEAD\n\
         [{next}]: https://github.com/juhe-2fa/juhe-2fa/compare/v{current}...v{next}"
    );
    text = text.replacen(&old_link, &new_links, 1);
    text
}

fn write(name: &str, text: &str) -> Result<(), String> {
    let path = workspace_root().join(name);
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_changelog() {
        let manifest = "[workspace.package]\nversion = \"0.1.0\"\n\n[workspace.dependencies]\n\
            juhe-proto = { path = \"crates/juhe-proto\", version = \"0.1.0\" }\n\
            other = { version = \"0.1.0\" }\n";
        let bumped = set_versions(manifest, "0.1.0", "0.2.0").unwrap();
        assert_eq!(bumped.matches("0.2.0").count(), 2);
        assert!(bumped.contains("other = { version = \"0.1.0\" }"));
        let log = "# C\n\n## [Unreleased]\n\n- a\n\n## [0.1.0] - 2026-01-01\n\n- b\n\n\
            [Unreleased]: https://github.com/juhe-2fa/juhe-2fa/compare/v0.1.0...HEAD\n";
        let dated = date_unreleased(log, "0.1.0", "0.2.0", "2026-12-01");
        assert!(dated.contains("## [Unreleased]\n\n## [0.2.0] - 2026-12-01\n\n- a"));
        assert_eq!(super::super::preflight::unreleased_entries(&dated), 0);
        assert!(dated.contains("compare/v0.2.0...HEAD"));
        assert!(
            dated.contains("[0.2.0]: https://github.com/juhe-2fa/juhe-2fa/compare/v0.1.0...v0.2.0")
        );
    }
}
