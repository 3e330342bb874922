use std::time::Duration;

use serde_json::{json, Value};

use super::generate::{linearizable_history, GenParams};
use super::*;
use crate::history::build::{history, op};
use crate::history::{History, Op, OpType};

// Shorthands: an op of process `p` at history position `t` (times are not used by the checker,
// history order is).
fn inv(p: u64, f: &str, value: Value) -> Op {
    op(p, OpType::Invoke, f, value, 0)
}
fn ok(p: u64, f: &str, value: Value) -> Op {
    op(p, OpType::Ok, f, value, 0)
}
fn info(p: u64, f: &str, value: Value) -> Op {
    op(p, OpType::Info, f, value, 0)
}
fn fail(p: u64, f: &str, value: Value) -> Op {
    op(p, OpType::Fail, f, value, 0)
}
fn write(p: u64, v: i64) -> [Op; 2] {
    [
        inv(p, "write", json!([0, v])),
        ok(p, "write", json!([0, v])),
    ]
}
fn read(p: u64, v: Value) -> [Op; 2] {
    [
        inv(p, "read", json!([0, null])),
        ok(p, "read", json!([0, v])),
    ]
}

fn check(h: &History) -> CheckResult {
    check_register_history(h, &LinearOptions::default())
}

fn valid(ops: Vec<Op>) -> bool {
    let result = check(&history(ops));
    assert_ne!(result.valid, Validity::Unknown, "{:?}", result.anomalies);
    result.valid == Validity::Valid
}

fn seq(parts: Vec<[Op; 2]>) -> Vec<Op> {
    parts.into_iter().flatten().collect()
}

#[test]
fn an_empty_history_and_a_sequential_one_are_linearizable() {
    assert!(valid(vec![]));
    assert!(valid(seq(vec![
        read(0, Value::Null),
        write(0, 1),
        read(1, json!(1)),
        write(1, 2),
        read(0, json!(2)),
    ])));
}

#[test]
fn a_stale_read_after_a_completed_write_is_caught_and_explained() {
    let h = history(seq(vec![write(0, 1), write(1, 2), read(2, json!(1))]));
    let result = check(&h);
    assert_eq!(result.valid, Validity::Invalid);
    assert_eq!(result.figures["failures"], json!([0]));
    let detail = &result.figures["failure_details"][0]["failure"];
    // The read (op 4) alone cannot be ordered: after op 2 the register is 2.
    assert_eq!(detail["op"], json!(4));
    assert_eq!(detail["window"], json!([4]));
    assert_eq!(detail["states"], json!([2]));
    assert_eq!(detail["after"], json!([2]));
    assert_eq!(detail["linearizable_before"], json!(5));
    let message = &result.anomalies[0].message;
    assert!(
        message.contains(
            "after op 2 the register is 2; op 4 (read 1, process 2) began after it finished"
        ),
        "{message}"
    );
}

#[test]
fn concurrent_writes_may_be_read_in_either_order_but_not_both() {
    let concurrent = || {
        vec![
            inv(0, "write", json!([0, 1])),
            inv(1, "write", json!([0, 2])),
            ok(0, "write", json!([0, 1])),
            ok(1, "write", json!([0, 2])),
        ]
    };
    for v in [1, 2] {
        let mut ops = concurrent();
        ops.extend(read(2, json!(v)));
        assert!(valid(ops), "reading {v}");
    }
    // Reads during the writes may see each order, once.
    let mut ops = vec![
        inv(0, "write", json!([0, 1])),
        inv(1, "write", json!([0, 2])),
    ];
    ops.extend(read(2, json!(1)));
    ops.extend(read(2, json!(2)));
    ops.push(ok(0, "write", json!([0, 1])));
    ops.push(ok(1, "write", json!([0, 2])));
    assert!(valid(ops.clone()));
    // ... but after both finished, the register cannot flip back.
    ops.extend(read(2, json!(1)));
    assert!(!valid(ops));
    let mut flip = concurrent();
    flip.extend(read(2, json!(2)));
    flip.extend(read(2, json!(1)));
    assert!(!valid(flip));
}

#[test]
fn cas_takes_effect_only_from_its_from_value() {
    let cas = |p: u64, from: i64, to: i64| {
        [
            inv(p, "cas", json!([0, [from, to]])),
            ok(p, "cas", json!([0, [from, to]])),
        ]
    };
    assert!(valid(seq(vec![
        write(0, 1),
        cas(1, 1, 2),
        read(0, json!(2))
    ])));
    assert!(!valid(seq(vec![write(0, 1), cas(1, 3, 2)])));
    assert!(!valid(seq(vec![
        write(0, 1),
        cas(1, 1, 2),
        read(0, json!(1))
    ])));
    // A failed cas did not happen.
    let mut ops = seq(vec![write(0, 1)]);
    ops.push(inv(1, "cas", json!([0, [1, 4]])));
    ops.push(fail(1, "cas", json!([0, [1, 4]])));
    ops.extend(read(0, json!(1)));
    assert!(valid(ops));
    // A cas from null succeeds on a fresh key.
    assert!(valid(seq(vec![
        [
            inv(1, "cas", json!([0, [null, 3]])),
            ok(1, "cas", json!([0, [null, 3]]))
        ],
        read(0, json!(3)),
    ])));
}

#[test]
fn an_indeterminate_write_may_happen_any_time_after_its_invocation_or_never() {
    let pending = || {
        vec![
            inv(9, "write", json!([0, 3])),
            info(9, "write", json!([0, 3])),
        ]
    };
    // It may never happen...
    let mut never = pending();
    never.extend(seq(vec![read(0, Value::Null), read(1, Value::Null)]));
    assert!(valid(never));
    // ... or much later, after its info.
    let mut later = pending();
    later.extend(seq(vec![read(0, Value::Null), read(1, json!(3))]));
    assert!(valid(later));
    // ... but only once: it cannot be undone.
    let mut undone = pending();
    undone.extend(seq(vec![read(0, json!(3)), read(1, Value::Null)]));
    assert!(!valid(undone));
    // ... and not before it was invoked.
    let mut early = seq(vec![read(0, json!(3))]);
    early.extend(pending());
    assert!(!valid(early));
    // A never-completed cas is indeterminate too.
    let mut open_cas = seq(vec![write(0, 1)]);
    open_cas.push(inv(9, "cas", json!([0, [1, 2]])));
    open_cas.extend(seq(vec![read(0, json!(2)), read(1, json!(2))]));
    assert!(valid(open_cas));
}

#[test]
fn an_indeterminate_read_constrains_nothing() {
    let mut ops = seq(vec![write(0, 1)]);
    ops.push(inv(1, "read", json!([0, null])));
    ops.push(info(1, "read", json!([0, null])));
    ops.extend(read(2, json!(1)));
    assert!(valid(ops));
}

#[test]
fn keys_are_independent_and_only_the_bad_one_fails() {
    let mut ops = Vec::new();
    for key in 0..4 {
        let v = if key == 2 { 9 } else { key };
        ops.push(inv(key as u64, "write", json!([key, key])));
        ops.push(ok(key as u64, "write", json!([key, key])));
        ops.push(inv(key as u64, "read", json!([key, null])));
        ops.push(ok(key as u64, "read", json!([key, v])));
    }
    let result = check(&history(ops));
    assert_eq!(result.valid, Validity::Invalid);
    assert_eq!(result.figures["key_count"], json!(4));
    assert_eq!(result.figures["failures"], json!([2]));
    assert_eq!(result.figures["results"]["0"]["valid"], json!(true));
    assert_eq!(result.figures["results"]["2"]["valid"], json!(false));
}

#[test]
fn the_window_holds_the_concurrent_ops_that_cannot_be_ordered() {
    // After a write of 3 and a cas 3->4 (ops 2 and 4) a read of 1 is impossible.
    let mut ops = seq(vec![write(0, 1), write(0, 3)]);
    ops.push(inv(1, "cas", json!([0, [3, 4]])));
    ops.extend(read(2, json!(3)));
    ops.push(ok(1, "cas", json!([0, [3, 4]])));
    ops.extend(read(2, json!(1)));
    let result = check(&history(ops));
    assert_eq!(result.valid, Validity::Invalid);
    let detail = &result.figures["failure_details"][0]["failure"];
    assert_eq!(detail["op"], json!(8));
    assert_eq!(detail["window"], json!([8]));
    assert_eq!(detail["states"], json!([4]));
    assert_eq!(detail["after"], json!([4, 5]));
    let message = &result.anomalies[0].message;
    assert!(
        message.contains("after ops 4 and 5 the register is 4; op 8 (read 1, process 2) began after both finished"),
        "{message}"
    );
}

#[test]
fn a_read_concurrent_with_writes_may_see_any_of_them_but_not_an_older_value() {
    let mut ops = seq(vec![write(0, 1)]);
    ops.push(inv(1, "write", json!([0, 2])));
    ops.push(inv(2, "write", json!([0, 3])));
    ops.extend(read(3, json!(0)));
    ops.push(ok(1, "write", json!([0, 2])));
    ops.push(ok(2, "write", json!([0, 3])));
    let result = check(&history(ops));
    assert_eq!(result.valid, Validity::Invalid);
    let detail = &result.figures["failure_details"][0]["failure"];
    // From "1" with writes of 2 and 3 running, a read of 0 cannot be ordered.
    assert_eq!(detail["states"], json!([1]));
    assert_eq!(detail["window"], json!([2, 3, 4]));
}

#[test]
fn generated_linearizable_histories_pass() {
    for seed in 0..40 {
        let params = GenParams {
            keys: 3,
            ops_per_key: 60,
            concurrency: 1 + (seed as usize % 6),
            info_rate: 0.1,
            ..GenParams::default()
        };
        let h = linearizable_history(&params, seed);
        let result = check(&h);
        assert_eq!(
            result.valid,
            Validity::Valid,
            "seed {seed}: {:?}",
            result.anomalies
        );
    }
}

/// Exhaustive search over orders, for cross-checking on small histories.
fn brute_force(key: &ops::KeyHistory) -> bool {
    fn go(key: &ops::KeyHistory, done: &mut Vec<bool>, state: model::State) -> bool {
        let ops = &key.ops;
        if ops.iter().zip(done.iter()).all(|(op, &d)| d || !op.is_ok()) {
            return true;
        }
        for i in 0..ops.len() {
            if done[i] {
                continue;
            }
            // i may go next only if no pending ok op finished before i was invoked.
            let blocked = (0..ops.len())
                .any(|j| !done[j] && j != i && ops[j].completed.is_some_and(|c| c < ops[i].index));
            if blocked {
                continue;
            }
            if let Some(next) = ops[i].action.step(state) {
                done[i] = true;
                if go(key, done, next) {
                    done[i] = false;
                    return true;
                }
                done[i] = false;
            }
        }
        false
    }
    go(key, &mut vec![false; key.ops.len()], model::NULL)
}

#[test]
fn search_explanation_and_brute_force_agree_on_small_corrupted_histories() {
    use rand::{Rng as _, SeedableRng};
    let mut invalid = 0;
    for seed in 0..400u64 {
        let params = GenParams {
            keys: 1,
            ops_per_key: 7,
            concurrency: 3,
            info_rate: 0.15,
            values: 3,
            ..GenParams::default()
        };
        let mut h = linearizable_history(&params, seed);
        // Corrupt one ok read.
        let mut rng = crate::Rng::seed_from_u64(seed);
        let reads: Vec<usize> = (0..h.ops.len())
            .filter(|&i| h.ops[i].kind == OpType::Ok && h.ops[i].f == "read")
            .collect();
        if !reads.is_empty() && seed % 3 != 0 {
            let i = reads[rng.gen_range(0..reads.len())];
            h.ops[i].value = json!([0, rng.gen_range(0..3)]).into();
        }
        let split = ops::split_by_key(&h);
        for key in &split.keys {
            let budget = budget::Budget::new(Duration::from_secs(10), 1 << 30);
            let expected = brute_force(key);
            let verdict = wgl::check(key, &budget);
            assert_eq!(
                verdict,
                if expected {
                    wgl::Verdict::Linearizable
                } else {
                    wgl::Verdict::NotLinearizable
                },
                "seed {seed}: {key:?}"
            );
            let explained = explain::explain(key, &budget).unwrap();
            assert_eq!(explained.is_none(), expected, "seed {seed}");
            if let Some(f) = explained {
                invalid += 1;
                assert!(f.window.contains(&f.op));
            }
        }
    }
    assert!(invalid > 50, "only {invalid} invalid histories");
}

#[test]
fn out_of_budget_is_unknown_never_a_hang() {
    let params = GenParams {
        keys: 2,
        ops_per_key: 3000,
        concurrency: 30,
        info_rate: 0.3,
        ..GenParams::default()
    };
    let h = linearizable_history(&params, 7);
    let no_memory = LinearOptions {
        memory_limit: 0,
        ..LinearOptions::default()
    };
    let result = check_register_history(&h, &no_memory);
    assert_eq!(result.valid, Validity::Unknown);
    assert_eq!(result.anomalies[0].kind, "check-incomplete");
    assert!(result.anomalies[0].message.contains("memory"));
    let no_time = LinearOptions {
        timeout: Duration::ZERO,
        ..LinearOptions::default()
    };
    let result = check_register_history(&h, &no_time);
    assert_eq!(result.valid, Validity::Unknown);
    assert!(result.anomalies[0].message.contains("time"));
}

#[test]
fn malformed_ops_make_the_verdict_unknown() {
    let h = history(vec![inv(0, "write", json!(3)), ok(0, "write", json!(3))]);
    let result = check(&h);
    assert_eq!(result.valid, Validity::Unknown);
    assert_eq!(result.anomalies[0].kind, "malformed-op");
}
