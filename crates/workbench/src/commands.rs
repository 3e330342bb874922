//! The subcommands: `test` (one workload against a binary) and `all` (every challenge against
//! this workspace's binaries, with a scoreboard).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser as _;

use crate::analysis::{analyze, Results};
use crate::challenges::{judge, CHALLENGES};
use crate::checkers::Validity;
use crate::cli::{AllArgs, Cli, TestArgs};
use crate::driver::process::ProcessCluster;
use crate::history::{Nanos, NANOS_PER_SEC};
use crate::report::{summary, verdict_line, RunDir};
use crate::runner::{build_workload, run_test, Progress, RunOutput, TestOptions};

/// A finished process-driver run.
pub struct Finished {
    pub opts: TestOptions,
    pub run: RunOutput,
    pub results: Results,
    pub dir: PathBuf,
    pub wall_secs: f64,
}

/// Runs one test of a node binary in real time and stores it.
pub fn run_process_test(args: &TestArgs, progress: Option<&dyn Progress>) -> anyhow::Result<Finished> {
    let started = Instant::now();
    let opts = args.workload.to_options()?;
    let mut workload = build_workload(&opts)?;
    let run_dir = RunDir::create(&args.store, &opts.workload)?;
    let mut cluster =
        ProcessCluster::spawn(&args.bin, &args.args, opts.node_count, &run_dir.node_logs(), args.log_stderr)?;
    let run = run_test(&opts, workload.as_mut(), &mut cluster, Some(run_dir.journal()?), progress)?;
    cluster.shutdown();
    let results = analyze(&opts, &run, workload.as_ref());
    run_dir.write_results(&results.to_json(&opts, &run), &run)?;
    Ok(Finished {
        opts,
        run,
        results,
        dir: run_dir.dir,
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
    println!("{}", summary(&f.opts, &f.run, &f.results, Some(&f.dir)));
    Ok(f.results.valid)
}

/// Where `all` finds the challenge binaries: `--bin-dir`, else beside this executable. Under
/// `cargo run`, the binaries are (re)built first, so the README's one command just works.
fn challenge_bin_dir(args: &AllArgs) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &args.bin_dir {
        return Ok(dir.clone());
    }
    let exe = std::env::current_exe().context("locating the glomers executable")?;
    let dir = exe.parent().context("the executable's directory")?.to_path_buf();
    if let Ok(cargo) = std::env::var("CARGO") {
        let release = dir.ends_with("release");
        eprintln!("building the challenge binaries ({})", if release { "release" } else { "debug" });
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
    let bin_dir = challenge_bin_dir(args)?;
    let only: Option<Vec<String>> =
        args.only.as_ref().map(|s| s.split(',').map(|p| p.trim().to_string()).collect());
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
        if !bin.exists() {
            rows.push(format!("{:<4} {:<28} skipped: no binary {}", challenge.id, challenge.name, bin.display()));
            continue;
        }
        let reused = challenge
            .same_run_as
            .and_then(|id| finished.iter().position(|(fid, _)| *fid == id));
        let index = match reused {
            Some(i) => i,
            None => {
                let f = run_challenge(challenge.flags, &bin, args, challenge.id)?;
                finished.push((challenge.id, f));
                finished.len() - 1
            }
        };
        let f = &finished[index].1;
        let (valid, why) = judge(challenge, &f.results);
        overall = overall.worst(valid);
        rows.push(scoreboard_row(challenge.id, challenge.name, valid, f, reused.is_some()));
        for reason in why {
            rows.push(format!("       ↳ {reason}"));
        }
        if valid != Validity::Valid {
            rows.push(format!("       ↳ see {}", f.dir.display()));
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

fn run_challenge(flags: &[&str], bin: &Path, args: &AllArgs, id: &str) -> anyhow::Result<Finished> {
    let mut argv: Vec<String> = vec!["glomers".into(), "test".into(), "--bin".into(), bin.display().to_string()];
    argv.extend(flags.iter().map(|s| s.to_string()));
    argv.extend(["--store".into(), args.store.display().to_string()]);
    let cli = Cli::try_parse_from(&argv).context("a challenge's flags")?;
    let crate::cli::Command::Test(mut test_args) = cli.command else {
        unreachable!("a test command")
    };
    test_args.workload.time_limit *= args.time_scale;
    eprintln!("running {id}: {}", argv[2..].join(" "));
    let bar = Bar::new(test_args.workload.time_limit + 10.0);
    let f = run_process_test(&test_args, Some(&bar));
    bar.finish();
    f
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
    let wall = if reused { "(same run)".to_string() } else { format!("{:.1}", f.wall_secs) };
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
