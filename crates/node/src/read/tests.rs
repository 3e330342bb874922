//! The reader's own tests: values read as serde reads them, malformed text refused, and the
//! unscanned request path against the scanned one.

use super::*;

/// Reads a whole value with the reader's primitives, generically: objects and arrays
/// recursively, everything else by [`BodyReader::value`].
fn read_any(r: &mut BodyReader<'_>) -> Option<Value> {
    r.s.ws();
    match r.s.peek()? {
        b'{' => {
            r.object()?;
            let mut map = serde_json::Map::new();
            while let Some(key) = r.key()? {
                map.insert(key.to_string(), read_any(r)?);
            }
            Some(Value::Object(map))
        }
        b'[' => {
            r.array()?;
            let mut list = Vec::new();
            while r.more()? {
                list.push(read_any(r)?);
            }
            Some(Value::Array(list))
        }
        _ => r.value(),
    }
}

fn whole(text: &str) -> Option<Value> {
    let mut r = BodyReader::new(text);
    let v = read_any(&mut r)?;
    r.end()?;
    Some(v)
}

#[test]
fn plain_values_read_as_serde_reads_them() {
    for text in [
        r#"{"a":1,"b":[1,-2,null,"x",true,false,[],{}],"c":{"d":[[1],[2,3]]}}"#,
        r#" { "a" : [ 1 , 2 ] , "b" : { } } "#,
        r#"[18446744073709551615,-9223372036854775808,0,"é 🦀"]"#,
        r#"{"f":1.5,"e":-2e3,"s":"a\nb","big":18446744073709551616,"neg":-9223372036854775809,"z":-0}"#,
        "[]",
    ] {
        let expected: Value = serde_json::from_str(text).unwrap();
        assert_eq!(whole(text), Some(expected), "{text}");
    }
}

#[test]
fn malformed_text_is_refused() {
    for text in [
        "{,}",
        r#"{"a":1,}"#,
        r#"{"a":1 "b":2}"#,
        "[1,]",
        "[,1]",
        "[1 2]",
        "[1]]",
        "[1",
        r#"{"a"}"#,
        r#"{"a":}"#,
        "[01]",
        "[1.]",
        "[tru]",
        r#"["\x"]"#,
        "{} x",
    ] {
        assert!(serde_json::from_str::<Value>(text).is_err(), "{text}");
        assert_eq!(whole(text), None, "{text}");
    }
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    assert_eq!(whole(&deep), None);
}

#[test]
fn integers_are_refused_where_serde_would_not_give_one() {
    let int = |text: &str| BodyReader::new(text).i64();
    let uint = |text: &str| BodyReader::new(text).u64();
    assert_eq!(int("-9223372036854775808"), Some(i64::MIN));
    assert_eq!(int("9223372036854775807"), Some(i64::MAX));
    assert_eq!(int(" 42"), Some(42));
    for refused in [
        "9223372036854775808",
        "-9223372036854775809",
        "-0",
        "1.0",
        "1e2",
        "-",
        "null",
        "\"1\"",
    ] {
        assert_eq!(int(refused), None, "{refused}");
        assert!(serde_json::from_str::<i64>(refused).is_err(), "{refused}");
    }
    assert_eq!(uint("18446744073709551615"), Some(u64::MAX));
    for refused in ["18446744073709551616", "-1", "01", "null"] {
        assert_eq!(uint(refused), None, "{refused}");
    }
    let mut r = BodyReader::new("[null,7,-7]");
    r.array().unwrap();
    assert_eq!(r.more().and_then(|_| r.opt_i64()), Some(None));
    assert_eq!(r.more().and_then(|_| r.opt_u64()), Some(Some(7)));
    assert_eq!(r.more().and_then(|_| r.opt_i64()), Some(Some(-7)));
    assert_eq!(r.more(), Some(false));
    assert_eq!(r.end(), Some(()));
}

/// `u64s` reads an array as serde reads a `Vec<u64>`, or refuses it; plain arrays are
/// always read (random arrays, then random bytes changed in them).
#[test]
fn integer_arrays_read_as_serde_reads_them() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let read = |text: &str| {
        let mut out = vec![99];
        let mut r = BodyReader::new(text);
        r.u64s(&mut out)?;
        r.end()?;
        Some(out.split_off(1))
    };
    for round in 0..4000 {
        let len = rng.gen_range(0..8);
        let values: Vec<u64> = (0..len)
            .map(|_| match rng.gen_range(0..4) {
                0 => rng.gen_range(0..10),
                1 => rng.gen(),
                _ => rng.gen_range(0..100_000),
            })
            .collect();
        let mut text = serde_json::to_string(&values).unwrap().into_bytes();
        let plain = round % 2 == 0;
        if !plain {
            for _ in 0..rng.gen_range(1..3) {
                if text.is_empty() {
                    break;
                }
                let at = rng.gen_range(0..text.len());
                let bytes = b" ,]0123456789-.e[x\n";
                let byte = bytes[rng.gen_range(0..bytes.len())];
                crate::tests::damage(&mut text, at, byte, rng.gen_range(0..3));
            }
        }
        let text = String::from_utf8(text).unwrap();
        let serde = serde_json::from_str::<Vec<u64>>(&text).ok();
        let got = read(&text);
        if plain {
            assert_eq!(got, Some(values), "{text}");
        }
        if got.is_some() {
            assert_eq!(got, serde, "{text}");
        }
    }
    for text in [
        "[ 1 , 2 ]",
        "[1, 2]",
        "[1 ,2]",
        "[ ]",
        "[0,0]",
        "[18446744073709551615]",
    ] {
        assert_eq!(
            read(text),
            serde_json::from_str::<Vec<u64>>(text).ok(),
            "{text}"
        );
        assert!(read(text).is_some(), "{text}");
    }
    for text in [
        "[1,]",
        "[,1]",
        "[1,,2]",
        "[01]",
        "[1 2]",
        "[-1]",
        "[1.0]",
        "[18446744073709551616]",
        "[1",
        "[1,2",
    ] {
        assert_eq!(read(text), None, "{text}");
    }
}

/// (src, dest, type, msg_id, body as read), as the engine would deliver a request.
type Delivered = (String, String, String, Option<u64>, Value);

/// The engine's usual path: [`crate::scan::scan`], then the reader over the body.
fn delivered_after_scan(line: &str) -> Option<Delivered> {
    let msg = crate::scan::scan(line)?;
    let ty = msg.ty?;
    if msg.in_reply_to.is_some() || ty == "init" {
        return None;
    }
    let mut r = BodyReader::new(msg.body);
    let body = read_request(ty, &mut r)?;
    if !(r.walked_all() || crate::scan::valid_body(msg.body)) {
        return None;
    }
    let (src, dest) = (msg.src.into(), msg.dest.into());
    Some((src, dest, ty.into(), msg.msg_id, body))
}

/// A request reader: key by key ([`read_any`]); for type `t1`, key by key skipping every
/// value; for `t4` the same, the keys `msg_id`, `k` and `type` first tried in that order by
/// [`BodyReader::key_is`]; for `t5`, by [`BodyReader::field`] skipping every value; for `t2`,
/// the body whole; for `t3`, the body skipped whole.
fn read_request(ty: &str, r: &mut BodyReader<'_>) -> Option<Value> {
    match ty {
        "t5" => {
            let mut keys = Vec::new();
            r.object()?;
            while let Some(key) = r.field()? {
                keys.push(Value::from(key));
                r.skip()?;
            }
            Some(Value::Array(keys))
        }
        "t1" | "t4" => {
            let mut keys = Vec::new();
            r.object()?;
            if ty == "t4" {
                for key in ["msg_id", "k", "type"] {
                    if r.key_is(key) {
                        keys.push(Value::from(key));
                        r.skip()?;
                    }
                }
            }
            while let Some(key) = r.key()? {
                keys.push(Value::from(key));
                r.skip()?;
            }
            Some(Value::Array(keys))
        }
        "t2" => serde_json::from_str(r.raw()?).ok(),
        "t3" => r.skip().map(|()| Value::Null),
        _ => read_any(r),
    }
}

/// The unscanned path: the envelope up to the body, the reader (told where the `type` the
/// envelope's scan found is, as the engine tells it), then the header check. The same reader
/// without that hint must read the same and check the same header.
fn delivered_unscanned(line: &str) -> Option<Delivered> {
    let msg = crate::scan::scan_request(line)?;
    if msg.ty == "init" {
        return None;
    }
    let read = |mut r: BodyReader<'_>| {
        let body = read_request(msg.ty, &mut r);
        let header = body.as_ref().map(|_| r.request_header(msg.ty, msg.ty_at));
        (body, header)
    };
    let (body, header) = read(BodyReader::with_type_at(msg.body, msg.ty_at, msg.ty));
    assert_eq!(
        (&body, header),
        (
            &read(BodyReader::new(msg.body)).0,
            read(BodyReader::new(msg.body)).1
        ),
        "{line}"
    );
    let (body, msg_id) = (body?, header??);
    let (src, dest) = (msg.src.into(), msg.dest.into());
    Some((src, dest, msg.ty.into(), msg_id, body))
}

/// Random lines, plain and then damaged: whatever the unscanned path delivers, the usual
/// path delivers the same way; and it takes the plain request lines it was made for.
#[test]
fn unscanned_requests_read_as_scanned_ones() {
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let keys = [
        "type",
        "msg_id",
        "in_reply_to",
        "key",
        "offsets",
        "ty\\u0070e",
        "t",
    ];
    let types = [
        r#""t5""#,
        r#""t4""#,
        r#""t2""#,
        r#""t1""#,
        r#""t3""#,
        r#""poll_ok""#,
        r#""init""#,
        "null",
        "5",
        r#""a\"b""#,
        r#""""#,
    ];
    let values = [
        "1",
        "0",
        "-3",
        "1.5",
        "null",
        "true",
        r#""x""#,
        r#""}\"{""#,
        "[]",
        "{}",
        r#"[1,[2,"]"],{"type":"y"}]"#,
        r#"{"msg_id":4,"k":[null]}"#,
        "18446744073709551616",
    ];
    let (mut taken, mut plain_total) = (0, 0);
    for round in 0..30_000 {
        let mut members = Vec::new();
        let plain = round % 3 == 0;
        if plain {
            members.push(format!(r#""msg_id":{}"#, rng.gen_range(0..5000)));
            members.push(format!(r#""k":{}"#, values.choose(&mut rng).unwrap()));
            members.shuffle(&mut rng);
            let ty = format!(r#""type":"t{}""#, rng.gen_range(0..6));
            match rng.gen_bool(0.5) {
                true => members.insert(0, ty),
                false => members.push(ty),
            }
        } else {
            for _ in 0..rng.gen_range(0..5) {
                let key = *keys.choose(&mut rng).unwrap();
                let value = match key {
                    "type" => types.choose(&mut rng).unwrap().to_string(),
                    "msg_id" | "in_reply_to" if rng.gen_bool(0.7) => {
                        rng.gen_range(0..100).to_string()
                    }
                    _ => values.choose(&mut rng).unwrap().to_string(),
                };
                members.push(format!(r#""{key}":{value}"#));
            }
        }
        let body = format!("{{{}}}", members.join(","));
        let mut envelope = [
            format!(r#""id":{}"#, rng.gen_range(0..100)),
            r#""src":"c1""#.to_string(),
            r#""dest":"n1""#.to_string(),
            format!(r#""body":{body}"#),
        ];
        if !plain && rng.gen_bool(0.3) {
            envelope.shuffle(&mut rng);
        }
        let mut line = format!("{{{}}}", envelope.join(",")).into_bytes();
        if !plain {
            for _ in 0..rng.gen_range(0..3) {
                let at = rng.gen_range(0..line.len());
                let bytes = br#" ,:]}[{"0123456789-.\nx"#;
                let byte = bytes[rng.gen_range(0..bytes.len())];
                crate::tests::damage(&mut line, at, byte, rng.gen_range(0..3));
            }
        }
        let Ok(line) = String::from_utf8(line) else {
            continue;
        };
        let fast = delivered_unscanned(&line);
        if let Some((_, _, ty, _, keys)) = fast.as_ref().filter(|f| f.2 == "t5") {
            // The keys `key` reads but the top-level `type` and `msg_id`.
            let body = crate::scan::scan_request(&line).unwrap().body;
            let by_key = read_request("t1", &mut BodyReader::new(body)).unwrap();
            let others: Vec<Value> = by_key
                .as_array()
                .unwrap()
                .iter()
                .filter(|k| *k != "type" && *k != "msg_id")
                .cloned()
                .collect();
            assert_eq!(keys, &Value::Array(others), "{ty} {line}");
        }
        if let Some((_, _, ty, _, keys)) = fast.as_ref().filter(|f| f.2 == "t4") {
            // The expected keys read as `key` reads them.
            let body = crate::scan::scan_request(&line).unwrap().body;
            let by_key = read_request("t1", &mut BodyReader::new(body));
            assert_eq!(Some(keys), by_key.as_ref(), "{ty} {line}");
        }
        if fast.is_some() {
            taken += 1;
            assert_eq!(fast, delivered_after_scan(&line), "{line}");
        }
        if plain {
            plain_total += 1;
            assert!(fast.is_some(), "{line}");
        }
    }
    assert!(taken > plain_total, "{taken} {plain_total}");
}

#[test]
fn field_sets_spot_duplicates() {
    let mut seen = FieldSet::default();
    assert!(seen.first(3));
    assert!(!seen.first(3));
    assert!(seen.has(3) && !seen.has(2));
}
