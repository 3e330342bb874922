//! `worst_realtime_lag`: how stale the polls were. For each ok poll and each key it returned,
//! the lag is how long before the poll began the oldest acknowledged message after the last
//! one it returned had been acknowledged (zero when it returned everything acknowledged). A
//! node that answers polls from what it holds may lag; it must never skip.

use serde::Serialize;

use super::txns::{Body, Offset, Txn, Txns};
use crate::history::{Nanos, OpType};

#[derive(Clone, Debug, Default, Serialize)]
pub struct Lag {
    pub lag_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<u64>,
    /// The poll's invocation (history index).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_s: Option<f64>,
}

pub fn worst_realtime_lag(txns: &Txns) -> Lag {
    // Per key: ok sends by offset, with the earliest acknowledgement among later offsets.
    let acked = |txn: &Txn| match (&txn.body, txn.outcome, txn.complete_time) {
        (
            Body::Send {
                key,
                offset: Some(offset),
                ..
            },
            OpType::Ok,
            Some(done),
        ) => Some((*key, *offset, done)),
        _ => None,
    };
    // Sized first: many keys' lists would each grow several times.
    let mut counts = vec![0usize; txns.keys.len()];
    for (key, _, _) in txns.txns.iter().filter_map(acked) {
        counts[key as usize] += 1;
    }
    let mut acks: Vec<Vec<(Offset, Nanos)>> =
        counts.iter().map(|&n| Vec::with_capacity(n)).collect();
    for (key, offset, done) in txns.txns.iter().filter_map(acked) {
        acks[key as usize].push((offset, done));
    }
    for list in &mut acks {
        list.sort_unstable();
        // Suffix minimum: list[i].1 becomes the earliest acknowledgement at offset >= list[i].0.
        for i in (0..list.len().saturating_sub(1)).rev() {
            list[i].1 = list[i].1.min(list[i + 1].1);
        }
    }
    let mut worst = Lag::default();
    let mut worst_ns: Nanos = 0;
    for txn in &txns.txns {
        if !matches!((&txn.body, txn.outcome), (Body::Poll { .. }, OpType::Ok)) {
            continue;
        }
        for (key, last) in txns.polled_tops(txn) {
            let Some(last) = last else {
                continue;
            };
            let list = &acks[key as usize];
            let after = list.partition_point(|&(o, _)| o <= last);
            let Some(&(_, oldest_unread)) = list.get(after) else {
                continue;
            };
            if oldest_unread < txn.invoke_time && txn.invoke_time - oldest_unread > worst_ns {
                worst_ns = txn.invoke_time - oldest_unread;
                worst = Lag {
                    lag_s: worst_ns as f64 / 1e9,
                    key: Some(txns.key(key).to_string()),
                    process: Some(txn.process),
                    op: Some(txn.invoke_index),
                    time_s: Some(txn.invoke_time as f64 / 1e9),
                };
            }
        }
    }
    worst
}
