//! What the job does with a failed check: the one table behind row handling, derived from the
//! SDK's [`ErrorClass`].

use juhe_2fa::ErrorClass;

/// What the job does with a row whose check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RowFate {
    /// Final: refused locally (`rejected`).
    Rejected,
    /// Final: the API answered a code about this pair (`api_error`).
    ApiError,
    /// Not final, surely not billed: the next run sends it again (`failed`).
    Failed,
    /// Maybe billed: resent only when the job retries ambiguous rows (`unknown`).
    Unknown,
    /// The code is about the account or service: stop the job, leave the row pending.
    StopJob,
    /// A rate limit: back off and send the row again.
    SlowDown,
    /// The job itself cannot go on (configuration, the journal).
    Abort,
}

/// The table: every class of failure and its row fate.
pub fn row_fate(class: ErrorClass) -> RowFate {
    match class {
        ErrorClass::Rejected => RowFate::Rejected,
        ErrorClass::Api(code) if code.is_account_level() => RowFate::StopJob,
        ErrorClass::Api(code) if code.is_rate_limit() => RowFate::SlowDown,
        ErrorClass::Api(code) if code.is_retryable() => RowFate::Failed,
        ErrorClass::Api(_) => RowFate::ApiError,
        ErrorClass::Unbilled => RowFate::Failed,
        ErrorClass::Ambiguous => RowFate::Unknown,
        ErrorClass::Config | ErrorClass::Cancelled => RowFate::Abort,
        // A spent budget: nothing more can be sent until it resets; the rows stay pending.
        ErrorClass::Budget => RowFate::StopJob,
    }
}
