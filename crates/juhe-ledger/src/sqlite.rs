//! The SQLite ledger: one file, WAL, one connection behind a mutex.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::record::Record;
use crate::store::{
    Head, Query, RECORD_SELECT, SCHEMA_VERSION, STATS, StatRow, Store, Value, columns, where_clause,
};
use crate::{LedgerError, Result};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS juhe_ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS juhe_ledger_checks (
    id INTEGER PRIMARY KEY,
    writer TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    caller TEXT,
    purpose TEXT,
    mode TEXT NOT NULL,
    pair_digest TEXT NOT NULL,
    idcard_masked TEXT NOT NULL,
    mobile_masked TEXT NOT NULL,
    outcome TEXT NOT NULL,
    res INTEGER,
    error_code INTEGER,
    error_class TEXT,
    billed TEXT NOT NULL,
    order_id TEXT,
    attempts INTEGER NOT NULL,
    from_cache INTEGER NOT NULL,
    latency_ms INTEGER NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (writer, seq)
);
CREATE INDEX IF NOT EXISTS juhe_ledger_checks_at ON juhe_ledger_checks (at_ms);
CREATE INDEX IF NOT EXISTS juhe_ledger_checks_pair ON juhe_ledger_checks (pair_digest);
CREATE TABLE IF NOT EXISTS juhe_ledger_writers (
    writer TEXT PRIMARY KEY,
    first_seq INTEGER NOT NULL DEFAULT 1,
    first_prev TEXT NOT NULL DEFAULT '0000000000000000000000000000000000000000000000000000000000000000',
    last_seq INTEGER NOT NULL,
    last_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS juhe_ledger_rejections (
    day INTEGER NOT NULL,
    caller TEXT NOT NULL,
    mode TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, caller, mode)
);
";

const APPEND: &str = concat!(
    "INSERT INTO juhe_ledger_checks (",
    columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
     ?19, ?20)"
);
const MOVE_HEAD: &str = "INSERT INTO juhe_ledger_writers (writer, last_seq, last_hash) \
     VALUES (?1, ?2, ?3) ON CONFLICT (writer) DO UPDATE SET last_seq = excluded.last_seq, \
     last_hash = excluded.last_hash";

pub(crate) struct Sqlite {
    conn: Mutex<Connection>,
}

/// Creates the file 0600 if missing (`create_new`: never through a symlink), refuses a
/// symlink or a non-file, and opens it.
fn create_or_check(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() || !meta.is_file() => Err(LedgerError::NotAFile),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(path) {
                Ok(_) => Ok(()),
                // Another process made it first: check what it made.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => create_or_check(path),
                Err(e) => Err(LedgerError::Open(e)),
            }
        }
        Err(e) => Err(LedgerError::Open(e)),
    }
}

impl Sqlite {
    pub(crate) fn open(path: &Path) -> Result<Sqlite> {
        create_or_check(path)?;
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        // WAL: readers never block the writer. NORMAL: a commit is durable once the WAL is
        // synced at checkpoints; a power cut may lose the last commits, a crash of the process
        // loses nothing.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let sqlite = Sqlite {
            conn: Mutex::new(conn),
        };
        sqlite.migrate()?;
        Ok(sqlite)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn migrate(&self) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(SCHEMA)?;
        let version: Option<String> = tx
            .query_row(
                "SELECT value FROM juhe_ledger_meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        match version.map(|v| v.parse::<i64>()) {
            None => {
                let mut secret = zeroize::Zeroizing::new([0u8; 32]);
                getrandom::fill(&mut secret[..]).map_err(LedgerError::Random)?;
                tx.execute(
                    "INSERT INTO juhe_ledger_meta (key, value) VALUES ('schema_version', ?1), \
                     ('pair_secret', ?2)",
                    params![SCHEMA_VERSION.to_string(), hex::encode(&secret[..])],
                )?;
            }
            Some(Ok(v)) if v <= SCHEMA_VERSION => {}
            Some(Ok(_)) => return Err(LedgerError::NewerSchema),
            Some(Err(_)) => return Err(LedgerError::Damaged("schema_version is not a number")),
        }
        tx.commit()?;
        Ok(())
    }
}

fn params_of(values: &[Value]) -> Vec<Box<dyn rusqlite::ToSql>> {
    values
        .iter()
        .map(|v| -> Box<dyn rusqlite::ToSql> {
            match v {
                Value::Int(i) => Box::new(*i),
                Value::Text(t) => Box::new(t.clone()),
            }
        })
        .collect()
}

fn record_of(row: &Row<'_>) -> rusqlite::Result<Record> {
    let at_ms: i64 = row.get(2)?;
    Ok(Record {
        time: crate::day::rfc3339(at_ms),
        writer: row.get(0)?,
        seq: row.get(1)?,
        at_ms,
        caller: row.get(3)?,
        purpose: row.get(4)?,
        mode: row.get(5)?,
        pair_digest: row.get(6)?,
        idcard: row.get(7)?,
        mobile: row.get(8)?,
        outcome: row.get(9)?,
        res: row.get(10)?,
        error_code: row.get(11)?,
        error_class: row.get(12)?,
        billed: row.get(13)?,
        order_id: row.get(14)?,
        attempts: row.get(15)?,
        from_cache: row.get::<_, i64>(16)? != 0,
        latency_ms: row.get(17)?,
        prev_hash: row.get(18)?,
        hash: row.get(19)?,
        id: row.get(20)?,
    })
}

impl Store for Sqlite {
    fn secret(&self) -> Result<Vec<u8>> {
        let hex_secret: String = self.conn().query_row(
            "SELECT value FROM juhe_ledger_meta WHERE key = 'pair_secret'",
            [],
            |r| r.get(0),
        )?;
        hex::decode(hex_secret).map_err(|_| LedgerError::Damaged("the pair secret is not hex"))
    }

    fn ready(&self) -> Result<()> {
        // One file, opened: writable unless the disk fails, which `append` reports.
        Ok(())
    }

    fn append(&self, records: &[Record]) -> Result<()> {
        let Some(last) = records.last() else {
            return Ok(());
        };
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(APPEND)?;
            for r in records {
                insert.execute(params![
                    r.writer,
                    r.seq,
                    r.at_ms,
                    r.caller,
                    r.purpose,
                    r.mode,
                    r.pair_digest,
                    r.idcard,
                    r.mobile,
                    r.outcome,
                    r.res,
                    r.error_code,
                    r.error_class,
                    r.billed,
                    r.order_id,
                    r.attempts,
                    i64::from(r.from_cache),
                    r.latency_ms,
                    r.prev_hash,
                    r.hash,
                ])?;
            }
        }
        tx.prepare_cached(MOVE_HEAD)?
            .execute(params![last.writer, last.seq, last.hash])?;
        tx.commit()?;
        Ok(())
    }

    fn count_rejection(&self, day: i64, caller: &str, mode: &str) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT INTO juhe_ledger_rejections (day, caller, mode, count) VALUES (?1, ?2, ?3, 1) \
                 ON CONFLICT (day, caller, mode) DO UPDATE SET count = count + 1",
            )?
            .execute(params![day, caller, mode])?;
        Ok(())
    }

    fn records(&self, query: &Query) -> Result<Vec<Record>> {
        let (clause, values) = where_clause(query);
        let sql = format!("{RECORD_SELECT}{} ORDER BY id", clause.replace('$', "?"));
        let conn = self.conn();
        let mut statement = conn.prepare(&sql)?;
        let params = params_of(&values);
        let rows = statement.query_map(rusqlite::params_from_iter(params.iter()), record_of)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn heads(&self) -> Result<Vec<Head>> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT writer, first_seq, first_prev, last_seq, last_hash FROM juhe_ledger_writers \
             ORDER BY writer",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(Head {
                writer: r.get(0)?,
                first_seq: r.get(1)?,
                first_prev: r.get(2)?,
                last_seq: r.get(3)?,
                last_hash: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn writers(&self) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut statement =
            conn.prepare("SELECT DISTINCT writer FROM juhe_ledger_checks ORDER BY writer")?;
        let rows = statement.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn stats(&self) -> Result<Vec<StatRow>> {
        let conn = self.conn();
        let mut statement = conn.prepare(STATS)?;
        let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn rejections(&self) -> Result<Vec<(i64, String, i64)>> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT day, caller, SUM(count) FROM juhe_ledger_rejections GROUP BY day, caller \
             ORDER BY day, caller",
        )?;
        let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn purge(&self, cutoff_ms: i64) -> Result<u64> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let heads: Vec<(String, i64, String)> = {
            let mut statement =
                tx.prepare("SELECT writer, last_seq, last_hash FROM juhe_ledger_writers")?;
            let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut deleted = 0u64;
        for (writer, last_seq, last_hash) in heads {
            // The chain's first record not older than the cutoff: everything before it goes.
            let keep: Option<(i64, String)> = tx
                .query_row(
                    "SELECT seq, prev_hash FROM juhe_ledger_checks WHERE writer = ?1 AND \
                     seq = (SELECT MIN(seq) FROM juhe_ledger_checks WHERE writer = ?1 AND at_ms >= ?2)",
                    params![writer, cutoff_ms],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let (first_seq, first_prev) = keep.unwrap_or((last_seq + 1, last_hash));
            let n = tx.execute(
                "DELETE FROM juhe_ledger_checks WHERE writer = ?1 AND seq < ?2",
                params![writer, first_seq],
            )?;
            if n > 0 {
                tx.execute(
                    "UPDATE juhe_ledger_writers SET first_seq = ?2, first_prev = ?3 WHERE writer = ?1",
                    params![writer, first_seq, first_prev],
                )?;
            }
            deleted += n as u64;
        }
        tx.execute(
            "DELETE FROM juhe_ledger_rejections WHERE day < ?1",
            params![crate::Day::of_millis(cutoff_ms).number()],
        )?;
        tx.commit()?;
        Ok(deleted)
    }
}
