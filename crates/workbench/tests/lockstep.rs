//! `glomers sim --bin`: node binaries in virtual time over their pipes (the lockstep protocol).
//! The binary here is `glomers node NAME`, which runs a catalogued node through
//! `glomers_node::run` exactly as a challenge binary does.

mod common;

use std::path::Path;

use common::{glomers, glomers_bin, node_script};
use glomers_workbench::catalog;
use glomers_workbench::checkers::Validity;
use glomers_workbench::commands::{run_lockstep, run_sim, Finished};
use glomers_workbench::net::{Latency, LatencyDist};
use glomers_workbench::runner::TestOptions;

fn partitioned(workload: &str, seed: u64) -> TestOptions {
    TestOptions {
        time_limit_secs: 3.0,
        rate: 30.0,
        partitions: true,
        nemesis_interval_secs: 0.7,
        latency: Latency::new(10, LatencyDist::Exponential).unwrap(),
        recovery_secs: 3.0,
        seed,
        ..TestOptions::new(workload, 3)
    }
}

fn as_binary(opts: &TestOptions, node: &str) -> Finished {
    let args = ["node".to_string(), node.to_string()];
    run_lockstep(opts, Path::new(glomers_bin()), &args, None).unwrap()
}

fn in_process(opts: &TestOptions, node: &str) -> Finished {
    run_sim(opts, catalog::find(node).unwrap(), &[], None).unwrap()
}

fn read(store: &Path, file: &str) -> String {
    std::fs::read_to_string(store.join("latest").join(file)).unwrap()
}

#[test]
fn a_binary_replays_byte_for_byte_and_matches_the_in_process_node() {
    let flags = [
        "sim",
        "-w",
        "broadcast",
        "--node-count",
        "4",
        "--time-limit",
        "3",
        "--rate",
        "40",
        "--latency",
        "20",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "0.5",
        "--seed",
        "11",
    ];
    let with_bin = |store: &str| {
        let mut args = flags.to_vec();
        args.extend(["--bin", glomers_bin()]);
        glomers(&args, &["node", "broadcast"], store)
    };
    let first = with_bin("lockstep-a");
    let second = with_bin("lockstep-b");
    let mut args = flags.to_vec();
    args.extend(["--node", "broadcast"]);
    let catalog = glomers(&args, &[], "lockstep-catalog");
    first.assert_valid();
    for file in ["history.jsonl", "messages.jsonl"] {
        let bytes = read(&first.store, file);
        assert!(
            bytes.lines().count() > 50,
            "{file} is too short to show much"
        );
        assert_eq!(
            bytes,
            read(&second.store, file),
            "{file} differs between runs"
        );
        assert_eq!(
            bytes,
            read(&catalog.store, file),
            "{file} differs from the in-process node"
        );
    }
    let log = std::fs::read_to_string(first.store.join("latest/node-logs/n0.log")).unwrap();
    assert!(log.contains("lockstep mode"), "{log}");
}

#[test]
fn a_sweep_gives_the_in_process_histories_and_verdicts() {
    for seed in 0..6 {
        let opts = partitioned("broadcast", seed);
        let bin = as_binary(&opts, "broadcast");
        let sim = in_process(&opts, "broadcast");
        assert_eq!(bin.results.valid, Validity::Valid, "seed {seed}");
        assert_eq!(
            bin.run.history.to_jsonl(),
            sim.run.history.to_jsonl(),
            "seed {seed}"
        );
        assert_eq!(bin.run.net, sim.run.net, "seed {seed}");
    }
}

#[test]
fn a_broken_binary_is_caught_as_in_process() {
    let caught = (0..10).find(|&seed| {
        let opts = TestOptions {
            rate: 100.0,
            ..partitioned("broadcast", seed)
        };
        let bin = as_binary(&opts, "broken-broadcast-drop");
        assert_eq!(
            bin.results.valid,
            in_process(&opts, "broken-broadcast-drop").results.valid,
            "seed {seed}"
        );
        bin.results.valid == Validity::Invalid
    });
    assert!(caught.is_some(), "no seed caught the dropped values");
}

#[test]
fn a_seed_sweep_runs_from_the_command_line() {
    let run = glomers(
        &[
            "sim",
            "-w",
            "g-counter",
            "--bin",
            glomers_bin(),
            "--node-count",
            "3",
            "--time-limit",
            "2",
            "--rate",
            "20",
            "--seeds",
            "4",
            "--jobs",
            "2",
        ],
        &["node", "g-counter"],
        "lockstep-sweep",
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("4 seeds in") && run.stdout.contains("4 valid, 0 not"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_binary_that_does_not_speak_lockstep_is_a_clear_error() {
    let run = glomers(
        &["sim", "-w", "echo", "--bin", "true", "--time-limit", "1"],
        &[],
        "lockstep-not",
    );
    assert_eq!(run.code, 255, "{}", run.stderr);
    assert!(
        run.stderr.contains("ended before announcing lockstep mode"),
        "{}",
        run.stderr
    );
}

#[test]
fn node_and_bin_exclude_each_other() {
    let both = glomers(
        &["sim", "-w", "echo", "--node", "echo", "--bin", "x"],
        &[],
        "lockstep-both",
    );
    assert_eq!(both.code, 254, "{}", both.stderr);
    let neither = glomers(&["sim", "-w", "echo"], &[], "lockstep-neither");
    assert_eq!(neither.code, 254, "{}", neither.stderr);
}

#[test]
fn a_python_node_speaking_the_protocol_runs_and_replays() {
    let flags = [
        "sim",
        "-w",
        "echo",
        "--node-count",
        "2",
        "--time-limit",
        "2",
        "--rate",
        "50",
        "--seed",
        "4",
    ];
    let script = node_script("lockstep_echo.py");
    let run = |store: &str| {
        let mut args = flags.to_vec();
        args.extend(["--bin", script.as_str()]);
        glomers(&args, &[], store)
    };
    let first = run("lockstep-py-a");
    first.assert_valid();
    let second = run("lockstep-py-b");
    let history = read(&first.store, "history.jsonl");
    assert_eq!(history, read(&second.store, "history.jsonl"));
    // Every echo was answered by the node's timer, 5 ms of virtual time after its request.
    let ops: Vec<serde_json::Value> = history
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let oks = ops.iter().filter(|op| op["type"] == "ok").count();
    assert!(oks > 50, "{oks} echoes");
    for op in ops.iter().filter(|op| op["type"] == "ok") {
        let invoke = ops
            .iter()
            .rev()
            .find(|i| {
                i["process"] == op["process"]
                    && i["type"] == "invoke"
                    && i["index"].as_u64() < op["index"].as_u64()
            })
            .unwrap();
        let took = op["time"].as_u64().unwrap() - invoke["time"].as_u64().unwrap();
        assert_eq!(took, 5_000_000, "{op}");
    }
}

#[test]
fn a_node_that_crashes_mid_run_is_reported_with_its_stderr() {
    let script = node_script("lockstep_echo.py");
    let run = glomers(
        &[
            "sim",
            "-w",
            "echo",
            "--node-count",
            "1",
            "--time-limit",
            "2",
            "--bin",
            &script,
        ],
        &["crash-after", "5"],
        "lockstep-crash",
    );
    run.assert_invalid();
    let errors = run.results["errors"].to_string();
    assert!(errors.contains("n0 exited with"), "{errors}");
    assert!(errors.contains("crashing on purpose"), "{errors}");
}
