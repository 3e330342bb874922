//! What the logs hold, per key, as every ok send and ok poll saw them, and the checks on single
//! messages: `inconsistent-offsets`, `duplicate`, `lost-write`, `unseen`, `G1a`, and the
//! write-read / real-time cycles (`G1c-realtime`).
//!
//! Why cycles need no graph search: without ww edges (assign mode), a write-read edge always
//! goes from a send to a poll, and polls write nothing, so a cycle alternates write-read edges
//! with chains of real-time edges. A real-time edge A -> B means A completed before B was
//! invoked (by history index); a write-read edge S -> P whose poll P completed after S was
//! invoked also moves forward. A cycle made only of forward edges would order a history index
//! before itself, so every cycle contains a backward write-read edge: a poll that completed
//! before the send of a message it returned was invoked. Each such edge is itself the cycle
//! S -wr-> P -rt-> S. Reporting those edges finds exactly the cyclic histories, in linear time.

use crate::checkers::fast_hash::{FastMap, FastSet};

use super::findings::{offsets_text, secs, Example, Findings};
use super::txns::{Body, KeyId, Msg, Offset, Txn, Txns};
use crate::history::OpType;

/// Where a message was seen: the key, the offset, and the op (txn index) that saw it.
type Sighting = (Offset, usize);

/// Everything known about the logs, key by key.
pub struct Logs {
    /// Per key, the distinct offsets any ok send or ok poll saw, sorted: a message's index in
    /// this list is its position in the version order, so gaps in offsets are not skips.
    pub offsets: Vec<Vec<Offset>>,
    /// Per key, the highest offset any ok poll returned.
    pub max_polled: Vec<Option<Offset>>,
    /// The send (txn index) of each message.
    pub sends: FastMap<(KeyId, Msg), usize>,
    /// Messages some ok poll returned.
    pub polled: FastSet<(KeyId, Msg)>,
}

impl Logs {
    /// The position of `offset` in `key`'s version order (the offset was seen, so it is there).
    pub fn index(&self, key: KeyId, offset: Offset) -> usize {
        let offsets = &self.offsets[key as usize];
        offsets.binary_search(&offset).unwrap_or_else(|i| i)
    }
}

/// Gathers the logs and checks every message.
pub fn check_messages(txns: &Txns, findings: &mut Findings) -> Logs {
    let key_count = txns.keys.len();
    let mut logs = Logs {
        offsets: vec![Vec::new(); key_count],
        max_polled: vec![None; key_count],
        sends: FastMap::default(),
        polled: FastSet::default(),
    };
    // Offset -> first message seen there, and message -> first offset seen for it; conflicts
    // are kept aside (rare), so the common case costs one map entry per message.
    let mut at_offset: FastMap<(KeyId, Offset), (Msg, usize)> = FastMap::default();
    let mut offset_conflicts: FastMap<(KeyId, Offset), Vec<(Msg, usize)>> = FastMap::default();
    let mut of_msg: FastMap<(KeyId, Msg), Sighting> = FastMap::default();
    let mut msg_conflicts: FastMap<(KeyId, Msg), Vec<Sighting>> = FastMap::default();
    let mut see = |key: KeyId, offset: Offset, msg: Msg, t: usize, logs: &mut Logs| {
        match at_offset.get(&(key, offset)) {
            None => {
                logs.offsets[key as usize].push(offset);
                at_offset.insert((key, offset), (msg, t));
            }
            Some(&(first, _)) if first != msg => {
                let others = offset_conflicts.entry((key, offset)).or_default();
                if !others.iter().any(|&(m, _)| m == msg) {
                    others.push((msg, t));
                }
            }
            Some(_) => {}
        }
        match of_msg.get(&(key, msg)) {
            None => {
                of_msg.insert((key, msg), (offset, t));
            }
            Some(&(first, _)) if first != offset => {
                let others = msg_conflicts.entry((key, msg)).or_default();
                if !others.iter().any(|&(o, _)| o == offset) {
                    others.push((offset, t));
                }
            }
            Some(_) => {}
        }
    };

    for (t, txn) in txns.txns.iter().enumerate() {
        match &txn.body {
            Body::Send { key, msg, offset } => {
                logs.sends.entry((*key, *msg)).or_insert(t);
                if let (OpType::Ok, Some(offset)) = (txn.outcome, offset) {
                    see(*key, *offset, *msg, t, &mut logs);
                }
            }
            Body::Poll(keys) if txn.outcome == OpType::Ok => {
                for (key, msgs) in keys {
                    for &(offset, msg) in msgs {
                        see(*key, offset, msg, t, &mut logs);
                        logs.polled.insert((*key, msg));
                        let max = &mut logs.max_polled[*key as usize];
                        *max = Some(max.map_or(offset, |m| m.max(offset)));
                    }
                }
            }
            _ => {}
        }
    }
    for offsets in &mut logs.offsets {
        offsets.sort_unstable();
    }

    let op = |t: usize| txns.txns[t].invoke_index;
    let mut conflicts: Vec<_> = offset_conflicts.into_iter().collect();
    conflicts.sort_unstable();
    for ((key, offset), others) in conflicts {
        let (first, first_t) = at_offset[&(key, offset)];
        let mut msgs = vec![first];
        msgs.extend(others.iter().map(|&(m, _)| m));
        let mut ops = vec![op(first_t)];
        ops.extend(others.iter().map(|&(_, t)| op(t)));
        findings.add("inconsistent-offsets", || Example {
            message: format!(
                "key {}: offset {offset} holds different messages {msgs:?} (seen by ops {ops:?}): \
                 two sends were given the same offset, or a poll returned a message at the \
                 wrong offset",
                txns.key(key)
            ),
            key: Some(txns.key(key).to_string()),
            offsets: vec![offset],
            ops,
        });
    }
    let mut dups: Vec<_> = msg_conflicts.into_iter().collect();
    dups.sort_unstable();
    for ((key, msg), others) in dups {
        let (first, first_t) = of_msg[&(key, msg)];
        let mut offsets = vec![first];
        offsets.extend(others.iter().map(|&(o, _)| o));
        let mut ops = vec![op(first_t)];
        ops.extend(others.iter().map(|&(_, t)| op(t)));
        findings.add("duplicate", || Example {
            message: format!(
                "key {}: message {msg} appears at offsets {} (seen by ops {ops:?}): it was \
                 appended more than once, or a poll reported it at the wrong offset",
                txns.key(key),
                offsets_text(&offsets)
            ),
            key: Some(txns.key(key).to_string()),
            offsets,
            ops,
        });
    }

    check_sends(txns, &logs, findings);
    check_poll_sources(txns, &logs, findings);
    logs
}

/// `lost-write` and `unseen`: acknowledged sends that no ok poll ever returned.
fn check_sends(txns: &Txns, logs: &Logs, findings: &mut Findings) {
    for txn in &txns.txns {
        let Body::Send {
            key,
            msg,
            offset: Some(offset),
        } = txn.body
        else {
            continue;
        };
        if txn.outcome != OpType::Ok || logs.polled.contains(&(key, msg)) {
            continue;
        }
        let name = txns.key(key);
        let acked = format!(
            "key {name}: offset {offset} (message {msg}) was acknowledged to process {} at {}",
            txn.process,
            secs(txn.complete_time.unwrap_or(txn.invoke_time))
        );
        let ops = vec![txn.invoke_index];
        if let Some(max) = logs.max_polled[key as usize].filter(|&max| offset <= max) {
            findings.add("lost-write", || Example {
                message: format!(
                    "{acked}, and no poll ever returned it, though polls read that key up to \
                     offset {max}: the node lost an acknowledged write"
                ),
                key: Some(name.to_string()),
                offsets: vec![offset],
                ops: ops.clone(),
            });
        }
        findings.add("unseen", || Example {
            message: format!("{acked}, and no poll ever returned it"),
            key: Some(name.to_string()),
            offsets: vec![offset],
            ops,
        });
    }
}

/// `G1a` (a poll returned a message whose send failed) and `G1c-realtime` (a poll returned a
/// message whose send began after the poll had finished).
fn check_poll_sources(txns: &Txns, logs: &Logs, findings: &mut Findings) {
    for poll in &txns.txns {
        let (Body::Poll(keys), OpType::Ok) = (&poll.body, poll.outcome) else {
            continue;
        };
        let poll_done = poll.complete_index.unwrap_or(usize::MAX);
        for (key, msgs) in keys {
            for &(offset, msg) in msgs {
                let Some(&s) = logs.sends.get(&(*key, msg)) else {
                    continue;
                };
                let send: &Txn = &txns.txns[s];
                let name = txns.key(*key);
                if send.outcome == OpType::Fail {
                    findings.add("G1a", || Example {
                        message: format!(
                            "key {name}: a poll by process {} returned message {msg} at offset \
                             {offset}, but its send by process {} failed definitely: a failed \
                             send must leave no trace",
                            poll.process, send.process
                        ),
                        key: Some(name.to_string()),
                        offsets: vec![offset],
                        ops: vec![send.invoke_index, poll.invoke_index],
                    });
                }
                if poll_done < send.invoke_index {
                    findings.add("G1c-realtime", || Example {
                        message: format!(
                            "key {name}: a poll by process {} finished at {} having returned \
                             message {msg} at offset {offset}, whose send by process {} only \
                             began at {}: a poll cannot see the future",
                            poll.process,
                            secs(poll.complete_time.unwrap_or(poll.invoke_time)),
                            send.process,
                            secs(send.invoke_time)
                        ),
                        key: Some(name.to_string()),
                        offsets: vec![offset],
                        ops: vec![send.invoke_index, poll.invoke_index],
                    });
                }
            }
        }
    }
}
