//! Node-to-node replication: the owner's stream of appended entries, the forwards of sends to
//! their owner, and the one `sync` message per peer per tick that carries both ways of it.
//!
//! Each node numbers the entries it appends (as owner) 0, 1, 2, ... in one stream. A peer
//! applies a stream strictly in order (buffering what arrives early) and tells the owner, in
//! the `ack` of its own syncs, how many entries of that stream it holds. The owner resends from
//! the last ack when the ack has not moved for [`RESEND_AFTER`].

use std::collections::BTreeMap;
use std::time::Duration;

use glomers_node::ReplyTo;
use serde_json::Value;

use super::keys::KeyId;
use super::waiting::SeenIds;

/// How long an unacknowledged entry or forward waits before it is sent again.
pub const RESEND_AFTER: Duration = Duration::from_millis(1000);
/// Entries per sync message (a long partition's backlog goes out over several ticks).
pub const MAX_ENTRIES_PER_SYNC: usize = 1000;

/// A forwarded send's id, unique for its origin node.
pub type ForwardId = u64;

/// A node's commit number: its `commit_offsets` requests numbered 1, 2, 3, ...
pub type CommitSeq = u64;

/// An entry of this node's own stream (keys it owns). Its message is the key's log at
/// `offset`.
#[derive(Debug)]
pub struct Entry {
    /// When the owner appended it.
    pub appended_at: Duration,
    pub key: KeyId,
    pub offset: u64,
    /// For a forwarded send: the origin (index into the peer list) and its forward id.
    pub forward: Option<(usize, ForwardId)>,
    /// The local client to answer once the entry is durable.
    pub client: Option<ReplyTo>,
}

/// An entry of a peer's stream as this node keeps it until its turn to be applied.
#[derive(Debug)]
pub struct PeerEntry {
    pub key: KeyId,
    pub offset: u64,
    pub msg: Value,
    /// The forward id when the entry is a send this node forwarded.
    pub ours: Option<ForwardId>,
}

/// A send waiting at its origin for the owner to append it.
#[derive(Clone, Debug)]
pub struct Forward {
    pub key: KeyId,
    pub msg: Value,
    /// When it was last sent to the owner (None: not yet).
    pub sent_at: Option<Duration>,
}

/// What a node knows about one peer.
#[derive(Debug, Default)]
pub struct Peer {
    pub name: String,
    // -- our stream, as this peer holds it
    /// How many of our entries the peer holds.
    pub acked: u64,
    /// Entries [acked, sent) are on their way.
    pub sent: u64,
    /// When `acked` last moved, or when we sent while it was caught up.
    pub acked_at: Duration,
    // -- the peer's stream, as we hold it
    /// How many of the peer's entries we applied.
    pub applied: u64,
    /// Entries of the peer's stream that arrived ahead of their turn.
    pub early: BTreeMap<u64, PeerEntry>,
    /// `applied` moved since we last told the peer.
    pub ack_due: bool,
    /// The peer's forwards we appended, by forward id, so that a resent one is appended once.
    pub appended_forwards: SeenIds,
    // -- sends we forward to this peer, as owner of their keys
    pub forwards: BTreeMap<ForwardId, Forward>,
    // -- our commits, as this peer holds them
    /// Committed offsets the peer has not acknowledged: key -> (offset, our commit number).
    pub commits: BTreeMap<KeyId, (i64, CommitSeq)>,
    /// The newest commit number sent, and when.
    pub commits_sent: CommitSeq,
    pub commits_sent_at: Duration,
    /// The peer holds our commits numbered up to this.
    pub commits_acked: CommitSeq,
    // -- the peer's commits, as we hold them
    /// The newest of the peer's commit numbers we received (all below it came with it).
    pub commits_received: CommitSeq,
}

impl Peer {
    pub fn new(name: String) -> Peer {
        Peer {
            name,
            ..Peer::default()
        }
    }

    /// Whether the entry numbered `seq` of the peer's stream is one we still need (not
    /// applied yet).
    pub fn wants(&self, seq: u64) -> bool {
        seq >= self.applied
    }

    /// Takes in the peer's entry numbered `seq` (one it [`Peer::wants`]): returns it when it
    /// is the next to apply (counted as applied), or keeps it until its turn.
    pub fn take_in(&mut self, seq: u64, entry: PeerEntry) -> Option<PeerEntry> {
        if seq != self.applied {
            self.early.entry(seq).or_insert(entry);
            return None;
        }
        self.applied += 1;
        self.ack_due = true;
        Some(entry)
    }

    /// The next entry kept until its turn, if its turn came (counted as applied).
    pub fn next_early(&mut self) -> Option<PeerEntry> {
        let entry = self.early.remove(&self.applied)?;
        self.applied += 1;
        self.ack_due = true;
        Some(entry)
    }

    /// Records the peer's ack of our stream.
    pub fn on_ack(&mut self, ack: u64, now: Duration) {
        if ack > self.acked {
            self.acked = ack;
            self.acked_at = now;
            self.sent = self.sent.max(ack);
        }
    }

    /// The range of our stream to send now (`next` entries exist): new entries, or everything
    /// unacknowledged when the ack has been stuck for [`RESEND_AFTER`].
    pub fn entries_to_send(&mut self, next: u64, now: Duration) -> std::ops::Range<u64> {
        if self.acked < self.sent && now.saturating_sub(self.acked_at) >= RESEND_AFTER {
            self.sent = self.acked;
            self.acked_at = now;
        }
        if self.acked == self.sent && self.sent < next {
            // Nothing in flight: the resend clock starts now.
            self.acked_at = now;
        }
        let end = next.min(self.sent + MAX_ENTRIES_PER_SYNC as u64);
        let range = self.sent..end;
        self.sent = end;
        range
    }

    /// Records a commit (already merged into our committed offsets) to pass on to the peer.
    pub fn add_commit(&mut self, key: KeyId, offset: i64, seq: CommitSeq) {
        self.commits.insert(key, (offset, seq));
    }

    /// Whether to send the commits now, and the newest commit number among them: all
    /// unacknowledged ones ([`Peer::commits`]) go, when there is a new one or they have waited
    /// [`RESEND_AFTER`] for an ack.
    #[inline]
    pub fn commits_to_send(&mut self, now: Duration) -> Option<CommitSeq> {
        if self.commits.is_empty() {
            return None;
        }
        let newest = self.commits.values().map(|&(_, seq)| seq).max()?;
        let resend = now.saturating_sub(self.commits_sent_at) >= RESEND_AFTER;
        if newest <= self.commits_sent && !resend {
            return None;
        }
        self.commits_sent = self.commits_sent.max(newest);
        self.commits_sent_at = now;
        Some(newest)
    }

    /// Records the peer's ack of our commits, and takes in the peer's commit number.
    pub fn on_commit_sync(&mut self, ack: CommitSeq, received: CommitSeq) {
        if ack > self.commits_acked {
            self.commits_acked = ack;
            self.commits.retain(|_, &mut (_, seq)| seq > ack);
        }
        if received > self.commits_received {
            self.commits_received = received;
            self.ack_due = true;
        }
    }

    /// The ids of forwards never sent, or unanswered for [`RESEND_AFTER`], in `out` (cleared
    /// first); marks them sent.
    pub fn forwards_to_send(&mut self, now: Duration, out: &mut Vec<ForwardId>) {
        out.clear();
        if self.forwards.is_empty() {
            // Most ticks: not even an iterator over the map.
            return;
        }
        for (&id, fwd) in self.forwards.iter_mut() {
            let due = !matches!(fwd.sent_at, Some(at) if now.saturating_sub(at) < RESEND_AFTER);
            if due {
                fwd.sent_at = Some(now);
                out.push(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::keys::{Keys, Owner};

    const MS: Duration = Duration::from_millis(1);

    /// The unacknowledged commits, as a sync would carry them.
    fn unacked(peer: &Peer) -> Vec<(KeyId, i64)> {
        peer.commits.iter().map(|(&k, &(o, _))| (k, o)).collect()
    }

    #[test]
    fn commits_are_sent_whole_until_acknowledged_then_resent_after_a_while() {
        let mut keys = Keys::default();
        let (a, b) = (
            keys.intern("a", |_| Owner::Me),
            keys.intern("b", |_| Owner::Me),
        );
        let mut peer = Peer::default();
        assert_eq!(peer.commits_to_send(MS), None);
        peer.add_commit(a, 3, 1);
        peer.add_commit(b, 5, 2);
        assert_eq!(peer.commits_to_send(MS), Some(2));
        assert_eq!(unacked(&peer).len(), 2);
        // Nothing new and not yet due for a resend.
        assert_eq!(peer.commits_to_send(2 * MS), None);
        // A newer commit goes out with every unacknowledged one (a lost sync loses nothing).
        peer.add_commit(a, 4, 3);
        assert_eq!(peer.commits_to_send(3 * MS), Some(3));
        assert_eq!(unacked(&peer), [(a, 4), (b, 5)]);
        // The ack of commit 2 keeps commit 3; unacknowledged ones are resent after a while.
        peer.on_commit_sync(2, 0);
        assert_eq!(peer.commits_acked, 2);
        assert_eq!(peer.commits_to_send(4 * MS), None);
        assert_eq!(peer.commits_to_send(3 * MS + RESEND_AFTER), Some(3));
        assert_eq!(unacked(&peer), [(a, 4)]);
        peer.on_commit_sync(3, 0);
        assert_eq!(peer.commits_to_send(10 * RESEND_AFTER), None);
    }

    #[test]
    fn a_peer_stream_is_applied_in_order_once() {
        let mut keys = Keys::default();
        let k = keys.intern("k", |_| Owner::Peer(0));
        let entry = |offset| PeerEntry {
            key: k,
            offset,
            msg: Value::from(offset),
            ours: None,
        };
        let mut peer = Peer::default();
        // Entry 1 arrives first: kept; then entry 0: applied, and 1 after it.
        assert!(peer.wants(1));
        assert!(peer.take_in(1, entry(11)).is_none());
        assert!(peer.next_early().is_none());
        assert_eq!(peer.take_in(0, entry(10)).map(|e| e.offset), Some(10));
        assert_eq!(peer.next_early().map(|e| e.offset), Some(11));
        assert!(peer.next_early().is_none());
        assert_eq!(peer.applied, 2);
        assert!(peer.ack_due);
        // A resent entry is not wanted again.
        assert!(!peer.wants(1));
    }

    #[test]
    fn a_peer_commit_number_is_acknowledged_once_and_never_goes_back() {
        let mut peer = Peer::default();
        peer.on_commit_sync(0, 4);
        assert!(peer.ack_due);
        assert_eq!(peer.commits_received, 4);
        peer.ack_due = false;
        // An older sync arriving late changes nothing.
        peer.on_commit_sync(0, 2);
        assert!(!peer.ack_due);
        assert_eq!(peer.commits_received, 4);
    }
}
