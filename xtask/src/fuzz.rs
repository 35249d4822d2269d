//! `cargo xtask fuzz [--seconds N]`: every target under `fuzz/` for N seconds (default 60),
//! failing on the first crash. `build(Profile::Check)` is what `ci` runs so the targets cannot
//! rot: unoptimized, it compiles them in about a third of a release build's time.

use crate::util::{ensure_cargo_tool, nightly_cargo, run, workspace_root};

/// The cargo-fuzz release this project is checked with.
const CARGO_FUZZ: &str = "0.13.2";

/// One `target/` for the whole repository: fuzz builds go under `target/fuzz`.
fn target_dir() -> String {
    crate::util::target_dir()
        .join("fuzz")
        .to_string_lossy()
        .into_owned()
}

fn targets() -> Result<Vec<String>, String> {
    let out = nightly_cargo(&["fuzz", "list"])
        .output()
        .map_err(|e| format!("cannot run cargo fuzz list: {e}"))?;
    if !out.status.success() {
        return Err("cargo fuzz list failed".into());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect())
}

/// How to build the targets.
#[derive(Clone, Copy)]
pub enum Profile {
    /// Optimized, as `cargo fuzz run` runs them.
    Fuzz,
    /// Unoptimized (`--dev`): only that they compile.
    Check,
}

/// Builds every fuzz target.
pub fn build(profile: Profile) -> Result<(), String> {
    ensure_cargo_tool("fuzz", "cargo-fuzz", CARGO_FUZZ)?;
    let target_dir = target_dir();
    let mut args = vec!["fuzz", "build", "--target-dir", &target_dir];
    if let Profile::Check = profile {
        args.push("--dev");
    }
    let shown = format!("cargo +nightly {}", args.join(" "));
    run(nightly_cargo(&args), &shown)
}

pub fn fuzz(args: &[String]) -> Result<(), String> {
    let seconds = match args {
        [] => 60,
        [flag, n] if flag == "--seconds" => n
            .parse::<u64>()
            .map_err(|_| format!("--seconds wants a whole number, not {n:?}"))?,
        _ => return Err("usage: cargo xtask fuzz [--seconds N]".into()),
    };
    build(Profile::Fuzz)?;
    let targets = targets()?;
    for target in &targets {
        // New inputs go to a scratch corpus; the committed seeds are read only.
        let corpus = crate::util::target_dir().join("fuzz-corpus").join(target);
        let seeds = workspace_root().join("fuzz/seeds").join(target);
        std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
        let time = format!("-max_total_time={seconds}");
        let target_dir = target_dir();
        let mut args = vec!["fuzz", "run", "--target-dir", &target_dir, target.as_str()];
        let corpus_s = corpus.to_string_lossy().into_owned();
        let seeds_s = seeds.to_string_lossy().into_owned();
        args.push(&corpus_s);
        if seeds.is_dir() {
            args.push(&seeds_s);
        }
        args.extend(["--", &time, "-print_final_stats=1"]);
        let shown = format!("cargo +nightly fuzz run {target} -- {time}");
        run(nightly_cargo(&args), &shown).map_err(|_| {
            format!(
                "fuzz target {target} found a crash (see fuzz/artifacts/{target}/); \
                 add the input as a regression test in its crate"
            )
        })?;
    }
    println!(
        "xtask fuzz: {} targets, {seconds} s each, no crash",
        targets.len()
    );
    Ok(())
}
