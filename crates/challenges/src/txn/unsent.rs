//! The writes a node has not yet sent a peer: the latest per key, taken in key order at each
//! flush. Every write of every transaction lands here (once per peer), so small keys are
//! kept in a vector indexed by key, with the list of keys present, rather than in a map
//! searched by comparisons; a flush sorts the few keys it takes.

use std::collections::BTreeMap;

use super::{Update, Version, DENSE_KEYS};

/// key → (value, version), as a `BTreeMap` would keep it (see [`Unsent::take`]).
#[derive(Default)]
pub struct Unsent {
    /// Keys in `0..DENSE_KEYS` by index.
    dense: Vec<Option<(i64, Version)>>,
    /// The keys present in `dense`, in no order.
    keys: Vec<i64>,
    /// Any other key.
    sparse: BTreeMap<i64, (i64, Version)>,
}

impl Unsent {
    pub fn get(&self, key: i64) -> Option<&(i64, Version)> {
        if (0..DENSE_KEYS).contains(&key) {
            self.dense.get(key as usize)?.as_ref()
        } else {
            self.sparse.get(&key)
        }
    }

    /// Sets the key's entry (replacing any).
    pub fn insert(&mut self, key: i64, entry: (i64, Version)) {
        if (0..DENSE_KEYS).contains(&key) {
            let i = key as usize;
            if i >= self.dense.len() {
                self.dense.resize(i + 1, None);
            }
            if self.dense[i].replace(entry).is_none() {
                self.keys.push(key);
            }
        } else {
            self.sparse.insert(key, entry);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.sparse.is_empty()
    }

    /// Takes every entry, as updates in increasing key order (a `BTreeMap`'s order), and
    /// leaves the set empty.
    pub fn take(&mut self) -> Vec<Update> {
        let mut updates: Vec<Update> = Vec::with_capacity(self.keys.len() + self.sparse.len());
        for &k in &self.keys {
            let (v, version) = self.dense[k as usize]
                .take()
                .expect("listed keys are present");
            updates.push((k, v, version));
        }
        self.keys.clear();
        updates.extend(
            std::mem::take(&mut self.sparse)
                .into_iter()
                .map(|(k, (v, version))| (k, v, version)),
        );
        // Keys are distinct: an unstable sort orders them as the map would.
        updates.sort_unstable_by_key(|u| u.0);
        updates
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glomers_node::rand::{Rng, SeedableRng};

    /// Random inserts, lookups and takes give what a `BTreeMap` gives.
    #[test]
    fn behaves_as_a_btree_map() {
        let mut rng = glomers_node::rand_chacha::ChaCha8Rng::seed_from_u64(12);
        let mut unsent = Unsent::default();
        let mut map: BTreeMap<i64, (i64, Version)> = BTreeMap::new();
        let mut taken = 0;
        for _ in 0..50_000 {
            let key = match rng.gen_range(0..10) {
                0 => rng.gen(),
                1 => DENSE_KEYS - 1 + rng.gen_range(0..3),
                2 => -rng.gen_range(0..3),
                _ => rng.gen_range(0..200),
            };
            match rng.gen_range(0..20) {
                0 => {
                    let expected: Vec<Update> = std::mem::take(&mut map)
                        .into_iter()
                        .map(|(k, (v, version))| (k, v, version))
                        .collect();
                    taken += expected.len();
                    assert_eq!(unsent.take(), expected);
                }
                1..=5 => assert_eq!(unsent.get(key), map.get(&key)),
                _ => {
                    let entry = (rng.gen(), (rng.gen_range(0..100), rng.gen_range(0..3)));
                    unsent.insert(key, entry);
                    map.insert(key, entry);
                }
            }
            assert_eq!(unsent.is_empty(), map.is_empty());
        }
        assert!(taken > 10_000, "{taken}");
    }
}
