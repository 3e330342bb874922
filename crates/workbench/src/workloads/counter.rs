//! TODO (being written): g-counter and pn-counter.
use super::{Invocation, Workload};
use crate::checkers::{CheckResult, Validity};
use crate::history::History;
use crate::Rng;
use serde_json::{Map, Value};

pub enum Flavor {
    GCounter,
    PnCounter,
}
pub struct Counter;
impl Counter {
    pub fn new(_: Flavor) -> Counter {
        Counter
    }
}
impl Workload for Counter {
    fn name(&self) -> &'static str {
        "g-counter"
    }
    fn next_op(&mut self, _: &mut Rng) -> Invocation {
        unimplemented!()
    }
    fn request(&self, _: &Invocation) -> Value {
        unimplemented!()
    }
    fn response(&self, _: &Invocation, _: &Map<String, Value>) -> Result<Value, String> {
        unimplemented!()
    }
    fn check(&self, _: &History) -> CheckResult {
        CheckResult::new(Validity::Unknown)
    }
}
