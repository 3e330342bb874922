//! A virtual-time test harness for one node type, the library-call way into the simulator
//! (published as the `glomers-testing` crate).
//!
//! A [`TestCluster`] is `node_count` instances of a [`Node`] type, initialised, behind the
//! workbench's simulated network with the four services (`lin-kv`, `seq-kv`, `lww-kv`,
//! `lin-tso`). Test code plays the clients: [`TestCluster::call`] sends a request and runs the
//! simulation until the answer comes; [`TestCluster::request`] and
//! [`TestCluster::await_reply`] do the same in two steps, so that several requests can be in
//! flight. Faults are partitions ([`TestCluster::partition`]) and rules that lose or delay
//! messages ([`TestCluster::set_rule`]). All along, the harness counts the answers to every
//! request a node receives: [`TestCluster::assert_exactly_once`] fails if one was answered twice
//! or not at all.
//!
//! # One simulator, not two
//!
//! The pieces are the ones `glomers sim` runs: the network is [`crate::net::Network`] (latency,
//! one delivery slot per recipient, partitions checked when a message enters the slot, the
//! journal and statistics), the services are [`crate::services::all`], and the nodes are
//! stepped by [`crate::driver::sim::SimCluster`] (timers and deliveries in the same order). What
//! this module adds is what the workload runner has no use for: clients driven by test code
//! instead of a generator, fault rules, and the exactly-once bookkeeping. Its loop is the
//! runner's loop without phases: wait for the nodes until the next network delivery is due,
//! route what they wrote, deliver what is due.
//!
//! Everything is deterministic: the same seed and the same calls give the same run.
//!
//! ```
//! use glomers_workbench::testing::ClusterBuilder;
//! use serde_json::json;
//! # use glomers_node::{Ctx, Node, ReplyTo};
//! # #[derive(serde::Deserialize)]
//! # #[serde(tag = "type", rename_all = "snake_case")]
//! # enum Request { Echo { echo: serde_json::Value } }
//! # struct Echo;
//! # impl Node for Echo {
//! #     type Request<'de> = Request;
//! #     type Timer = ();
//! #     fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request, from: ReplyTo) {
//! #         let Request::Echo { echo } = req;
//! #         ctx.reply(&from, json!({"type": "echo_ok", "echo": echo}));
//! #     }
//! # }
//!
//! let mut cluster = ClusterBuilder::new(3).seed(7).build(|_| Echo);
//! let reply = cluster.call(1, json!({"type": "echo", "echo": "hi"})).unwrap();
//! assert_eq!(reply["echo"], "hi");
//! cluster.assert_exactly_once();
//! ```

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;
use std::time::Duration;

use glomers_node::{Engine, Node};
use rand::SeedableRng;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::driver::sim::{node_seed, SimCluster};
use crate::history::Nanos;
use crate::net::{Addr, FaultRule, Grudge, Latency, LatencyDist, Message, NetStats, Network};
use crate::runner::{Cluster as _, NodeOutput};
use crate::services::{self, Service};
use crate::Rng;

pub use crate::net::Fate;

/// How long [`TestCluster::call`] waits for an answer (Maelstrom's client timeout).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the nodes have to answer `init` when the cluster is built.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of a [`TestCluster`]: node count, seed, latency.
#[derive(Clone, Debug)]
pub struct ClusterBuilder {
    node_count: usize,
    seed: u64,
    latency: Latency,
}

impl ClusterBuilder {
    /// Settings for a cluster of `node_count` nodes: seed 0, no latency.
    pub fn new(node_count: usize) -> ClusterBuilder {
        ClusterBuilder {
            node_count,
            seed: 0,
            latency: Latency::new(0, LatencyDist::Constant).expect("valid"),
        }
    }

    /// The seed of every random choice: latency draws, the nodes' `ctx.rng()` (each node gets
    /// its own seed derived from it, as in `glomers sim`) and the RNG that rules receive.
    pub fn seed(mut self, seed: u64) -> ClusterBuilder {
        self.seed = seed;
        self
    }

    /// Latency of every message between nodes and to and from services (client traffic has
    /// none, as in Maelstrom): `mean` truncated to milliseconds, drawn from `dist`.
    ///
    /// # Panics
    /// On a uniform or exponential distribution with a mean under 1 ms.
    pub fn latency(mut self, mean: Duration, dist: LatencyDist) -> ClusterBuilder {
        self.latency = Latency::new(mean.as_millis() as u64, dist)
            .unwrap_or_else(|e| panic!("TestCluster latency: {e}"));
        self
    }

    /// Builds the cluster: `make(i)` is node `ni`. Every node is sent `init` and must answer it
    /// within 10 s of virtual time.
    ///
    /// # Panics
    /// If `node_count` is 0 or a node does not answer `init`.
    pub fn build<N: Node>(self, mut make: impl FnMut(usize) -> N) -> TestCluster<N> {
        assert!(self.node_count > 0, "a TestCluster needs at least one node");
        let engines = (0..self.node_count)
            .map(|i| Box::new(Engine::new(make(i), node_seed(self.seed, i as u64))))
            .collect();
        let mut cluster = TestCluster {
            nodes: SimCluster::from_engines(engines),
            node_count: self.node_count,
            net: Network::new(self.latency),
            services: services::all(),
            rng: Rng::seed_from_u64(self.seed),
            rule_seed: self.seed,
            now: 0,
            queue: BinaryHeap::new(),
            sequence: 0,
            calls: Vec::new(),
            received: BTreeMap::new(),
            problems: Vec::new(),
        };
        let node_ids: Vec<String> = (0..self.node_count).map(|i| format!("n{i}")).collect();
        let inits: Vec<RequestId> = (0..self.node_count)
            .map(|i| {
                let body = json!({"type": "init", "node_id": node_ids[i], "node_ids": node_ids});
                cluster.request(i, body)
            })
            .collect();
        let deadline = cluster.now + INIT_TIMEOUT.as_nanos() as Nanos;
        cluster.run_while(deadline, |c| inits.iter().any(|id| c.reply(*id).is_none()));
        for (i, id) in inits.iter().enumerate() {
            match cluster.reply(*id) {
                Some(reply) if reply["type"] == "init_ok" => {}
                Some(reply) => panic!("n{i} answered init with {}", Value::Object(reply.clone())),
                None => panic!("n{i} did not answer init within {INIT_TIMEOUT:?}"),
            }
        }
        cluster
    }
}

/// A request sent with [`TestCluster::request`], to await with [`TestCluster::await_reply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(usize);

/// Why [`TestCluster::call`] or [`TestCluster::await_reply`] got no successful answer.
#[derive(Clone, Debug, PartialEq)]
pub enum CallError {
    /// No answer within the time allowed.
    Timeout,
    /// The node answered with an error body (`type` `error`).
    Error {
        code: u64,
        text: String,
        body: Map<String, Value>,
    },
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Timeout => f.write_str("no answer in time"),
            CallError::Error { code, text, .. } => write!(f, "error {code}: {text}"),
        }
    }
}

impl std::error::Error for CallError {}

/// A message as a fault rule sees it when it is sent.
#[derive(Debug)]
pub struct Sent<'a> {
    /// Virtual time of the send.
    pub time: Duration,
    /// `n0`, `c3`, `seq-kv`...
    pub src: String,
    pub dest: String,
    /// The body's `type` (empty when it has none).
    pub kind: &'a str,
    pub body: &'a Map<String, Value>,
}

impl Sent<'_> {
    /// Whether the message goes between two server nodes.
    pub fn between_nodes(&self) -> bool {
        is_node(&self.src) && is_node(&self.dest)
    }

    /// Whether the message is a reply (has `in_reply_to`).
    pub fn is_reply(&self) -> bool {
        self.body.contains_key("in_reply_to")
    }
}

fn is_node(id: &str) -> bool {
    id.strip_prefix('n')
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
}

/// A request a node received (one with a `msg_id`), and how often that node answered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The node that received it.
    pub node: String,
    /// Who sent it: a client, another node.
    pub from: String,
    pub msg_id: u64,
    /// Its `type`.
    pub kind: String,
    /// Virtual time of the delivery.
    pub at: Duration,
    pub answers: u32,
}

impl fmt::Display for Received {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} got {:?} (msg_id {}) from {} at {:?} and answered it {} times",
            self.node, self.kind, self.msg_id, self.from, self.at, self.answers
        )
    }
}

struct Call {
    node: u32,
    msg_id: u64,
    reply: Option<Map<String, Value>>,
}

/// A simulated cluster of `N` nodes with the four services; see the [module docs](self).
pub struct TestCluster<N: Node> {
    nodes: SimCluster<Engine<N>>,
    node_count: usize,
    net: Network,
    services: Vec<Box<dyn Service>>,
    rng: Rng,
    rule_seed: u64,
    now: Nanos,
    /// Network delivery slots that are due: (time, order, recipient).
    queue: BinaryHeap<Reverse<(Nanos, u64, Addr)>>,
    sequence: u64,
    /// Client `ci` made call `i`.
    calls: Vec<Call>,
    /// Requests delivered to nodes, by (node, sender, msg_id).
    received: BTreeMap<(u32, Addr, u64), Received>,
    problems: Vec<String>,
}

impl<N: Node> TestCluster<N> {
    /// A cluster of `node_count` nodes from `make`, seed 0, no latency: shorthand for
    /// `ClusterBuilder::new(node_count).build(make)`.
    pub fn new(node_count: usize, make: impl FnMut(usize) -> N) -> TestCluster<N> {
        ClusterBuilder::new(node_count).build(make)
    }

    /// Virtual time since the cluster was built.
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.now)
    }

    /// How many nodes there are (`n0`..).
    pub fn node_count(&self) -> usize {
        self.node_count
    }

    /// Node `i`'s state.
    pub fn node(&self, i: usize) -> &N {
        self.nodes.engine(i).node()
    }

    /// Node `i`'s context (clock, pending RPCs and timers).
    pub fn ctx(&self, i: usize) -> &glomers_node::Ctx<N> {
        self.nodes.engine(i).ctx()
    }

    /// Makes node `i` act now, as a handler would (send, set a timer); what it sends goes out
    /// at the current virtual time.
    pub fn with_node<R>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut N, &mut glomers_node::Ctx<N>) -> R,
    ) -> R {
        // Bring the node's clock to the cluster's (nothing of it is due: the loop fired that).
        let engine = self.nodes.engine_mut(i);
        engine.advance(Duration::from_nanos(self.now));
        let result = engine.with_ctx(f);
        self.nodes.collect(i);
        self.drain_nodes();
        result
    }

    /// What node `i` logged so far.
    pub fn logs(&self, i: usize) -> String {
        String::from_utf8_lossy(&self.nodes.logs()[i]).into_owned()
    }

    /// Message counts so far (sent, received, dropped; clients and servers).
    pub fn net_stats(&self) -> NetStats {
        self.net.stats()
    }

    /// Sends `body` (a JSON object with a `type`; the harness adds `msg_id`) to node `node`
    /// from a fresh client, now. Nothing runs until you await it or run the cluster.
    ///
    /// # Panics
    /// If `body` is not a JSON object or `node` is out of range.
    pub fn request(&mut self, node: usize, body: Value) -> RequestId {
        assert!(node < self.node_count, "there is no node n{node}");
        let Value::Object(mut body) = body else {
            panic!("a request body must be a JSON object, got {body}");
        };
        let client = self.calls.len() as u32;
        let msg_id = 1;
        body.insert("msg_id".into(), msg_id.into());
        self.calls.push(Call {
            node: node as u32,
            msg_id,
            reply: None,
        });
        self.send(Addr::Client(client), Addr::Node(node as u32), body);
        RequestId(client as usize)
    }

    /// The answer to a request, if it came.
    pub fn reply(&self, id: RequestId) -> Option<&Map<String, Value>> {
        self.calls[id.0].reply.as_ref()
    }

    /// Runs the cluster until the answer to `id` comes or `timeout` of virtual time has
    /// passed. An `error` body is returned as [`CallError::Error`].
    pub fn await_reply(&mut self, id: RequestId, timeout: Duration) -> Result<Value, CallError> {
        let deadline = self.now.saturating_add(timeout.as_nanos() as Nanos);
        self.run_while(deadline, |c| c.calls[id.0].reply.is_none());
        match self.reply(id) {
            None => Err(CallError::Timeout),
            Some(body) if body.get("type").and_then(Value::as_str) == Some("error") => {
                Err(CallError::Error {
                    code: body.get("code").and_then(Value::as_u64).unwrap_or(0),
                    text: body
                        .get("text")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    body: body.clone(),
                })
            }
            Some(body) => Ok(Value::Object(body.clone())),
        }
    }

    /// Sends `body` to node `node` and runs the cluster until the answer comes (at most
    /// [`CALL_TIMEOUT`], 5 s of virtual time).
    pub fn call(&mut self, node: usize, body: Value) -> Result<Value, CallError> {
        let id = self.request(node, body);
        self.await_reply(id, CALL_TIMEOUT)
    }

    /// Runs the cluster for `duration` of virtual time.
    pub fn run_for(&mut self, duration: Duration) {
        let until = self.now.saturating_add(duration.as_nanos() as Nanos);
        self.run_while(until, |_| true);
    }

    /// Runs the cluster until `condition` holds (checked after every step) or `timeout` has
    /// passed; returns whether it holds.
    pub fn run_until(
        &mut self,
        timeout: Duration,
        mut condition: impl FnMut(&TestCluster<N>) -> bool,
    ) -> bool {
        let deadline = self.now.saturating_add(timeout.as_nanos() as Nanos);
        self.run_while(deadline, |c| !condition(c));
        condition(self)
    }

    /// Splits the nodes into groups that cannot reach one another (a message from a node
    /// outside the receiver's group is dropped when it reaches the receiver's delivery slot).
    /// Nodes not named form one more group. Replaces any earlier partition.
    pub fn partition(&mut self, groups: &[&[usize]]) {
        let mut group_of: Vec<usize> = vec![groups.len(); self.node_count];
        for (g, members) in groups.iter().enumerate() {
            for &n in *members {
                assert!(n < self.node_count, "there is no node n{n}");
                group_of[n] = g;
            }
        }
        let mut grudge = Grudge::new();
        for dest in 0..self.node_count {
            let srcs = (0..self.node_count)
                .filter(|&src| group_of[src] != group_of[dest])
                .map(|src| src as u32)
                .collect();
            grudge.insert(dest as u32, srcs);
        }
        self.net.set_grudge(grudge);
    }

    /// Cuts node `node` off from every other node (clients and services still reach it).
    pub fn isolate(&mut self, node: usize) {
        self.partition(&[&[node]]);
    }

    /// Ends any partition.
    pub fn heal(&mut self) {
        self.net.heal();
    }

    /// Lets `rule` decide the [`Fate`] of every message sent from now on: deliver it, drop
    /// it, or delay it. The rule gets an RNG seeded from the cluster's seed for random
    /// choices (`rng.gen_bool(0.3)`), so runs stay reproducible. Replaces any earlier rule.
    pub fn set_rule(&mut self, mut rule: impl FnMut(&Sent, &mut Rng) -> Fate + 'static) {
        let mut rng = Rng::seed_from_u64(self.rule_seed ^ 0x5EED_F0F0_FA17);
        let rule: FaultRule = Box::new(move |now: Nanos, m: &Message| {
            let body = m.body.as_map();
            let sent = Sent {
                time: Duration::from_nanos(now),
                src: m.src.to_string(),
                dest: m.dest.to_string(),
                kind: body.get("type").and_then(Value::as_str).unwrap_or(""),
                body: &body,
            };
            rule(&sent, &mut rng)
        });
        self.net.set_fault_rule(Some(rule));
    }

    /// Removes the fault rule.
    pub fn clear_rule(&mut self) {
        self.net.set_fault_rule(None);
    }

    /// Requests the nodes received (with a `msg_id`) and never answered.
    pub fn unanswered(&self) -> Vec<Received> {
        self.received
            .values()
            .filter(|r| r.answers == 0)
            .cloned()
            .collect()
    }

    /// Requests a node answered more than once.
    pub fn answered_twice(&self) -> Vec<Received> {
        self.received
            .values()
            .filter(|r| r.answers > 1)
            .cloned()
            .collect()
    }

    /// Protocol problems noticed so far: lines that are not messages, messages to unknown
    /// destinations, a wrong `src`, replies to requests the node never received.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// Panics, listing them, if any request a node received was answered other than exactly
    /// once, or if [`TestCluster::problems`] is not empty. Call it once the cluster has had
    /// the time to answer everything (e.g. after [`TestCluster::run_for`]).
    pub fn assert_exactly_once(&self) {
        let mut report: Vec<String> = self.problems.clone();
        report.extend(self.answered_twice().iter().map(|r| r.to_string()));
        report.extend(self.unanswered().iter().map(|r| r.to_string()));
        assert!(
            report.is_empty(),
            "{} request(s) not answered exactly once, or protocol problems:\n  {}",
            report.len(),
            report.join("\n  ")
        );
    }

    // ---- the event loop ------------------------------------------------------------------

    /// Steps the simulation while `keep_going` holds and something is due at or before
    /// `deadline`; the clock ends at `deadline` unless `keep_going` stopped it earlier.
    fn run_while(&mut self, deadline: Nanos, mut keep_going: impl FnMut(&Self) -> bool) {
        while keep_going(self) {
            let net_next = self.queue.peek().map(|Reverse((at, _, _))| *at);
            let node_next = (0..self.node_count)
                .filter_map(|i| self.nodes.engine(i).next_deadline())
                .map(|d| d.as_nanos() as Nanos)
                .min();
            let next = match (net_next, node_next) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).unwrap_or(Nanos::MAX),
            };
            if next > deadline {
                self.now = self.now.max(deadline);
                return;
            }
            // Node timers due before `next` fire inside `wait` (as in `glomers sim`).
            let mut outputs = Vec::new();
            let now = self.nodes.wait(next, &mut outputs);
            self.now = self.now.max(now);
            self.route(outputs);
            let mut delivered_to_node = false;
            while let Some(&Reverse((at, _, dest))) = self.queue.peek() {
                if at > self.now {
                    break;
                }
                self.queue.pop();
                delivered_to_node |= self.deliver(dest);
            }
            if delivered_to_node {
                self.drain_nodes();
            }
        }
    }

    /// Routes what the nodes wrote in response to deliveries at `now`.
    fn drain_nodes(&mut self) {
        let mut outputs = Vec::new();
        let now = self.nodes.wait(self.now, &mut outputs);
        self.now = self.now.max(now);
        self.route(outputs);
    }

    fn send(&mut self, src: Addr, dest: Addr, body: Map<String, Value>) {
        if let Some(at) = self.net.send(self.now, src, dest, body, &mut self.rng) {
            self.sequence += 1;
            self.queue.push(Reverse((at, self.sequence, dest)));
        }
    }

    /// Delivers what `dest`'s slot holds; true if it went to a node.
    fn deliver(&mut self, dest: Addr) -> bool {
        let (message, next) = self.net.deliver(self.now, dest);
        if let Some(next) = next {
            self.sequence += 1;
            self.queue.push(Reverse((next, self.sequence, dest)));
        }
        let Some(message) = message else {
            return false;
        };
        match dest {
            Addr::Node(node) => {
                self.note_request(node, &message);
                self.nodes.deliver(node, message.to_line(), self.now);
                true
            }
            Addr::Service(index) => {
                let service = &mut self.services[index as usize];
                let body = message.body.as_map();
                if let Some(Value::Object(mut reply)) =
                    service.handle(message.src, &body, &mut self.rng)
                {
                    let in_reply_to = body.get("msg_id").cloned().unwrap_or(Value::Null);
                    reply.insert("in_reply_to".into(), in_reply_to);
                    self.send(dest, message.src, reply);
                }
                false
            }
            Addr::Client(client) => {
                let body = message.body.into_map();
                let in_reply_to = body.get("in_reply_to").and_then(Value::as_u64);
                if let Some(call) = self.calls.get_mut(client as usize) {
                    if in_reply_to == Some(call.msg_id)
                        && message.src == Addr::Node(call.node)
                        && call.reply.is_none()
                    {
                        call.reply = Some(body);
                    }
                }
                false
            }
        }
    }

    fn note_request(&mut self, node: u32, message: &Message) {
        let body = message.body.as_map();
        if body.contains_key("in_reply_to") {
            return;
        }
        let Some(msg_id) = body.get("msg_id").and_then(Value::as_u64) else {
            return;
        };
        let kind = body.get("type").and_then(Value::as_str).unwrap_or("");
        self.received
            .entry((node, message.src, msg_id))
            .or_insert_with(|| Received {
                node: format!("n{node}"),
                from: message.src.to_string(),
                msg_id,
                kind: kind.to_string(),
                at: Duration::from_nanos(self.now),
                answers: 0,
            });
    }

    fn route(&mut self, outputs: Vec<NodeOutput>) {
        for output in outputs {
            match output {
                NodeOutput::Line { node, line } => self.route_line(node, &line),
                NodeOutput::Exited { node, detail } => {
                    self.problems.push(format!("n{node} exited: {detail}"))
                }
                NodeOutput::Problem { node, message, .. } => {
                    self.problems.push(format!("n{node}: {message}"))
                }
                NodeOutput::Interrupted { signal } => self
                    .problems
                    .push(format!("interrupted by signal {signal}")),
            }
        }
    }

    fn route_line(&mut self, node: u32, line: &[u8]) {
        #[derive(Deserialize)]
        struct Wire {
            src: String,
            dest: String,
            body: Map<String, Value>,
        }
        let shown = || String::from_utf8_lossy(line).into_owned();
        let Ok(wire) = serde_json::from_slice::<Wire>(line) else {
            return self.problems.push(format!(
                "n{node} wrote a line that is not a message: {}",
                shown()
            ));
        };
        if wire.src != format!("n{node}") {
            self.problems.push(format!(
                "n{node} sent a message as {:?}: {}",
                wire.src,
                shown()
            ));
        }
        let Some(dest) = Addr::parse(&wire.dest, self.node_count) else {
            return self
                .problems
                .push(format!("n{node} sent to an unknown node: {}", shown()));
        };
        if let Some(in_reply_to) = wire.body.get("in_reply_to") {
            let answered = in_reply_to
                .as_u64()
                .and_then(|id| self.received.get_mut(&(node, dest, id)));
            match answered {
                Some(request) => request.answers += 1,
                None => self.problems.push(format!(
                    "n{node} answered a request it never received: {}",
                    shown()
                )),
            }
        }
        self.send(Addr::Node(node), dest, wire.body);
    }
}
