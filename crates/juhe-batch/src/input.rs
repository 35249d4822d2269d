//! Reading input files row by row: CSV with a header naming `idcard` and `mobile` (other
//! columns pass through), JSONL when the name ends in `.jsonl`, or a sheet of an Excel
//! workbook when it ends in `.xlsx` (header row as for CSV).
//!
//! Each CSV or JSONL row keeps its bytes as they were in the file (`Row::raw`) and its line
//! end, so the output repeats them exactly: only the fields we read are decoded. An .xlsx row
//! keeps its cells as text.
//!
//! In an .xlsx sheet, the `idcard` and `mobile` cells must be text cells. Excel keeps 15
//! significant digits of a number, so an 18-digit ID typed into a number cell has already lost
//! its last digits (`1.10105E+17`): such a row is rejected, never padded or guessed. A mobile
//! in a number cell is rejected too, even when its value is an exact 11-digit integer: one rule
//! for both columns, and the fix (format the column as text) is the same.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use calamine::Data;
use juhe_2fa::{IdCard, Mobile};
use serde_json::{Map, Value};

use crate::encoding::{Detected, Encoding};
use crate::error::Error;
use crate::messages::Malformed;

/// The file format, from the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header line.
    Csv,
    /// JSON Lines: one object per line.
    Jsonl,
    /// An Excel workbook (Office Open XML): one sheet, its first row the header.
    Xlsx,
}

impl Format {
    /// JSON Lines when the name ends in `.jsonl`, an Excel workbook when it ends in `.xlsx`
    /// (any case), else CSV.
    pub fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("jsonl") => Format::Jsonl,
            Some(ext) if ext.eq_ignore_ascii_case("xlsx") => Format::Xlsx,
            _ => Format::Csv,
        }
    }
}

/// What a row carries besides the two numbers, to write it back out unchanged. Its `Debug`
/// shows its shape, never its contents (they hold the numbers).
#[derive(Clone)]
pub enum Passthrough {
    /// A CSV record's fields, as bytes.
    Csv(csv::ByteRecord),
    /// A JSON object's members, in their order.
    Json(Map<String, Value>),
    /// A JSONL line that is not a JSON object.
    RawLine(String),
    /// A JSONL line that is not UTF-8: kept byte for byte.
    RawBytes(Vec<u8>),
    /// An .xlsx row's cells as text, one per header column.
    Cells(Vec<String>),
}

/// One input record. Its `Debug` masks the numbers and leaves out the record's bytes.
#[derive(Clone)]
pub struct Row {
    /// 1-based record number (the CSV header is not counted; in an .xlsx sheet, blank rows
    /// are not counted either, as blank CSV lines are not).
    pub number: u64,
    /// The `idcard` field as written, when the row has one in the input's encoding.
    pub idcard: Option<String>,
    /// The `mobile` field as written, when the row has one in the input's encoding.
    pub mobile: Option<String>,
    /// Why the row could not be read as a pair, if so.
    pub malformed: Option<Malformed>,
    /// When `malformed` is about the `idcard` field and the `mobile` field could not be read
    /// either (an .xlsx row with both stored as numbers), why: `check` names each field.
    pub mobile_malformed: Option<Malformed>,
    /// The whole record, to write it back out.
    pub passthrough: Passthrough,
    /// The record's bytes as they were in the file, without its line end (empty for .xlsx).
    pub raw: Vec<u8>,
    /// The record's line end in the file: `\r\n`, `\n`, `\r`, or nothing (the last line).
    pub line_end: &'static [u8],
}

impl fmt::Debug for Passthrough {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Passthrough::Csv(record) => write!(f, "Csv({} fields)", record.len()),
            Passthrough::Json(map) => write!(f, "Json({} members)", map.len()),
            Passthrough::RawLine(text) => write!(f, "RawLine({} bytes)", text.len()),
            Passthrough::RawBytes(bytes) => write!(f, "RawBytes({} bytes)", bytes.len()),
            Passthrough::Cells(cells) => write!(f, "Cells({} cells)", cells.len()),
        }
    }
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A number that parses shows masked; one that does not, only its length.
        let idcard = self.idcard.as_deref().map(|text| {
            IdCard::parse(text).map_or_else(
                |_| format!("<{} chars>", text.chars().count()),
                |i| i.masked(),
            )
        });
        let mobile = self.mobile.as_deref().map(|text| {
            Mobile::parse(text).map_or_else(
                |_| format!("<{} chars>", text.chars().count()),
                |m| m.masked(),
            )
        });
        f.debug_struct("Row")
            .field("number", &self.number)
            .field("idcard", &idcard)
            .field("mobile", &mobile)
            .field("malformed", &self.malformed)
            .field("mobile_malformed", &self.mobile_malformed)
            .field("passthrough", &self.passthrough)
            .field("raw", &format_args!("<{} bytes>", self.raw.len()))
            .field("line_end", &self.line_end)
            .finish()
    }
}

/// The CSV header (or an .xlsx sheet's header row): its fields, and its bytes and line end as
/// they were in the file (none for .xlsx).
#[derive(Debug, Clone)]
pub struct Header {
    /// The header's fields, as bytes.
    pub fields: csv::ByteRecord,
    /// The header names decoded (invalid bytes replaced), for comparing with ours.
    pub names: Vec<String>,
    /// The header line's bytes as they were in the file, without its line end.
    pub raw: Vec<u8>,
    /// The header line's line end in the file.
    pub line_end: &'static [u8],
}

/// Any byte source: a file, a pipe, or bytes in memory.
type Input = BufReader<Box<dyn Read + Send>>;

enum Source {
    Csv {
        reader: Box<csv::Reader<Tee>>,
        idcard: usize,
        mobile: usize,
        width: usize,
    },
    Jsonl {
        lines: Input,
    },
    Xlsx(Sheet),
}

/// An .xlsx sheet, read whole (the reader loads it: Excel caps a sheet at 1,048,576 rows), and
/// where the next row is.
struct Sheet {
    range: calamine::Range<Data>,
    /// The next row of `range`, relative to its start (row 0 is the header).
    next: usize,
    idcard: usize,
    mobile: usize,
}

/// What a missing cell reads as.
static EMPTY: Data = Data::Empty;

impl Sheet {
    /// The cells of row `r` (relative), one per column of the range.
    fn cells(&self, r: usize) -> impl Iterator<Item = &Data> {
        (0..self.range.width()).map(move |c| self.range.get((r, c)).unwrap_or(&EMPTY))
    }

    /// A row with no cell holding anything: skipped, as a blank CSV line is.
    fn blank(&self, r: usize) -> bool {
        self.cells(r).all(|cell| cell_text(cell).trim().is_empty())
    }

    /// Rows after the header that are not blank.
    fn count(&self) -> u64 {
        (1..self.range.height()).filter(|&r| !self.blank(r)).count() as u64
    }
}

/// A cell as text, for the columns that pass through: as Excel's value reads (a number as
/// its shortest decimal, a date as its serial number).
fn cell_text(cell: &Data) -> String {
    cell.to_string()
}

/// The `idcard` or `mobile` cell's text. Only a text cell is taken: a number cell has
/// already lost what Excel cannot hold (see the module's docs).
fn number_cell(cell: &Data, column: &'static str) -> Result<String, Malformed> {
    let kind = match cell {
        Data::String(text) | Data::DateTimeIso(text) | Data::DurationIso(text) => {
            return Ok(text.clone());
        }
        Data::Empty => return Ok(String::new()),
        Data::Int(_) | Data::Float(_) => return Err(Malformed::NumberCell { column }),
        Data::Bool(_) => "bool",
        Data::DateTime(_) => "date",
        Data::Error(_) => "error",
    };
    Err(Malformed::NotTextCell { column, kind })
}

/// Streams rows from a file; memory stays flat whatever its size.
pub struct RowReader {
    source: Source,
    headers: Option<Header>,
    encoding: Detected,
    number: u64,
    suspicious: u64,
}

/// The bytes handed to the CSV parser, kept until the record they belong to has been taken,
/// so a record's bytes can be copied out exactly as they were (the parser only gives its
/// fields, unquoted). Holds about one read-ahead chunk, whatever the file's size.
struct Tee {
    inner: Box<dyn Read + Send>,
    buf: Vec<u8>,
    /// The stream offset of `buf[0]`.
    base: u64,
    /// How much of `buf` the parser has been given.
    served: usize,
}

const TEE_CHUNK: usize = 64 * 1024;

impl Tee {
    /// Reads one more chunk; false at the end of the input.
    fn fill(&mut self) -> std::io::Result<bool> {
        let len = self.buf.len();
        self.buf.resize(len + TEE_CHUNK, 0);
        let n = loop {
            match self.inner.read(&mut self.buf[len..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.truncate(len);
                    return Err(e);
                }
            }
        };
        self.buf.truncate(len + n);
        Ok(n > 0)
    }

    /// The byte at stream offset `at`, reading ahead if needed (the parser gets it later).
    fn byte_at(&mut self, at: u64) -> std::io::Result<Option<u8>> {
        let i = (at - self.base) as usize;
        while i >= self.buf.len() {
            if !self.fill()? {
                return Ok(None);
            }
        }
        Ok(Some(self.buf[i]))
    }

    /// Stream offsets `from..to` (kept: never released past `from`).
    fn slice(&self, from: u64, to: u64) -> &[u8] {
        &self.buf[(from - self.base) as usize..(to - self.base) as usize]
    }

    /// Forgets the bytes before stream offset `upto` (in large steps: cheap per record).
    fn release(&mut self, upto: u64) {
        let done = ((upto - self.base) as usize).min(self.served);
        if done >= TEE_CHUNK && done * 2 >= self.buf.len() {
            self.buf.drain(..done);
            self.base += done as u64;
            self.served -= done;
        }
    }
}

impl Read for Tee {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.served == self.buf.len() && !self.fill()? {
            return Ok(0);
        }
        let n = out.len().min(self.buf.len() - self.served);
        out[..n].copy_from_slice(&self.buf[self.served..self.served + n]);
        self.served += n;
        Ok(n)
    }
}

/// A CSV record's bytes (`from..to` as the parser reports them: a `\n` left from the previous
/// record's `\r\n`, or blank lines, may come first; its own line end, if any, comes last)
/// split into the record and its line end.
fn raw_record(tee: &mut Tee, from: u64, to: u64) -> std::io::Result<(Vec<u8>, &'static [u8])> {
    // A CR ends the record for the parser; whether an LF follows decides CRLF or CR.
    let crlf = tee.slice(from, to).last() == Some(&b'\r') && tee.byte_at(to)? == Some(b'\n');
    let bytes = tee.slice(from, to);
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(bytes.len());
    let bytes = &bytes[start..];
    let (record, line_end): (&[u8], &'static [u8]) = match bytes.split_last() {
        Some((b'\n', rest)) => (rest, b"\n"),
        Some((b'\r', rest)) if crlf => (rest, b"\r\n"),
        Some((b'\r', rest)) => (rest, b"\r"),
        _ => (bytes, b""),
    };
    let record = record.to_vec();
    tee.release(to);
    Ok((record, line_end))
}

fn header_name(text: &str) -> String {
    text.trim_start_matches('\u{feff}')
        .trim()
        .to_ascii_lowercase()
}

impl RowReader {
    /// Opens a file in its encoding (`Auto` finds it), and says what it turned out to be. An
    /// .xlsx workbook is read from its first sheet (its text is Unicode: `encoding` does not
    /// apply).
    pub fn open(path: &Path, encoding: Encoding) -> Result<(RowReader, Detected), Error> {
        RowReader::open_sheet(path, encoding, None)
    }

    /// As [`RowReader::open`], reading the sheet named `sheet` of an .xlsx workbook (`None`:
    /// the first). Naming a sheet for another format is an error.
    pub fn open_sheet(
        path: &Path,
        encoding: Encoding,
        sheet: Option<&str>,
    ) -> Result<(RowReader, Detected), Error> {
        if Format::of(path) == Format::Xlsx {
            let unicode = Detected {
                gbk: false,
                bom: false,
            };
            return Ok((RowReader::from_workbook(path, sheet)?, unicode));
        }
        if sheet.is_some() {
            return Err(Error::NotWorkbook {
                path: path.to_owned(),
            });
        }
        let file = File::open(path).map_err(|e| Error::file("read", path, e))?;
        let (bytes, detected) = crate::encoding::sniff_input(Box::new(file), encoding, path)?;
        Ok((
            RowReader::from_reader(bytes, Format::of(path), path, detected)?,
            detected,
        ))
    }

    /// The sheet `sheet` (or the first) of the .xlsx workbook at `path`, its first row the
    /// header.
    fn from_workbook(path: &Path, sheet: Option<&str>) -> Result<RowReader, Error> {
        use calamine::Reader as _;
        let unreadable = |e: calamine::XlsxError| Error::Workbook {
            path: path.to_owned(),
            source: e.into(),
        };
        let file = File::open(path).map_err(|e| Error::file("read", path, e))?;
        let mut book = calamine::Xlsx::new(BufReader::new(file)).map_err(unreadable)?;
        let available = book.sheet_names();
        let name = match sheet {
            // Excel's sheet names are unique whatever their case.
            Some(wanted) => available.iter().find(|n| *n == wanted).or_else(|| {
                available
                    .iter()
                    .find(|n| n.to_lowercase() == wanted.to_lowercase())
            }),
            None => available.first(),
        };
        let Some(name) = name.cloned() else {
            return Err(Error::NoSheet {
                path: path.to_owned(),
                name: sheet.map(str::to_owned),
                available,
            });
        };
        let range = book.worksheet_range(&name).map_err(unreadable)?;
        let texts: Vec<String> = if range.is_empty() {
            Vec::new()
        } else {
            (0..range.width())
                .map(|c| range.get((0, c)).map(cell_text).unwrap_or_default())
                .collect()
        };
        let names: Vec<String> = texts.iter().map(|t| header_name(t)).collect();
        let find = |name: &str| names.iter().position(|n| n == name);
        let (Some(idcard), Some(mobile)) = (find("idcard"), find("mobile")) else {
            let missing: Vec<&str> = ["idcard", "mobile"]
                .into_iter()
                .filter(|n| find(n).is_none())
                .collect();
            return Err(Error::MissingColumns {
                path: path.to_owned(),
                missing,
            });
        };
        let fields: csv::ByteRecord = texts.iter().map(String::as_bytes).collect();
        Ok(RowReader {
            source: Source::Xlsx(Sheet {
                range,
                next: 1,
                idcard,
                mobile,
            }),
            headers: Some(Header {
                fields,
                names,
                raw: Vec::new(),
                line_end: b"",
            }),
            encoding: Detected {
                gbk: false,
                bom: false,
            },
            number: 0,
            suspicious: 0,
        })
    }

    /// The rows an .xlsx sheet holds (after its header, blank rows not counted); `None` for
    /// the other formats, which [`count_rows`] counts.
    pub(crate) fn sheet_rows(&self) -> Option<u64> {
        match &self.source {
            Source::Xlsx(sheet) => Some(sheet.count()),
            _ => None,
        }
    }

    /// Rows from any byte source in `encoding` (after any BOM); `path` only names it in
    /// messages. An .xlsx workbook cannot be streamed: open it with [`RowReader::open`].
    pub fn from_reader(
        input: Box<dyn Read + Send>,
        format: Format,
        path: &Path,
        encoding: Detected,
    ) -> Result<RowReader, Error> {
        match format {
            Format::Xlsx => Err(Error::Workbook {
                path: path.to_owned(),
                source: "an .xlsx workbook is read from a file, not a stream".into(),
            }),
            Format::Jsonl => Ok(RowReader {
                source: Source::Jsonl {
                    lines: BufReader::with_capacity(256 * 1024, input),
                },
                headers: None,
                encoding,
                number: 0,
                suspicious: 0,
            }),
            Format::Csv => {
                let tee = Tee {
                    inner: input,
                    buf: Vec::with_capacity(TEE_CHUNK * 2),
                    base: 0,
                    served: 0,
                };
                let mut reader = csv::ReaderBuilder::new()
                    .flexible(true)
                    .has_headers(true)
                    .from_reader(tee);
                let unreadable = |e: juhe_2fa::BoxError| Error::Header {
                    path: path.to_owned(),
                    source: e,
                };
                let fields = reader
                    .byte_headers()
                    .map_err(|e| unreadable(e.into()))?
                    .clone();
                let end = reader.position().byte();
                let (raw, line_end) =
                    raw_record(reader.get_mut(), 0, end).map_err(|e| unreadable(e.into()))?;
                let names: Vec<String> = fields
                    .iter()
                    .map(|f| header_name(&encoding.decode_lossy(f)))
                    .collect();
                let find = |name: &str| names.iter().position(|n| n == name);
                let (Some(idcard), Some(mobile)) = (find("idcard"), find("mobile")) else {
                    let missing: Vec<&str> = ["idcard", "mobile"]
                        .into_iter()
                        .filter(|n| find(n).is_none())
                        .collect();
                    return Err(Error::MissingColumns {
                        path: path.to_owned(),
                        missing,
                    });
                };
                let width = fields.len();
                Ok(RowReader {
                    source: Source::Csv {
                        reader: Box::new(reader),
                        idcard,
                        mobile,
                        width,
                    },
                    headers: Some(Header {
                        fields,
                        names,
                        raw,
                        line_end,
                    }),
                    encoding,
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
    pub fn headers(&self) -> Option<&Header> {
        self.headers.as_ref()
    }

    /// The next row; `Err` only for I/O failures (a malformed row is a `Row` with `malformed`).
    pub fn next_row(&mut self) -> Option<Result<Row, Error>> {
        match &mut self.source {
            Source::Csv {
                reader,
                idcard,
                mobile,
                width,
            } => {
                let columns = Columns {
                    idcard: *idcard,
                    mobile: *mobile,
                    width: *width,
                };
                let counters = (&mut self.number, &mut self.suspicious);
                next_csv(reader, columns, counters, self.encoding)
            }
            Source::Jsonl { lines } => next_jsonl(lines, &mut self.number, self.encoding),
            Source::Xlsx(sheet) => next_sheet_row(sheet, &mut self.number).map(Ok),
        }
    }
}

/// The next CSV record as a row, counting it (and, if a field spans lines, as suspicious).
fn next_csv(
    reader: &mut csv::Reader<Tee>,
    columns: Columns,
    (number, suspicious): (&mut u64, &mut u64),
    encoding: Detected,
) -> Option<Result<Row, Error>> {
    let mut record = csv::ByteRecord::new();
    match reader.read_byte_record(&mut record) {
        Ok(false) => None,
        Ok(true) => {
            *number += 1;
            if record.iter().any(|f| f.contains(&b'\n')) {
                *suspicious += 1;
            }
            let from = record.position().map_or(0, csv::Position::byte);
            let to = reader.position().byte();
            let (raw, line_end) = match raw_record(reader.get_mut(), from, to) {
                Ok(raw) => raw,
                Err(e) => return Some(Err(Error::read(e))),
            };
            let mut row = csv_row(*number, record, columns, encoding);
            row.raw = raw;
            row.line_end = line_end;
            Some(Ok(row))
        }
        Err(e) => Some(Err(Error::read(e))),
    }
}

/// The next non-blank row of an .xlsx sheet, counting it.
fn next_sheet_row(sheet: &mut Sheet, number: &mut u64) -> Option<Row> {
    while sheet.next < sheet.range.height() {
        let r = sheet.next;
        sheet.next += 1;
        if sheet.blank(r) {
            continue;
        }
        *number += 1;
        let cells: Vec<&Data> = sheet.cells(r).collect();
        let (idcard, id_problem) = split(number_cell(cells[sheet.idcard], "idcard"));
        let (mobile, mobile_problem) = split(number_cell(cells[sheet.mobile], "mobile"));
        let (malformed, mobile_malformed) = problems(id_problem, mobile_problem);
        return Some(Row {
            number: *number,
            idcard,
            mobile,
            malformed,
            mobile_malformed,
            passthrough: Passthrough::Cells(cells.into_iter().map(cell_text).collect()),
            raw: Vec::new(),
            line_end: b"",
        });
    }
    None
}

/// The next non-blank JSON Lines line as a row, counting it.
fn next_jsonl(
    lines: &mut Input,
    number: &mut u64,
    encoding: Detected,
) -> Option<Result<Row, Error>> {
    loop {
        let mut line = Vec::new();
        match lines.read_until(b'\n', &mut line) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => return Some(Err(Error::read(e))),
        }
        let line_end: &'static [u8] = if line.ends_with(b"\r\n") {
            b"\r\n"
        } else if line.ends_with(b"\n") {
            b"\n"
        } else {
            b""
        };
        line.truncate(line.len() - line_end.len());
        // A UTF-8 byte order mark on the first line is not part of the JSON.
        if *number == 0 && line.starts_with(b"\xef\xbb\xbf") {
            line.drain(..3);
        }
        if line.trim_ascii().is_empty() {
            continue;
        }
        *number += 1;
        let mut row = match encoding.decode(&line) {
            Some(text) => json_row(*number, text.trim()),
            // GBK bytes that are not GBK: read as well as can be, written back as they were.
            None if encoding.gbk => json_row(*number, encoding.decode_lossy(&line).trim()),
            // Never replaced with U+FFFD: rejected, and written back as it came.
            None => Row {
                number: *number,
                idcard: None,
                mobile: None,
                malformed: Some(Malformed::NotUtf8),
                mobile_malformed: None,
                passthrough: Passthrough::RawBytes(line.trim_ascii().to_vec()),
                raw: Vec::new(),
                line_end: b"",
            },
        };
        row.raw = line;
        row.line_end = line_end;
        return Some(Ok(row));
    }
}

/// Where the two numbers are in a CSV record, and how many fields the header has.
#[derive(Clone, Copy)]
struct Columns {
    idcard: usize,
    mobile: usize,
    width: usize,
}

fn csv_row(number: u64, record: csv::ByteRecord, columns: Columns, encoding: Detected) -> Row {
    let Columns {
        idcard,
        mobile,
        width,
    } = columns;
    let field = |i: usize| {
        record
            .get(i)
            .map(|f| encoding.decode(f).map(|t| t.into_owned()).ok_or(()))
    };
    let take = |i: usize, column: &'static str| match field(i) {
        Some(Ok(value)) => Ok(value),
        Some(Err(())) => Err(Malformed::NotText {
            column,
            encoding: encoding.name(),
        }),
        None => Err(Malformed::NoField { column }),
    };
    let (idcard, id_problem) = split(take(idcard, "idcard"));
    let (mobile, mobile_problem) = split(take(mobile, "mobile"));
    let (mut malformed, mut mobile_malformed) = problems(id_problem, mobile_problem);
    if record.len() != width {
        // The whole record is off: that is its reason, before either field's.
        malformed = Some(Malformed::FieldCount {
            found: record.len(),
            width,
        });
        mobile_malformed = None;
    }
    Row {
        number,
        idcard,
        mobile,
        malformed,
        mobile_malformed,
        passthrough: Passthrough::Csv(record),
        raw: Vec::new(),
        line_end: b"",
    }
}

/// A field's text, or why it has none.
fn split(field: Result<String, Malformed>) -> (Option<String>, Option<Malformed>) {
    match field {
        Ok(text) => (Some(text), None),
        Err(problem) => (None, Some(problem)),
    }
}

/// `Row::malformed` and `Row::mobile_malformed` from each field's problem: the first is the
/// row's reason; the mobile's is kept apart only when the ID card has one too.
fn problems(
    idcard: Option<Malformed>,
    mobile: Option<Malformed>,
) -> (Option<Malformed>, Option<Malformed>) {
    match idcard {
        Some(idcard) => (Some(idcard), mobile),
        None => (mobile, None),
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
                (None, _) => Some(Malformed::NoJsonString { column: "idcard" }),
                (_, None) => Some(Malformed::NoJsonString { column: "mobile" }),
                _ => None,
            };
            Row {
                number,
                idcard,
                mobile,
                malformed,
                mobile_malformed: None,
                passthrough: Passthrough::Json(map),
                raw: Vec::new(),
                line_end: b"",
            }
        }
        parsed => Row {
            number,
            idcard: None,
            mobile: None,
            malformed: Some(if parsed.is_ok() {
                Malformed::NotJsonObject
            } else {
                Malformed::NotJson
            }),
            mobile_malformed: None,
            passthrough: Passthrough::RawLine(text.to_owned()),
            raw: Vec::new(),
            line_end: b"",
        },
    }
}

/// Counts the records of a file (for the progress bar's total) without decoding them: CSV
/// records, non-blank JSONL lines, or the non-blank rows of an .xlsx workbook's first sheet.
pub fn count_rows(path: &Path) -> Result<u64, Error> {
    if Format::of(path) == Format::Xlsx {
        let reader = RowReader::from_workbook(path, None)?;
        return Ok(reader.sheet_rows().unwrap_or_default());
    }
    let file = File::open(path).map_err(|e| Error::file("read", path, e))?;
    let buffered = BufReader::with_capacity(256 * 1024, file);
    let mut n = 0;
    match Format::of(path) {
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .has_headers(true)
                .from_reader(buffered);
            let mut record = csv::ByteRecord::new();
            while reader.read_byte_record(&mut record).map_err(Error::read)? {
                n += 1;
            }
        }
        // Counted above.
        Format::Xlsx => {}
        Format::Jsonl => {
            for line in buffered.split(b'\n') {
                if !line.map_err(Error::read)?.trim_ascii().is_empty() {
                    n += 1;
                }
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out its bytes a few at a time, so records and CRLFs straddle every boundary.
    struct Trickle(std::io::Cursor<Vec<u8>>, usize);

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            self.1 = self.1 % 13 + 1;
            let n = out.len().min(self.1);
            self.0.read(&mut out[..n])
        }
    }

    fn utf8() -> Detected {
        Detected {
            gbk: false,
            bom: false,
        }
    }

    fn reader(bytes: Vec<u8>, format: Format, trickle: bool) -> RowReader {
        let input: Box<dyn Read + Send> = if trickle {
            Box::new(Trickle(std::io::Cursor::new(bytes), 0))
        } else {
            Box::new(std::io::Cursor::new(bytes))
        };
        RowReader::from_reader(input, format, Path::new("t"), utf8()).unwrap()
    }

    /// Every record's raw bytes and line end, over many read-ahead chunks, with mixed line
    /// ends, blank lines, quoted fields holding commas, quotes and line ends.
    #[test]
    fn csv_records_keep_their_bytes_and_line_ends() {
        for (records, trickle) in [(20_000, false), (3_000, true)] {
            records_round_trip(records, trickle);
        }
    }

    fn records_round_trip(records: usize, trickle: bool) {
        let ends: [&[u8]; 3] = [b"\r\n", b"\n", b"\r"];
        let mut file = b"n,idcard,mobile\r\n".to_vec();
        let mut expected = Vec::new();
        for i in 0..records {
            let record = match i % 4 {
                0 => format!("a{i},1,2"),
                1 => format!("\"q,{i}\",\"1\",2"),
                2 => format!("\"x\"\"\r\n{i}\",1,2"),
                _ => format!("{i},,"),
            };
            let end = ends[i % 3];
            file.extend_from_slice(record.as_bytes());
            file.extend_from_slice(end);
            if i % 1000 == 0 {
                // A blank line, skipped.
                file.extend_from_slice(end);
            }
            expected.push((record.into_bytes(), end));
        }
        file.extend_from_slice(b"last,1,2");
        expected.push((b"last,1,2".to_vec(), b""));
        let mut rows = reader(file, Format::Csv, trickle);
        let header = rows.headers().unwrap();
        assert_eq!(
            (header.raw.as_slice(), header.line_end),
            (&b"n,idcard,mobile"[..], &b"\r\n"[..])
        );
        let mut n = 0;
        while let Some(row) = rows.next_row() {
            let row = row.unwrap();
            let (raw, end) = &expected[n];
            assert_eq!((&row.raw, row.line_end), (raw, *end), "record {n}");
            n += 1;
        }
        assert_eq!(n, expected.len());
        let Source::Csv { reader, .. } = &rows.source else {
            unreachable!()
        };
        assert!(
            reader.get_ref().buf.len() < 4 * TEE_CHUNK,
            "memory stays flat"
        );
    }

    /// `{:?}` of a row (and so of an `Event`) never shows a number or the record's bytes.
    #[test]
    fn debug_masks_the_numbers() {
        let file = b"name,idcard,mobile\nZhang,110105199003071239,13012345678\nLi,110105199003071230,130123\n";
        let mut rows = reader(file.to_vec(), Format::Csv, false);
        for _ in 0..2 {
            let shown = format!("{:?}", rows.next_row().unwrap().unwrap());
            for secret in [
                "199003071239",
                "199003071230",
                "12345678",
                "130123",
                "Zhang",
            ] {
                assert!(!shown.contains(secret), "{shown}");
            }
        }
        let json = json_row(
            1,
            r#"{"idcard":"110105199003071239","mobile":"13012345678"}"#,
        );
        let shown = format!("{json:?}");
        assert!(
            !shown.contains("199003071239") && shown.contains("Json(2 members)"),
            "{shown}"
        );
    }

    #[test]
    fn jsonl_lines_keep_their_bytes_and_line_ends() {
        let file = b"{\"idcard\":\"1\"}\r\n\r\n  {\"a\":1}  \n[1]".to_vec();
        let mut rows = reader(file, Format::Jsonl, true);
        let mut got = Vec::new();
        while let Some(row) = rows.next_row() {
            let row = row.unwrap();
            got.push((String::from_utf8(row.raw).unwrap(), row.line_end));
        }
        assert_eq!(
            got,
            [
                ("{\"idcard\":\"1\"}".to_owned(), &b"\r\n"[..]),
                ("  {\"a\":1}  ".to_owned(), &b"\n"[..]),
                ("[1]".to_owned(), &b""[..]),
            ]
        );
    }
}
