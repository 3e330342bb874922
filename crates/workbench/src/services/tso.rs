//! TODO (being written): lin-tso.
use super::Service;
use crate::Rng;
use serde_json::{Map, Value};

#[derive(Default)]
pub struct LinTso;
impl Service for LinTso {
    fn name(&self) -> &'static str {
        "lin-tso"
    }
    fn handle(&mut self, _: &str, _: &Map<String, Value>, _: &mut Rng) -> Option<Value> {
        None
    }
}
