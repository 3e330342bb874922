//! Broadcast nodes with one flaw each, on an otherwise plain design: a value a node learns from
//! a client is sent to every other node and re-sent every 300 ms until acknowledged.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use glomers_node::{Ctx, Node, ReplyTo, RpcError};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flaw {
    /// Sends each value once, fire and forget: values sent during a partition are lost.
    NoRetry,
    /// Acknowledges one client value in fifty (those ending in 49 or 99) but neither keeps nor
    /// forwards it.
    DropsOneInFifty,
    /// Forwards the values clients gave it, but leaves them out of its own reads.
    ReadsOmitOwn,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    Broadcast { message: u64 },
    Read,
    Topology { topology: Value },
    Gossip { messages: Vec<u64> },
}

#[derive(Clone)]
pub struct Resend;

pub struct FlawedBroadcast {
    flaw: Flaw,
    seen: BTreeSet<u64>,
    own: BTreeSet<u64>,
    unacked: BTreeMap<String, BTreeSet<u64>>,
}

impl FlawedBroadcast {
    pub fn new(flaw: Flaw) -> FlawedBroadcast {
        FlawedBroadcast {
            flaw,
            seen: BTreeSet::new(),
            own: BTreeSet::new(),
            unacked: BTreeMap::new(),
        }
    }
}

impl Node for FlawedBroadcast {
    type Request<'de> = Request;
    type Timer = Resend;

    fn on_init(&mut self, ctx: &mut Ctx<Self>) {
        if self.flaw != Flaw::NoRetry {
            ctx.every(Duration::from_millis(300), Resend);
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request, from: ReplyTo) {
        match req {
            Request::Broadcast { message } => {
                let dropped = self.flaw == Flaw::DropsOneInFifty && message % 50 == 49;
                if !dropped && self.seen.insert(message) {
                    self.own.insert(message);
                    let me = ctx.node_id().to_string();
                    for peer in ctx.node_ids().to_vec() {
                        if peer == me {
                            continue;
                        }
                        if self.flaw == Flaw::NoRetry {
                            ctx.send(&peer, json!({"type": "gossip", "messages": [message]}));
                        } else {
                            self.unacked.entry(peer).or_default().insert(message);
                        }
                    }
                }
                ctx.reply(&from, json!({"type": "broadcast_ok"}));
            }
            Request::Read => {
                let messages: Vec<u64> = match self.flaw {
                    Flaw::ReadsOmitOwn => self.seen.difference(&self.own).copied().collect(),
                    _ => self.seen.iter().copied().collect(),
                };
                ctx.reply(&from, json!({"type": "read_ok", "messages": messages}));
            }
            Request::Topology { .. } => ctx.reply(&from, json!({"type": "topology_ok"})),
            Request::Gossip { messages } => {
                self.seen.extend(messages);
                ctx.reply(&from, json!({"type": "gossip_ok"}));
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, _: Resend) {
        for (peer, values) in &self.unacked {
            if values.is_empty() {
                continue;
            }
            let batch: Vec<u64> = values.iter().copied().collect();
            let (peer, acked) = (peer.clone(), batch.clone());
            ctx.rpc(
                &peer.clone(),
                json!({"type": "gossip", "messages": batch}),
                Duration::from_millis(500),
                move |node: &mut Self, _ctx, result: Result<Value, RpcError>| {
                    if result.is_ok() {
                        if let Some(pending) = node.unacked.get_mut(&peer) {
                            for v in &acked {
                                pending.remove(v);
                            }
                        }
                    }
                },
            );
        }
    }
}
