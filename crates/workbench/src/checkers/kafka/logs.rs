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

use crate::checkers::fast_hash::FastMap;

use super::findings::{offsets_text, secs, Example, Findings};
use super::txns::{Body, KeyId, Msg, Offset, Txn, Txns};
use crate::checkers::int_table::IntTable;
use crate::history::OpType;

/// Where a message was seen: the offset, and the op (txn index) that saw it.
type Sighting = (Offset, usize);

/// The first message seen at an offset, the op (txn index) that saw it, and the offset's
/// position in the key's version order.
#[derive(Clone, Copy, Debug)]
struct AtOffset {
    msg: Msg,
    txn: u32,
    index: u32,
}

/// One message of a key: the first offset it was seen at and by which op, its first send
/// (txn index), and whether an ok poll returned it.
#[derive(Clone, Copy, Debug, Default)]
struct OfMsg {
    seen: Option<(Offset, u32)>,
    send: Option<u32>,
    polled: bool,
}

/// One key's offsets and messages.
#[derive(Default)]
struct KeyLog {
    at_offset: IntTable<AtOffset>,
    of_msg: IntTable<OfMsg>,
}

/// Everything known about the logs, key by key.
pub struct Logs {
    /// Per key, the distinct offsets any ok send or ok poll saw, sorted: a message's index in
    /// this list is its position in the version order, so gaps in offsets are not skips.
    pub offsets: Vec<Vec<Offset>>,
    /// Per key, the highest offset any ok poll returned.
    pub max_polled: Vec<Option<Offset>>,
    /// The ok sends (txn indexes, in order) whose message no ok poll returned.
    pub unseen: Vec<usize>,
    keys: Vec<KeyLog>,
}

impl Logs {
    /// The position of `offset` in `key`'s version order (the offset was seen, so it is there).
    pub fn index(&self, key: KeyId, offset: Offset) -> usize {
        match self.keys[key as usize].at_offset.get(offset) {
            Some(at) => at.index as usize,
            None => {
                let offsets = &self.offsets[key as usize];
                offsets.binary_search(&offset).unwrap_or_else(|i| i)
            }
        }
    }

    /// The first send (txn index) of a message, whatever its outcome.
    pub fn send_of(&self, key: KeyId, msg: Msg) -> Option<usize> {
        let of_msg = self.keys[key as usize].of_msg.get(msg)?;
        of_msg.send.map(|t| t as usize)
    }

    /// Whether some ok poll returned the message.
    pub fn was_polled(&self, key: KeyId, msg: Msg) -> bool {
        self.keys[key as usize]
            .of_msg
            .get(msg)
            .is_some_and(|m| m.polled)
    }
}

/// Sightings that disagree with the first one, kept aside (rare): per offset, other messages
/// seen there; per message, other offsets it was seen at.
#[derive(Default)]
struct Conflicts {
    offsets: FastMap<(KeyId, Offset), Vec<(Msg, usize)>>,
    msgs: FastMap<(KeyId, Msg), Vec<Sighting>>,
}

impl Logs {
    /// Notes that txn `t` saw `msg` at `offset` of `key`; returns the message's record. Each
    /// offset keeps the first message seen there and each message the first offset it was
    /// seen at, so the common case costs two look-ups in vectors. Inlined into its two
    /// callers in the pass over every polled message: as a call, saving and restoring
    /// registers cost a fifth of it.
    #[inline(always)]
    fn see(
        &mut self,
        conflicts: &mut Conflicts,
        key: KeyId,
        offset: Offset,
        msg: Msg,
        t: usize,
    ) -> &mut OfMsg {
        let log = &mut self.keys[key as usize];
        let mut new_offset = false;
        let at = log.at_offset.get_or_insert_with(offset, || {
            new_offset = true;
            AtOffset {
                msg,
                txn: t as u32,
                index: 0,
            }
        });
        if new_offset {
            self.offsets[key as usize].push(offset);
        } else if at.msg != msg {
            let others = conflicts.offsets.entry((key, offset)).or_default();
            if !others.iter().any(|&(m, _)| m == msg) {
                others.push((msg, t));
            }
        }
        let of_msg = log.of_msg.get_or_insert_with(msg, OfMsg::default);
        match of_msg.seen {
            None => of_msg.seen = Some((offset, t as u32)),
            Some((first, _)) if first != offset => {
                let others = conflicts.msgs.entry((key, msg)).or_default();
                if !others.iter().any(|&(o, _)| o == offset) {
                    others.push((offset, t));
                }
            }
            Some(_) => {}
        }
        of_msg
    }
}

/// Gathers the logs and checks every message.
pub fn check_messages(txns: &Txns, findings: &mut Findings) -> Logs {
    let key_count = txns.keys.len();
    // A key's messages are its sends' (numbered 1, 2, ...), at as many offsets (0, 1, ...):
    // size its tables for those at once.
    let mut sends = vec![0usize; key_count];
    for txn in &txns.txns {
        if let Body::Send { key, .. } = txn.body {
            sends[key as usize] += 1;
        }
    }
    let mut logs = Logs {
        offsets: sends.iter().map(|&n| Vec::with_capacity(n)).collect(),
        max_polled: vec![None; key_count],
        unseen: Vec::new(),
        keys: sends
            .iter()
            .map(|&n| KeyLog {
                at_offset: IntTable::with_capacity(n),
                of_msg: IntTable::with_capacity(n + 1),
            })
            .collect(),
    };
    let mut conflicts = Conflicts::default();
    // Polled messages that may be `G1a` or `G1c-realtime` (see [`check_poll_sources`]).
    let mut suspects = Vec::new();
    for (t, txn) in txns.txns.iter().enumerate() {
        match &txn.body {
            Body::Send { key, msg, offset } => {
                let of_msg = match (txn.outcome, offset) {
                    (OpType::Ok, Some(offset)) => logs.see(&mut conflicts, *key, *offset, *msg, t),
                    _ => logs.keys[*key as usize]
                        .of_msg
                        .get_or_insert_with(*msg, OfMsg::default),
                };
                of_msg.send.get_or_insert(t as u32);
            }
            Body::Poll { .. } if txn.outcome == OpType::Ok => {
                let poll_done = txn.complete_index.unwrap_or(usize::MAX);
                for (key, msgs) in txns.polled(txn) {
                    let mut top = Offset::MIN;
                    for &(offset, msg) in msgs {
                        top = top.max(offset);
                        let of_msg = logs.see(&mut conflicts, key, offset, msg, t);
                        of_msg.polled = true;
                        // Txns come in invocation order, so a send already noted is the
                        // message's first; none yet, and the first (if any) comes later.
                        let suspect = of_msg.send.is_none_or(|s| {
                            let send = &txns.txns[s as usize];
                            send.outcome == OpType::Fail || poll_done < send.invoke_index
                        });
                        if suspect {
                            suspects.push(Suspect {
                                poll: t,
                                key,
                                offset,
                                msg,
                            });
                        }
                    }
                    if !msgs.is_empty() {
                        let max = &mut logs.max_polled[key as usize];
                        *max = Some(max.map_or(top, |m| m.max(top)));
                    }
                }
            }
            _ => {}
        }
    }
    for (offsets, log) in logs.offsets.iter_mut().zip(&mut logs.keys) {
        offsets.sort_unstable();
        for (index, &offset) in offsets.iter().enumerate() {
            if let Some(at) = log.at_offset.get_mut(offset) {
                at.index = index as u32;
            }
        }
    }

    let op = |t: usize| txns.txns[t].invoke_index;
    let mut offset_conflicts: Vec<_> = conflicts.offsets.into_iter().collect();
    offset_conflicts.sort_unstable();
    for ((key, offset), others) in offset_conflicts {
        let at = logs.keys[key as usize].at_offset.get(offset).expect("seen");
        let (first, first_t) = (at.msg, at.txn as usize);
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
    let mut dups: Vec<_> = conflicts.msgs.into_iter().collect();
    dups.sort_unstable();
    for ((key, msg), others) in dups {
        let of_msg = logs.keys[key as usize].of_msg.get(msg).expect("seen");
        let (first, first_t) = of_msg.seen.expect("seen");
        let (first, first_t) = (first, first_t as usize);
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

    logs.unseen = check_sends(txns, &logs, findings);
    check_poll_sources(txns, &logs, suspects, findings);
    logs
}

/// A message an ok poll (txn index `poll`) returned whose first send had failed or began
/// after the poll finished, or whose send was not yet known when the pass over the txns met
/// the poll (invoked after it, or never).
struct Suspect {
    poll: usize,
    key: KeyId,
    offset: Offset,
    msg: Msg,
}

/// `lost-write` and `unseen`: acknowledged sends that no ok poll ever returned (their txn
/// indexes returned, for the results' list).
fn check_sends(txns: &Txns, logs: &Logs, findings: &mut Findings) -> Vec<usize> {
    let mut unseen = Vec::new();
    for (t, txn) in txns.txns.iter().enumerate() {
        let Body::Send {
            key,
            msg,
            offset: Some(offset),
        } = txn.body
        else {
            continue;
        };
        if txn.outcome != OpType::Ok || logs.was_polled(key, msg) {
            continue;
        }
        unseen.push(t);
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
    unseen
}

/// `G1a` (a poll returned a message whose send failed) and `G1c-realtime` (a poll returned a
/// message whose send began after the poll had finished). Only the suspects need a look (the
/// pass that gathered the logs left out messages whose send it knew to be neither); they are
/// gathered in the order of the polls and of their messages, so the examples are the first
/// few in that order, as when every polled message was looked at.
fn check_poll_sources(txns: &Txns, logs: &Logs, suspects: Vec<Suspect>, findings: &mut Findings) {
    for suspect in suspects {
        let poll = &txns.txns[suspect.poll];
        let poll_done = poll.complete_index.unwrap_or(usize::MAX);
        let (key, offset, msg) = (suspect.key, suspect.offset, suspect.msg);
        let Some(s) = logs.send_of(key, msg) else {
            continue;
        };
        let send: &Txn = &txns.txns[s];
        let name = txns.key(key);
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
