//! Progress: an indicatif bar on a terminal, plain periodic lines otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use juhe_batch::Counts;

const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    started: Instant,
    last_line: Instant,
    quiet: bool,
}

impl Progress {
    /// `total` is `None` for a pipe: progress without a total.
    pub fn new(total: Option<u64>, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr_with_hz(8));
            let template = crate::lang::progress_template(total.is_some());
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        let now = Instant::now();
        Progress {
            bar,
            total: total.unwrap_or(0),
            started: now,
            last_line: now,
            quiet,
        }
    }

    fn counts_text(counts: &Counts) -> String {
        counts
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{} {n}", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One more row done; `counts` include it.
    pub fn update(&mut self, counts: &Counts) {
        let done = counts.rows();
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if done.is_multiple_of(64) || done == self.total {
                let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
                let counts = Self::counts_text(counts);
                bar.set_message(crate::lang::progress_message(rate, &counts));
            }
        } else if !self.quiet && self.last_line.elapsed() >= PLAIN_EVERY {
            self.last_line = Instant::now();
            let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            let counts = Self::counts_text(counts);
            eprintln!(
                "{}",
                crate::lang::batch_progress(done, self.total, rate, &counts)
            );
        }
    }

    /// Every row is done: the bar goes.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
