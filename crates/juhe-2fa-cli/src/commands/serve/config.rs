//! The gateway's callers file (TOML): who may call, with which token, at what rate, budget and
//! for which purposes. Tokens are never stored: only their SHA-256.

use std::path::Path;

use juhe_2fa::budget::{Budget, CallerLimits};
use serde::Deserialize;

use crate::error::CliError;

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default, rename = "caller")]
    callers: Vec<Entry>,
}

/// One `[[caller]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    token_sha256: String,
    qps: Option<f64>,
    #[serde(default)]
    budget: Vec<String>,
    purposes: Option<Vec<String>>,
}

/// A caller, ready to authenticate and limit.
pub struct Caller {
    pub name: String,
    /// SHA-256 of the caller's bearer token.
    pub digest: [u8; 32],
    /// The purposes it may give; `None`: any (or none).
    pub purposes: Option<Vec<String>>,
    /// Its own rate and budgets, enforced by the engine.
    pub limits: CallerLimits,
}

/// A caller name: what metrics labels, Redis keys and the ledger hold.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Reads and checks the callers file.
pub fn load(path: &Path) -> Result<Vec<Caller>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io("read", path, &e))?;
    let shown = path.display();
    let file: File = toml::from_str(&text).map_err(|e| {
        // The line, not the parser's excerpt of the file: the message stays one line.
        let line = e
            .span()
            .map(|span| format!(" (line {})", line_of(&text, span.start)))
            .unwrap_or_default();
        CliError::usage(format!("--config {shown}{line}: {}", e.message()))
    })?;
    if file.callers.is_empty() {
        return Err(CliError::usage(format!(
            "--config {shown}: no [[caller]]: nobody could call the gateway"
        ))
        .with_hint("`juhe-2fa serve --new-token NAME` prints a token and the lines to paste"));
    }
    let mut callers: Vec<Caller> = Vec::with_capacity(file.callers.len());
    for entry in file.callers {
        let caller =
            caller(entry).map_err(|m| CliError::usage(format!("--config {shown}: {m}")))?;
        if callers.iter().any(|c| c.name == caller.name) {
            return Err(CliError::usage(format!(
                "--config {shown}: the caller name {:?} is used twice",
                caller.name
            )));
        }
        if callers.iter().any(|c| c.digest == caller.digest) {
            return Err(CliError::usage(format!(
                "--config {shown}: callers {:?} and another one have the same token",
                caller.name
            )));
        }
        callers.push(caller);
    }
    Ok(callers)
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn caller(entry: Entry) -> Result<Caller, String> {
    let name = entry.name;
    if !valid_name(&name) {
        return Err(format!(
            "caller name {name:?}: 1 to 64 letters, digits, '-', '_' or '.'"
        ));
    }
    let digest = hex::decode(entry.token_sha256.trim())
        .ok()
        .and_then(|d| <[u8; 32]>::try_from(d).ok())
        .ok_or_else(|| {
            format!("caller {name:?}: token_sha256 must be 64 hex digits (SHA-256 of the token)")
        })?;
    let budgets = entry
        .budget
        .iter()
        .map(|b| {
            b.parse::<Budget>()
                .map_err(|_| format!("caller {name:?}: budget {b:?}: write N/day or N/month"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let empty = |purposes: &Vec<String>| {
        purposes.is_empty() || purposes.iter().any(|p| p.trim().is_empty())
    };
    if entry.purposes.as_ref().is_some_and(empty) {
        return Err(format!(
            "caller {name:?}: purposes must name at least one purpose, none empty (leave the key out to allow any)"
        ));
    }
    let limits = CallerLimits::new(name.clone(), entry.qps, budgets)
        .map_err(|e| format!("caller {name:?}: qps: {e}"))?;
    Ok(Caller {
        name,
        digest,
        purposes: entry.purposes,
        limits,
    })
}
