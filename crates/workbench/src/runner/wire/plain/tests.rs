//! Tests of the plain-line fast path: each fast path against the general walk and serde on
//! random and damaged lines.

use super::*;

use crate::workloads::reply::{int_set, ReplyText};

fn read(line: &[u8], node_count: usize) -> Option<WireEnvelope<'_>> {
    super::read(line, node_count, &mut LastArray::default())
}

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
            ..
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

/// Random plain values, written compactly or with whitespace (all read here), then
/// mutated byte by byte: whatever the plain lane accepts, serde accepts as the same
/// envelope, and the unmutated lines are all accepted.
#[test]
fn random_and_broken_lines_agree_with_serde() {
    use rand::{Rng, SeedableRng};
    fn value(rng: &mut crate::Rng, depth: usize, out: &mut String, spaced: bool) {
        let ws = |rng: &mut crate::Rng, out: &mut String| {
            if spaced && rng.gen_bool(0.3) {
                out.push_str([" ", "\n", "\t ", "\r"][rng.gen_range(0..4)]);
            }
        };
        match rng.gen_range(0..if depth > 4 { 4 } else { 7 }) {
            0 => out.push_str(&rng.gen_range(-1000i64..100_000).to_string()),
            1 => out.push_str(&rng.gen::<i64>().to_string()),
            2 => out.push_str(
                [
                    "true",
                    "false",
                    "null",
                    r#""""#,
                    r#""r""#,
                    r#""a b~""#,
                    r#""commit_offsets_ok""#,
                ][rng.gen_range(0..7)],
            ),
            3 => out.push_str(&format!(r#""k{}""#, rng.gen_range(0..50))),
            4 | 5 => {
                out.push('[');
                ws(rng, out);
                for k in 0..rng.gen_range(0..5) {
                    if k > 0 {
                        out.push(',');
                        ws(rng, out);
                    }
                    value(rng, depth + 1, out, spaced);
                    ws(rng, out);
                }
                out.push(']');
            }
            _ => {
                out.push('{');
                ws(rng, out);
                for k in 0..rng.gen_range(0..4) {
                    if k > 0 {
                        out.push(',');
                        ws(rng, out);
                    }
                    out.push_str(&format!(r#""f{k}""#));
                    ws(rng, out);
                    out.push(':');
                    ws(rng, out);
                    value(rng, depth + 1, out, spaced);
                    ws(rng, out);
                }
                out.push('}');
            }
        }
    }
    let mut rng = crate::Rng::seed_from_u64(17);
    let alphabet = b"[]{},:\"0159-+.eE tnfalsu\\\n\x01\x7f\xc3\xa9";
    let (mut accepted, mut mutated_accepted, mut sets, mut closed_some) = (0, 0, 0, 0);
    let mut last_array = LastArray::default();
    let mut read_set: Vec<u64> = Vec::new();
    for round in 0..20_000 {
        let mut body = String::from(r#"{"type":"x","v":"#);
        value(&mut rng, 0, &mut body, round % 3 == 0);
        if round % 4 < 2 {
            // A read's growing set, as a node answers one after another.
            for _ in 0..rng.gen_range(0..3) {
                let v = match rng.gen_range(0..3) {
                    0 => rng.gen_range(0..500),
                    _ => read_set.last().map_or(0, |l| l + rng.gen_range(1..3)),
                };
                if !read_set.contains(&v) {
                    read_set.push(v);
                }
            }
            body.push_str(r#","messages":"#);
            body.push_str(&serde_json::to_string(&read_set).unwrap());
        }
        // A reply's ids, which the wire check reads as numbers on the way.
        let ids = [
            "7",
            "0",
            "9223372036854775807",
            "-3",
            "\"5\"",
            "null",
            "[1]",
        ];
        if round % 5 != 4 {
            let id = ids[rng.gen_range(0..ids.len())];
            body.push_str(&format!(r#","in_reply_to":{id}"#));
        }
        if round % 7 == 0 {
            let id = ids[rng.gen_range(0..ids.len())];
            body.push_str(&format!(r#","msg_id":{id}"#));
        }
        body.push('}');
        let dest = ["n1", "c2", "lin-kv"][round % 3];
        let line = format!(r#"{{"src":"n0","dest":"{dest}","body":{body}}}"#);
        let mut bytes = line.into_bytes();
        let mutate = round % 2 == 1;
        if mutate {
            for _ in 0..rng.gen_range(1..3) {
                let at = rng.gen_range(0..bytes.len());
                let b = alphabet[rng.gen_range(0..alphabet.len())];
                crate::test_util::damage(&mut bytes, at, b, rng.gen_range(0..3));
            }
        }
        let shown = String::from_utf8_lossy(&bytes).into_owned();
        // Lines as nodes write them take the fast path.
        assert!(mutate || compact_head(&bytes).is_some(), "{shown}");
        // A leading space keeps the line from the compact head's fast path: both paths
        // read a line the same way.
        let spaced = [&b" "[..], &bytes].concat();
        let slow = super::read(&spaced, 3, &mut LastArray::default());
        let Some(plain) = super::read(&bytes, 3, &mut last_array) else {
            assert!(mutate, "a plain line refused: {shown}");
            assert!(slow.is_none(), "{shown}");
            continue;
        };
        let slow = slow.expect(&shown);
        assert_eq!(
            (&plain.src, &plain.dest),
            (&slow.src, &slow.dest),
            "{shown}"
        );
        assert_eq!(plain.addrs, slow.addrs, "{shown}");
        match (&plain.body, &slow.body) {
            (
                WireBody::Raw {
                    text,
                    parsed_in_exact_mode,
                    scanned,
                },
                WireBody::Raw {
                    text: t,
                    parsed_in_exact_mode: p,
                    scanned: s,
                },
            ) => {
                assert_eq!((text, parsed_in_exact_mode), (t, p), "{shown}");
                let parts = |s: &Option<ScannedBox>| {
                    s.as_ref().map(|s| {
                        let sets: Vec<_> = s.sets.iter().map(|k| (k.start, k.end)).collect();
                        let ops = (s.ops_at, s.ops.clone());
                        (
                            s.fields, s.len, s.too_many, s.keys, s.reserved, s.twice, s.ids, sets,
                            ops,
                        )
                    })
                };
                assert_eq!(parts(scanned), parts(s), "{shown}");
            }
            _ => panic!("{shown}"),
        }
        accepted += 1;
        mutated_accepted += usize::from(mutate);
        serde_json::from_slice::<serde_json::Value>(&bytes).expect(&shown);
        let exact = super::super::parse_envelope_exactly(&bytes, 3).expect(&shown);
        assert_eq!((&plain.src, &plain.dest), (&exact.src, &exact.dest));
        let addr = |id: &[u8]| Addr::parse(std::str::from_utf8(id).unwrap(), 3);
        assert_eq!(plain.addrs, Some([addr(&exact.src), addr(&exact.dest)]));
        let WireBody::Raw {
            text,
            parsed_in_exact_mode,
            scanned,
        } = plain.body
        else {
            panic!("{shown}")
        };
        // What was found on the way is what the reply readers find in the text.
        assert_eq!(scanned.is_some(), parsed_in_exact_mode, "{shown}");
        if let Some(scanned) = &scanned {
            let fresh = ReplyText::new(&text);
            let found = ReplyText::scanned(&text, Some(&**scanned));
            assert_eq!(found.fields(), fresh.fields(), "{shown}");
            type Texts<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);
            fn header<'a>(r: &ReplyText<'a>) -> Option<Texts<'a>> {
                r.header().map(|h| (h.kind, h.in_reply_to))
            }
            assert_eq!(header(&found), header(&fresh), "{shown}");
            assert_eq!(found.in_reply_to(), fresh.in_reply_to(), "{shown}");
            assert_eq!(found.route(), fresh.route(), "{shown}");
            for names in [["v"], ["messages"]] {
                let closed = found.closed("x", names);
                assert_eq!(closed, fresh.closed("x", names), "{shown}");
                closed_some += usize::from(closed.is_some());
            }
            for kept in &scanned.sets {
                let array = &text[kept.start as usize..kept.end as usize];
                sets += 1;
                assert_eq!(kept.set.borrow().clone(), int_set(array), "{shown}");
                assert!(fresh.fields().unwrap().iter().any(|(_, v)| *v == array));
                assert_eq!(found.int_set(array), int_set(array), "{shown}");
            }
        }
        match exact.body {
            WireBody::Raw { text: t, .. } => assert_eq!(text, t, "{shown}"),
            WireBody::Parsed(v) => {
                assert_eq!(crate::net::parse_value(&text).unwrap(), v, "{shown}")
            }
        }
    }
    // Both kinds were exercised.
    assert!(
        accepted > 10_000 && mutated_accepted > 100 && sets > 1000 && closed_some > 100,
        "{accepted} {mutated_accepted} {sets} {closed_some}"
    );
}

/// [`skip_value`] without [`skip_flat_array`]: nothing found, every array read by the
/// general loop.
struct General;

impl Finds for General {
    const FIELDS: bool = false;
    const FLAT_ARRAYS: bool = false;
    fn key(&mut self, _: &[u8], _: usize, _: usize, _: usize) {}
    fn value_end(&mut self, _: &[u8], _: usize) {}
    fn array(&mut self, _: &[u8], _: usize) -> Option<usize> {
        None
    }
}

/// Random arrays of scalars and arrays of them (as txn micro-ops and kafka messages are
/// written), compact or spaced, then damaged: the loop for arrays of scalars ends where
/// the general loop ends, or refuses where it refuses.
#[test]
fn arrays_of_scalars_are_read_as_the_general_loop_reads_them() {
    use rand::{Rng, SeedableRng};
    let mut rng = crate::Rng::seed_from_u64(29);
    let scalars = [
        "\"r\"",
        "\"w\"",
        "\"\"",
        "0",
        "-1",
        "12",
        "1234567890123456789",
        "12345678901234567890",
        "true",
        "false",
        "null",
        "1.5",
        "01",
        "\"a\\\"b\"",
    ];
    let alphabet = b"[]{},:\" 0-9tnf.e";
    let (mut accepted, mut flat) = (0, 0);
    for round in 0..40_000 {
        let spaced = round % 5 == 0;
        let sep = if spaced { ", " } else { "," };
        let mut text = String::from("{\"txn\":[");
        for k in 0..rng.gen_range(0..4) {
            if k > 0 {
                text.push_str(sep);
            }
            let inner: Vec<&str> = (0..rng.gen_range(0..4))
                .map(|_| scalars[rng.gen_range(0..scalars.len())])
                .collect();
            text.push_str(&format!("[{}]", inner.join(sep)));
        }
        text.push_str("]}");
        let mut bytes = text.into_bytes();
        if round % 2 == 1 {
            let at = rng.gen_range(0..bytes.len());
            bytes[at] = alphabet[rng.gen_range(0..alphabet.len())];
        }
        let shown = String::from_utf8_lossy(&bytes).into_owned();
        let end = skip_value(&bytes, 0, &mut Skip);
        assert_eq!(end, skip_value(&bytes, 0, &mut General), "{shown}");
        if let Some(end) = end {
            accepted += 1;
            serde_json::from_slice::<serde_json::Value>(&bytes[..end]).expect(&shown);
        }
        let inner = bytes.iter().position(|&b| b == b'[').and_then(|i| {
            let j = i + 1 + bytes[i + 1..].iter().position(|&b| b == b'[')?;
            Some(j)
        });
        if let Some(j) = inner {
            flat += usize::from(skip_flat_array::<Skip>(&bytes, j).is_some());
        }
    }
    assert!(accepted > 15_000 && flat > 10_000, "{accepted} {flat}");
}

/// The word-wide test of string bytes is the byte-wise one, for every byte in every lane.
#[test]
fn string_bytes_are_classified_eight_at_a_time_as_one_by_one() {
    for b in 0..=255u8 {
        let plain = !matches!(b, b'"' | b'\\' | 0..=0x1f | 0x7f..=0xff);
        for lane in 0..8 {
            let mut bytes = [b'a'; 8];
            bytes[lane] = b;
            let found = not_plain_string_bytes(u64::from_le_bytes(bytes));
            let expected = if plain { 0 } else { 0x80 << (8 * lane) };
            assert_eq!(found, expected, "{b:#x} in lane {lane}");
        }
    }
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    for b in 0..=255u8 {
        let plain = !matches!(b, b'"' | b'\\' | 0..=0x1f | 0x7f..=0xff);
        for lane in 0..16 {
            let mut bytes = [b'a'; 16];
            bytes[lane] = b;
            // SAFETY: sixteen bytes.
            let found = unsafe { not_plain_string_bytes_16(bytes.as_ptr()) };
            let expected = if plain { 0 } else { 1 << lane };
            assert_eq!(found, expected, "{b:#x} in lane {lane}");
        }
    }
    let line = br#"{"src":"n0","dest":"n1","body":{"type":"a_long_type_name","k":"\u0041"}}"#;
    assert!(read(line, 3).is_none());
    let line = r#"{"src":"n0","dest":"n1","body":{"type":"a_long_type_name","k":"é"}}"#;
    assert!(read(line.as_bytes(), 3).is_none());
}

/// Replies holding arrays of micro-ops (compact as the txn nodes write them, or not quite:
/// spaced, negative, too long, lists, other names), then damaged: a reply is read to the
/// same end, or refused, with and without the micro-op reader, and the micro-ops it read
/// are those serde reads in the same text.
#[test]
fn micro_op_arrays_are_read_as_the_general_loop_reads_them() {
    use crate::history::MicroF;
    use rand::{Rng, SeedableRng};
    let mut rng = crate::Rng::seed_from_u64(31);
    let names = [
        "\"r\"",
        "\"w\"",
        "\"append\"",
        "\"x\"",
        "\"rr\"",
        "1",
        "null",
        "\"r\\u0022\"",
    ];
    let ints = [
        "0",
        "7",
        "12",
        "9223372036854775807",
        "9223372036854775808",
        "12345678901234567890",
        "-1",
        "01",
        "1.5",
        "null",
        "[1,2]",
        "\"3\"",
    ];
    let alphabet = b"[]{},:\" 0-9nulraw.e";
    let (mut scanned, mut refused) = (0, 0);
    for round in 0..30_000 {
        let sep = if round % 7 == 0 { ", " } else { "," };
        let mut txn = String::from("[");
        for k in 0..rng.gen_range(0..5) {
            if k > 0 {
                txn.push_str(sep);
            }
            let usual = rng.gen_bool(0.8);
            let name = names[if usual {
                rng.gen_range(0..3)
            } else {
                rng.gen_range(0..8)
            }];
            let mut int = || {
                ints[if usual {
                    rng.gen_range(0..4)
                } else {
                    rng.gen_range(0..12)
                }]
            };
            let (key, value) = (int(), int());
            txn.push_str(&format!("[{name}{sep}{key}{sep}{value}]"));
        }
        txn.push(']');
        let body = format!(r#"{{"type":"txn_ok","txn":{txn},"in_reply_to":1}}"#);
        let mut bytes = format!(r#"{{"src":"n0","dest":"c1","body":{body}}}"#).into_bytes();
        if round % 2 == 1 {
            let at = rng.gen_range(0..bytes.len());
            let b = alphabet[rng.gen_range(0..alphabet.len())];
            crate::test_util::damage(&mut bytes, at, b, rng.gen_range(0..3));
        }
        let shown = String::from_utf8_lossy(&bytes).into_owned();
        // Where the body starts, when the head is as nodes write it, and where the general
        // loop ends it.
        let general = compact_head(&bytes).map(|(_, _, at)| {
            let at = skip_ws(&bytes, at);
            let body = (bytes.get(at) == Some(&b'{')).then(|| skip_value(&bytes, at, &mut General));
            (at, body.flatten())
        });
        let Some(plain) = read(&bytes, 3) else {
            // Refused, or left to serde: the general loop did not take the line either.
            if let Some((_, Some(end))) = general {
                assert!(end + 1 != bytes.len() || bytes[end] != b'}', "{shown}");
            }
            refused += 1;
            continue;
        };
        let WireBody::Raw {
            text,
            scanned: Some(found),
            ..
        } = plain.body
        else {
            // Not a reply after all (the damage hit the head).
            continue;
        };
        if let Some((at, end)) = general {
            assert_eq!(end, Some(at + text.len()), "{shown}");
        }
        serde_json::from_slice::<serde_json::Value>(&bytes).expect(&shown);
        let Some([start, end]) = found.ops_at else {
            assert!(found.ops.is_empty(), "{shown}");
            continue;
        };
        let array: Vec<serde_json::Value> =
            serde_json::from_slice(&text[start as usize..end as usize]).expect(&shown);
        let expected: Vec<_> = array
            .iter()
            .map(|op| {
                let f = match op[0].as_str().unwrap() {
                    "r" => MicroF::Read,
                    "w" => MicroF::Write,
                    _ => MicroF::Append,
                };
                (f, op[1].as_i64().unwrap(), op[2].as_i64())
            })
            .collect();
        let got: Vec<_> = found.ops.iter().map(|o| (o.f, o.key, o.value)).collect();
        assert_eq!(got, expected, "{shown}");
        let reply = ReplyText::scanned(&text, Some(&*found));
        // Handed on with the field it was read in (a damaged key may make that another).
        let (_, txn) = reply
            .fields()
            .unwrap()
            .into_iter()
            .find(|(_, v)| v.as_ptr() as usize - text.as_ptr() as usize == start as usize)
            .expect(&shown);
        assert_eq!(reply.micro_ops(txn), Some(&found.ops[..]), "{shown}");
        assert_eq!(reply.micro_ops(&txn[1..]), None);
        scanned += 1;
    }
    assert!(scanned > 5000 && refused > 1000, "{scanned} {refused}");
}

/// The reserved keys known by their bytes are read as any key is: the same end, value and
/// name; near misses are left to the general reading.
#[test]
fn literal_keys_are_read_as_any_key_is() {
    let keys = [
        "\"type\":",
        "\"type\" :",
        "\"types\":",
        "\"typ\":",
        "\"msg_id\":",
        "\"msg_id\" :",
        "\"msg_idx\":",
        "\"in_reply_to\":",
        "\"in_reply_to\" :",
        "\"in_reply_tx\":",
        "\"in_reply\":",
        "\"in_repl\":",
        "\"x\":",
    ];
    let mut known = 0;
    for key in keys {
        for value in ["1", " \"a\"", "[1,2]", "}"] {
            for padding in ["", "          "] {
                let text = format!("{key}{value}{padding}");
                let bytes = text.as_bytes();
                let general = skip_key(bytes, 0).map(|value| {
                    let end = skip_string(bytes, 0).unwrap();
                    (value, reserved_key(&bytes[1..end - 1]), end)
                });
                if let Some((len, reserved)) = literal_key(bytes, 0) {
                    known += 1;
                    assert_eq!(
                        Some((skip_ws(bytes, len), reserved, len - 1)),
                        general,
                        "{text}"
                    );
                    assert_ne!(reserved, 0, "{text}");
                }
            }
        }
    }
    // Each of the three, unspaced, with any value after it.
    assert_eq!(known, 3 * 4 * 2, "{known}");
}
