//! Step 5: the release binary as `target/dist/juhe-2fa-<VERSION>-<target>.tar.gz` (binary,
//! README, licences, changelog), named as cargo-dist names its artifacts, the Python
//! package's abi3 wheel (`juhe_2fa-<VERSION>-cp39-abi3-<platform>.whl`, as maturin names it),
//! and `SHA256SUMS` of both.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::util::{cargo, output, target_dir, workspace_root};

const DOCS: [&str; 4] = ["README.md", "LICENSE-MIT", "LICENSE-APACHE", "CHANGELOG.md"];

pub fn build(version: &str) -> Result<(), String> {
    cargo(
        &["build", "--release", "--locked", "-p", "juhe-2fa-cli"],
        &[],
    )?;
    let target = target_dir();
    let dist = target.join("dist");
    std::fs::create_dir_all(&dist).map_err(|e| format!("{}: {e}", dist.display()))?;
    let name = format!("juhe-2fa-{version}-{}", host_triple()?);
    let archive = dist.join(format!("{name}.tar.gz"));
    let binary = format!("juhe-2fa{}", std::env::consts::EXE_SUFFIX);
    write_archive(
        &archive,
        &name,
        &target.join("release").join(&binary),
        &binary,
    )?;

    // The wheel: the one built now, never one left by an earlier run.
    for old in crate::wheel::wheels(&dist) {
        std::fs::remove_file(&old).map_err(|e| format!("{}: {e}", old.display()))?;
    }
    let wheel = crate::wheel::build(crate::wheel::Profile::Release)?;
    let wheel_name = wheel
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("the wheel has no file name")?
        .to_owned();
    std::fs::copy(&wheel, dist.join(&wheel_name))
        .map_err(|e| format!("{}: {e}", wheel.display()))?;

    let digest = sha256_file(&archive)?;
    let wheel_digest = sha256_file(&dist.join(&wheel_name))?;
    let sums = format!("{digest}  {name}.tar.gz\n{wheel_digest}  {wheel_name}\n");
    let sums_path = dist.join("SHA256SUMS");
    std::fs::write(&sums_path, &sums).map_err(|e| format!("{}: {e}", sums_path.display()))?;
    verify(&dist, &sums)?;
    println!(
        "xtask release: {}, {} and {}",
        archive.display(),
        dist.join(&wheel_name).display(),
        sums_path.display()
    );
    Ok(())
}

/// `rustc -vV`'s host line, e.g. `x86_64-unknown-linux-gnu`.
fn host_triple() -> Result<String, String> {
    let info = output("rustc", &["-vV"])?;
    info.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .ok_or_else(|| "rustc -vV printed no host".into())
}

fn write_archive(
    archive: &Path,
    top: &str,
    binary: &Path,
    binary_name: &str,
) -> Result<(), String> {
    let file = File::create(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    let mut tar = tar::Builder::new(GzEncoder::new(file, Compression::best()));
    tar.mode(tar::HeaderMode::Deterministic);
    let io = |e: std::io::Error| format!("{}: {e}", archive.display());
    tar.append_path_with_name(binary, format!("{top}/{binary_name}"))
        .map_err(io)?;
    for doc in DOCS {
        tar.append_path_with_name(workspace_root().join(doc), format!("{top}/{doc}"))
            .map_err(io)?;
    }
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .and_then(|mut f| f.flush())
        .map_err(io)
}

fn sha256_file(path: &Path) -> Result<String, String> {
    let mut file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Re-reads every file named in `SHA256SUMS`; with `sha256sum` on the machine, asks it too.
fn verify(dist: &Path, sums: &str) -> Result<(), String> {
    for line in sums.lines() {
        let (digest, name) = line.split_once("  ").ok_or("malformed SHA256SUMS")?;
        if sha256_file(&dist.join(name))? != digest {
            return Err(format!("checksum of {name} does not match"));
        }
    }
    let checked = std::process::Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(dist)
        .status();
    match checked {
        Ok(status) if !status.success() => Err("sha256sum -c SHA256SUMS failed".into()),
        _ => Ok(()),
    }
}
