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

use crate::checkers::fast_hash::FastMap;

use serde_json::Value;

use crate::history::{History, Nanos, OpType};

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
    /// An ok poll's messages per key, in the order the node returned them.
    Poll(Vec<(KeyId, Vec<(Offset, Msg)>)>),
    Assign {
        keys: Vec<KeyId>,
        /// What `list_committed_offsets` answered (ok assigns).
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

#[derive(Default)]
pub struct Txns {
    pub txns: Vec<Txn>,
    /// Key names by [`KeyId`].
    pub keys: Vec<String>,
    key_ids: FastMap<String, KeyId>,
    /// Ops whose value the checker could not read (shown, never silently skipped).
    pub unreadable: Vec<usize>,
}

impl Txns {
    pub fn key(&self, id: KeyId) -> &str {
        &self.keys[id as usize]
    }

    fn intern(&mut self, key: &str) -> KeyId {
        if let Some(&id) = self.key_ids.get(key) {
            return id;
        }
        let id = self.keys.len() as KeyId;
        self.keys.push(key.to_string());
        self.key_ids.insert(key.to_string(), id);
        id
    }

    /// Pairs every client invocation with its completion and parses both values.
    pub fn parse(history: &History) -> Txns {
        let mut out = Txns::default();
        let mut open: FastMap<u64, usize> = FastMap::default();
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
                open.insert(process, out.txns.len());
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
            let Some(t) = open.remove(&process) else {
                continue;
            };
            out.txns[t].outcome = op.kind;
            out.txns[t].complete_index = Some(op.index);
            out.txns[t].complete_time = Some(op.time);
            if op.kind != OpType::Ok {
                continue;
            }
            let parsed = match op.f.as_str() {
                "send" => out.parse_send_ok(&op.value),
                "poll" => out.parse_poll_ok(&op.value),
                "assign" => out.parse_assign_ok(&op.value),
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
    fn parse_send_invoke(&mut self, value: &Value) -> Option<Body> {
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
    fn parse_send_ok(&mut self, value: &Value) -> Option<Body> {
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
    fn parse_poll_ok(&mut self, value: &Value) -> Option<Body> {
        let mop = single_mop(value, "poll")?;
        let mut keys = Vec::new();
        for (key, msgs) in mop.get(1)?.as_object()? {
            let key = self.intern(key);
            let msgs = msgs
                .as_array()?
                .iter()
                .map(pair)
                .collect::<Option<Vec<_>>>()?;
            keys.push((key, msgs));
        }
        Some(Body::Poll(keys))
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
        Some(Body::Assign { keys, committed })
    }
}

/// The one micro-op of a single-op transaction, checked to be `f`.
fn single_mop<'a>(value: &'a Value, f: &str) -> Option<&'a Vec<Value>> {
    let mops = value.as_array()?;
    let mop = mops.first()?.as_array()?;
    (mops.len() == 1 && mop.first()?.as_str()? == f).then_some(mop)
}

/// `[offset, msg]`
fn pair(value: &Value) -> Option<(Offset, Msg)> {
    let pair = value.as_array()?;
    match pair.as_slice() {
        [offset, msg] => Some((offset.as_i64()?, msg.as_i64()?)),
        _ => None,
    }
}
