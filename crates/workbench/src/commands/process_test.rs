//! `glomers test`: one workload against a node binary, in real time.

use std::time::Instant;

use super::{note_ignored_options, print_and_store, repeat, Bar, Finished};
use crate::analysis::analyze;
use crate::checkers::Validity;
use crate::cli::TestArgs;
use crate::driver::process::ProcessCluster;
use crate::report::RunDir;
use crate::runner::{build_workload, run_test, Progress};
use crate::signals;

/// Runs one test of a node binary in real time. The run is not stored yet: print its verdict,
/// then [`Finished::store`] it.
pub fn run_process_test(
    args: &TestArgs,
    progress: Option<&dyn Progress>,
) -> anyhow::Result<Finished> {
    let started = Instant::now();
    let opts = args.workload.to_options()?;
    let mut workload = build_workload(&opts)?;
    let run_dir = RunDir::create(&args.store, &opts.workload)?;
    let run = (|| {
        let mut cluster = ProcessCluster::spawn(
            &args.bin,
            &args.args,
            opts.node_count,
            &run_dir.node_logs(),
            args.log_stderr,
        )?;
        let run = run_test(
            &opts,
            workload.as_mut(),
            &mut cluster,
            Some(run_dir.journal()?),
            progress,
        )?;
        cluster.shutdown();
        anyhow::Ok(run)
    })();
    let run = match run {
        Ok(run) => run,
        Err(e) => {
            run_dir.record_failure(&format!("{e:#}"));
            return Err(e);
        }
    };
    // A signal after this point finds the run complete: only one before it cut the run.
    let interrupted = signals::received();
    let mut results = analyze(&opts, &run, workload.as_ref());
    if interrupted.is_some() {
        // Checked as far as the history goes, and never valid, since the test did not end. A
        // workload judged by its final reads (set-full, counters) cannot be judged without
        // them: what its checker found in a cut history is shown, but the verdict is unknown.
        results.valid = if workload.has_final_phase() {
            Validity::Unknown
        } else {
            results.valid.worst(Validity::Unknown)
        };
    }
    Ok(Finished {
        opts,
        run,
        results,
        dir: Some(run_dir.dir.clone()),
        wall_secs: started.elapsed().as_secs_f64(),
        interrupted,
        run_dir: Some(run_dir),
    })
}

pub fn test(args: &TestArgs) -> anyhow::Result<Validity> {
    note_ignored_options(&args.workload);
    repeat(args.workload.test_count, |_| {
        let bar = Bar::for_test(&args.workload)?;
        let finished = run_process_test(args, Some(&bar));
        bar.finish();
        let f = finished?;
        print_and_store(&f);
        Ok(f.results.valid)
    })
}
