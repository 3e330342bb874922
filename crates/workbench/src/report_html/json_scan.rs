//! Reading a few top-level fields of a journaled body without parsing all of it. A body was
//! checked to be valid JSON when the journal was read, so its fields can be found by skipping
//! strings and counting brackets, several times faster than a parse that looks at every value
//! (a read reply of a big run holds thousands). Anything unusual (an escaped key, a repeated
//! key, a value of the wrong kind) answers `None`, and the caller parses the body as before.

use crate::workloads::reply::as_u64;

/// The raw text of each named top-level field of `object` (`None` for an absent one), or
/// `None` when `object` is not an object or when a key has an escape or appears twice. Values
/// are skipped a word at a time ([`skip_value`]): a journal's bodies are most of its bytes.
#[inline]
pub fn top_level_fields<'a, const N: usize>(
    object: &'a str,
    names: [&str; N],
) -> Option<[Option<&'a str>; N]> {
    let bytes = object.as_bytes();
    let mut found: [Option<&'a str>; N] = [None; N];
    let mut at = skip_ws(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_ws(bytes, at + 1);
    if bytes.get(at) == Some(&b'}') {
        return Some(found);
    }
    loop {
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let (key_end, escaped) = skip_string_escaped(bytes, at + 1)?;
        // An escaped key: left to a parser.
        if escaped {
            return None;
        }
        let key = &bytes[at + 1..key_end - 1];
        at = skip_ws(bytes, key_end);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        let start = skip_ws(bytes, at + 1);
        let end = skip_value(bytes, start)?;
        for (slot, name) in names.iter().enumerate() {
            if name.len() == key.len() && name.as_bytes() == key {
                // A named key twice: left to a parser (the map keeps the last one).
                if found[slot].replace(object.get(start..end)?).is_some() {
                    return None;
                }
                break;
            }
        }
        at = skip_ws(bytes, end);
        match bytes.get(at) {
            Some(b',') => at = skip_ws(bytes, at + 1),
            Some(b'}') => return Some(found),
            _ => return None,
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The eight bytes of `bytes` from `at` as a word (first byte lowest), if there are eight.
fn word(bytes: &[u8], at: usize) -> Option<u64> {
    let eight = bytes.get(at..at + 8)?;
    Some(u64::from_le_bytes(eight.try_into().expect("eight bytes")))
}

/// High bits set at bytes of `w` equal to `b`: exactly at the first such byte, maybe at some
/// after it (a borrow), never before; so the lowest set bit of an `|` of these marks the first
/// byte equal to any of theirs.
fn equal_bytes(w: u64, b: u8) -> u64 {
    let x = w ^ (ONES * u64::from(b));
    x.wrapping_sub(ONES) & !x & HIGH
}

/// The index of the first of `a`, `b`, `c` in `bytes` from `at`: a word at a time nearby (most
/// strings and arrays of a body are short), by memchr past that (a read reply's long array).
fn find3(bytes: &[u8], mut at: usize, a: u8, b: u8, c: u8) -> Option<usize> {
    const NEAR: usize = 64;
    let near = at + NEAR;
    while at < near {
        let Some(w) = word(bytes, at) else {
            break;
        };
        let hits = equal_bytes(w, a) | equal_bytes(w, b) | equal_bytes(w, c);
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    Some(at + memchr::memchr3(a, b, c, bytes.get(at..)?)?)
}

/// From just after a string's opening quote: the index just past its closing quote.
fn skip_string_rest(bytes: &[u8], at: usize) -> Option<usize> {
    Some(skip_string_escaped(bytes, at)?.0)
}

/// [`skip_string_rest`], and whether the string holds an escape.
fn skip_string_escaped(bytes: &[u8], mut at: usize) -> Option<(usize, bool)> {
    let mut escaped = false;
    loop {
        at = find3(bytes, at, b'"', b'\\', b'"')?;
        if bytes[at] == b'"' {
            return Some((at + 1, escaped));
        }
        escaped = true;
        at += 2;
    }
}

/// From the first byte of a value: the index just past it.
fn skip_value(bytes: &[u8], at: usize) -> Option<usize> {
    match *bytes.get(at)? {
        b'"' => skip_string_rest(bytes, at + 1),
        b'[' => skip_nested(bytes, at, b'[', b']'),
        b'{' => skip_nested(bytes, at, b'{', b'}'),
        _ => {
            let len = bytes[at..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(bytes.len() - at);
            Some(at + len)
        }
    }
}

/// Skips an array or object from its opening bracket: in valid JSON only its own kind of
/// bracket needs counting (the other kind nests in balanced pairs inside it), strings aside.
fn skip_nested(bytes: &[u8], mut at: usize, open: u8, close: u8) -> Option<usize> {
    let mut depth = 0usize;
    loop {
        at = find3(bytes, at, b'"', open, close)?;
        match bytes[at] {
            b'"' => at = skip_string_rest(bytes, at + 1)?,
            b if b == open => {
                depth += 1;
                at += 1;
            }
            _ => {
                depth = depth.checked_sub(1)?;
                at += 1;
                if depth == 0 {
                    return Some(at);
                }
            }
        }
    }
}

/// A field's raw text as an optional `u64`, as serde reads an `Option<u64>`: `null` is
/// `Some(None)`, digits that fit are `Some(Some(n))`, anything else `None` (an error).
pub fn as_optional_u64(raw: Option<&str>) -> Option<Option<u64>> {
    match raw {
        None | Some("null") => Some(None),
        Some(digits) => as_u64(digits.as_bytes()).map(Some),
    }
}

/// A field's raw text as an optional string without escapes: `null` is `Some(None)`, a
/// string is `Some(Some(text))`, anything else (escapes included) `None`.
pub fn as_optional_plain_str(raw: Option<&str>) -> Option<Option<&str>> {
    match raw {
        None | Some("null") => Some(None),
        Some(s) if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') => {
            let inner = &s[1..s.len() - 1];
            (!inner.contains('\\')).then_some(Some(inner))
        }
        Some(_) => None,
    }
}

/// A JSON integer (`u64`) at the start of `text`, and the rest; `None` for anything else
/// (a sign, a fraction, a leading zero, too many digits).
pub fn leading_u64(text: &str) -> Option<(u64, &str)> {
    let bytes = text.as_bytes();
    let mut n: u64 = 0;
    let mut digits = 0;
    while let Some(&b) = bytes.get(digits).filter(|b| b.is_ascii_digit()) {
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        digits += 1;
    }
    if digits == 0
        || matches!(bytes.get(digits), Some(b'.' | b'e' | b'E'))
        || (digits > 1 && bytes[0] == b'0')
    {
        return None;
    }
    Some((n, &text[digits..]))
}

/// A JSON string without escapes at the start of `text` (its contents), and the rest.
pub fn leading_plain_str(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix('"')?;
    let end = rest
        .bytes()
        .position(|c| c == b'"' || c == b'\\' || c < 0x20)?;
    if rest.as_bytes()[end] != b'"' {
        return None;
    }
    Some((&rest[..end], &rest[end + 1..]))
}

/// Calls `found` with every unsigned integer scalar of a JSON object's text, at any depth (the
/// numbers serde_json reads as a `u64`: digits only, no sign, fraction or exponent, and within
/// range), except the values of the top-level keys named in `skip`. A text that is not an
/// object has none. `None` when the text is not what this reader follows (a top-level key with
/// an escape, a malformed value): the caller parses it instead. The text is valid JSON (the
/// journal's bodies are), so nothing else is checked.
pub fn unsigned_leaves(object: &str, skip: &[&str], mut found: impl FnMut(u64)) -> Option<()> {
    let bytes = object.as_bytes();
    let mut at = skip_ws(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return Some(());
    }
    if memchr::memchr(b'\\', bytes).is_none() {
        return unsigned_leaves_flat(bytes, at + 1, skip, &mut found);
    }
    at = skip_ws(bytes, at + 1);
    if bytes.get(at) == Some(&b'}') {
        return Some(());
    }
    loop {
        let (key, rest) = leading_plain_str(object.get(at..)?)?;
        at = skip_ws(bytes, bytes.len() - rest.len());
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        at = skip_ws(bytes, at + 1);
        let leaves = !skip.contains(&key);
        at = walk_value(bytes, at, &mut |n| {
            if leaves {
                found(n)
            }
        })?;
        at = skip_ws(bytes, at);
        match bytes.get(at) {
            Some(b',') => at = skip_ws(bytes, at + 1),
            Some(b'}') => return Some(()),
            _ => return None,
        }
    }
}

/// [`unsigned_leaves`] of an object without a backslash, from just past its `{`, in one flat
/// pass rather than value by value: without escapes a string ends at its next quote, and a
/// string at the object's own level followed by `:` is one of its keys (whose value's leaves
/// are skipped or not until the next key).
fn unsigned_leaves_flat(
    bytes: &[u8],
    mut at: usize,
    skip: &[&str],
    found: &mut impl FnMut(u64),
) -> Option<()> {
    let len = bytes.len();
    let mut depth = 1usize;
    let mut skipping = false;
    while at < len {
        let c = bytes[at];
        at += 1;
        match c {
            b'0'..=b'9' => {
                let start = at - 1;
                let mut n = u64::from(c - b'0');
                while at < len && bytes[at].is_ascii_digit() {
                    n = n.wrapping_mul(10).wrapping_add(u64::from(bytes[at] - b'0'));
                    at += 1;
                }
                if at < len && matches!(bytes[at], b'.' | b'e' | b'E') {
                    at = skip_number(bytes, at);
                } else if !skipping && (at - start < 20 || as_u64(&bytes[start..at]).is_some()) {
                    // Up to 19 digits always fit (then `n` did not wrap).
                    found(n);
                }
            }
            b'"' => {
                let start = at;
                while at < len && bytes[at] != b'"' {
                    at += 1;
                }
                let text = bytes.get(start..at)?;
                at += 1;
                if depth == 1 {
                    let next = skip_ws(bytes, at);
                    if bytes.get(next) == Some(&b':') {
                        skipping = skip.iter().any(|k| k.as_bytes() == text);
                        at = next + 1;
                    }
                }
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(());
                }
            }
            b'-' => at = skip_number(bytes, at),
            // Separators, white space, and the letters of `true`, `false` and `null`.
            _ => {}
        }
    }
    None
}

fn skip_ws(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// Walks one JSON value from `at`, calling `found` with its unsigned integer scalars; the
/// index just past it.
fn walk_value(bytes: &[u8], mut at: usize, found: &mut impl FnMut(u64)) -> Option<usize> {
    let mut depth = 0usize;
    loop {
        let c = *bytes.get(at)?;
        at += 1;
        match c {
            b'0'..=b'9' => {
                let start = at - 1;
                let mut n = u64::from(c - b'0');
                while let Some(d) = bytes
                    .get(at)
                    .map(|d| d.wrapping_sub(b'0'))
                    .filter(|&d| d < 10)
                {
                    n = n.wrapping_mul(10).wrapping_add(u64::from(d));
                    at += 1;
                }
                if matches!(bytes.get(at), Some(b'.' | b'e' | b'E')) {
                    at = skip_number(bytes, at);
                } else if at - start < 20 || as_u64(&bytes[start..at]).is_some() {
                    // Up to 19 digits always fit (then `n` did not wrap).
                    found(n);
                }
            }
            b'"' => at = skip_string_rest(bytes, at)?,
            b'[' | b'{' => {
                depth += 1;
                continue;
            }
            b']' | b'}' => depth = depth.checked_sub(1)?,
            b',' | b':' | b' ' | b'\t' | b'\n' | b'\r' => {}
            b'-' => at = skip_number(bytes, at),
            b't' | b'f' | b'n' => {
                while bytes.get(at).is_some_and(u8::is_ascii_lowercase) {
                    at += 1;
                }
            }
            _ => return None,
        }
        if depth == 0 {
            return Some(at);
        }
    }
}

/// The index past the rest of a number's characters.
fn skip_number(bytes: &[u8], mut at: usize) -> usize {
    while matches!(
        bytes.get(at),
        Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
    ) {
        at += 1;
    }
    at
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::workloads::reply::for_each_field;

    /// [`top_level_fields`] as it was: by the walk over the fields replies are read with.
    fn top_level_fields_by_reply_walk<'a, const N: usize>(
        object: &'a str,
        names: [&str; N],
    ) -> Option<[Option<&'a str>; N]> {
        let mut found: [Option<&'a [u8]>; N] = [None; N];
        let ok = for_each_field(object.as_bytes(), |key, value| {
            match names.iter().position(|n| n.as_bytes() == key) {
                // A named key twice: left to a parser (the map keeps the last one).
                Some(slot) => found[slot].replace(value).is_none(),
                None => true,
            }
        });
        if !ok {
            return None;
        }
        // Field texts are whole JSON values cut at ASCII delimiters: still UTF-8.
        Some(found.map(|v| v.and_then(|v| std::str::from_utf8(v).ok())))
    }

    /// A small deterministic generator of JSON texts for the random tests (objects with
    /// repeated keys unless `unique`).
    pub(crate) struct Gen(pub u64, pub bool);

    impl Gen {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % n
        }

        fn ws(&mut self, out: &mut String) {
            if self.below(6) == 0 {
                out.push_str([" ", "\t", "\n ", "\r\n"][self.below(4) as usize]);
            }
        }

        pub(crate) fn string(&mut self, out: &mut String) {
            const PARTS: [&str; 12] = [
                "a", "type", "\\\"", "\\\\", "]", "[", "{", "}", ",", ":", "é", "\\u0041",
            ];
            out.push('"');
            for _ in 0..self.below(12) {
                out.push_str(PARTS[self.below(PARTS.len() as u64) as usize]);
            }
            out.push('"');
        }

        /// A value nested at most `depth` deep; arrays are sometimes long (past a word scan).
        pub(crate) fn value(&mut self, out: &mut String, depth: u32) {
            match self.below(if depth == 0 { 6 } else { 9 }) {
                0 => out.push_str(
                    ["0", "7", "18446744073709551615", "123456789"][self.below(4) as usize],
                ),
                1 => out.push_str(
                    ["-1", "2.5", "1e3", "-0", "18446744073709551616", "3E-2"]
                        [self.below(6) as usize],
                ),
                2 => out.push_str(["true", "false", "null"][self.below(3) as usize]),
                3..=5 => self.string(out),
                6 | 7 => {
                    out.push('[');
                    let n = if self.below(4) == 0 {
                        60
                    } else {
                        self.below(5)
                    };
                    for i in 0..n {
                        if i > 0 {
                            out.push(',');
                        }
                        self.ws(out);
                        self.value(out, depth - 1);
                        self.ws(out);
                    }
                    out.push(']');
                }
                _ => self.object(out, depth - 1),
            }
        }

        /// An object whose keys are often the envelope's, sometimes twice or escaped.
        pub(crate) fn object(&mut self, out: &mut String, depth: u32) {
            const KEYS: [&str; 9] = [
                "type",
                "msg_id",
                "in_reply_to",
                "x",
                "typ",
                "msg_idx",
                "typ\\u0065",
                "a\\\"b",
                "relay",
            ];
            out.push('{');
            self.ws(out);
            let mut used = [false; KEYS.len()];
            let mut written = 0;
            for _ in 0..self.below(6) {
                let key = self.below(KEYS.len() as u64) as usize;
                // `typ\u0065` is `type` once read.
                let read_as = if key == 6 { 0 } else { key };
                if self.1 && std::mem::replace(&mut used[read_as], true) {
                    continue;
                }
                written += 1;
                if written > 1 {
                    out.push(',');
                    self.ws(out);
                }
                out.push('"');
                out.push_str(KEYS[key]);
                out.push('"');
                self.ws(out);
                out.push(':');
                self.ws(out);
                self.value(out, depth);
                self.ws(out);
            }
            out.push('}');
        }
    }

    /// The fields found a word at a time are those the reply walk finds, on random objects.
    #[test]
    fn top_level_fields_are_those_of_the_reply_walk() {
        let mut gen = Gen(5, false);
        for _ in 0..20_000 {
            let mut text = String::new();
            gen.ws(&mut text);
            gen.object(&mut text, 3);
            gen.ws(&mut text);
            serde_json::from_str::<serde_json::Value>(&text).expect(&text);
            let names = ["type", "msg_id", "in_reply_to"];
            assert_eq!(
                top_level_fields(&text, names),
                top_level_fields_by_reply_walk(&text, names),
                "{text}"
            );
            // Cut short: not an object any more.
            for cut in [text.len() / 2, text.len().saturating_sub(2)] {
                if let Some(short) = text.get(..cut) {
                    assert_eq!(
                        top_level_fields(short, names),
                        top_level_fields_by_reply_walk(short, names),
                        "{short}"
                    );
                }
            }
        }
    }

    #[test]
    fn finds_top_level_fields_only() {
        let body = r#"{"in_reply_to":4,"value":{"type":"x","msg_id":9},"s":"a\"}b","msg_id":7,"type":"read_ok","xs":[1,[2,{"type":3}]]}"#;
        assert_eq!(
            top_level_fields(body, ["type", "msg_id", "in_reply_to", "nope"]),
            Some([Some("\"read_ok\""), Some("7"), Some("4"), None])
        );
        assert_eq!(top_level_fields(" { } ", ["type"]), Some([None]));
        assert_eq!(
            top_level_fields("{ \"type\" : \"a\" , \"x\" : null }", ["type", "x"]),
            Some([Some("\"a\""), Some("null")])
        );
        // Unusual bodies are left to a parser.
        assert_eq!(
            top_level_fields(r#"{"type":"a","type":"b"}"#, ["type"]),
            None
        );
        assert_eq!(top_level_fields(r#"{"typ\u0065":"a"}"#, ["type"]), None);
        assert_eq!(top_level_fields("[1]", ["type"]), None);
    }

    #[test]
    fn reads_leading_numbers_and_strings_as_json() {
        assert_eq!(leading_u64("12,x"), Some((12, ",x")));
        assert_eq!(leading_u64("0}"), Some((0, "}")));
        assert_eq!(leading_u64("18446744073709551615]"), Some((u64::MAX, "]")));
        for bad in [
            "",
            "-1",
            "01",
            "1.5",
            "1e3",
            "99999999999999999999",
            "18446744073709551616",
        ] {
            assert_eq!(leading_u64(bad), None, "{bad}");
        }
        assert_eq!(leading_plain_str("\"n1\",r"), Some(("n1", ",r")));
        assert_eq!(leading_plain_str("\"a\\\"b\""), None);
        assert_eq!(leading_plain_str("\"a\u{1}\""), None);
        assert_eq!(leading_plain_str("\"\"x"), Some(("", "x")));
        assert_eq!(leading_plain_str("\"abc"), None);
        assert_eq!(leading_plain_str("n1"), None);
    }

    /// The unsigned integers serde reads in a value, envelope left out.
    #[test]
    fn unsigned_leaves_are_those_serde_reads() {
        fn parsed(body: &str) -> Vec<u64> {
            fn walk(v: &serde_json::Value, out: &mut Vec<u64>) {
                match v {
                    serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                    serde_json::Value::Object(m) => m.values().for_each(|x| walk(x, out)),
                    v => out.extend(v.as_u64().filter(|_| v.is_u64())),
                }
            }
            let mut out = Vec::new();
            if let Ok(serde_json::Value::Object(m)) = serde_json::from_str(body) {
                for (k, v) in &m {
                    if k != "msg_id" && k != "type" {
                        walk(v, &mut out);
                    }
                }
            }
            out.sort_unstable();
            out
        }
        for body in [
            r#"{"type":"gossip","msg_id":3,"seq":0,"relay":[0,1,[22,{"msg_id":4}]]}"#,
            r#" { "a" : [ 1 , -2 , 3.5 , 4e2 , 5E-1 , -0 , 0 , true , false , null , "7" ] } "#,
            r#"{"s":"a\"1\\","k":{"x\"y":[18446744073709551615,18446744073709551616]}}"#,
            r#"{}"#,
            r#"[1,2]"#,
            r#"9"#,
            r#"{"type":7,"in_reply_to":8}"#,
        ] {
            let mut leaves = Vec::new();
            unsigned_leaves(body, &["msg_id", "type"], |n| leaves.push(n)).expect(body);
            leaves.sort_unstable();
            assert_eq!(leaves, parsed(body), "{body}");
        }
        // An escaped top-level key is left to a parser.
        assert!(unsigned_leaves(r#"{"typ\u0065":1}"#, &["type"], |_| {}).is_none());
        // Random objects.
        let mut gen = Gen(9, true);
        for _ in 0..20_000 {
            let mut text = String::new();
            gen.object(&mut text, 3);
            let mut leaves = Vec::new();
            if unsigned_leaves(&text, &["msg_id", "type"], |n| leaves.push(n)).is_some() {
                leaves.sort_unstable();
                assert_eq!(leaves, parsed(&text), "{text}");
            } else {
                assert!(text.contains(r#"\""#) || text.contains(r#"\u"#), "{text}");
            }
        }
    }

    /// The flat pass finds the leaves the walk value by value finds, in the same order.
    #[test]
    fn flat_leaves_are_those_of_the_walk() {
        fn walked(text: &str, skip: &[&str]) -> Option<Vec<u64>> {
            let bytes = text.as_bytes();
            let mut leaves = Vec::new();
            let mut at = skip_ws(bytes, 0);
            if bytes.get(at) != Some(&b'{') {
                return Some(leaves);
            }
            at = skip_ws(bytes, at + 1);
            if bytes.get(at) == Some(&b'}') {
                return Some(leaves);
            }
            loop {
                let (key, rest) = leading_plain_str(text.get(at..)?)?;
                at = skip_ws(bytes, bytes.len() - rest.len());
                if bytes.get(at) != Some(&b':') {
                    return None;
                }
                at = skip_ws(bytes, at + 1);
                let kept = !skip.contains(&key);
                at = walk_value(bytes, at, &mut |n| {
                    if kept {
                        leaves.push(n)
                    }
                })?;
                at = skip_ws(bytes, at);
                match bytes.get(at) {
                    Some(b',') => at = skip_ws(bytes, at + 1),
                    Some(b'}') => return Some(leaves),
                    _ => return None,
                }
            }
        }
        let skip = ["msg_id", "type", "in_reply_to"];
        let mut texts: Vec<String> = [
            r#"{"type":"gossip","msg_id":3,"seq":0,"relay":[0,1,[22,{"msg_id":4}]]}"#,
            r#" { "a" : [ 1 , -2 , 3.5 , 4e2 , 5E-1 , -0 , 0 , true , false , null , "7" ] } "#,
            r#"{"k":{"x:y":[18446744073709551615,18446744073709551616,99999999999999999999]}}"#,
            r#"{}"#,
            r#"{"type":7,"in_reply_to":8,"s":"msg_id","msg_id":[1,{"a":2}],"t":"type"}"#,
            r#"{"a":"b","type":{"c":"d","e":5},"f":[["g",6],{"h":{"type":7}}]}"#,
        ]
        .map(String::from)
        .into();
        let mut gen = Gen(5, false);
        for _ in 0..20_000 {
            let mut text = String::new();
            gen.object(&mut text, 3);
            if !text.contains('\\') {
                texts.push(text);
            }
        }
        assert!(texts.len() > 1_000);
        for text in &texts {
            let mut flat = Vec::new();
            let bytes = text.as_bytes();
            let at = skip_ws(bytes, 0) + 1;
            let done = unsigned_leaves_flat(bytes, at, &skip, &mut |n| flat.push(n));
            assert_eq!(done.map(|()| flat), walked(text, &skip), "{text}");
        }
    }

    #[test]
    fn reads_values_as_serde_would() {
        assert_eq!(as_optional_u64(Some("12")), Some(Some(12)));
        assert_eq!(as_optional_u64(Some("null")), Some(None));
        assert_eq!(as_optional_u64(None), Some(None));
        for bad in ["-1", "1.0", "1e3", "\"1\"", "99999999999999999999"] {
            assert_eq!(as_optional_u64(Some(bad)), None, "{bad}");
        }
        assert_eq!(as_optional_plain_str(Some("\"ok\"")), Some(Some("ok")));
        assert_eq!(as_optional_plain_str(Some("null")), Some(None));
        assert_eq!(as_optional_plain_str(Some("\"a\\n\"")), None);
        assert_eq!(as_optional_plain_str(Some("3")), None);
    }
}
