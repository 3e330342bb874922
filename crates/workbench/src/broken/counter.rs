//! Grow-only counters with one flaw each, both on a single shared seq-kv key.

use glomers_node::{Ctx, KvError, Node, ReplyTo};
use serde::Deserialize;
use serde_json::json;

const KEY: &str = "counter";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flaw {
    /// Adds by read-modify-write with a plain `write` instead of `cas`: concurrent adds
    /// overwrite each other, and stale reads make it worse.
    WriteWithoutCas,
    /// Adds correctly (a `cas` loop), but answers reads, the final one included, from a single
    /// seq-kv read, which may be stale.
    TrustsOneStaleRead,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    Add { delta: i64 },
    Read,
}

pub struct FlawedCounter {
    flaw: Flaw,
}

impl FlawedCounter {
    pub fn new(flaw: Flaw) -> FlawedCounter {
        FlawedCounter { flaw }
    }

    fn add(ctx: &mut Ctx<Self>, delta: i64, from: ReplyTo) {
        ctx.seq_kv().read(
            KEY,
            move |node: &mut Self, ctx, current: Result<i64, KvError>| {
                let current = match current {
                    Ok(v) => v,
                    Err(KvError::KeyDoesNotExist) => 0,
                    Err(e) => return ctx.reply_error(&from, e.code(), e.to_string()),
                };
                let done = move |_: &mut Self, ctx: &mut Ctx<Self>, result: Result<(), KvError>| {
                    match result {
                        Ok(()) => ctx.reply(&from, json!({"type": "add_ok"})),
                        Err(KvError::PreconditionFailed(_)) => Self::add(ctx, delta, from),
                        Err(e) => ctx.reply_error(&from, e.code(), e.to_string()),
                    }
                };
                match node.flaw {
                    Flaw::WriteWithoutCas => ctx.seq_kv().write(KEY, current + delta, done),
                    Flaw::TrustsOneStaleRead => {
                        ctx.seq_kv().cas(KEY, current, current + delta, true, done)
                    }
                }
            },
        );
    }
}

impl Node for FlawedCounter {
    type Request<'de> = Request;
    type Timer = ();

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request, from: ReplyTo) {
        match req {
            Request::Add { delta } => Self::add(ctx, delta, from),
            Request::Read => ctx.seq_kv().read(
                KEY,
                move |_: &mut Self, ctx, value: Result<i64, KvError>| match value {
                    Ok(v) => ctx.reply(&from, json!({"type": "read_ok", "value": v})),
                    Err(KvError::KeyDoesNotExist) => {
                        ctx.reply(&from, json!({"type": "read_ok", "value": 0}))
                    }
                    Err(e) => ctx.reply_error(&from, e.code(), e.to_string()),
                },
            ),
        }
    }
}
