//! The broadcast challenge node (3a-3e), tested through the public testing API only.

use std::time::Duration;

use glomers_challenges::broadcast::Broadcast;
use glomers_node::Node;
use glomers_testing::rand::Rng as _;
use glomers_testing::{json, ClusterBuilder, Fate, LatencyDist, TestCluster, Value};

fn cluster(nodes: usize, seed: u64) -> TestCluster<Broadcast> {
    ClusterBuilder::new(nodes)
        .seed(seed)
        .latency(Duration::from_millis(20), LatencyDist::Exponential)
        .build(|_| Broadcast::default())
}

fn broadcast<N: Node>(c: &mut TestCluster<N>, node: usize, value: u64) {
    let reply = c
        .call(node, json!({"type": "broadcast", "message": value}))
        .unwrap_or_else(|e| panic!("broadcast {value} to n{node}: {e}"));
    assert_eq!(reply["type"], "broadcast_ok");
}

fn read<N: Node>(c: &mut TestCluster<N>, node: usize) -> Vec<u64> {
    let reply = c.call(node, json!({"type": "read"})).unwrap();
    let mut values: Vec<u64> = reply["messages"]
        .as_array()
        .expect("read_ok has messages")
        .iter()
        .map(|v| v.as_u64().expect("integer values"))
        .collect();
    values.sort_unstable();
    values
}

/// Reads every node until all hold `expected` or `timeout` passes; returns the time it took.
fn converge<N: Node>(c: &mut TestCluster<N>, expected: &[u64], timeout: Duration) -> Duration {
    try_converge(c, expected, timeout).unwrap_or_else(|missing| {
        panic!("after {timeout:?}, nodes {missing:?} still miss values of {expected:?}")
    })
}

/// [`converge`], or the nodes that still miss values.
fn try_converge<N: Node>(
    c: &mut TestCluster<N>,
    expected: &[u64],
    timeout: Duration,
) -> Result<Duration, Vec<usize>> {
    let start = c.now();
    loop {
        let missing: Vec<usize> = (0..c.node_count())
            .filter(|&n| read(c, n) != expected)
            .collect();
        if missing.is_empty() {
            return Ok(c.now() - start);
        }
        if c.now() - start >= timeout {
            return Err(missing);
        }
        c.run_for(Duration::from_millis(50));
    }
}

#[test]
fn a_node_that_drops_values_fails_these_checks() {
    use glomers_workbench::broken::broadcast::{Flaw, FlawedBroadcast};
    let mut c = ClusterBuilder::new(3)
        .seed(5)
        .build(|_| FlawedBroadcast::new(Flaw::DropsOneInFifty));
    let values: Vec<u64> = (0..100).collect();
    for &v in &values {
        broadcast(&mut c, v as usize % 3, v);
    }
    assert!(try_converge(&mut c, &values, Duration::from_secs(10)).is_err());
}

#[test]
fn topology_is_answered_and_every_value_reaches_every_node() {
    let mut c = cluster(5, 1);
    for n in 0..5 {
        let topology = json!({"type": "topology", "topology": {}});
        assert_eq!(c.call(n, topology).unwrap()["type"], "topology_ok");
    }
    let values: Vec<u64> = (1..=20).collect();
    for &v in &values {
        broadcast(&mut c, v as usize % 5, v);
    }
    let took = converge(&mut c, &values, Duration::from_secs(2));
    assert!(took < Duration::from_secs(1), "took {took:?}");
    c.run_for(Duration::from_secs(2));
    c.assert_exactly_once();
}

#[test]
fn a_partition_holds_values_back_until_it_heals() {
    let mut c = cluster(5, 2);
    c.partition(&[&[0, 1], &[2, 3, 4]]);
    broadcast(&mut c, 0, 10);
    broadcast(&mut c, 3, 30);
    // Each side spreads its own value (n3's side fails over from the hub n0 after a few
    // retransmission timeouts), and only that.
    c.run_for(Duration::from_secs(15));
    assert_eq!(read(&mut c, 1), [10]);
    assert_eq!(read(&mut c, 2), [30]);
    assert_eq!(read(&mut c, 4), [30]);
    c.heal();
    converge(&mut c, &[10, 30], Duration::from_secs(10));
    c.run_for(Duration::from_secs(5));
    c.assert_exactly_once();
}

#[test]
fn an_isolated_node_catches_up() {
    let mut c = cluster(4, 3);
    c.isolate(2);
    for v in 0..8 {
        broadcast(&mut c, v as usize % 4, v);
    }
    c.run_for(Duration::from_secs(1));
    assert_eq!(read(&mut c, 2), [2, 6], "n2 holds only what it was given");
    c.heal();
    converge(&mut c, &(0..8).collect::<Vec<_>>(), Duration::from_secs(10));
}

#[test]
fn thirty_percent_of_node_to_node_messages_lost_lose_no_value() {
    for seed in 0..5 {
        let mut c = cluster(5, seed);
        c.set_rule(|m, rng| {
            if m.between_nodes() && rng.gen_bool(0.3) {
                Fate::Drop
            } else {
                Fate::Deliver
            }
        });
        let values: Vec<u64> = (0..30).collect();
        for &v in &values {
            broadcast(&mut c, (v * 7 % 5) as usize, v);
            c.run_for(Duration::from_millis(13));
        }
        converge(&mut c, &values, Duration::from_secs(20));
        assert!(
            c.net_stats().dropped > 0,
            "seed {seed}: the rule dropped nothing"
        );
        c.run_for(Duration::from_secs(5));
        c.assert_exactly_once();
    }
}

#[test]
fn delayed_node_to_node_messages_delay_but_deliver() {
    let mut c = cluster(3, 4);
    c.set_rule(|m, _| {
        if m.between_nodes() {
            Fate::Delay(400_000_000)
        } else {
            Fate::Deliver
        }
    });
    broadcast(&mut c, 1, 5);
    c.run_for(Duration::from_millis(300));
    assert_eq!(
        read(&mut c, 2),
        Vec::<u64>::new(),
        "no value before its delay"
    );
    let took = converge(&mut c, &[5], Duration::from_secs(5));
    assert!(took >= Duration::from_millis(400), "took {took:?}");
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let run = |seed| {
        let mut c = cluster(5, seed);
        c.partition(&[&[0], &[1, 2, 3, 4]]);
        let mut replies: Vec<Value> = Vec::new();
        for v in 0..10 {
            broadcast(&mut c, v as usize % 5, v);
            c.run_for(Duration::from_millis(37));
            replies.push(c.call(v as usize % 5, json!({"type": "read"})).unwrap());
        }
        c.heal();
        c.run_for(Duration::from_secs(3));
        (replies, c.net_stats(), c.now())
    };
    assert_eq!(run(9), run(9));
}
