//! `kafka` (challenges 5a-5c): clients append messages to keyed logs and consume them, as
//! Maelstrom's kafka workload does in assign mode.
//!
//! - **Generator**: sends and polls, half each. A send goes to one of `--key-count` active keys
//!   (default 10; keys are integers written as strings), slot i picked with probability about
//!   proportional to 2^i; its message is the key's next counter value 1, 2, ...; after
//!   `--max-writes-per-key` sends (default 16) the key retires and its slot gets the largest
//!   key so far plus one. With probability 1/64 an `assign` of the op's key comes first (the op
//!   follows as the worker's next one); a third of assigns also take every key with sent but
//!   not yet polled messages. About every 30/concurrency seconds a `crash` op makes the worker
//!   that runs it discard its client (a new process with no assignment).
//! - **Client**, one op of several requests: `assign` lists the keys' committed offsets and
//!   replaces the position map (a kept key keeps its position, a new one starts at its
//!   committed offset, else 0); `poll` sends the whole position map, moves each key's position
//!   past the highest offset returned, then, if it got messages, commits the highest offset
//!   polled per key; `send` records `[offset, msg]`.
//! - **Final phase** (at most 10 s): each worker crashes its client, assigns every key seen
//!   from offset 0, and polls (pauses uniform in [0, 0.4) s) until it has read every key up to
//!   the highest offset seen during the run.
//!
//! History values are listed in [`crate::checkers::kafka::txns`]; the checker is
//! [`crate::checkers::kafka`].

use std::collections::{BTreeSet, VecDeque};

use rand::Rng as _;
use serde_json::{json, Map, Value};

use super::reply::{self, ReplyText};
use super::request::push_json_str;
use super::{
    closed_schema, malformed, Completion, FinalStep, Invocation, Request, Step, Workload,
    WorkloadOptions,
};
use crate::checkers::kafka::check_kafka;
use crate::checkers::CheckResult;
use crate::history::{push_u64, History, Nanos, OpType, OpValue, NANOS_PER_MS, NANOS_PER_SEC};

use crate::Rng;

mod assign;
mod key_map;
mod positions;
mod read;
use key_map::{Key, KeyMap};
use positions::Positions;
use read::read_msgs;

/// The final phase's bound.
const FINAL_PHASE_LIMIT: Nanos = 10 * NANOS_PER_SEC;
/// Final polls are separated by a pause uniform in [0, this).
const FINAL_POLL_GAP: Nanos = 400 * NANOS_PER_MS;

#[derive(Default)]
struct Worker {
    /// Consumer positions: the next offset to poll per assigned key.
    positions: Positions,
    /// Ops the generator queued for this worker (the op an assign came before).
    queued: VecDeque<Invocation>,
    /// A poll waiting for its commit: its ok value, what it polled.
    polled: Option<OpValue>,
    /// Final phase: the crash and assign are done; polls go on until caught up.
    final_started: bool,
    /// Final phase: the highest offset this worker has read per key.
    final_read: KeyMap<i64>,
}

pub struct Kafka {
    key_count: usize,
    max_writes_per_key: u64,
    /// Active keys by slot.
    slots: Vec<u64>,
    largest_key: u64,
    /// Sends generated per key, by key (the generator's keys count up from 0).
    writes: Vec<u64>,
    /// Per key, the highest offset any send or poll reported, and the highest any poll read.
    /// By key number ([`KeyMap`]): every send and polled key looks them up, and a run retires
    /// hundreds of keys (read in key order only for the final phase's assign).
    /// In one map: a poll's key is seen and polled in one look-up, and the unpolled keys are
    /// found without a look-up per key.
    highest: KeyMap<Highest>,
    workers: Vec<Worker>,
    /// Mean seconds between crashes: 30 / concurrency.
    crash_mean: f64,
    next_crash: Option<Nanos>,
    now: Nanos,
    /// A poll's messages of one key as [`read_msgs`] reads them, kept from poll to poll.
    scratch: Vec<(i64, i64)>,
}

impl Kafka {
    pub fn new(opts: &WorkloadOptions) -> Kafka {
        let key_count = opts.key_count.unwrap_or(10).max(1);
        Kafka {
            key_count,
            max_writes_per_key: opts.max_writes_per_key.max(1) as u64,
            slots: (0..key_count as u64).collect(),
            largest_key: key_count as u64 - 1,
            writes: Vec::new(),
            highest: KeyMap::default(),
            workers: (0..opts.concurrency).map(|_| Worker::default()).collect(),
            crash_mean: 30.0 / opts.concurrency.max(1) as f64,
            next_crash: None,
            now: 0,
            scratch: Vec::new(),
        }
    }

    fn worker(&mut self, w: usize) -> &mut Worker {
        if w >= self.workers.len() {
            self.workers.resize_with(w + 1, Worker::default);
        }
        &mut self.workers[w]
    }

    /// Slot i with probability about proportional to 2^i: the last slot half the time.
    fn pick_slot(&self, rng: &mut Rng) -> usize {
        let mut slot = self.key_count - 1;
        while slot > 0 && rng.gen_bool(0.5) {
            slot -= 1;
        }
        slot
    }

    fn crash_gap(&self, rng: &mut Rng) -> Nanos {
        (rng.gen_range(0.0..2.0 * self.crash_mean) * NANOS_PER_SEC as f64) as Nanos
    }

    /// Keys with messages sent but not yet polled by anyone, in no particular order.
    fn unpolled_keys(&self) -> Vec<String> {
        self.highest
            .iter()
            .filter(|(_, h)| !matches!(h.polled, Some(p) if p >= h.seen))
            .map(|(k, _)| k.name())
            .collect()
    }

    fn see(&mut self, key: Key, offset: i64, polled: bool) {
        let polled = polled.then_some(offset);
        let h = self.highest.get_or_insert_with(key, || Highest {
            seen: offset,
            polled,
        });
        h.seen = h.seen.max(offset);
        h.polled = h.polled.max(polled);
    }
}

/// A key's highest offset any send or poll reported, and the highest any poll read.
#[derive(Clone, Copy, Debug)]
struct Highest {
    seen: i64,
    polled: Option<i64>,
}

/// `[["poll", polled]]`, moving `polled` in (`json!` would copy it): the value of an ok poll
/// read the map's way.
fn poll_value(polled: Value) -> OpValue {
    OpValue::Json(Value::Array(vec![Value::Array(vec![
        "poll".into(),
        polled,
    ])]))
}

/// An ok assign's value: `{"keys": keys, "committed": committed}`, as `json!` makes it
/// (without serializing `committed` again).
fn assign_value(keys: Vec<String>, committed: Value) -> Value {
    let mut value = Map::new();
    value.insert(
        "keys".into(),
        Value::Array(keys.into_iter().map(Value::String).collect()),
    );
    value.insert("committed".into(), committed);
    Value::Object(value)
}

/// `[["send", key, msg]]`.
fn send_op(key: u64, msg: u64) -> Invocation {
    let msg = msg as i64;
    Invocation::new("send", OpValue::KafkaSend { key, msg })
}

fn poll_op(is_final: bool) -> Invocation {
    let value = OpValue::KafkaPoll;
    if is_final {
        Invocation::final_op("poll", value)
    } else {
        Invocation::new("poll", value)
    }
}

impl Workload for Kafka {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn clock(&mut self, now: Nanos) {
        self.now = now;
    }

    fn next_op(&mut self, w: usize, rng: &mut Rng) -> Invocation {
        if let Some(op) = self.worker(w).queued.pop_front() {
            return op;
        }
        let next_crash = match self.next_crash {
            Some(at) => at,
            None => {
                let at = self.now + self.crash_gap(rng);
                self.next_crash = Some(at);
                at
            }
        };
        if self.now >= next_crash {
            self.next_crash = Some(self.now + self.crash_gap(rng));
            return Invocation::new("crash", Value::Null);
        }
        let slot = self.pick_slot(rng);
        let key = self.slots[slot];
        let op = if rng.gen_bool(0.5) {
            if key as usize >= self.writes.len() {
                self.writes.resize(key as usize + 1, 0);
            }
            let writes = &mut self.writes[key as usize];
            *writes += 1;
            let msg = *writes;
            if msg >= self.max_writes_per_key {
                self.largest_key += 1;
                self.slots[slot] = self.largest_key;
            }
            send_op(key, msg)
        } else {
            poll_op(false)
        };
        if rng.gen_range(0..64) != 0 {
            return op;
        }
        let mut keys: BTreeSet<String> = BTreeSet::from([key.to_string()]);
        if rng.gen_range(0..3) == 0 {
            keys.extend(self.unpolled_keys());
        }
        self.worker(w).queued.push_back(op);
        Invocation::new("assign", json!({ "keys": keys }))
    }

    fn begin(&mut self, w: usize, op: &Invocation) -> Step {
        match op.f {
            "crash" => Step::Done(Completion::failed(
                OpType::Info,
                Value::Null,
                json!("crash"),
            )),
            "assign" => Step::Send(
                Request::writer("list_committed_offsets")
                    .field("keys", &op.value.to_json()["keys"])
                    .finish(),
            ),
            "poll" => {
                let worker = self.worker(w);
                worker.polled = None;
                let offsets = worker.positions.text();
                Step::Send(
                    Request::writer("poll")
                        .field_with("offsets", |out| out.extend_from_slice(offsets))
                        .finish(),
                )
            }
            _ => Step::Send(self.request(op)),
        }
    }

    fn on_reply(&mut self, w: usize, op: &Invocation, reply: &Map<String, Value>) -> Step {
        let result = match op.f {
            "assign" => self.on_assign_reply(w, op, reply),
            "poll" => self.on_poll_reply(w, reply),
            _ => send_response(op, reply).map(|value| self.sent(value)),
        };
        result.unwrap_or_else(|why| {
            self.worker(w).polled = None;
            Step::Done(malformed(op, why, reply))
        })
    }

    /// An assign's committed offsets move from the reply into the op's value (a copy of the
    /// map, of every key's offset, would cost as much as reading it); the rest is
    /// [`Workload::on_reply`]'s.
    fn on_owned_reply(&mut self, w: usize, op: &Invocation, mut reply: Map<String, Value>) -> Step {
        if op.f == "assign" {
            if let Ok(keys) = self.assign_positions(w, op, &reply) {
                let committed = reply.remove("offsets").unwrap_or_default();
                return Step::Done(Completion::ok(assign_value(keys, committed)));
            }
        }
        self.on_reply(w, op, &reply)
    }

    /// Sends, polls and assigns, read straight from the text when they are well formed (see
    /// [`Kafka::fast_reply`]); anything else goes the map's way.
    fn on_reply_text(&mut self, w: usize, op: &Invocation, reply: ReplyText<'_>) -> Step {
        match self.fast_reply(w, op, reply) {
            Some(step) => step,
            None => self.on_owned_reply(w, op, reply.to_map()),
        }
    }

    fn client_closed(&mut self, w: usize) {
        let worker = self.worker(w);
        worker.positions.clear();
        worker.polled = None;
    }

    fn has_final_phase(&self) -> bool {
        true
    }

    fn next_final_op(&mut self, w: usize, rng: &mut Rng) -> FinalStep {
        if !self.worker(w).final_started {
            self.worker(w).final_started = true;
            let mut keys: Vec<String> = self.highest.iter().map(|(k, _)| k.name()).collect();
            keys.sort_unstable();
            let worker = self.worker(w);
            worker.queued.clear();
            worker.final_read.clear();
            worker
                .queued
                .push_back(Invocation::final_op("assign", json!({ "keys": keys })));
            return FinalStep::Op(Invocation::final_op("crash", Value::Null));
        }
        if let Some(op) = self.worker(w).queued.pop_front() {
            return FinalStep::Op(op);
        }
        let caught_up = self.highest.iter().all(|(k, h)| {
            self.workers[w]
                .final_read
                .get(k)
                .is_some_and(|&r| r >= h.seen)
        });
        if caught_up {
            return FinalStep::Done;
        }
        let pause = rng.gen_range(0..FINAL_POLL_GAP);
        self.worker(w).queued.push_back(poll_op(true));
        FinalStep::Wait(pause)
    }

    fn final_phase_limit(&self) -> Option<Nanos> {
        Some(FINAL_PHASE_LIMIT)
    }

    fn request(&self, op: &Invocation) -> Request {
        match op.f {
            "send" => {
                if let &OpValue::KafkaSend { key, msg } = &op.value {
                    return Request::writer("send")
                        .field_with("key", |out| push_key(out, key))
                        .field_with("msg", |out| {
                            out.extend_from_slice(itoa::Buffer::new().format(msg).as_bytes())
                        })
                        .finish();
                }
                let value = op.value.to_json();
                let (key, msg) = (&value[0][1], &value[0][2]);
                Request::writer("send")
                    .field_with("key", |out| match key {
                        Value::String(key) => push_json_str(out, key),
                        key => serde_json::to_writer(out, key).expect("a key serializes"),
                    })
                    .field_with("msg", |out| match msg.as_u64() {
                        Some(msg) => push_u64(out, msg),
                        None => serde_json::to_writer(out, msg).expect("a message serializes"),
                    })
                    .finish()
            }
            f => Request::writer(f).finish(),
        }
    }

    /// Sends (the other ops are answered in [`Workload::on_reply`]).
    fn response(&self, op: &Invocation, reply: &Map<String, Value>) -> Result<Value, String> {
        send_response(op, reply).map(|value| value.to_json().into_owned())
    }

    fn idempotent(&self, f: &str) -> bool {
        f == "assign"
    }

    fn check(&self, history: &History) -> CheckResult {
        check_kafka(history)
    }
}

/// A send's reply checked against its schema: the send's ok value.
fn send_response(op: &Invocation, reply: &Map<String, Value>) -> Result<OpValue, String> {
    closed_schema(reply, "send_ok", &["offset"])?;
    let offset = reply["offset"]
        .as_i64()
        .ok_or_else(|| "`offset` must be an integer".to_string())?;
    Ok(send_value(op, offset))
}

/// A send's ok value: `[["send", key, [offset, msg]]]`.
fn send_value(op: &Invocation, offset: i64) -> OpValue {
    if let &OpValue::KafkaSend { key, msg } = &op.value {
        return OpValue::KafkaSent { key, offset, msg };
    }
    let value = op.value.to_json();
    let (key, msg) = (&value[0][1], &value[0][2]);
    let sent = Value::Array(vec![offset.into(), msg.clone()]);
    OpValue::Json(json!([["send", key, sent]]))
}

impl Kafka {
    /// A well-formed reply to a send, a poll or its commit, or an assign, read from the text: the same
    /// outcome as the map's way, which takes everything else (`None`).
    fn fast_reply(&mut self, w: usize, op: &Invocation, reply: ReplyText<'_>) -> Option<Step> {
        match op.f {
            "send" => {
                let [offset] = reply.closed("send_ok", ["offset"])?;
                let offset = reply::as_i64(offset)?;
                Some(self.sent(send_value(op, offset)))
            }
            "poll" if self.worker(w).polled.is_some() => {
                reply.closed("commit_offsets_ok", [])?;
                let polled = self.worker(w).polled.take()?;
                Some(Step::Done(Completion::ok(polled)))
            }
            "poll" => {
                let [msgs] = reply.closed("poll_ok", ["msgs"])?;
                let polled = OpValue::kafka_polled(read_msgs(msgs, &mut self.scratch)?)?;
                let OpValue::KafkaPolled(keys) = &polled else {
                    return None;
                };
                let mut commits = Vec::with_capacity(keys.len());
                for k in keys {
                    let max = k.msgs.iter().map(|&(offset, _)| offset).max();
                    if let Some(max) = max {
                        self.take_key(w, Key::Number(k.key), max);
                        commits.push((k.key, max));
                    }
                }
                let commit = commit_request(&commits, push_key);
                Some(self.after_poll(w, polled, commit))
            }
            "assign" => self.fast_assign(w, op, reply),
            _ => None,
        }
    }

    /// A send's ok value is seen, and ends the op.
    fn sent(&mut self, value: OpValue) -> Step {
        match &value {
            &OpValue::KafkaSent { key, offset, .. } => self.see(Key::Number(key), offset, false),
            value => {
                let value = value.to_json();
                if let (Some(key), Some(offset)) = (value[0][1].as_str(), value[0][2][0].as_i64()) {
                    self.see(Key::of_name(key), offset, false);
                }
            }
        }
        Step::Done(Completion::ok(value))
    }

    fn on_assign_reply(
        &mut self,
        w: usize,
        op: &Invocation,
        reply: &Map<String, Value>,
    ) -> Result<Step, String> {
        let keys = self.assign_positions(w, op, reply)?;
        let committed = reply["offsets"].clone();
        Ok(Step::Done(Completion::ok(assign_value(keys, committed))))
    }

    /// The poll's reply, then its commit's.
    fn on_poll_reply(&mut self, w: usize, reply: &Map<String, Value>) -> Result<Step, String> {
        if let Some(polled) = self.worker(w).polled.take() {
            closed_schema(reply, "commit_offsets_ok", &[])?;
            return Ok(Step::Done(Completion::ok(polled)));
        }
        closed_schema(reply, "poll_ok", &["msgs"])?;
        let msgs = match &reply["msgs"] {
            Value::Object(msgs) => msgs,
            other => return Err(format!("`msgs` must be a map, got {other}")),
        };
        let commits = self.take_msgs(w, msgs)?;
        let commit = commit_request(&commits, push_json_str);
        Ok(self.after_poll(w, poll_value(Value::Object(msgs.clone())), commit))
    }

    /// A poll's messages, key by key: moves the worker's positions past them and returns the
    /// offsets to commit. Fails on the first key whose list is malformed (the keys before it
    /// taken, as Maelstrom's client does).
    fn take_msgs<'m>(
        &mut self,
        w: usize,
        msgs: &'m Map<String, Value>,
    ) -> Result<Vec<(&'m str, i64)>, String> {
        let mut commits = Vec::new();
        for (key, list) in msgs {
            let list = list
                .as_array()
                .ok_or_else(|| format!("messages of {key:?} must be an array"))?;
            let mut max: Option<i64> = None;
            for pair in list {
                match pair.as_array().map(Vec::as_slice) {
                    Some([offset, _msg]) if offset.is_i64() => {
                        let o = offset.as_i64().unwrap_or(0);
                        max = Some(max.map_or(o, |m| m.max(o)));
                    }
                    _ => return Err(format!("{pair} is not [offset, message]")),
                }
            }
            let Some(max) = max else { continue };
            self.take_key(w, Key::of_name(key), max);
            commits.push((key.as_str(), max));
        }
        Ok(commits)
    }

    /// A poll read messages of `key` up to offset `max`.
    fn take_key(&mut self, w: usize, key: Key, max: i64) {
        self.see(key, max, true);
        let worker = self.worker(w);
        let mut digits = itoa::Buffer::new();
        let name = match key {
            Key::Number(n) => digits.format(n),
            Key::Name(name) => name,
        };
        // A new position starts from 0, then moves past what was read.
        worker.positions.raise(name, (max + 1).max(0));
        // Only the final phase reads these, and it starts them afresh.
        if worker.final_started {
            let read = worker.final_read.get_or_insert_with(key, || max);
            *read = (*read).max(max);
        }
    }

    /// After a well-formed poll whose ok value is `polled`: done if there is nothing to
    /// commit, else the commit.
    fn after_poll(&mut self, w: usize, polled: OpValue, commit: Option<Request>) -> Step {
        let Some(commit) = commit else {
            return Step::Done(Completion::ok(polled));
        };
        self.worker(w).polled = Some(polled);
        Step::Send(commit)
    }
}

/// The `commit_offsets` of a poll's highest offsets per key (in key order), or `None` when
/// it polled nothing.
fn commit_request<K: Copy>(
    commits: &[(K, i64)],
    push_key: impl Fn(&mut Vec<u8>, K),
) -> Option<Request> {
    (!commits.is_empty()).then(|| {
        Request::writer("commit_offsets")
            .field_with("offsets", |out| {
                write_offsets(out, commits.iter().copied(), push_key)
            })
            .finish()
    })
}

/// Writes a key a typed value holds: its integer as a JSON string.
fn push_key(out: &mut Vec<u8>, key: u64) {
    out.push(b'"');
    push_u64(out, key);
    out.push(b'"');
}

/// Writes a map of key to offset, keys in the order given (ascending: a map's), as serde_json
/// writes a map of strings to integers; `push_key` writes a key as a JSON string.
fn write_offsets<K>(
    out: &mut Vec<u8>,
    offsets: impl IntoIterator<Item = (K, i64)>,
    push_key: impl Fn(&mut Vec<u8>, K),
) {
    out.push(b'{');
    for (i, (key, offset)) in offsets.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_key(out, key);
        out.push(b':');
        if offset < 0 {
            out.push(b'-');
        }
        push_u64(out, offset.unsigned_abs());
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn written_offsets_and_keys_are_what_serde_writes() {
        let offsets = [("1", 5), ("a\"b", -3), ("ü\n", 0)];
        let mut out = Vec::new();
        write_offsets(&mut out, offsets, push_json_str);
        let map: BTreeMap<&str, i64> = offsets.into_iter().collect();
        assert_eq!(out, serde_json::to_vec(&map).unwrap());
        let numbered = [(1, 5), (10, -3), (2, 0)];
        let mut out = Vec::new();
        write_offsets(&mut out, numbered, push_key);
        let map: BTreeMap<String, i64> = numbered.map(|(k, o)| (k.to_string(), o)).into();
        assert_eq!(out, serde_json::to_vec(&map).unwrap());
    }

    #[test]
    fn a_typed_send_is_sent_and_recorded_as_its_json_form() {
        let w = Kafka::new(&WorkloadOptions::new(2));
        for (key, msg) in [(7, 3), (0, 0), (u64::MAX, 12_345)] {
            let typed = send_op(key, msg);
            let json = Invocation::new("send", typed.value.to_json().into_owned());
            assert!(json.value.as_json().is_some());
            assert_eq!(w.request(&typed), w.request(&json));
            assert_eq!(
                send_value(&typed, 41),
                send_value(&json, 41).to_json().into_owned()
            );
        }
    }

    /// An assign's reply moved into its value is what the borrowed map's way records, and
    /// leaves the same positions; a malformed one is named the same way.
    #[test]
    fn an_owned_assign_reply_is_recorded_as_the_borrowed_one() {
        let op = Invocation::new("assign", json!({"keys": ["1", "2", "7"]}));
        for reply in [
            json!({"type": "list_committed_offsets_ok", "in_reply_to": 1,
                   "offsets": {"1": 4, "7": 0, "9": 3}}),
            json!({"type": "list_committed_offsets_ok", "in_reply_to": 1, "offsets": {}}),
            json!({"type": "list_committed_offsets_ok", "in_reply_to": 1,
                   "offsets": {"1": 4.5}}),
            json!({"type": "list_committed_offsets_ok", "in_reply_to": 1, "offsets": [1]}),
            json!({"type": "list_committed_offsets_ok", "in_reply_to": 1}),
        ] {
            let Value::Object(reply) = reply else {
                unreachable!()
            };
            let mut owned = Kafka::new(&WorkloadOptions::new(2));
            let mut borrowed = Kafka::new(&WorkloadOptions::new(2));
            for w in [&mut owned, &mut borrowed] {
                w.worker(0).positions.raise("2", 8);
            }
            let step = owned.on_owned_reply(0, &op, reply.clone());
            assert_eq!(step, borrowed.on_reply(0, &op, &reply), "{reply:?}");
            assert_eq!(
                owned.workers[0].positions.map(),
                borrowed.workers[0].positions.map()
            );
        }
        let committed = json!({"1": 4, "10": 0});
        assert_eq!(
            assign_value(vec!["1".into(), "10".into()], committed.clone()),
            json!({"keys": ["1", "10"], "committed": committed})
        );
    }
}
