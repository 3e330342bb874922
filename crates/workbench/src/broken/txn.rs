//! Transactional nodes with one flaw each, for the txn checker to catch. They share a simple
//! replication (new writes sent to every peer every 100 ms, the whole replica every half
//! second so replicas converge after partitions), so that each fails by its flaw, not by lost
//! replication.

use std::collections::BTreeMap;
use std::time::Duration;

use glomers_challenges::txn::{execute, MicroOp, Replica, Update};
use glomers_node::rand::Rng as _;
use glomers_node::{Ctx, ErrorCode, KvError, Node, ReplyTo, RpcError};
use serde::Deserialize;
use serde_json::{json, Value};

/// How often new writes are sent to every peer ...
const FLUSH: Duration = Duration::from_millis(100);
/// ... and every how many flushes the whole replica is sent instead.
const RESYNC_EVERY: u64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flaw {
    /// Each write is its own last-writer-wins update: every key is an independent register
    /// whose version is one above the version this node holds for that key (node index breaks
    /// ties), as in a store of per-key LWW cells. Two transactions that write the same keys on
    /// different nodes between replications each win the keys their node had written more
    /// often: their writes interleave across keys (G0). (A node-wide Lamport clock per write
    /// would order almost every pair of transactions the same way on all keys, because the two
    /// nodes' clocks drift apart between replications: its dirty writes are real but rare.)
    InterleavedWrites,
    /// One transaction with writes in ten installs them, then answers error 30 (txn-conflict)
    /// as if it had aborted: others read the aborted writes (G1a).
    AbortsAfterWriting,
    /// Replicates a transaction's first write of each key instead of its last, so peers show
    /// intermediate writes (G1b).
    ReplicatesFirstWrite,
    /// Installs and sends its writes first, then reads from a random peer's replica: two
    /// concurrent transactions can each read the other's write (G1c).
    ReadsFromAPeer,
    /// Reads ignore the transaction's own earlier writes (internal).
    IgnoresOwnWrites,
    /// The serializable mode without its locks: reads and writes lin-kv key by key, so
    /// concurrent read-modify-writes lose updates (G-single, G2-item and their variants).
    UnlockedLinKv,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    Txn { txn: Vec<MicroOp> },
    Replicate { updates: Vec<Update> },
    ReadKeys { keys: Vec<i64> },
}

#[derive(Deserialize)]
struct ReadKeysOk {
    values: Vec<Option<i64>>,
}

pub struct FlawedTxn {
    flaw: Flaw,
    replica: Replica,
    /// Every write installed, for the periodic resync: key -> (value, version).
    log: BTreeMap<i64, Update>,
    index: u32,
    txns: u64,
    /// Writes to send at the next flush.
    outbox: Vec<Update>,
    flushes: u64,
}

impl FlawedTxn {
    pub fn new(flaw: Flaw) -> FlawedTxn {
        FlawedTxn {
            flaw,
            replica: Replica::default(),
            log: BTreeMap::new(),
            index: 0,
            txns: 0,
            outbox: Vec::new(),
            flushes: 0,
        }
    }

    fn peers(ctx: &Ctx<Self>) -> Vec<String> {
        let me = ctx.node_id();
        ctx.node_ids()
            .iter()
            .filter(|n| *n != me)
            .cloned()
            .collect()
    }

    /// Installs `local` here and replicates `replicated`: at the next flush, or at once for
    /// the node that reads from its peers.
    fn install(&mut self, ctx: &mut Ctx<Self>, local: &[Update], replicated: &[Update]) {
        for &(k, v, version) in local {
            if self.replica.apply(k, v, version) {
                self.log.insert(k, (k, v, version));
            }
        }
        if self.flaw == Flaw::ReadsFromAPeer {
            if !replicated.is_empty() {
                for peer in Self::peers(ctx) {
                    ctx.send(&peer, json!({"type": "replicate", "updates": replicated}));
                }
            }
        } else {
            self.outbox.extend_from_slice(replicated);
        }
    }

    fn txn(&mut self, ctx: &mut Ctx<Self>, txn: Vec<MicroOp>, from: ReplyTo) {
        self.txns += 1;
        match self.flaw {
            Flaw::InterleavedWrites => {
                let (done, writes) = execute(&self.replica, txn);
                let updates: Vec<Update> = writes
                    .into_iter()
                    .map(|(k, v)| {
                        let counter = self.log.get(&k).map_or(0, |u| u.2 .0);
                        (k, v, (counter + 1, self.index))
                    })
                    .collect();
                self.install(ctx, &updates, &updates);
                ctx.reply(&from, json!({"type": "txn_ok", "txn": done}));
            }
            Flaw::AbortsAfterWriting => {
                let (done, writes) = execute(&self.replica, txn);
                let updates = self.one_version(writes);
                self.install(ctx, &updates, &updates);
                if !updates.is_empty() && self.txns.is_multiple_of(10) {
                    ctx.reply_error(&from, ErrorCode::TxnConflict, "aborted (but written)");
                } else {
                    ctx.reply(&from, json!({"type": "txn_ok", "txn": done}));
                }
            }
            Flaw::ReplicatesFirstWrite => {
                let mut first: BTreeMap<i64, i64> = BTreeMap::new();
                for (f, k, v) in &txn {
                    if let (false, Some(v)) = (f == "r", v) {
                        first.entry(*k).or_insert(*v);
                    }
                }
                let (done, writes) = execute(&self.replica, txn);
                let local = self.one_version(writes);
                let replicated: Vec<Update> = local
                    .iter()
                    .map(|&(k, _, version)| (k, first[&k], version))
                    .collect();
                self.install(ctx, &local, &replicated);
                ctx.reply(&from, json!({"type": "txn_ok", "txn": done}));
            }
            Flaw::ReadsFromAPeer => self.read_from_a_peer(ctx, txn, from),
            Flaw::IgnoresOwnWrites => {
                let (mut done, writes) = execute(&self.replica, txn);
                for (f, k, v) in &mut done {
                    if f == "r" {
                        *v = self.replica.get(*k);
                    }
                }
                let updates = self.one_version(writes);
                self.install(ctx, &updates, &updates);
                ctx.reply(&from, json!({"type": "txn_ok", "txn": done}));
            }
            Flaw::UnlockedLinKv => unlocked(ctx, txn, from),
        }
    }

    fn one_version(&mut self, writes: BTreeMap<i64, i64>) -> Vec<Update> {
        if writes.is_empty() {
            return Vec::new();
        }
        let version = self.replica.next_version(self.index);
        writes.into_iter().map(|(k, v)| (k, v, version)).collect()
    }

    fn read_from_a_peer(&mut self, ctx: &mut Ctx<Self>, txn: Vec<MicroOp>, from: ReplyTo) {
        let (_, writes) = execute(&self.replica, txn.clone());
        let updates = self.one_version(writes);
        self.install(ctx, &updates, &updates);
        let peers = Self::peers(ctx);
        let keys: Vec<i64> = txn.iter().map(|m| m.1).collect();
        let source = match peers.len() {
            0 => ctx.node_id().to_string(),
            n => peers[ctx.rng().gen_range(0..n)].clone(),
        };
        ctx.rpc(
            &source,
            json!({"type": "read_keys", "keys": keys}),
            Duration::from_secs(1),
            move |_: &mut Self, ctx, result: Result<ReadKeysOk, RpcError>| match result {
                Ok(ok) => {
                    // Reads after the transaction's own write of the key see that write.
                    let mut own: BTreeMap<i64, i64> = BTreeMap::new();
                    let done: Vec<MicroOp> = txn
                        .into_iter()
                        .zip(ok.values)
                        .map(|((f, k, v), remote)| {
                            if f == "r" {
                                (f, k, own.get(&k).copied().or(remote))
                            } else {
                                if let Some(v) = v {
                                    own.insert(k, v);
                                }
                                (f, k, v)
                            }
                        })
                        .collect();
                    ctx.reply(&from, json!({"type": "txn_ok", "txn": done}));
                }
                Err(e) => ctx.reply_error(&from, ErrorCode::Crash, e.to_string()),
            },
        );
    }
}

/// Lock-free read-modify-write over lin-kv: every key read, then every write written.
fn unlocked(ctx: &mut Ctx<FlawedTxn>, txn: Vec<MicroOp>, from: ReplyTo) {
    let mut keys: Vec<i64> = txn.iter().map(|m| m.1).collect();
    keys.sort_unstable();
    keys.dedup();
    read_all(ctx, keys, BTreeMap::new(), txn, from);
}

fn read_all(
    ctx: &mut Ctx<FlawedTxn>,
    mut keys: Vec<i64>,
    mut values: BTreeMap<i64, Option<i64>>,
    txn: Vec<MicroOp>,
    from: ReplyTo,
) {
    let Some(key) = keys.pop() else {
        let mut writes = BTreeMap::new();
        let done: Vec<MicroOp> = txn
            .into_iter()
            .map(|(f, k, v)| {
                if f == "r" {
                    (f, k, values.get(&k).copied().flatten())
                } else {
                    values.insert(k, v);
                    writes.insert(k, v);
                    (f, k, v)
                }
            })
            .collect();
        return write_all(ctx, writes.into_iter().collect(), done, from);
    };
    ctx.lin_kv().read(
        key.to_string(),
        move |_: &mut FlawedTxn, ctx, result: Result<Value, KvError>| {
            let value = match result {
                Ok(v) => v.as_i64(),
                Err(KvError::KeyDoesNotExist) => None,
                Err(e) => return ctx.reply_error(&from, e.code(), e.to_string()),
            };
            values.insert(key, value);
            read_all(ctx, keys, values, txn, from);
        },
    );
}

fn write_all(
    ctx: &mut Ctx<FlawedTxn>,
    mut writes: Vec<(i64, Option<i64>)>,
    done: Vec<MicroOp>,
    from: ReplyTo,
) {
    let Some((key, value)) = writes.pop() else {
        return ctx.reply(&from, json!({"type": "txn_ok", "txn": done}));
    };
    ctx.lin_kv().write(
        key.to_string(),
        value,
        move |_: &mut FlawedTxn, ctx, result| match result {
            Ok(()) => write_all(ctx, writes, done, from),
            Err(e) => ctx.reply_error(&from, ErrorCode::Crash, e.to_string()),
        },
    );
}

impl Node for FlawedTxn {
    type Request<'de> = Request;
    type Timer = ();

    fn on_init(&mut self, ctx: &mut Ctx<Self>) {
        let me = ctx.node_id().to_string();
        self.index = ctx.node_ids().iter().position(|n| *n == me).unwrap_or(0) as u32;
        if ctx.node_ids().len() > 1 && self.flaw != Flaw::UnlockedLinKv {
            ctx.every(FLUSH, ());
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request, from: ReplyTo) {
        match req {
            Request::Txn { txn } => self.txn(ctx, txn, from),
            Request::Replicate { updates } => {
                for (k, v, version) in updates {
                    if self.replica.apply(k, v, version) {
                        self.log.insert(k, (k, v, version));
                    }
                }
            }
            Request::ReadKeys { keys } => {
                let values: Vec<Option<i64>> = keys.iter().map(|k| self.replica.get(*k)).collect();
                ctx.reply(&from, json!({"type": "read_keys_ok", "values": values}));
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, _: ()) {
        self.flushes += 1;
        let all: Vec<Update> = if self.flushes.is_multiple_of(RESYNC_EVERY) {
            self.outbox.clear();
            self.log.values().copied().collect()
        } else {
            std::mem::take(&mut self.outbox)
        };
        if !all.is_empty() {
            for peer in Self::peers(ctx) {
                ctx.send(&peer, json!({"type": "replicate", "updates": all}));
            }
        }
    }
}
