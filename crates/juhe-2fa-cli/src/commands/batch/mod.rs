//! `batch`: every row of a file through the API, in input order, resumable after any crash.
//!
//! Per row: look the row up in the journal (done rows are never sent again; rows left `sent`
//! may have been billed and are reported `unknown` unless `--retry-ambiguous`), validate
//! locally (invalid rows are `rejected` without a request), then check it with the async
//! client, whose pre-send hook commits `sent` to the journal just before each attempt goes
//! out; then commit the outcome. Results are written in input order to `<output>.partial`,
//! renamed into place when the job is complete. A code about the account or the service (a
//! wrong key, say) stops the job with its rows still pending, so a rerun with the fix resumes;
//! so do three 232901/232902 answers in a row in AES/RSA mode (wrong key material, see
//! [`Streak`]). Once the job stops (that, SIGINT/SIGTERM, or a failed output write) no request
//! leaves: the pre-send hook refuses, and rows waiting (rate limit, slow-down) stay pending.
//!
//! "The same pair" is [`PairIdentity`](juhe_2fa::layers::proto::PairIdentity): the normalised
//! numbers, for de-duplication and the journal alike.

mod journal;
mod lock;
mod output;
mod progress;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use juhe_2fa::{BoxError, Client, Error, ErrorCode, IdCard, Mobile, Verification};
use tokio::sync::watch;

use self::journal::{Entry, Journal, RowResult, State, Status};
use self::output::OutputWriter;
use self::progress::{Origin, Progress};
use crate::cli::{BatchArgs, Global, ModeArg};
use crate::config::{client_builder, config_error};
use crate::error::{CliError, Exit, RowFate, chain, handling};
use crate::input::{Format, Row, RowReader, count_rows};

const SENT_BEFORE: &str = "sent by an earlier run that stopped before the answer was recorded; it may have been billed (rerun with --retry-ambiguous to send it again)";
const PENDING: &str =
    "not sent: the job stopped before this row (rerun the same command to resume)";
const KEY_PENDING: &str = "not final: the vendor could not read this row's numbers, as with wrong key material (rerun with the right key to check it)";
/// The note that starts a copied result's reason (how the summary tells copies apart).
const COPY_NOTE: &str = "same pair as row ";
const REUSED: &str = "another process's answer for this pair (shared through Redis), not sent";

/// In AES/RSA mode, this many 232901/232902 answers with no other answer in between mean the
/// key material is wrong, not the rows.
const KEY_STREAK: u32 = 3;

/// Rate-limit answers that outlast the client's own retries: the row waits this long, doubling,
/// this many times, then the job stops (about two minutes in all).
const SLOW_DOWN_FIRST: Duration = Duration::from_secs(2);
const SLOW_DOWN_ROUNDS: u32 = 6;

struct Context {
    journal: Journal,
    client: Client,
    retry_ambiguous: bool,
    journal_path: PathBuf,
    /// Why the job stopped early (the first account-level error), if it did.
    stop: Mutex<Option<String>>,
    /// SIGINT or SIGTERM arrived: send nothing new, let requests in flight finish.
    interrupted: AtomicBool,
    /// True once the job stops for any reason: no request leaves from then on, and waits end.
    halt: watch::Sender<bool>,
    /// In AES/RSA mode, the flags that hold the key material; `None` in plain mode.
    key_flags: Option<&'static str>,
    /// 232901/232902 answers in a row (AES/RSA mode only).
    streak: tokio::sync::Mutex<Streak>,
    /// Rows recorded `api_error` and then reopened as pending by a tripped [`Streak`].
    reopened: AtomicU64,
    /// `--prefix` for the added names.
    prefix: String,
    /// De-duplicate pairs within the job (off with `--no-dedupe`).
    dedupe: bool,
    /// Pairs being checked right now: a later row with the same pair waits for the first one's
    /// result instead of sending. Holds at most `--concurrency` entries.
    inflight: Mutex<HashMap<i64, watch::Sender<Option<Published>>>>,
    /// Pairs claimed in this run. In a fresh job, a pair not in it came in no earlier row, so
    /// the journal need not be asked (a round trip to its thread per row saved).
    seen: Mutex<HashSet<i64>>,
}

/// In AES/RSA mode, a 232901 (malformed mobile) or 232902 (invalid ID card) for numbers that
/// passed local validation most likely means the vendor could not decrypt them: wrong OpenID,
/// AES key or RSA key, which would turn every row of the job into a final `api_error`. Such
/// answers are recorded as they come; after [`KEY_STREAK`] of them with no other answer in
/// between, the job stops like an account-level error and those rows (and copies of them) are
/// reopened as pending, so a rerun with the right key checks them. Another answer ends the
/// streak: its rows keep their `api_error`.
#[derive(Default)]
struct Streak {
    /// Such answers since the last other answer.
    answers: u32,
    /// Rows recorded with them (and their copies): reopened if the streak trips.
    rows: Vec<(u64, i64)>,
    /// The key material was judged wrong: every such answer from now on leaves its row pending.
    tripped: bool,
}

/// The job stopped before an attempt went out: the row stays pending.
#[derive(Debug)]
struct Halted;

impl std::fmt::Display for Halted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the job stopped before this row was sent")
    }
}

impl std::error::Error for Halted {}

fn halted() -> Error {
    Error::Cancelled(Box::new(Halted))
}

fn is_halted(error: &Error) -> bool {
    matches!(error, Error::Cancelled(source) if source.is::<Halted>())
}

/// What the first row of a pair tells the rows waiting on it: its number and, when it may be
/// copied, its result.
type Published = (u64, Option<RowResult>);

/// Whether a row holds the pair's claim or waits on the row that does.
enum Claim {
    Mine,
    Theirs(watch::Receiver<Option<Published>>),
}

impl Context {
    fn stopped(&self) -> bool {
        *self.halt.borrow()
    }

    /// Stops the job: nothing new is sent; requests already on the wire finish.
    fn halt(&self) {
        self.halt.send_replace(true);
    }

    fn stop_with(&self, why: String) {
        self.stop
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(why);
        self.halt();
    }

    /// Resolves once the job has stopped.
    async fn halted(&self) {
        let mut halt = self.halt.subscribe();
        // An error means the sender is gone, which it is not while `self` lives.
        let _ = halt.wait_for(|stopped| *stopped).await;
    }

    /// Waits `wait`, or less if the job stops: false if it did.
    async fn pause(&self, wait: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(wait) => !self.stopped(),
            () = self.halted() => false,
        }
    }
}

/// The digest of the row's text as written (rows that fail validation).
fn raw_digest(ctx: &Context, row: &Row) -> i64 {
    ctx.journal.raw_digest(
        row.idcard.as_deref().unwrap_or_default(),
        row.mobile.as_deref().unwrap_or_default(),
    )
}

fn verdict_result(v: Verification) -> RowResult {
    let reason = v.from_cache().then(|| REUSED.into());
    RowResult {
        status: if v.is_match() {
            Status::Match
        } else {
            Status::Mismatch
        },
        res: Some(v.res()),
        order_id: Some(v.order_id),
        error_code: None,
        reason,
    }
}

/// A failed check as a row: its journal state and result, from the one table in `error.rs`.
fn failed_row(error: &Error, fate: RowFate) -> (State, RowResult) {
    let reason = match error {
        Error::Api { reason, .. } => reason.clone(),
        other => chain(other),
    };
    let mut result = RowResult::status(Status::Failed, reason);
    result.error_code = error.error_code();
    let state = match fate {
        RowFate::Rejected => {
            result.status = Status::Rejected;
            State::Done
        }
        RowFate::ApiError => {
            result.status = Status::ApiError;
            State::Done
        }
        RowFate::Unknown => {
            result.status = Status::Unknown;
            State::Sent
        }
        RowFate::Failed | RowFate::StopJob | RowFate::SlowDown | RowFate::Abort => State::Retry,
    };
    (state, result)
}

/// What the journal already knows about a row: `Some` result when it needs no request now.
async fn recorded(ctx: &Context, row: &Row, pair: i64) -> Result<Option<RowResult>, CliError> {
    if ctx.journal.fresh() {
        // A new job: this run is the only writer, and it reaches each row once.
        return Ok(None);
    }
    let Some(Entry {
        pair: recorded,
        state,
        outcome,
    }) = ctx.journal.lookup(row.number).await?
    else {
        return Ok(None);
    };
    if recorded != pair && outcome.status == Status::Rejected {
        // Never sent: the row may have been fixed since; check it as new.
        return Ok(None);
    }
    // A journal made before digests were normalised recorded the text as written.
    if recorded != pair && recorded != raw_digest(ctx, row) {
        return Err(CliError::usage(format!(
            "the journal {} was made for another input: row {} differs from the row it sent",
            ctx.journal_path.display(),
            row.number
        ))
        .with_hint("only rows that were never sent (rejected) may change between runs; use a new --journal for a new input file"));
    }
    Ok(match state {
        State::Done => Some(outcome),
        State::Sent if !ctx.retry_ambiguous => {
            let reason = match (outcome.status, outcome.reason) {
                (Status::Unknown, Some(reason)) => reason,
                _ => SENT_BEFORE.to_owned(),
            };
            Some(RowResult::status(Status::Unknown, reason))
        }
        State::Sent | State::Retry => None,
    })
}

/// The row's two numbers, or the `rejected` result that sends nothing.
fn parse_row(row: &Row) -> Result<(IdCard, Mobile), RowResult> {
    let reject = |reason: String| RowResult::status(Status::Rejected, reason);
    match (&row.malformed, row.idcard.as_deref(), row.mobile.as_deref()) {
        (Some(reason), _, _) => Err(reject(reason.clone())),
        (None, Some(idcard), Some(mobile)) => {
            match (IdCard::parse(idcard), Mobile::parse(mobile)) {
                (Ok(i), Ok(m)) => Ok((i, m)),
                (Err(e), _) | (_, Err(e)) => Err(reject(e.to_string())),
            }
        }
        _ => Err(reject("the row has no idcard or mobile".into())),
    }
}

/// Checks one pair; rate limits that outlast the client's retries back off here. Once the job
/// stops, nothing more is sent for it: [`halted`] and the row stays pending.
async fn check(
    ctx: &Context,
    row: u64,
    pair: i64,
    idcard: &IdCard,
    mobile: &Mobile,
) -> Result<Verification, Error> {
    let mut wait = SLOW_DOWN_FIRST;
    let mut round = 0;
    loop {
        // Set once an attempt is committed to go out: from then on the check is awaited, not
        // dropped, so its answer is recorded.
        let on_wire = AtomicBool::new(false);
        let on_wire = &on_wire;
        let mark_sent = move |_attempt| async move {
            // The last moment to stop: after the rate limit, just before the request leaves.
            if ctx.stopped() {
                return Err(Box::new(Halted) as BoxError);
            }
            // Committed before each attempt goes out: a crash from then on leaves the row `sent`.
            let sent = RowResult::status(Status::Unknown, SENT_BEFORE);
            ctx.journal
                .write(row, pair, State::Sent, sent)
                .await
                .map_err(|e| Box::new(e) as BoxError)?;
            // A stop during the commit: still nothing sent (the row is then recorded pending).
            if ctx.stopped() {
                return Err(Box::new(Halted) as BoxError);
            }
            on_wire.store(true, Ordering::SeqCst);
            Ok(())
        };
        let verify = ctx.client.verify_with(idcard, mobile, mark_sent);
        // A row still waiting for its turn is dropped when the job stops: nothing of it went
        // out (a pair it held in the fleet's store is freed at once by the client).
        tokio::pin!(verify);
        let result = tokio::select! {
            result = &mut verify => result,
            () = ctx.halted() => {
                if on_wire.load(Ordering::SeqCst) {
                    verify.await
                } else {
                    Err(halted())
                }
            }
        };
        match &result {
            Err(e) if handling(e.class()).1 == RowFate::SlowDown && round < SLOW_DOWN_ROUNDS => {
                round += 1;
                if !ctx.pause(wait).await {
                    return Err(halted());
                }
                wait *= 2;
            }
            _ => return result,
        }
    }
}

/// The result a later row with the same pair may take over: verdicts and final codes as they
/// are; a maybe-billed one stays maybe-billed (sending the pair again could charge twice);
/// anything else (not billed, may succeed) is not copied.
fn copyable(first: u64, state: State, result: &RowResult) -> Option<(State, RowResult)> {
    let state = match (state, result.status) {
        (State::Done, Status::Match | Status::Mismatch | Status::ApiError) => State::Done,
        (State::Sent, _) | (_, Status::Unknown) => State::Sent,
        _ => return None,
    };
    let mut copy = result.clone();
    let note = format!("{COPY_NOTE}{first}: its result, not sent again");
    copy.reason = Some(match &result.reason {
        Some(reason) => format!("{note} ({reason})"),
        None => note,
    });
    Some((state, copy))
}

/// Records that this run has claimed `pair`; true the first time.
fn first_sighting(ctx: &Context, pair: i64) -> bool {
    ctx.seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(pair)
}

fn claim(ctx: &Context, pair: i64) -> Claim {
    let mut inflight = ctx.inflight.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(first) = inflight.get(&pair) {
        return Claim::Theirs(first.subscribe());
    }
    inflight.insert(pair, watch::channel(None).0);
    Claim::Mine
}

/// Tells the rows waiting on this pair, and lets the pair go.
fn release(ctx: &Context, pair: i64, published: Published) {
    let mut inflight = ctx.inflight.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(sender) = inflight.remove(&pair) {
        let _ = sender.send(Some(published));
    }
}

/// The copied result for a row whose pair came earlier in the job, if it may be copied, and
/// whether this row now holds the pair's claim (and must release it).
async fn earlier_result(
    ctx: &Context,
    row: u64,
    pair: i64,
) -> Result<(Option<(State, RowResult)>, bool), CliError> {
    match claim(ctx, pair) {
        Claim::Theirs(mut first) => {
            let published = first
                .wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|p| p.clone());
            // The first row's result comes as its journal state would have it.
            let copy = published.and_then(|(n, result)| {
                let result = result?;
                let state = if result.status == Status::Unknown {
                    State::Sent
                } else {
                    State::Done
                };
                copyable(n, state, &result)
            });
            Ok((copy, false))
        }
        Claim::Mine if ctx.journal.fresh() && first_sighting(ctx, pair) => Ok((None, true)),
        Claim::Mine => match ctx.journal.find_pair(pair, row).await {
            Ok(found) => Ok((
                found.and_then(|(n, e)| copyable(n, e.state, &e.outcome)),
                true,
            )),
            Err(e) => {
                release(ctx, pair, (row, None));
                Err(e)
            }
        },
    }
}

/// What a result read back from the journal counts as in the summary.
fn recorded_origin(result: &RowResult) -> Origin {
    match result.reason.as_deref() {
        Some(reason) if reason.starts_with(COPY_NOTE) => Origin::Copy,
        Some(REUSED) => Origin::Reused,
        _ if result.status.is_billable() => Origin::Earlier,
        _ => Origin::NotSent,
    }
}

/// One row: its result, and where the result came from.
async fn process(ctx: &Context, row: &Row) -> Result<(RowResult, Origin), CliError> {
    let parsed = parse_row(row);
    // The pair is the normalised numbers: every spelling of one pair is one pair.
    let pair = match &parsed {
        Ok((idcard, mobile)) => ctx.journal.pair_digest(idcard, mobile),
        Err(_) => raw_digest(ctx, row),
    };
    if let Some(result) = recorded(ctx, row, pair).await? {
        let origin = recorded_origin(&result);
        return Ok((result, origin));
    }
    output::check_keys(&row.passthrough, &ctx.prefix, row.number)?;
    let (idcard, mobile) = match parsed {
        Ok(pair) => pair,
        Err(rejected) => {
            ctx.journal
                .write(row.number, pair, State::Done, rejected.clone())
                .await?;
            return Ok((rejected, Origin::NotSent));
        }
    };
    if ctx.stopped() {
        return Ok((RowResult::status(Status::Failed, PENDING), Origin::NotSent));
    }
    let mut claimed = false;
    if ctx.dedupe {
        let (found, mine) = earlier_result(ctx, row.number, pair).await?;
        claimed = mine;
        if let Some((state, copied)) = found {
            let committed = commit(ctx, row.number, pair, state, copied, Origin::Copy).await;
            if claimed {
                let published = committed.as_ref().ok().cloned();
                release(ctx, pair, (row.number, published));
            }
            return Ok((committed?, Origin::Copy));
        }
    }
    let checked = match send_row(ctx, row.number, pair, &idcard, &mobile).await {
        Ok((state, result, origin)) => commit(ctx, row.number, pair, state, result, origin)
            .await
            .map(|result| (result, origin)),
        Err(e) => Err(e),
    };
    if claimed {
        let published = checked.as_ref().ok().map(|(r, _)| r.clone());
        release(ctx, pair, (row.number, published));
    }
    checked
}

/// Whether a result is an answer of the vendor (not a transport failure or a local one).
fn is_answer(result: &RowResult) -> bool {
    result.status.is_billable() || result.error_code.is_some()
}

/// A 232901/232902 answer: the row's numbers unreadable to the vendor.
fn unreadable(result: &RowResult) -> Option<ErrorCode> {
    result
        .error_code
        .filter(|c| matches!(c, ErrorCode::InvalidMobile | ErrorCode::InvalidIdCard))
        .filter(|_| result.status == Status::ApiError)
}

/// Records a row's outcome in the journal, and returns the result as recorded. In AES/RSA mode a
/// 232901/232902 answer goes through the [`Streak`], which may leave the row pending instead.
async fn commit(
    ctx: &Context,
    row: u64,
    pair: i64,
    state: State,
    result: RowResult,
    origin: Origin,
) -> Result<RowResult, CliError> {
    let watched = ctx.key_flags.is_some() && matches!(origin, Origin::Sent | Origin::Copy);
    let code = unreadable(&result);
    if !watched || (code.is_none() && !(origin == Origin::Sent && is_answer(&result))) {
        ctx.journal.write(row, pair, state, result.clone()).await?;
        return Ok(result);
    }
    let mut streak = ctx.streak.lock().await;
    let Some(code) = code else {
        // Another answer: the 232901/232902 before it were the rows' own.
        streak.answers = 0;
        streak.rows.clear();
        drop(streak);
        ctx.journal.write(row, pair, state, result.clone()).await?;
        return Ok(result);
    };
    let pending = || {
        let mut pending = RowResult::status(Status::Failed, KEY_PENDING);
        pending.error_code = Some(code);
        pending
    };
    if streak.tripped {
        ctx.journal
            .write(row, pair, State::Retry, pending())
            .await?;
        return Ok(pending());
    }
    streak.answers += u32::from(origin == Origin::Sent);
    if streak.answers < KEY_STREAK {
        // Written under the lock, so a streak tripping later reopens it after this write. A
        // copy joins only a streak under way (its first row's answer is in it).
        if streak.answers > 0 {
            streak.rows.push((row, pair));
        }
        ctx.journal.write(row, pair, state, result.clone()).await?;
        return Ok(result);
    }
    streak.tripped = true;
    ctx.stop_with(key_material_message(ctx, code, streak.answers));
    for (earlier, earlier_pair) in std::mem::take(&mut streak.rows) {
        ctx.journal
            .write(earlier, earlier_pair, State::Retry, pending())
            .await?;
        ctx.reopened.fetch_add(1, Ordering::SeqCst);
    }
    ctx.journal
        .write(row, pair, State::Retry, pending())
        .await?;
    Ok(pending())
}

/// Why the job stopped when the vendor could not read [`KEY_STREAK`] rows in a row.
fn key_material_message(ctx: &Context, code: ErrorCode, answers: u32) -> String {
    let flags = ctx.key_flags.unwrap_or("the key settings");
    format!(
        "{answers} answers in a row were {} ({}) for numbers that passed local validation: \
         the vendor could not decrypt them, so the key material is wrong, not the rows; \
         check {flags}, or run `juhe-2fa doctor` to find the scheme your account accepts",
        code.code(),
        code.description(),
    )
}

/// Sends a row's check and turns the answer into its journal state and result, and where the
/// result came from.
async fn send_row(
    ctx: &Context,
    row: u64,
    pair: i64,
    idcard: &IdCard,
    mobile: &Mobile,
) -> Result<(State, RowResult, Origin), CliError> {
    let (state, result) = match check(ctx, row, pair, idcard, mobile).await {
        Ok(v) if v.from_cache() => return Ok((State::Done, verdict_result(v), Origin::Reused)),
        Ok(v) => (State::Done, verdict_result(v)),
        // Not sent: pending, sent by the next run.
        Err(e) if is_halted(&e) => {
            let pending = RowResult::status(Status::Failed, PENDING);
            return Ok((State::Retry, pending, Origin::NotSent));
        }
        Err(e) => {
            let (_, fate) = handling(e.class());
            match fate {
                RowFate::Abort => return Err(CliError::failure(chain(&e))),
                RowFate::StopJob | RowFate::SlowDown => ctx.stop_with(chain(&e)),
                _ => {}
            }
            failed_row(&e, fate)
        }
    };
    Ok((state, result, Origin::Sent))
}

/// The journal path: `--journal`, or `<output>.journal`.
fn journal_path(args: &BatchArgs, output: &Path) -> PathBuf {
    args.journal.clone().unwrap_or_else(|| {
        let mut name = output.file_name().unwrap_or_default().to_owned();
        name.push(".journal");
        output.with_file_name(name)
    })
}

pub fn run(global: &Global, args: &BatchArgs) -> Result<Exit, CliError> {
    if let Some(journal) = &args.report {
        return report(journal, global.json);
    }
    let (Some(input), Some(output)) = (&args.input, &args.output) else {
        return Err(CliError::usage(
            "batch needs --input FILE and --output FILE (or --report JOURNAL)",
        ));
    };
    if args.concurrency == 0 {
        return Err(CliError::usage("--concurrency must be at least 1"));
    }
    let journal_path = journal_path(args, output);
    check_paths(input, output, &journal_path)?;
    let runtime = crate::runtime()?;
    let halt = watch::channel(false).0;
    let client = build_client(global, &runtime, &halt)?;
    let journal = Journal::open(&journal_path, input)?;
    // Only a regular file can be read twice: a pipe or FIFO is streamed without a total.
    let total = if std::fs::metadata(input).is_ok_and(|m| m.is_file()) {
        Some(count_rows(input)?)
    } else {
        None
    };
    let (reader, mut encoding) = RowReader::open(input, args.encoding)?;
    // A BOM goes back into CSV (Excel needs it to read UTF-8); JSON Lines never carry one.
    encoding.bom &= Format::of(input) == Format::Csv;
    let writer = OutputWriter::create(
        output,
        Format::of(input),
        reader.headers(),
        args.prefix.as_deref().unwrap_or_default(),
        encoding,
        args.escape_formulas,
    )?;
    let ctx = Arc::new(Context {
        journal,
        client,
        retry_ambiguous: args.retry_ambiguous,
        journal_path: journal_path.clone(),
        stop: Mutex::new(None),
        interrupted: AtomicBool::new(false),
        halt,
        key_flags: match global.mode {
            ModeArg::Plain => None,
            ModeArg::Aes => Some("--openid / --aes-key (and --aes-mode, --aes-iv)"),
            ModeArg::Rsa => Some("--rsa-public-key"),
        },
        streak: tokio::sync::Mutex::new(Streak::default()),
        reopened: AtomicU64::new(0),
        prefix: args.prefix.clone().unwrap_or_default(),
        dedupe: !args.no_dedupe,
        inflight: Mutex::new(HashMap::new()),
        seen: Mutex::new(HashSet::new()),
    });
    let progress = Progress::new(total, global.json);
    let (summary, reader) = on_worker(&runtime, &ctx, reader, writer, progress, args.concurrency)?;
    let mut summary = summary?;
    summary.suspicious_records = reader.suspicious();
    let ctx =
        Arc::try_unwrap(ctx).map_err(|_| CliError::failure("internal: rows still in flight"))?;
    let stop = ctx.stop.lock().unwrap_or_else(|e| e.into_inner()).take();
    let interrupted = ctx.interrupted.load(Ordering::SeqCst);
    ctx.journal.close()?;
    let exit = print_summary(
        global.json,
        &summary,
        output,
        &journal_path,
        stop.as_deref(),
    )?;
    if interrupted {
        crate::print_error(
            "interrupted: rows in flight finished and were recorded; no output was written",
            Some("rerun the same command to finish the job"),
        );
        return Ok(Exit::Failure);
    }
    Ok(exit)
}

/// The async client (with `--qps` and `--redis`), on the command's runtime. Once the job
/// stops, its waits (retry backoff, rate slots) shrink to short polls, so a row whose earlier
/// attempt went out reaches its next pre-send hook promptly, which then refuses.
fn build_client(
    global: &Global,
    runtime: &tokio::runtime::Runtime,
    halt: &watch::Sender<bool>,
) -> Result<Client, CliError> {
    const HALTED_POLL: Duration = Duration::from_millis(10);
    let halt = halt.subscribe();
    let builder = client_builder(global)?.timer(move |wait: Duration| {
        let mut halt = halt.clone();
        async move {
            let halted = async {
                if halt.wait_for(|stopped| *stopped).await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = halted => tokio::time::sleep(wait.min(HALTED_POLL)).await,
            }
        }
    });
    runtime
        .block_on(async { builder.build() })
        .map_err(|e| config_error(&e))
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
fn check_paths(input: &Path, output: &Path, journal: &Path) -> Result<(), CliError> {
    for (path, flag) in [(output, "--output"), (journal, "--journal")] {
        if path.is_dir() {
            return Err(CliError::usage(format!(
                "{flag} {} is a directory",
                path.display()
            )));
        }
    }
    let same = |a: &Path, b: &Path| identity(a).is_some_and(|id| Some(id) == identity(b));
    if same(input, output) {
        return Err(CliError::usage("--output must not be the input file"));
    }
    if same(input, journal) {
        return Err(CliError::usage("--journal must not be the input file"));
    }
    if same(output, journal) {
        return Err(CliError::usage("--journal must not be the output file"));
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
            return Err(CliError::usage(format!(
                "{} is a file batch writes, and it is the input or the journal",
                file.display()
            )));
        }
    }
    Ok(())
}

/// First SIGINT/SIGTERM: stop sending and drain. Second: exit at once.
async fn on_signals(ctx: std::sync::Weak<Context>) {
    wait_for_signal().await;
    if let Some(ctx) = ctx.upgrade() {
        ctx.interrupted.store(true, Ordering::SeqCst);
        ctx.halt();
    }
    eprintln!(
        "juhe-2fa: stopping: sending nothing new, waiting for requests in flight (at most --timeout); press Ctrl-C again to quit at once"
    );
    wait_for_signal().await;
    std::process::exit(130);
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn print_summary(
    json: bool,
    summary: &progress::Summary,
    output: &Path,
    journal: &Path,
    stop: Option<&str>,
) -> Result<Exit, CliError> {
    let not_final: u64 = Status::ALL
        .iter()
        .filter(|s| !s.is_final())
        .map(|s| summary.by_status[s.as_str()])
        .sum();
    if json {
        let mut value =
            serde_json::to_value(summary).map_err(|e| CliError::failure(e.to_string()))?;
        value["output"] = serde_json::json!(output);
        value["journal"] = serde_json::json!(journal);
        value["stopped"] = serde_json::json!(stop);
        crate::print_line(&value.to_string());
    } else {
        let counts: Vec<String> = summary
            .by_status
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        eprintln!(
            "batch: {} rows in {:.1} s ({:.0} rows/s): {}; billable calls {} ({} this run)",
            summary.rows,
            summary.elapsed_s,
            summary.rows_per_s,
            counts.join(", "),
            summary.billable,
            summary.billable_this_run
        );
        eprintln!(
            "output: {}  journal: {}",
            output.display(),
            journal.display()
        );
        if summary.duplicates > 0 {
            eprintln!(
                "{} row(s) repeated an earlier pair: they got its result and were not sent again (--no-dedupe to send them)",
                summary.duplicates
            );
        }
        if summary.reused > 0 {
            eprintln!(
                "{} row(s) got another process's answer for the same pair through Redis: not sent, not billed to this run",
                summary.reused
            );
        }
        if summary.suspicious_records > 0 {
            eprintln!(
                "warning: {} record(s) have a field spanning lines, as a stray quote makes: \
                 `juhe-2fa check --input FILE` lists them",
                summary.suspicious_records
            );
        }
        if stop.is_none() && not_final > 0 {
            eprintln!(
                "{not_final} row(s) not final: rerun the same command to retry `failed` rows; `unknown` rows may have been billed and are resent only with --retry-ambiguous"
            );
        }
    }
    if let Some(why) = stop {
        crate::print_error(
            &format!("the job stopped: {why}"),
            Some(
                "fix the account or key, then rerun the same command: finished rows are not sent again",
            ),
        );
        return Ok(Exit::Api);
    }
    Ok(if not_final == 0 {
        Exit::Ok
    } else {
        Exit::Failure
    })
}

/// Runs the pipeline on a worker, not the main thread: each row's request, answer and journal
/// write then mostly stay on one thread instead of waking another at every step.
fn on_worker(
    runtime: &tokio::runtime::Runtime,
    ctx: &Arc<Context>,
    mut reader: RowReader,
    writer: OutputWriter,
    progress: Progress,
    concurrency: usize,
) -> Result<(Result<progress::Summary, CliError>, RowReader), CliError> {
    let ctx = ctx.clone();
    let task = runtime.spawn(async move {
        let summary = pipeline(&ctx, &mut reader, writer, progress, concurrency).await;
        (summary, reader)
    });
    runtime
        .block_on(task)
        .map_err(|e| CliError::failure(format!("the batch task failed: {e}")))
}

async fn pipeline(
    ctx: &Arc<Context>,
    reader: &mut RowReader,
    mut writer: OutputWriter,
    mut progress: Progress,
    concurrency: usize,
) -> Result<progress::Summary, CliError> {
    // Once the job stops, no more rows are read; those in flight finish.
    let signals = tokio::spawn(on_signals(Arc::downgrade(ctx)));
    let rows = futures_util::stream::iter(std::iter::from_fn(|| {
        if ctx.stopped() {
            None
        } else {
            reader.next_row()
        }
    }));
    let mut results = rows
        .map(|row| {
            let ctx = ctx.clone();
            async move {
                let row = row?;
                let (outcome, origin) = process(&ctx, &row).await?;
                Ok::<_, CliError>((row, outcome, origin))
            }
        })
        .buffered(concurrency);
    // The first failure of the job itself (the output, the journal, a row it cannot take).
    // The job stops, but the rows in flight are still awaited: their answers are journalled,
    // where the rerun finds them, instead of being dropped `sent` (maybe billed, unknown).
    let mut failure: Option<CliError> = None;
    while let Some(item) = results.next().await {
        let (row, outcome, origin) = match item {
            Ok(item) => item,
            Err(e) => {
                ctx.halt();
                failure.get_or_insert(e);
                continue;
            }
        };
        progress.update(outcome.status, origin);
        if failure.is_none()
            && let Err(e) = writer.write(&row, &outcome)
        {
            ctx.halt();
            failure = Some(output_failed(e));
        }
    }
    drop(results);
    signals.abort();
    progress.recount(
        Status::ApiError,
        Status::Failed,
        ctx.reopened.load(Ordering::SeqCst),
    );
    if let Some(failure) = failure {
        // The rerun writes the output whole; the failure is what the user needs to hear.
        let _ = writer.abandon();
        return Err(failure);
    }
    if ctx.stopped() {
        // The output is incomplete: the rerun writes it whole.
        writer.abandon()?;
    } else {
        writer.finish().map_err(output_failed)?;
    }
    Ok(progress.finish())
}

/// A failed output write: every answered row is in the journal, so a rerun writes the output
/// without sending them again.
fn output_failed(e: CliError) -> CliError {
    if e.hint.is_some() {
        return e;
    }
    e.with_hint(
        "every answered row is in the journal: free space (or fix the output path), then rerun the same command; it writes the output without sending those rows again",
    )
}

/// `batch --report JOURNAL`: the order ids and outcomes a job produced.
fn report(path: &Path, json: bool) -> Result<Exit, CliError> {
    let mut counts = std::collections::BTreeMap::<&'static str, u64>::new();
    let mut lines = Vec::new();
    journal::read_all(path, |row, entry| {
        *counts.entry(entry.outcome.status.as_str()).or_default() += 1;
        if json {
            lines.push(
                serde_json::json!({
                    "row": row,
                    "status": entry.outcome.status.as_str(),
                    "order_id": entry.outcome.order_id,
                    "error_code": entry.outcome.error_code,
                })
                .to_string(),
            );
        } else if let Some(order_id) = &entry.outcome.order_id {
            lines.push(format!(
                "{row},{},{order_id}",
                entry.outcome.status.as_str()
            ));
        }
    })?;
    if !json {
        crate::print_line("row,status,order_id");
    }
    for line in &lines {
        crate::print_line(line);
    }
    if !json {
        let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
        eprintln!("journal {}: {}", path.display(), summary.join(", "));
    }
    Ok(Exit::Ok)
}
