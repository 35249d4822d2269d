//! Reading input files row by row: CSV with a header naming `idcard` and `mobile` (other
//! columns pass through), or JSONL when the name ends in `.jsonl`.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde_json::{Map, Value};

use crate::encoding::{Detected, EncodingArg};
use crate::error::CliError;

/// The file format, from the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    pub fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("jsonl") => Format::Jsonl,
            _ => Format::Csv,
        }
    }
}

/// What a row carries besides the two numbers, to write it back out unchanged.
#[derive(Debug, Clone)]
pub enum Passthrough {
    Csv(csv::ByteRecord),
    Json(Map<String, Value>),
    /// A JSONL line that is not a JSON object.
    RawLine(String),
    /// A JSONL line that is not UTF-8: kept byte for byte.
    RawBytes(Vec<u8>),
}

/// One input record.
#[derive(Debug, Clone)]
pub struct Row {
    /// 1-based record number (the CSV header is not counted).
    pub number: u64,
    pub idcard: Option<String>,
    pub mobile: Option<String>,
    /// Why the row could not be read as a pair, if so.
    pub malformed: Option<String>,
    pub passthrough: Passthrough,
}

/// Any byte source: a file, a pipe, or bytes in memory.
type Input = BufReader<Box<dyn Read + Send>>;

enum Source {
    Csv {
        reader: csv::Reader<Input>,
        idcard: usize,
        mobile: usize,
        width: usize,
    },
    Jsonl {
        lines: std::io::Split<Input>,
    },
}

/// Streams rows from a file; memory stays flat whatever its size.
pub struct RowReader {
    source: Source,
    headers: Option<csv::ByteRecord>,
    number: u64,
    suspicious: u64,
}

fn header_name(field: &[u8]) -> String {
    let text = String::from_utf8_lossy(field);
    text.trim_start_matches('\u{feff}')
        .trim()
        .to_ascii_lowercase()
}

impl RowReader {
    /// Opens a file in its encoding (`--encoding`), decoded to UTF-8 for reading.
    pub fn open(path: &Path, encoding: EncodingArg) -> Result<(RowReader, Detected), CliError> {
        let file = File::open(path).map_err(|e| CliError::io("read", path, &e))?;
        let (text, detected) = crate::encoding::decode(Box::new(file), encoding)?;
        Ok((
            RowReader::from_reader(text, Format::of(path), path)?,
            detected,
        ))
    }

    /// Rows from any byte source; `path` only names it in messages.
    pub fn from_reader(
        input: Box<dyn Read + Send>,
        format: Format,
        path: &Path,
    ) -> Result<RowReader, CliError> {
        let buffered = BufReader::with_capacity(256 * 1024, input);
        match format {
            Format::Jsonl => Ok(RowReader {
                source: Source::Jsonl {
                    lines: buffered.split(b'\n'),
                },
                headers: None,
                number: 0,
                suspicious: 0,
            }),
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .flexible(true)
                    .has_headers(true)
                    .from_reader(buffered);
                let headers = reader
                    .byte_headers()
                    .map_err(|e| {
                        CliError::usage(format!(
                            "cannot read the CSV header of {}: {e}",
                            path.display()
                        ))
                    })?
                    .clone();
                let names: Vec<String> = headers.iter().map(header_name).collect();
                let find = |name: &str| names.iter().position(|n| n == name);
                let (Some(idcard), Some(mobile)) = (find("idcard"), find("mobile")) else {
                    let missing: Vec<&str> = ["idcard", "mobile"]
                        .into_iter()
                        .filter(|n| find(n).is_none())
                        .collect();
                    return Err(CliError::usage(format!(
                        "{} has no {} column in its header",
                        path.display(),
                        missing.join(" or ")
                    ))
                    .with_hint("the first line must name the columns, e.g. `name,idcard,mobile`"));
                };
                let width = headers.len();
                Ok(RowReader {
                    source: Source::Csv {
                        reader,
                        idcard,
                        mobile,
                        width,
                    },
                    headers: Some(headers),
                    number: 0,
                    suspicious: 0,
                })
            }
        }
    }

    /// Records that look merged by a stray quote (a field spanning lines) so far.
    pub fn suspicious(&self) -> u64 {
        self.suspicious
    }

    /// The CSV header, for writing it back out.
    pub fn headers(&self) -> Option<&csv::ByteRecord> {
        self.headers.as_ref()
    }

    /// The next row; `Err` only for I/O failures (a malformed row is a `Row` with `malformed`).
    pub fn next_row(&mut self) -> Option<Result<Row, CliError>> {
        match &mut self.source {
            Source::Csv {
                reader,
                idcard,
                mobile,
                width,
            } => {
                let mut record = csv::ByteRecord::new();
                match reader.read_byte_record(&mut record) {
                    Ok(false) => None,
                    Ok(true) => {
                        self.number += 1;
                        if record.iter().any(|f| f.contains(&b'\n')) {
                            self.suspicious += 1;
                        }
                        Some(Ok(csv_row(self.number, record, *idcard, *mobile, *width)))
                    }
                    Err(e) => Some(Err(CliError::failure(format!(
                        "cannot read the input: {e}"
                    )))),
                }
            }
            Source::Jsonl { lines } => loop {
                let line = match lines.next()? {
                    Ok(line) => line,
                    Err(e) => {
                        return Some(Err(CliError::failure(format!(
                            "cannot read the input: {e}"
                        ))));
                    }
                };
                // A UTF-8 byte order mark on the first line is not part of the JSON.
                let bytes = match (self.number, line.strip_prefix(b"\xef\xbb\xbf")) {
                    (0, Some(rest)) => rest,
                    _ => &line[..],
                };
                if bytes.trim_ascii().is_empty() {
                    continue;
                }
                self.number += 1;
                let Ok(text) = std::str::from_utf8(bytes) else {
                    // Never replaced with U+FFFD: rejected, and written back as it came.
                    return Some(Ok(Row {
                        number: self.number,
                        idcard: None,
                        mobile: None,
                        malformed: Some("the line is not UTF-8 text (try --encoding gbk)".into()),
                        passthrough: Passthrough::RawBytes(bytes.trim_ascii().to_vec()),
                    }));
                };
                return Some(Ok(json_row(self.number, text.trim())));
            },
        }
    }
}

fn csv_row(
    number: u64,
    record: csv::ByteRecord,
    idcard: usize,
    mobile: usize,
    width: usize,
) -> Row {
    let field = |i: usize| {
        record
            .get(i)
            .map(|f| std::str::from_utf8(f).map(str::to_owned))
    };
    let mut malformed = None;
    if record.len() != width {
        malformed = Some(format!(
            "row has {} fields, the header has {width}",
            record.len()
        ));
    }
    let mut take = |i: usize, name: &str| match field(i) {
        Some(Ok(value)) => Some(value),
        Some(Err(_)) => {
            malformed.get_or_insert_with(|| format!("the {name} field is not UTF-8 text"));
            None
        }
        None => {
            malformed.get_or_insert_with(|| format!("the row has no {name} field"));
            None
        }
    };
    let idcard = take(idcard, "idcard");
    let mobile = take(mobile, "mobile");
    Row {
        number,
        idcard,
        mobile,
        malformed,
        passthrough: Passthrough::Csv(record),
    }
}

fn json_value_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn json_row(number: u64, text: &str) -> Row {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => {
            // Keys match case-insensitively, as CSV headers do.
            let field = |name: &str| {
                map.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            };
            let idcard = json_value_text(field("idcard"));
            let mobile = json_value_text(field("mobile"));
            let malformed = match (&idcard, &mobile) {
                (None, _) => Some("no idcard string in the object".to_owned()),
                (_, None) => Some("no mobile string in the object".to_owned()),
                _ => None,
            };
            Row {
                number,
                idcard,
                mobile,
                malformed,
                passthrough: Passthrough::Json(map),
            }
        }
        parsed => Row {
            number,
            idcard: None,
            mobile: None,
            malformed: Some(
                if parsed.is_ok() {
                    "the line is not a JSON object"
                } else {
                    "the line is not valid JSON"
                }
                .into(),
            ),
            passthrough: Passthrough::RawLine(text.to_owned()),
        },
    }
}

/// Counts the records of a file (for the progress bar's total) without decoding them: CSV
/// records, or non-blank JSONL lines.
pub fn count_rows(path: &Path) -> Result<u64, CliError> {
    let file = File::open(path).map_err(|e| CliError::io("read", path, &e))?;
    let buffered = BufReader::with_capacity(256 * 1024, file);
    let read_error =
        |e: &dyn std::fmt::Display| CliError::failure(format!("cannot read the input: {e}"));
    let mut n = 0;
    match Format::of(path) {
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .has_headers(true)
                .from_reader(buffered);
            let mut record = csv::ByteRecord::new();
            while reader
                .read_byte_record(&mut record)
                .map_err(|e| read_error(&e))?
            {
                n += 1;
            }
        }
        Format::Jsonl => {
            for line in buffered.split(b'\n') {
                if !line.map_err(|e| read_error(&e))?.trim_ascii().is_empty() {
                    n += 1;
                }
            }
        }
    }
    Ok(n)
}
