//! A unique-ids node that derives ids from the clock: two requests in the same millisecond
//! (on one node, or on two) get the same id. Fine at low load, duplicated under load.

use glomers_node::{Ctx, Node, ReplyTo};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    Generate,
}

#[derive(Default)]
pub struct ClockIds;

impl Node for ClockIds {
    type Request<'de> = Request;
    type Timer = ();

    fn on_request(&mut self, ctx: &mut Ctx<Self>, _req: Request, from: ReplyTo) {
        let id = ctx.now().as_millis() as u64;
        ctx.reply(&from, json!({"type": "generate_ok", "id": id}));
    }
}
