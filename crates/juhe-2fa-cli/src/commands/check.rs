//! `check`: local validation only; never sends.

use std::io::{BufWriter, Write};
use std::path::Path;

use juhe_2fa::{Carrier, IdCard, Mobile};
use juhe_batch::RowReader;

use crate::encoding::EncodingArg;
use crate::error::{CliError, Exit};

/// One line of `check --json` (docs/cli.md), plus `mobile_error`.
#[derive(serde::Serialize)]
struct Verdict {
    line: u64,
    idcard_valid: bool,
    idcard_error: Option<String>,
    mobile_valid: bool,
    mobile_error: Option<String>,
    carrier: Carrier,
    supported: bool,
    /// Why the record itself is unusable (wrong number of fields, not UTF-8…): then neither
    /// number is taken as valid, exactly as `batch` rejects the row.
    #[serde(skip_serializing_if = "Option::is_none")]
    row_error: Option<String>,
}

impl Verdict {
    fn of(
        line: u64,
        idcard: Option<&str>,
        mobile: Option<&str>,
        malformed: Option<&str>,
    ) -> Verdict {
        let missing = |what: &str| malformed.map_or_else(|| format!("no {what}"), str::to_owned);
        // A malformed record is rejected whole, whatever its fields say (one rule with batch).
        let (idcard, mobile) = if malformed.is_some() {
            (None, None)
        } else {
            (idcard, mobile)
        };
        let id = idcard.map(IdCard::parse);
        let mob = mobile.map(Mobile::parse);
        let carrier = match &mob {
            Some(Ok(m)) => m.carrier(),
            _ => Carrier::Unknown,
        };
        Verdict {
            line,
            idcard_valid: matches!(id, Some(Ok(_))),
            idcard_error: match id {
                Some(Ok(_)) => None,
                Some(Err(e)) => Some(e.to_string()),
                None => Some(missing("idcard")),
            },
            mobile_valid: matches!(mob, Some(Ok(_))),
            mobile_error: match mob {
                Some(Ok(_)) => None,
                Some(Err(e)) => Some(e.to_string()),
                None => Some(missing("mobile")),
            },
            carrier,
            supported: carrier.is_supported(),
            row_error: malformed.map(str::to_owned),
        }
    }

    fn valid(&self) -> bool {
        self.idcard_valid && self.mobile_valid
    }

    fn human(&self) -> String {
        let mut parts = Vec::new();
        if let Some(e) = &self.idcard_error {
            parts.push(format!("idcard: {e}"));
        }
        if let Some(e) = &self.mobile_error {
            parts.push(format!("mobile: {e}"));
        }
        if self.mobile_valid && !self.supported {
            parts.push(format!(
                "mobile: belongs to {}; the API answers only for China Unicom ({})",
                self.carrier,
                juhe_2fa::ErrorCode::UnsupportedMobile.code()
            ));
        }
        if parts.is_empty() {
            "valid, China Unicom".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

fn write_err(e: std::io::Error) -> CliError {
    CliError::failure(format!("cannot write the output: {e}"))
}

pub fn one(idcard: &str, mobile: &str, json: bool) -> Result<Exit, CliError> {
    let v = Verdict::of(1, Some(idcard), Some(mobile), None);
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, &v).map_err(|e| CliError::failure(e.to_string()))?;
        writeln!(out).map_err(write_err)?;
    } else {
        writeln!(out, "{}", v.human()).map_err(write_err)?;
    }
    Ok(if v.valid() { Exit::Ok } else { Exit::Rejected })
}

pub fn file(
    path: &Path,
    encoding: EncodingArg,
    sheet: Option<&str>,
    json: bool,
) -> Result<Exit, CliError> {
    let (mut reader, _) = RowReader::open_sheet(path, encoding.into(), sheet)?;
    let mut out = BufWriter::with_capacity(256 * 1024, std::io::stdout().lock());
    let (mut rows, mut invalid, mut unsupported) = (0u64, 0u64, 0u64);
    while let Some(row) = reader.next_row() {
        let row = row?;
        let v = Verdict::of(
            row.number,
            row.idcard.as_deref(),
            row.mobile.as_deref(),
            row.malformed.as_deref(),
        );
        rows += 1;
        if !v.valid() {
            invalid += 1;
        } else if !v.supported {
            unsupported += 1;
        }
        if json {
            serde_json::to_writer(&mut out, &v).map_err(|e| CliError::failure(e.to_string()))?;
            out.write_all(b"\n").map_err(write_err)?;
        } else if !v.valid() || !v.supported {
            writeln!(out, "line {}: {}", v.line, v.human()).map_err(write_err)?;
        }
    }
    if !json {
        writeln!(
            out,
            "{rows} rows: {} valid ({unsupported} of them not China Unicom), {invalid} invalid",
            rows - invalid
        )
        .map_err(write_err)?;
        if reader.suspicious() > 0 {
            writeln!(
                out,
                "warning: {} record(s) have a field spanning lines: a stray quote may have merged lines",
                reader.suspicious()
            )
            .map_err(write_err)?;
        }
    }
    out.flush().map_err(write_err)?;
    Ok(if invalid == 0 {
        Exit::Ok
    } else {
        Exit::Rejected
    })
}
