//! One Python virtual environment under `target/venv` for every task that runs Python: the
//! bench's `requests` + `cryptography` peer, the docs' Python examples, the Python package's
//! build (maturin) and tests (pytest). Made on first use, from PyPI, with pinned versions.

use std::path::PathBuf;
use std::process::Command;

use crate::util::{run, target_dir};

/// What the tasks need, pinned so two machines run the same code.
const REQUIREMENTS: &[(&str, &str)] = &[
    ("requests", "2.32.3"),
    ("cryptography", "44.0.0"),
    ("maturin", "1.16.0"),
    ("pytest", "8.3.5"),
    ("pytest-asyncio", "0.26.0"),
];

/// The venv's `python`, with every pinned requirement installed (only the missing ones are
/// fetched, so a warm venv costs no network).
pub fn python() -> Result<PathBuf, String> {
    let venv = target_dir().join("venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        let mut create = Command::new("python3");
        create.args(["-m", "venv"]).arg(&venv);
        run(create, &format!("python3 -m venv {}", venv.display()))?;
    }
    let missing: Vec<String> = REQUIREMENTS
        .iter()
        .filter(|(name, version)| installed(&python, name).as_deref() != Some(*version))
        .map(|(name, version)| format!("{name}=={version}"))
        .collect();
    if !missing.is_empty() {
        let mut pip = Command::new(&python);
        pip.args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(&missing);
        run(pip, &format!("pip install {}", missing.join(" ")))?;
    }
    Ok(python)
}

/// `name==version` for these pinned requirements (another venv installs the same versions).
pub fn pinned(names: &[&str]) -> Vec<String> {
    REQUIREMENTS
        .iter()
        .filter(|(name, _)| names.contains(name))
        .map(|(name, version)| format!("{name}=={version}"))
        .collect()
}

/// The installed version of a distribution, if any.
fn installed(python: &PathBuf, name: &str) -> Option<String> {
    let out = Command::new(python)
        .args([
            "-c",
            "import sys, importlib.metadata as m; print(m.version(sys.argv[1]))",
            name,
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
