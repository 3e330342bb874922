//! An echo node that mangles one reply in a hundred.

use glomers_node::{Ctx, Node, ReplyTo};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    Echo { echo: Value },
}

#[derive(Default)]
pub struct MangledEcho {
    served: u64,
}

impl Node for MangledEcho {
    type Request<'de> = Request;
    type Timer = ();

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request, from: ReplyTo) {
        let Request::Echo { echo } = req;
        self.served += 1;
        // The bug: every hundredth reply comes back changed.
        let echo = if self.served.is_multiple_of(100) {
            json!(format!("{} (mangled)", echo.as_str().unwrap_or("?")))
        } else {
            echo
        };
        ctx.reply(&from, json!({"type": "echo_ok", "echo": echo}));
    }
}
