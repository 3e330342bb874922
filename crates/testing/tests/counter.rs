//! The g-counter challenge node (4) on seq-kv, tested through the public testing API only.

use std::time::Duration;

use glomers_challenges::counter::Counter;
use glomers_testing::rand::Rng as _;
use glomers_testing::{json, CallError, ClusterBuilder, Fate, LatencyDist, TestCluster};

fn cluster(seed: u64) -> TestCluster<Counter> {
    ClusterBuilder::new(3)
        .seed(seed)
        .latency(Duration::from_millis(10), LatencyDist::Uniform)
        .build(|_| Counter::g_counter())
}

fn add(c: &mut TestCluster<Counter>, node: usize, delta: i64) {
    let reply = c
        .call(node, json!({"type": "add", "delta": delta}))
        .unwrap();
    assert_eq!(reply["type"], "add_ok");
}

fn read(c: &mut TestCluster<Counter>, node: usize) -> i64 {
    c.call(node, json!({"type": "read"})).unwrap()["value"]
        .as_i64()
        .expect("an integer value")
}

fn all_read(c: &mut TestCluster<Counter>, expected: i64, within: Duration) {
    let start = c.now();
    while (0..3).any(|n| read(c, n) != expected) {
        assert!(c.now() - start < within, "reads never reached {expected}");
        c.run_for(Duration::from_millis(100));
    }
}

#[test]
fn adds_on_every_node_add_up_everywhere() {
    let mut c = cluster(1);
    let mut total = 0;
    for i in 0..30 {
        add(&mut c, i % 3, i as i64);
        total += i as i64;
        c.run_for(Duration::from_millis(20));
    }
    all_read(&mut c, total, Duration::from_secs(10));
    c.run_for(Duration::from_secs(2));
    c.assert_exactly_once();
}

#[test]
fn lost_seq_kv_replies_lose_no_increment() {
    for seed in 0..4 {
        let mut c = cluster(seed);
        // A third of seq-kv's answers vanish: cas and read calls time out and are retried.
        c.set_rule(|m, rng| {
            if m.src == "seq-kv" && rng.gen_bool(0.33) {
                Fate::Drop
            } else {
                Fate::Deliver
            }
        });
        // The node syncs every second: 6 s of adds and 4 s more to flush them, under the rule.
        for i in 0..20 {
            add(&mut c, i % 3, 1);
            c.run_for(Duration::from_millis(300));
        }
        c.run_for(Duration::from_secs(4));
        assert!(
            c.net_stats().dropped > 0,
            "seed {seed}: the rule dropped nothing"
        );
        c.clear_rule();
        all_read(&mut c, 20, Duration::from_secs(20));
        c.assert_exactly_once();
    }
}

#[test]
fn a_negative_delta_is_refused() {
    let mut c = cluster(2);
    match c.call(0, json!({"type": "add", "delta": -1})) {
        Err(CallError::Error { code, .. }) => assert_eq!(code, 12),
        other => panic!("expected error 12, got {other:?}"),
    }
    assert_eq!(read(&mut c, 0), 0);
    c.assert_exactly_once();
}
