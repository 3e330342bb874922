//! What the checker found: per error type a count and the first few examples, each example a
//! sentence a person can act on plus the key, offsets and ops (history indexes) it is about.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use crate::history::Nanos;

/// Examples kept per error type (the count covers them all).
pub const EXAMPLES_PER_TYPE: usize = 5;

/// Error types the spec allows (Jepsen's kafka checker in assign mode, as Maelstrom runs it):
/// every other reported type makes the history invalid.
pub const ALLOWED: &[&str] = &[
    "int-send-skip",
    "G0",
    "G0-process",
    "G0-realtime",
    "PL-1-cycle-exists",
    "strong-PL-1-cycle-exists",
];

/// Reported by glomers beyond Maelstrom, never fatal.
pub const INFORMATIONAL: &[&str] = &["commit-regression"];

#[derive(Clone, Debug, Serialize)]
pub struct Example {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub offsets: Vec<i64>,
    pub ops: Vec<usize>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ErrorType {
    pub count: usize,
    pub examples: Vec<Example>,
}

#[derive(Default)]
pub struct Findings {
    pub by_type: BTreeMap<&'static str, ErrorType>,
}

impl Findings {
    /// Counts one case of `kind`; builds its example (the sentence) only while examples are
    /// still kept, so that a history full of errors stays cheap to check.
    pub fn add(&mut self, kind: &'static str, example: impl FnOnce() -> Example) {
        let entry = self.by_type.entry(kind).or_default();
        entry.count += 1;
        if entry.examples.len() < EXAMPLES_PER_TYPE {
            entry.examples.push(example());
        }
    }

    pub fn error_types(&self) -> Vec<&'static str> {
        self.by_type.keys().copied().collect()
    }

    /// The reported types that make the history invalid.
    pub fn bad_error_types(&self) -> Vec<&'static str> {
        self.by_type
            .keys()
            .copied()
            .filter(|t| !ALLOWED.contains(t) && !INFORMATIONAL.contains(t))
            .collect()
    }

    pub fn to_json(&self) -> Value {
        json!(self.by_type)
    }
}

/// Test time as people read it: `4.21 s`.
pub fn secs(t: Nanos) -> String {
    format!("{:.2} s", t as f64 / 1e9)
}

/// `[o1, o2, ...]` shortened to its first few.
pub fn offsets_text(offsets: &[i64]) -> String {
    const SHOWN: usize = 8;
    let mut parts: Vec<String> = offsets.iter().take(SHOWN).map(|o| o.to_string()).collect();
    if offsets.len() > SHOWN {
        parts.push(format!("... ({} in all)", offsets.len()));
    }
    parts.join(", ")
}
