//! The node's keys, interned: each key name the node meets gets a small [`KeyId`], and
//! everything the node keeps per key (its log, its committed offset, its owner) lives in one
//! [`KeyLog`] indexed by it. The hot paths (appends, polls, commits, syncs) then index a
//! vector instead of comparing and cloning `String`s in ordered maps.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::{Index, IndexMut};

use serde_json::Value;

use super::rendered::RenderedPairs;

/// A key's number on this node (the order in which the node met the keys; never sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(u32);

/// Who appends to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    Me,
    /// The peer at this index of the node's peer list.
    Peer(usize),
}

/// One key as this node holds it.
#[derive(Debug)]
pub struct KeyLog {
    pub name: Box<str>,
    pub owner: Owner,
    /// The messages by offset.
    pub msgs: Vec<Value>,
    /// Messages [0, durable) may be served to polls.
    pub durable: usize,
    /// The highest committed offset this node holds.
    pub committed: Option<i64>,
    /// The text of the messages polls were served, kept for the next polls.
    pub rendered: RenderedPairs,
}

/// Every key this node met, by name and by id.
#[derive(Debug, Default)]
pub struct Keys {
    /// The ids of keys named by a small number ([`small_number`]: the workloads' keys), by
    /// that number: a lookup is a few digits read and an index, rather than a hash and a
    /// comparison of names.
    numbered: Vec<Option<KeyId>>,
    /// The ids of the other keys. Looked up only, never iterated: its order cannot leak into
    /// what the node sends.
    ids: HashMap<Box<str>, KeyId, BuildHasherDefault<Fnv>>,
    logs: Vec<KeyLog>,
}

/// Keys named by a number below this are found by index ([`Keys::numbered`]).
const NUMBERED: usize = 1 << 16;

/// The number `name` writes in decimal, if it is below [`NUMBERED`] and written the one way
/// (no sign, no leading zero): then no other name gives the same number.
#[inline]
fn small_number(name: &str) -> Option<usize> {
    crate::decimal::canonical_small(name.as_bytes(), 5).filter(|&n| n < NUMBERED)
}

impl Keys {
    /// The id of a key met before. Inlined, the hash map's path aside: it runs for every key
    /// of every request, and a call cost as much as the lookup of a numbered name.
    #[inline]
    pub fn get(&self, name: &str) -> Option<KeyId> {
        match small_number(name) {
            Some(n) => self.numbered.get(n).copied().flatten(),
            None => self.get_named(name),
        }
    }

    #[inline(never)]
    fn get_named(&self, name: &str) -> Option<KeyId> {
        self.ids.get(name).copied()
    }

    /// The id of `name`, met now for the first time if need be (then `owner` names its owner).
    pub fn intern(&mut self, name: &str, owner: impl FnOnce(&str) -> Owner) -> KeyId {
        if let Some(id) = self.get(name) {
            return id;
        }
        let id = KeyId(self.logs.len() as u32);
        self.logs.push(KeyLog {
            name: name.into(),
            owner: owner(name),
            msgs: Vec::new(),
            durable: 0,
            committed: None,
            rendered: RenderedPairs::default(),
        });
        match small_number(name) {
            Some(n) => {
                if n >= self.numbered.len() {
                    self.numbered.resize(n + 1, None);
                }
                self.numbered[n] = Some(id);
            }
            None => {
                self.ids.insert(name.into(), id);
            }
        }
        id
    }

    /// Raises a key's committed offset; returns whether it moved.
    pub fn commit(&mut self, id: KeyId, offset: i64) -> bool {
        let committed = &mut self[id].committed;
        match committed {
            Some(c) if *c >= offset => false,
            _ => {
                *committed = Some(offset);
                true
            }
        }
    }
}

impl Index<KeyId> for Keys {
    type Output = KeyLog;
    fn index(&self, id: KeyId) -> &KeyLog {
        &self.logs[id.0 as usize]
    }
}

impl IndexMut<KeyId> for Keys {
    fn index_mut(&mut self, id: KeyId) -> &mut KeyLog {
        &mut self.logs[id.0 as usize]
    }
}

/// 64-bit FNV-1a: a fast hash for short key names (the std default, SipHash, resists
/// flooding, which a simulated client does not attempt).
#[derive(Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_interned_once_and_commits_only_move_forward() {
        let mut keys = Keys::default();
        let a = keys.intern("a", |_| Owner::Me);
        let b = keys.intern("b", |_| Owner::Peer(0));
        assert_ne!(a, b);
        assert_eq!(keys.intern("a", |_| unreachable!()), a);
        assert_eq!((keys.get("b"), keys.get("c")), (Some(b), None));
        assert_eq!(keys[b].owner, Owner::Peer(0));
        assert!(keys.commit(a, 3));
        assert!(!keys.commit(a, 2));
        assert!(!keys.commit(a, 3));
        assert_eq!(keys[a].committed, Some(3));
    }

    /// Names that are small numbers (found by index) and others (found by hash), mixed at
    /// random: each name keeps the one id it was given, and distinct names get distinct ids.
    #[test]
    fn numbered_and_other_names_intern_as_a_map_would() {
        use glomers_node::rand::{Rng, SeedableRng};
        let mut rng = glomers_node::rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut keys = Keys::default();
        let mut model: HashMap<String, KeyId> = HashMap::new();
        let fixed = [
            "0", "00", "01", "-1", "65535", "65536", "99999", "100000", "", "k", "1a",
        ];
        for _ in 0..20_000 {
            let name = match rng.gen_range(0..4) {
                0 => fixed[rng.gen_range(0..fixed.len())].to_string(),
                1 => rng.gen_range(0..700).to_string(),
                2 => format!("0{}", rng.gen_range(0..50)),
                _ => rng.gen_range(0..200_000u32).to_string(),
            };
            let expected = model.get(&name).copied();
            assert_eq!(keys.get(&name), expected, "{name:?}");
            let id = keys.intern(&name, |_| Owner::Me);
            assert_eq!(*model.entry(name.clone()).or_insert(id), id, "{name:?}");
            assert_eq!(&*keys[id].name, name);
        }
        assert_eq!(keys.logs.len(), model.len());
        assert_eq!(small_number("65535"), Some(65535));
        assert_eq!(small_number("0"), Some(0));
        for name in ["", "00", "01", "65536", "-1", "1 ", r"\u0031"] {
            assert_eq!(small_number(name), None, "{name:?}");
        }
    }
}
