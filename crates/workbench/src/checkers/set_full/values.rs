//! Elements as values: their order in the figures, their identity, and their dense slots.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::Value;

/// A total order on JSON values for sorting elements: numbers by value, then strings, then
/// everything else by its JSON text. (Jepsen sorts with Clojure's `compare`, which throws on
/// mixed types; Maelstrom's elements are numbers.)
pub(super) fn cmp_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            _ => 2,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x.cmp(&y),
                _ => {
                    let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                    x.total_cmp(&y)
                }
            },
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => rank(a)
            .cmp(&rank(b))
            .then_with(|| a.to_string().cmp(&b.to_string())),
    }
}

/// Element identity as Clojure's `=` sees JSON values: integers by value (1 and 1.0 differ),
/// everything else by its JSON text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Key {
    Int(i64),
    BigUint(u64),
    Text(String),
}

impl Key {
    pub(super) fn of(value: &Value) -> Key {
        if let Value::Number(n) = value {
            if let Some(i) = n.as_i64() {
                return Key::Int(i);
            }
            if let Some(u) = n.as_u64() {
                return Key::BigUint(u);
            }
        }
        Key::Text(value.to_string())
    }
}

/// Maps element values to dense slots. Small non-negative integers (what Maelstrom adds:
/// 0, 1, 2, ...) go through a vector, everything else through a hash map.
#[derive(Default)]
pub(super) struct Interner {
    /// Integer → slot, [`NO_SLOT`] for integers never added.
    small: Vec<u32>,
    other: HashMap<Key, u32>,
    len: usize,
}

/// Integers below this are looked up in the vector.
const SMALL_LIMIT: u64 = 1 << 24;

/// A `small` entry for an integer never added.
pub(super) const NO_SLOT: u32 = u32::MAX;

impl Interner {
    pub(super) fn small_index(value: &Value) -> Option<usize> {
        match value {
            Value::Number(n) => n.as_u64().filter(|&u| u < SMALL_LIMIT).map(|u| u as usize),
            _ => None,
        }
    }

    fn small_slot(&self, i: usize) -> Option<usize> {
        match self.small.get(i) {
            Some(&slot) if slot != NO_SLOT => Some(slot as usize),
            _ => None,
        }
    }

    pub(super) fn get(&self, value: &Value) -> Option<usize> {
        match Self::small_index(value) {
            Some(i) => self.small_slot(i),
            None => self.other.get(&Key::of(value)).map(|&s| s as usize),
        }
    }

    /// [`Interner::get`] for an integer, without making a JSON value of it.
    fn get_u64(&self, i: u64) -> Option<usize> {
        if i < SMALL_LIMIT {
            return self.small_slot(i as usize);
        }
        let key = match i64::try_from(i) {
            Ok(i) => Key::Int(i),
            Err(_) => Key::BigUint(i),
        };
        self.other.get(&key).map(|&s| s as usize)
    }

    /// Whether every interned value is a small integer (in [`Interner::small_slots`]).
    pub(super) fn only_small(&self) -> bool {
        self.other.is_empty()
    }

    /// The slot of every small integer (index: the integer), [`NO_SLOT`] for those never added.
    pub(super) fn small_slots(&self) -> &[u32] {
        &self.small
    }

    /// The part of `lo..=hi` that [`Interner::small_slots`] covers.
    pub(super) fn small_range(&self, lo: u64, hi: u64) -> Option<std::ops::RangeInclusive<usize>> {
        let small_len = self.small.len() as u64;
        (lo <= hi && lo < small_len).then(|| lo as usize..=hi.min(small_len - 1) as usize)
    }

    /// Calls `f` with the slot of every interned integer in `lo..=hi` beyond
    /// [`Interner::small_slots`], ascending.
    #[inline]
    pub(super) fn for_each_large_slot_in(&self, lo: u64, hi: u64, mut f: impl FnMut(usize)) {
        // Between `small.len()` and SMALL_LIMIT nothing was added; above it only `other` holds.
        if lo <= hi && hi >= SMALL_LIMIT && !self.other.is_empty() {
            for i in lo.max(SMALL_LIMIT)..=hi {
                if let Some(slot) = self.get_u64(i) {
                    f(slot);
                }
            }
        }
    }

    /// Assigns the next slot to a value not yet interned.
    pub(super) fn insert(&mut self, value: &Value) -> usize {
        let slot = self.len;
        self.len += 1;
        match Self::small_index(value) {
            Some(i) => {
                if self.small.len() <= i {
                    self.small.resize(i + 1, NO_SLOT);
                }
                self.small[i] = slot as u32;
            }
            None => {
                self.other.insert(Key::of(value), slot as u32);
            }
        }
        slot
    }
}
