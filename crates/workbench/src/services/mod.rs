//! Maelstrom's built-in services, living inside the workbench as network participants:
//! `lin-kv`, `seq-kv`, `lww-kv` and `lin-tso`. Each handles one message at a time; traffic to
//! and from them pays latency and counts as servers traffic.

use serde_json::{Map, Value};

use crate::net::Addr;
use crate::Rng;

pub mod kv;
pub mod tso;

/// A service answers requests. The runner adds `in_reply_to` (the request's `msg_id`, or null)
/// to the returned body; services never set `msg_id`.
pub trait Service {
    /// The service's node id: `lin-kv`, `seq-kv`, `lww-kv`, `lin-tso`.
    fn name(&self) -> &'static str;

    /// Handles a request from `src`. `None` means no reply at all, which is what Maelstrom does
    /// for an unknown request type (the caller times out).
    fn handle(&mut self, src: Addr, body: &Map<String, Value>, rng: &mut Rng) -> Option<Value>;
}

/// The ids of every service, in the order they are created.
pub const NAMES: [&str; 4] = ["lin-kv", "seq-kv", "lww-kv", "lin-tso"];

/// One instance of each service.
pub fn all() -> Vec<Box<dyn Service>> {
    vec![
        Box::new(kv::LinKv::default()),
        Box::new(kv::SeqKv::default()),
        Box::new(kv::LwwKv::default()),
        Box::new(tso::LinTso::default()),
    ]
}
