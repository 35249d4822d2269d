//! `cargo xtask wheel`: the Python package (`bindings/python`) as an abi3 wheel in
//! `target/wheels/`, built by maturin from the pinned venv; and the wheel's test in a fresh
//! venv (`cargo xtask ci`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{run, target_dir, workspace_root};

/// How the native module is compiled: `Release` for the wheel people install, `Dev` for CI's
/// test of it (it shares the workspace's dev build, and an optimised build would add minutes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Release,
    Dev,
}

pub fn wheel() -> Result<(), String> {
    let wheel = build(Profile::Release)?;
    println!("xtask wheel: {}", wheel.display());
    Ok(())
}

/// Builds the wheel and returns its path (the only `juhe_2fa-*.whl` in `target/wheels/`).
pub fn build(profile: Profile) -> Result<PathBuf, String> {
    let python = crate::venv::python()?;
    let out = target_dir().join("wheels");
    // An older version's wheel must not be the one that gets installed and tested.
    for old in wheels(&out) {
        std::fs::remove_file(&old).map_err(|e| format!("{}: {e}", old.display()))?;
    }
    let manifest = workspace_root().join("bindings/python/Cargo.toml");
    let mut maturin = Command::new(&python);
    maturin
        .args(["-m", "maturin", "build", "--locked", "--manifest-path"])
        .arg(&manifest)
        .arg("--out")
        .arg(&out)
        .arg("--interpreter")
        .arg(&python)
        .current_dir(workspace_root());
    match profile {
        Profile::Release => maturin.arg("--release"),
        Profile::Dev => maturin.args(["--profile", "dev"]),
    };
    run(maturin, "maturin build (bindings/python)")?;
    match wheels(&out).as_slice() {
        [one] => Ok(one.clone()),
        found => Err(format!(
            "expected one juhe_2fa wheel in {}, found {}",
            out.display(),
            found.len()
        )),
    }
}

/// The `juhe_2fa-*.whl` files in `dir`.
pub fn wheels(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("juhe_2fa-") && n.ends_with(".whl"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Installs `wheel` into a fresh venv (`target/wheel-test-venv`, made anew each time, with the
/// pinned pytest) and runs the package's pytest suite against it: what a user gets from
/// `pip install`, not the source tree.
pub fn test(wheel: &Path) -> Result<(), String> {
    let venv = target_dir().join("wheel-test-venv");
    if venv.exists() {
        std::fs::remove_dir_all(&venv).map_err(|e| format!("{}: {e}", venv.display()))?;
    }
    let mut create = Command::new("python3");
    create.args(["-m", "venv"]).arg(&venv);
    run(create, &format!("python3 -m venv {}", venv.display()))?;
    let python = venv.join("bin").join("python");
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ])
    .args(crate::venv::pinned(&["pytest", "pytest-asyncio"]))
    .arg(wheel);
    run(pip, &format!("pip install pytest {}", wheel.display()))?;
    let mut pytest = Command::new(&python);
    pytest
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(workspace_root().join("bindings/python/tests"))
        // From the tests' folder: the installed package is imported, never the source tree.
        .current_dir(workspace_root().join("bindings/python/tests"))
        .env_remove("JUHE_KEY");
    run(pytest, "pytest bindings/python/tests (the installed wheel)")
}
