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
//! numbered from 1); each record stores the SHA-256 of the previous record's hash and its own
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
use std::sync::{Arc, Mutex};
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
    store: Box<dyn Store>,
    secret: Secret,
    backend: &'static str,
    writer: String,
    /// The chain's last number and hash; held while a record is appended, so the chain's
    /// order is the table's.
    chain: Mutex<(i64, String)>,
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
                Box::new(postgres::Postgres::open(location)?),
                "postgres",
            );
            #[cfg(not(feature = "postgres"))]
            return Err(LedgerError::NoPostgres);
        }
        AuditLedger::open_sqlite(Path::new(location))
    }

    /// Opens (creating on first use) a SQLite ledger file.
    pub fn open_sqlite(path: &Path) -> Result<AuditLedger> {
        AuditLedger::with_store(Box::new(sqlite::Sqlite::open(path)?), "sqlite")
    }

    fn with_store(store: Box<dyn Store>, backend: &'static str) -> Result<AuditLedger> {
        let secret = Secret(zeroize::Zeroizing::new(store.secret()?));
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).map_err(LedgerError::Random)?;
        Ok(AuditLedger {
            inner: Arc::new(Inner {
                store,
                secret,
                backend,
                writer: hex::encode(id),
                chain: Mutex::new((0, GENESIS.to_owned())),
            }),
        })
    }

    /// This handle's chain (a random id, new for every opened ledger).
    pub fn writer(&self) -> &str {
        &self.inner.writer
    }

    /// Appends the record of a finished check to this handle's chain.
    pub fn append(&self, entry: &Entry) -> Result<()> {
        let mut record = Record::of(entry, &self.inner.secret);
        record.writer.clone_from(&self.inner.writer);
        let mut chain = self.inner.chain.lock().unwrap_or_else(|p| p.into_inner());
        record.seq = chain.0 + 1;
        record.prev_hash.clone_from(&chain.1);
        record.hash = record.chain_hash(&record.prev_hash);
        self.inner.store.append(&record)?;
        *chain = (record.seq, record.hash);
        Ok(())
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
        export::stats(self.inner.store.stats()?, self.inner.store.rejections()?)
    }

    /// Checks every chain: names each edited, deleted or reordered record.
    pub fn verify(&self) -> Result<VerifyReport> {
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
        self.inner.store.purge(millis(cutoff))
    }
}

impl juhe_2fa::Ledger for AuditLedger {
    fn admit(&self, _: &Context) -> Result<(), BoxError> {
        Ok(self.inner.store.ready()?)
    }

    fn record(&self, entry: &Entry) -> Result<(), BoxError> {
        Ok(self.append(entry)?)
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
