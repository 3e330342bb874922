//! Names that are small numbers (kafka's keys `"7"`, node ids `"n7"`), read by their digits so
//! that per-name state can live in a vector instead of a map.

/// The number `digits` writes in decimal, if it has at most `max_digits` digits and is written
/// the one way (no sign, no leading zero, nothing else): then no other text gives the same
/// number, so the number can stand for the text.
#[inline]
pub(crate) fn canonical_small(digits: &[u8], max_digits: usize) -> Option<usize> {
    if digits.is_empty() || digits.len() > max_digits || (digits[0] == b'0' && digits.len() > 1) {
        return None;
    }
    let mut n = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + usize::from(d - b'0');
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::canonical_small;

    #[test]
    fn only_the_one_way_of_writing_a_number_is_read() {
        assert_eq!(canonical_small(b"0", 5), Some(0));
        assert_eq!(canonical_small(b"65535", 5), Some(65535));
        assert_eq!(canonical_small(b"99999", 5), Some(99999));
        for text in ["", "00", "01", "+1", "-1", "1a", " 1", "1.0", "123456"] {
            assert_eq!(canonical_small(text.as_bytes(), 5), None, "{text:?}");
        }
        assert_eq!(canonical_small(b"12345", 4), None);
    }
}
