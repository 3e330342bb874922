//! `glomers sim`: one of our node types (or, in lockstep, a node binary) in virtual time, one
//! seed or a sweep of seeds.

use std::path::Path;
use std::time::Instant;

use super::{note_ignored_options, print_and_store, repeat, Finished};
use crate::analysis::analyze;
use crate::catalog::{self, Entry};
use crate::checkers::Validity;
use crate::cli::{parse_seeds, SimArgs};
use crate::driver::lockstep::LockstepCluster;
use crate::driver::sim::SimCluster;
use crate::option_checks;
use crate::report::{verdict_line, RunDir};
use crate::runner::{build_workload, run_test, RunOutput, TestOptions};
use crate::sweep;

/// Runs one test of a catalogued node in virtual time and, when `store` is given, stores it.
pub fn run_sim(
    opts: &TestOptions,
    entry: &Entry,
    args: &[String],
    store: Option<&Path>,
) -> anyhow::Result<Finished> {
    let f = simulate(opts, entry, args, store)?;
    f.store();
    Ok(f)
}

/// [`run_sim`] without storing the results yet: print the verdict, then [`Finished::store`].
pub(super) fn simulate(
    opts: &TestOptions,
    entry: &Entry,
    args: &[String],
    store: Option<&Path>,
) -> anyhow::Result<Finished> {
    let started = Instant::now();
    let mut workload = build_workload(opts)?;
    let factory = entry.factory(args)?;
    let mut cluster = SimCluster::new(&factory, opts.node_count, opts.seed);
    let run_dir = store
        .map(|root| RunDir::create(root, &opts.workload))
        .transpose()?;
    let journal = run_dir.as_ref().map(RunDir::journal).transpose()?;
    let run = run_test(opts, workload.as_mut(), &mut cluster, journal, None);
    if let Some(dir) = &run_dir {
        for (i, log) in cluster.logs().iter().enumerate() {
            let path = dir.node_logs().join(format!("n{i}.log"));
            if let Err(e) = std::fs::write(&path, log) {
                eprintln!("glomers: could not write {}: {e}", path.display());
            }
        }
    }
    finish_virtual_run(opts, workload.as_ref(), run, run_dir, started)
}

/// The end both virtual-time drivers share: a run that could not finish leaves `failure.txt`
/// in its directory; a finished one is analyzed (not stored yet: see [`Finished::store`]).
fn finish_virtual_run(
    opts: &TestOptions,
    workload: &dyn crate::workloads::Workload,
    run: anyhow::Result<RunOutput>,
    run_dir: Option<RunDir>,
    started: Instant,
) -> anyhow::Result<Finished> {
    let run = match (run, &run_dir) {
        (Ok(run), _) => run,
        (Err(e), Some(dir)) => {
            dir.record_failure(&format!("{e:#}"));
            return Err(e);
        }
        (Err(e), None) => return Err(e),
    };
    let results = analyze(opts, &run, workload);
    Ok(Finished {
        opts: opts.clone(),
        run,
        results,
        dir: run_dir.as_ref().map(|d| d.dir.clone()),
        wall_secs: started.elapsed().as_secs_f64(),
        interrupted: None,
        run_dir,
    })
}

/// Runs one test of a node binary in virtual time, in lockstep over its pipes (see
/// `docs/lockstep.md`) and, when `store` is given, stores it.
pub fn run_lockstep(
    opts: &TestOptions,
    bin: &Path,
    args: &[String],
    store: Option<&Path>,
) -> anyhow::Result<Finished> {
    let f = simulate_bin(opts, bin, args, store)?;
    f.store();
    Ok(f)
}

/// [`run_lockstep`] without storing the results yet: print the verdict, then
/// [`Finished::store`].
fn simulate_bin(
    opts: &TestOptions,
    bin: &Path,
    args: &[String],
    store: Option<&Path>,
) -> anyhow::Result<Finished> {
    let started = Instant::now();
    let mut workload = build_workload(opts)?;
    let run_dir = store
        .map(|root| RunDir::create(root, &opts.workload))
        .transpose()?;
    let log_dir = run_dir.as_ref().map(RunDir::node_logs);
    let mut cluster =
        LockstepCluster::spawn(bin, args, opts.node_count, opts.seed, log_dir.as_deref())?;
    let journal = run_dir.as_ref().map(RunDir::journal).transpose()?;
    let run = run_test(opts, workload.as_mut(), &mut cluster, journal, None);
    cluster.shutdown();
    finish_virtual_run(opts, workload.as_ref(), run, run_dir, started)
}

pub fn sim(args: &SimArgs) -> anyhow::Result<Validity> {
    // `--node` (in-process) or `--bin` (lockstep over pipes); clap allows exactly one. Runs
    // are not stored yet (see `Finished::store`).
    let entry = match &args.bin {
        Some(_) => None,
        None => Some(catalog::find(args.node.as_deref().unwrap_or_default())?),
    };
    let run_one = |opts: &TestOptions, store: Option<&Path>| match (entry, &args.bin) {
        (Some(entry), _) => simulate(opts, entry, &args.args, store),
        (None, Some(bin)) => simulate_bin(opts, bin, &args.args, store),
        (None, None) => anyhow::bail!("glomers sim needs --node or --bin"),
    };
    let mut opts = args.workload.to_options()?;
    note_ignored_options(&args.workload);
    let Some(seeds) = &args.seeds else {
        let first_seed = opts.seed;
        return repeat(args.workload.test_count, |i| {
            opts.seed = first_seed.wrapping_add(u64::from(i));
            let f = run_one(&opts, Some(&args.store))?;
            print_and_store(&f);
            eprintln!(
                "simulated {:.1} s in {:.3} s of wall time",
                f.run.end_time as f64 / 1e9,
                f.wall_secs
            );
            Ok(f.results.valid)
        });
    };
    option_checks::require(args.workload.test_count == 1, || {
        "--test-count and --seeds both repeat the test: use --seeds alone".into()
    })?;
    let plan = sweep::Plan {
        seeds: parse_seeds(seeds, opts.seed)?,
        shard: args.shard.as_deref().map(sweep::Shard::parse).transpose()?,
        jobs: match args.jobs {
            Some(0) => anyhow::bail!("--jobs must be at least 1"),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        },
        keep_going: args.keep_going,
    };
    let count = plan.seeds.end - plan.seeds.start;
    let count = plan.shard.map_or(count, |s| count.div_ceil(s.count));
    let bar = indicatif::ProgressBar::new(count);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} seeds · {per_sec} · eta {eta} {msg}",
        )
        .expect("a valid template"),
    );
    let started = Instant::now();
    let failures = std::sync::atomic::AtomicUsize::new(0);
    let outcomes = sweep::run(
        &plan,
        |seed| {
            let opts = TestOptions {
                seed,
                ..opts.clone()
            };
            Ok(run_one(&opts, None)?.results.valid)
        },
        |outcome| {
            bar.inc(1);
            if outcome.valid != Validity::Valid {
                let n = failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                bar.set_message(format!("{n} failing"));
            }
        },
    )?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let sweep_summary = sweep::Summary::new(
        replay_command(None),
        &plan,
        &outcomes,
        |seed| replay_command(Some(seed)),
        secs,
    );
    let ran = outcomes.len();
    println!(
        "{ran} seeds in {secs:.2} s ({:.1} runs/s, {} threads{}): {} valid, {} not",
        ran as f64 / secs,
        plan.jobs,
        plan.shard.map_or(String::new(), |s| format!(
            ", shard {}/{}",
            s.index, s.count
        )),
        sweep_summary.valid,
        sweep_summary.failing.len()
    );
    if let Some(path) = &args.summary {
        sweep_summary.write(path)?;
        println!("summary written to {}", path.display());
    }
    for (i, failure) in sweep_summary.failing.iter().enumerate() {
        println!(
            "seed {}: {}    replay: {}",
            failure.seed,
            failure.valid.to_json(),
            failure.replay
        );
        if i == 0 {
            // Store the first failure, so its history and messages are there to read.
            opts.seed = failure.seed;
            let f = run_one(&opts, Some(&args.store))?;
            print_and_store(&f);
        }
    }
    if sweep_summary.failing.is_empty() {
        println!("{}", verdict_line(Validity::Valid));
    }
    Ok(sweep_summary.verdict())
}

/// This invocation's command line without the sweep's options (`--seeds`, `--seed`,
/// `--keep-going`, `--jobs`, `--shard`, `--summary`), with `--seed S` when a seed is given:
/// the command that replays one seed.
fn replay_command(seed: Option<u64>) -> String {
    const WITH_VALUE: &[&str] = &["--seeds", "--seed", "--jobs", "--shard", "--summary"];
    let mut out = Vec::new();
    let mut argv = std::env::args();
    let program = argv.next().unwrap_or_else(|| "glomers".into());
    out.push(program);
    let mut skip_value = false;
    for arg in argv {
        if skip_value {
            skip_value = false;
            continue;
        }
        if WITH_VALUE.contains(&arg.as_str()) {
            skip_value = true;
            continue;
        }
        let with_equals = WITH_VALUE.iter().any(|o| {
            arg.strip_prefix(o)
                .is_some_and(|rest| rest.starts_with('='))
        });
        if with_equals || arg == "--keep-going" {
            continue;
        }
        out.push(arg);
    }
    if let Some(seed) = seed {
        // The seed goes before any trailing node arguments.
        let trailing = out.iter().position(|a| a == "--").unwrap_or(out.len());
        out.insert(trailing, format!("--seed {seed}"));
    }
    out.join(" ")
}
