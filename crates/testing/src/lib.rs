//! glomers-testing: test a [`glomers_node::Node`] in virtual time.
//!
//! A [`TestCluster`] runs `n` instances of your node type, initialised, behind the simulated
//! network of the `glomers` workbench, with Maelstrom's four services (`lin-kv`, `seq-kv`,
//! `lww-kv`, `lin-tso`). Your test plays the clients ([`TestCluster::call`],
//! [`TestCluster::request`] and [`TestCluster::await_reply`]), moves virtual time
//! ([`TestCluster::run_for`], [`TestCluster::run_until`]), cuts the network
//! ([`TestCluster::partition`], [`TestCluster::isolate`], [`TestCluster::heal`]) and loses or
//! delays messages by rule ([`TestCluster::set_rule`]). Throughout, every request a node
//! receives is counted: [`TestCluster::assert_exactly_once`] fails if one was answered twice or
//! never.
//!
//! It is the very simulator behind `glomers sim` (the same network model, services and node
//! stepping), so a node that passes here behaves the same under the workbench. Everything is
//! deterministic: the same seed and the same calls give the same run, in milliseconds.
//!
//! ```
//! use glomers_testing::{json, ClusterBuilder, Fate, LatencyDist};
//! use std::time::Duration;
//! # use glomers_node::{Ctx, Node, ReplyTo};
//! # #[derive(serde::Deserialize)]
//! # #[serde(tag = "type", rename_all = "snake_case")]
//! # enum Request { Echo { echo: serde_json::Value } }
//! # struct Echo;
//! # impl Node for Echo {
//! #     type Request<'de> = Request;
//! #     type Timer = ();
//! #     fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request, from: ReplyTo) {
//! #         let Request::Echo { echo } = req;
//! #         ctx.reply(&from, json!({"type": "echo_ok", "echo": echo}));
//! #     }
//! # }
//!
//! let mut cluster = ClusterBuilder::new(3)
//!     .seed(7)
//!     .latency(Duration::from_millis(10), LatencyDist::Exponential)
//!     .build(|_| Echo);
//! let reply = cluster.call(0, json!({"type": "echo", "echo": 42})).unwrap();
//! assert_eq!(reply["echo"], 42);
//!
//! // Lose every answer from n2: the call times out after 5 s of virtual time.
//! cluster.set_rule(|m, _rng| if m.src == "n2" { Fate::Drop } else { Fate::Deliver });
//! assert!(cluster.call(2, json!({"type": "echo", "echo": 1})).is_err());
//! // n2 did answer (the network lost it), so each request was answered exactly once.
//! cluster.assert_exactly_once();
//! ```
#![forbid(unsafe_code)]

pub use glomers_workbench::net::{LatencyDist, NetStats};
pub use glomers_workbench::testing::{
    CallError, ClusterBuilder, Fate, Received, RequestId, Sent, TestCluster, CALL_TIMEOUT,
};
/// The RNG a fault rule gets (`use glomers_testing::rand::Rng` for `gen_bool`).
pub use glomers_workbench::Rng;

/// Re-exported for fault rules: `use glomers_testing::rand::Rng as _; rng.gen_bool(0.3)`.
pub use glomers_node::rand;
/// Re-exported to write request bodies: `json!({"type": "read"})`.
pub use serde_json::{json, Map, Value};
