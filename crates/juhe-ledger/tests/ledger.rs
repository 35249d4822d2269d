//! The audit ledger on both backends (a SQLite file; a real PostgreSQL server on loopback):
//! both clients write it, it holds no number or key, `verify` names tampered records, `find`
//! recognises a pair across jobs, `purge` removes only old records.

use std::time::{Duration, SystemTime};

use juhe_2fa::{BlockingClient, Client, RetryPolicy};
use juhe_ledger::{AuditLedger, Format, ProblemKind};
use juhe_sandbox::{PostgresServer, Sandbox, demo};

/// A SQLite ledger in a temporary directory, or a PostgreSQL server.
enum Place {
    Sqlite(tempfile::TempDir),
    Postgres(PostgresServer),
}

impl Place {
    fn sqlite() -> Place {
        Place::Sqlite(tempfile::tempdir().unwrap())
    }

    fn postgres() -> Place {
        Place::Postgres(
            PostgresServer::start().expect("a PostgreSQL server (apt-get install postgresql)"),
        )
    }

    fn location(&self) -> String {
        match self {
            Place::Sqlite(dir) => dir.path().join("checks.ledger").display().to_string(),
            Place::Postgres(pg) => pg.url(),
        }
    }

    fn open(&self) -> AuditLedger {
        AuditLedger::open(&self.location()).unwrap()
    }

    /// Runs SQL against the ledger as an operator with plain database access would.
    fn sql(&self, sql: &str) {
        match self {
            Place::Sqlite(_) => {
                let conn = rusqlite::Connection::open(self.location()).unwrap();
                conn.execute_batch(sql).unwrap();
            }
            Place::Postgres(pg) => {
                pg.psql(sql).unwrap();
            }
        }
    }

    /// Everything the database holds, as bytes: the SQLite file and its WAL, or a `pg_dump`.
    fn bytes(&self) -> Vec<u8> {
        match self {
            Place::Sqlite(dir) => {
                let mut all = Vec::new();
                for entry in std::fs::read_dir(dir.path()).unwrap() {
                    all.extend(std::fs::read(entry.unwrap().path()).unwrap());
                }
                all
            }
            Place::Postgres(pg) => pg.dump().unwrap(),
        }
    }
}

fn blocking_client(
    sandbox: &juhe_sandbox::BlockingSandbox,
    ledger: &AuditLedger,
) -> BlockingClient {
    BlockingClient::builder()
        .api_key(demo::API_KEY)
        .base_url(sandbox.base_url())
        .retry_policy(RetryPolicy::none())
        .ledger(ledger.clone())
        .caller("kyc-job")
        .purpose("account opening")
        .build_blocking()
        .unwrap()
}

/// Match, mismatch, an API error and a local rejection through the blocking client.
fn four_checks(sandbox: &juhe_sandbox::BlockingSandbox, ledger: &AuditLedger) {
    let client = blocking_client(sandbox, ledger);
    client.verify(demo::MATCH.0, demo::MATCH.1).unwrap();
    client.verify(demo::MISMATCH.0, demo::MISMATCH.1).unwrap();
    client
        .verify(demo::NO_RECORD.0, demo::NO_RECORD.1)
        .unwrap_err();
    client
        .verify("110105199003071230", demo::MATCH.1)
        .unwrap_err();
}

fn both_clients_write_the_ledger(place: Place) {
    let sandbox = Sandbox::builder().spawn_blocking().unwrap();
    let ledger = place.open();
    four_checks(&sandbox, &ledger);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = Client::builder()
            .api_key(demo::API_KEY)
            .base_url(sandbox.base_url())
            .ledger(ledger.clone())
            .caller("async-service")
            .build()
            .unwrap();
        client.verify(demo::MATCH.0, demo::MATCH.1).await.unwrap();
    });
    // Read through another handle (another job): what this one queued is stored first.
    ledger.flush();
    let records = place.open().records(None, None, None).unwrap();
    let seen: Vec<(&str, &str, &str, Option<&str>)> = records
        .iter()
        .map(|r| {
            (
                r.outcome.as_str(),
                r.billed.as_str(),
                r.mode.as_str(),
                r.caller.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("match", "yes", "plain", Some("kyc-job")),
            ("mismatch", "yes", "plain", Some("kyc-job")),
            ("api_error", "no", "plain", Some("kyc-job")),
            ("match", "yes", "plain", Some("async-service")),
        ]
    );
    assert_eq!(
        sandbox.stats().requests,
        4,
        "each recorded check was sent once"
    );
    let first = &records[0];
    assert_eq!(first.idcard, "110105********1239");
    assert_eq!(first.mobile, "130****5678");
    assert_eq!(first.purpose.as_deref(), Some("account opening"));
    assert!(
        first
            .order_id
            .as_deref()
            .is_some_and(|o| o.starts_with("JH"))
    );
    assert!(records[2].error_code.is_some());
    assert_eq!(records[2].error_class.as_deref(), Some("api"));
    assert_eq!(
        first.pair_digest, records[3].pair_digest,
        "one person, one digest"
    );
    assert_eq!((first.writer.as_str(), first.seq), (ledger.writer(), 1));
    let stats = ledger.stats().unwrap();
    let kyc = stats
        .iter()
        .find(|s| s.caller.as_deref() == Some("kyc-job"))
        .unwrap();
    assert_eq!(
        (kyc.checks, kyc.billed, kyc.maybe, kyc.rejected),
        (3, 2, 0, 1)
    );
    assert!(ledger.verify().unwrap().is_clean());

    // Nothing in clear: no number (any of the pairs, the rejected one too), no key.
    let bytes = place.bytes();
    for needle in [
        demo::MATCH.0,
        demo::MATCH.1,
        demo::MISMATCH.0,
        demo::MISMATCH.1,
        demo::NO_RECORD.0,
        demo::NO_RECORD.1,
        "110105199003071230",
        demo::API_KEY,
    ] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} is stored in clear"
        );
    }
    assert!(
        bytes.windows(10).any(|w| w == b"130****567"),
        "the masked numbers are there: the search would have seen numbers"
    );
}

#[test]
fn sqlite_both_clients_write_the_ledger_and_nothing_in_clear() {
    both_clients_write_the_ledger(Place::sqlite());
}

#[test]
fn postgres_both_clients_write_the_ledger_and_nothing_in_clear() {
    both_clients_write_the_ledger(Place::postgres());
}

/// Six records by one writer, then `edit`; returns what `verify` reports.
fn tamper(
    place: &Place,
    sandbox: &juhe_sandbox::BlockingSandbox,
    sql: &str,
) -> Vec<(String, ProblemKind)> {
    let ledger = place.open();
    four_checks(sandbox, &ledger);
    four_checks(sandbox, &ledger);
    assert!(ledger.verify().unwrap().is_clean());
    place.sql(sql);
    ledger
        .verify()
        .unwrap()
        .problems
        .into_iter()
        .map(|p| {
            assert_eq!(p.writer, ledger.writer(), "{p}");
            (p.to_string(), p.kind)
        })
        .collect()
}

fn verify_catches_update_delete_and_swap(fresh: impl Fn() -> Place) {
    let sandbox = Sandbox::builder().spawn_blocking().unwrap();
    let edited = tamper(
        &fresh(),
        &sandbox,
        "UPDATE juhe_ledger_checks SET outcome = 'mismatch', res = 2 WHERE seq = 4",
    );
    assert_eq!(edited.len(), 1, "{edited:?}");
    assert_eq!(edited[0].1, ProblemKind::Edited);
    assert!(
        edited[0].0.contains("record 4 (row") && edited[0].0.contains("was edited"),
        "{edited:?}"
    );

    let deleted = tamper(
        &fresh(),
        &sandbox,
        "DELETE FROM juhe_ledger_checks WHERE seq = 3",
    );
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert_eq!(deleted[0].1, ProblemKind::Deleted { from: 3, to: 3 });
    assert!(deleted[0].0.contains("record 3 was deleted"), "{deleted:?}");

    let last = tamper(
        &fresh(),
        &sandbox,
        "DELETE FROM juhe_ledger_checks WHERE seq = 6",
    );
    assert_eq!(
        last[0].1,
        ProblemKind::Deleted { from: 6, to: 6 },
        "{last:?}"
    );

    // Swap every column of rows 2 and 5 but the row id: the chain is read in table order.
    let cols = "writer, seq, at_ms, caller, purpose, mode, pair_digest, idcard_masked, \
                mobile_masked, outcome, res, error_code, error_class, billed, order_id, attempts, \
                from_cache, latency_ms, prev_hash, hash";
    let swap = format!(
        "CREATE TEMP TABLE a AS SELECT {cols} FROM juhe_ledger_checks WHERE seq = 2; \
         CREATE TEMP TABLE b AS SELECT {cols} FROM juhe_ledger_checks WHERE seq = 5; \
         UPDATE juhe_ledger_checks SET seq = -1 WHERE seq = 2; \
         UPDATE juhe_ledger_checks SET seq = -2 WHERE seq = 5; \
         UPDATE juhe_ledger_checks SET ({cols}) = (SELECT {cols} FROM b) WHERE seq = -1; \
         UPDATE juhe_ledger_checks SET ({cols}) = (SELECT {cols} FROM a) WHERE seq = -2;"
    );
    let swapped = tamper(&fresh(), &sandbox, &swap);
    assert!(
        swapped
            .iter()
            .any(|(text, kind)| *kind == ProblemKind::Reordered { after: 5 }
                && text.contains("record 2 (row")),
        "{swapped:?}"
    );

    // Swap only the contents (caller, order ids): both records are edited.
    let contents = tamper(
        &fresh(),
        &sandbox,
        "CREATE TEMP TABLE o AS SELECT seq, order_id FROM juhe_ledger_checks WHERE seq IN (1, 5); \
         UPDATE juhe_ledger_checks SET order_id = \
         (SELECT o.order_id FROM o WHERE o.seq = 6 - juhe_ledger_checks.seq) WHERE seq IN (1, 5);",
    );
    let kinds: Vec<&ProblemKind> = contents.iter().map(|(_, k)| k).collect();
    assert_eq!(
        kinds,
        [&ProblemKind::Edited, &ProblemKind::Edited],
        "{contents:?}"
    );
}

#[test]
fn sqlite_verify_catches_update_delete_and_swap() {
    verify_catches_update_delete_and_swap(Place::sqlite);
}

#[test]
fn postgres_verify_catches_update_delete_and_swap() {
    verify_catches_update_delete_and_swap(Place::postgres);
}

fn find_and_purge(place: Place) {
    let sandbox = Sandbox::builder().spawn_blocking().unwrap();
    // Job 1 checks the pair; job 2 (another handle, another chain) checks others.
    four_checks(&sandbox, &place.open());
    std::thread::sleep(Duration::from_millis(20));
    let cutoff = SystemTime::now();
    std::thread::sleep(Duration::from_millis(20));
    let job2 = place.open();
    let client = blocking_client(&sandbox, &job2);
    client.verify(demo::MISMATCH.0, demo::MISMATCH.1).unwrap();
    client.verify(demo::MISMATCH.0, demo::MISMATCH.1).unwrap();
    // Another handle's records are read once its writer thread has stored them.
    job2.flush();

    // A third job asks: spelled differently, the same person.
    let job3 = place.open();
    let found = job3
        .find("110105199003071239", "+86 130-1234-5678")
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].caller.as_deref(), Some("kyc-job"));
    assert_eq!(found[0].purpose.as_deref(), Some("account opening"));
    assert_eq!(found[0].outcome, "match");
    assert_eq!(
        job3.find(demo::MISMATCH.0, demo::MISMATCH.1).unwrap().len(),
        3
    );
    assert!(
        job3.find("110105199003071239", demo::MISMATCH.1)
            .unwrap()
            .is_empty()
    );
    assert!(
        job3.find("1101", demo::MATCH.1).is_err(),
        "an invalid number is refused"
    );

    let mut csv = Vec::new();
    assert_eq!(
        job3.export(None, None, Some("kyc-job"), Format::Csv, &mut csv)
            .unwrap(),
        5
    );
    let csv = String::from_utf8(csv).unwrap();
    assert!(
        csv.starts_with("time,caller,purpose,mode,idcard,mobile,outcome"),
        "{csv}"
    );
    assert!(!csv.contains(demo::MATCH.0));

    // Purge: job 1's three records go, job 2's two stay; the chains still verify.
    assert_eq!(job3.purge_before(cutoff).unwrap(), 3);
    let left = job3.records(None, None, None).unwrap();
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|r| r.writer == job2.writer()));
    assert!(job3.find(demo::MATCH.0, demo::MATCH.1).unwrap().is_empty());
    let report = job3.verify().unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    // Job 2 goes on writing after the purge; a retention of 3 years removes nothing.
    client.verify(demo::MATCH.0, demo::MATCH.1).unwrap();
    job2.flush();
    assert_eq!(job3.purge(juhe_ledger::DEFAULT_RETENTION_DAYS).unwrap(), 0);
    assert!(job3.verify().unwrap().is_clean());
    assert_eq!(job3.records(None, None, None).unwrap().len(), 3);
}

#[test]
fn sqlite_find_across_jobs_and_purge_only_old_records() {
    find_and_purge(Place::sqlite());
}

#[test]
fn postgres_find_across_jobs_and_purge_only_old_records() {
    find_and_purge(Place::postgres());
}

#[test]
fn a_symlinked_ledger_path_is_refused_and_the_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    let link = dir.path().join("link.ledger");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let e = AuditLedger::open(&link.display().to_string()).unwrap_err();
    assert!(matches!(e, juhe_ledger::LedgerError::NotAFile), "{e:?}");
    assert!(!target.exists(), "nothing created through the link");
    let file = dir.path().join("checks.ledger");
    AuditLedger::open(&file.display().to_string()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn an_unreachable_postgres_ledger_is_a_clear_error_without_the_url() {
    let url = "postgres://auditor:s3cret-pw@127.0.0.1:1/ledger";
    let e = AuditLedger::open(url).unwrap_err();
    let text = format!("{e}");
    let mut chain = format!("{e:?}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        chain.push_str(&s.to_string());
        source = s.source();
    }
    assert_eq!(text, "cannot connect to the PostgreSQL ledger");
    assert!(
        !chain.contains("s3cret-pw") && !chain.contains("auditor"),
        "{chain}"
    );
}

/// A record the database refuses is lost (the check had happened: the client logs it), but the
/// chain goes on from what is stored: later records verify.
#[test]
fn a_refused_record_does_not_break_the_chain() {
    let place = Place::sqlite();
    let sandbox = Sandbox::builder().spawn_blocking().unwrap();
    let ledger = place.open();
    four_checks(&sandbox, &ledger);
    place.sql(
        "CREATE TRIGGER refuse BEFORE INSERT ON juhe_ledger_checks WHEN NEW.caller = 'refused' \
         BEGIN SELECT RAISE(ABORT, 'refused by policy'); END;",
    );
    let refused = BlockingClient::builder()
        .api_key(demo::API_KEY)
        .base_url(sandbox.base_url())
        .ledger(ledger.clone())
        .caller("refused")
        .build_blocking()
        .unwrap();
    refused.verify(demo::MATCH.0, demo::MATCH.1).unwrap();
    four_checks(&sandbox, &ledger);
    let records = ledger.records(None, None, None).unwrap();
    assert_eq!(records.len(), 6);
    assert_eq!(
        records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    let report = ledger.verify().unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}

/// A PostgreSQL server that goes away: the next check is refused before it is sent (the
/// ledger could not record it), with `Error::Ledger`.
#[test]
fn postgres_gone_refuses_the_next_check_before_sending() {
    let mut pg = PostgresServer::start().unwrap();
    let sandbox = Sandbox::builder().spawn_blocking().unwrap();
    let ledger = AuditLedger::open(&pg.url()).unwrap();
    let client = blocking_client(&sandbox, &ledger);
    client.verify(demo::MATCH.0, demo::MATCH.1).unwrap();
    ledger.flush();
    pg.stop();
    // Past the moment in which a recent answer admits without asking the database.
    std::thread::sleep(Duration::from_millis(1100));
    let e = client.verify(demo::MATCH.0, demo::MATCH.1).unwrap_err();
    assert!(matches!(e, juhe_2fa::Error::Ledger(_)), "{e:?}");
    assert!(e.nothing_sent());
    assert_eq!(sandbox.stats().requests, 1, "the second check was not sent");
}
