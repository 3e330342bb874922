//! The strict-serializable mode: two-phase locking per key over `lin-kv`, no global lock.
//!
//! Each key lives in lin-kv as `[value, owner]` (owner `""` when free), locked with
//! [`glomers_node::Kv::lock_value`]. A transaction locks its keys one by one in key order (so
//! two transactions never wait for each other in a circle), guessing each value from a local
//! cache so that a lock is one `cas` when the guess is right. Holding every lock, it computes
//! its reads and writes, then commits each key, which writes `[new value, ""]` back: its write
//! and its release in one step. It answers once all are written. Locks are held from before
//! the first read to after the last write, so the order of lock acquisition is a serial order
//! that respects real time. A key it cannot lock ends the transaction with the error, and the
//! keys locked so far are freed unchanged as their locks are dropped.
//!
//! The service is never partitioned from the nodes (Maelstrom partitions nodes from nodes), so
//! this mode stays available under `--nemesis partition`; it pays about two service round
//! trips per key.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Fun, MicroOp, Txn};
use glomers_node::{in_turn, log, Ctx, ErrorCode, Join, KvError, ReplyTo, ValueLock};

/// How long a transaction waits for each of its keys before it gives up (error 11), and for
/// each lin-kv answer: as long as a client waits, so that a transaction fails only where its
/// client would have given up anyway.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// A key locked for a transaction, with its value.
type Locked = ValueLock<Txn, i64>;

#[derive(Default)]
pub struct State {
    /// The last value seen per key: the guess that makes a lock one `cas`.
    cache: BTreeMap<i64, Option<i64>>,
}

pub fn begin(node: &mut Txn, ctx: &mut Ctx<Txn>, txn: Vec<MicroOp>, from: ReplyTo) {
    let mut keys: Vec<i64> = txn.iter().map(|op| op.1).collect();
    keys.sort_unstable();
    keys.dedup();
    let lock = |node: &mut Txn, ctx: &mut Ctx<Txn>, key: i64, locked| {
        let guess = node.serializable.cache.get(&key).copied().flatten();
        let kv = ctx.lin_kv().timeout(LOCK_WAIT);
        kv.lock_value(key.to_string(), guess, locked)
    };
    in_turn(node, ctx, keys.clone(), lock, move |node, ctx, locks| {
        let locks: Vec<Locked> = match locks {
            Ok(locks) => locks,
            Err(e) => {
                log!(ctx, "transaction aborted while locking: {e}");
                return ctx.reply_failure(&from, e); // the keys locked so far are freed
            }
        };
        let mut locks: BTreeMap<i64, Locked> = keys.into_iter().zip(locks).collect();
        let done = run(txn, &mut locks);
        let mut writes = Join::new();
        for (key, lock) in locks {
            node.serializable.cache.insert(key, lock.value().copied());
            lock.commit(ctx, writes.slot());
        }
        writes.then_ok(
            ctx,
            move |node: &mut Txn, ctx, written: Result<Vec<()>, KvError>| {
                if let Err(e) = written {
                    log!(ctx, "committing a transaction failed: {e}");
                    let text = "the transaction's outcome is unknown";
                    return ctx.reply_error(&from, ErrorCode::Crash, text);
                }
                super::wire::reply_txn_ok(ctx, &from, &done, &mut node.reply)
            },
        );
    });
}

/// Runs the transaction on its locked keys (reads see its own earlier writes) and returns the
/// completed micro-ops; the locks hold the values to write back.
fn run(txn: Vec<MicroOp>, locks: &mut BTreeMap<i64, Locked>) -> Vec<MicroOp> {
    txn.into_iter()
        .map(|(f, key, value)| {
            let lock = locks.get_mut(&key).expect("every key is locked");
            match (f, value) {
                (Fun::Read, _) => {
                    let read = lock.value().copied();
                    (f, key, read)
                }
                (_, Some(v)) => {
                    lock.set(v);
                    (f, key, value)
                }
                _ => (f, key, value),
            }
        })
        .collect()
}
