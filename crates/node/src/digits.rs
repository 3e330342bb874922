//! Integers as JSON digits: written with short paths for the small numbers most messages
//! carry, and read plainly for hand readers' own loops.

/// Appends the decimal digits of `n` (what serde_json and itoa write). Most numbers a node
/// writes (ids, offsets, keys, seqs) have at most four digits: those are written without a
/// buffer in between. Public for hand writers (the workbench writes its history with it).
#[inline]
pub fn write_u64(out: &mut Vec<u8>, n: u64) {
    if n < 10_000 {
        write_small(out, n as u16);
    } else {
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }
}

/// Appends the decimal digits of `n` (below 10 000), two at a time from a table (one
/// division instead of one per digit).
///
/// Room for four digits is checked first and made by a cold call: the writes below then
/// need no check of their own, and the usual path saves no registers (a quarter of the
/// instructions of this function, which runs for nearly every number a message carries).
#[inline]
fn write_small(out: &mut Vec<u8>, n: u16) {
    if out.capacity() - out.len() < 4 {
        return write_small_after_growing(out, n);
    }
    let pair = |p: u16| {
        let i = usize::from(p % 100) * 2;
        [DIGIT_PAIRS[i], DIGIT_PAIRS[i + 1]]
    };
    if n < 10 {
        // Not `push`, whose own check of the room would stay.
        out.extend_from_slice(&[b'0' + n as u8]);
    } else if n < 100 {
        out.extend_from_slice(&pair(n));
    } else {
        let (high, low) = (n / 100, pair(n));
        if high < 10 {
            out.extend_from_slice(&[b'0' + high as u8, low[0], low[1]]);
        } else {
            let high = pair(high);
            out.extend_from_slice(&[high[0], high[1], low[0], low[1]]);
        }
    }
}

#[cold]
#[inline(never)]
fn write_small_after_growing(out: &mut Vec<u8>, n: u16) {
    out.reserve(4);
    write_small(out, n);
}

/// Writes the decimal digits of `n` into `out` at `at` (room for 20 is needed); where they end.
/// For writers that fill a fixed buffer in place (the workbench's journal line heads).
#[inline]
pub fn put_u64(out: &mut [u8], at: usize, mut n: u64) -> usize {
    let end = at + decimal_len(n);
    let mut i = end;
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        out[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        out[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        out[at] = b'0' + n as u8;
    }
    end
}

/// The number of decimal digits of `n`: from its bit length (1233 / 4096 is just under
/// log10 2), then one comparison.
#[inline]
pub fn decimal_len(n: u64) -> usize {
    const POWERS: [u64; 20] = {
        let mut powers = [1u64; 20];
        let mut i = 1;
        while i < 20 {
            powers[i] = powers[i - 1] * 10;
            i += 1;
        }
        powers
    };
    // `| 1`: 0 has one digit (and no power of ten above 1 is odd).
    let n = n | 1;
    let guess = (((64 - n.leading_zeros()) * 1233) >> 12) as usize;
    guess + usize::from(n >= POWERS[guess])
}

/// `00`, `01`, ... `99`.
static DIGIT_PAIRS: [u8; 200] = {
    let mut table = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        table[2 * i] = b'0' + (i / 10) as u8;
        table[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    table
};

/// Appends the decimal digits of `n`, with its sign (as [`write_u64`]).
#[inline]
pub fn write_i64(out: &mut Vec<u8>, n: i64) {
    if (0..10_000).contains(&n) {
        write_small(out, n as u16);
    } else {
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }
}

/// A plain integer at the start of `b` that fits an `i64` (no `-0`, no leading zero, as
/// [`crate::BodyReader::i64`] takes them), and how many bytes it takes; what follows is not
/// looked at. For a hand reader's own loop over [`crate::BodyReader::rest`].
#[inline]
pub fn plain_i64(b: &[u8]) -> Option<(i64, usize)> {
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
    fn plain_i64_reads_as_serde_reads() {
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
            let fast = plain_i64(text.as_bytes()).filter(|&(_, used)| used == text.len());
            assert_eq!(
                fast.map(|(v, _)| v),
                by_serde.filter(|_| text != "-0"),
                "{text}"
            );
        }
        assert_eq!(plain_i64(b"12,3"), Some((12, 2)));
        assert_eq!(plain_i64(b"-4]"), Some((-4, 2)));
    }

    /// Writes exactly what itoa (and so serde_json) writes, around every length boundary.
    #[test]
    fn digits_are_what_itoa_writes() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let check = |n: i64| {
            let mut out = b"x".to_vec();
            write_i64(&mut out, n);
            assert_eq!(out[1..], *itoa::Buffer::new().format(n).as_bytes(), "{n}");
            if let Ok(u) = u64::try_from(n) {
                let mut out = b"x".to_vec();
                write_u64(&mut out, u);
                assert_eq!(out[1..], *itoa::Buffer::new().format(u).as_bytes(), "{u}");
            }
        };
        for n in -20_100..20_100 {
            check(n);
        }
        for _ in 0..100_000 {
            let bits = rng.gen_range(0..64);
            check(rng.gen::<i64>() >> bits);
        }
        for n in [i64::MIN, i64::MAX, 99_999, 100_000] {
            check(n);
        }
        // Into vectors with no room, some room and room to spare (the grow path and the
        // usual one).
        for n in (0..10_000)
            .step_by(7)
            .chain([9, 10, 99, 100, 999, 1000, 9999])
        {
            for room in 0..6 {
                let mut out = Vec::with_capacity(8);
                out.resize(8 - room, b'x');
                write_u64(&mut out, n);
                assert_eq!(out[8 - room..], *n.to_string().as_bytes(), "{n} {room}");
            }
        }
        let mut out = Vec::new();
        write_u64(&mut out, u64::MAX);
        assert_eq!(out, u64::MAX.to_string().as_bytes());
    }
}
