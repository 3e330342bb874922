//! Deliberately broken nodes. Each has one realistic bug, and the workbench's tests prove that
//! the checkers catch it (beside the tests proving the correct node passes). They are in the
//! node catalog as `broken-*`, so both drivers can run them.

pub mod broadcast;
pub mod counter;
pub mod echo;
pub mod kafka;
pub mod lin_kv;
pub mod txn;
pub mod unique_ids;
