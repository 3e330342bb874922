//! The progress display of `glomers test` and `glomers all`: a bar over test time on a terminal,
//! one line per phase otherwise.

use crate::history::{Nanos, NANOS_PER_SEC};
use crate::runner::{build_workload, Progress, TestOptions};

/// Progress over test time, on stderr: a bar when stderr is a terminal, else one line per
/// phase (so a log or CI shows where a run is).
pub struct Bar {
    bar: indicatif::ProgressBar,
    last_phase: std::cell::RefCell<String>,
}

impl Bar {
    pub fn new(total_secs: f64) -> Bar {
        let bar = indicatif::ProgressBar::new((total_secs.max(0.1) * 10.0) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {msg}")
                .expect("a valid template"),
        );
        Bar {
            bar,
            last_phase: Default::default(),
        }
    }

    /// A bar for the test `args` describe: its total is the main phase, plus the recovery
    /// period and a little for the final reads when the workload has a final phase.
    pub fn for_test(args: &crate::cli::WorkloadArgs) -> anyhow::Result<Bar> {
        let opts = args.to_options()?;
        let workload = build_workload(&opts)?;
        Ok(Bar::new(expected_test_secs(&opts, workload.as_ref())))
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// How long a test should take in test time, for the progress bar.
pub fn expected_test_secs(opts: &TestOptions, workload: &dyn crate::workloads::Workload) -> f64 {
    if workload.has_final_phase() {
        opts.time_limit_secs + opts.recovery_secs + 1.0
    } else {
        opts.time_limit_secs
    }
}

impl Progress for Bar {
    fn update(&self, phase: &str, now: Nanos, ops: usize) {
        if self.bar.is_hidden() {
            let mut last = self.last_phase.borrow_mut();
            if *last != phase {
                eprintln!(
                    "glomers: {:.1} s: {phase} phase · {ops} history ops",
                    now as f64 / 1e9
                );
                *last = phase.to_string();
            }
            return;
        }
        self.bar.set_position(now * 10 / NANOS_PER_SEC);
        self.bar.set_message(format!("{phase} · {ops} history ops"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_total_counts_a_final_phase_only_where_there_is_one() {
        let expected = |workload: &str| {
            let opts = TestOptions {
                time_limit_secs: 20.0,
                ..TestOptions::new(workload, 3)
            };
            expected_test_secs(&opts, build_workload(&opts).unwrap().as_ref())
        };
        assert_eq!(expected("echo"), 20.0);
        assert_eq!(expected("unique-ids"), 20.0);
        assert_eq!(expected("broadcast"), 31.0);
    }
}
