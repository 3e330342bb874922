//! Jepsen's kafka checker in assign mode (without write-write dependencies), as Maelstrom runs
//! it for challenges 5a-5c, plus `commit-regression`.
//!
//! Error types, each counted with a few examples (key, offsets, ops by history index, and a
//! sentence saying what happened):
//! - `inconsistent-offsets`: two messages at one key and offset;
//! - `duplicate`: one message at more than one offset;
//! - `lost-write`: an acknowledged send at or below the highest offset polls read on its key,
//!   which no poll returned;
//! - `unseen`: an acknowledged send that no poll returned by the end of the history;
//! - `poll-skip` / `nonmonotonic-poll`: a process's poll of a key started after a gap of
//!   existing messages / at or before where its previous poll of that key ended (keys dropped
//!   by an assign start afresh);
//! - `int-poll-skip` / `int-nonmonotonic-poll`: the same inside one poll;
//! - `nonmonotonic-send`: a process's later send to a key got an earlier or equal offset;
//! - `G1a`: a poll returned a message whose send failed definitely;
//! - `G1c-realtime`: the only cycles write-read and real-time edges can form (see `logs`);
//! - `empty-transaction-graph`: no send or poll succeeded at all;
//! - `commit-regression` (glomers' own, not fatal): `list_committed_offsets` answered less than
//!   an offset whose commit had been acknowledged.
//!
//! Every type outside the allowed set ([`findings::ALLOWED`]) and the informational one is
//! fatal. The cost is linear in the history (per key, tables indexed by offset and by message,
//! and one sort).

use std::collections::BTreeMap;

use serde_json::json;

use super::{CheckResult, Validity};
use crate::history::{History, OpType};

pub mod findings;
mod lag;
mod logs;
mod order;
pub mod synth;
pub mod txns;

#[cfg(test)]
mod tests;

use findings::{Example, Findings};
use txns::{Body, Txns};

/// Unseen messages listed per key in `results.json` (the count covers them all).
const UNSEEN_LISTED_PER_KEY: usize = 10;

pub fn check_kafka(history: &History) -> CheckResult {
    let txns = Txns::parse(history);
    let mut findings = Findings::default();
    let logs = logs::check_messages(&txns, &mut findings);
    order::check_order(&txns, &logs, &mut findings);
    order::check_commits(&txns, &mut findings);
    let (mut ok_sends, mut ok_polls) = (0, 0);
    for txn in txns.txns.iter().filter(|t| t.outcome == OpType::Ok) {
        match txn.body {
            Body::Send { .. } => ok_sends += 1,
            Body::Poll { .. } => ok_polls += 1,
            _ => {}
        }
    }
    if ok_sends + ok_polls == 0 {
        findings.add("empty-transaction-graph", || Example {
            message: "no send or poll succeeded, so there is nothing to check: is the node \
                      answering send and poll?"
                .into(),
            key: None,
            offsets: Vec::new(),
            ops: Vec::new(),
        });
    }
    let lag = lag::worst_realtime_lag(&txns);

    // Unseen messages per key: [[offset, message], ...] and their count (the ok sends
    // `check_messages` found no poll returned, in order).
    let mut unseen: BTreeMap<&str, (usize, Vec<[i64; 2]>)> = BTreeMap::new();
    for &t in &logs.unseen {
        if let Body::Send {
            key,
            msg,
            offset: Some(offset),
        } = txns.txns[t].body
        {
            let entry = unseen.entry(txns.key(key)).or_default();
            entry.0 += 1;
            if entry.1.len() < UNSEEN_LISTED_PER_KEY {
                entry.1.push([offset, msg]);
            }
        }
    }

    let bad = findings.bad_error_types();
    let mut result = CheckResult::new(Validity::from_bool(bad.is_empty()));
    for (kind, found) in &findings.by_type {
        for example in &found.examples {
            result.anomaly(kind, example.message.clone(), example.ops.clone());
        }
    }
    result.set("error_types", findings.error_types());
    result.set("bad_error_types", bad);
    result.set("errors", findings.to_json());
    result.set("worst_realtime_lag", lag);
    result.set(
        "unseen",
        unseen
            .into_iter()
            .map(|(k, (count, msgs))| (k, json!({"count": count, "messages": msgs})))
            .collect::<BTreeMap<_, _>>(),
    );
    result.set("ok_sends", ok_sends);
    result.set("ok_polls", ok_polls);
    result.set("keys", txns.keys.len());
    if !txns.unreadable.is_empty() {
        // Values the workload never writes: say so rather than judge them.
        result.set(
            "unreadable_ops",
            txns.unreadable.iter().take(10).collect::<Vec<_>>(),
        );
        result.valid = result.valid.worst(Validity::Unknown);
    }
    result
}
