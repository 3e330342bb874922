//! lin-kv nodes with one flaw each: two relays to the lin-kv service that cut a corner, and a
//! Raft that commits too early.

use std::collections::BTreeMap;
use std::time::Duration;

use glomers_challenges::lin_kv::{KvOp, KvReply};
use glomers_challenges::raft::{Config, Raft};
use glomers_node::{Ctx, ErrorCode, Node, ReplyTo, RpcError, LIN_KV};
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flaw {
    /// Writes and cas go through the service, but reads are answered from a local copy that
    /// holds this node's own writes and is refreshed from the service only every half second:
    /// other nodes' writes show up late (stale reads).
    StaleReads,
    /// A cas that arrives while another cas is still at the service is sent as a plain write
    /// of `to`, its `from` never checked.
    BlindCasWhenBusy,
}

/// How often the stale-read relay refreshes its copy.
const REFRESH: Duration = Duration::from_millis(500);
const TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Refresh;

pub struct FlawedLinKv {
    flaw: Flaw,
    /// StaleReads: the local copy, by key text.
    copy: BTreeMap<String, (Value, Value)>,
    /// BlindCasWhenBusy: cas requests awaiting the service.
    cas_in_flight: usize,
}

impl FlawedLinKv {
    pub fn new(flaw: Flaw) -> FlawedLinKv {
        FlawedLinKv {
            flaw,
            copy: BTreeMap::new(),
            cas_in_flight: 0,
        }
    }

    fn remember(&mut self, key: &Value, value: &Value) {
        if self.flaw == Flaw::StaleReads {
            self.copy
                .insert(key.to_string(), (key.clone(), value.clone()));
        }
    }
}

impl Node for FlawedLinKv {
    type Request<'de> = KvOp;
    type Timer = Refresh;

    fn on_init(&mut self, ctx: &mut Ctx<Self>) {
        if self.flaw == Flaw::StaleReads {
            ctx.every(REFRESH, Refresh);
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<Self>, op: KvOp, from: ReplyTo) {
        match op {
            KvOp::Read { key } if self.flaw == Flaw::StaleReads => {
                match self.copy.get(&key.to_string()) {
                    Some((_, value)) => ctx.reply(
                        &from,
                        KvReply::ReadOk {
                            value: value.clone(),
                        },
                    ),
                    None => ctx.reply_error(&from, ErrorCode::KeyDoesNotExist, "not here yet"),
                }
            }
            KvOp::Cas { key, to, .. }
                if self.flaw == Flaw::BlindCasWhenBusy && self.cas_in_flight > 0 =>
            {
                let body = json!({"type": "write", "key": key, "value": to});
                ctx.rpc(
                    LIN_KV,
                    body,
                    TIMEOUT,
                    move |_: &mut Self, ctx, r: Result<KvReply, RpcError>| match r {
                        Ok(_) => ctx.reply(&from, KvReply::CasOk),
                        Err(e) => ctx.reply_error(&from, e.code, e.text),
                    },
                );
            }
            op => {
                let is_cas = matches!(op, KvOp::Cas { .. });
                if is_cas {
                    self.cas_in_flight += 1;
                }
                let written = match &op {
                    KvOp::Write { key, value } => Some((key.clone(), value.clone())),
                    KvOp::Cas { key, to, .. } => Some((key.clone(), to.clone())),
                    KvOp::Read { .. } => None,
                };
                ctx.rpc(
                    LIN_KV,
                    &op,
                    TIMEOUT,
                    move |node: &mut Self, ctx, r: Result<KvReply, RpcError>| {
                        if is_cas {
                            node.cas_in_flight -= 1;
                        }
                        match r {
                            Ok(reply) => {
                                if let Some((key, value)) = &written {
                                    node.remember(key, value);
                                }
                                ctx.reply(&from, reply)
                            }
                            Err(e) => ctx.reply_error(&from, e.code, e.text),
                        }
                    },
                );
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, _: Refresh) {
        for (key, _) in self.copy.values() {
            let key = key.clone();
            ctx.rpc(
                LIN_KV,
                json!({"type": "read", "key": key}),
                TIMEOUT,
                move |node: &mut Self, _, r: Result<KvReply, RpcError>| {
                    if let Ok(KvReply::ReadOk { value }) = r {
                        node.remember(&key, &value);
                    }
                },
            );
        }
    }
}

/// Raft whose leader commits an entry as soon as it has appended it, without waiting for a
/// majority: a leader cut off from the others keeps acknowledging writes that the majority's
/// new leader never sees.
pub fn early_commit_raft() -> Raft {
    Raft::new(Config {
        commit_quorum: Some(1),
        ..Config::default()
    })
}
