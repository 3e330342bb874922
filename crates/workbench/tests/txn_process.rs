//! The txn workloads through the process driver: the `txn` node as a real process passes a
//! short 6c, and an unknown consistency model is refused before any node starts.

mod common;

use common::{glomers, glomers_bin};

#[test]
fn the_txn_node_passes_a_short_6c_as_a_process() {
    let args = [
        "test",
        "-w",
        "txn-rw-register",
        "--bin",
        glomers_bin(),
        "--node-count",
        "2",
        "--concurrency",
        "2n",
        "--time-limit",
        "2",
        "--rate",
        "200",
        "--consistency-models",
        "read-committed",
        "--availability",
        "total",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "0.5",
        // A batch a partition dropped is resent after 2 s (RESEND) and flushed within 0.5 s:
        // the final reads must come after that, or replicas may still differ.
        "--recovery",
        "3",
    ];
    let run = glomers(&args, &["node", "txn"], "txn-6c");
    run.assert_valid();
    let workload = &run.results["workload"];
    assert!(workload["ok_count"].as_u64().unwrap() > 50, "{workload}");
    assert!(run.results["net"]["servers"]["msg_count"].as_u64().unwrap() > 0);
}

#[test]
fn an_unknown_consistency_model_is_refused_before_the_run() {
    let args = [
        "test",
        "-w",
        "txn-rw-register",
        "--bin",
        glomers_bin(),
        "--time-limit",
        "1",
        "--consistency-models",
        "read-comitted",
    ];
    let run = glomers(&args, &["node", "txn"], "txn-bad-model");
    assert_eq!(run.code, 255, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("unknown consistency model \"read-comitted\"")
            && run.stderr.contains("read-committed"),
        "{}",
        run.stderr
    );
    assert!(run.results.is_null(), "the run must not start");
}
