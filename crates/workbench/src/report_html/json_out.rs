//! Writing the page's data as JSON text, fast: the data is a megabyte or more of escaped
//! message bodies and numbers, written byte by byte and word by word into a small buffer of
//! the writer's own (a store into an array it holds, rather than a push that checks a
//! vector's capacity each time), which goes to the vector a few hundred bytes at a time.

use glomers_node::decimal_len;

/// The writer's buffer; every single write but an escaped text's is at most [`MAX_PIECE`]
/// bytes.
const BUF: usize = 4096;
const MAX_PIECE: usize = 64;

/// A JSON text writer appending to a vector (flushed when dropped).
pub struct JsonOut<'a> {
    out: &'a mut Vec<u8>,
    buf: [u8; BUF],
    len: usize,
}

impl<'a> JsonOut<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> JsonOut<'a> {
        JsonOut {
            out,
            buf: [0; BUF],
            len: 0,
        }
    }

    /// Makes room for `n` (at most [`MAX_PIECE`]) bytes in the buffer.
    #[inline]
    fn room(&mut self, n: usize) {
        debug_assert!(n <= MAX_PIECE);
        if self.len + n > BUF {
            self.flush();
        }
    }

    #[cold]
    #[inline(never)]
    fn flush(&mut self) {
        self.out.extend_from_slice(&self.buf[..self.len]);
        self.len = 0;
    }

    #[inline]
    pub fn byte(&mut self, b: u8) {
        self.room(1);
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// Raw bytes (JSON text already, or what needs no escape).
    #[inline]
    pub fn raw(&mut self, bytes: &[u8]) {
        if bytes.len() > MAX_PIECE {
            self.flush();
            self.out.extend_from_slice(bytes);
            return;
        }
        self.room(bytes.len());
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// An unsigned integer's digits: below 10^8 here (most of the page's numbers), else out of
    /// line. Always inlined: the page writes a hundred thousand numbers, most in loops of their
    /// own.
    #[inline(always)]
    pub fn u64(&mut self, n: u64) {
        if n < 10 {
            return self.byte(b'0' + n as u8);
        }
        if n < 100 {
            self.room(2);
            let at = self.len;
            self.pair(at, n as usize);
            self.len = at + 2;
            return;
        }
        if n < 100_000_000 {
            // Up to eight digits (a time in microseconds has eight): all at once.
            self.room(8);
            let (len, d) = (self.len, decimal_len(n));
            self.put_word(len, eight_digits(n) >> (8 * (8 - d)));
            self.len = len + d;
            return;
        }
        self.u64_long(n);
    }

    /// [`JsonOut::u64`] of 10^8 and above: eight digits at once ([`eight_digits`]), the first
    /// word with as many of them as the number has.
    #[cold]
    #[inline(never)]
    fn u64_long(&mut self, n: u64) {
        const E8: u64 = 100_000_000;
        self.room(32);
        let len = self.len;
        if n < E8 * E8 {
            let (high, low) = (n / E8, n % E8);
            let d = decimal_len(high);
            self.put_word(len, eight_digits(high) >> (8 * (8 - d)));
            self.put_word(len + d, eight_digits(low));
            self.len = len + d + 8;
        } else {
            // Seventeen digits or more: the first (up to four) and the last sixteen.
            let (high, rest) = (n / (E8 * E8), n % (E8 * E8));
            let d = decimal_len(high);
            self.put_word(len, eight_digits(high) >> (8 * (8 - d)));
            self.put_word(len + d, eight_digits(rest / E8));
            self.put_word(len + d + 8, eight_digits(rest % E8));
            self.len = len + d + 16;
        }
    }

    /// The eight bytes of `word` (little-endian) at `at` (room checked by the caller).
    #[inline(always)]
    fn put_word(&mut self, at: usize, word: u64) {
        self.buf[at..at + 8].copy_from_slice(&word.to_le_bytes());
    }

    /// The two digits of `n` (below 100) at `at`.
    #[inline]
    fn pair(&mut self, at: usize, n: usize) {
        const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
            2021222324252627282930313233343536373839\
            4041424344454647484950515253545556575859\
            6061626364656667686970717273747576777879\
            8081828384858687888990919293949596979899";
        self.buf[at..at + 2].copy_from_slice(&PAIRS[n * 2..n * 2 + 2]);
    }

    /// `s` as a JSON string, quoted.
    #[inline]
    pub fn string(&mut self, s: &str) {
        self.byte(b'"');
        self.escaped(s);
        self.byte(b'"');
    }

    /// `s` cut to `max` bytes for display, as a JSON string: whole when it is short enough,
    /// else its first `max` bytes (back to a character boundary) and `… (<length> bytes)`.
    pub fn cut_string(&mut self, s: &str, max: usize) {
        if s.len() <= max {
            return self.string(s);
        }
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.byte(b'"');
        self.escaped(&s[..end]);
        self.raw("… (".as_bytes());
        self.u64(s.len() as u64);
        self.raw(b" bytes)\"");
    }

    /// The JSON array of `numbers` (whose text is `len` bytes long) as a JSON string, cut to
    /// `max` bytes as [`JsonOut::cut_string`] cuts a text: its digits written straight into
    /// the buffer as far as they are shown (nothing in them to escape), then cut back.
    pub fn cut_u64_array(&mut self, numbers: impl Iterator<Item = u64>, len: usize, max: usize) {
        self.cut_u64_array_keeping(numbers, len, max, None);
    }

    /// [`JsonOut::cut_u64_array`]; when the array is cut and `shown` is given, the shown text
    /// (from `[` to the cut, `max` bytes) is copied into it and the last number written (the
    /// one the cut falls in or just after) is returned: any array whose numbers up to that one
    /// are the same shows the same text (see [`JsonOut::cut_u64_array_shown`]).
    pub fn cut_u64_array_keeping(
        &mut self,
        numbers: impl Iterator<Item = u64>,
        len: usize,
        max: usize,
        shown: Option<&mut Vec<u8>>,
    ) -> Option<u64> {
        self.byte(b'"');
        if len <= max {
            self.byte(b'[');
            for (i, n) in numbers.enumerate() {
                if i > 0 {
                    self.byte(b',');
                }
                self.u64(n);
            }
            self.raw(b"]\"");
            return None;
        }
        // Room for the shown part and the number that goes past it, so that nothing is
        // flushed between here and the cut.
        let room = max + 2 * MAX_PIECE;
        assert!(room <= BUF, "a cut of {max} bytes fits the buffer");
        if self.len + room > BUF {
            self.flush();
        }
        let start = self.len;
        self.byte(b'[');
        let mut last = None;
        for (i, n) in numbers.enumerate() {
            if self.len - start > max {
                break;
            }
            if i > 0 {
                self.byte(b',');
            }
            self.u64(n);
            last = Some(n);
        }
        // The text is longer than `max` (the whole of it but its `]`, at least).
        debug_assert!(self.len - start >= max);
        self.len = start + max;
        if let Some(shown) = shown {
            shown.clear();
            shown.extend_from_slice(&self.buf[start..start + max]);
        }
        self.cut_tail(len);
        last
    }

    /// The JSON string of an array cut to the text `shown` (what
    /// [`JsonOut::cut_u64_array_keeping`] kept of an array with the same numbers as far as
    /// they are shown), the whole array's text being `len` bytes long.
    pub fn cut_u64_array_shown(&mut self, shown: &[u8], len: usize) {
        self.byte(b'"');
        self.raw(shown);
        self.cut_tail(len);
    }

    /// What follows a cut text in its JSON string: `… (<length> bytes)"`.
    fn cut_tail(&mut self, len: usize) {
        self.raw("… (".as_bytes());
        self.u64(len as u64);
        self.raw(b" bytes)\"");
    }

    /// The text of `s` as a JSON string holds it (without the quotes), escaped exactly as
    /// serde_json escapes it: `"` and `\` with a backslash, `\b \t \n \f \r` by name, other
    /// control characters as `\u00xx`, everything else as it is. Sixteen bytes at a time: one
    /// mask of the bytes to escape ([`escape_mask`]); the bytes between two of them are written
    /// as one sixteen-byte copy (the buffer has room past them, and what lands beyond the run is
    /// written over next), so a body with a quote every few bytes (keys and strings) and one
    /// with none (a long run of numbers) both go fast. The last few bytes are those of the
    /// last sixteen not written yet (or, in a text shorter than that, one by one).
    pub fn escaped(&mut self, s: &str) {
        // Batches of input whose output surely fits the buffer, written through locals (the
        // buffer and its length in registers).
        const BATCH: usize = 256;
        for batch in s.as_bytes().chunks(BATCH) {
            if self.len + 6 * BATCH + 32 > BUF {
                self.flush();
            }
            let buf = &mut self.buf;
            let mut len = self.len;
            let mut sixteens = batch.chunks_exact(16);
            for chunk in &mut sixteens {
                let chunk: &[u8; 16] = chunk.try_into().expect("sixteen bytes");
                len = escaped_16(buf, len, chunk, escape_mask(chunk), 0);
            }
            let rest = sixteens.remainder().len();
            if rest > 0 && batch.len() >= 16 {
                // The last sixteen bytes, from the first not written yet.
                let last: &[u8; 16] = batch[batch.len() - 16..].try_into().expect("sixteen");
                let from = 16 - rest;
                let mask = escape_mask(last) >> from << from;
                len = escaped_16(buf, len, last, mask, from);
            } else {
                for &b in sixteens.remainder() {
                    len = escaped_byte(buf, len, b);
                }
            }
            self.len = len;
        }
    }

    /// `[` the numbers `]`: one check for room per number (for its comma and digits) rather
    /// than one per piece (the page's arrays hold a hundred thousand numbers).
    #[inline]
    pub fn u64_array(&mut self, numbers: impl Iterator<Item = u64>) {
        self.byte(b'[');
        for (i, n) in numbers.enumerate() {
            self.room(1 + 8);
            if i > 0 {
                self.buf[self.len] = b',';
                self.len += 1;
            }
            if n < 100_000_000 {
                self.short_u64(n);
            } else {
                self.u64_long(n);
            }
        }
        self.byte(b']');
    }

    /// [`JsonOut::u64`] of a number below 10^8, with room for its eight digits checked by the
    /// caller.
    #[inline(always)]
    fn short_u64(&mut self, n: u64) {
        let len = self.len;
        if n < 10 {
            self.buf[len] = b'0' + n as u8;
            self.len = len + 1;
        } else if n < 100 {
            self.pair(len, n as usize);
            self.len = len + 2;
        } else {
            let d = decimal_len(n);
            self.put_word(len, eight_digits(n) >> (8 * (8 - d)));
            self.len = len + d;
        }
    }

    /// `[` the items `]`, each written by `item`.
    #[inline]
    pub fn array<T>(&mut self, items: &[T], mut item: impl FnMut(&mut Self, &T)) {
        self.byte(b'[');
        for (i, x) in items.iter().enumerate() {
            if i > 0 {
                self.byte(b',');
            }
            item(self, x);
        }
        self.byte(b']');
    }
}

impl Drop for JsonOut<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Writes the bytes of `chunk` from `from` escaped at `len` (with room for 6 * 16 + 16 bytes
/// there), `mask` marking the bytes to escape (bit `i` for byte `i`, see [`escape_mask`]; none
/// before `from`); the new length.
#[inline(always)]
fn escaped_16(
    buf: &mut [u8; BUF],
    mut len: usize,
    chunk: &[u8; 16],
    mask: u32,
    mut from: usize,
) -> usize {
    if mask == 0 && from == 0 {
        buf[len..len + 16].copy_from_slice(chunk);
        return len + 16;
    }
    // The chunk and sixteen bytes more, so that a run is copied as sixteen bytes from any
    // offset.
    let mut padded = [0u8; 32];
    padded[..16].copy_from_slice(chunk);
    let mut specials = mask;
    // `from`: the first byte not written yet.
    while specials != 0 {
        let at = specials.trailing_zeros() as usize;
        buf[len..len + 16].copy_from_slice(&padded[from..from + 16]);
        len += at - from;
        // Mostly a quote (a body's keys and strings), written at once.
        len = match chunk[at] {
            b'"' => {
                buf[len..len + 2].copy_from_slice(b"\\\"");
                len + 2
            }
            b => escaped_byte(buf, len, b),
        };
        from = at + 1;
        specials &= specials - 1;
    }
    buf[len..len + 16].copy_from_slice(&padded[from..from + 16]);
    len + 16 - from
}

/// Bit `i` set when byte `i` of `chunk` is escaped (a quote, a backslash or a control
/// character), with SSE2: one comparison of the sixteen bytes per kind.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn escape_mask(chunk: &[u8; 16]) -> u32 {
    use std::arch::x86_64::*;
    // SAFETY: the sixteen bytes are readable (an array of sixteen); SSE2 is there (cfg).
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        let splat = |b: u8| _mm_set1_epi8(b as i8);
        // Unsigned: a byte is below 0x20 when it is its own minimum with 0x1f.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(v, splat(0x1f)), v);
        let quote = _mm_cmpeq_epi8(v, splat(b'"'));
        let backslash = _mm_cmpeq_epi8(v, splat(b'\\'));
        _mm_movemask_epi8(_mm_or_si128(control, _mm_or_si128(quote, backslash))) as u32
    }
}

/// [`escape_mask`] byte by byte, elsewhere (and to test the other).
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
#[inline(always)]
fn escape_mask_bytes(chunk: &[u8; 16]) -> u32 {
    let mut mask = 0;
    for (i, &b) in chunk.iter().enumerate() {
        mask |= u32::from(ESCAPE[usize::from(b)] != 0) << i;
    }
    mask
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn escape_mask(chunk: &[u8; 16]) -> u32 {
    escape_mask_bytes(chunk)
}

/// Writes one byte of a string's text at `len` (with room for six there); the new length.
#[inline]
fn escaped_byte(buf: &mut [u8; BUF], len: usize, b: u8) -> usize {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match ESCAPE[usize::from(b)] {
        0 => {
            buf[len] = b;
            len + 1
        }
        b'u' => {
            buf[len..len + 6].copy_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]);
            len + 6
        }
        e => {
            buf[len..len + 2].copy_from_slice(&[b'\\', e]);
            len + 2
        }
    }
}

/// The eight decimal digits of `n` (below 10^8, with leading zeros) as ASCII, the first
/// digit in the lowest byte: the two halves of four digits side by side in one word, then
/// each split in pairs and each pair in digits, all lanes at once (a multiply by a fixed-point
/// reciprocal and a shift divides each lane, exact for these ranges: 10486 / 2^20 for
/// division by 100 of numbers below 10^4, 103 / 2^10 for division by 10 below 100).
#[inline(always)]
fn eight_digits(n: u64) -> u64 {
    debug_assert!(n < 100_000_000);
    let merged = (n / 10_000) | ((n % 10_000) << 32);
    let hundreds_high = ((merged * 10_486) >> 20) & ((0x7f << 32) | 0x7f);
    let hundreds_low = merged - 100 * hundreds_high;
    let pairs = (hundreds_low << 16) | hundreds_high;
    let mut tens = ((pairs * 103) >> 10) & ((0xf << 48) | (0xf << 32) | (0xf << 16) | 0xf);
    tens |= (pairs - 10 * tens) << 8;
    tens | 0x3030_3030_3030_3030
}

/// What each byte is escaped as after its backslash (0: written as it is; `u`: `\u00xx`).
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[b'\t' as usize] = b't';
    table[b'\n' as usize] = b'n';
    table[0x0c] = b'f';
    table[b'\r' as usize] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    fn written(write: impl FnOnce(&mut JsonOut<'_>)) -> String {
        let mut out = b"x".to_vec();
        {
            let mut json = JsonOut::new(&mut out);
            write(&mut json);
        }
        assert_eq!(out[0], b'x');
        String::from_utf8(out[1..].to_vec()).unwrap()
    }

    /// The mask marks the bytes to escape, and only them, in both forms.
    #[test]
    fn masks_mark_exactly_the_bytes_to_escape() {
        for b in 0..=255u8 {
            for at in 0..16 {
                for fill in [b'a', 0x7f, 0x80, 0xff, b'"', 0x1f] {
                    let mut chunk = [fill; 16];
                    chunk[at] = b;
                    let mask = escape_mask(&chunk);
                    for (i, &x) in chunk.iter().enumerate() {
                        let wanted = ESCAPE[usize::from(x)] != 0;
                        assert_eq!(mask >> i & 1 == 1, wanted, "{chunk:?} {i}");
                    }
                    assert_eq!(mask >> 16, 0);
                    assert_eq!(escape_mask_bytes(&chunk), mask);
                }
            }
        }
    }

    /// Numbers are written as itoa writes them, across the buffer's end too.
    #[test]
    fn numbers_are_their_digits() {
        let mut numbers = vec![0, 9, 10, 99, 100, 101, u64::MAX, u64::MAX - 1];
        let mut p = 1u64;
        while let Some(next) = p.checked_mul(10) {
            numbers.extend([p - 1, p, p + 1, p * 7 / 3]);
            p = next;
        }
        numbers.extend([p - 1, p, p + 1]);
        // Random numbers of every length.
        let mut seed = 3u64;
        for _ in 0..5_000 {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            numbers.push(seed >> (seed % 64));
        }
        for n in &numbers {
            assert_eq!(written(|j| j.u64(*n)), n.to_string());
            assert_eq!(decimal_len((*n).max(1)), (*n).max(1).to_string().len());
        }
        let all = written(|j| {
            for _ in 0..100 {
                j.array(&numbers, |j, &n| j.u64(n));
            }
        });
        let all_at_once = written(|j| {
            for _ in 0..100 {
                j.u64_array(numbers.iter().copied());
            }
        });
        assert_eq!(all_at_once, all);
        assert_eq!(written(|j| j.u64_array(std::iter::empty())), "[]");
        let one = format!(
            "[{}]",
            numbers
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(all, one.repeat(100));
    }

    /// Strings are escaped as serde_json escapes them: every character, and random texts with
    /// escapes at every offset of the eight-byte words, written past the buffer's end.
    #[test]
    fn strings_are_escaped_as_serde_does() {
        let mut all = String::new();
        for c in (0u32..0x80).chain([0xe9, 0x2028, 0x1f600]) {
            all.push(char::from_u32(c).unwrap());
        }
        let mut texts = vec![
            String::new(),
            "plain".into(),
            all,
            r#"{"type":"send","msg":"a\"b\\c"}"#.into(),
        ];
        let mut seed = 7u64;
        let mut below = |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        const PICK: [char; 12] = [
            '"', '\\', '\n', '\t', '\u{1}', '\u{1f}', '\u{7f}', 'é', '€', '😀', '<', '/',
        ];
        // Up to `max_len` characters, one in `special_one_in` picked from PICK.
        let mut random_text = |max_len: u64, special_one_in: u64| -> String {
            let len = below(max_len);
            (0..len)
                .map(|_| match below(special_one_in) {
                    0 => PICK[below(PICK.len() as u64) as usize],
                    _ => char::from(b' ' + below(95) as u8),
                })
                .collect()
        };
        for _ in 0..3_000 {
            texts.push(random_text(60, 4));
        }
        // Longer ones, mostly plain (whole sixteen-byte steps), escapes here and there.
        for _ in 0..600 {
            texts.push(random_text(700, 40));
        }
        let mut expected = String::new();
        let all = written(|j| {
            for t in &texts {
                j.string(t);
                expected.push_str(&serde_json::to_string(t).unwrap());
            }
        });
        assert_eq!(all, expected);
        for t in &texts {
            assert_eq!(written(|j| j.string(t)), serde_json::to_string(t).unwrap());
        }
    }

    /// A cut string is the cut text's JSON string.
    #[test]
    fn cut_strings_name_their_length() {
        let text = "ab€cd".repeat(30);
        for max in [0, 1, 2, 3, 4, 5, 80, 149, 150, 151] {
            let mut end = max.min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let cut = if text.len() <= max {
                text.clone()
            } else {
                format!("{}… ({} bytes)", &text[..end], text.len())
            };
            assert_eq!(
                written(|j| j.cut_string(&text, max)),
                serde_json::to_string(&cut).unwrap(),
                "{max}"
            );
        }
    }
}
