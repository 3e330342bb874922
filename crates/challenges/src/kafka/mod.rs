//! Challenges 5a-5c: a Kafka-style log. `send {key, msg}` → `send_ok {offset}`,
//! `poll {offsets}` → `poll_ok {msgs}`, `commit_offsets {offsets}` → `commit_offsets_ok`,
//! `list_committed_offsets {keys}` → `list_committed_offsets_ok {offsets}`.
//!
//! # Design
//!
//! - **Single writer per key.** A consistent-hashing [`ring::Ring`] names each key's owner;
//!   only the owner assigns offsets, so offsets need no `cas` and no coordination: the owner
//!   appends at the end of its in-memory log (offsets 0, 1, 2, ... per key). A node that gets a
//!   send for a key it does not own forwards it to the owner (with an id the owner uses to
//!   append it once, however often it is resent).
//! - **A log that is a log.** Each key's log is a vector of messages indexed by offset; the
//!   owner streams appended entries (key, offset, message) to every peer, in order, in batches.
//! - **Durable before `send_ok`.** An entry is acknowledged to its client only once it is held
//!   by two nodes: the owner, and a peer that acknowledged the stream up to it (for a forwarded
//!   send, the origin node itself answers its client when the owner's entry reaches it). With a
//!   single node there is no peer: the owner writes each batch of new entries as one `lin-kv`
//!   entry (`kafka-batch-<node>-<first stream number>`) and answers once the write is
//!   acknowledged. The same `lin-kv` batch write serves as a fallback when no peer
//!   acknowledged an entry within [`LIN_KV_FALLBACK_AFTER`] (a partition): sends to keys
//!   owned by a node on the client's side of a partition still succeed. So the loss of any one
//!   node's memory loses no acknowledged send.
//! - **Group commit on a tick.** Every [`TICK`] a node sends each peer at most one `sync`
//!   message carrying its new entries, the sends it forwards to that peer, its ack of the
//!   peer's stream and changed committed offsets; nothing when there is nothing to say. The
//!   number of server messages grows with ticks, not with operations. This is why a forward
//!   is not a `ctx.call(owner, ..).relay(client)` and a commit not a `Join` of calls to every
//!   peer: those cost two messages per operation and peer, where a sync costs one per tick
//!   and peer for any number of operations. The waiting clients are kept in tables instead
//!   (the stream's entries, `forwarded_clients`, `commit_waiters`), answered when
//!   the syncs bring the news. Their deadlines are checked on the tick too: each table is in
//!   arrival order, so a tick looks at the oldest waiters only, where a timer per request
//!   would cost a timer queue insertion and removal each.
//! - **Polls answered locally** from what the node holds: the owner serves its durable prefix,
//!   a peer the contiguous prefix it applied. A poll may lag the newest send, never skip one.
//! - **Commits are acknowledged once every node holds them**, so that a
//!   `list_committed_offsets` answered by any node, from its own committed offsets, never
//!   answers less than an acknowledged commit. A node merges a commit into its committed
//!   offsets (maximum per key), numbers it, and passes it on in its next syncs; each peer acks
//!   the newest commit number it received in its own next sync (resent after
//!   [`replication::RESEND_AFTER`] without ack), and `commit_offsets_ok` goes out once every
//!   peer acked. No extra messages: commits and their acks ride the ticks' syncs. Under a
//!   partition a commit is answered `timeout` after [`CLIENT_DEADLINE`] (it may have happened).
//!
//! Under a partition, a send whose owner is cut off from the client's node waits (its forward
//! or its entries are resent every [`replication::RESEND_AFTER`]) and the client times out: a
//! send is never acknowledged before it is held twice, and never appended twice.

use std::collections::VecDeque;
use std::time::Duration;

use glomers_node::{log, BodyReader, Ctx, ErrorCode, Node, ReplyTo};
use serde::Deserialize;
use serde_json::Value;

pub mod keys;
pub mod read;
pub mod rendered;
pub mod replication;
pub mod ring;
pub mod waiting;
pub mod wire;

#[cfg(test)]
mod tests;

use keys::{KeyId, Keys, Owner};
use replication::{CommitSeq, Entry, Forward, ForwardId, Peer, PeerEntry};
use ring::Ring;
use waiting::Waiters;
use wire::{KeyOffsets, Name, SyncIn, SyncOut};

/// The group-commit period.
pub const TICK: Duration = Duration::from_millis(5);
/// Messages per key in one `poll_ok`.
pub const MAX_POLL: usize = 1000;
/// A send not durable this long after it arrived is answered with an indefinite error
/// (`timeout`, so the client records it as may-have-happened): Maelstrom's clients give up
/// after 5 s, and a reply to a client that has moved on is a protocol error.
pub const CLIENT_DEADLINE: Duration = Duration::from_secs(4);
/// How long an entry waits for a peer's ack before it is written to lin-kv instead.
pub const LIN_KV_FALLBACK_AFTER: Duration = Duration::from_millis(500);
/// The text of the indefinite error a send gets after [`CLIENT_DEADLINE`].
const NOT_YET_TWICE: &str = "not yet stored on two nodes; it may still be";
/// The text of the indefinite error a commit gets after [`CLIENT_DEADLINE`].
const NOT_YET_EVERYWHERE: &str = "not yet acknowledged by every node; it may still be";

/// The requests, their key names borrowed from the input line (see [`wire`]); read by hand
/// ([`read`]), by serde when the body is unusual.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request<'a> {
    Send {
        #[serde(borrow)]
        key: Name<'a>,
        msg: Value,
    },
    Poll {
        #[serde(borrow)]
        offsets: KeyOffsets<'a>,
    },
    CommitOffsets {
        #[serde(borrow)]
        offsets: KeyOffsets<'a>,
    },
    ListCommittedOffsets {
        #[serde(borrow)]
        keys: Vec<Name<'a>>,
    },
    Sync(#[serde(borrow)] SyncIn<'a>),
}

/// A client waiting for news from the peers, since `since`.
struct Waiter {
    since: Duration,
    client: ReplyTo,
}

#[derive(Default)]
pub struct Kafka {
    ring: Option<Ring>,
    /// The owner of each of the ring's nodes, by its index in [`Ring::nodes`].
    ring_owners: Vec<Owner>,
    /// Every key met: its log, committed offset and owner.
    keys: Keys,
    /// The other nodes, sorted by name (an [`Owner::Peer`] indexes this).
    peers: Vec<Peer>,
    /// Our stream: `stream[0]` is number `stream_base`; numbers below `durable_seq` are
    /// durable.
    stream: VecDeque<Entry>,
    stream_base: u64,
    durable_seq: u64,
    /// Clients waiting for a forwarded send, by forward id: answered when the owner's stream
    /// brings the entry back (see "Group commit on a tick" for why this is not a `relay`).
    /// Forward ids grow with time: the first entries are the oldest (see [`Kafka::expire`]).
    forwarded_clients: Waiters<Waiter>,
    next_forward_id: ForwardId,
    /// The number of our newest commit.
    commit_seq: CommitSeq,
    /// Clients of commits waiting for every peer's ack, by commit number.
    /// Commit numbers grow with time: the first entries are the oldest.
    commit_waiters: Waiters<Waiter>,
    /// Stream entries numbered below this are answered or were checked against the
    /// client deadline.
    deadline_seq: u64,
    /// Single node: a `lin-kv` batch write is in flight.
    batch_in_flight: bool,
    /// Room for one key's list of a `poll_ok` (kept: it is needed for every poll).
    poll_text: Vec<u8>,
    /// Room for a poll's ranges, and for the ids of the forwards a sync carries (kept: an
    /// allocation each would cost more than filling them).
    poll_ranges: Vec<(KeyId, std::ops::Range<usize>)>,
    forward_ids: Vec<ForwardId>,
}

impl Kafka {
    fn next_seq(&self) -> u64 {
        self.stream_base + self.stream.len() as u64
    }

    /// The id of a key, met now for the first time if need be (None before `init`).
    fn key_id(&mut self, name: &str) -> Option<KeyId> {
        let ring = self.ring.as_ref()?;
        let owners = &self.ring_owners;
        Some(self.keys.intern(name, |name| {
            ring.owner_index(name).map_or(Owner::Me, |n| owners[n])
        }))
    }

    fn peer_index(&self, name: &str) -> Option<usize> {
        self.peers.iter().position(|p| p.name == name)
    }

    /// Appends to a key this node owns.
    fn append(
        &mut self,
        now: Duration,
        key: KeyId,
        msg: Value,
        forward: Option<(usize, ForwardId)>,
        client: Option<ReplyTo>,
    ) {
        let log = &mut self.keys[key];
        let offset = log.msgs.len() as u64;
        log.msgs.push(msg);
        self.stream.push_back(Entry {
            appended_at: now,
            key,
            offset,
            forward,
            client,
        });
    }

    /// Entries numbered below `upto` are now held twice: serve them and answer their clients.
    fn mark_durable(&mut self, ctx: &mut Ctx<Self>, upto: u64) {
        while self.durable_seq < upto.min(self.next_seq()) {
            let entry = &mut self.stream[(self.durable_seq - self.stream_base) as usize];
            let log = &mut self.keys[entry.key];
            log.durable = log.durable.max(entry.offset as usize + 1);
            if let Some(client) = entry.client.take() {
                let offset = entry.offset;
                ctx.reply_with(&client, "send_ok", |body| {
                    body.u64("offset", offset);
                });
            }
            self.durable_seq += 1;
        }
        self.trim_stream();
    }

    /// Drops entries that are durable and held by every peer.
    fn trim_stream(&mut self) {
        let held_by_all = self.peers.iter().map(|p| p.acked).min().unwrap_or(u64::MAX);
        let keep_from = held_by_all.min(self.durable_seq);
        while self.stream_base < keep_from && !self.stream.is_empty() {
            self.stream.pop_front();
            self.stream_base += 1;
        }
    }

    fn on_send(&mut self, ctx: &mut Ctx<Self>, key: &str, msg: Value, from: ReplyTo) {
        let Some(key) = self.key_id(key) else {
            return ctx.reply_error(&from, ErrorCode::TemporarilyUnavailable, "not initialised");
        };
        let owner = match self.keys[key].owner {
            Owner::Me => return self.append(ctx.now(), key, msg, None, Some(from)),
            Owner::Peer(p) => p,
        };
        let id = self.next_forward_id;
        self.next_forward_id += 1;
        let waiter = Waiter {
            since: ctx.now(),
            client: from,
        };
        self.forwarded_clients.insert(id, waiter);
        let forward = Forward {
            key,
            msg,
            sent_at: None,
        };
        self.peers[owner].forwards.insert(id, forward);
    }

    fn on_poll(&mut self, ctx: &mut Ctx<Self>, offsets: KeyOffsets, from: ReplyTo) {
        let mut ranges = std::mem::take(&mut self.poll_ranges);
        ranges.clear();
        for (key, start) in &offsets.0 {
            let Some(id) = self.keys.get(key) else {
                continue;
            };
            let start = (*start).max(0) as usize;
            let end = self.keys[id].durable.min(start.saturating_add(MAX_POLL));
            if start < end {
                let log = &mut self.keys[id];
                log.rendered.extend(&log.msgs, end);
                ranges.push((id, start..end));
            }
        }
        let keys = &self.keys;
        let text = &mut self.poll_text;
        ctx.reply_with(&from, "poll_ok", |body| {
            wire::write_poll_ok(body, keys, &ranges, text)
        });
        self.poll_ranges = ranges;
    }

    fn on_commit(&mut self, ctx: &mut Ctx<Self>, offsets: KeyOffsets, from: ReplyTo) {
        let mut ids = Vec::with_capacity(offsets.0.len());
        for (key, offset) in &offsets.0 {
            let Some(id) = self.key_id(key) else {
                return ctx.reply_error(
                    &from,
                    ErrorCode::TemporarilyUnavailable,
                    "not initialised",
                );
            };
            ids.push((id, *offset));
        }
        if self.peers.is_empty() || ids.is_empty() {
            for (key, offset) in ids {
                self.keys.commit(key, offset);
            }
            return ctx.reply_with(&from, "commit_offsets_ok", |_| {});
        }
        self.commit_seq += 1;
        let seq = self.commit_seq;
        for (key, offset) in ids {
            self.keys.commit(key, offset);
            // Our maximum, which may be a commit still unacknowledged: the peer needs it too.
            let held = self.keys[key].committed.unwrap_or(offset);
            for peer in &mut self.peers {
                peer.add_commit(key, held, seq);
            }
        }
        let waiter = Waiter {
            since: ctx.now(),
            client: from,
        };
        self.commit_waiters.insert(seq, waiter);
    }

    fn on_list_committed(&mut self, ctx: &mut Ctx<Self>, keys: &[Name], from: ReplyTo) {
        let offsets = keys
            .iter()
            .filter_map(|k| {
                let id = self.keys.get(k)?;
                Some((id, self.keys[id].committed?))
            })
            .collect::<Vec<_>>();
        let keys = &self.keys;
        ctx.reply_with(&from, "list_committed_offsets_ok", |body| {
            wire::write_list_committed_ok(body, keys, &offsets)
        });
    }

    /// Answers the commits every peer acknowledged.
    fn answer_commits(&mut self, ctx: &mut Ctx<Self>) {
        let held_by_all = self
            .peers
            .iter()
            .map(|p| p.commits_acked)
            .min()
            .unwrap_or(CommitSeq::MAX);
        while let Some((seq, _)) = self.commit_waiters.first() {
            if seq > held_by_all {
                break;
            }
            let waiter = self.commit_waiters.pop_first().expect("the first waiter");
            ctx.reply_with(&waiter.client, "commit_offsets_ok", |_| {});
        }
    }

    fn on_sync(&mut self, ctx: &mut Ctx<Self>, sync: SyncIn, src: &str) {
        let now = ctx.now();
        let Some(p) = self.peer_index(src) else {
            return log!(ctx, "sync from {src}, which is not a peer: ignored");
        };
        self.peers[p].on_ack(sync.ack, now);
        for (i, (key, offset, msg, forward)) in sync.entries.into_iter().enumerate() {
            let seq = sync.from + i as u64;
            if !self.peers[p].wants(seq) {
                continue;
            }
            let Some(key) = self.key_id(&key) else { return };
            let ours = forward.and_then(|(origin, id)| (*origin == *ctx.node_id()).then_some(id));
            let entry = PeerEntry {
                key,
                offset,
                msg,
                ours,
            };
            let Some(mut entry) = self.peers[p].take_in(seq, entry) else {
                continue;
            };
            loop {
                self.apply(ctx, p, entry);
                match self.peers[p].next_early() {
                    Some(next) => entry = next,
                    None => break,
                }
            }
        }
        for (id, key, msg) in sync.forwards {
            let Some(key_id) = self.key_id(&key) else {
                return;
            };
            if self.keys[key_id].owner != Owner::Me {
                log!(
                    ctx,
                    "{src} forwarded a send for {:?}, which we do not own: ignored",
                    &*key
                );
                continue;
            }
            if self.peers[p].appended_forwards.insert(id) {
                self.append(now, key_id, msg, Some((p, id)), None);
            }
        }
        for (key, offset) in &sync.commits.0 {
            if let Some(key) = self.key_id(key) {
                self.keys.commit(key, *offset);
            }
        }
        self.peers[p].on_commit_sync(sync.commit_ack, sync.commit_seq);
        self.answer_commits(ctx);
        let upto = self.peers.iter().map(|p| p.acked).max().unwrap_or(0);
        self.mark_durable(ctx, upto);
    }

    /// Applies one entry of peer `p`'s stream (in stream order).
    fn apply(&mut self, ctx: &mut Ctx<Self>, p: usize, entry: PeerEntry) {
        let log = &mut self.keys[entry.key];
        let offset = entry.offset;
        if offset as usize == log.msgs.len() {
            log.msgs.push(entry.msg);
            log.durable = log.msgs.len();
        } else if offset as usize > log.msgs.len() {
            // Cannot happen with one owner per key and in-order streams; never leave a gap.
            let (src, len) = (&self.peers[p].name, log.msgs.len());
            return log!(
                ctx,
                "{src} streamed {:?} offset {offset} past our end {len}: ignored",
                &*log.name
            );
        }
        let Some(id) = entry.ours else { return };
        self.peers[p].forwards.remove(&id);
        if let Some(waiter) = self.forwarded_clients.remove(id) {
            ctx.reply_with(&waiter.client, "send_ok", |body| {
                body.u64("offset", offset);
            });
        }
    }

    /// Answers `timeout` to the clients that waited [`CLIENT_DEADLINE`]. The sends and
    /// commits themselves go on (they may still take effect): the clients record the timeout
    /// as may-have-happened.
    fn expire(&mut self, ctx: &mut Ctx<Self>) {
        let Some(since) = ctx.now().checked_sub(CLIENT_DEADLINE) else {
            return;
        };
        // Entries below `durable_seq` were answered when they became durable.
        let mut seq = self.deadline_seq.max(self.durable_seq);
        while let Some(entry) = self.stream.get_mut((seq - self.stream_base) as usize) {
            if entry.appended_at > since {
                break;
            }
            if let Some(client) = entry.client.take() {
                ctx.reply_error(&client, ErrorCode::Timeout, NOT_YET_TWICE);
            }
            seq += 1;
        }
        self.deadline_seq = seq;
        for (waiters, text) in [
            (&mut self.forwarded_clients, NOT_YET_TWICE),
            (&mut self.commit_waiters, NOT_YET_EVERYWHERE),
        ] {
            while let Some((_, waiter)) = waiters.first() {
                if waiter.since > since {
                    break;
                }
                let waiter = waiters.pop_first().expect("the first waiter");
                ctx.reply_error(&waiter.client, ErrorCode::Timeout, text);
            }
        }
    }

    fn on_tick(&mut self, ctx: &mut Ctx<Self>) {
        self.expire(ctx);
        if self.peers.is_empty() {
            return self.flush_to_lin_kv(ctx);
        }
        // No peer acknowledged the oldest waiting entry for a while (a partition, or a slow
        // network): make it durable in lin-kv instead, which is never cut off. The peers
        // still get the entries through the stream when they can.
        let stuck = self
            .stream
            .get(self.durable_seq.saturating_sub(self.stream_base) as usize)
            .is_some_and(|e| ctx.now().saturating_sub(e.appended_at) >= LIN_KV_FALLBACK_AFTER);
        if stuck {
            self.flush_to_lin_kv(ctx);
        }
        let now = ctx.now();
        let next = self.next_seq();
        for p in 0..self.peers.len() {
            let peer = &mut self.peers[p];
            let range = peer.entries_to_send(next, now);
            let forward_ids = &mut self.forward_ids;
            peer.forwards_to_send(now, forward_ids);
            let commits = peer.commits_to_send(now);
            if range.is_empty() && forward_ids.is_empty() && commits.is_none() && !peer.ack_due {
                continue;
            }
            peer.ack_due = false;
            let peer = &self.peers[p];
            let first = (range.start - self.stream_base) as usize;
            let sync = SyncOut {
                keys: &self.keys,
                peers: &self.peers,
                ack: peer.applied,
                stream: &self.stream,
                entries: first..first + (range.end - range.start) as usize,
                from: range.start,
                forward_ids,
                forwards: &peer.forwards,
                commits: commits.map(|_| &peer.commits),
                commit_seq: commits.unwrap_or_default(),
                commit_ack: peer.commits_received,
            };
            ctx.send_with(&peer.name, "sync", |body| sync.write(body));
        }
    }

    /// Single node: writes the entries not yet durable as one `lin-kv` entry, then serves and
    /// acknowledges them.
    fn flush_to_lin_kv(&mut self, ctx: &mut Ctx<Self>) {
        let upto = self.next_seq();
        if self.batch_in_flight || self.durable_seq == upto {
            return;
        }
        self.batch_in_flight = true;
        let first = self.durable_seq;
        let batch: Vec<(&str, u64, &Value)> = self
            .stream
            .range((first - self.stream_base) as usize..)
            .map(|e| {
                let key = &self.keys[e.key];
                (&*key.name, e.offset, &key.msgs[e.offset as usize])
            })
            .collect();
        let key = format!("kafka-batch-{}-{first}", ctx.node_id());
        ctx.lin_kv()
            .write(key, batch, move |node: &mut Self, ctx, result| {
                node.batch_in_flight = false;
                match result {
                    Ok(()) => node.mark_durable(ctx, upto),
                    // Retried (the same key, a superset of the batch) on the next tick.
                    Err(e) => log!(ctx, "batch {first}..{upto} not stored: {e}; retrying"),
                }
            });
    }
}

impl Node for Kafka {
    type Request<'de> = Request<'de>;
    type Timer = ();

    fn read_request<'de>(ty: &str, body: &mut BodyReader<'de>) -> Option<Request<'de>> {
        read::read(ty, body)
    }

    fn on_init(&mut self, ctx: &mut Ctx<Self>) {
        let ring = Ring::new(ctx.node_ids());
        let me = ctx.node_id();
        self.peers = ring
            .nodes()
            .iter()
            .filter(|n| *n != me)
            .map(|n| Peer::new(n.clone()))
            .collect();
        let mut peer = 0;
        self.ring_owners = ring
            .nodes()
            .iter()
            .map(|n| {
                if n == me {
                    return Owner::Me;
                }
                peer += 1;
                Owner::Peer(peer - 1)
            })
            .collect();
        self.ring = Some(ring);
        ctx.run_every(TICK, |node: &mut Self, ctx| node.on_tick(ctx));
    }

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request, from: ReplyTo) {
        match req {
            Request::Send { key, msg } => self.on_send(ctx, &key, msg, from),
            Request::Poll { offsets } => self.on_poll(ctx, offsets, from),
            Request::CommitOffsets { offsets } => self.on_commit(ctx, offsets, from),
            Request::ListCommittedOffsets { keys } => self.on_list_committed(ctx, &keys, from),
            Request::Sync(sync) => self.on_sync(ctx, sync, from.src()),
        }
    }
}
