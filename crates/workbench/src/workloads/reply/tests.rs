//! Tests of the reply readers: the fast paths against the map's way and serde.

use super::*;
use serde_json::json;

fn reply(text: &str) -> ReplyText<'_> {
    ReplyText::new(text.as_bytes())
}

/// What the wire check finds in `text` (as the plain lane's tests check), from the
/// fields the text walk finds.
fn scan_fields(text: &str) -> Scanned {
    let mut scanned = Scanned::default();
    let base = text.as_ptr() as usize;
    let at = |s: &[u8]| (s.as_ptr() as usize - base) as u32;
    assert!(for_each_field(text.as_bytes(), |key, value| {
        let field = [
            at(key),
            at(key) + key.len() as u32,
            at(value),
            at(value) + value.len() as u32,
        ];
        scanned.push_field(field, reserved_key(key), text.as_bytes());
        true
    }));
    scanned
}

#[test]
fn fields_are_found_whatever_they_hold() {
    let r =
        reply(r#" { "a" : [1, [2, {"]": "}"}], "x\"y"], "b":{"c":[{}]} ,"d":-1.5e3,"e":"q\\"} "#);
    let fields = r.fields().unwrap();
    let keys: Vec<_> = fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, [&b"a"[..], b"b", b"d", b"e"]);
    assert_eq!(fields[0].1, br#"[1, [2, {"]": "}"}], "x\"y"]"#);
    assert_eq!(fields[1].1, br#"{"c":[{}]}"#);
    assert_eq!(fields[2].1, b"-1.5e3");
    assert_eq!(fields[3].1, br#""q\\""#);
    assert!(reply(r#"{"a\u0062":1}"#).fields().is_none());
    assert_eq!(reply("{}").fields().unwrap(), vec![]);
}

#[test]
fn closed_accepts_only_what_closed_schema_accepts() {
    let schema = |text: &str| {
        let map: Map<String, Value> = serde_json::from_str(text).unwrap();
        crate::workloads::closed_schema(&map, "read_ok", &["messages"]).is_ok()
    };
    let ok = r#"{"type":"read_ok","messages":[1,2],"in_reply_to":3,"msg_id":4}"#;
    assert_eq!(
        reply(ok).closed("read_ok", ["messages"]),
        Some([&b"[1,2]"[..]])
    );
    assert!(schema(ok));
    for bad in [
        r#"{"type":"read_ok","messages":[1],"in_reply_to":3,"x":1}"#,
        r#"{"type":"read_ok","in_reply_to":3}"#,
        r#"{"type":"read","messages":[1],"in_reply_to":3}"#,
        r#"{"type":"read_ok","messages":[1],"in_reply_to":-3}"#,
        r#"{"type":"read_ok","messages":[1],"in_reply_to":3.0}"#,
        r#"{"type":"read_ok","messages":[1],"in_reply_to":3,"msg_id":"4"}"#,
        r#"{"type":"read_ok","messages":[1],"in_reply_to":3,"in_reply_to":"x"}"#,
        r#"{"type":"read_ok","messages":[1]}"#,
    ] {
        assert_eq!(reply(bad).closed("read_ok", ["messages"]), None, "{bad}");
        assert!(!schema(bad), "{bad}");
    }
    // Accepted by the map, left to it here: the fast path only ever says less.
    for slow in [
        r#"{"type":"read\u005fok","messages":[1],"in_reply_to":3}"#,
        r#"{"type":"read_ok","messages":[1],"messages":[2],"in_reply_to":3}"#,
    ] {
        assert_eq!(reply(slow).closed("read_ok", ["messages"]), None, "{slow}");
        assert!(schema(slow), "{slow}");
    }
}

/// `closed` on random replies, through the kept fields (as the wire check files them;
/// `header`, `in_reply_to` and `fields` too) and through the text, against the map's way: the schema accepts it, no key is escaped or written twice and `type`
/// is written plainly.
#[test]
fn closed_matches_the_schema_on_random_replies() {
    use rand::{Rng, SeedableRng};
    let keys = ["type", "in_reply_to", "msg_id", "txn", "x", "typ\\u0065"];
    let values = [
        r#""txn_ok""#,
        r#""txn""#,
        r#""txn\u005fok""#,
        "3",
        "-3",
        "3.0",
        r#""4""#,
        "18446744073709551615",
        "18446744073709551616",
        r#"[["r",1,null]]"#,
        "{}",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let n = rng.gen_range(0..9);
        let mut text = String::from("{");
        for i in 0..n {
            if i > 0 {
                text.push(',');
            }
            // Mostly the keys of a good reply in turn, so that some are accepted.
            let key = match ["type", "in_reply_to", "txn", "msg_id"].get(i) {
                Some(&usual) if rng.gen_bool(0.75) => usual,
                _ => keys[rng.gen_range(0..keys.len())],
            };
            let value = match key {
                "type" if rng.gen_bool(0.7) => values[0],
                "in_reply_to" | "msg_id" if rng.gen_bool(0.7) => values[3],
                _ => values[rng.gen_range(0..values.len())],
            };
            text.push_str(&format!("\"{key}\":{value}"));
        }
        text.push('}');
        let map: Map<String, Value> = serde_json::from_str(&text).unwrap();
        let expected = reply(&text).fields().and_then(|fields| {
            let unique = fields
                .iter()
                .enumerate()
                .all(|(i, (k, _))| fields[..i].iter().all(|(k2, _)| k2 != k));
            let get = |name: &str| fields.iter().find(|(k, _)| *k == name.as_bytes());
            let plain_type = get("type").is_some_and(|(_, v)| *v == br#""txn_ok""#);
            let ok = unique
                && plain_type
                && crate::workloads::closed_schema(&map, "txn_ok", &["txn"]).is_ok();
            ok.then(|| get("txn").map(|(_, v)| [*v])).flatten()
        });
        let unkept = reply(&text);
        let scanned = (!text.contains('\\')).then(|| scan_fields(&text));
        if let Some(scanned) = &scanned {
            let kept = ReplyText::scanned(text.as_bytes(), Some(scanned));
            assert_eq!(kept.closed("txn_ok", ["txn"]), expected, "{text}");
            assert_eq!(
                kept.closed("x", ["txn", "x"]),
                unkept.closed("x", ["txn", "x"])
            );
            assert_eq!(
                kept.header().map(|h| (h.kind, h.in_reply_to)),
                unkept.header().map(|h| (h.kind, h.in_reply_to)),
                "{text}"
            );
            assert_eq!(kept.in_reply_to(), unkept.in_reply_to(), "{text}");
            assert_eq!(kept.route(), route_by_header(&unkept), "{text}");
            assert_eq!(kept.fields(), unkept.fields(), "{text}");
        }
        assert_eq!(unkept.route(), route_by_header(&unkept), "{text}");
        assert_eq!(unkept.closed("txn_ok", ["txn"]), expected, "{text}");
        accepted += usize::from(expected.is_some());
    }
    assert!(accepted > 1000, "only {accepted} replies accepted");
}

/// [`ReplyText::route`] the long way: the header's texts, the number read from its text.
fn route_by_header(reply: &ReplyText<'_>) -> (Option<u64>, Option<bool>) {
    let header = reply.header();
    let in_reply_to = header.as_ref().and_then(|h| as_u64(h.in_reply_to?));
    let is_error = header.as_ref().and_then(|h| match h.kind {
        Some(kind) if kind.contains(&b'\\') => None,
        kind => Some(kind == Some(&b"\"error\""[..])),
    });
    (in_reply_to, is_error)
}

#[test]
fn replies_are_routed_by_their_header() {
    let cases = [
        (
            r#"{"type":"error","in_reply_to":5,"code":1}"#,
            (Some(5), Some(true)),
        ),
        (
            r#"{"type":"read_ok","in_reply_to":5}"#,
            (Some(5), Some(false)),
        ),
        (r#"{"in_reply_to":"5"}"#, (None, Some(false))),
        (r#"{"type":"err\u006fr","in_reply_to":5}"#, (Some(5), None)),
        (r#"{"type":1,"in_reply_to":-5}"#, (None, Some(false))),
        (r#"{"typ\u0065":"error","in_reply_to":5}"#, (None, None)),
        (
            r#"{"type":"error","in_reply_to":5,"in_reply_to":6}"#,
            (Some(6), Some(true)),
        ),
        (r#"{"type":"error","msg_id":7}"#, (None, Some(true))),
    ];
    for (text, expected) in cases {
        assert_eq!(reply(text).route(), expected, "{text}");
        assert_eq!(route_by_header(&reply(text)), expected, "{text}");
        if !text.contains('\\') {
            let scanned = scan_fields(text);
            let kept = ReplyText::scanned(text.as_bytes(), Some(&scanned));
            assert_eq!(kept.route(), expected, "{text}");
            assert_eq!(
                scanned.ids,
                [expected.0, (text.contains("msg_id")).then_some(7)]
            );
        }
    }
}

#[test]
fn numbers_read_as_serde_json_values_read_them() {
    for text in [
        "0",
        "7",
        "18446744073709551615",
        "18446744073709551616",
        "-1",
        "-0",
        "1.0",
        "1e2",
    ] {
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(as_u64(text.as_bytes()), value.as_u64(), "{text}");
        assert_eq!(as_i64(text.as_bytes()), value.as_i64(), "{text}");
    }
    assert_eq!(
        reply(r#"{"in_reply_to":5,"in_reply_to":6}"#).in_reply_to(),
        Some(Some(6))
    );
    assert_eq!(reply(r#"{"in_reply_to":"5"}"#).in_reply_to(), Some(None));
    assert_eq!(reply(r#"{"type":"x"}"#).in_reply_to(), Some(None));
}

/// The digit loop of `as_u64` reads every length as `str::parse` does (which it leaves
/// the longest to).
#[test]
fn integers_of_every_length_read_as_parse_reads_them() {
    use rand::{Rng, SeedableRng};
    let mut rng = crate::Rng::seed_from_u64(5);
    for _ in 0..20_000 {
        let len = rng.gen_range(0..=22);
        let mut text: Vec<u8> = (0..len).map(|_| b'0' + rng.gen_range(0..10)).collect();
        if len > 0 && rng.gen_bool(0.2) {
            text[rng.gen_range(0..len)] = *b"-+.e /:a"[rng.gen_range(0..8)..].first().unwrap();
        }
        let parsed = std::str::from_utf8(&text).unwrap().parse::<u64>().ok();
        let digits = !text.is_empty() && text.iter().all(u8::is_ascii_digit);
        assert_eq!(
            as_u64(&text),
            parsed.filter(|_| digits),
            "{}",
            String::from_utf8_lossy(&text)
        );
        // The same digits, maybe negative, as `as_i64` reads them (`-0...` is a float).
        let signed = [&b"-"[..rng.gen_range(0..2)], &text].concat();
        let parsed = std::str::from_utf8(&signed).unwrap().parse::<i64>().ok();
        let unsigned = signed.strip_prefix(b"-").unwrap_or(&signed);
        let integer = !unsigned.is_empty() && unsigned.iter().all(u8::is_ascii_digit);
        assert_eq!(
            as_i64(&signed),
            parsed.filter(|_| integer && !signed.starts_with(b"-0")),
            "{}",
            String::from_utf8_lossy(&signed)
        );
    }
    assert_eq!(as_u64(b"18446744073709551615"), Some(u64::MAX));
    assert_eq!(as_i64(b"-9223372036854775808"), Some(i64::MIN));
    assert_eq!(as_i64(b"9223372036854775808"), None);
    assert_eq!(
        as_i64(b"-999999999999999999"),
        Some(-999_999_999_999_999_999)
    );
    assert_eq!(as_u64(b"18446744073709551616"), None);
    assert_eq!(
        as_u64(b"9999999999999999999"),
        Some(9_999_999_999_999_999_999)
    );
}

#[test]
fn a_reused_scanned_box_is_as_new() {
    let mut used = ScannedBox::new();
    used.fields[0] = [1, 2, 3, 4];
    used.len = 1;
    used.too_many = true;
    used.sets.push(ScannedSet {
        start: 1,
        end: 2,
        set: RefCell::new(None),
    });
    used.ops_at = Some([1, 2]);
    used.ops.push(ScannedOp {
        f: crate::history::MicroF::Read,
        key: 1,
        value: None,
    });
    drop(used);
    assert_eq!(*ScannedBox::new(), Scanned::default());
}

#[test]
fn an_int_set_parses_as_the_values_would() {
    for text in ["[]", "[3,1,2,2]", "[ 5 , 6 ]", "[18446744073709551615, 0]"] {
        let values: Vec<Value> = serde_json::from_str(text).unwrap();
        assert_eq!(
            int_set(text.as_bytes()),
            IntSet::from_values(&values),
            "{text}"
        );
    }
    for text in [
        "[-1]",
        "[1.0]",
        "[1e2]",
        "[\"1\"]",
        "[[1]]",
        "null",
        "{}",
        "[1,]",
        "[18446744073709551616]",
    ] {
        assert_eq!(int_set(text.as_bytes()), None, "{text}");
    }
    assert_eq!(
        int_set(b"[1,2]").unwrap().iter().collect::<Vec<_>>(),
        vec![1, 2]
    );
    let _ = json!(null);
}
