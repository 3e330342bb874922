use super::*;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// What serde_json makes of `text` as an array of `u64`s, or `None`.
fn by_serde(text: &str) -> Option<Vec<u64>> {
    let values: Vec<Value> = serde_json::from_str(text).ok()?;
    values.iter().map(Value::as_u64).collect()
}

fn by_scan(text: &str) -> Option<Vec<u64>> {
    let mut out = Vec::new();
    let end = scan(text.as_bytes(), 0, |lo, hi, _| out.extend(lo..=hi))?;
    (end == text.len()).then_some(out)
}

#[test]
fn eight_bytes_at_a_time_reads_every_length() {
    for digits in 1..=7 {
        let number = "9876543".get(..digits).unwrap();
        let word = u64::from_le_bytes(
            format!("{number},xxxxxxx").as_bytes()[..8]
                .try_into()
                .unwrap(),
        );
        assert_eq!(
            eight(word),
            Some((number.parse().unwrap(), digits)),
            "{number}"
        );
    }
    assert_eq!(eight(u64::from_le_bytes(*b"12345678")), None);
    assert_eq!(eight(u64::from_le_bytes(*b",1234567")), Some((0, 0)));
    // Bytes next to the digits' range are not digits.
    for b in [b'/', b':', b'0' | 0x80, b'9' | 0x80, 0xff, 0] {
        let mut bytes = *b"12345678";
        bytes[3] = b;
        assert_eq!(eight(u64::from_le_bytes(bytes)), Some((123, 3)), "{b}");
    }
}

#[test]
fn words_near_the_end_are_padded_with_zeros() {
    let text = b"[1,2,3,45]";
    assert_eq!(word_at(text, 0), Some(u64::from_le_bytes(*b"[1,2,3,4")));
    assert_eq!(
        word_at(text, 7),
        Some(u64::from_le_bytes(*b"45]\0\0\0\0\0"))
    );
    assert_eq!(word_at(text, 9), Some(u64::from(b']')));
    assert_eq!(word_at(text, 10), None);
    assert_eq!(word_at(b"[1,2]", 1), None);
    for text in ["[1,2]", "[12]", "[7,8,9]", "[0]"] {
        assert_eq!(check(text.as_bytes(), 0), Some(text.len()), "{text}");
        assert_eq!(by_scan(text), by_serde(text), "{text}");
    }
}

#[test]
fn runs_are_reported_whole() {
    let mut runs = Vec::new();
    let text = b"[4,5,6,9,10,11,3,12,13]";
    assert_eq!(
        scan(text, 0, |lo, hi, end| runs.push((lo, hi, end))),
        Some(text.len())
    );
    assert_eq!(runs, [(4, 6, 6), (9, 11, 14), (3, 3, 16), (12, 13, 22)]);
}

#[test]
fn expected_texts_follow_the_value() {
    for value in [
        0, 8, 9, 98, 99, 109, 123_456, 129_999, 999_998, 999_999, 9_999_998,
    ] {
        let mut expected = Expected::after(value);
        let text = format!("{},", value + 1);
        assert_eq!(
            &expected.text.to_le_bytes()[..expected.len],
            text.as_bytes()
        );
        assert_eq!(expected.value(), value + 1);
        expected = expected.incremented();
        if value + 2 >= 10_000_000 {
            assert_eq!(expected.mask, 0, "eight digits are not predicted");
            continue;
        }
        let text = format!("{},", value + 2);
        assert_eq!(
            &expected.text.to_le_bytes()[..expected.len],
            text.as_bytes()
        );
    }
    assert_eq!(Expected::after(9_999_999).mask, 0);
    for value in [
        0u64, 1, 8, 9, 10, 19, 98, 99, 1234, 999_999, 1_234_567, 9_999_998,
    ] {
        let digits = value.to_string().len();
        let word = u64::from_le_bytes(
            format!("{value}]xxxxxxx").as_bytes()[..8]
                .try_into()
                .unwrap(),
        );
        let (a, b) = (Expected::after_text(word, digits), Expected::after(value));
        assert_eq!(
            (a.text, a.mask, a.len, a.unit, a.until_carry),
            (b.text, b.mask, b.len, b.unit, b.until_carry),
            "{value}"
        );
    }
}

#[test]
fn simple_arrays_read_as_serde_json_reads_them() {
    for text in [
        "[]",
        "[0]",
        "[0,1,2,3,10,99,100]",
        "[12345678,123456789,1234567890123456789]",
        "[9999999999999999999,18446744073]",
        "[1,22,333,4444,55555,666666,7777777,88888888,999999999]",
        // Runs across every carry, up to and past the seven digits predicted.
        "[7,8,9,10,11,12,98,99,100,101,999,1000,1001,5,6]",
        "[999998,999999,1000000,1000001,9999998,9999999,10000000,10000001,10000002]",
        "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21]",
        "[3,4,4,5,2,3]",
    ] {
        assert_eq!(by_scan(text), by_serde(text), "{text}");
        assert!(by_scan(text).is_some(), "{text}");
        assert_eq!(check(text.as_bytes(), 0), Some(text.len()), "{text}");
    }
}

#[test]
fn anything_else_is_left_to_the_general_reader() {
    for text in [
        "[ ]",
        "[1 ]",
        "[ 1]",
        "[1, 2]",
        "[-1]",
        "[01]",
        "[00]",
        "[1.5]",
        "[1e5]",
        "[1E5]",
        "[1,]",
        "[,1]",
        "[1",
        "[1,2",
        "[",
        "[[1]]",
        "[\"1\"]",
        "[null]",
        "[18446744073709551615]",
        "[12345678901234567890]",
        "{}",
        "1",
    ] {
        assert_eq!(by_scan(text), None, "{text}");
        assert_eq!(check(text.as_bytes(), 0), None, "{text}");
    }
}

#[test]
fn random_arrays_and_their_corruptions_agree_with_serde_json() {
    let mut rng = crate::Rng::seed_from_u64(7);
    let alphabet = b"0123456789,[] -.eE+\"x";
    for _ in 0..3000 {
        // Runs of consecutive values (as a broadcast read holds) from random starts.
        let mut values: Vec<u64> = Vec::new();
        for _ in 0..rng.gen_range(0..6) {
            let start: u64 = match rng.gen_range(0..5) {
                0 => rng.gen_range(0..10),
                1 => rng.gen_range(0..100_000),
                2 => 10u64.pow(rng.gen_range(1..9)) - rng.gen_range(0..3),
                3 => rng.gen_range(0..10_000_000_000),
                _ => rng.gen_range(0..9_999_999_999_999_999_980),
            };
            values.extend((start..).take(rng.gen_range(1..15)));
        }
        let text = serde_json::to_string(&values).unwrap();
        assert_eq!(by_scan(&text), Some(values), "{text}");
        // A corrupted copy: whatever the scan accepts, serde_json reads the same.
        let mut bytes = text.into_bytes();
        for _ in 0..rng.gen_range(1..3) {
            let at = rng.gen_range(0..bytes.len());
            bytes[at] = alphabet[rng.gen_range(0..alphabet.len())];
        }
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            check(text.as_bytes(), 0),
            scan(text.as_bytes(), 0, |_, _, _| {}),
            "{text}"
        );
        if let Some(values) = by_scan(&text) {
            assert_eq!(Some(values), by_serde(&text), "{text}");
        }
    }
}

/// What [`scan`] makes of `text`: its end and the set of its runs.
fn full(text: &[u8]) -> (Option<usize>, Option<IntSet>) {
    let mut set = IntSet::builder();
    let end = scan(text, 0, |lo, hi, _| set.push_range(lo, hi));
    (end, end.map(|_| set.finish()))
}

/// A node's successive reads, each mostly the last one with more values (inserted
/// anywhere, as a read after a partition heals), sometimes cut, reordered or corrupted:
/// the scan that starts from the last array says what the full scan says, every time.
#[test]
fn the_last_array_reads_every_array_as_a_full_scan_does() {
    let mut rng = crate::Rng::seed_from_u64(11);
    let alphabet = b"0123456789,[] -.x";
    let mut last = LastArray::default();
    let (mut resumed, mut same) = (0, 0);
    for round in 0..20 {
        let mut values: Vec<u64> = Vec::new();
        for _ in 0..300 {
            // More values, mostly the next ones, some anywhere.
            for _ in 0..rng.gen_range(0..4) {
                let v = match rng.gen_range(0..4) {
                    0 => rng.gen_range(0..2000),
                    1 => 10u64.pow(rng.gen_range(1..8)) - rng.gen_range(0..3),
                    _ => values.iter().max().map_or(0, |m| m + rng.gen_range(1..3)),
                };
                if !values.contains(&v) {
                    let at = if rng.gen_bool(0.8) {
                        values.len()
                    } else {
                        rng.gen_range(0..=values.len())
                    };
                    values.insert(at, v);
                }
            }
            if round % 4 == 0 {
                values.sort_unstable();
            }
            if rng.gen_bool(0.02) {
                values.truncate(rng.gen_range(0..=values.len()));
            }
            let mut text = serde_json::to_vec(&values).unwrap();
            if rng.gen_bool(0.1) {
                let at = rng.gen_range(0..text.len());
                text[at] = alphabet[rng.gen_range(0..alphabet.len())];
            }
            // As in a line: more text after the array, and before it.
            let mut line = b"{\"messages\":".to_vec();
            let start = line.len();
            line.extend_from_slice(&text);
            line.extend_from_slice(b",\"in_reply_to\":1}");
            let had = last.text.clone();
            let end = last.scan(&line, start);
            let mut expected_set = IntSet::builder();
            let expected = scan(&line, start, |lo, hi, _| expected_set.push_range(lo, hi));
            assert_eq!(end, expected, "{}", String::from_utf8_lossy(&text));
            if let Some(end) = end {
                assert_eq!(last.set(), expected_set.finish());
                assert_eq!(last.text, &line[start..end]);
                let runs = &last.runs;
                assert!(runs
                    .iter()
                    .all(|&(_, _, e)| matches!(last.text[e], b',' | b']')));
                same += usize::from(had == last.text);
                resumed += usize::from(!had.is_empty() && had[1..] != last.text[1..]);
            }
            // Whatever happened, what is kept is an array and its runs.
            if !last.text.is_empty() {
                let (end, set) = full(&last.text);
                assert_eq!(end, Some(last.text.len()));
                assert_eq!(set, Some(last.set()));
            }
        }
    }
    assert!(resumed > 1000 && same > 100, "{resumed} {same}");
}

#[test]
fn common_prefixes_are_found_at_every_length() {
    let a: Vec<u8> = (0..100u8).collect();
    for n in 0..=100 {
        for m in n..=100 {
            let mut b = a[..m].to_vec();
            if n < m {
                b[n] ^= 0x40;
            }
            assert_eq!(common_prefix(&a, &b), n, "{n} {m}");
            assert_eq!(common_prefix(&b, &a), n, "{n} {m}");
        }
    }
}
