//! The fast lane for the bulk of a broadcast run's bytes: a compact JSON array of plain
//! non-negative integers (`[0,1,2,...]`, as nodes write a read's whole set), validated and
//! parsed in one loop, eight bytes at a time.
//!
//! It accepts only the simplest form: no whitespace anywhere, each element 1 to 19 digits
//! without a leading zero (so it fits a `u64`), followed directly by `,` or `]`. Anything else
//! (a sign, a fraction, an exponent, a space, a longer number, a nested value) returns `None`
//! and the caller reads the array its general way: this lane only ever says yes to arrays
//! the general readers accept with the same values, and says nothing otherwise.

use crate::history::IntSet;

mod wide;

/// Eight ASCII zeros, one per byte.
const ZEROS: u64 = u64::from_ne_bytes([b'0'; 8]);
const LOW_7_BITS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Reads the array that opens at `text[start]` (which must be `[`), calling
/// `each_run(lo, hi, end)` for each run of consecutive values `lo, lo + 1, ..., hi` in order
/// (a run ends where the next element is not one more than the last; `end` is the index of the
/// `,` or `]` after its last element); returns the index after its `]`, or `None` when the
/// array is not in the simple form (then `each_run` may have seen some of its elements: the
/// caller discards them).
///
/// A broadcast read is mostly long runs (`[0,1,2,...]`), so the element after `n` is first
/// compared with the text `n+1,` itself, eight bytes in one go: a match both validates it
/// and tells its value. Anything else is parsed (eight bytes at a time, or byte by byte near
/// the end of the text).
#[inline]
pub(crate) fn scan(
    text: &[u8],
    start: usize,
    each_run: impl FnMut(u64, u64, usize),
) -> Option<usize> {
    if text.get(start) != Some(&b'[') {
        return None;
    }
    let i = start + 1;
    if text.get(i) == Some(&b']') {
        return Some(i + 1);
    }
    scan_elements(text, i, None, Expected::NOTHING, each_run)
}

/// Whether the array at `text[start]` is in the simple form [`scan`] reads: the index after
/// it, exactly when `scan` returns it, without reading the values (a check of a message
/// between nodes, whose values nobody reads here: often not in order, so no run predicts
/// them).
pub(crate) fn check(text: &[u8], start: usize) -> Option<usize> {
    if text.get(start) != Some(&b'[') {
        return None;
    }
    let i = start + 1;
    if text.get(i) == Some(&b']') {
        return Some(i + 1);
    }
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    let i = match wide::check(text, i) {
        Ok(end) => return end,
        Err(at) => at,
    };
    check_from(text, i)
}

/// [`check`] from the element at `i`, element by element.
fn check_from(text: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let digits = match text.get(i..i + 8) {
            Some(bytes) => {
                match leading_digits(u64::from_le_bytes(bytes.try_into().expect("eight bytes"))) {
                    8 => bytewise(text, i)?.1,
                    n => n,
                }
            }
            None => bytewise(text, i)?.1,
        };
        if digits == 0 || (digits > 1 && text[i] == b'0') {
            return None;
        }
        i += digits;
        match text.get(i) {
            Some(b',') => i += 1,
            Some(b']') => return Some(i + 1),
            _ => return None,
        }
    }
}

/// How many of the eight bytes of `word` (read little-endian) are digits before the first
/// one that is not (8: all of them).
#[inline]
pub(crate) fn leading_digits(word: u64) -> usize {
    // As in `eight`.
    let shifted = word ^ ZEROS;
    let non_digits = (((shifted & LOW_7_BITS) + 0x7676_7676_7676_7676) | shifted) & HIGH_BITS;
    (non_digits.trailing_zeros() / 8) as usize
}

/// [`scan`] from the element at `i`, the run so far being `run` (`None` before the first
/// element) and `next` the text expected after it (see [`Expected`]).
#[inline]
fn scan_elements(
    text: &[u8],
    mut i: usize,
    mut run: Option<(u64, u64)>,
    mut next: Expected,
    mut each_run: impl FnMut(u64, u64, usize),
) -> Option<usize> {
    loop {
        if let Some((_, hi)) = &mut run {
            // `hi + 1,` as predicted: validated, and its value known. The state is in locals
            // so that it stays in registers; a carry leaves the loop and comes back.
            let (mut expected_text, mut until_carry) = (next.text, next.until_carry);
            let (mask, len, unit) = (next.mask, next.len, next.unit);
            let mut carry = false;
            while let Some(bytes) = text.get(i..i + 8) {
                let word = u64::from_le_bytes(bytes.try_into().expect("eight bytes"));
                if word & mask != expected_text {
                    break;
                }
                *hi += 1;
                i += len;
                if until_carry == 0 {
                    carry = true;
                    break;
                }
                expected_text += unit;
                until_carry -= 1;
            }
            next.text = expected_text;
            next.until_carry = until_carry;
            if carry {
                next = next.carried();
                continue;
            }
        }
        let (value, digits, word) = match word_at(text, i) {
            Some(word) => {
                match eight(word) {
                    Some((value, digits)) => (value, digits, Some(word)),
                    // Eight digits or more: the byte loop reads it.
                    None => {
                        let (value, digits) = bytewise(text, i)?;
                        (value, digits, None)
                    }
                }
            }
            None => {
                let (value, digits) = bytewise(text, i)?;
                (value, digits, None)
            }
        };
        if digits == 0 || (digits > 1 && text[i] == b'0') {
            return None;
        }
        run = match run {
            Some((lo, hi)) if value == hi + 1 => Some((lo, value)),
            Some((lo, hi)) => {
                // The last element ended at the comma before this one.
                each_run(lo, hi, i - 1);
                Some((value, value))
            }
            None => Some((value, value)),
        };
        next = match word {
            Some(word) => Expected::after_text(word, digits),
            None => Expected::after(value),
        };
        i += digits;
        match text.get(i) {
            Some(b',') => i += 1,
            Some(b']') => {
                let (lo, hi) = run.expect("an element was read");
                each_run(lo, hi, i);
                return Some(i + 1);
            }
            _ => return None,
        }
    }
}

/// The last array a node wrote in its replies, with its runs: a broadcast read returns every
/// value seen so far, so a node's next read is mostly the same text with a few more values.
/// [`LastArray::scan`] compares the new array with it (a comparison of bytes costs far less
/// than parsing them), takes the elements of the text they share as they were read, and scans
/// only the rest.
#[derive(Debug, Default)]
pub(crate) struct LastArray {
    /// The array's text, `[` to `]` (empty: none).
    text: Vec<u8>,
    /// Its runs as [`scan`] reported them, with the index in `text` of the `,` or `]` after
    /// each run's last element.
    runs: Vec<(u64, u64, usize)>,
}

impl LastArray {
    /// [`scan`] of the array at `text[start]`, with the same result, reading only what
    /// differs from the last array; the array read becomes the last one (if it is in the
    /// simple form: then [`LastArray::set`] is its set).
    pub(crate) fn scan(&mut self, text: &[u8], start: usize) -> Option<usize> {
        if text.get(start) != Some(&b'[') {
            return None;
        }
        let new = &text[start..];
        let old = &self.text;
        if !old.is_empty() {
            let shared = common_prefix(old, new);
            if shared == old.len() {
                // The same array again.
                return Some(start + old.len());
            }
            // The elements before the last comma they share are the same, as is what a scan
            // knows there: the runs so far and the element after them.
            if let Some(comma) = memchr::memrchr(b',', &old[..shared]) {
                let k = self.runs.partition_point(|&(_, _, end)| end < comma);
                let (lo, run_hi, run_end) = self.runs[k];
                let hi = if run_end == comma {
                    run_hi
                } else {
                    // An element inside run `k`: its own digits tell it.
                    let from = memchr::memrchr2(b',', b'[', &old[..comma])
                        .expect("an element follows `[` or `,`");
                    digits_value(&old[from + 1..comma])
                };
                self.runs.truncate(k);
                self.text.truncate(comma + 1);
                let runs = &mut self.runs;
                let resume = start + comma + 1;
                let end = scan_elements(
                    text,
                    resume,
                    Some((lo, hi)),
                    Expected::after(hi),
                    |lo, hi, end| runs.push((lo, hi, end - start)),
                );
                return self.keep(text, resume, end);
            }
        }
        self.text.clear();
        self.runs.clear();
        let runs = &mut self.runs;
        let end = scan(text, start, |lo, hi, end| runs.push((lo, hi, end - start)));
        self.keep(text, start, end)
    }

    /// Completes the kept array with `text[from..end]` (its runs are in), or forgets it.
    fn keep(&mut self, text: &[u8], from: usize, end: Option<usize>) -> Option<usize> {
        match end {
            Some(end) => self.text.extend_from_slice(&text[from..end]),
            None => {
                self.text.clear();
                self.runs.clear();
            }
        }
        end
    }

    /// The set of the last array: what an [`IntSet::builder`] makes of its elements.
    pub(crate) fn set(&self) -> IntSet {
        let ranges = self.runs.iter().map(|&(lo, hi, _)| (lo, hi)).collect();
        IntSet::from_ranges(ranges).unwrap_or_else(|| {
            // Not ascending: the builder sorts them out.
            let mut set = IntSet::builder();
            for &(lo, hi, _) in &self.runs {
                set.push_range(lo, hi);
            }
            set.finish()
        })
    }
}

/// How many bytes `a` and `b` start with in common.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    // Mostly the new text is the old one with more elements before its `]`: one memcmp.
    if n == a.len() && n > 0 && a[..n - 1] == b[..n - 1] {
        return if a[n - 1] == b[n - 1] { n } else { n - 1 };
    }
    let word = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().expect("eight"));
    let mut i = 0;
    // Sixty-four bytes a step while they match, then eight at a time to the first difference.
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    while i + 64 <= n {
        // SAFETY: the sixty-four bytes at `i` are in `a` and in `b` (both `n` long); SSE2 is
        // there.
        let same = unsafe {
            use std::arch::x86_64::*;
            let eq = |k: usize| {
                _mm_cmpeq_epi8(
                    _mm_loadu_si128(a.as_ptr().add(i + k).cast()),
                    _mm_loadu_si128(b.as_ptr().add(i + k).cast()),
                )
            };
            let all = _mm_and_si128(_mm_and_si128(eq(0), eq(16)), _mm_and_si128(eq(32), eq(48)));
            _mm_movemask_epi8(all) == 0xffff
        };
        if !same {
            break;
        }
        i += 64;
    }
    while i + 32 <= n {
        let x = (word(a, i) ^ word(b, i))
            | (word(a, i + 8) ^ word(b, i + 8))
            | (word(a, i + 16) ^ word(b, i + 16))
            | (word(a, i + 24) ^ word(b, i + 24));
        if x != 0 {
            break;
        }
        i += 32;
    }
    while i + 8 <= n {
        let x = word(a, i) ^ word(b, i);
        if x != 0 {
            return i + (x.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// The value of an element's digits (at most 19, as [`scan`] accepted them).
fn digits_value(digits: &[u8]) -> u64 {
    digits.iter().fold(0, |n, &d| n * 10 + u64::from(d - b'0'))
}

/// The (up to) eight bytes at `i` as a little-endian word (first byte lowest), zeros past the
/// end of the text; `None` at its end, or when the whole text is shorter than a word.
#[inline]
fn word_at(text: &[u8], i: usize) -> Option<u64> {
    if let Some(bytes) = text.get(i..i + 8) {
        return Some(u64::from_le_bytes(bytes.try_into().expect("eight bytes")));
    }
    // Near the end: the text's last eight bytes, shifted down to start at `i`.
    let last = text.len().checked_sub(8)?;
    if i >= text.len() {
        return None;
    }
    let word = u64::from_le_bytes(text[last..].try_into().expect("eight bytes"));
    Some(word >> (8 * (i - last)))
}

/// The text of the element expected next, `n,` for the value `n` after the last, as the
/// first `len` bytes of a little-endian word (`text`, `mask` selecting them); it only exists
/// for values of at most 7 digits, so that it fits eight bytes with its comma.
#[derive(Clone, Copy, Debug)]
struct Expected {
    text: u64,
    mask: u64,
    len: usize,
    /// The last digit's unit (`1 << 8 * (len - 2)`), and how many times it can go up before
    /// it carries (9 minus that digit).
    unit: u64,
    until_carry: u8,
}

impl Expected {
    /// Matches nothing (a masked word is never all ones).
    const NOTHING: Expected = Expected {
        text: u64::MAX,
        mask: 0,
        len: 0,
        unit: 0,
        until_carry: 0,
    };

    /// The expectation for `bytes`: `len - 1` digits then a comma, zeros after.
    fn of(bytes: [u8; 8], len: usize) -> Expected {
        Expected {
            text: u64::from_le_bytes(bytes),
            mask: low_bytes(len),
            len,
            unit: 1 << (8 * (len - 2)),
            until_carry: b'9' - bytes[len - 2],
        }
    }

    /// The text of `value + 1` followed by a comma.
    fn after(value: u64) -> Expected {
        let n = value + 1;
        if n >= 10_000_000 {
            return Expected::NOTHING;
        }
        let digits = if n == 0 { 1 } else { n.ilog10() as usize + 1 };
        let mut bytes = [0u8; 8];
        let mut rest = n;
        for b in bytes[..digits].iter_mut().rev() {
            *b = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        bytes[digits] = b',';
        Expected::of(bytes, digits + 1)
    }

    /// [`Expected::after`] the value whose `digits` (at most 7) open the little-endian `word`.
    #[inline]
    fn after_text(word: u64, digits: usize) -> Expected {
        let comma = u64::from(b',') << (8 * digits);
        let bytes = ((word & low_bytes(digits)) | comma).to_le_bytes();
        Expected::of(bytes, digits + 1).incremented()
    }

    /// The text of the value after this one.
    #[inline]
    fn incremented(self) -> Expected {
        if self.until_carry > 0 {
            Expected {
                text: self.text + self.unit,
                until_carry: self.until_carry - 1,
                ..self
            }
        } else {
            self.carried()
        }
    }

    /// [`Expected::incremented`] when the last digit is a 9: it turns to 0 and the digit
    /// before it goes up (the common case, done in place), or all the nines at the end turn to
    /// zeros (or, all nines, a digit more).
    fn carried(self) -> Expected {
        // The unit of the digit before the last, if there is one.
        let before = self.unit >> 8;
        if before != 0 && (self.text >> before.trailing_zeros()) & 0xff != u64::from(b'9') {
            return Expected {
                text: self.text - 9 * self.unit + before,
                until_carry: 9,
                ..self
            };
        }
        self.carried_far()
    }

    #[cold]
    fn carried_far(self) -> Expected {
        let mut bytes = self.text.to_le_bytes();
        let digits = self.len - 1;
        for k in (0..digits).rev() {
            if bytes[k] != b'9' {
                bytes[k] += 1;
                return Expected::of(bytes, self.len);
            }
            bytes[k] = b'0';
        }
        // 10^digits: one more digit, which must still fit with its comma.
        if digits + 2 > 8 {
            return Expected::NOTHING;
        }
        bytes[0] = b'1';
        bytes[1..=digits].fill(b'0');
        bytes[digits + 1] = b',';
        Expected::of(bytes, digits + 2)
    }

    #[cfg(test)]
    fn value(&self) -> u64 {
        self.text.to_le_bytes()[..self.len - 1]
            .iter()
            .fold(0, |n, &b| n * 10 + u64::from(b - b'0'))
    }
}

/// A mask of the lowest `n` bytes of a word (`n` from 1 to 8).
#[inline]
fn low_bytes(n: usize) -> u64 {
    u64::MAX >> (8 * (8 - n))
}

/// The leading digits of eight bytes read little-endian (first byte lowest): their value and
/// count, or `None` when all eight are digits.
#[inline]
fn eight(word: u64) -> Option<(u64, usize)> {
    // A byte is a digit when it XOR '0' is below 10: adding 0x76 to its low seven bits sets
    // the high bit for 10 and above (never carrying into the next byte), and a high bit
    // already set is no digit either.
    let shifted = word ^ ZEROS;
    let non_digits = (((shifted & LOW_7_BITS) + 0x7676_7676_7676_7676) | shifted) & HIGH_BITS;
    if non_digits == 0 {
        return None;
    }
    let digits = (non_digits.trailing_zeros() / 8) as usize;
    if digits == 0 {
        return Some((0, 0));
    }
    // The digits moved to the top bytes (the bytes below are zeros, i.e. leading zeros),
    // then combined pairwise: 2 digits per 16 bits, 4 per 32, 8 in all.
    let mut v = (shifted << (8 * (8 - digits))) & 0x0f0f_0f0f_0f0f_0f0f;
    v = (v.wrapping_mul(10) + (v >> 8)) & 0x00ff_00ff_00ff_00ff;
    v = (v.wrapping_mul(100) + (v >> 16)) & 0x0000_ffff_0000_ffff;
    v = (v.wrapping_mul(10_000) + (v >> 32)) & 0xffff_ffff;
    Some((v, digits))
}

/// The leading digits from `text[i]`, one byte at a time; `None` beyond 19 digits.
#[inline(never)]
fn bytewise(text: &[u8], i: usize) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    let mut j = i;
    while let Some(&b) = text.get(j) {
        let d = b.wrapping_sub(b'0');
        if d >= 10 {
            break;
        }
        if j - i == 19 {
            return None;
        }
        value = value * 10 + u64::from(d);
        j += 1;
    }
    Some((value, j - i))
}

#[cfg(test)]
mod tests;
