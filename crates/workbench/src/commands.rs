//! The subcommands: `test` (one workload against a binary, real time), `sim` (one of our node
//! types in virtual time, one seed or a sweep), `all` (every challenge against this workspace's
//! binaries, with a scoreboard) and `node` (run a catalogued node over stdin/stdout).
//!
//! One file per command: `process_test.rs` (`test`), `sim.rs`, `all.rs`, `merge.rs`, and the
//! progress bar in `progress.rs`. The short `check` and `node` live here, beside what the
//! commands share: [`Finished`], storing a run, and `--test-count`'s repetition.

mod all;
mod merge;
mod process_test;
mod progress;
mod sim;

use std::path::PathBuf;

use crate::analysis::Results;
use crate::catalog;
use crate::checkers::Validity;
use crate::cli::{NodeArgs, WorkloadArgs};
use crate::report::{summary, RunDir};
use crate::runner::{RunOutput, TestOptions};
use crate::signals;

pub use all::all;
pub use merge::merge;
pub use process_test::{run_process_test, test};
pub use progress::{expected_test_secs, Bar};
pub use sim::{run_lockstep, run_sim, sim};

/// A finished run, from either driver.
pub struct Finished {
    pub opts: TestOptions,
    pub run: RunOutput,
    pub results: Results,
    /// Where it is stored (a sweep's runs are not).
    pub dir: Option<PathBuf>,
    pub wall_secs: f64,
    /// The terminating signal that cut the run short, if any.
    pub interrupted: Option<i32>,
    run_dir: Option<RunDir>,
}

impl Finished {
    /// Writes `results.json` and `history.jsonl` into the run's directory (which moves the
    /// `latest` links there) and names on stderr every file that could not be written. Called
    /// after the verdict is printed, so a full disk cannot take the verdict with it. Returns
    /// whether everything was written.
    pub fn store(&self) -> bool {
        let Some(run_dir) = &self.run_dir else {
            return true;
        };
        let mut results = self.results.to_json(&self.opts, &self.run);
        if let Some(signal) = self.interrupted {
            results["interrupted"] = signals::name(signal).into();
        }
        let failures = run_dir.write_results(&results, &self.run);
        for failure in &failures {
            eprintln!("glomers: {failure}");
        }
        failures.is_empty()
    }
}

/// Prints a run's summary (the verdict first, so a full disk cannot take it), saves it in its
/// run directory, then stores the run (the report shows the saved summary, so the page is
/// written once rather than written, read back and patched). A closed stdout
/// (`glomers test | head`) is ignored rather than a panic, so the run is still stored.
fn print_and_store(f: &Finished) {
    use std::io::Write as _;
    let text = summary(&f.opts, &f.run, &f.results, f.dir.as_deref());
    let _ = writeln!(std::io::stdout(), "{text}");
    if let (Some(dir), Some(_)) = (&f.dir, &f.run_dir) {
        if let Err(e) = RunDir::save_summary(dir, &text) {
            eprintln!("glomers: {e:#}");
        }
    }
    f.store();
}

/// Notes on stderr for the Maelstrom options glomers accepts and ignores.
fn note_ignored_options(args: &WorkloadArgs) {
    for note in args.ignored.notes() {
        eprintln!("note: {note}");
    }
}

/// `--test-count N`: runs test `i` for i in 0..N, each reporting itself, and stops at the first
/// that is not valid, as Jepsen's test runner does. Returns the worst verdict.
fn repeat(
    count: u32,
    mut run: impl FnMut(u32) -> anyhow::Result<Validity>,
) -> anyhow::Result<Validity> {
    let mut overall = Validity::Valid;
    for i in 0..count {
        if count > 1 {
            println!("== test {} of {count}", i + 1);
        }
        let valid = run(i)?;
        overall = overall.worst(valid);
        if valid != Validity::Valid {
            if i + 1 < count {
                println!(
                    "stopped after test {} of {count}: it was not valid (--test-count stops at \
                     the first such test, as Maelstrom's)",
                    i + 1
                );
            }
            break;
        }
    }
    if count > 1 && overall == Validity::Valid {
        println!("all {count} tests valid");
    }
    Ok(overall)
}

/// `glomers check`: the analysis again from the stored files, and the report rebuilt.
pub fn check(args: &crate::cli::CheckArgs) -> anyhow::Result<Validity> {
    let checked = crate::check::check(&args.dir, args.workload.as_deref(), args.node_count)?;
    println!("{}", checked.summary);
    match checked.matches_stored() {
        Some(true) => eprintln!("results.json: the same as the run wrote"),
        Some(false) => {
            eprintln!("results.json: differs from the stored one (kept as results.prev.json)")
        }
        None => eprintln!("results.json: written (there was none)"),
    }
    Ok(checked.results.valid)
}

pub fn node(args: &NodeArgs) -> anyhow::Result<()> {
    if args.list {
        for e in catalog::ENTRIES {
            println!("{:<24} {}", e.name, e.about);
        }
        return Ok(());
    }
    let name = args.name.as_deref().expect("clap requires a name");
    catalog::find(name)?.run_stdio(&args.args)
}
