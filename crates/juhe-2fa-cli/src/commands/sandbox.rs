//! `sandbox`: the emulator in the foreground until SIGINT/SIGTERM.

use std::path::Path;

use juhe_sandbox::{FaultPlan, Fixtures, Sandbox, SandboxBuilder, demo};

use crate::cli::{Global, SandboxArgs};
use crate::config::{aes_config, read_key_arg};
use crate::error::{CliError, Exit, chain};

/// Writes the demo keys into `dir` for other tools (and `--rsa-public-key`), only when asked.
/// The folder is created 0700 if missing; a symlink or an existing file is refused, so another
/// local user cannot make the sandbox overwrite something through a planted link.
fn export_demo_keys(dir: &Path) -> Result<(), CliError> {
    use std::io::Write;
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.file_type().is_symlink() || !meta.is_dir() => {
            return Err(CliError::usage(format!(
                "--export-demo-keys: {} is a symlink or not a directory",
                dir.display()
            )));
        }
        Ok(_) => {}
        Err(_) => {
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder
                .create(dir)
                .map_err(|e| CliError::io("create", dir, &e))?;
        }
    }
    for (name, text) in demo::FILES {
        let path = dir.join(name);
        let mut options = std::fs::OpenOptions::new();
        // create_new: never follows a symlink and never overwrites.
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&path)
            .map_err(|e| CliError::io("create", &path, &e))?;
        file.write_all(text.as_bytes())
            .map_err(|e| CliError::io("write", &path, &e))?;
    }
    Ok(())
}

/// A key as the sandbox prints it: the public demo key in full; any other (it may be a real
/// one, from `JUHE_KEY`) by its length only.
fn shown_key(key: &str) -> String {
    if key == demo::API_KEY {
        format!("{key} (the demo key)")
    } else {
        format!("a key of {} characters (not shown)", key.chars().count())
    }
}

/// The keys the sandbox accepts: `--key`/`JUHE_KEY` ones, plus the demo key unless
/// `--no-demo-key`.
fn accepted_keys(global: &Global, args: &SandboxArgs) -> Result<Vec<String>, CliError> {
    let mut keys = global.key.clone();
    if !args.no_demo_key && !keys.iter().any(|k| k == demo::API_KEY) {
        keys.push(demo::API_KEY.to_owned());
    }
    if keys.is_empty() {
        return Err(CliError::usage(
            "--no-demo-key without --key: no key would be accepted",
        ));
    }
    Ok(keys)
}

/// The sandbox as the flags configure it, and a line describing its AES endpoint.
fn configure(
    global: &Global,
    args: &SandboxArgs,
    keys: &[String],
) -> Result<(SandboxBuilder, String), CliError> {
    let mut builder = Sandbox::builder()
        .addr(args.addr)
        .default_verdict(args.default_verdict)
        .qps_limit(args.qps_limit)
        .log_requests(args.log_requests);
    for key in keys {
        builder = builder.key(key.clone());
    }
    let custom_aes = aes_config(global)?;
    let aes_note = match (&custom_aes, &global.openid) {
        (None, _) => format!(
            "vendor scheme (MD5 of the OpenID, AES-128-ECB), demo OpenID {}",
            demo::OPENID
        ),
        (Some(_), Some(_)) => "vendor scheme with your OpenID (not shown)".to_owned(),
        (Some(c), None) => format!("your --aes-key, {:?}, IV {:?}", c.mode(), c.iv_policy()),
    };
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
    Ok((builder, aes_note))
}

pub fn run(global: &Global, args: &SandboxArgs) -> Result<Exit, CliError> {
    let keys = accepted_keys(global, args)?;
    let (builder, aes_note) = configure(global, args, &keys)?;
    if let Some(dir) = &args.export_demo_keys {
        // Writes the files, says which, and exits: a setup step, not a server.
        export_demo_keys(dir)?;
        let names: Vec<_> = demo::FILES.iter().map(|(name, _)| *name).collect();
        if global.json {
            say(
                &serde_json::json!({ "dir": dir.display().to_string(), "files": names })
                    .to_string(),
            );
        } else {
            say(&format!(
                "wrote the demo keys to {}: {}",
                dir.display(),
                names.join(", ")
            ));
        }
        return Ok(Exit::Ok);
    }
    let runtime = crate::runtime()?;
    let handle = runtime
        .block_on(builder.spawn())
        .map_err(|e| CliError::usage(chain(&e)))?;
    let url = handle.base_url();
    let demo_key = keys.iter().any(|k| k == demo::API_KEY);
    if global.json {
        say(&serde_json::json!({
            "base_url": url,
            "demo_key": demo_key.then_some(demo::API_KEY),
            "keys": keys.iter().map(|k| shown_key(k)).collect::<Vec<_>>(),
            "demo_openid": (global.openid.is_none() && global.aes_key.is_none()).then_some(demo::OPENID),
        })
        .to_string());
    } else {
        let shown: Vec<String> = keys.iter().map(|k| shown_key(k)).collect();
        say(&format!("juhe-2fa sandbox listening on {url}"));
        say(&format!("  API keys:     {}", shown.join(", ")));
        say(&format!("  AES endpoint: {aes_note}"));
        if args.rsa_private_key.is_none() {
            say(
                "  RSA endpoint: the demo key pair (built in; --export-demo-keys DIR writes it out)",
            );
        }
        say(&format!(
            "  counters:     curl {url}/__sandbox/stats (POST /__sandbox/reset)"
        ));
        say(&format!(
            "  try:          juhe-2fa --base-url {url} --key {} verify --idcard {} --mobile {}",
            if demo_key { demo::API_KEY } else { "KEY" },
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
