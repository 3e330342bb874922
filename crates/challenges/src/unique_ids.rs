//! Challenge #2, unique ID generation: answer `generate` with `generate_ok {id}`, ids unique
//! across the cluster, with no coordination at all (so totally available under partitions).
//!
//! An id is `<node id>-<epoch>-<counter>`, e.g. `n1-3kf9a2x1-1z`:
//! - the node id makes ids from different nodes differ;
//! - the counter (base 36) makes ids from one node process differ;
//! - the epoch, 40 random bits (base 36) drawn from `ctx.rng()` at init, makes ids from a
//!   restarted process differ from those of its previous life, whose counter started at 0 too.
//!   Under [`glomers_node::run`] the RNG is seeded from the OS, so two lives of a node share an
//!   epoch with probability 2^-40. (A simulator that restarts a node must reseed it.)

use std::fmt;

use glomers_node::rand::Rng;
use glomers_node::{Ctx, Node, ReplyTo};
use serde::{Deserialize, Serialize, Serializer};

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    Generate,
}

/// The unique-ids node.
#[derive(Debug, Default, Clone)]
pub struct UniqueIds {
    /// This node's id, copied at init.
    node_id: String,
    /// Base-36 digits of this process's random epoch; set at init.
    epoch: String,
    /// Ids handed out so far.
    count: u64,
}

impl UniqueIds {
    /// How many ids this node has generated.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// One id, written straight into the output without an intermediate String.
struct Id<'a> {
    node: &'a str,
    epoch: &'a str,
    n: u64,
}

impl fmt::Display for Id<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.node, self.epoch, Base36(self.n))
    }
}

impl Serialize for Id<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[derive(Serialize)]
struct GenerateOk<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    id: Id<'a>,
}

/// A number in base 36 (digits, then lowercase letters).
struct Base36(u64);

impl fmt::Display for Base36 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut buf = [0u8; 13];
        let mut i = buf.len();
        let mut n = self.0;
        loop {
            i -= 1;
            buf[i] = DIGITS[(n % 36) as usize];
            n /= 36;
            if n == 0 {
                break;
            }
        }
        // Only ASCII digits and letters were written.
        f.write_str(std::str::from_utf8(&buf[i..]).unwrap_or("?"))
    }
}

impl Node for UniqueIds {
    type Request<'de> = Request;
    type Timer = ();

    fn on_init(&mut self, ctx: &mut Ctx<Self>) {
        let epoch: u64 = ctx.rng().gen::<u64>() >> 24;
        self.epoch = Base36(epoch).to_string();
        self.node_id = ctx.node_id().to_string();
    }

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request, from: ReplyTo) {
        match req {
            Request::Generate => {
                let n = self.count;
                self.count += 1;
                let id = Id {
                    node: &self.node_id,
                    epoch: &self.epoch,
                    n,
                };
                ctx.reply(
                    &from,
                    GenerateOk {
                        ty: "generate_ok",
                        id,
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glomers_node::Engine;
    use serde_json::{json, Value};
    use std::collections::BTreeSet;
    use std::time::Duration;

    fn start(node_id: &str, seed: u64) -> Engine<UniqueIds> {
        let mut engine = Engine::new(UniqueIds::default(), seed);
        let init = json!({"src": "c0", "dest": node_id, "body": {"type": "init", "msg_id": 1, "node_id": node_id, "node_ids": ["n0", "n1", "n2"]}});
        engine.handle_line(&serde_json::to_vec(&init).unwrap(), Duration::ZERO);
        engine.output().clear();
        engine
    }

    fn generate(engine: &mut Engine<UniqueIds>, msg_id: u64) -> Value {
        let line = format!(
            r#"{{"id":9,"src":"c3","dest":"n0","body":{{"type":"generate","msg_id":{msg_id}}}}}"#
        );
        engine.handle_line(line.as_bytes(), Duration::ZERO);
        let out = std::mem::take(engine.output());
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        let reply: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(reply["dest"], "c3");
        let body = &reply["body"];
        assert_eq!(body["type"], "generate_ok");
        assert_eq!(body["in_reply_to"], msg_id);
        assert_eq!(body.as_object().unwrap().len(), 3, "closed schema: {body}");
        body["id"].clone()
    }

    #[test]
    fn ids_are_unique_across_nodes_and_restarts() {
        let mut seen = BTreeSet::new();
        // Three nodes, and a second life of n0 with another seed.
        for (node, seed) in [("n0", 1), ("n1", 2), ("n2", 3), ("n0", 4)] {
            let mut engine = start(node, seed);
            for i in 0..2000 {
                let id = generate(&mut engine, i + 2);
                let id = id.as_str().unwrap().to_string();
                assert!(id.starts_with(&format!("{node}-")), "{id}");
                assert!(seen.insert(id.clone()), "duplicate {id}");
            }
            assert_eq!(engine.node().count(), 2000);
        }
        assert_eq!(seen.len(), 8000);
    }

    #[test]
    fn ids_look_compact() {
        let mut engine = start("n1", 7);
        let first = generate(&mut engine, 2);
        let first = first.as_str().unwrap();
        let parts: Vec<&str> = first.split('-').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], "n1");
        assert!(parts[1].len() <= 8 && !parts[1].is_empty(), "{first}");
        assert_eq!(parts[2], "0");
        for _ in 0..35 {
            generate(&mut engine, 3);
        }
        let id = generate(&mut engine, 4);
        assert!(id.as_str().unwrap().ends_with("-10"), "{id}");
    }

    #[test]
    fn same_seed_same_ids() {
        let mut a = start("n0", 5);
        let mut b = start("n0", 5);
        assert_eq!(generate(&mut a, 2), generate(&mut b, 2));
    }

    #[test]
    fn base36() {
        assert_eq!(Base36(0).to_string(), "0");
        assert_eq!(Base36(35).to_string(), "z");
        assert_eq!(Base36(36).to_string(), "10");
        assert_eq!(Base36(u64::MAX).to_string(), "3w5e11264sgsf");
    }
}
