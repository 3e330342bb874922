//! The Gossip Glomers challenge nodes, one module per challenge. Each node type implements
//! [`glomers_node::Node`], so it runs both as a binary (`src/bin/`, through
//! [`glomers_node::run`]) and in-process in the workbench's simulator (through
//! [`glomers_node::Engine`]).

pub mod broadcast;
pub mod counter;
mod decimal;
pub mod echo;
pub mod kafka;
pub mod lin_kv;
pub mod raft;
pub mod txn;
pub mod unique_ids;
