//! `sandbox`: the emulator in the foreground until SIGINT/SIGTERM.

use std::path::PathBuf;

use juhe_sandbox::{FaultPlan, Fixtures, Sandbox, demo};

use crate::cli::{Global, SandboxArgs};
use crate::config::{aes_config, read_key_arg};
use crate::error::{CliError, Exit, chain};

/// Writes the demo keys to a folder so other tools (and `--rsa-public-key`) can use them.
fn write_demo_keys() -> Result<PathBuf, CliError> {
    let dir = std::env::temp_dir().join("juhe-2fa-sandbox-demo");
    std::fs::create_dir_all(&dir).map_err(|e| CliError::io("create", &dir, &e))?;
    for (name, text) in [
        ("rsa_public.pem", demo::RSA_PUBLIC_KEY_PEM),
        ("rsa_public.b64", demo::RSA_PUBLIC_KEY_B64),
        ("rsa_private.pem", demo::RSA_PRIVATE_KEY_PEM),
        ("aes_key.txt", demo::AES_KEY),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| CliError::io("write", &path, &e))?;
    }
    Ok(dir)
}

pub fn run(global: &Global, args: &SandboxArgs) -> Result<Exit, CliError> {
    let mut builder = Sandbox::builder()
        .addr(args.addr)
        .default_verdict(args.default_verdict)
        .qps_limit(args.qps_limit);
    for key in &global.key {
        builder = builder.key(key.clone());
    }
    let custom_aes = aes_config(global)?;
    let demo_aes = custom_aes.is_none();
    if let Some(config) = custom_aes {
        builder = builder.aes(Some(config));
    }
    if let Some(path) = &args.rsa_private_key {
        let text = read_key_arg(&path.to_string_lossy())?;
        builder = builder.rsa_private_key(Some(&text));
    }
    if let Some(path) = &args.fixtures {
        builder = builder.fixtures(Fixtures::load(path).map_err(|e| CliError::usage(chain(&e)))?);
    }
    if let Some(path) = &args.faults {
        builder = builder.faults(FaultPlan::load(path).map_err(|e| CliError::usage(chain(&e)))?);
    }
    let demo_dir = write_demo_keys()?;
    let runtime = crate::runtime()?;
    let handle = runtime
        .block_on(builder.spawn())
        .map_err(|e| CliError::usage(chain(&e)))?;
    let url = handle.base_url();
    let key_note = if global.key.is_empty() {
        format!("{} (the demo key)", demo::API_KEY)
    } else {
        format!("{} configured key(s)", global.key.len())
    };
    if global.json {
        say(&serde_json::json!({
            "base_url": url,
            "demo_key": global.key.is_empty().then_some(demo::API_KEY),
            "demo_keys_dir": demo_dir,
        })
        .to_string());
    } else {
        say(&format!("juhe-2fa sandbox listening on {url}"));
        say(&format!("  API key:      {key_note}"));
        say(&format!("  demo keys:    {}", demo_dir.display()));
        if demo_aes {
            say("  AES endpoint: demo key aes_key.txt, CBC, IV same as key, base64");
        }
        if args.rsa_private_key.is_none() {
            say("  RSA endpoint: demo key pair rsa_public.pem / rsa_private.pem");
        }
        say(&format!(
            "  try:          juhe-2fa --base-url {url} --key {} verify --idcard {} --mobile {}",
            if global.key.is_empty() {
                demo::API_KEY
            } else {
                "KEY"
            },
            demo::MATCH.0,
            demo::MATCH.1
        ));
        say("Press Ctrl-C to stop.");
    }
    runtime.block_on(handle.run_until(shutdown_signal()));
    Ok(Exit::Ok)
}

/// Prints a line; a closed stdout must not stop the server.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
