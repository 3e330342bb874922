//! Challenge #6, totally available transactions (6a-6c), in two modes.
//!
//! **Read committed, totally available** (the default): every node runs each transaction
//! against its own replica, at once, and answers `txn_ok` whatever the network does. The
//! transaction's writes (only its last write per key) are installed under one version, a
//! Lamport timestamp `(counter, node index)` greater than every version the node has seen, so
//! that all replicas order all writes the same way, last writer wins per key. Then:
//! - no G0: writes of two transactions are ordered the same way on every key (by version);
//! - no G1a: nothing aborts; no G1b: intermediate writes never leave the transaction;
//! - no G1c: a transaction that read a write gets a larger version than that write's;
//! - a transaction reads its own writes.
//!
//! Replication is batched deltas: every [`FLUSH`] each node sends each peer, in one message,
//! the keys it wrote since the last batch (latest version per key only) and its
//! acknowledgements of the peer's batches; unacknowledged batches are resent after [`RESEND`],
//! so replicas converge once a partition heals. At most one message per peer per flush, data or
//! acks, whatever the rate of transactions: replicas lag by up to a flush, which read committed
//! allows.
//!
//! **Strict serializable** (trailing argument `serializable`): see [`serializable`].

use std::collections::BTreeMap;
use std::time::Duration;

use glomers_node::{log, BodyReader, Ctx, Node, ReplyTo};
use serde::{Deserialize, Serialize};

pub mod compact;
pub mod serializable;
#[cfg(test)]
mod tests;
mod unsent;
pub mod wire;

/// How often a node sends its new writes (and its acks) to its peers.
pub const FLUSH: Duration = Duration::from_millis(500);
/// How long a batch may stay unacknowledged before its writes are sent again.
pub const RESEND: Duration = Duration::from_millis(2000);

/// A micro-op as the wire carries it: `[f, key, value]`.
pub type MicroOp = (Fun, i64, Option<i64>);

/// A micro-op's function: `"r"` (read) or `"w"` (write). An enum rather than a `String`, so
/// that a transaction's micro-ops cost no allocation each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Fun {
    #[serde(rename = "r")]
    Read,
    #[serde(rename = "w")]
    Write,
}

impl Fun {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Fun::Read => "r",
            Fun::Write => "w",
        }
    }
}

/// Read as a plain string (cheaper than serde's enum access, through the buffered body of an
/// internally tagged request).
impl<'de> Deserialize<'de> for Fun {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Fun, D::Error> {
        struct FunVisitor;
        impl serde::de::Visitor<'_> for FunVisitor {
            type Value = Fun;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"r\" or \"w\"")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Fun, E> {
                match s {
                    "r" => Ok(Fun::Read),
                    "w" => Ok(Fun::Write),
                    _ => Err(E::unknown_variant(s, &["r", "w"])),
                }
            }
        }
        d.deserialize_str(FunVisitor)
    }
}

/// `f == "r"` reads as the wire does.
impl PartialEq<str> for Fun {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Fun {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A write's version: Lamport counter, then the writing node's index.
pub type Version = (u64, u32);

/// One replicated write: key, value, version.
pub type Update = (i64, i64, Version);

/// Read by hand ([`wire::read`]), by serde when the body is unusual.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request<'a> {
    Txn {
        txn: Vec<MicroOp>,
    },
    /// A `txn` whose micro-ops are written as clients write them, run from the text (the
    /// hand reader's; serde reads [`Request::Txn`]).
    #[serde(skip)]
    TxnText(compact::CompactTxn<'a>),
    /// A batch of writes (`seq` set when there are any) and acks of the peer's batches.
    Replicate {
        seq: Option<u64>,
        updates: Vec<Update>,
        acks: Vec<u64>,
    },
}

/// Requests are equal when they ask the same: a [`Request::TxnText`] equals the
/// [`Request::Txn`] of its micro-ops (the hand reader and serde read a body alike).
impl PartialEq for Request<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Request::TxnText(a), Request::TxnText(b)) => a == b,
            (Request::TxnText(text), Request::Txn { txn })
            | (Request::Txn { txn }, Request::TxnText(text)) => text.to_vec() == *txn,
            (Request::Txn { txn: a }, Request::Txn { txn: b }) => a == b,
            (
                Request::Replicate { seq, updates, acks },
                Request::Replicate {
                    seq: s,
                    updates: u,
                    acks: a,
                },
            ) => (seq, updates, acks) == (s, u, a),
            _ => false,
        }
    }
}

/// A last-writer-wins replica: key → (value, version).
#[derive(Default)]
pub struct Replica {
    data: Registers,
    /// The largest counter seen, ours or a peer's.
    clock: u64,
}

/// Keys below this (and not negative) are kept in a vector indexed by key: the workloads'
/// keys are small integers, and every micro-op and replicated write looks one up, which a
/// map searched by comparisons made a good part of the node's work.
const DENSE_KEYS: i64 = 1 << 16;

/// key → (value, version): small keys by index, any other in a map. Never iterated, so how
/// a key is kept cannot show in what the node sends.
#[derive(Default)]
struct Registers {
    dense: Vec<Option<(i64, Version)>>,
    /// The other keys (a slot is never left empty).
    sparse: BTreeMap<i64, Option<(i64, Version)>>,
}

impl Registers {
    fn get(&self, key: i64) -> Option<&(i64, Version)> {
        if (0..DENSE_KEYS).contains(&key) {
            self.dense.get(key as usize)?.as_ref()
        } else {
            self.sparse.get(&key)?.as_ref()
        }
    }

    /// Installs `(value, version)` unless the key holds a version at least as new; true
    /// if it did.
    fn install(&mut self, key: i64, value: i64, version: Version) -> bool {
        let slot = if (0..DENSE_KEYS).contains(&key) {
            let i = key as usize;
            if i >= self.dense.len() {
                self.dense.resize(i + 1, None);
            }
            &mut self.dense[i]
        } else {
            self.sparse.entry(key).or_insert(None)
        };
        match slot {
            Some((_, current)) if *current >= version => false,
            _ => {
                *slot = Some((value, version));
                true
            }
        }
    }
}

impl Replica {
    pub fn get(&self, key: i64) -> Option<i64> {
        self.data.get(key).map(|(v, _)| *v)
    }

    /// Installs a write unless the replica holds a newer version of the key; true if it did.
    #[inline]
    pub fn apply(&mut self, key: i64, value: i64, version: Version) -> bool {
        self.clock = self.clock.max(version.0);
        self.data.install(key, value, version)
    }

    /// A version newer than everything this replica has seen.
    pub fn next_version(&mut self, node: u32) -> Version {
        self.clock += 1;
        (self.clock, node)
    }
}

/// A batch of writes and acks to one peer.
#[derive(Serialize)]
struct Replicate<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    seq: Option<u64>,
    updates: &'a [Update],
    acks: &'a [u64],
}

/// Runs `txn` against `replica` (reads see the transaction's own earlier writes) and returns
/// the completed micro-ops and the transaction's last write per key.
pub fn execute(replica: &Replica, txn: Vec<MicroOp>) -> (Vec<MicroOp>, BTreeMap<i64, i64>) {
    let mut writes: BTreeMap<i64, i64> = BTreeMap::new();
    let done = txn
        .into_iter()
        .map(|(f, k, v)| {
            if f == Fun::Read {
                let value = writes.get(&k).copied().or_else(|| replica.get(k));
                (f, k, value)
            } else {
                if let Some(v) = v {
                    writes.insert(k, v);
                }
                (f, k, v)
            }
        })
        .collect();
    (done, writes)
}

/// [`execute`] without allocating: completes the micro-ops of `txn` in place and leaves the
/// transaction's last write per key in `writes`, sorted by key (the order [`execute`]'s map
/// gives). A transaction has a handful of micro-ops: a list searched from the start is cheaper
/// than a map.
pub fn execute_in_place(replica: &Replica, txn: &mut [MicroOp], writes: &mut Vec<(i64, i64)>) {
    writes.clear();
    for (f, k, v) in txn.iter_mut() {
        let written = writes.iter_mut().find(|(key, _)| key == k);
        if *f == Fun::Read {
            *v = match written {
                Some((_, value)) => Some(*value),
                None => replica.get(*k),
            };
        } else if let Some(v) = *v {
            match written {
                Some((_, value)) => *value = v,
                None => writes.push((*k, v)),
            }
        }
    }
    writes.sort_unstable_by_key(|&(k, _)| k);
}

/// Per peer: writes not yet sent, batches sent but not acknowledged, and the peer's batches
/// to acknowledge.
#[derive(Default)]
struct Peer {
    unsent: unsent::Unsent,
    in_flight: BTreeMap<u64, (Duration, Vec<Update>)>,
    to_ack: Vec<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    ReadCommitted,
    Serializable,
}

pub struct Txn {
    mode: Mode,
    replica: Replica,
    index: u32,
    /// By id, in id order (a node has a few peers: a list, searched by a replicate's sender,
    /// and walked for every write installed, which a map's walk made dearer).
    peers: Vec<(String, Peer)>,
    next_seq: u64,
    serializable: serializable::State,
    /// The last transaction's writes (kept for its allocation), see [`execute_in_place`] and
    /// [`compact::run`].
    writes: Vec<(i64, i64)>,
    /// The last `txn_ok`'s array (kept for its allocation), see [`wire::reply_txn_ok`].
    reply: String,
}

impl Txn {
    pub fn new(mode: Mode) -> Txn {
        Txn {
            mode,
            replica: Replica::default(),
            index: 0,
            peers: Vec::new(),
            next_seq: 0,
            serializable: Default::default(),
            writes: Vec::new(),
            reply: String::new(),
        }
    }

    /// `[]` or `read-committed`: the totally available mode; `serializable`: the other.
    pub fn from_args(args: &[String]) -> Result<Txn, String> {
        match args.first().map(String::as_str) {
            None | Some("read-committed") if args.len() <= 1 => Ok(Txn::new(Mode::ReadCommitted)),
            Some("serializable") if args.len() == 1 => Ok(Txn::new(Mode::Serializable)),
            _ => Err(format!(
                "expected no argument, `read-committed` or `serializable`, got {args:?}"
            )),
        }
    }

    fn run_locally(&mut self, ctx: &mut Ctx<Self>, mut txn: Vec<MicroOp>, from: ReplyTo) {
        execute_in_place(&self.replica, &mut txn, &mut self.writes);
        self.install_writes();
        wire::reply_txn_ok(ctx, &from, &txn, &mut self.reply);
    }

    /// [`Txn::run_locally`] for micro-ops read as text: run from it, its answer written
    /// straight into the reply (no copy of the array, no check of it for line breaks), then
    /// its writes installed (nothing is sent in between, so the order shows nowhere).
    fn run_text(&mut self, ctx: &mut Ctx<Self>, txn: compact::CompactTxn<'_>, from: ReplyTo) {
        let (replica, writes) = (&self.replica, &mut self.writes);
        let mut ran = false;
        ctx.reply_with(&from, "txn_ok", |body| {
            body.raw_with("txn", |out| compact::run(txn, replica, writes, out));
            ran = true;
        });
        if !ran {
            // Not answered (the request had no msg_id): it runs all the same.
            compact::run(txn, replica, writes, &mut Vec::new());
        }
        self.install_writes();
    }

    /// Installs the transaction's writes (`self.writes`) under one new version, to be sent
    /// to every peer.
    fn install_writes(&mut self) {
        if self.writes.is_empty() {
            return;
        }
        let version = self.replica.next_version(self.index);
        for &(k, v) in &self.writes {
            self.replica.apply(k, v, version);
            for (_, peer) in self.peers.iter_mut() {
                peer.unsent.insert(k, (v, version));
            }
        }
    }

    fn flush(&mut self, ctx: &mut Ctx<Self>) {
        let now = ctx.now();
        for (id, peer) in self.peers.iter_mut() {
            // Batches lost to a partition (or slow): send their writes again, unless newer
            // ones for the same keys are waiting already.
            let expired: Vec<u64> = peer
                .in_flight
                .iter()
                .filter(|(_, (sent, _))| now.saturating_sub(*sent) >= RESEND)
                .map(|(seq, _)| *seq)
                .collect();
            for seq in expired {
                let (_, updates) = peer.in_flight.remove(&seq).expect("listed");
                for (k, v, version) in updates {
                    let newer = peer.unsent.get(k).is_some_and(|(_, u)| *u >= version);
                    if !newer {
                        peer.unsent.insert(k, (v, version));
                    }
                }
            }
            if peer.unsent.is_empty() && peer.to_ack.is_empty() {
                continue;
            }
            let updates: Vec<Update> = peer.unsent.take();
            let acks = std::mem::take(&mut peer.to_ack);
            let seq = (!updates.is_empty()).then(|| {
                self.next_seq += 1;
                self.next_seq
            });
            let body = Replicate {
                ty: "replicate",
                seq,
                updates: &updates,
                acks: &acks,
            };
            ctx.send(id, body);
            if let Some(seq) = seq {
                peer.in_flight.insert(seq, (now, updates));
            }
        }
    }
}

impl Node for Txn {
    type Request<'de> = Request<'de>;
    type Timer = ();

    fn read_request<'de>(ty: &str, body: &mut BodyReader<'de>) -> Option<Request<'de>> {
        wire::read(ty, body)
    }

    fn on_init(&mut self, ctx: &mut Ctx<Self>) {
        let me = ctx.node_id().to_string();
        self.index = ctx.node_ids().iter().position(|n| *n == me).unwrap_or(0) as u32;
        for id in ctx.node_ids() {
            if *id != me {
                self.peers.push((id.clone(), Peer::default()));
            }
        }
        // The order (and the one entry per id) a map by id had.
        self.peers.sort_by(|a, b| a.0.cmp(&b.0));
        self.peers.dedup_by(|a, b| a.0 == b.0);
        if self.mode == Mode::ReadCommitted && !self.peers.is_empty() {
            ctx.run_every(FLUSH, |node: &mut Self, ctx| node.flush(ctx));
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request<'_>, from: ReplyTo) {
        match req {
            Request::TxnText(txn) => match self.mode {
                Mode::ReadCommitted => self.run_text(ctx, txn, from),
                Mode::Serializable => serializable::begin(self, ctx, txn.to_vec(), from),
            },
            Request::Txn { txn } => match self.mode {
                Mode::ReadCommitted => self.run_locally(ctx, txn, from),
                Mode::Serializable => serializable::begin(self, ctx, txn, from),
            },
            Request::Replicate { seq, updates, acks } => {
                for (k, v, version) in updates {
                    self.replica.apply(k, v, version);
                }
                match self.peers.iter_mut().find(|(id, _)| id == from.src()) {
                    Some((_, peer)) => {
                        peer.to_ack.extend(seq);
                        for seq in acks {
                            peer.in_flight.remove(&seq);
                        }
                    }
                    None => log!(ctx, "replicate from unknown peer {}", from.src()),
                }
            }
        }
    }
}
