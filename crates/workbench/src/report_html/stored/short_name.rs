//! Short names (participants, types) packed into numbers, for [`super::JournalBuilder`] to
//! find them by.

/// A text of at most 15 bytes packed into a number: its bytes, zeros, and its length in the
/// last byte (so that texts that differ in length differ).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct ShortName(pub(super) u128);

impl ShortName {
    /// No text's (its length byte is above 15).
    pub(super) const NONE: ShortName = ShortName(u128::MAX);

    /// The packed text, read a few bytes at a time (see [`ShortName::of_simply`]): the first
    /// bytes and the last ones, the latter shifted down past the bytes both reads hold.
    pub(super) fn of(text: &[u8]) -> Option<ShortName> {
        let len = text.len();
        let word = |at: usize| u64::from_le_bytes(text[at..at + 8].try_into().expect("8 bytes"));
        let half = |at: usize| {
            u64::from(u32::from_le_bytes(
                text[at..at + 4].try_into().expect("4 bytes"),
            ))
        };
        let (low, high) = match len {
            0..=3 => (
                text.iter().rev().fold(0u64, |w, &b| w << 8 | u64::from(b)),
                0,
            ),
            // Bytes 4.. of the text are the last read's top `len - 4`.
            4..=7 => (half(0) | (half(len - 4) >> (8 * (8 - len))) << 32, 0),
            // Bytes 8.. are the last read's top `len - 8` (none when `len` is 8).
            8..=15 => (
                word(0),
                word(len - 8)
                    .checked_shr(8 * (16 - len) as u32)
                    .unwrap_or(0),
            ),
            _ => return None,
        };
        Some(ShortName(
            u128::from(low) | u128::from(high | (len as u64) << 56) << 64,
        ))
    }

    /// [`ShortName::of`] byte by byte: the text's bytes, zeros, and its length in the last byte.
    #[cfg(test)]
    pub(super) fn of_simply(text: &[u8]) -> Option<ShortName> {
        if text.len() > 15 {
            return None;
        }
        let mut packed = [0u8; 16];
        packed[..text.len()].copy_from_slice(text);
        packed[15] = text.len() as u8;
        Some(ShortName(u128::from_le_bytes(packed)))
    }

    /// Its slot in [`JournalBuilder::recent`](super::JournalBuilder).
    pub(super) fn slot(self) -> usize {
        let mixed = (self.0 as u64 ^ (self.0 >> 64) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (mixed >> (64 - RECENT.trailing_zeros())) as usize
    }
}

/// Slots of [`JournalBuilder::recent`](super::JournalBuilder) (a power of two).
pub(super) const RECENT: usize = 64;

impl std::hash::Hash for ShortName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.0 as u64 ^ (self.0 >> 64) as u64);
    }
}
