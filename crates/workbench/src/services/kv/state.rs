//! The single-state key-value store the KV services evaluate requests against, and the
//! Clojure-style printing of values their error texts use.

use rpds::RedBlackTreeMapSync;
use serde_json::{json, Value};

use super::request::{error, key_does_not_exist, Request, PRECONDITION_FAILED};

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
    pub(super) key: String,
    pub(super) value: Value,
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
pub(super) fn canonical(value: &Value) -> String {
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
pub(super) fn pr_str(value: &Value) -> String {
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
pub(super) fn clojure_str(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => pr_str(other),
    }
}
