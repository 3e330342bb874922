//! The key-value services `lin-kv`, `seq-kv` and `lww-kv`.
//!
//! All three speak the same API (`read`, `write`, `cas`; spec 2.1) over one single-state store,
//! [`KvState`]; they differ only in which state a request is evaluated against (spec 2.2):
//!
//! - [`LinKv`]: one state, every request applied in arrival order.
//! - [`SeqKv`]: Maelstrom's window of the last 32 states with a per-caller index.
//! - [`LwwKv`]: two replicas that never converge; each request goes to a random one.
//!
//! Keys and values are arbitrary JSON compared structurally, as Clojure's `=` compares the
//! parsed JSON: `{"a":1,"b":2}` equals `{"b":2,"a":1}`, but `1` and `1.0` differ.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use rand::Rng as _;
use rpds::RedBlackTreeMapSync;
use serde_json::{json, Map, Value};

use super::Service;
use crate::net::Addr;
use crate::Rng;

/// Error codes the KV services answer with (spec 1.6).
const MALFORMED_REQUEST: u64 = 12;
const KEY_DOES_NOT_EXIST: u64 = 20;
const PRECONDITION_FAILED: u64 = 22;

/// How many states seq-kv keeps (Maelstrom's `(sequential 32 ...)`).
const SEQ_WINDOW: usize = 32;

/// How many replicas lww-kv simulates (Maelstrom's `(eventual 2 ...)`, not the documented 5).
const LWW_REPLICAS: usize = 2;

fn error(code: u64, text: impl Into<String>) -> Value {
    json!({"type": "error", "code": code, "text": text.into()})
}

fn key_does_not_exist() -> Value {
    error(KEY_DOES_NOT_EXIST, "key does not exist")
}

// ---------------------------------------------------------------------------------------------
// Requests

/// A well-formed KV request.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    Read {
        key: Value,
    },
    Write {
        key: Value,
        value: Value,
    },
    Cas {
        key: Value,
        from: Value,
        to: Value,
        create_if_not_exists: bool,
    },
}

impl Request {
    fn key(&self) -> &Value {
        match self {
            Request::Read { key } | Request::Write { key, .. } | Request::Cas { key, .. } => key,
        }
    }
}

/// What a request body turned out to be.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    Request(Request),
    /// A known type with missing or ill-typed fields: answered with error 12.
    Malformed(String),
    /// An unknown (or missing) `type`: Maelstrom's service throws, logs and never answers.
    Unknown,
}

/// Parses a KV request body.
///
/// Maelstrom does not validate KV requests: a missing `key` or `value` reads as Clojure `nil`,
/// so a `write` without a key silently stores under the key `nil`. glomers refuses such requests
/// with error 12 instead (an explicit JSON `null` is still an ordinary key or value).
pub fn parse(body: &Map<String, Value>) -> Parsed {
    let field = |name: &str| -> Result<Value, String> {
        body.get(name)
            .cloned()
            .ok_or_else(|| format!("missing field {name:?}"))
    };
    let request = match body.get("type").and_then(Value::as_str) {
        Some("read") => field("key").map(|key| Request::Read { key }),
        Some("write") => {
            field("key").and_then(|key| field("value").map(|value| Request::Write { key, value }))
        }
        Some("cas") => (|| {
            let create_if_not_exists = match body.get("create_if_not_exists") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                // Maelstrom would take any non-false value as true (Clojure truthiness), so
                // `"false"` would create the key: refuse instead of guessing.
                Some(other) => {
                    return Err(format!(
                        "create_if_not_exists must be a boolean, got {other}"
                    ))
                }
            };
            Ok(Request::Cas {
                key: field("key")?,
                from: field("from")?,
                to: field("to")?,
                create_if_not_exists,
            })
        })(),
        _ => return Parsed::Unknown,
    };
    match request {
        Ok(request) => Parsed::Request(request),
        Err(why) => Parsed::Malformed(why),
    }
}

// ---------------------------------------------------------------------------------------------
// The single-state store

/// Which of Maelstrom's two KV state machines to follow. They differ only in `cas`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Semantics {
    /// `PersistentKV`, behind lin-kv and seq-kv.
    Persistent,
    /// `LWWKV`, behind lww-kv: `cas` ignores `create_if_not_exists`, and its error text prints
    /// `from` with `str` rather than `pr-str`.
    LastWriteWins,
}

/// The effect of a mutating request: the one key it sets. Every KV request changes at most one
/// key, so this is a complete description of the next state.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    key: String,
    value: Value,
}

/// One state of a key-value store. Keys are stored as canonical JSON text (object keys sorted)
/// so that structurally equal keys are the same map key.
///
/// The map is persistent (structurally shared), as Maelstrom's Clojure maps are: cloning a state
/// is O(1) and committing a change copies only the O(log n) path to its key, so seq-kv's window
/// of 32 states costs one store plus the paths that differ, never 32 copies of the data.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KvState {
    entries: RedBlackTreeMapSync<String, Value>,
}

impl KvState {
    /// Evaluates `request` against this state without touching it: returns the reply body and,
    /// when the request would produce a *different* state, the change that produces it. Writing
    /// the value a key already holds (or a successful cas with `from == to`) changes nothing,
    /// which matters to seq-kv: Maelstrom compares the states before and after with `=`.
    pub fn apply(&self, request: &Request, semantics: Semantics) -> (Value, Option<Change>) {
        let key = canonical(request.key());
        let current = self.entries.get(&key);
        match request {
            Request::Read { .. } => match current {
                Some(value) => (json!({"type": "read_ok", "value": value}), None),
                None => (key_does_not_exist(), None),
            },
            Request::Write { value, .. } => {
                (json!({"type": "write_ok"}), change(current, key, value))
            }
            Request::Cas {
                from,
                to,
                create_if_not_exists,
                ..
            } => match current {
                Some(value) if value == from => {
                    (json!({"type": "cas_ok"}), change(current, key, to))
                }
                Some(value) => {
                    let from_text = match semantics {
                        Semantics::Persistent => pr_str(from),
                        Semantics::LastWriteWins => clojure_str(from),
                    };
                    let text = format!("current value {} is not {from_text}", pr_str(value));
                    (error(PRECONDITION_FAILED, text), None)
                }
                None if *create_if_not_exists && semantics == Semantics::Persistent => {
                    (json!({"type": "cas_ok"}), change(current, key, to))
                }
                None => (key_does_not_exist(), None),
            },
        }
    }

    /// Applies a change computed by [`KvState::apply`] on this very state.
    pub fn commit(&mut self, change: Change) {
        self.entries.insert_mut(change.key, change.value);
    }

    /// The value stored under `key`, if any.
    pub fn get(&self, key: &Value) -> Option<&Value> {
        self.entries.get(&canonical(key))
    }
}

/// The change that stores `new` under `key`, or None when `key` already holds an equal value.
fn change(current: Option<&Value>, key: String, new: &Value) -> Option<Change> {
    (current != Some(new)).then(|| Change {
        key,
        value: new.clone(),
    })
}

/// Canonical JSON text of a key: objects with sorted keys at every level, so that the text is
/// the same for structurally equal values whatever order their fields arrived in (and whether
/// or not serde_json's `preserve_order` feature is on). `1` and `1.0` stay distinct, as in
/// Clojure, where a Long never equals a Double.
fn canonical(value: &Value) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                let mut fields: Vec<(&String, &Value)> = map.iter().collect();
                fields.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (k, v)) in fields.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(v, out);
                }
                out.push('}');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// Roughly Clojure's `pr-str` of a parsed JSON value, as Maelstrom's error texts print values:
/// `nil`, quoted strings, `[1 2]`, `{"a" 1, "b" 2}`. Informational only: nodes must not parse it.
fn pr_str(value: &Value) -> String {
    match value {
        Value::Null => "nil".into(),
        Value::String(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(pr_str).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} {}", pr_str(&Value::String(k.clone())), pr_str(v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        Value::Bool(_) | Value::Number(_) => value.to_string(),
    }
}

/// Clojure's `str`: like `pr-str` except that a top-level string is unquoted and nil is empty.
fn clojure_str(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => pr_str(other),
    }
}

/// Parses a request, answering malformed ones with error 12 and unknown ones with nothing.
/// `Ok(request)` means the caller should evaluate it.
fn accept(body: &Map<String, Value>) -> Result<Request, Option<Value>> {
    match parse(body) {
        Parsed::Request(request) => Ok(request),
        Parsed::Malformed(why) => Err(Some(error(MALFORMED_REQUEST, why))),
        Parsed::Unknown => Err(None),
    }
}

// ---------------------------------------------------------------------------------------------
// lin-kv

/// `lin-kv`: a single atomic state, every request applied in arrival order. Linearizable.
#[derive(Debug, Default)]
pub struct LinKv {
    state: KvState,
}

impl Service for LinKv {
    fn name(&self) -> &'static str {
        "lin-kv"
    }

    fn handle(&mut self, _src: Addr, body: &Map<String, Value>, _rng: &mut Rng) -> Option<Value> {
        let request = match accept(body) {
            Ok(request) => request,
            Err(answer) => return answer,
        };
        let (reply, change) = self.state.apply(&request, Semantics::Persistent);
        if let Some(change) = change {
            self.state.commit(change);
        }
        Some(reply)
    }
}

// ---------------------------------------------------------------------------------------------
// seq-kv

/// `seq-kv`: sequentially consistent, as Maelstrom's `sequential` wrapper implements it.
///
/// States are numbered 0, 1, 2, ... (state 0 is the empty store); the last 32 are kept. Each
/// caller (`src`) has the index of the last state it interacted with, 0 at first. A request is
/// evaluated against a state picked uniformly between the caller's index and the newest:
/// - if that leaves the picked state as it was (reads, failed cas, writing the value the key
///   already has there), the answer is served from it and the caller's index moves to the pick;
/// - otherwise the request is re-executed on the newest state, the result appended as a new
///   state (even when the re-execution itself changes nothing, e.g. a cas that fails there),
///   and the caller's index jumps to it.
#[derive(Debug)]
pub struct SeqKv {
    /// The last (up to) 32 states, oldest first; the back one has index `last_index`. States
    /// are shared, so appending an unchanged state costs a reference count.
    states: VecDeque<Arc<KvState>>,
    last_index: u64,
    /// Per caller, the index of the last state it interacted with.
    clients: HashMap<Addr, u64>,
}

impl Default for SeqKv {
    fn default() -> SeqKv {
        SeqKv {
            states: VecDeque::from([Arc::new(KvState::default())]),
            last_index: 0,
            clients: HashMap::new(),
        }
    }
}

impl SeqKv {
    /// The state served for index `index`.
    ///
    /// Maelstrom looks it up as the ring buffer's `(nth buffer (- index last-index 1))`, and the
    /// ring buffer resolves that negative position modulo its length. Within the window this is
    /// the state with that index; an index that has left the window (a caller more than 32
    /// states behind, or a new caller once more than 31 mutations happened) wraps around to
    /// the state whose index is congruent modulo 32, usually newer than the one picked, while
    /// the caller's recorded index stays the older pick (spec 2.2).
    fn state_at(&self, index: u64) -> &Arc<KvState> {
        let offset = index as i64 - self.last_index as i64 - 1;
        let position = offset.rem_euclid(self.states.len() as i64) as usize;
        &self.states[position]
    }

    fn append(&mut self, state: Arc<KvState>) {
        self.states.push_back(state);
        if self.states.len() > SEQ_WINDOW {
            self.states.pop_front();
        }
        self.last_index += 1;
    }
}

impl Service for SeqKv {
    fn name(&self) -> &'static str {
        "seq-kv"
    }

    fn handle(&mut self, src: Addr, body: &Map<String, Value>, rng: &mut Rng) -> Option<Value> {
        let request = match accept(body) {
            Ok(request) => request,
            Err(answer) => return answer,
        };
        let client_index = self.clients.get(&src).copied().unwrap_or(0);
        // Maelstrom: client-index + rand-int(last-index - client-index + 1); newest included.
        let index = rng.gen_range(client_index..=self.last_index);
        let (reply, change) = self.state_at(index).apply(&request, Semantics::Persistent);
        if change.is_none() {
            self.clients.insert(src, index);
            return Some(reply);
        }
        // Changing an old state could fork the timeline: run it on the newest state instead.
        let newest = Arc::clone(self.states.back().expect("seq-kv always holds a state"));
        let (reply, change) = newest.apply(&request, Semantics::Persistent);
        let next = match change {
            Some(change) => {
                let mut state = KvState::clone(&newest);
                state.commit(change);
                Arc::new(state)
            }
            None => newest,
        };
        self.append(next);
        self.clients.insert(src, self.last_index);
        Some(reply)
    }
}

// ---------------------------------------------------------------------------------------------
// lww-kv

/// `lww-kv`, as Maelstrom's code behaves rather than as its documentation says: two independent
/// replicas and each request served by a uniformly random one. Maelstrom also merges a random
/// replica pair on every request but discards the merged value, so replicas never converge and
/// a write is only ever visible on the replica it landed on. The Lamport clock it keeps is
/// therefore never observable and is left out here.
#[derive(Debug, Default)]
pub struct LwwKv {
    replicas: [KvState; LWW_REPLICAS],
}

impl Service for LwwKv {
    fn name(&self) -> &'static str {
        "lww-kv"
    }

    fn handle(&mut self, _src: Addr, body: &Map<String, Value>, rng: &mut Rng) -> Option<Value> {
        let request = match accept(body) {
            Ok(request) => request,
            Err(answer) => return answer,
        };
        let replica = &mut self.replicas[rng.gen_range(0..LWW_REPLICAS)];
        let (reply, change) = replica.apply(&request, Semantics::LastWriteWins);
        if let Some(change) = change {
            replica.commit(change);
        }
        Some(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng(seed: u64) -> Rng {
        Rng::seed_from_u64(seed)
    }

    fn body(v: Value) -> Map<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    /// A participant's address from its id.
    fn addr(id: &str) -> Addr {
        Addr::parse(id, 100).expect("a participant id")
    }

    /// Sends one request and expects an answer.
    fn call(service: &mut dyn Service, src: &str, request: Value, rng: &mut Rng) -> Value {
        service
            .handle(addr(src), &body(request.clone()), rng)
            .unwrap_or_else(|| panic!("{} did not answer {request}", service.name()))
    }

    fn read(service: &mut dyn Service, src: &str, key: Value, rng: &mut Rng) -> Value {
        call(service, src, json!({"type": "read", "key": key}), rng)
    }

    fn write(service: &mut dyn Service, src: &str, key: Value, value: Value, rng: &mut Rng) {
        let reply = call(
            service,
            src,
            json!({"type": "write", "key": key, "value": value}),
            rng,
        );
        assert_eq!(reply, json!({"type": "write_ok"}));
    }

    /// The value a read_ok carries, or None for a key-does-not-exist error.
    fn read_value(reply: &Value) -> Option<Value> {
        match reply["type"].as_str() {
            Some("read_ok") => Some(reply["value"].clone()),
            Some("error") if reply["code"] == 20 => None,
            _ => panic!("unexpected read reply {reply}"),
        }
    }

    #[test]
    fn lin_kv_reading_a_missing_key_is_20() {
        let mut kv = LinKv::default();
        let reply = read(&mut kv, "n0", json!("x"), &mut rng(1));
        assert_eq!(
            reply,
            json!({"type": "error", "code": 20, "text": "key does not exist"})
        );
    }

    #[test]
    fn lin_kv_write_then_read() {
        let mut kv = LinKv::default();
        let mut r = rng(1);
        write(&mut kv, "n0", json!("x"), json!([1, {"a": null}]), &mut r);
        assert_eq!(
            read(&mut kv, "n1", json!("x"), &mut r),
            json!({"type": "read_ok", "value": [1, {"a": null}]})
        );
    }

    #[test]
    fn lin_kv_cas_mismatch_is_22_with_the_current_value() {
        let mut kv = LinKv::default();
        let mut r = rng(1);
        write(&mut kv, "n0", json!("x"), json!(1), &mut r);
        let reply = call(
            &mut kv,
            "n0",
            json!({"type": "cas", "key": "x", "from": 2, "to": 3}),
            &mut r,
        );
        assert_eq!(reply["code"], 22);
        assert_eq!(reply["text"], "current value 1 is not 2");
        let reply = call(
            &mut kv,
            "n0",
            json!({"type": "cas", "key": "x", "from": "a", "to": 3}),
            &mut r,
        );
        assert_eq!(reply["text"], "current value 1 is not \"a\"");
        // A missing key without the flag is 20.
        let reply = call(
            &mut kv,
            "n0",
            json!({"type": "cas", "key": "y", "from": 1, "to": 2}),
            &mut r,
        );
        assert_eq!(reply["code"], 20);
        // A match succeeds.
        let reply = call(
            &mut kv,
            "n0",
            json!({"type": "cas", "key": "x", "from": 1, "to": 3}),
            &mut r,
        );
        assert_eq!(reply, json!({"type": "cas_ok"}));
        assert_eq!(read(&mut kv, "n0", json!("x"), &mut r)["value"], 3);
    }

    #[test]
    fn lin_kv_cas_create_if_not_exists() {
        let mut kv = LinKv::default();
        let mut r = rng(1);
        let cas =
            json!({"type": "cas", "key": "c", "from": 0, "to": 5, "create_if_not_exists": true});
        assert_eq!(
            call(&mut kv, "n0", cas.clone(), &mut r),
            json!({"type": "cas_ok"})
        );
        assert_eq!(read(&mut kv, "n0", json!("c"), &mut r)["value"], 5);
        // Once the key exists the flag no longer helps: 5 is not 0.
        assert_eq!(call(&mut kv, "n0", cas, &mut r)["code"], 22);
    }

    #[test]
    fn keys_and_values_compare_structurally() {
        let mut kv = LinKv::default();
        let mut r = rng(1);
        write(
            &mut kv,
            "n0",
            json!({"a": 1, "b": [2, 3]}),
            json!("v"),
            &mut r,
        );
        let same: Value = serde_json::from_str(r#"{"b": [2, 3], "a": 1}"#).unwrap();
        assert_eq!(read(&mut kv, "n0", same, &mut r)["value"], "v");
        // 1 and 1.0 differ, as a Long and a Double differ in Clojure.
        write(&mut kv, "n0", json!(1), json!(1), &mut r);
        assert_eq!(read_value(&read(&mut kv, "n0", json!(1.0), &mut r)), None);
        let cas = json!({"type": "cas", "key": 1, "from": 1.0, "to": 2});
        assert_eq!(call(&mut kv, "n0", cas, &mut r)["code"], 22);
        // null is an ordinary key.
        write(&mut kv, "n0", Value::Null, json!("nil"), &mut r);
        assert_eq!(read(&mut kv, "n0", Value::Null, &mut r)["value"], "nil");
    }

    #[test]
    fn malformed_requests_get_12() {
        let mut r = rng(1);
        let bad = [
            json!({"type": "read"}),
            json!({"type": "write", "key": "x"}),
            json!({"type": "write", "value": 1}),
            json!({"type": "cas", "key": "x", "from": 1}),
            json!({"type": "cas", "key": "x", "to": 1}),
            json!({"type": "cas", "key": "x", "from": 1, "to": 2, "create_if_not_exists": "yes"}),
        ];
        let services: Vec<Box<dyn Service>> = vec![
            Box::new(LinKv::default()),
            Box::new(SeqKv::default()),
            Box::new(LwwKv::default()),
        ];
        for mut service in services {
            for request in &bad {
                let reply = call(service.as_mut(), "n0", request.clone(), &mut r);
                assert_eq!(reply["type"], "error", "{request}");
                assert_eq!(reply["code"], 12, "{request}");
                assert!(reply["text"].is_string());
            }
        }
    }

    #[test]
    fn unknown_type_gets_no_reply() {
        let mut r = rng(1);
        for mut service in crate::services::all() {
            for request in [json!({"type": "delete", "key": "x"}), json!({"key": "x"})] {
                assert_eq!(
                    service.handle(addr("n0"), &body(request), &mut r),
                    None,
                    "{}",
                    service.name()
                );
            }
        }
    }

    /// n1 writes `key` = 1, 2, ..., `count` on a fresh seq-kv.
    fn seq_kv_with_writes(count: u64, r: &mut Rng) -> SeqKv {
        let mut kv = SeqKv::default();
        for i in 1..=count {
            write(&mut kv, "n1", json!("k"), json!(i), r);
        }
        assert_eq!(kv.last_index, count);
        kv
    }

    #[test]
    fn seq_kv_serves_stale_reads() {
        let mut r = rng(7);
        let mut kv = seq_kv_with_writes(10, &mut r);
        // Fresh callers start at state 0, so their first read may see any of the 11 states.
        let seen: Vec<Option<Value>> = (0..100)
            .map(|i| read_value(&read(&mut kv, &format!("c{i}"), json!("k"), &mut r)))
            .collect();
        assert!(
            seen.contains(&None),
            "some caller sees the empty initial state"
        );
        assert!(
            seen.contains(&Some(json!(10))),
            "some caller sees the newest state"
        );
        assert!(
            seen.iter().any(|v| matches!(v, Some(x) if x != &json!(10))),
            "stale values"
        );
        // Reads never create states.
        assert_eq!(kv.last_index, 10);
    }

    #[test]
    fn seq_kv_reads_are_monotonic_per_caller() {
        for seed in 0..20 {
            let mut r = rng(seed);
            let mut kv = SeqKv::default();
            let mut last_seen = 0;
            for i in 1..=200u64 {
                write(&mut kv, "n1", json!("k"), json!(i), &mut r);
                // Stay within the 32-state window, where monotonicity is promised.
                let lag = kv.last_index - kv.clients.get(&addr("n2")).copied().unwrap_or(0);
                if lag >= SEQ_WINDOW as u64 {
                    break;
                }
                let value = read_value(&read(&mut kv, "n2", json!("k"), &mut r));
                let value = value.map_or(0, |v| v.as_u64().unwrap());
                assert!(
                    value >= last_seen,
                    "seed {seed}: read {value} after {last_seen}"
                );
                assert!(value <= i);
                last_seen = value;
            }
        }
    }

    #[test]
    fn seq_kv_a_successful_write_catches_the_caller_up() {
        for seed in 0..20 {
            let mut r = rng(seed);
            let mut kv = seq_kv_with_writes(20, &mut r);
            // A write of a value no state holds must land on the newest state.
            write(&mut kv, "n2", json!("n2-marker"), json!(seed), &mut r);
            assert_eq!(kv.clients[&addr("n2")], 21);
            let reply = read(&mut kv, "n2", json!("k"), &mut r);
            assert_eq!(read_value(&reply), Some(json!(20)), "seed {seed}");
        }
    }

    #[test]
    fn seq_kv_a_write_can_be_ordered_into_the_past() {
        // States: 0 {}, 1 {k:1}, 2 {k:2}. Writing k=1 against state 1 changes nothing there, so
        // it is acknowledged without a new state; against 0 or 2 it is appended as state 3.
        let mut appended = 0;
        let mut into_the_past = 0;
        for seed in 0..50 {
            let mut r = rng(seed);
            let mut kv = seq_kv_with_writes(2, &mut r);
            write(&mut kv, "n2", json!("k"), json!(1), &mut r);
            match kv.last_index {
                2 => {
                    into_the_past += 1;
                    assert_eq!(kv.clients[&addr("n2")], 1);
                }
                3 => {
                    appended += 1;
                    assert_eq!(kv.clients[&addr("n2")], 3);
                    assert_eq!(kv.states.back().unwrap().get(&json!("k")), Some(&json!(1)));
                }
                other => panic!("unexpected last index {other}"),
            }
        }
        assert!(
            appended > 0 && into_the_past > 0,
            "{appended} / {into_the_past}"
        );
    }

    #[test]
    fn seq_kv_a_cas_that_fails_on_the_newest_state_still_appends() {
        // A cas from 1 to 9 matches state 1 only. When it is picked, the re-execution on the
        // newest state (k = 2) answers 22, yet a state is appended and the caller jumps to it.
        let mut saw_reexecuted_failure = false;
        for seed in 0..50 {
            let mut r = rng(seed);
            let mut kv = seq_kv_with_writes(2, &mut r);
            let cas = json!({"type": "cas", "key": "k", "from": 1, "to": 9});
            let reply = call(&mut kv, "n2", cas, &mut r);
            // Picking state 0 (no key yet) answers a spurious 20; state 2 a plain 22.
            assert!(reply["code"] == 20 || reply["code"] == 22, "{reply}");
            if kv.last_index == 3 {
                saw_reexecuted_failure = true;
                assert_eq!(kv.clients[&addr("n2")], 3);
                assert_eq!(reply["text"], "current value 2 is not 1");
                assert_eq!(
                    kv.states[3], kv.states[2],
                    "the appended state is unchanged"
                );
            }
        }
        assert!(saw_reexecuted_failure);
    }

    #[test]
    fn seq_kv_wraps_around_modulo_32() {
        let mut r = rng(3);
        // States 0..=40, state i holding k = i; the window keeps states 9..=40.
        let kv = seq_kv_with_writes(40, &mut r);
        assert_eq!(kv.states.len(), SEQ_WINDOW);
        let served = |index: u64| kv.state_at(index).get(&json!("k")).cloned();
        assert_eq!(served(40), Some(json!(40)));
        assert_eq!(served(9), Some(json!(9)));
        // Index 3 left the window: the lookup wraps to state 35 (35 = 3 mod 32).
        assert_eq!(served(3), Some(json!(35)));
        assert_eq!(served(0), Some(json!(32)));
    }

    #[test]
    fn lww_kv_replicas_diverge() {
        let mut r = rng(5);
        let mut kv = LwwKv::default();
        write(&mut kv, "n0", json!("k"), json!(1), &mut r);
        let seen: Vec<Option<Value>> = (0..40)
            .map(|_| read_value(&read(&mut kv, "n0", json!("k"), &mut r)))
            .collect();
        // The write landed on one replica only and is never merged into the other.
        assert!(seen.contains(&None));
        assert!(seen.contains(&Some(json!(1))));
        assert_eq!(
            kv.replicas
                .iter()
                .filter(|s| s.get(&json!("k")).is_some())
                .count(),
            1
        );
    }

    #[test]
    fn lww_kv_cas_ignores_create_if_not_exists() {
        let mut r = rng(5);
        let mut kv = LwwKv::default();
        for _ in 0..10 {
            let cas = json!({"type": "cas", "key": "c", "from": 0, "to": 1, "create_if_not_exists": true});
            assert_eq!(call(&mut kv, "n0", cas, &mut r)["code"], 20);
        }
        // Its 22 text prints `from` with `str`: unquoted.
        kv.replicas[0].commit(Change {
            key: canonical(&json!("s")),
            value: json!("a"),
        });
        kv.replicas[1] = kv.replicas[0].clone();
        let cas = json!({"type": "cas", "key": "s", "from": "b", "to": "c"});
        assert_eq!(
            call(&mut kv, "n0", cas, &mut r)["text"],
            "current value \"a\" is not b"
        );
    }

    #[test]
    fn pr_str_prints_like_clojure() {
        assert_eq!(pr_str(&Value::Null), "nil");
        assert_eq!(pr_str(&json!([1, "a", null])), "[1 \"a\" nil]");
        assert_eq!(pr_str(&json!({"a": 1.5})), "{\"a\" 1.5}");
        assert_eq!(clojure_str(&Value::Null), "");
    }
}
