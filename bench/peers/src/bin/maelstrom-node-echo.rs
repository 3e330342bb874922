//! An echo node on maelstrom-node 0.1.6 (tokio), for the pipes benchmark.
//!
//! Written on the crate's public API: a `Node` whose async `process` answers `echo` with its own
//! body retyped `echo_ok` (the runtime adds `in_reply_to`) and hands anything else to `done`,
//! which answers not-supported. The runtime's own defaults are kept, logging included.

use std::sync::Arc;

use async_trait::async_trait;
use maelstrom::protocol::Message;
use maelstrom::{done, Node, Result, Runtime};

struct Echo;

#[async_trait]
impl Node for Echo {
    async fn process(&self, runtime: Runtime, req: Message) -> Result<()> {
        if req.get_type() != "echo" {
            return done(runtime, req);
        }
        let body = req.body.clone().with_type("echo_ok");
        runtime.reply(req, body).await
    }
}

fn main() -> Result<()> {
    Runtime::init(async {
        let runtime = Runtime::new().with_handler(Arc::new(Echo));
        runtime.run().await
    })
}
