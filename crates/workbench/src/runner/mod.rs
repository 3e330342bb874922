//! The test runner: one event loop over a time-ordered queue, the same for both drivers.
//!
//! It owns the network, the services, the clients and the workload's generator. The nodes sit
//! behind a [`Cluster`]: real processes over pipes (`process`) or in-process state machines in
//! virtual time (`sim`). The loop asks the cluster to wait until the next event is due; the
//! cluster returns early with whatever the nodes wrote, and the runner routes it.

use std::collections::VecDeque;

use rand::SeedableRng;
use serde_json::{json, Map, Value};

use crate::checkers::availability::Availability;
use crate::history::{History, Nanos, Op, OpType, Process, NANOS_PER_SEC};
use crate::nemesis::Nemesis;
use crate::net::{Addr, Body, Journal, Latency, NetLog, NetStats, Network};
use crate::services::{self, Service};
use crate::workloads::{self, Workload, WorkloadOptions};
use crate::Rng;

mod clients;
mod queue;
mod wire;

use clients::{setup_reply_type, Client, Role, Worker};
use queue::{EventQueue, Order};

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
    /// `--max-txn-length`, `--max-writes-per-key`, `--consistency-models` (txn and kafka).
    pub max_txn_length: usize,
    pub max_writes_per_key: usize,
    pub consistency_models: String,
    /// `--checker-timeout`: seconds the lin-kv checker may search before answering unknown.
    pub checker_timeout_secs: f64,
    pub seed: u64,
    /// Seconds between healing and the final operations (Maelstrom: 10).
    pub recovery_secs: f64,
    /// `--log-net-send` / `--log-net-recv`.
    pub net_log: NetLog,
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
            max_txn_length: 4,
            max_writes_per_key: 16,
            consistency_models: "strict-serializable".into(),
            checker_timeout_secs: 60.0,
            seed: 0,
            recovery_secs: 10.0,
            net_log: NetLog::default(),
        }
    }
}

/// What a node wrote or did, as the cluster reports it to the runner.
#[derive(Debug)]
pub enum NodeOutput {
    /// One line of stdout, without its newline.
    Line { node: u32, line: Vec<u8> },
    /// The node's process ended (or closed its stdout): the run cannot go on.
    Exited { node: u32, detail: String },
    /// Something the driver saw about a node that is not a line (a failed write, a line too
    /// long or unterminated, a node that does not read): a diagnostic; the run goes on.
    Problem {
        node: u32,
        severity: Severity,
        kind: &'static str,
        message: String,
    },
    /// The workbench received a terminating signal: the run stops where it is.
    Interrupted { signal: i32 },
}

/// The nodes under test, as the runner sees them.
pub trait Cluster {
    /// Hands a message (one JSON line, no newline) to server node `node` at test time `now`.
    fn deliver(&mut self, node: u32, line: Vec<u8>, now: Nanos);

    /// [`Cluster::deliver`] of a borrowed line (the runner writes every line into the same
    /// buffer); a cluster that only reads the line takes it without a copy.
    fn deliver_line(&mut self, node: u32, line: &[u8], now: Nanos) {
        self.deliver(node, line.to_vec(), now);
    }

    /// Waits until test time `deadline` or until some node writes something, whichever comes
    /// first; pushes what the nodes wrote into `out` and returns the current test time.
    fn wait(&mut self, deadline: Nanos, out: &mut Vec<NodeOutput>) -> Nanos;

    /// [`Cluster::wait`], showing the lines the nodes wrote to `on_line` (with the test time
    /// `wait` returns) instead of pushing them into `out`, so that a cluster that holds them in
    /// its own buffers need not copy each into a `Vec`. Whatever goes into `out` comes after
    /// those lines. By default everything goes into `out`.
    fn wait_lines(
        &mut self,
        deadline: Nanos,
        out: &mut Vec<NodeOutput>,
        on_line: &mut dyn FnMut(Nanos, u32, &[u8]),
    ) -> Nanos {
        let _ = on_line;
        self.wait(deadline, out)
    }
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
    /// A worker's final-phase pause is over.
    FinalWake(usize),
    /// The workload's bound on the final phase is reached: no new final operations.
    FinalLimit,
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

/// Runs one test against `cluster` and returns the history and statistics.
pub fn run_test(
    opts: &TestOptions,
    workload: &mut dyn Workload,
    cluster: &mut dyn Cluster,
    journal: Option<Box<dyn Journal>>,
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
            concurrency: opts.concurrency,
            latency_ms: opts.latency.mean_ms,
            max_txn_length: opts.max_txn_length,
            max_writes_per_key: opts.max_writes_per_key,
            consistency_models: opts.consistency_models.clone(),
            checker_timeout_secs: opts.checker_timeout_secs,
        },
    )
}

struct Runner<'a> {
    opts: &'a TestOptions,
    now: Nanos,
    rng: Rng,
    queue: EventQueue<Event>,
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
    /// The array of integers each node sent last in a reply (see the wire check).
    last_arrays: Vec<crate::workloads::reply::uint_array::LastArray>,
    /// The line of the message being delivered to a node (kept to reuse its allocation).
    line_buffer: Vec<u8>,
}

impl<'a> Runner<'a> {
    fn new(
        opts: &'a TestOptions,
        workload: &'a mut dyn Workload,
        journal: Option<Box<dyn Journal>>,
    ) -> anyhow::Result<Runner<'a>> {
        anyhow::ensure!(opts.node_count > 0, "--node-count must be at least 1");
        anyhow::ensure!(opts.concurrency > 0, "--concurrency must be at least 1");
        anyhow::ensure!(
            opts.rate >= 0.0 && opts.rate.is_finite(),
            "--rate must be a number >= 0"
        );
        let mut net = Network::new(opts.latency).with_log(opts.net_log);
        if let Some(journal) = journal {
            net = net.with_journal(journal);
        }
        let mut history = History::default();
        history.reserve(expected_ops(opts));
        if let Some(f) = workload.set_valued_f() {
            history.keep_reads_as_sets(f);
        }
        Ok(Runner {
            opts,
            now: 0,
            rng: Rng::seed_from_u64(opts.seed),
            queue: EventQueue::new(),
            net,
            services: services::all(),
            workload,
            clients: Vec::new(),
            workers: (0..opts.concurrency)
                .map(|t| Worker {
                    process: t as u64,
                    client: None,
                    outstanding: None,
                    retiring_client: false,
                    invoke_index: 0,
                    final_ops: VecDeque::new(),
                    final_paused: false,
                    final_done: false,
                })
                .collect(),
            history,
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
            last_arrays: Vec::new(),
            line_buffer: Vec::new(),
        })
    }

    /// Schedules `event` at `at`; a client timeout comes with the ticket to cancel it (see
    /// [`EventQueue::cancel`]), when its lane can take it back.
    fn schedule(&mut self, at: Nanos, event: Event) -> Option<queue::Ticket> {
        let order = match event {
            // Client timeouts are always the same delay after now: in time order.
            Event::ClientTimeout { .. } => Order::Rising,
            _ if at == self.now => Order::Now,
            _ => Order::Any,
        };
        self.queue.push(at, event, order)
    }

    fn run(&mut self, cluster: &mut dyn Cluster, progress: Option<&dyn Progress>) {
        self.start_init();
        let mut outputs = Vec::new();
        let mut last_progress = 0;
        // The next event's time: the queue says it when nothing more is due.
        let mut next = self.queue.next_time();
        while self.phase != Phase::Done {
            let Some(at) = next else {
                // Nothing can happen any more (cannot occur while a phase waits on a deadline).
                break;
            };
            let now = cluster.wait_lines(at, &mut outputs, &mut |now, node, line| {
                self.now = self.now.max(now);
                self.on_node_line(node, line);
            });
            self.now = self.now.max(now);
            // (Mostly empty: the sim cluster shows its lines to the closure. An empty drain
            // still costs its drop.)
            if !outputs.is_empty() {
                for output in outputs.drain(..) {
                    self.on_node_output(output);
                }
            }
            next = loop {
                if self.phase == Phase::Done {
                    break None;
                }
                match self.queue.pop_due(self.now) {
                    Ok(event) => self.on_event(event, cluster),
                    Err(next) => break next,
                }
            };
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
            self.client_send(client, Addr::Node(node), body.into());
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
        if let Some(limit) = self.workload.final_phase_limit() {
            self.schedule(self.now + limit, Event::FinalLimit);
        }
        for w in 0..self.workers.len() {
            self.workers[w].final_ops = self.workload.final_ops().into();
            self.next_final_op(w);
        }
        self.maybe_finish_final();
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
            Event::FinalWake(w) => {
                self.workers[w].final_paused = false;
                self.next_final_op(w);
                self.maybe_finish_final();
            }
            Event::FinalLimit => {
                for worker in &mut self.workers {
                    worker.final_ops.clear();
                    worker.final_done = true;
                    worker.final_paused = false;
                }
                self.maybe_finish_final();
            }
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
            Addr::Node(node) => {
                let line = &mut self.line_buffer;
                line.clear();
                message.write_line(line);
                cluster.deliver_line(node, line, self.now);
            }
            Addr::Service(index) => {
                let service = &mut self.services[index as usize];
                let body = message.body.as_map();
                if let Some(reply) = service.handle(message.src, &body, &mut self.rng) {
                    let mut reply = into_map(reply);
                    let in_reply_to = body.get("msg_id").cloned().unwrap_or(Value::Null);
                    reply.insert("in_reply_to".into(), in_reply_to);
                    self.send(dest, message.src, reply);
                }
            }
            Addr::Client(client) => self.on_client_message(client, message.src, message.body),
        }
    }

    fn send(&mut self, src: Addr, dest: Addr, body: impl Into<Body>) {
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
            f: f.into(),
            value: value.into(),
            error: None,
            is_final: false,
        });
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
}

/// About how many ops a test's history gets (an invocation and a completion per operation at
/// the requested rate, a few more for the final phase and the nemesis), so that the history
/// is allocated once rather than copied as it grows; capped, as the rate is only an upper
/// bound.
fn expected_ops(opts: &TestOptions) -> usize {
    const MAX_RESERVED_OPS: f64 = (1 << 17) as f64;
    let operations = (opts.rate * opts.time_limit_secs).clamp(0.0, MAX_RESERVED_OPS);
    // An eighth more: a run invokes a little more than `rate` a second (6c: 20 206 ops in
    // 20 s at 1000/s), and outgrowing the room by one op copies the whole history.
    let operations = operations as usize + operations as usize / 8;
    2 * operations + 2 * opts.concurrency.min(1 << 12) + 256
}

pub(super) fn into_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("a request or reply body must be a JSON object, got {other}"),
    }
}
