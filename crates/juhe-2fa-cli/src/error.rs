//! Exit codes (DESIGN.md §9) and the one-line error reports behind them.

use std::fmt;

/// The process exit codes scripts rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: match (or success).
    Ok = 0,
    /// 1: mismatch.
    Mismatch = 1,
    /// 2: usage or configuration error.
    Usage = 2,
    /// 3: rejected locally, nothing sent.
    Rejected = 3,
    /// 4: the API answered an error code.
    Api = 4,
    /// 5: transport or decode failure (or a batch with rows not final).
    Failure = 5,
}

/// A failure of the command itself: printed as one line plus a hint, then exit.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub message: String,
    pub hint: Option<String>,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            exit: Exit::Usage,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> CliError {
        self.hint = Some(hint.into());
        self
    }

    pub fn io(what: &str, path: &std::path::Path, e: &std::io::Error) -> CliError {
        CliError::usage(format!("cannot {what} {}: {e}", path.display()))
    }

    pub fn failure(message: impl Into<String>) -> CliError {
        CliError {
            exit: Exit::Failure,
            message: message.into(),
            hint: None,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// An error and its sources on one line: `outer: inner: innermost`.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// The exit code for a failed check.
pub fn exit_for(error: &juhe_2fa::Error) -> Exit {
    use juhe_2fa::Error as E;
    match error {
        E::InvalidInput(_) | E::UnsupportedCarrier { .. } => Exit::Rejected,
        E::Api { .. } => Exit::Api,
        E::Transport(_) | E::Decode(_) => Exit::Failure,
        _ => Exit::Usage,
    }
}

/// A hint for a failed check, when there is something to do about it.
pub fn hint_for(error: &juhe_2fa::Error) -> Option<&'static str> {
    use juhe_2fa::{Error as E, ErrorKind as K};
    match error {
        E::Api { code, .. } if code.code() == 232901 || code.code() == 232902 => Some(
            "if the number is right, check the AES/RSA settings: compare with `juhe-2fa encrypt --value …`",
        ),
        E::Api { code, .. } => match code.kind() {
            K::Credential => {
                Some("check --key / JUHE_KEY and the key's permissions in the Juhe console")
            }
            K::RateLimited => Some("slow down (batch --qps) or wait; the quota resets"),
            K::UnsupportedNumber => Some("this API answers only for China Unicom numbers"),
            _ => None,
        },
        e if e.is_ambiguous() => {
            Some("the request may have been billed; check the order before sending it again")
        }
        E::Transport(_) => Some("check the network, --base-url and --timeout"),
        _ => None,
    }
}
