//! Writing the page's data as JSON text, fast: the data is a megabyte or more of escaped
//! message bodies and numbers, written byte by byte and word by word into a small buffer of
//! the writer's own (a store into an array it holds, rather than a push that checks a
//! vector's capacity each time), which goes to the vector a few hundred bytes at a time.

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

    /// An unsigned integer's digits.
    #[inline]
    pub fn u64(&mut self, mut n: u64) {
        if n < 10 {
            return self.byte(b'0' + n as u8);
        }
        self.room(20);
        let end = self.len + digits(n);
        let mut at = end;
        while n >= 10_000 {
            let four = (n % 10_000) as usize;
            n /= 10_000;
            at -= 4;
            self.pair(at, four / 100);
            self.pair(at + 2, four % 100);
        }
        if n >= 100 {
            at -= 2;
            self.pair(at, n as usize % 100);
            n /= 100;
        }
        if n >= 10 {
            self.pair(at - 2, n as usize);
        } else {
            self.buf[at - 1] = b'0' + n as u8;
        }
        self.len = end;
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

    /// The text of `s` as a JSON string holds it (without the quotes), escaped exactly as
    /// serde_json escapes it: `"` and `\` with a backslash, `\b \t \n \f \r` by name, other
    /// control characters as `\u00xx`, everything else as it is. Sixteen bytes at a time where
    /// none is escaped (most of a body), else a word at a time: the runs between the bytes to
    /// escape are written as whole words (the buffer has room past them, and what lands beyond
    /// a run is written over next), so a body with a quote every few bytes and one with none (a
    /// long run of numbers) both go fast.
    pub fn escaped(&mut self, s: &str) {
        // Batches of input whose output surely fits the buffer, written through locals (the
        // buffer and its length in registers).
        const BATCH: usize = 256;
        for batch in s.as_bytes().chunks(BATCH) {
            if self.len + 6 * BATCH + 8 > BUF {
                self.flush();
            }
            let buf = &mut self.buf;
            let mut len = self.len;
            let mut sixteens = batch.chunks_exact(16);
            for chunk in &mut sixteens {
                if !any_to_escape_16(chunk) {
                    buf[len..len + 16].copy_from_slice(chunk);
                    len += 16;
                    continue;
                }
                len = escaped_word(buf, len, word_at(chunk, 0));
                len = escaped_word(buf, len, word_at(chunk, 8));
            }
            let mut words = sixteens.remainder().chunks_exact(8);
            for chunk in &mut words {
                len = escaped_word(buf, len, word_at(chunk, 0));
            }
            for &b in words.remainder() {
                len = escaped_byte(buf, len, b);
            }
            self.len = len;
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

/// The eight bytes of `bytes` at `at`, as a little-endian word.
#[inline(always)]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"))
}

/// Writes the eight bytes of `word` (little-endian) escaped at `len` (with room for 48 and
/// eight more there); the new length.
#[inline(always)]
fn escaped_word(buf: &mut [u8; BUF], mut len: usize, word: u64) -> usize {
    if !any_to_escape(word) {
        buf[len..len + 8].copy_from_slice(&word.to_le_bytes());
        return len + 8;
    }
    let mut specials = bytes_to_escape(word);
    // Bit offset of the first byte not written yet.
    let mut from = 0;
    while specials != 0 {
        // The special byte's bit offset (its mask bit is its top bit).
        let at = specials.trailing_zeros() - 7;
        buf[len..len + 8].copy_from_slice(&(word >> from).to_le_bytes());
        len += (at - from) as usize / 8;
        // Mostly a quote (a body's keys and strings), written at once.
        len = match (word >> at) as u8 {
            b'"' => {
                buf[len..len + 2].copy_from_slice(b"\\\"");
                len + 2
            }
            b => escaped_byte(buf, len, b),
        };
        from = at + 8;
        specials &= specials - 1;
    }
    if from < 64 {
        buf[len..len + 8].copy_from_slice(&(word >> from).to_le_bytes());
        len += (64 - from) as usize / 8;
    }
    len
}

/// Whether any of the sixteen bytes of `chunk` is escaped (see [`bytes_to_escape`]), with
/// SSE2: one comparison of the sixteen bytes per kind.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn any_to_escape_16(chunk: &[u8]) -> bool {
    use std::arch::x86_64::*;
    assert_eq!(chunk.len(), 16);
    // SAFETY: the sixteen bytes are readable (asserted); SSE2 is there (cfg).
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        let splat = |b: u8| _mm_set1_epi8(b as i8);
        // Unsigned: a byte is below 0x20 when it is its own minimum with 0x1f.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(v, splat(0x1f)), v);
        let quote = _mm_cmpeq_epi8(v, splat(b'"'));
        let backslash = _mm_cmpeq_epi8(v, splat(b'\\'));
        _mm_movemask_epi8(_mm_or_si128(control, _mm_or_si128(quote, backslash))) != 0
    }
}

/// [`any_to_escape_16`] a word at a time, elsewhere.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn any_to_escape_16(chunk: &[u8]) -> bool {
    any_to_escape(word_at(chunk, 0)) || any_to_escape(word_at(chunk, 8))
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

/// The number of decimal digits of `n` (above 0): from its bit length, then one comparison.
#[inline]
fn digits(n: u64) -> usize {
    const POWERS: [u64; 20] = {
        let mut p = [1u64; 20];
        let mut i = 1;
        while i < 20 {
            p[i] = p[i - 1] * 10;
            i += 1;
        }
        p
    };
    let bits = 64 - n.leading_zeros() as usize;
    // bits * log10(2), rounded down: the digits, or one fewer.
    let guess = (bits * 1233) >> 12;
    guess + usize::from(n >= POWERS[guess])
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

/// Whether any byte of `w` is escaped (see [`bytes_to_escape`]): the cheaper forms of the
/// tests, exact for the word as a whole (not for which byte).
#[inline]
fn any_to_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x;
    let quote = zero(w ^ (ONES * u64::from(b'"')));
    let backslash = zero(w ^ (ONES * u64::from(b'\\')));
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    (quote | backslash | control) & HIGH != 0
}

/// The top bit of each byte of `w` that is escaped (a quote, a backslash or a control
/// character), exactly: the classic word tests for a zero byte (of `w` xor the byte wanted)
/// and for a byte below a bound, in the forms without borrows between bytes.
#[inline]
fn bytes_to_escape(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| !(((x & LOW7) + LOW7) | x) & HIGH;
    let quote = zero(w ^ (ONES * u64::from(b'"')));
    let backslash = zero(w ^ (ONES * u64::from(b'\\')));
    let control = !(((w & LOW7) + ONES * 0x60) | w) & HIGH;
    quote | backslash | control
}

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

    /// The exact mask marks the bytes to escape, and only them; the quick test sees whether
    /// there is one.
    #[test]
    fn masks_mark_exactly_the_bytes_to_escape() {
        for b in 0..=255u8 {
            for at in 0..8 {
                for fill in [b'a', 0x7f, 0x80, 0xff, b'"', 0x1f] {
                    let mut word = [fill; 8];
                    word[at] = b;
                    let mask = bytes_to_escape(u64::from_le_bytes(word));
                    for (i, &x) in word.iter().enumerate() {
                        let wanted = ESCAPE[usize::from(x)] != 0;
                        assert_eq!(mask >> (i * 8 + 7) & 1 == 1, wanted, "{word:?} {i}");
                    }
                    assert_eq!(mask & !0x8080_8080_8080_8080, 0);
                    assert_eq!(any_to_escape(u64::from_le_bytes(word)), mask != 0);
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
        for n in &numbers {
            assert_eq!(written(|j| j.u64(*n)), n.to_string());
            assert_eq!(digits((*n).max(1)), (*n).max(1).to_string().len());
        }
        let all = written(|j| {
            for _ in 0..100 {
                j.array(&numbers, |j, &n| j.u64(n));
            }
        });
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
