//! One row of a job: its journal lookup, de-duplication, check and recorded outcome.
//!
//! Per row: look the row up in the journal (done rows are never sent again; rows left `sent`
//! may have been billed and are reported `unknown` unless the job retries ambiguous rows), validate
//! locally (invalid rows are `rejected` without a request), then check it with the async
//! client, whose pre-send hook commits `sent` to the journal just before each attempt goes
//! out; then commit the outcome. Results are written in input order to `<output>.partial`,
//! renamed into place when the job is complete. A code about the account or the service (a
//! wrong key, say) stops the job with its rows still pending, so a rerun with the fix resumes;
//! so do three 232901/232902 answers in a row in AES/RSA mode (wrong key material, see
//! [`Streak`]). Once the job stops (that, the caller's [`StopHandle`], or a failed output
//! write) no request leaves: the pre-send hook refuses, and rows waiting (rate limit,
//! slow-down) stay pending.
//!
//! "The same pair" is [`PairIdentity`](juhe_2fa::PairIdentity): the normalised numbers, for
//! de-duplication and the journal alike.
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use juhe_2fa::{BoxError, Client, ErrorCode, IdCard, Mobile, Verification};
use tokio::sync::watch;

use crate::error::{Error, error_chain};
use crate::fate::{RowFate, row_fate};
use crate::input::Row;
use crate::journal::{Entry, Journal, RowResult, State, Status};
use crate::output;
use crate::stop::StopHandle;
use crate::tally::Origin;

// Reasons recorded in the journal and written to the output (`messages.rs`, in the job's
// language). A rerun reads them back (rows of earlier runs keep theirs), so they stay worded
// for the `juhe-2fa batch` command.
use crate::messages::{self, Lang, Reason};

/// In AES/RSA mode, this many 232901/232902 answers with no other answer in between mean the
/// key material is wrong, not the rows.
const KEY_STREAK: u32 = 3;

/// Rate-limit answers that outlast the client's own retries: the row waits this long, doubling,
/// this many times, then the job stops (about two minutes in all).
const SLOW_DOWN_FIRST: Duration = Duration::from_secs(2);
const SLOW_DOWN_ROUNDS: u32 = 6;

/// What every row of a running job shares.
pub(crate) struct Context {
    pub(crate) journal: Journal,
    pub(crate) client: Client,
    pub(crate) retry_ambiguous: bool,
    pub(crate) journal_path: PathBuf,
    /// Why the job stopped early (the first account-level error), if it did: in English and
    /// in Chinese.
    pub(crate) stop: Mutex<Option<(String, String)>>,
    /// The language of the reasons the job writes.
    pub(crate) lang: Lang,
    /// The class of the failure that stopped it (a spent budget exits differently).
    pub(crate) stop_class: Mutex<Option<juhe_2fa::ErrorClass>>,
    /// Stopped once the job stops for any reason: no request leaves from then on, and waits
    /// end.
    pub(crate) halt: StopHandle,
    /// In AES/RSA mode, where the key material is set (for the message); `None` in plain mode.
    pub(crate) key_flags: Option<String>,
    /// 232901/232902 answers in a row (AES/RSA mode only).
    pub(crate) streak: tokio::sync::Mutex<Streak>,
    /// Rows recorded `api_error` and then reopened as pending by a tripped [`Streak`].
    pub(crate) reopened: AtomicU64,
    /// The prefix of the added names.
    pub(crate) prefix: String,
    /// De-duplicate pairs within the job.
    pub(crate) dedupe: bool,
    /// Pairs being checked right now: a later row with the same pair waits for the first one's
    /// result instead of sending. Holds at most `concurrency` entries.
    pub(crate) inflight: Mutex<HashMap<i64, watch::Sender<Option<Published>>>>,
    /// Pairs claimed in this run. In a fresh job, a pair not in it came in no earlier row, so
    /// the journal need not be asked (a round trip to its thread per row saved).
    pub(crate) seen: Mutex<HashSet<i64>>,
}

/// In AES/RSA mode, a 232901 (malformed mobile) or 232902 (invalid ID card) for numbers that
/// passed local validation most likely means the vendor could not decrypt them: wrong OpenID,
/// AES key or RSA key, which would turn every row of the job into a final `api_error`. Such
/// answers are recorded as they come; after [`KEY_STREAK`] of them with no other answer in
/// between, the job stops like an account-level error and those rows (and copies of them) are
/// reopened as pending, so a rerun with the right key checks them. Another answer ends the
/// streak: its rows keep their `api_error`.
#[derive(Default)]
pub(crate) struct Streak {
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

fn halted() -> juhe_2fa::Error {
    juhe_2fa::Error::Cancelled(Box::new(Halted))
}

fn is_halted(error: &juhe_2fa::Error) -> bool {
    matches!(error, juhe_2fa::Error::Cancelled(source) if source.is::<Halted>())
}

/// What the first row of a pair tells the rows waiting on it: its number and, when it may be
/// copied, its result.
pub(crate) type Published = (u64, Option<RowResult>);

/// Whether a row holds the pair's claim or waits on the row that does.
enum Claim {
    Mine,
    Theirs(watch::Receiver<Option<Published>>),
}

impl Context {
    pub(crate) fn stopped(&self) -> bool {
        self.halt.is_stopped()
    }

    /// Stops the job: nothing new is sent; requests already on the wire finish.
    pub(crate) fn halt(&self) {
        self.halt.stop();
    }

    fn stop_with(&self, en: String, zh: String) {
        self.stop
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert((en, zh));
        self.halt();
    }

    /// Resolves once the job has stopped.
    async fn halted(&self) {
        self.halt.stopped().await;
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

fn verdict_result(v: Verification, lang: Lang) -> RowResult {
    let reason = v.from_cache().then(|| Reason::Reused.text(lang).into());
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

/// A failed check as a row: its journal state and result, from the one table in `fate.rs`.
fn failed_row(error: &juhe_2fa::Error, fate: RowFate, lang: Lang) -> (State, RowResult) {
    let mut result = RowResult::status(Status::Failed, messages::failure(error, lang));
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
async fn recorded(ctx: &Context, row: &Row, pair: i64) -> Result<Option<RowResult>, Error> {
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
        return Err(Error::OtherInput {
            journal: ctx.journal_path.clone(),
            row: row.number,
        });
    }
    Ok(match state {
        State::Done => Some(outcome),
        State::Sent if !ctx.retry_ambiguous => {
            let reason = match (outcome.status, outcome.reason) {
                (Status::Unknown, Some(reason)) => reason,
                _ => Reason::SentBefore.text(ctx.lang).to_owned(),
            };
            Some(RowResult::status(Status::Unknown, reason))
        }
        State::Sent | State::Retry => None,
    })
}

/// The row's two numbers, or the `rejected` result that sends nothing.
fn parse_row(row: &Row, lang: Lang) -> Result<(IdCard, Mobile), RowResult> {
    let reject = |reason: String| RowResult::status(Status::Rejected, reason);
    match (&row.malformed, row.idcard.as_deref(), row.mobile.as_deref()) {
        (Some(malformed), _, _) => Err(reject(malformed.text(lang))),
        (None, Some(idcard), Some(mobile)) => {
            match (IdCard::parse(idcard), Mobile::parse(mobile)) {
                (Ok(i), Ok(m)) => Ok((i, m)),
                (Err(e), _) | (_, Err(e)) => Err(reject(messages::invalid(&e, lang))),
            }
        }
        _ => Err(reject(Reason::NoNumbers.text(lang).into())),
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
) -> Result<Verification, juhe_2fa::Error> {
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
            let sent = RowResult::status(Status::Unknown, Reason::SentBefore.text(ctx.lang));
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
            Err(e) if row_fate(e.class()) == RowFate::SlowDown && round < SLOW_DOWN_ROUNDS => {
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
fn copyable(
    first: u64,
    state: State,
    result: &RowResult,
    lang: Lang,
) -> Option<(State, RowResult)> {
    let state = match (state, result.status) {
        (State::Done, Status::Match | Status::Mismatch | Status::ApiError) => State::Done,
        (State::Sent, _) | (_, Status::Unknown) => State::Sent,
        _ => return None,
    };
    let mut copy = result.clone();
    copy.reason = Some(messages::copy_note(first, result.reason.as_deref(), lang));
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
) -> Result<(Option<(State, RowResult)>, bool), Error> {
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
                copyable(n, state, &result, ctx.lang)
            });
            Ok((copy, false))
        }
        Claim::Mine if ctx.journal.fresh() && first_sighting(ctx, pair) => Ok((None, true)),
        Claim::Mine => match ctx.journal.find_pair(pair, row).await {
            Ok(found) => Ok((
                found.and_then(|(n, e)| copyable(n, e.state, &e.outcome, ctx.lang)),
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
        Some(reason) if messages::is_copy_note(reason) => Origin::Copy,
        Some(reason) if Reason::is_reused(reason) => Origin::Reused,
        _ if result.status.is_billable() => Origin::Earlier,
        _ => Origin::NotSent,
    }
}

/// One row: its result, and where the result came from.
pub(crate) async fn process(ctx: &Context, row: &Row) -> Result<(RowResult, Origin), Error> {
    let parsed = parse_row(row, ctx.lang);
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
        let pending = RowResult::status(Status::Failed, Reason::Pending.text(ctx.lang));
        return Ok((pending, Origin::NotSent));
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
        .filter(|c| c.is_unreadable_field())
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
) -> Result<RowResult, Error> {
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
        let mut pending = RowResult::status(Status::Failed, Reason::KeyPending.text(ctx.lang));
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
    let flags = ctx.key_flags.as_deref();
    ctx.stop_with(
        messages::key_material(code, streak.answers, flags, Lang::En),
        messages::key_material(code, streak.answers, flags, Lang::Zh),
    );
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

/// Sends a row's check and turns the answer into its journal state and result, and where the
/// result came from.
async fn send_row(
    ctx: &Context,
    row: u64,
    pair: i64,
    idcard: &IdCard,
    mobile: &Mobile,
) -> Result<(State, RowResult, Origin), Error> {
    let (state, result) = match check(ctx, row, pair, idcard, mobile).await {
        Ok(v) if v.from_cache() => {
            return Ok((State::Done, verdict_result(v, ctx.lang), Origin::Reused));
        }
        Ok(v) => (State::Done, verdict_result(v, ctx.lang)),
        // Not sent: pending, sent by the next run.
        Err(e) if is_halted(&e) => {
            let pending = RowResult::status(Status::Failed, Reason::Pending.text(ctx.lang));
            return Ok((State::Retry, pending, Origin::NotSent));
        }
        Err(e) => {
            let fate = row_fate(e.class());
            match fate {
                RowFate::Abort => return Err(Error::Check(e)),
                RowFate::StopJob | RowFate::SlowDown => {
                    ctx.stop_class
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get_or_insert(e.class());
                    let zh = messages::stop_zh(&e);
                    ctx.stop_with(error_chain(&e), zh);
                }
                _ => {}
            }
            failed_row(&e, fate, ctx.lang)
        }
    };
    Ok((state, result, Origin::Sent))
}
