//! A poll's reply read from its text (see [`super::Kafka::fast_reply`]): its `msgs`, most of
//! the history's messages read again and again, in one loop over the bytes (through the
//! [`Compact`] cursor, a check and an `Option` per byte, it cost about 160 instructions a
//! message; the cursor's reading is kept in the tests as the reference).
//!
//! [`Compact`]: crate::workloads::compact::Compact

use crate::history::PolledKey;

/// A poll's `msgs` read from compact text, `{"key":[[offset,msg],...],...}` with keys that
/// are integers ([`kafka_key`]) and plain integers (see [`uint`]): the map serde parses from
/// it, key by key as written (a key written twice is refused by [`OpValue::kafka_polled`]).
/// `None` for anything else (the map's way judges it).
///
/// A key's messages are read into `scratch` (kept by the caller from poll to poll), then
/// copied into a list of their exact size: one allocation a key, where a list growing from a
/// few pairs took one or two reallocations besides.
///
/// [`kafka_key`]: crate::history::kafka_key
/// [`OpValue::kafka_polled`]: crate::history::OpValue::kafka_polled
pub(super) fn read_msgs(b: &[u8], scratch: &mut Vec<(i64, i64)>) -> Option<Vec<PolledKey>> {
    if b.first() != Some(&b'{') {
        return None;
    }
    if b.get(1) == Some(&b'}') {
        return (b.len() == 2).then_some(Vec::new());
    }
    // The room the first push would make (4), without growing through the slow path.
    let mut keys = Vec::with_capacity(4);
    let mut i = 1;
    loop {
        let (key, at) = read_key(b, i)?;
        if b.get(at..at + 2) != Some(b":[") {
            return None;
        }
        i = at + 2;
        let mut msgs = Vec::new();
        if b.get(i) == Some(&b']') {
            i += 1;
        } else {
            scratch.clear();
            loop {
                // `[offset,msg]` then `,` or the list's `]`. What follows a number is checked
                // to be `,` or `]`, so a fraction or an exponent is refused as the cursor's
                // `int` refuses it.
                if b.get(i) != Some(&b'[') {
                    return None;
                }
                let (offset, at) = uint(b, i + 1)?;
                if b.get(at) != Some(&b',') {
                    return None;
                }
                let (msg, at) = uint(b, at + 1)?;
                if b.get(at) != Some(&b']') {
                    return None;
                }
                scratch.push((offset, msg));
                i = at + 2;
                match b.get(at + 1) {
                    Some(b',') => {}
                    Some(b']') => break,
                    _ => return None,
                }
            }
            msgs = scratch.as_slice().to_vec();
        }
        keys.push(PolledKey { key, msgs });
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return (i + 1 == b.len()).then_some(keys),
            _ => return None,
        }
    }
}

/// A non-negative integer starting at `b[at]`, no larger than `i64::MAX`, as
/// [`Compact::int`] takes it (no sign, no leading zero; the caller checks what follows), and
/// where it ends.
///
/// [`Compact::int`]: crate::workloads::compact::Compact::int
///
/// The first digit is read on its own: a `0` ends the number there (a digit after it is a
/// leading zero), and the loop's checks need not look back at where it began.
#[inline(always)]
fn uint(b: &[u8], at: usize) -> Option<(i64, usize)> {
    let first = b.get(at)?.wrapping_sub(b'0');
    if first > 9 {
        return None;
    }
    let mut i = at + 1;
    if first == 0 {
        return match b.get(i) {
            Some(c) if c.is_ascii_digit() => None,
            _ => Some((0, i)),
        };
    }
    let mut n = u64::from(first);
    while let Some(&c) = b.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        // 19 digits never overflow a u64; a 20th is past i64::MAX.
        if i - at == 19 {
            return None;
        }
        n = n * 10 + u64::from(d);
        i += 1;
    }
    if n > i64::MAX as u64 {
        return None;
    }
    Some((n as i64, i))
}

/// A key written as an integer's decimal form starting at `b[at]`, `"17"`: what
/// [`kafka_key`] makes of the cursor's `plain_str`, read digit by digit (the string's search
/// for its end and UTF-8 check cost more than its one to four digits), and where it ends.
/// `None` for anything else.
///
/// [`kafka_key`]: crate::history::kafka_key
fn read_key(b: &[u8], at: usize) -> Option<(u64, usize)> {
    if b.get(at) != Some(&b'"') {
        return None;
    }
    let start = at + 1;
    let mut n: u64 = 0;
    let mut i = start;
    while let Some(&c) = b.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d))?;
        i += 1;
    }
    if i == start || (i - start > 1 && b[start] == b'0') || b.get(i) != Some(&b'"') {
        return None;
    }
    Some((n, i + 1))
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use serde_json::{Map, Value};

    use super::*;
    use crate::history::{kafka_key, OpValue};
    use crate::workloads::compact::Compact;
    use crate::workloads::kafka::poll_value;

    #[test]
    fn polled_messages_read_from_text_are_what_serde_parses() {
        for text in [
            r#"{}"#,
            r#"{"1":[]}"#,
            r#"{"1":[[0,5],[1,6]],"22":[[7,1]]}"#,
            r#"{"3":[[2,9]],"22":[[7,1]],"1":[]}"#,
        ] {
            let parsed: Map<String, Value> = serde_json::from_str(text).unwrap();
            let read = OpValue::kafka_polled(read_msgs(text.as_bytes(), &mut Vec::new()).unwrap())
                .unwrap();
            let expected = poll_value(Value::Object(parsed));
            assert_eq!(read.to_json(), expected.to_json(), "{text}");
            assert_eq!(read.to_string(), expected.to_string(), "{text}");
        }
        // Anything else is left to serde and the map's checks.
        for text in [
            r#"{"1":[[0,5]],"1":[[1,6]]}"#,
            r#"{"1": [[0,5]]}"#,
            r#"{"1":[[0,"x"]]}"#,
            r#"{"1":[[-1,5]]}"#,
            r#"{"a\"":[[0,5]]}"#,
            r#"{"1":[[0,5,6]]}"#,
            r#"{"01":[[0,5]]}"#,
            r#"{"a":[[0,5]]}"#,
        ] {
            let read = read_msgs(text.as_bytes(), &mut Vec::new()).and_then(OpValue::kafka_polled);
            assert_eq!(read, None, "{text}");
        }
    }

    /// The cursor's reading [`read_msgs`] replaced (keys by `plain_str` and [`kafka_key`],
    /// numbers by `int`): the reference it is compared with.
    fn read_msgs_simple(text: &[u8]) -> Option<Vec<PolledKey>> {
        let mut text = Compact::new(text);
        text.eat(b'{')?;
        if text.eat(b'}').is_some() {
            return text.at_end().then_some(Vec::new());
        }
        let mut keys = Vec::new();
        loop {
            let key = kafka_key(text.plain_str()?)?;
            text.eat(b':')?;
            text.eat(b'[')?;
            let mut msgs = Vec::new();
            if text.eat(b']').is_none() {
                loop {
                    text.eat(b'[')?;
                    let offset = text.int()? as i64;
                    text.eat(b',')?;
                    let msg = text.int()? as i64;
                    text.eat(b']')?;
                    msgs.push((offset, msg));
                    if text.eat(b',').is_none() {
                        text.eat(b']')?;
                        break;
                    }
                }
            }
            keys.push(PolledKey { key, msgs });
            if text.eat(b',').is_none() {
                text.eat(b'}')?;
                return text.at_end().then_some(keys);
            }
        }
    }

    /// A random `msgs` text: well formed, then maybe damaged (a byte replaced, inserted or
    /// removed, or cut short).
    fn random_msgs(rng: &mut crate::Rng) -> Vec<u8> {
        let numbers = [
            "0",
            "7",
            "10",
            "123",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "01",
            "-1",
            "1.5",
            "2e3",
            "",
        ];
        let number = |rng: &mut crate::Rng| -> String {
            if rng.gen_bool(0.9) {
                rng.gen_range(0..3000).to_string()
            } else {
                numbers[rng.gen_range(0..numbers.len())].to_string()
            }
        };
        let keys: Vec<String> = (0..rng.gen_range(0..4))
            .map(|_| {
                let list: Vec<String> = (0..rng.gen_range(0..5))
                    .map(|_| format!("[{},{}]", number(rng), number(rng)))
                    .collect();
                let key = match rng.gen_range(0..10) {
                    0 => "a".to_string(),
                    1 => "1\\\"".to_string(),
                    _ => number(rng),
                };
                format!("\"{key}\":[{}]", list.join(","))
            })
            .collect();
        let mut text = format!("{{{}}}", keys.join(",")).into_bytes();
        let alphabet = b"0123456789[]{},:\" .e-x\\";
        match rng.gen_range(0..8) {
            0 if !text.is_empty() => {
                let i = rng.gen_range(0..text.len());
                text[i] = alphabet[rng.gen_range(0..alphabet.len())];
            }
            1 => {
                let i = rng.gen_range(0..=text.len());
                text.insert(i, alphabet[rng.gen_range(0..alphabet.len())]);
            }
            2 if !text.is_empty() => {
                text.remove(rng.gen_range(0..text.len()));
            }
            3 => text.truncate(rng.gen_range(0..=text.len())),
            _ => {}
        }
        text
    }

    /// On random texts, well formed and damaged: what the cursor's reading reads.
    #[test]
    fn polled_messages_are_what_the_cursors_reading_reads() {
        let mut rng = crate::Rng::seed_from_u64(29);
        let mut read = 0;
        // One scratch for all, as the workload keeps it: what an earlier text left in it
        // must not show.
        let mut scratch = Vec::new();
        for _ in 0..100_000 {
            let text = random_msgs(&mut rng);
            let fast = read_msgs(&text, &mut scratch);
            read += usize::from(fast.as_ref().is_some_and(|keys| !keys.is_empty()));
            assert_eq!(
                fast,
                read_msgs_simple(&text),
                "{:?}",
                String::from_utf8_lossy(&text)
            );
        }
        assert!(read > 10_000, "{read}");
    }

    /// On random text: the same key as [`kafka_key`] of the cursor's `plain_str`, ending
    /// where the string ends.
    #[test]
    fn keys_read_digit_by_digit_are_what_kafka_key_reads() {
        let mut rng = crate::Rng::seed_from_u64(23);
        let alphabet = b"0123456789\"\"\"19x\\:,";
        let mut read = 0;
        let mut texts: Vec<Vec<u8>> = (0..50_000)
            .map(|_| {
                let len = rng.gen_range(0..25);
                (0..len)
                    .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                    .collect()
            })
            .collect();
        for n in [0, 7, 10, 18_446_744_073_709_551_615u64] {
            texts.push(format!("\"{n}\":").into_bytes());
        }
        texts.push(b"\"18446744073709551616\"".to_vec());
        texts.push(b"\"007\"".to_vec());
        for text in texts {
            let mut simple = Compact::new(&text);
            let expected = simple.plain_str().and_then(kafka_key);
            let key = read_key(&text, 0);
            assert_eq!(
                key.map(|(k, _)| k),
                expected,
                "{:?}",
                String::from_utf8_lossy(&text)
            );
            if let Some((_, end)) = key {
                read += 1;
                assert_eq!(text.get(end).copied(), simple.peek());
                assert_eq!(end == text.len(), simple.at_end());
            }
        }
        assert!(read > 100, "{read}");
    }
}
