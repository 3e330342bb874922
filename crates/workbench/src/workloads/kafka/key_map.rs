//! The workload's per-key tables (highest offsets, a final reader's progress), by key. The
//! workload names keys with small integers and keeps them typed ([`OpValue::KafkaSend`] and
//! the like): such keys index a vector, without formatting the number as text and hashing
//! it on every send and poll. Any other name (from a reply the workload did not expect, or a
//! history value held as JSON) goes to a hash map.
//!
//! [`OpValue::KafkaSend`]: crate::history::OpValue::KafkaSend

use crate::checkers::fast_hash::FastMap;
use crate::history::kafka_key;

/// Keys named by an integer below this are held by index.
const NUMBERED: u64 = 1 << 16;

/// A key: the integer its name is the decimal form of, or any other name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Key<'a> {
    Number(u64),
    /// A name that is not an integer's decimal form (see [`Key::of_name`]).
    Name(&'a str),
}

impl<'a> Key<'a> {
    /// The key named `name` (a number if it is one's decimal form, so that both spellings of
    /// a key meet in one entry).
    pub(super) fn of_name(name: &'a str) -> Key<'a> {
        match kafka_key(name) {
            Some(n) => Key::Number(n),
            None => Key::Name(name),
        }
    }

    pub(super) fn name(self) -> String {
        match self {
            Key::Number(n) => n.to_string(),
            Key::Name(name) => name.to_string(),
        }
    }
}

/// A map of key to `T` (see the module's comment).
#[derive(Debug)]
pub(super) struct KeyMap<T> {
    numbered: Vec<Option<T>>,
    /// Keys not in `numbered`: names, and numbers from [`NUMBERED`] on (written in decimal).
    named: FastMap<String, T>,
}

impl<T> Default for KeyMap<T> {
    fn default() -> Self {
        KeyMap {
            numbered: Vec::new(),
            named: FastMap::default(),
        }
    }
}

impl<T> KeyMap<T> {
    pub(super) fn get(&self, key: Key) -> Option<&T> {
        match key {
            Key::Number(n) if n < NUMBERED => self.numbered.get(n as usize)?.as_ref(),
            Key::Number(n) => self.named.get(itoa::Buffer::new().format(n)),
            Key::Name(name) => self.named.get(name),
        }
    }

    /// `key`'s value, made by `make` if it has none.
    pub(super) fn get_or_insert_with(&mut self, key: Key, make: impl FnOnce() -> T) -> &mut T {
        match key {
            Key::Number(n) if n < NUMBERED => {
                let n = n as usize;
                if n >= self.numbered.len() {
                    self.numbered.resize_with(n + 1, || None);
                }
                self.numbered[n].get_or_insert_with(make)
            }
            Key::Number(n) => self.named_entry(itoa::Buffer::new().format(n), make),
            Key::Name(name) => self.named_entry(name, make),
        }
    }

    /// Allocates the name only when it is new.
    fn named_entry(&mut self, name: &str, make: impl FnOnce() -> T) -> &mut T {
        if !self.named.contains_key(name) {
            self.named.insert(name.to_string(), make());
        }
        self.named.get_mut(name).expect("just inserted")
    }

    /// Every key and its value, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (Key<'_>, &T)> {
        let numbered = self.numbered.iter().enumerate();
        let numbered = numbered.filter_map(|(n, v)| Some((Key::Number(n as u64), v.as_ref()?)));
        let named = self.named.iter().map(|(name, v)| (Key::of_name(name), v));
        numbered.chain(named)
    }

    pub(super) fn clear(&mut self) {
        self.numbered.clear();
        self.named.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;

    /// Names mixed at random (numbers in and out of the table's range, names that are not
    /// numbers, both spellings of a number): the map holds what a map by name holds.
    #[test]
    fn a_key_map_is_a_map_by_name() {
        let mut rng = crate::Rng::seed_from_u64(12);
        let mut map: KeyMap<u64> = KeyMap::default();
        let mut model: BTreeMap<String, u64> = BTreeMap::new();
        let fixed = ["0", "00", "01", "-1", "65535", "65536", "", "k", "1a"];
        for i in 0..20_000u64 {
            let number: u64 = match rng.gen_range(0..3) {
                0 => rng.gen_range(0..50),
                1 => rng.gen_range(60_000..70_000),
                _ => rng.gen(),
            };
            let name = match rng.gen_range(0..3) {
                0 => fixed[rng.gen_range(0..fixed.len())].to_string(),
                _ => number.to_string(),
            };
            let key = if rng.gen_bool(0.5) {
                Key::of_name(&name)
            } else {
                match kafka_key(&name) {
                    Some(n) => Key::Number(n),
                    None => Key::Name(&name),
                }
            };
            assert_eq!(key.name(), name);
            assert_eq!(map.get(key), model.get(&name), "{name:?}");
            if rng.gen_range(0..1000) == 0 {
                map.clear();
                model.clear();
            } else if rng.gen_bool(0.5) {
                *map.get_or_insert_with(key, || 0) += i;
                *model.entry(name.clone()).or_insert(0) += i;
            }
        }
        let listed: BTreeMap<String, u64> = map.iter().map(|(k, &v)| (k.name(), v)).collect();
        assert_eq!(listed, model);
        assert_eq!(map.iter().count(), model.len());
    }
}
