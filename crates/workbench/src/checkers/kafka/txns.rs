//! The kafka history as the checker sees it: every client operation paired with its
//! completion, its values parsed once into compact records (keys interned as small integers).
//!
//! The workload records (JSON, after Jepsen's kafka histories):
//!
//! | f | invoke value | ok value |
//! |---|---|---|
//! | `send` | `[["send", key, msg]]` | `[["send", key, [offset, msg]]]` |
//! | `poll` | `[["poll"]]` | `[["poll", {key: [[offset, msg], ...]}]]` |
//! | `assign` | `{"keys": [key, ...]}` | `{"keys": [...], "committed": {key: offset}}` |
//! | `crash` | `null` | — (always info) |
//!
//! An ok poll's op also committed, inside the same op, the highest offset it polled per key.
//!
//! The workload keeps sends and polls typed ([`OpValue::KafkaSend`] and the like); a history
//! read back from JSON holds them as JSON. Both read alike: a typed value is read as directly as the JSON value
//! it stands for would be.

use crate::checkers::fast_hash::FastMap;
use crate::checkers::int_table::IntTable;

use serde_json::Value;

use crate::history::{History, Nanos, OpType, OpValue};

/// A key, interned: index into [`Txns::keys`].
pub type KeyId = u32;
/// A message (the workload sends small integers, unique per key).
pub type Msg = i64;
pub type Offset = i64;

#[derive(Clone, Debug)]
pub enum Body {
    Send {
        key: KeyId,
        msg: Msg,
        /// Set on an ok send.
        offset: Option<Offset>,
    },
    /// An ok poll: its keys are `Txns::poll_keys[start..end]` (see [`Txns::polled`]).
    Poll { start: u32, end: u32 },
    Assign {
        keys: Vec<KeyId>,
        /// What `list_committed_offsets` answered (ok assigns), sorted by key id.
        committed: Vec<(KeyId, Offset)>,
    },
    /// The worker discarded its client; also anything we cannot read.
    Other,
}

/// One client operation: invocation and completion.
#[derive(Clone, Debug)]
pub struct Txn {
    pub process: u64,
    pub outcome: OpType,
    pub invoke_index: usize,
    /// `None` when the op never completed.
    pub complete_index: Option<usize>,
    pub invoke_time: Nanos,
    pub complete_time: Option<Nanos>,
    pub body: Body,
}

/// One key of an ok poll: its messages are `Txns::poll_msgs[start..end]`, in the order the
/// node returned them.
#[derive(Clone, Copy, Debug)]
pub struct PollKey {
    pub key: KeyId,
    start: u32,
    end: u32,
    /// The highest offset among them (`Offset::MIN` when none): what the poll committed,
    /// which several checks need (found once, as the messages are copied).
    top: Offset,
}

#[derive(Default)]
pub struct Txns {
    pub txns: Vec<Txn>,
    /// Indices in `txns` of the completed txns, in the order of their completions.
    pub completed: Vec<u32>,
    /// The keys of every ok poll, poll after poll (one allocation for all, not two per poll).
    poll_keys: Vec<PollKey>,
    /// Their messages, `(offset, message)`.
    poll_msgs: Vec<(Offset, Msg)>,
    /// Key names by [`KeyId`].
    pub keys: Vec<String>,
    key_ids: FastMap<String, KeyId>,
    /// The ids of keys named by a number in [`decimal`] form, by number.
    numbered_keys: IntTable<KeyId>,
    /// Ops whose value the checker could not read (shown, never silently skipped).
    pub unreadable: Vec<usize>,
}

impl Txns {
    pub fn key(&self, id: KeyId) -> &str {
        &self.keys[id as usize]
    }

    /// What an ok poll returned, key by key (keys in the order of the poll's map); nothing for
    /// any other op.
    pub fn polled(&self, txn: &Txn) -> impl Iterator<Item = (KeyId, &[(Offset, Msg)])> + '_ {
        let keys = match txn.body {
            Body::Poll { start, end } => &self.poll_keys[start as usize..end as usize],
            _ => &[],
        };
        keys.iter().map(|k| {
            let msgs = &self.poll_msgs[k.start as usize..k.end as usize];
            (k.key, msgs)
        })
    }

    /// The highest offset an ok poll returned per key (`None` for a key with no messages),
    /// keys as in [`Txns::polled`].
    pub fn polled_tops(&self, txn: &Txn) -> impl Iterator<Item = (KeyId, Option<Offset>)> + '_ {
        let keys = match txn.body {
            Body::Poll { start, end } => &self.poll_keys[start as usize..end as usize],
            _ => &[],
        };
        keys.iter()
            .map(|k| (k.key, (k.start < k.end).then_some(k.top)))
    }

    fn intern(&mut self, key: &str) -> KeyId {
        // The workload names keys with small numbers: look those up by number, not by hash.
        if let Some(n) = decimal(key) {
            if let Some(&id) = self.numbered_keys.get(n) {
                return id;
            }
            let id = self.keys.len() as KeyId;
            self.keys.push(key.to_string());
            self.numbered_keys.get_or_insert_with(n, || id);
            return id;
        }
        if let Some(&id) = self.key_ids.get(key) {
            return id;
        }
        let id = self.keys.len() as KeyId;
        self.keys.push(key.to_string());
        self.key_ids.insert(key.to_string(), id);
        id
    }

    /// [`Txns::intern`] of the key named by `n`'s decimal form.
    fn intern_number(&mut self, n: u64) -> KeyId {
        if n >= DECIMAL_LIMIT {
            return self.intern(itoa::Buffer::new().format(n));
        }
        let n = n as i64;
        if let Some(&id) = self.numbered_keys.get(n) {
            return id;
        }
        let id = self.keys.len() as KeyId;
        self.keys.push(n.to_string());
        self.numbered_keys.get_or_insert_with(n, || id);
        id
    }

    /// Pairs every client invocation with its completion and parses both values.
    pub fn parse(history: &History) -> Txns {
        let mut out = Txns::default();
        // At most one txn per two ops: growing the vector would copy it a dozen times.
        out.txns.reserve(history.ops.len().div_ceil(2));
        out.completed.reserve(history.ops.len().div_ceil(2));
        // Polls return most of the history's messages, again and again: size their vectors
        // once (growing them copied megabytes).
        let (mut poll_keys, mut poll_msgs) = (0, 0);
        for op in &history.ops {
            if let OpValue::KafkaPolled(keys) = &op.value {
                poll_keys += keys.len();
                poll_msgs += keys.iter().map(|k| k.msgs.len()).sum::<usize>();
            }
        }
        out.poll_keys.reserve_exact(poll_keys);
        out.poll_msgs.reserve_exact(poll_msgs);
        // Process -> its open txn. Process numbers are small and dense: a table.
        let mut open: IntTable<Option<usize>> = IntTable::default();
        for op in &history.ops {
            let crate::history::Process::Client(process) = op.process else {
                continue;
            };
            if op.kind == OpType::Invoke {
                let body = match op.f.as_str() {
                    "send" => out.parse_send_invoke(&op.value),
                    _ => Some(Body::Other),
                };
                let body = body.unwrap_or_else(|| {
                    out.unreadable.push(op.index);
                    Body::Other
                });
                *open.get_or_insert_with(process as i64, || None) = Some(out.txns.len());
                out.txns.push(Txn {
                    process,
                    outcome: OpType::Info,
                    invoke_index: op.index,
                    complete_index: None,
                    invoke_time: op.time,
                    complete_time: None,
                    body,
                });
                continue;
            }
            let Some(t) = open.get_mut(process as i64).and_then(Option::take) else {
                continue;
            };
            out.completed.push(t as u32);
            out.txns[t].outcome = op.kind;
            out.txns[t].complete_index = Some(op.index);
            out.txns[t].complete_time = Some(op.time);
            if op.kind != OpType::Ok {
                continue;
            }
            let parsed = match op.f.as_str() {
                "send" => out.parse_send_ok(&op.value),
                "poll" => out.parse_poll_ok(&op.value),
                "assign" => out.parse_assign_ok(&op.value.to_json()),
                _ => Some(Body::Other),
            };
            match parsed {
                Some(body) => out.txns[t].body = body,
                // Keep what the invocation said (a send's key and message).
                None => out.unreadable.push(op.index),
            }
        }
        out
    }

    /// `[["send", key, msg]]`
    fn parse_send_invoke(&mut self, value: &OpValue) -> Option<Body> {
        match value {
            &OpValue::KafkaSend { key, msg } => Some(Body::Send {
                key: self.intern_number(key),
                msg,
                offset: None,
            }),
            OpValue::Json(value) => self.parse_send_invoke_json(value),
            typed => self.parse_send_invoke_json(&typed.to_json()),
        }
    }

    fn parse_send_invoke_json(&mut self, value: &Value) -> Option<Body> {
        let mop = single_mop(value, "send")?;
        let key = self.intern(mop.get(1)?.as_str()?);
        let msg = mop.get(2)?.as_i64()?;
        Some(Body::Send {
            key,
            msg,
            offset: None,
        })
    }

    /// `[["send", key, [offset, msg]]]`
    fn parse_send_ok(&mut self, value: &OpValue) -> Option<Body> {
        match value {
            &OpValue::KafkaSent { key, offset, msg } => Some(Body::Send {
                key: self.intern_number(key),
                msg,
                offset: Some(offset),
            }),
            OpValue::Json(value) => self.parse_send_ok_json(value),
            typed => self.parse_send_ok_json(&typed.to_json()),
        }
    }

    fn parse_send_ok_json(&mut self, value: &Value) -> Option<Body> {
        let mop = single_mop(value, "send")?;
        let key = self.intern(mop.get(1)?.as_str()?);
        let (offset, msg) = pair(mop.get(2)?)?;
        Some(Body::Send {
            key,
            msg,
            offset: Some(offset),
        })
    }

    /// `[["poll", {key: [[offset, msg], ...]}]]`
    fn parse_poll_ok(&mut self, value: &OpValue) -> Option<Body> {
        let (keys_before, msgs_before) = (self.poll_keys.len(), self.poll_msgs.len());
        let parsed = match value {
            OpValue::KafkaPolled(keys) => {
                let start = self.poll_keys.len() as u32;
                for k in keys {
                    let key = self.intern_number(k.key);
                    let msgs_start = self.poll_msgs.len() as u32;
                    self.poll_msgs.extend_from_slice(&k.msgs);
                    self.poll_keys.push(PollKey {
                        key,
                        start: msgs_start,
                        end: self.poll_msgs.len() as u32,
                        top: k.msgs.iter().map(|&(o, _)| o).max().unwrap_or(Offset::MIN),
                    });
                }
                Some(Body::Poll {
                    start,
                    end: self.poll_keys.len() as u32,
                })
            }
            OpValue::Json(value) => self.push_poll(value),
            typed => self.push_poll(&typed.to_json()),
        };
        if parsed.is_none() {
            // Leave nothing of a poll that could not be read.
            self.poll_keys.truncate(keys_before);
            self.poll_msgs.truncate(msgs_before);
        }
        parsed
    }

    fn push_poll(&mut self, value: &Value) -> Option<Body> {
        let mop = single_mop(value, "poll")?;
        let start = self.poll_keys.len() as u32;
        for (key, msgs) in mop.get(1)?.as_object()? {
            let key = self.intern(key);
            let msgs_start = self.poll_msgs.len() as u32;
            let mut top = Offset::MIN;
            for msg in msgs.as_array()? {
                let (offset, msg) = pair(msg)?;
                top = top.max(offset);
                self.poll_msgs.push((offset, msg));
            }
            self.poll_keys.push(PollKey {
                key,
                start: msgs_start,
                end: self.poll_msgs.len() as u32,
                top,
            });
        }
        Some(Body::Poll {
            start,
            end: self.poll_keys.len() as u32,
        })
    }

    /// `{"keys": [...], "committed": {key: offset}}`
    fn parse_assign_ok(&mut self, value: &Value) -> Option<Body> {
        let keys = value
            .get("keys")?
            .as_array()?
            .iter()
            .map(|k| k.as_str().map(|k| self.intern(k)))
            .collect::<Option<Vec<_>>>()?;
        let mut committed = Vec::new();
        if let Some(map) = value.get("committed") {
            for (key, offset) in map.as_object()? {
                committed.push((self.intern(key), offset.as_i64()?));
            }
        }
        committed.sort_unstable();
        Some(Body::Assign { keys, committed })
    }
}

/// The one micro-op of a single-op transaction, checked to be `f`.
fn single_mop<'a>(value: &'a Value, f: &str) -> Option<&'a Vec<Value>> {
    let mops = value.as_array()?;
    let mop = mops.first()?.as_array()?;
    (mops.len() == 1 && mop.first()?.as_str()? == f).then_some(mop)
}

/// Keys named by numbers below this are looked up by number ([`decimal`]).
const DECIMAL_LIMIT: u64 = 1_000_000_000;

/// The number a key names when it is written as the decimal form of a number below 10^9
/// (`"0"`, `"17"`; not `"017"` or `"+1"`, so that one number is one name).
fn decimal(key: &str) -> Option<i64> {
    let bytes = key.as_bytes();
    if bytes.is_empty() || bytes.len() > 9 || (bytes[0] == b'0' && bytes.len() > 1) {
        return None;
    }
    let mut n: i64 = 0;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (b - b'0') as i64;
    }
    Some(n)
}

/// `[offset, msg]`
fn pair(value: &Value) -> Option<(Offset, Msg)> {
    let pair = value.as_array()?;
    match pair.as_slice() {
        [offset, msg] => Some((offset.as_i64()?, msg.as_i64()?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_named_by_numbers_and_others_get_one_id_per_name() {
        let mut txns = Txns::default();
        let names = [
            "0",
            "17",
            "017",
            "x",
            "17",
            "1000000000",
            "0",
            "-1",
            "",
            "x",
        ];
        let ids: Vec<KeyId> = names.iter().map(|k| txns.intern(k)).collect();
        assert_eq!(ids, vec![0, 1, 2, 3, 1, 4, 0, 5, 6, 3]);
        assert_eq!(txns.keys, ["0", "17", "017", "x", "1000000000", "-1", ""]);
        assert_eq!(decimal("999999999"), Some(999_999_999));
        assert_eq!(decimal("07"), None);
        // Interned by number, a key gets the id its name would.
        for n in [17, 0, 999_999_999, 1_000_000_000, 1_000_000_000, 5] {
            let id = txns.intern_number(n);
            assert_eq!(txns.intern(&n.to_string()), id);
            assert_eq!(txns.key(id), n.to_string());
        }
    }
}
