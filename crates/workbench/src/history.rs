//! The history of a test: every client operation's invocation and completion, plus nemesis
//! operations, in the order they happened. Checkers read it; `history.jsonl` stores it.

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
    pub value: Value,
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
}

impl History {
    /// Appends an op, assigning its index.
    pub fn push(&mut self, mut op: Op) -> usize {
        let index = self.ops.len();
        op.index = index;
        self.ops.push(op);
        index
    }

    /// Client ops only (the nemesis's are left out).
    pub fn client_ops(&self) -> impl Iterator<Item = &Op> {
        self.ops.iter().filter(|op| op.is_client())
    }

    /// Every client invocation with its completion, in invocation order.
    pub fn pairs(&self) -> Vec<Pair<'_>> {
        let mut open: std::collections::HashMap<Process, usize> = Default::default();
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

    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for op in &self.ops {
            out.push_str(&serde_json::to_string(op).expect("ops serialize"));
            out.push('\n');
        }
        out
    }

    pub fn from_jsonl(text: &str) -> anyhow::Result<History> {
        let mut ops = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            ops.push(
                serde_json::from_str(line)
                    .map_err(|e| anyhow::anyhow!("history line {}: {e}", i + 1))?,
            );
        }
        Ok(History { ops })
    }
}

/// Helpers for building histories in checker tests.
#[cfg(test)]
pub mod build {
    use super::*;

    pub fn op(process: u64, kind: OpType, f: &str, value: Value, time_ms: u64) -> Op {
        Op {
            index: 0,
            time: time_ms * NANOS_PER_MS,
            kind,
            process: Process::Client(process),
            f: f.to_string(),
            value,
            error: None,
            is_final: false,
        }
    }

    pub fn history(ops: Vec<Op>) -> History {
        let mut h = History::default();
        for op in ops {
            h.push(op);
        }
        h
    }
}
