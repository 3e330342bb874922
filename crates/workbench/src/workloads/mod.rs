//! Workloads, one module each, as Maelstrom splits them: the generator of client operations,
//! the client side of each RPC (request body, closed response schema, outcome mapping), the
//! optional final phase, and the checker that judges the history.

use serde_json::{Map, Value};

use crate::checkers::CheckResult;
use crate::history::{History, IntSet, Nanos, OpType, OpValue, NANOS_PER_SEC};
use crate::Rng;

pub mod broadcast;
pub mod compact;
pub mod counter;
pub mod echo;
pub mod kafka;
pub mod lin_kv;
pub mod reply;
pub mod request;
pub mod txn;
pub mod unique_ids;

pub use reply::ReplyText;
pub use request::{Request, RequestWriter};

/// An operation a client worker is about to perform.
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    /// The operation's function: `echo`, `generate`, `broadcast`, `read`, `add`, ...
    pub f: &'static str,
    /// What the history records as the invocation's value.
    pub value: OpValue,
    /// Part of the final phase (Maelstrom's `:final? true`).
    pub is_final: bool,
}

impl Invocation {
    pub fn new(f: &'static str, value: impl Into<OpValue>) -> Invocation {
        Invocation {
            f,
            value: value.into(),
            is_final: false,
        }
    }

    pub fn final_op(f: &'static str, value: impl Into<OpValue>) -> Invocation {
        Invocation {
            f,
            value: value.into(),
            is_final: true,
        }
    }
}

/// Storage for `len` values that the history keeps (a transaction's micro-ops, a poll's
/// messages), with room rounded up to a power of two.
///
/// These allocations live to the end of the run. The `mimalloc` crate asks for every block
/// with its alignment, and mimalloc (v3) serves an aligned block whose size is not a power of
/// two through an over-allocating slow path once its size class's page is full, which, with
/// nothing freed, is from then on: a 96-byte block costs about twice a 128-byte one, which
/// the fast path serves. With elements of a power-of-two size (a [`MicroOp`] is 32 bytes),
/// the block's size is one too.
///
/// [`MicroOp`]: crate::history::MicroOp
pub fn pow2_vec<T>(len: usize) -> Vec<T> {
    Vec::with_capacity(if len <= 1 {
        len
    } else {
        len.next_power_of_two()
    })
}

/// How an operation ended: what the history records as its completion.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    pub kind: OpType,
    pub value: OpValue,
    pub error: Option<Value>,
    /// An ok read of the workload's [`Workload::set_valued_f`] already made a set: the
    /// history keeps it as such (`value` is then null).
    pub set: Option<IntSet>,
}

impl Completion {
    pub fn ok(value: impl Into<OpValue>) -> Completion {
        Completion {
            kind: OpType::Ok,
            value: value.into(),
            error: None,
            set: None,
        }
    }

    /// An ok read whose value is this set (see [`Completion::set`]).
    pub fn ok_set(set: IntSet) -> Completion {
        Completion {
            set: Some(set),
            ..Completion::ok(OpValue::NULL)
        }
    }

    /// A failed or indeterminate outcome.
    pub fn failed(kind: OpType, value: impl Into<OpValue>, error: Value) -> Completion {
        Completion {
            kind,
            value: value.into(),
            error: Some(error),
            set: None,
        }
    }
}

/// What a worker's operation does next. Most operations are one request and its reply; some
/// (kafka's poll, then commit) are a few, driven by [`Workload::begin`] and
/// [`Workload::on_reply`] as a small state machine.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Send this request body (without `msg_id`: the client adds it) from the worker's client
    /// to the worker's node, and wait for the reply.
    Send(Request),
    /// The operation is over.
    Done(Completion),
}

/// What a worker does next in the final phase, once its [`Workload::final_ops`] are done.
#[derive(Clone, Debug, PartialEq)]
pub enum FinalStep {
    /// Run this operation.
    Op(Invocation),
    /// Wait this long, then ask again.
    Wait(Nanos),
    /// This worker's final phase is over.
    Done,
}

/// Maelstrom clients' default request timeout.
pub const DEFAULT_TIMEOUT: Nanos = 5 * NANOS_PER_SEC;

/// What a workload needs to know about the test when it is built.
#[derive(Clone, Debug)]
pub struct WorkloadOptions {
    pub node_ids: Vec<String>,
    /// `--topology` (broadcast): grid, line, tree, tree2, tree3, tree4, total.
    pub topology: String,
    /// `--key-count`, for workloads with keys.
    pub key_count: Option<usize>,
    /// Number of client workers (`--concurrency` resolved).
    pub concurrency: usize,
    /// `--latency`, mean milliseconds between servers (lin-kv derives its client timeout).
    pub latency_ms: u64,
    /// `--max-txn-length` (txn workloads; Maelstrom's default 4).
    pub max_txn_length: usize,
    /// `--max-writes-per-key` (txn and kafka; Maelstrom's default 16).
    pub max_writes_per_key: usize,
    /// `--consistency-models` as given (txn workloads; Maelstrom's default
    /// `strict-serializable`).
    pub consistency_models: String,
    /// `--checker-timeout`: seconds the lin-kv checker may search before answering unknown.
    pub checker_timeout_secs: f64,
}

impl WorkloadOptions {
    /// Maelstrom's defaults for `node_count` nodes, one worker each.
    pub fn new(node_count: usize) -> WorkloadOptions {
        WorkloadOptions {
            node_ids: (0..node_count).map(|i| format!("n{i}")).collect(),
            topology: "grid".into(),
            key_count: None,
            concurrency: node_count,
            latency_ms: 0,
            max_txn_length: 4,
            max_writes_per_key: 16,
            consistency_models: "strict-serializable".into(),
            checker_timeout_secs: 60.0,
        }
    }
}

/// One workload. The runner asks it for operations, runs each as one or more RPCs from the
/// worker's client to node `worker mod N`, and records the outcome.
pub trait Workload {
    fn name(&self) -> &'static str;

    /// Request bodies (without `msg_id`) that each node's setup client sends after `init`, one
    /// per node in node order, or empty when the workload has no setup (only broadcast has).
    /// The reply must be `{"type": "<request type>_ok"}` exactly.
    fn setup(&self) -> Vec<Request> {
        Vec::new()
    }

    /// The next main-phase operation for `worker` (the global schedule decides when, and
    /// picks a free worker at random).
    fn next_op(&mut self, worker: usize, rng: &mut Rng) -> Invocation;

    /// The test time, told just before [`Workload::next_op`] and [`Workload::next_final_op`]
    /// (kafka schedules its client crashes by it).
    fn clock(&mut self, _now: Nanos) {}

    /// Starts an operation: by default, one request built by [`Workload::request`].
    fn begin(&mut self, _worker: usize, op: &Invocation) -> Step {
        Step::Send(self.request(op))
    }

    /// A reply that is not an error arrived for the operation's current request. By default
    /// the operation ends: ok with [`Workload::response`]'s value, or info when the reply is
    /// malformed. (Error replies and timeouts end the operation in the runner, as fail or info
    /// by [`Workload::idempotent`] and [`Workload::errors_are_indeterminate`].)
    fn on_reply(&mut self, _worker: usize, op: &Invocation, reply: &Map<String, Value>) -> Step {
        Step::Done(match self.response(op, reply) {
            Ok(value) => Completion::ok(value),
            Err(why) => malformed(op, why, reply),
        })
    }

    /// What the runner calls with a reply's body, which it owns: by default
    /// [`Workload::on_reply`]. A workload whose reply carries a large value (a broadcast read's
    /// whole set) overrides this to move the value out instead of copying it.
    fn on_owned_reply(
        &mut self,
        worker: usize,
        op: &Invocation,
        reply: Map<String, Value>,
    ) -> Step {
        self.on_reply(worker, op, &reply)
    }

    /// What the runner calls with a reply that is not an error, as the text the node wrote:
    /// by default the text is parsed into a map for [`Workload::on_owned_reply`]. The
    /// workloads whose replies are large or many read what they need straight from the text
    /// ([`ReplyText`]) and leave anything unusual to this default, so a malformed reply is
    /// named as it always was.
    fn on_reply_text(&mut self, worker: usize, op: &Invocation, reply: ReplyText<'_>) -> Step {
        self.on_owned_reply(worker, op, reply.to_map())
    }

    /// The worker's client was discarded (after an indeterminate op, for workloads whose
    /// clients are not reusable): client-side state such as kafka's positions starts afresh.
    fn client_closed(&mut self, _worker: usize) {}

    /// The worker's operation ended with this outcome (recorded in the history). After an
    /// `info` the worker goes on as a new process (lin-kv counts processes per key).
    fn completed(&mut self, _worker: usize, _op: &Invocation, _kind: OpType) {}

    /// How long a client waits for each reply.
    fn timeout(&self) -> Nanos {
        DEFAULT_TIMEOUT
    }

    /// Whether there is a final phase: heal, wait 10 s for recovery, then each worker runs
    /// [`Workload::final_ops`].
    fn has_final_phase(&self) -> bool {
        false
    }

    /// The final phase's operations for one worker, queued when the phase starts.
    fn final_ops(&mut self) -> Vec<Invocation> {
        Vec::new()
    }

    /// Asked once a worker's queued final operations are done: more of them, a pause, or the
    /// end of this worker's final phase.
    fn next_final_op(&mut self, _worker: usize, _rng: &mut Rng) -> FinalStep {
        FinalStep::Done
    }

    /// The longest the final phase may issue operations (kafka: 10 s); `None` for no bound.
    fn final_phase_limit(&self) -> Option<Nanos> {
        None
    }

    /// The request body for a one-request invocation, without `msg_id` (the client adds it).
    fn request(&self, op: &Invocation) -> Request;

    /// Validates a non-error reply against the closed response schema (exactly the documented
    /// fields plus `type`, `in_reply_to`, optional `msg_id`) and returns the value the history
    /// records for the ok completion, or why the reply is malformed.
    fn response(&self, op: &Invocation, reply: &Map<String, Value>) -> Result<Value, String>;

    /// Idempotent functions turn timeouts and indefinite errors into `fail` instead of `info`.
    fn idempotent(&self, _f: &str) -> bool {
        false
    }

    /// The g-set and counter clients turn every error (even a definite one) into `info`.
    fn errors_are_indeterminate(&self) -> bool {
        false
    }

    /// Whether a worker keeps its client (its `cN`) after an indeterminate result.
    fn reusable_client(&self) -> bool {
        false
    }

    /// The function whose ok values the checker reads as a set of integers (broadcast's and
    /// g-set's `read`), which the history then keeps compactly
    /// ([`History::keep_reads_as_sets`]).
    fn set_valued_f(&self) -> Option<&'static str> {
        None
    }

    /// The workload checker.
    fn check(&self, history: &History) -> CheckResult;
}

/// Names accepted by `-w/--workload`.
pub const NAMES: &[&str] = &[
    "echo",
    "unique-ids",
    "broadcast",
    "g-set",
    "g-counter",
    "pn-counter",
    "kafka",
    "txn-rw-register",
    "txn-list-append",
    "lin-kv",
];

pub fn build(name: &str, opts: &WorkloadOptions) -> anyhow::Result<Box<dyn Workload>> {
    Ok(match name {
        "echo" => Box::new(echo::Echo),
        "unique-ids" => Box::new(unique_ids::UniqueIds),
        "broadcast" => Box::new(broadcast::Broadcast::new(
            opts,
            broadcast::Flavor::Broadcast,
        )?),
        "g-set" => Box::new(broadcast::Broadcast::new(opts, broadcast::Flavor::GSet)?),
        "g-counter" => Box::new(counter::Counter::new(counter::Flavor::GCounter)),
        "pn-counter" => Box::new(counter::Counter::new(counter::Flavor::PnCounter)),
        "kafka" => Box::new(kafka::Kafka::new(opts)),
        "txn-rw-register" => Box::new(txn::Txn::new(
            opts,
            crate::checkers::txn::Flavor::RwRegister,
        )?),
        "txn-list-append" => Box::new(txn::Txn::new(
            opts,
            crate::checkers::txn::Flavor::ListAppend,
        )?),
        "lin-kv" => Box::new(lin_kv::LinKv::new(opts)?),
        other => anyhow::bail!(
            "unknown workload {other:?}; known workloads: {}",
            NAMES.join(", ")
        ),
    })
}

/// The info completion of an op whose reply is malformed: why, and the reply.
pub fn malformed(op: &Invocation, why: String, reply: &Map<String, Value>) -> Completion {
    Completion::failed(
        OpType::Info,
        op.value.clone(),
        serde_json::json!([
            "malformed-response",
            format!("{why}: {}", Value::Object(reply.clone()))
        ]),
    )
}

/// Checks that `reply` has exactly the fields `type`, `in_reply_to`, optional `msg_id`, plus
/// `fields`; returns why not. Shared by every workload's `response`.
pub fn closed_schema(
    reply: &Map<String, Value>,
    expected_type: &str,
    fields: &[&str],
) -> Result<(), String> {
    match reply.get("type").and_then(Value::as_str) {
        Some(t) if t == expected_type => {}
        Some(t) => return Err(format!("expected type {expected_type:?}, got {t:?}")),
        None => return Err("reply has no string `type`".into()),
    }
    if !reply.get("in_reply_to").is_some_and(Value::is_u64) {
        return Err("`in_reply_to` must be an integer".into());
    }
    if let Some(id) = reply.get("msg_id") {
        if !id.is_u64() {
            return Err("`msg_id` must be an integer".into());
        }
    }
    for key in reply.keys() {
        let known = matches!(key.as_str(), "type" | "in_reply_to" | "msg_id")
            || fields.contains(&key.as_str());
        if !known {
            return Err(format!(
                "unexpected field {key:?} (the response schema is closed)"
            ));
        }
    }
    for field in fields {
        if !reply.contains_key(*field) {
            return Err(format!("missing field {field:?}"));
        }
    }
    Ok(())
}
