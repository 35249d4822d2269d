//! Exit codes, the one table that maps failures to them, and the one-line error reports.

use std::fmt;

use juhe_2fa::ErrorClass;
use juhe_batch::Role;
pub use juhe_batch::{RowFate, error_chain as chain};

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

/// The table: every class of failure, its exit code and its row fate (the row fates are
/// `juhe_batch`'s, where `batch` acts on them).
pub fn handling(class: ErrorClass) -> (Exit, RowFate) {
    let exit = match class {
        ErrorClass::Rejected => Exit::Rejected,
        ErrorClass::Api(_) => Exit::Api,
        ErrorClass::Config => Exit::Usage,
        ErrorClass::Budget => Exit::Budget,
        ErrorClass::Unbilled | ErrorClass::Ambiguous | ErrorClass::Cancelled => Exit::Failure,
    };
    (exit, juhe_batch::row_fate(class))
}

/// A failure of a batch job (or of reading rows) as the command reports it: problems with the
/// files or settings exit 2, failures while the job ran exit 5; the hint names the flag to
/// change.
impl From<juhe_batch::Error> for CliError {
    fn from(e: juhe_batch::Error) -> CliError {
        use juhe_batch::Error as E;
        let flag = |role: Role| match role {
            Role::Output => "--output",
            Role::Journal => "--journal",
            _ => "the input",
        };
        let message = match &e {
            E::Directory { role, path } => {
                format!("{} {} is a directory", flag(*role), path.display())
            }
            E::SameFile { file, other } => format!("{} must not be the {other} file", flag(*file)),
            _ => chain(&e),
        };
        let zh = crate::lang::Lang::current() == crate::lang::Lang::Zh;
        let hint = match &e {
            _ if zh => crate::lang::batch_hint_zh(&e),
            E::Utf16 { .. } => Some("save it as UTF-8 or GBK (in Excel: Save As → \"CSV UTF-8\")"),
            E::MissingColumns { .. } => {
                Some("the first line must name the columns, e.g. `name,idcard,mobile`")
            }
            E::NoSheet { .. } => Some("pass --sheet NAME with one of the sheets listed"),
            E::NotWorkbook { .. } => Some("--sheet applies to an .xlsx input only"),
            E::XlsxFromJsonl { .. } => {
                Some("name the output .jsonl, or convert the input to CSV or .xlsx first")
            }
            E::NameClash { .. } => {
                Some("rename it, or pass --prefix (e.g. --prefix juhe_) for the added names")
            }
            E::InUse { .. } => {
                Some("wait for it to finish, or give this run another --journal and --output")
            }
            E::Unsafe { .. } => Some(
                "if it is yours and you trust it, `chmod 600` it (a symbolic link: pass the file itself); otherwise remove it, or pass another --journal/--output in a directory only you can write",
            ),
            E::OtherInput { .. } => Some(
                "only rows that were never sent (rejected) may change between runs; use a new --journal for a new input file",
            ),
            E::Foreign { .. } => {
                Some("remove it, or write the output in a directory only you can write")
            }
            E::Write { .. } => Some(
                "every answered row is in the journal: free space (or fix the output path), then rerun the same command; it writes the output without sending those rows again",
            ),
            _ => None,
        };
        CliError {
            exit: if e.is_setup() {
                Exit::Usage
            } else {
                Exit::Failure
            },
            message,
            hint: hint.map(str::to_owned),
        }
    }
}

/// The exit code for a failed check.
pub fn exit_for(error: &juhe_2fa::Error) -> Exit {
    handling(error.class()).0
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
        Error::Decode(DecodeError::new(status, DecodeProblem::NotJson, 0))
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
