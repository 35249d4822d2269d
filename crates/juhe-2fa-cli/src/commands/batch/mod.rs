//! `batch`: every row of a file through the API, in input order, resumable after any crash.
//!
//! The engine (rows, journal, de-duplication, stop and back-off policy, counts) is
//! `juhe_batch`; here are the command's parts: flags to a [`Job`], the client, SIGINT/SIGTERM,
//! the progress display, the summary and the exit code.

mod progress;

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use juhe_2fa::Client;
use juhe_batch::{Event, Job, OpenJob, StopHandle, Summary};

use self::progress::Progress;
use crate::cli::{BatchArgs, Global, ModeArg};
use crate::config::{client_builder, config_error, fleet_options};
use crate::error::{CliError, Exit};
use crate::lang::{self, Lang};

pub fn run(global: &Global, args: &BatchArgs) -> Result<Exit, CliError> {
    if let Some(journal) = &args.report {
        return report(journal, global.json);
    }
    let (Some(input), Some(output)) = (&args.input, &args.output) else {
        return Err(CliError::usage(
            "batch needs --input FILE and --output FILE (or --report JOURNAL)",
        ));
    };
    let Some(concurrency) = NonZeroUsize::new(args.concurrency) else {
        return Err(CliError::usage("--concurrency must be at least 1"));
    };
    let mut job = Job::new(input, output)
        .encoding(args.encoding.into())
        .concurrency(concurrency)
        .retry_ambiguous(args.retry_ambiguous)
        .dedupe(!args.no_dedupe)
        .prefix(args.prefix.clone().unwrap_or_default())
        .escape_formulas(args.escape_formulas)
        .lang(Lang::current().batch());
    if let Some(journal) = &args.journal {
        job = job.journal(journal);
    }
    if let Some(sheet) = &args.sheet {
        job = job.sheet(sheet);
    }
    // In AES/RSA mode, the flags that hold the key material, for the message when it is wrong.
    match global.mode {
        ModeArg::Plain => {}
        ModeArg::Aes => job = job.key_material("--openid / --aes-key (and --aes-mode, --aes-iv)"),
        ModeArg::Rsa => job = job.key_material("--rsa-public-key"),
    }
    job.check_paths()?;
    let journal_path = job.journal_path();
    let runtime = crate::runtime()?;
    if let Some(addr) = args.metrics_addr {
        serve_metrics(&runtime, addr)?;
    }
    let stop = StopHandle::new();
    let client = build_client(global, args.retry_ambiguous, &runtime, &stop)?;
    let job = job.stop_handle(stop.clone()).open(client.clone())?;
    let progress = Progress::new(job.total(), global.json);
    let interrupted = Arc::new(AtomicBool::new(false));
    let summary = on_worker(&runtime, job, progress, &interrupted);
    // Pairs of rows dropped at a stop are freed in the fleet before the runtime goes.
    runtime.block_on(client.close());
    let summary = summary?;
    let exit = print_summary(global.json, &summary, output, &journal_path)?;
    if interrupted.load(Ordering::SeqCst) {
        let (message, hint) = lang::batch_interrupted();
        crate::print_error(message, Some(hint));
        return Ok(Exit::Failure);
    }
    Ok(exit)
}

/// `--metrics-addr`: the SDK's metrics (the `metrics` facade) in the Prometheus text format at
/// `GET /metrics`, on the command's runtime, while the batch runs.
fn serve_metrics(
    runtime: &tokio::runtime::Runtime,
    addr: std::net::SocketAddr,
) -> Result<(), CliError> {
    let handle = crate::prometheus::install(runtime.handle())
        .map_err(|e| CliError::usage(format!("--metrics-addr: {e}")))?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(|e| CliError::usage(format!("--metrics-addr {addr}: {e}")))?;
    let render = move || {
        let handle = handle.clone();
        async move { handle.render() }
    };
    let app = axum::Router::new().route("/metrics", axum::routing::get(render));
    runtime.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(())
}

/// The async client (with `--qps` and `--redis`), on the command's runtime, with the job's
/// stop handle as its timer: once the job stops, its waits (retry backoff, rate slots) end.
/// `--retry-ambiguous` also resends a pair another process's check may have billed.
fn build_client(
    global: &Global,
    retry_ambiguous: bool,
    runtime: &tokio::runtime::Runtime,
    stop: &StopHandle,
) -> Result<Client, CliError> {
    let mut builder = client_builder(global)?.timer(stop.clone());
    if retry_ambiguous && global.redis.is_some() {
        builder = builder.fleet_options(fleet_options(global).with_resend_ambiguous(true));
    }
    runtime
        .block_on(async { builder.build() })
        .map_err(|e| config_error(&e))
}

/// Runs the job on a worker, not the main thread: each row's request, answer and journal
/// write then mostly stay on one thread instead of waking another at every step. SIGINT and
/// SIGTERM are handled until the rows are drained.
fn on_worker(
    runtime: &tokio::runtime::Runtime,
    job: OpenJob,
    mut progress: Progress,
    interrupted: &Arc<AtomicBool>,
) -> Result<Summary, CliError> {
    let signals = runtime.spawn(on_signals(job.stop_handle(), interrupted.clone()));
    let listening = signals.abort_handle();
    let task = runtime.spawn(job.run(move |event| match event {
        Event::Row { counts, .. } => progress.update(counts),
        Event::Drained { .. } => {
            listening.abort();
            progress.finish();
        }
        _ => {}
    }));
    let summary = runtime
        .block_on(task)
        .map_err(|e| CliError::failure(format!("the batch task failed: {e}")));
    signals.abort();
    Ok(summary??)
}

/// First SIGINT/SIGTERM: stop sending and drain. Second: exit at once.
async fn on_signals(stop: StopHandle, interrupted: Arc<AtomicBool>) {
    wait_for_signal().await;
    interrupted.store(true, Ordering::SeqCst);
    stop.stop();
    eprintln!("juhe-2fa: {}", lang::batch_stopping());
    wait_for_signal().await;
    std::process::exit(130);
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn print_summary(
    json: bool,
    summary: &Summary,
    output: &Path,
    journal: &Path,
) -> Result<Exit, CliError> {
    let stop = summary.stopped.as_deref();
    let not_final = summary.not_final();
    if json {
        let mut value =
            serde_json::to_value(summary).map_err(|e| CliError::failure(e.to_string()))?;
        value["output"] = serde_json::json!(output);
        value["journal"] = serde_json::json!(journal);
        value["stopped"] = serde_json::json!(stop);
        crate::print_line(&value.to_string());
    } else {
        let counts: Vec<String> = summary
            .by_status
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        let by_status = counts.join(", ");
        eprintln!(
            "{}",
            lang::batch_summary(&lang::BatchCounts {
                rows: summary.rows,
                elapsed_s: summary.elapsed_s,
                rows_per_s: summary.rows_per_s,
                by_status: &by_status,
                billable: summary.billable,
                billable_this_run: summary.billable_this_run,
            })
        );
        eprintln!("{}", lang::batch_files(output, journal));
        if summary.duplicates > 0 {
            eprintln!("{}", lang::batch_duplicates(summary.duplicates));
        }
        if summary.reused > 0 {
            eprintln!("{}", lang::batch_reused(summary.reused));
        }
        if summary.suspicious_records > 0 {
            eprintln!(
                "{}{}",
                lang::warning_prefix(),
                lang::batch_spanning_lines(summary.suspicious_records)
            );
        }
        if stop.is_none() && not_final > 0 {
            eprintln!("{}", lang::batch_not_final(not_final));
        }
    }
    if let Some(why) = stop {
        let budget = summary.stopped_by == Some(juhe_2fa::ErrorClass::Budget);
        let message = lang::batch_stopped(why, summary.stopped_zh.as_deref());
        crate::print_error(&message, Some(lang::batch_stopped_hint(budget)));
        return Ok(if budget { Exit::Budget } else { Exit::Api });
    }
    Ok(if not_final == 0 {
        Exit::Ok
    } else {
        Exit::Failure
    })
}

/// `batch --report JOURNAL`: the order ids and outcomes a job produced.
fn report(path: &Path, json: bool) -> Result<Exit, CliError> {
    let mut counts = std::collections::BTreeMap::<&'static str, u64>::new();
    let mut lines = Vec::new();
    juhe_batch::read_journal(path, |row, entry| {
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
        eprintln!("{}", lang::journal_report(path, &summary.join(", ")));
    }
    Ok(Exit::Ok)
}
