//! Chain 4, lock, work, reply, release: a transaction node over `lin-kv` that serialises
//! transactions with one lock. Under the lock it reads every key the transaction touches (at
//! once), runs the operations locally, writes what changed (at once), replies, and lets go of
//! the lock. The lock is released when the last step drops it, whichever path the chain took:
//! the early returns on errors release it as surely as the success path.
//!
//! `cargo run -p glomers-node --example lock_work_release` speaks Maelstrom on stdin/stdout.

use std::collections::BTreeMap;

use glomers_node::{Ctx, Join, KvError, Node, ReplyTo};
use serde::Deserialize;
use serde_json::{json, Value};

/// `[op, key, value]`: `["r", 1, null]` or `["w", 1, 5]`.
type Op = (String, u64, Option<i64>);

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Request {
    Txn { txn: Vec<Op> },
}

struct Transactions;

impl Node for Transactions {
    type Request<'de> = Request;
    type Timer = ();

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request, from: ReplyTo) {
        let Request::Txn { txn } = req;
        // chain:start
        ctx.lin_kv().lock("lock", move |_, ctx, lock| {
            let lock = match lock {
                Ok(lock) => lock,
                Err(e) => return ctx.reply_failure(&from, e),
            };
            let mut keys: Vec<u64> = txn.iter().map(|op| op.1).collect();
            keys.sort_unstable();
            keys.dedup();
            let mut reads = Join::new();
            for key in &keys {
                ctx.lin_kv().read_opt(key, reads.slot());
            }
            reads.then_ok(
                ctx,
                move |_, ctx, values: Result<Vec<Option<i64>>, KvError>| {
                    let values = match values {
                        Ok(values) => values,
                        Err(e) => return ctx.reply_failure(&from, e),
                    };
                    let mut state: BTreeMap<u64, Option<i64>> =
                        keys.into_iter().zip(values).collect();
                    let (done, changed) = run(txn, &mut state);
                    let mut writes = Join::new();
                    for key in changed {
                        ctx.lin_kv().write(key, state[&key], writes.slot());
                    }
                    writes.then_ok(ctx, move |_, ctx, written: Result<Vec<()>, KvError>| {
                        ctx.reply_result(
                            &from,
                            written.map(|_| json!({"type": "txn_ok", "txn": done})),
                        );
                        drop(lock); // released once this step returns (on the error paths above too)
                    });
                },
            );
        });
        // chain:end
    }
}

/// Runs the operations on `state`; returns them completed and the keys written.
fn run(txn: Vec<Op>, state: &mut BTreeMap<u64, Option<i64>>) -> (Vec<Value>, Vec<u64>) {
    let mut changed = Vec::new();
    let done = txn
        .into_iter()
        .map(|(op, key, value)| {
            if op == "w" {
                state.insert(key, value);
                changed.push(key);
                json!([op, key, value])
            } else {
                json!([op, key, state.get(&key).copied().flatten()])
            }
        })
        .collect();
    changed.sort_unstable();
    changed.dedup();
    (done, changed)
}

fn main() {
    glomers_node::run(Transactions);
}
