//! Progress: an indicatif bar on a terminal, plain periodic lines otherwise; the summary.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::journal::Status;

const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    bar: Option<ProgressBar>,
    counts: [u64; 6],
    done: u64,
    total: u64,
    billed: u64,
    billed_now: u64,
    duplicates: u64,
    reused: u64,
    started: Instant,
    last_line: Instant,
    quiet: bool,
}

/// Counts at the end of a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub rows: u64,
    pub by_status: std::collections::BTreeMap<&'static str, u64>,
    /// Requests of the whole job answered `match`/`mismatch` (billed by the vendor): rows that
    /// copied another row's answer or reused another process's are not counted.
    pub billable: u64,
    /// Of those, sent during this run.
    pub billable_this_run: u64,
    pub elapsed_s: f64,
    pub rows_per_s: f64,
    /// CSV records with a field spanning lines: likely merged by a stray quote.
    pub suspicious_records: u64,
    /// Rows whose pair came earlier in the job: answered with that row's result, not sent.
    pub duplicates: u64,
    /// Rows answered with another process's result for the same pair (`--redis`), not sent.
    pub reused: u64,
}

/// Where a row's result came from: what the summary counts it as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A request sent in this run.
    Sent,
    /// A request an earlier run of the job sent (read back from the journal).
    Earlier,
    /// Another row's result for the same pair: not sent.
    Copy,
    /// Another process's answer for the same pair (`--redis`): not sent, not billed to this job.
    Reused,
    /// No request: rejected locally, or left pending.
    NotSent,
}

impl Progress {
    /// `total` is `None` for a pipe: progress without a total.
    pub fn new(total: Option<u64>, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr_with_hz(8));
            let template = if total.is_some() {
                "{bar:30} {pos}/{len} ETA {eta} {msg}"
            } else {
                "{spinner} {pos} rows {msg}"
            };
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        let total = total.unwrap_or(0);
        let now = Instant::now();
        Progress {
            bar,
            counts: [0; 6],
            done: 0,
            total,
            billed: 0,
            billed_now: 0,
            duplicates: 0,
            reused: 0,
            started: now,
            last_line: now,
            quiet,
        }
    }

    fn counts_text(&self) -> String {
        Status::ALL
            .iter()
            .zip(self.counts)
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{} {n}", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn update(&mut self, status: Status, origin: Origin) {
        self.done += 1;
        self.counts[Self::index(status)] += 1;
        match origin {
            Origin::Sent | Origin::Earlier if status.is_billable() => {
                self.billed += 1;
                self.billed_now += u64::from(origin == Origin::Sent);
            }
            Origin::Copy => self.duplicates += 1,
            Origin::Reused => self.reused += 1,
            _ => {}
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if self.done.is_multiple_of(64) || self.done == self.total {
                let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!("{rate:.0} rows/s, {}", self.counts_text()));
            }
        } else if !self.quiet && self.last_line.elapsed() >= PLAIN_EVERY {
            self.last_line = Instant::now();
            let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            eprintln!(
                "batch: {}/{} rows, {rate:.0} rows/s, {}",
                self.done,
                self.total,
                self.counts_text()
            );
        }
    }

    fn index(status: Status) -> usize {
        Status::ALL.iter().position(|s| *s == status).unwrap_or(5)
    }

    /// Moves `n` rows already counted as `from` to `to` (rows whose recorded result was
    /// reopened after they were counted).
    pub fn recount(&mut self, from: Status, to: Status, n: u64) {
        let n = n.min(self.counts[Self::index(from)]);
        self.counts[Self::index(from)] -= n;
        self.counts[Self::index(to)] += n;
    }

    pub fn finish(self) -> Summary {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        Summary {
            rows: self.done,
            by_status: Status::ALL
                .iter()
                .map(|s| s.as_str())
                .zip(self.counts)
                .collect(),
            billable: self.billed,
            billable_this_run: self.billed_now,
            elapsed_s: elapsed,
            rows_per_s: self.done as f64 / elapsed.max(1e-9),
            suspicious_records: 0,
            duplicates: self.duplicates,
            reused: self.reused,
        }
    }
}
