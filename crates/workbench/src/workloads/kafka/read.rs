//! A poll's reply read from its text (see [`super::Kafka::fast_reply`]).

use crate::history::PolledKey;
use crate::workloads::compact::Compact;

/// A poll's `msgs` read from compact text, `{"key": [[offset, msg], ...], ...}` with keys
/// that are integers ([`kafka_key`]) and plain integers (see [`Compact`]): the map serde
/// parses from it, key by key as written (a key written twice is refused by
/// [`OpValue::kafka_polled`]). `None` for anything else (the map's way judges it).
///
/// [`kafka_key`]: crate::history::kafka_key
/// [`OpValue::kafka_polled`]: crate::history::OpValue::kafka_polled
pub(super) fn read_msgs(text: &[u8]) -> Option<Vec<PolledKey>> {
    let mut text = Compact::new(text);
    text.eat(b'{')?;
    if text.eat(b'}').is_some() {
        return text.at_end().then_some(Vec::new());
    }
    // The room the first push would make (4), without growing through the slow path.
    let mut keys = Vec::with_capacity(4);
    loop {
        let key = read_key(&mut text)?;
        text.eat(b':')?;
        text.eat(b'[')?;
        let mut msgs = Vec::new();
        if text.eat(b']').is_none() {
            msgs = Vec::with_capacity(4);
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

/// A key written as an integer's decimal form, `"17"`: what [`kafka_key`] makes of
/// [`Compact::plain_str`], read digit by digit (the string's search for its end and UTF-8
/// check cost more than its one to four digits). `None` for anything else.
///
/// [`kafka_key`]: crate::history::kafka_key
fn read_key(text: &mut Compact) -> Option<u64> {
    text.eat(b'"')?;
    let first = text.peek()?;
    let (mut n, mut digits) = (0u64, 0);
    while let Some(b) = text.peek() {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d))?;
        text.eat(b)?;
        digits += 1;
    }
    if digits == 0 || (first == b'0' && digits > 1) {
        return None;
    }
    text.eat(b'"')?;
    Some(n)
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use serde_json::{Map, Value};

    use super::*;
    use crate::history::{kafka_key, OpValue};
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
            let read = OpValue::kafka_polled(read_msgs(text.as_bytes()).unwrap()).unwrap();
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
            let read = read_msgs(text.as_bytes()).and_then(OpValue::kafka_polled);
            assert_eq!(read, None, "{text}");
        }
    }

    /// On random text: the same key as [`kafka_key`] of [`Compact::plain_str`], the cursor
    /// left at the same place.
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
            let mut fast = Compact::new(&text);
            let mut simple = Compact::new(&text);
            let key = read_key(&mut fast);
            let expected = simple.plain_str().and_then(kafka_key);
            assert_eq!(key, expected, "{:?}", String::from_utf8_lossy(&text));
            if key.is_some() {
                read += 1;
                assert_eq!(fast.peek(), simple.peek());
                assert_eq!(fast.at_end(), simple.at_end());
            }
        }
        assert!(read > 100, "{read}");
    }
}
