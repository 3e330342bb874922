//! Linearizability of a compare-and-set register per key (the lin-kv checker).
//!
//! The history is split by key ([`ops`]); each key is checked on its own (P-compositionality:
//! a history of independent objects is linearizable iff each object's is), the keys spread over
//! threads. Each key gets a WGL search with memoisation ([`wgl`]); a key found not linearizable
//! is explained ([`explain`]): the op that cannot be ordered, the smallest window of ops around
//! it, the register's possible values before the window and the longest linearizable prefix.
//! Every search shares one [`budget::Budget`]: past it the key's verdict is `unknown`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Map, Value};

use super::{CheckResult, Validity};
use crate::history::History;

pub mod budget;
pub mod explain;
pub mod generate;
pub mod model;
pub mod ops;
pub mod wgl;

#[cfg(test)]
mod tests;

use budget::{Budget, Exhausted};
use explain::Failure;
use ops::KeyHistory;
use wgl::Verdict;

/// How much the checker may spend.
#[derive(Clone, Debug)]
pub struct LinearOptions {
    /// Wall-clock budget for the whole check (`--checker-timeout`).
    pub timeout: Duration,
    /// Bytes the searches' memos may hold together.
    pub memory_limit: usize,
    /// Threads checking keys in parallel (0: one per core).
    pub threads: usize,
}

impl Default for LinearOptions {
    fn default() -> LinearOptions {
        LinearOptions {
            timeout: Duration::from_secs(60),
            memory_limit: 2 << 30,
            threads: 0,
        }
    }
}

/// One key's outcome.
#[derive(Clone, Debug)]
pub struct KeyResult {
    pub key: Value,
    /// Ops the check considered (ok ones, and indeterminate writes and cas).
    pub ops: usize,
    pub verdict: Verdict,
    /// For a key that is not linearizable, why (absent if explaining it ran out of budget).
    pub failure: Option<Failure>,
}

/// Checks every key, in parallel; results in key order.
pub fn check_keys(keys: &[KeyHistory], opts: &LinearOptions) -> Vec<KeyResult> {
    let budget = Budget::new(opts.timeout, opts.memory_limit);
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .clamp(1, keys.len().max(1));
    // Biggest keys first, so that one long key does not start last.
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(keys[i].events.len()));
    let cursor = AtomicUsize::new(0);
    let mut results: Vec<Option<KeyResult>> = vec![None; keys.len()];
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let next = cursor.fetch_add(1, Ordering::Relaxed);
                        let Some(&i) = order.get(next) else {
                            return done;
                        };
                        done.push((i, check_key(&keys[i], &budget)));
                    }
                })
            })
            .collect();
        for worker in workers {
            for (i, result) in worker.join().expect("checker threads do not panic") {
                results[i] = Some(result);
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every key checked"))
        .collect()
}

fn check_key(key: &KeyHistory, budget: &Budget) -> KeyResult {
    let mut verdict = wgl::check(key, budget);
    let mut failure = None;
    if verdict == Verdict::NotLinearizable {
        match explain::explain(key, budget) {
            Ok(Some(f)) => failure = Some(f),
            // The two algorithms disagree: trust neither.
            Ok(None) => verdict = Verdict::Unknown(Exhausted::Time),
            // The verdict stands without its explanation.
            Err(_) => {}
        }
    }
    KeyResult {
        key: key.key.clone(),
        ops: key.ops.len(),
        verdict,
        failure,
    }
}

/// How many failures the result explains in full.
const EXPLAINED_FAILURES: usize = 16;

/// The lin-kv workload checker: `{valid, key_count, results: {key: {valid, ops}}, failures:
/// [keys], unknown: [keys], failure_details: [..]}` plus one anomaly per non-linearizable key.
pub fn check_register_history(history: &History, opts: &LinearOptions) -> CheckResult {
    let split = ops::split_by_key(history);
    let results = check_keys(&split.keys, opts);
    let mut valid = Validity::Valid;
    let mut per_key = Map::new();
    let mut failures = Vec::new();
    let mut unknown = Vec::new();
    let mut details = Vec::new();
    let mut anomalies = Vec::new();
    let mut unknown_reason = None;
    for r in &results {
        let key_valid = match r.verdict {
            Verdict::Linearizable => Validity::Valid,
            Verdict::NotLinearizable => Validity::Invalid,
            Verdict::Unknown(why) => {
                unknown_reason.get_or_insert(why);
                Validity::Unknown
            }
        };
        valid = valid.worst(key_valid);
        let name = match &r.key {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut entry = Map::new();
        entry.insert("valid".into(), key_valid.to_json());
        entry.insert("ops".into(), Value::from(r.ops));
        per_key.insert(name, Value::Object(entry));
        match key_valid {
            Validity::Invalid => {
                failures.push(r.key.clone());
                let (message, ops) = match &r.failure {
                    Some(f) => (f.message.clone(), f.window.clone()),
                    None => (
                        format!(
                            "key {}: not linearizable (the explanation ran out of budget)",
                            r.key
                        ),
                        Vec::new(),
                    ),
                };
                anomalies.push(("not-linearizable", message, ops));
                if let Some(f) = &r.failure {
                    if details.len() < EXPLAINED_FAILURES {
                        details.push(serde_json::json!({"key": r.key, "failure": f}));
                    }
                }
            }
            Validity::Unknown => unknown.push(r.key.clone()),
            Validity::Valid => {}
        }
    }
    if !split.malformed.is_empty() {
        valid = valid.worst(Validity::Unknown);
        anomalies.push((
            "malformed-op",
            format!(
                "{} ops are not lin-kv operations on [key, value] tuples and were left out \
                 (first: history index {})",
                split.malformed.len(),
                split.malformed[0]
            ),
            split.malformed.iter().take(16).copied().collect(),
        ));
    }
    if let Some(why) = unknown_reason {
        anomalies.push((
            "check-incomplete",
            format!(
                "{} of {} keys could not be decided: {}",
                unknown.len(),
                results.len(),
                why.describe()
            ),
            Vec::new(),
        ));
    }
    let mut result = CheckResult::new(valid)
        .with("key_count", results.len())
        .with("results", per_key)
        .with("failures", &failures)
        .with("unknown", &unknown);
    if !details.is_empty() {
        result.set("failure_details", details);
    }
    for (kind, message, ops) in anomalies {
        result.anomaly(kind, message, ops);
    }
    result
}
