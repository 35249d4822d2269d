//! Step 4: `cargo package` of every publishable crate; cargo builds each one from its own
//! tarball (with the others it needs from a local registry of the same run), so a file missing
//! from a package fails here, not for a user.

use super::PUBLISH_ORDER;
use crate::util::cargo;

pub fn all(allow_dirty: bool) -> Result<(), String> {
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
