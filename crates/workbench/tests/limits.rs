//! Options a person can get wrong, and runs that check nothing: each is refused with its own
//! sentence (exit 254, as Maelstrom's option validation) or ends in a verdict that is not
//! "valid". Every case here is instant: refusals happen before a test starts.

mod common;

use common::{glomers, temp_store};
use glomers_workbench::catalog;
use glomers_workbench::checkers::Validity;
use glomers_workbench::commands::run_sim;
use glomers_workbench::runner::TestOptions;

const GOOD: &str = "Everything looks good!";

/// Runs `glomers <args>` and expects a refusal (254) whose stderr contains `says`.
fn refused(args: &[&str], says: &str) {
    let run = glomers(args, &[], "refused");
    assert_eq!(run.code, 254, "{args:?}\n{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    assert!(!run.stdout.contains(GOOD), "{args:?}: {}", run.stdout);
}

const SIM_ECHO: [&str; 5] = ["sim", "-w", "echo", "--node", "echo"];

/// `glomers sim -w echo --node echo <extra>`.
fn sim_echo<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    [&SIM_ECHO[..], extra].concat()
}

#[test]
fn options_that_would_check_nothing_are_refused() {
    refused(&sim_echo(&["--rate", "0"]), "the rate must be above 0");
    refused(
        &sim_echo(&["--time-limit", "0"]),
        "time limit must be above 0",
    );
    refused(&["all", "--sim", "--time-scale", "0"], "time scale");
    refused(&["all", "--only", "9"], "no challenge id starts with \"9\"");
    refused(&["all", "--bin-dir", "/nonexistent"], "not a directory");
}

#[test]
fn all_with_no_binary_to_run_is_not_valid() {
    let empty = temp_store("no-binaries");
    let run = glomers(
        &["all", "--bin-dir", empty.to_str().unwrap(), "--only", "1"],
        &[],
        "no-binaries-store",
    );
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("skipped"), "{}", run.stdout);
    assert!(run.stdout.contains("no challenge ran"), "{}", run.stdout);
    assert!(!run.stdout.contains(GOOD), "{}", run.stdout);
}

#[test]
fn a_run_without_operations_is_unknown() {
    // Options built in code skip the command line's bounds: the analysis still refuses to
    // call an empty history valid.
    let opts = TestOptions {
        rate: 0.0,
        time_limit_secs: 1.0,
        seed: 1,
        ..TestOptions::new("echo", 1)
    };
    let f = run_sim(&opts, catalog::find("echo").unwrap(), &[], None).unwrap();
    assert_eq!(f.results.valid, Validity::Unknown);
    let anomaly = &f.results.stats.anomalies[0];
    assert_eq!(anomaly.kind, "nothing-checked");
}

#[test]
fn absurd_options_are_refused_with_a_sentence() {
    refused(
        &sim_echo(&["--concurrency", "4294967296n"]),
        "--concurrency 4294967296n gives more than 100000 workers",
    );
    refused(
        &sim_echo(&["--concurrency", "4611686018427387905n"]),
        "--concurrency 4611686018427387905n gives more than 100000 workers",
    );
    refused(
        &sim_echo(&["--nemesis-interval", "1e-6"]),
        "the nemesis interval is 0.1 to",
    );
    refused(
        &sim_echo(&["--node-count", "100000000"]),
        "1 to 10000 nodes",
    );
    refused(&sim_echo(&["--rate", "1e300"]), "at most");
    refused(&sim_echo(&["--time-limit", "inf"]), "not a number");
    refused(
        &sim_echo(&["--seeds", "10", "--jobs", "1000000000"]),
        "--jobs is a number of threads from 1 to 1024",
    );
}

/// Runs `glomers <args>`, expects 254, and returns stderr, which must not carry clap's tip to
/// pass the word after `--` (that would hand it to the node).
fn refusal(args: &[&str]) -> String {
    let run = glomers(args, &[], "refusal");
    assert_eq!(run.code, 254, "{args:?}\n{}", run.stderr);
    assert!(
        !run.stderr.contains("as a value, use"),
        "{args:?}: {}",
        run.stderr
    );
    run.stderr
}

#[test]
fn mistakes_get_a_sentence_not_a_misleading_tip() {
    let err = refusal(&sim_echo(&["--rate", "-1"]));
    assert!(err.contains("'-1' for '--rate"), "{err}");
    assert!(err.contains("must be above 0"), "{err}");
    let err = refusal(&sim_echo(&["--latency", "-10"]));
    assert!(err.contains("(got -10)"), "{err}");
    let err = refusal(&sim_echo(&["--concurrency", "-1"]));
    assert!(
        err.contains("--concurrency takes no negative value"),
        "{err}"
    );
    let err = refusal(&sim_echo(&["--bin", "./x"]));
    assert!(err.contains("use `glomers test --bin PATH`"), "{err}");
    let err = refusal(&["test", "-w", "echo", "--bin", "x", "--frob"]);
    assert!(err.contains("glomers test has no option --frob"), "{err}");
}

/// `glomers test -w echo --bin x <extra>`, parsed only.
fn parses_as_test(extra: &[&str]) -> Result<glomers_workbench::cli::Cli, clap::Error> {
    use clap::Parser as _;
    let args = [&["glomers", "test", "-w", "echo", "--bin", "x"][..], extra].concat();
    glomers_workbench::cli::Cli::try_parse_from(args)
}

#[test]
fn every_maelstrom_test_option_is_accepted() {
    let accepted: &[&[&str]] = &[
        &["--node-count", "3"],
        &["--time-limit", "5"],
        &["--rate", "10"],
        &["--concurrency", "2n"],
        &["--latency", "100"],
        &["--latency-dist", "exponential"],
        &["--nemesis", "partition"],
        &["--nemesis-interval", "5"],
        &["--topology", "tree4"],
        &["--availability", "total"],
        &["--consistency-models", "serializable"],
        &["--key-count", "3"],
        &["--max-txn-length", "2"],
        &["--max-writes-per-key", "4"],
        &["--log-stderr"],
        &["--log-net-send"],
        &["--log-net-recv"],
        &["--test-count", "3"],
        &["--leave-db-running"],
        &["--logging-json"],
        &["--username", "admin"],
        &["--password", "secret"],
        &["--strict-host-key-checking"],
        &["--ssh-private-key", "/root/.ssh/id_rsa"],
        &["--no-ssh"],
        &["--dummy-ssh"],
    ];
    for option in accepted {
        if let Err(e) = parses_as_test(option) {
            panic!("{option:?} is refused:\n{e}");
        }
    }
}

#[test]
fn maelstrom_node_naming_is_refused_with_its_reason() {
    for option in [
        &["--node", "n1"][..],
        &["-n", "n1"],
        &["--nodes", "n1,n2"],
        &["--nodes-file", "nodes.txt"],
    ] {
        let err = refusal(&[&["test", "-w", "echo", "--bin", "x"][..], option].concat());
        assert!(
            err.contains(&format!("{} names Maelstrom's nodes", option[0])),
            "{option:?}: {err}"
        );
        assert!(err.contains("use --node-count N"), "{err}");
    }
}

#[test]
fn an_unknown_workload_exits_254() {
    let err = refusal(&["test", "-w", "lin-kvv", "--bin", "x"]);
    assert!(err.contains("unknown workload \"lin-kvv\""), "{err}");
}

#[test]
fn log_net_send_and_recv_print_each_message() {
    let run = glomers(
        &sim_echo(&["--time-limit", "1", "--log-net-send"]),
        &[],
        "net-send",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("send #0 c0 -> n0 {"), "{}", run.stderr);
    assert!(
        run.stderr.contains("\"type\":\"echo_ok\""),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(" recv #"), "{}", run.stderr);
    let run = glomers(
        &sim_echo(&["--time-limit", "1", "--log-net-recv"]),
        &[],
        "net-recv",
    );
    assert!(run.stderr.contains("recv #0 c0 -> n0 {"), "{}", run.stderr);
    assert!(!run.stderr.contains(" send #"), "{}", run.stderr);
}

#[test]
fn test_count_repeats_and_reports_each() {
    let run = glomers(
        &sim_echo(&["--time-limit", "1", "--test-count", "3"]),
        &[],
        "count",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    for i in 1..=3 {
        assert!(
            run.stdout.contains(&format!("== test {i} of 3")),
            "{}",
            run.stdout
        );
    }
    assert_eq!(run.stdout.matches(GOOD).count(), 3, "{}", run.stdout);
    assert!(run.stdout.contains("all 3 tests valid"));
    // As Jepsen: the first invalid test ends the series.
    let args = [
        "sim",
        "-w",
        "echo",
        "--node",
        "broken-echo",
        "--time-limit",
        "10",
        "--rate",
        "100",
        "--test-count",
        "5",
        "--seed",
        "1",
    ];
    let run = glomers(&args, &[], "count-invalid");
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("stopped after test 1 of 5"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("== test 2 of 5"), "{}", run.stdout);
}

#[test]
fn ignored_maelstrom_options_say_so() {
    let run = glomers(
        &sim_echo(&["--time-limit", "1", "--leave-db-running", "--no-ssh"]),
        &[],
        "ignored",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("note: --leave-db-running is ignored"));
    assert!(run.stderr.contains("note: --no-ssh is ignored"));
}

/// A node whose threads cannot start ends the test with a sentence and exit 255, not a panic.
/// Made certain by asking for 1 GB thread stacks in a 400 MB address space: the first node
/// thread fails before any other thread exists.
#[cfg(target_os = "linux")]
#[test]
fn a_thread_that_cannot_start_is_a_clear_error() {
    let store = temp_store("no-threads");
    let script = format!(
        "ulimit -v 400000; exec {} test -w echo --bin /bin/cat --node-count 3 \
         --time-limit 1 --store {}",
        common::glomers_bin(),
        store.display()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .env("RUST_MIN_STACK", (1u64 << 30).to_string())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{stderr}");
    assert!(
        stderr.contains("the machine refuses more threads"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
