//! Which client sent each op's requests, and their `msg_id`s (see [`OpRequests`]).
//!
//! Every op of a run sends at least one request, so this is kept without an allocation or
//! a hash per op: entries in a vector sorted by invocation index (ops are invoked in index
//! order, so an entry is nearly always pushed at the end), the `msg_id`s of an entry inline
//! up to two (a kafka poll and its commit), and client names stored once per client.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Which client sent an op's requests and their `msg_id`s, in order (a kafka op may take
/// several): stored on the invocation's line of `history.jsonl` as `client` and `msg_ids`.
/// With them the journal's messages of an op are found exactly: its requests are the client's
/// messages with those `msg_id`s, its replies those with that `in_reply_to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct OpRequests<'a> {
    pub client: &'a str,
    pub msg_ids: &'a [u64],
}

/// [`OpRequests`] as read from a line of `history.jsonl`.
#[derive(Deserialize)]
pub(super) struct StoredRequests {
    pub(super) client: String,
    pub(super) msg_ids: Vec<u64>,
}

/// A client as the history names it (see [`super::History::client`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientName(u32);

#[derive(Clone, Debug, Default)]
pub(super) struct Requests {
    /// Sorted by invocation index, one entry per op.
    entries: Vec<Entry>,
    names: Vec<Box<str>>,
    by_name: HashMap<Box<str>, u32>,
}

#[derive(Clone, Debug)]
struct Entry {
    invoke: usize,
    client: u32,
    msg_ids: MsgIds,
}

/// A short list of `msg_id`s, inline while it has at most two.
#[derive(Clone, Debug)]
enum MsgIds {
    Inline(u8, [u64; 2]),
    Spilled(Vec<u64>),
}

impl MsgIds {
    fn as_slice(&self) -> &[u64] {
        match self {
            MsgIds::Inline(len, ids) => &ids[..usize::from(*len)],
            MsgIds::Spilled(ids) => ids,
        }
    }

    fn push(&mut self, id: u64) {
        match self {
            MsgIds::Inline(len, ids) if usize::from(*len) < ids.len() => {
                ids[usize::from(*len)] = id;
                *len += 1;
            }
            MsgIds::Inline(_, ids) => *self = MsgIds::Spilled(vec![ids[0], ids[1], id]),
            MsgIds::Spilled(ids) => ids.push(id),
        }
    }
}

impl Requests {
    /// The name `name` is stored under (stored once).
    pub(super) fn client(&mut self, name: &str) -> ClientName {
        if let Some(&i) = self.by_name.get(name) {
            return ClientName(i);
        }
        let i = self.names.len() as u32;
        self.names.push(name.into());
        self.by_name.insert(name.into(), i);
        ClientName(i)
    }

    /// Makes room for `ops` more ops' entries.
    pub(super) fn reserve(&mut self, ops: usize) {
        self.entries.reserve(ops);
    }

    /// Records a request sent for the op invoked at history index `invoke`.
    pub(super) fn note(&mut self, invoke: usize, client: ClientName, msg_id: u64) {
        let at = match self.entries.last() {
            // The common case: the newest op's first request.
            Some(last) if last.invoke < invoke => self.entries.len(),
            None => 0,
            Some(_) => self.entries.partition_point(|e| e.invoke < invoke),
        };
        match self.entries.get_mut(at) {
            Some(entry) if entry.invoke == invoke => {
                if self.names[entry.client as usize].is_empty() {
                    entry.client = client.0;
                }
                entry.msg_ids.push(msg_id);
            }
            _ => self.entries.insert(
                at,
                Entry {
                    invoke,
                    client: client.0,
                    msg_ids: MsgIds::Inline(1, [msg_id, 0]),
                },
            ),
        }
    }

    /// Sets the requests of the op invoked at `invoke` as a stored history lists them.
    pub(super) fn set(&mut self, invoke: usize, client: ClientName, msg_ids: Vec<u64>) {
        let msg_ids = match *msg_ids.as_slice() {
            [] => MsgIds::Inline(0, [0, 0]),
            [a] => MsgIds::Inline(1, [a, 0]),
            [a, b] => MsgIds::Inline(2, [a, b]),
            _ => MsgIds::Spilled(msg_ids),
        };
        let entry = Entry {
            invoke,
            client: client.0,
            msg_ids,
        };
        let at = self.entries.partition_point(|e| e.invoke < invoke);
        match self.entries.get_mut(at) {
            Some(e) if e.invoke == invoke => *e = entry,
            _ => self.entries.insert(at, entry),
        }
    }

    pub(super) fn get(&self, invoke: usize) -> Option<OpRequests<'_>> {
        let at = self.entries.partition_point(|e| e.invoke < invoke);
        let found = self.entries.get(at).is_some_and(|e| e.invoke == invoke);
        found.then(|| self.view(at))
    }

    /// [`Requests::get`] for ops visited in index order: `cursor` keeps the place (the first
    /// entry not passed yet), so an op without requests (a completion) is answered without
    /// a search; ops out of order are searched for.
    pub(super) fn get_in_order(&self, invoke: usize, cursor: &mut usize) -> Option<OpRequests<'_>> {
        // A cursor past an entry at `invoke` or later: out of order, search.
        let in_order = *cursor == 0 || self.entries[*cursor - 1].invoke < invoke;
        if in_order {
            match self.entries.get(*cursor) {
                Some(e) if e.invoke == invoke => {
                    *cursor += 1;
                    return Some(self.view(*cursor - 1));
                }
                // An op without requests (a completion): no search.
                Some(e) if e.invoke > invoke => return None,
                None => return None,
                Some(_) => {}
            }
        }
        let at = self.entries.partition_point(|e| e.invoke < invoke);
        let found = self.entries.get(at).is_some_and(|e| e.invoke == invoke);
        *cursor = if found { at + 1 } else { at };
        found.then(|| self.view(at))
    }

    fn view(&self, i: usize) -> OpRequests<'_> {
        let entry = &self.entries[i];
        OpRequests {
            client: &self.names[entry.client as usize],
            msg_ids: entry.msg_ids.as_slice(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;

    /// The same lists as a map of vectors would keep, whatever the order of the notes.
    #[test]
    fn requests_are_kept_as_a_map_of_lists_keeps_them() {
        let mut rng = crate::Rng::seed_from_u64(5);
        for _ in 0..200 {
            let mut fast = Requests::default();
            let mut simple: BTreeMap<usize, (String, Vec<u64>)> = BTreeMap::new();
            let mut newest = 0;
            for _ in 0..rng.gen_range(0..60) {
                // Mostly the newest op or a new one, sometimes an older one.
                let invoke = match rng.gen_range(0..10) {
                    0..=5 => {
                        newest += rng.gen_range(1..4);
                        newest
                    }
                    6..=7 => newest,
                    _ => rng.gen_range(0..=newest),
                };
                let name = ["c1", "c2", "", "c10"][rng.gen_range(0..4)];
                let msg_id = rng.gen_range(0..1000);
                let client = fast.client(name);
                fast.note(invoke, client, msg_id);
                let entry = simple
                    .entry(invoke)
                    .or_insert_with(|| (name.to_string(), Vec::new()));
                if entry.0.is_empty() {
                    entry.0 = name.to_string();
                }
                entry.1.push(msg_id);
            }
            let mut cursor = 0;
            let mut visits: Vec<usize> = (0..=newest + 1).collect();
            if rng.gen_bool(0.3) {
                // Out of order now and then (a history whose indices are not its order).
                let (a, b) = (
                    rng.gen_range(0..visits.len()),
                    rng.gen_range(0..visits.len()),
                );
                visits.swap(a, b);
            }
            for invoke in visits {
                let expected = simple
                    .get(&invoke)
                    .map(|(client, msg_ids)| OpRequests { client, msg_ids });
                assert_eq!(fast.get(invoke), expected);
                assert_eq!(fast.get_in_order(invoke, &mut cursor), expected);
            }
        }
    }
}
