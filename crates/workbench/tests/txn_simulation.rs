//! The txn node and its broken siblings in the simulator: the correct node valid over many
//! seeds with partitions and exponential latency, in both modes; each broken node caught, by
//! the anomaly its flaw makes.

use glomers_workbench::catalog;
use glomers_workbench::checkers::availability::Availability;
use glomers_workbench::checkers::Validity;
use glomers_workbench::commands::{run_sim, Finished};
use glomers_workbench::net::{Latency, LatencyDist};
use glomers_workbench::runner::TestOptions;

/// 6c's command, shortened: 2 nodes, 4 workers, read committed, totally available,
/// partitions every ~second, exponential latency.
fn challenge_6c(time_limit: f64, rate: f64) -> TestOptions {
    TestOptions {
        time_limit_secs: time_limit,
        rate,
        concurrency: 4,
        partitions: true,
        nemesis_interval_secs: 1.0,
        availability: Some(Availability::Total),
        latency: Latency::new(5, LatencyDist::Exponential).unwrap(),
        consistency_models: "read-committed".into(),
        recovery_secs: 2.0,
        ..TestOptions::new("txn-rw-register", 2)
    }
}

fn run(opts: &TestOptions, node: &str, args: &[&str], seed: u64) -> Finished {
    let entry = catalog::find(node).unwrap();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    run_sim(
        &TestOptions {
            seed,
            ..opts.clone()
        },
        entry,
        &args,
        None,
    )
    .unwrap()
}

fn anomaly_types(f: &Finished) -> Vec<String> {
    f.results.workload.figures["anomaly_types"]
        .as_array()
        .map(|a| a.iter().map(|t| t.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// The first seed of `seeds` on which `node` is invalid with one of `expected` among the
/// anomalies.
fn caught(opts: &TestOptions, node: &str, expected: &[&str], seeds: std::ops::Range<u64>) -> u64 {
    for seed in seeds.clone() {
        let f = run(opts, node, &[], seed);
        let types = anomaly_types(&f);
        if f.results.valid == Validity::Invalid
            && types.iter().any(|t| expected.contains(&t.as_str()))
        {
            return seed;
        }
    }
    panic!("{node}: no seed in {seeds:?} showed {expected:?}");
}

#[test]
fn txn_is_read_committed_and_totally_available_over_30_seeds() {
    let opts = challenge_6c(2.0, 300.0);
    for seed in 0..30 {
        let f = run(&opts, "txn", &[], seed);
        assert_eq!(
            f.results.valid,
            Validity::Valid,
            "seed {seed}: {:?}",
            f.results.workload.anomalies
        );
        assert!(f.results.workload.figures["ok_count"].as_u64().unwrap() > 100);
    }
}

#[test]
fn txn_serializable_is_strict_serializable_over_8_seeds() {
    let opts = TestOptions {
        availability: None,
        consistency_models: "strict-serializable".into(),
        ..challenge_6c(2.0, 200.0)
    };
    for seed in 0..8 {
        let f = run(&opts, "txn", &["serializable"], seed);
        assert_eq!(
            f.results.valid,
            Validity::Valid,
            "seed {seed}: {:?}",
            f.results.workload.anomalies
        );
    }
}

/// 6b's two official commands (default keys, transaction lengths and writes per key, no
/// latency), shortened: read uncommitted, then totally available under partitions.
fn challenge_6b(time_limit: f64) -> [TestOptions; 2] {
    let plain = TestOptions {
        latency: Latency::new(0, LatencyDist::Constant).unwrap(),
        partitions: false,
        availability: None,
        consistency_models: "read-uncommitted".into(),
        ..challenge_6c(time_limit, 1000.0)
    };
    let partitioned = TestOptions {
        partitions: true,
        availability: Some(Availability::Total),
        ..plain.clone()
    };
    [plain, partitioned]
}

#[test]
fn interleaved_writes_are_caught_as_g0_at_both_6b_commands() {
    // Each key its own last-writer-wins register: two transactions that wrote the same keys
    // on different nodes between replications can each win one key. Only the final read
    // orders those writes (nothing else may be inferred under read uncommitted).
    for opts in challenge_6b(3.0) {
        caught(&opts, "broken-txn-interleaved", &["G0"], 0..10);
    }
}

#[test]
fn txn_passes_both_6b_commands_over_5_seeds() {
    for opts in challenge_6b(3.0) {
        for seed in 0..5 {
            let f = run(&opts, "txn", &[], seed);
            assert_eq!(
                f.results.valid,
                Validity::Valid,
                "seed {seed}: {:?}",
                f.results.workload.anomalies
            );
        }
    }
}

#[test]
fn exposed_aborted_writes_are_caught_as_g1a() {
    let opts = TestOptions {
        availability: None,
        ..challenge_6c(1.0, 300.0)
    };
    caught(&opts, "broken-txn-aborted-read", &["G1a"], 0..5);
}

#[test]
fn replicated_intermediate_writes_are_caught_as_g1b() {
    caught(
        &challenge_6c(1.0, 300.0),
        "broken-txn-intermediate",
        &["G1b"],
        0..5,
    );
}

#[test]
fn reads_from_a_peer_are_caught_as_g1c() {
    let opts = TestOptions {
        availability: None,
        partitions: false,
        latency: Latency::new(20, LatencyDist::Exponential).unwrap(),
        ..challenge_6c(3.0, 500.0)
    };
    caught(&opts, "broken-txn-peer-reads", &["G1c"], 0..10);
}

#[test]
fn ignoring_own_writes_is_caught_as_internal() {
    caught(
        &challenge_6c(1.0, 300.0),
        "broken-txn-no-own-reads",
        &["internal"],
        0..5,
    );
}

#[test]
fn unlocked_read_modify_writes_lose_updates_under_serializable() {
    let opts = TestOptions {
        availability: None,
        consistency_models: "strict-serializable".into(),
        latency: Latency::new(10, LatencyDist::Exponential).unwrap(),
        ..challenge_6c(3.0, 300.0)
    };
    let lost_update = [
        "G-single",
        "G2-item",
        "G-single-process",
        "G2-item-process",
        "G-single-realtime",
        "G2-item-realtime",
    ];
    caught(&opts, "broken-txn-lost-update", &lost_update, 0..10);
}
