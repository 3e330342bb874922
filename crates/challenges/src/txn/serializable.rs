//! The strict-serializable mode: two-phase locking per key over `lin-kv`, no global lock.
//!
//! Each key lives in lin-kv as `[value, owner]` (owner `""` when free). A transaction locks
//! its keys one by one in key order (so two transactions never wait for each other in a
//! circle) by a `cas` from `[v, ""]` to `[v, me]`, guessing `v` from a local cache and reading
//! the key when the guess was wrong; a key locked by someone else is retried a few ms later.
//! Holding every lock, it computes its reads and writes, then writes `[new value, ""]` back to
//! each key, which installs its writes and releases the lock in one step, and answers once all
//! are written. Locks are held from before the first read to after the last write, so the
//! order of lock acquisition is a serial order that respects real time.
//!
//! The service is never partitioned from the nodes (Maelstrom partitions nodes from nodes), so
//! this mode stays available under `--nemesis partition`; it pays about two service round
//! trips per key.

use std::collections::BTreeMap;
use std::time::Duration;

use glomers_node::rand::Rng as _;
use glomers_node::{log, Ctx, ErrorCode, KvError, ReplyTo};
use serde_json::json;

use super::{MicroOp, Timer, Txn};

/// A key's record in lin-kv: value (None for a key never written) and lock owner.
type Record = (Option<i64>, String);

struct Pending {
    from: ReplyTo,
    txn: Vec<MicroOp>,
    /// The transaction's keys, sorted, each once.
    keys: Vec<i64>,
    /// How many of `keys` are locked.
    locked: usize,
    /// The value of each locked key, read under the lock.
    values: BTreeMap<i64, Option<i64>>,
    /// Release writes not yet acknowledged.
    releasing: usize,
    failed: bool,
    reply: Vec<MicroOp>,
}

#[derive(Default)]
pub struct State {
    pending: BTreeMap<u64, Pending>,
    next_id: u64,
    /// The last value seen per key, to guess the `from` of the locking cas.
    cache: BTreeMap<i64, Option<i64>>,
}

pub fn begin(node: &mut Txn, ctx: &mut Ctx<Txn>, txn: Vec<MicroOp>, from: ReplyTo) {
    let mut keys: Vec<i64> = txn.iter().map(|m| m.1).collect();
    keys.sort_unstable();
    keys.dedup();
    let state = &mut node.serializable;
    let id = state.next_id;
    state.next_id += 1;
    state.pending.insert(
        id,
        Pending {
            from,
            txn,
            keys,
            locked: 0,
            values: BTreeMap::new(),
            releasing: 0,
            failed: false,
            reply: Vec::new(),
        },
    );
    acquire(node, ctx, id);
}

/// A lock retry timer fired.
pub fn retry(node: &mut Txn, ctx: &mut Ctx<Txn>, id: u64) {
    acquire(node, ctx, id);
}

fn owner(ctx: &Ctx<Txn>, id: u64) -> String {
    format!("{}:{id}", ctx.node_id())
}

/// Locks the next key, or commits when all are locked.
fn acquire(node: &mut Txn, ctx: &mut Ctx<Txn>, id: u64) {
    let Some(p) = node.serializable.pending.get(&id) else {
        return;
    };
    if p.locked == p.keys.len() {
        return commit(node, ctx, id);
    }
    let key = p.keys[p.locked];
    let guess = node.serializable.cache.get(&key).copied().flatten();
    let free: Record = (guess, String::new());
    let mine: Record = (guess, owner(ctx, id));
    ctx.lin_kv().cas(
        key.to_string(),
        free,
        mine,
        true,
        move |node: &mut Txn, ctx, result| match result {
            Ok(()) => {
                if let Some(p) = node.serializable.pending.get_mut(&id) {
                    p.values.insert(key, guess);
                    p.locked += 1;
                }
                acquire(node, ctx, id);
            }
            Err(KvError::PreconditionFailed(_)) => {
                ctx.lin_kv().read(
                    key.to_string(),
                    move |node: &mut Txn, ctx, result: Result<Record, KvError>| match result {
                        Ok((value, holder)) => {
                            node.serializable.cache.insert(key, value);
                            if holder.is_empty() {
                                acquire(node, ctx, id);
                            } else {
                                let wait = ctx.rng().gen_range(1..=8);
                                ctx.after(Duration::from_millis(wait), Timer::Retry(id));
                            }
                        }
                        Err(KvError::KeyDoesNotExist) => {
                            node.serializable.cache.remove(&key);
                            acquire(node, ctx, id);
                        }
                        Err(e) => fail(node, ctx, id, e),
                    },
                );
            }
            Err(e) => fail(node, ctx, id, e),
        },
    );
}

/// Every key is locked: run the transaction and write back, releasing the locks.
fn commit(node: &mut Txn, ctx: &mut Ctx<Txn>, id: u64) {
    let Some(p) = node.serializable.pending.get_mut(&id) else {
        return;
    };
    let mut current = p.values.clone();
    p.reply = std::mem::take(&mut p.txn)
        .into_iter()
        .map(|(f, k, v)| {
            if f == "r" {
                let value = current.get(&k).copied().flatten();
                (f, k, value)
            } else {
                current.insert(k, v);
                (f, k, v)
            }
        })
        .collect();
    release(node, ctx, id, current);
}

/// Writes each locked key back, free, with `values`; answers when all are written.
fn release(node: &mut Txn, ctx: &mut Ctx<Txn>, id: u64, values: BTreeMap<i64, Option<i64>>) {
    let Some(p) = node.serializable.pending.get_mut(&id) else {
        return;
    };
    let locked: Vec<i64> = p.keys[..p.locked].to_vec();
    p.releasing = locked.len();
    if locked.is_empty() {
        return finish(node, ctx, id);
    }
    for key in locked {
        let value = values.get(&key).copied().flatten();
        let record: Record = (value, String::new());
        ctx.lin_kv().write(
            key.to_string(),
            record,
            move |node: &mut Txn, ctx, result| {
                let Some(p) = node.serializable.pending.get_mut(&id) else {
                    return;
                };
                match result {
                    Ok(()) => {
                        node.serializable.cache.insert(key, value);
                    }
                    Err(e) => {
                        log!(ctx, "releasing key {key} failed: {e}");
                        p.failed = true;
                    }
                }
                p.releasing -= 1;
                if p.releasing == 0 {
                    finish(node, ctx, id);
                }
            },
        );
    }
}

fn finish(node: &mut Txn, ctx: &mut Ctx<Txn>, id: u64) {
    let Some(p) = node.serializable.pending.remove(&id) else {
        return;
    };
    if p.failed {
        ctx.reply_error(
            &p.from,
            ErrorCode::Crash,
            "the transaction's outcome is unknown",
        );
    } else {
        ctx.reply(&p.from, json!({"type": "txn_ok", "txn": p.reply}));
    }
}

/// A service call failed while locking: release what is held (unchanged) and abort.
fn fail(node: &mut Txn, ctx: &mut Ctx<Txn>, id: u64, e: KvError) {
    log!(ctx, "transaction {id} aborted while locking: {e}");
    let Some(p) = node.serializable.pending.get_mut(&id) else {
        return;
    };
    p.failed = true;
    let values = p.values.clone();
    release(node, ctx, id, values);
}
