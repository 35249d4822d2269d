//! The audit ledger of `juhe-2fa`: one tamper-evident record per check, in a SQLite file or a
//! PostgreSQL table, with no ID or mobile number in clear, no API key and no key material.
//!
//! [`AuditLedger`] implements [`juhe_2fa::Ledger`]: give it to a client builder and every check
//! of that client is admitted before its first request (a ledger that cannot record refuses
//! the check) and recorded when it ends.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use juhe_ledger::AuditLedger;
//!
//! let ledger = AuditLedger::open("checks.ledger")?; // or "postgres://user@db/ledger"
//! let client = juhe_2fa::BlockingClient::builder()
//!     .api_key("key")
//!     .ledger(ledger.clone())
//!     .caller("signup-service")
//!     .purpose("account opening (KYC)")
//!     .build_blocking()?;
//! # let _ = client;
//! assert!(ledger.verify()?.is_clean());
//! # Ok(())
//! # }
//! ```
//!
//! **What a record holds**: the time, caller, purpose, endpoint, a *pair digest* (HMAC-SHA256
//! of the normalised pair under the ledger's own secret, made at random when the ledger is
//! created and kept in its metadata table, so [`AuditLedger::find`] recognises a person across
//! jobs without any number stored), the masked numbers, the outcome, `res`, error code and
//! class, billed (`yes`/`no`/`maybe`), order id, attempts and latency.
//!
//! **Tamper evidence**: every opened handle writes its own chain (a random writer id, records
//! numbered from 1, stored by a background thread in group commits); each record stores the SHA-256 of the previous record's hash and its own
//! content, and the writer's last record is kept in a heads table. [`AuditLedger::verify`]
//! names every edited, deleted or reordered record by chain and number.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod day;
mod error;
mod export;
#[cfg(feature = "postgres")]
mod postgres;
mod record;
mod sqlite;
mod store;
mod verify;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, SystemTime};

use juhe_2fa::ledger::{Context, Entry};
use juhe_2fa::{BoxError, Endpoint, IdCard, Mobile, PairIdentity};

pub use day::Day;
pub use error::{LedgerError, Result};
pub use export::{Format, StatsRow};
pub use record::Record;
pub use verify::{Problem, ProblemKind, VerifyReport};

use record::{GENESIS, Secret, millis};
use store::{Query, Store};

/// The retention [`AuditLedger::purge`] is meant to be run with by default: 3 years (PIPL
/// Art. 56 asks that the processing record be kept at least 3 years).
pub const DEFAULT_RETENTION_DAYS: u32 = 3 * 365 + 1;

/// An audit ledger: a SQLite file or a PostgreSQL database. Cheap to clone (one handle, one
/// chain); `Debug` shows the backend and the chain, never the URL.
#[derive(Clone)]
pub struct AuditLedger {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    secret: Secret,
    backend: &'static str,
    writer: String,
    /// To the writer thread; `None` once closed (on drop).
    queue: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The last store failed: the next admission probes the database first.
    failed: Arc<AtomicBool>,
}

/// What the writer thread is asked.
enum Job {
    Record(Box<Record>),
    /// Answer once everything queued before is stored (or failed).
    Flush(mpsc::SyncSender<()>),
}

/// At most this many records per transaction.
const GROUP: usize = 512;
/// How long the writer lets records queue up before it commits a group.
const LINGER: Duration = Duration::from_millis(2);

/// The writer thread: chains and stores what is queued, each group in one transaction (group
/// commit: a record costs its caller a hash and a queue push, never a disk or network wait).
/// The chain advances only over stored records: a group that fails is stored again record by
/// record, and a record the database still refuses is lost (logged), leaving no gap.
fn write_loop(
    store: Arc<dyn Store>,
    writer: String,
    jobs: mpsc::Receiver<Job>,
    failed: Arc<AtomicBool>,
) {
    let mut last = (0i64, GENESIS.to_owned());
    let chain = |records: &mut [Record], last: &(i64, String)| {
        let (mut seq, mut prev) = last.clone();
        for r in records.iter_mut() {
            seq += 1;
            r.writer.clone_from(&writer);
            r.seq = seq;
            r.prev_hash = prev;
            r.hash = r.chain_hash(&r.prev_hash);
            prev = r.hash.clone();
        }
        (seq, prev)
    };
    while let Ok(first) = jobs.recv() {
        let mut group = Vec::new();
        let mut flushes = Vec::new();
        // Records trickle in from checks in flight: sleeping a moment lets them queue up
        // without waking this thread for each, and makes a group of many records one commit
        // (a commit costs far more than a record). A flush is not kept waiting.
        if !matches!(first, Job::Flush(_)) {
            std::thread::sleep(LINGER);
        }
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Record(r) => group.push(*r),
                Job::Flush(done) => flushes.push(done),
            }
            if group.len() < GROUP {
                next = jobs.try_recv().ok();
            }
        }
        let head = chain(&mut group, &last);
        match store.append(&group) {
            Ok(()) => {
                last = head;
                failed.store(false, Ordering::Relaxed);
            }
            Err(e) => {
                failed.store(true, Ordering::Relaxed);
                let mut lost = 0;
                for mut r in group {
                    let head = chain(std::slice::from_mut(&mut r), &last);
                    match store.append(std::slice::from_ref(&r)) {
                        Ok(()) => last = head,
                        Err(_) => lost += 1,
                    }
                }
                if lost > 0 {
                    tracing::error!(
                        error = %error_chain(&e),
                        lost,
                        "the audit ledger could not store the records of finished checks"
                    );
                }
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue ends the writer thread once it has stored everything queued.
        self.queue
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(thread) = self
            .thread
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for AuditLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLedger")
            .field("backend", &self.inner.backend)
            .field("writer", &self.inner.writer)
            .finish_non_exhaustive()
    }
}

impl AuditLedger {
    /// Opens (creating and migrating on first use) the ledger at `location`: a
    /// `postgres://…` or `postgresql://…` URL, else a SQLite file path (created 0600; a
    /// symlink is refused).
    pub fn open(location: &str) -> Result<AuditLedger> {
        if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            return AuditLedger::with_store(
                Arc::new(postgres::Postgres::open(location)?),
                "postgres",
            );
            #[cfg(not(feature = "postgres"))]
            return Err(LedgerError::NoPostgres);
        }
        AuditLedger::open_sqlite(Path::new(location))
    }

    /// Opens (creating on first use) a SQLite ledger file.
    pub fn open_sqlite(path: &Path) -> Result<AuditLedger> {
        AuditLedger::with_store(Arc::new(sqlite::Sqlite::open(path)?), "sqlite")
    }

    fn with_store(store: Arc<dyn Store>, backend: &'static str) -> Result<AuditLedger> {
        let secret = Secret(zeroize::Zeroizing::new(store.secret()?));
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).map_err(LedgerError::Random)?;
        let writer = hex::encode(id);
        let failed = Arc::new(AtomicBool::new(false));
        let (queue, jobs) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("juhe-ledger-writer".into())
            .spawn({
                let (store, writer, failed) = (store.clone(), writer.clone(), failed.clone());
                move || write_loop(store, writer, jobs, failed)
            })
            .map_err(LedgerError::Open)?;
        Ok(AuditLedger {
            inner: Arc::new(Inner {
                store,
                secret,
                backend,
                writer,
                queue: Mutex::new(Some(queue)),
                thread: Mutex::new(Some(thread)),
                failed,
            }),
        })
    }

    /// This handle's chain (a random id, new for every opened ledger).
    pub fn writer(&self) -> &str {
        &self.inner.writer
    }

    /// Queues the record of a finished check for this handle's chain: a background thread
    /// chains and stores it, with whatever else is queued, in one transaction. Reads
    /// ([`AuditLedger::records`], [`AuditLedger::verify`], …) and dropping the last handle
    /// wait until it is stored; [`AuditLedger::flush`] waits explicitly.
    pub fn append(&self, entry: &Entry) -> Result<()> {
        let record = Record::of(entry, &self.inner.secret);
        let queue = self.inner.queue.lock().unwrap_or_else(|p| p.into_inner());
        queue
            .as_ref()
            .and_then(|q| q.send(Job::Record(Box::new(record))).ok())
            .ok_or(LedgerError::Closed)
    }

    /// Waits until every record queued by this handle so far is stored (or its failure
    /// logged).
    pub fn flush(&self) {
        let (done, wait) = mpsc::sync_channel(1);
        let sent = {
            let queue = self.inner.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue
                .as_ref()
                .is_some_and(|q| q.send(Job::Flush(done)).is_ok())
        };
        if sent {
            let _ = wait.recv();
        }
    }

    /// The pair digest this ledger records for a pair (hex).
    pub fn digest(&self, idcard: &IdCard, mobile: &Mobile) -> String {
        self.inner.secret.digest(PairIdentity::new(idcard, mobile))
    }

    /// Every record of this pair, oldest first: was this person checked, when, by whom and
    /// why. The numbers are validated and digested; nothing is searched in clear.
    pub fn find(&self, idcard: &str, mobile: &str) -> Result<Vec<Record>> {
        let idcard = IdCard::parse(idcard).map_err(LedgerError::InvalidInput)?;
        let mobile = Mobile::parse(mobile).map_err(LedgerError::InvalidInput)?;
        let digest = self.digest(&idcard, &mobile);
        self.flush();
        let mut records = self.inner.store.records(&Query {
            digest: Some(digest),
            ..Query::default()
        })?;
        records.sort_by_key(|r| (r.at_ms, r.id));
        Ok(records)
    }

    /// Records from `since` to `until` (both days included, China time), of one caller or all,
    /// in insertion order.
    pub fn records(
        &self,
        since: Option<Day>,
        until: Option<Day>,
        caller: Option<&str>,
    ) -> Result<Vec<Record>> {
        self.flush();
        self.inner.store.records(&Query {
            since_ms: since.map(Day::start_ms),
            until_ms: until.map(Day::end_ms),
            caller: caller.map(str::to_owned),
            ..Query::default()
        })
    }

    /// Writes the records from `since` to `until` (both included, China time), of one caller
    /// or all, as CSV (with a header) or JSON lines; returns how many.
    pub fn export(
        &self,
        since: Option<Day>,
        until: Option<Day>,
        caller: Option<&str>,
        format: Format,
        out: impl std::io::Write,
    ) -> Result<u64> {
        export::write(&self.records(since, until, caller)?, format, out)
    }

    /// Checks and billed checks per China day and caller, with local rejections.
    pub fn stats(&self) -> Result<Vec<StatsRow>> {
        self.flush();
        export::stats(self.inner.store.stats()?, self.inner.store.rejections()?)
    }

    /// Checks every chain: names each edited, deleted or reordered record.
    pub fn verify(&self) -> Result<VerifyReport> {
        self.flush();
        verify::verify(self.inner.store.as_ref())
    }

    /// Deletes the records older than `days` days (and the rejection counts of days before
    /// then); returns how many records went. Each chain loses a prefix and remembers where it
    /// now starts, so [`AuditLedger::verify`] still checks what is left, link by link.
    pub fn purge(&self, older_than_days: u32) -> Result<u64> {
        let cutoff = SystemTime::now()
            .checked_sub(Duration::from_secs(u64::from(older_than_days) * 86_400))
            .unwrap_or(SystemTime::UNIX_EPOCH);
        self.purge_before(cutoff)
    }

    /// [`AuditLedger::purge`] with an explicit cut-off: each chain keeps its records from the
    /// first one at or after `cutoff` on.
    pub fn purge_before(&self, cutoff: SystemTime) -> Result<u64> {
        self.flush();
        self.inner.store.purge(millis(cutoff))
    }
}

impl AuditLedger {
    /// Billable checks (billed or maybe) every writer recorded since `since`, by `caller` or
    /// by all.
    fn billable(&self, since: SystemTime, caller: Option<&str>) -> Result<Option<u64>, BoxError> {
        self.flush();
        let records = self.inner.store.records(&Query {
            since_ms: Some(millis(since)),
            caller: caller.map(str::to_owned),
            ..Query::default()
        })?;
        let billable = records.iter().filter(|r| r.billed != "no").count();
        Ok(Some(billable as u64))
    }
}

impl juhe_2fa::Ledger for AuditLedger {
    fn admit(&self, _: &Context) -> Result<(), BoxError> {
        // After a failed store, the database must answer before another check is sent.
        if self.inner.failed.load(Ordering::Relaxed) {
            self.inner.store.heads()?;
            self.inner.failed.store(false, Ordering::Relaxed);
        }
        Ok(self.inner.store.ready()?)
    }

    fn record(&self, entry: &Entry) -> Result<(), BoxError> {
        Ok(self.append(entry)?)
    }

    /// Billable checks (billed or maybe) every writer recorded since `since`: where a spend
    /// budget's count starts when no Redis counts it. Read once per budget window per process.
    fn billable_since(&self, since: SystemTime) -> Result<Option<u64>, BoxError> {
        self.billable(since, None)
    }

    /// One caller's billable checks since `since`: where its own budget's count starts.
    fn billable_since_for(&self, caller: &str, since: SystemTime) -> Result<Option<u64>, BoxError> {
        self.billable(since, Some(caller))
    }

    fn rejected(&self, context: &Context, mode: Endpoint) -> Result<(), BoxError> {
        let day = Day::of_millis(millis(SystemTime::now())).number();
        let caller = context.caller.as_deref().unwrap_or("");
        Ok(self
            .inner
            .store
            .count_rejection(day, caller, mode.as_str())?)
    }
}
