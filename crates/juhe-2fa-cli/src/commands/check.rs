//! `check`: local validation only; never sends.

use std::io::{BufWriter, Write};
use std::path::Path;

use juhe_2fa::{Carrier, IdCard, Mobile, ValidationError};
use juhe_batch::{Malformed, RowReader};

use crate::encoding::EncodingArg;
use crate::error::{CliError, Exit};
use crate::lang::{self, Lang};

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
    /// The problems as people read them, in the run's language (`--json` keeps English).
    #[serde(skip)]
    idcard_problem: Option<String>,
    #[serde(skip)]
    mobile_problem: Option<String>,
}

/// A validation error in the run's language.
fn problem(e: &ValidationError) -> String {
    match Lang::current() {
        Lang::En => e.to_string(),
        Lang::Zh => e.message_zh(),
    }
}

/// One field of a row as `check` sees it.
enum Field {
    Valid,
    Invalid(ValidationError),
    /// The field could not be read (a number cell, not text in the encoding…).
    Unreadable(Malformed),
    Missing,
}

impl Field {
    /// The problem in English (`--json`).
    fn english(&self, column: &str) -> Option<String> {
        match self {
            Field::Valid => None,
            Field::Invalid(e) => Some(e.to_string()),
            Field::Unreadable(m) => Some(m.to_string()),
            Field::Missing => Some(format!("no {column}")),
        }
    }

    /// The problem in the run's language.
    fn human(&self, column: &str) -> Option<String> {
        match self {
            Field::Valid => None,
            Field::Invalid(e) => Some(problem(e)),
            Field::Unreadable(m) => Some(m.text(Lang::current().batch())),
            Field::Missing => Some(lang::check_missing(column)),
        }
    }
}

impl Verdict {
    /// `malformed` is the row's reason, `mobile_malformed` the mobile field's when the first
    /// is the ID card's (`juhe_batch::Row`).
    fn of(
        line: u64,
        idcard: Option<&str>,
        mobile: Option<&str>,
        malformed: Option<&Malformed>,
        mobile_malformed: Option<&Malformed>,
    ) -> Verdict {
        // A field's own problem is that field's; one with the whole record is both fields'
        // (a malformed record is rejected whole, whatever its fields say: one rule with batch).
        let problem_of = |column: &str| {
            malformed
                .filter(|m| m.column().is_none_or(|c| c == column))
                .or(mobile_malformed.filter(|_| column == "mobile"))
        };
        let field =
            |value: Option<&str>, column: &str, parse: &dyn Fn(&str) -> Option<ValidationError>| {
                match (problem_of(column), value) {
                    (Some(m), _) => Field::Unreadable(m.clone()),
                    (None, Some(text)) => parse(text).map_or(Field::Valid, Field::Invalid),
                    (None, None) => Field::Missing,
                }
            };
        let id = field(idcard, "idcard", &|t| IdCard::parse(t).err());
        let mob = field(mobile, "mobile", &|t| Mobile::parse(t).err());
        let carrier = match (&mob, mobile) {
            (Field::Valid, Some(m)) => Mobile::parse(m).map_or(Carrier::Unknown, |m| m.carrier()),
            _ => Carrier::Unknown,
        };
        Verdict {
            line,
            idcard_valid: matches!(id, Field::Valid),
            idcard_error: id.english("idcard"),
            mobile_valid: matches!(mob, Field::Valid),
            mobile_error: mob.english("mobile"),
            carrier,
            supported: carrier.is_supported(),
            row_error: malformed.map(ToString::to_string),
            idcard_problem: id.human("idcard"),
            mobile_problem: mob.human("mobile"),
        }
    }

    fn valid(&self) -> bool {
        self.idcard_valid && self.mobile_valid
    }

    fn human(&self) -> String {
        let mut parts = Vec::new();
        if let Some(e) = &self.idcard_problem {
            parts.push(lang::check_field("idcard", e));
        }
        if let Some(e) = &self.mobile_problem {
            parts.push(lang::check_field("mobile", e));
        }
        if self.mobile_valid && !self.supported {
            let code = juhe_2fa::ErrorCode::UnsupportedMobile.code();
            let text = lang::check_not_unicom(self.carrier, code);
            parts.push(lang::check_field("mobile", &text));
        }
        if parts.is_empty() {
            lang::check_valid().to_owned()
        } else {
            parts.join(lang::check_joiner())
        }
    }
}

fn write_err(e: std::io::Error) -> CliError {
    CliError::failure(format!("cannot write the output: {e}"))
}

pub fn one(idcard: &str, mobile: &str, json: bool) -> Result<Exit, CliError> {
    let v = Verdict::of(1, Some(idcard), Some(mobile), None, None);
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
            row.malformed.as_ref(),
            row.mobile_malformed.as_ref(),
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
            writeln!(out, "{}", lang::check_line(v.line, &v.human())).map_err(write_err)?;
        }
    }
    if !json {
        let summary = lang::check_summary(rows, rows - invalid, unsupported, invalid);
        writeln!(out, "{summary}").map_err(write_err)?;
        if reader.suspicious() > 0 {
            let warning = lang::spanning_lines(reader.suspicious());
            writeln!(out, "{}{warning}", lang::warning_prefix()).map_err(write_err)?;
        }
    }
    out.flush().map_err(write_err)?;
    Ok(if invalid == 0 {
        Exit::Ok
    } else {
        Exit::Rejected
    })
}
