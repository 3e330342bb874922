//! Challenge #1, echo: answer `echo {echo: X}` with `echo_ok {echo: X}`.
//!
//! The value is never parsed: the request borrows it from the input line as a `&RawValue` and
//! the reply writes those bytes back verbatim. serde's internally tagged enums cannot hold a
//! `RawValue` (they buffer the body first), so the request is a plain struct whose `type` field
//! is a one-variant enum: any other type is serde's "unknown variant" and the runtime answers it
//! with error 10 (not-supported).

use glomers_node::{Ctx, Node, ReplyTo};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The only message type this node accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EchoType {
    Echo,
}

/// `{"type":"echo","echo":X}`, borrowing `X` from the input line.
#[derive(Debug, Deserialize)]
pub struct EchoRequest<'a> {
    #[serde(rename = "type")]
    pub ty: EchoType,
    #[serde(borrow)]
    pub echo: &'a RawValue,
}

#[derive(Serialize)]
struct EchoOk<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    echo: &'a RawValue,
}

/// The echo node. Its only state is a count (a named-field struct rather than a unit struct,
/// so that `Echo::default()` reads naturally everywhere).
#[derive(Debug, Default, Clone)]
pub struct Echo {
    replies: u64,
}

impl Echo {
    /// How many echoes this node has answered.
    pub fn replies(&self) -> u64 {
        self.replies
    }
}

impl Node for Echo {
    type Request<'de> = EchoRequest<'de>;
    type Timer = ();

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: EchoRequest<'_>, from: ReplyTo) {
        self.replies += 1;
        ctx.reply(
            &from,
            EchoOk {
                ty: "echo_ok",
                echo: req.echo,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glomers_node::Engine;
    use serde_json::{json, Value};
    use std::time::Duration;

    fn lines(engine: &mut Engine<Echo>) -> Vec<Value> {
        let out = std::mem::take(engine.output());
        out.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    }

    fn send(engine: &mut Engine<Echo>, body: Value) {
        let line =
            serde_json::to_vec(&json!({"id": 3, "src": "c1", "dest": "n0", "body": body})).unwrap();
        engine.handle_line(&line, Duration::ZERO);
    }

    fn engine() -> Engine<Echo> {
        let mut engine = Engine::new(Echo::default(), 0);
        send(
            &mut engine,
            json!({"type": "init", "msg_id": 1, "node_id": "n0", "node_ids": ["n0"]}),
        );
        assert_eq!(lines(&mut engine)[0]["body"]["type"], "init_ok");
        engine
    }

    #[test]
    fn echoes_any_value_verbatim() {
        let mut engine = engine();
        for (i, value) in [
            json!("Please echo 42"),
            json!(17),
            json!(1.5e300),
            json!(null),
            json!({"nested": [1, {"a": "\"\\\n"}], "empty": {}}),
            json!("🦀 \u{0} \t"),
        ]
        .into_iter()
        .enumerate()
        {
            send(
                &mut engine,
                json!({"type": "echo", "msg_id": i + 2, "echo": value}),
            );
            assert_eq!(
                lines(&mut engine),
                vec![
                    json!({"src": "n0", "dest": "c1", "body": {"type": "echo_ok", "echo": value, "in_reply_to": i + 2}})
                ]
            );
        }
    }

    #[test]
    fn keeps_the_exact_bytes() {
        let mut engine = engine();
        engine.handle_line(
            br#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":5,"echo":1.000}}"#,
            Duration::ZERO,
        );
        assert_eq!(
            std::mem::take(engine.output()),
            b"{\"src\":\"n0\",\"dest\":\"c1\",\"body\":{\"type\":\"echo_ok\",\"echo\":1.000,\"in_reply_to\":5}}\n"
        );
    }

    #[test]
    fn rejects_other_types_and_missing_values() {
        let mut engine = engine();
        send(&mut engine, json!({"type": "generate", "msg_id": 9}));
        send(&mut engine, json!({"type": "echo", "msg_id": 10}));
        let out = lines(&mut engine);
        assert_eq!(out[0]["body"]["code"], 10);
        assert_eq!(out[0]["body"]["in_reply_to"], 9);
        assert_eq!(out[1]["body"]["code"], 12);
        assert_eq!(out[1]["body"]["in_reply_to"], 10);
        // And still serves.
        send(
            &mut engine,
            json!({"type": "echo", "msg_id": 11, "echo": "x"}),
        );
        assert_eq!(lines(&mut engine)[0]["body"]["echo"], "x");
        assert_eq!(engine.node().replies(), 1);
    }
}
