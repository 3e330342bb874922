//! Kafka nodes with one flaw each. They share a simple base that is correct without faults:
//! node `n0` is the leader of every key; other nodes forward sends to it; the leader appends,
//! answers, and pushes each entry to every other node; every node answers polls from the
//! contiguous prefix of the log it holds and keeps committed offsets locally. (It is not
//! durable and not partition-tolerant: the tests run it without partitions.)

use std::collections::BTreeMap;
use std::time::Duration;

use glomers_node::{Ctx, KvError, Node, ReplyTo, RpcError};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flaw {
    /// Every node assigns offsets itself from a `lin-kv` counter it reads then overwrites
    /// (no `cas`): concurrent sends on two nodes get one offset.
    OffsetsWithoutCas,
    /// A poll returning three or more messages of a key leaves out the second.
    PollSkips,
    /// A poll returning two or more messages of a key returns them newest first.
    PollOutOfOrder,
    /// The leader acknowledges one send in ten, then forgets it: the offset stays empty.
    ForgetsAcknowledged,
    /// Each node keeps and serves only its own log: no leader, no replication.
    LocalOnly,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    Send {
        key: String,
        msg: Value,
    },
    Poll {
        offsets: BTreeMap<String, i64>,
    },
    CommitOffsets {
        offsets: BTreeMap<String, i64>,
    },
    ListCommittedOffsets {
        keys: Vec<String>,
    },
    /// The leader's entry for a follower; `msg` null for a forgotten one.
    Entry {
        key: String,
        offset: u64,
        msg: Value,
    },
}

#[derive(Deserialize)]
struct SendOk {
    offset: u64,
}

pub struct FlawedKafka {
    flaw: Flaw,
    /// Per key, offset -> message (`Value::Null`: a hole the leader forgot).
    logs: BTreeMap<String, BTreeMap<u64, Value>>,
    committed: BTreeMap<String, i64>,
    sends: u64,
}

impl FlawedKafka {
    pub fn new(flaw: Flaw) -> FlawedKafka {
        FlawedKafka {
            flaw,
            logs: BTreeMap::new(),
            committed: BTreeMap::new(),
            sends: 0,
        }
    }

    fn is_leader(&self, ctx: &Ctx<Self>) -> bool {
        self.flaw == Flaw::LocalOnly
            || ctx.node_ids().first().map(String::as_str) == Some(ctx.node_id())
    }

    /// Stores an entry at `offset` (first writer wins) and pushes it to the other nodes.
    fn store(&mut self, ctx: &mut Ctx<Self>, key: &str, offset: u64, msg: Value, push: bool) {
        self.logs
            .entry(key.to_string())
            .or_default()
            .entry(offset)
            .or_insert(msg.clone());
        if push && self.flaw != Flaw::LocalOnly {
            let me = ctx.node_id().to_string();
            let others: Vec<String> = ctx
                .node_ids()
                .iter()
                .filter(|n| **n != me)
                .cloned()
                .collect();
            for node in others {
                ctx.send(
                    &node,
                    json!({"type": "entry", "key": key, "offset": offset, "msg": msg}),
                );
            }
        }
    }

    fn on_send(&mut self, ctx: &mut Ctx<Self>, key: String, msg: Value, from: ReplyTo) {
        if self.flaw == Flaw::OffsetsWithoutCas {
            let counter = format!("next-{key}");
            return ctx.lin_kv().read(
                counter.clone(),
                move |_: &mut Self, ctx, next: Result<u64, KvError>| {
                    let offset = match next {
                        Ok(n) => n,
                        Err(KvError::KeyDoesNotExist) => 0,
                        Err(e) => return ctx.reply_error(&from, e.code(), e.to_string()),
                    };
                    // The bug: a plain write, where a cas from `offset` would catch a race.
                    ctx.lin_kv().write(
                        counter,
                        offset + 1,
                        move |node: &mut Self, ctx, result: Result<(), KvError>| {
                            if let Err(e) = result {
                                return ctx.reply_error(&from, e.code(), e.to_string());
                            }
                            node.store(ctx, &key, offset, msg, true);
                            ctx.reply(&from, json!({"type": "send_ok", "offset": offset}));
                        },
                    );
                },
            );
        }
        if !self.is_leader(ctx) {
            let leader = ctx.node_ids()[0].clone();
            let body = json!({"type": "send", "key": key, "msg": msg});
            return ctx.rpc(
                &leader,
                body,
                Duration::from_secs(4),
                move |_: &mut Self, ctx, result: Result<SendOk, RpcError>| match result {
                    Ok(ok) => ctx.reply(&from, json!({"type": "send_ok", "offset": ok.offset})),
                    Err(e) => ctx.reply_error(&from, e.code, e.text),
                },
            );
        }
        let log = self.logs.entry(key.clone()).or_default();
        let offset = log.keys().next_back().map_or(0, |o| o + 1);
        self.sends += 1;
        // The bug (ForgetsAcknowledged): the offset is answered, the message dropped.
        let forget = self.flaw == Flaw::ForgetsAcknowledged && self.sends.is_multiple_of(10);
        let stored = if forget { Value::Null } else { msg };
        self.store(ctx, &key, offset, stored, true);
        ctx.reply(&from, json!({"type": "send_ok", "offset": offset}));
    }

    fn on_poll(&mut self, ctx: &mut Ctx<Self>, offsets: BTreeMap<String, i64>, from: ReplyTo) {
        let mut msgs: BTreeMap<String, Vec<(u64, Value)>> = BTreeMap::new();
        for (key, start) in offsets {
            let Some(log) = self.logs.get(&key) else {
                continue;
            };
            let start = start.max(0) as u64;
            // The contiguous run from `start`: never past a gap.
            let list_all = (start..)
                .zip(log.range(start..))
                .take_while(|(expected, (&offset, _))| offset == *expected);
            let mut list: Vec<(u64, Value)> = list_all
                .filter(|(_, (_, msg))| !msg.is_null())
                .map(|(_, (&offset, msg))| (offset, msg.clone()))
                .collect();
            match self.flaw {
                Flaw::PollSkips if list.len() >= 3 => {
                    list.remove(1);
                }
                Flaw::PollOutOfOrder => list.reverse(),
                _ => {}
            }
            if !list.is_empty() {
                msgs.insert(key, list);
            }
        }
        ctx.reply(&from, json!({"type": "poll_ok", "msgs": msgs}));
    }
}

impl Node for FlawedKafka {
    type Request<'de> = Request;
    type Timer = ();

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request, from: ReplyTo) {
        match req {
            Request::Send { key, msg } => self.on_send(ctx, key, msg, from),
            Request::Poll { offsets } => self.on_poll(ctx, offsets, from),
            Request::CommitOffsets { offsets } => {
                for (key, offset) in offsets {
                    let c = self.committed.entry(key).or_insert(offset);
                    *c = (*c).max(offset);
                }
                ctx.reply(&from, json!({"type": "commit_offsets_ok"}));
            }
            Request::ListCommittedOffsets { keys } => {
                let offsets: BTreeMap<&String, i64> = keys
                    .iter()
                    .filter_map(|k| self.committed.get(k).map(|&o| (k, o)))
                    .collect();
                ctx.reply(
                    &from,
                    json!({"type": "list_committed_offsets_ok", "offsets": offsets}),
                );
            }
            Request::Entry { key, offset, msg } => self.store(ctx, &key, offset, msg, false),
        }
    }
}
