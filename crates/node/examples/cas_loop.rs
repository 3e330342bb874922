//! Chain 2, a read-modify-cas loop on `lin-kv`: `add {delta}` adds to one shared counter.
//! The `cas` is retried (from a fresh read) when another writer got there first (error 22) or
//! the key is missing (20), up to ten tries; a `cas` that timed out is in doubt and answered
//! with error 0, indefinite, so the client knows the add may have happened.
//!
//! `cargo run -p glomers-node --example cas_loop` speaks Maelstrom on stdin/stdout.

use glomers_node::{Ctx, KvError, Node, ReplyTo};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Request {
    Add { delta: i64 },
    Read,
}

struct SharedCounter;

impl Node for SharedCounter {
    type Request<'de> = Request;
    type Timer = ();

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request, from: ReplyTo) {
        match req {
            // chain:start
            Request::Add { delta } => {
                let add = move |total: Option<&i64>| total.unwrap_or(&0) + delta;
                ctx.lin_kv()
                    .update("total", 10, add, move |_, ctx, result| {
                        ctx.reply_result(&from, result.map(|_| json!({"type": "add_ok"})))
                    });
            }
            // chain:end
            Request::Read => ctx.lin_kv().read_opt(
                "total",
                move |_, ctx, total: Result<Option<i64>, KvError>| {
                    let total = total.map(|t| json!({"type": "read_ok", "value": t.unwrap_or(0)}));
                    ctx.reply_result(&from, total)
                },
            ),
        }
    }
}

fn main() {
    glomers_node::run(SharedCounter);
}
