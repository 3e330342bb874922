//! `glomers all`: every challenge against this workspace's binaries (or, with `--sim`, its node
//! types in virtual time), with a scoreboard.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Parser as _;

use super::sim::simulate;
use super::{run_process_test, Bar, Finished};
use crate::catalog;
use crate::challenges::{judge, Challenge, CHALLENGES};
use crate::checkers::Validity;
use crate::cli::{AllArgs, Cli};
use crate::report::verdict_line;
use crate::signals;

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
        if let Some(seed) = args.seed {
            argv.extend(["--seed".into(), seed.to_string()]);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
