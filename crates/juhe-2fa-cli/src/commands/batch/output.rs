//! Writing the output file: same format as the input, five columns added, written to
//! `<output>.partial` and renamed into place only when complete, so the output path never
//! holds a half-written file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::journal::RowResult;
use crate::error::CliError;
use crate::input::{Format, Passthrough, Row};

const EXTRA: [&str; 5] = ["status", "res", "order_id", "error_code", "reason"];

enum Sink {
    Csv {
        writer: Box<csv::Writer<BufWriter<File>>>,
        width: usize,
    },
    Jsonl(BufWriter<File>),
}

pub struct OutputWriter {
    sink: Sink,
    partial: PathBuf,
    target: PathBuf,
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
    ) -> Result<OutputWriter, CliError> {
        let mut name = target.file_name().unwrap_or_default().to_owned();
        name.push(".partial");
        let partial = target.with_file_name(name);
        let file = create_private(&partial)?;
        let buffered = BufWriter::with_capacity(256 * 1024, file);
        let sink = match (format, headers) {
            (Format::Csv, Some(headers)) => {
                let mut writer = csv::WriterBuilder::new()
                    .flexible(true)
                    .from_writer(buffered);
                let mut header = headers.clone();
                for column in EXTRA {
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
        })
    }

    pub fn write(&mut self, row: &Row, outcome: &RowResult) -> Result<(), CliError> {
        match (&mut self.sink, &row.passthrough) {
            (Sink::Csv { writer, width }, Passthrough::Csv(record)) => {
                let mut out = record.clone();
                // Short (malformed) rows are padded so the added columns line up.
                while out.len() < *width {
                    out.push_field(b"");
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
                    Passthrough::Csv(_) => serde_json::Map::new(),
                };
                object.insert("status".into(), json!(outcome.status.as_str()));
                object.insert("res".into(), json!(outcome.res));
                object.insert("order_id".into(), json!(outcome.order_id));
                object.insert("error_code".into(), json!(outcome.error_code));
                object.insert("reason".into(), json!(outcome.reason));
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
            .map_err(|e| write_error(&self.partial, e.error()))?;
        file.sync_all().map_err(|e| write_error(&self.partial, e))?;
        std::fs::rename(&self.partial, &self.target).map_err(|e| write_error(&self.target, e))
    }

    /// Drops an incomplete output (the job stopped early): the next run writes it whole.
    pub fn abandon(self) -> Result<(), CliError> {
        drop(self.sink);
        std::fs::remove_file(&self.partial).map_err(|e| write_error(&self.partial, e))
    }
}
