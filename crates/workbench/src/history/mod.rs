//! The history of a test: every client operation's invocation and completion, plus nemesis
//! operations, in the order they happened. Checkers read it; `history.jsonl` stores it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Write;

use serde::{Deserialize, Serialize};
use serde_json::Value;

mod int_set;
mod op_f;
mod op_value;
mod requests;

// Integers as JSON digits: the node runtime's writers (short paths for small numbers).
pub use glomers_node::{write_i64 as push_i64, write_u64 as push_u64};
use int_set::Counting;
pub use int_set::{IntSet, IntSetBuilder};
pub use op_f::OpF;
pub use op_value::{kafka_key, MicroF, MicroOp, MicroValue, OpValue, PolledKey};
pub use requests::{ClientName, OpRequests};
use requests::{Requests, StoredRequests};

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
    pub f: OpF,
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
    requests: Requests,
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

    /// Makes room for about `ops` ops (invocations and completions) and their requests, so
    /// that a run's history is allocated once rather than copied as it grows.
    pub fn reserve(&mut self, ops: usize) {
        self.ops.reserve(ops);
        // One entry per invocation: about half the ops.
        self.requests.reserve(ops / 2);
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
        let client = self.requests.client(client);
        self.requests.note(invoke, client, msg_id);
    }

    /// How the history names the client called `name` (for [`History::note_client_request`]:
    /// a client's name is then stored once, not once per op).
    pub fn client(&mut self, name: &str) -> ClientName {
        self.requests.client(name)
    }

    /// [`History::note_request`] for a client named by [`History::client`].
    pub fn note_client_request(&mut self, invoke: usize, client: ClientName, msg_id: u64) {
        self.requests.note(invoke, client, msg_id);
    }

    /// The requests of the op invoked at history index `invoke`, if they were recorded (a
    /// hand-written or older history has none).
    pub fn requests(&self, invoke: usize) -> Option<OpRequests<'_>> {
        self.requests.get(invoke)
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
        let mut requests_at = 0;
        for op in &self.ops {
            line.clear();
            let requests = self.requests.get_in_order(op.index, &mut requests_at);
            self.write_line(op, requests, &mut line, &mut counting)?;
            out.write_all(&line)?;
        }
        out.flush()
    }

    /// One line of [`History::write_jsonl`], with its newline.
    fn write_line(
        &self,
        op: &Op,
        requests: Option<OpRequests<'_>>,
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
        if let Some(requests) = requests {
            line.extend_from_slice(b",\"client\":");
            serde_json::to_writer(&mut *line, requests.client)?;
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
        let mut requests = Requests::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let op: Op = serde_json::from_str(line)
                .map_err(|e| anyhow::anyhow!("history line {}: {e}", i + 1))?;
            // Only invocation lines carry requests, and they are short: read them again.
            if line.contains("\"msg_ids\"") {
                if let Ok(r) = serde_json::from_str::<StoredRequests>(line) {
                    let client = requests.client(&r.client);
                    requests.set(op.index, client, r.msg_ids);
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
            f: f.into(),
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

    use serde_json::json;

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
            requests: Option<OpRequests<'a>>,
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
}
