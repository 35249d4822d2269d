//! The batch engine of juhe-2fa: a CSV, JSON Lines or Excel (.xlsx) file of ID card + mobile
//! pairs checked row by row through a [`juhe_2fa::Client`], results written in input order
//! beside the input's own bytes (or cells), resumable after any crash.
//!
//! - Reading rows: [`RowReader`] (CSV with a header naming `idcard` and `mobile`, or JSON
//!   Lines; UTF-8 or GBK, see [`Encoding`]); each row keeps its bytes, so the output repeats
//!   them exactly. An .xlsx sheet ([`Job::sheet`]) has the same header; its ID and mobile
//!   must be text cells (a number cell has lost digits in Excel: the row is rejected). An
//!   output named `.xlsx` is written as a workbook of text cells.
//! - The journal (SQLite, locked against a second run, group-committed): `sent` is committed
//!   just before each request leaves (the client's pre-send hook), the outcome after, so a
//!   rerun never sends a finished row again, and resends a maybe-billed one only when asked
//!   ([`Job::retry_ambiguous`]). [`read_journal`] reads one back.
//! - In-job de-duplication: a row whose pair ([`juhe_2fa::PairIdentity`]) came earlier gets
//!   that row's result instead of a second bill.
//! - Stop and back-off: a code about the account stops the job with its rows pending; rate
//!   limits back off, then stop it; in AES/RSA mode ([`Job::key_material`]) three
//!   232901/232902 answers in a row mean wrong key material and stop it too; a [`StopHandle`]
//!   stops it from outside. Once stopped, nothing more is sent.
//! - Out: one [`Event`] per row in input order, and a [`Summary`] with the counts and the
//!   billable calls. Every failure of a check has one [`RowFate`] ([`row_fate`]).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use juhe_batch::{Job, StopHandle};
//!
//! let stop = StopHandle::new();
//! // The handle is the client's timer: its waits end early once the job stops.
//! let client = juhe_2fa::Client::builder()
//!     .api_key(std::env::var("JUHE_KEY")?)
//!     .timer(stop.clone())
//!     .build()?;
//! let job = Job::new("customers.csv", "results.csv")
//!     .stop_handle(stop)
//!     .open(client)?;
//! let summary = job.run(|_event| {}).await?;
//! println!("{} rows, {} billable calls", summary.rows, summary.billable);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod encoding;
mod error;
mod fate;
mod input;
mod job;
mod journal;
mod lock;
mod messages;
mod output;
mod row;
mod stop;
mod tally;

pub use encoding::{Detected, Encoding, sniff_input};
pub use error::{Error, Role, error_chain};
pub use fate::{RowFate, row_fate};
pub use input::{Format, Header, Passthrough, Row, RowReader, count_rows};
pub use job::{Event, Job, OpenJob};
pub use journal::{Entry, RowResult, State, Status, read_journal};
pub use messages::{Lang, Malformed, error_zh};
pub use stop::StopHandle;
pub use tally::{Counts, Origin, Summary};
