//! Exit codes, the one table that maps failures to them, and the one-line error reports.

use std::fmt;

use juhe_2fa::ErrorClass;

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
    /// 6: a spend budget (`--budget`) is spent: nothing was sent.
    Budget = 6,
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

impl std::error::Error for CliError {}

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

/// What the command does with a failed check: the one table behind exit codes (single
/// checks) and row handling (`batch`), derived from the SDK's [`ErrorClass`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFate {
    /// Final: refused locally (`rejected`).
    Rejected,
    /// Final: the API answered a code about this pair (`api_error`).
    ApiError,
    /// Not final, surely not billed: the next run sends it again (`failed`).
    Failed,
    /// Maybe billed: resent only with `--retry-ambiguous` (`unknown`).
    Unknown,
    /// The code is about the account or service: stop the job, leave the row pending.
    StopJob,
    /// A rate limit: back off and send the row again.
    SlowDown,
    /// The job itself cannot go on (configuration, the journal).
    Abort,
}

/// The table: every class of failure, its exit code and its row fate.
pub fn handling(class: ErrorClass) -> (Exit, RowFate) {
    match class {
        ErrorClass::Rejected => (Exit::Rejected, RowFate::Rejected),
        ErrorClass::Api(code) if code.is_account_level() => (Exit::Api, RowFate::StopJob),
        ErrorClass::Api(code) if code.is_rate_limit() => (Exit::Api, RowFate::SlowDown),
        ErrorClass::Api(code) if code.is_retryable() => (Exit::Api, RowFate::Failed),
        ErrorClass::Api(_) => (Exit::Api, RowFate::ApiError),
        ErrorClass::Unbilled => (Exit::Failure, RowFate::Failed),
        ErrorClass::Ambiguous => (Exit::Failure, RowFate::Unknown),
        ErrorClass::Config => (Exit::Usage, RowFate::Abort),
        ErrorClass::Cancelled => (Exit::Failure, RowFate::Abort),
        ErrorClass::Budget => (Exit::Budget, RowFate::StopJob),
    }
}

/// The exit code for a failed check.
pub fn exit_for(error: &juhe_2fa::Error) -> Exit {
    handling(error.class()).0
}

/// A hint for a failed check, when there is something to do about it (the SDK's own).
pub fn hint_for(error: &juhe_2fa::Error) -> Option<&'static str> {
    error.hint()
}

#[cfg(test)]
mod tests {
    use super::*;
    use juhe_2fa::{DecodeError, DecodeProblem, Error, ErrorCode, testing::answer};

    fn api(code: ErrorCode) -> Error {
        Error::Api {
            code,
            reason: String::new(),
            mode: juhe_2fa::Endpoint::Plain,
        }
    }

    fn decode(status: u16) -> Error {
        Error::Decode(DecodeError {
            status,
            problem: DecodeProblem::NotJson,
            body_len: 0,
            source: None,
        })
    }

    /// Every vendor code and every transport and decode failure: class, exit code, batch fate.
    #[test]
    fn the_table() {
        use RowFate as F;
        for &code in ErrorCode::ALL {
            let (exit, fate) = handling(api(code).class());
            assert_eq!(exit, Exit::Api, "{code}");
            let expected = match code.code() {
                10001..=10005 | 10007..=10009 | 10013 | 10020 | 10021 => F::StopJob,
                10011 | 10012 => F::SlowDown,
                232905 | 232906 | 10014 => F::Failed,
                232901..=232904 => F::ApiError,
                other => panic!("unclassified {other}"),
            };
            assert_eq!(fate, expected, "{code}");
        }
        assert_eq!(
            handling(api(ErrorCode::Other(999)).class()),
            (Exit::Api, F::ApiError)
        );
        let cases = [
            (
                Error::Transport(answer::not_sent()),
                ErrorClass::Unbilled,
                Exit::Failure,
                F::Failed,
            ),
            (
                Error::Transport(answer::maybe_sent()),
                ErrorClass::Ambiguous,
                Exit::Failure,
                F::Unknown,
            ),
            (
                decode(200),
                ErrorClass::Ambiguous,
                Exit::Failure,
                F::Unknown,
            ),
            (decode(429), ErrorClass::Unbilled, Exit::Failure, F::Failed),
            (decode(500), ErrorClass::Unbilled, Exit::Failure, F::Failed),
            (
                decode(502),
                ErrorClass::Ambiguous,
                Exit::Failure,
                F::Unknown,
            ),
            (decode(503), ErrorClass::Unbilled, Exit::Failure, F::Failed),
            (
                decode(504),
                ErrorClass::Ambiguous,
                Exit::Failure,
                F::Unknown,
            ),
            (
                Error::InvalidInput(juhe_2fa::IdCard::parse("1").unwrap_err()),
                ErrorClass::Rejected,
                Exit::Rejected,
                F::Rejected,
            ),
            (
                Error::Cancelled("journal full".into()),
                ErrorClass::Cancelled,
                Exit::Failure,
                F::Abort,
            ),
        ];
        for (error, class, exit, fate) in cases {
            assert_eq!(error.class(), class, "{error:?}");
            assert_eq!(handling(class), (exit, fate), "{error:?}");
        }
    }
}
