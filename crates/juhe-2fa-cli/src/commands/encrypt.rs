//! `encrypt`: what the configured mode would send for a value (interop debugging).

use crate::cli::Global;
use crate::config::encryptor;
use crate::error::{CliError, Exit, chain};

pub fn run(global: &Global, value: &str) -> Result<Exit, CliError> {
    let encryptor = encryptor(global)?;
    let text = encryptor
        .encrypt(value)
        .map_err(|e| CliError::usage(chain(&e)))?;
    if global.json {
        crate::print_line(&serde_json::json!({ "mode": format!("{:?}", global.mode).to_lowercase(), "value": text }).to_string());
    } else {
        crate::print_line(&text);
    }
    Ok(Exit::Ok)
}
