//! What a backend does; the SQL both backends share.

use crate::Result;
use crate::record::Record;

/// The schema version this crate writes (`juhe_ledger_meta.schema_version`).
pub(crate) const SCHEMA_VERSION: i64 = 1;

/// Where a writer's chain starts (after a purge) and ends.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub writer: String,
    pub first_seq: i64,
    pub first_prev: String,
    pub last_seq: i64,
    pub last_hash: String,
}

/// Which records to read.
#[derive(Debug, Default, Clone)]
pub(crate) struct Query {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub caller: Option<String>,
    pub digest: Option<String>,
    pub writer: Option<String>,
}

/// One count of [`Store::stats`]: (China day number, caller, billed, checks).
pub(crate) type StatRow = (i64, Option<String>, String, i64);

/// A ledger backend. `append` is called by the ledger's one writer thread.
pub(crate) trait Store: Send + Sync {
    /// The pair secret, made (and the schema created or migrated) on first use.
    fn secret(&self) -> Result<Vec<u8>>;
    /// Can a record be written now?
    fn ready(&self) -> Result<()>;
    /// Inserts chained records (one chain, in order) and moves the chain's head, in one
    /// transaction.
    fn append(&self, records: &[Record]) -> Result<()>;
    /// Counts a local rejection.
    fn count_rejection(&self, day: i64, caller: &str, mode: &str) -> Result<()>;
    /// Records in insertion order.
    fn records(&self, query: &Query) -> Result<Vec<Record>>;
    /// Every writer's head.
    fn heads(&self) -> Result<Vec<Head>>;
    /// The writers that have records.
    fn writers(&self) -> Result<Vec<String>>;
    /// Checks per China day, caller and billed.
    fn stats(&self) -> Result<Vec<StatRow>>;
    /// Local rejections per China day and caller (`""`: none given).
    fn rejections(&self) -> Result<Vec<(i64, String, i64)>>;
    /// Deletes each chain's records older than `cutoff_ms` (a prefix: see `purge`) and older
    /// rejection counts; returns the records deleted.
    fn purge(&self, cutoff_ms: i64) -> Result<u64>;
}

/// The columns of a record, in the order of the `INSERT` parameters and of [`RECORD_SELECT`]
/// (a macro, for `concat!`).
macro_rules! columns {
    () => {
        "writer, seq, at_ms, caller, purpose, mode, pair_digest, idcard_masked, mobile_masked, \
         outcome, res, error_code, error_class, billed, order_id, attempts, from_cache, \
         latency_ms, prev_hash, hash"
    };
}
pub(crate) use columns;

/// Selects the columns of [`columns`] and the row id, last.
pub(crate) const RECORD_SELECT: &str =
    concat!("SELECT ", columns!(), ", id FROM juhe_ledger_checks");

/// `WHERE …` of a query with `$n` placeholders, and the values in order.
pub(crate) fn where_clause(query: &Query) -> (String, Vec<Value>) {
    let mut terms = Vec::new();
    let mut values = Vec::new();
    let mut add = |term: &str, value: Value| {
        values.push(value);
        terms.push(format!("{term} ${}", values.len()));
    };
    if let Some(v) = query.since_ms {
        add("at_ms >=", Value::Int(v));
    }
    if let Some(v) = query.until_ms {
        add("at_ms <", Value::Int(v));
    }
    if let Some(v) = &query.caller {
        add("caller =", Value::Text(v.clone()));
    }
    if let Some(v) = &query.digest {
        add("pair_digest =", Value::Text(v.clone()));
    }
    if let Some(v) = &query.writer {
        add("writer =", Value::Text(v.clone()));
    }
    let clause = if terms.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", terms.join(" AND "))
    };
    (clause, values)
}

/// A query parameter.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Int(i64),
    Text(String),
}

/// The statistics query (days in China time).
pub(crate) const STATS: &str = "SELECT (at_ms + 28800000) / 86400000 AS day, caller, billed, \
     COUNT(*) FROM juhe_ledger_checks GROUP BY day, caller, billed ORDER BY day, caller, billed";
