//! The PostgreSQL ledger: several processes on several machines append to one table, each on
//! its own chain, through a small pool of connections with the statements prepared once per
//! connection.

use std::str::FromStr;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use postgres::types::ToSql;
use postgres::{Client, Config, NoTls, Row, Statement};

use crate::record::Record;
use crate::store::{
    Head, Query, RECORD_SELECT, SCHEMA_VERSION, STATS, StatRow, Store, Value, columns, where_clause,
};
use crate::{LedgerError, Result};

/// Connections (and their threads) per opened ledger: records are appended one at a time per
/// chain, so a few serve the admissions and reads besides.
const POOL_SIZE: usize = 4;
/// How long a caller waits for its statement's result.
const WAIT: Duration = Duration::from_secs(30);
/// A database that answered this recently admits a check without a round trip.
const FRESH: Duration = Duration::from_secs(1);
/// Connect timeout when the URL sets none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS juhe_ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS juhe_ledger_checks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    writer TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    caller TEXT,
    purpose TEXT,
    mode TEXT NOT NULL,
    pair_digest TEXT NOT NULL,
    idcard_masked TEXT NOT NULL,
    mobile_masked TEXT NOT NULL,
    outcome TEXT NOT NULL,
    res BIGINT,
    error_code BIGINT,
    error_class TEXT,
    billed TEXT NOT NULL,
    order_id TEXT,
    attempts BIGINT NOT NULL,
    from_cache BIGINT NOT NULL,
    latency_ms BIGINT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (writer, seq)
);
CREATE INDEX IF NOT EXISTS juhe_ledger_checks_at ON juhe_ledger_checks (at_ms);
CREATE INDEX IF NOT EXISTS juhe_ledger_checks_pair ON juhe_ledger_checks (pair_digest);
CREATE TABLE IF NOT EXISTS juhe_ledger_writers (
    writer TEXT PRIMARY KEY,
    first_seq BIGINT NOT NULL DEFAULT 1,
    first_prev TEXT NOT NULL DEFAULT '0000000000000000000000000000000000000000000000000000000000000000',
    last_seq BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS juhe_ledger_rejections (
    day BIGINT NOT NULL,
    caller TEXT NOT NULL,
    mode TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (day, caller, mode)
);
";

/// One record.
const APPEND: &str = concat!(
    "INSERT INTO juhe_ledger_checks (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
     $19, $20)"
);

/// The chain's new head, once per group (in the group's transaction).
const MOVE_HEAD: &str = "INSERT INTO juhe_ledger_writers (writer, last_seq, last_hash) \
     VALUES ($1, $2, $3) ON CONFLICT (writer) DO UPDATE SET last_seq = EXCLUDED.last_seq, \
     last_hash = EXCLUDED.last_hash";

/// Serialises schema creation across processes (`pg_advisory_xact_lock`).
const MIGRATION_LOCK: i64 = 0x6a75_6865_6c65_6467; // "juheledg"

struct Conn {
    client: Client,
    /// [`APPEND`] and [`MOVE_HEAD`], prepared once per connection.
    append: Option<(Statement, Statement)>,
}

/// A worker thread's connection, made on first use and again after it broke.
struct Slot {
    config: Arc<Config>,
    conn: Option<Conn>,
    answered: Arc<Mutex<Option<Instant>>>,
}

impl Slot {
    fn conn(&mut self) -> Result<&mut Conn> {
        if self.conn.as_ref().is_some_and(|c| c.client.is_closed()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            let client = self.config.connect(NoTls).map_err(LedgerError::Connect)?;
            self.conn = Some(Conn {
                client,
                append: None,
            });
        }
        Ok(self.conn.as_mut().expect("just connected"))
    }

    /// A statement's result; a connection that broke (not an SQL error) is dropped.
    fn check<T>(&mut self, result: std::result::Result<T, postgres::Error>) -> Result<T> {
        match result {
            Ok(v) => {
                *self.answered.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                Ok(v)
            }
            Err(e) => {
                if e.as_db_error().is_none() {
                    self.conn = None;
                    *self.answered.lock().unwrap_or_else(|p| p.into_inner()) = None;
                }
                Err(LedgerError::Postgres(e))
            }
        }
    }
}

type Job = Box<dyn FnOnce(&mut Slot) + Send>;

/// A pool of [`POOL_SIZE`] threads, each with its own connection. The sync `postgres` client
/// runs a runtime of its own and must not be called from inside an async runtime (the async
/// client records from its tasks): on these threads it never is.
pub(crate) struct Postgres {
    jobs: Mutex<mpsc::Sender<Job>>,
    /// When a statement last succeeded on any connection (`None` after a broken one).
    answered: Arc<Mutex<Option<Instant>>>,
}

impl Postgres {
    pub(crate) fn open(url: &str) -> Result<Postgres> {
        let mut config = Config::from_str(url).map_err(LedgerError::Url)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("juhe-ledger");
        let config = Arc::new(config);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let answered = Arc::new(Mutex::new(None));
        for n in 0..POOL_SIZE {
            let (rx, config, answered) = (rx.clone(), config.clone(), answered.clone());
            std::thread::Builder::new()
                .name(format!("juhe-ledger-pg-{n}"))
                .spawn(move || {
                    let mut slot = Slot {
                        config,
                        conn: None,
                        answered,
                    };
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(&mut slot),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(LedgerError::Open)?;
        }
        let pg = Postgres {
            jobs: Mutex::new(tx),
            answered,
        };
        pg.migrate()?;
        Ok(pg)
    }

    /// Runs `f` on a pool thread and waits for its result.
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Slot) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |slot| {
            let _ = tx.send(f(slot));
        });
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .map_err(|_| LedgerError::PoolTimeout)?;
        rx.recv_timeout(WAIT)
            .map_err(|_| LedgerError::PoolTimeout)?
    }

    fn migrate(&self) -> Result<()> {
        self.run(|slot| {
            let conn = slot.conn()?;
            let result = (|| {
                let mut tx = conn.client.transaction()?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
                tx.batch_execute(SCHEMA)?;
                let version = tx
                    .query_opt(
                        "SELECT value FROM juhe_ledger_meta WHERE key = 'schema_version'",
                        &[],
                    )?
                    .map(|r| r.get::<_, String>(0));
                let outcome = match version.map(|v| v.parse::<i64>()) {
                    None => {
                        let mut secret = zeroize::Zeroizing::new([0u8; 32]);
                        if let Err(e) = getrandom::fill(&mut secret[..]) {
                            return Ok(Err(LedgerError::Random(e)));
                        }
                        tx.execute(
                            "INSERT INTO juhe_ledger_meta (key, value) VALUES \
                             ('schema_version', $1), ('pair_secret', $2)",
                            &[&SCHEMA_VERSION.to_string(), &hex::encode(&secret[..])],
                        )?;
                        Ok(())
                    }
                    Some(Ok(v)) if v <= SCHEMA_VERSION => Ok(()),
                    Some(Ok(_)) => Err(LedgerError::NewerSchema),
                    Some(Err(_)) => Err(LedgerError::Damaged("schema_version is not a number")),
                };
                if outcome.is_ok() {
                    tx.commit()?;
                }
                Ok(outcome)
            })();
            slot.check(result)?
        })
    }

    fn query<P>(&self, sql: impl Into<String>, params: P) -> Result<Vec<Row>>
    where
        P: Fn() -> Vec<Box<dyn ToSql + Sync + Send>> + Send + 'static,
    {
        let sql = sql.into();
        self.run(move |slot| {
            let conn = slot.conn()?;
            let owned = params();
            let refs: Vec<&(dyn ToSql + Sync)> = owned
                .iter()
                .map(|b| b.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let result = conn.client.query(&sql, &refs);
            slot.check(result)
        })
    }
}

fn none() -> Vec<Box<dyn ToSql + Sync + Send>> {
    Vec::new()
}

fn record_of(row: &Row) -> Record {
    let at_ms: i64 = row.get(2);
    Record {
        time: crate::day::rfc3339(at_ms),
        writer: row.get(0),
        seq: row.get(1),
        at_ms,
        caller: row.get(3),
        purpose: row.get(4),
        mode: row.get(5),
        pair_digest: row.get(6),
        idcard: row.get(7),
        mobile: row.get(8),
        outcome: row.get(9),
        res: row.get(10),
        error_code: row.get(11),
        error_class: row.get(12),
        billed: row.get(13),
        order_id: row.get(14),
        attempts: row.get(15),
        from_cache: row.get::<_, i64>(16) != 0,
        latency_ms: row.get(17),
        prev_hash: row.get(18),
        hash: row.get(19),
        id: row.get(20),
    }
}

impl Store for Postgres {
    fn secret(&self) -> Result<Vec<u8>> {
        let rows = self.query(
            "SELECT value FROM juhe_ledger_meta WHERE key = 'pair_secret'",
            none,
        )?;
        let value: String = rows
            .first()
            .map(|r| r.get(0))
            .ok_or(LedgerError::Damaged("the pair secret is missing"))?;
        hex::decode(value).map_err(|_| LedgerError::Damaged("the pair secret is not hex"))
    }

    fn ready(&self) -> Result<()> {
        // The database answered a moment ago (under load: the last group commit): admitted
        // without a round trip.
        let answered = *self.answered.lock().unwrap_or_else(|p| p.into_inner());
        if answered.is_some_and(|at| at.elapsed() < FRESH) {
            return Ok(());
        }
        self.run(|slot| {
            let conn = slot.conn()?;
            let result = conn.client.simple_query("");
            slot.check(result).map(|_| ())
        })
    }

    fn append(&self, records: &[Record]) -> Result<()> {
        let records = records.to_vec();
        self.run(move |slot| {
            // One retry on a new connection: a server restart breaks every pooled one.
            let mut attempt = 0;
            loop {
                attempt += 1;
                let result = (|| -> Result<()> {
                    let conn = slot.conn()?;
                    let (statement, head) = match &conn.append {
                        Some(s) => s.clone(),
                        None => {
                            let prepared = conn
                                .client
                                .prepare(APPEND)
                                .and_then(|append| Ok((append, conn.client.prepare(MOVE_HEAD)?)));
                            let s = slot.check(prepared)?;
                            slot.conn()?.append = Some(s.clone());
                            s
                        }
                    };
                    let conn = slot.conn()?;
                    let result = (|| {
                        let mut tx = conn.client.transaction()?;
                        for r in &records {
                            let from_cache = i64::from(r.from_cache);
                            tx.execute(
                                &statement,
                                &[
                                    &r.writer,
                                    &r.seq,
                                    &r.at_ms,
                                    &r.caller,
                                    &r.purpose,
                                    &r.mode,
                                    &r.pair_digest,
                                    &r.idcard,
                                    &r.mobile,
                                    &r.outcome,
                                    &r.res,
                                    &r.error_code,
                                    &r.error_class,
                                    &r.billed,
                                    &r.order_id,
                                    &r.attempts,
                                    &from_cache,
                                    &r.latency_ms,
                                    &r.prev_hash,
                                    &r.hash,
                                ],
                            )?;
                        }
                        if let Some(last) = records.last() {
                            tx.execute(&head, &[&last.writer, &last.seq, &last.hash])?;
                        }
                        tx.commit()
                    })();
                    slot.check(result)
                })();
                match result {
                    Err(LedgerError::Postgres(e)) if attempt == 1 && e.as_db_error().is_none() => {}
                    other => return other,
                }
            }
        })
    }

    fn count_rejection(&self, day: i64, caller: &str, mode: &str) -> Result<()> {
        let (caller, mode) = (caller.to_owned(), mode.to_owned());
        self.query(
            "INSERT INTO juhe_ledger_rejections (day, caller, mode, count) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (day, caller, mode) DO UPDATE SET count = juhe_ledger_rejections.count + 1 \
             RETURNING count",
            move || -> Vec<Box<dyn ToSql + Sync + Send>> {
                vec![Box::new(day), Box::new(caller.clone()), Box::new(mode.clone())]
            },
        )?;
        Ok(())
    }

    fn records(&self, query: &Query) -> Result<Vec<Record>> {
        let (clause, values) = where_clause(query);
        let sql = format!("{RECORD_SELECT}{clause} ORDER BY id");
        let rows = self.query(sql, move || {
            values
                .iter()
                .map(|v| -> Box<dyn ToSql + Sync + Send> {
                    match v {
                        Value::Int(i) => Box::new(*i),
                        Value::Text(t) => Box::new(t.clone()),
                    }
                })
                .collect()
        })?;
        Ok(rows.iter().map(record_of).collect())
    }

    fn heads(&self) -> Result<Vec<Head>> {
        let rows = self.query(
            "SELECT writer, first_seq, first_prev, last_seq, last_hash FROM juhe_ledger_writers \
             ORDER BY writer",
            none,
        )?;
        Ok(rows
            .iter()
            .map(|r| Head {
                writer: r.get(0),
                first_seq: r.get(1),
                first_prev: r.get(2),
                last_seq: r.get(3),
                last_hash: r.get(4),
            })
            .collect())
    }

    fn writers(&self) -> Result<Vec<String>> {
        let rows = self.query(
            "SELECT DISTINCT writer FROM juhe_ledger_checks ORDER BY writer",
            none,
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn stats(&self) -> Result<Vec<StatRow>> {
        let rows = self.query(STATS, none)?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect())
    }

    fn rejections(&self) -> Result<Vec<(i64, String, i64)>> {
        let rows = self.query(
            "SELECT day, caller, SUM(count)::BIGINT FROM juhe_ledger_rejections \
             GROUP BY day, caller ORDER BY day, caller",
            none,
        )?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    fn purge(&self, cutoff_ms: i64) -> Result<u64> {
        self.run(move |slot| {
            let conn = slot.conn()?;
            let result = (|| {
                let mut tx = conn.client.transaction()?;
                // Row locks on the heads: a writer appending meanwhile waits for the purge.
                let heads: Vec<(String, i64, String)> = tx
                    .query(
                        "SELECT writer, last_seq, last_hash FROM juhe_ledger_writers FOR UPDATE",
                        &[],
                    )?
                    .iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2)))
                    .collect();
                let mut deleted = 0u64;
                for (writer, last_seq, last_hash) in heads {
                    // The chain's first record not older than the cutoff: all before it goes.
                    let keep = tx.query_opt(
                        "SELECT seq, prev_hash FROM juhe_ledger_checks WHERE writer = $1 AND \
                         seq = (SELECT MIN(seq) FROM juhe_ledger_checks \
                         WHERE writer = $1 AND at_ms >= $2)",
                        &[&writer, &cutoff_ms],
                    )?;
                    let (first_seq, first_prev): (i64, String) = keep
                        .map(|r| (r.get(0), r.get(1)))
                        .unwrap_or((last_seq + 1, last_hash));
                    let n = tx.execute(
                        "DELETE FROM juhe_ledger_checks WHERE writer = $1 AND seq < $2",
                        &[&writer, &first_seq],
                    )?;
                    if n > 0 {
                        tx.execute(
                            "UPDATE juhe_ledger_writers SET first_seq = $2, first_prev = $3 \
                             WHERE writer = $1",
                            &[&writer, &first_seq, &first_prev],
                        )?;
                    }
                    deleted += n;
                }
                tx.execute(
                    "DELETE FROM juhe_ledger_rejections WHERE day < $1",
                    &[&crate::Day::of_millis(cutoff_ms).number()],
                )?;
                tx.commit()?;
                Ok(deleted)
            })();
            slot.check(result)
        })
    }
}
