//! Writing the output file: same format as the input, five columns added, written to
//! `<output>.partial` and renamed into place only when complete, so the output path never
//! holds a half-written file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::journal::RowResult;
use crate::encoding::{Detected, Encode};
use crate::error::CliError;
use crate::input::{Format, Passthrough, Row};

const EXTRA: [&str; 5] = ["status", "res", "order_id", "error_code", "reason"];

/// The file, written in the input's encoding.
type Out = BufWriter<Encode<File>>;

enum Sink {
    Csv {
        writer: Box<csv::Writer<Out>>,
        width: usize,
    },
    Jsonl(Out),
}

pub struct OutputWriter {
    sink: Sink,
    partial: PathBuf,
    target: PathBuf,
    /// The added column/key names, with `--prefix`.
    names: [String; 5],
}

fn added_name_clash(name: &str, what: &str) -> CliError {
    CliError::usage(format!(
        "the input has a {what} named `{name}`, which batch adds to every row; nothing was sent"
    ))
    .with_hint("rename it, or pass --prefix (e.g. --prefix juhe_) for the added names")
}

/// Fails (before the row is sent) when a JSONL object has a key batch would overwrite.
pub fn check_keys(passthrough: &Passthrough, prefix: &str, line: u64) -> Result<(), CliError> {
    if let Passthrough::Json(map) = passthrough {
        let names = EXTRA.map(|name| format!("{prefix}{name}"));
        if let Some(key) = map.keys().find(|k| names.contains(k)) {
            return Err(added_name_clash(key, &format!("key on line {line}")));
        }
    }
    Ok(())
}

fn write_error(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::failure(format!("cannot write {}: {e}", path.display()))
}

/// Opens `path` for writing, readable by its owner only (0600: it holds identity data), locked
/// against another run writing the same output, then emptied.
fn create_private(path: &Path) -> Result<File, CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(path)
        .map_err(|e| CliError::io("create", path, &e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(CliError::usage(format!(
                "{} is being written by another batch run",
                path.display()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(CliError::io("lock", path, &e)),
    }
    file.set_len(0)
        .map_err(|e| CliError::io("empty", path, &e))?;
    Ok(file)
}

impl OutputWriter {
    pub fn create(
        target: &Path,
        format: Format,
        headers: Option<&csv::ByteRecord>,
        prefix: &str,
        encoding: Detected,
    ) -> Result<OutputWriter, CliError> {
        let names = EXTRA.map(|name| format!("{prefix}{name}"));
        if let Some(headers) = headers {
            let taken = headers
                .iter()
                .map(|h| String::from_utf8_lossy(h).trim().to_ascii_lowercase());
            if let Some(clash) = taken
                .into_iter()
                .find(|h| names.iter().any(|n| n.eq_ignore_ascii_case(h)))
            {
                return Err(added_name_clash(&clash, "column"));
            }
        }
        let mut name = target.file_name().unwrap_or_default().to_owned();
        name.push(".partial");
        let partial = target.with_file_name(name);
        let file = create_private(&partial)?;
        let file = Encode::new(file, encoding).map_err(|e| write_error(&partial, e))?;
        let buffered = BufWriter::with_capacity(256 * 1024, file);
        let sink = match (format, headers) {
            (Format::Csv, Some(headers)) => {
                let mut writer = csv::WriterBuilder::new()
                    .flexible(true)
                    .from_writer(buffered);
                let mut header = headers.clone();
                for column in &names {
                    header.push_field(column.as_bytes());
                }
                writer
                    .write_byte_record(&header)
                    .map_err(|e| write_error(&partial, e))?;
                Sink::Csv {
                    writer: Box::new(writer),
                    width: headers.len(),
                }
            }
            _ => Sink::Jsonl(buffered),
        };
        Ok(OutputWriter {
            sink,
            partial,
            target: target.to_owned(),
            names,
        })
    }

    pub fn write(&mut self, row: &Row, outcome: &RowResult) -> Result<(), CliError> {
        match (&mut self.sink, &row.passthrough) {
            (Sink::Csv { writer, width }, Passthrough::Csv(record)) => {
                // The added columns always follow the header's width: short (malformed) rows are
                // padded, the overflow of long ones moves after the added columns.
                let mut out = csv::ByteRecord::new();
                for i in 0..*width {
                    out.push_field(record.get(i).unwrap_or_default());
                }
                out.push_field(outcome.status.as_str().as_bytes());
                out.push_field(
                    outcome
                        .res
                        .map(|r| r.to_string())
                        .unwrap_or_default()
                        .as_bytes(),
                );
                out.push_field(outcome.order_id.as_deref().unwrap_or_default().as_bytes());
                out.push_field(
                    outcome
                        .error_code
                        .map(|c| c.code().to_string())
                        .unwrap_or_default()
                        .as_bytes(),
                );
                out.push_field(outcome.reason.as_deref().unwrap_or_default().as_bytes());
                for extra in record.iter().skip(*width) {
                    out.push_field(extra);
                }
                writer
                    .write_byte_record(&out)
                    .map_err(|e| write_error(&self.partial, e))
            }
            (Sink::Jsonl(out), passthrough) => {
                let mut object = match passthrough {
                    Passthrough::Json(map) => map.clone(),
                    Passthrough::RawLine(line) => {
                        let mut map = serde_json::Map::new();
                        map.insert("input".into(), Value::String(line.clone()));
                        map
                    }
                    Passthrough::RawBytes(bytes) => {
                        // Not text: carried as base64 so no byte is lost or replaced.
                        use base64::Engine as _;
                        let mut map = serde_json::Map::new();
                        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
                        map.insert("input_base64".into(), Value::String(encoded));
                        map
                    }
                    Passthrough::Csv(_) => serde_json::Map::new(),
                };
                let [status, res, order_id, error_code, reason] = &self.names;
                object.insert(status.clone(), json!(outcome.status.as_str()));
                object.insert(res.clone(), json!(outcome.res));
                object.insert(order_id.clone(), json!(outcome.order_id));
                object.insert(error_code.clone(), json!(outcome.error_code));
                object.insert(reason.clone(), json!(outcome.reason));
                serde_json::to_writer(&mut *out, &object)
                    .map_err(|e| write_error(&self.partial, e))?;
                out.write_all(b"\n")
                    .map_err(|e| write_error(&self.partial, e))
            }
            (Sink::Csv { .. }, _) => {
                Err(CliError::failure("internal: a JSON row for a CSV output"))
            }
        }
    }

    /// Flushes, syncs and renames the finished file into place.
    pub fn finish(self) -> Result<(), CliError> {
        let file = match self.sink {
            Sink::Csv { writer, .. } => writer
                .into_inner()
                .map_err(|e| write_error(&self.partial, e.error()))?,
            Sink::Jsonl(out) => out,
        };
        let file = file
            .into_inner()
            .map_err(|e| write_error(&self.partial, e.error()))?
            .into_inner()
            .map_err(|e| write_error(&self.partial, e))?;
        file.sync_all().map_err(|e| write_error(&self.partial, e))?;
        std::fs::rename(&self.partial, &self.target).map_err(|e| write_error(&self.target, e))
    }

    /// Drops an incomplete output (the job stopped early): the next run writes it whole.
    pub fn abandon(self) -> Result<(), CliError> {
        drop(self.sink);
        std::fs::remove_file(&self.partial).map_err(|e| write_error(&self.partial, e))
    }
}
