//! Helpers shared by the command's integration tests.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;

/// The built `juhe-2fa`, with none of the user's `JUHE_*` settings and no stdin.
pub fn bin() -> Command {
    let mut cmd = Command::cargo_bin("juhe-2fa").unwrap();
    for var in [
        "JUHE_KEY",
        "JUHE_BASE_URL",
        "JUHE_MODE",
        "JUHE_AES_KEY",
        "JUHE_OPENID",
        "JUHE_AES_MODE",
        "JUHE_AES_IV",
        "JUHE_RSA_PUBLIC_KEY",
        "JUHE_REDIS_URL",
        "JUHE_LEDGER",
        "JUHE_CALLER",
        "JUHE_PURPOSE",
        "JUHE_PROXY",
        "JUHE_LANG",
        "JUHE_BUDGET",
        "LC_ALL",
        "LANG",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// `juhe-2fa --base-url URL --key KEY <global…> batch --input IN --output OUT`; add batch
/// flags with `.args`.
pub fn batch_cmd(
    base_url: &str,
    key: &str,
    global: &[&str],
    input: &Path,
    output: &Path,
) -> Command {
    let mut cmd = bin();
    cmd.args(["--base-url", base_url, "--key", key])
        .args(global)
        .args(["batch", "--input", input.to_str().unwrap()])
        .args(["--output", output.to_str().unwrap()]);
    cmd
}

/// A finished run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    finished(cmd.output().unwrap())
}

fn finished(out: std::process::Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Waits for a child with piped output, killing it (and failing) after `seconds`: a regression
/// must not hang CI.
pub fn wait_at_most(mut child: Child, seconds: u64) -> Run {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(seconds) {
            child.kill().unwrap();
            panic!("the run did not end within {seconds} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    finished(child.wait_with_output().unwrap())
}

/// `n` valid, distinct ID numbers from a 10-digit region-and-year stem, with China Unicom
/// mobiles under a 3-digit segment.
pub fn pairs_from(stem: &str, segment: &str, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let first17 = format!(
                "{stem}{:02}{:02}{:03}",
                1 + i % 12,
                1 + (i / 12) % 28,
                i % 1000
            );
            let id = juhe_2fa::IdCard::with_check_digit(&first17).expect("17 digits");
            (id, format!("{segment}{i:08}"))
        })
        .collect()
}

/// `n` valid, distinct Unicom pairs.
pub fn pairs(n: usize) -> Vec<(String, String)> {
    pairs_from("1101051990", "130", n)
}

/// A CSV with the header `idcard,mobile`.
pub fn write_csv(path: &Path, rows: &[(String, String)]) {
    let mut text = String::from("idcard,mobile\n");
    for (i, m) in rows {
        text.push_str(&format!("{i},{m}\n"));
    }
    std::fs::write(path, text).unwrap();
}

/// A test root CA (its PEM) and a TLS server configuration for `localhost` signed by it.
pub fn test_ca() -> (String, rustls::ServerConfig) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "juhe-2fa CLI test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone()], key)
    .unwrap();
    (ca.pem(), server)
}

pub mod gateway;
