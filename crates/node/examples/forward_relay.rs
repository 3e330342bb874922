//! Chain 1, forward and relay: every key has an owner node; a request for a key another node
//! owns is forwarded there, and the owner's answer (or the error, or a timeout) goes back to
//! the client as it is.
//!
//! `cargo run -p glomers-node --example forward_relay` speaks Maelstrom on stdin/stdout.

use std::collections::BTreeMap;

use glomers_node::{Ctx, ErrorCode, Node, ReplyTo};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Request {
    Put { key: u64, value: Value },
    Get { key: u64 },
}

#[derive(Default)]
struct Owners {
    data: BTreeMap<u64, Value>,
}

impl Node for Owners {
    type Request<'de> = Request;
    type Timer = ();

    // chain:start
    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request, from: ReplyTo) {
        let key = match &req {
            Request::Put { key, .. } | Request::Get { key } => *key,
        };
        let owner = ctx.node_ids()[key as usize % ctx.node_ids().len()].clone();
        if owner != ctx.node_id() {
            return ctx.call(&owner, &req).relay(from);
        }
        // chain:end
        match req {
            Request::Put { key, value } => {
                self.data.insert(key, value);
                ctx.reply(&from, json!({"type": "put_ok"}));
            }
            Request::Get { key } => match self.data.get(&key) {
                Some(value) => ctx.reply(&from, json!({"type": "get_ok", "value": value})),
                None => ctx.reply_error(&from, ErrorCode::KeyDoesNotExist, "no such key"),
            },
        }
    }
}

fn main() {
    glomers_node::run(Owners::default());
}
