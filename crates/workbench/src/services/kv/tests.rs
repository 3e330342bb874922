//! Unit tests of the KV services: lin-kv, seq-kv and lww-kv behaviour, request validation and
//! Clojure-style printing.

use super::state::{canonical, clojure_str, pr_str};
use super::*;
use rand::SeedableRng;
use serde_json::json;

fn rng(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}

fn body(v: Value) -> Map<String, Value> {
    serde_json::from_value(v).unwrap()
}

/// A participant's address from its id.
fn addr(id: &str) -> Addr {
    Addr::parse(id, 100).expect("a participant id")
}

/// Sends one request and expects an answer.
fn call(service: &mut dyn Service, src: &str, request: Value, rng: &mut Rng) -> Value {
    service
        .handle(addr(src), &body(request.clone()), rng)
        .unwrap_or_else(|| panic!("{} did not answer {request}", service.name()))
}

fn read(service: &mut dyn Service, src: &str, key: Value, rng: &mut Rng) -> Value {
    call(service, src, json!({"type": "read", "key": key}), rng)
}

fn write(service: &mut dyn Service, src: &str, key: Value, value: Value, rng: &mut Rng) {
    let reply = call(
        service,
        src,
        json!({"type": "write", "key": key, "value": value}),
        rng,
    );
    assert_eq!(reply, json!({"type": "write_ok"}));
}

/// The value a read_ok carries, or None for a key-does-not-exist error.
fn read_value(reply: &Value) -> Option<Value> {
    match reply["type"].as_str() {
        Some("read_ok") => Some(reply["value"].clone()),
        Some("error") if reply["code"] == 20 => None,
        _ => panic!("unexpected read reply {reply}"),
    }
}

#[test]
fn lin_kv_reading_a_missing_key_is_20() {
    let mut kv = LinKv::default();
    let reply = read(&mut kv, "n0", json!("x"), &mut rng(1));
    assert_eq!(
        reply,
        json!({"type": "error", "code": 20, "text": "key does not exist"})
    );
}

#[test]
fn lin_kv_write_then_read() {
    let mut kv = LinKv::default();
    let mut r = rng(1);
    write(&mut kv, "n0", json!("x"), json!([1, {"a": null}]), &mut r);
    assert_eq!(
        read(&mut kv, "n1", json!("x"), &mut r),
        json!({"type": "read_ok", "value": [1, {"a": null}]})
    );
}

#[test]
fn lin_kv_cas_mismatch_is_22_with_the_current_value() {
    let mut kv = LinKv::default();
    let mut r = rng(1);
    write(&mut kv, "n0", json!("x"), json!(1), &mut r);
    let reply = call(
        &mut kv,
        "n0",
        json!({"type": "cas", "key": "x", "from": 2, "to": 3}),
        &mut r,
    );
    assert_eq!(reply["code"], 22);
    assert_eq!(reply["text"], "current value 1 is not 2");
    let reply = call(
        &mut kv,
        "n0",
        json!({"type": "cas", "key": "x", "from": "a", "to": 3}),
        &mut r,
    );
    assert_eq!(reply["text"], "current value 1 is not \"a\"");
    // A missing key without the flag is 20.
    let reply = call(
        &mut kv,
        "n0",
        json!({"type": "cas", "key": "y", "from": 1, "to": 2}),
        &mut r,
    );
    assert_eq!(reply["code"], 20);
    // A match succeeds.
    let reply = call(
        &mut kv,
        "n0",
        json!({"type": "cas", "key": "x", "from": 1, "to": 3}),
        &mut r,
    );
    assert_eq!(reply, json!({"type": "cas_ok"}));
    assert_eq!(read(&mut kv, "n0", json!("x"), &mut r)["value"], 3);
}

#[test]
fn lin_kv_cas_create_if_not_exists() {
    let mut kv = LinKv::default();
    let mut r = rng(1);
    let cas = json!({"type": "cas", "key": "c", "from": 0, "to": 5, "create_if_not_exists": true});
    assert_eq!(
        call(&mut kv, "n0", cas.clone(), &mut r),
        json!({"type": "cas_ok"})
    );
    assert_eq!(read(&mut kv, "n0", json!("c"), &mut r)["value"], 5);
    // Once the key exists the flag no longer helps: 5 is not 0.
    assert_eq!(call(&mut kv, "n0", cas, &mut r)["code"], 22);
}

#[test]
fn keys_and_values_compare_structurally() {
    let mut kv = LinKv::default();
    let mut r = rng(1);
    write(
        &mut kv,
        "n0",
        json!({"a": 1, "b": [2, 3]}),
        json!("v"),
        &mut r,
    );
    let same: Value = serde_json::from_str(r#"{"b": [2, 3], "a": 1}"#).unwrap();
    assert_eq!(read(&mut kv, "n0", same, &mut r)["value"], "v");
    // 1 and 1.0 differ, as a Long and a Double differ in Clojure.
    write(&mut kv, "n0", json!(1), json!(1), &mut r);
    assert_eq!(read_value(&read(&mut kv, "n0", json!(1.0), &mut r)), None);
    let cas = json!({"type": "cas", "key": 1, "from": 1.0, "to": 2});
    assert_eq!(call(&mut kv, "n0", cas, &mut r)["code"], 22);
    // null is an ordinary key.
    write(&mut kv, "n0", Value::Null, json!("nil"), &mut r);
    assert_eq!(read(&mut kv, "n0", Value::Null, &mut r)["value"], "nil");
}

#[test]
fn malformed_requests_get_12() {
    let mut r = rng(1);
    let bad = [
        json!({"type": "read"}),
        json!({"type": "write", "key": "x"}),
        json!({"type": "write", "value": 1}),
        json!({"type": "cas", "key": "x", "from": 1}),
        json!({"type": "cas", "key": "x", "to": 1}),
        json!({"type": "cas", "key": "x", "from": 1, "to": 2, "create_if_not_exists": "yes"}),
    ];
    let services: Vec<Box<dyn Service>> = vec![
        Box::new(LinKv::default()),
        Box::new(SeqKv::default()),
        Box::new(LwwKv::default()),
    ];
    for mut service in services {
        for request in &bad {
            let reply = call(service.as_mut(), "n0", request.clone(), &mut r);
            assert_eq!(reply["type"], "error", "{request}");
            assert_eq!(reply["code"], 12, "{request}");
            assert!(reply["text"].is_string());
        }
    }
}

#[test]
fn unknown_type_gets_no_reply() {
    let mut r = rng(1);
    for mut service in crate::services::all() {
        for request in [json!({"type": "delete", "key": "x"}), json!({"key": "x"})] {
            assert_eq!(
                service.handle(addr("n0"), &body(request), &mut r),
                None,
                "{}",
                service.name()
            );
        }
    }
}

/// n1 writes `key` = 1, 2, ..., `count` on a fresh seq-kv.
fn seq_kv_with_writes(count: u64, r: &mut Rng) -> SeqKv {
    let mut kv = SeqKv::default();
    for i in 1..=count {
        write(&mut kv, "n1", json!("k"), json!(i), r);
    }
    assert_eq!(kv.last_index, count);
    kv
}

#[test]
fn seq_kv_serves_stale_reads() {
    let mut r = rng(7);
    let mut kv = seq_kv_with_writes(10, &mut r);
    // Fresh callers start at state 0, so their first read may see any of the 11 states.
    let seen: Vec<Option<Value>> = (0..100)
        .map(|i| read_value(&read(&mut kv, &format!("c{i}"), json!("k"), &mut r)))
        .collect();
    assert!(
        seen.contains(&None),
        "some caller sees the empty initial state"
    );
    assert!(
        seen.contains(&Some(json!(10))),
        "some caller sees the newest state"
    );
    assert!(
        seen.iter().any(|v| matches!(v, Some(x) if x != &json!(10))),
        "stale values"
    );
    // Reads never create states.
    assert_eq!(kv.last_index, 10);
}

#[test]
fn seq_kv_reads_are_monotonic_per_caller() {
    for seed in 0..20 {
        let mut r = rng(seed);
        let mut kv = SeqKv::default();
        let mut last_seen = 0;
        for i in 1..=200u64 {
            write(&mut kv, "n1", json!("k"), json!(i), &mut r);
            // Stay within the 32-state window, where monotonicity is promised.
            let lag = kv.last_index - kv.clients.get(&addr("n2")).copied().unwrap_or(0);
            if lag >= SEQ_WINDOW as u64 {
                break;
            }
            let value = read_value(&read(&mut kv, "n2", json!("k"), &mut r));
            let value = value.map_or(0, |v| v.as_u64().unwrap());
            assert!(
                value >= last_seen,
                "seed {seed}: read {value} after {last_seen}"
            );
            assert!(value <= i);
            last_seen = value;
        }
    }
}

#[test]
fn seq_kv_a_successful_write_catches_the_caller_up() {
    for seed in 0..20 {
        let mut r = rng(seed);
        let mut kv = seq_kv_with_writes(20, &mut r);
        // A write of a value no state holds must land on the newest state.
        write(&mut kv, "n2", json!("n2-marker"), json!(seed), &mut r);
        assert_eq!(kv.clients[&addr("n2")], 21);
        let reply = read(&mut kv, "n2", json!("k"), &mut r);
        assert_eq!(read_value(&reply), Some(json!(20)), "seed {seed}");
    }
}

#[test]
fn seq_kv_a_write_can_be_ordered_into_the_past() {
    // States: 0 {}, 1 {k:1}, 2 {k:2}. Writing k=1 against state 1 changes nothing there, so
    // it is acknowledged without a new state; against 0 or 2 it is appended as state 3.
    let mut appended = 0;
    let mut into_the_past = 0;
    for seed in 0..50 {
        let mut r = rng(seed);
        let mut kv = seq_kv_with_writes(2, &mut r);
        write(&mut kv, "n2", json!("k"), json!(1), &mut r);
        match kv.last_index {
            2 => {
                into_the_past += 1;
                assert_eq!(kv.clients[&addr("n2")], 1);
            }
            3 => {
                appended += 1;
                assert_eq!(kv.clients[&addr("n2")], 3);
                assert_eq!(kv.states.back().unwrap().get(&json!("k")), Some(&json!(1)));
            }
            other => panic!("unexpected last index {other}"),
        }
    }
    assert!(
        appended > 0 && into_the_past > 0,
        "{appended} / {into_the_past}"
    );
}

#[test]
fn seq_kv_a_cas_that_fails_on_the_newest_state_still_appends() {
    // A cas from 1 to 9 matches state 1 only. When it is picked, the re-execution on the
    // newest state (k = 2) answers 22, yet a state is appended and the caller jumps to it.
    let mut saw_reexecuted_failure = false;
    for seed in 0..50 {
        let mut r = rng(seed);
        let mut kv = seq_kv_with_writes(2, &mut r);
        let cas = json!({"type": "cas", "key": "k", "from": 1, "to": 9});
        let reply = call(&mut kv, "n2", cas, &mut r);
        // Picking state 0 (no key yet) answers a spurious 20; state 2 a plain 22.
        assert!(reply["code"] == 20 || reply["code"] == 22, "{reply}");
        if kv.last_index == 3 {
            saw_reexecuted_failure = true;
            assert_eq!(kv.clients[&addr("n2")], 3);
            assert_eq!(reply["text"], "current value 2 is not 1");
            assert_eq!(
                kv.states[3], kv.states[2],
                "the appended state is unchanged"
            );
        }
    }
    assert!(saw_reexecuted_failure);
}

#[test]
fn seq_kv_wraps_around_modulo_32() {
    let mut r = rng(3);
    // States 0..=40, state i holding k = i; the window keeps states 9..=40.
    let kv = seq_kv_with_writes(40, &mut r);
    assert_eq!(kv.states.len(), SEQ_WINDOW);
    let served = |index: u64| kv.state_at(index).get(&json!("k")).cloned();
    assert_eq!(served(40), Some(json!(40)));
    assert_eq!(served(9), Some(json!(9)));
    // Index 3 left the window: the lookup wraps to state 35 (35 = 3 mod 32).
    assert_eq!(served(3), Some(json!(35)));
    assert_eq!(served(0), Some(json!(32)));
}

#[test]
fn lww_kv_replicas_diverge() {
    let mut r = rng(5);
    let mut kv = LwwKv::default();
    write(&mut kv, "n0", json!("k"), json!(1), &mut r);
    let seen: Vec<Option<Value>> = (0..40)
        .map(|_| read_value(&read(&mut kv, "n0", json!("k"), &mut r)))
        .collect();
    // The write landed on one replica only and is never merged into the other.
    assert!(seen.contains(&None));
    assert!(seen.contains(&Some(json!(1))));
    assert_eq!(
        kv.replicas
            .iter()
            .filter(|s| s.get(&json!("k")).is_some())
            .count(),
        1
    );
}

#[test]
fn lww_kv_cas_ignores_create_if_not_exists() {
    let mut r = rng(5);
    let mut kv = LwwKv::default();
    for _ in 0..10 {
        let cas =
            json!({"type": "cas", "key": "c", "from": 0, "to": 1, "create_if_not_exists": true});
        assert_eq!(call(&mut kv, "n0", cas, &mut r)["code"], 20);
    }
    // Its 22 text prints `from` with `str`: unquoted.
    kv.replicas[0].commit(Change {
        key: canonical(&json!("s")),
        value: json!("a"),
    });
    kv.replicas[1] = kv.replicas[0].clone();
    let cas = json!({"type": "cas", "key": "s", "from": "b", "to": "c"});
    assert_eq!(
        call(&mut kv, "n0", cas, &mut r)["text"],
        "current value \"a\" is not b"
    );
}

#[test]
fn pr_str_prints_like_clojure() {
    assert_eq!(pr_str(&Value::Null), "nil");
    assert_eq!(pr_str(&json!([1, "a", null])), "[1 \"a\" nil]");
    assert_eq!(pr_str(&json!({"a": 1.5})), "{\"a\" 1.5}");
    assert_eq!(clojure_str(&Value::Null), "");
}
