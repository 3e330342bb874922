//! The workbench against hostile nodes and signals (issue "hard edges"): it never dies before
//! it reports, never leaves a node behind, never loses a finished run, and names what a node
//! did wrong. Real processes, short time limits.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{glomers, glomers_bin, node_script};
use serde_json::Value;

/// Runs the echo workload against `hostile.py FAULT PIDS` on `nodes` nodes.
fn hostile(fault: &str, nodes: &str, time_limit: &str) -> common::Run {
    let pids_dir = common::temp_store(&format!("{fault}-pids"));
    let pids = pids_dir.join("pids");
    glomers(
        &[
            "test",
            "-w",
            "echo",
            "--bin",
            &node_script("hostile.py"),
            "--node-count",
            nodes,
            "--time-limit",
            time_limit,
            "--rate",
            "50",
        ],
        &[fault, pids.to_str().unwrap()],
        fault,
    )
}

fn errors(run: &common::Run) -> String {
    run.results["errors"].to_string()
}

/// Every pid listed in `pids_file` is gone (or a zombie awaiting its reaper).
fn assert_processes_gone(pids_file: &Path) {
    let pids = std::fs::read_to_string(pids_file).unwrap();
    assert!(!pids.is_empty(), "no pid recorded");
    for pid in pids.lines() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        assert!(
            status.is_empty() || status.contains("State:\tZ"),
            "process {pid} outlived the workbench"
        );
    }
}

fn wait_with_limit(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("glomers did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---- 1. a write to a node that fails is a fact about the node --------------------------------

#[test]
fn a_node_that_closes_its_stdin_is_named_and_the_run_ends_with_its_verdict() {
    let run = hostile("close-stdin", "2", "2");
    run.assert_invalid();
    assert!(
        errors(&run).contains("stopped reading its stdin"),
        "{}",
        errors(&run)
    );
}

// ---- 2. signals end the nodes and keep the run ------------------------------------------------

/// Starts a lingering node cluster (nodes that ignore signals and end of input, each with a
/// detached grandchild), sends `signals` to glomers once they run, and checks the exit status,
/// that nothing survives, and that the run was written and marked.
fn interrupt(signals: &[i32], name: &str, code: i32) {
    let store = common::temp_store(&format!("signal-{code}-{}", signals.len()));
    let pids = store.join("pids");
    let mut child = Command::new(glomers_bin())
        .args(["test", "-w", "echo", "--bin", &node_script("hostile.py")])
        .args(["--node-count", "2", "--time-limit", "30", "--rate", "20"])
        .arg("--store")
        .arg(&store)
        .args(["linger", pids.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Both nodes and both grandchildren are up, and some ops were done.
    let started = Instant::now();
    while std::fs::read_to_string(&pids)
        .unwrap_or_default()
        .lines()
        .count()
        < 4
    {
        assert!(started.elapsed().as_secs() < 20, "the nodes did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(1000));
    for &signal in signals {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(child.id() as i32, signal) };
    }
    let status = wait_with_limit(&mut child, Duration::from_secs(10));
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        status.code(),
        Some(code),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_processes_gone(&pids);
    if signals.len() == 1 {
        let results: Value = serde_json::from_str(
            &std::fs::read_to_string(store.join("latest/results.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(results["interrupted"], name);
        assert!(results["stats"]["ok_count"].as_u64().unwrap() > 0);
        assert!(store.join("latest/history.jsonl").exists());
        assert!(
            stdout.contains(&format!("interrupted by {name}")),
            "{stdout}"
        );
        assert!(stdout.contains("store: "), "{stdout}");
    }
}

#[test]
fn sigint_kills_every_node_and_its_detached_children_and_keeps_the_run() {
    interrupt(&[libc::SIGINT], "SIGINT", 130);
}

#[test]
fn sigterm_and_sighup_end_the_run_with_their_own_status() {
    interrupt(&[libc::SIGTERM], "SIGTERM", 143);
    interrupt(&[libc::SIGHUP], "SIGHUP", 129);
}

#[test]
fn a_second_sigint_quits_at_once_and_still_kills_the_nodes() {
    interrupt(&[libc::SIGINT, libc::SIGINT], "SIGINT", 130);
}

// ---- 3. `latest` moves only to a run with results -------------------------------------------

#[test]
fn a_run_that_could_not_start_leaves_latest_alone_and_says_why() {
    let store = common::temp_store("latest");
    let test = |bin: &str| {
        Command::new(glomers_bin())
            .args(["test", "-w", "echo", "--bin", bin, "--node-count", "1"])
            .args(["--time-limit", "1", "--store"])
            .arg(&store)
            .args(["node", "echo"])
            .output()
            .unwrap()
    };
    assert_eq!(test(glomers_bin()).status.code(), Some(0));
    let first = std::fs::canonicalize(store.join("latest")).unwrap();
    let missing = store.join("no-such-node");
    assert_eq!(test(missing.to_str().unwrap()).status.code(), Some(255));
    assert_eq!(std::fs::canonicalize(store.join("latest")).unwrap(), first);
    assert!(store.join("latest/results.json").exists());
    // The failed run's directory says why it holds no results.
    let failures: Vec<String> = std::fs::read_dir(store.join("echo"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("failure.txt")).ok())
        .collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("no such file"), "{failures:?}");
}

// ---- 4. a full disk cannot take the verdict ----------------------------------------------------

#[test]
fn a_full_disk_still_prints_the_verdict_and_names_the_files_not_written() {
    use std::os::unix::process::CommandExt as _;
    let store = common::temp_store("full-disk");
    let mut command = Command::new(glomers_bin());
    command
        .args([
            "test",
            "-w",
            "echo",
            "--bin",
            glomers_bin(),
            "--node-count",
            "1",
        ])
        .args(["--time-limit", "1", "--rate", "100", "--store"])
        .arg(&store)
        .args(["node", "echo"]);
    // SAFETY: only async-signal-safe calls between fork and exec. Files may not grow past
    // 512 bytes (a full disk, as far as the workbench can tell: writes fail with EFBIG).
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 512,
                rlim_max: 512,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains("Everything looks good!"),
        "{stdout}\n{stderr}"
    );
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("could not write"), "{stderr}");
    assert!(stderr.contains("messages.jsonl"), "{stderr}");
    assert!(stderr.contains("results.json"), "{stderr}");
    assert!(!store.join("latest").exists());
}

// ---- 5. the node process itself is watched --------------------------------------------------

#[test]
fn a_node_that_dies_while_its_child_holds_stdout_is_reported() {
    let started = Instant::now();
    let run = hostile("orphan-exit", "2", "20");
    run.assert_invalid();
    let errors = errors(&run);
    assert!(errors.contains("exit status: 3"), "{errors}");
    assert!(errors.contains("giving up after five echoes"), "{errors}");
    assert!(started.elapsed().as_secs() < 10, "the crash was not seen");
}

#[test]
fn nodes_that_close_stdout_do_not_stall_the_run() {
    let started = Instant::now();
    let run = glomers(
        &[
            "test",
            "-w",
            "echo",
            "--bin",
            &node_script("close-stdout.sh"),
            "--node-count",
            "30",
            "--time-limit",
            "5",
        ],
        &[],
        "close-stdout",
    );
    run.assert_invalid();
    assert!(
        errors(&run).contains("closed its stdout"),
        "{}",
        errors(&run)
    );
    // One grace period for all of them, not half a second each (15 s).
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
}

// ---- 7. a node cannot take the machine's memory ------------------------------------------------

#[test]
fn a_node_that_does_not_read_its_stdin_is_named() {
    let run = hostile("flood", "2", "6");
    run.assert_invalid();
    assert!(
        errors(&run).contains("does not read its stdin fast enough"),
        "{}",
        errors(&run)
    );
}

// ---- 12. what a node wrote wrong is named ----------------------------------------------------

#[test]
fn an_unterminated_line_is_named() {
    let run = hostile("unterminated", "1", "2");
    assert!(
        errors(&run).contains("without ending the line"),
        "{}",
        errors(&run)
    );
}

#[test]
fn an_init_reply_without_its_newline_is_named_beside_the_missing_init() {
    let run = hostile("unterminated-init", "1", "1");
    run.assert_invalid();
    let errors = errors(&run);
    assert!(errors.contains("did not answer init"), "{errors}");
    assert!(errors.contains("without ending the line"), "{errors}");
}

#[test]
fn two_messages_on_one_line_are_named() {
    let run = hostile("two-per-line", "2", "2");
    run.assert_invalid();
    assert!(
        errors(&run).contains("one message per line"),
        "{}",
        errors(&run)
    );
}

#[test]
fn a_reply_to_no_request_and_a_second_reply_are_named() {
    let run = hostile("stray-reply", "1", "2");
    assert!(
        errors(&run).contains("matches no request"),
        "{}",
        errors(&run)
    );
    let run = hostile("double-reply", "1", "2");
    assert!(errors(&run).contains("second reply"), "{}", errors(&run));
}

#[test]
fn deeply_nested_json_is_accepted() {
    let run = hostile("deep", "2", "2");
    run.assert_valid();
}

#[test]
fn an_overlong_line_is_called_too_long() {
    let run = hostile("long-line", "2", "2");
    run.assert_invalid();
    assert!(errors(&run).contains("longer than"), "{}", errors(&run));
    assert!(!errors(&run).contains("not JSON"), "{}", errors(&run));
}

// ---- 15. a newcomer's first hour ---------------------------------------------------------------

#[test]
fn a_test_whose_output_is_not_a_terminal_prints_a_line_per_phase() {
    let run = glomers(
        &[
            "test",
            "-w",
            "echo",
            "--bin",
            glomers_bin(),
            "--node-count",
            "1",
            "--time-limit",
            "1",
        ],
        &["node", "echo"],
        "phase-lines",
    );
    run.assert_valid();
    for phase in ["main phase", "done phase"] {
        assert!(run.stderr.contains(phase), "{phase}: {}", run.stderr);
    }
}

#[test]
fn all_prints_the_command_it_runs_with_the_time_scale_applied() {
    let run = glomers(
        &["all", "--sim", "--only", "1", "--time-scale", "0.1"],
        &[],
        "time-scale",
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("--time-limit 1 "), "{}", run.stderr);
}

#[test]
fn a_closed_stdout_does_not_lose_the_run() {
    let store = common::temp_store("closed-stdout");
    let mut child = Command::new(glomers_bin())
        .args([
            "test",
            "-w",
            "echo",
            "--bin",
            glomers_bin(),
            "--node-count",
            "1",
        ])
        .args(["--time-limit", "1", "--store"])
        .arg(&store)
        .args(["node", "echo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // as `glomers test ... | head -0`
    let status = wait_with_limit(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(0));
    assert!(store.join("latest/results.json").exists());
}

#[test]
fn a_run_cut_before_its_final_reads_is_unknown_not_invalid() {
    let store = common::temp_store("cut-broadcast");
    let mut child = Command::new(glomers_bin())
        .args(["test", "-w", "broadcast", "--bin", glomers_bin()])
        .args(["--node-count", "3", "--time-limit", "20", "--rate", "100"])
        .arg("--store")
        .arg(&store)
        .args(["node", "broadcast"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_with_limit(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(130));
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(store.join("latest/results.json")).unwrap())
            .unwrap();
    assert_eq!(results["valid"], "unknown", "{results}");
    assert_eq!(results["interrupted"], "SIGINT");
}
