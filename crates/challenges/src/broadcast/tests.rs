//! Tests through [`glomers_node::Engine`]: single-node behaviour line by line, then whole
//! clusters on a small in-process network (virtual time, per-message latency, partitions that
//! drop messages for good) to check convergence, latency and message counts.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use glomers_node::rand::{Rng, SeedableRng};
use glomers_node::rand_chacha::ChaCha8Rng;
use glomers_node::Engine;
use serde_json::{json, Value};

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn lines(out: &[u8]) -> Vec<Value> {
    out.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

fn init_line(node: &str, ids: &[String]) -> Vec<u8> {
    let init = json!({"id": 0, "src": "c0", "dest": node,
        "body": {"type": "init", "msg_id": 1, "node_id": node, "node_ids": ids}});
    serde_json::to_vec(&init).unwrap()
}

#[derive(Clone, Copy)]
enum Latency {
    Constant(u64),
    /// Exponential with this mean (ms), floored to whole ms like Maelstrom's.
    Exponential(f64),
}

/// A small virtual-time network of broadcast nodes.
struct Net {
    ids: Vec<String>,
    nodes: Vec<Engine<Broadcast>>,
    now: Duration,
    /// Node-to-node messages in flight: (delivery time, order) -> (dest, line).
    wire: BTreeMap<(Duration, u64), (usize, Vec<u8>)>,
    order: u64,
    latency: Latency,
    rng: ChaCha8Rng,
    /// (from, to) pairs whose messages are dropped at send time.
    cut: BTreeSet<(usize, usize)>,
    /// Node-to-node messages sent (dropped ones included), as Maelstrom counts them.
    sent: u64,
    client_ops: u64,
    next_msg_id: u64,
    /// Replies to clients not yet picked up.
    replies: Vec<Value>,
    /// Broadcast values not yet on every node, with the time they were acknowledged.
    spreading: BTreeMap<u64, Duration>,
    /// For each value, the time from acknowledgement until every node had it.
    spread_times: Vec<Duration>,
    /// Where and when each value was broadcast.
    origins: BTreeMap<u64, (usize, Duration)>,
    /// Every node's output and logs, in order: (node, time, output, logs).
    trace: Vec<(usize, Duration, Vec<u8>, Vec<u8>)>,
}

impl Net {
    fn new(n: usize, latency: Latency, seed: u64, make: impl Fn() -> Broadcast) -> Net {
        let ids: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
        let mut net = Net {
            nodes: Vec::new(),
            ids: ids.clone(),
            now: Duration::ZERO,
            wire: BTreeMap::new(),
            order: 0,
            latency,
            rng: ChaCha8Rng::seed_from_u64(seed),
            cut: BTreeSet::new(),
            sent: 0,
            client_ops: 0,
            next_msg_id: 1,
            replies: Vec::new(),
            spreading: BTreeMap::new(),
            spread_times: Vec::new(),
            origins: BTreeMap::new(),
            trace: Vec::new(),
        };
        for (i, id) in ids.iter().enumerate() {
            let mut engine = Engine::new(make(), seed.wrapping_add(i as u64));
            engine.handle_line(&init_line(id, &ids), Duration::ZERO);
            net.nodes.push(engine);
            net.collect(i);
        }
        net.replies.clear();
        // Maelstrom's setup: a grid topology, which the node ignores.
        for i in 0..n {
            let reply = net.client(i, json!({"type": "topology", "topology": {"n0": []}}));
            assert_eq!(
                reply,
                json!({"type": "topology_ok", "in_reply_to": reply["in_reply_to"]})
            );
        }
        net.client_ops = 0;
        net
    }

    fn draw_latency(&mut self) -> Duration {
        match self.latency {
            Latency::Constant(l) => ms(l),
            Latency::Exponential(mean) => {
                let u: f64 = self.rng.gen_range(f64::EPSILON..1.0);
                ms((-u.ln() * mean) as u64)
            }
        }
    }

    /// Routes node `i`'s output: replies to clients aside, node messages onto the wire.
    fn collect(&mut self, i: usize) {
        let out = std::mem::take(self.nodes[i].output());
        let logs = std::mem::take(self.nodes[i].logs());
        if !out.is_empty() || !logs.is_empty() {
            self.trace.push((i, self.now, out.clone(), logs.clone()));
        }
        for msg in lines(&out) {
            let dest = msg["dest"].as_str().unwrap().to_string();
            assert_eq!(msg["src"], self.ids[i].as_str());
            if dest.starts_with('c') {
                self.replies.push(msg["body"].clone());
                continue;
            }
            let j = self
                .ids
                .iter()
                .position(|id| *id == dest)
                .expect("known dest");
            assert_ne!(i, j, "a node sent itself a message");
            self.sent += 1;
            if self.cut.contains(&(i, j)) {
                continue;
            }
            let at = self.now + self.draw_latency();
            self.order += 1;
            self.wire
                .insert((at, self.order), (j, serde_json::to_vec(&msg).unwrap()));
        }
        assert!(
            !String::from_utf8_lossy(&logs).contains("bad input"),
            "{}",
            String::from_utf8_lossy(&logs)
        );
    }

    /// Sends a client request to node `i` now and returns the reply body.
    fn client(&mut self, i: usize, mut body: Value) -> Value {
        let msg_id = self.next_msg_id;
        self.next_msg_id += 1;
        body["msg_id"] = json!(msg_id);
        let line = json!({"id": 1, "src": "c9", "dest": self.ids[i], "body": body});
        self.nodes[i].handle_line(&serde_json::to_vec(&line).unwrap(), self.now);
        self.collect(i);
        self.check_spread();
        self.client_ops += 1;
        let reply = self.replies.pop().expect("a reply");
        assert!(self.replies.is_empty());
        assert_eq!(reply["in_reply_to"], msg_id);
        reply
    }

    fn broadcast(&mut self, i: usize, value: u64) {
        let reply = self.client(i, json!({"type": "broadcast", "message": value}));
        assert_eq!(
            reply,
            json!({"type": "broadcast_ok", "in_reply_to": reply["in_reply_to"]})
        );
        self.spreading.insert(value, self.now);
        self.origins.insert(value, (i, self.now));
        self.check_spread();
    }

    fn read(&mut self, i: usize) -> BTreeSet<u64> {
        let reply = self.client(i, json!({"type": "read"}));
        let body = reply.as_object().unwrap();
        assert_eq!(body.len(), 3, "closed schema: {reply}");
        assert_eq!(body["type"], "read_ok");
        serde_json::from_value(body["messages"].clone()).unwrap()
    }

    fn check_spread(&mut self) {
        let nodes = &self.nodes;
        let now = self.now;
        let times = &mut self.spread_times;
        self.spreading.retain(|v, since| {
            let everywhere = nodes.iter().all(|n| n.node().messages().contains(v));
            if everywhere {
                times.push(now - *since);
            }
            !everywhere
        });
    }

    /// Runs the network (deliveries and timers, in time order) until `until`.
    fn run_until(&mut self, until: Duration) {
        loop {
            let wire = self.wire.first_key_value().map(|(k, _)| k.0);
            let timer = self
                .nodes
                .iter()
                .enumerate()
                .filter_map(|(i, n)| n.next_deadline().map(|d| (d, i)))
                .min();
            let deliver = match (wire, timer) {
                (Some(w), Some((t, _))) => w <= t,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if deliver && wire.unwrap() <= until {
                let ((at, _), (j, line)) = self.wire.pop_first().unwrap();
                self.now = self.now.max(at);
                self.nodes[j].handle_line(&line, self.now);
                self.collect(j);
            } else if let Some((t, i)) = timer.filter(|(t, _)| *t <= until && !deliver) {
                self.now = self.now.max(t);
                self.nodes[i].advance(self.now);
                self.collect(i);
            } else {
                break;
            }
            self.check_spread();
        }
        self.now = self.now.max(until);
    }

    fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// `rounds` rounds of a fault (one node cut off, the cluster split in two, or `n0` cut
    /// off, by `seed` and round) under a workload of 1 to 7 s, then healing under 0 to 3 s
    /// more; the values broadcast.
    fn partitioned_workload(&mut self, seed: u64, rounds: u64) -> Vec<u64> {
        let n = self.nodes.len();
        let mut values = Vec::new();
        for round in 0..rounds {
            match (seed + round) % 3 {
                0 => {
                    let node = self.rng.gen_range(0..n);
                    self.isolate(node)
                }
                1 => self.split(),
                _ => self.isolate(0),
            }
            let secs = self.rng.gen_range(1..8);
            values.extend(self.workload(secs, 50.0, values.len() as u64));
            self.heal();
            let secs = self.rng.gen_range(0..4);
            values.extend(self.workload(secs, 50.0, values.len() as u64));
        }
        values
    }

    /// Maelstrom's broadcast workload for `secs`: one op per uniform gap in [0, 2/rate), half
    /// broadcasts of 0, 1, 2... and half reads, each at a random node. Returns the values.
    fn workload(&mut self, secs: u64, rate: f64, first_value: u64) -> Vec<u64> {
        let end = self.now + Duration::from_secs(secs);
        let mut values = Vec::new();
        let mut next = first_value;
        let mut at = self.now;
        loop {
            at += Duration::from_secs_f64(self.rng.gen_range(0.0..2.0 / rate));
            if at >= end {
                break;
            }
            self.run_until(at);
            let node = self.rng.gen_range(0..self.nodes.len());
            if self.rng.gen_bool(0.5) {
                self.broadcast(node, next);
                values.push(next);
                next += 1;
            } else {
                let got = self.read(node);
                assert!(
                    got.iter().all(|v| *v < next),
                    "read returned unknown values"
                );
            }
        }
        self.run_until(end);
        values
    }

    fn isolate(&mut self, node: usize) {
        for other in 0..self.nodes.len() {
            if other != node {
                self.cut.insert((node, other));
                self.cut.insert((other, node));
            }
        }
    }

    /// Splits the nodes in two random halves.
    fn split(&mut self) {
        let n = self.nodes.len();
        let side: Vec<bool> = (0..n).map(|_| self.rng.gen_bool(0.5)).collect();
        for a in 0..n {
            for b in 0..n {
                if side[a] != side[b] {
                    self.cut.insert((a, b));
                }
            }
        }
    }

    /// Splits the nodes into `side` and the rest.
    fn split_off(&mut self, side: &[usize]) {
        let n = self.nodes.len();
        for a in 0..n {
            for b in 0..n {
                if side.contains(&a) != side.contains(&b) {
                    self.cut.insert((a, b));
                }
            }
        }
    }

    /// Values broadcast on one of `side` before `until` that some node of `side` lacks.
    fn missing_within(&self, side: &[usize], until: Duration) -> Vec<(u64, usize)> {
        let mut missing = Vec::new();
        for (&v, &(origin, at)) in &self.origins {
            if side.contains(&origin) && at < until {
                for &i in side {
                    if !self.nodes[i].node().messages().contains(&v) {
                        missing.push((v, i));
                    }
                }
            }
        }
        missing
    }

    fn heal(&mut self) {
        self.cut.clear();
    }

    /// Every node has exactly `values`, and nothing is pending anywhere.
    fn assert_converged(&mut self, values: &[u64]) {
        let want: BTreeSet<u64> = values.iter().copied().collect();
        for i in 0..self.nodes.len() {
            assert_eq!(self.read(i), want, "node n{i} differs");
            assert!(self.nodes[i].node().is_quiet(), "node n{i} not quiet");
        }
    }

    fn max_spread(&self) -> Duration {
        self.spread_times.iter().copied().max().unwrap_or_default()
    }

    fn median_spread(&self) -> Duration {
        let mut t = self.spread_times.clone();
        t.sort();
        t.get(t.len() / 2).copied().unwrap_or_default()
    }
}

#[test]
fn single_node_answers_with_exact_fields() {
    let mut net = Net::new(1, Latency::Constant(0), 1, Broadcast::default);
    assert!(net.read(0).is_empty());
    net.broadcast(0, 7);
    net.broadcast(0, 3);
    net.broadcast(0, 7);
    let reply = net.client(0, json!({"type": "read"}));
    assert_eq!(
        reply,
        json!({"type": "read_ok", "messages": [3, 7], "in_reply_to": reply["in_reply_to"]})
    );
    net.run_for(Duration::from_secs(5));
    assert_eq!(net.sent, 0);
    // No links, so no timer either.
    assert!(net.nodes[0].next_deadline().is_none());
}

#[test]
fn unknown_and_malformed_requests_are_answered_with_errors() {
    let ids = vec!["n0".to_string()];
    let mut engine = Engine::new(Broadcast::default(), 1);
    engine.handle_line(&init_line("n0", &ids), Duration::ZERO);
    engine.output().clear();
    engine.handle_line(
        br#"{"src":"c1","dest":"n0","body":{"type":"frobnicate","msg_id":2}}"#,
        Duration::ZERO,
    );
    engine.handle_line(
        br#"{"src":"c1","dest":"n0","body":{"type":"broadcast","message":"x","msg_id":3}}"#,
        Duration::ZERO,
    );
    let out = lines(&std::mem::take(engine.output()));
    assert_eq!(out[0]["body"]["code"], 10);
    assert_eq!(out[1]["body"]["code"], 12);
}

#[test]
fn from_args_picks_the_mode_and_tolerates_junk() {
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        Broadcast::from_args(&[]).config(),
        &Config::for_mode(Mode::Default)
    );
    assert_eq!(
        Broadcast::from_args(&args(&["frugal"])).config(),
        &Config::for_mode(Mode::Frugal)
    );
    let b = Broadcast::from_args(&args(&["--weird", "hub-ms=x", "hub-ms=70", "frugal"]));
    assert_eq!(b.config().hub_period, ms(70));
    assert_eq!(
        b.config().ack_delay,
        Config::for_mode(Mode::Frugal).ack_delay
    );
    assert_eq!(b.notes.len(), 3);
    // The notes go to the log at init.
    let ids = vec!["n0".to_string()];
    let mut engine = Engine::new(b, 1);
    engine.handle_line(&init_line("n0", &ids), Duration::ZERO);
    let logs = String::from_utf8(std::mem::take(engine.logs())).unwrap();
    assert!(
        logs.contains("ignoring unknown argument \"--weird\""),
        "{logs}"
    );
    assert!(logs.contains("Frugal"), "{logs}");
}

#[test]
fn a_leaf_sends_at_once_and_the_hub_on_its_tick() {
    let mut net = Net::new(3, Latency::Constant(100), 1, Broadcast::default);
    net.broadcast(1, 42);
    // The leaf's value is on the wire to the hub, nothing else.
    assert_eq!(net.sent, 1);
    let (_, (dest, line)) = net.wire.first_key_value().unwrap();
    assert_eq!(*dest, 0);
    let msg: Value = serde_json::from_slice(line).unwrap();
    assert_eq!(
        msg["body"],
        json!({"type": "gossip", "seq": 0, "relay": [42]})
    );
    net.run_for(ms(100));
    assert!(net.nodes[0].node().messages().contains(&42));
    // The hub's next tick sends n2 the value, and n1 nothing: the value is n1's own.
    let period = Config::default().hub_period;
    net.run_for(period + ms(100));
    assert_eq!(net.sent, 2, "value to hub, hub to n2");
    assert!(net.nodes[2].node().messages().contains(&42));
    // The hub has nothing to carry its ack to n1, so it goes bare after `ack_delay`, and so
    // does n2's ack of the hub's batch. Then all is quiet.
    net.run_for(Config::default().ack_delay + 2 * period + ms(100));
    assert_eq!(net.sent, 4);
    assert!(net.nodes.iter().all(|n| n.node().is_quiet()));
    net.run_for(Duration::from_secs(10));
    assert_eq!(net.sent, 4);
}

#[test]
fn acks_ride_on_data() {
    let mut net = Net::new(3, Latency::Constant(100), 1, Broadcast::default);
    net.broadcast(1, 1);
    net.broadcast(2, 2);
    net.run_for(ms(100));
    // The hub's flush to n1 carries n2's value and acknowledges n1's transmission.
    assert!(net.wire.is_empty());
    // The hub's first tick (one period after init).
    net.run_until(Config::default().hub_period + ms(10));
    assert_eq!(net.wire.len(), 2);
    let to_n1: Vec<Value> = net
        .wire
        .values()
        .filter(|(dest, _)| *dest == 1)
        .map(|(_, line)| serde_json::from_slice::<Value>(line).unwrap()["body"].clone())
        .collect();
    assert_eq!(
        to_n1,
        [json!({"type": "gossip", "seq": 0, "values": [2], "acks": [0]})]
    );
    net.run_for(ms(100));
    // n1's next value acknowledges the hub's transmission on the way.
    net.broadcast(1, 3);
    let (_, (dest, line)) = net.wire.last_key_value().unwrap();
    assert_eq!(*dest, 0);
    let body = serde_json::from_slice::<Value>(line).unwrap()["body"].clone();
    assert_eq!(
        body,
        json!({"type": "gossip", "seq": 1, "relay": [3], "acks": [0]})
    );
    net.run_for(Duration::from_secs(5));
    net.assert_converged(&[1, 2, 3]);
}

#[test]
fn twenty_five_nodes_default_mode_meets_targets() {
    let mut net = Net::new(25, Latency::Constant(100), 7, Broadcast::default);
    let values = net.workload(20, 100.0, 0);
    let main_msgs = net.sent;
    net.run_for(Duration::from_secs(10));
    let recovery_msgs = net.sent - main_msgs;
    let per_op = net.sent as f64 / net.client_ops as f64;
    let (median, max) = (net.median_spread(), net.max_spread());
    eprintln!(
        "default: {} ops, msgs/op {per_op:.2}, recovery {recovery_msgs} msgs, spread median {median:?} max {max:?}",
        net.client_ops
    );
    net.assert_converged(&values);
    assert!(per_op < 4.0, "{per_op}");
    assert!(recovery_msgs < 100, "{recovery_msgs}");
    assert!(max <= ms(200) + Config::default().hub_period, "{max:?}");
    assert!(
        median <= ms(200) + Config::default().hub_period * 6 / 10,
        "{median:?}"
    );
}

#[test]
fn twenty_five_nodes_frugal_mode_meets_targets() {
    let mut net = Net::new(25, Latency::Constant(100), 8, || {
        Broadcast::new(Mode::Frugal)
    });
    let values = net.workload(20, 100.0, 0);
    let main_msgs = net.sent;
    net.run_for(Duration::from_secs(10));
    let recovery_msgs = net.sent - main_msgs;
    let per_op = net.sent as f64 / net.client_ops as f64;
    let (median, max) = (net.median_spread(), net.max_spread());
    eprintln!(
        "frugal: {} ops, msgs/op {per_op:.2}, recovery {recovery_msgs} msgs, spread median {median:?} max {max:?}",
        net.client_ops
    );
    net.assert_converged(&values);
    assert!(per_op < 1.1, "{per_op}");
    assert!(recovery_msgs < 100, "{recovery_msgs}");
    assert!(
        max <= ms(200) + Config::for_mode(Mode::Frugal).hub_period,
        "{max:?}"
    );
}

#[test]
fn various_cluster_sizes_converge_and_fall_silent() {
    for n in [1, 2, 3, 5, 7, 40] {
        for mode in [Mode::Default, Mode::Frugal] {
            let mut net = Net::new(n, Latency::Constant(20), n as u64, || Broadcast::new(mode));
            let values = net.workload(3, 50.0, 0);
            net.run_for(Duration::from_secs(10));
            net.assert_converged(&values);
            let before = net.sent;
            net.run_for(Duration::from_secs(30));
            assert_eq!(net.sent, before, "n={n}: traffic when there is nothing new");
        }
    }
}

#[test]
fn isolated_hub_loses_nothing() {
    let mut net = Net::new(5, Latency::Constant(100), 3, Broadcast::default);
    let mut values = net.workload(2, 10.0, 0);
    net.isolate(0);
    values.extend(net.workload(12, 10.0, values.len() as u64));
    net.heal();
    values.extend(net.workload(2, 10.0, values.len() as u64));
    net.run_for(Duration::from_secs(10));
    net.assert_converged(&values);
}

#[test]
fn isolated_leaf_catches_up_and_down_links_only_probe() {
    let run = |partition: bool| {
        let mut net = Net::new(25, Latency::Constant(100), 4, Broadcast::default);
        let mut values = net.workload(2, 100.0, 0);
        if partition {
            net.isolate(3);
        }
        let before = net.sent;
        values.extend(net.workload(20, 100.0, values.len() as u64));
        let during = net.sent - before;
        net.heal();
        net.run_for(Duration::from_secs(10));
        net.assert_converged(&values);
        during
    };
    let (healthy, partitioned) = (run(false), run(true));
    // Without the down state the hub alone would send n3 a batch per tick (166 in 20 s), and
    // n3, its own hub once n0, n1 and n2 are suspect, would send each value to every node.
    eprintln!("20 s: {healthy} messages healthy, {partitioned} with n3 isolated");
    assert!(
        partitioned < healthy + 300,
        "{partitioned} messages during the partition, {healthy} without"
    );
}

#[test]
fn cut_off_nodes_fail_over_to_the_next_hub() {
    for mode in [Mode::Default, Mode::Frugal] {
        let cfg = Config::for_mode(mode);
        // The hub alone; then a majority split with the hub and n1 on the same side.
        let sides: [Vec<usize>; 2] = [(1..25).collect(), (2..25).step_by(2).collect()];
        for side in sides {
            let mut net = Net::new(25, Latency::Constant(100), 11, || Broadcast::new(mode));
            let mut values = net.workload(2, 100.0, 0);
            net.split_off(&side);
            values.extend(net.workload(12, 100.0, values.len() as u64));
            // Values broadcast on the hub-less side reach that whole side, once a value's
            // first hub has timed out (and, for the split, the second: n1).
            let settle = cfg.min_rto * 2 + cfg.hub_period * 2 + ms(400);
            let missing = net.missing_within(&side, net.now - settle);
            assert!(missing.is_empty(), "{mode:?}: missing {missing:?}");
            net.heal();
            net.run_for(Duration::from_secs(10));
            net.assert_converged(&values);
        }
    }
}

#[test]
fn random_partitions_with_exponential_latency_lose_nothing() {
    for seed in 0..12 {
        for mode in [Mode::Default, Mode::Frugal] {
            let n = [5, 25, 4][seed as usize % 3];
            let mut net = Net::new(n, Latency::Exponential(100.0), seed, || {
                Broadcast::new(mode)
            });
            let values = net.partitioned_workload(seed, 4);
            net.run_for(Duration::from_secs(10));
            net.assert_converged(&values);
            let before = net.sent;
            net.run_for(Duration::from_secs(20));
            assert_eq!(net.sent, before, "seed {seed}: traffic after convergence");
        }
    }
}

#[test]
fn same_seed_same_messages() {
    let run = || {
        let mut net = Net::new(5, Latency::Exponential(50.0), 9, Broadcast::default);
        net.workload(3, 40.0, 0);
        net.run_for(Duration::from_secs(5));
        (net.sent, net.spread_times.clone())
    };
    assert_eq!(run(), run());
}

#[test]
fn lost_acks_cause_retransmission_not_duplicates() {
    // Cut only the leaf-to-hub direction: the hub's data arrives, the leaf's acks do not.
    let mut net = Net::new(3, Latency::Constant(50), 5, Broadcast::default);
    net.cut.insert((1, 0));
    net.broadcast(2, 1);
    net.run_for(Duration::from_secs(6));
    assert!(net.nodes[1].node().messages().contains(&1));
    net.heal();
    net.run_for(Duration::from_secs(10));
    net.assert_converged(&[1]);
}

/// The cached `values` text is what `Fields::u64s` (and serde) would write for the list being
/// sent, whether the list is one of those kept (hits), new (misses, which evict) or a kept one
/// changed in place.
#[test]
fn cached_values_text_is_the_list_being_sent() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut cache = ValuesText::default();
    // More lists than the cache keeps, so that some come back after being evicted.
    let mut pool: Vec<Vec<u64>> = (0..ValuesText::KEPT + 3).map(|i| vec![i as u64]).collect();
    for _ in 0..5000 {
        let i = rng.gen_range(0..pool.len());
        match rng.gen_range(0..4) {
            0 | 1 => {} // a list as it was
            2 => pool[i].push(rng.gen_range(0..3000)),
            _ => {
                let j = rng.gen_range(0..pool[i].len());
                pool[i][j] = match rng.gen_bool(0.1) {
                    true => rng.gen(),
                    false => pool[i][j] + 1,
                };
            }
        }
        let values = &pool[i];
        assert_eq!(cache.render(values), serde_json::to_string(values).unwrap());
    }
}

/// A tick that finds no link due and nothing queued returns at once (`quiet_until`,
/// `flush_due`); a node that looks at every link on every tick sends and logs exactly the
/// same, through partitions, timeouts, failovers and recoveries.
#[test]
fn idle_ticks_skipped_change_nothing() {
    for seed in 0..6 {
        let n = [5, 25, 3][seed as usize % 3];
        let run = |scan_every_tick: bool| {
            let mut net = Net::new(n, Latency::Exponential(100.0), seed, || {
                let mut node = Broadcast::new([Mode::Default, Mode::Frugal][seed as usize % 2]);
                node.scan_every_tick = scan_every_tick;
                node
            });
            let values = net.partitioned_workload(seed, 3);
            net.run_for(Duration::from_secs(10));
            net.assert_converged(&values);
            net.trace
        };
        let (fast, slow) = (run(false), run(true));
        assert!(fast.len() > 100);
        assert_eq!(fast.len(), slow.len(), "seed {seed}");
        for (a, b) in fast.iter().zip(&slow) {
            assert!(a == b, "seed {seed}: {a:?} != {b:?}");
        }
    }
}
