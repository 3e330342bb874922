//! `lin-tso`: a linearizable timestamp oracle. `{"type":"ts"}` is answered with
//! `{"type":"ts_ok","ts":N}`, N = 0, 1, 2, ..., one per request.

use serde_json::{json, Map, Value};

use super::Service;
use crate::net::Addr;
use crate::Rng;

#[derive(Debug, Default)]
pub struct LinTso {
    /// The timestamp the next `ts` request gets.
    next: u64,
}

impl Service for LinTso {
    fn name(&self) -> &'static str {
        "lin-tso"
    }

    fn handle(&mut self, _src: Addr, body: &Map<String, Value>, _rng: &mut Rng) -> Option<Value> {
        match body.get("type").and_then(Value::as_str) {
            Some("ts") => {
                let ts = self.next;
                self.next += 1;
                Some(json!({"type": "ts_ok", "ts": ts}))
            }
            // Maelstrom's service throws on any other type and never answers.
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn body(v: Value) -> Map<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn timestamps_start_at_zero_and_strictly_increase() {
        let mut tso = LinTso::default();
        let mut rng = Rng::seed_from_u64(1);
        let stamps: Vec<u64> = (0..5)
            .map(|i| {
                let src = format!("n{}", i % 2);
                let reply = tso.handle(
                    Addr::parse(&src, 2).expect("a node"),
                    &body(json!({"type": "ts", "msg_id": i})),
                    &mut rng,
                );
                let reply = reply.expect("ts is answered");
                assert_eq!(reply["type"], "ts_ok");
                assert_eq!(
                    reply.as_object().unwrap().len(),
                    2,
                    "only type and ts: {reply}"
                );
                reply["ts"].as_u64().unwrap()
            })
            .collect();
        assert_eq!(stamps, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn unknown_type_gets_no_reply() {
        let mut tso = LinTso::default();
        let mut rng = Rng::seed_from_u64(1);
        assert_eq!(
            tso.handle(Addr::Node(0), &body(json!({"type": "read"})), &mut rng),
            None
        );
        assert_eq!(tso.handle(Addr::Node(0), &body(json!({})), &mut rng), None);
        // An unanswered request does not consume a timestamp.
        let reply = tso
            .handle(Addr::Node(0), &body(json!({"type": "ts"})), &mut rng)
            .unwrap();
        assert_eq!(reply["ts"], 0);
    }
}
