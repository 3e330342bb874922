//! `unique-ids`: `generate` asks a node for an id; no two acknowledged ids may be equal.

use serde_json::{Map, Value};

use super::{closed_schema, Invocation, Request, Workload};
use crate::checkers::{unique::check_unique_ids, CheckResult};
use crate::history::History;
use crate::Rng;

pub struct UniqueIds;

impl Workload for UniqueIds {
    fn name(&self) -> &'static str {
        "unique-ids"
    }

    fn next_op(&mut self, _worker: usize, _rng: &mut Rng) -> Invocation {
        Invocation::new("generate", Value::Null)
    }

    fn request(&self, _op: &Invocation) -> Request {
        Request::writer("generate").finish()
    }

    fn response(&self, _op: &Invocation, reply: &Map<String, Value>) -> Result<Value, String> {
        closed_schema(reply, "generate_ok", &["id"])?;
        Ok(reply["id"].clone())
    }

    fn reusable_client(&self) -> bool {
        true
    }

    fn check(&self, history: &History) -> CheckResult {
        check_unique_ids(history)
    }
}
