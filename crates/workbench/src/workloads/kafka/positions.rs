//! A kafka client's consumer positions, with the text every poll sends of them.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::write_offsets;
use crate::workloads::request::push_json_str;

/// Consumer positions: the next offset to poll per assigned key. Every poll sends them all
/// (`offsets`), and most polls return nothing new: the text is kept until they change.
///
/// Held as a vector sorted by key name (the order of the text, a map's), each name with its
/// first 16 bytes packed in an integer ([`prefix`]): a poll's keys are found by binary search
/// comparing integers (names compared byte by byte only between equal prefixes), where a
/// map by name compared the strings at every step.
#[derive(Debug, Default)]
pub(super) struct Positions {
    /// `(prefix(name), name, position)`, sorted by name, names distinct.
    list: Vec<(u128, String, i64)>,
    /// The map as a poll's `offsets` (see [`write_offsets`]), when `text_valid`.
    text: Vec<u8>,
    text_valid: bool,
}

/// A name's first 16 bytes as a big-endian integer, zeros after its end: names in the order
/// of their prefixes are in the order of the names, and names with equal prefixes are
/// ordered by [`by_name`].
fn prefix(name: &str) -> u128 {
    let b = name.as_bytes();
    let mut bytes = [0u8; 16];
    let n = b.len().min(16);
    bytes[..n].copy_from_slice(&b[..n]);
    u128::from_be_bytes(bytes)
}

/// The order of names, given their prefixes (see [`prefix`]).
fn by_name(a: (u128, &str), b: (u128, &str)) -> Ordering {
    a.0.cmp(&b.0)
        .then_with(|| a.1.as_bytes().cmp(b.1.as_bytes()))
}

impl Positions {
    /// Where `key` is (`Ok`) or would go (`Err`). The binary search compares prefixes only
    /// (a comparison of two integers a step, where [`by_name`] as the search's order cost
    /// about 40 instructions a step); names that share `key`'s prefix (longer than 16 bytes,
    /// or ending in zero bytes: rare) follow in name order and are stepped through.
    fn find(&self, key: &str) -> Result<usize, usize> {
        let p = prefix(key);
        let mut i = self.list.partition_point(|(q, _, _)| *q < p);
        while let Some((q, name, _)) = self.list.get(i) {
            if *q != p {
                break;
            }
            match by_name((*q, name), (p, key)) {
                Ordering::Less => i += 1,
                Ordering::Equal => return Ok(i),
                Ordering::Greater => break,
            }
        }
        Err(i)
    }

    pub(super) fn get(&self, key: &str) -> Option<i64> {
        self.find(key).ok().map(|i| self.list[i].2)
    }

    /// Raises `key`'s position to at least `value` (inserting it).
    pub(super) fn raise(&mut self, key: &str, value: i64) {
        match self.find(key) {
            Ok(i) if self.list[i].2 >= value => {}
            Ok(i) => {
                self.list[i].2 = value;
                self.text_valid = false;
            }
            Err(i) => {
                self.list.insert(i, (prefix(key), key.to_string(), value));
                self.text_valid = false;
            }
        }
    }

    pub(super) fn replace(&mut self, map: BTreeMap<String, i64>) {
        // A map's order is the names' order.
        self.list = map.into_iter().map(|(k, o)| (prefix(&k), k, o)).collect();
        self.text_valid = false;
    }

    pub(super) fn clear(&mut self) {
        self.list.clear();
        self.text_valid = false;
    }

    /// The positions as a poll's `offsets` object.
    pub(super) fn text(&mut self) -> &[u8] {
        if !self.text_valid {
            self.text.clear();
            let positions = self.list.iter().map(|(_, k, o)| (k.as_str(), *o));
            write_offsets(&mut self.text, positions, push_json_str);
            self.text_valid = true;
        }
        &self.text
    }

    #[cfg(test)]
    pub(super) fn map(&self) -> BTreeMap<String, i64> {
        self.list.iter().map(|(_, k, o)| (k.clone(), *o)).collect()
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
            let map = positions.map();
            write_offsets(
                &mut expected,
                map.iter().map(|(k, &o)| (k.as_str(), o)),
                push_json_str,
            );
            assert_eq!(positions.text(), expected);
            assert_eq!(expected, serde_json::to_vec(&map).unwrap());
        }
    }

    /// Against a map by name, on names that share long prefixes, end in zero bytes or are
    /// prefixes of one another (where the packed prefixes tie): the same positions, the same
    /// text, the same order.
    #[test]
    fn positions_are_a_map_by_name() {
        let mut rng = crate::Rng::seed_from_u64(81);
        let stems = [
            "",
            "1",
            "12",
            "a",
            "0123456789abcdef",
            "0123456789abcdeg",
            "\u{0}",
        ];
        let mut positions = Positions::default();
        let mut model: BTreeMap<String, i64> = BTreeMap::new();
        for _ in 0..20_000 {
            let mut key = stems[rng.gen_range(0..stems.len())].to_string();
            for _ in 0..rng.gen_range(0..3) {
                key.push_str(stems[rng.gen_range(0..stems.len())]);
            }
            if rng.gen_bool(0.2) {
                key.push('\0');
            }
            let value = rng.gen_range(-2..50);
            match rng.gen_range(0..20) {
                0 => {
                    positions.clear();
                    model.clear();
                }
                1 => {
                    let map: BTreeMap<String, i64> = model
                        .iter()
                        .filter(|_| rng.gen_bool(0.5))
                        .map(|(k, &o)| (k.clone(), o))
                        .chain([(key.clone(), value)])
                        .collect();
                    positions.replace(map.clone());
                    model = map;
                }
                _ => {
                    positions.raise(&key, value);
                    let o = model.entry(key.clone()).or_insert(value);
                    *o = (*o).max(value);
                }
            }
            assert_eq!(positions.get(&key), model.get(&key).copied(), "{key:?}");
            // The search by prefixes finds what a search in name order finds.
            let p = prefix(&key);
            let by_order =
                (positions.list).binary_search_by(|(q, name, _)| by_name((*q, name), (p, &key)));
            assert_eq!(positions.find(&key), by_order, "{key:?}");
            if rng.gen_bool(0.1) {
                assert_eq!(positions.map(), model);
                assert_eq!(positions.text(), serde_json::to_vec(&model).unwrap());
            }
        }
    }
}
