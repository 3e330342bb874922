//! Tests of the counter node through `glomers_node::Engine`, alone and as a 3-node cluster
//! talking to a model of Maelstrom's seq-kv in virtual time.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use glomers_node::rand::{Rng, SeedableRng};
use glomers_node::rand_chacha::ChaCha8Rng;
use glomers_node::Engine;
use serde_json::{json, Value};

use super::*;

const IDS: [&str; 3] = ["n0", "n1", "n2"];

fn init(node: Counter, id: &str, seed: u64) -> Engine<Counter> {
    let mut engine = Engine::new(node, seed);
    let init = json!({"src": "c0", "dest": id, "body": {"type": "init", "msg_id": 1, "node_id": id, "node_ids": IDS}});
    engine.handle_line(&serde_json::to_vec(&init).unwrap(), Duration::ZERO);
    engine.output().clear();
    engine
}

/// Every output line so far, parsed.
fn take(engine: &mut Engine<Counter>) -> Vec<Value> {
    let out = std::mem::take(engine.output());
    out.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

/// Sends one client request and returns the reply body.
fn call(engine: &mut Engine<Counter>, now: Duration, body: Value) -> Value {
    let line = json!({"id": 5, "src": "c9", "dest": engine.ctx().node_id(), "body": body});
    engine.handle_line(&serde_json::to_vec(&line).unwrap(), now);
    let replies: Vec<Value> = take(engine)
        .into_iter()
        .filter(|m| m["dest"] == "c9")
        .collect();
    assert_eq!(replies.len(), 1, "{replies:?}");
    replies[0]["body"].clone()
}

#[test]
fn replies_have_exactly_the_documented_fields() {
    let mut n = init(Counter::default(), "n0", 1);
    let ok = call(
        &mut n,
        Duration::ZERO,
        json!({"type": "add", "delta": 3, "msg_id": 2}),
    );
    assert_eq!(ok, json!({"type": "add_ok", "in_reply_to": 2}));
    let ok = call(
        &mut n,
        Duration::ZERO,
        json!({"type": "add", "delta": 0, "msg_id": 3}),
    );
    assert_eq!(ok, json!({"type": "add_ok", "in_reply_to": 3}));
    let read = call(&mut n, Duration::ZERO, json!({"type": "read", "msg_id": 4}));
    assert_eq!(
        read,
        json!({"type": "read_ok", "value": 3, "in_reply_to": 4})
    );
}

#[test]
fn g_counter_refuses_negative_deltas_and_pn_counter_takes_them() {
    let mut g = init(Counter::g_counter(), "n0", 1);
    let err = call(
        &mut g,
        Duration::ZERO,
        json!({"type": "add", "delta": -2, "msg_id": 2}),
    );
    assert_eq!(err["type"], "error");
    assert_eq!(err["code"], 12);
    assert_eq!(g.node().value(), 0);

    let mut pn = init(Counter::pn_counter(), "n0", 1);
    call(
        &mut pn,
        Duration::ZERO,
        json!({"type": "add", "delta": -2, "msg_id": 2}),
    );
    call(
        &mut pn,
        Duration::ZERO,
        json!({"type": "add", "delta": 5, "msg_id": 3}),
    );
    let read = call(
        &mut pn,
        Duration::ZERO,
        json!({"type": "read", "msg_id": 4}),
    );
    assert_eq!(read["value"], 3);
}

#[test]
fn modes_from_arguments() {
    assert_eq!(Mode::from_args::<&str>(&[]), Ok(Mode::Grow));
    assert_eq!(Mode::from_args(&["pn"]), Ok(Mode::PosNeg));
    assert_eq!(Mode::from_args(&["pn-counter"]), Ok(Mode::PosNeg));
    assert_eq!(Mode::from_args(&["g"]), Ok(Mode::Grow));
    assert!(Mode::from_args(&["x"]).is_err());
    assert!(Mode::from_args(&["pn", "g"]).is_err());
}

/// Answers every seq-kv request `engine` sent so far from `kv`, at `now`; returns how many.
fn serve(engine: &mut Engine<Counter>, kv: &mut SeqKv, now: Duration) -> usize {
    let mut n = 0;
    for msg in take(engine) {
        assert_eq!(msg["dest"], "seq-kv", "{msg}");
        let reply = kv.handle(msg["src"].as_str().unwrap(), &msg["body"]);
        let line = json!({"src": "seq-kv", "dest": msg["src"], "body": reply});
        engine.handle_line(&serde_json::to_vec(&line).unwrap(), now);
        n += 1;
    }
    n
}

#[test]
fn first_sync_reads_own_key_then_writes_with_cas_then_reads_peers() {
    let mut n = init(Counter::default(), "n1", 1);
    let mut kv = SeqKv::new(1);
    call(
        &mut n,
        Duration::ZERO,
        json!({"type": "add", "delta": 4, "msg_id": 2}),
    );
    let t = Duration::from_secs(1);
    n.advance(t);
    let out = take(&mut n);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["body"]["type"], "read");
    assert_eq!(out[0]["body"]["key"], "counter-n1");
    // Put the requests back and serve them one round at a time.
    for line in &out {
        n.output()
            .extend_from_slice(&serde_json::to_vec(line).unwrap());
        n.output().push(b'\n');
    }
    assert_eq!(serve(&mut n, &mut kv, t), 1); // read own: absent
    let cas = take(&mut n);
    assert_eq!(cas.len(), 1);
    assert_eq!(
        cas[0]["body"],
        json!({"type": "cas", "key": "counter-n1", "from": null, "to": [1, 4], "create_if_not_exists": true, "msg_id": 2})
    );
    let line = json!({"src": "seq-kv", "dest": "n1", "body": kv.handle("n1", &cas[0]["body"])});
    n.handle_line(&serde_json::to_vec(&line).unwrap(), t);
    let reads = take(&mut n);
    let keys: Vec<&Value> = reads.iter().map(|m| &m["body"]["key"]).collect();
    assert_eq!(keys, [&json!("counter-n0"), &json!("counter-n2")]);
    assert!(n.node().is_flushed());
    // Nothing more until the next tick.
    n.advance(t + Duration::from_millis(999));
    assert!(take(&mut n).is_empty());
}

#[test]
fn a_late_write_is_detected_and_repaired() {
    let mut n = init(Counter::default(), "n0", 1);
    let mut kv = SeqKv::new(2);
    let mut t = Duration::from_secs(1);
    call(&mut n, t, json!({"type": "add", "delta": 2, "msg_id": 2}));
    n.advance(t);
    serve(&mut n, &mut kv, t); // read own
    serve(&mut n, &mut kv, t); // cas
    serve(&mut n, &mut kv, t); // peer reads
    assert!(n.node().is_flushed());

    // The next cas times out: the store applies it only after the node gave up.
    call(&mut n, t, json!({"type": "add", "delta": 3, "msg_id": 3}));
    t += Duration::from_secs(1);
    n.advance(t);
    let lost = take(&mut n);
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0]["body"]["to"], json!([2, 5]));
    t += Duration::from_millis(1001);
    n.advance(t);
    assert_eq!(n.node().stats().write_failures, 1);
    assert!(take(&mut n).is_empty());
    kv.handle("n0", &lost[0]["body"]); // lands late; the reply is lost

    call(&mut n, t, json!({"type": "add", "delta": 1, "msg_id": 4}));
    // The retry reads its own key before writing again.
    for _ in 0..20 {
        t += Duration::from_millis(100);
        n.advance(t);
        while serve(&mut n, &mut kv, t) > 0 {}
        if n.node().is_flushed() {
            break;
        }
    }
    assert!(n.node().is_flushed());
    assert_eq!(kv.newest("counter-n0"), Some(json!([3, 6])));
}

// ---------------------------------------------------------------------------------------------
// A model of Maelstrom's seq-kv (spec 2.2) and a small virtual-time cluster.

struct SeqKv {
    states: VecDeque<BTreeMap<String, Value>>,
    last: u64,
    clients: BTreeMap<String, u64>,
    rng: ChaCha8Rng,
    mutations: u64,
}

impl SeqKv {
    fn new(seed: u64) -> Self {
        SeqKv {
            states: VecDeque::from([BTreeMap::new()]),
            last: 0,
            clients: BTreeMap::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            mutations: 0,
        }
    }

    fn newest(&self, key: &str) -> Option<Value> {
        self.states
            .back()
            .unwrap()
            .get(&json!(key).to_string())
            .cloned()
    }

    /// Evaluates `body` on `state`: the reply and the state it produces, if different.
    fn apply(
        state: &BTreeMap<String, Value>,
        body: &Value,
    ) -> (Value, Option<BTreeMap<String, Value>>) {
        let key = body["key"].to_string();
        let current = state.get(&key);
        let set = |v: &Value| {
            (current != Some(v)).then(|| {
                let mut next = state.clone();
                next.insert(key.clone(), v.clone());
                next
            })
        };
        let missing = json!({"type": "error", "code": 20, "text": "key does not exist"});
        match body["type"].as_str().unwrap() {
            "read" => match current {
                Some(v) => (json!({"type": "read_ok", "value": v}), None),
                None => (missing, None),
            },
            "write" => (json!({"type": "write_ok"}), set(&body["value"])),
            "cas" => match current {
                Some(v) if *v == body["from"] => (json!({"type": "cas_ok"}), set(&body["to"])),
                Some(v) => {
                    let text = format!("current value {v} is not {}", body["from"]);
                    (json!({"type": "error", "code": 22, "text": text}), None)
                }
                None if body["create_if_not_exists"] == true => {
                    (json!({"type": "cas_ok"}), set(&body["to"]))
                }
                None => (missing, None),
            },
            other => panic!("unexpected kv request {other}"),
        }
    }

    fn state_at(&self, index: u64) -> &BTreeMap<String, Value> {
        let offset = index as i64 - self.last as i64 - 1;
        &self.states[offset.rem_euclid(self.states.len() as i64) as usize]
    }

    /// The reply body (with `in_reply_to`) to a request from `src`.
    fn handle(&mut self, src: &str, body: &Value) -> Value {
        let mine = self.clients.get(src).copied().unwrap_or(0);
        let index = self.rng.gen_range(mine..=self.last);
        let (mut reply, change) = Self::apply(self.state_at(index), body);
        if change.is_none() {
            self.clients.insert(src.into(), index);
        } else {
            let newest = self.states.back().unwrap().clone();
            let (r, change) = Self::apply(&newest, body);
            reply = r;
            self.states.push_back(change.unwrap_or(newest));
            if self.states.len() > 32 {
                self.states.pop_front();
            }
            self.last += 1;
            self.mutations += 1;
            self.clients.insert(src.into(), self.last);
        }
        reply["in_reply_to"] = body["msg_id"].clone();
        reply
    }
}

struct Cluster {
    nodes: Vec<Engine<Counter>>,
    kv: SeqKv,
    now: Duration,
    /// Messages in flight by (delivery time, sequence): (dest, message).
    queue: BTreeMap<(Duration, u64), (String, Value)>,
    seq: u64,
    rng: ChaCha8Rng,
    /// Mean latency between servers in ms (exponential); 0 for none.
    latency: f64,
    /// Messages between servers (node <-> seq-kv), requests and replies.
    server_msgs: u64,
}

impl Cluster {
    fn new(mode: Mode, seed: u64, latency: f64) -> Self {
        let nodes = IDS
            .iter()
            .enumerate()
            .map(|(i, id)| init(Counter::new(mode), id, seed * 10 + i as u64))
            .collect();
        Cluster {
            nodes,
            kv: SeqKv::new(seed),
            now: Duration::ZERO,
            queue: BTreeMap::new(),
            seq: 0,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5eed),
            latency,
            server_msgs: 0,
        }
    }

    fn delay(&mut self) -> Duration {
        if self.latency == 0.0 {
            return Duration::ZERO;
        }
        let u: f64 = self.rng.gen();
        Duration::from_millis((-self.latency * (1.0 - u).ln()) as u64)
    }

    fn send(&mut self, dest: &str, msg: Value) {
        self.server_msgs += 1;
        let at = self.now + self.delay();
        self.queue.insert((at, self.seq), (dest.to_string(), msg));
        self.seq += 1;
    }

    /// Routes node `i`'s output; returns its replies to clients.
    fn drain(&mut self, i: usize) -> Vec<Value> {
        let mut to_clients = Vec::new();
        for msg in take(&mut self.nodes[i]) {
            let dest = msg["dest"].as_str().unwrap().to_string();
            if dest.starts_with('c') {
                to_clients.push(msg["body"].clone());
            } else {
                assert_eq!(dest, "seq-kv", "only seq-kv traffic expected: {msg}");
                self.send(&dest, msg);
            }
        }
        to_clients
    }

    fn run_until(&mut self, t: Duration) {
        loop {
            let msg_at = self.queue.keys().next().map(|k| k.0);
            let timer_at = self.nodes.iter().filter_map(|n| n.next_deadline()).min();
            let next = match (msg_at, timer_at) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(x) => x,
                    None => break,
                },
            };
            if next > t {
                break;
            }
            self.now = next;
            if msg_at == Some(next) {
                let (_, (dest, msg)) = self.queue.pop_first().unwrap();
                if dest == "seq-kv" {
                    let src = msg["src"].as_str().unwrap().to_string();
                    let reply = self.kv.handle(&src, &msg["body"]);
                    self.send(&src, json!({"src": "seq-kv", "dest": src, "body": reply}));
                } else {
                    let i = IDS.iter().position(|id| *id == dest).unwrap();
                    self.nodes[i].handle_line(&serde_json::to_vec(&msg).unwrap(), next);
                    assert!(self.drain(i).is_empty());
                }
            } else {
                for i in 0..self.nodes.len() {
                    self.nodes[i].advance(next);
                    assert!(self.drain(i).is_empty());
                }
            }
        }
        self.now = self.now.max(t);
    }

    fn client(&mut self, i: usize, body: Value) -> Value {
        let line = json!({"src": "c1", "dest": IDS[i], "body": body});
        self.nodes[i].handle_line(&serde_json::to_vec(&line).unwrap(), self.now);
        let replies = self.drain(i);
        assert_eq!(replies.len(), 1);
        replies[0].clone()
    }
}

/// Runs challenge 4's load (100 ops/s for `secs`, then 10 s of quiet) and returns
/// (acknowledged sum, final reads, servers msgs-per-op).
fn run(mode: Mode, seed: u64, latency: f64, secs: u64) -> (i64, Vec<i64>, f64) {
    let mut c = Cluster::new(mode, seed, latency);
    let mut ops_rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(7919));
    let mut sum = 0i64;
    let mut ops = 0u64;
    let mut t = Duration::ZERO;
    let end = Duration::from_secs(secs);
    let mut msg_id = 1;
    while t < end {
        c.run_until(t);
        let node = ops_rng.gen_range(0..3);
        msg_id += 1;
        ops += 1;
        if ops_rng.gen_bool(0.5) {
            let delta: i64 = match mode {
                Mode::Grow => ops_rng.gen_range(0..=4),
                Mode::PosNeg => ops_rng.gen_range(-5..=4),
            };
            let reply = c.client(
                node,
                json!({"type": "add", "delta": delta, "msg_id": msg_id}),
            );
            assert_eq!(reply["type"], "add_ok", "{reply}");
            sum += delta;
        } else {
            let reply = c.client(node, json!({"type": "read", "msg_id": msg_id}));
            assert_eq!(reply["type"], "read_ok");
        }
        t += Duration::from_micros(ops_rng.gen_range(0..20_000));
    }
    c.run_until(end + Duration::from_secs(10));
    let finals = (0..3)
        .map(|i| {
            ops += 1;
            c.client(i, json!({"type": "read", "msg_id": 1}))["value"]
                .as_i64()
                .unwrap()
        })
        .collect();
    (sum, finals, c.server_msgs as f64 / ops as f64)
}

#[test]
fn cluster_final_reads_are_exact_and_cheap() {
    let mut worst: f64 = 0.0;
    for seed in 0..40 {
        for (mode, latency) in [
            (Mode::Grow, 0.0),
            (Mode::Grow, 100.0),
            (Mode::PosNeg, 100.0),
        ] {
            let (sum, finals, mpo) = run(mode, seed, latency, 20);
            assert_eq!(
                finals,
                vec![sum; 3],
                "seed {seed} {mode:?} latency {latency}"
            );
            worst = worst.max(mpo);
        }
    }
    eprintln!("worst servers msgs-per-op {worst:.3}");
    assert!(worst < 0.5, "msgs per op {worst}");
}

#[test]
fn long_latency_still_converges() {
    // Mean latency 400 ms: many calls exceed the 1 s timeout.
    for seed in 0..10 {
        let (sum, finals, _) = run(Mode::PosNeg, seed, 400.0, 10);
        assert_eq!(finals, vec![sum; 3], "seed {seed}");
    }
}
