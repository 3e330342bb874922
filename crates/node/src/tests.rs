//! Shared test harness (the `Probe` node, output and log helpers) and unit tests of the engine:
//! init, requests, malformed input, timers, RPCs and the seeded RNG.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::*;

/// Damages `text` at `at` with `byte`, as `how` (0, 1 or 2, a random draw) says: the byte
/// replaced, `byte` inserted before it, or the byte removed. For tests that feed fast readers
/// and checkers random broken input.
pub(crate) fn damage(text: &mut Vec<u8>, at: usize, byte: u8, how: u32) {
    match how {
        0 => text[at] = byte,
        1 => text.insert(at, byte),
        _ => {
            text.remove(at);
        }
    }
}

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Req {
    Echo { echo: Value },
    Add { delta: u64 },
    Remember,
}

/// A node that records what happens to it.
#[derive(Default)]
pub(crate) struct Probe {
    inits: usize,
    events: Vec<String>,
    sum: u64,
    remembered: Vec<ReplyTo>,
    /// Cancel this timer when it has fired this many times.
    cancel_after: Option<(TimerId, usize)>,
    fired: usize,
}

impl Node for Probe {
    type Request<'de> = Req;
    type Timer = &'static str;

    fn on_init(&mut self, ctx: &mut Ctx<Self>) {
        self.inits += 1;
        log!(ctx, "init as {} of {:?}", ctx.node_id(), ctx.node_ids());
    }

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Req, from: ReplyTo) {
        match req {
            Req::Echo { echo } => ctx.reply(&from, json!({"type": "echo_ok", "echo": echo})),
            Req::Add { delta } => {
                self.sum += delta;
                ctx.reply(&from, json!({"type": "add_ok"}));
            }
            Req::Remember => self.remembered.push(from),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, timer: &'static str) {
        self.events
            .push(format!("{timer}@{}", ctx.now().as_millis()));
        self.fired += 1;
        if let Some((id, n)) = self.cancel_after {
            if self.fired == n {
                ctx.cancel(id);
            }
        }
    }
}

pub(crate) const INIT: &[u8] = br#"{"id":0,"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1","n2","n3"]}}"#;

fn engine() -> Engine<Probe> {
    let mut e = Engine::new(Probe::default(), 1);
    e.handle_line(INIT, Duration::ZERO);
    let out = take_lines(&mut e);
    assert_eq!(
        out,
        vec![json!({"src":"n1","dest":"c0","body":{"type":"init_ok","in_reply_to":1}})]
    );
    e.logs().clear();
    e
}

/// Drains the output, checking that every line is one valid JSON object.
pub(crate) fn take_lines<N: Node>(e: &mut Engine<N>) -> Vec<Value> {
    let out = std::mem::take(e.output());
    parse_lines(&out)
}

pub(crate) fn parse_lines(out: &[u8]) -> Vec<Value> {
    if out.is_empty() {
        return Vec::new();
    }
    assert_eq!(out.last(), Some(&b'\n'), "output must end in a newline");
    out[..out.len() - 1]
        .split(|&b| b == b'\n')
        .map(|line| {
            let v: Value = serde_json::from_slice(line).unwrap_or_else(|e| {
                panic!("invalid JSON line {:?}: {e}", String::from_utf8_lossy(line))
            });
            assert!(v.is_object());
            v
        })
        .collect()
}

pub(crate) fn take_logs<N: Node>(e: &mut Engine<N>) -> String {
    String::from_utf8(std::mem::take(e.logs())).unwrap()
}

fn line(src: &str, body: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"src": src, "dest": "n1", "body": body})).unwrap()
}

#[test]
fn init_stores_ids_replies_then_calls_on_init() {
    let mut e = Engine::new(Probe::default(), 1);
    assert!(!e.is_initialized());
    e.handle_line(INIT, ms(5));
    assert!(e.is_initialized());
    assert_eq!(e.ctx().node_id(), "n1");
    assert_eq!(e.ctx().node_ids(), ["n1", "n2", "n3"]);
    assert_eq!(e.node().inits, 1);
    assert_eq!(take_lines(&mut e).len(), 1);
    assert!(take_logs(&mut e).contains("init as n1"));
    // A second init is answered but does not re-run on_init.
    e.handle_line(INIT, ms(6));
    assert_eq!(e.node().inits, 1);
    assert_eq!(take_lines(&mut e)[0]["body"]["type"], "init_ok");
}

#[test]
fn requests_before_init_get_temporarily_unavailable() {
    let mut e = Engine::new(Probe::default(), 1);
    e.handle_line(
        &line("c4", json!({"type":"echo","msg_id":3,"echo":1})),
        ms(1),
    );
    let out = take_lines(&mut e);
    assert_eq!(
        out,
        vec![
            json!({"src":"n1","dest":"c4","body":{"type":"error","code":11,"text":"node is not initialised yet","in_reply_to":3}})
        ]
    );
    assert!(take_logs(&mut e).contains("before init"));
    // Without msg_id: logged only.
    e.handle_line(&line("c4", json!({"type":"echo","echo":1})), ms(1));
    assert!(take_lines(&mut e).is_empty());
}

#[test]
fn echo_round_trip_with_escapes() {
    let mut e = engine();
    let nasty = json!("\"quoted\" \\ \n\t\u{1} ünïcödé 🦀 </script>");
    e.handle_line(
        &line("c\"1", json!({"type":"echo","msg_id":7,"echo":nasty})),
        ms(1),
    );
    assert_eq!(
        take_lines(&mut e),
        vec![
            json!({"src":"n1","dest":"c\"1","body":{"type":"echo_ok","echo":nasty,"in_reply_to":7}})
        ]
    );
}

#[test]
fn reply_without_msg_id_sends_nothing() {
    let mut e = engine();
    e.handle_line(&line("n2", json!({"type":"add","delta":2})), ms(1));
    assert_eq!(e.node().sum, 2);
    assert!(take_lines(&mut e).is_empty());
}

#[test]
fn deferred_replies_through_a_kept_reply_to() {
    let mut e = engine();
    e.handle_line(&line("c9", json!({"type":"remember","msg_id":41})), ms(1));
    let long = "a-client-name-longer-than-twenty-two-bytes";
    e.handle_line(&line(long, json!({"type":"remember","msg_id":42})), ms(1));
    assert!(take_lines(&mut e).is_empty());
    e.with_ctx(|node, ctx| {
        for to in node.remembered.clone() {
            ctx.reply(&to, json!({"type": "remember_ok"}));
        }
    });
    let out = take_lines(&mut e);
    assert_eq!(out[0]["dest"], "c9");
    assert_eq!(out[0]["body"]["in_reply_to"], 41);
    assert_eq!(out[1]["dest"], long);
    assert_eq!(out[1]["body"]["in_reply_to"], 42);
    assert_eq!(e.node().remembered[1].src(), long);
    assert_eq!(e.node().remembered[1].msg_id(), Some(42));
}

#[test]
fn malformed_input_is_answered_and_the_node_keeps_serving() {
    let mut e = engine();
    let cases: Vec<(Vec<u8>, Option<u32>, &str)> = vec![
        (b"this is not json".to_vec(), None, "not a message envelope"),
        (
            b"{\"src\":\"c1\",\"dest\":\"n1\"}".to_vec(),
            None,
            "missing field `body`",
        ),
        (
            b"{\"src\":\"c1\",\"dest\":\"n1\",\"body\":[1,2]}".to_vec(),
            None,
            "unusable message body",
        ),
        (
            b"{\"src\":\"c1\",\"dest\":\"n1\",\"body\":null}".to_vec(),
            None,
            "unusable message body",
        ),
        (b"[1,2,3]".to_vec(), None, "not a message envelope"),
        (line("c1", json!({"msg_id": 5})), Some(12), "no \"type\""),
        (
            line("c1", json!({"type": 5, "msg_id": 6})),
            Some(12),
            "unusable message body",
        ),
        (
            line("c1", json!({"type": "nope", "msg_id": 7})),
            Some(10),
            "unsupported message type \"nope\"",
        ),
        (
            line("c1", json!({"type": "add", "delta": "x", "msg_id": 8})),
            Some(12),
            "malformed \"add\" request",
        ),
        (
            line("c1", json!({"type": "add", "msg_id": 9})),
            Some(12),
            "missing field `delta`",
        ),
        (
            line("c1", json!({"type": "init", "msg_id": 10})),
            Some(12),
            "malformed \"init\" request",
        ),
        (line("c1", json!({"type": "nope"})), None, "unsupported"),
        (
            b"{\"src\":\"c1\",\"dest\":\"n1\",\"body\":{\"type\":\"echo\",\"msg_id\":11,\"echo\":"
                .to_vec(),
            None,
            "not a message envelope",
        ),
        (vec![0xff, 0xfe, b'{'], None, "not a message envelope"),
    ];
    for (input, code, log_part) in cases {
        e.handle_line(&input, ms(1));
        let out = take_lines(&mut e);
        let logs = take_logs(&mut e);
        assert!(
            logs.contains(log_part) && logs.starts_with("bad input:"),
            "{:?}: log {logs:?} lacks {log_part:?}",
            String::from_utf8_lossy(&input)
        );
        match code {
            None => assert!(out.is_empty(), "{out:?}"),
            Some(code) => {
                assert_eq!(out.len(), 1);
                let body = &out[0]["body"];
                assert_eq!(out[0]["dest"], "c1");
                assert_eq!(body["type"], "error");
                assert_eq!(body["code"], code);
                assert!(body["in_reply_to"].is_u64());
                assert!(body["text"].is_string());
            }
        }
        // Still serving.
        e.handle_line(
            &line("c2", json!({"type":"echo","msg_id":1,"echo":"ok"})),
            ms(1),
        );
        assert_eq!(take_lines(&mut e)[0]["body"]["echo"], "ok");
    }
    // Blank lines are ignored silently.
    e.handle_line(b"", ms(1));
    e.handle_line(b"  \r", ms(1));
    assert!(take_logs(&mut e).is_empty());
}

#[test]
fn long_bad_lines_are_quoted_truncated() {
    let mut e = engine();
    let long = vec![b'x'; 10_000];
    e.handle_line(&long, ms(1));
    let logs = take_logs(&mut e);
    assert!(logs.len() < 1000, "{}", logs.len());
    assert!(logs.contains("(10000 bytes)"));
    assert_eq!(logs.lines().count(), 1);
}

#[test]
fn timers_fire_in_deadline_then_creation_order() {
    let mut e = engine();
    e.with_ctx(|_, ctx| {
        ctx.after(ms(30), "a30");
        ctx.after(ms(10), "b10");
        ctx.after(ms(10), "c10");
        ctx.every(ms(20), "p");
        ctx.after(ms(20), "d20");
    });
    assert_eq!(e.next_deadline(), Some(ms(10)));
    // Step to each deadline, as a simulator does.
    while let Some(deadline) = e.next_deadline() {
        if deadline > ms(100) {
            break;
        }
        e.advance(deadline);
    }
    assert_eq!(
        e.node().events,
        ["b10@10", "c10@10", "p@20", "d20@20", "a30@30", "p@40", "p@60", "p@80", "p@100"]
    );
    assert_eq!(e.next_deadline(), Some(ms(120)));
    assert_eq!(e.ctx().pending_timers(), 1);
}

#[test]
fn one_big_advance_fires_everything_due_in_order() {
    let mut e = engine();
    e.with_ctx(|_, ctx| {
        ctx.every(ms(25), "p");
        ctx.after(ms(30), "a");
        ctx.after(ms(0), "now");
    });
    e.advance(ms(100));
    let names: Vec<&str> = e
        .node()
        .events
        .iter()
        .map(|s| s.split('@').next().unwrap())
        .collect();
    assert_eq!(names, ["now", "p", "a", "p", "p", "p"]);
    // The clock is `now` while they fire.
    assert!(e.node().events.iter().all(|s| s.ends_with("@100")));
    assert_eq!(e.next_deadline(), Some(ms(125)));
}

#[test]
fn cancel_one_shot_and_periodic_from_its_own_handler() {
    let mut e = engine();
    let (gone, periodic) = e.with_ctx(|_, ctx| {
        let gone = ctx.after(ms(5), "gone");
        let periodic = ctx.every(ms(10), "tick");
        (gone, periodic)
    });
    e.with_ctx(|_, ctx| ctx.cancel(gone));
    e.node_mut().cancel_after = Some((periodic, 3));
    e.advance(ms(1000));
    assert_eq!(e.node().events, ["tick@1000", "tick@1000", "tick@1000"]);
    assert_eq!(e.next_deadline(), None);
    assert_eq!(e.ctx().pending_timers(), 0);
    // Cancelling again, or a fired timer, is harmless.
    e.with_ctx(|_, ctx| {
        ctx.cancel(gone);
        ctx.cancel(periodic);
    });
}

#[test]
fn zero_period_is_raised_to_the_minimum() {
    let mut e = engine();
    e.with_ctx(|_, ctx| ctx.every(Duration::ZERO, "z"));
    e.advance(ms(5));
    assert_eq!(e.node().events.len(), 5);
}

#[test]
fn clock_never_goes_back() {
    let mut e = engine();
    e.advance(ms(50));
    e.handle_line(&line("c1", json!({"type":"echo","echo":1})), ms(10));
    assert_eq!(e.ctx().now(), ms(50));
    e.advance(ms(20));
    assert_eq!(e.ctx().now(), ms(50));
}

type Log = Rc<RefCell<Vec<String>>>;

fn call(e: &mut Engine<Probe>, log: &Log, dest: &str, body: Value, timeout: Duration) {
    let log = log.clone();
    e.with_ctx(|_, ctx| {
        ctx.rpc(
            dest,
            body,
            timeout,
            move |node: &mut Probe, ctx, result: Result<Value, RpcError>| {
                node.sum += 1;
                log.borrow_mut().push(match result {
                    Ok(v) => format!("ok {} @{}", v["n"], ctx.now().as_millis()),
                    Err(e) => format!(
                        "err {} {} @{}",
                        e.code.code(),
                        e.text,
                        ctx.now().as_millis()
                    ),
                });
            },
        )
    });
}

#[test]
fn rpc_replies_are_routed_by_in_reply_to() {
    let mut e = engine();
    let log = Log::default();
    call(&mut e, &log, "n2", json!({"type":"ping","n":1}), ms(500));
    call(&mut e, &log, "n3", json!({"type":"ping","n":2}), ms(500));
    let out = take_lines(&mut e);
    assert_eq!(
        out,
        vec![
            json!({"src":"n1","dest":"n2","body":{"type":"ping","n":1,"msg_id":1}}),
            json!({"src":"n1","dest":"n3","body":{"type":"ping","n":2,"msg_id":2}}),
        ]
    );
    assert_eq!(e.ctx().pending_rpcs(), 2);
    assert_eq!(e.next_deadline(), Some(ms(500)));
    e.handle_line(
        br#"{"src":"n3","dest":"n1","body":{"type":"pong","n":"second","in_reply_to":2}}"#,
        ms(7),
    );
    e.handle_line(
        br#"{"src":"n2","dest":"n1","body":{"type":"pong","n":"first","in_reply_to":1}}"#,
        ms(9),
    );
    assert_eq!(*log.borrow(), ["ok \"second\" @7", "ok \"first\" @9"]);
    assert_eq!(e.ctx().pending_rpcs(), 0);
    assert_eq!(e.next_deadline(), None);
    // A duplicate reply finds nothing and is dropped with a log line.
    e.handle_line(
        br#"{"src":"n2","dest":"n1","body":{"type":"pong","n":"dup","in_reply_to":1}}"#,
        ms(10),
    );
    assert_eq!(log.borrow().len(), 2);
    assert!(take_logs(&mut e).contains("dropped reply from n2 in_reply_to 1"));
    assert!(take_lines(&mut e).is_empty());
}

#[test]
fn rpc_error_bodies_become_rpc_errors() {
    let mut e = engine();
    let log = Log::default();
    call(&mut e, &log, "n2", json!({"type":"ping"}), ms(500));
    e.handle_line(
        br#"{"src":"n2","dest":"n1","body":{"type":"error","code":22,"text":"nope","in_reply_to":1}}"#,
        ms(3),
    );
    call(&mut e, &log, "n2", json!({"type":"ping"}), ms(500));
    e.handle_line(
        br#"{"src":"n2","dest":"n1","body":{"type":"error","code":1234,"in_reply_to":2}}"#,
        ms(4),
    );
    call(&mut e, &log, "n2", json!({"type":"ping"}), ms(500));
    e.handle_line(
        br#"{"src":"n2","dest":"n1","body":{"type":"error","in_reply_to":3}}"#,
        ms(5),
    );
    let log = log.borrow();
    assert_eq!(log[0], "err 22 nope @3");
    assert_eq!(log[1], "err 1234  @4");
    assert!(
        log[2].starts_with("err 12 malformed error reply"),
        "{}",
        log[2]
    );
    assert_eq!(e.ctx().pending_rpcs(), 0);
}

#[test]
fn rpc_timeout_removes_the_continuation_and_drops_late_replies() {
    let mut e = engine();
    let log = Log::default();
    call(&mut e, &log, "n2", json!({"type":"ping"}), ms(100));
    call(&mut e, &log, "n3", json!({"type":"ping"}), ms(300));
    take_lines(&mut e);
    e.advance(ms(99));
    assert!(log.borrow().is_empty());
    e.advance(ms(100));
    assert_eq!(
        *log.borrow(),
        ["err 0 rpc 1 to n2 timed out after 100ms @100"]
    );
    assert_eq!(e.ctx().pending_rpcs(), 1);
    assert_eq!(e.next_deadline(), Some(ms(300)));
    // The late reply is logged and dropped; the continuation is not called again.
    e.handle_line(
        br#"{"src":"n2","dest":"n1","body":{"type":"pong","n":1,"in_reply_to":1}}"#,
        ms(150),
    );
    assert_eq!(log.borrow().len(), 1);
    assert!(take_logs(&mut e).contains("dropped reply from n2 in_reply_to 1"));
    // The other RPC is still answered normally, which cancels its deadline.
    e.handle_line(
        br#"{"src":"n3","dest":"n1","body":{"type":"pong","n":3,"in_reply_to":2}}"#,
        ms(160),
    );
    assert_eq!(log.borrow()[1], "ok 3 @160");
    assert_eq!(e.ctx().pending_rpcs(), 0);
    assert_eq!(e.next_deadline(), None);
    e.advance(ms(10_000));
    assert_eq!(log.borrow().len(), 2);
    assert_eq!(e.node().sum, 2);
    // And the node keeps serving.
    e.handle_line(
        &line("c1", json!({"type":"echo","msg_id":1,"echo":0})),
        ms(10_001),
    );
    assert_eq!(take_lines(&mut e)[0]["body"]["type"], "echo_ok");
}

#[test]
fn rpc_reply_that_does_not_fit_is_malformed() {
    #[derive(Deserialize)]
    struct Pong {
        #[allow(dead_code)]
        n: u64,
    }
    let mut e = engine();
    let seen = Rc::new(RefCell::new(None));
    let seen2 = seen.clone();
    e.with_ctx(|_, ctx| {
        ctx.rpc(
            "n2",
            json!({"type":"ping"}),
            ms(100),
            move |_: &mut Probe, _, r: Result<Pong, RpcError>| {
                *seen2.borrow_mut() = Some(r.err().map(|e| e.code));
            },
        )
    });
    e.handle_line(
        br#"{"src":"n2","dest":"n1","body":{"type":"pong","n":"x","in_reply_to":1}}"#,
        ms(1),
    );
    assert_eq!(*seen.borrow(), Some(Some(ErrorCode::MalformedRequest)));
    assert!(take_logs(&mut e).contains("malformed reply to rpc 1"));
}

#[test]
fn unsendable_rpc_bodies_fail_at_the_next_advance() {
    let mut e = engine();
    let log = Log::default();
    call(&mut e, &log, "n2", json!("not an object"), ms(100));
    assert!(take_lines(&mut e).is_empty());
    assert_eq!(e.next_deadline(), Some(Duration::ZERO));
    e.advance(ms(0));
    assert!(
        log.borrow()[0].starts_with("err 12 request not sent"),
        "{:?}",
        log.borrow()
    );
    assert!(take_logs(&mut e).contains("not sent"));
}

#[test]
fn msg_ids_count_from_one_and_send_has_none() {
    let mut e = engine();
    e.with_ctx(|_, ctx| {
        ctx.send("n2", json!({"type":"gossip"}));
        ctx.rpc(
            "n2",
            json!({"type":"a"}),
            ms(1),
            |_: &mut Probe, _, _: Result<Value, _>| {},
        );
        ctx.rpc(
            "n3",
            json!({"type":"b"}),
            ms(1),
            |_: &mut Probe, _, _: Result<Value, _>| {},
        );
        ctx.reply_error(&ReplyTo::new("c1", Some(4)), ErrorCode::Abort, "no");
    });
    let out = take_lines(&mut e);
    assert_eq!(out[0]["body"], json!({"type":"gossip"}));
    assert_eq!(out[1]["body"]["msg_id"], 1);
    assert_eq!(out[2]["body"]["msg_id"], 2);
    assert_eq!(
        out[3]["body"],
        json!({"type":"error","code":14,"text":"no","in_reply_to":4})
    );
}

#[test]
fn the_rng_is_seeded() {
    use rand::Rng;
    let draw = |seed| {
        let mut e = Engine::new(Probe::default(), seed);
        e.with_ctx(|_, ctx| ctx.rng().gen::<u64>())
    };
    assert_eq!(draw(3), draw(3));
    assert_ne!(draw(3), draw(4));
}
