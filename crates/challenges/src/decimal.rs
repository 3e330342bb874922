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

/// [`glomers_node::plain_i64`] (an integer as serde reads an `i64` from plain digits, and
/// how many bytes it takes), with the usual case inlined at the caller: a positive number of
/// up to 18 digits (kafka's offsets, messages and ids, txn's keys and values; none
/// overflows). The runtime's function, a call away, takes the rest (a sign, a zero, 19
/// digits or more, anything else).
#[inline(always)]
pub(crate) fn plain_i64(b: &[u8]) -> Option<(i64, usize)> {
    let Some(&first @ b'1'..=b'9') = b.first() else {
        return glomers_node::plain_i64(b);
    };
    let mut n = i64::from(first - b'0');
    let mut i = 1;
    while let Some(&c) = b.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if i == 18 {
            return glomers_node::plain_i64(b);
        }
        n = n * 10 + i64::from(d);
        i += 1;
    }
    Some((n, i))
}

#[cfg(test)]
mod tests {
    use super::canonical_small;

    /// Reads exactly what the runtime's reader reads, on edge cases and random bytes.
    #[test]
    fn plain_i64_reads_as_the_runtime_reads() {
        use glomers_node::rand::{Rng, SeedableRng};
        let mut rng = glomers_node::rand_chacha::ChaCha8Rng::seed_from_u64(13);
        let edges = [
            "",
            "0",
            "00",
            "01",
            "0,",
            "-0",
            "-",
            "-1",
            "7",
            "10]",
            "999",
            "9999",
            "99999,",
            "1234567",
            "999999999999999999",
            "1000000000000000000",
            "x",
            "1.5",
            "1e3",
            "12a",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
        ];
        for text in edges {
            let b = text.as_bytes();
            assert_eq!(super::plain_i64(b), glomers_node::plain_i64(b), "{text:?}");
        }
        let bytes = b"0123456789-,]}.e ";
        for _ in 0..50_000 {
            let len = rng.gen_range(0..22);
            let b: Vec<u8> = (0..len)
                .map(|_| bytes[rng.gen_range(0..bytes.len())])
                .collect();
            assert_eq!(super::plain_i64(&b), glomers_node::plain_i64(&b), "{b:?}");
        }
    }

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
