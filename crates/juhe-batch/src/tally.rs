//! The counts of a job: per status, billable calls, copies; the summary at the end.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::journal::Status;

/// Where a row's result came from: what the summary counts it as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// A request sent in this run.
    Sent,
    /// A request an earlier run of the job sent (read back from the journal).
    Earlier,
    /// Another row's result for the same pair: not sent.
    Copy,
    /// Another process's answer for the same pair (a shared Redis): not sent, not billed to
    /// this job.
    Reused,
    /// No request: rejected locally, or left pending.
    NotSent,
}

/// Rows finished so far, per status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    rows: u64,
    by_status: [u64; 6],
}

impl Counts {
    fn index(status: Status) -> usize {
        Status::ALL.iter().position(|s| *s == status).unwrap_or(5)
    }

    /// Rows finished.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Rows finished with `status`.
    pub fn get(&self, status: Status) -> u64 {
        self.by_status[Self::index(status)]
    }

    /// Every status (in [`Status::ALL`]'s order) and its count.
    pub fn iter(&self) -> impl Iterator<Item = (Status, u64)> + '_ {
        Status::ALL.into_iter().zip(self.by_status)
    }
}

/// Counts at the end of a run.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct Summary {
    /// Rows finished in this run (all of them unless the job stopped).
    pub rows: u64,
    /// Rows per status, every status listed.
    pub by_status: BTreeMap<&'static str, u64>,
    /// Requests of the whole job answered `match`/`mismatch` (billed by the vendor): rows that
    /// copied another row's answer or reused another process's are not counted.
    pub billable: u64,
    /// Of those, sent during this run.
    pub billable_this_run: u64,
    /// Seconds the rows took.
    pub elapsed_s: f64,
    /// Rows per second.
    pub rows_per_s: f64,
    /// CSV records with a field spanning lines: likely merged by a stray quote.
    pub suspicious_records: u64,
    /// Rows whose pair came earlier in the job: answered with that row's result, not sent.
    pub duplicates: u64,
    /// Rows answered with another process's result for the same pair (a shared Redis), not
    /// sent.
    pub reused: u64,
    /// Why the job stopped itself before its end (an account-level code, wrong key material,
    /// rate limits that did not end), if it did; its rows not reached stay pending. Not
    /// serialized: the command prints it its own way.
    #[serde(skip)]
    pub stopped: Option<String>,
    /// [`Summary::stopped`] in Chinese (`juhe-2fa --lang zh`). Not serialized.
    #[serde(skip)]
    pub stopped_zh: Option<String>,
    /// The class of the failure that stopped the job, when one did (`Budget`: a spend budget
    /// is spent until it resets).
    #[serde(skip)]
    pub stopped_by: Option<juhe_2fa::ErrorClass>,
}

impl Summary {
    /// Rows not final (`failed` or `unknown`): a rerun of the job has work to do.
    pub fn not_final(&self) -> u64 {
        Status::ALL
            .iter()
            .filter(|s| !s.is_final())
            .map(|s| self.by_status[s.as_str()])
            .sum()
    }
}

/// The running counts behind the events and the summary.
pub(crate) struct Tally {
    pub(crate) counts: Counts,
    billed: u64,
    billed_now: u64,
    duplicates: u64,
    reused: u64,
    started: Instant,
}

impl Tally {
    pub(crate) fn new() -> Tally {
        Tally {
            counts: Counts::default(),
            billed: 0,
            billed_now: 0,
            duplicates: 0,
            reused: 0,
            started: Instant::now(),
        }
    }

    pub(crate) fn update(&mut self, status: Status, origin: Origin) {
        self.counts.rows += 1;
        self.counts.by_status[Counts::index(status)] += 1;
        match origin {
            Origin::Sent | Origin::Earlier if status.is_billable() => {
                self.billed += 1;
                self.billed_now += u64::from(origin == Origin::Sent);
            }
            Origin::Copy => self.duplicates += 1,
            Origin::Reused => self.reused += 1,
            _ => {}
        }
    }

    /// Moves `n` rows already counted as `from` to `to` (rows whose recorded result was
    /// reopened after they were counted).
    pub(crate) fn recount(&mut self, from: Status, to: Status, n: u64) {
        let by_status = &mut self.counts.by_status;
        let n = n.min(by_status[Counts::index(from)]);
        by_status[Counts::index(from)] -= n;
        by_status[Counts::index(to)] += n;
    }

    pub(crate) fn finish(self) -> Summary {
        let elapsed = self.started.elapsed().as_secs_f64();
        let rows = self.counts.rows;
        Summary {
            rows,
            by_status: self.counts.iter().map(|(s, n)| (s.as_str(), n)).collect(),
            billable: self.billed,
            billable_this_run: self.billed_now,
            elapsed_s: elapsed,
            rows_per_s: rows as f64 / elapsed.max(1e-9),
            suspicious_records: 0,
            duplicates: self.duplicates,
            reused: self.reused,
            stopped: None,
            stopped_zh: None,
            stopped_by: None,
        }
    }
}
