//! What the trails' scan found in each distinct body, kept by the body's text: a node sends
//! the same body to several peers (a broadcast flush renders its values once for every link),
//! so about half of a broadcast run's server messages repeat an earlier body byte for byte,
//! and what a scan finds depends on the text alone.

/// The slots found in the distinct bodies scanned last, in a table indexed by the top bits of
/// their text's hash (a later body takes an earlier one's place: a body is mostly repeated
/// within a few messages).
pub(super) struct SameBodies<'a> {
    table: Vec<Kept<'a>>,
    slots: Vec<usize>,
}

#[derive(Clone, Copy)]
struct Kept<'a> {
    hash: u64,
    body: Option<&'a str>,
    /// The body's slots' range in `slots`.
    start: u32,
    end: u32,
}

/// The table's size, as bits of the hash.
const TABLE_BITS: u32 = 10;

impl Default for SameBodies<'_> {
    fn default() -> Self {
        let empty = Kept {
            hash: 0,
            body: None,
            start: 0,
            end: 0,
        };
        SameBodies {
            table: vec![empty; 1 << TABLE_BITS],
            slots: Vec::new(),
        }
    }
}

impl<'a> SameBodies<'a> {
    fn at(hash: u64) -> usize {
        (hash >> (64 - TABLE_BITS)) as usize
    }

    /// The slots found in a body with exactly this text, if one is kept.
    pub(super) fn get(&self, body: &str, hash: u64) -> Option<&[usize]> {
        let kept = &self.table[Self::at(hash)];
        (kept.hash == hash && kept.body == Some(body))
            .then(|| &self.slots[kept.start as usize..kept.end as usize])
    }

    /// Keeps the slots found in `body`, in the place of the body kept at its hash's place.
    pub(super) fn insert(&mut self, body: &'a str, hash: u64, slots: &[usize]) {
        let start = self.slots.len() as u32;
        self.slots.extend_from_slice(slots);
        self.table[Self::at(hash)] = Kept {
            hash,
            body: Some(body),
            start,
            end: self.slots.len() as u32,
        };
    }
}

/// A hash of a text, eight bytes at a time (a few instructions a word: far less than a scan
/// of the text, which looks at every byte); equal texts have equal hashes, and a match is
/// confirmed by comparing the texts.
pub(super) fn text_hash(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let mut h = (bytes.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes(w.try_into().expect("eight bytes"));
        h = (h.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    let mut last = [0u8; 8];
    last[..words.remainder().len()].copy_from_slice(words.remainder());
    (h.rotate_left(5) ^ u64::from_le_bytes(last)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_found_by_their_exact_text() {
        let texts = [
            "",
            "{}",
            r#"{"type":"gossip","seq":0,"relay":[0]}"#,
            r#"{"type":"gossip","seq":0,"relay":[1]}"#,
            r#"{"type":"gossip","seq":0,"relay":[0]} "#,
            "abcdefgh",
            "abcdefgh\0",
        ];
        let mut same = SameBodies::default();
        for (i, t) in texts.iter().enumerate() {
            assert_eq!(same.get(t, text_hash(t)), None, "{t}");
            same.insert(t, text_hash(t), &[i, i + 1]);
        }
        for (i, t) in texts.iter().enumerate() {
            // (Unless two of these few texts' hashes share a place.)
            let copy = t.to_string();
            assert_eq!(same.get(&copy, text_hash(&copy)), Some(&[i, i + 1][..]));
        }
        // A colliding hash of another text is no match; the later text takes its place.
        let (a, b) = (texts[2], texts[3]);
        let mut same = SameBodies::default();
        same.insert(a, 7, &[1]);
        assert_eq!(same.get(b, 7), None);
        same.insert(b, 7, &[2]);
        assert_eq!(same.get(a, 7), None);
        assert_eq!(same.get(b, 7), Some(&[2][..]));
    }
}
