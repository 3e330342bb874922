//! The kafka node's messages as they travel: requests decoded borrowing their key names from
//! the input line (by hand in [`super::read`], by serde's derive for unusual bodies), and
//! replies and syncs written field by field ([`Fields`]) straight from the node's state.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;

use glomers_node::{Array, Fields};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
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

/// A forward as it arrives: forward id, key, message.
pub type ForwardIn<'a> = (ForwardId, Name<'a>, Value);

/// The `sync` message body as it arrives (see [`SyncOut`] for its fields).
#[derive(Debug, Default, PartialEq, Deserialize)]
pub struct SyncIn<'a> {
    pub ack: u64,
    #[serde(default)]
    pub from: u64,
    #[serde(default, borrow)]
    pub entries: Vec<EntryIn<'a>>,
    #[serde(default, borrow)]
    pub forwards: Vec<ForwardIn<'a>>,
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

impl SyncOut<'_> {
    /// Writes the body's fields (after its `type`, `sync`).
    pub fn write(&self, body: &mut Fields) {
        // Most syncs carry an entry or two: every field left out is work saved at both ends.
        body.u64("ack", self.ack);
        if !self.entries.is_empty() {
            body.u64("from", self.from);
            body.array("entries", |list| {
                for e in self.stream.range(self.entries.clone()) {
                    let key = &self.keys[e.key];
                    list.array(|entry| {
                        entry.str(&key.name).u64(e.offset);
                        msg(entry, &key.msgs[e.offset as usize]);
                        match e.forward {
                            Some((p, id)) => entry.array(|f| {
                                f.str(&self.peers[p].name).u64(id);
                            }),
                            None => entry.null(),
                        };
                    });
                }
            });
        }
        if !self.forward_ids.is_empty() {
            body.array("forwards", |list| {
                for id in self.forward_ids {
                    if let Some(fwd) = self.forwards.get(id) {
                        list.array(|f| {
                            f.u64(*id).str(&self.keys[fwd.key].name);
                            msg(f, &fwd.msg);
                        });
                    }
                }
            });
        }
        if let Some(commits) = self.commits.filter(|c| !c.is_empty()) {
            let offsets = commits.iter().map(|(&k, &(o, _))| (k, o));
            write_offsets(body, "commits", self.keys, offsets);
            body.u64("commit_seq", self.commit_seq);
        }
        if self.commit_ack != 0 {
            body.u64("commit_ack", self.commit_ack);
        }
    }
}

/// A message (any JSON value; integers, the usual case, without serde).
fn msg(list: &mut Array, msg: &Value) {
    if let Some(n) = msg.as_u64() {
        list.u64(n);
    } else if let Some(n) = msg.as_i64() {
        list.i64(n);
    } else {
        list.value(msg);
    }
}

/// A field holding an object of offsets by key, written from key ids.
pub fn write_offsets(
    body: &mut Fields,
    field: &str,
    keys: &Keys,
    offsets: impl Iterator<Item = (KeyId, i64)>,
) {
    body.object(field, |map| {
        for (k, o) in offsets {
            map.i64(&keys[k].name, o);
        }
    });
}

/// `list_committed_offsets_ok`'s fields.
pub fn write_list_committed_ok(body: &mut Fields, keys: &Keys, offsets: &[(KeyId, i64)]) {
    write_offsets(body, "offsets", keys, offsets.iter().copied());
}

/// `poll_ok`'s fields: per key, the messages of a range of offsets, `[[offset, msg], ...]`,
/// copied from their text kept in the key's log ([`super::rendered`]: rendered up to the
/// ranges' ends before); `text` is room for one key's list.
pub fn write_poll_ok(
    body: &mut Fields,
    keys: &Keys,
    ranges: &[(KeyId, Range<usize>)],
    text: &mut Vec<u8>,
) {
    body.object("msgs", |map| {
        for (id, range) in ranges {
            let key = &keys[*id];
            text.clear();
            key.rendered.array(range.clone(), text);
            // Always UTF-8 (see `RenderedPairs::text`): checked, a word at a time.
            let json = std::str::from_utf8(text).expect("rendered pairs are UTF-8");
            map.raw(&key.name, json);
        }
    });
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
