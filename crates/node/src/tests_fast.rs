//! The fast paths: a request declared as a plain enum (matched on the body's `type`, read in
//! one pass), on plain lines and on lines the scanner leaves to serde; and bodies written
//! field by field ([`Ctx::reply_with`], [`Ctx::send_with`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::tests::{take_lines, take_logs, INIT};
use crate::*;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Plain<'a> {
    Read,
    Add {
        delta: u64,
        #[serde(default)]
        note: Option<String>,
    },
    Echo {
        #[serde(borrow)]
        echo: &'a serde_json::value::RawValue,
    },
    Sync(SyncBody),
}

#[derive(Debug, Deserialize, Serialize, PartialEq)]
struct SyncBody {
    ack: u64,
    #[serde(default)]
    entries: Vec<(String, u64)>,
}

#[derive(Default)]
struct Fast {
    sum: u64,
    syncs: Vec<SyncBody>,
}

impl Node for Fast {
    type Request<'de> = Plain<'de>;
    type Timer = ();

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Plain<'_>, from: ReplyTo) {
        match req {
            Plain::Read => ctx.reply_with(&from, "read_ok", |body| {
                body.u64s("values", [self.sum, 0, u64::MAX])
                    .raw("raw", "{\"a\":\n[1,\r\n2]}")
                    .raw_with("written", |out| out.extend_from_slice(b"[1,{}]"))
                    .field("text", "quote \" and \n");
            }),
            Plain::Add { delta, note } => {
                self.sum += delta;
                ctx.reply_with(&from, "add_ok", |body| {
                    if let Some(note) = &note {
                        body.field("note", note);
                    }
                });
            }
            Plain::Echo { echo } => ctx.reply_with(&from, "echo_ok", |body| {
                body.raw("echo", echo.get());
            }),
            Plain::Sync(sync) => {
                ctx.send_with(from.src(), "sync", |body| {
                    body.flatten(&sync);
                });
                ctx.send_with(from.src(), "empty", |body| {
                    body.flatten(&json!({}));
                });
                // Errors: nothing is sent, the failure is logged.
                ctx.send_with(from.src(), "broken", |body| {
                    body.field("ok", &1).flatten(&[1, 2]);
                });
                let mut bad = std::collections::BTreeMap::new();
                bad.insert(vec![1u8], 1);
                ctx.reply_with(&from, "sync_ok", |body| {
                    body.field("bad", &bad);
                });
                self.syncs.push(sync);
            }
        }
    }
}

fn engine() -> Engine<Fast> {
    let mut e = Engine::new(Fast::default(), 1);
    e.handle_line(INIT, Duration::ZERO);
    take_lines(&mut e);
    e.logs().clear();
    e
}

fn deliver(e: &mut Engine<Fast>, line: &str) -> Vec<Value> {
    e.handle_line(line.as_bytes(), Duration::ZERO);
    take_lines(e)
}

#[test]
fn a_plain_enum_is_matched_on_the_type_and_read_from_the_body() {
    let mut e = engine();
    // Fast path; then the same through serde's path (an escaped key sends it there).
    for line in [
        r#"{"src":"c1","dest":"n1","body":{"delta":5,"type":"add","msg_id":1,"note":"hi"}}"#,
        r#"{"src":"c1","dest":"n1","body":{"type":"add","msg_id":2,"delt\u0061":5,"note":"hi"}}"#,
    ] {
        let out = deliver(&mut e, line);
        let msg_id = out[0]["body"]["in_reply_to"].clone();
        assert_eq!(
            out,
            [
                json!({"src":"n1","dest":"c1","body":{"type":"add_ok","note":"hi","in_reply_to":msg_id}})
            ]
        );
    }
    assert_eq!(e.node().sum, 10);

    let out = deliver(
        &mut e,
        r#"{"src":"c1","dest":"n1","body":{"type":"read","msg_id":3,"ignored":[{"x":null}]}}"#,
    );
    assert_eq!(
        out,
        [
            json!({"src":"n1","dest":"c1","body":{"type":"read_ok","values":[10,0,u64::MAX],"raw":{"a":[1,2]},"written":[1,{}],"text":"quote \" and \n","in_reply_to":3}})
        ]
    );

    let out = deliver(
        &mut e,
        r#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":4,"echo":{"deep":["é",1.5]}}}"#,
    );
    assert_eq!(
        out,
        [
            json!({"src":"n1","dest":"c1","body":{"type":"echo_ok","echo":{"deep":["é",1.5]},"in_reply_to":4}})
        ]
    );
    assert_eq!(take_logs(&mut e), "");
}

#[test]
fn a_newtype_variant_reads_the_whole_body_and_flatten_writes_a_struct_back() {
    let mut e = engine();
    let out = deliver(
        &mut e,
        r#"{"src":"n2","dest":"n1","body":{"type":"sync","msg_id":9,"ack":3,"entries":[["k",1]]}}"#,
    );
    assert_eq!(
        out,
        [
            json!({"src":"n1","dest":"n2","body":{"type":"sync","ack":3,"entries":[["k",1]]}}),
            json!({"src":"n1","dest":"n2","body":{"type":"empty"}}),
        ]
    );
    assert_eq!(
        e.node().syncs,
        [SyncBody {
            ack: 3,
            entries: vec![("k".into(), 1)]
        }]
    );
    let logs = take_logs(&mut e);
    assert!(logs.contains("send to n2 not sent"), "{logs}");
    assert!(
        logs.contains("did not serialize to a JSON object"),
        "{logs}"
    );
    assert!(
        logs.contains("reply to n2 (in_reply_to 9) not sent"),
        "{logs}"
    );
}

#[test]
fn bad_requests_to_a_plain_enum_get_the_usual_errors() {
    let mut e = engine();
    let cases = [
        (
            r#"{"src":"c1","dest":"n1","body":{"type":"nope","msg_id":1}}"#,
            10,
            "unsupported message type \"nope\"",
        ),
        (
            r#"{"src":"c1","dest":"n1","body":{"type":"add","msg_id":2}}"#,
            12,
            "missing field `delta`",
        ),
        (
            r#"{"src":"c1","dest":"n1","body":{"type":"add","msg_id":3,"delta":"x"}}"#,
            12,
            "malformed \"add\" request",
        ),
        (
            r#"{"src":"c\u0031","dest":"n1","body":{"type":"nope","msg_id":4}}"#,
            10,
            "unsupported message type \"nope\"",
        ),
    ];
    for (line, code, text) in cases {
        let out = deliver(&mut e, line);
        assert_eq!(out.len(), 1, "{line}");
        let body = &out[0]["body"];
        assert_eq!(out[0]["dest"], "c1");
        assert_eq!(body["type"], "error");
        assert_eq!(body["code"], code, "{line}");
        assert!(
            body["text"].as_str().unwrap().contains(text),
            "{line}: {body}"
        );
        assert!(take_logs(&mut e).contains(text));
    }
    // The node goes on.
    let out = deliver(
        &mut e,
        r#"{"src":"c1","dest":"n1","body":{"type":"add","msg_id":5,"delta":1}}"#,
    );
    assert_eq!(out[0]["body"]["type"], "add_ok");
}

/// The body `send_with` and `reply_with` write, as serde writes it.
#[derive(Serialize)]
struct Typed<'a> {
    #[serde(rename = "type")]
    ty: &'a str,
    k: u64,
    s: &'a str,
}

/// Messages written field by field (their header from pre-rendered pieces when ids and type
/// are plain) are byte for byte what serde writes, for random ids and types, plain or not,
/// before and after init.
#[test]
fn field_by_field_messages_are_written_as_serde_writes_them() {
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let pieces = [
        "n", "c", "1", "42", "é", "🦀", "\"", "\\", "\n", "\u{1}", "_ok", "", " ",
    ];
    let name = |rng: &mut rand_chacha::ChaCha8Rng| -> String {
        let parts = rng.gen_range(0..5);
        (0..parts).map(|_| *pieces.choose(rng).unwrap()).collect()
    };
    for round in 0..3000 {
        let mut e = Engine::new(Fast::default(), 1);
        if round % 4 != 0 {
            let init = json!({"src": "c0", "dest": name(&mut rng), "body":
                {"type": "init", "msg_id": 1, "node_id": name(&mut rng), "node_ids": []}});
            e.handle_line(init.to_string().as_bytes(), Duration::ZERO);
            e.output().clear();
        }
        let (dest, ty, s) = (name(&mut rng), name(&mut rng), name(&mut rng));
        let k = rng.gen::<u64>() >> rng.gen_range(0..64);
        let msg_id = rng.gen::<u64>() >> rng.gen_range(0..64);
        let to = ReplyTo::new(&dest, Some(msg_id));
        let body = Typed { ty: &ty, k, s: &s };
        let fast = e.with_ctx(|_, ctx| {
            ctx.send_with(&dest, &ty, |b| {
                b.u64("k", k).str("s", &s);
            });
            ctx.reply_with(&to, &ty, |b| {
                b.u64("k", k).str("s", &s);
            });
            std::mem::take(&mut ctx.out)
        });
        let slow = e.with_ctx(|_, ctx| {
            ctx.send(&dest, &body);
            ctx.reply(&to, &body);
            std::mem::take(&mut ctx.out)
        });
        assert_eq!(
            String::from_utf8(fast).unwrap(),
            String::from_utf8(slow).unwrap(),
            "{dest:?} {ty:?}"
        );
    }
}
