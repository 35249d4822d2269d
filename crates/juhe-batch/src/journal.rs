//! The SQLite journal: each row's state (`sent` → `done`, or `retry`) with its outcome and
//! order id, so a rerun after any crash finishes the job without sending a done row again.
//!
//! One thread owns the connection and commits whatever is queued in one transaction (group
//! commit); callers wait until their write is committed before they send.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use juhe_2fa::{ErrorCode, IdCard, Mobile, PairIdentity};

use crate::error::Error;
use crate::lock::JobLock;

/// Where a row stands in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Handed to the client: may have been billed. Not sent again unless the job retries
    /// ambiguous rows.
    Sent,
    /// Final outcome recorded.
    Done,
    /// Not final, surely not billed: sent again by the next run.
    Retry,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Sent => "sent",
            State::Done => "done",
            State::Retry => "retry",
        }
    }

    fn parse(s: &str) -> State {
        match s {
            "done" => State::Done,
            "retry" => State::Retry,
            _ => State::Sent,
        }
    }
}

/// The `status` column of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// The mobile is registered to the ID card (billed).
    Match,
    /// It is not (billed).
    Mismatch,
    /// Refused locally (invalid or unreadable row): nothing sent.
    Rejected,
    /// The API answered a code about this pair: final, not billed.
    ApiError,
    /// Not final, surely not billed: the next run sends it again.
    Failed,
    /// Not final, may have been billed: sent again only when the job retries ambiguous rows.
    Unknown,
}

impl Status {
    /// Every status, in the order summaries list them.
    pub const ALL: [Status; 6] = [
        Status::Match,
        Status::Mismatch,
        Status::Rejected,
        Status::ApiError,
        Status::Failed,
        Status::Unknown,
    ];

    /// The status as the output writes it (`match`, `api_error`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Match => "match",
            Status::Mismatch => "mismatch",
            Status::Rejected => "rejected",
            Status::ApiError => "api_error",
            Status::Failed => "failed",
            Status::Unknown => "unknown",
        }
    }

    fn parse(s: &str) -> Status {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .unwrap_or(Status::Unknown)
    }

    /// Final statuses need no further run.
    pub fn is_final(self) -> bool {
        !matches!(self, Status::Failed | Status::Unknown)
    }

    /// Answers the vendor charges for.
    pub fn is_billable(self) -> bool {
        matches!(self, Status::Match | Status::Mismatch)
    }
}

/// A row's result: the columns added to the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowResult {
    /// The outcome.
    pub status: Status,
    /// The vendor's `res` (1 match, 2 mismatch), for an answer.
    pub res: Option<u8>,
    /// The vendor's order id (the billing reference), for an answer.
    pub order_id: Option<String>,
    /// The vendor's error code, for an answered code.
    pub error_code: Option<ErrorCode>,
    /// Why, in words (for anything but a plain answer).
    pub reason: Option<String>,
}

impl RowResult {
    /// A result with no answer: `status` and why.
    pub fn status(status: Status, reason: impl Into<String>) -> RowResult {
        RowResult {
            status,
            res: None,
            order_id: None,
            error_code: None,
            reason: Some(reason.into()),
        }
    }
}

/// A journal row.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The keyed digest that recognises the row's pair in this journal (never the numbers).
    pub pair: i64,
    /// Where the row stands.
    pub state: State,
    /// Its result as recorded.
    pub outcome: RowResult,
}

enum Msg {
    Lookup {
        row: u64,
        reply: oneshot::Sender<Option<Entry>>,
    },
    Write {
        row: u64,
        pair: i64,
        state: State,
        outcome: RowResult,
        reply: oneshot::Sender<()>,
    },
    /// The first earlier row with the same pair digest.
    FindPair {
        pair: i64,
        before: u64,
        reply: oneshot::Sender<Option<(u64, Entry)>>,
    },
}

pub(crate) struct Journal {
    path: PathBuf,
    tx: Option<mpsc::Sender<Msg>>,
    thread: Option<JoinHandle<Result<(), rusqlite::Error>>>,
    digest: PairDigest,
    /// No row was recorded when the job started: nothing to look up from earlier runs.
    fresh: bool,
    _lock: JobLock,
}

/// How rows are recognised across runs without storing their numbers: a keyed digest with a
/// random per-job salt (so a digest tells nothing about a person without the journal's salt),
/// or the unsalted SHA-1 of journals made before salts.
enum PairDigest {
    Salted(Vec<u8>),
    Legacy,
}

impl PairDigest {
    /// The digest of a pair's bytes, given in parts (see [`PairIdentity::parts`]).
    fn of(&self, parts: [&[u8]; 3]) -> i64 {
        use hmac::{KeyInit, Mac};
        let bytes: Vec<u8> = match self {
            PairDigest::Salted(salt) => {
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(salt)
                    .expect("HMAC takes any key length");
                for part in parts {
                    mac.update(part);
                }
                mac.finalize().into_bytes().to_vec()
            }
            PairDigest::Legacy => {
                use sha1::Digest;
                let mut sha = sha1::Sha1::new();
                for part in parts {
                    sha.update(part);
                }
                sha.finalize().to_vec()
            }
        };
        i64::from_be_bytes(bytes[..8].try_into().expect("at least 8 bytes"))
    }
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS rows (
        row INTEGER PRIMARY KEY,
        pair INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('sent', 'done', 'retry')),
        status TEXT,
        res INTEGER,
        order_id TEXT,
        error_code INTEGER,
        reason TEXT,
        updated_ms INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS rows_pair ON rows (pair);
";

fn open_connection(path: &Path) -> Result<Connection, rusqlite::Error> {
    use rusqlite::OpenFlags;
    // The file exists (created or checked by the lock); SQLite opens it, and its `-wal` and
    // `-shm` files, without following a link.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_NOFOLLOW,
    )?;
    // WAL + NORMAL: a committed row survives a killed process (not necessarily a power cut).
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn entry_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    let state: String = row.get(1)?;
    let status: Option<String> = row.get(2)?;
    Ok(Entry {
        pair: row.get(0)?,
        state: State::parse(&state),
        outcome: RowResult {
            status: status.as_deref().map_or(Status::Unknown, Status::parse),
            res: row.get(3)?,
            order_id: row.get(4)?,
            error_code: row.get::<_, Option<i32>>(5)?.map(ErrorCode::from_code),
            reason: row.get(6)?,
        },
    })
}

/// A reply held back until the transaction that answers it has committed.
type Reply = Box<dyn FnOnce() + Send>;

/// Runs one message inside the open transaction; its reply waits for the commit.
fn execute(tx: &rusqlite::Transaction<'_>, msg: Msg) -> Result<Reply, rusqlite::Error> {
    Ok(match msg {
        Msg::Lookup { row, reply } => {
            let entry = tx
                .prepare_cached(
                    "SELECT pair, state, status, res, order_id, error_code, reason FROM rows WHERE row = ?1",
                )?
                .query_row(params![row as i64], entry_from)
                .optional()?;
            Box::new(move || {
                let _ = reply.send(entry);
            })
        }
        Msg::FindPair {
            pair,
            before,
            reply,
        } => {
            let found = tx
                .prepare_cached(
                    "SELECT pair, state, status, res, order_id, error_code, reason, row FROM rows
                     WHERE pair = ?1 AND row < ?2 ORDER BY row LIMIT 1",
                )?
                .query_row(params![pair, before as i64], |r| {
                    Ok((r.get::<_, i64>(7)? as u64, entry_from(r)?))
                })
                .optional()?;
            Box::new(move || {
                let _ = reply.send(found);
            })
        }
        Msg::Write {
            row,
            pair,
            state,
            outcome,
            reply,
        } => {
            tx.prepare_cached(
                "INSERT INTO rows (row, pair, state, status, res, order_id, error_code, reason, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT(row) DO UPDATE SET pair = ?2, state = ?3, status = ?4, res = ?5,
                     order_id = ?6, error_code = ?7, reason = ?8, updated_ms = ?9",
            )?
            .execute(params![
                row as i64,
                pair,
                state.as_str(),
                outcome.status.as_str(),
                outcome.res,
                outcome.order_id,
                outcome.error_code.map(ErrorCode::code),
                outcome.reason,
                now_ms()
            ])?;
            Box::new(move || {
                let _ = reply.send(());
            })
        }
    })
}

/// Group commit: whatever is queued runs in one transaction; replies go out after the commit,
/// so a caller told "written" can rely on it.
fn serve(mut conn: Connection, rx: mpsc::Receiver<Msg>) -> Result<(), rusqlite::Error> {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < 1024 {
            match rx.try_recv() {
                Ok(msg) => batch.push(msg),
                Err(_) => break,
            }
        }
        let tx = conn.transaction()?;
        let replies = batch
            .into_iter()
            .map(|msg| execute(&tx, msg))
            .collect::<Result<Vec<Reply>, _>>()?;
        tx.commit()?;
        for reply in replies {
            reply();
        }
    }
    Ok(())
}

/// The job's salt: kept in `meta`; a new journal gets a random one; a journal with rows but
/// no salt predates salts and keeps its digests.
fn pair_digest(conn: &Connection, path: &Path) -> Result<PairDigest, Error> {
    let failed = |e: rusqlite::Error| Error::journal(path, e);
    let salt: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'salt'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(failed)?;
    if let Some(salt) = salt {
        let salt = hex::decode(salt).map_err(|_| Error::journal(path, "a corrupt salt"))?;
        return Ok(PairDigest::Salted(salt));
    }
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM rows", [], |r| r.get(0))
        .map_err(failed)?;
    if rows > 0 {
        return Ok(PairDigest::Legacy);
    }
    let mut salt = vec![0u8; 32];
    getrandom::fill(&mut salt).map_err(|e| Error::System {
        what: "random salt",
        source: Box::new(e),
    })?;
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('salt', ?1)",
        params![hex::encode(&salt)],
    )
    .map_err(failed)?;
    Ok(PairDigest::Salted(salt))
}

impl Journal {
    /// Opens (or creates, 0600) the journal, holding its lock for as long as it is open.
    pub fn open(path: &Path, input: &Path) -> Result<Journal, Error> {
        let sql_error = |e| Error::journal(path, e);
        let lock = JobLock::acquire(path)?;
        let conn = open_connection(path).map_err(sql_error)?;
        if !lock.is_file_at(path) {
            return Err(Error::Replaced {
                path: path.to_owned(),
            });
        }
        // Names this run to a second one refused by the lock.
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('holder', ?1)",
            params![crate::lock::holder()],
        )
        .map_err(sql_error)?;
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('input', ?1)",
            params![input.to_string_lossy()],
        )
        .map_err(sql_error)?;
        let digest = pair_digest(&conn, path)?;
        let fresh = !conn
            .query_row("SELECT EXISTS (SELECT 1 FROM rows)", [], |r| {
                r.get::<_, bool>(0)
            })
            .map_err(sql_error)?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("juhe-journal".into())
            .spawn(move || serve(conn, rx))
            .map_err(|e| Error::System {
                what: "cannot start the journal thread",
                source: Box::new(e),
            })?;
        Ok(Journal {
            path: path.to_owned(),
            tx: Some(tx),
            thread: Some(thread),
            digest,
            fresh,
            _lock: lock,
        })
    }

    /// True when the journal held no row when it was opened (a new job, not a resumed one).
    pub fn fresh(&self) -> bool {
        self.fresh
    }

    /// The digest that recognises a pair in this journal: of its [`PairIdentity`], so every
    /// spelling of the same two numbers is one pair (and, for a pair written plainly, the
    /// same digest journals made before normalising recorded).
    pub fn pair_digest(&self, idcard: &IdCard, mobile: &Mobile) -> i64 {
        self.digest.of(PairIdentity::new(idcard, mobile).parts())
    }

    /// The digest of a row's text as written: for rows that fail validation (never sent, so
    /// never a pair to recognise), and for rows journalled before digests were normalised.
    pub fn raw_digest(&self, idcard: &str, mobile: &str) -> i64 {
        self.digest.of([
            idcard.as_bytes(),
            &[PairIdentity::SEPARATOR],
            mobile.as_bytes(),
        ])
    }

    fn send(&self, msg: Msg) -> Result<(), Error> {
        self.tx
            .as_ref()
            .and_then(|tx| tx.send(msg).ok())
            .ok_or_else(|| self.failed())
    }

    fn failed(&self) -> Error {
        Error::JournalStopped {
            path: self.path.clone(),
        }
    }

    /// What the journal holds about a row, if anything.
    pub async fn lookup(&self, row: u64) -> Result<Option<Entry>, Error> {
        let (reply, rx) = oneshot::channel();
        self.send(Msg::Lookup { row, reply })?;
        rx.await.map_err(|_| self.failed())
    }

    /// The first row before `before` with the same pair digest, if any.
    pub async fn find_pair(&self, pair: i64, before: u64) -> Result<Option<(u64, Entry)>, Error> {
        let (reply, rx) = oneshot::channel();
        self.send(Msg::FindPair {
            pair,
            before,
            reply,
        })?;
        rx.await.map_err(|_| self.failed())
    }

    /// Records a row's state and returns once it is committed.
    pub async fn write(
        &self,
        row: u64,
        pair: i64,
        state: State,
        outcome: RowResult,
    ) -> Result<(), Error> {
        let (reply, rx) = oneshot::channel();
        self.send(Msg::Write {
            row,
            pair,
            state,
            outcome,
            reply,
        })?;
        rx.await.map_err(|_| self.failed())
    }

    /// Stops the journal thread and reports any SQLite error it hit.
    pub fn close(mut self) -> Result<(), Error> {
        drop(self.tx.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => Err(Error::journal(&self.path, e)),
            Some(Err(_)) => Err(self.failed()),
            _ => Ok(()),
        }
    }
}

/// Every row of a journal, in order, read-only: the order ids and outcomes a job produced
/// (`juhe-2fa batch --report`). `each` gets the row number (from 1) and its entry.
pub fn read_journal(path: &Path, mut each: impl FnMut(u64, &Entry)) -> Result<(), Error> {
    if !path.is_file() {
        return Err(Error::NoJournal {
            path: path.to_owned(),
        });
    }
    let sql_error = |e| Error::journal(path, e);
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(sql_error)?;
    let mut stmt = conn
        .prepare("SELECT pair, state, status, res, order_id, error_code, reason, row FROM rows ORDER BY row")
        .map_err(sql_error)?;
    let mut rows = stmt.query([]).map_err(sql_error)?;
    while let Some(row) = rows.next().map_err(sql_error)? {
        let entry = entry_from(row).map_err(sql_error)?;
        let number: i64 = row.get(7).map_err(sql_error)?;
        each(number as u64, &entry);
    }
    Ok(())
}
