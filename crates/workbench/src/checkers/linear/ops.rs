//! From a lin-kv history to one register history per key: the operations that matter to
//! linearizability, and their call and return events in history order.
//!
//! Operation values are Jepsen's independent tuples: a `read` is invoked with `[k, null]` and
//! completes ok with `[k, v]`; a `write` carries `[k, v]`; a `cas` carries `[k, [from, to]]`.
//! Failed operations certainly did not happen and are left out. An indeterminate (`info`, or
//! never completed) write or cas may take effect at any time after its invocation, or never:
//! it has a call and no return. An indeterminate read observed nothing and is left out.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::{Action, Values};
use crate::history::{History, OpType};

/// One operation on one key's register.
#[derive(Clone, Debug)]
pub struct RegOp {
    /// History index of the invocation: how reports name the operation.
    pub index: usize,
    /// History index of the ok completion; `None` for an indeterminate op.
    pub completed: Option<usize>,
    pub process: u64,
    pub action: Action,
}

impl RegOp {
    /// Whether the op certainly happened (and so must be linearized).
    pub fn is_ok(&self) -> bool {
        self.completed.is_some()
    }
}

/// A call or return, in history order; the number is the op's position in [`KeyHistory::ops`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Call(u32),
    Return(u32),
}

/// One key's register history.
#[derive(Clone, Debug)]
pub struct KeyHistory {
    pub key: Value,
    pub values: Values,
    /// In invocation order.
    pub ops: Vec<RegOp>,
    /// Calls and returns in history order (indeterminate ops have no return).
    pub events: Vec<Event>,
}

impl KeyHistory {
    /// Builds the events from `ops` (which must be in invocation order).
    pub fn new(key: Value, values: Values, ops: Vec<RegOp>) -> KeyHistory {
        let mut timed: Vec<(usize, Event)> = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate() {
            timed.push((op.index, Event::Call(i as u32)));
            if let Some(done) = op.completed {
                timed.push((done, Event::Return(i as u32)));
            }
        }
        timed.sort_by_key(|(at, _)| *at);
        KeyHistory {
            key,
            values,
            ops,
            events: timed.into_iter().map(|(_, e)| e).collect(),
        }
    }

    /// How a person reads op `i`: `op 47 (read 1, process 3)`.
    pub fn describe(&self, i: usize) -> String {
        let op = &self.ops[i];
        let pending = if op.is_ok() { "" } else { ", indeterminate" };
        format!(
            "op {} ({}, process {}{pending})",
            op.index,
            self.values.describe(op.action),
            op.process
        )
    }
}

/// What splitting a history found besides the key histories.
#[derive(Debug, Default)]
pub struct Split {
    /// Key histories, ordered by key (integers numerically, then any other key as JSON text).
    pub keys: Vec<KeyHistory>,
    /// Ops whose value is not a lin-kv tuple (history indices of their invocations).
    pub malformed: Vec<usize>,
}

/// Splits a lin-kv history by key.
pub fn split_by_key(history: &History) -> Split {
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum KeyOrder {
        Int(i64),
        Other(String),
    }
    let mut per_key: BTreeMap<KeyOrder, (Value, Values, Vec<RegOp>)> = BTreeMap::new();
    let mut malformed = Vec::new();
    for pair in history.pairs() {
        let outcome = pair.outcome();
        if outcome == OpType::Fail {
            continue;
        }
        let invoke_value = pair.invoke.value.to_json();
        let Some((key, invoked)) = tuple(&invoke_value) else {
            malformed.push(pair.invoke.index);
            continue;
        };
        let order = match key.as_i64() {
            Some(k) => KeyOrder::Int(k),
            None => KeyOrder::Other(key.to_string()),
        };
        let (_, values, ops) = per_key
            .entry(order)
            .or_insert_with(|| (key.clone(), Values::default(), Vec::new()));
        let action = match (pair.invoke.f.as_str(), outcome) {
            ("read", OpType::Ok) => {
                let read = pair
                    .completion
                    .and_then(|c| c.value.as_json())
                    .and_then(tuple);
                match read {
                    Some((_, v)) => Action::Read(values.intern(v)),
                    None => {
                        malformed.push(pair.invoke.index);
                        continue;
                    }
                }
            }
            // An indeterminate read constrains nothing.
            ("read", _) => continue,
            ("write", _) => Action::Write(values.intern(invoked)),
            ("cas", _) => match invoked.as_array().map(Vec::as_slice) {
                Some([from, to]) => Action::Cas {
                    from: values.intern(from),
                    to: values.intern(to),
                },
                _ => {
                    malformed.push(pair.invoke.index);
                    continue;
                }
            },
            _ => {
                malformed.push(pair.invoke.index);
                continue;
            }
        };
        let process = match pair.invoke.process {
            crate::history::Process::Client(p) => p,
            crate::history::Process::Nemesis(_) => continue,
        };
        ops.push(RegOp {
            index: pair.invoke.index,
            completed: match outcome {
                OpType::Ok => pair.completion.map(|c| c.index),
                _ => None,
            },
            process,
            action,
        });
    }
    let keys = per_key
        .into_values()
        .filter(|(_, _, ops)| !ops.is_empty())
        .map(|(key, values, ops)| KeyHistory::new(key, values, ops))
        .collect();
    Split { keys, malformed }
}

/// `[k, v]` as (k, v).
fn tuple(value: &Value) -> Option<(&Value, &Value)> {
    match value.as_array().map(Vec::as_slice) {
        Some([k, v]) => Some((k, v)),
        _ => None,
    }
}
