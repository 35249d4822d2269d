//! `export` and `stats`: the ledger as CSV or JSON lines, and its counts per day and caller.

use std::collections::BTreeMap;
use std::io::Write;
use std::str::FromStr;

use crate::record::Record;
use crate::store::StatRow;
use crate::{Day, LedgerError, Result};

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Format, String> {
        match s {
            "csv" => Ok(Format::Csv),
            "jsonl" => Ok(Format::Jsonl),
            _ => Err("the format is csv or jsonl".to_owned()),
        }
    }
}

const HEADER: [&str; 19] = [
    "time",
    "caller",
    "purpose",
    "mode",
    "idcard",
    "mobile",
    "outcome",
    "res",
    "error_code",
    "error_class",
    "billed",
    "order_id",
    "attempts",
    "from_cache",
    "latency_ms",
    "pair_digest",
    "writer",
    "seq",
    "at_ms",
];

fn io(e: csv::Error) -> LedgerError {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => LedgerError::Write(e),
        other => LedgerError::Write(std::io::Error::other(format!("{other:?}"))),
    }
}

pub(crate) fn write(records: &[Record], format: Format, mut out: impl Write) -> Result<u64> {
    match format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(HEADER).map_err(io)?;
            let opt = |v: &Option<String>| v.clone().unwrap_or_default();
            let num = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
            for r in records {
                w.write_record([
                    r.time.clone(),
                    opt(&r.caller),
                    opt(&r.purpose),
                    r.mode.clone(),
                    r.idcard.clone(),
                    r.mobile.clone(),
                    r.outcome.clone(),
                    num(r.res),
                    num(r.error_code),
                    opt(&r.error_class),
                    r.billed.clone(),
                    opt(&r.order_id),
                    r.attempts.to_string(),
                    r.from_cache.to_string(),
                    r.latency_ms.to_string(),
                    r.pair_digest.clone(),
                    r.writer.clone(),
                    r.seq.to_string(),
                    r.at_ms.to_string(),
                ])
                .map_err(io)?;
            }
            w.flush().map_err(LedgerError::Write)?;
        }
        Format::Jsonl => {
            for r in records {
                let line = serde_json::to_string(r)
                    .map_err(|e| LedgerError::Write(std::io::Error::other(e)))?;
                writeln!(out, "{line}").map_err(LedgerError::Write)?;
            }
            out.flush().map_err(LedgerError::Write)?;
        }
    }
    Ok(records.len() as u64)
}

/// Checks of one China day by one caller.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct StatsRow {
    /// The day, China time (`YYYY-MM-DD`).
    pub day: String,
    /// The caller (`None`: none given).
    pub caller: Option<String>,
    /// Checks recorded.
    pub checks: u64,
    /// Billed (answered with a verdict).
    pub billed: u64,
    /// Maybe billed (no answer).
    pub maybe: u64,
    /// Refused locally (counted, not recorded one by one).
    pub rejected: u64,
}

pub(crate) fn stats(
    rows: Vec<StatRow>,
    rejections: Vec<(i64, String, i64)>,
) -> Result<Vec<StatsRow>> {
    let mut by: BTreeMap<(i64, Option<String>), StatsRow> = BTreeMap::new();
    for (day, caller, billed, count) in rows {
        let row = by.entry((day, caller.clone())).or_insert_with(|| StatsRow {
            day: Day::from_number(day).to_string(),
            caller,
            ..StatsRow::default()
        });
        let count = u64::try_from(count).unwrap_or(0);
        row.checks += count;
        match billed.as_str() {
            "yes" => row.billed += count,
            "maybe" => row.maybe += count,
            _ => {}
        }
    }
    for (day, caller, count) in rejections {
        let caller = Some(caller).filter(|c| !c.is_empty());
        let row = by.entry((day, caller.clone())).or_insert_with(|| StatsRow {
            day: Day::from_number(day).to_string(),
            caller,
            ..StatsRow::default()
        });
        row.rejected += u64::try_from(count).unwrap_or(0);
    }
    Ok(by.into_values().collect())
}
