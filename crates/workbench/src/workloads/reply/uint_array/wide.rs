//! [`super::check`] sixteen bytes at a time (SSE2, on x86-64): the digits and commas of a
//! chunk become bit masks (bit `k` for the chunk's byte `k`), and the rules of the simple
//! form are a few operations on them. The arrays nodes send each other (a gossip's values)
//! are short and not in order, so no run predicts them: this reads a chunk in about the
//! instructions the element-wise loop spends on one element.

/// Checks the elements of an array from `i` (the byte after its `[`, not a `]`) as the
/// element-wise loop of [`super::check`] does: `Ok` with its result (the index after the
/// `]`, or `None`), or `Err(at)` when fewer than sixteen bytes are left before the end of
/// the text, `at` being the start of the element the loop goes on from (the elements before
/// it are all in the simple form).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
pub(super) fn check(text: &[u8], mut i: usize) -> Result<Option<usize>, usize> {
    use std::arch::x86_64::*;
    // What the bytes before `i` leave open: whether the last one is a separator (`[` or
    // `,`), how many digits the element being read has so far, and whether its first (and
    // so far only) digit is a 0 that began it in the last byte of a chunk.
    let mut after_separator = true;
    let mut run = 0u32;
    let mut zero_pending = false;
    while i + 16 <= text.len() {
        // SAFETY: the sixteen bytes at `i` are in `text` (checked just above); SSE2 is there.
        let (digits, commas, zeros) = unsafe {
            let v = _mm_loadu_si128(text.as_ptr().add(i).cast());
            let splat = |b: u8| _mm_set1_epi8(b as i8);
            // Signed bytes: those of 0x80 and more are negative, so no digits.
            let digit = _mm_and_si128(
                _mm_cmpgt_epi8(v, splat(b'0' - 1)),
                _mm_cmplt_epi8(v, splat(b'9' + 1)),
            );
            (
                _mm_movemask_epi8(digit) as u32,
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, splat(b','))) as u32,
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, splat(b'0'))) as u32,
            )
        };
        // The chunk's first `len` bytes are digits and commas.
        let other = !(digits | commas) & 0xffff;
        let len = if other == 0 {
            16
        } else {
            other.trailing_zeros()
        };
        let valid = (1u32 << len) - 1;
        let (digits, commas, zeros) = (digits & valid, commas & valid, zeros & valid);
        // Bit k: byte k - 1 is a separator.
        let after = (commas << 1) | u32::from(after_separator);
        // An empty element: a comma right after a separator.
        if commas & after != 0 {
            return Ok(None);
        }
        // A leading zero: a 0 that starts an element, followed by a digit.
        let zero_starts = zeros & after;
        if zero_starts & (digits >> 1) != 0 || (zero_pending && digits & 1 != 0) {
            return Ok(None);
        }
        // At most 19 digits: the element carried over, with the digits that open the chunk.
        if run + (!digits).trailing_zeros() > 19 {
            return Ok(None);
        }
        if len < 16 {
            // The byte after the digits and commas ends the array if it is a `]` after a
            // digit (what else it may be, the element-wise loop refuses too).
            let separator_before = match len {
                0 => after_separator,
                _ => commas >> (len - 1) & 1 == 1,
            };
            let end = i + len as usize;
            return Ok((text[end] == b']' && !separator_before).then_some(end + 1));
        }
        after_separator = commas >> 15 == 1;
        zero_pending = zero_starts >> 15 == 1;
        run = if commas == 0 {
            run + 16
        } else {
            // The digits that close the chunk.
            (!(digits << 16)).leading_zeros()
        };
        i += 16;
    }
    Err(i - run as usize)
}

#[cfg(test)]
mod tests {
    use super::super::{check, check_from, scan};
    use rand::{Rng, SeedableRng};
    use serde_json::Value;

    /// The element-wise loop alone, on the array at `text[0]`.
    fn bytewise(text: &[u8]) -> Option<usize> {
        if text.first() != Some(&b'[') {
            return None;
        }
        if text.get(1) == Some(&b']') {
            return Some(2);
        }
        check_from(text, 1)
    }

    /// Random arrays of integers (lengths chosen near the limits of the simple form: zeros,
    /// 19 and 20 digits), padded so that the chunks reach their end, then damaged: the
    /// chunked check says what the element-wise loop and `scan` say, and what it accepts
    /// serde_json reads as an array of integers.
    #[test]
    fn chunks_check_as_the_element_wise_loop_does() {
        let mut rng = crate::Rng::seed_from_u64(23);
        let alphabet = b"0123456789,,,]] -.e[\"";
        let (mut accepted, mut damaged_accepted) = (0, 0);
        for round in 0..40_000 {
            let mut text = String::from("[");
            // Whether every element fits the simple form (at most 19 digits).
            let mut fits = true;
            for k in 0..rng.gen_range(0..12) {
                if k > 0 {
                    text.push(',');
                }
                let digits = match rng.gen_range(0..6) {
                    0 => 1,
                    1 => rng.gen_range(17..=21),
                    _ => rng.gen_range(1..8),
                };
                fits &= digits <= 19;
                for d in 0..digits {
                    let first = d == 0 && digits > 1;
                    let b = match rng.gen_range(0..4) {
                        0 if !first => b'0',
                        _ => b'0' + rng.gen_range(u8::from(first)..10),
                    };
                    text.push(b as char);
                }
            }
            text.push(']');
            let mut bytes = text.into_bytes();
            let damaged = round % 2 == 1;
            if damaged {
                for _ in 0..rng.gen_range(1..3) {
                    let at = rng.gen_range(0..bytes.len());
                    let b = alphabet[rng.gen_range(0..alphabet.len())];
                    crate::test_util::damage(&mut bytes, at, b, rng.gen_range(0..3));
                }
            }
            // What follows an array in a line, long enough or not for a last chunk.
            let pad = rng.gen_range(0..20);
            bytes.extend(std::iter::repeat_n(b'}', pad));
            let shown = String::from_utf8_lossy(&bytes).into_owned();
            let end = check(&bytes, 0);
            assert_eq!(end, bytewise(&bytes), "{shown}");
            assert_eq!(end, scan(&bytes, 0, |_, _, _| {}), "{shown}");
            if let Some(end) = end {
                let values: Vec<Value> = serde_json::from_slice(&bytes[..end]).expect(&shown);
                assert!(values.iter().all(|v| v.as_u64().is_some()), "{shown}");
                accepted += 1;
                damaged_accepted += usize::from(damaged);
            } else {
                assert!(damaged || !fits, "{shown}");
            }
        }
        assert!(
            accepted > 15_000 && damaged_accepted > 1000,
            "{accepted} {damaged_accepted}"
        );
    }

    #[test]
    fn the_rules_hold_across_chunks() {
        let pad = "}".repeat(20);
        let digits19 = "1234567890123456789";
        for (array, ok) in [
            (format!("[{digits19},{digits19},1]"), true),
            (format!("[{digits19}0,1]"), false),
            (format!("[1234567890123,{digits19}]"), true),
            (format!("[12345678901234,{digits19}1]"), false),
            ("[1,2,3,4,5,6,7,0,1]".to_string(), true),
            ("[1,2,3,4,5,6,7,8,01]".to_string(), false),
            ("[1,2,3,4,5,6,70,1]".to_string(), true),
            // A 0 in a chunk's last byte, its next digit in the next chunk.
            ("[1,2,3,4,5,6,78,01]".to_string(), false),
            ("[1,2,3,4,5,6,78,0,1]".to_string(), true),
            ("[1,2,3,4,5,6,78,0]".to_string(), true),
            ("[1,2,3,4,5,6,7,8,,1]".to_string(), false),
            ("[1,2,3,4,5,6,7,81,]".to_string(), false),
            ("[1,2,3,4,5,6,7,81,2 ]".to_string(), false),
            ("[1,2,3,4,5,6,7,8,9,10,11,12,13,14]".to_string(), true),
        ] {
            let text = format!("{array}{pad}");
            let expected = ok.then_some(array.len());
            assert_eq!(check(text.as_bytes(), 0), expected, "{array}");
            assert_eq!(bytewise(text.as_bytes()), expected, "{array}");
        }
    }
}
