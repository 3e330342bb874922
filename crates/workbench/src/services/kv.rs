//! TODO (being written): lin-kv, seq-kv, lww-kv.
use super::Service;
use crate::Rng;
use serde_json::{Map, Value};

macro_rules! placeholder {
    ($t:ident, $name:literal) => {
        #[derive(Default)]
        pub struct $t;
        impl Service for $t {
            fn name(&self) -> &'static str {
                $name
            }
            fn handle(&mut self, _: &str, _: &Map<String, Value>, _: &mut Rng) -> Option<Value> {
                None
            }
        }
    };
}
placeholder!(LinKv, "lin-kv");
placeholder!(SeqKv, "seq-kv");
placeholder!(LwwKv, "lww-kv");
