use serde_json::{json, Value};

use super::check_kafka;
use crate::checkers::{CheckResult, Validity};
use crate::history::build::{history, op, typed_history};
use crate::history::{History, Op, OpType};

/// Invoke and ok of a send at times t, t+1 (ms).
fn send(p: u64, key: &str, msg: i64, offset: i64, t: u64) -> Vec<Op> {
    vec![
        op(p, OpType::Invoke, "send", json!([["send", key, msg]]), t),
        op(
            p,
            OpType::Ok,
            "send",
            json!([["send", key, [offset, msg]]]),
            t + 1,
        ),
    ]
}

/// Invoke and ok of a poll returning `msgs` (a JSON map key -> [[offset, msg], ...]).
fn poll(p: u64, msgs: Value, t: u64) -> Vec<Op> {
    vec![
        op(p, OpType::Invoke, "poll", json!([["poll"]]), t),
        op(p, OpType::Ok, "poll", json!([["poll", msgs]]), t + 1),
    ]
}

fn assign(p: u64, keys: Value, committed: Value, t: u64) -> Vec<Op> {
    vec![
        op(p, OpType::Invoke, "assign", json!({ "keys": keys }), t),
        op(
            p,
            OpType::Ok,
            "assign",
            json!({"keys": keys, "committed": committed}),
            t + 1,
        ),
    ]
}

fn check(parts: Vec<Vec<Op>>) -> CheckResult {
    same_when_typed(&history(parts.into_iter().flatten().collect()))
}

/// Checks the history, and checks that its values in the typed form the workload records
/// give the same result.
fn same_when_typed(h: &History) -> CheckResult {
    let result = check_kafka(h);
    let typed = typed_history(h);
    let debug = |r: &CheckResult| format!("{r:?}");
    assert_eq!(debug(&check_kafka(&typed)), debug(&result));
    result
}

fn types(r: &CheckResult) -> Vec<String> {
    serde_json::from_value(r.figures["error_types"].clone()).unwrap()
}

fn count(r: &CheckResult, kind: &str) -> u64 {
    r.figures["errors"][kind]["count"].as_u64().unwrap_or(0)
}

#[test]
fn a_correct_log_is_valid() {
    let r = check(vec![
        send(0, "1", 1, 0, 0),
        send(1, "1", 2, 1, 2),
        send(0, "1", 3, 5, 4), // offsets may be sparse
        poll(1, json!({"1": [[0, 1], [1, 2]]}), 10),
        poll(1, json!({"1": [[5, 3]]}), 12),
    ]);
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.figures);
    assert!(types(&r).is_empty());
}

#[test]
fn a_synthetic_history_is_valid() {
    let h = super::synth::history(20_000, 6, 1);
    // Every send and poll is typed (assigns stay JSON, as the workload records them).
    let typed = typed_history(&h);
    assert!(typed
        .ops
        .iter()
        .all(|op| (op.f == "assign") == op.value.as_json().is_some()));
    let r = same_when_typed(&h);
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.figures["errors"]);
    assert!(r.figures["ok_sends"].as_u64().unwrap() > 5_000);
}

#[test]
fn two_messages_at_one_offset() {
    let r = check(vec![
        send(0, "1", 1, 0, 0),
        send(1, "1", 2, 0, 2),
        poll(1, json!({"1": [[0, 1]]}), 10),
    ]);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(count(&r, "inconsistent-offsets"), 1);
    let example = &r.figures["errors"]["inconsistent-offsets"]["examples"][0];
    assert_eq!(example["key"], json!("1"));
    assert_eq!(example["offsets"], json!([0]));
}

#[test]
fn one_message_at_two_offsets() {
    let r = check(vec![
        send(0, "1", 1, 0, 0),
        poll(1, json!({"1": [[0, 1], [1, 1]]}), 10),
    ]);
    assert_eq!(count(&r, "duplicate"), 1);
    assert_eq!(r.valid, Validity::Invalid);
}

#[test]
fn a_write_below_what_polls_read_but_never_read_is_lost() {
    let r = check(vec![
        send(3, "7", 1, 12, 4210),
        send(0, "7", 2, 13, 4300),
        poll(1, json!({"7": [[13, 2]]}), 5000),
    ]);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(count(&r, "lost-write"), 1);
    assert_eq!(count(&r, "unseen"), 1);
    let message = &r
        .anomalies
        .iter()
        .find(|a| a.kind == "lost-write")
        .unwrap()
        .message;
    assert!(
        message.starts_with("key 7: offset 12 (message 1) was acknowledged to process 3 at 4.21 s"),
        "{message}"
    );
    assert_eq!(r.figures["unseen"]["7"]["count"], json!(1));
}

#[test]
fn a_write_never_read_is_unseen() {
    let r = check(vec![send(0, "1", 1, 0, 0), poll(1, json!({}), 10)]);
    assert_eq!(types(&r), vec!["unseen"]);
    assert_eq!(r.valid, Validity::Invalid);
}

#[test]
fn skips_and_reorders_across_and_inside_polls() {
    let sends = || {
        vec![
            send(0, "1", 1, 0, 0),
            send(0, "1", 2, 1, 2),
            send(0, "1", 3, 2, 4),
        ]
    };
    let skip = check(
        [
            sends(),
            vec![poll(1, json!({"1": [[0, 1]]}), 10)],
            vec![poll(1, json!({"1": [[2, 3]]}), 12)],
            vec![poll(2, json!({"1": [[0, 1], [1, 2]]}), 14)],
        ]
        .concat(),
    );
    assert_eq!(types(&skip), vec!["poll-skip"]);

    let back = check(
        [
            sends(),
            vec![poll(1, json!({"1": [[0, 1], [1, 2]]}), 10)],
            vec![poll(1, json!({"1": [[1, 2], [2, 3]]}), 12)],
        ]
        .concat(),
    );
    assert_eq!(types(&back), vec!["nonmonotonic-poll"]);

    let inner_skip = check(
        [
            sends(),
            vec![poll(1, json!({"1": [[0, 1], [2, 3]]}), 10)],
            vec![poll(2, json!({"1": [[1, 2]]}), 12)],
        ]
        .concat(),
    );
    assert_eq!(types(&inner_skip), vec!["int-poll-skip"]);

    let inner_back = check(
        [
            sends(),
            vec![poll(1, json!({"1": [[1, 2], [2, 3], [0, 1]]}), 10)],
        ]
        .concat(),
    );
    assert_eq!(types(&inner_back), vec!["int-nonmonotonic-poll"]);
    assert_eq!(inner_back.valid, Validity::Invalid);
}

#[test]
fn an_assign_that_drops_a_key_resets_its_position() {
    let r = check(vec![
        send(0, "1", 1, 0, 0),
        send(0, "2", 1, 0, 2),
        assign(1, json!(["1", "2"]), json!({}), 4),
        poll(1, json!({"1": [[0, 1]], "2": [[0, 1]]}), 10),
        assign(1, json!(["2"]), json!({}), 12),
        assign(1, json!(["1", "2"]), json!({"1": 0}), 14),
        poll(1, json!({"1": [[0, 1]]}), 16),
    ]);
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.figures["errors"]);
}

#[test]
fn a_later_send_at_an_earlier_offset() {
    let r = check(vec![
        send(0, "1", 1, 1, 0),
        send(0, "1", 2, 0, 2),
        poll(1, json!({"1": [[0, 2], [1, 1]]}), 10),
    ]);
    assert_eq!(types(&r), vec!["nonmonotonic-send"]);
}

#[test]
fn a_poll_returning_a_failed_send() {
    let r = check(vec![
        vec![
            op(0, OpType::Invoke, "send", json!([["send", "1", 1]]), 0),
            op(0, OpType::Fail, "send", json!([["send", "1", 1]]), 1),
        ],
        poll(1, json!({"1": [[0, 1]]}), 10),
    ]);
    assert_eq!(types(&r), vec!["G1a"]);
}

#[test]
fn a_poll_seeing_a_send_from_its_future() {
    let r = check(vec![
        poll(1, json!({"1": [[0, 1]]}), 0),
        send(0, "1", 1, 0, 10),
    ]);
    assert_eq!(types(&r), vec!["G1c-realtime"]);
    assert_eq!(r.valid, Validity::Invalid);
}

#[test]
fn concurrent_send_and_poll_are_no_cycle() {
    let r = check(vec![vec![
        op(0, OpType::Invoke, "send", json!([["send", "1", 1]]), 0),
        op(1, OpType::Invoke, "poll", json!([["poll"]]), 1),
        op(1, OpType::Ok, "poll", json!([["poll", {"1": [[0, 1]]}]]), 2),
        op(0, OpType::Ok, "send", json!([["send", "1", [0, 1]]]), 3),
    ]]);
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.figures["errors"]);
}

#[test]
fn a_commit_regression_is_reported_not_fatal() {
    let r = check(vec![
        send(0, "1", 1, 0, 0),
        send(0, "1", 2, 1, 2),
        assign(1, json!(["1"]), json!({}), 4),
        poll(1, json!({"1": [[0, 1], [1, 2]]}), 10),
        assign(2, json!(["1"]), json!({"1": 0}), 20),
        poll(2, json!({"1": [[0, 1], [1, 2]]}), 22),
    ]);
    assert_eq!(types(&r), vec!["commit-regression"]);
    assert_eq!(r.valid, Validity::Valid);
    assert!(r.figures["bad_error_types"].as_array().unwrap().is_empty());
}

#[test]
fn nothing_succeeded_is_an_empty_graph() {
    let r = check(vec![vec![op(
        0,
        OpType::Invoke,
        "poll",
        json!([["poll"]]),
        0,
    )]]);
    assert_eq!(types(&r), vec!["empty-transaction-graph"]);
    assert_eq!(r.valid, Validity::Invalid);
}

#[test]
fn worst_lag_names_the_stale_poll() {
    let r = check(vec![
        send(0, "1", 1, 0, 0),
        send(0, "1", 2, 1, 1000),
        poll(1, json!({"1": [[0, 1]]}), 3001),
        poll(2, json!({"1": [[0, 1], [1, 2]]}), 4000),
    ]);
    let lag = &r.figures["worst_realtime_lag"];
    assert_eq!(lag["lag_s"], json!(2.0));
    assert_eq!(lag["key"], json!("1"));
    assert_eq!(lag["process"], json!(1));
}

/// `G1a` examples come in the order of the polls, whether the failed send was invoked
/// before the poll or after it (the checker's pass meets the latter's send late).
#[test]
fn failed_sends_polled_are_listed_in_poll_order() {
    let failed = |p: u64, key: &str, msg: i64, t: u64| {
        vec![
            op(p, OpType::Invoke, "send", json!([["send", key, msg]]), t),
            op(p, OpType::Fail, "send", json!([["send", key, msg]]), t + 1),
        ]
    };
    let h = history(
        [
            failed(0, "1", 1, 0),
            // Invoked at index 2, returns a message whose failed send is invoked later.
            vec![op(1, OpType::Invoke, "poll", json!([["poll"]]), 10)],
            failed(0, "2", 7, 15),
            vec![op(
                1,
                OpType::Ok,
                "poll",
                json!([["poll", {"2": [[0, 7]]}]]),
                16,
            )],
            poll(2, json!({"1": [[0, 1]], "2": [[0, 7]]}), 20),
        ]
        .concat(),
    );
    let r = same_when_typed(&h);
    let ops: Vec<Vec<usize>> = r.figures["errors"]["G1a"]["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::from_value(e["ops"].clone()).unwrap())
        .collect();
    assert_eq!(ops, vec![vec![3, 2], vec![0, 6], vec![3, 6]]);
    assert_eq!(count(&r, "G1a"), 3);
}
