//! Hand-made histories, one per anomaly, and clean ones that must pass.

use serde_json::{json, Value};

use super::*;
use crate::history::build::{history, op, typed_history};
use crate::history::{Op, OpType};

/// Builds a history from (process, kind, value) steps; each step is one op, one ms apart.
fn h(steps: &[(u64, OpType, Value)]) -> History {
    let ops: Vec<Op> = steps
        .iter()
        .enumerate()
        .map(|(i, (p, kind, v))| op(*p, *kind, "txn", v.clone(), i as u64))
        .collect();
    history(ops)
}

fn models(m: &str) -> Vec<String> {
    vec![m.to_string()]
}

fn rw(hist: &History, model: &str) -> CheckResult {
    same_when_typed(hist, Flavor::RwRegister, model)
}

fn la(hist: &History, model: &str) -> CheckResult {
    same_when_typed(hist, Flavor::ListAppend, model)
}

/// Checks the history, and checks that its transactions in the typed form the workload
/// records give the same result.
fn same_when_typed(hist: &History, flavor: Flavor, model: &str) -> CheckResult {
    let result = check(hist, flavor, &models(model));
    let typed = typed_history(hist);
    let debug = |r: &CheckResult| format!("{r:?}");
    assert_eq!(
        debug(&check(&typed, flavor, &models(model))),
        debug(&result)
    );
    result
}

fn kinds(r: &CheckResult) -> Vec<String> {
    r.anomalies.iter().map(|a| a.kind.clone()).collect()
}

use OpType::{Fail, Invoke, Ok as Done};

/// `n` for the invocation of a transaction whose reads are unknown.
fn inv(mops: Value) -> Value {
    let mut mops = mops;
    for m in mops.as_array_mut().unwrap() {
        if m[0] == "r" {
            m[2] = Value::Null;
        }
    }
    mops
}

fn txn(p: u64, mops: Value) -> [(u64, OpType, Value); 2] {
    [(p, Invoke, inv(mops.clone())), (p, Done, mops)]
}

fn concat(parts: &[&[(u64, OpType, Value)]]) -> History {
    let steps: Vec<(u64, OpType, Value)> = parts.iter().flat_map(|p| p.iter().cloned()).collect();
    h(&steps)
}

#[test]
fn interleaved_writes_are_g0_through_the_final_read() {
    // T1 and T2 run concurrently; x ends with T2's value and y with T1's.
    let a = json!([["w", 1, 1], ["w", 2, 1]]);
    let b = json!([["w", 1, 2], ["w", 2, 2]]);
    let mut steps = vec![
        (0, Invoke, a.clone()),
        (1, Invoke, b.clone()),
        (0, Done, a),
        (1, Done, b),
    ];
    let mut fin: Vec<(u64, OpType, Value)> = txn(2, json!([["r", 1, 2], ["r", 2, 1]])).to_vec();
    steps.append(&mut fin);
    let mut hist = h(&steps);
    for o in &mut hist.ops[4..] {
        o.is_final = true;
    }
    let r = rw(&hist, "read-uncommitted");
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(kinds(&r), ["G0"]);
    let msg = &r.anomalies[0].message;
    assert!(msg.contains("T2 wrote k1=1, T3 wrote k1=2"), "{msg}");
    assert!(msg.contains("T3 wrote k2=2, T2 wrote k2=1"), "{msg}");
    assert!(
        msg.contains("k1 ends with 2") && msg.contains("k2 ends with 1"),
        "{msg}"
    );
    // Without the final read, nothing orders the writes.
    let main_only = h(&steps[..4]);
    assert_eq!(rw(&main_only, "read-uncommitted").valid, Validity::Valid);
}

#[test]
fn g0_through_writes_follow_reads_and_the_final_read() {
    // T2 read k1=1 (T1's) and then wrote k1, so T1 -> T2; k2 ends with T1's value, so T2 -> T1.
    let mut hist = concat(&[
        &txn(0, json!([["w", 1, 1], ["w", 2, 1]])),
        &txn(1, json!([["r", 1, 1], ["w", 1, 2], ["w", 2, 2]])),
        &txn(2, json!([["r", 1, 2], ["r", 2, 1]])),
    ]);
    for o in &mut hist.ops[4..] {
        o.is_final = true;
    }
    let r = rw(&hist, "read-uncommitted");
    assert_eq!(kinds(&r), ["G0"]);
    let msg = &r.anomalies[0].message;
    assert!(msg.contains("T3 read k1=1 before writing it"), "{msg}");
    assert!(msg.contains("k2 ends with 1"), "{msg}");
}

#[test]
fn neither_real_time_nor_reads_order_versions_under_read_uncommitted() {
    // A totally available node may install a later write (in real time, or by the same
    // process) as the earlier version, and reads may return any version in any order: the
    // key ends with the first write, the second was read before the first. Nothing here may
    // be inferred as a write order, so there is no G0.
    let mut hist = concat(&[
        &txn(0, json!([["w", 1, 1], ["w", 2, 1]])),
        &txn(0, json!([["w", 1, 2], ["w", 2, 2]])),
        &txn(1, json!([["r", 1, 2], ["r", 2, 2]])),
        &txn(1, json!([["r", 1, 1], ["r", 2, 1]])),
        &txn(2, json!([["r", 1, 1], ["r", 2, 1]])),
    ]);
    for o in &mut hist.ops[8..] {
        o.is_final = true;
    }
    let r = rw(&hist, "read-uncommitted");
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
}

#[test]
fn aborted_read_is_g1a_under_read_committed_only() {
    let hist = concat(&[
        &[
            (0, Invoke, json!([["w", 1, 1]])),
            (0, Fail, json!([["w", 1, 1]])),
        ],
        &txn(1, json!([["r", 1, 1]])),
    ]);
    let r = rw(&hist, "read-committed");
    assert_eq!(kinds(&r), ["G1a"]);
    assert!(r.anomalies[0].message.contains("T1"), "{:?}", r.anomalies);
    assert_eq!(rw(&hist, "read-uncommitted").valid, Validity::Valid);
}

#[test]
fn intermediate_read_is_g1b() {
    let hist = concat(&[
        &txn(0, json!([["w", 1, 1], ["w", 1, 2]])),
        &txn(1, json!([["r", 1, 1]])),
    ]);
    assert_eq!(kinds(&rw(&hist, "read-committed")), ["G1b"]);
}

#[test]
fn circular_information_flow_is_g1c() {
    let a = json!([["w", 1, 1], ["r", 2, 1]]);
    let b = json!([["w", 2, 1], ["r", 1, 1]]);
    let hist = h(&[
        (0, Invoke, inv(a.clone())),
        (1, Invoke, inv(b.clone())),
        (0, Done, a),
        (1, Done, b),
    ]);
    let r = rw(&hist, "read-committed");
    assert_eq!(kinds(&r), ["G1c"]);
    let msg = &r.anomalies[0].message;
    assert!(msg.contains("T2 wrote k1=1, T3 read k1=1 (wr)"), "{msg}");
}

#[test]
fn a_txn_that_misses_its_own_write_is_internal_even_under_read_committed() {
    let hist = concat(&[&txn(0, json!([["w", 1, 1], ["r", 1, null]]))]);
    let r = rw(&hist, "read-committed");
    assert_eq!(kinds(&r), ["internal"]);
    assert_eq!(r.valid, Validity::Invalid);
}

#[test]
fn garbage_reads_are_reported() {
    let hist = concat(&[&txn(0, json!([["r", 1, 99]]))]);
    assert_eq!(kinds(&rw(&hist, "read-uncommitted")), ["garbage-read"]);
}

#[test]
fn read_skew_is_g_single_and_write_skew_g2_item() {
    let t1 = json!([["r", 1, null], ["r", 2, 1]]);
    let t2 = json!([["w", 1, 1], ["w", 2, 1]]);
    let skew = h(&[
        (0, Invoke, inv(t1.clone())),
        (1, Invoke, t2.clone()),
        (1, Done, t2),
        (0, Done, t1),
    ]);
    assert_eq!(kinds(&rw(&skew, "serializable")), ["G-single"]);
    assert_eq!(rw(&skew, "read-committed").valid, Validity::Valid);

    let a = json!([["r", 1, null], ["w", 2, 1]]);
    let b = json!([["r", 2, null], ["w", 1, 1]]);
    let write_skew = h(&[
        (0, Invoke, inv(a.clone())),
        (1, Invoke, inv(b.clone())),
        (0, Done, a),
        (1, Done, b),
    ]);
    assert_eq!(kinds(&rw(&write_skew, "serializable")), ["G2-item"]);
    assert_eq!(rw(&write_skew, "snapshot-isolation").valid, Validity::Valid);
}

#[test]
fn a_stale_read_after_completion_is_a_realtime_cycle() {
    let hist = concat(&[
        &txn(0, json!([["w", 1, 1]])),
        &txn(1, json!([["r", 1, null]])),
    ]);
    assert_eq!(rw(&hist, "serializable").valid, Validity::Valid);
    let r = rw(&hist, "strict-serializable");
    assert_eq!(kinds(&r), ["G-single-realtime"]);
    assert!(r.anomalies[0].message.contains("completed before"));
}

#[test]
fn a_serial_history_is_strict_serializable() {
    let hist = concat(&[
        &txn(0, json!([["w", 1, 1], ["r", 2, null]])),
        &txn(1, json!([["r", 1, 1], ["w", 1, 2], ["w", 2, 1]])),
        &txn(
            0,
            json!([["r", 1, 2], ["r", 2, 1], ["w", 2, 2], ["r", 2, 2]]),
        ),
    ]);
    let r = rw(&hist, "strict-serializable");
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
    assert_eq!(r.figures["ok_count"], json!(3));
}

#[test]
fn an_empty_history_is_invalid() {
    let r = rw(&History::default(), "read-committed");
    assert_eq!(kinds(&r), ["empty-transaction-graph"]);
}

#[test]
fn list_append_orders_appends_and_finds_g0() {
    let a = json!([["append", 1, 1], ["append", 2, 1]]);
    let b = json!([["append", 1, 2], ["append", 2, 2]]);
    let hist = concat(&[
        &[
            (0, Invoke, a.clone()),
            (1, Invoke, b.clone()),
            (0, Done, a),
            (1, Done, b),
        ],
        &txn(2, json!([["r", 1, [1, 2]], ["r", 2, [2, 1]]])),
    ]);
    let r = la(&hist, "read-uncommitted");
    assert_eq!(kinds(&r), ["G0"], "{:?}", r.anomalies);
    assert!(r.anomalies[0].message.contains("appended 1 to k1"));
}

#[test]
fn list_append_incompatible_duplicate_internal_and_aborted() {
    let hist = concat(&[
        &txn(0, json!([["append", 1, 1], ["append", 1, 2]])),
        &txn(1, json!([["r", 1, [1, 2]]])),
        &txn(2, json!([["r", 1, [2, 1]]])),
        &txn(0, json!([["append", 2, 1], ["r", 2, []]])),
        &txn(1, json!([["append", 3, 1], ["append", 3, 2]])),
        &txn(2, json!([["r", 3, [1, 2, 2]]])),
        &[
            (3, Invoke, json!([["append", 4, 1]])),
            (3, Fail, json!([["append", 4, 1]])),
        ],
        &txn(4, json!([["append", 4, 2]])),
        &txn(4, json!([["r", 4, [1, 2]]])),
    ]);
    let r = la(&hist, "read-committed");
    let k: BTreeSet<String> = kinds(&r).into_iter().collect();
    for expected in [
        "incompatible-order",
        "duplicate-elements",
        "internal",
        "G1a",
        "dirty-update",
    ] {
        assert!(k.contains(expected), "{expected} missing from {k:?}");
    }
}

#[test]
fn list_append_intermediate_read_and_clean_history() {
    let g1b = concat(&[
        &txn(0, json!([["append", 1, 1], ["append", 1, 2]])),
        &txn(1, json!([["r", 1, [1]]])),
    ]);
    assert!(kinds(&la(&g1b, "read-committed")).contains(&"G1b".to_string()));
    let clean = concat(&[
        &txn(0, json!([["append", 1, 1], ["r", 1, [1]]])),
        &txn(1, json!([["r", 1, [1]], ["append", 1, 2], ["r", 2, null]])),
        &txn(0, json!([["r", 1, [1, 2]]])),
    ]);
    let r = la(&clean, "strict-serializable");
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
}
