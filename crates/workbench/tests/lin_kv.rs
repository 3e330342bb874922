//! lin-kv in the simulator: the relay and the Raft node pass, over seeds with partitions and
//! exponential latency; each broken node is caught on some seed; the concurrency rule is
//! enforced before anything runs.

use glomers_workbench::catalog;
use glomers_workbench::checkers::Validity;
use glomers_workbench::commands::run_sim;
use glomers_workbench::net::{Latency, LatencyDist};
use glomers_workbench::runner::TestOptions;

/// `node_count` nodes, 2n workers, `time_limit` seconds at 100 ops/s.
fn options(node_count: usize, time_limit: f64) -> TestOptions {
    TestOptions {
        time_limit_secs: time_limit,
        rate: 100.0,
        concurrency: 2 * node_count,
        ..TestOptions::new("lin-kv", node_count)
    }
}

fn with_faults(opts: TestOptions) -> TestOptions {
    TestOptions {
        partitions: true,
        nemesis_interval_secs: 1.0,
        latency: Latency::new(20, LatencyDist::Exponential).unwrap(),
        ..opts
    }
}

/// The verdict and the number of ok ops of one seed.
fn run(opts: &TestOptions, node: &str, seed: u64) -> (Validity, usize) {
    let entry = catalog::find(node).unwrap();
    let opts = TestOptions {
        seed,
        ..opts.clone()
    };
    let f = run_sim(&opts, entry, &[], None).unwrap();
    let ok = f
        .run
        .history
        .ops
        .iter()
        .filter(|op| op.kind == glomers_workbench::history::OpType::Ok)
        .count();
    (f.results.valid, ok)
}

/// The first seed of `seeds` whose run is not valid.
fn first_invalid(opts: &TestOptions, node: &str, seeds: std::ops::Range<u64>) -> Option<u64> {
    seeds
        .into_iter()
        .find(|&seed| run(opts, node, seed).0 != Validity::Valid)
}

#[test]
fn the_proxy_is_valid_and_available() {
    for seed in 0..5 {
        let (valid, ok) = run(&options(3, 3.0), "lin-kv-proxy", seed);
        assert_eq!(valid, Validity::Valid, "seed {seed}");
        assert!(ok > 150, "seed {seed}: only {ok} ok ops");
    }
}

#[test]
fn raft_is_valid_over_seeds_with_partitions_and_exponential_latency() {
    for (nodes, seeds) in [(3, 0..25), (5, 100..125)] {
        let opts = with_faults(options(nodes, 4.0));
        assert_eq!(first_invalid(&opts, "raft", seeds), None, "{nodes} nodes");
    }
}

#[test]
fn raft_serves_clients_without_faults() {
    for nodes in [1, 3, 5] {
        let (valid, ok) = run(&options(nodes, 4.0), "raft", 7);
        assert_eq!(valid, Validity::Valid, "{nodes} nodes");
        // An election takes about a second; then most ops succeed.
        assert!(ok > 100, "{nodes} nodes: only {ok} ok ops");
    }
}

#[test]
fn stale_reads_are_caught() {
    let seed = first_invalid(&options(3, 3.0), "broken-lin-kv-stale-reads", 0..10);
    assert!(seed.is_some(), "no seed caught the stale reads");
}

#[test]
fn a_blind_cas_is_caught() {
    // Two writers per node (4n), and some latency to the service so that two cas overlap.
    let opts = TestOptions {
        concurrency: 12,
        latency: Latency::new(10, LatencyDist::Constant).unwrap(),
        ..options(3, 3.0)
    };
    let seed = first_invalid(&opts, "broken-lin-kv-blind-cas", 0..10);
    assert!(seed.is_some(), "no seed caught the blind cas");
}

#[test]
fn raft_committing_without_a_majority_is_caught_under_partitions() {
    let opts = with_faults(options(3, 8.0));
    let seed = first_invalid(&opts, "broken-raft-early-commit", 0..30);
    assert!(seed.is_some(), "no seed caught the early commit");
}

#[test]
fn concurrency_must_be_a_multiple_of_twice_the_node_count() {
    let entry = catalog::find("raft").unwrap();
    let opts = TestOptions {
        concurrency: 4,
        ..options(3, 1.0)
    };
    let err = match run_sim(&opts, entry, &[], None) {
        Ok(_) => panic!("concurrency 4 with 3 nodes was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("multiple of 2 x the node count"), "{err}");
}
