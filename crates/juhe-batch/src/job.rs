//! A job: its settings ([`Job`]), its files opened and checked ([`OpenJob`]), and the pipeline
//! that takes its rows through the per-row engine in input order.
//!
//! The pipeline is ordered and bounded (`buffered(concurrency)`): memory stays flat whatever
//! the input's size, and results are written in input order to `<output>.partial`, renamed
//! into place when the job is complete.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use juhe_2fa::Client;

use crate::encoding::Encoding;
use crate::error::{Error, Role};
use crate::input::{Format, Row, RowReader, count_rows};
use crate::journal::{Journal, RowResult, Status};
use crate::messages::Lang;
use crate::output::{self, OutputWriter};
use crate::row::{Context, Streak, process};
use crate::stop::StopHandle;
use crate::tally::{Counts, Origin, Summary, Tally};

/// What a running job reports, in order: one [`Event::Row`] per row in input order, then
/// [`Event::Drained`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A row is finished: its result is recorded in the journal.
    Row {
        /// The row as read (its numbers as written: mask them before showing them).
        row: &'a Row,
        /// Its result, as the output has it.
        result: &'a RowResult,
        /// Where the result came from.
        origin: Origin,
        /// The counts so far, this row included.
        counts: &'a Counts,
    },
    /// Every row the job takes is finished (all, or those before it stopped); the output is
    /// being completed, or dropped if the job stopped.
    Drained {
        /// The final counts.
        counts: &'a Counts,
    },
}

/// A batch job: every row of an input file checked through a [`Client`], results written in
/// input order to an output file of the same format, resumable through a journal.
///
/// ```no_run
/// # async fn run(client: juhe_2fa::Client) -> Result<(), juhe_batch::Error> {
/// use std::num::NonZeroUsize;
///
/// let job = juhe_batch::Job::new("in.csv", "out.csv")
///     .concurrency(NonZeroUsize::new(16).unwrap())
///     .open(client)?;
/// let summary = job
///     .run(|event| {
///         if let juhe_batch::Event::Row { counts, .. } = event {
///             eprint!("\r{} rows", counts.rows());
///         }
///     })
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Job {
    input: PathBuf,
    output: PathBuf,
    journal: Option<PathBuf>,
    encoding: Encoding,
    concurrency: NonZeroUsize,
    retry_ambiguous: bool,
    dedupe: bool,
    prefix: String,
    escape_formulas: bool,
    key_material: Option<String>,
    stop: StopHandle,
    lang: Lang,
    sheet: Option<String>,
}

impl Job {
    /// A job reading `input` (CSV with a header naming `idcard` and `mobile`, JSON Lines
    /// when the name ends in `.jsonl`, an Excel workbook's first sheet when it ends in
    /// `.xlsx`) and writing `output`: in the input's format, except that an output named
    /// `.xlsx` is an Excel workbook (from a CSV or .xlsx input), and an .xlsx input otherwise
    /// gives CSV (UTF-8 with a BOM, as Excel reads it). Defaults: the journal at
    /// `<output>.journal`, encoding detected, 8 checks in flight, pairs de-duplicated,
    /// ambiguous rows not resent, no prefix, cells written as they came.
    pub fn new(input: impl Into<PathBuf>, output: impl Into<PathBuf>) -> Job {
        Job {
            input: input.into(),
            output: output.into(),
            journal: None,
            encoding: Encoding::Auto,
            concurrency: NonZeroUsize::new(8).unwrap_or(NonZeroUsize::MIN),
            retry_ambiguous: false,
            dedupe: true,
            prefix: String::new(),
            escape_formulas: false,
            key_material: None,
            stop: StopHandle::new(),
            lang: Lang::default(),
            sheet: None,
        }
    }

    /// The journal's path (default `<output>.journal`). A rerun with the same journal resumes
    /// the job.
    pub fn journal(mut self, path: impl Into<PathBuf>) -> Job {
        self.journal = Some(path.into());
        self
    }

    /// The input's encoding; the output is written in the same one. (An .xlsx input is
    /// Unicode: this does not apply to it.)
    pub fn encoding(mut self, encoding: Encoding) -> Job {
        self.encoding = encoding;
        self
    }

    /// Checks in flight at once.
    pub fn concurrency(mut self, n: NonZeroUsize) -> Job {
        self.concurrency = n;
        self
    }

    /// Send again the rows an earlier run left `sent` (they may have been billed).
    pub fn retry_ambiguous(mut self, yes: bool) -> Job {
        self.retry_ambiguous = yes;
        self
    }

    /// Give a row whose pair came earlier in the job that row's result instead of sending it
    /// (on by default).
    pub fn dedupe(mut self, yes: bool) -> Job {
        self.dedupe = yes;
        self
    }

    /// A prefix for the added columns or keys (`status`, `res`, `order_id`, `error_code`,
    /// `reason`), for an input that already has those names.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Job {
        self.prefix = prefix.into();
        self
    }

    /// CSV output: put a `'` before every cell that starts with `=`, `+`, `-`, `@`, tab or CR,
    /// so a spreadsheet shows it as text (CSV injection). Off by default: the output then
    /// repeats the input's bytes exactly.
    pub fn escape_formulas(mut self, yes: bool) -> Job {
        self.escape_formulas = yes;
        self
    }

    /// The client encrypts the numbers (AES or RSA mode): then 232901/232902 answers in a row
    /// mean wrong key material, and stop the job with those rows pending. `where_set` names
    /// where the key material is set, for the message (the command passes its flags).
    pub fn key_material(mut self, where_set: impl Into<String>) -> Job {
        self.key_material = Some(where_set.into());
        self
    }

    /// The language of the reasons the job writes to the journal and the output's `reason`
    /// column (default English, whose wording scripts may rely on). A rerun keeps each row's
    /// recorded reason, whatever the language it was written in.
    pub fn lang(mut self, lang: Lang) -> Job {
        self.lang = lang;
        self
    }

    /// Stop the job through `stop` (a clone of which is the client's timer, see
    /// [`StopHandle`]) instead of a handle of its own.
    pub fn stop_handle(mut self, stop: StopHandle) -> Job {
        self.stop = stop;
        self
    }

    /// Read the sheet of this name of an .xlsx input instead of its first (an input of
    /// another format is then refused).
    pub fn sheet(mut self, name: impl Into<String>) -> Job {
        self.sheet = Some(name.into());
        self
    }

    /// The journal's path: as set, or `<output>.journal`.
    pub fn journal_path(&self) -> PathBuf {
        self.journal.clone().unwrap_or_else(|| {
            let mut name = self.output.file_name().unwrap_or_default().to_owned();
            name.push(".journal");
            self.output.with_file_name(name)
        })
    }

    /// Input, output and journal must be three different files, and output and journal must
    /// be files (not directories). [`Job::open`] checks this too; this lets a caller check it
    /// before building its client.
    pub fn check_paths(&self) -> Result<(), Error> {
        check_paths(&self.input, &self.output, &self.journal_path())
    }

    /// Checks the three paths, takes the journal (and its lock), opens the input and creates
    /// `<output>.partial`; the rows will be checked through `client`. Every problem with the
    /// job's files is found here, before anything is sent. Blocking file I/O: call it where
    /// blocking is fine.
    pub fn open(self, client: Client) -> Result<OpenJob, Error> {
        let journal_path = self.journal_path();
        let (input, output) = (&self.input, &self.output);
        check_paths(input, output, &journal_path)?;
        let out_format = match (Format::of(input), Format::of(output)) {
            (Format::Jsonl, Format::Xlsx) => {
                return Err(Error::XlsxFromJsonl {
                    path: input.clone(),
                });
            }
            (_, Format::Xlsx) => Format::Xlsx,
            (Format::Xlsx, _) => Format::Csv,
            (format, _) => format,
        };
        let journal = Journal::open(&journal_path, input)?;
        let (reader, mut encoding) =
            RowReader::open_sheet(input, self.encoding, self.sheet.as_deref())?;
        // Only a regular file can be read twice: a pipe or FIFO is streamed without a total.
        let total = match reader.sheet_rows() {
            Some(rows) => Some(rows),
            None if std::fs::metadata(input).is_ok_and(|m| m.is_file()) => Some(count_rows(input)?),
            None => None,
        };
        // A BOM goes back into CSV (Excel needs it to read UTF-8); JSON Lines never carry one.
        // CSV made from a workbook gets one: it is for Excel.
        encoding.bom = match Format::of(input) {
            Format::Csv => encoding.bom,
            Format::Xlsx => out_format == Format::Csv,
            Format::Jsonl => false,
        };
        let writer = OutputWriter::create(
            output,
            out_format,
            reader.headers(),
            &self.prefix,
            encoding,
            self.escape_formulas,
        )?;
        let ctx = Context {
            journal,
            client,
            retry_ambiguous: self.retry_ambiguous,
            journal_path,
            stop: Mutex::new(None),
            lang: self.lang,
            stop_class: Mutex::new(None),
            halt: self.stop,
            key_flags: self.key_material,
            streak: tokio::sync::Mutex::new(Streak::default()),
            reopened: AtomicU64::new(0),
            prefix: self.prefix,
            dedupe: self.dedupe,
            inflight: Mutex::new(HashMap::new()),
            seen: Mutex::new(HashSet::new()),
        };
        Ok(OpenJob {
            ctx,
            reader,
            writer,
            total,
            concurrency: self.concurrency,
        })
    }
}

/// A job whose files are open and checked, holding the journal's lock: [`OpenJob::run`] it.
pub struct OpenJob {
    ctx: Context,
    reader: RowReader,
    writer: OutputWriter,
    total: Option<u64>,
    concurrency: NonZeroUsize,
}

impl OpenJob {
    /// The input's rows, when the input is a regular file (`None` for a pipe).
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// The journal's path.
    pub fn journal_path(&self) -> &Path {
        &self.ctx.journal_path
    }

    /// The handle that stops this job.
    pub fn stop_handle(&self) -> StopHandle {
        self.ctx.halt.clone()
    }

    /// Runs the job to its end, or until it stops; `on_event` hears of every row in input
    /// order. Needs a tokio runtime with time enabled.
    ///
    /// `Ok` when every row taken is recorded: the output is in place unless the job stopped
    /// ([`Summary::stopped`], or the [`StopHandle`]), when rows not reached stay pending and
    /// a rerun finishes the job. `Err` when the job itself failed; rows answered before are in
    /// the journal.
    pub async fn run(self, mut on_event: impl FnMut(Event<'_>) + Send) -> Result<Summary, Error> {
        let OpenJob {
            ctx,
            mut reader,
            writer,
            concurrency,
            ..
        } = self;
        let summary = pipeline(&ctx, &mut reader, writer, concurrency, &mut on_event).await;
        let mut summary = summary?;
        summary.suspicious_records = reader.suspicious();
        if let Some((en, zh)) = ctx.stop.lock().unwrap_or_else(|e| e.into_inner()).take() {
            summary.stopped = Some(en);
            summary.stopped_zh = Some(zh);
        }
        summary.stopped_by = *ctx.stop_class.lock().unwrap_or_else(|e| e.into_inner());
        ctx.journal.close()?;
        Ok(summary)
    }
}

async fn pipeline(
    ctx: &Context,
    reader: &mut RowReader,
    mut writer: OutputWriter,
    concurrency: NonZeroUsize,
    on_event: &mut (impl FnMut(Event<'_>) + Send),
) -> Result<Summary, Error> {
    let mut tally = Tally::new();
    // Once the job stops, no more rows are read; those in flight finish.
    let rows = futures_util::stream::iter(std::iter::from_fn(|| {
        if ctx.stopped() {
            None
        } else {
            reader.next_row()
        }
    }));
    let mut results = rows
        .map(|row| async move {
            let row = row?;
            let (outcome, origin) = process(ctx, &row).await?;
            Ok::<_, Error>((row, outcome, origin))
        })
        .buffered(concurrency.get());
    // The first failure of the job itself (the output, the journal, a row it cannot take).
    // The job stops, but the rows in flight are still awaited: their answers are journalled,
    // where the rerun finds them, instead of being dropped `sent` (maybe billed, unknown).
    let mut failure: Option<Error> = None;
    while let Some(item) = results.next().await {
        let (row, outcome, origin) = match item {
            Ok(item) => item,
            Err(e) => {
                ctx.halt();
                failure.get_or_insert(e);
                continue;
            }
        };
        tally.update(outcome.status, origin);
        on_event(Event::Row {
            row: &row,
            result: &outcome,
            origin,
            counts: &tally.counts,
        });
        if failure.is_none()
            && let Err(e) = writer.write(&row, &outcome)
        {
            ctx.halt();
            failure = Some(e);
        }
    }
    drop(results);
    tally.recount(
        Status::ApiError,
        Status::Failed,
        ctx.reopened.load(Ordering::SeqCst),
    );
    on_event(Event::Drained {
        counts: &tally.counts,
    });
    if let Some(failure) = failure {
        // The rerun writes the output whole; the failure is what the caller needs to hear.
        let _ = writer.abandon();
        return Err(failure);
    }
    if ctx.stopped() {
        // The output is incomplete: the rerun writes it whole.
        writer.abandon()?;
    } else {
        writer.finish()?;
    }
    Ok(tally.finish())
}

/// Where a path points: device and inode when it exists, else its canonical parent and name.
fn identity(path: &Path) -> Option<(u64, u64, PathBuf)> {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::MetadataExt;
        return Some((meta.dev(), meta.ino(), PathBuf::new()));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = std::fs::canonicalize(parent).ok()?;
    Some((0, 0, dir.join(path.file_name()?)))
}

/// Input, output and journal must be three different files, and output and journal must be
/// files: found before anything is sent.
fn check_paths(input: &Path, output: &Path, journal: &Path) -> Result<(), Error> {
    for (path, role) in [(output, Role::Output), (journal, Role::Journal)] {
        if path.is_dir() {
            return Err(Error::Directory {
                role,
                path: path.to_owned(),
            });
        }
    }
    let same = |a: &Path, b: &Path| identity(a).is_some_and(|id| Some(id) == identity(b));
    for (a, b, file, other) in [
        (input, output, Role::Output, Role::Input),
        (input, journal, Role::Journal, Role::Input),
        (output, journal, Role::Journal, Role::Output),
    ] {
        if same(a, b) {
            return Err(Error::SameFile { file, other });
        }
    }
    // The files created beside them: the output's `.partial` (a stale one is removed) and
    // SQLite's `-wal`/`-shm`.
    let partial = output::partial_path(output);
    let mut beside = vec![partial];
    for suffix in ["-wal", "-shm"] {
        let mut name = journal.as_os_str().to_owned();
        name.push(suffix);
        beside.push(PathBuf::from(name));
    }
    for file in &beside {
        if same(input, file) || same(journal, file) {
            return Err(Error::Overlap { path: file.clone() });
        }
    }
    Ok(())
}
