//! Maelstrom's `lin-kv` workload: a linearizable key-value store of registers. Clients send
//! `read {key}` → `read_ok {value}`, `write {key, value}` → `write_ok`, and
//! `cas {key, from, to}` → `cas_ok`, or error 20 (key does not exist) / 22 (precondition
//! failed). Two nodes serve it: [`proxy::LinKvProxy`] relays every request to Maelstrom's
//! `lin-kv` service; [`crate::raft::Raft`] replicates the store itself.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod proxy;

/// A client operation on the store, as the workload sends it.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KvOp {
    Read {
        key: Value,
    },
    Write {
        key: Value,
        value: Value,
    },
    Cas {
        key: Value,
        from: Value,
        to: Value,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        create_if_not_exists: bool,
    },
}

/// The success replies.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KvReply {
    ReadOk { value: Value },
    WriteOk,
    CasOk,
}
