//! Reading integers written plainly, for the hand readers' one-pass paths over compact
//! JSON (`kafka::read`, `txn::wire`).

/// A plain integer at the start of `b` that fits an `i64` (no `-0`, no leading zero), and
/// how many bytes it takes.
pub fn compact_i64(b: &[u8]) -> Option<(i64, usize)> {
    let negative = b.first() == Some(&b'-');
    let start = usize::from(negative);
    let mut i = start;
    let mut magnitude: u64 = 0;
    while let Some(&d) = b.get(i) {
        if !d.is_ascii_digit() {
            break;
        }
        // 19 digits always fit a u64; more never fit an i64.
        if i - start == 19 {
            return None;
        }
        magnitude = magnitude * 10 + u64::from(d - b'0');
        i += 1;
    }
    let len = i - start;
    if len == 0 || (len > 1 && b[start] == b'0') {
        return None;
    }
    let value = match (negative, magnitude) {
        (true, 0) => return None,
        (true, m) if m <= 1 << 63 => (m as i64).wrapping_neg(),
        (false, m) => i64::try_from(m).ok()?,
        _ => return None,
    };
    Some((value, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes exactly the integers serde reads as an `i64` from their plain digits.
    #[test]
    fn compact_i64_reads_as_serde_reads() {
        for text in [
            "0",
            "-1",
            "7",
            "10",
            "-10",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999",
            "-0",
            "01",
            "-",
            "",
            "x",
            "1.5",
            "1e3",
        ] {
            let by_serde = serde_json::from_str::<i64>(text).ok();
            let fast = compact_i64(text.as_bytes()).filter(|&(_, used)| used == text.len());
            assert_eq!(
                fast.map(|(v, _)| v),
                by_serde.filter(|_| text != "-0"),
                "{text}"
            );
        }
        assert_eq!(compact_i64(b"12,3"), Some((12, 2)));
        assert_eq!(compact_i64(b"-4]"), Some((-4, 2)));
    }
}
