//! Writing the output file: same format as the input, five columns added, written to
//! `<output>.partial` and renamed into place only when complete, so the output path never
//! holds a half-written file.
//!
//! Every row repeats the input record's bytes exactly (encoding, quoting, line end) and adds
//! our columns, encoded in the input's encoding: a CSV record gets `,status,…` before its line
//! end, a JSON object gets `"status":…` before its closing brace. Only a ragged CSV row (its
//! fields realigned) or a cell escaped by `--escape-formulas` is written field by field.
//!
//! An .xlsx output holds the input's columns, then ours, every cell a text cell (formatted as
//! text, so an ID edited later stays text; a text cell is never a formula, so
//! `--escape-formulas` has nothing to do). The file format cannot be appended to row by row:
//! the sheet is kept in memory and written to `<output>.partial` whole when the job is
//! complete. A job that stops or crashes first leaves the `.partial` empty; its rows are in
//! the journal, and the rerun, which sends none of them again, writes the whole file.

use std::fs::File;
use std::io::{BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::encoding::Detected;
use crate::error::Error;
use crate::input::{Format, Header, Passthrough, Row};
use crate::journal::RowResult;
use crate::lock;

const EXTRA: [&str; 5] = ["status", "res", "order_id", "error_code", "reason"];

/// The first characters that make a spreadsheet read a cell as a formula (OWASP, "CSV
/// Injection"): `=`, `+`, `-`, `@`, tab and carriage return.
const FORMULA_START: [u8; 6] = [b'=', b'+', b'-', b'@', b'\t', b'\r'];

fn is_formula(field: &[u8]) -> bool {
    field.first().is_some_and(|b| FORMULA_START.contains(b))
}

/// An .xlsx output being put together: its one sheet, in memory until the job is complete.
struct Book {
    sheet: rust_xlsxwriter::Worksheet,
    /// Every cell's format: text (`@`).
    text: rust_xlsxwriter::Format,
    /// The next row of the sheet (0 is the header).
    row: u32,
}

pub(crate) struct OutputWriter {
    file: BufWriter<File>,
    /// The sheet, when the output is .xlsx.
    book: Option<Book>,
    format: Format,
    /// The CSV header's width: the added columns follow it.
    width: usize,
    partial: PathBuf,
    target: PathBuf,
    /// The added column/key names, with `--prefix`.
    names: [String; 5],
    encoding: Detected,
    /// `--escape-formulas`.
    escape: bool,
    /// The line being put together.
    line: Vec<u8>,
}

fn added_name_clash(name: &str, place: &str) -> Error {
    Error::NameClash {
        name: name.to_owned(),
        place: place.to_owned(),
    }
}

/// Fails (before the row is sent) when a JSONL object has a key batch would overwrite.
pub(crate) fn check_keys(passthrough: &Passthrough, prefix: &str, line: u64) -> Result<(), Error> {
    if let Passthrough::Json(map) = passthrough {
        let names = EXTRA.map(|name| format!("{prefix}{name}"));
        if let Some(key) = map.keys().find(|k| names.contains(k)) {
            return Err(added_name_clash(key, &format!("key on line {line}")));
        }
    }
    Ok(())
}

fn write_error(path: &Path, e: impl Into<juhe_2fa::BoxError>) -> Error {
    Error::write(path, e)
}

/// `<output>.partial`: where the output is written until it is complete.
pub(crate) fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_owned();
    name.push(".partial");
    target.with_file_name(name)
}

/// Creates `path` anew (`O_EXCL | O_NOFOLLOW`, 0600: it holds identity data), locked against
/// another run writing the same output. Whatever is already there — a leftover of ours, a
/// planted link — is removed first, never written through; another user's file is refused.
fn create_private(path: &Path) -> Result<File, Error> {
    for _ in 0..3 {
        match lock::create_new_private(path, false) {
            Ok(file) => {
                file.try_lock().map_err(|e| Error::Lock {
                    path: path.to_owned(),
                    source: Box::new(e),
                })?;
                return Ok(file);
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => remove_stale(path)?,
            Err(e) => return Err(Error::file("create", path, e)),
        }
    }
    Err(Error::Reappearing {
        path: path.to_owned(),
    })
}

/// Removes what a stopped run (or someone else) left at `path`, unless it is another user's or
/// another run is writing it.
fn remove_stale(path: &Path) -> Result<(), Error> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::file("inspect", path, e)),
    };
    if let Some(uid) = lock::foreign_owner(&meta) {
        return Err(Error::Foreign {
            path: path.to_owned(),
            uid,
        });
    }
    // A regular file of ours: in use if another run holds its lock.
    if meta.is_file()
        && let Ok(file) = lock::open_existing(path)
        && matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
    {
        return Err(Error::Busy {
            path: path.to_owned(),
        });
    }
    std::fs::remove_file(path).map_err(|e| Error::file("remove the leftover", path, e))
}

/// The added values of a row, as text.
fn added_values(outcome: &RowResult) -> [String; 5] {
    [
        outcome.status.as_str().to_owned(),
        outcome.res.map(|r| r.to_string()).unwrap_or_default(),
        outcome.order_id.clone().unwrap_or_default(),
        outcome
            .error_code
            .map(|c| c.code().to_string())
            .unwrap_or_default(),
        outcome.reason.clone().unwrap_or_default(),
    ]
}

impl OutputWriter {
    /// Creates `<target>.partial` and writes the header (with the added names) into it.
    pub fn create(
        target: &Path,
        format: Format,
        headers: Option<&Header>,
        prefix: &str,
        encoding: Detected,
        escape_formulas: bool,
    ) -> Result<OutputWriter, Error> {
        let names = EXTRA.map(|name| format!("{prefix}{name}"));
        if let Some(clash) = headers.and_then(|h| {
            h.names
                .iter()
                .find(|h| names.iter().any(|n| n.eq_ignore_ascii_case(h)))
        }) {
            return Err(added_name_clash(clash, "column"));
        }
        let partial = partial_path(target);
        let file = create_private(&partial)?;
        let mut writer = OutputWriter {
            file: BufWriter::with_capacity(256 * 1024, file),
            book: None,
            format: match headers {
                Some(_) => format,
                None => Format::Jsonl,
            },
            width: headers.map_or(0, |h| h.fields.len()),
            partial,
            target: target.to_owned(),
            names,
            encoding,
            escape: escape_formulas,
            line: Vec::new(),
        };
        if format == Format::Xlsx {
            let Some(header) = headers else {
                return Err(write_error(
                    &writer.partial,
                    "an .xlsx output needs an input with a header",
                ));
            };
            let mut book = Book {
                sheet: rust_xlsxwriter::Worksheet::new(),
                text: rust_xlsxwriter::Format::new().set_num_format("@"),
                row: 0,
            };
            let names: Vec<String> = header
                .fields
                .iter()
                .map(|f| encoding.decode_lossy(f).into_owned())
                .chain(writer.names.iter().cloned())
                .collect();
            book.put(names, &writer.partial)?;
            writer.book = Some(book);
            return Ok(writer);
        }
        if encoding.bom {
            writer
                .file
                .write_all(b"\xef\xbb\xbf")
                .map_err(|e| write_error(&writer.partial, e))?;
        }
        if let (Format::Csv, Some(header)) = (format, headers) {
            let names = writer.names.clone();
            // An .xlsx sheet's header row has no bytes of its own: a line end of ours.
            let line_end = if header.raw.is_empty() {
                b"\n"
            } else {
                header.line_end
            };
            writer.csv_line(&header.fields, &header.raw, &names, line_end)?;
        }
        Ok(writer)
    }

    /// `fields`, quoted as needed, joined by commas, appended to the line (no line end).
    fn quote_fields<'a>(
        &mut self,
        fields: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(), Error> {
        let escape = self.escape;
        let mut record = csv::ByteRecord::new();
        for field in fields {
            if escape && is_formula(field) {
                let mut escaped = Vec::with_capacity(field.len() + 1);
                escaped.push(b'\'');
                escaped.extend_from_slice(field);
                record.push_field(&escaped);
            } else {
                record.push_field(field);
            }
        }
        let start = self.line.len();
        let mut quoting = csv::WriterBuilder::new()
            .flexible(true)
            .buffer_capacity(1024)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(&mut self.line);
        quoting
            .write_byte_record(&record)
            .and_then(|()| quoting.flush().map_err(csv::Error::from))
            .map_err(|e| write_error(&self.partial, e))?;
        drop(quoting);
        if self.line.len() > start && self.line.last() == Some(&b'\n') {
            self.line.pop();
        }
        Ok(())
    }

    /// One CSV line: the record's own bytes when its fields line up with the header (and no
    /// cell needs escaping), else its fields realigned; then the added values.
    fn csv_line(
        &mut self,
        record: &csv::ByteRecord,
        raw: &[u8],
        added: &[String; 5],
        line_end: &[u8],
    ) -> Result<(), Error> {
        self.line.clear();
        let added: Vec<Vec<u8>> = added
            .iter()
            .map(|v| self.encoding.encode(v).into_owned())
            .collect();
        let exact = record.len() == self.width
            && !raw.is_empty()
            && !(self.escape && record.iter().any(is_formula));
        if exact {
            self.line.extend_from_slice(raw);
            self.line.push(b',');
            self.quote_fields(added.iter().map(Vec::as_slice))?;
        } else {
            // The added columns always follow the header's width: short (malformed) rows are
            // padded, the overflow of long ones moves after the added columns.
            let width = self.width;
            let fields = (0..width)
                .map(|i| record.get(i).unwrap_or_default())
                .chain(added.iter().map(Vec::as_slice))
                .chain(record.iter().skip(width));
            self.quote_fields(fields)?;
        }
        self.line.extend_from_slice(line_end);
        self.file
            .write_all(&self.line)
            .map_err(|e| write_error(&self.partial, e))
    }

    /// The added keys as JSON members (`"status":"match",…`), in the output's encoding.
    fn json_members(&self, outcome: &RowResult) -> Result<Vec<u8>, Error> {
        let [status, res, order_id, error_code, reason] = &self.names;
        let mut object = serde_json::Map::new();
        object.insert(status.clone(), json!(outcome.status.as_str()));
        object.insert(res.clone(), json!(outcome.res));
        object.insert(order_id.clone(), json!(outcome.order_id));
        object.insert(error_code.clone(), json!(outcome.error_code));
        object.insert(reason.clone(), json!(outcome.reason));
        let text = serde_json::to_string(&object).map_err(|e| write_error(&self.partial, e))?;
        let inner = &text[1..text.len() - 1];
        Ok(self.encoding.encode(inner).into_owned())
    }

    /// One JSON line: the input object's own bytes with our keys before its closing brace;
    /// a line that is not an object is carried in an `input` (or, when its bytes would not
    /// come back exactly, `input_base64`) key.
    fn json_line(&mut self, row: &Row, outcome: &RowResult) -> Result<(), Error> {
        let members = self.json_members(outcome)?;
        self.line.clear();
        let close = match &row.passthrough {
            Passthrough::Json(_) => row.raw.iter().rposition(|&b| b == b'}'),
            _ => None,
        };
        match (&row.passthrough, close) {
            (Passthrough::Json(map), Some(close)) => {
                self.line.extend_from_slice(&row.raw[..close]);
                if !map.is_empty() {
                    self.line.push(b',');
                }
                self.line.extend_from_slice(&members);
                self.line.extend_from_slice(&row.raw[close..]);
            }
            (passthrough, _) => {
                let mut object = serde_json::Map::new();
                let trimmed = row.raw.trim_ascii();
                match passthrough {
                    Passthrough::Json(map) => object = map.clone(),
                    Passthrough::RawLine(text) if *self.encoding.encode(text) == *trimmed => {
                        object.insert("input".into(), Value::String(text.clone()));
                    }
                    // Not text in its encoding: carried as base64 so no byte is lost or replaced.
                    Passthrough::RawLine(_) => {
                        object.insert("input_base64".into(), base64_value(trimmed));
                    }
                    Passthrough::RawBytes(bytes) => {
                        object.insert("input_base64".into(), base64_value(bytes));
                    }
                    Passthrough::Csv(_) | Passthrough::Cells(_) => {}
                }
                let text =
                    serde_json::to_string(&object).map_err(|e| write_error(&self.partial, e))?;
                let open = &text[..text.len() - 1];
                self.line.extend_from_slice(&self.encoding.encode(open));
                if !object.is_empty() {
                    self.line.push(b',');
                }
                self.line.extend_from_slice(&members);
                self.line.push(b'}');
            }
        }
        self.line.extend_from_slice(row.line_end);
        self.file
            .write_all(&self.line)
            .map_err(|e| write_error(&self.partial, e))
    }

    /// One row: its bytes as they came, and its result.
    pub fn write(&mut self, row: &Row, outcome: &RowResult) -> Result<(), Error> {
        match (self.format, &row.passthrough) {
            (Format::Csv, Passthrough::Csv(record)) => {
                let added = added_values(outcome);
                self.csv_line(record, &row.raw, &added, row.line_end)
            }
            // An .xlsx row to CSV: its cells, quoted as needed, in the output's encoding.
            (Format::Csv, Passthrough::Cells(cells)) => {
                let added = added_values(outcome);
                let record: csv::ByteRecord = cells
                    .iter()
                    .map(|c| self.encoding.encode(c).into_owned())
                    .collect();
                self.csv_line(&record, &[], &added, b"\n")
            }
            (Format::Xlsx, passthrough) => {
                let cells: Vec<String> = match passthrough {
                    Passthrough::Csv(record) => record
                        .iter()
                        .map(|f| self.encoding.decode_lossy(f).into_owned())
                        .collect(),
                    Passthrough::Cells(cells) => cells.clone(),
                    _ => {
                        return Err(write_error(&self.partial, "a JSON row for an .xlsx output"));
                    }
                };
                // As in CSV: the added columns follow the header's width; a long row's
                // overflow moves after them.
                let width = self.width;
                let (within, overflow) = cells.split_at(cells.len().min(width));
                let mut line: Vec<String> = within.to_vec();
                line.resize(width, String::new());
                line.extend(added_values(outcome));
                line.extend_from_slice(overflow);
                let partial = self.partial.clone();
                match &mut self.book {
                    Some(book) => book.put(line, &partial),
                    None => Err(write_error(&partial, "the .xlsx sheet is missing")),
                }
            }
            (Format::Jsonl, _) => self.json_line(row, outcome),
            (Format::Csv, _) => Err(write_error(&self.partial, "a JSON row for a CSV output")),
        }
    }

    /// Flushes, syncs and renames the finished file into place (an .xlsx output is written
    /// whole now).
    pub fn finish(mut self) -> Result<(), Error> {
        if let Some(book) = self.book.take() {
            let mut workbook = rust_xlsxwriter::Workbook::new();
            workbook.push_worksheet(book.sheet);
            workbook
                .save_to_writer(&mut self.file)
                .map_err(|e| write_error(&self.partial, e))?;
        }
        let file = self
            .file
            .into_inner()
            .map_err(|e| write_error(&self.partial, e.into_error()))?;
        file.sync_all().map_err(|e| write_error(&self.partial, e))?;
        std::fs::rename(&self.partial, &self.target).map_err(|e| write_error(&self.target, e))
    }

    /// Drops an incomplete output (the job stopped early): the next run writes it whole.
    pub fn abandon(self) -> Result<(), Error> {
        drop(self.file);
        std::fs::remove_file(&self.partial).map_err(|e| write_error(&self.partial, e))
    }
}

impl Book {
    /// Appends one row of text cells.
    fn put(&mut self, cells: Vec<String>, partial: &Path) -> Result<(), Error> {
        for (col, text) in cells.into_iter().enumerate() {
            let col = u16::try_from(col).map_err(|_| write_error(partial, "too many columns"))?;
            self.sheet
                .write_string_with_format(self.row, col, text, &self.text)
                .map_err(|e| write_error(partial, e))?;
        }
        self.row += 1;
        Ok(())
    }
}

fn base64_value(bytes: &[u8]) -> Value {
    use base64::Engine as _;
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}
