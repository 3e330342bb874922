//! The wire check's first lane: a line in the plain form nodes write, read by hand.
//!
//! `{"src":..,"dest":..,"body":{..}}` (any key order, whitespace anywhere JSON allows it)
//! whose strings are printable ASCII without escapes, whose numbers are integers of at most 19
//! digits, and whose nesting is at most [`MAX_NESTING`] deep. Such a line is valid JSON that
//! both modes of the serde-based check read the same way, so its envelope is exactly theirs;
//! anything else (a top-level `id`, an escape, a float, a bad line) is left to them (`None`),
//! which is also where every diagnostic comes from. Skipping serde here matters: every line a
//! node writes passes through this, and a broadcast read's reply holds the whole set: such
//! compact arrays of integers are checked by `workloads::reply::uint_array`, eight bytes at a
//! time (anything unusual in them falls back to the loop here).

use std::borrow::Cow;

use super::{WireBody, WireEnvelope};
use crate::net::Addr;
use crate::workloads::reply::uint_array;

/// Deeper lines go to serde (whose exact mode refuses more than a thousand levels).
const MAX_NESTING: usize = 64;

/// The envelope of a plain line, or `None` to let serde read it.
pub(super) fn read(line: &[u8], node_count: usize) -> Option<WireEnvelope<'_>> {
    let mut p = Cursor { text: line, i: 0 };
    p.ws();
    p.eat(b'{')?;
    p.ws();
    let (mut src, mut dest, mut body) = (None, None, None);
    loop {
        let key = p.string_bytes()?;
        p.ws();
        p.eat(b':')?;
        p.ws();
        match key {
            b"src" if src.is_none() => src = Some(p.string()?),
            b"dest" if dest.is_none() => dest = Some(p.string()?),
            b"body" if body.is_none() => {
                let to_node = dest
                    .and_then(|d| Addr::parse(d, node_count))
                    .is_some_and(|d| matches!(d, Addr::Node(_)));
                let start = p.i;
                if p.peek() != Some(b'{') {
                    return None;
                }
                p.value(0)?;
                body = Some(WireBody::Raw {
                    text: line[start..p.i].into(),
                    parsed_in_exact_mode: !to_node,
                });
            }
            _ => return None,
        }
        p.ws();
        match p.next()? {
            b',' => p.ws(),
            b'}' => break,
            _ => return None,
        }
    }
    p.ws();
    if p.i != line.len() {
        return None;
    }
    Some(WireEnvelope {
        src: Cow::Borrowed(src?),
        dest: Cow::Borrowed(dest?),
        body: body?,
        id: None,
    })
}

struct Cursor<'a> {
    text: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.next()? == b).then_some(())
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// A string of printable ASCII without escapes; its contents.
    fn string(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.string_bytes()?).ok()
    }

    /// [`Cursor::string`] as bytes (printable ASCII).
    fn string_bytes(&mut self) -> Option<&'a [u8]> {
        let start = self.i + 1;
        self.skip_string()?;
        Some(&self.text[start..self.i - 1])
    }

    /// Skips a string of printable ASCII without escapes (strings are short: one loop).
    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        let (text, mut i) = (self.text, self.i);
        while i < text.len() {
            match text[i] {
                b'"' => {
                    self.i = i + 1;
                    return Some(());
                }
                b'\\' | 0..=0x1f | 0x7f..=0xff => return None,
                _ => i += 1,
            }
        }
        None
    }

    /// An integer of at most 19 digits, without fraction or exponent.
    fn integer(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let (text, start) = (self.text, self.i);
        let mut i = start;
        while i < text.len() && text[i].is_ascii_digit() {
            i += 1;
        }
        let digits = i - start;
        if digits == 0 || digits > 19 || (text[start] == b'0' && digits > 1) {
            return None;
        }
        self.i = i;
        match text.get(i) {
            Some(b'.' | b'e' | b'E') => None,
            _ => Some(()),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if !self.text[self.i..].starts_with(word) {
            return None;
        }
        self.i += word.len();
        Some(())
    }

    /// Any plain value (see the module's documentation).
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'{' => {
                if depth >= MAX_NESTING {
                    return None;
                }
                self.i += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.skip_string()?;
                    self.ws();
                    self.eat(b':')?;
                    self.ws();
                    self.value(depth + 1)?;
                    self.ws();
                    match self.next()? {
                        b',' => self.ws(),
                        b'}' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b'[' => {
                if depth >= MAX_NESTING {
                    return None;
                }
                // The compact arrays of integers nodes write (a broadcast read's whole set):
                // eight bytes at a time.
                if let Some(end) = uint_array::scan(self.text, self.i, |_, _| {}) {
                    self.i = end;
                    return Some(());
                }
                self.i += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    // Arrays of integers are the bulk (a broadcast read): straight to them.
                    if self.peek()?.is_ascii_digit() {
                        self.integer()?;
                    } else {
                        self.value(depth + 1)?;
                    }
                    match self.next()? {
                        b',' => self.ws(),
                        b']' => return Some(()),
                        b' ' | b'\t' | b'\n' | b'\r' => {
                            self.ws();
                            match self.next()? {
                                b',' => self.ws(),
                                b']' => return Some(()),
                                _ => return None,
                            }
                        }
                        _ => return None,
                    }
                }
            }
            b'"' => self.skip_string(),
            b'-' | b'0'..=b'9' => self.integer(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_are_read_as_serde_reads_them() {
        let lines = [
            r#"{"src":"n0","dest":"n1","body":{"type":"gossip","m":[1,-2,0],"x":{"a":[true,false,null]}}}"#,
            r#" { "dest" : "c3" , "src" : "n1" , "body" : { "type" : "read_ok" , "messages" : [ ] } } "#,
            r#"{"body":{"in_reply_to":1},"src":"n0","dest":"n2"}"#,
            r#"{"src":"n0","dest":"lin-kv","body":{}}"#,
        ];
        for line in lines {
            let plain = read(line.as_bytes(), 3).unwrap();
            let exact = super::super::parse_envelope_exactly(line.as_bytes(), 3).unwrap();
            assert_eq!(
                (&plain.src, &plain.dest),
                (&exact.src, &exact.dest),
                "{line}"
            );
            let WireBody::Raw {
                text,
                parsed_in_exact_mode,
            } = plain.body
            else {
                panic!("{line}")
            };
            match exact.body {
                WireBody::Raw { text: t, .. } => {
                    assert!(!parsed_in_exact_mode);
                    assert_eq!(text, t, "{line}");
                }
                WireBody::Parsed(v) => {
                    assert!(parsed_in_exact_mode);
                    assert_eq!(crate::net::parse_value(&text).unwrap(), v, "{line}");
                }
            }
        }
    }

    #[test]
    fn anything_else_is_left_to_serde() {
        let deep = format!(
            r#"{{"src":"n0","dest":"n1","body":{{"a":{}{}}}}}"#,
            "[".repeat(70),
            "]".repeat(70)
        );
        for line in [
            r#"{"src":"n0","dest":"n1","body":{"a":1.5}}"#,
            r#"{"src":"n0","dest":"n1","body":{"a":1e5}}"#,
            r#"{"src":"n0","dest":"n1","body":{"a":"\n"}}"#,
            r#"{"src":"n0","dest":"n1","body":{"a":"é"}}"#,
            r#"{"src":"n0","dest":"n1","body":{"a":12345678901234567890}}"#,
            r#"{"src":"n0","dest":"n1","body":{"a":01}}"#,
            r#"{"src":"n0","dest":"n1","body":{"a":[1,]}}"#,
            r#"{"src":"n0","dest":"n1","body":{"a":1},"id":3}"#,
            r#"{"src":"n0","dest":"n1","src":"n0","body":{}}"#,
            r#"{"src":"n0","dest":"n1","body":null}"#,
            r#"{"src":"n0","dest":"n1"}"#,
            r#"{"src":"n0","dest":"n1","body":{}} x"#,
            r#"{"src":"n0","dest":"n1","body":{"a":tru}}"#,
            deep.as_str(),
        ] {
            assert!(read(line.as_bytes(), 3).is_none(), "{line}");
        }
    }
}
