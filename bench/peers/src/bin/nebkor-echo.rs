//! An echo node on nebkor-maelstrom 1.1 (synchronous), for the pipes benchmark.
//!
//! Written on the crate's public API the way its README does it (a `Node` with one `handle`
//! method, replies built from `Body`), except that the payload is moved out of the request rather
//! than cloned, which only helps it.

use nebkor_maelstrom::{Body, Message, Node, Runner};

struct Echo;

impl Node for Echo {
    fn handle(&mut self, runner: &Runner, mut msg: Message) {
        if msg.typ() == "echo" {
            // The payload holds `echo` (and anything else the request carried): send it back.
            let payload = std::mem::take(&mut msg.body.payload);
            runner.reply(&msg, Body::from_type("echo_ok").with_payload(payload));
        }
    }
}

fn main() {
    Runner::new(Echo).run(None);
}
