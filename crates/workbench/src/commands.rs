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
use crate::cli::{parse_seeds, AllArgs, Cli, MergeArgs, NodeArgs, SimArgs, TestArgs};
use crate::driver::process::ProcessCluster;
use crate::driver::sim::SimCluster;
use crate::history::{Nanos, NANOS_PER_SEC};
use crate::report::{summary, verdict_line, RunDir};
use crate::runner::{build_workload, run_test, Progress, RunOutput, TestOptions};
use crate::sweep;

/// A finished run, from either driver.
pub struct Finished {
    pub opts: TestOptions,
    pub run: RunOutput,
    pub results: Results,
    /// Where it was stored (a sweep's runs are not).
    pub dir: Option<PathBuf>,
    pub wall_secs: f64,
}

/// Runs one test of a node binary in real time and stores it.
pub fn run_process_test(
    args: &TestArgs,
    progress: Option<&dyn Progress>,
) -> anyhow::Result<Finished> {
    let started = Instant::now();
    let opts = args.workload.to_options()?;
    let mut workload = build_workload(&opts)?;
    let run_dir = RunDir::create(&args.store, &opts.workload)?;
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
    let results = analyze(&opts, &run, workload.as_ref());
    run_dir.write_results(&results.to_json(&opts, &run), &run)?;
    Ok(Finished {
        opts,
        run,
        results,
        dir: Some(run_dir.dir),
        wall_secs: started.elapsed().as_secs_f64(),
    })
}

/// A progress bar over test time, on stderr, hidden when stderr is not a terminal.
pub struct Bar(indicatif::ProgressBar);

impl Bar {
    pub fn new(total_secs: f64) -> Bar {
        let bar = indicatif::ProgressBar::new((total_secs.max(0.1) * 10.0) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {msg}")
                .expect("a valid template"),
        );
        Bar(bar)
    }

    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl Progress for Bar {
    fn update(&self, phase: &str, now: Nanos, ops: usize) {
        self.0.set_position(now * 10 / NANOS_PER_SEC);
        self.0.set_message(format!("{phase} · {ops} history ops"));
    }
}

pub fn test(args: &TestArgs) -> anyhow::Result<Validity> {
    let bar = Bar::new(args.workload.time_limit + 10.0);
    let finished = run_process_test(args, Some(&bar));
    bar.finish();
    let f = finished?;
    println!("{}", summary(&f.opts, &f.run, &f.results, f.dir.as_deref()));
    Ok(f.results.valid)
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
        let mut build = std::process::Command::new(cargo);
        build.args(["build", "-p", "glomers-challenges", "--bins"]);
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
    for challenge in CHALLENGES {
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
            continue;
        }
        if !args.sim && !bin.exists() {
            rows.push(format!(
                "{:<4} {:<28} skipped: no binary {}",
                challenge.id,
                challenge.name,
                bin.display()
            ));
            continue;
        }
        let reused = challenge
            .same_run_as
            .and_then(|id| finished.iter().position(|(fid, _)| *fid == id));
        let index = match reused {
            Some(i) => i,
            None => {
                let f = run_challenge(challenge, &bin, args)?;
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
    argv.extend(challenge.flags.iter().map(|s| s.to_string()));
    argv.extend(["--store".into(), args.store.display().to_string()]);
    let cli = Cli::try_parse_from(&argv).context("a challenge's flags")?;
    eprintln!("running {}: {}", challenge.id, argv[1..].join(" "));
    match cli.command {
        crate::cli::Command::Test(mut test_args) => {
            test_args.workload.time_limit *= args.time_scale;
            let bar = Bar::new(test_args.workload.time_limit + 10.0);
            let f = run_process_test(&test_args, Some(&bar));
            bar.finish();
            f
        }
        crate::cli::Command::Sim(mut sim_args) => {
            sim_args.workload.time_limit *= args.time_scale;
            let opts = sim_args.workload.to_options()?;
            let entry = catalog::find(&sim_args.node)?;
            run_sim(&opts, entry, &sim_args.args, Some(&sim_args.store))
        }
        _ => unreachable!("a test or sim command"),
    }
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

/// Runs one test of a catalogued node in virtual time; stores it when `store` is given.
pub fn run_sim(
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
    let run = run_test(opts, workload.as_mut(), &mut cluster, journal, None)?;
    let results = analyze(opts, &run, workload.as_ref());
    if let Some(dir) = &run_dir {
        dir.write_results(&results.to_json(opts, &run), &run)?;
        for (i, log) in cluster.logs().iter().enumerate() {
            std::fs::write(dir.node_logs().join(format!("n{i}.log")), log)?;
        }
    }
    Ok(Finished {
        opts: opts.clone(),
        run,
        results,
        dir: run_dir.map(|d| d.dir),
        wall_secs: started.elapsed().as_secs_f64(),
    })
}

pub fn sim(args: &SimArgs) -> anyhow::Result<Validity> {
    let entry = catalog::find(&args.node)?;
    let mut opts = args.workload.to_options()?;
    let Some(seeds) = &args.seeds else {
        let f = run_sim(&opts, entry, &args.args, Some(&args.store))?;
        println!("{}", summary(&f.opts, &f.run, &f.results, f.dir.as_deref()));
        eprintln!(
            "simulated {:.1} s in {:.3} s of wall time",
            f.run.end_time as f64 / 1e9,
            f.wall_secs
        );
        return Ok(f.results.valid);
    };
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
            Ok(run_sim(&opts, entry, &args.args, None)?.results.valid)
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
            let f = run_sim(&opts, entry, &args.args, Some(&args.store))?;
            println!("{}", summary(&f.opts, &f.run, &f.results, f.dir.as_deref()));
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
