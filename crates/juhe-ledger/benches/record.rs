//! The ledger's cost per check: the blocking client on a canned answer (no network), without a
//! ledger, with a SQLite ledger file and with a PostgreSQL ledger on loopback (a throwaway
//! cluster, when PostgreSQL is installed). The difference between the lines is what the
//! ledger adds to every check. `cargo bench -p juhe-ledger`.
#![allow(missing_docs, clippy::print_stderr)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use juhe_2fa::{BlockingClient, ClientBuilder, HttpRequest, HttpResponse, TransportError};
use juhe_ledger::AuditLedger;
use juhe_sandbox::{PostgresServer, demo};

const ANSWER: &[u8] =
    r#"{"reason":"成功","result":{"res":1,"orderid":"JH329201808081618556756"},"error_code":0}"#
        .as_bytes();

fn canned(_request: HttpRequest) -> Result<HttpResponse, TransportError> {
    Ok(http_response())
}

fn http_response() -> HttpResponse {
    juhe_2fa::http::Response::new(ANSWER.to_vec())
}

fn client(ledger: Option<AuditLedger>) -> BlockingClient {
    let mut builder = ClientBuilder::new().api_key("k").caller("bench");
    if let Some(ledger) = ledger {
        builder = builder.ledger(ledger);
    }
    builder.build_blocking_with_transport(canned).unwrap()
}

fn ledger_cost(c: &mut Criterion) {
    let (idcard, mobile) = demo::MATCH;
    let mut run = |name: &str, client: BlockingClient| {
        c.bench_function(&format!("ledger_cost/{name}"), |b| {
            b.iter(|| client.verify(black_box(idcard), black_box(mobile)).unwrap())
        });
    };
    run("none", client(None));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bench.ledger");
    run(
        "sqlite",
        client(Some(
            AuditLedger::open(&file.display().to_string()).unwrap(),
        )),
    );
    match PostgresServer::start() {
        Ok(pg) => run(
            "postgres",
            client(Some(AuditLedger::open(&pg.url()).unwrap())),
        ),
        Err(e) => eprintln!("ledger_cost/postgres: SKIPPED ({e})"),
    }
}

criterion_group!(benches, ledger_cost);
criterion_main!(benches);
