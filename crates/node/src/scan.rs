//! The fast path of reading a message: one validating pass over the line that finds the
//! envelope's `src`, `dest` and `body` and the body's reserved fields (`type`, `msg_id`,
//! `in_reply_to`), borrowing everything from the line.
//!
//! It accepts only the plain shape every well-behaved peer writes: the whole line valid JSON,
//! an object with `src` and `dest` strings and an object `body`, each once; `type` a string or
//! `null`, `msg_id` and `in_reply_to` non-negative integers or `null`; keys and those strings
//! without escapes. Anything else (an escape, a duplicate, a float `msg_id`, deep nesting, any
//! syntax error) returns `None` and the engine takes its serde path, which either reads the
//! line the same way or explains what is wrong with it. So the scanner may be stricter than
//! serde_json, never more lenient, and it never has to produce a diagnostic.
//!
//! The body's other fields are only skipped (brackets and strings matched, nothing
//! validated): a hand-written request reader ([`crate::BodyReader`]) walks the body again
//! anyway and validates what it reads, so checking it here as well would read every body
//! twice. [`Scanned::body_checked`] says whether the body still needs [`valid_body`] before
//! anything else relies on it being valid JSON (see the engine's dispatch).

/// What [`scan`] found: the envelope and the body's reserved fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scanned<'a> {
    pub(crate) src: &'a str,
    pub(crate) dest: &'a str,
    /// The body object, exactly as it appears in the line.
    pub(crate) body: &'a str,
    pub(crate) ty: Option<&'a str>,
    pub(crate) msg_id: Option<u64>,
    pub(crate) in_reply_to: Option<u64>,
    /// The body was validated (every field), not only skipped past.
    pub(crate) body_checked: bool,
}

/// Nesting deeper than this is left to serde_json (which limits recursion itself).
pub(crate) const MAX_DEPTH: u32 = 100;

/// Reads a message line in one pass; `None` when the line is not of the plain shape (see the
/// module docs), and the caller must parse it the careful way.
pub(crate) fn scan(text: &str) -> Option<Scanned<'_>> {
    let mut s = Scanner::new(text);
    s.ws();
    s.eat(b'{')?;
    let (mut src, mut dest, mut body) = (None, None, None);
    let mut header = Header::default();
    let mut body_checked = true;
    loop {
        s.ws();
        let key = s.plain_str()?;
        s.ws();
        s.eat(b':')?;
        s.ws();
        match key {
            "src" if src.is_none() => src = Some(s.plain_str()?),
            "dest" if dest.is_none() => dest = Some(s.plain_str()?),
            "body" if body.is_none() => {
                let start = s.i;
                (header, body_checked) = s.body()?;
                body = Some(&text[start..s.i]);
            }
            "src" | "dest" | "body" => return None,
            _ => s.skip_value(1)?,
        }
        s.ws();
        match s.next()? {
            b',' => continue,
            b'}' => break,
            _ => return None,
        }
    }
    s.ws();
    if s.i != s.b.len() {
        return None;
    }
    Some(Scanned {
        src: src?,
        dest: dest?,
        body: body?,
        ty: header.ty,
        msg_id: header.msg_id,
        in_reply_to: header.in_reply_to,
        body_checked,
    })
}

/// A request line read only up to its body ([`scan_request`]): the body is left for the
/// node's hand reader to walk, once, and the engine checks afterwards (with what the reader
/// saw of the body's top-level keys, [`crate::BodyReader`]'s `request_header`) that the line
/// is what [`scan`] would have read, or reads it again with [`scan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unscanned<'a> {
    pub(crate) src: &'a str,
    pub(crate) dest: &'a str,
    /// Everything between `"body":` and the line's closing brace (whitespace trimmed): the
    /// body if it is the envelope's last member, which the reader's walk confirms.
    pub(crate) body: &'a str,
    /// The body's `type`, found without walking the body: its first or last member.
    pub(crate) ty: &'a str,
    /// Where the `type` value starts in `body` (its opening quote).
    pub(crate) ty_at: usize,
}

/// Reads the envelope of a line up to the body (`src` and `dest` must come before it) and
/// finds the body's `type` at either end of it; `None` when that is not the shape (the
/// caller then takes [`scan`]). Nothing here is checked past the start of the body.
pub(crate) fn scan_request(text: &str) -> Option<Unscanned<'_>> {
    let mut s = Scanner::new(text);
    let (mut src, mut dest) = (None, None);
    // The shape Maelstrom and the simulator write, `{"id":..,"src":..,"dest":..,"body":`,
    // matched without reading its keys; anything else by the general loop.
    if s.eat_all(b"{\"id\":").is_some() {
        s.skip_id()?;
        s.eat_all(b",\"src\":")?;
        src = Some(s.plain_str()?);
        s.eat_all(b",\"dest\":")?;
        dest = Some(s.plain_str()?);
        s.eat_all(b",\"body\":")?;
    } else {
        s.ws();
        s.eat(b'{')?;
        envelope_until_body(&mut s, &mut src, &mut dest)?;
    }
    let b = s.b;
    let start = s.i;
    // The envelope's closing brace, then the body's: the line's last bytes, as peers write
    // it, or found past whitespace.
    let end = match b.len().checked_sub(2) {
        Some(end) if end >= start && b[end..] == *b"}}" => end + 1,
        _ => body_end(b, start)?,
    };
    if end < start + 2 || b[start] != b'{' {
        return None;
    }
    let body = text.get(start..end)?;
    let (ty, ty_at) = end_type(body)?;
    Some(Unscanned {
        src: src?,
        dest: dest?,
        body,
        ty,
        ty_at,
    })
}

/// Where the body that starts at `start` ends (after its closing brace) when the envelope's
/// closing brace ends the line, whitespace aside.
fn body_end(b: &[u8], start: usize) -> Option<usize> {
    let is_ws = |c: u8| matches!(c, b' ' | b'\n' | b'\t' | b'\r');
    let mut end = b.len();
    while end > start && is_ws(b[end - 1]) {
        end -= 1;
    }
    if end <= start || b[end - 1] != b'}' {
        return None;
    }
    end -= 1;
    while end > start && is_ws(b[end - 1]) {
        end -= 1;
    }
    (end > start && b[end - 1] == b'}').then_some(end)
}

/// The envelope's members up to `"body":` (the cursor after its colon and whitespace).
fn envelope_until_body<'a>(
    s: &mut Scanner<'a>,
    src: &mut Option<&'a str>,
    dest: &mut Option<&'a str>,
) -> Option<()> {
    loop {
        s.ws();
        let key = s.plain_str()?;
        s.ws();
        s.eat(b':')?;
        s.ws();
        match key {
            "src" if src.is_none() => *src = Some(s.plain_str()?),
            "dest" if dest.is_none() => *dest = Some(s.plain_str()?),
            "body" => return Some(()),
            "src" | "dest" => return None,
            _ => s.skip_value(1)?,
        }
        s.ws();
        s.eat(b',')?;
    }
}

/// The plain string `type` of an object written `{"type":"..",..}` or `{..,"type":".."}`,
/// and where its value starts; only a guess until a walk of the object confirms it.
fn end_type(body: &str) -> Option<(&str, usize)> {
    const KEY: &[u8] = b"\"type\":";
    let b = body.as_bytes();
    if b.get(1..1 + KEY.len()) == Some(KEY) {
        let at = 1 + KEY.len();
        let mut s = Scanner::new(body);
        s.i = at;
        let ty = s.plain_str()?;
        return matches!(s.peek()?, b',' | b'}').then_some((ty, at));
    }
    // `"}` at the end: the value's quotes, the key before them, `{` or `,` before that.
    let close = b.len().checked_sub(2)?;
    if b[close] != b'"' {
        return None;
    }
    // Back to the opening quote, in one plain loop (types are short) that also checks that
    // the type needs no escape (no other byte that ends a string run on the way).
    let mut open = close;
    loop {
        open = open.checked_sub(1)?;
        match b[open] {
            b'"' => break,
            c if ENDS_STRING_RUN[usize::from(c)] => return None,
            _ => {}
        }
    }
    let ty = body.get(open + 1..close)?;
    let before = &b[..open];
    let keyed = before.ends_with(KEY)
        && matches!(
            before.len().checked_sub(KEY.len() + 1).map(|i| b[i]),
            Some(b'{' | b',')
        );
    keyed.then_some((ty, open))
}

/// The reserved fields (`type`, `msg_id`, `in_reply_to`) of `body`, a JSON object, as [`scan`]
/// reads them; `None` where [`scan`] would refuse them.
pub(crate) fn body_header(body: &str) -> Option<(Option<&str>, Option<u64>, Option<u64>)> {
    let (header, _) = Scanner::new(body).body()?;
    Some((header.ty, header.msg_id, header.in_reply_to))
}

/// Whether `body`, a JSON object delimited by [`scan`] (which only skipped its fields), is
/// valid: as strict as the validating scan, with the same depth limit.
pub(crate) fn valid_body(body: &str) -> bool {
    let mut s = Scanner::new(body);
    s.skip_value(1).is_some() && s.i == s.b.len()
}

#[derive(Default)]
struct Header<'a> {
    ty: Option<&'a str>,
    msg_id: Option<u64>,
    in_reply_to: Option<u64>,
}

/// A cursor over JSON text; its primitives also serve [`crate::read::BodyReader`].
pub(crate) struct Scanner<'a> {
    pub(crate) text: &'a str,
    pub(crate) b: &'a [u8],
    pub(crate) i: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Scanner {
            text,
            b: text.as_bytes(),
            i: 0,
        }
    }

    #[inline]
    pub(crate) fn ws(&mut self) {
        // Peers rarely write whitespace: one comparison settles the usual case.
        if self.b.get(self.i).is_some_and(|&c| c > b' ') {
            return;
        }
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    pub(crate) fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }

    #[inline]
    pub(crate) fn eat(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    pub(crate) fn eat_all(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// A string without escapes or control characters, borrowed from the line (quotes
    /// excluded).
    #[inline]
    pub(crate) fn plain_str(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        self.i += string_run(&self.b[start..]);
        match self.next()? {
            b'"' => Some(&self.text[start..self.i - 1]),
            _ => None,
        }
    }

    /// The body object; records its reserved fields and skips the rest: whether it validated
    /// them too (only the reserved fields) or only found where they end.
    fn body(&mut self) -> Option<(Header<'a>, bool)> {
        let mut header = Header::default();
        let mut checked = true;
        let (mut seen_ty, mut seen_msg_id, mut seen_in_reply_to) = (false, false, false);
        self.eat(b'{')?;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some((header, checked));
        }
        loop {
            self.ws();
            let key = self.plain_str()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            match key {
                "type" => {
                    if std::mem::replace(&mut seen_ty, true) {
                        return None;
                    }
                    header.ty = match self.peek()? {
                        b'n' => self.eat_all(b"null").map(|()| None)?,
                        _ => Some(self.plain_str()?),
                    };
                }
                "msg_id" => {
                    if std::mem::replace(&mut seen_msg_id, true) {
                        return None;
                    }
                    header.msg_id = self.optional_u64()?;
                }
                "in_reply_to" => {
                    if std::mem::replace(&mut seen_in_reply_to, true) {
                        return None;
                    }
                    header.in_reply_to = self.optional_u64()?;
                }
                _ => {
                    self.skip_unchecked()?;
                    checked = false;
                }
            }
            self.ws();
            match self.next()? {
                b',' => continue,
                b'}' => return Some((header, checked)),
                _ => return None,
            }
        }
    }

    /// `null`, or a non-negative integer that fits a `u64` (no fraction, no exponent).
    pub(crate) fn optional_u64(&mut self) -> Option<Option<u64>> {
        if self.peek()? == b'n' {
            self.eat_all(b"null")?;
            return Some(None);
        }
        let first = self.next()?;
        if !first.is_ascii_digit() {
            return None;
        }
        let mut n = u64::from(first - b'0');
        if first != b'0' {
            while let Some(d @ b'0'..=b'9') = self.peek() {
                n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
                self.i += 1;
            }
        }
        match self.peek() {
            Some(b'0'..=b'9' | b'.' | b'e' | b'E') => None,
            _ => Some(Some(n)),
        }
    }

    /// Skips the envelope's `id` (any value; a plain integer followed by `,` without a call).
    #[inline]
    fn skip_id(&mut self) -> Option<()> {
        let rest = &self.b[self.i..];
        let digits = rest
            .iter()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits > 0 && (rest[0] != b'0' || digits == 1) && rest.get(digits) == Some(&b',') {
            self.i += digits;
            return Some(());
        }
        self.skip_value(1)
    }

    /// Validates and skips one JSON value (strictly as RFC 8259 has it).
    pub(crate) fn skip_value(&mut self, depth: u32) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_str(),
            b'{' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                self.ws();
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.ws();
                    self.skip_str()?;
                    self.ws();
                    self.eat(b':')?;
                    self.ws();
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.next()? {
                        b',' => continue,
                        b'}' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.ws();
                    // Arrays of plain integers (`[1,22,333]`) are most of what peers send: skip
                    // such an element and its separator in one tight loop, and leave anything
                    // else (signs, fractions, whitespace) to the general path.
                    if let Some(b'1'..=b'9') = self.peek() {
                        let digits = self.b[self.i..]
                            .iter()
                            .position(|b| !b.is_ascii_digit())
                            .unwrap_or(self.b.len() - self.i);
                        match self.b.get(self.i + digits) {
                            Some(b',') => {
                                self.i += digits + 1;
                                continue;
                            }
                            Some(b']') => {
                                self.i += digits + 1;
                                return Some(());
                            }
                            _ => {}
                        }
                    }
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.next()? {
                        b',' => continue,
                        b']' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b't' => self.eat_all(b"true"),
            b'f' => self.eat_all(b"false"),
            b'n' => self.eat_all(b"null"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => None,
        }
    }

    /// Skips one value without validating it: where a valid value ends is found exactly
    /// (strings and brackets matched); on invalid text it stops anywhere, or gives `None`.
    fn skip_unchecked(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_str_unchecked(),
            b'{' | b'[' => {
                let mut depth = 0u32;
                loop {
                    self.i += structure_run(&self.b[self.i..]);
                    match self.peek()? {
                        b'"' => self.skip_str_unchecked()?,
                        b'{' | b'[' => {
                            depth += 1;
                            self.i += 1;
                        }
                        _ => {
                            // `}` or `]`
                            self.i += 1;
                            depth -= 1;
                            if depth == 0 {
                                return Some(());
                            }
                        }
                    }
                }
            }
            _ => {
                // A number, `true`, `false` or `null`: up to the next separator.
                let run = self.b[self.i..]
                    .iter()
                    .position(|&c| matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\t' | b'\r'))
                    .unwrap_or(self.b.len() - self.i);
                (run > 0).then(|| self.i += run)
            }
        }
    }

    /// Skips a string (at its opening quote) without checking its escapes.
    #[inline]
    fn skip_str_unchecked(&mut self) -> Option<()> {
        self.i += 1;
        loop {
            self.i += string_run(&self.b[self.i..]);
            match self.next()? {
                b'"' => return Some(()),
                b'\\' => self.i += 1,
                _ => {}
            }
        }
    }

    fn skip_str(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            self.i += string_run(&self.b[self.i..]);
            match self.next()? {
                b'"' => return Some(()),
                b'\\' => match self.next()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    b'u' => {
                        let hex = self.b.get(self.i..self.i + 4)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        self.i += 4;
                    }
                    _ => return None,
                },
                b if b < 0x20 => return None,
                _ => {}
            }
        }
    }

    fn skip_digits(&mut self) -> Option<()> {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        (self.i > start).then_some(())
    }

    fn skip_number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => {
                while let Some(b'0'..=b'9') = self.peek() {
                    self.i += 1;
                }
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.skip_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.skip_digits()?;
        }
        Some(())
    }
}

/// How many bytes at the start of `b` may stand inside a string as they are: everything up to
/// the first quote, backslash or control character (or the end), found in one tight loop.
#[inline]
pub(crate) fn string_run(b: &[u8]) -> usize {
    b.iter()
        .position(|&c| ENDS_STRING_RUN[usize::from(c)])
        .unwrap_or(b.len())
}

/// How many bytes at the start of `b` are neither a quote nor a bracket.
#[inline]
fn structure_run(b: &[u8]) -> usize {
    b.iter()
        .position(|&c| ENDS_STRUCTURE_RUN[usize::from(c)])
        .unwrap_or(b.len())
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
    use crate::protocol::{Envelope, Header as SerdeHeader};

    /// (src, dest, body, type, msg_id, in_reply_to), owned.
    type Reading = (
        String,
        String,
        String,
        Option<String>,
        Option<u64>,
        Option<u64>,
    );

    /// What the serde path reads from `line`, in the scanner's terms (`None` if it fails or
    /// would need owned strings).
    fn serde_reading(line: &str) -> Option<Reading> {
        let env: Envelope = serde_json::from_str(line).ok()?;
        let header: SerdeHeader = serde_json::from_str(env.body.get()).ok()?;
        Some((
            env.src.into_owned(),
            env.dest.into_owned(),
            env.body.get().to_string(),
            header.ty.map(|t| t.into_owned()),
            header.msg_id,
            header.in_reply_to,
        ))
    }

    /// What the scanner reads from `line`, its body validated afterwards when it was only
    /// skipped (as the engine does before relying on it).
    fn scanned(line: &str) -> Option<Reading> {
        let read = scan(line).filter(|s| s.body_checked || valid_body(s.body));
        read.map(|s| {
            (
                s.src.to_string(),
                s.dest.to_string(),
                s.body.to_string(),
                s.ty.map(str::to_string),
                s.msg_id,
                s.in_reply_to,
            )
        })
    }

    #[test]
    fn plain_lines_read_as_serde_reads_them() {
        for line in [
            r#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":1,"echo":"hi"}}"#,
            r#" { "id" : 7 , "src" : "c1" , "dest" : "n1" , "body" : { "msg_id" : 0 , "type" : "read" } } "#,
            r#"{"body":{"in_reply_to":18446744073709551615,"type":"read_ok","value":[1,-2.5e+3,{"a":[true,false,null]},"\u00e9\n"]},"dest":"n1","src":"n2"}"#,
            r#"{"src":"c1","dest":"n1","body":{}}"#,
            r#"{"src":"c1","dest":"n1","body":{"v":[1,22,333,4.5,6e2,-7, 8 ,[9,10],0,11]}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":null,"msg_id":null,"in_reply_to":null}}"#,
            r#"{"src":"c1","dest":"n1","extra":{"x":[[],{}]},"body":{"type":"é 🦀","x":0.5E-7}}"#,
            r#"{"src":"c1","dest":"n1","body":{"s":"]}\"[{\\","v":[{"a":"}"},[]],"type":"x","w":true}}"#,
            r#"{"src":"c1","dest":"n1","body":{"n":-1.5e3 ,"type":"x", "m":null}}"#,
        ] {
            let got = scanned(line);
            assert!(got.is_some(), "scanner refused {line}");
            assert_eq!(got, serde_reading(line), "{line}");
        }
    }

    #[test]
    fn anything_unusual_is_left_to_serde() {
        for line in [
            // Not the plain shape, though serde may read it.
            r#"{"src":"c\"1","dest":"n1","body":{"type":"x"}}"#,
            r#"{"src":"c1","dest":"n1","body":{"ty\u0070e":"x"}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"x","msg_id":-0}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"x","msg_id":1.0}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"x","msg_id":18446744073709551616}}"#,
            r#"{"src":"c1","dest":"n1","body":[1]}"#,
            // Broken.
            r#"{"src":"c1","dest":"n1","body":{"type":"x","type":"y"}}"#,
            r#"{"src":"c1","src":"c2","dest":"n1","body":{}}"#,
            r#"{"src":"c1","dest":"n1"}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":5}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"x","v":[1,]}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"x","v":01}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"x","v":[12,]}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"x","v":[12 3]}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"x","v":[12,3"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"x","v":[1]]}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"x","v":1.}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"x","v":"\x"}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"x","v":"\u12"}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"x","v":tru}}"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"x"}} x"#,
            r#"{"src":"c1","dest":"n1","body":{"type":"x"},}"#,
            "{\"src\":\"c1\",\"dest\":\"n1\",\"body\":{\"type\":\"a\tb\"}}",
            r#"{"src":"c1","dest":"n1","body":{"type":"x""#,
            "",
        ] {
            assert_eq!(scanned(line), None, "{line}");
        }
        let deep = format!(
            r#"{{"src":"c1","dest":"n1","body":{{"v":{}1{}}}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert_eq!(scanned(&deep), None);
    }
}
