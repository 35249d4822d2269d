//! `batch`: every row of a file through the API, in input order, resumable after any crash.
//!
//! Per row: look the row up in the journal (done rows are never sent again; rows left `sent`
//! may have been billed and are reported `unknown` unless `--retry-ambiguous`), validate
//! locally (invalid rows are `rejected` without a request), commit `sent`, send, commit the
//! outcome. Results are written in input order to `<output>.partial`, renamed into place when
//! the job is complete.

mod journal;
mod output;
mod progress;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use juhe_2fa::{BlockingClient, Client, Error, IdCard, Mobile, Verification};
use sha1::{Digest, Sha1};

use self::journal::{Entry, Journal, Outcome, State, Status};
use self::output::OutputWriter;
use self::progress::Progress;
use crate::cli::{BatchArgs, Global, TransportArg};
use crate::config::{client_builder, config_error};
use crate::error::{CliError, Exit, chain};
use crate::input::{Format, Row, RowReader, count_rows};

const SENT_BEFORE: &str = "sent by an earlier run that stopped before the answer was recorded; it may have been billed (rerun with --retry-ambiguous to send it again)";

enum AnyClient {
    Async(Client),
    Blocking(BlockingClient),
}

impl AnyClient {
    async fn verify(&self, idcard: IdCard, mobile: Mobile) -> Result<Verification, Error> {
        match self {
            AnyClient::Async(c) => c.verify_parsed(&idcard, &mobile).await,
            AnyClient::Blocking(c) => {
                let c = c.clone();
                tokio::task::spawn_blocking(move || c.verify_parsed(&idcard, &mobile))
                    .await
                    .unwrap_or_else(|e| {
                        Err(Error::Transport(juhe_2fa::TransportError::maybe_sent(
                            juhe_2fa::layers::transport::MaybeSentReason::Io,
                            Some(Box::new(e)),
                        )))
                    })
            }
        }
    }
}

struct Context {
    journal: Journal,
    client: AnyClient,
    retry_ambiguous: bool,
    journal_path: PathBuf,
}

/// A digest of the row's two fields: detects a journal reused with another input, without
/// storing numbers in the journal.
fn pair_digest(row: &Row) -> i64 {
    let digest = Sha1::new()
        .chain_update(row.idcard.as_deref().unwrap_or_default().as_bytes())
        .chain_update(b"\x1f")
        .chain_update(row.mobile.as_deref().unwrap_or_default().as_bytes())
        .finalize();
    i64::from_be_bytes(digest[..8].try_into().expect("20-byte digest"))
}

/// The outcome of a check, and the journal state it leaves the row in.
fn classify(result: Result<Verification, Error>) -> (State, Outcome) {
    match result {
        Ok(v) => (
            State::Done,
            Outcome {
                status: if v.is_match() {
                    Status::Match
                } else {
                    Status::Mismatch
                },
                res: Some(v.res()),
                order_id: Some(v.order_id),
                error_code: None,
                reason: None,
            },
        ),
        Err(Error::Api { code, reason }) => {
            let (state, status) = if code.is_retryable() {
                (State::Retry, Status::Failed)
            } else {
                (State::Done, Status::ApiError)
            };
            (
                state,
                Outcome {
                    status,
                    res: None,
                    order_id: None,
                    error_code: Some(code.code()),
                    reason: Some(reason),
                },
            )
        }
        Err(e @ (Error::InvalidInput(_) | Error::UnsupportedCarrier { .. })) => (
            State::Done,
            Outcome::status(Status::Rejected, e.to_string()),
        ),
        Err(e) if e.is_ambiguous() => (State::Sent, Outcome::status(Status::Unknown, chain(&e))),
        Err(e) => (State::Retry, Outcome::status(Status::Failed, chain(&e))),
    }
}

/// One row: its outcome, and whether a request was sent for it in this run.
async fn process(ctx: &Context, row: &Row) -> Result<(Outcome, bool), CliError> {
    let pair = pair_digest(row);
    if let Some(Entry {
        pair: recorded,
        state,
        outcome,
    }) = ctx.journal.lookup(row.number).await?
    {
        if recorded != pair {
            return Err(CliError::usage(format!(
                "the journal {} was made for another input: row {} differs",
                ctx.journal_path.display(),
                row.number
            ))
            .with_hint("use a new --journal for a new input file"));
        }
        match state {
            State::Done => return Ok((outcome, false)),
            State::Sent if !ctx.retry_ambiguous => {
                let reason = if outcome.status == Status::Unknown && outcome.reason.is_some() {
                    outcome.reason.unwrap_or_default()
                } else {
                    SENT_BEFORE.to_owned()
                };
                return Ok((Outcome::status(Status::Unknown, reason), false));
            }
            State::Sent | State::Retry => {}
        }
    }
    let reject = |reason: String| Outcome::status(Status::Rejected, reason);
    let parsed = match (&row.malformed, row.idcard.as_deref(), row.mobile.as_deref()) {
        (Some(reason), _, _) => Err(reject(reason.clone())),
        (None, Some(idcard), Some(mobile)) => {
            match (IdCard::parse(idcard), Mobile::parse(mobile)) {
                (Ok(i), Ok(m)) => Ok((i, m)),
                (Err(e), _) | (_, Err(e)) => Err(reject(e.to_string())),
            }
        }
        _ => Err(reject("the row has no idcard or mobile".into())),
    };
    let (idcard, mobile) = match parsed {
        Ok(pair) => pair,
        Err(outcome) => {
            ctx.journal
                .write(row.number, pair, State::Done, outcome.clone())
                .await?;
            return Ok((outcome, false));
        }
    };
    // Committed before sending: a crash from here on leaves the row `sent` (maybe billed).
    ctx.journal
        .write(
            row.number,
            pair,
            State::Sent,
            Outcome::status(Status::Unknown, SENT_BEFORE),
        )
        .await?;
    let (state, outcome) = classify(ctx.client.verify(idcard, mobile).await);
    ctx.journal
        .write(row.number, pair, state, outcome.clone())
        .await?;
    Ok((outcome, true))
}

pub fn run(global: &Global, args: &BatchArgs) -> Result<Exit, CliError> {
    if let Some(journal) = &args.report {
        return report(journal, global.json);
    }
    let (Some(input), Some(output)) = (&args.input, &args.output) else {
        return Err(CliError::usage(
            "batch needs --input FILE and --output FILE (or --report JOURNAL)",
        ));
    };
    if input == output {
        return Err(CliError::usage("--output must not be the input file"));
    }
    if args.concurrency == 0 {
        return Err(CliError::usage("--concurrency must be at least 1"));
    }
    let journal_path = args.journal.clone().unwrap_or_else(|| {
        let mut name = output.file_name().unwrap_or_default().to_owned();
        name.push(".journal");
        output.with_file_name(name)
    });
    let mut builder = client_builder(global)?;
    if let Some(qps) = args.qps {
        builder = builder.rate_limit(qps);
    }
    let runtime = crate::runtime()?;
    let client = match global.transport {
        TransportArg::Async => AnyClient::Async(
            runtime
                .block_on(async { builder.build() })
                .map_err(|e| config_error(&e))?,
        ),
        TransportArg::Blocking => {
            AnyClient::Blocking(builder.build_blocking().map_err(|e| config_error(&e))?)
        }
    };
    let total = count_rows(input)?;
    let mut reader = RowReader::open(input)?;
    let writer = OutputWriter::create(output, Format::of(input), reader.headers())?;
    let journal = Journal::open(&journal_path, input)?;
    let ctx = Arc::new(Context {
        journal,
        client,
        retry_ambiguous: args.retry_ambiguous,
        journal_path: journal_path.clone(),
    });
    let progress = Progress::new(total, global.json);
    let summary = runtime.block_on(pipeline(
        &ctx,
        &mut reader,
        writer,
        progress,
        args.concurrency,
    ))?;
    let ctx =
        Arc::try_unwrap(ctx).map_err(|_| CliError::failure("internal: rows still in flight"))?;
    ctx.journal.close()?;

    let not_final: u64 = Status::ALL
        .iter()
        .filter(|s| !s.is_final())
        .map(|s| summary.by_status[s.as_str()])
        .sum();
    if global.json {
        let mut value =
            serde_json::to_value(&summary).map_err(|e| CliError::failure(e.to_string()))?;
        value["output"] = serde_json::json!(output);
        value["journal"] = serde_json::json!(journal_path);
        crate::print_line(&value.to_string());
    } else {
        let counts: Vec<String> = summary
            .by_status
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        eprintln!(
            "batch: {} rows in {:.1} s ({:.0} rows/s): {}; billable calls {} ({} this run)",
            summary.rows,
            summary.elapsed_s,
            summary.rows_per_s,
            counts.join(", "),
            summary.billable,
            summary.billable_this_run
        );
        eprintln!(
            "output: {}  journal: {}",
            output.display(),
            journal_path.display()
        );
        if not_final > 0 {
            eprintln!(
                "{not_final} row(s) not final: rerun the same command to retry `failed` rows; `unknown` rows may have been billed and are resent only with --retry-ambiguous"
            );
        }
    }
    Ok(if not_final == 0 {
        Exit::Ok
    } else {
        Exit::Failure
    })
}

async fn pipeline(
    ctx: &Arc<Context>,
    reader: &mut RowReader,
    mut writer: OutputWriter,
    mut progress: Progress,
    concurrency: usize,
) -> Result<progress::Summary, CliError> {
    let rows = futures_util::stream::iter(std::iter::from_fn(|| reader.next_row()));
    let mut results = rows
        .map(|row| {
            let ctx = ctx.clone();
            async move {
                let row = row?;
                let (outcome, sent) = process(&ctx, &row).await?;
                Ok::<_, CliError>((row, outcome, sent))
            }
        })
        .buffered(concurrency);
    while let Some(item) = results.next().await {
        let (row, outcome, sent) = item?;
        writer.write(&row, &outcome)?;
        progress.update(outcome.status, sent);
    }
    drop(results);
    writer.finish()?;
    Ok(progress.finish())
}

/// `batch --report JOURNAL`: the order ids and outcomes a job produced.
fn report(path: &Path, json: bool) -> Result<Exit, CliError> {
    let mut counts = std::collections::BTreeMap::<&'static str, u64>::new();
    let mut lines = Vec::new();
    journal::read_all(path, |row, entry| {
        *counts.entry(entry.outcome.status.as_str()).or_default() += 1;
        if json {
            lines.push(
                serde_json::json!({
                    "row": row,
                    "status": entry.outcome.status.as_str(),
                    "order_id": entry.outcome.order_id,
                    "error_code": entry.outcome.error_code,
                })
                .to_string(),
            );
        } else if let Some(order_id) = &entry.outcome.order_id {
            lines.push(format!(
                "{row},{},{order_id}",
                entry.outcome.status.as_str()
            ));
        }
    })?;
    if !json {
        crate::print_line("row,status,order_id");
    }
    for line in &lines {
        crate::print_line(line);
    }
    if !json {
        let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
        eprintln!("journal {}: {}", path.display(), summary.join(", "));
    }
    Ok(Exit::Ok)
}
