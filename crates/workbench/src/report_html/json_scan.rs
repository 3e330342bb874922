//! Reading a few top-level fields of a journaled body without parsing all of it. A body was
//! checked to be valid JSON when the journal was read, so its fields can be found by skipping
//! strings and counting brackets, several times faster than a parse that looks at every value
//! (a read reply of a big run holds thousands). Anything unusual (an escaped key, a repeated
//! key, a value of the wrong kind) answers `None`, and the caller parses the body as before.

use crate::workloads::reply::{as_u64, for_each_field};

/// The raw text of each named top-level field of `object` (`None` for an absent one), or
/// `None` when `object` is not an object or when a key has an escape or appears twice. The
/// walk over the fields is the one replies are read with ([`for_each_field`]).
pub fn top_level_fields<'a, const N: usize>(
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

#[cfg(test)]
mod tests {
    use super::*;

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
