//! The crate's one error type.

/// Why a ledger operation failed. Messages name what failed, never a connection URL (it may
/// hold a password), an ID or mobile number, or the API key; the source chain says why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The SQLite ledger file could not be created or opened.
    #[error("cannot open the SQLite ledger file")]
    Open(#[source] std::io::Error),

    /// The ledger path is a symlink (refused: the file is created or opened only in place).
    #[error("the SQLite ledger path is a symlink or not a file (refused)")]
    NotAFile,

    /// A SQLite statement failed.
    #[error("the SQLite ledger failed")]
    Sqlite(#[from] rusqlite::Error),

    /// The PostgreSQL URL could not be read (the URL itself is not repeated here).
    #[cfg(feature = "postgres")]
    #[error("the PostgreSQL ledger URL is not valid")]
    Url(#[source] postgres::Error),

    /// The PostgreSQL server could not be reached or refused the connection.
    #[cfg(feature = "postgres")]
    #[error("cannot connect to the PostgreSQL ledger")]
    Connect(#[source] postgres::Error),

    /// A PostgreSQL statement failed.
    #[cfg(feature = "postgres")]
    #[error("the PostgreSQL ledger failed")]
    Postgres(#[source] postgres::Error),

    /// Every pooled PostgreSQL connection stayed busy for the pool's wait limit.
    #[cfg(feature = "postgres")]
    #[error("no PostgreSQL ledger connection became free in time")]
    PoolTimeout,

    /// A `postgres://` ledger in a build without the `postgres` feature.
    #[error("this build has no PostgreSQL support (the juhe-ledger feature `postgres`)")]
    NoPostgres,

    /// The ledger was made by a newer version of this crate.
    #[error("the ledger's schema is newer than this program understands; upgrade juhe-2fa")]
    NewerSchema,

    /// The ledger's metadata is damaged (its pair secret is missing or malformed).
    #[error("the ledger's metadata is damaged: {0}")]
    Damaged(&'static str),

    /// A number given to [`crate::AuditLedger::find`] is not valid.
    #[error("not a valid number")]
    InvalidInput(#[source] juhe_2fa::ValidationError),

    /// A date is not `YYYY-MM-DD`.
    #[error("not a date of the form YYYY-MM-DD")]
    InvalidDate,

    /// No randomness for the writer id or the pair secret.
    #[error("no randomness from the operating system")]
    Random(#[source] getrandom::Error),

    /// The ledger's writer thread has stopped.
    #[error("the ledger is closed")]
    Closed,

    /// Writing an export failed.
    #[error("cannot write the export")]
    Write(#[source] std::io::Error),
}

/// A result with [`LedgerError`].
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;
