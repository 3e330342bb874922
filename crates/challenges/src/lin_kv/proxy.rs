//! `lin-kv-proxy`: answers every lin-kv request by asking Maelstrom's `lin-kv` service, which
//! is linearizable, and relaying its answer (errors with their code and text). The simplest
//! correct lin-kv node, so the workload's checker has something it must pass.

use std::time::Duration;

use glomers_node::{Ctx, Node, ReplyTo, LIN_KV};

use super::KvOp;

/// How long to wait for the service. A lost answer is relayed as error 0 (timeout), which is
/// indefinite: the operation may have happened.
pub const SERVICE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct LinKvProxy;

impl Node for LinKvProxy {
    type Request<'de> = KvOp;
    type Timer = ();

    fn on_request(&mut self, ctx: &mut Ctx<Self>, op: KvOp, from: ReplyTo) {
        ctx.call(LIN_KV, &op).timeout(SERVICE_TIMEOUT).relay(from);
    }
}
