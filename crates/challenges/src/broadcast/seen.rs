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
    /// A value joined since `text` was made.
    stale: bool,
}

/// Every value this node knows, and `[v1,v2,..]` (sorted) rendered for `read_ok`.
///
/// A read answers every value seen, so rendering the set anew for each read would cost a
/// number's formatting per value and read (most of a node's own work in 3d). Instead the
/// values are kept in chunks of 64 neighbouring values (a bit each), each chunk's text kept
/// until a value joins it: between two reads, new values land in few chunks (clients broadcast
/// increasing values), so a read renders those and copies the rest. The chunks are also the
/// set itself: an insert is one map lookup and a bit test.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Chunks by `value >> CHUNK_BITS`.
    chunks: BTreeMap<u64, Chunk>,
    /// The whole array as of the last [`Seen::json`].
    json: String,
    /// Some chunk changed since `json` was made.
    changed: bool,
}

impl Seen {
    /// Adds `value`; true if it is new.
    pub fn insert(&mut self, value: u64) -> bool {
        let key = value >> CHUNK_BITS;
        let bit = 1u64 << (value & ((1 << CHUNK_BITS) - 1));
        let chunk = self.chunks.entry(key).or_default();
        if chunk.bits & bit != 0 {
            return false;
        }
        chunk.bits |= bit;
        chunk.stale = true;
        self.changed = true;
        true
    }

    /// Whether `value` was seen.
    pub fn contains(&self, &value: &u64) -> bool {
        let bit = 1u64 << (value & ((1 << CHUNK_BITS) - 1));
        self.chunks
            .get(&(value >> CHUNK_BITS))
            .is_some_and(|c| c.bits & bit != 0)
    }

    /// The values, sorted.
    pub fn values(&self) -> BTreeSet<u64> {
        self.iter().collect()
    }

    /// The values, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.chunks
            .iter()
            .flat_map(|(&key, chunk)| chunk_values(key, chunk.bits))
    }

    /// The values as a JSON array, sorted.
    pub fn json(&mut self) -> &str {
        if !self.changed && !self.json.is_empty() {
            return &self.json;
        }
        self.json.clear();
        self.json.push('[');
        for (&key, chunk) in &mut self.chunks {
            if chunk.stale {
                chunk.text.clear();
                for (i, value) in chunk_values(key, chunk.bits).enumerate() {
                    if i > 0 {
                        chunk.text.push(',');
                    }
                    push_decimal(&mut chunk.text, value);
                }
                chunk.stale = false;
            }
            if chunk.text.is_empty() {
                continue;
            }
            if self.json.len() > 1 {
                self.json.push(',');
            }
            self.json.push_str(&chunk.text);
        }
        self.json.push(']');
        self.changed = false;
        &self.json
    }
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

/// Appends the decimal digits of `n` (without `fmt`'s machinery).
fn push_decimal(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
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
}
