//! `ledger`: export, stats, find, purge and verify the audit ledger (`--ledger`).

use std::io::Write;

use juhe_ledger::{AuditLedger, Format, Record};
use serde_json::json;

use crate::cli::{FormatArg, Global, LedgerArgs, LedgerCommand};
use crate::config::{ledger_shown, open_ledger};
use crate::error::{CliError, Exit, chain};
use crate::print_line;

pub fn run(global: &Global, args: &LedgerArgs) -> Result<Exit, CliError> {
    let location = global.ledger.as_deref().ok_or_else(|| {
        CliError::usage("`ledger` needs the ledger: --ledger FILE|postgres://… or JUHE_LEDGER")
    })?;
    // The `--caller` flag selects records. JUHE_CALLER, exported for the checks a shell sends,
    // neither selects (an export must not silently shrink to one caller) nor is refused.
    let from_env = std::env::var("JUHE_CALLER").ok() == global.caller;
    let caller = global.caller.as_deref().filter(|_| !from_env);
    if caller.is_some()
        && !matches!(
            args.command,
            LedgerCommand::Export { .. } | LedgerCommand::Stats
        )
    {
        return Err(CliError::usage(
            "--caller selects records for `ledger export` and `ledger stats` only",
        )
        .with_hint(crate::lang::ledger_caller_hint()));
    }
    // Reading a ledger never creates one: a mistyped path is an error, not an empty report.
    let is_url = location.starts_with("postgres://") || location.starts_with("postgresql://");
    if !is_url && !std::path::Path::new(location).exists() {
        return Err(CliError::usage(crate::lang::ledger_missing(&ledger_shown(
            location,
        ))));
    }
    let ledger = open_ledger(location)?;
    let failed = |e: juhe_ledger::LedgerError| CliError::failure(chain(&e));
    match &args.command {
        LedgerCommand::Export {
            since,
            until,
            format,
        } => {
            let format = match format {
                FormatArg::Csv => Format::Csv,
                FormatArg::Jsonl => Format::Jsonl,
            };
            let out = std::io::stdout().lock();
            let n = ledger
                .export(*since, *until, caller, format, out)
                .map_err(failed)?;
            eprintln!("juhe-2fa: {}", crate::lang::ledger_exported(n));
        }
        LedgerCommand::Stats => stats(&ledger, caller, global.json).map_err(failed)?,
        LedgerCommand::Find { idcard, mobile } => {
            return find(&ledger, idcard, mobile, global.json);
        }
        LedgerCommand::Purge { older_than } => {
            let n = ledger.purge(*older_than).map_err(failed)?;
            if global.json {
                print_line(&json!({"purged": n, "older_than_days": older_than}).to_string());
            } else {
                print_line(&crate::lang::ledger_purged(n, *older_than));
            }
        }
        LedgerCommand::Verify => return verify(&ledger, global.json),
    }
    Ok(Exit::Ok)
}

fn stats(
    ledger: &AuditLedger,
    caller: Option<&str>,
    json: bool,
) -> Result<(), juhe_ledger::LedgerError> {
    let rows: Vec<_> = ledger
        .stats()?
        .into_iter()
        .filter(|r| caller.is_none() || r.caller.as_deref() == caller)
        .collect();
    if json {
        print_line(&serde_json::to_string(&rows).unwrap_or_default());
        return Ok(());
    }
    print_line(crate::lang::ledger_stats_header());
    for r in &rows {
        print_line(&format!(
            "{}   {:<20} {:>7} {:>7} {:>7} {:>9}",
            r.day,
            r.caller.as_deref().unwrap_or("-"),
            r.checks,
            r.billed,
            r.maybe,
            r.rejected
        ));
    }
    Ok(())
}

fn find(ledger: &AuditLedger, idcard: &str, mobile: &str, json: bool) -> Result<Exit, CliError> {
    let (id, m) = match (
        juhe_2fa::IdCard::parse(idcard),
        juhe_2fa::Mobile::parse(mobile),
    ) {
        (Ok(i), Ok(m)) => (i, m),
        (Err(e), _) | (_, Err(e)) => {
            let message = match crate::lang::Lang::current() {
                crate::lang::Lang::En => e.to_string(),
                crate::lang::Lang::Zh => e.message_zh(),
            };
            crate::print_error(&message, None);
            return Ok(Exit::Rejected);
        }
    };
    let records = ledger
        .find(idcard, mobile)
        .map_err(|e| CliError::failure(chain(&e)))?;
    if json {
        let value = json!({
            "idcard": id.masked(),
            "mobile": m.masked(),
            "checks": records,
        });
        print_line(&value.to_string());
    } else {
        print_line(&crate::lang::ledger_found(
            &format!("{} / {}", id.masked(), m.masked()),
            records.len(),
        ));
        for r in &records {
            print_line(&line(r));
        }
    }
    Ok(Exit::Ok)
}

fn line(r: &Record) -> String {
    crate::lang::ledger_record(&crate::lang::LedgerRecord {
        time: &r.time.to_string(),
        caller: r.caller.as_deref().unwrap_or("-"),
        purpose: r.purpose.as_deref().unwrap_or("-"),
        outcome: &r.outcome.to_string(),
        mode: &r.mode.to_string(),
        billed: &r.billed.to_string(),
        order: r.order_id.as_deref(),
    })
}

fn verify(ledger: &AuditLedger, json: bool) -> Result<Exit, CliError> {
    let report = ledger.verify().map_err(|e| CliError::failure(chain(&e)))?;
    let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    if json {
        print_line(
            &json!({
                "clean": report.is_clean(),
                "chains": report.chains,
                "records": report.records,
                "problems": problems,
            })
            .to_string(),
        );
    } else {
        for p in &problems {
            print_line(p);
        }
        print_line(&crate::lang::ledger_verified(
            report.records,
            report.chains,
            (!report.is_clean()).then_some(problems.len()),
        ));
    }
    let _ = std::io::stdout().flush();
    Ok(if report.is_clean() {
        Exit::Ok
    } else {
        Exit::Mismatch
    })
}
