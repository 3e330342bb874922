//! Runs of bytes the scanners step over: the text of a string up to its closing quote (or an
//! escape), the text between structural characters. Long runs go eight bytes at a time (SWAR:
//! the tests run on a `u64` holding eight bytes), the last few bytes of the text one by one.

/// How many bytes at the start of `b` may stand inside a string as they are: everything up to
/// the first quote, backslash or control character (or the end).
///
/// Most strings are short (ids, keys, types): the first [`HEAD`] bytes go through a byte loop,
/// which costs less than setting up word tests for a few bytes; the rest, if the run goes on,
/// eight bytes at a time.
#[inline]
pub(crate) fn string_run(b: &[u8]) -> usize {
    let head = b.len().min(HEAD);
    match b[..head]
        .iter()
        .position(|&c| ENDS_STRING_RUN[usize::from(c)])
    {
        Some(n) => n,
        None if head == b.len() => head,
        None => head + long_string_run(&b[head..]),
    }
}

/// How many bytes [`string_run`] looks at one by one before it goes word by word.
const HEAD: usize = 16;

/// [`string_run`] past its first bytes.
#[inline(never)]
fn long_string_run(b: &[u8]) -> usize {
    let mut i = 0;
    while let Some(word) = b.get(i..i + 8) {
        let stops = string_stops(word_at(word));
        if stops != 0 {
            return i + first_flagged(stops);
        }
        i += 8;
    }
    i + b[i..]
        .iter()
        .position(|&c| ENDS_STRING_RUN[usize::from(c)])
        .unwrap_or(b.len() - i)
}

/// How many bytes at the start of `b` are neither a quote nor a bracket.
#[inline]
pub(crate) fn structure_run(b: &[u8]) -> usize {
    let mut i = 0;
    while let Some(word) = b.get(i..i + 8) {
        let w = word_at(word);
        let stops = byte_is(w, b'"')
            | byte_is(w, b'{')
            | byte_is(w, b'}')
            | byte_is(w, b'[')
            | byte_is(w, b']');
        if stops != 0 {
            return i + first_flagged(stops);
        }
        i += 8;
    }
    i + b[i..]
        .iter()
        .position(|&c| ENDS_STRUCTURE_RUN[usize::from(c)])
        .unwrap_or(b.len() - i)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Eight bytes, the first in the lowest byte of the word.
#[inline]
fn word_at(word: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(word);
    u64::from_le_bytes(bytes)
}

/// The position of the first byte whose high bit `flags` has set.
#[inline]
fn first_flagged(flags: u64) -> usize {
    (flags.trailing_zeros() / 8) as usize
}

/// The high bit of every byte of `w` below `n` (at most 0x80) set. Exact for the first such
/// byte; a byte after it may be flagged wrongly (a borrow runs up from a flagged byte), which
/// [`first_flagged`] never looks at.
#[inline]
fn byte_below(w: u64, n: u8) -> u64 {
    w.wrapping_sub(ONES * u64::from(n)) & !w & HIGHS
}

/// The high bit of every byte of `w` equal to `c` set (exact for the first, as [`byte_below`]).
#[inline]
fn byte_is(w: u64, c: u8) -> u64 {
    byte_below(w ^ (ONES * u64::from(c)), 1)
}

/// The bytes of `w` that end a string run (quote, backslash, control character) flagged.
#[inline]
fn string_stops(w: u64) -> u64 {
    byte_is(w, b'"') | byte_is(w, b'\\') | byte_below(w, 0x20)
}

/// The bytes [`structure_run`] stops at.
static ENDS_STRUCTURE_RUN: [bool; 256] = {
    let mut table = [false; 256];
    table[b'"' as usize] = true;
    table[b'{' as usize] = true;
    table[b'}' as usize] = true;
    table[b'[' as usize] = true;
    table[b']' as usize] = true;
    table
};

/// The bytes [`string_run`] stops at, as a table (one load per byte instead of three tests).
static ENDS_STRING_RUN: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        table[c] = true;
        c += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The word-at-a-time runs stop where a byte-by-byte walk stops, on random text rich in
    /// the bytes they stop at (and in bytes next to them: `!`, `#`, `\x1f`, `\x20`, 0x80+).
    #[test]
    fn runs_stop_where_a_byte_walk_stops() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let special = b"\"\\{}[]\x00\x1f\x20!#\x7f\x80\xa2\xdc\xfb\xffaZ0";
        for _ in 0..20_000 {
            let len = rng.gen_range(0..60);
            // Dense texts stop runs early; sparse ones make runs past the byte-by-byte head.
            let odds = if rng.gen_bool(0.5) { 4 } else { 64 };
            let text: Vec<u8> = (0..len)
                .map(|_| match rng.gen_range(0..odds) {
                    0 => special[rng.gen_range(0..special.len())],
                    1 => rng.gen(),
                    _ => rng.gen_range(b'a'..=b'z'),
                })
                .collect();
            for start in 0..=text.len() {
                let rest = &text[start..];
                let by_byte = |table: &[bool; 256]| {
                    rest.iter()
                        .position(|&c| table[usize::from(c)])
                        .unwrap_or(rest.len())
                };
                assert_eq!(string_run(rest), by_byte(&ENDS_STRING_RUN), "{rest:?}");
                assert_eq!(
                    structure_run(rest),
                    by_byte(&ENDS_STRUCTURE_RUN),
                    "{rest:?}"
                );
            }
        }
    }

    #[test]
    fn the_tables_hold_what_json_says() {
        for c in 0..=255u8 {
            let ends_string = c < 0x20 || c == b'"' || c == b'\\';
            assert_eq!(ENDS_STRING_RUN[usize::from(c)], ends_string, "{c}");
            let structural = b"\"{}[]".contains(&c);
            assert_eq!(ENDS_STRUCTURE_RUN[usize::from(c)], structural, "{c}");
        }
    }
}
