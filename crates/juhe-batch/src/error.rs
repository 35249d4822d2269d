//! The crate's one error type.

use std::fmt;
use std::path::PathBuf;

use juhe_2fa::BoxError;

/// One of the three files of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Role {
    /// The rows to check.
    Input,
    /// Where the results go.
    Output,
    /// The journal that makes the job resumable.
    Journal,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Input => "input",
            Role::Output => "output",
            Role::Journal => "journal",
        })
    }
}

/// Why a job could not start or could not go on.
///
/// [`Error::is_setup`] tells the two families apart: a problem with the job's files or
/// settings, found before the rows it concerns were sent (fix it and run again), or a failure
/// of the job itself while it ran (reading the input, writing the output, the journal).
/// Messages name files, never a row's numbers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file of the job could not be opened, created, locked, inspected or removed.
    #[error("cannot {action} {}", path.display())]
    File {
        /// What was being done (`read`, `create the journal`, …).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The output or the journal is a directory.
    #[error("the {role} {} is a directory", path.display())]
    Directory {
        /// Which file.
        role: Role,
        /// Its path.
        path: PathBuf,
    },
    /// Two of the job's files are one file.
    #[error("the {file} must not be the {other} file")]
    SameFile {
        /// The file given second.
        file: Role,
        /// The file it is.
        other: Role,
    },
    /// A file the job writes beside the output or the journal (`.partial`, `-wal`, `-shm`) is
    /// the input or the journal.
    #[error("{} is a file batch writes, and it is the input or the journal", path.display())]
    Overlap {
        /// The file.
        path: PathBuf,
    },
    /// The input is UTF-16 text.
    #[error("{} is UTF-16 text, which is not supported; nothing was sent", path.display())]
    Utf16 {
        /// The input.
        path: PathBuf,
    },
    /// The CSV header could not be read.
    #[error("cannot read the CSV header of {}", path.display())]
    Header {
        /// The input.
        path: PathBuf,
        /// The parser's or the reader's error.
        #[source]
        source: BoxError,
    },
    /// The CSV header names no `idcard` or no `mobile` column.
    #[error("{} has no {} column in its header", path.display(), missing.join(" or "))]
    MissingColumns {
        /// The input.
        path: PathBuf,
        /// The columns not found.
        missing: Vec<&'static str>,
    },
    /// The input is not an .xlsx workbook that can be read.
    #[error("cannot read {} as an .xlsx workbook", path.display())]
    Workbook {
        /// The input.
        path: PathBuf,
        /// The reader's error.
        #[source]
        source: BoxError,
    },
    /// The workbook has no sheet of the name asked for (or no sheet at all).
    #[error(
        "{} has no sheet {}; its sheets: {}",
        path.display(),
        name.as_deref().map_or_else(|| "to read".to_owned(), |n| format!("named `{n}`")),
        if available.is_empty() { "none".to_owned() } else { available.join(", ") }
    )]
    NoSheet {
        /// The input.
        path: PathBuf,
        /// The sheet asked for (`None`: the first one).
        name: Option<String>,
        /// The sheets it has, in order.
        available: Vec<String>,
    },
    /// A sheet was named for an input that is not an .xlsx workbook.
    #[error("a sheet was named, but {} is not an .xlsx workbook", path.display())]
    NotWorkbook {
        /// The input.
        path: PathBuf,
    },
    /// An .xlsx output was asked for a JSON Lines input (its rows have no common columns).
    #[error(
        "an .xlsx output needs a CSV or .xlsx input; {} is JSON Lines",
        path.display()
    )]
    XlsxFromJsonl {
        /// The input.
        path: PathBuf,
    },
    /// The input has a column (or a JSON Lines object a key) named like one the job adds.
    #[error(
        "the input has a {place} named `{name}`, which batch adds to every row; nothing was sent"
    )]
    NameClash {
        /// The name as the input spells it.
        name: String,
        /// `column`, or `key on line N`.
        place: String,
    },
    /// Another run holds the journal's lock.
    #[error("the journal {} is in use by another batch run ({holder})", path.display())]
    InUse {
        /// The journal.
        path: PathBuf,
        /// Who holds it (pid, host, start time), as far as known.
        holder: String,
    },
    /// A file the job would write is not safe to write: a symbolic link, another user's, one
    /// with other names (hard links), or open to other users.
    #[error("{} {reason}; nothing was sent", path.display())]
    Unsafe {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The journal's path was made to point elsewhere while it was being opened.
    #[error("the journal {} was replaced while it was being opened; nothing was sent", path.display())]
    Replaced {
        /// The journal.
        path: PathBuf,
    },
    /// The journal records a sent row that the input no longer has.
    #[error(
        "the journal {} was made for another input: row {row} differs from the row it sent",
        journal.display()
    )]
    OtherInput {
        /// The journal.
        journal: PathBuf,
        /// The row that differs (numbered from 1, the CSV header not counted).
        row: u64,
    },
    /// A leftover output kept coming back after it was removed.
    #[error("{} keeps reappearing: another program is creating it", path.display())]
    Reappearing {
        /// The file.
        path: PathBuf,
    },
    /// A leftover output belongs to another user: neither written nor removed.
    #[error(
        "{} was created by another user (uid {uid}); it is neither written nor removed, and nothing was sent",
        path.display()
    )]
    Foreign {
        /// The file.
        path: PathBuf,
        /// Its owner.
        uid: u32,
    },
    /// Another run is writing the same output.
    #[error("{} is being written by another batch run", path.display())]
    Busy {
        /// The file.
        path: PathBuf,
    },
    /// No journal at the path given to [`read_journal`](crate::read_journal).
    #[error("no journal at {}", path.display())]
    NoJournal {
        /// The path.
        path: PathBuf,
    },
    /// Reading the input failed part-way.
    #[error("cannot read the input")]
    Read(#[source] BoxError),
    /// Writing the output failed. Every row answered so far is in the journal: a rerun writes
    /// the output without sending them again.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file being written (the output's `.partial`, or the output).
        path: PathBuf,
        /// The error.
        #[source]
        source: BoxError,
    },
    /// The output could not be locked against another run.
    #[error("cannot lock {}", path.display())]
    Lock {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: BoxError,
    },
    /// SQLite failed on the journal, or the journal's data is not what this crate writes.
    #[error("journal {}", path.display())]
    Journal {
        /// The journal.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: BoxError,
    },
    /// The journal stopped taking writes (its thread ended: disk full, not writable…).
    #[error("the journal {} stopped (disk full or not writable?)", path.display())]
    JournalStopped {
        /// The journal.
        path: PathBuf,
    },
    /// The operating system refused a resource the job needs (its random salt, a thread).
    #[error("{what}")]
    System {
        /// What could not be done.
        what: &'static str,
        /// The error.
        #[source]
        source: BoxError,
    },
    /// A row's check failed in a way the job cannot go on from (the client's configuration,
    /// or its pre-send hook, which records the row in the journal, failed).
    #[error(transparent)]
    Check(juhe_2fa::Error),
}

impl Error {
    /// True for a problem with the job's files or settings, found before the rows it
    /// concerns were sent: fix it and run the job again. False for a failure of the job while
    /// it ran (the input, the output, the journal, the client).
    pub fn is_setup(&self) -> bool {
        matches!(
            self,
            Error::File { .. }
                | Error::Directory { .. }
                | Error::SameFile { .. }
                | Error::Overlap { .. }
                | Error::Utf16 { .. }
                | Error::Header { .. }
                | Error::MissingColumns { .. }
                | Error::Workbook { .. }
                | Error::NoSheet { .. }
                | Error::NotWorkbook { .. }
                | Error::XlsxFromJsonl { .. }
                | Error::NameClash { .. }
                | Error::InUse { .. }
                | Error::Unsafe { .. }
                | Error::Replaced { .. }
                | Error::OtherInput { .. }
                | Error::Reappearing { .. }
                | Error::Foreign { .. }
                | Error::Busy { .. }
                | Error::NoJournal { .. }
        )
    }

    pub(crate) fn file(action: &'static str, path: &std::path::Path, e: std::io::Error) -> Error {
        Error::File {
            action,
            path: path.to_owned(),
            source: e,
        }
    }

    pub(crate) fn read(e: impl Into<BoxError>) -> Error {
        Error::Read(e.into())
    }

    pub(crate) fn write(path: &std::path::Path, e: impl Into<BoxError>) -> Error {
        Error::Write {
            path: path.to_owned(),
            source: e.into(),
        }
    }

    pub(crate) fn journal(path: &std::path::Path, e: impl Into<BoxError>) -> Error {
        Error::Journal {
            path: path.to_owned(),
            source: e.into(),
        }
    }
}

/// An error and its sources on one line, `outer: inner: innermost` (a source whose text the
/// line already ends with is not repeated): how a failed row's `reason` is written.
pub fn error_chain(error: &dyn std::error::Error) -> String {
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
