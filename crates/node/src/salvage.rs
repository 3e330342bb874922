//! Reading the reply address (`src`, `dest`, the body's `msg_id`) out of a line that cannot be
//! parsed whole: a line that is not UTF-8, or one too long to keep, of which only the first and
//! last bytes are left. Such a request still deserves its error 12.

use std::time::Duration;

use crate::engine::{Engine, Node};
use crate::protocol::ErrorCode;

impl<N: Node> Engine<N> {
    /// Handles an input line too long to keep, of which the runtime kept only the first bytes
    /// (`head`), the last ones (`tail`) and the length: it is logged and, when a `src` and the
    /// body's `msg_id` can still be read, answered with error 12 (malformed-request).
    /// [`crate::run`] keeps lines up to [`crate::MAX_LINE`] bytes whole.
    pub fn handle_long_line(&mut self, head: &[u8], tail: &[u8], len: u64, now: Duration) {
        self.ctx.set_now(now);
        let what = format!(
            "line too long: {len} bytes, more than the {} kept",
            crate::MAX_LINE
        );
        self.diagnose(head, format_args!("{what}"));
        self.answer_salvaged(address(head, Some(tail)), &what);
    }

    /// Answers a request whose line could not be parsed, if its address could be read.
    pub(crate) fn answer_salvaged(&mut self, found: Address, what: &str) {
        if let (Some(src), Some(msg_id)) = (found.src, found.msg_id) {
            let dest = found.dest.unwrap_or_default();
            let text = format!("malformed request: {what}");
            self.answer_error_to(&src, &dest, msg_id, ErrorCode::MalformedRequest, &text);
        }
    }
}

/// Where an answer to a broken line would go.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Address {
    pub(crate) src: Option<String>,
    pub(crate) dest: Option<String>,
    pub(crate) msg_id: Option<u64>,
}

/// Scans `head` (the start of a line) with depth tracking: `src` and `dest` at the top level,
/// `msg_id` directly inside `body`. When `tail` (the end of the same line) is given and the
/// head held no `msg_id`, a `"msg_id":N` closing the body at the very end of the line counts
/// too (writers that add `msg_id` last, as this crate does, put it there).
pub(crate) fn address(head: &[u8], tail: Option<&[u8]>) -> Address {
    let mut found = scan_head(head);
    if found.msg_id.is_none() {
        if let Some(tail) = tail {
            found.msg_id = msg_id_at_end(tail);
        }
    }
    found
}

fn scan_head(bytes: &[u8]) -> Address {
    let mut found = Address::default();
    let mut depth = 0usize;
    let mut top_key: &[u8] = b"";
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let Some(end) = string_end(bytes, i) else {
                    break; // cut off inside a string
                };
                let token = &bytes[i..=end];
                i = end + 1;
                let after = skip_ws(bytes, i);
                if bytes.get(after) != Some(&b':') {
                    continue; // a value, not a key
                }
                i = after + 1;
                let value_at = skip_ws(bytes, i);
                let key = &token[1..token.len() - 1];
                if depth == 1 {
                    top_key = key;
                    if key == b"src" || key == b"dest" {
                        let value = string_value(bytes, value_at);
                        if key == b"src" {
                            found.src = value;
                        } else {
                            found.dest = value;
                        }
                    }
                } else if depth == 2 && top_key == b"body" && key == b"msg_id" {
                    found.msg_id = digits(bytes, value_at).map(|(n, _)| n);
                }
            }
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    found
}

/// The index of the quote that closes the string opening at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

/// A JSON string value at `at`, unescaped, if it is valid.
fn string_value(bytes: &[u8], at: usize) -> Option<String> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let end = string_end(bytes, at)?;
    serde_json::from_slice(&bytes[at..=end]).ok()
}

/// A non-negative integer at `at`, and the index after it.
fn digits(bytes: &[u8], at: usize) -> Option<(u64, usize)> {
    let len = bytes[at.min(bytes.len())..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if len == 0 {
        return None;
    }
    let end = at + len;
    if matches!(bytes.get(end), Some(b'.' | b'e' | b'E')) {
        return None;
    }
    std::str::from_utf8(&bytes[at..end])
        .ok()?
        .parse()
        .ok()
        .map(|n| (n, end))
}

/// `"msg_id":N` followed by nothing but whitespace and the two closing braces of body and
/// envelope.
fn msg_id_at_end(tail: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"\"msg_id\"";
    let at = memchr::memmem::rfind(tail, KEY)?;
    let backslashes = tail[..at].iter().rev().take_while(|b| **b == b'\\').count();
    if backslashes % 2 == 1 {
        return None;
    }
    let colon = skip_ws(tail, at + KEY.len());
    if tail.get(colon) != Some(&b':') {
        return None;
    }
    let (n, end) = digits(tail, skip_ws(tail, colon + 1))?;
    let rest: Vec<u8> = tail[end..]
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    (rest == b"}}").then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_address_of_a_whole_line() {
        let line = br#"{"id":3,"src":"c\"1","dest":"n0","body":{"x":{"msg_id":9},"type":"t","msg_id":12,"s":"\"msg_id\":5"}}"#;
        assert_eq!(
            address(line, None),
            Address {
                src: Some("c\"1".into()),
                dest: Some("n0".into()),
                msg_id: Some(12)
            }
        );
    }

    #[test]
    fn ignores_msg_ids_outside_the_body_and_cut_off_values() {
        let line = br#"{"msg_id":1,"src":"c1","body":{"type":"t","data":"abc"#;
        assert_eq!(address(line, None).msg_id, None);
        assert_eq!(address(line, None).src.as_deref(), Some("c1"));
        let line = br#"{"src":"c1","body":{"msg_id":1.5}}"#;
        assert_eq!(address(line, None).msg_id, None);
    }

    #[test]
    fn finds_a_trailing_msg_id_in_the_tail() {
        let head = br#"{"src":"c1","dest":"n0","body":{"type":"big","data":"aaaa"#;
        assert_eq!(
            address(head, Some(br#"aaaa","msg_id":77} }"#)).msg_id,
            Some(77)
        );
        assert_eq!(
            address(head, Some(br#"aaaa","msg_id":77,"x":1}}"#)).msg_id,
            None
        );
        assert_eq!(address(head, Some(br#"aa\"msg_id\":77}}"#)).msg_id, None);
    }
}
