//! The test runner: one event loop over a time-ordered queue, the same for both drivers.
//!
//! It owns the network, the services, the clients and the workload's generator. The nodes sit
//! behind a [`Cluster`]: real processes over pipes (`process`) or in-process state machines in
//! virtual time (`sim`). The loop asks the cluster to wait until the next event is due; the
//! cluster returns early with whatever the nodes wrote, and the runner routes it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::Write;

use rand::seq::IteratorRandom;
use rand::{Rng as _, SeedableRng};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::checkers::availability::Availability;
use crate::history::{History, Nanos, Op, OpType, Process, NANOS_PER_SEC};
use crate::nemesis::Nemesis;
use crate::net::{Addr, Latency, NetStats, Network};
use crate::services::{self, Service};
use crate::workloads::{self, Invocation, Workload, WorkloadOptions};
use crate::Rng;

/// Everything that shapes a test, as `glomers test` / `glomers sim` take it.
#[derive(Clone, Debug)]
pub struct TestOptions {
    pub workload: String,
    pub node_count: usize,
    pub time_limit_secs: f64,
    /// Client operations per second over the whole cluster; 0 = no operations.
    pub rate: f64,
    /// Number of client workers; worker `t` talks to node `t mod node_count`.
    pub concurrency: usize,
    pub latency: Latency,
    /// `--nemesis partition`.
    pub partitions: bool,
    pub nemesis_interval_secs: f64,
    pub topology: String,
    pub availability: Option<Availability>,
    pub key_count: Option<usize>,
    pub seed: u64,
    /// Seconds between healing and the final operations (Maelstrom: 10).
    pub recovery_secs: f64,
}

impl TestOptions {
    /// Maelstrom's defaults for everything but the workload and the node count (one worker
    /// per node, no latency, no nemesis), seed 0.
    pub fn new(workload: &str, node_count: usize) -> TestOptions {
        TestOptions {
            workload: workload.into(),
            node_count,
            time_limit_secs: 60.0,
            rate: 5.0,
            concurrency: node_count,
            latency: Latency::new(0, crate::net::LatencyDist::Constant).expect("valid"),
            partitions: false,
            nemesis_interval_secs: 10.0,
            topology: "grid".into(),
            availability: None,
            key_count: None,
            seed: 0,
            recovery_secs: 10.0,
        }
    }
}

/// What a node wrote or did, as the cluster reports it to the runner.
#[derive(Debug)]
pub enum NodeOutput {
    /// One line of stdout, without its newline.
    Line { node: u32, line: Vec<u8> },
    /// The node's process ended (its stdout closed).
    Exited { node: u32, detail: String },
}

/// The nodes under test, as the runner sees them.
pub trait Cluster {
    /// Hands a message (one JSON line, no newline) to server node `node` at test time `now`.
    fn deliver(&mut self, node: u32, line: Vec<u8>, now: Nanos);

    /// Waits until test time `deadline` or until some node writes something, whichever comes
    /// first; pushes what the nodes wrote into `out` and returns the current test time.
    fn wait(&mut self, deadline: Nanos, out: &mut Vec<NodeOutput>) -> Nanos;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The node broke the protocol or the test could not run: the run is invalid.
    Error,
    /// Worth knowing, not a failure (e.g. a late reply to a client that had given up).
    Warning,
}

/// Something the workbench noticed about a node or the run, said so a person can act on it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub message: String,
}

/// What a run produced, ready for the checkers.
pub struct RunOutput {
    pub history: History,
    pub net: NetStats,
    pub diagnostics: Vec<Diagnostic>,
    /// How many diagnostics were not kept (after the first few of each kind).
    pub diagnostics_dropped: usize,
    /// Error diagnostics, kept or not: any makes the run invalid.
    pub error_count: usize,
    /// Test time when the run ended.
    pub end_time: Nanos,
    /// Whether the run was cut short by a fatal problem (crash, failed init, ...).
    pub aborted: bool,
}

/// Progress reports for long runs.
pub trait Progress {
    fn update(&self, phase: &str, now: Nanos, ops: usize);
}

/// How long a node has to answer `init`, and the setup requests (`topology`).
const INIT_TIMEOUT: Nanos = 10 * NANOS_PER_SEC;
const SETUP_TIMEOUT: Nanos = 5 * NANOS_PER_SEC;
/// Maelstrom clients' default RPC timeout.
const RPC_TIMEOUT: Nanos = 5 * NANOS_PER_SEC;
/// Diagnostics kept per (node, kind) before the rest are only counted.
const DIAGNOSTICS_PER_KIND: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// The delivery slot of this participant is due.
    Deliver(Addr),
    /// The global schedule says the next client operation is due.
    NextOp,
    ClientTimeout {
        client: u32,
        msg_id: u64,
    },
    Nemesis,
    EndMain,
    StartFinal,
    InitDeadline,
    SetupDeadline,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Init,
    Setup,
    Main,
    /// Main phase over: waiting for outstanding operations to complete.
    Draining,
    /// Healed; waiting for the recovery period to pass.
    Recovery,
    Final,
    Done,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Init => "init",
            Phase::Setup => "setup",
            Phase::Main => "main",
            Phase::Draining => "draining",
            Phase::Recovery => "recovery",
            Phase::Final => "final",
            Phase::Done => "done",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// Sends `init` to this node, then closes.
    Init(u32),
    /// Sends the workload's setup request to this node; open until teardown.
    Setup(u32),
    Worker(usize),
}

struct Client {
    role: Role,
    open: bool,
    next_msg_id: u64,
    /// `msg_id` of the request this client waits on.
    awaiting: Option<u64>,
}

struct Outstanding {
    msg_id: u64,
    op: Invocation,
}

struct Worker {
    process: u64,
    client: Option<u32>,
    outstanding: Option<Outstanding>,
    final_ops: VecDeque<Invocation>,
}

/// Runs one test against `cluster` and returns the history and statistics.
pub fn run_test(
    opts: &TestOptions,
    workload: &mut dyn Workload,
    cluster: &mut dyn Cluster,
    journal: Option<Box<dyn Write>>,
    progress: Option<&dyn Progress>,
) -> anyhow::Result<RunOutput> {
    let mut runner = Runner::new(opts, workload, journal)?;
    runner.run(cluster, progress);
    runner.net.flush()?;
    Ok(RunOutput {
        history: runner.history,
        net: runner.net.stats(),
        diagnostics: runner.diagnostics,
        diagnostics_dropped: runner.diagnostics_dropped,
        error_count: runner.error_count,
        end_time: runner.now,
        aborted: runner.aborted,
    })
}

/// Builds the workload a test names (also used by the checkers after a run).
pub fn build_workload(opts: &TestOptions) -> anyhow::Result<Box<dyn Workload>> {
    workloads::build(
        &opts.workload,
        &WorkloadOptions {
            node_ids: (0..opts.node_count).map(|i| format!("n{i}")).collect(),
            topology: opts.topology.clone(),
            key_count: opts.key_count,
        },
    )
}

struct Runner<'a> {
    opts: &'a TestOptions,
    now: Nanos,
    rng: Rng,
    queue: BinaryHeap<Reverse<(Nanos, u64, Event)>>,
    sequence: u64,
    net: Network,
    services: Vec<Box<dyn Service>>,
    workload: &'a mut dyn Workload,
    clients: Vec<Client>,
    workers: Vec<Worker>,
    history: History,
    phase: Phase,
    nemesis: Option<Nemesis>,
    /// Nodes that have answered init / setup.
    ready: Vec<bool>,
    /// The reply type each node's setup request expects (`topology_ok`).
    setup_reply_types: Vec<String>,
    main_end: Nanos,
    next_op_at: Nanos,
    op_due: bool,
    diagnostics: Vec<Diagnostic>,
    diagnostic_counts: std::collections::HashMap<(Option<u32>, &'static str), usize>,
    diagnostics_dropped: usize,
    error_count: usize,
    aborted: bool,
}

/// A line a node writes: Maelstrom's envelope schema is closed (only `src`, `dest`, `body`
/// and an optional integer `id`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEnvelope {
    src: String,
    dest: String,
    body: Value,
    /// Must be an integer when present (checked, then unused: the network numbers messages).
    id: Option<Value>,
}

impl<'a> Runner<'a> {
    fn new(
        opts: &'a TestOptions,
        workload: &'a mut dyn Workload,
        journal: Option<Box<dyn Write>>,
    ) -> anyhow::Result<Runner<'a>> {
        anyhow::ensure!(opts.node_count > 0, "--node-count must be at least 1");
        anyhow::ensure!(opts.concurrency > 0, "--concurrency must be at least 1");
        anyhow::ensure!(
            opts.rate >= 0.0 && opts.rate.is_finite(),
            "--rate must be a number >= 0"
        );
        let mut net = Network::new(opts.latency);
        if let Some(journal) = journal {
            net = net.with_journal(journal);
        }
        Ok(Runner {
            opts,
            now: 0,
            rng: Rng::seed_from_u64(opts.seed),
            queue: BinaryHeap::new(),
            sequence: 0,
            net,
            services: services::all(),
            workload,
            clients: Vec::new(),
            workers: (0..opts.concurrency)
                .map(|t| Worker {
                    process: t as u64,
                    client: None,
                    outstanding: None,
                    final_ops: VecDeque::new(),
                })
                .collect(),
            history: History::default(),
            phase: Phase::Init,
            nemesis: opts
                .partitions
                .then(|| Nemesis::new(opts.nemesis_interval_secs, opts.node_count)),
            ready: vec![false; opts.node_count],
            setup_reply_types: Vec::new(),
            main_end: 0,
            next_op_at: 0,
            op_due: false,
            diagnostics: Vec::new(),
            diagnostic_counts: Default::default(),
            diagnostics_dropped: 0,
            error_count: 0,
            aborted: false,
        })
    }

    fn schedule(&mut self, at: Nanos, event: Event) {
        self.sequence += 1;
        self.queue.push(Reverse((at, self.sequence, event)));
    }

    fn run(&mut self, cluster: &mut dyn Cluster, progress: Option<&dyn Progress>) {
        self.start_init();
        let mut outputs = Vec::new();
        let mut last_progress = 0;
        while self.phase != Phase::Done {
            let Some(&Reverse((next, _, _))) = self.queue.peek() else {
                // Nothing can happen any more (cannot occur while a phase waits on a deadline).
                break;
            };
            let now = cluster.wait(next, &mut outputs);
            self.now = self.now.max(now);
            for output in outputs.drain(..) {
                self.on_node_output(output);
            }
            while let Some(&Reverse((at, _, event))) = self.queue.peek() {
                if at > self.now || self.phase == Phase::Done {
                    break;
                }
                self.queue.pop();
                self.on_event(event, cluster);
            }
            if let Some(p) = progress {
                if self.now >= last_progress + NANOS_PER_SEC / 10 {
                    last_progress = self.now;
                    p.update(self.phase.name(), self.now, self.history.ops.len());
                }
            }
        }
        if let Some(p) = progress {
            p.update(self.phase.name(), self.now, self.history.ops.len());
        }
    }

    // ---- phases -------------------------------------------------------------------------

    fn start_init(&mut self) {
        let node_ids: Vec<String> = (0..self.opts.node_count).map(|i| format!("n{i}")).collect();
        for node in 0..self.opts.node_count as u32 {
            let body = json!({"type": "init", "node_id": format!("n{node}"), "node_ids": node_ids});
            let client = self.open_client(Role::Init(node));
            self.client_send(client, Addr::Node(node), body);
        }
        self.schedule(INIT_TIMEOUT, Event::InitDeadline);
    }

    fn start_setup(&mut self) {
        self.phase = Phase::Setup;
        self.ready = vec![false; self.opts.node_count];
        let requests = self.workload.setup();
        // Maelstrom opens one setup client per node for every workload.
        let clients: Vec<u32> = (0..self.opts.node_count as u32)
            .map(|node| self.open_client(Role::Setup(node)))
            .collect();
        if requests.is_empty() {
            return self.start_main();
        }
        self.setup_reply_types = requests.iter().map(setup_reply_type).collect();
        for (node, body) in requests.into_iter().enumerate() {
            self.client_send(clients[node], Addr::Node(node as u32), body);
        }
        self.schedule(self.now + SETUP_TIMEOUT, Event::SetupDeadline);
    }

    fn start_main(&mut self) {
        self.phase = Phase::Main;
        let limit = (self.opts.time_limit_secs * NANOS_PER_SEC as f64) as Nanos;
        self.main_end = self.now + limit;
        if self.opts.rate > 0.0 {
            self.next_op_at = self.now;
            self.schedule(self.now, Event::NextOp);
        }
        if self.nemesis.is_some() {
            self.schedule(self.now, Event::Nemesis);
        }
        self.schedule(self.main_end, Event::EndMain);
    }

    /// The main phase is over and nothing is outstanding: heal and recover, or finish.
    fn after_main(&mut self) {
        if !self.workload.has_final_phase() {
            self.phase = Phase::Done;
            return;
        }
        if let Some(nemesis) = self.nemesis.as_mut() {
            let action = nemesis.heal();
            self.net.heal();
            self.record_nemesis(action.f, action.value);
        }
        self.phase = Phase::Recovery;
        let recovery = (self.opts.recovery_secs * NANOS_PER_SEC as f64) as Nanos;
        self.schedule(self.now + recovery, Event::StartFinal);
    }

    fn start_final(&mut self) {
        self.phase = Phase::Final;
        for w in 0..self.workers.len() {
            self.workers[w].final_ops = self.workload.final_ops().into();
            self.next_final_op(w);
        }
        self.maybe_finish_final();
    }

    fn next_final_op(&mut self, w: usize) {
        if self.workers[w].outstanding.is_none() {
            if let Some(op) = self.workers[w].final_ops.pop_front() {
                self.invoke(w, op);
            }
        }
    }

    fn maybe_finish_final(&mut self) {
        let busy = self
            .workers
            .iter()
            .any(|w| w.outstanding.is_some() || !w.final_ops.is_empty());
        if !busy {
            self.phase = Phase::Done;
        }
    }

    fn abort(&mut self, node: Option<u32>, message: String) {
        self.diagnose(Severity::Error, node, "fatal", message);
        self.aborted = true;
        self.phase = Phase::Done;
    }

    // ---- events -------------------------------------------------------------------------

    fn on_event(&mut self, event: Event, cluster: &mut dyn Cluster) {
        match event {
            Event::Deliver(dest) => self.deliver(dest, cluster),
            Event::NextOp => {
                if self.phase == Phase::Main {
                    self.op_due = true;
                    self.dispatch_due_op();
                }
            }
            Event::ClientTimeout { client, msg_id } => self.on_client_timeout(client, msg_id),
            Event::Nemesis => self.on_nemesis(),
            Event::EndMain => {
                self.phase = Phase::Draining;
                self.op_due = false;
                if self.workers.iter().all(|w| w.outstanding.is_none()) {
                    self.after_main();
                }
            }
            Event::StartFinal => self.start_final(),
            Event::InitDeadline => {
                if self.phase == Phase::Init {
                    let missing = self.unready_nodes();
                    self.abort(
                        None,
                        format!(
                            "{missing} did not answer init within 10 s: a node must reply \
                             {{\"type\":\"init_ok\",\"in_reply_to\":<msg_id>}} to init"
                        ),
                    );
                }
            }
            Event::SetupDeadline => {
                if self.phase == Phase::Setup {
                    let missing = self.unready_nodes();
                    self.abort(
                        None,
                        format!("{missing} did not answer the setup request within 5 s"),
                    );
                }
            }
        }
    }

    fn unready_nodes(&self) -> String {
        let names: Vec<String> = (0..self.ready.len())
            .filter(|&i| !self.ready[i])
            .map(|i| format!("n{i}"))
            .collect();
        names.join(", ")
    }

    fn deliver(&mut self, dest: Addr, cluster: &mut dyn Cluster) {
        let (message, next) = self.net.deliver(self.now, dest);
        if let Some(next) = next {
            self.schedule(next, Event::Deliver(dest));
        }
        let Some(message) = message else { return };
        match dest {
            Addr::Node(node) => cluster.deliver(node, message.to_line(), self.now),
            Addr::Service(index) => {
                let service = &mut self.services[index as usize];
                if let Some(reply) = service.handle(message.src, &message.body, &mut self.rng) {
                    let mut reply = into_map(reply);
                    let in_reply_to = message.body.get("msg_id").cloned().unwrap_or(Value::Null);
                    reply.insert("in_reply_to".into(), in_reply_to);
                    self.send(dest, message.src, reply);
                }
            }
            Addr::Client(client) => self.on_client_message(client, message.src, message.body),
        }
    }

    fn send(&mut self, src: Addr, dest: Addr, body: Map<String, Value>) {
        if let Some(at) = self.net.send(self.now, src, dest, body, &mut self.rng) {
            self.schedule(at, Event::Deliver(dest));
        }
    }

    fn on_nemesis(&mut self) {
        if self.phase != Phase::Main {
            return;
        }
        let Some(nemesis) = self.nemesis.as_mut() else {
            return;
        };
        let (action, gap) = nemesis.step(&mut self.rng);
        self.net.set_grudge(action.grudge);
        self.record_nemesis(action.f, action.value);
        self.schedule(self.now + gap, Event::Nemesis);
    }

    fn record_nemesis(&mut self, f: &str, value: Value) {
        self.history.push(Op {
            index: 0,
            time: self.now,
            kind: OpType::Info,
            process: Process::NEMESIS,
            f: f.to_string(),
            value,
            error: None,
            is_final: false,
        });
    }

    // ---- node output --------------------------------------------------------------------

    fn on_node_output(&mut self, output: NodeOutput) {
        match output {
            NodeOutput::Exited { node, detail } => {
                self.abort(Some(node), format!("n{node} exited: {detail}"));
            }
            NodeOutput::Line { node, line } => self.on_node_line(node, &line),
        }
    }

    fn on_node_line(&mut self, node: u32, line: &[u8]) {
        // Only for diagnostics: formatted when one is needed, never on the happy path.
        let shown = ShownLine(line);
        let envelope: WireEnvelope = match serde_json::from_slice(line) {
            Ok(e) => e,
            Err(e) => {
                let problem = if serde_json::from_slice::<Value>(line).is_ok() {
                    format!("is not a Maelstrom message ({e}); a message is {{\"src\", \"dest\", \"body\"}} and nothing else")
                } else {
                    format!("is not JSON ({e}); stdout is only for messages, log to stderr")
                };
                return self.diagnose(
                    Severity::Error,
                    Some(node),
                    "bad-line",
                    format!("n{node} wrote a line that {problem}: {shown}"),
                );
            }
        };
        let body = match envelope.body {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => {
                return self.diagnose(
                    Severity::Error,
                    Some(node),
                    "bad-body",
                    format!(
                        "n{node} sent a message whose body is not a JSON object ({}): {shown}",
                        kind_of(&other)
                    ),
                )
            }
        };
        if envelope.id.as_ref().is_some_and(|id| !id.is_i64()) {
            return self.diagnose(
                Severity::Error,
                Some(node),
                "bad-id",
                format!("n{node} sent a message whose top-level `id` is not an integer: {shown}"),
            );
        }
        let src = match Addr::parse(&envelope.src, self.opts.node_count) {
            Some(Addr::Node(n)) if n == node => Addr::Node(n),
            // Maelstrom routes a message sent in another node's name; so do we, but say so.
            Some(Addr::Node(other)) => {
                self.diagnose(
                    Severity::Warning,
                    Some(node),
                    "other-src",
                    format!("n{node} sent a message as n{other}: {shown}"),
                );
                Addr::Node(other)
            }
            _ => {
                return self.diagnose(
                    Severity::Error,
                    Some(node),
                    "bad-src",
                    format!(
                        "n{node} sent a message with src {:?}; a node must send as its own id (was init handled?): {shown}",
                        envelope.src
                    ),
                )
            }
        };
        let Some(dest) = Addr::parse(&envelope.dest, self.opts.node_count) else {
            return self.diagnose(
                Severity::Error,
                Some(node),
                "bad-dest",
                format!(
                    "n{node} sent a message to {:?}, which is not a node, client or service of this test: {shown}",
                    envelope.dest
                ),
            );
        };
        if let Addr::Client(c) = dest {
            match self.clients.get(c as usize) {
                Some(client) if client.open => {}
                Some(_) => {
                    // Maelstrom throws here and stops reading this node's stdout for the rest
                    // of the test, so a node that does this fails there: an error here too.
                    return self.diagnose(
                        Severity::Error,
                        Some(node),
                        "closed-client",
                        format!(
                            "n{node} sent a message to c{c}, a client that had already closed \
                             (a reply after the client's 5 s timeout; Maelstrom stops reading a \
                             node's output when this happens): {shown}"
                        ),
                    );
                }
                None => {
                    return self.diagnose(
                        Severity::Error,
                        Some(node),
                        "bad-dest",
                        format!(
                            "n{node} sent a message to c{c}, a client that never existed: {shown}"
                        ),
                    )
                }
            }
        }
        self.send(src, dest, body);
    }

    fn diagnose(
        &mut self,
        severity: Severity,
        node: Option<u32>,
        kind: &'static str,
        message: String,
    ) {
        if severity == Severity::Error {
            self.error_count += 1;
        }
        let count = self.diagnostic_counts.entry((node, kind)).or_default();
        *count += 1;
        if *count > DIAGNOSTICS_PER_KIND && kind != "fatal" {
            self.diagnostics_dropped += 1;
            return;
        }
        self.diagnostics.push(Diagnostic {
            severity,
            node: node.map(|n| format!("n{n}")),
            message,
        });
    }

    // ---- clients ------------------------------------------------------------------------

    fn open_client(&mut self, role: Role) -> u32 {
        self.clients.push(Client {
            role,
            open: true,
            next_msg_id: 1,
            awaiting: None,
        });
        (self.clients.len() - 1) as u32
    }

    /// Sends a request from a client, adding its `msg_id`; returns the `msg_id`.
    fn client_send(&mut self, client: u32, dest: Addr, body: Value) -> u64 {
        let c = &mut self.clients[client as usize];
        let msg_id = c.next_msg_id;
        c.next_msg_id += 1;
        c.awaiting = Some(msg_id);
        let mut body = into_map(body);
        body.insert("msg_id".into(), msg_id.into());
        self.send(Addr::Client(client), dest, body);
        msg_id
    }

    fn on_client_message(&mut self, client: u32, src: Addr, body: Map<String, Value>) {
        let c = &self.clients[client as usize];
        let in_reply_to = body.get("in_reply_to").and_then(Value::as_u64);
        if let (Some(raw), None) = (body.get("in_reply_to"), in_reply_to) {
            // Maelstrom ignores such a reply too, and the op times out; say why.
            let node = match src {
                Addr::Node(n) => Some(n),
                _ => None,
            };
            self.diagnose(
                Severity::Warning,
                node,
                "bad-in-reply-to",
                format!(
                    "{src} replied to c{client} with in_reply_to {raw}, which is not an integer \
                     msg_id: the client ignores the reply"
                ),
            );
            return;
        }
        if !c.open || c.awaiting.is_none() || in_reply_to != c.awaiting {
            return; // late or unsolicited: Maelstrom's clients discard these
        }
        match c.role {
            Role::Init(node) => {
                self.clients[client as usize].open = false;
                if body.get("type").and_then(Value::as_str) != Some("init_ok") {
                    return self.abort(
                        Some(node),
                        format!(
                            "n{node} answered init with {} instead of init_ok",
                            Value::Object(body)
                        ),
                    );
                }
                self.ready[node as usize] = true;
                if self.ready.iter().all(|&r| r) && self.phase == Phase::Init {
                    self.start_setup();
                }
            }
            Role::Setup(node) => {
                self.clients[client as usize].awaiting = None;
                let expected = &self.setup_reply_types[node as usize];
                if let Err(why) = workloads::closed_schema(&body, expected, &[]) {
                    return self.abort(
                        Some(node),
                        format!(
                            "n{node} answered the setup request badly ({why}): {}",
                            Value::Object(body)
                        ),
                    );
                }
                self.ready[node as usize] = true;
                if self.ready.iter().all(|&r| r) && self.phase == Phase::Setup {
                    self.start_main();
                }
            }
            Role::Worker(w) => self.on_worker_reply(w, body),
        }
    }

    fn free_worker(&mut self) -> Option<usize> {
        (0..self.workers.len())
            .filter(|&w| self.workers[w].outstanding.is_none())
            .choose(&mut self.rng)
    }

    /// Issues the due main-phase op to a free worker, if one is free, and schedules the next.
    fn dispatch_due_op(&mut self) {
        if !self.op_due || self.phase != Phase::Main {
            return;
        }
        let Some(w) = self.free_worker() else { return };
        self.op_due = false;
        let op = self.workload.next_op(&mut self.rng);
        self.invoke(w, op);
        // Jepsen's stagger: the next op is due a uniform gap after this one was due (not after
        // it was issued), so a backlog is caught up.
        let gap = self.rng.gen_range(0.0..2.0 / self.opts.rate);
        self.next_op_at += (gap * NANOS_PER_SEC as f64) as Nanos;
        if self.next_op_at < self.main_end {
            self.schedule(self.next_op_at, Event::NextOp);
        }
    }

    fn invoke(&mut self, w: usize, op: Invocation) {
        let client = match self.workers[w].client {
            Some(c) => c,
            None => {
                let c = self.open_client(Role::Worker(w));
                self.workers[w].client = Some(c);
                c
            }
        };
        self.history.push(Op {
            index: 0,
            time: self.now,
            kind: OpType::Invoke,
            process: Process::Client(self.workers[w].process),
            f: op.f.to_string(),
            value: op.value.clone(),
            error: None,
            is_final: op.is_final,
        });
        let node = (w % self.opts.node_count) as u32;
        let body = self.workload.request(&op);
        let msg_id = self.client_send(client, Addr::Node(node), body);
        self.workers[w].outstanding = Some(Outstanding { msg_id, op });
        self.schedule(
            self.now + RPC_TIMEOUT,
            Event::ClientTimeout { client, msg_id },
        );
    }

    fn on_worker_reply(&mut self, w: usize, body: Map<String, Value>) {
        let Some(outstanding) = self.workers[w].outstanding.as_ref() else {
            return;
        };
        let op = &outstanding.op;
        let (kind, value, error) = if body.get("type").and_then(Value::as_str) == Some("error") {
            let code = body.get("code").and_then(Value::as_u64);
            let text = body.get("text").cloned().unwrap_or(Value::Null);
            let (name, definite) = match code.and_then(|c| u32::try_from(c).ok()) {
                Some(code) => {
                    let code = glomers_node::ErrorCode::from_code(code);
                    (code.name(), code.is_definite())
                }
                None => ("malformed-error", false),
            };
            let kind = failure_outcome(&*self.workload, op.f, definite);
            (kind, op.value.clone(), Some(json!([name, text])))
        } else {
            match self.workload.response(op, &body) {
                Ok(value) => (OpType::Ok, value, None),
                Err(why) => (
                    OpType::Info,
                    op.value.clone(),
                    Some(json!([
                        "malformed-response",
                        format!("{why}: {}", Value::Object(body))
                    ])),
                ),
            }
        };
        self.complete(w, kind, value, error);
    }

    fn on_client_timeout(&mut self, client: u32, msg_id: u64) {
        let Role::Worker(w) = self.clients[client as usize].role else {
            return;
        };
        let current = self.workers[w].outstanding.as_ref().map(|o| o.msg_id);
        if self.workers[w].client != Some(client) || current != Some(msg_id) {
            return;
        }
        let op = &self.workers[w]
            .outstanding
            .as_ref()
            .expect("outstanding")
            .op;
        // A timeout is never definite: it may have happened.
        let kind = failure_outcome(&*self.workload, op.f, false);
        let value = op.value.clone();
        self.complete(w, kind, value, Some(Value::String("net-timeout".into())));
    }

    fn complete(&mut self, w: usize, kind: OpType, value: Value, error: Option<Value>) {
        let worker = &mut self.workers[w];
        let outstanding = worker.outstanding.take().expect("an outstanding op");
        let client = worker.client.expect("a client");
        self.clients[client as usize].awaiting = None;
        self.history.push(Op {
            index: 0,
            time: self.now,
            kind,
            process: Process::Client(worker.process),
            f: outstanding.op.f.to_string(),
            value,
            error,
            is_final: outstanding.op.is_final,
        });
        if kind == OpType::Info {
            // Jepsen: an indeterminate op crashes the process; the worker goes on as a new one.
            worker.process += self.opts.concurrency as u64;
            if !self.workload.reusable_client() {
                self.clients[client as usize].open = false;
                self.workers[w].client = None;
            }
        }
        match self.phase {
            Phase::Main => self.dispatch_due_op(),
            Phase::Draining if self.workers.iter().all(|w| w.outstanding.is_none()) => {
                self.after_main();
            }
            Phase::Final => {
                self.next_final_op(w);
                self.maybe_finish_final();
            }
            _ => {}
        }
    }
}

/// Maelstrom's outcome for an op that did not succeed: fail when it certainly did not happen
/// (a definite error) or when `f` is idempotent, else info; the g-set and counter clients make
/// every failure info.
fn failure_outcome(workload: &dyn Workload, f: &str, definite: bool) -> OpType {
    if (definite || workload.idempotent(f)) && !workload.errors_are_indeterminate() {
        OpType::Fail
    } else {
        OpType::Info
    }
}

/// `topology` -> `topology_ok`.
fn setup_reply_type(request: &Value) -> String {
    format!(
        "{}_ok",
        request.get("type").and_then(Value::as_str).unwrap_or("")
    )
}

fn into_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("a request or reply body must be a JSON object, got {other}"),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A line as shown in a diagnostic: quoted, lossy UTF-8, cut at 200 characters.
struct ShownLine<'a>(&'a [u8]);

impl std::fmt::Display for ShownLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = String::from_utf8_lossy(self.0);
        let mut shown: String = text.chars().take(200).collect();
        if text.chars().count() > 200 {
            shown.push('…');
        }
        write!(f, "{shown:?}")
    }
}
