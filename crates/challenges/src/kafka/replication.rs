//! Node-to-node replication: the owner's stream of appended entries, the forwards of sends to
//! their owner, and the one `sync` message per peer per tick that carries both ways of it.
//!
//! Each node numbers the entries it appends (as owner) 0, 1, 2, ... in one stream. A peer
//! applies a stream strictly in order (buffering what arrives early) and tells the owner, in
//! the `ack` of its own syncs, how many entries of that stream it holds. The owner resends from
//! the last ack when the ack has not moved for [`RESEND_AFTER`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How long an unacknowledged entry or forward waits before it is sent again.
pub const RESEND_AFTER: Duration = Duration::from_millis(1000);
/// Entries per sync message (a long partition's backlog goes out over several ticks).
pub const MAX_ENTRIES_PER_SYNC: usize = 1000;

/// A forwarded send's id, unique for its origin node.
pub type ForwardId = u64;

/// A node's commit number: its `commit_offsets` requests numbered 1, 2, 3, ...
pub type CommitSeq = u64;

/// One appended message, as the owner streams it: key, offset, message, and for a forwarded
/// send its origin and id (so that the origin can answer its client).
pub type WireEntry = (String, u64, Value, Option<(String, ForwardId)>);

/// The `sync` message body (besides `type`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Sync {
    /// How many entries of the receiver's stream the sender holds.
    pub ack: u64,
    /// Stream number of `entries[0]`.
    #[serde(default)]
    pub from: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<WireEntry>,
    /// Sends for keys the receiver owns: (id, key, message).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forwards: Vec<(ForwardId, String, Value)>,
    /// The sender's committed offsets the receiver has not acknowledged yet (all of them, so
    /// that a lost sync loses nothing), as of the sender's commit number `commit_seq`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub commits: BTreeMap<String, i64>,
    /// The number of the sender's newest commit included in `commits`.
    #[serde(default)]
    pub commit_seq: u64,
    /// The receiver's commits the sender holds: every one numbered up to this.
    #[serde(default)]
    pub commit_ack: u64,
}

/// A send waiting at its origin for the owner to append it.
#[derive(Clone, Debug)]
pub struct Forward {
    pub key: String,
    pub msg: Value,
    /// When it was last sent to the owner (None: not yet).
    pub sent_at: Option<Duration>,
}

/// What a node knows about one peer.
#[derive(Debug, Default)]
pub struct Peer {
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
    pub early: BTreeMap<u64, WireEntry>,
    /// `applied` moved since we last told the peer.
    pub ack_due: bool,
    // -- sends we forward to this peer, as owner of their keys
    pub forwards: BTreeMap<ForwardId, Forward>,
    // -- our commits, as this peer holds them
    /// Committed offsets the peer has not acknowledged: key -> (offset, our commit number).
    pub commits: BTreeMap<String, (i64, CommitSeq)>,
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
    /// Takes in the peer's entries numbered from `from`; returns those now in order to apply.
    pub fn receive(&mut self, from: u64, entries: Vec<WireEntry>) -> Vec<WireEntry> {
        for (i, entry) in entries.into_iter().enumerate() {
            let seq = from + i as u64;
            if seq >= self.applied {
                self.early.entry(seq).or_insert(entry);
            }
        }
        let mut ready = Vec::new();
        while let Some(entry) = self.early.remove(&self.applied) {
            ready.push(entry);
            self.applied += 1;
            self.ack_due = true;
        }
        ready
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
    pub fn add_commit(&mut self, key: &str, offset: i64, seq: CommitSeq) {
        self.commits.insert(key.to_string(), (offset, seq));
    }

    /// The commits to send now, with the newest commit number among them: all unacknowledged
    /// ones, when there is a new one or they have waited [`RESEND_AFTER`] for an ack.
    pub fn commits_to_send(&mut self, now: Duration) -> Option<(CommitSeq, BTreeMap<String, i64>)> {
        let newest = self.commits.values().map(|&(_, seq)| seq).max()?;
        let resend = now.saturating_sub(self.commits_sent_at) >= RESEND_AFTER;
        if newest <= self.commits_sent && !resend {
            return None;
        }
        self.commits_sent = self.commits_sent.max(newest);
        self.commits_sent_at = now;
        let offsets = self
            .commits
            .iter()
            .map(|(k, &(o, _))| (k.clone(), o))
            .collect();
        Some((newest, offsets))
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

    /// Forwards never sent, or unanswered for [`RESEND_AFTER`]; marks them sent.
    pub fn forwards_to_send(&mut self, now: Duration) -> Vec<(ForwardId, String, Value)> {
        let mut out = Vec::new();
        for (&id, fwd) in self.forwards.iter_mut() {
            let due = !matches!(fwd.sent_at, Some(at) if now.saturating_sub(at) < RESEND_AFTER);
            if due {
                fwd.sent_at = Some(now);
                out.push((id, fwd.key.clone(), fwd.msg.clone()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn commits_are_sent_whole_until_acknowledged_then_resent_after_a_while() {
        let mut peer = Peer::default();
        assert_eq!(peer.commits_to_send(MS), None);
        peer.add_commit("a", 3, 1);
        peer.add_commit("b", 5, 2);
        let (seq, sent) = peer.commits_to_send(MS).unwrap();
        assert_eq!((seq, sent.len()), (2, 2));
        // Nothing new and not yet due for a resend.
        assert_eq!(peer.commits_to_send(2 * MS), None);
        // A newer commit goes out with every unacknowledged one (a lost sync loses nothing).
        peer.add_commit("a", 4, 3);
        let (seq, sent) = peer.commits_to_send(3 * MS).unwrap();
        assert_eq!(seq, 3);
        assert_eq!(sent, BTreeMap::from([("a".into(), 4), ("b".into(), 5)]));
        // The ack of commit 2 keeps commit 3; unacknowledged ones are resent after a while.
        peer.on_commit_sync(2, 0);
        assert_eq!(peer.commits_acked, 2);
        assert_eq!(peer.commits_to_send(4 * MS), None);
        let (seq, sent) = peer.commits_to_send(3 * MS + RESEND_AFTER).unwrap();
        assert_eq!((seq, sent), (3, BTreeMap::from([("a".into(), 4)])));
        peer.on_commit_sync(3, 0);
        assert_eq!(peer.commits_to_send(10 * RESEND_AFTER), None);
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
