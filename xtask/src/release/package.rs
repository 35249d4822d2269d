//! Step 4: `cargo package` of every publishable crate; cargo builds each one from its own
//! tarball (with the others it needs from a local registry of the same run), so a file missing
//! from a package fails here, not for a user.

use std::path::PathBuf;

use super::PUBLISH_ORDER;
use crate::util::cargo;

pub fn all(version: &str, allow_dirty: bool) -> Result<(), String> {
    forget_extracted(version);
    let mut args = vec!["package", "--locked"];
    for krate in PUBLISH_ORDER {
        args.extend(["-p", krate]);
    }
    if allow_dirty {
        // Only the version bump of this run is uncommitted at this point.
        args.push("--allow-dirty");
    }
    cargo(&args, &[])
}

/// Cargo caches the sources it extracts from a package by name and version, also for the local
/// registry `cargo package` builds from: after a failed release, a second attempt at the same
/// version would verify against the first attempt's sources. Ours are never on a real registry,
/// so their extracted copies (outside the crates.io cache) are removed first.
fn forget_extracted(version: &str) {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry/src")) else {
        return;
    };
    let Ok(registries) = std::fs::read_dir(src) else {
        return;
    };
    for registry in registries.flatten() {
        if registry
            .file_name()
            .to_string_lossy()
            .starts_with("index.crates.io")
        {
            continue;
        }
        for krate in PUBLISH_ORDER {
            let stale = registry.path().join(format!("{krate}-{version}"));
            if stale.is_dir() {
                let _ = std::fs::remove_dir_all(&stale);
            }
        }
    }
}
