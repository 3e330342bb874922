use std::collections::HashMap;

use serde_json::{json, Value};

use super::analysis::{Analysis, Outcome};
use super::values::Key;
use super::*;
use crate::checkers::{CheckResult, Validity};
use crate::history::build::{history, op};
use crate::history::{Nanos, Op, OpType, Process, NANOS_PER_MS};

const ADD: &str = "broadcast";

fn add(p: u64, value: u64, invoke_ms: u64, ok_ms: u64) -> Vec<Op> {
    vec![
        op(p, OpType::Invoke, ADD, json!(value), invoke_ms),
        op(p, OpType::Ok, ADD, json!(value), ok_ms),
    ]
}

fn read(p: u64, seen: Value, invoke_ms: u64, ok_ms: u64) -> Vec<Op> {
    vec![
        op(p, OpType::Invoke, READ_F, Value::Null, invoke_ms),
        op(p, OpType::Ok, READ_F, seen, ok_ms),
    ]
}

fn run(parts: Vec<Vec<Op>>) -> CheckResult {
    check_set_full(&history(parts.concat()), ADD)
}

fn quantiles_of(all: [u64; 5]) -> Value {
    json!({"0": all[0], "0.5": all[1], "0.95": all[2], "0.99": all[3], "1": all[4]})
}

#[test]
fn a_correct_history_is_valid() {
    let r = run(vec![
        add(0, 0, 0, 1),
        read(1, json!([0]), 2, 3),
        add(0, 1, 4, 5),
        read(1, json!([1, 0]), 6, 7),
    ]);
    assert_eq!(r.valid, Validity::Valid);
    assert_eq!(r.figures["attempt_count"], json!(2));
    assert_eq!(r.figures["stable_count"], json!(2));
    assert_eq!(r.figures["lost_count"], json!(0));
    assert_eq!(r.figures["never_read_count"], json!(0));
    assert_eq!(r.figures["stale_count"], json!(0));
    assert_eq!(r.figures["worst_stale"], json!([]));
    assert_eq!(r.figures["stable_latencies"], quantiles_of([0; 5]));
    assert!(!r.figures.contains_key("lost_latencies"));
    assert_eq!(r.figures["duplicated_count"], json!(0));
    assert!(r.anomalies.is_empty());
}

#[test]
fn a_lost_element_is_caught() {
    let r = run(vec![
        add(0, 0, 0, 1),             // ops 0, 1
        read(1, json!([0]), 2, 3),   // ops 2, 3
        add(0, 1, 4, 5),             // ops 4, 5
        read(1, json!([1]), 10, 11), // ops 6, 7: 0 is gone
        read(2, json!([1]), 12, 13), // ops 8, 9
    ]);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.figures["lost_count"], json!(1));
    assert_eq!(r.figures["lost"], json!([0]));
    assert_eq!(r.figures["stable_count"], json!(1));
    // Lost latency: last present read's invocation (2 ms) + 1 ns - known (1 ms), in ms.
    assert_eq!(r.figures["lost_latencies"], quantiles_of([1; 5]));
    assert_eq!(r.anomalies.len(), 1);
    let a = &r.anomalies[0];
    assert_eq!(a.kind, "lost");
    assert_eq!(a.ops, vec![0, 1, 2, 8]);
    assert!(
        a.message.contains("element 0 was acknowledged"),
        "{}",
        a.message
    );
    assert!(a.message.contains("(op 8)"), "{}", a.message);
}

#[test]
fn an_element_never_returned_after_its_ack_is_lost() {
    let r = run(vec![
        add(0, 7, 0, 1),
        read(1, json!([]), 5, 6),
        add(0, 8, 7, 8),
        read(1, json!([8]), 9, 10),
    ]);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.figures["lost"], json!([7]));
    assert_eq!(r.figures["lost_latencies"], quantiles_of([0; 5]));
    assert!(r.anomalies[0].message.contains("no read ever returned it"));
}

#[test]
fn an_element_first_seen_by_a_read_is_known_from_then() {
    // The add timed out, but a read returned the element: it happened, so losing it counts.
    let r = run(vec![
        vec![
            op(0, OpType::Invoke, ADD, json!(3), 0),
            op(0, OpType::Info, ADD, json!(3), 5000),
        ],
        read(1, json!([3]), 1, 2), // ops 2, 3
        read(1, json!([]), 6000, 6001),
        add(2, 4, 6002, 6003),
        read(1, json!([4]), 6004, 6005),
    ]);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.figures["lost"], json!([3]));
    assert!(
        r.anomalies[0]
            .message
            .contains("first returned by a read that completed at 0.002 s (op 3)"),
        "{}",
        r.anomalies[0].message
    );
}

#[test]
fn a_late_element_is_stale_with_its_latency() {
    let r = run(vec![
        add(0, 0, 0, 10),            // ops 0, 1: known at 10 ms
        add(0, 1, 20, 21),           // ops 2, 3
        read(1, json!([1]), 50, 51), // ops 4, 5: misses 0
        read(1, json!([1, 0]), 60, 61),
    ]);
    assert_eq!(r.valid, Validity::Valid);
    assert_eq!(r.figures["stable_count"], json!(2));
    assert_eq!(r.figures["stale_count"], json!(1));
    assert_eq!(r.figures["stale"], json!([0]));
    // 50 ms + 1 ns - 10 ms = 40 ms (whole); element 1 has 0. Sorted [0, 40]: element
    // min(1, floor(2q)) for each q.
    assert_eq!(
        r.figures["stable_latencies"],
        quantiles_of([0, 40, 40, 40, 40])
    );
    assert_eq!(
        r.figures["worst_stale"],
        json!([{"element": 0, "stable_latency": 40, "known": 1, "last_absent": 4}])
    );
}

#[test]
fn a_sub_millisecond_delay_is_not_stale() {
    // The missing read was invoked the very moment the add completed: 1 ns, so 0 ms.
    let r = run(vec![
        add(0, 0, 0, 0),
        read(1, json!([]), 0, 1),
        read(1, json!([0]), 2, 3),
    ]);
    assert_eq!(r.figures["stable_count"], json!(1));
    assert_eq!(r.figures["stale_count"], json!(0));
    assert_eq!(r.figures["stable_latencies"], quantiles_of([0; 5]));
}

#[test]
fn an_element_not_read_after_its_add_is_never_read() {
    let r = run(vec![
        add(0, 0, 0, 1),
        read(1, json!([0]), 2, 3),
        read(1, json!([0]), 4, 5), // completes before 1 is even added
        add(0, 1, 6, 7),
    ]);
    assert_eq!(r.valid, Validity::Valid);
    assert_eq!(r.figures["never_read_count"], json!(1));
    assert_eq!(r.figures["never_read"], json!([1]));
    assert_eq!(r.figures["stable_count"], json!(1));
}

#[test]
fn a_read_concurrent_with_the_add_cannot_lose_it() {
    let r = run(vec![vec![
        op(1, OpType::Invoke, READ_F, Value::Null, 0),
        op(0, OpType::Invoke, ADD, json!(0), 1),
        op(0, OpType::Ok, ADD, json!(0), 2),
        op(1, OpType::Ok, READ_F, json!([]), 3),
    ]]);
    // The read may have happened before the add: never read, not lost.
    assert_eq!(r.figures["never_read"], json!([0]));
    assert_eq!(r.figures["lost_count"], json!(0));
    assert_eq!(r.valid, Validity::Unknown);
}

#[test]
fn a_read_in_flight_during_the_add_counts_for_it() {
    let r = run(vec![
        vec![
            op(1, OpType::Invoke, READ_F, Value::Null, 0),
            op(0, OpType::Invoke, ADD, json!(0), 1),
            op(0, OpType::Ok, ADD, json!(0), 2),
            op(1, OpType::Ok, READ_F, json!([0]), 3),
        ],
        read(1, json!([0]), 4, 5),
    ]);
    assert_eq!(r.valid, Validity::Valid);
    assert_eq!(r.figures["stable_count"], json!(1));
    assert_eq!(r.figures["stable_latencies"], quantiles_of([0; 5]));
}

#[test]
fn nothing_stable_is_unknown() {
    let r = run(vec![
        add(0, 0, 0, 1),
        add(0, 1, 2, 3),
        vec![
            op(1, OpType::Invoke, READ_F, Value::Null, 4),
            op(1, OpType::Fail, READ_F, Value::Null, 5),
        ],
    ]);
    assert_eq!(r.valid, Validity::Unknown);
    assert_eq!(r.figures["never_read"], json!([0, 1]));
    assert!(!r.figures.contains_key("stable_latencies"));
    assert_eq!(r.anomalies.len(), 1);
    assert_eq!(r.anomalies[0].kind, "nothing-stable");
    assert!(r.anomalies[0].message.contains("no read succeeded"));

    let empty = run(vec![]);
    assert_eq!(empty.valid, Validity::Unknown);
    assert_eq!(empty.figures["attempt_count"], json!(0));
}

#[test]
fn values_never_added_are_ignored() {
    let r = run(vec![add(0, 0, 0, 1), read(1, json!([0, 99, "x", 0]), 2, 3)]);
    assert_eq!(r.valid, Validity::Valid);
    assert_eq!(r.figures["attempt_count"], json!(1));
    assert_eq!(r.figures["stable_count"], json!(1));
    assert_eq!(r.figures["duplicated_count"], json!(0));
}

#[test]
fn integers_and_floats_are_different_elements() {
    // Clojure's `=` tells 1 from 1.0; so does the checker.
    let r = run(vec![add(0, 1, 0, 1), read(1, json!([1.0]), 2, 3)]);
    assert_eq!(r.figures["lost"], json!([1]));
    let r = run(vec![
        vec![
            op(0, OpType::Invoke, ADD, json!("a"), 0),
            op(0, OpType::Ok, ADD, json!("a"), 1),
        ],
        read(1, json!(["a"]), 2, 3),
    ]);
    assert_eq!(r.valid, Validity::Valid);
}

#[test]
fn other_add_names_are_supported() {
    let ops = vec![
        op(0, OpType::Invoke, "add", json!(0), 0),
        op(0, OpType::Ok, "add", json!(0), 1),
        op(1, OpType::Invoke, READ_F, Value::Null, 2),
        op(1, OpType::Ok, READ_F, json!([0]), 3),
    ];
    let h = history(ops);
    assert_eq!(check_set_full(&h, "add").valid, Validity::Valid);
    // Under another name, nothing was added.
    assert_eq!(
        check_set_full(&h, "broadcast").figures["attempt_count"],
        json!(0)
    );
}

#[test]
fn many_lost_elements_are_summed_up() {
    let mut parts: Vec<Vec<Op>> = (0..30).map(|v| add(0, v, 2 * v, 2 * v + 1)).collect();
    parts.push(add(0, 100, 60, 61));
    parts.push(read(1, json!([100]), 70, 71));
    let r = run(parts);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.figures["lost_count"], json!(30));
    assert_eq!(r.anomalies.len(), SHOWN_LOST + 1);
    assert!(r.anomalies[SHOWN_LOST]
        .message
        .starts_with("10 more elements"));
}

#[test]
fn worst_stale_lists_the_eight_stalest_highest_first() {
    let mut parts: Vec<Vec<Op>> = (0..10).map(|v| add(0, v, v, v + 1)).collect();
    // Each element v is missed by a read invoked at 100 + 10 v ms.
    for v in 0..10u64 {
        let present: Vec<u64> = (0..v).collect();
        parts.push(read(1, json!(present), 100 + 10 * v, 101 + 10 * v));
    }
    parts.push(read(1, json!((0..10).collect::<Vec<u64>>()), 500, 501));
    let r = run(parts);
    assert_eq!(r.valid, Validity::Valid);
    assert_eq!(r.figures["stale_count"], json!(10));
    let worst = r.figures["worst_stale"].as_array().unwrap();
    let elements: Vec<u64> = worst
        .iter()
        .map(|w| w["element"].as_u64().unwrap())
        .collect();
    assert_eq!(elements, vec![9, 8, 7, 6, 5, 4, 3, 2]);
    // Element 9: known at 10 ms, last missed by the read invoked at 190 ms.
    assert_eq!(worst[0]["stable_latency"], json!(180));
}

#[test]
fn a_large_history_is_checked_in_one_pass() {
    // 3000 adds, each followed by a read of everything so far, the reads lagging by one.
    let n = 3000u64;
    let mut ops = Vec::new();
    for v in 0..n {
        ops.extend(add(0, v, 3 * v, 3 * v + 1));
        let seen: Vec<u64> = (0..v).collect();
        ops.extend(read(1, json!(seen), 3 * v + 1, 3 * v + 2));
    }
    ops.extend(read(
        1,
        json!((0..n).collect::<Vec<u64>>()),
        3 * n,
        3 * n + 1,
    ));
    let start = std::time::Instant::now();
    let r = check_set_full(&history(ops), ADD);
    let took = start.elapsed();
    assert_eq!(r.valid, Validity::Valid);
    assert_eq!(r.figures["stable_count"], json!(n));
    // Every element is missed by the read right after its add: 3v+1 ms + 1 ns - (3v+1) ms.
    assert_eq!(r.figures["stale_count"], json!(0));
    assert!(took.as_secs() < 20, "took {took:?}");
}

/// Jepsen's reduction, literally: every ok read updates every element added so far.
/// Returns value text -> (outcome, stable latency, lost latency).
fn naive(h: &History, add_f: &str) -> HashMap<String, (Outcome, Option<u64>, Option<u64>)> {
    #[derive(Default)]
    struct El<'a> {
        known: Option<&'a Op>,
        present: Option<&'a Op>,
        absent: Option<&'a Op>,
    }
    let mut elements: HashMap<String, El> = HashMap::new();
    let mut invocations: HashMap<Process, &Op> = HashMap::new();
    for op in h.client_ops() {
        if op.kind == OpType::Invoke {
            invocations.insert(op.process, op);
            if op.f == add_f {
                elements.insert(Key::of(&op.value.to_json()).text(), El::default());
            }
            continue;
        }
        let inv = invocations.remove(&op.process).unwrap();
        if op.f == add_f && op.kind == OpType::Ok {
            let e = elements
                .get_mut(&Key::of(&op.value.to_json()).text())
                .unwrap();
            e.known = e.known.or(Some(op));
        } else if op.f == READ_F && op.kind == OpType::Ok {
            let seen: std::collections::HashSet<String> = op
                .value
                .to_json()
                .as_array()
                .map(|vs| vs.iter().map(|v| Key::of(v).text()).collect())
                .unwrap_or_default();
            for (key, e) in elements.iter_mut() {
                if seen.contains(key) {
                    e.known = e.known.or(Some(op));
                    if e.present.is_none_or(|p| p.index < inv.index) {
                        e.present = Some(inv);
                    }
                } else if e.absent.is_none_or(|a| a.index < inv.index) {
                    e.absent = Some(inv);
                }
            }
        }
    }
    let ms = |until: Nanos, known: &Op| until.saturating_sub(known.time) / NANOS_PER_MS;
    elements
        .into_iter()
        .map(|(key, e)| {
            let idx = |o: Option<&Op>| o.map_or(-1, |o| o.index as i64);
            let stable = e.present.is_some() && idx(e.absent) < idx(e.present);
            let lost = e.known.is_some()
                && e.absent.is_some()
                && idx(e.present) < idx(e.absent)
                && idx(e.known) < idx(e.absent);
            let outcome = if stable {
                Outcome::Stable
            } else if lost {
                Outcome::Lost
            } else {
                Outcome::NeverRead
            };
            let known = e.known;
            let stable_latency =
                stable.then(|| ms(e.absent.map_or(0, |a| a.time + 1), known.unwrap()));
            let lost_latency =
                lost.then(|| ms(e.present.map_or(0, |p| p.time + 1), known.unwrap()));
            (key, (outcome, stable_latency, lost_latency))
        })
        .collect()
}

impl Key {
    fn text(&self) -> String {
        format!("{self:?}")
    }
}

/// A random history: concurrent processes, adds (sometimes of a value added before), reads
/// returning a random part of what was added (plus strangers, duplicates, null), and
/// ok / fail / info completions, some ops never completing.
fn random_history(seed: u64) -> History {
    use rand::seq::SliceRandom;
    use rand::{Rng as _, SeedableRng};
    let mut rng = crate::Rng::seed_from_u64(seed);
    let mut ops = Vec::new();
    let mut time = 0u64;
    let mut next_process = 0u64;
    let mut busy: Vec<(u64, Option<Op>)> = Vec::new(); // (process, invocation) per worker
    for _ in 0..5 {
        busy.push((next_process, None));
        next_process += 1;
    }
    let mut added: Vec<u64> = Vec::new();
    let mut next_value = 0u64;
    for _ in 0..rng.gen_range(10..300) {
        time += rng.gen_range(0..3_000_000);
        let w = rng.gen_range(0..busy.len());
        let (process, pending) = &mut busy[w];
        match pending.take() {
            None => {
                let invoke = if rng.gen_bool(0.5) {
                    let v = if next_value > 0 && rng.gen_bool(0.05) {
                        rng.gen_range(0..next_value)
                    } else {
                        next_value += 1;
                        next_value - 1
                    };
                    added.push(v);
                    op(*process, OpType::Invoke, "add", json!(v), 0)
                } else {
                    op(*process, OpType::Invoke, READ_F, Value::Null, 0)
                };
                let mut invoke = invoke;
                invoke.time = time;
                ops.push(invoke.clone());
                *pending = Some(invoke);
            }
            Some(invoke) => {
                let kind = match rng.gen_range(0..10) {
                    0 => OpType::Fail,
                    1 => OpType::Info,
                    _ => OpType::Ok,
                };
                let value = if invoke.f == READ_F && kind == OpType::Ok {
                    if rng.gen_bool(0.05) {
                        Value::Null
                    } else {
                        let keep = rng.gen_range(0.0..1.0);
                        let mut vs: Vec<Value> = added
                            .iter()
                            .filter(|_| rng.gen_bool(keep))
                            .map(|&v| json!(v))
                            .collect();
                        if rng.gen_bool(0.1) {
                            vs.push(json!(next_value + 1000));
                        }
                        if rng.gen_bool(0.1) && !vs.is_empty() {
                            vs.push(vs[0].clone());
                        }
                        vs.shuffle(&mut rng);
                        Value::Array(vs)
                    }
                } else {
                    invoke.value.to_json().into_owned()
                };
                let mut done = op(*process, kind, &invoke.f, value, 0);
                done.time = time;
                ops.push(done);
                if kind == OpType::Info {
                    *process = next_process;
                    next_process += 1;
                }
            }
        }
    }
    history(ops)
}

/// The same history, pushed into one that keeps integer reads as sets.
fn compacted(h: &History) -> History {
    let mut compact = History::default();
    compact.keep_reads_as_sets("read");
    for op in &h.ops {
        compact.push(op.clone());
    }
    compact
}

#[test]
fn reads_kept_as_sets_are_checked_and_written_as_sets() {
    let h = compacted(&history(
        [
            add(0, 0, 0, 1),
            add(0, 1, 2, 3),
            read(1, json!([1, 0, 1]), 4, 5),
        ]
        .concat(),
    ));
    assert!(h.ops.iter().any(|op| h.int_set(op).is_some()));
    let r = check_set_full(&h, ADD);
    assert_eq!(r.valid, Validity::Valid);
    assert_eq!(r.figures["stable_count"], json!(2));
    // history.jsonl lists the read ascending, without the duplicate.
    let last = h.to_jsonl().lines().last().unwrap().to_string();
    let last: Value = serde_json::from_str(&last).unwrap();
    assert_eq!(last["value"], json!([0, 1]));
}

#[test]
fn agrees_with_jepsens_reduction_on_random_histories() {
    let mut seen = [0usize; 4]; // stable, lost, never read, stale
    for seed in 0..1000 {
        let h = random_history(seed);
        let analysis = Analysis::of(&h, "add");
        let fast: HashMap<String, (Outcome, Option<u64>, Option<u64>)> = analysis
            .outcomes()
            .into_iter()
            .map(|r| {
                let key = Key::of(&analysis.elements[r.slot].value).text();
                (key, (r.outcome, r.stable_latency, r.lost_latency))
            })
            .collect();
        assert_eq!(fast, naive(&h, "add"), "seed {seed}:\n{}", h.to_jsonl());
        // Reads kept as integer sets (as the runner keeps broadcast reads) judge the same.
        let compact = compacted(&h);
        let analysis = Analysis::of(&compact, "add");
        for r in analysis.outcomes() {
            let key = Key::of(&analysis.elements[r.slot].value).text();
            let expected = fast[&key];
            assert_eq!(
                (r.outcome, r.stable_latency, r.lost_latency),
                expected,
                "seed {seed}"
            );
        }
        for (outcome, stable_latency, _) in fast.values() {
            let i = match outcome {
                Outcome::Stable if stable_latency.unwrap() > 0 => 3,
                Outcome::Stable => 0,
                Outcome::Lost => 1,
                Outcome::NeverRead => 2,
            };
            seen[i] += 1;
        }
    }
    // The histories cover every verdict, stale ones included.
    assert!(seen.iter().all(|&n| n > 20), "{seen:?}");
}

/// What the pass over the reads leaves in each element, by value.
fn read_pass(analysis: &Analysis) -> HashMap<String, ElementReads> {
    analysis
        .elements
        .iter()
        .map(|e| {
            (
                Key::of(&e.value).text(),
                (e.first_seen, e.last_present_rank, e.last_absent_rank),
            )
        })
        .collect()
}

type ElementReads = (Option<(usize, Nanos)>, Option<usize>, Option<usize>);

/// Painting (see `paint`) leaves every element as walking every read does.
fn paints_as_it_walks(h: &History, add_f: &str, context: &str) -> bool {
    let painted = Analysis::of_with(h, add_f, true);
    let walked = Analysis::of_with(h, add_f, false);
    assert!(!walked.painted);
    assert_eq!(read_pass(&painted), read_pass(&walked), "{context}");
    painted.painted
}

#[test]
fn painting_agrees_with_walking_on_random_histories() {
    let mut painted = 0;
    for seed in 0..1000 {
        let h = random_history(seed);
        painted += paints_as_it_walks(&h, "add", &format!("seed {seed}")) as usize;
        painted +=
            paints_as_it_walks(&compacted(&h), "add", &format!("seed {seed}, sets")) as usize;
    }
    assert!(painted > 1900, "{painted}");
}

/// A broadcast-like history: `nodes` concurrent processes add 0, 1, 2, ... and read what their
/// node has seen, nodes learning of each value at random later times, sometimes forgetting
/// one, some reads failing; reads kept as sets or not.
fn spreading_history(seed: u64, nodes: usize, values: u64, as_sets: bool) -> History {
    use rand::{Rng as _, SeedableRng};
    let mut rng = crate::Rng::seed_from_u64(seed);
    // When each node learns of each value (ms), u64::MAX for never.
    let learns: Vec<Vec<u64>> = (0..nodes)
        .map(|_| {
            (0..values)
                .map(|v| {
                    if rng.gen_bool(0.01) {
                        u64::MAX
                    } else {
                        10 * v + rng.gen_range(0..200)
                    }
                })
                .collect()
        })
        .collect();
    let mut ops = Vec::new();
    let mut pending: Vec<Option<Op>> = vec![None; nodes];
    let mut next = 0u64;
    let mut time = 0u64;
    while next < values || pending.iter().any(Option::is_some) {
        time += rng.gen_range(0..4);
        let node = rng.gen_range(0..nodes);
        if let Some(mut done) = pending[node].take() {
            done.time = time * NANOS_PER_MS;
            ops.push(done);
            continue;
        }
        if next == values {
            continue; // winding down
        }
        pending[node] = Some(if rng.gen_bool(0.4) {
            ops.push(op(node as u64, OpType::Invoke, ADD, json!(next), time));
            next += 1;
            op(node as u64, OpType::Ok, ADD, json!(next - 1), 0)
        } else {
            ops.push(op(node as u64, OpType::Invoke, READ_F, Value::Null, time));
            if rng.gen_bool(0.05) {
                op(node as u64, OpType::Fail, READ_F, Value::Null, 0)
            } else {
                let seen: Vec<u64> = (0..values)
                    .filter(|&v| learns[node][v as usize] <= time && !rng.gen_bool(0.002))
                    .collect();
                op(node as u64, OpType::Ok, READ_F, json!(seen), 0)
            }
        });
    }
    let h = history(ops);
    if as_sets {
        compacted(&h)
    } else {
        h
    }
}

#[test]
fn painting_agrees_with_walking_on_spreading_histories() {
    for seed in 0..40 {
        let h = spreading_history(seed, 1 + seed as usize % 7, 50 + 10 * seed, seed % 2 == 0);
        assert!(paints_as_it_walks(&h, ADD, &format!("seed {seed}")));
    }
}

#[test]
fn sparse_or_non_integer_elements_are_walked() {
    let sparse = history([add(0, 1 << 20, 0, 1), read(1, json!([1 << 20]), 2, 3)].concat());
    assert!(!paints_as_it_walks(&sparse, ADD, "sparse"));
    let text = history(
        [
            vec![
                op(0, OpType::Invoke, ADD, json!("a"), 0),
                op(0, OpType::Ok, ADD, json!("a"), 1),
            ],
            read(1, json!(["a"]), 2, 3),
        ]
        .concat(),
    );
    assert!(!paints_as_it_walks(&text, ADD, "text"));
}
