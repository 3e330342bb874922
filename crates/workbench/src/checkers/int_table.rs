//! A map from integers to values for integers that are mostly small and dense: a kafka key's
//! offsets and messages (a log numbers its offsets 0, 1, 2, ...), the keys of a txn workload.
//! Those index a vector (no hashing, and neighbours in memory); the rest (negative, or far
//! beyond how many entries the table holds, which keeps the vector's size linear in the
//! entries) go to a hash map.

use crate::checkers::fast_hash::FastMap;

#[derive(Clone, Debug)]
pub struct IntTable<V> {
    dense: Vec<Option<V>>,
    sparse: FastMap<i64, V>,
    len: usize,
    /// The smallest non-negative key in `sparse` (`usize::MAX` if none): the vector may grow
    /// up to it without a look at the map.
    lowest_far: usize,
}

impl<V> Default for IntTable<V> {
    fn default() -> Self {
        IntTable {
            dense: Vec::new(),
            sparse: FastMap::default(),
            len: 0,
            lowest_far: usize::MAX,
        }
    }
}

/// How far past its entries the vector may grow: `2 * entries + SLACK`.
const SLACK: usize = 16;

impl<V> IntTable<V> {
    /// A table whose vector holds keys `0..n` without growing (many small tables would
    /// otherwise each grow several times).
    pub fn with_capacity(n: usize) -> Self {
        IntTable {
            dense: Vec::with_capacity(n),
            ..IntTable::default()
        }
    }

    #[inline]
    pub fn get(&self, i: i64) -> Option<&V> {
        match usize::try_from(i) {
            Ok(u) if u < self.dense.len() => self.dense[u].as_ref(),
            _ if self.sparse.is_empty() => None,
            _ => self.sparse.get(&i),
        }
    }

    #[inline]
    pub fn get_mut(&mut self, i: i64) -> Option<&mut V> {
        match usize::try_from(i) {
            Ok(u) if u < self.dense.len() => self.dense[u].as_mut(),
            _ if self.sparse.is_empty() => None,
            _ => self.sparse.get_mut(&i),
        }
    }

    /// The value at `i`, made with `make` if there was none.
    #[inline]
    pub fn get_or_insert_with(&mut self, i: i64, make: impl FnOnce() -> V) -> &mut V {
        // The common case, an entry of the vector that is there, inlined at the caller (the
        // checkers call this per message, per write, per op); the rest is a call.
        if let Ok(u) = usize::try_from(i) {
            if u < self.dense.len() && self.dense[u].is_some() {
                return self.dense[u].as_mut().expect("checked just above");
            }
        }
        self.insert_with(i, make)
    }

    fn insert_with(&mut self, i: i64, make: impl FnOnce() -> V) -> &mut V {
        if let Ok(u) = usize::try_from(i) {
            if u >= self.dense.len() && u < 2 * self.len + SLACK {
                self.grow_to(u + 1);
            }
            if u < self.dense.len() {
                let slot = &mut self.dense[u];
                if slot.is_none() {
                    self.len += 1;
                }
                return slot.get_or_insert_with(make);
            }
        }
        if let Ok(u) = usize::try_from(i) {
            self.lowest_far = self.lowest_far.min(u);
        }
        let len = &mut self.len;
        self.sparse.entry(i).or_insert_with(|| {
            *len += 1;
            make()
        })
    }

    /// Grows the vector to `new_len` entries. Keys the map holds that now fall inside the
    /// vector move into it: lookups of a key below the vector's length look only there, so an
    /// entry left in the map would be missed (and made a second time).
    #[cold]
    fn grow_to(&mut self, new_len: usize) {
        self.dense.resize_with(new_len, || None);
        if new_len <= self.lowest_far {
            return;
        }
        let inside = |k: i64| usize::try_from(k).is_ok_and(|u| u < new_len);
        let moving: Vec<i64> = self.sparse.keys().copied().filter(|&k| inside(k)).collect();
        for k in moving {
            let value = self.sparse.remove(&k).expect("a key just listed");
            self.dense[k as usize] = Some(value);
        }
        self.lowest_far = (self.sparse.keys())
            .filter_map(|&k| usize::try_from(k).ok())
            .min()
            .unwrap_or(usize::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_any_integer_and_keeps_the_vector_small() {
        let mut t: IntTable<i64> = IntTable::default();
        for i in [0, 3, 1, -5, 1_000_000, i64::MAX, i64::MIN, 2, 17] {
            assert_eq!(t.get(i), None);
            t.get_or_insert_with(i, || i / 3);
            assert_eq!(t.get(i), Some(&(i / 3)));
        }
        *t.get_mut(3).unwrap() = 7;
        assert_eq!(t.get(3), Some(&7));
        assert_eq!(*t.get_or_insert_with(3, || 0), 7);
        assert_eq!(t.get(4), None);
        assert_eq!(t.get_mut(5), None);
        assert!(t.dense.len() <= 2 * t.len + SLACK);
        assert_eq!(t.len, 9);
        assert_eq!(t.sparse.len(), 4, "{:?}", t.sparse);
    }

    #[test]
    fn a_key_first_kept_in_the_map_is_found_after_the_vector_grows_past_it() {
        let mut t: IntTable<usize> = IntTable::default();
        // 40 is too far for an empty table: it goes to the map.
        t.get_or_insert_with(40, || 1000);
        assert_eq!(t.sparse.len(), 1);
        // Filling 0..45 grows the vector past 40.
        for i in 0..45 {
            t.get_or_insert_with(i, || i as usize);
        }
        assert!(t.dense.len() > 40);
        assert_eq!(t.get(40), Some(&1000));
        assert_eq!(*t.get_or_insert_with(40, || 0), 1000);
        *t.get_mut(40).unwrap() += 1;
        assert_eq!(t.get(40), Some(&1001));
        assert_eq!(t.len, 45, "40 counted once");
    }

    #[test]
    fn matches_a_plain_map_on_random_keys() {
        use rand::{Rng, SeedableRng};
        for seed in 0..50 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut t: IntTable<u64> = IntTable::default();
            let mut plain = std::collections::HashMap::new();
            for step in 0..400u64 {
                let k: i64 = match rng.gen_range(0..10) {
                    0 => rng.gen_range(-50..0),
                    1 => rng.gen_range(0..100_000),
                    _ => rng.gen_range(0..300),
                };
                if rng.gen_bool(0.5) {
                    let got = *t.get_or_insert_with(k, || step);
                    assert_eq!(got, *plain.entry(k).or_insert(step), "seed {seed} key {k}");
                } else {
                    assert_eq!(t.get(k), plain.get(&k), "seed {seed} key {k}");
                }
            }
            assert_eq!(t.len, plain.len(), "seed {seed}");
        }
    }
}
