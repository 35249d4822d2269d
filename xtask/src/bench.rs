//! `cargo xtask bench`: the criterion benchmarks and the sandbox load benchmark (long; never in
//! `ci`).

use crate::util::cargo;

pub fn run() -> Result<(), String> {
    cargo(&["bench", "--workspace", "--locked"], &[])?;
    cargo(
        &[
            "run",
            "--release",
            "--locked",
            "-p",
            "juhe-sandbox",
            "--example",
            "load",
            "--",
            "5",
            "4",
        ],
        &[],
    )
}
