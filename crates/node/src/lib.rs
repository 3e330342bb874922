//! glomers-node: write a [Maelstrom] node as a single-threaded state machine.
//!
//! A node is a type implementing [`Node`]. It owns its state (`&mut self`, no `Arc<Mutex<..>>`),
//! receives typed requests, and acts only through its [`Ctx`]: [`Ctx::reply`], [`Ctx::send`],
//! [`Ctx::call`] with a continuation that gets `&mut` access to the node again, timers
//! ([`Ctx::run_after`], [`Ctx::run_every`], or typed ones with [`Ctx::after`] and
//! [`Ctx::every`]), the clock ([`Ctx::now`]), a seeded RNG ([`Ctx::rng`]) and clients for
//! Maelstrom's services ([`Ctx::seq_kv`], [`Ctx::lin_kv`], [`Ctx::lww_kv`], [`Ctx::lin_tso`];
//! see [`kv`]).
//!
//! Multi-step chains read top to bottom: [`Call::relay`] forwards an answer, [`Kv::update`] is
//! a read-modify-cas loop, [`Join`] continues once several calls are in, [`in_turn`] takes
//! steps one after another over a list, [`Ctx::defer`], [`KvLock`] and [`ValueLock`] (a lock
//! that holds its key's value) release on every path. The [`guide`] teaches the model and
//! gives a recipe for each.
//!
//! The protocol logic lives in the sans-IO [`Engine`], which takes input lines and clock
//! readings and produces output lines. [`run`] drives it from stdin/stdout in real time; a
//! simulator can drive the same engine in virtual time. For that to be deterministic, node code
//! must take time and randomness only from the context: no `Instant::now()`, no sleeping, no
//! threads, no OS RNG.
//!
//! # Example: echo
//!
//! ```
//! use glomers_node::{Ctx, Node, ReplyTo};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! #[serde(tag = "type", rename_all = "snake_case")]
//! enum Request {
//!     Echo { echo: serde_json::Value },
//! }
//!
//! #[derive(Serialize)]
//! #[serde(tag = "type", rename_all = "snake_case")]
//! enum Response {
//!     EchoOk { echo: serde_json::Value },
//! }
//!
//! struct Echo;
//!
//! impl Node for Echo {
//!     type Request<'de> = Request;
//!     type Timer = ();
//!
//!     fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request, from: ReplyTo) {
//!         match req {
//!             Request::Echo { echo } => ctx.reply(&from, Response::EchoOk { echo }),
//!         }
//!     }
//! }
//!
//! // In a binary: fn main() { glomers_node::run(Echo) }
//! // Here, through an in-memory input:
//! let input = concat!(
//!     r#"{"id":0,"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#, "\n",
//!     r#"{"id":1,"src":"c1","dest":"n1","body":{"type":"echo","msg_id":1,"echo":"hello \"world\""}}"#, "\n",
//! );
//! let mut output = Vec::new();
//! glomers_node::run_with_io(Echo, std::io::Cursor::new(input), &mut output, 7).unwrap();
//! assert_eq!(
//!     String::from_utf8(output).unwrap(),
//!     concat!(
//!         r#"{"src":"n1","dest":"c0","body":{"type":"init_ok","in_reply_to":1}}"#, "\n",
//!         r#"{"src":"n1","dest":"c1","body":{"type":"echo_ok","echo":"hello \"world\"","in_reply_to":1}}"#, "\n",
//!     )
//! );
//! ```
//!
//! # RPCs, timers and services
//!
//! ```
//! use std::time::Duration;
//! use glomers_node::{Ctx, KvError, Node, ReplyTo, RpcError};
//! use serde::Deserialize;
//! use serde_json::json;
//!
//! #[derive(Deserialize)]
//! #[serde(tag = "type", rename_all = "snake_case")]
//! enum Request { Add { delta: u64 }, Read }
//!
//! #[derive(Clone)]
//! struct Flush;
//!
//! #[derive(Default)]
//! struct Counter { pending: u64, known: u64 }
//!
//! impl Node for Counter {
//!     type Request<'de> = Request;
//!     type Timer = Flush;
//!
//!     fn on_init(&mut self, ctx: &mut Ctx<Self>) {
//!         ctx.every(Duration::from_millis(200), Flush);
//!     }
//!
//!     fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request, from: ReplyTo) {
//!         match req {
//!             Request::Add { delta } => {
//!                 self.pending += delta;
//!                 ctx.reply(&from, json!({"type": "add_ok"}));
//!             }
//!             Request::Read => ctx.reply(&from, json!({"type": "read_ok", "value": self.known + self.pending})),
//!         }
//!     }
//!
//!     fn on_timer(&mut self, ctx: &mut Ctx<Self>, _: Flush) {
//!         let key = format!("counter-{}", ctx.node_id());
//!         // The continuation gets the node back as `&mut`: no shared state.
//!         ctx.seq_kv().read(key, |node: &mut Self, ctx, result: Result<u64, KvError>| match result {
//!             Ok(value) => node.known = value,
//!             Err(KvError::KeyDoesNotExist) => {}
//!             Err(e) => glomers_node::log!(ctx, "read failed: {e}"),
//!         });
//!         // A raw RPC to another node, answered or timed out exactly once.
//!         if let Some(peer) = ctx.node_ids().iter().find(|id| *id != ctx.node_id()).cloned() {
//!             ctx.rpc(&peer, json!({"type": "ping"}), Duration::from_secs(1),
//!                 |_node: &mut Self, ctx, result: Result<serde_json::Value, RpcError>| {
//!                     if let Err(e) = result { glomers_node::log!(ctx, "ping failed: {e}") }
//!                 });
//!         }
//!     }
//! }
//! ```
//!
//! [Maelstrom]: https://github.com/jepsen-io/maelstrom
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The guide: the model, where data lives, recipes for the usual chains, timeouts, testing
/// and running a node (also at `docs/node-guide.md` in the repository).
#[doc = include_str!("../guide.md")]
pub mod guide {}

/// The crate README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;

mod body;
mod call;
mod chains;
mod digits;
mod engine;
mod fields;
mod incoming;
pub mod kv;
mod lockstep;
pub mod protocol;
mod read;
mod reply_to;
mod runtime;
mod salvage;
mod scan;

pub use body::parse as parse_request;
pub use call::Call;
pub use chains::{in_turn, Deferred, Join, StepDone};
pub use digits::{decimal_len, plain_i64, put_u64, write_i64, write_u64};
pub use engine::{AnyEngine, Ctx, Engine, Node, ReplyTo, TimerId, MIN_PERIOD};
pub use fields::{Array, Fields};
pub use kv::{
    Kv, KvError, KvLock, Tso, ValueLock, DEFAULT_TIMEOUT, LIN_KV, LIN_TSO, LWW_KV, SEQ_KV,
};
pub use lockstep::{run_lockstep, LOCKSTEP_ENV, LOCKSTEP_VERSION, SEED_ENV};
pub use protocol::{ErrorCode, RpcError};
pub use read::{assert_left_to_serde, assert_reads_as_serde, BodyReader, FieldSet};
pub use runtime::{run, run_with_io, MAX_LINE};

/// Re-exported so that nodes can use `glomers_node::rand::Rng` on [`Ctx::rng`].
pub use rand;
/// Re-exported: [`Ctx::rng`] returns a [`rand_chacha::ChaCha8Rng`].
pub use rand_chacha;

/// Writes one log line through a [`Ctx`]: `log!(ctx, "peer {peer} is slow")`.
#[macro_export]
macro_rules! log {
    ($ctx:expr, $($arg:tt)+) => {
        $ctx.log(::std::format_args!($($arg)+))
    };
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_chains;
#[cfg(test)]
mod tests_fast;
#[cfg(test)]
mod tests_input;
#[cfg(test)]
mod tests_kv;
#[cfg(test)]
mod tests_pitfalls;
#[cfg(test)]
mod tests_read;
#[cfg(test)]
mod tests_runtime;
