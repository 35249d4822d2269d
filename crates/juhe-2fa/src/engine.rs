//! The check engine, sans I/O: the order of one check, written once.
//!
//! A [`Check`] is a state machine. [`Check::step`] takes the outcome of the last thing it asked
//! for and says what to do next: claim the pair or reserve a rate slot in the shared store,
//! sleep, run the caller's pre-send hook, send this request, settle the pair. The async
//! [`Client`](crate::Client) and the [`BlockingClient`](crate::BlockingClient) are drivers:
//! they do what a step says (await or block) and feed the outcome back. Nothing here sends,
//! sleeps or talks to a store.
//!
//! The order: [claim the pair] → local rate slot → [shared rate slot] → pre-send hook → [mark
//! the pair sent] → send → read → (retry: [slow the budget down on 10012] → back off → rate
//! slot …) → [settle the pair]. Bracketed steps are the fleet's (feature `redis`).
//!
//! Dropping a check mid-way (a timeout, `select!`, an aborted task) is safe: its pair is freed
//! at once if its request had not left, and settled as ambiguous if it had, so other callers
//! neither wait for it nor send it again (the keeper runs that last operation).

use std::time::{Duration, Instant, SystemTime};

use juhe_proto::{ErrorCode, IdCard, Mobile};
use juhe_transport::{BoxError, HttpRequest, HttpResponse, MaybeSentReason, TransportError};

use crate::budget::Unit;
use crate::core::{Core, Prepared};
#[cfg(feature = "redis")]
use crate::fleet::{ClaimStep, Misconfigured, PairTurn, RateStep, StoreOp, StoreReply};
use crate::ledger::{Context, Entry, Outcome};

/// Budget counters in the fleet's store, and the receipt of the spend that took them.
type StoreKeys = (Vec<String>, Option<String>);
use crate::{Attempt, Error, Verification};

/// What a driver does next.
pub(crate) enum Step {
    /// Sleep this long, then feed [`Input::Go`].
    Sleep(Duration),
    /// Run the pre-send hook for this attempt, then feed [`Input::Hooked`].
    Hook(Attempt),
    /// Send this request, then feed [`Input::Answered`].
    Send(HttpRequest),
    /// Run this operation on the shared store, then feed [`Input::Stored`].
    #[cfg(feature = "redis")]
    Store(StoreOp),
    /// Ask or tell the audit ledger (`Core::ledger_call`), then feed [`Input::Ledger`].
    Ledger(LedgerCall),
    /// The check is over.
    Done(Result<Verification, Error>),
}

/// The outcome of the last step.
pub(crate) enum Input {
    /// Start, or the sleep is over.
    Go,
    Hooked(Result<(), BoxError>),
    Answered(Result<HttpResponse, TransportError>),
    #[cfg(feature = "redis")]
    Stored(Result<StoreReply, BoxError>),
    Ledger(Result<(), BoxError>),
    /// Billable checks the ledger counted in budget windows: (the caller's budget, budget,
    /// window, count).
    Counted(Vec<(bool, usize, i64, Option<u64>)>),
}

/// What the engine asks of the audit ledger.
pub(crate) enum LedgerCall {
    /// May this check be sent (can the ledger record it)?
    Admit(Context),
    /// How the check ended.
    Record(Box<Entry>),
    /// Billable checks since each window's start: (the caller's budget, budget, window,
    /// start), by every caller or by `caller` alone for the caller's budgets.
    Count {
        caller: Option<String>,
        windows: Vec<(bool, usize, i64, SystemTime)>,
    },
}

/// Counts a check that was refused before it could start.
pub(crate) fn count_rejection(mode: juhe_proto::Endpoint, error: &Error) {
    metrics::counter!(
        "juhe_checks_total",
        "mode" => mode.as_str(),
        "outcome" => Outcome::Rejected.as_str(),
        "code" => error.error_code().map_or(String::new(), |c| c.code().to_string()),
    )
    .increment(1);
}

enum Phase {
    /// The caller's own rate ([`crate::budget::CallerLimits`]): a slot now, or refused.
    CallerRate,
    /// De-duplication: claim the pair, or wait for and reuse another caller's answer.
    #[cfg(feature = "redis")]
    Claim,
    LocalRate,
    SharedRate,
    /// The shared store failed: the local fallback limiter serves.
    #[cfg(feature = "redis")]
    FallbackRate,
    /// The spend budgets give a unit before the first request.
    Budget,
    /// The audit ledger admits the check before its first request.
    Admit,
    Hook,
    MarkSent,
    Send,
    /// A 10012: slow the shared budget down, then back off.
    SlowDown(Duration),
    Backoff(Duration),
    Settle(Result<Verification, Error>),
    #[cfg(feature = "redis")]
    Leave(StoreOp, Result<Verification, Error>),
    Done(Result<Verification, Error>),
    Over,
}

/// One check in progress. See the module documentation.
pub(crate) struct Check<'c> {
    core: &'c Core,
    prepared: Prepared,
    phase: Phase,
    /// A sleep asked for by the current phase, which then runs again.
    sleep: Option<Duration>,
    attempt: u32,
    started: Instant,
    /// When the current attempt began waiting for the shared budget.
    rate_since: Instant,
    /// A request was handed to the driver and its outcome has not been read.
    in_flight: bool,
    /// Some attempt was sent.
    sent: bool,
    /// When the whole check must be over (waits and new attempts stop there).
    deadline: Option<Instant>,
    /// Who checks and why (for the ledger).
    context: &'c Context,
    /// The numbers, for the ledger's entry (only with a ledger).
    pair: Option<(IdCard, Mobile)>,
    /// The ledger admitted the check / was told how it ended.
    admitted: bool,
    recorded: bool,
    /// Budget units taken for this check (given back if it ends unbillable).
    units: Vec<Unit>,
    budgeted: bool,
    refunded: bool,
    /// The phase after [`Phase::CallerRate`].
    first: Option<Phase>,
    #[cfg(feature = "redis")]
    turn: Option<PairTurn>,
    /// A refund sent to the store and not yet confirmed: handed to the keeper if the check
    /// is dropped first (refunds are once per spend, so running it twice is harmless).
    #[cfg(feature = "redis")]
    refund_pending: Option<StoreKeys>,
}

impl<'c> Check<'c> {
    /// Prepares a check: the fields are encrypted once here, for every attempt. `deadline`
    /// bounds the whole check (see [`Error::Deadline`]).
    pub(crate) fn new(
        core: &'c Core,
        (idcard, mobile): (&IdCard, &Mobile),
        deadline: Option<Duration>,
        context: &'c Context,
    ) -> Result<Self, Error> {
        let prepared = core
            .prepare(idcard, mobile)
            .inspect_err(|e| core.rejected(context, e))?;
        #[cfg(feature = "redis")]
        let turn = core.fleet.as_ref().and_then(|f| f.turn(idcard, mobile));
        #[cfg(feature = "redis")]
        let phase = if turn.is_some() {
            Phase::Claim
        } else {
            Phase::LocalRate
        };
        #[cfg(not(feature = "redis"))]
        let phase = Phase::LocalRate;
        let (first, phase) = match context.limits {
            Some(_) => (Some(phase), Phase::CallerRate),
            None => (None, phase),
        };
        let now = Instant::now();
        Ok(Check {
            core,
            prepared,
            phase,
            sleep: None,
            attempt: 1,
            started: now,
            rate_since: now,
            in_flight: false,
            sent: false,
            // A deadline past the clock's range (`Duration::MAX`) is no deadline, not a panic.
            deadline: deadline.and_then(|d| now.checked_add(d)),
            context,
            pair: core
                .ledger
                .is_some()
                .then(|| (idcard.clone(), mobile.clone())),
            admitted: false,
            recorded: false,
            units: Vec::new(),
            budgeted: false,
            refunded: false,
            first,
            #[cfg(feature = "redis")]
            turn,
            #[cfg(feature = "redis")]
            refund_pending: None,
        })
    }

    /// The check's tracing span (mode and masked numbers).
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.prepared.span
    }

    /// Takes the outcome of the last step and says what to do next.
    pub(crate) fn step(&mut self, input: Input) -> Step {
        self.take(input);
        loop {
            if let Some(wait) = self.sleep.take() {
                match self.past_deadline(wait) {
                    false => return Step::Sleep(wait),
                    true => continue,
                }
            }
            match self.advance() {
                Some(Step::Sleep(wait)) if self.past_deadline(wait) => continue,
                Some(Step::Hook(_)) if self.past_deadline(Duration::ZERO) => continue,
                Some(step) => return step,
                None => {}
            }
        }
    }

    /// Whether waiting `wait` (or starting an attempt, for zero) would pass the deadline; if
    /// so, the check ends with [`Error::Deadline`] (its pair settled or left first).
    fn past_deadline(&mut self, wait: Duration) -> bool {
        let Some(deadline) = self.deadline else {
            return false;
        };
        // A wait past the clock's range is past any deadline the clock can hold.
        if Instant::now()
            .checked_add(wait)
            .is_some_and(|end| end <= deadline)
        {
            return false;
        }
        self.deadline = None;
        let error = Error::Deadline { sent: self.sent };
        #[cfg(feature = "redis")]
        if let (Some(fleet), Some(turn)) = (self.core.fleet.as_ref(), self.turn.as_ref()) {
            if !turn.held {
                if let Some(op) = fleet.abandon(turn, false) {
                    self.phase = Phase::Leave(op, Err(error));
                    return true;
                }
                self.phase = Phase::Done(Err(error));
                return true;
            }
        }
        self.finish(Err(error));
        true
    }

    /// Feeds an outcome to the phase that asked for it.
    fn take(&mut self, input: Input) {
        match input {
            Input::Go => {}
            Input::Hooked(Ok(())) => self.phase = Phase::MarkSent,
            Input::Hooked(Err(e)) => self.finish(Err(Error::Cancelled(e))),
            Input::Answered(outcome) => {
                self.in_flight = false;
                self.answered(outcome);
            }
            #[cfg(feature = "redis")]
            Input::Stored(reply) => self.stored(reply),
            Input::Ledger(result) => self.ledgered(result),
            Input::Counted(counts) => {
                for (caller, budget, window, used) in counts {
                    if let Some(budgets) = self.book_of(caller) {
                        budgets.seed(budget, window, used);
                    }
                }
                self.spend_local();
            }
        }
    }

    /// Takes the budgets' units (the first attempt only): in the fleet's store when there is
    /// one, else in-process (seeded from the ledger first).
    fn budget(&mut self) -> Option<Step> {
        let now = SystemTime::now();
        self.phase = Phase::Budget;
        #[cfg(feature = "redis")]
        {
            let caller = self
                .context
                .limits
                .as_ref()
                .and_then(|l| Some((l.name(), l.budgets()?)));
            let budgets = self.core.budgets.as_ref();
            if let Some((op, units)) = self.fleet().and_then(|f| f.spend_op(budgets, caller, now)) {
                self.units = units;
                return Some(Step::Store(op));
            }
        }
        if self.core.ledger.is_some() {
            // The client's budgets count every caller's checks; the caller's, its own.
            let windows: Vec<_> = [false, true]
                .into_iter()
                .filter_map(|caller| Some((caller, self.book_of(caller)?.unseeded(now))))
                .flat_map(|(caller, unseeded)| {
                    unseeded
                        .into_iter()
                        .map(move |(b, w, since)| (caller, b, w, since))
                })
                .collect();
            if !windows.is_empty() {
                let caller = self.context.limits.as_ref().map(|l| l.name().to_owned());
                return Some(Step::Ledger(LedgerCall::Count { caller, windows }));
            }
        }
        self.spend_local();
        None
    }

    /// The caller's own rate: in the fleet's store when there is one (every process counts),
    /// else (or while the store fails) in-process. Refused, not waited for.
    fn caller_rate(&mut self) -> Option<Step> {
        #[cfg(feature = "redis")]
        if let Some(op) = self.context.limits.as_ref().and_then(|l| {
            let rate = l.rate()?;
            self.fleet()?.caller_reserve_op(l.name(), rate)
        }) {
            self.phase = Phase::CallerRate;
            return Some(Step::Store(op));
        }
        self.caller_rate_local();
        None
    }

    fn caller_rate_local(&mut self) {
        let limits = self.context.limits.as_ref();
        match limits.map(|l| l.try_rate()) {
            Some(Err(retry_after)) => self.finish(Err(Error::CallerRate { retry_after })),
            _ => self.phase = self.first.take().unwrap_or(Phase::LocalRate),
        }
    }

    /// Whether the client or the caller has spend budgets.
    fn has_budgets(&self) -> bool {
        self.core.budgets.is_some() || self.caller_budgets().is_some()
    }

    fn caller_budgets(&self) -> Option<&crate::budget::Budgets> {
        self.context.limits.as_ref()?.budgets()
    }

    /// The book a unit was taken from.
    fn book(&self, unit: &Unit) -> Option<&crate::budget::Budgets> {
        self.book_of(unit.caller)
    }

    /// The caller's budgets, or the client's.
    fn book_of(&self, caller: bool) -> Option<&crate::budget::Budgets> {
        match caller {
            true => self.caller_budgets(),
            false => self.core.budgets.as_ref(),
        }
    }

    /// Takes a unit of every budget in-process: the client's, then the caller's (the
    /// client's given back when the caller's is spent).
    fn spend_local(&mut self) {
        let now = SystemTime::now();
        let mut units = Vec::new();
        if let Some(budgets) = &self.core.budgets {
            match budgets.reserve_local(now) {
                Ok(taken) => units = taken,
                Err(e) => return self.finish(Err(e)),
            }
        }
        if let Some(budgets) = self.caller_budgets() {
            match budgets.reserve_local(now) {
                Ok(taken) => units.extend(taken.into_iter().map(|u| Unit { caller: true, ..u })),
                Err(e) => {
                    if let Some(client) = &self.core.budgets {
                        client.refund_local(&units);
                    }
                    return self.finish(Err(e));
                }
            }
        }
        self.units = units;
        self.phase = Phase::Hook;
    }

    /// A check that ends unbillable gives its budget units back: in-process at once, in the
    /// store with a step.
    fn refund(&mut self, billable: bool) -> Option<StoreKeys> {
        let units = std::mem::take(&mut self.units);
        if billable || units.is_empty() {
            return None;
        }
        for unit in &units {
            if let Some(budgets) = self.book(unit) {
                budgets.refund_local(std::slice::from_ref(unit));
            }
        }
        let receipt = units.iter().find_map(|u| u.receipt.clone());
        let keys: Vec<String> = units.into_iter().filter_map(|u| u.key).collect();
        (!keys.is_empty()).then_some((keys, receipt))
    }

    /// The ledger's answer: to `Admit`, go on or refuse; to `Record`, only a warning.
    fn ledgered(&mut self, result: Result<(), BoxError>) {
        match (std::mem::replace(&mut self.phase, Phase::Over), result) {
            (Phase::Admit, Ok(())) => self.phase = Phase::Hook,
            (Phase::Admit, Err(e)) => {
                let optional = self.core.ledger.as_ref().is_some_and(|l| l.optional);
                if optional {
                    tracing::warn!(error = %e, "the audit ledger cannot record; sending anyway (optional)");
                    self.phase = Phase::Hook;
                } else {
                    self.finish(Err(Error::Ledger(e)));
                }
            }
            (phase, result) => {
                if let Err(e) = result {
                    tracing::error!(error = %e, "the audit ledger could not record a check");
                }
                self.phase = phase;
            }
        }
    }

    /// Runs the current phase: a step for the driver, or `None` when it moved on by itself.
    fn advance(&mut self) -> Option<Step> {
        let now = Instant::now();
        match std::mem::replace(&mut self.phase, Phase::Over) {
            #[cfg(feature = "redis")]
            Phase::Claim => return self.claim(),
            Phase::LocalRate => match self.core.rate_limit.as_ref().map(|l| l.try_acquire(now)) {
                Some(Err(wait)) => {
                    self.phase = Phase::LocalRate;
                    return Some(Step::Sleep(wait));
                }
                _ => {
                    self.rate_since = now;
                    self.phase = Phase::SharedRate;
                }
            },
            Phase::SharedRate => return self.shared_rate(),
            #[cfg(feature = "redis")]
            Phase::FallbackRate => return self.fallback_rate(now),
            Phase::CallerRate => return self.caller_rate(),
            Phase::Hook if !self.budgeted && self.has_budgets() => {
                self.budgeted = true;
                return self.budget();
            }
            Phase::Budget => self.spend_local(),
            Phase::Hook if !self.admitted && self.core.ledger.is_some() => {
                self.admitted = true;
                self.phase = Phase::Admit;
                return Some(Step::Ledger(LedgerCall::Admit(self.context.clone())));
            }
            Phase::Admit => self.phase = Phase::Hook,
            Phase::Hook => {
                self.phase = Phase::Hook;
                return Some(Step::Hook(Attempt::new(self.attempt)));
            }
            Phase::MarkSent => return self.mark_sent(),
            Phase::Send => match self.core.request(&self.prepared) {
                Ok(request) => {
                    self.phase = Phase::Send;
                    self.in_flight = true;
                    self.sent = true;
                    return Some(Step::Send(request));
                }
                Err(e) => self.finish(Err(e)),
            },
            Phase::SlowDown(delay) => return self.slow_down(delay, now),
            Phase::Backoff(delay) => {
                self.attempt += 1;
                self.phase = Phase::LocalRate;
                return Some(Step::Sleep(delay));
            }
            Phase::Settle(result) => return self.settle(result),
            #[cfg(feature = "redis")]
            Phase::Leave(op, result) => {
                self.phase = Phase::Leave(op.clone(), result);
                return Some(Step::Store(op));
            }
            Phase::Done(result) => return self.ending(result),
            Phase::Over => {
                return Some(Step::Done(Err(Error::config(
                    "the check was driven after it ended",
                ))));
            }
        }
        None
    }

    /// The last steps of a check: give unbillable budget units back, tell the ledger, done.
    fn ending(&mut self, result: Result<Verification, Error>) -> Option<Step> {
        if !self.refunded {
            self.refunded = true;
            let billable = crate::ledger::classify(&result).1.is_billable();
            let keys = self.refund(billable);
            self.phase = Phase::Done(result);
            #[cfg(feature = "redis")]
            if let Some((keys, receipt)) = keys {
                self.refund_pending = Some((keys.clone(), receipt.clone()));
                return Some(Step::Store(StoreOp::Refund { keys, receipt }));
            }
            #[cfg(not(feature = "redis"))]
            let _ = keys;
            return None;
        }
        if !self.recorded {
            self.recorded = true;
            let entry = self.entry(&result);
            self.phase = Phase::Done(result);
            return entry.map(|entry| Step::Ledger(LedgerCall::Record(Box::new(entry))));
        }
        Some(Step::Done(self.done(result)))
    }

    /// Ends the check with `result`: settle the pair first if it is held.
    fn finish(&mut self, result: Result<Verification, Error>) {
        self.phase = Phase::Settle(result);
    }

    /// The ledger's entry for the check (with a ledger).
    fn entry(&self, result: &Result<Verification, Error>) -> Option<Entry> {
        let (idcard, mobile) = self.pair.as_ref()?;
        let attempts = u32::from(self.sent) * self.attempt;
        let timing = (attempts, self.started.elapsed());
        Some(Entry::new(
            (idcard, mobile),
            self.core.endpoint,
            self.context,
            result,
            timing,
        ))
    }

    /// The span gets the attempts, the order id and the latency once, at the end; the metrics
    /// count the check.
    fn done(&self, result: Result<Verification, Error>) -> Result<Verification, Error> {
        let span = &self.prepared.span;
        let attempts = result.as_ref().map_or(self.attempt, |v| v.attempts);
        self.count(&result);
        span.record("attempts", attempts);
        span.record("latency_ms", self.started.elapsed().as_millis() as u64);
        match &result {
            Ok(v) => {
                span.record("order_id", v.order_id.as_str());
                span.in_scope(|| tracing::info!(verdict = %v.verdict, "check answered"));
            }
            Err(error) => span.in_scope(
                || tracing::debug!(%error, class = error.class().as_str(), "check failed"),
            ),
        }
        result
    }

    /// The check's metrics (`metrics` facade: no exporter is chosen here). Never a number or
    /// the key in a label.
    fn count(&self, result: &Result<Verification, Error>) {
        let sent = u32::from(self.sent) * self.attempt;
        let timing = (sent, self.started.elapsed());
        let (outcome, billed, code) = crate::ledger::classify(result);
        // Static labels: no allocation per check (the code only when there is one).
        let mode = self.core.endpoint.as_str();
        metrics::counter!("juhe_checks_total", "mode" => mode, "outcome" => outcome.as_str(), "code" => code)
            .increment(1);
        if billed.is_billable() {
            metrics::counter!("juhe_billed_total", "mode" => mode, "billed" => billed.as_str())
                .increment(1);
        }
        metrics::counter!("juhe_attempts_total", "mode" => mode).increment(u64::from(timing.0));
        metrics::histogram!("juhe_check_duration_seconds", "mode" => mode)
            .record(timing.1.as_secs_f64());
    }

    /// Reads one attempt's outcome: an answer, a final failure, or a retry after a wait.
    fn answered(&mut self, outcome: Result<HttpResponse, TransportError>) {
        let span = &self.prepared.span;
        match span.in_scope(|| self.core.read(&self.prepared, outcome)) {
            Ok(answer) => self.finish(Ok(Verification {
                verdict: answer.verdict,
                order_id: answer.order_id,
                mode: self.core.endpoint,
                attempts: self.attempt,
                carrier: self.prepared.carrier,
                reused_from: None,
            })),
            Err(error) => match self.core.retry.delay_for(&error, self.attempt) {
                Some(delay) => {
                    let attempt = self.attempt;
                    span.in_scope(|| tracing::warn!(%error, attempt, delay_ms = delay.as_millis() as u64, "retrying"));
                    let rate_limited = error.error_code().is_some_and(ErrorCode::is_rate_limit);
                    self.phase = if rate_limited {
                        if let Some(limit) = &self.core.rate_limit {
                            limit.slow_down(Instant::now());
                        }
                        Phase::SlowDown(delay)
                    } else {
                        Phase::Backoff(delay)
                    };
                }
                None => self.finish(Err(error)),
            },
        }
    }
}

#[cfg(not(feature = "redis"))]
impl Check<'_> {
    fn shared_rate(&mut self) -> Option<Step> {
        self.phase = Phase::Hook;
        None
    }

    fn mark_sent(&mut self) -> Option<Step> {
        self.phase = Phase::Send;
        None
    }

    fn slow_down(&mut self, delay: Duration, _now: Instant) -> Option<Step> {
        self.phase = Phase::Backoff(delay);
        None
    }

    fn settle(&mut self, result: Result<Verification, Error>) -> Option<Step> {
        self.phase = Phase::Done(result);
        None
    }
}

/// The fleet's phases (feature `redis`).
#[cfg(feature = "redis")]
impl Check<'_> {
    fn fleet(&self) -> Option<&crate::fleet::FleetCore> {
        self.core.fleet.as_ref()
    }

    /// The pair's turn while it is held.
    fn held(&self) -> Option<&PairTurn> {
        self.turn.as_ref().filter(|t| t.held)
    }

    fn claim(&mut self) -> Option<Step> {
        self.phase = Phase::Claim;
        let (Some(fleet), Some(turn)) = (self.fleet(), self.turn.as_ref()) else {
            self.phase = Phase::LocalRate;
            return None;
        };
        match fleet.claim_op(turn) {
            Some(op) => Some(Step::Store(op)),
            None => {
                self.on_claim(None);
                None
            }
        }
    }

    fn on_claim(&mut self, reply: Option<Result<StoreReply, BoxError>>) {
        let (Some(fleet), Some(turn)) = (self.core.fleet.as_ref(), self.turn.as_mut()) else {
            self.phase = Phase::LocalRate;
            return;
        };
        let context = (self.core.endpoint, self.prepared.carrier);
        match fleet.on_claim(turn, reply, context) {
            ClaimStep::Claimed => {
                fleet.hold(turn);
                self.phase = Phase::LocalRate;
            }
            ClaimStep::Wait(wait) => self.sleep = Some(wait),
            ClaimStep::Unguarded => {
                self.turn = None;
                self.phase = Phase::LocalRate;
            }
            ClaimStep::Done(result, leave) => {
                self.phase = match leave {
                    Some(op) => Phase::Leave(op, result),
                    None => Phase::Done(result),
                };
            }
        }
    }

    fn shared_rate(&mut self) -> Option<Step> {
        self.phase = Phase::SharedRate;
        let Some(fleet) = self.fleet().filter(|f| f.shares_rate()) else {
            self.phase = Phase::Hook;
            return None;
        };
        match fleet.reserve_op() {
            Some(op) => Some(Step::Store(op)),
            None => {
                self.on_reserve(None);
                None
            }
        }
    }

    fn on_reserve(&mut self, reply: Option<Result<StoreReply, BoxError>>) {
        let Some(fleet) = self.fleet() else { return };
        match fleet.on_reserve(reply, self.rate_since) {
            RateStep::Go => self.phase = Phase::Hook,
            RateStep::Wait(wait) => self.sleep = Some(wait),
            RateStep::Fallback => self.phase = Phase::FallbackRate,
            RateStep::Fail(e) => self.finish(Err(e)),
        }
    }

    fn fallback_rate(&mut self, now: Instant) -> Option<Step> {
        self.phase = Phase::FallbackRate;
        match self.fleet().map(|f| f.fallback_acquire(now)) {
            Some(Err(wait)) => Some(Step::Sleep(wait)),
            _ => {
                self.phase = Phase::Hook;
                None
            }
        }
    }

    fn mark_sent(&mut self) -> Option<Step> {
        self.phase = Phase::MarkSent;
        match (self.fleet(), self.held()) {
            (Some(fleet), Some(turn)) => Some(Step::Store(fleet.mark_sent(turn))),
            _ => {
                self.phase = Phase::Send;
                None
            }
        }
    }

    fn slow_down(&mut self, delay: Duration, now: Instant) -> Option<Step> {
        self.phase = Phase::Backoff(delay);
        let op = self.fleet()?.slow_down(now)?;
        self.phase = Phase::SlowDown(delay);
        Some(Step::Store(op))
    }

    fn settle(&mut self, result: Result<Verification, Error>) -> Option<Step> {
        match (self.fleet(), self.held()) {
            (Some(fleet), Some(turn)) => {
                let op = fleet.settle_op(turn, &result);
                self.phase = Phase::Settle(result);
                Some(Step::Store(op))
            }
            _ => {
                self.phase = Phase::Done(result);
                None
            }
        }
    }

    /// The store's answer to `Spend`: the units are taken, or a budget is spent; a failed
    /// store counts in-process.
    fn spent(&mut self, reply: Result<StoreReply, BoxError>) {
        let used = reply.map(|r| r.ints());
        match used.as_deref() {
            Ok([0, used @ ..]) => {
                for (unit, used) in self.units.iter().zip(used) {
                    if let Some(budgets) = self.book(unit) {
                        let used = u64::try_from(*used).unwrap_or(0);
                        budgets.counted_in_store(unit.budget, unit.window, used);
                        budgets.observe(unit.budget, unit.window, used);
                    }
                }
                self.phase = Phase::Hook;
            }
            Ok([spent, ..]) => {
                let units = std::mem::take(&mut self.units);
                let i = usize::try_from(*spent - 1).unwrap_or(0);
                let Some(budget) = units
                    .get(i.min(units.len().saturating_sub(1)))
                    .and_then(|u| Some(self.book(u)?.budgets[u.budget]))
                else {
                    self.phase = Phase::Hook;
                    return;
                };
                let window = budget.period().window(SystemTime::now());
                // Spent for the whole fleet: so too for this process if the store fails.
                if let Some((unit, book)) = units
                    .get(i.min(units.len().saturating_sub(1)))
                    .and_then(|u| Some((u, self.book(u)?)))
                {
                    book.counted_in_store(unit.budget, window.index, budget.limit());
                }
                self.finish(Err(crate::budget::spent(budget, window.resets)));
            }
            Ok([]) | Err(_) => {
                self.units.clear();
                self.spend_local();
            }
        }
    }

    /// The held pair is settled (or lost): nothing left to keep.
    fn let_go(&mut self) {
        if let (Some(fleet), Some(turn)) = (self.core.fleet.as_ref(), self.turn.as_mut()) {
            fleet.release(turn);
        }
    }

    fn stored(&mut self, reply: Result<StoreReply, BoxError>) {
        if let Some(fleet) = self.fleet() {
            fleet.stored(&reply);
        }
        if reply.is_ok() && matches!(self.phase, Phase::Done(_)) {
            self.refund_pending = None;
        }
        let refused = reply
            .as_ref()
            .err()
            .and_then(|e| e.downcast_ref::<Misconfigured>())
            .map(|m| m.problem);
        let reply = match (reply, refused) {
            // A wrong password, permission or URL is the user's to fix, not an outage to fall
            // back from.
            (Err(e), Some(problem))
                if matches!(self.phase, Phase::Claim | Phase::SharedRate | Phase::Budget) =>
            {
                self.finish(Err(Error::Config {
                    problem: problem.into(),
                    source: Some(e),
                }));
                return;
            }
            (reply, _) => reply,
        };
        match std::mem::replace(&mut self.phase, Phase::Over) {
            Phase::Claim => {
                self.phase = Phase::Claim;
                self.on_claim(Some(reply));
            }
            Phase::SharedRate => {
                self.phase = Phase::SharedRate;
                self.on_reserve(Some(reply));
            }
            Phase::MarkSent => match reply.map(|r| r.int()) {
                Ok(Some(0)) => {
                    // The lease ran out and another caller may hold the pair now: sending
                    // could bill it twice.
                    self.let_go();
                    self.finish(Err(Error::SharedStore {
                        problem: "this check lost its claim on the pair before sending",
                        source: None,
                    }));
                }
                // Held, or the store failed: the keeper's lease still covers the pair.
                _ => self.phase = Phase::Send,
            },
            Phase::SlowDown(delay) => self.phase = Phase::Backoff(delay),
            Phase::CallerRate => match reply {
                Ok(StoreReply::Int(wait_us)) if wait_us > 0 => {
                    let retry_after = Duration::from_micros(wait_us.unsigned_abs());
                    self.finish(Err(Error::CallerRate { retry_after }));
                }
                Ok(_) => self.phase = self.first.take().unwrap_or(Phase::LocalRate),
                // The store failed: this process's count serves meanwhile.
                Err(_) => self.caller_rate_local(),
            },
            Phase::Budget => self.spent(reply),
            Phase::Settle(result) => {
                self.let_go();
                self.phase = Phase::Done(result);
            }
            Phase::Leave(_, result) => self.phase = Phase::Done(result),
            other => self.phase = other,
        }
    }
}

/// A check dropped before its end gives back budget units it cannot have used, tells the
/// ledger what it knows (one that may have been billed is never missing from the ledger), and
/// hands the fleet's last operation on its pair to the keeper.
impl Drop for Check<'_> {
    fn drop(&mut self) {
        let billable = match &self.phase {
            Phase::Settle(result) | Phase::Done(result) => {
                crate::ledger::classify(result).1.is_billable()
            }
            _ => self.sent,
        };
        self.record_dropped();
        let _keys = self.refund(billable);
        #[cfg(feature = "redis")]
        {
            let keys = _keys.or_else(|| self.refund_pending.take());
            self.abandon_fleet(keys);
        }
    }
}

impl Check<'_> {
    /// The ledger's entry for a check dropped after it was admitted and before its end was
    /// recorded: how it ended if it had, else maybe billed if a request was out. A check
    /// dropped between attempts (every answer so far unbilled) or before sending is not
    /// recorded: nothing of it can have been billed.
    fn record_dropped(&mut self) {
        if !self.admitted || self.recorded {
            return;
        }
        let dropped;
        let result = match &self.phase {
            Phase::Settle(result) | Phase::Done(result) => result,
            #[cfg(feature = "redis")]
            Phase::Leave(_, result) => result,
            _ if self.in_flight => {
                dropped = Err(Error::Transport(TransportError::maybe_sent(
                    MaybeSentReason::Dropped,
                    None,
                )));
                &dropped
            }
            _ => return,
        };
        self.recorded = true;
        if let Some(entry) = self.entry(result) {
            if let Input::Ledger(Err(e)) =
                self.core.ledger_call(LedgerCall::Record(Box::new(entry)))
            {
                tracing::error!(error = %e, "the audit ledger could not record a dropped check");
            }
        }
    }
}

#[cfg(feature = "redis")]
impl Check<'_> {
    fn abandon_fleet(&mut self, refund: Option<StoreKeys>) {
        let Some(fleet) = self.core.fleet.as_ref() else {
            return;
        };
        if let Some((keys, receipt)) = refund {
            fleet.run_later(StoreOp::Refund { keys, receipt });
        }
        let Some(turn) = self.turn.as_ref() else {
            return;
        };
        let op = match &self.phase {
            Phase::Done(_) | Phase::Over => None,
            Phase::Leave(op, _) => Some(op.clone()),
            Phase::Settle(result) if turn.held => Some(fleet.settle_op(turn, result)),
            _ => fleet.abandon(turn, self.in_flight),
        };
        if let Some(op) = op {
            fleet.hand_over(turn, op);
        }
    }
}
