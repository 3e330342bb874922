//! The kafka node's messages as they travel: requests decoded borrowing their key names from
//! the input line, and replies and syncs written straight from the node's state, without a
//! `serde_json::Value` built in between.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::keys::{KeyId, Keys};
use super::replication::{CommitSeq, Entry, Forward, ForwardId, Peer};

/// A key or node name in a message: borrowed from the input line unless it holds escapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name<'a>(pub Cow<'a, str>);

impl std::ops::Deref for Name<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Name<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NameVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for NameVisitor<'a> {
            type Value = Name<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Name<'a>, E> {
                Ok(Name(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Name<'a>, E> {
                Ok(Name(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Name<'a>, E> {
                Ok(Name(Cow::Owned(s)))
            }
        }
        d.deserialize_str(NameVisitor(PhantomData))
    }
}

/// A JSON object of offsets by key (`poll`, `commit_offsets`, a sync's commits), in the
/// order the message lists them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyOffsets<'a>(pub Vec<(Name<'a>, i64)>);

impl<'de: 'a, 'a> Deserialize<'de> for KeyOffsets<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct OffsetsVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for OffsetsVisitor<'a> {
            type Value = KeyOffsets<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of offsets by key")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<KeyOffsets<'a>, M::Error> {
                let mut list = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry()? {
                    list.push(entry);
                }
                Ok(KeyOffsets(list))
            }
        }
        d.deserialize_map(OffsetsVisitor(PhantomData))
    }
}

/// One entry of a peer's stream as it arrives: key, offset, message, and for a forwarded send
/// its origin and forward id.
pub type EntryIn<'a> = (Name<'a>, u64, Value, Option<(Name<'a>, ForwardId)>);

/// The `sync` message body as it arrives (see [`SyncOut`] for its fields).
#[derive(Debug, Default, PartialEq, Deserialize)]
pub struct SyncIn<'a> {
    pub ack: u64,
    #[serde(default)]
    pub from: u64,
    #[serde(default, borrow)]
    pub entries: Vec<EntryIn<'a>>,
    #[serde(default, borrow)]
    pub forwards: Vec<(ForwardId, Name<'a>, Value)>,
    #[serde(default, borrow)]
    pub commits: KeyOffsets<'a>,
    #[serde(default)]
    pub commit_seq: CommitSeq,
    #[serde(default)]
    pub commit_ack: CommitSeq,
}

/// The `sync` message body, written from the node's state. Fields:
/// - `ack`: how many entries of the receiver's stream the sender holds;
/// - `from`: the stream number of `entries[0]` (omitted with `entries`);
/// - `entries`: `[key, offset, msg, [origin, forward id] or null]` in stream order (omitted
///   when empty);
/// - `forwards`: sends for keys the receiver owns, `[forward id, key, msg]` (omitted when
///   empty);
/// - `commits`: the sender's committed offsets the receiver has not acknowledged yet (all of
///   them, so that a lost sync loses nothing), as of the sender's commit number `commit_seq`
///   (both omitted when there are none to send);
/// - `commit_ack`: the receiver's commits the sender holds: every one numbered up to this
///   (omitted while 0).
pub struct SyncOut<'a> {
    pub keys: &'a Keys,
    /// The sender's peers, for the names of forwards' origins.
    pub peers: &'a [Peer],
    pub ack: u64,
    pub stream: &'a VecDeque<Entry>,
    /// Stream positions (indexes into `stream`) to send, and the stream number of the first.
    pub entries: Range<usize>,
    pub from: u64,
    /// Forwards to send, by id, out of `forwards`.
    pub forward_ids: &'a [ForwardId],
    pub forwards: &'a BTreeMap<ForwardId, Forward>,
    /// Unacknowledged commits (key -> (offset, commit number)), when due.
    pub commits: Option<&'a BTreeMap<KeyId, (i64, CommitSeq)>>,
    pub commit_seq: CommitSeq,
    pub commit_ack: CommitSeq,
}

impl Serialize for SyncOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        // Most syncs carry an entry or two: every field left out is work saved at both ends.
        map.serialize_entry("type", "sync")?;
        map.serialize_entry("ack", &self.ack)?;
        if !self.entries.is_empty() {
            map.serialize_entry("from", &self.from)?;
            map.serialize_entry("entries", &Entries(self))?;
        }
        if !self.forward_ids.is_empty() {
            map.serialize_entry("forwards", &Forwards(self))?;
        }
        if let Some(commits) = self.commits.filter(|c| !c.is_empty()) {
            let offsets = commits.iter().map(|(&k, &(o, _))| (k, o));
            map.serialize_entry("commits", &Offsets::new(self.keys, offsets))?;
            map.serialize_entry("commit_seq", &self.commit_seq)?;
        }
        if self.commit_ack != 0 {
            map.serialize_entry("commit_ack", &self.commit_ack)?;
        }
        map.end()
    }
}

struct Entries<'a>(&'a SyncOut<'a>);

impl Serialize for Entries<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let sync = self.0;
        let mut seq = s.serialize_seq(Some(sync.entries.len()))?;
        for e in sync.stream.range(sync.entries.clone()) {
            let key = &sync.keys[e.key];
            let msg = &key.msgs[e.offset as usize];
            let forward = e.forward.map(|(p, id)| (sync.peers[p].name.as_str(), id));
            seq.serialize_element(&(&*key.name, e.offset, msg, forward))?;
        }
        seq.end()
    }
}

struct Forwards<'a>(&'a SyncOut<'a>);

impl Serialize for Forwards<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let sync = self.0;
        let mut seq = s.serialize_seq(Some(sync.forward_ids.len()))?;
        for id in sync.forward_ids {
            if let Some(fwd) = sync.forwards.get(id) {
                seq.serialize_element(&(id, &*sync.keys[fwd.key].name, &fwd.msg))?;
            }
        }
        seq.end()
    }
}

/// A JSON object of offsets by key, written from key ids.
pub struct Offsets<'a, I> {
    keys: &'a Keys,
    offsets: I,
}

impl<'a, I: Iterator<Item = (KeyId, i64)> + Clone> Offsets<'a, I> {
    pub fn new(keys: &'a Keys, offsets: I) -> Self {
        Offsets { keys, offsets }
    }
}

impl<I: Iterator<Item = (KeyId, i64)> + Clone> Serialize for Offsets<'_, I> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (k, o) in self.offsets.clone() {
            map.serialize_entry(&*self.keys[k].name, &o)?;
        }
        map.end()
    }
}

/// `list_committed_offsets_ok`.
pub struct ListCommittedOk<'a> {
    pub keys: &'a Keys,
    pub offsets: Vec<(KeyId, i64)>,
}

impl Serialize for ListCommittedOk<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("type", "list_committed_offsets_ok")?;
        let offsets = Offsets::new(self.keys, self.offsets.iter().copied());
        map.serialize_entry("offsets", &offsets)?;
        map.end()
    }
}

/// A body with nothing but its type (`commit_offsets_ok`).
#[derive(Serialize)]
pub struct Bare {
    #[serde(rename = "type")]
    pub ty: &'static str,
}

/// `send_ok`.
#[derive(Serialize)]
pub struct SendOk {
    #[serde(rename = "type")]
    ty: &'static str,
    offset: u64,
}

impl SendOk {
    pub fn new(offset: u64) -> SendOk {
        SendOk {
            ty: "send_ok",
            offset,
        }
    }
}

/// `poll_ok`: per key, the messages of a range of offsets, `[[offset, msg], ...]`.
pub struct PollOk<'a> {
    pub keys: &'a Keys,
    pub ranges: Vec<(KeyId, Range<usize>)>,
}

impl Serialize for PollOk<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Msgs<'a>(&'a PollOk<'a>);
        impl Serialize for Msgs<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(self.0.ranges.len()))?;
                for (id, range) in &self.0.ranges {
                    let key = &self.0.keys[*id];
                    map.serialize_entry(&*key.name, &Polled(range.clone(), &key.msgs))?;
                }
                map.end()
            }
        }
        struct Polled<'a>(Range<usize>, &'a [Value]);
        impl Serialize for Polled<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.len()))?;
                for o in self.0.clone() {
                    seq.serialize_element(&(o, &self.1[o]))?;
                }
                seq.end()
            }
        }
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("type", "poll_ok")?;
        map.serialize_entry("msgs", &Msgs(self))?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_borrow_from_the_line_unless_escaped() {
        let names: Vec<Name> = serde_json::from_str(r#"["a", "b\"c"]"#).unwrap();
        assert!(matches!(names[0].0, Cow::Borrowed("a")));
        assert_eq!(&*names[1], "b\"c");
        let offsets: KeyOffsets = serde_json::from_str(r#"{"k2": 3, "k1": -1}"#).unwrap();
        let list: Vec<(&str, i64)> = offsets.0.iter().map(|(k, o)| (&**k, *o)).collect();
        assert_eq!(list, [("k2", 3), ("k1", -1)]);
        assert!(serde_json::from_str::<KeyOffsets>(r#"{"k": "x"}"#).is_err());
    }
}
