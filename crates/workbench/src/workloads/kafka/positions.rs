//! A kafka client's consumer positions, with the text every poll sends of them.

use std::collections::BTreeMap;

use super::write_offsets;
use crate::workloads::request::push_json_str;

/// Consumer positions: the next offset to poll per assigned key. Every poll sends them all
/// (`offsets`), and most polls return nothing new: the text is kept until they change.
#[derive(Debug, Default)]
pub(super) struct Positions {
    map: BTreeMap<String, i64>,
    /// The map as a poll's `offsets` (see [`write_offsets`]), when `text_valid`.
    text: Vec<u8>,
    text_valid: bool,
}

impl Positions {
    pub(super) fn get(&self, key: &str) -> Option<i64> {
        self.map.get(key).copied()
    }

    /// Raises `key`'s position to at least `value` (inserting it).
    pub(super) fn raise(&mut self, key: &str, value: i64) {
        match self.map.get_mut(key) {
            Some(v) if *v >= value => {}
            Some(v) => {
                *v = value;
                self.text_valid = false;
            }
            None => {
                self.map.insert(key.to_string(), value);
                self.text_valid = false;
            }
        }
    }

    pub(super) fn replace(&mut self, map: BTreeMap<String, i64>) {
        self.map = map;
        self.text_valid = false;
    }

    pub(super) fn clear(&mut self) {
        self.map.clear();
        self.text_valid = false;
    }

    /// The positions as a poll's `offsets` object.
    pub(super) fn text(&mut self) -> &[u8] {
        if !self.text_valid {
            self.text.clear();
            let positions = self.map.iter().map(|(k, &o)| (k.as_str(), o));
            write_offsets(&mut self.text, positions, push_json_str);
            self.text_valid = true;
        }
        &self.text
    }

    #[cfg(test)]
    pub(super) fn map(&self) -> &BTreeMap<String, i64> {
        &self.map
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The kept text is always what the map's text is.
    #[test]
    fn kept_text_is_the_maps() {
        let mut rng = crate::Rng::seed_from_u64(8);
        let mut positions = Positions::default();
        for _ in 0..5_000 {
            let key = rng.gen_range(0..12).to_string();
            match rng.gen_range(0..10) {
                0 => positions.clear(),
                1 => positions.replace(BTreeMap::from([(key, rng.gen_range(-2..50))])),
                2..=5 => positions.raise(&key, rng.gen_range(-2..50)),
                _ => {}
            }
            let mut expected = Vec::new();
            let map = positions.map().clone();
            write_offsets(
                &mut expected,
                map.iter().map(|(k, &o)| (k.as_str(), o)),
                push_json_str,
            );
            assert_eq!(positions.text(), expected);
            assert_eq!(expected, serde_json::to_vec(&map).unwrap());
        }
    }
}
