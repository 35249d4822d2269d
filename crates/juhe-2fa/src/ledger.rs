//! The audit ledger's seam: what the engine tells a ledger about every check, and when.
//!
//! A [`Ledger`] (the `juhe-ledger` crate has SQLite and PostgreSQL ones) is asked before a
//! check's first request leaves ([`Ledger::admit`]: a ledger that cannot record refuses the
//! check, so no check goes unrecorded) and told how every check ended ([`Ledger::record`]),
//! including local rejections. An entry never holds a number in clear, the API key or key
//! material: the numbers travel as [`IdCard`] and [`Mobile`], which print masked, for the
//! ledger to digest and mask.

use std::fmt;
use std::time::{Duration, SystemTime};

use juhe_proto::{Endpoint, ErrorCode, IdCard, Mobile};
use juhe_transport::BoxError;

use crate::{Error, ErrorClass, Verification};

/// Whether a check was billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Billed {
    /// Answered with a verdict: billed.
    Yes,
    /// Not billed (not sent, refused, answered with an error code, or reused).
    No,
    /// May have been billed without an answer (ambiguous).
    Maybe,
}

impl Billed {
    /// `yes`, `no` or `maybe`.
    pub fn as_str(self) -> &'static str {
        match self {
            Billed::Yes => "yes",
            Billed::No => "no",
            Billed::Maybe => "maybe",
        }
    }

    /// Counts against a spend budget: billed or maybe.
    pub fn is_billable(self) -> bool {
        self != Billed::No
    }
}

/// How a check ended, in the ledger's and the metrics' words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// `res` 1.
    Match,
    /// `res` 2.
    Mismatch,
    /// Refused locally: nothing sent.
    Rejected,
    /// The API answered an error code (not billed).
    ApiError,
    /// Failed and surely not billed (not sent, refused before processing, stopped).
    Unbilled,
    /// May have been billed without an answer.
    Ambiguous,
}

impl Outcome {
    /// `match`, `mismatch`, `rejected`, `api_error`, `unbilled` or `ambiguous`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Match => "match",
            Outcome::Mismatch => "mismatch",
            Outcome::Rejected => "rejected",
            Outcome::ApiError => "api_error",
            Outcome::Unbilled => "unbilled",
            Outcome::Ambiguous => "ambiguous",
        }
    }
}

/// Who checks and why: recorded with every check (the CLI's `--caller` and `--purpose`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Context {
    /// The caller (a service, a person, a job).
    pub caller: Option<String>,
    /// Why the person is checked.
    pub purpose: Option<String>,
    /// Limits of this caller's own, on top of the client's (a gateway's per-caller rate and
    /// budgets): not recorded, enforced by the engine.
    pub limits: Option<crate::budget::CallerLimits>,
}

impl Context {
    /// A caller and a purpose.
    pub fn new(caller: Option<String>, purpose: Option<String>) -> Context {
        Context {
            caller,
            purpose,
            limits: None,
        }
    }

    /// This context with the caller's own limits ([`crate::budget::CallerLimits`]).
    pub fn with_limits(mut self, limits: crate::budget::CallerLimits) -> Context {
        self.limits = Some(limits);
        self
    }
}

/// One check, as a ledger records it. `Debug` shows the numbers masked.
#[derive(Clone)]
#[non_exhaustive]
pub struct Entry {
    /// When the check ended.
    pub at: SystemTime,
    /// Who checked and why.
    pub context: Context,
    /// The endpoint used.
    pub mode: Endpoint,
    /// The ID card number (prints masked; digest it with a secret of the ledger's own).
    pub idcard: IdCard,
    /// The mobile number (prints masked).
    pub mobile: Mobile,
    /// How it ended.
    pub outcome: Outcome,
    /// The class of the failure, if it failed.
    pub class: Option<ErrorClass>,
    /// The vendor's error code, if it answered one.
    pub error_code: Option<ErrorCode>,
    /// `res` (1 or 2) when answered with a verdict.
    pub res: Option<u8>,
    /// Billed, not, or maybe.
    pub billed: Billed,
    /// The vendor's order id, when there is one.
    pub order_id: Option<String>,
    /// Requests sent (0: rejected, refused, or another caller's answer reused).
    pub attempts: u32,
    /// Another caller's answer, reused (not billed to this check).
    pub from_cache: bool,
    /// From the start of the check to its end.
    pub latency: Duration,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("mode", &self.mode)
            .field("idcard", &self.idcard.masked())
            .field("mobile", &self.mobile.masked())
            .field("outcome", &self.outcome)
            .field("billed", &self.billed)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl Entry {
    /// The entry of a finished check.
    pub(crate) fn new(
        (idcard, mobile): (&IdCard, &Mobile),
        mode: Endpoint,
        context: &Context,
        result: &Result<Verification, Error>,
        (attempts, latency): (u32, Duration),
    ) -> Entry {
        let (outcome, class, error_code, billed) = outcome_of(result);
        let ok = result.as_ref().ok();
        Entry {
            at: SystemTime::now(),
            context: context.clone(),
            mode,
            idcard: idcard.clone(),
            mobile: mobile.clone(),
            outcome,
            class,
            error_code,
            res: ok.map(Verification::res),
            billed,
            order_id: ok.map(|v| v.order_id.clone()),
            attempts: ok.map_or(attempts, |v| v.attempts),
            from_cache: ok.is_some_and(Verification::from_cache),
            latency,
        }
    }
}

fn verdict(v: &Verification) -> Outcome {
    if v.is_match() {
        Outcome::Match
    } else {
        Outcome::Mismatch
    }
}

/// The one mapping of a check's result to its outcome and billing.
fn outcome_of(
    result: &Result<Verification, Error>,
) -> (Outcome, Option<ErrorClass>, Option<ErrorCode>, Billed) {
    match result {
        Ok(v) if v.from_cache() => (verdict(v), None, None, Billed::No),
        Ok(v) => (verdict(v), None, None, Billed::Yes),
        Err(e) => {
            let class = e.class();
            let (outcome, billed) = match class {
                ErrorClass::Rejected
                | ErrorClass::Config
                | ErrorClass::Cancelled
                | ErrorClass::Budget => (Outcome::Rejected, Billed::No),
                ErrorClass::Api(_) => (Outcome::ApiError, Billed::No),
                ErrorClass::Unbilled => (Outcome::Unbilled, Billed::No),
                ErrorClass::Ambiguous if e.nothing_sent() => (Outcome::Ambiguous, Billed::No),
                ErrorClass::Ambiguous => (Outcome::Ambiguous, Billed::Maybe),
            };
            (outcome, Some(class), e.error_code(), billed)
        }
    }
}

/// Outcome, billing and the error code as a metric label (empty when none).
pub(crate) fn classify(result: &Result<Verification, Error>) -> (Outcome, Billed, String) {
    let (outcome, _, code, billed) = outcome_of(result);
    (
        outcome,
        billed,
        code.map_or(String::new(), |c| c.code().to_string()),
    )
}

/// An audit ledger. Implementations must be quick (the clients call them inline, from the
/// check's own task or thread) and must never store the numbers in clear.
pub trait Ledger: Send + Sync + 'static {
    /// Before a check's first request leaves: `Err` refuses the check (nothing is sent; the
    /// caller gets [`Error::Ledger`]). A ledger that cannot record refuses here.
    fn admit(&self, context: &Context) -> Result<(), BoxError>;

    /// How a check ended (every check that was admitted, and local rejections). An error is
    /// logged: the check already happened.
    fn record(&self, entry: &Entry) -> Result<(), BoxError>;

    /// A check refused locally before it could start (invalid input, an unsupported carrier):
    /// nothing was sent and there may be no valid number to digest, so it is only counted.
    fn rejected(&self, context: &Context, mode: Endpoint) -> Result<(), BoxError> {
        let _ = (context, mode);
        Ok(())
    }

    /// Billable checks (billed or maybe) recorded since `since`, by every writer: the start
    /// of a spend budget's count when no fleet store counts it (`None`: this ledger cannot
    /// say, and the budget counts in-process only).
    fn billable_since(&self, since: SystemTime) -> Result<Option<u64>, BoxError> {
        let _ = since;
        Ok(None)
    }

    /// [`Ledger::billable_since`] for one caller's checks only: the start of that caller's
    /// own budgets ([`crate::budget::CallerLimits`]) when no fleet store counts them (`None`:
    /// this ledger cannot say).
    fn billable_since_for(&self, caller: &str, since: SystemTime) -> Result<Option<u64>, BoxError> {
        let _ = (caller, since);
        Ok(None)
    }
}
