//! The subcommands: `test` (one workload against a binary, real time), `sim` (one of our node
//! types in virtual time, one seed or a sweep), `all` (every challenge against this workspace's
//! binaries, with a scoreboard) and `node` (run a catalogued node over stdin/stdout).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser as _;

use crate::analysis::{analyze, Results};
use crate::catalog::{self, Entry};
use crate::challenges::{judge, Challenge, CHALLENGES};
use crate::checkers::Validity;
use crate::cli::{parse_seeds, AllArgs, Cli, MergeArgs, NodeArgs, SimArgs, TestArgs, WorkloadArgs};
use crate::driver::lockstep::LockstepCluster;
use crate::driver::process::ProcessCluster;
use crate::driver::sim::SimCluster;
use crate::history::{Nanos, NANOS_PER_SEC};
use crate::option_checks;
use crate::report::{summary, verdict_line, RunDir};
use crate::runner::{build_workload, run_test, Progress, RunOutput, TestOptions};
use crate::signals;
use crate::sweep;

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

/// Prints a run's summary (the verdict first, so a full disk cannot take it), stores the run,
/// then saves the summary in its run directory, where the report shows it. A closed stdout
/// (`glomers test | head`) is ignored rather than a panic, so the run is still stored.
fn print_and_store(f: &Finished) {
    use std::io::Write as _;
    let text = summary(&f.opts, &f.run, &f.results, f.dir.as_deref());
    let _ = writeln!(std::io::stdout(), "{text}");
    if f.store() {
        if let Some(dir) = &f.dir {
            if let Err(e) = RunDir::save_summary(dir, &text) {
                eprintln!("glomers: {e:#}");
            }
        }
    }
}

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

/// Where `all` finds the challenge binaries: `--bin-dir`, else beside this executable. Under
/// `cargo run`, the binaries are (re)built first, so the README's one command just works.
fn challenge_bin_dir(args: &AllArgs) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &args.bin_dir {
        return Ok(dir.clone());
    }
    let exe = std::env::current_exe().context("locating the glomers executable")?;
    let dir = exe
        .parent()
        .context("the executable's directory")?
        .to_path_buf();
    if let Ok(cargo) = std::env::var("CARGO") {
        let release = dir.ends_with("release");
        eprintln!(
            "building the challenge binaries ({})",
            if release { "release" } else { "debug" }
        );
        // With the workbench selected too, cargo resolves features exactly as for `cargo run
        // -p glomers-workbench`, so the libraries it just built are reused: one build, not two.
        let mut build = std::process::Command::new(cargo);
        build.args([
            "build",
            "-p",
            "glomers-workbench",
            "-p",
            "glomers-challenges",
            "--bins",
        ]);
        if release {
            build.arg("--release");
        }
        let status = build.status().context("running cargo build")?;
        anyhow::ensure!(status.success(), "building the challenge binaries failed");
    }
    Ok(dir)
}

pub fn all(args: &AllArgs) -> anyhow::Result<Validity> {
    let bin_dir = if args.sim {
        PathBuf::new()
    } else {
        challenge_bin_dir(args)?
    };
    let only: Option<Vec<String>> = args
        .only
        .as_ref()
        .map(|s| s.split(',').map(|p| p.trim().to_string()).collect());
    let mut rows = Vec::new();
    let mut overall = Validity::Valid;
    let mut finished: Vec<(&str, Finished)> = Vec::new();
    // A skipped challenge was not checked: the scoreboard cannot say everything is good.
    let mut skipped = 0;
    for challenge in CHALLENGES {
        if let Some(signal) = signals::received() {
            rows.push(format!(
                "{:<4} {:<28} not run: interrupted by {}",
                challenge.id,
                challenge.name,
                signals::name(signal)
            ));
            continue;
        }
        if let Some(only) = &only {
            if !only.iter().any(|p| challenge.id.starts_with(p.as_str())) {
                continue;
            }
        }
        let bin = bin_dir.join(challenge.bin);
        if args.sim && catalog::find(challenge.bin).is_err() {
            rows.push(format!(
                "{:<4} {:<28} skipped: no node type {:?} in the catalog",
                challenge.id, challenge.name, challenge.bin
            ));
            skipped += 1;
            continue;
        }
        if !args.sim && !bin.exists() {
            rows.push(format!(
                "{:<4} {:<28} skipped: no binary {}",
                challenge.id,
                challenge.name,
                bin.display()
            ));
            skipped += 1;
            continue;
        }
        let reused = challenge
            .same_run_as
            .and_then(|id| finished.iter().position(|(fid, _)| *fid == id));
        let index = match reused {
            Some(i) => i,
            None => {
                let f = run_challenge(challenge, &bin, args)?;
                f.store();
                finished.push((challenge.id, f));
                finished.len() - 1
            }
        };
        let f = &finished[index].1;
        let (valid, why) = judge(challenge, &f.results);
        overall = overall.worst(valid);
        rows.push(scoreboard_row(
            challenge.id,
            challenge.name,
            valid,
            f,
            reused.is_some(),
        ));
        for reason in why {
            rows.push(format!("       ↳ {reason}"));
        }
        if let (true, Some(dir)) = (valid != Validity::Valid, &f.dir) {
            rows.push(format!("       ↳ see {}", dir.display()));
        }
    }
    println!();
    println!(
        "{:<4} {:<28} {:<8} {:>12} {:>12} {:>22} {:>8}",
        "id", "challenge", "verdict", "msgs/op", "srv msgs/op", "latency p50/max (ms)", "wall s"
    );
    for row in rows {
        println!("{row}");
    }
    if skipped > 0 {
        overall = overall.worst(Validity::Unknown);
        println!(
            "{skipped} challenge{} skipped: not checked, so the verdict cannot be valid",
            if skipped == 1 { "" } else { "s" }
        );
    }
    if finished.is_empty() {
        overall = overall.worst(Validity::Unknown);
        println!("no challenge ran: nothing was checked");
    }
    println!("{}", verdict_line(overall));
    Ok(overall)
}

/// Runs a challenge's official command: its binary in real time, or with `--sim` its node
/// type from the catalog in virtual time.
fn run_challenge(challenge: &Challenge, bin: &Path, args: &AllArgs) -> anyhow::Result<Finished> {
    let mut argv: Vec<String> = vec!["glomers".into()];
    if args.sim {
        argv.extend(["sim".into(), "--node".into(), challenge.bin.into()]);
    } else {
        argv.extend(["test".into(), "--bin".into(), bin.display().to_string()]);
    }
    argv.extend(scale_time_limit(challenge.flags, args.time_scale));
    argv.extend(["--store".into(), args.store.display().to_string()]);
    let cli = Cli::try_parse_from(&argv).context("a challenge's flags")?;
    eprintln!("running {}: {}", challenge.id, argv[1..].join(" "));
    match cli.command {
        crate::cli::Command::Test(test_args) => {
            let bar = Bar::for_test(&test_args.workload)?;
            let f = run_process_test(&test_args, Some(&bar));
            bar.finish();
            f
        }
        crate::cli::Command::Sim(sim_args) => {
            let opts = sim_args.workload.to_options()?;
            let entry = catalog::find(sim_args.node.as_deref().unwrap_or_default())?;
            simulate(&opts, entry, &sim_args.args, Some(&sim_args.store))
        }
        _ => unreachable!("a test or sim command"),
    }
}

/// A challenge's flags with `--time-limit` multiplied by `scale` (to the millisecond), so the
/// command printed is the command run.
fn scale_time_limit(flags: &[&str], scale: f64) -> Vec<String> {
    let mut out: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
    if let Some(i) = out.iter().position(|f| f == "--time-limit") {
        if let Some(value) = out.get_mut(i + 1) {
            if let Ok(secs) = value.parse::<f64>() {
                *value = ((secs * scale * 1000.0).round() / 1000.0).to_string();
            }
        }
    }
    out
}

fn scoreboard_row(id: &str, name: &str, valid: Validity, f: &Finished, reused: bool) -> String {
    let verdict = match valid {
        Validity::Valid => "valid",
        Validity::Invalid => "INVALID",
        Validity::Unknown => "unknown",
    };
    let all_per_op = f.results.net["all"]["msgs_per_op"].as_f64().unwrap_or(0.0);
    // Broadcast rows show stable latency (what the criteria judge); others op latency.
    let latency = match f.results.workload.figures.get("stable_latencies") {
        Some(q) => format!("{}/{} stable", q["0.5"], q["1"]),
        None => {
            let lat = f.results.perf["latency_ms"].as_object();
            let first = lat.and_then(|m| m.values().next());
            match first {
                Some(q) => format!("{}/{}", q["0.5"], q["1"]),
                None => "-".into(),
            }
        }
    };
    let wall = if reused {
        "(same run)".to_string()
    } else {
        format!("{:.1}", f.wall_secs)
    };
    format!(
        "{:<4} {:<28} {:<8} {:>12.2} {:>12.2} {:>22} {:>8}",
        id,
        name,
        verdict,
        all_per_op,
        f.results.servers_msgs_per_op(),
        latency,
        wall
    )
}

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
fn simulate(
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

/// `glomers merge`: combines shard summaries and reports the whole sweep.
pub fn merge(args: &MergeArgs) -> anyhow::Result<Validity> {
    let parts = args
        .summaries
        .iter()
        .map(|p| sweep::Summary::read(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let merged = sweep::merge(&parts)?;
    let s = &merged.summary;
    println!(
        "{} summaries, {} of seeds {}..{} run: {} valid, {} invalid, {} unknown",
        parts.len(),
        s.seeds_run.len(),
        s.seeds.start,
        s.seeds.end,
        s.valid,
        s.invalid,
        s.unknown
    );
    for failure in &s.failing {
        println!(
            "seed {}: {}    replay: {}",
            failure.seed,
            failure.valid.to_json(),
            failure.replay
        );
    }
    for problem in &merged.problems {
        println!("incomplete: {problem}");
    }
    if let Some(out) = &args.out {
        s.write(out)?;
        println!("combined summary written to {}", out.display());
    }
    let mut verdict = s.verdict();
    if !merged.problems.is_empty() {
        verdict = verdict.worst(Validity::Unknown);
    } else if s.failing.is_empty() {
        println!("{}", verdict_line(Validity::Valid));
    }
    Ok(verdict)
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

    #[test]
    fn the_time_scale_reaches_the_printed_flags() {
        let flags = ["-w", "echo", "--time-limit", "30", "--rate", "10"];
        assert_eq!(
            scale_time_limit(&flags, 0.1),
            ["-w", "echo", "--time-limit", "3", "--rate", "10"]
        );
        assert_eq!(scale_time_limit(&flags, 1.0)[3], "30");
    }
}
