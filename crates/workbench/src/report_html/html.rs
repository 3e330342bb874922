//! Small HTML helpers shared by the report's parts.

use std::fmt::Write as _;

use serde_json::Value;

use crate::history::Process;

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_escaped(&mut out, s);
    out
}

/// Appends [`escape`] of `s`: the runs between the characters to escape (all ASCII, so no
/// byte of a longer character is one) are copied whole.
pub fn push_escaped(out: &mut String, s: &str) {
    let mut from = 0;
    for (i, b) in s.bytes().enumerate() {
        let escaped = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&s[from..i]);
        out.push_str(escaped);
        from = i + 1;
    }
    out.push_str(&s[from..]);
}

/// Turns every `op N` in (already escaped) text into a link to that op.
pub fn op_links_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("op ") {
        let boundary = at == 0 || !rest.as_bytes()[at - 1].is_ascii_alphanumeric();
        let digits = rest[at + 3..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        out.push_str(&rest[..at]);
        if boundary && digits > 0 {
            let n = &rest[at + 3..at + 3 + digits];
            let _ = write!(out, "<a class=\"op\" href=\"#op-{n}\">op {n}</a>");
            rest = &rest[at + 3 + digits..];
        } else {
            out.push_str("op ");
            rest = &rest[at + 3..];
        }
    }
    out.push_str(rest);
    out
}

pub fn validity_class(v: &Value) -> &'static str {
    match v {
        Value::Bool(true) => "valid",
        Value::Bool(false) => "invalid",
        _ => "unknown",
    }
}

pub fn validity_word(v: &Value) -> &'static str {
    match v {
        Value::Bool(true) => "valid",
        Value::Bool(false) => "invalid",
        Value::Null => "not checked",
        _ => "unknown",
    }
}

/// JSON text for a `<script type="application/json">` block: `</` cannot close the element.
pub fn script_text(text: String) -> String {
    if text.contains("</") {
        text.replace("</", "<\\/")
    } else {
        text
    }
}

/// A value's compact JSON text, as its `to_string()` (serde's writer, which is cheaper than the
/// `Display` impl's formatter).
pub fn json_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// A process as the history names it: its number, or `nemesis`.
pub fn process_text(p: Process) -> String {
    match p {
        Process::Client(n) => n.to_string(),
        Process::Nemesis(_) => "nemesis".into(),
    }
}

/// Seconds with millisecond precision, as `{:.3}` of the seconds as an `f64` writes them:
/// from the integer below 10^15 ns, where that float is within 10^-10 s of the exact value
/// and so rounds the same way, but for an exact tie (half a millisecond), left to the float.
pub fn secs(t: u64) -> String {
    let mut out = String::with_capacity(12);
    push_secs(&mut out, t);
    out
}

/// Appends [`secs`] of `t`: the whole seconds' digits, then the milliseconds and the unit
/// from a table (two appends: a carrier table has hundreds of times).
pub fn push_secs(out: &mut String, t: u64) {
    if t < 1_000_000_000_000_000 && t % 1_000_000 != 500_000 {
        let ms = (t + 500_000) / 1_000_000;
        out.push_str(itoa::Buffer::new().format(ms / 1000));
        let at = (ms % 1000) as usize * MILLIS_LEN;
        out.push_str(&MILLIS[at..at + MILLIS_LEN]);
    } else {
        let _ = write!(out, "{:.3} s", t as f64 / 1e9);
    }
}

/// `.000 s` to `.999 s`, one after another.
const MILLIS: &str = {
    const BYTES: [u8; 1000 * MILLIS_LEN] = {
        let mut table = [0u8; 1000 * MILLIS_LEN];
        let mut n = 0;
        while n < 1000 {
            let at = n * MILLIS_LEN;
            table[at] = b'.';
            table[at + 1] = b'0' + (n / 100) as u8;
            table[at + 2] = b'0' + (n / 10 % 10) as u8;
            table[at + 3] = b'0' + (n % 10) as u8;
            table[at + 4] = b' ';
            table[at + 5] = b's';
            n += 1;
        }
        table
    };
    match std::str::from_utf8(&BYTES) {
        Ok(text) => text,
        Err(_) => panic!("ASCII"),
    }
};
const MILLIS_LEN: usize = 6;

#[cfg(test)]
mod tests {
    use super::*;

    /// Escaping by runs is escaping character by character.
    #[test]
    fn escapes_as_character_by_character() {
        fn by_chars(s: &str) -> String {
            let mut out = String::new();
            for c in s.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' => out.push_str("&quot;"),
                    '\'' => out.push_str("&#39;"),
                    c => out.push(c),
                }
            }
            out
        }
        const PICK: [char; 10] = ['&', '<', '>', '"', '\'', 'a', ' ', 'é', '€', '😀'];
        let mut state = 5u64;
        for len in 0..400 {
            let s: String = (0..len % 40)
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    PICK[(state >> 33) as usize % PICK.len()]
                })
                .collect();
            assert_eq!(escape(&s), by_chars(&s), "{s:?}");
        }
    }

    #[test]
    fn links_ops_in_text() {
        assert_eq!(
            op_links_in("read (op 12) missed; shop 3; op x"),
            "read (<a class=\"op\" href=\"#op-12\">op 12</a>) missed; shop 3; op x"
        );
    }

    #[test]
    fn texts_are_those_of_serde() {
        let v: Value = serde_json::from_str(r#"{"a":[1,-2,2.5,"x\"y",null,true],"b":{}}"#).unwrap();
        assert_eq!(json_text(&v), v.to_string());
        for p in [Process::Client(0), Process::Client(17), Process::NEMESIS] {
            let serde = serde_json::to_value(p).unwrap();
            assert_eq!(
                process_text(p),
                serde.as_str().map_or(serde.to_string(), str::to_string)
            );
        }
    }

    #[test]
    fn seconds_are_written_as_the_float_would_be() {
        let mut t: u64 = 1;
        let mut times = vec![0, 499_999, 500_000, 500_001, 1_999_500_000, 30_000_000_001];
        while t < 1_000_000_000_000_000 {
            times.extend([
                t,
                t + 1,
                t.wrapping_mul(7) / 3,
                t * 3 + 123_456_789,
                t * 5 / 2,
            ]);
            t = t * 10 + 9;
        }
        for t in times {
            assert_eq!(secs(t), format!("{:.3} s", t as f64 / 1e9), "{t}");
        }
    }

    #[test]
    fn escapes() {
        assert_eq!(
            escape("<a href='x'>&</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(
            script_text(serde_json::to_string(&Value::String("</script>".into())).unwrap()),
            "\"<\\/script>\""
        );
    }
}
