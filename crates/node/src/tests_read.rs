//! [`Node::read_request`]: a hand-written reader is used when it reads a body, serde (and its
//! error answers) when it does not; and the nested writers ([`Fields::array`],
//! [`Fields::object`]) write what serde writes.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::tests::{take_lines, take_logs, INIT};
use crate::*;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Req {
    Add {
        delta: u64,
        /// Set by the hand-written reader only.
        #[serde(skip)]
        by_hand: bool,
    },
    Show,
}

#[derive(Default)]
struct Hand {
    sum: u64,
}

impl Node for Hand {
    type Request<'de> = Req;
    type Timer = ();

    fn read_request<'de>(ty: &str, r: &mut BodyReader<'de>) -> Option<Req> {
        if ty != "add" {
            return None;
        }
        let mut delta = None;
        r.object()?;
        while let Some(key) = r.key()? {
            match key {
                "delta" if delta.is_none() => delta = Some(r.u64()?),
                "delta" => return None,
                _ => r.skip()?,
            }
        }
        r.end()?;
        Some(Req::Add {
            delta: delta?,
            by_hand: true,
        })
    }

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Req, from: ReplyTo) {
        match req {
            Req::Add { delta, by_hand } => {
                self.sum += delta;
                ctx.reply_with(&from, "add_ok", |body| {
                    body.field("by_hand", &by_hand);
                });
            }
            Req::Show => ctx.reply_with(&from, "show_ok", |body| {
                body.u64("sum", self.sum)
                    .i64("neg", -3)
                    .str("s", "a\"b")
                    .array("list", |list| {
                        list.array(|op| {
                            op.str("r").i64(1).null();
                        })
                        .array(|_| {})
                        .object(|o| {
                            o.u64("type", 1).flatten(&json!({"x": [1.5]}));
                        })
                        .value(&json!({"v": null}))
                        .u64(u64::MAX);
                    })
                    .object("empty", |_| {})
                    .object("map", |map| {
                        map.array("k", |l| {
                            l.i64(i64::MIN);
                        })
                        .flatten(&json!({"y": 2}));
                    });
            }),
        }
    }
}

fn engine() -> Engine<Hand> {
    let mut e = Engine::new(Hand::default(), 1);
    e.handle_line(INIT, Duration::ZERO);
    take_lines(&mut e);
    e.logs().clear();
    e
}

fn deliver(e: &mut Engine<Hand>, body: &str) -> serde_json::Value {
    let line = format!(r#"{{"src":"c1","dest":"n1","body":{body}}}"#);
    e.handle_line(line.as_bytes(), Duration::ZERO);
    let mut out = take_lines(e);
    assert_eq!(out.len(), 1, "{body}");
    out.remove(0)["body"].take()
}

#[test]
fn the_hand_reader_reads_plain_bodies_and_serde_the_rest_with_its_errors() {
    let mut e = engine();
    let body = deliver(&mut e, r#"{"type":"add","msg_id":1,"delta":5}"#);
    assert_eq!(
        body,
        json!({"type":"add_ok","by_hand":true,"in_reply_to":1})
    );
    // An escaped key is not the plain shape: serde reads it.
    let body = deliver(&mut e, r#"{"type":"add","msg_id":2,"delt\u0061":5}"#);
    assert_eq!(
        body,
        json!({"type":"add_ok","by_hand":false,"in_reply_to":2})
    );
    assert_eq!(e.node().sum, 10);
    // Bodies the hand reader refuses get serde's error answers, as without it.
    for (body, code, text) in [
        (r#"{"type":"add","msg_id":3}"#, 12, "missing field `delta`"),
        (
            r#"{"type":"add","msg_id":4,"delta":-1}"#,
            12,
            "malformed \"add\"",
        ),
        (
            r#"{"type":"add","msg_id":5,"delta":1,"delta":2}"#,
            12,
            "duplicate field `delta`",
        ),
        (
            r#"{"type":"nope","msg_id":6}"#,
            10,
            "unsupported message type",
        ),
    ] {
        let answer = deliver(&mut e, body);
        assert_eq!(answer["code"], code, "{body}: {answer}");
        assert!(answer["text"].as_str().unwrap().contains(text), "{answer}");
        assert!(take_logs(&mut e).contains(text));
    }
    assert_eq!(e.node().sum, 10);
}

#[test]
fn nested_arrays_and_objects_are_written_as_serde_writes_them() {
    let mut e = engine();
    e.handle_line(
        br#"{"src":"c1","dest":"n1","body":{"type":"show","msg_id":1}}"#,
        Duration::ZERO,
    );
    let out = String::from_utf8(std::mem::take(e.output())).unwrap();
    let body = json!({
        "type": "show_ok",
        "sum": 0,
        "neg": -3,
        "s": "a\"b",
        "list": [["r", 1, null], [], {"type": 1, "x": [1.5]}, {"v": null}, u64::MAX],
        "empty": {},
        "map": {"k": [i64::MIN], "y": 2},
        "in_reply_to": 1,
    });
    // serde_json's map keeps keys sorted; compare the text with the fields in order instead.
    let expected = concat!(
        r#"{"src":"n1","dest":"c1","body":{"type":"show_ok","sum":0,"neg":-3,"s":"a\"b","#,
        r#""list":[["r",1,null],[],{"type":1,"x":[1.5]},{"v":null},18446744073709551615],"#,
        r#""empty":{},"map":{"k":[-9223372036854775808],"y":2},"in_reply_to":1}}"#,
        "\n"
    );
    assert_eq!(out, expected);
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(parsed["body"], body);
}

/// Lines whose body is not valid JSON take the careful path (logged, not answered: serde
/// cannot read the envelope), whether or not a hand-written reader reads their type.
#[test]
fn a_body_that_is_not_valid_json_is_never_delivered_nor_answered() {
    let mut e = engine();
    for body in [
        r#"{"type":"add","msg_id":1,"delta":5,"x":[1,]}"#,
        r#"{"type":"add","msg_id":1,"x":tru,"delta":5}"#,
        r#"{"type":"add","x":"\q","delta":5,"msg_id":3}"#,
        r#"{"type":"show","msg_id":2,"x":{"a" 1}}"#,
        r#"{"in_reply_to":9,"x":[01]}"#,
        r#"{"msg_id":4,"x":[1}]}"#,
        r#"{"msg_id":5,"x":"a
b"}"#,
    ] {
        let line = format!(r#"{{"src":"c1","dest":"n1","body":{body}}}"#);
        e.handle_line(line.as_bytes(), Duration::ZERO);
        assert!(take_lines(&mut e).is_empty(), "{body}");
        assert!(
            take_logs(&mut e).contains("not a message envelope"),
            "{body}"
        );
    }
    assert_eq!(e.node().sum, 0);
}

/// A reader that returns as soon as it has what it wants, leaving the rest unread.
struct Hasty;

impl Node for Hasty {
    type Request<'de> = Req;
    type Timer = ();

    fn read_request<'de>(ty: &str, r: &mut BodyReader<'de>) -> Option<Req> {
        (ty == "add").then_some(())?;
        r.object()?;
        let delta = loop {
            match r.key()?? {
                "delta" => break r.u64()?,
                _ => r.skip()?,
            }
        };
        Some(Req::Add {
            delta,
            by_hand: true,
        })
    }

    fn on_request(&mut self, ctx: &mut Ctx<Self>, _: Req, from: ReplyTo) {
        ctx.reply_with(&from, "add_ok", |_| {});
    }
}

#[test]
fn a_reader_that_stops_early_still_gets_only_valid_bodies() {
    let mut e = Engine::new(Hasty, 1);
    e.handle_line(INIT, Duration::ZERO);
    take_lines(&mut e);
    let good = br#"{"src":"c1","dest":"n1","body":{"type":"add","msg_id":1,"delta":5,"x":[1]}}"#;
    e.handle_line(good, Duration::ZERO);
    assert_eq!(take_lines(&mut e).len(), 1);
    let bad = br#"{"src":"c1","dest":"n1","body":{"type":"add","msg_id":2,"delta":5,"x":[1,]}}"#;
    e.handle_line(bad, Duration::ZERO);
    assert!(take_lines(&mut e).is_empty());
    assert!(take_logs(&mut e).contains("not a message envelope"));
}

/// A whole value read with the reader's public steps, keys by `key` (its one-go path for
/// plain keys) or only by `key_slowly` (the general path).
fn read_any(r: &mut BodyReader<'_>, fast: bool) -> Option<serde_json::Value> {
    use serde_json::Value;
    match r.rest().trim_start().as_bytes().first()? {
        b'{' => {
            r.object()?;
            let mut map = serde_json::Map::new();
            loop {
                let key = if fast { r.key()? } else { r.key_slowly()? };
                let Some(key) = key else { break };
                map.insert(key.to_string(), read_any(r, fast)?);
            }
            Some(Value::Object(map))
        }
        b'[' => {
            r.array()?;
            let mut list = Vec::new();
            while r.more()? {
                list.push(read_any(r, fast)?);
            }
            Some(Value::Array(list))
        }
        _ => r.value(),
    }
}

/// `BodyReader::key` reads keys as its general path does, on random objects, plain and then
/// damaged (whitespace, escapes, missing or doubled separators): the same values, the same
/// refusals; and what it reads is what serde reads.
#[test]
fn keys_read_in_one_go_as_the_general_path_reads_them() {
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
    let keys = [
        "type",
        "msg_id",
        "k",
        "offsets",
        "a\\\"b",
        "é",
        "",
        "in_reply_to",
    ];
    let values = [
        "1",
        "\"x\"",
        "[1,2]",
        "{\"k1\":3,\"k2\":4}",
        "null",
        "{}",
        "[]",
    ];
    let (mut read, mut rounds) = (0, 0);
    for _ in 0..20_000 {
        let members: Vec<String> = (0..rng.gen_range(0..5))
            .map(|_| {
                let key = keys.choose(&mut rng).unwrap();
                let value = values.choose(&mut rng).unwrap();
                format!("\"{key}\":{value}")
            })
            .collect();
        let mut text = format!("{{{}}}", members.join(",")).into_bytes();
        for _ in 0..rng.gen_range(0..3) {
            let at = rng.gen_range(0..text.len());
            let bytes = b" ,:}{\"\\\n";
            let byte = *bytes.choose(&mut rng).unwrap();
            crate::tests::damage(&mut text, at, byte, rng.gen_range(0..3));
        }
        let Ok(text) = String::from_utf8(text) else {
            continue;
        };
        let whole = |fast: bool| {
            let mut r = BodyReader::new(&text);
            let value = read_any(&mut r, fast)?;
            r.end()?;
            Some(value)
        };
        let fast = whole(true);
        rounds += 1;
        assert_eq!(fast, whole(false), "{text}");
        if let Some(value) = &fast {
            read += 1;
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .as_ref(),
                Some(value),
                "{text}"
            );
        }
    }
    assert!(read > rounds / 4, "{read} of {rounds}");
}

/// `BodyReader::skip` steps over plain strings and integers by itself: on random values,
/// plain and damaged, it accepts and refuses what the scanner's walk does, and leaves the
/// cursor at the same place.
#[test]
fn skip_steps_over_values_as_the_scanner_does() {
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
    let values = [
        "\"send\"",
        "\"\"",
        "\"a\\\"b\"",
        "\"é\"",
        "0",
        "7",
        "1234567",
        "18446744073709551616",
        "-3",
        "1.5",
        "2e3",
        "01",
        "1E+2",
        "null",
        "true",
        "[1,2]",
        "{\"a\":1}",
        "{ \"msg_id\" : 12 , \"k\":[{}]}",
    ];
    let tails = ["", ",", "}", " ", ".", "e", "0", "\"", "x", ",\"k\":1}"];
    for _ in 0..20_000 {
        let mut text = format!(
            "{}{}",
            values.choose(&mut rng).unwrap(),
            tails.choose(&mut rng).unwrap()
        )
        .into_bytes();
        if rng.gen_bool(0.3) {
            let at = rng.gen_range(0..text.len());
            let bytes = b" 0123456789.eE-\"\\\n,]}";
            let byte = *bytes.choose(&mut rng).unwrap();
            crate::tests::damage(&mut text, at, byte, rng.gen_range(0..3));
        }
        let Ok(text) = String::from_utf8(text) else {
            continue;
        };
        let walk = |fast: bool| {
            let mut r = BodyReader::new(&text);
            // The scanner's walk itself (`skip_slowly` walks a body key by key).
            let done = if fast { r.skip() } else { r.raw().map(|_| ()) };
            done.map(|()| r.rest().len())
        };
        assert_eq!(walk(true), walk(false), "{text:?}");
    }
}
