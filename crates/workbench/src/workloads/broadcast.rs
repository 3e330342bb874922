//! TODO (being written): broadcast and g-set.
use super::{Invocation, Workload, WorkloadOptions};
use crate::checkers::{CheckResult, Validity};
use crate::history::History;
use crate::Rng;
use serde_json::{Map, Value};

pub enum Flavor {
    Broadcast,
    GSet,
}
pub struct Broadcast;
impl Broadcast {
    pub fn new(_: &WorkloadOptions, _: Flavor) -> anyhow::Result<Broadcast> {
        anyhow::bail!("broadcast is not written yet")
    }
}
impl Workload for Broadcast {
    fn name(&self) -> &'static str {
        "broadcast"
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
