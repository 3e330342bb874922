//! Per-process order: `poll-skip`, `nonmonotonic-poll` (from one poll to the next of the same
//! process), `int-poll-skip`, `int-nonmonotonic-poll` (inside one poll), `nonmonotonic-send`,
//! and `commit-regression` (glomers' own, not fatal).
//!
//! Positions are compared in the version order ([`Logs::index`]), not as raw offsets: a log may
//! leave offsets unused, and only skipping a message that exists is a skip.

use crate::checkers::int_table::IntTable;

use super::findings::{secs, Example, Findings};
use super::logs::Logs;
use super::txns::{Body, KeyId, Offset, Txns};
use crate::history::OpType;

/// Where a process last read or wrote a key: version-order index, offset, op index.
#[derive(Clone, Copy)]
struct Mark {
    index: usize,
    offset: Offset,
    op: usize,
}

/// Marks by key id (ids are dense: vectors, not maps).
#[derive(Default)]
struct ProcessState {
    polled: Vec<Option<Mark>>,
    sent: Vec<Option<Mark>>,
}

/// Sets `key`'s mark, returning the previous one.
fn replace(marks: &mut Vec<Option<Mark>>, key: KeyId, mark: Mark) -> Option<Mark> {
    let key = key as usize;
    if marks.len() <= key {
        marks.resize(key + 1, None);
    }
    marks[key].replace(mark)
}

pub fn check_order(txns: &Txns, logs: &Logs, findings: &mut Findings) {
    // A process runs one op at a time, so invocation order is its program order.
    let mut processes: IntTable<ProcessState> = IntTable::default();
    for txn in &txns.txns {
        if txn.outcome != OpType::Ok {
            continue;
        }
        let state = processes.get_or_insert_with(txn.process as i64, ProcessState::default);
        match &txn.body {
            Body::Assign { keys, .. } => {
                // Assign mode: keys no longer assigned start afresh.
                for (k, mark) in state.polled.iter_mut().enumerate() {
                    if mark.is_some() && !keys.contains(&(k as KeyId)) {
                        *mark = None;
                    }
                }
            }
            Body::Send {
                key,
                offset: Some(offset),
                ..
            } => {
                let mark = Mark {
                    index: logs.index(*key, *offset),
                    offset: *offset,
                    op: txn.invoke_index,
                };
                if let Some(prev) = replace(&mut state.sent, *key, mark) {
                    if mark.index <= prev.index {
                        findings.add("nonmonotonic-send", || Example {
                            message: format!(
                                "key {}: process {} sent and got offset {}, then sent again and \
                                 got offset {}: a later send must get a later offset",
                                txns.key(*key),
                                txn.process,
                                prev.offset,
                                mark.offset
                            ),
                            key: Some(txns.key(*key).to_string()),
                            offsets: vec![prev.offset, mark.offset],
                            ops: vec![prev.op, mark.op],
                        });
                    }
                }
            }
            Body::Poll { .. } => {
                for (key, msgs) in txns.polled(txn) {
                    let (Some(first), Some(last)) = (msgs.first(), msgs.last()) else {
                        continue;
                    };
                    let name = txns.key(key);
                    let op = txn.invoke_index;
                    let first_index = logs.index(key, first.0);
                    let mut ia = first_index;
                    for pair in msgs.windows(2) {
                        let (a, b) = (pair[0].0, pair[1].0);
                        let ib = logs.index(key, b);
                        if ib <= ia {
                            findings.add("int-nonmonotonic-poll", || Example {
                                message: format!(
                                    "key {name}: one poll by process {} returned offset {b} \
                                     right after offset {a}: a poll must return messages in \
                                     log order",
                                    txn.process
                                ),
                                key: Some(name.to_string()),
                                offsets: vec![a, b],
                                ops: vec![op],
                            });
                        } else if ib > ia + 1 {
                            let skipped = skipped_text(logs, key, ia + 1, ib);
                            findings.add("int-poll-skip", || Example {
                                message: format!(
                                    "key {name}: one poll by process {} jumped from offset {a} \
                                     to {b}, skipping {skipped}",
                                    txn.process
                                ),
                                key: Some(name.to_string()),
                                offsets: vec![a, b],
                                ops: vec![op],
                            });
                        }
                        ia = ib;
                    }
                    let mark = Mark {
                        index: ia,
                        offset: last.0,
                        op,
                    };
                    if let Some(prev) = replace(&mut state.polled, key, mark) {
                        if first_index <= prev.index {
                            findings.add("nonmonotonic-poll", || Example {
                                message: format!(
                                    "key {name}: process {} polled up to offset {}, then its \
                                     next poll started at offset {}: a poll must go on after \
                                     where the previous one ended",
                                    txn.process, prev.offset, first.0
                                ),
                                key: Some(name.to_string()),
                                offsets: vec![prev.offset, first.0],
                                ops: vec![prev.op, op],
                            });
                        } else if first_index > prev.index + 1 {
                            let skipped = skipped_text(logs, key, prev.index + 1, first_index);
                            findings.add("poll-skip", || Example {
                                message: format!(
                                    "key {name}: process {} polled up to offset {}, then its \
                                     next poll started at offset {}, skipping {skipped}",
                                    txn.process, prev.offset, first.0
                                ),
                                key: Some(name.to_string()),
                                offsets: vec![prev.offset, first.0],
                                ops: vec![prev.op, op],
                            });
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// `commit-regression`: an assign's `list_committed_offsets` answered less for a key than an
/// offset whose commit had been acknowledged before the assign began. An ok poll committed,
/// inside its op, the highest offset it returned per key.
pub fn check_commits(txns: &Txns, findings: &mut Findings) {
    // Ok polls at their completion and ok assigns at their invocation, in history order: the
    // assigns (in invocation order) merged with the polls (in completion order).
    let is_ok = |t: usize, assign: bool| {
        let txn = &txns.txns[t];
        txn.outcome == OpType::Ok
            && match txn.body {
                Body::Assign { .. } => assign,
                Body::Poll { .. } => !assign,
                _ => false,
            }
    };
    let mut assigns = (0..txns.txns.len())
        .filter(|&t| is_ok(t, true))
        .map(|t| (txns.txns[t].invoke_index, t))
        .peekable();
    let mut polls = txns
        .completed
        .iter()
        .map(|&t| t as usize)
        .filter(|&t| is_ok(t, false))
        .map(|t| (txns.txns[t].complete_index.unwrap_or(usize::MAX), t))
        .peekable();
    let events = std::iter::from_fn(|| match (assigns.peek(), polls.peek()) {
        (Some(a), Some(p)) if a < p => assigns.next(),
        (_, Some(_)) => polls.next(),
        _ => assigns.next(),
    });
    // Per key: the highest acknowledged commit and the poll that made it.
    let mut committed: Vec<Option<(Offset, usize)>> = vec![None; txns.keys.len()];
    for (_, t) in events {
        let txn = &txns.txns[t];
        match &txn.body {
            Body::Poll { .. } => {
                for (key, max) in txns.polled_tops(txn) {
                    if let Some(max) = max {
                        let entry = committed[key as usize].get_or_insert((max, t));
                        if max > entry.0 {
                            *entry = (max, t);
                        }
                    }
                }
            }
            Body::Assign {
                keys,
                committed: answer,
            } => {
                for key in keys {
                    let Some((acked, poll)) = committed[*key as usize] else {
                        continue;
                    };
                    let answered = answer
                        .binary_search_by_key(key, |&(k, _)| k)
                        .ok()
                        .map(|i| answer[i].1);
                    if answered.is_some_and(|o| o >= acked) {
                        continue;
                    }
                    let name = txns.key(*key);
                    let poll = &txns.txns[poll];
                    let said = answered.map_or("nothing".to_string(), |o| o.to_string());
                    findings.add("commit-regression", || Example {
                        message: format!(
                            "key {name}: the commit of offset {acked} was acknowledged to process \
                             {} at {}, yet list_committed_offsets answered {said} to process {} \
                             at {} (reported, not fatal)",
                            poll.process,
                            secs(poll.complete_time.unwrap_or(poll.invoke_time)),
                            txn.process,
                            secs(txn.complete_time.unwrap_or(txn.invoke_time))
                        ),
                        key: Some(name.to_string()),
                        offsets: answered.into_iter().chain([acked]).collect(),
                        ops: vec![poll.invoke_index, txn.invoke_index],
                    });
                }
            }
            _ => {}
        }
    }
}

/// "offset 4, which exists" / "offsets 4 to 6, 2 messages that exist": the version-order
/// positions [from, to) a poll jumped over.
fn skipped_text(logs: &Logs, key: KeyId, from: usize, to: usize) -> String {
    let offsets = &logs.offsets[key as usize];
    if to - from == 1 {
        format!("offset {}, which exists", offsets[from])
    } else {
        format!(
            "offsets {} to {}, {} messages that exist",
            offsets[from],
            offsets[to - 1],
            to - from
        )
    }
}
