//! Unit tests of the service clients (`seq-kv`, `lin-kv`, `lww-kv`, `lin-tso`): request bodies,
//! results, errors and timeouts.

use std::time::Duration;

use serde_json::{json, Value};

use crate::tests::{ms, take_lines, INIT};
use crate::*;

#[derive(Default)]
struct KvUser {
    results: Vec<String>,
}

impl Node for KvUser {
    type Request<'de> = serde::de::IgnoredAny;
    type Timer = ();
    fn on_request(&mut self, _: &mut Ctx<Self>, _: serde::de::IgnoredAny, _: ReplyTo) {}
}

fn kv_engine() -> Engine<KvUser> {
    let mut e = Engine::new(KvUser::default(), 1);
    e.handle_line(INIT, Duration::ZERO);
    take_lines(&mut e);
    e
}

fn answer(e: &mut Engine<KvUser>, src: &str, body: Value) {
    let line = serde_json::to_vec(&json!({"src": src, "dest": "n1", "body": body})).unwrap();
    e.handle_line(&line, ms(1));
}

fn record<T: std::fmt::Debug>(node: &mut KvUser, result: Result<T, KvError>) {
    node.results.push(match result {
        Ok(v) => format!("ok {v:?}"),
        Err(e) => format!("err {e:?} definite={}", e.is_definite()),
    });
}

#[test]
fn kv_read_body_and_results() {
    let mut e = kv_engine();
    e.with_ctx(|_, ctx| {
        ctx.seq_kv()
            .read("k", |n: &mut KvUser, _, r: Result<u64, KvError>| {
                record(n, r)
            });
        ctx.lin_kv()
            .read(7, |n: &mut KvUser, _, r: Result<u64, KvError>| record(n, r));
        ctx.lww_kv()
            .read("k", |n: &mut KvUser, _, r: Result<u64, KvError>| {
                record(n, r)
            });
    });
    let out = take_lines(&mut e);
    assert_eq!(
        out,
        vec![
            json!({"src":"n1","dest":"seq-kv","body":{"type":"read","key":"k","msg_id":1}}),
            json!({"src":"n1","dest":"lin-kv","body":{"type":"read","key":7,"msg_id":2}}),
            json!({"src":"n1","dest":"lww-kv","body":{"type":"read","key":"k","msg_id":3}}),
        ]
    );
    answer(
        &mut e,
        "seq-kv",
        json!({"type":"read_ok","value":5,"in_reply_to":1}),
    );
    answer(
        &mut e,
        "lin-kv",
        json!({"type":"error","code":20,"text":"key does not exist","in_reply_to":2}),
    );
    answer(
        &mut e,
        "lww-kv",
        json!({"type":"read_ok","value":"str","in_reply_to":3}),
    );
    let r = &e.node().results;
    assert_eq!(r[0], "ok 5");
    assert_eq!(r[1], "err KeyDoesNotExist definite=true");
    assert!(
        r[2].starts_with("err Other(RpcError { code: MalformedRequest"),
        "{}",
        r[2]
    );
}

#[test]
fn kv_write_and_cas_bodies_and_errors() {
    let mut e = kv_engine();
    e.with_ctx(|_, ctx| {
        ctx.lin_kv()
            .write("k", json!([1, 2]), |n: &mut KvUser, _, r| record(n, r));
        ctx.lin_kv()
            .cas("k", 1, 2, false, |n: &mut KvUser, _, r| record(n, r));
        ctx.seq_kv()
            .cas("k", 1, 2, true, |n: &mut KvUser, _, r| record(n, r));
        ctx.seq_kv()
            .cas("k", 1, 2, false, |n: &mut KvUser, _, r| record(n, r));
    });
    let bodies: Vec<Value> = take_lines(&mut e)
        .into_iter()
        .map(|v| v["body"].clone())
        .collect();
    assert_eq!(
        bodies,
        vec![
            json!({"type":"write","key":"k","value":[1,2],"msg_id":1}),
            json!({"type":"cas","key":"k","from":1,"to":2,"msg_id":2}),
            json!({"type":"cas","key":"k","from":1,"to":2,"create_if_not_exists":true,"msg_id":3}),
            json!({"type":"cas","key":"k","from":1,"to":2,"msg_id":4}),
        ]
    );
    answer(&mut e, "lin-kv", json!({"type":"write_ok","in_reply_to":1}));
    answer(
        &mut e,
        "lin-kv",
        json!({"type":"error","code":22,"text":"current value 3 is not 1","in_reply_to":2}),
    );
    answer(&mut e, "seq-kv", json!({"type":"cas_ok","in_reply_to":3}));
    answer(
        &mut e,
        "seq-kv",
        json!({"type":"error","code":21,"in_reply_to":4}),
    );
    let r = &e.node().results;
    assert_eq!(r[0], "ok ()");
    assert_eq!(
        r[1],
        "err PreconditionFailed(\"current value 3 is not 1\") definite=true"
    );
    assert_eq!(r[2], "ok ()");
    assert_eq!(r[3], "err KeyAlreadyExists definite=true");
}

#[test]
fn kv_timeouts_and_tso() {
    let mut e = kv_engine();
    e.with_ctx(|_, ctx| {
        ctx.seq_kv()
            .timeout(ms(50))
            .read("k", |n: &mut KvUser, _, r: Result<Value, KvError>| {
                record(n, r)
            });
        ctx.lin_tso().ts(|n: &mut KvUser, _, r| record(n, r));
        ctx.lin_tso()
            .timeout(ms(10))
            .ts(|n: &mut KvUser, _, r| record(n, r));
    });
    let out = take_lines(&mut e);
    assert_eq!(
        out[1],
        json!({"src":"n1","dest":"lin-tso","body":{"type":"ts","msg_id":2}})
    );
    answer(
        &mut e,
        "lin-tso",
        json!({"type":"ts_ok","ts":17,"in_reply_to":2}),
    );
    e.advance(ms(2000));
    let r = &e.node().results;
    assert_eq!(r[0], "ok 17");
    assert_eq!(r[1], "err Timeout definite=false");
    assert_eq!(r[2], "err Timeout definite=false");
    assert_eq!(e.ctx().pending_rpcs(), 0);
}

#[test]
fn kv_error_mapping_and_display() {
    let map = |code, text: &str| KvError::from(RpcError::new(ErrorCode::from_code(code), text));
    assert_eq!(map(20, "x"), KvError::KeyDoesNotExist);
    assert_eq!(map(22, "x"), KvError::PreconditionFailed("x".into()));
    assert_eq!(map(21, ""), KvError::KeyAlreadyExists);
    assert_eq!(map(0, ""), KvError::Timeout);
    assert_eq!(
        map(13, "boom"),
        KvError::Other(RpcError::new(ErrorCode::Crash, "boom"))
    );
    assert_eq!(map(22, "x").to_string(), "precondition failed: x");
    assert_eq!(map(13, "boom").to_string(), "crash (13): boom");
    assert!(!map(13, "").is_definite());
    assert_eq!(map(30, "").code(), ErrorCode::TxnConflict);
    let _: &dyn std::error::Error = &map(20, "");
}

#[test]
fn turbofish_names_only_the_reply_type() {
    let mut e = kv_engine();
    e.with_ctx(|_, ctx| {
        ctx.rpc::<Value>("n2", json!({"type": "ping"}), ms(5), |_, _, _| {});
        ctx.seq_kv().read::<u64>("k", |node, _, r| record(node, r));
    });
    answer(
        &mut e,
        "seq-kv",
        json!({"type":"read_ok","value":3,"in_reply_to":2}),
    );
    assert_eq!(e.node().results, ["ok 3"]);
}
