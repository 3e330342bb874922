//! The process driver end to end: real node processes over pipes, in real time, with short
//! time limits. Correct nodes pass; each deliberately broken node is caught with a diagnostic
//! that names the problem.

mod common;

use common::{glomers, glomers_bin, node_script};
use serde_json::Value;

/// Runs workload `workload` against the catalogued node `node`, started as a process
/// (`glomers node NAME`), with `flags` after `--bin`.
fn catalog_node(workload: &str, node: &str, flags: &[&str]) -> common::Run {
    let mut args = vec!["test", "-w", workload, "--bin", glomers_bin()];
    args.extend_from_slice(flags);
    glomers(&args, &["node", node], node)
}

/// Every pid listed in `pids_file` is gone (or a zombie awaiting its reaper).
fn assert_processes_gone(pids_file: &std::path::Path) {
    for pid in std::fs::read_to_string(pids_file).unwrap().lines() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        assert!(
            status.is_empty() || status.contains("State:\tZ"),
            "node process {pid} outlived the workbench"
        );
    }
}

#[test]
fn our_echo_node_passes() {
    let run = catalog_node(
        "echo",
        "echo",
        &["--node-count", "1", "--time-limit", "2", "--rate", "50"],
    );
    run.assert_valid();
    assert!(run.results["stats"]["ok_count"].as_u64().unwrap() > 20);
    for file in [
        "results.json",
        "history.jsonl",
        "messages.jsonl",
        "node-logs/n0.log",
    ] {
        assert!(
            run.store.join("latest").join(file).exists(),
            "{file} missing"
        );
    }
    assert!(run.store.join("echo/latest/results.json").exists());
}

#[test]
fn a_python_echo_node_passes_and_leaves_no_process_behind() {
    let pids_dir = common::temp_store("pids");
    let pids = pids_dir.join("pids");
    let run = glomers(
        &[
            "test",
            "-w",
            "echo",
            "--bin",
            &node_script("echo.py"),
            "--node-count",
            "3",
            "--time-limit",
            "2",
            "--rate",
            "50",
        ],
        &[pids.to_str().unwrap()],
        "python-echo",
    );
    run.assert_valid();
    assert_eq!(std::fs::read_to_string(&pids).unwrap().lines().count(), 3);
    assert_processes_gone(&pids);
}

#[test]
fn a_mangled_echo_is_caught() {
    let run = catalog_node(
        "echo",
        "broken-echo",
        &["--node-count", "1", "--time-limit", "2", "--rate", "200"],
    );
    run.assert_invalid();
    assert!(run.stdout.contains("wrong-echo"), "{}", run.stdout);
    assert!(run.results["workload"]["error_count"].as_u64().unwrap() >= 1);
}

#[test]
fn unique_ids_pass_under_partitions_with_total_availability() {
    let run = catalog_node(
        "unique-ids",
        "unique-ids",
        &[
            "--node-count",
            "3",
            "--time-limit",
            "3",
            "--rate",
            "500",
            "--availability",
            "total",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "1",
        ],
    );
    run.assert_valid();
    assert!(
        run.results["workload"]["acknowledged_count"]
            .as_u64()
            .unwrap()
            > 500
    );
}

#[test]
fn repeated_ids_under_load_are_caught() {
    let run = catalog_node(
        "unique-ids",
        "broken-unique-ids",
        &["--node-count", "3", "--time-limit", "2", "--rate", "1000"],
    );
    run.assert_invalid();
    assert!(run.stdout.contains("duplicated-id"), "{}", run.stdout);
}

fn misbehave(fault: &str, time_limit: &str) -> common::Run {
    glomers(
        &[
            "test",
            "-w",
            "echo",
            "--bin",
            &node_script("misbehave.py"),
            "--node-count",
            "2",
            "--time-limit",
            time_limit,
            "--rate",
            "50",
        ],
        &[fault],
        fault,
    )
}

fn errors(run: &common::Run) -> String {
    run.results["errors"].to_string()
}

#[test]
fn a_line_that_is_not_json_is_named() {
    let run = misbehave("noise", "2");
    run.assert_invalid();
    assert!(errors(&run).contains("is not JSON"), "{}", run.stdout);
    assert!(
        errors(&run).contains("got my fifth echo!"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_node_that_exits_is_reported_with_its_status_and_stderr() {
    let started = std::time::Instant::now();
    let run = misbehave("exit", "20");
    run.assert_invalid();
    let errors = errors(&run);
    assert!(errors.contains("exited"), "{errors}");
    assert!(errors.contains("exit status: 3"), "{errors}");
    assert!(errors.contains("giving up after five echoes"), "{errors}");
    assert_eq!(run.results["aborted"], Value::Bool(true));
    // The run stops at the crash instead of waiting out the time limit.
    assert!(started.elapsed().as_secs() < 15);
}

#[test]
fn a_node_that_never_answers_init_fails_the_run() {
    let run = misbehave("silent", "1");
    run.assert_invalid();
    assert!(
        errors(&run).contains("did not answer init"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_message_to_an_unknown_node_is_named() {
    let run = misbehave("bad-dest", "2");
    run.assert_invalid();
    assert!(errors(&run).contains("\\\"n42\\\""), "{}", errors(&run));
}

#[test]
fn a_missing_binary_is_a_clear_error() {
    let run = glomers(
        &[
            "test",
            "-w",
            "echo",
            "--bin",
            "/nonexistent/node",
            "--time-limit",
            "1",
        ],
        &[],
        "missing",
    );
    assert_eq!(run.code, 255);
    assert!(run.stderr.contains("no such file"), "{}", run.stderr);
}

#[test]
fn bad_options_exit_254_as_in_maelstrom() {
    let run = glomers(
        &["test", "-w", "echo", "--bin", "x", "--bogus"],
        &[],
        "bad-option",
    );
    assert_eq!(run.code, 254, "{}", run.stderr);
    let run = glomers(
        &[
            "test",
            "-w",
            "nope",
            "--bin",
            glomers_bin(),
            "--time-limit",
            "1",
        ],
        &[],
        "bad-workload",
    );
    // An unknown workload is a bad option too, as in Maelstrom's option validation.
    assert_eq!(run.code, 254);
    assert!(run.stderr.contains("unknown workload"), "{}", run.stderr);
}

#[test]
fn a_reply_with_a_text_in_reply_to_is_explained() {
    let run = misbehave("text-reply", "2");
    run.assert_invalid();
    assert!(errors(&run).contains("not an integer"), "{}", errors(&run));
}

#[test]
fn a_node_that_leaves_descendants_cannot_hang_the_workbench() {
    let store = common::temp_store("wrapper");
    let pids = store.join("pids");
    let mut child = std::process::Command::new(glomers_bin())
        .args([
            "test",
            "-w",
            "echo",
            "--bin",
            &node_script("wrapper.sh"),
            "--node-count",
            "2",
        ])
        .args(["--time-limit", "2", "--rate", "20", "--store"])
        .arg(&store)
        .arg(&pids)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed().as_secs() > 60 {
            let _ = child.kill();
            panic!("glomers did not end within 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0));
    // The Python nodes are gone (and so are their `sleep` siblings, in the same groups).
    assert_processes_gone(&pids);
}
