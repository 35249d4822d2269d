//! Tamper evidence: every chain checked link by link against its head.

use std::collections::BTreeSet;
use std::fmt;

use crate::Result;
use crate::record::{GENESIS, Record};
use crate::store::{Head, Query, Store};

/// What is wrong with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// Its content (or its stored hash) does not match its hash: edited.
    Edited,
    /// Records `from..=to` of the chain are missing: deleted.
    Deleted {
        /// The first missing number.
        from: i64,
        /// The last missing number.
        to: i64,
    },
    /// It stands after a record that comes later in its chain: rows moved or swapped.
    Reordered {
        /// The number of the later record it stands after.
        after: i64,
    },
    /// Its link to the previous record is broken (that record's hash was changed).
    BrokenLink,
    /// The number appears more than once in the chain.
    Duplicated,
    /// The chain's head (its last record, kept apart) is missing or does not match.
    HeadMismatch,
}

/// One finding: which chain, which record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Problem {
    /// The chain (writer id).
    pub writer: String,
    /// The record's number in its chain.
    pub seq: i64,
    /// The row id, when the record is there.
    pub id: Option<i64>,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = &self.writer;
        let row = self.id.map(|id| format!(" (row {id})")).unwrap_or_default();
        match &self.kind {
            ProblemKind::Edited => write!(f, "chain {w}: record {}{row} was edited", self.seq),
            ProblemKind::Deleted { from, to } if from == to => {
                write!(f, "chain {w}: record {from} was deleted")
            }
            ProblemKind::Deleted { from, to } => {
                write!(f, "chain {w}: records {from} to {to} were deleted")
            }
            ProblemKind::Reordered { after } => write!(
                f,
                "chain {w}: record {}{row} was moved: it stands after record {after}",
                self.seq
            ),
            ProblemKind::BrokenLink => write!(
                f,
                "chain {w}: record {}{row} does not link to record {} (its hash was changed)",
                self.seq,
                self.seq - 1
            ),
            ProblemKind::Duplicated => {
                write!(f, "chain {w}: record {}{row} appears twice", self.seq)
            }
            ProblemKind::HeadMismatch => write!(
                f,
                "chain {w}: its last record {} does not match the chain's head (edited or deleted)",
                self.seq
            ),
        }
    }
}

/// What [`crate::AuditLedger::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Chains checked.
    pub chains: usize,
    /// Records checked.
    pub records: u64,
    /// Everything wrong, chain by chain.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// No problem found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

pub(crate) fn verify(store: &dyn Store) -> Result<VerifyReport> {
    let heads = store.heads()?;
    let mut writers: BTreeSet<String> = store.writers()?.into_iter().collect();
    writers.extend(heads.iter().map(|h| h.writer.clone()));
    let mut report = VerifyReport {
        chains: writers.len(),
        ..VerifyReport::default()
    };
    for writer in writers {
        let head = heads.iter().find(|h| h.writer == writer);
        let rows = store.records(&Query {
            writer: Some(writer.clone()),
            ..Query::default()
        })?;
        report.records += rows.len() as u64;
        chain(&writer, head, rows, &mut report.problems);
    }
    Ok(report)
}

/// One chain: `rows` in insertion order.
fn chain(writer: &str, head: Option<&Head>, mut rows: Vec<Record>, out: &mut Vec<Problem>) {
    let problem = |seq, id, kind| Problem {
        writer: writer.to_owned(),
        seq,
        id,
        kind,
    };
    // Insertion order must be chain order.
    let mut highest = i64::MIN;
    for r in &rows {
        if r.seq < highest {
            out.push(problem(
                r.seq,
                Some(r.id),
                ProblemKind::Reordered { after: highest },
            ));
        }
        highest = highest.max(r.seq);
    }
    rows.sort_by_key(|r| (r.seq, r.id));
    let (mut expected, mut prev) = match head {
        Some(h) => (h.first_seq, h.first_prev.clone()),
        None => (1, GENESIS.to_owned()),
    };
    let mut last: Option<&Record> = None;
    for r in &rows {
        if last.is_some_and(|l| l.seq == r.seq) {
            out.push(problem(r.seq, Some(r.id), ProblemKind::Duplicated));
            continue;
        }
        if r.seq > expected {
            out.push(problem(
                expected,
                None,
                ProblemKind::Deleted {
                    from: expected,
                    to: r.seq - 1,
                },
            ));
        } else if r.prev_hash != prev {
            out.push(problem(r.seq, Some(r.id), ProblemKind::BrokenLink));
        }
        if r.chain_hash(&r.prev_hash) != r.hash {
            out.push(problem(r.seq, Some(r.id), ProblemKind::Edited));
        }
        expected = r.seq + 1;
        prev.clone_from(&r.hash);
        last = Some(r);
    }
    match head {
        Some(h) if h.last_seq >= expected => out.push(problem(
            expected,
            None,
            ProblemKind::Deleted {
                from: expected,
                to: h.last_seq,
            },
        )),
        Some(h) if h.last_seq == expected - 1 && last.is_some() && h.last_hash != prev => {
            out.push(problem(h.last_seq, None, ProblemKind::HeadMismatch));
        }
        Some(h) if h.last_seq < expected - 1 => {
            out.push(problem(h.last_seq, None, ProblemKind::HeadMismatch));
        }
        None if !rows.is_empty() => {
            out.push(problem(expected - 1, None, ProblemKind::HeadMismatch))
        }
        _ => {}
    }
}
