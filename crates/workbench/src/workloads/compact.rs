//! A cursor over compact JSON text (no whitespace), for the workloads that read a reply's
//! value straight into the typed value the history keeps (kafka's polled messages, a
//! transaction's micro-ops, see [`crate::history::OpValue`]) without going through serde's
//! parser.
//!
//! It only ever accepts the plain shapes nodes write: non-negative integers that fit an
//! `i64`, `null`, strings without escapes, brackets and separators without whitespace. Any
//! other text makes a read return `None`, and the caller leaves the reply to the map's way,
//! which parses it with serde and judges it as always: so a value read here is the value
//! serde would have parsed from the same text.

/// Reads compact JSON text from the front.
pub struct Compact<'a> {
    text: &'a [u8],
    at: usize,
}

impl<'a> Compact<'a> {
    pub fn new(text: &'a [u8]) -> Compact<'a> {
        Compact { text, at: 0 }
    }

    /// The next byte, without taking it.
    #[inline]
    pub fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    /// Takes `byte` if it comes next.
    #[inline]
    pub fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Takes `literal` if it comes next.
    #[inline]
    pub fn eat_literal(&mut self, literal: &[u8]) -> bool {
        let found = self.text[self.at..].starts_with(literal);
        if found {
            self.at += literal.len();
        }
        found
    }

    /// Whether the whole text was read.
    pub fn at_end(&self) -> bool {
        self.at == self.text.len()
    }

    /// A non-negative integer no larger than `i64::MAX` (so `Value::as_u64` and
    /// `Value::as_i64` both read it as this number); `None` for anything else (a sign, a
    /// fraction, an exponent or more digits are left to serde).
    // Always inlined: called once or twice per micro-op or message, and small.
    #[inline(always)]
    pub fn int(&mut self) -> Option<u64> {
        let rest = &self.text[self.at..];
        let mut n: u64 = 0;
        let mut digits = 0;
        while let Some(&b) = rest.get(digits) {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            // 19 digits never overflow a u64; a 20th is past i64::MAX.
            if digits == 19 {
                return None;
            }
            n = n * 10 + u64::from(d);
            digits += 1;
        }
        if digits == 0 || (digits > 1 && rest[0] == b'0') {
            return None;
        }
        if matches!(rest.get(digits), Some(b'.' | b'e' | b'E')) || n > i64::MAX as u64 {
            return None;
        }
        self.at += digits;
        Some(n)
    }

    /// A string without escapes, as its text between the quotes.
    pub fn plain_str(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let len = memchr::memchr2(b'"', b'\\', &self.text[start..])?;
        if self.text[start + len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        std::str::from_utf8(&self.text[start..start + len]).ok()
    }

    /// `[i, j, ...]` of plain integers (see [`Compact::int`]).
    pub fn int_array(&mut self) -> Option<Vec<i64>> {
        self.eat(b'[')?;
        let mut items = Vec::new();
        if self.eat(b']').is_some() {
            return Some(items);
        }
        loop {
            items.push(self.int()? as i64);
            if self.eat(b',').is_none() {
                self.eat(b']')?;
                return Some(items);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_read_only_when_serde_would_read_the_same_number() {
        for (text, expected) in [
            ("0", Some(0)),
            ("17", Some(17)),
            ("9223372036854775807", Some(i64::MAX as u64)),
            ("9223372036854775808", None),
            ("10000000000000000000", None),
            ("00", None),
            ("07", None),
            ("12,", Some(12)),
            ("99999999999999999999999", None),
            ("-1", None),
            ("1.5", None),
            ("1e3", None),
            ("", None),
        ] {
            assert_eq!(Compact::new(text.as_bytes()).int(), expected, "{text}");
        }
    }

    /// The digit-at-a-time reading [`Compact::int`] replaced: its result and where it leaves
    /// the cursor when it succeeds.
    fn int_simple(text: &[u8]) -> Option<(u64, usize)> {
        let mut at = 0;
        let mut n: u64 = 0;
        while let Some(d) = text
            .get(at)
            .map(|b| b.wrapping_sub(b'0'))
            .filter(|d| *d < 10)
        {
            n = n.checked_mul(10)?.checked_add(u64::from(d))?;
            at += 1;
        }
        let plain = at > 0 && (at == 1 || text[0] != b'0');
        let ends = !matches!(text.get(at), Some(b'.' | b'e' | b'E'));
        (plain && ends && n <= i64::MAX as u64).then_some((n, at))
    }

    #[test]
    fn integers_read_as_the_digit_at_a_time_reading_did() {
        use rand::{Rng, SeedableRng};
        let mut rng = crate::Rng::seed_from_u64(5);
        let alphabet = b"0123456789000999.eE,]-x";
        for _ in 0..50_000 {
            let len = rng.gen_range(0..25);
            let text: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                .collect();
            let mut c = Compact::new(&text);
            let fast = c.int().map(|n| (n, c.at));
            assert_eq!(
                fast,
                int_simple(&text),
                "{:?}",
                String::from_utf8_lossy(&text)
            );
        }
        for n in [0, 9, 10, i64::MAX as u64 - 1, i64::MAX as u64, u64::MAX] {
            for tail in ["", ",", ".", "e"] {
                let text = format!("{n}{tail}");
                let mut c = Compact::new(text.as_bytes());
                let fast = c.int().map(|n| (n, c.at));
                assert_eq!(fast, int_simple(text.as_bytes()), "{text}");
            }
        }
    }

    #[test]
    fn strings_with_escapes_are_left_to_serde() {
        assert_eq!(Compact::new(br#""ab","#).plain_str(), Some("ab"));
        assert_eq!(Compact::new(br#""a\"b""#).plain_str(), None);
        assert_eq!(Compact::new(br#""ab"#).plain_str(), None);
    }

    #[test]
    fn int_arrays_match_serde() {
        for text in ["[]", "[1]", "[1,2,30]"] {
            let read = Compact::new(text.as_bytes()).int_array();
            assert_eq!(read, Some(serde_json::from_str::<Vec<i64>>(text).unwrap()));
        }
        for text in ["[1,]", "[ 1]", "[1.0]", "[-1]", "[\"a\"]"] {
            assert_eq!(Compact::new(text.as_bytes()).int_array(), None, "{text}");
        }
    }
}
