//! The history of a test: every client operation's invocation and completion, plus nemesis
//! operations, in the order they happened. Checkers read it; `history.jsonl` stores it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Write;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Test time in nanoseconds since the test started (virtual time in the simulator).
pub type Nanos = u64;

pub const NANOS_PER_MS: Nanos = 1_000_000;
pub const NANOS_PER_SEC: Nanos = 1_000_000_000;

/// Jepsen's op types: an invocation, then exactly one of ok / fail / info (or nothing, when the
/// test ended while the op was still outstanding, which counts as info).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    Invoke,
    /// Certainly happened.
    Ok,
    /// Certainly did not happen.
    Fail,
    /// Indeterminate: may or may not have happened.
    Info,
}

/// Who performed an op: a client worker's process number (Jepsen gives a worker a new process
/// number after every indeterminate result) or the nemesis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Process {
    Client(u64),
    Nemesis(NemesisTag),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NemesisTag {
    Nemesis,
}

impl Process {
    pub const NEMESIS: Process = Process::Nemesis(NemesisTag::Nemesis);

    pub fn is_client(self) -> bool {
        matches!(self, Process::Client(_))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Op {
    pub index: usize,
    pub time: Nanos,
    #[serde(rename = "type")]
    pub kind: OpType,
    pub process: Process,
    pub f: String,
    pub value: OpValue,
    /// The error of a failed or indeterminate op: `"net-timeout"`, `["name", "text"]`, or a
    /// description of a malformed response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// Set on the final phase's ops (Maelstrom's `:final? true`).
    #[serde(default, rename = "final", skip_serializing_if = "std::ops::Not::not")]
    pub is_final: bool,
}

impl Op {
    pub fn is_client(&self) -> bool {
        self.process.is_client()
    }
}

/// An op's value. Most workloads record JSON; the two that record a structured value for
/// every op (txn's micro-ops, kafka's sends and polls) keep it typed: no tree of JSON values
/// to build, walk and drop per op. A typed value stands for one JSON value
/// ([`OpValue::to_json`]) and is written as exactly the text serde_json writes for that value
/// ([`OpValue::write_json`]), so `history.jsonl` and the report do not tell the forms apart.
/// A history read back from JSON holds only [`OpValue::Json`]: readers of typed values (the
/// txn and kafka checkers) read both forms alike. As small as a [`Value`] (32 bytes).
///
/// Kafka keys are integers written as strings (`"12"`): a typed value holds the integer,
/// and only a key that is an integer's decimal form (see [`kafka_key`]); a value with any
/// other key stays JSON.
#[derive(Clone, Debug, PartialEq)]
pub enum OpValue {
    Json(Value),
    /// A transaction, `[[f, k, v], ...]`.
    Txn(Vec<MicroOp>),
    /// A kafka send's invocation: `[["send", key, msg]]`.
    KafkaSend {
        key: u64,
        msg: i64,
    },
    /// An ok kafka send: `[["send", key, [offset, msg]]]`.
    KafkaSent {
        key: u64,
        offset: i64,
        msg: i64,
    },
    /// A kafka poll's invocation: `[["poll"]]`.
    KafkaPoll,
    /// An ok kafka poll: `[["poll", {key: [[offset, msg], ...], ...}]]`, its keys in the
    /// order of a JSON map's and distinct (built by [`OpValue::kafka_polled`]).
    KafkaPolled(Vec<PolledKey>),
}

/// One micro-op of a transaction: `[f, key, value]`. 32 bytes: a transaction's storage
/// then has a power-of-two size (see [`crate::workloads::pow2_vec`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MicroOp {
    pub key: i64,
    pub value: MicroValue,
    pub f: MicroF,
}

/// A micro-op's function: `"r"`, `"w"` (rw-register) or `"append"` (list-append).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MicroF {
    Read,
    Write,
    Append,
}

impl MicroF {
    pub fn name(self) -> &'static str {
        match self {
            MicroF::Read => "r",
            MicroF::Write => "w",
            MicroF::Append => "append",
        }
    }
}

/// A micro-op's value: `null` (a read not done yet, or of a missing key), an integer (a
/// write, an append, a register read) or a list of integers (a list read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MicroValue {
    Nil,
    Int(i64),
    /// Boxed, to keep a [`MicroOp`] 32 bytes (list reads are the rare case).
    #[allow(clippy::box_collection)]
    List(Box<Vec<i64>>),
}

/// The messages an ok kafka poll returned for one key, `(offset, msg)` in the order returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolledKey {
    pub key: u64,
    pub msgs: Vec<(i64, i64)>,
}

/// The integer a kafka key names, when the key is its decimal form (`"0"`, `"17"`; not
/// `"017"`, `"+1"` or `""`): the keys a typed value holds.
pub fn kafka_key(key: &str) -> Option<u64> {
    let bytes = key.as_bytes();
    let canonical = !bytes.is_empty() && (bytes[0] != b'0' || bytes.len() == 1);
    if !canonical || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    key.parse().ok()
}

impl Default for OpValue {
    fn default() -> OpValue {
        OpValue::NULL
    }
}

impl From<Value> for OpValue {
    fn from(value: Value) -> OpValue {
        OpValue::Json(value)
    }
}

impl PartialEq<Value> for OpValue {
    fn eq(&self, other: &Value) -> bool {
        match self {
            OpValue::Json(v) => v == other,
            typed => *typed.to_json() == *other,
        }
    }
}

impl OpValue {
    pub const NULL: OpValue = OpValue::Json(Value::Null);

    /// An ok kafka poll's value, its keys sorted as a JSON map orders them (as strings);
    /// `None` when a key comes twice (a JSON map cannot hold that).
    pub fn kafka_polled(mut keys: Vec<PolledKey>) -> Option<OpValue> {
        let as_text = |k: &PolledKey| itoa::Buffer::new().format(k.key).to_owned();
        if !keys.is_sorted_by(|a, b| key_text_less(a.key, b.key)) {
            keys.sort_by_cached_key(as_text);
            if keys.windows(2).any(|w| w[0].key == w[1].key) {
                return None;
            }
        }
        Some(OpValue::KafkaPolled(keys))
    }

    /// The JSON value this stands for (built for a typed value).
    pub fn to_json(&self) -> Cow<'_, Value> {
        let key = |k: u64| Value::String(k.to_string());
        let kafka = |mop: Vec<Value>| Cow::Owned(Value::Array(vec![Value::Array(mop)]));
        match self {
            OpValue::Json(v) => Cow::Borrowed(v),
            OpValue::Txn(mops) => Cow::Owned(Value::Array(
                mops.iter()
                    .map(|m| {
                        let value = match &m.value {
                            MicroValue::Nil => Value::Null,
                            MicroValue::Int(n) => Value::from(*n),
                            MicroValue::List(items) => {
                                Value::Array(items.iter().map(|&n| Value::from(n)).collect())
                            }
                        };
                        Value::Array(vec![m.f.name().into(), m.key.into(), value])
                    })
                    .collect(),
            )),
            OpValue::KafkaSend { key: k, msg } => {
                kafka(vec!["send".into(), key(*k), Value::from(*msg)])
            }
            OpValue::KafkaSent {
                key: k,
                offset,
                msg,
            } => kafka(vec![
                "send".into(),
                key(*k),
                Value::Array(vec![Value::from(*offset), Value::from(*msg)]),
            ]),
            OpValue::KafkaPoll => kafka(vec!["poll".into()]),
            OpValue::KafkaPolled(keys) => {
                let map = keys
                    .iter()
                    .map(|k| {
                        let msgs = k
                            .msgs
                            .iter()
                            .map(|&(o, m)| Value::Array(vec![o.into(), m.into()]))
                            .collect();
                        (k.key.to_string(), Value::Array(msgs))
                    })
                    .collect();
                kafka(vec!["poll".into(), Value::Object(map)])
            }
        }
    }

    /// The JSON value, when this is one (not typed).
    pub fn as_json(&self) -> Option<&Value> {
        match self {
            OpValue::Json(v) => Some(v),
            _ => None,
        }
    }

    /// Whether this is JSON `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, OpValue::Json(Value::Null))
    }

    /// The integer this is, if it is one (a typed value never is).
    pub fn as_i64(&self) -> Option<i64> {
        self.as_json().and_then(Value::as_i64)
    }

    /// The non-negative integer this is, if it is one (a typed value never is).
    pub fn as_u64(&self) -> Option<u64> {
        self.as_json().and_then(Value::as_u64)
    }

    /// Appends the JSON text serde_json writes for [`OpValue::to_json`], without building it.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            OpValue::Json(v) => serde_json::to_writer(out, v).expect("a value serializes"),
            OpValue::Txn(mops) => {
                // Room for the common micro-op at once (the text is a request's).
                out.reserve(2 + 16 * mops.len());
                out.push(b'[');
                for (i, m) in mops.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(match m.f {
                        MicroF::Read => b"[\"r\",",
                        MicroF::Write => b"[\"w\",",
                        MicroF::Append => b"[\"append\",",
                    });
                    push_i64(out, m.key);
                    out.push(b',');
                    match &m.value {
                        MicroValue::Nil => out.extend_from_slice(b"null"),
                        MicroValue::Int(n) => push_i64(out, *n),
                        MicroValue::List(items) => push_i64_list(out, items.iter().copied()),
                    }
                    out.push(b']');
                }
                out.push(b']');
            }
            OpValue::KafkaSend { key, msg } => {
                out.extend_from_slice(b"[[\"send\",");
                push_key(out, *key);
                out.push(b',');
                push_i64(out, *msg);
                out.extend_from_slice(b"]]");
            }
            OpValue::KafkaSent { key, offset, msg } => {
                out.extend_from_slice(b"[[\"send\",");
                push_key(out, *key);
                out.push(b',');
                push_i64_list(out, [*offset, *msg]);
                out.extend_from_slice(b"]]");
            }
            OpValue::KafkaPoll => out.extend_from_slice(b"[[\"poll\"]]"),
            OpValue::KafkaPolled(keys) => {
                out.extend_from_slice(b"[[\"poll\",{");
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    push_key(out, k.key);
                    out.extend_from_slice(b":[");
                    for (j, &(offset, msg)) in k.msgs.iter().enumerate() {
                        if j > 0 {
                            out.push(b',');
                        }
                        push_i64_list(out, [offset, msg]);
                    }
                    out.push(b']');
                }
                out.extend_from_slice(b"}]]");
            }
        }
    }
}

/// Whether key `a`'s text sorts before `b`'s (as a JSON map orders them: `"10" < "2"`).
fn key_text_less(a: u64, b: u64) -> bool {
    let (mut a_text, mut b_text) = (itoa::Buffer::new(), itoa::Buffer::new());
    a_text.format(a) < b_text.format(b)
}

/// Compact JSON text, as [`Value`]'s `Display` writes it.
impl std::fmt::Display for OpValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpValue::Json(v) => v.fmt(f),
            typed => {
                let mut text = Vec::new();
                typed.write_json(&mut text);
                f.write_str(std::str::from_utf8(&text).expect("JSON is UTF-8"))
            }
        }
    }
}

impl Serialize for OpValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for OpValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<OpValue, D::Error> {
        Value::deserialize(d).map(OpValue::Json)
    }
}

/// Appends an integer as serde_json writes it.
fn push_i64(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends a kafka key: its integer as a JSON string.
fn push_key(out: &mut Vec<u8>, key: u64) {
    out.push(b'"');
    push_u64(out, key);
    out.push(b'"');
}

/// Appends `[a,b,...]`.
fn push_i64_list(out: &mut Vec<u8>, items: impl IntoIterator<Item = i64>) {
    out.push(b'[');
    for (i, n) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_i64(out, n);
    }
    out.push(b']');
}

/// An invocation paired with its completion (None if it never completed).
#[derive(Clone, Copy, Debug)]
pub struct Pair<'a> {
    pub invoke: &'a Op,
    pub completion: Option<&'a Op>,
}

impl Pair<'_> {
    /// The outcome, treating a missing completion as info.
    pub fn outcome(&self) -> OpType {
        self.completion.map_or(OpType::Info, |c| c.kind)
    }

    /// Latency in nanoseconds, if the op completed.
    pub fn latency(&self) -> Option<Nanos> {
        self.completion.map(|c| c.time - self.invoke.time)
    }
}

#[derive(Clone, Debug, Default)]
pub struct History {
    pub ops: Vec<Op>,
    /// The function whose ok completions are kept as [`IntSet`]s (see
    /// [`History::keep_reads_as_sets`]).
    set_reads_of: Option<&'static str>,
    /// Op index → its value, for the completions kept as sets; the op's own `value` is then
    /// null. Read it through [`History::value`] or [`History::int_set`].
    sets: IndexMap<IntSet>,
    /// Invocation index → the client messages the op sent (see [`OpRequests`]).
    requests: IndexMap<OpRequests>,
}

/// A map keyed by op index (looked up for every op written or checked).
type IndexMap<V> = HashMap<usize, V, BuildHasherDefault<SmallKeyHasher>>;

/// Hashes the history's small integer keys (op indices, process numbers) with a multiply
/// (as rustc's FxHash does): SipHash's defence against chosen keys buys nothing here, and
/// the maps are looked up for every op.
#[derive(Clone, Copy, Default)]
pub struct SmallKeyHasher(u64);

impl Hasher for SmallKeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// Which client sent an op's requests and their `msg_id`s, in order (a kafka op may take
/// several): stored on the invocation's line of `history.jsonl` as `client` and `msg_ids`.
/// With them the journal's messages of an op are found exactly: its requests are the client's
/// messages with those `msg_id`s, its replies those with that `in_reply_to`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpRequests {
    pub client: String,
    pub msg_ids: Vec<u64>,
}

impl History {
    /// Builds a history from ops whose indices are already set (a stored history).
    pub fn from_ops(ops: Vec<Op>) -> History {
        History {
            ops,
            ..History::default()
        }
    }

    /// From now on, ok completions of `f` whose value is an array of non-negative integers are
    /// kept as an [`IntSet`] (sorted ranges) instead of a JSON array. A broadcast read returns
    /// the whole set, so a long run holds thousands of reads of thousands of values: as JSON
    /// that grows quadratically (32 bytes per value per read), as ranges it is a few words per
    /// read. Only for workloads whose checker treats a read as a set (order and duplicates do
    /// not matter): `history.jsonl` then lists such a read in ascending order without
    /// duplicates (`messages.jsonl` keeps the node's reply as sent).
    pub fn keep_reads_as_sets(&mut self, f: &'static str) {
        self.set_reads_of = Some(f);
    }

    /// Appends an op, assigning its index.
    pub fn push(&mut self, mut op: Op) -> usize {
        let index = self.ops.len();
        op.index = index;
        if op.kind == OpType::Ok && self.set_reads_of == Some(op.f.as_str()) {
            if let OpValue::Json(Value::Array(a)) = &op.value {
                if let Some(set) = IntSet::from_values(a) {
                    op.value = OpValue::NULL;
                    self.sets.insert(index, set);
                }
            }
        }
        self.ops.push(op);
        index
    }

    /// Appends an ok read whose value is already a set (see [`History::keep_reads_as_sets`]),
    /// assigning its index; the op's own value is then null.
    pub fn push_set(&mut self, mut op: Op, set: IntSet) -> usize {
        let index = self.ops.len();
        op.index = index;
        op.value = OpValue::NULL;
        self.sets.insert(index, set);
        self.ops.push(op);
        index
    }

    /// Records a request sent for the op invoked at history index `invoke`.
    pub fn note_request(&mut self, invoke: usize, client: &str, msg_id: u64) {
        let entry = self.requests.entry(invoke).or_default();
        if entry.client.is_empty() {
            entry.client = client.to_owned();
        }
        entry.msg_ids.push(msg_id);
    }

    /// The requests of the op invoked at history index `invoke`, if they were recorded (a
    /// hand-written or older history has none).
    pub fn requests(&self, invoke: usize) -> Option<&OpRequests> {
        self.requests.get(&invoke)
    }

    /// The op's value as JSON (a read kept as a set is expanded, a typed value rendered).
    pub fn value<'a>(&'a self, op: &'a Op) -> Cow<'a, Value> {
        match self.sets.get(&op.index) {
            Some(set) => Cow::Owned(set.to_value()),
            None => op.value.to_json(),
        }
    }

    /// The set an op's value was kept as, if it was (see [`History::keep_reads_as_sets`]).
    pub fn int_set(&self, op: &Op) -> Option<&IntSet> {
        self.sets.get(&op.index)
    }

    /// Client ops only (the nemesis's are left out).
    pub fn client_ops(&self) -> impl Iterator<Item = &Op> {
        self.ops.iter().filter(|op| op.is_client())
    }

    /// Every client invocation with its completion, in invocation order.
    pub fn pairs(&self) -> Vec<Pair<'_>> {
        let mut open: HashMap<Process, usize, BuildHasherDefault<SmallKeyHasher>> =
            HashMap::default();
        let mut pairs: Vec<Pair<'_>> = Vec::new();
        for op in self.client_ops() {
            if op.kind == OpType::Invoke {
                open.insert(op.process, pairs.len());
                pairs.push(Pair {
                    invoke: op,
                    completion: None,
                });
            } else if let Some(i) = open.remove(&op.process) {
                pairs[i].completion = Some(op);
            }
        }
        pairs
    }

    /// Number of client invocations (Maelstrom's denominator for msgs-per-op).
    pub fn invocation_count(&self) -> usize {
        self.client_ops()
            .filter(|op| op.kind == OpType::Invoke)
            .count()
    }

    /// Writes the history as JSON lines, one op per line, streaming (never the whole file in
    /// memory).
    ///
    /// A line is what serde_json writes for the [`Op`] (its fields in order, `error` and
    /// `final` only when set), followed by the invocation's `client` and `msg_ids` when it has
    /// them ([`OpRequests`]); a read kept as a set is written as its ascending array. The
    /// fixed fields and the integers are written by hand: through serde, a broadcast run's
    /// reads (hundreds of thousands of integers) cost more than the rest of the store.
    pub fn write_jsonl(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut line = Vec::with_capacity(1024);
        let mut counting = Counting::default();
        for op in &self.ops {
            line.clear();
            self.write_line(op, &mut line, &mut counting)?;
            out.write_all(&line)?;
        }
        out.flush()
    }

    /// One line of [`History::write_jsonl`], with its newline.
    fn write_line(
        &self,
        op: &Op,
        line: &mut Vec<u8>,
        counting: &mut Counting,
    ) -> serde_json::Result<()> {
        line.extend_from_slice(b"{\"index\":");
        push_u64(line, op.index as u64);
        line.extend_from_slice(b",\"time\":");
        push_u64(line, op.time);
        line.extend_from_slice(match op.kind {
            OpType::Invoke => b",\"type\":\"invoke\",\"process\":",
            OpType::Ok => b",\"type\":\"ok\",\"process\":",
            OpType::Fail => b",\"type\":\"fail\",\"process\":",
            OpType::Info => b",\"type\":\"info\",\"process\":",
        });
        match op.process {
            Process::Client(n) => push_u64(line, n),
            Process::Nemesis(NemesisTag::Nemesis) => line.extend_from_slice(b"\"nemesis\""),
        }
        line.extend_from_slice(b",\"f\":");
        serde_json::to_writer(&mut *line, &op.f)?;
        line.extend_from_slice(b",\"value\":");
        match self.sets.get(&op.index) {
            Some(set) => set.write_json_counting(line, counting),
            None => op.value.write_json(line),
        }
        if let Some(error) = &op.error {
            line.extend_from_slice(b",\"error\":");
            serde_json::to_writer(&mut *line, error)?;
        }
        if op.is_final {
            line.extend_from_slice(b",\"final\":true");
        }
        if let Some(requests) = self.requests.get(&op.index) {
            line.extend_from_slice(b",\"client\":");
            serde_json::to_writer(&mut *line, &requests.client)?;
            line.extend_from_slice(b",\"msg_ids\":[");
            for (i, &id) in requests.msg_ids.iter().enumerate() {
                if i > 0 {
                    line.push(b',');
                }
                push_u64(line, id);
            }
            line.push(b']');
        }
        line.extend_from_slice(b"}\n");
        Ok(())
    }

    /// The history as JSON lines in one string (tests and small histories).
    pub fn to_jsonl(&self) -> String {
        let mut out = Vec::new();
        self.write_jsonl(&mut out).expect("writing to memory");
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    pub fn from_jsonl(text: &str) -> anyhow::Result<History> {
        let mut ops: Vec<Op> = Vec::new();
        let mut requests = IndexMap::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let op: Op = serde_json::from_str(line)
                .map_err(|e| anyhow::anyhow!("history line {}: {e}", i + 1))?;
            // Only invocation lines carry requests, and they are short: read them again.
            if line.contains("\"msg_ids\"") {
                if let Ok(r) = serde_json::from_str::<OpRequests>(line) {
                    requests.insert(op.index, r);
                }
            }
            ops.push(op);
        }
        Ok(History {
            requests,
            ..History::from_ops(ops)
        })
    }
}

/// Appends the decimal digits of `n` (what serde_json writes for an integer).
fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

impl Serialize for IntSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// A set of non-negative integers as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntSet {
    ranges: Vec<(u64, u64)>,
}

impl IntSet {
    /// The set of `values`, or None when one of them is not a non-negative integer.
    pub fn from_values(values: &[Value]) -> Option<IntSet> {
        // Nodes mostly answer in ascending order: then the ranges are built in one pass,
        // without sorting a copy.
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for value in values {
            let i = value.as_u64()?;
            match ranges.last_mut() {
                Some((_, hi)) if i == hi.saturating_add(1) => *hi = i,
                Some((_, hi)) if i <= *hi => return IntSet::from_unsorted(values),
                _ => ranges.push((i, i)),
            }
        }
        ranges.shrink_to_fit();
        Some(IntSet { ranges })
    }

    fn from_unsorted(values: &[Value]) -> Option<IntSet> {
        let mut ints: Vec<u64> = values.iter().map(Value::as_u64).collect::<Option<_>>()?;
        ints.sort_unstable();
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for i in ints {
            match ranges.last_mut() {
                Some((_, hi)) if i <= hi.saturating_add(1) => *hi = (*hi).max(i),
                _ => ranges.push((i, i)),
            }
        }
        ranges.shrink_to_fit();
        Some(IntSet { ranges })
    }

    /// The set of `ranges` (inclusive) when they are as [`IntSet::ranges`] gives them:
    /// ascending, disjoint and non-adjacent; `None` otherwise.
    pub fn from_ranges(ranges: Vec<(u64, u64)>) -> Option<IntSet> {
        let ok = ranges.iter().all(|&(lo, hi)| lo <= hi)
            && ranges.windows(2).all(|w| w[1].0 > w[0].1.saturating_add(1));
        ok.then_some(IntSet { ranges })
    }

    /// Builds a set from integers pushed in any order (ascending is the fast case).
    pub fn builder() -> IntSetBuilder {
        IntSetBuilder::default()
    }

    /// The members, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.ranges.iter().flat_map(|&(lo, hi)| lo..=hi)
    }

    /// The members as sorted, disjoint, non-adjacent inclusive ranges `(lo, hi)`.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    /// Appends the members as a JSON array, ascending, as serde_json writes it.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        self.write_json_counting(out, &mut Counting::default());
    }

    /// [`IntSet::write_json`], taking each range's text from `counting` when it can (the sets
    /// of one history are written with one [`Counting`]).
    fn write_json_counting(&self, out: &mut Vec<u8>, counting: &mut Counting) {
        out.push(b'[');
        for (i, &(lo, hi)) in self.ranges.iter().enumerate() {
            match counting.range(lo, hi) {
                Some(text) => {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(text);
                }
                None => push_ascending(out, lo, hi, i == 0),
            }
        }
        out.push(b']');
    }

    /// The members as a JSON array, ascending.
    pub fn to_value(&self) -> Value {
        Value::Array(self.iter().map(Value::from).collect())
    }
}

/// The text `0,1,2,…` grown as far as it is needed: the text of any range `lo..=hi` below
/// [`Counting::MAX`] is one slice of it, copied at once (a broadcast history's reads are long
/// runs of consecutive integers, written again in every read).
#[derive(Default)]
struct Counting {
    text: Vec<u8>,
    /// The first integer not in `text` yet.
    next: u64,
}

impl Counting {
    /// Integers from here on are written digit by digit (the text up to here is ~8 MB).
    const MAX: u64 = 1 << 20;

    /// The text of `lo..=hi`, or None when `hi` is too large to be counted up to.
    fn range(&mut self, lo: u64, hi: u64) -> Option<&[u8]> {
        if hi >= Counting::MAX {
            return None;
        }
        if self.next <= hi {
            push_ascending(&mut self.text, self.next, hi, self.next == 0);
            self.next = hi + 1;
        }
        let (start, end) = (Counting::offset(lo), Counting::offset(hi + 1) - 1);
        Some(&self.text[start..end])
    }

    /// Where `n` starts in the text: each integer takes its digits and a comma.
    fn offset(n: u64) -> usize {
        let (mut offset, mut first, mut width) = (0u64, 0u64, 1u64);
        let mut limit = 10u64;
        while n >= limit {
            offset += (limit - first) * (width + 1);
            first = limit;
            limit *= 10;
            width += 1;
        }
        (offset + (n - first) * (width + 1)) as usize
    }
}

/// Appends `lo..=hi` as comma-separated decimals (a leading comma unless `first`), counting
/// in the text itself: consecutive integers mostly differ in their last digit.
fn push_ascending(out: &mut Vec<u8>, lo: u64, hi: u64, first: bool) {
    let mut digits = itoa::Buffer::new();
    let mut text: Vec<u8> = digits.format(lo).as_bytes().to_vec();
    let mut n = lo;
    loop {
        if !(first && n == lo) {
            out.push(b',');
        }
        out.extend_from_slice(&text);
        if n == hi {
            return;
        }
        n += 1;
        // Increment the decimal text: trailing 9s become 0s, a carry past the first digit
        // adds one.
        let mut i = text.len();
        loop {
            if i == 0 {
                text.insert(0, b'1');
                break;
            }
            i -= 1;
            if text[i] == b'9' {
                text[i] = b'0';
            } else {
                text[i] += 1;
                break;
            }
        }
    }
}

/// An [`IntSet`] being built (see [`IntSet::builder`]).
#[derive(Debug, Default)]
pub struct IntSetBuilder {
    ranges: Vec<(u64, u64)>,
    /// Members that came after a larger one, merged in at the end.
    out_of_order: Vec<u64>,
}

impl IntSetBuilder {
    #[inline]
    pub fn push(&mut self, i: u64) {
        match self.ranges.last_mut() {
            Some((_, hi)) if i == hi.saturating_add(1) => *hi = i,
            Some((_, hi)) if i <= *hi => self.out_of_order.push(i),
            _ => self.ranges.push((i, i)),
        }
    }

    /// Pushes `lo, lo + 1, ..., hi` (`lo <= hi`), as many [`IntSetBuilder::push`]es would.
    #[inline]
    pub fn push_range(&mut self, lo: u64, hi: u64) {
        match self.ranges.last().map(|&(_, last)| last) {
            Some(last) if lo == last.saturating_add(1) => {
                if let Some((_, last)) = self.ranges.last_mut() {
                    *last = hi;
                }
            }
            Some(last) if lo <= last => (lo..=hi).for_each(|i| self.push(i)),
            _ => self.ranges.push((lo, hi)),
        }
    }

    pub fn finish(mut self) -> IntSet {
        if !self.out_of_order.is_empty() {
            let mut all: Vec<(u64, u64)> = self.ranges;
            all.extend(self.out_of_order.iter().map(|&i| (i, i)));
            all.sort_unstable();
            self.ranges = Vec::with_capacity(all.len());
            for (lo, hi) in all {
                match self.ranges.last_mut() {
                    Some((_, last)) if lo <= last.saturating_add(1) => *last = (*last).max(hi),
                    _ => self.ranges.push((lo, hi)),
                }
            }
        }
        self.ranges.shrink_to_fit();
        IntSet {
            ranges: self.ranges,
        }
    }
}

/// Helpers for building histories in checker tests.
#[cfg(test)]
pub mod build {
    use super::*;

    pub fn op(process: u64, kind: OpType, f: &str, value: impl Into<OpValue>, time_ms: u64) -> Op {
        Op {
            index: 0,
            time: time_ms * NANOS_PER_MS,
            kind,
            process: Process::Client(process),
            f: f.to_string(),
            value: value.into(),
            error: None,
            is_final: false,
        }
    }

    /// A transaction `[[f, k, v], ...]` given as JSON, typed as the txn workload records it.
    pub fn txn(value: Value) -> OpValue {
        match typed(&value) {
            Some(typed @ OpValue::Txn(_)) => typed,
            _ => panic!("{value} is not a transaction of integers"),
        }
    }

    /// The typed form of a txn or kafka value given as JSON, when it has one that stands for
    /// exactly this JSON.
    pub fn typed(value: &Value) -> Option<OpValue> {
        let typed = typed_txn(value).or_else(|| typed_kafka(value))?;
        (*typed.to_json() == *value).then_some(typed)
    }

    fn typed_txn(value: &Value) -> Option<OpValue> {
        let mut mops = Vec::new();
        for m in value.as_array()? {
            let [f, key, v] = m.as_array()?.as_slice() else {
                return None;
            };
            let f = match f.as_str()? {
                "r" => MicroF::Read,
                "w" => MicroF::Write,
                "append" => MicroF::Append,
                _ => return None,
            };
            let value = match v {
                Value::Null => MicroValue::Nil,
                Value::Array(items) => MicroValue::List(Box::new(
                    items.iter().map(Value::as_i64).collect::<Option<_>>()?,
                )),
                v => MicroValue::Int(v.as_i64()?),
            };
            let key = key.as_i64()?;
            mops.push(MicroOp { key, value, f });
        }
        Some(OpValue::Txn(mops))
    }

    fn typed_kafka(value: &Value) -> Option<OpValue> {
        let [mop] = value.as_array()?.as_slice() else {
            return None;
        };
        let mop = mop.as_array()?;
        let pair = |v: &Value| match v.as_array()?.as_slice() {
            [o, m] => Some((o.as_i64()?, m.as_i64()?)),
            _ => None,
        };
        let key = |k: &Value| kafka_key(k.as_str()?);
        Some(match (mop.first()?.as_str()?, &mop[1..]) {
            ("send", [k, Value::Array(_)]) => {
                let (offset, msg) = pair(&mop[2])?;
                OpValue::KafkaSent {
                    key: key(k)?,
                    offset,
                    msg,
                }
            }
            ("send", [k, msg]) => OpValue::KafkaSend {
                key: key(k)?,
                msg: msg.as_i64()?,
            },
            ("poll", []) => OpValue::KafkaPoll,
            ("poll", [Value::Object(map)]) => {
                let keys = map
                    .iter()
                    .map(|(key, msgs)| {
                        let msgs = msgs.as_array()?.iter().map(pair).collect::<Option<_>>()?;
                        Some(PolledKey {
                            key: kafka_key(key)?,
                            msgs,
                        })
                    })
                    .collect::<Option<_>>()?;
                OpValue::kafka_polled(keys)?
            }
            _ => return None,
        })
    }

    /// The history with every value that has a typed form ([`typed`]) in that form, as the
    /// workloads record them: a checker must judge it as it judges the JSON.
    pub fn typed_history(h: &History) -> History {
        let mut out = h.clone();
        for op in &mut out.ops {
            if let Some(typed) = op.value.as_json().and_then(typed) {
                op.value = typed;
            }
        }
        out
    }

    pub fn history(ops: Vec<Op>) -> History {
        let mut h = History::default();
        for op in ops {
            h.push(op);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pushed_range_is_its_members_pushed() {
        let pushes = [
            vec![(3, 5)],
            vec![(3, 5), (6, 9)],
            vec![(3, 5), (8, 9), (1, 2)],
            vec![(3, 5), (4, 7), (2, 2)],
            vec![(3, 5), (5, 5), (20, 30), (10, 25)],
            vec![(u64::MAX - 1, u64::MAX), (u64::MAX, u64::MAX)],
        ];
        for ranges in pushes {
            let (mut by_range, mut by_member) = (IntSet::builder(), IntSet::builder());
            for &(lo, hi) in &ranges {
                by_range.push_range(lo, hi);
                (lo..=hi).for_each(|i| by_member.push(i));
            }
            assert_eq!(by_range.finish(), by_member.finish(), "{ranges:?}");
        }
    }
    use serde_json::json;

    fn set(values: Value) -> IntSet {
        IntSet::from_values(values.as_array().unwrap()).unwrap()
    }

    #[test]
    fn an_int_set_is_the_same_whatever_the_order_of_its_values() {
        let sorted = set(json!([1, 2, 3, 7, 9, 10]));
        assert_eq!(set(json!([10, 9, 7, 3, 2, 1, 2])), sorted);
        assert_eq!(set(json!([1, 2, 3, 7, 7, 9, 10])), sorted);
        assert_eq!(sorted.iter().collect::<Vec<_>>(), vec![1, 2, 3, 7, 9, 10]);
        assert_eq!(IntSet::from_values(&[json!(1), json!(-1)]), None);
        assert_eq!(IntSet::from_values(&[json!(1), json!("a")]), None);
    }

    #[test]
    fn a_read_kept_as_a_set_is_written_as_its_ascending_array() {
        let op = |value: Value| Op {
            index: 0,
            time: 5,
            kind: OpType::Ok,
            process: Process::Client(3),
            f: "read".into(),
            value: value.into(),
            error: None,
            is_final: true,
        };
        let mut kept = History::default();
        kept.keep_reads_as_sets("read");
        kept.push(op(json!([4, 2, 3])));
        assert!(kept.int_set(&kept.ops[0]).is_some());
        let mut plain = History::default();
        plain.push(op(json!([2, 3, 4])));
        assert_eq!(kept.to_jsonl(), plain.to_jsonl());
    }

    /// The line serde_json writes for an op (with its requests flattened in), or for an op
    /// whose value was kept as a set: what `write_jsonl` writes by hand.
    fn serde_line(h: &History, op: &Op) -> String {
        #[derive(Serialize)]
        struct StoredOp<'a> {
            #[serde(flatten)]
            op: &'a Op,
            #[serde(flatten)]
            requests: Option<&'a OpRequests>,
        }
        let mut op = op.clone();
        if let Some(set) = h.int_set(&op) {
            op.value = set.to_value().into();
        }
        let requests = h.requests(op.index);
        serde_json::to_string(&StoredOp { op: &op, requests }).unwrap() + "\n"
    }

    #[test]
    fn lines_are_written_as_serde_writes_them() {
        let mut h = History::default();
        h.keep_reads_as_sets("read");
        let op = |process, kind, f: &str, value: Value, error, is_final| Op {
            index: 0,
            time: 1_234_567_890_123,
            kind,
            process,
            f: f.into(),
            value: value.into(),
            error,
            is_final,
        };
        let invoke = h.push(op(
            Process::Client(7),
            OpType::Invoke,
            "read",
            Value::Null,
            None,
            false,
        ));
        h.note_request(invoke, "c\"3", 41);
        h.note_request(invoke, "c\"3", 42);
        let ranges = json!([
            0,
            1,
            2,
            8,
            9,
            10,
            11,
            98,
            99,
            100,
            101,
            999,
            1000,
            9999,
            10000,
            u64::MAX
        ]);
        h.push(op(
            Process::Client(7),
            OpType::Ok,
            "read",
            ranges,
            None,
            true,
        ));
        h.push(op(
            Process::Client(8),
            OpType::Ok,
            "read",
            json!([]),
            None,
            false,
        ));
        h.push(op(
            Process::Client(8),
            OpType::Ok,
            "read",
            json!([5]),
            None,
            false,
        ));
        h.push(op(
            Process::Client(0),
            OpType::Invoke,
            "add",
            json!(2.5),
            None,
            false,
        ));
        h.push(op(
            Process::Client(0),
            OpType::Fail,
            "txn\u{e9}\n",
            json!({"b": [1, -2, null, "x\u{1}"], "a": true}),
            Some(json!(["name", "text"])),
            false,
        ));
        h.push(op(
            Process::Client(1),
            OpType::Info,
            "add",
            json!(-3),
            Some(json!("net-timeout")),
            true,
        ));
        h.push(op(
            Process::NEMESIS,
            OpType::Info,
            "start-partition",
            json!({"n0": ["n1"]}),
            None,
            false,
        ));
        let expected: String = h.ops.iter().map(|op| serde_line(&h, op)).collect();
        assert_eq!(h.to_jsonl(), expected);
        assert!(h.int_set(&h.ops[1]).is_some());
    }

    /// Random typed values, of every form, with keys that need escapes and extreme integers.
    fn random_typed(rng: &mut crate::Rng) -> OpValue {
        use rand::Rng as _;
        let ints = [0, 1, 9, 10, 12_345, -1, -77, i64::MAX, i64::MIN];
        let int = |rng: &mut crate::Rng| {
            if rng.gen_bool(0.5) {
                ints[rng.gen_range(0..ints.len())]
            } else {
                rng.gen_range(0..1_000)
            }
        };
        let keys = [0, 2, 10, 17, 100, 1_000_000_007, u64::MAX];
        let key = |rng: &mut crate::Rng| keys[rng.gen_range(0..keys.len())];
        match rng.gen_range(0..5) {
            0 => OpValue::Txn(
                (0..rng.gen_range(0..6))
                    .map(|_| {
                        let f = [MicroF::Read, MicroF::Write, MicroF::Append][rng.gen_range(0..3)];
                        let value = match rng.gen_range(0..3) {
                            0 => MicroValue::Nil,
                            1 => MicroValue::Int(int(rng)),
                            _ => MicroValue::List(Box::new(
                                (0..rng.gen_range(0..4)).map(|_| int(rng)).collect(),
                            )),
                        };
                        MicroOp {
                            key: int(rng),
                            value,
                            f,
                        }
                    })
                    .collect(),
            ),
            1 => OpValue::KafkaSend {
                key: key(rng),
                msg: int(rng),
            },
            2 => OpValue::KafkaSent {
                key: key(rng),
                offset: int(rng),
                msg: int(rng),
            },
            3 => OpValue::KafkaPoll,
            _ => {
                let keys = (0..rng.gen_range(0..5))
                    .map(|_| PolledKey {
                        key: key(rng),
                        msgs: (0..rng.gen_range(0..4))
                            .map(|_| (int(rng), int(rng)))
                            .collect(),
                    })
                    .collect();
                OpValue::kafka_polled(keys).unwrap_or(OpValue::KafkaPoll)
            }
        }
    }

    #[test]
    fn typed_values_are_written_as_serde_writes_their_json() {
        use rand::SeedableRng;
        let mut rng = crate::Rng::seed_from_u64(5);
        for _ in 0..2_000 {
            let typed = random_typed(&mut rng);
            let json = typed.to_json().into_owned();
            let expected = serde_json::to_string(&json).unwrap();
            let mut written = Vec::new();
            typed.write_json(&mut written);
            assert_eq!(String::from_utf8(written).unwrap(), expected);
            assert_eq!(typed.to_string(), expected);
            assert_eq!(serde_json::to_string(&typed).unwrap(), expected);
            assert_eq!(typed, json);
            // The JSON form reads back as the same typed value.
            assert_eq!(build::typed(&json), Some(typed));
        }
    }

    #[test]
    fn polled_keys_are_sorted_as_a_json_map_and_never_twice() {
        let key = |key| PolledKey {
            key,
            msgs: vec![(0, 1)],
        };
        let polled = OpValue::kafka_polled(vec![key(2), key(10), key(1)]);
        let Some(OpValue::KafkaPolled(keys)) = polled else {
            panic!("not a poll");
        };
        let names: Vec<u64> = keys.iter().map(|k| k.key).collect();
        assert_eq!(names, [1, 10, 2]);
        assert_eq!(OpValue::kafka_polled(vec![key(2), key(1), key(2)]), None);
        assert!(key_text_less(10, 2) && key_text_less(1, 10) && !key_text_less(3, 3));
    }

    #[test]
    fn kafka_keys_are_integers_in_decimal_form() {
        for (key, expected) in [
            ("0", Some(0)),
            ("17", Some(17)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("017", None),
            ("+1", None),
            ("-1", None),
            ("", None),
            ("1a", None),
            ("a\"b", None),
        ] {
            assert_eq!(kafka_key(key), expected, "{key}");
        }
    }

    #[test]
    fn a_micro_op_is_32_bytes_and_an_op_value_as_small_as_a_value() {
        assert_eq!(std::mem::size_of::<MicroOp>(), 32);
        assert_eq!(std::mem::size_of::<OpValue>(), std::mem::size_of::<Value>());
    }

    #[test]
    fn ranges_are_cut_from_the_counting_text() {
        let mut counting = Counting::default();
        for (lo, hi) in [
            (5, 12),
            (0, 0),
            (0, 1),
            (99, 101),
            (3, 3),
            (998, 1_200),
            (0, 15),
        ] {
            let expected: Vec<String> = (lo..=hi).map(|n| n.to_string()).collect();
            let text = counting.range(lo, hi).unwrap();
            assert_eq!(std::str::from_utf8(text).unwrap(), expected.join(","));
        }
        assert!(counting.range(1, Counting::MAX).is_none());
        let set = IntSet {
            ranges: vec![(1, 3), (7, 7), (Counting::MAX - 1, Counting::MAX + 1)],
        };
        let mut text = Vec::new();
        set.write_json_counting(&mut text, &mut counting);
        assert_eq!(
            String::from_utf8(text).unwrap(),
            serde_json::to_string(&set.iter().collect::<Vec<_>>()).unwrap()
        );
    }

    #[test]
    fn ranges_are_written_digit_by_digit_as_itoa_would() {
        for (lo, hi) in [
            (0, 0),
            (0, 1205),
            (8, 12),
            (99_990, 100_011),
            (u64::MAX - 3, u64::MAX),
        ] {
            let mut text = Vec::new();
            push_ascending(&mut text, lo, hi, true);
            let expected: Vec<String> = (lo..=hi).map(|n| n.to_string()).collect();
            assert_eq!(String::from_utf8(text).unwrap(), expected.join(","));
        }
    }
}
