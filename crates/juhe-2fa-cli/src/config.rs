//! From flags and environment to SDK configuration.

use std::path::Path;
use std::time::Duration;

use juhe_2fa::FieldEncryptor;
use juhe_2fa::{AesConfig, ClientBuilder, Method, Mode, RetryPolicy};

use crate::cli::{Global, MethodArg, ModeArg};
use crate::error::{CliError, chain};

/// `--rsa-public-key` is a file path or the key text itself.
pub fn read_key_arg(value: &str) -> Result<String, CliError> {
    let path = Path::new(value);
    if value.len() < 4096 && path.is_file() {
        return std::fs::read_to_string(path)
            .map_err(|e| CliError::io("read the key file", path, &e));
    }
    Ok(value.to_owned())
}

/// The AES settings from `--aes-key/--aes-mode/--aes-iv`, if a key is given.
pub fn aes_config(global: &Global) -> Result<Option<AesConfig>, CliError> {
    let Some(key) = &global.aes_key else {
        return Ok(None);
    };
    let mut config = AesConfig::new(key).map_err(|e| {
        CliError::usage(format!("--aes-key: {}", chain(&e)))
            .with_hint("give 16, 24 or 32 bytes, or hex:… / base64:…")
    })?;
    if let Some(mode) = global.aes_mode {
        config = config.with_mode(mode);
    }
    if let Some(iv) = global.aes_iv {
        config = config.with_iv(iv);
    }
    Ok(Some(config))
}

pub fn mode(global: &Global) -> Result<Mode, CliError> {
    Ok(match global.mode {
        ModeArg::Plain => Mode::Plain,
        ModeArg::Aes => Mode::Aes(aes_config(global)?.ok_or_else(|| {
            CliError::usage("--mode aes needs an AES key")
                .with_hint("pass --aes-key or set JUHE_AES_KEY")
        })?),
        ModeArg::Rsa => {
            let key = global.rsa_public_key.as_deref().ok_or_else(|| {
                CliError::usage("--mode rsa needs the vendor's RSA public key")
                    .with_hint("pass --rsa-public-key FILE|B64 or set JUHE_RSA_PUBLIC_KEY")
            })?;
            Mode::Rsa(read_key_arg(key)?)
        }
    })
}

/// The encryptor for `encrypt --value`.
pub fn encryptor(global: &Global) -> Result<Box<dyn FieldEncryptor>, CliError> {
    mode(global)?
        .encryptor()
        .map_err(|e| CliError::usage(format!("--rsa-public-key: {}", chain(&e))))
}

/// The client builder for the commands that call the API.
pub fn client_builder(global: &Global) -> Result<ClientBuilder, CliError> {
    let key = match global.key.as_slice() {
        [] => {
            return Err(CliError::usage("no API key").with_hint(
                "pass --key KEY or set JUHE_KEY (try `juhe-2fa sandbox` and its demo key to experiment)",
            ));
        }
        [key] => key.clone(),
        _ => {
            return Err(CliError::usage(
                "--key was given more than once; a client uses one key",
            ));
        }
    };
    let timeout = Duration::try_from_secs_f64(global.timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| CliError::usage("--timeout must be a positive number of seconds"))?;
    let mut builder = ClientBuilder::new()
        .api_key(key)
        .mode(mode(global)?)
        .method(match global.method {
            MethodArg::Post => Method::Post,
            MethodArg::Get => Method::Get,
        })
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .retry_policy(RetryPolicy {
            max_retries: global.retries,
            ..RetryPolicy::default()
        });
    if let Some(url) = &global.base_url {
        builder = builder.base_url(url.clone());
    }
    Ok(builder)
}

/// A configuration error from the SDK, as a usage error.
pub fn config_error(e: &juhe_2fa::Error) -> CliError {
    CliError::usage(chain(e))
}
