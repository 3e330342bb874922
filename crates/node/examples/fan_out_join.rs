//! Chain 3, fan out and join: every node counts the adds it took; a `read` asks every other
//! node for its count at once and answers with the sum once all have answered (or failed:
//! a peer that does not answer in time makes the read fail with its error).
//!
//! `cargo run -p glomers-node --example fan_out_join` speaks Maelstrom on stdin/stdout.

use glomers_node::{Ctx, Join, Node, ReplyTo, RpcError};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Request {
    Add { delta: u64 },
    Read,
    Local,
}

#[derive(Deserialize)]
struct LocalOk {
    value: u64,
}

#[derive(Default)]
struct Summer {
    local: u64,
}

impl Node for Summer {
    type Request<'de> = Request;
    type Timer = ();

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request, from: ReplyTo) {
        match req {
            Request::Add { delta } => {
                self.local += delta;
                ctx.reply(&from, json!({"type": "add_ok"}));
            }
            Request::Local => ctx.reply(&from, json!({"type": "local_ok", "value": self.local})),
            // chain:start
            Request::Read => {
                let mut join = Join::new();
                for peer in ctx.node_ids().to_vec() {
                    if peer != ctx.node_id() {
                        ctx.call(&peer, json!({"type": "local"})).then(join.slot());
                    }
                }
                join.then_ok(
                    ctx,
                    move |node, ctx, counts: Result<Vec<LocalOk>, RpcError>| {
                        let sum =
                            counts.map(|c| c.iter().map(|c| c.value).sum::<u64>() + node.local);
                        ctx.reply_result(&from, sum.map(|s| json!({"type": "read_ok", "value": s})))
                    },
                );
            } // chain:end
        }
    }
}

fn main() {
    glomers_node::run(Summer::default());
}
