//! The four chains of `docs/chains-compared.md`, written with glomers-node, as one node:
//!
//! - `get {key}`: forward to the key's owner and relay its answer;
//! - `add {delta}`: add to the `lin-kv` key `total` with a read-modify-cas loop;
//! - `read`: ask every node for its `local` count and answer with the sum;
//! - `bump {keys}`: take a lock in `lin-kv`, add one to each key, answer, release the lock.
//!
//! The doc quotes the functions between the `// chain:` and `// end` markers verbatim (a test
//! of this crate checks it, and counts their lines).
//!
//! Run it under the workbench like any node: `cargo build --release --example chains`, then
//! `glomers test --bin target/release/examples/chains ...` with requests of your own workload.

use std::collections::BTreeMap;

use glomers_node::{Ctx, Join, Node, ReplyTo, RpcError};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Request {
    Get { key: u64 },
    Add { delta: i64 },
    Read,
    Local,
    Bump { keys: Vec<String> },
}

#[derive(Deserialize)]
struct LocalOk {
    value: i64,
}

#[derive(Default)]
struct Chains {
    /// The keys this node owns (`get`).
    values: BTreeMap<u64, i64>,
    /// This node's share of the count (`read`).
    local: i64,
}

impl Node for Chains {
    type Request<'de> = Request;
    type Timer = ();

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request, from: ReplyTo) {
        match req {
            Request::Get { key } => self.get(ctx, key, from),
            Request::Add { delta } => add(ctx, delta, from),
            Request::Read => read_all(ctx, from),
            Request::Local => ctx.reply(&from, json!({"type": "local_ok", "value": self.local})),
            Request::Bump { keys } => bump_all(ctx, keys, from),
        }
    }
}

impl Chains {
    // chain: forward
    fn get(&mut self, ctx: &mut Ctx<Self>, key: u64, from: ReplyTo) {
        let owner = ctx.node_ids()[key as usize % ctx.node_ids().len()].clone();
        if owner != ctx.node_id() {
            return ctx.call(&owner, Request::Get { key }).relay(from);
        }
        let value = self.values.get(&key);
        ctx.reply(&from, json!({"type": "get_ok", "value": value}));
    }
    // end
}

// chain: cas-loop
fn add(ctx: &mut Ctx<Chains>, delta: i64, from: ReplyTo) {
    let add = move |total: Option<&i64>| total.unwrap_or(&0) + delta;
    ctx.lin_kv()
        .update("total", 10, add, move |_node, ctx, result| {
            ctx.reply_result(&from, result.map(|_| json!({"type": "add_ok"})))
        });
}
// end

// chain: fan-out
fn read_all(ctx: &mut Ctx<Chains>, from: ReplyTo) {
    let mut join = Join::new();
    for peer in ctx.node_ids().to_vec() {
        ctx.call(&peer, json!({"type": "local"})).then(join.slot());
    }
    join.then_ok(ctx, move |_node, ctx, counts: Result<Vec<LocalOk>, _>| {
        let sum: Result<i64, RpcError> = counts.map(|c| c.iter().map(|c| c.value).sum());
        ctx.reply_result(&from, sum.map(|v| json!({"type": "read_ok", "value": v})))
    });
}
// end

// chain: lock
fn bump_all(ctx: &mut Ctx<Chains>, keys: Vec<String>, from: ReplyTo) {
    ctx.lin_kv().lock("lock", move |_node, ctx, lock| {
        let lock = match lock {
            Ok(lock) => lock,
            Err(e) => return ctx.reply_failure(&from, e),
        };
        let mut reads = Join::new();
        for key in &keys {
            ctx.lin_kv().read_opt(key, reads.slot());
        }
        reads.then_ok(ctx, move |_node, ctx, olds: Result<Vec<Option<i64>>, _>| {
            let olds = match olds {
                Ok(olds) => olds,
                Err(e) => return ctx.reply_failure(&from, e), // releases the lock too
            };
            let mut writes = Join::new();
            for (key, old) in keys.iter().zip(olds) {
                ctx.lin_kv().write(key, old.unwrap_or(0) + 1, writes.slot());
            }
            writes.then_ok(ctx, move |_node, ctx, written: Result<Vec<()>, _>| {
                ctx.reply_result(&from, written.map(|_| json!({"type": "bump_ok"})));
                drop(lock); // released right after this step
            });
        });
    });
}
// end

fn main() {
    glomers_node::run(Chains::default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use glomers_node::Engine;
    use serde_json::Value;
    use std::time::Duration;

    const MS: Duration = Duration::from_millis(1);

    fn deliver(engine: &mut Engine<Chains>, src: &str, body: Value, at: Duration) -> Vec<Value> {
        let line = json!({"src": src, "dest": "n0", "body": body}).to_string();
        engine.handle_line(line.as_bytes(), at);
        engine.advance(at);
        let out = std::mem::take(engine.output());
        out.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    }

    fn node(ids: &[&str]) -> Engine<Chains> {
        let mut engine = Engine::new(Chains::default(), 1);
        let init = json!({"type": "init", "msg_id": 1, "node_id": "n0", "node_ids": ids});
        deliver(&mut engine, "c0", init, Duration::ZERO);
        engine
    }

    #[test]
    fn a_forwarded_get_relays_the_owners_answer() {
        let mut engine = node(&["n0", "n1"]);
        let out = deliver(
            &mut engine,
            "c1",
            json!({"type": "get", "msg_id": 7, "key": 1}),
            MS,
        );
        assert_eq!(out[0]["dest"], "n1");
        let id = out[0]["body"]["msg_id"].clone();
        let answer = json!({"type": "get_ok", "value": 5, "in_reply_to": id});
        let out = deliver(&mut engine, "n1", answer, 2 * MS);
        assert_eq!(out[0]["dest"], "c1");
        assert_eq!(
            out[0]["body"],
            json!({"type": "get_ok", "value": 5, "in_reply_to": 7})
        );
    }

    #[test]
    fn a_cas_that_times_out_is_answered_as_in_doubt() {
        let mut engine = node(&["n0"]);
        let out = deliver(
            &mut engine,
            "c1",
            json!({"type": "add", "msg_id": 3, "delta": 2}),
            MS,
        );
        let read = out[0]["body"]["msg_id"].clone();
        let missing = json!({"type": "error", "code": 20, "text": "", "in_reply_to": read});
        let out = deliver(&mut engine, "lin-kv", missing, 2 * MS);
        assert_eq!(out[0]["body"]["type"], "cas");
        assert_eq!(out[0]["body"]["create_if_not_exists"], true);
        // No answer to the cas: after the timeout the client hears "maybe" (code 0).
        let out = deliver(
            &mut engine,
            "c9",
            json!({"type": "local"}),
            2 * MS + 2000 * MS,
        );
        assert_eq!(out[0]["dest"], "c1");
        assert_eq!(out[0]["body"]["code"], 0);
    }

    #[test]
    fn the_lock_is_released_after_the_reply_when_a_read_fails() {
        let mut engine = node(&["n0"]);
        let bump = json!({"type": "bump", "msg_id": 4, "keys": ["a"]});
        let out = deliver(&mut engine, "c1", bump, MS);
        let take = out[0]["body"]["msg_id"].clone();
        let out = deliver(
            &mut engine,
            "lin-kv",
            json!({"type": "cas_ok", "in_reply_to": take}),
            2 * MS,
        );
        assert_eq!(out[0]["body"]["type"], "read");
        let read = out[0]["body"]["msg_id"].clone();
        let failed = json!({"type": "error", "code": 11, "text": "busy", "in_reply_to": read});
        let out = deliver(&mut engine, "lin-kv", failed, 3 * MS);
        assert_eq!(out[0]["dest"], "c1");
        assert_eq!(out[0]["body"]["code"], 11);
        assert_eq!(out[1]["dest"], "lin-kv");
        assert_eq!(out[1]["body"]["type"], "cas");
        assert_eq!(out[1]["body"]["to"], "");
    }
}
