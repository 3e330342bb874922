//! The values a node has seen, with the JSON array that `read_ok` answers kept ready.

use std::collections::{BTreeMap, BTreeSet};

/// Values `v` with the same `v >> CHUNK_BITS` are rendered together.
const CHUNK_BITS: u32 = 5;

/// Every value this node knows, and `[v1,v2,..]` (sorted) rendered for `read_ok`.
///
/// A read answers every value seen, so rendering the set anew for each read would cost a
/// number's formatting per value and read (most of a node's own work in 3d). Instead the
/// values are rendered in chunks of neighbouring values, each chunk kept until a value joins
/// it: between two reads, new values land in few chunks (clients broadcast increasing values),
/// so a read renders those and copies the rest.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    values: BTreeSet<u64>,
    /// Rendered chunks by `value >> CHUNK_BITS`: the text (`v1,v2,..`), and whether a value
    /// joined since.
    chunks: BTreeMap<u64, (String, bool)>,
    /// The whole array as of the last [`Seen::json`].
    json: String,
    /// Some chunk changed since `json` was made.
    changed: bool,
}

impl Seen {
    /// Adds `value`; true if it is new.
    pub fn insert(&mut self, value: u64) -> bool {
        if !self.values.insert(value) {
            return false;
        }
        self.chunks.entry(value >> CHUNK_BITS).or_default().1 = true;
        self.changed = true;
        true
    }

    /// The values, sorted.
    pub fn values(&self) -> &BTreeSet<u64> {
        &self.values
    }

    /// The values as a JSON array, sorted.
    pub fn json(&mut self) -> &str {
        if !self.changed && !self.json.is_empty() {
            return &self.json;
        }
        self.json.clear();
        self.json.push('[');
        for (&chunk, (text, stale)) in &mut self.chunks {
            if *stale {
                text.clear();
                let first = chunk << CHUNK_BITS;
                let last = first | ((1 << CHUNK_BITS) - 1);
                for (i, &value) in self.values.range(first..=last).enumerate() {
                    if i > 0 {
                        text.push(',');
                    }
                    push_decimal(text, value);
                }
                *stale = false;
            }
            if self.json.len() > 1 {
                self.json.push(',');
            }
            self.json.push_str(text);
        }
        self.json.push(']');
        self.changed = false;
        &self.json
    }
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
            let expected = serde_json::to_string(seen.values()).unwrap();
            assert_eq!(seen.json(), expected);
        }
        for value in (0..200).rev().chain(1000..1100) {
            seen.insert(value);
        }
        let expected = serde_json::to_string(seen.values()).unwrap();
        assert_eq!(seen.json(), expected);
        let mut fresh = Seen::default();
        assert!(fresh.insert(3));
        assert_eq!(fresh.json(), "[3]");
        assert!(fresh.insert(1));
        assert_eq!(fresh.json(), "[1,3]");
    }
}
