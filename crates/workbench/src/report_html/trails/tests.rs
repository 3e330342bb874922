//! Tests of the trails' readers and writers.

use super::*;

/// A body's leaves read from its text are those of the parsed body, envelope left out.
#[test]
fn body_leaves_are_the_scalars_of_the_parsed_body() {
    fn parsed(body: &str) -> Vec<ValueKey> {
        fn walk(v: &Value, out: &mut Vec<ValueKey>) {
            match v {
                Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                Value::Object(m) => m.values().for_each(|x| walk(x, out)),
                _ => out.push(ValueKey::of(v)),
            }
        }
        let map: serde_json::Map<String, Value> = serde_json::from_str(body).unwrap_or_default();
        let mut out = Vec::new();
        for (k, v) in &map {
            if k != "msg_id" && k != "in_reply_to" && k != "type" {
                walk(v, &mut out);
            }
        }
        out.sort_by_key(|k| format!("{k:?}"));
        out
    }
    for body in [
        r#"{"type":"gossip","msg_id":3,"in_reply_to":2,"values":[1,2,[3,-4]],"x":{"type":5}}"#,
        r#"{"a":1.5,"b":"s\"t","c":null,"d":true,"e":[],"f":{},"type":"t"}"#,
        r#"[1,2,3]"#,
        r#"7"#,
        r#"{"big":18446744073709551615,"neg":-9223372036854775808,"f":1e300}"#,
    ] {
        let mut leaves = Vec::new();
        body_leaves(body, &mut leaves);
        leaves.sort_by_key(|k| format!("{k:?}"));
        assert_eq!(leaves, parsed(body), "{body}");
    }
}

#[test]
fn message_references_are_written_as_formatted() {
    let m = JournalMessage {
        id: 4711,
        src: "n1".into(),
        dest: "n2".into(),
        sent: 0,
        kind: "gossip".into(),
        body: "{}".into(),
        fate: Fate::InFlight,
    };
    assert_eq!(
        msg_ref(&m, 93),
        "<a class=\"msg\" href=\"#msg-93\" data-msg=\"93\">#4711</a>"
    );
}

#[test]
fn value_keys_match_when_the_texts_do() {
    let values: Vec<Value> = serde_json::from_str(
        r#"[0, 1, -1, 1.0, "1", 18446744073709551615, -9223372036854775808, 2.5, null, true, [1], {"a":1}]"#,
    )
    .unwrap();
    for a in &values {
        for b in &values {
            assert_eq!(
                ValueKey::of(a) == ValueKey::of(b),
                key(a) == key(b),
                "{a} {b}"
            );
        }
    }
}
