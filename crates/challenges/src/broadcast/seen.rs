//! The values a node has seen, with the JSON array that `read_ok` answers kept ready.

use std::collections::{BTreeMap, BTreeSet};

/// Values `v` with the same `v >> CHUNK_BITS` are kept (and rendered) together.
const CHUNK_BITS: u32 = 6;

/// One chunk of neighbouring values: which are present, and their rendered text.
#[derive(Debug, Clone, Default)]
struct Chunk {
    /// Bit `v & 63` is set for each value `v` of the chunk.
    bits: u64,
    /// `v1,v2,..`, as of the last [`Seen::json`].
    text: String,
    /// The bits `text` shows.
    rendered: u64,
    /// Where `text` starts in [`Seen::json`]'s text, as of the last [`Seen::json`].
    at: usize,
}

/// Every value this node knows, and `[v1,v2,..]` (sorted) rendered for `read_ok`.
///
/// A read answers every value seen, so rendering the set anew for each read would cost a
/// number's formatting per value and read (most of a node's own work in 3d). Instead the
/// values are kept in chunks of 64 neighbouring values (a bit each), each chunk's text kept
/// and only changed by the values that join it: each goes into the text at its place (mostly
/// at the end, as clients broadcast increasing values), so a read formats only the values new
/// since the last one and copies the rest. The chunks are also the set itself: an insert is
/// one lookup and a bit test. The chunks of small values (all of them, in the workloads) sit in
/// a vector by key, which a read walks and an insert indexes far faster than a map.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Chunks by key (`value >> CHUNK_BITS`), for keys below [`DENSE_KEYS`]; a chunk without
    /// values is empty (no bits, no text).
    dense: Vec<Chunk>,
    /// The chunks of larger keys, by key (each has values).
    sparse: BTreeMap<u64, Chunk>,
    /// The whole array as of the last [`Seen::json`].
    json: String,
    /// The least key of a chunk changed (or made) since `json` was made: `json` is still
    /// right up to the chunk before it.
    dirty: Option<u64>,
}

/// Keys below this are kept in [`Seen::dense`] (values below 2^16: 1024 chunks at most).
const DENSE_KEYS: u64 = 1 << 10;

impl Seen {
    /// Adds `value`; true if it is new.
    pub fn insert(&mut self, value: u64) -> bool {
        let key = value >> CHUNK_BITS;
        let bit = 1u64 << (value & ((1 << CHUNK_BITS) - 1));
        let chunk = if key < DENSE_KEYS {
            let i = key as usize;
            if i >= self.dense.len() {
                self.dense.resize_with(i + 1, Chunk::default);
            }
            &mut self.dense[i]
        } else {
            self.sparse.entry(key).or_default()
        };
        if chunk.bits & bit != 0 {
            return false;
        }
        chunk.bits |= bit;
        self.dirty = Some(self.dirty.map_or(key, |dirty| dirty.min(key)));
        true
    }

    /// Adds every value of `values`, as [`Seen::insert`] would one by one (without the call
    /// and the update of `dirty` per value: a gossip message brings hundreds).
    pub fn extend(&mut self, values: &[u64]) {
        let mut least = u64::MAX;
        for &value in values {
            let key = value >> CHUNK_BITS;
            let bit = 1u64 << (value & ((1 << CHUNK_BITS) - 1));
            // `dense` holds keys below DENSE_KEYS only.
            match self.dense.get_mut(key as usize) {
                Some(chunk) => {
                    if chunk.bits & bit == 0 {
                        chunk.bits |= bit;
                        least = least.min(key);
                    }
                }
                None => {
                    self.insert(value);
                }
            }
        }
        if least != u64::MAX {
            self.dirty = Some(self.dirty.map_or(least, |dirty| dirty.min(least)));
        }
    }

    /// Whether `value` was seen.
    pub fn contains(&self, &value: &u64) -> bool {
        let key = value >> CHUNK_BITS;
        let bit = 1u64 << (value & ((1 << CHUNK_BITS) - 1));
        let chunk = if key < DENSE_KEYS {
            self.dense.get(key as usize)
        } else {
            self.sparse.get(&key)
        };
        chunk.is_some_and(|c| c.bits & bit != 0)
    }

    /// The values, sorted.
    pub fn values(&self) -> BTreeSet<u64> {
        self.iter().collect()
    }

    /// The values, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.chunks()
            .flat_map(|(key, chunk)| chunk_values(key, chunk.bits))
    }

    /// Every chunk with its key, in increasing order (the dense ones' keys are all smaller).
    fn chunks(&self) -> impl Iterator<Item = (u64, &Chunk)> + '_ {
        let dense = (0u64..).zip(&self.dense);
        dense.chain(self.sparse.iter().map(|(&key, chunk)| (key, chunk)))
    }

    /// The values as a JSON array, sorted.
    ///
    /// Only the chunks from the least changed one on are copied in again: the text before
    /// them stands.
    pub fn json(&mut self) -> &str {
        let from = match (self.dirty.take(), self.json.is_empty()) {
            (_, true) => 0,
            (Some(from), false) => from,
            (None, false) => return &self.json,
        };
        // The text up to the end of the last chunk before `from` stands (every chunk before
        // `from` is as rendered: empty, or its text at `at`).
        let dense_before = &self.dense[..(from.min(DENSE_KEYS) as usize).min(self.dense.len())];
        let before = self
            .sparse
            .range(..from)
            .next_back()
            .map(|(_, chunk)| chunk)
            .or_else(|| dense_before.iter().rev().find(|c| !c.text.is_empty()));
        let keep = before.map_or(0, |before| before.at + before.text.len());
        if keep == 0 {
            self.json.clear();
            self.json.push('[');
        } else {
            self.json.truncate(keep);
        }
        let dense_from = (from.min(DENSE_KEYS) as usize).min(self.dense.len());
        let dense = (dense_from as u64..).zip(&mut self.dense[dense_from..]);
        for (key, chunk) in dense.chain(self.sparse.range_mut(from..).map(|(&k, c)| (k, c))) {
            if chunk.bits != chunk.rendered {
                chunk.catch_up(key);
            }
            if chunk.text.is_empty() {
                continue;
            }
            if self.json.len() > 1 {
                self.json.push(',');
            }
            chunk.at = self.json.len();
            self.json.push_str(&chunk.text);
        }
        self.json.push(']');
        &self.json
    }
}

impl Chunk {
    /// At most this many new values go into the middle of a chunk's text one by one (each
    /// finds its place by counting commas); more, and the chunk is rendered anew.
    const MAX_INSERTS: u32 = 4;

    /// Brings `text` up to `bits`: values above every shown one are appended; a few others
    /// are inserted at their places; more than that, and the text is rendered anew.
    fn catch_up(&mut self, key: u64) {
        let first = key << CHUNK_BITS;
        if self.text.capacity() == 0 {
            // Room for the whole chunk at once, rather than growing value by value.
            let widest = (first | ((1 << CHUNK_BITS) - 1))
                .checked_ilog10()
                .unwrap_or(0) as usize
                + 2;
            self.text.reserve(widest << CHUNK_BITS);
        }
        let mut digits = itoa::Buffer::new();
        let new = self.bits & !self.rendered;
        // The new values above every shown one, and the others.
        let top = match self.rendered {
            0 => new,
            shown => new & !(u64::MAX >> shown.leading_zeros()),
        };
        let inner = new & !top;
        if inner.count_ones() > Self::MAX_INSERTS {
            self.text.clear();
            self.rendered = 0;
            return self.catch_up(key);
        }
        for value in chunk_values(key, inner) {
            let low = (value - first) as u32;
            // How many shown values come before this one (a shown value comes after it).
            let below = (self.rendered & ((1u64 << low) - 1)).count_ones() as usize;
            let value = digits.format(value);
            if below == 0 {
                self.text.insert(0, ',');
                self.text.insert_str(0, value);
            } else {
                // Before the comma that ends the `below`-th value shown.
                let at = comma_after(self.text.as_bytes(), first, below - 1);
                self.text.insert_str(at, value);
                self.text.insert(at, ',');
            }
            self.rendered |= 1u64 << low;
        }
        for value in chunk_values(key, top) {
            if !self.text.is_empty() {
                self.text.push(',');
            }
            self.text.push_str(digits.format(value));
        }
        self.rendered = self.bits;
    }
}

/// Where the comma after shown value number `n` (from 0) is in the text of the chunk whose
/// least value is `first`: found by counting when the chunk's values all have as many digits
/// (most chunks), by looking for it otherwise.
fn comma_after(text: &[u8], first: u64, n: usize) -> usize {
    let width = |v: u64| v.checked_ilog10().unwrap_or(0) as usize + 1;
    let digits = width(first);
    if digits == width(first | ((1 << CHUNK_BITS) - 1)) {
        n * (digits + 1) + digits
    } else {
        nth_comma(text, n)
    }
}

/// Where the comma numbered `n` (from 0) of `text` is; it must be there.
fn nth_comma(text: &[u8], n: usize) -> usize {
    let mut seen = 0;
    for (i, &b) in text.iter().enumerate() {
        if b == b',' {
            if seen == n {
                return i;
            }
            seen += 1;
        }
    }
    unreachable!("a comma after each shown value but the last")
}

/// The values of chunk `key` whose bits are set, in increasing order.
fn chunk_values(key: u64, mut bits: u64) -> impl Iterator<Item = u64> {
    let first = key << CHUNK_BITS;
    std::iter::from_fn(move || {
        if bits == 0 {
            return None;
        }
        let low = bits.trailing_zeros();
        bits &= bits - 1;
        Some(first | u64::from(low))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rendered_array_is_the_sorted_set_whatever_the_arrival_order() {
        let mut seen = Seen::default();
        assert_eq!(seen.json(), "[]");
        for (value, new) in [(5, true), (9, true), (9, false), (0, true), (5, false)] {
            assert_eq!(seen.insert(value), new);
        }
        assert_eq!(seen.json(), "[0,5,9]");
        for value in [u64::MAX, 7, 6, 8, 1, 100, 10, 99] {
            assert!(seen.insert(value));
            let expected = serde_json::to_string(&seen.values()).unwrap();
            assert_eq!(seen.json(), expected);
        }
        for value in (0..200).rev().chain(1000..1100) {
            seen.insert(value);
        }
        let expected = serde_json::to_string(&seen.values()).unwrap();
        assert_eq!(seen.json(), expected);
        let mut fresh = Seen::default();
        assert!(fresh.insert(3));
        assert_eq!(fresh.json(), "[3]");
        assert!(fresh.insert(1));
        assert_eq!(fresh.json(), "[1,3]");
        assert!(fresh.contains(&3) && fresh.contains(&1) && !fresh.contains(&2));
        assert!(!fresh.contains(&(3 + 64)));
    }

    /// Where a value goes in a chunk's text, counted from the digits (most chunks) or found
    /// (chunks whose values have different widths): the comma the text has there.
    #[test]
    fn the_comma_after_a_value_is_where_the_text_has_it() {
        use glomers_node::rand::{Rng, SeedableRng};
        let mut rng = glomers_node::rand_chacha::ChaCha8Rng::seed_from_u64(8);
        for key in (0..200).chain([1 << 20, (u64::MAX >> CHUNK_BITS) - 1]) {
            let first = key << CHUNK_BITS;
            for _ in 0..20 {
                let bits: u64 = rng.gen::<u64>() | 1 << rng.gen_range(0..64);
                let text: Vec<String> = chunk_values(key, bits).map(|v| v.to_string()).collect();
                let text = text.join(",");
                let n = rng.gen_range(0..bits.count_ones() as usize);
                if n + 1 == bits.count_ones() as usize {
                    continue; // No comma after the last value.
                }
                let at = comma_after(text.as_bytes(), first, n);
                assert_eq!(at, nth_comma(text.as_bytes(), n), "{text} {n}");
                assert_eq!(text.as_bytes()[at], b',');
            }
        }
    }

    /// Many values at once ([`Seen::extend`]) leave the set and its text as inserting them one
    /// by one does.
    #[test]
    fn extend_is_insert_one_by_one() {
        use glomers_node::rand::{Rng, SeedableRng};
        let mut rng = glomers_node::rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let (mut one, mut many) = (Seen::default(), Seen::default());
        for round in 0..300 {
            let len = rng.gen_range(0..40);
            let base = rng.gen_range(0..3000);
            let values: Vec<u64> = (0..len)
                .map(|_| match rng.gen_range(0..10) {
                    0 => rng.gen(),
                    1 => rng.gen_range(65_000..70_000),
                    _ => base + rng.gen_range(0..100),
                })
                .collect();
            for &v in &values {
                one.insert(v);
            }
            many.extend(&values);
            assert_eq!(one.dirty, many.dirty);
            if round % 3 == 0 {
                assert_eq!(one.json(), many.json());
            }
            assert_eq!(one.values(), many.values());
        }
        assert_eq!(one.json(), many.json());
    }

    /// Chunks with nothing in them between others, small values (kept by index) and large
    /// ones (kept in the map) mixed: each read is the sorted set.
    #[test]
    fn gaps_and_large_values_read_as_the_sorted_set() {
        let mut seen = Seen::default();
        for value in [
            70_000,
            5,
            1 << 40,
            1000,
            65_535,
            65_536,
            300,
            4,
            1 << 20,
            64,
            63,
        ] {
            assert!(seen.insert(value));
            assert!(seen.contains(&value) && !seen.contains(&(value + 2)));
            let expected = serde_json::to_string(&seen.values()).unwrap();
            assert_eq!(seen.json(), expected);
        }
    }

    /// Whatever the order values arrive in and reads come between them (appending to a
    /// chunk's text or rendering it anew), a read is the sorted set as serde writes it.
    #[test]
    fn reads_between_random_inserts_are_the_sorted_set() {
        use glomers_node::rand::{Rng, SeedableRng};
        let mut rng = glomers_node::rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for round in 0..200 {
            let mut seen = Seen::default();
            let mut next = 0u64;
            for _ in 0..300 {
                let value = match rng.gen_range(0..4) {
                    // Mostly increasing, as clients broadcast; sometimes an old or far value.
                    0 => rng.gen_range(0..next + 1),
                    1 if round % 2 == 0 => rng.gen(),
                    _ => {
                        next += rng.gen_range(1..4);
                        next
                    }
                };
                seen.insert(value);
                // Reads now often (values join one by one), now rarely (many at once).
                if rng.gen_bool(if round % 3 == 0 { 0.02 } else { 0.3 }) {
                    let expected = serde_json::to_string(&seen.values()).unwrap();
                    assert_eq!(seen.json(), expected);
                }
            }
            let expected = serde_json::to_string(&seen.values()).unwrap();
            assert_eq!(seen.json(), expected);
        }
    }
}
