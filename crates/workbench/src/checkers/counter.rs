//! Maelstrom's counter checker (g-counter, pn-counter): every ok final read must be a value the
//! counter could have: the sum of the acknowledged adds plus the deltas of any subset of the
//! indeterminate ones (info, or never completed). Reads before the final phase are not checked:
//! an eventually consistent counter may lag while adds are still arriving.

use serde_json::{json, Value};

use super::{CheckResult, Validity};
use crate::history::{History, OpType, OpValue, Pair, Process};

/// A set of integers as sorted, disjoint, non-adjacent closed ranges `[lo, hi]`.
///
/// Maelstrom keeps the acceptable values in a Guava range set (integer ranges stored as open
/// intervals so that neighbours merge); this is the same set of integers, computed exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeSet {
    ranges: Vec<(i64, i64)>,
}

impl RangeSet {
    pub fn single(value: i64) -> RangeSet {
        RangeSet {
            ranges: vec![(value, value)],
        }
    }

    /// Makes the set `S ∪ (S + delta)`: every value reachable so far, with or without one more
    /// possible add. Applied once per indeterminate add, this is the subset-sum closure. The set
    /// stays a handful of ranges, since small deltas quickly fill the gaps between sums.
    pub fn with_optional(&mut self, delta: i64) {
        if delta == 0 {
            return;
        }
        let shifted = self
            .ranges
            .iter()
            .map(|&(lo, hi)| (lo.saturating_add(delta), hi.saturating_add(delta)));
        let mut all: Vec<(i64, i64)> = self.ranges.iter().copied().chain(shifted).collect();
        all.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(all.len());
        for (lo, hi) in all {
            match merged.last_mut() {
                // Overlapping or adjacent ([1, 2] and [3, 4] are the integers 1..=4).
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        self.ranges = merged;
    }

    pub fn contains(&self, value: i64) -> bool {
        // The first range whose upper end reaches `value` is the only candidate.
        let i = self.ranges.partition_point(|&(_, hi)| hi < value);
        self.ranges.get(i).is_some_and(|&(lo, _)| lo <= value)
    }

    pub fn ranges(&self) -> &[(i64, i64)] {
        &self.ranges
    }

    /// `[[lo, hi], ...]`, as Maelstrom's `:acceptable`.
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.ranges
                .iter()
                .map(|&(lo, hi)| json!([lo, hi]))
                .collect(),
        )
    }
}

pub fn check_counter(history: &History) -> CheckResult {
    let mut result = CheckResult::new(Validity::Valid);
    let mut definite_sum: i64 = 0;
    let mut possible: Vec<i64> = Vec::new();
    let mut final_reads: Vec<(Pair<'_>, &OpValue)> = Vec::new();

    for pair in history.pairs() {
        let invoke = pair.invoke;
        match invoke.f.as_str() {
            "add" => {
                // The delta is the invocation's value; an info completion may not repeat it.
                let Some(delta) = invoke.value.as_i64() else {
                    result.valid = result.valid.worst(Validity::Unknown);
                    result.anomaly(
                        "non-integer-delta",
                        format!(
                            "add op {} has delta {}, not an integer, so the acceptable values \
                             cannot be computed",
                            invoke.index, invoke.value
                        ),
                        vec![invoke.index],
                    );
                    continue;
                };
                match pair.outcome() {
                    OpType::Ok => definite_sum = definite_sum.saturating_add(delta),
                    OpType::Info | OpType::Invoke => possible.push(delta),
                    OpType::Fail => {}
                }
            }
            "read" => {
                let is_final = invoke.is_final || pair.completion.is_some_and(|c| c.is_final);
                if let Some(done) = pair.completion {
                    if is_final && done.kind == OpType::Ok {
                        final_reads.push((pair, &done.value));
                    }
                }
            }
            _ => {}
        }
    }

    let mut acceptable = RangeSet::single(definite_sum);
    for &delta in &possible {
        acceptable.with_optional(delta);
    }

    let mut errors = Vec::new();
    for (pair, value) in &final_reads {
        let done = pair.completion.expect("final reads are completed");
        let who = process_name(done.process);
        let Some(n) = value.as_i64() else {
            // Maelstrom asserts integer reads (its client coerces them); its checker would
            // crash, which Jepsen reports as unknown.
            result.valid = result.valid.worst(Validity::Unknown);
            result.anomaly(
                "non-integer-read",
                format!(
                    "{who}'s final read (op {}) returned {value}, not an integer",
                    done.index
                ),
                vec![pair.invoke.index, done.index],
            );
            continue;
        };
        if !acceptable.contains(n) {
            result.valid = Validity::Invalid;
            errors.push(json!({"op": done.index, "process": done.process, "value": n}));
            result.anomaly(
                "wrong-final-read",
                format!(
                    "{who}'s final read (op {}) returned {n}, but the counter can only be in {}: \
                     the sum of the acknowledged adds ({definite_sum}) plus any of the {} \
                     indeterminate ones; after the recovery wait every node must have learned \
                     every acknowledged add, and no add twice",
                    done.index,
                    acceptable.to_json(),
                    possible.len()
                ),
                vec![pair.invoke.index, done.index],
            );
        }
    }

    if final_reads.is_empty() {
        warn_no_final_read(history, &mut result);
    }

    result.set("acceptable", acceptable.to_json());
    result.set(
        "final_reads",
        final_reads
            .iter()
            .map(|(_, v)| v.to_json().into_owned())
            .collect::<Vec<_>>(),
    );
    result.set("errors", errors);
    result
}

/// How many impossible reads a warning names one by one.
const SHOWN_IMPOSSIBLE: usize = 5;

/// No final read succeeded, so the checker saw nothing (Maelstrom then passes the run, and so
/// does glomers). The verdict stays, but the result says so in `warnings` and in an anomaly the
/// summary prints, naming the reads during the run that no set of adds could explain.
fn warn_no_final_read(history: &History, result: &mut CheckResult) {
    let impossible = impossible_reads(history);
    let mut warning = String::from(
        "warning (the verdict is Maelstrom's, which checks final reads only): no final read \
         succeeded, so the counter's value was never checked",
    );
    if impossible.is_empty() {
        warning.push_str("; no read during the run was impossible");
    } else {
        let shown: Vec<String> = impossible
            .iter()
            .take(SHOWN_IMPOSSIBLE)
            .map(|r| {
                format!(
                    "op {} ({}) read {} when the adds invoked so far could only sum to {}",
                    r.index,
                    process_name(r.process),
                    r.value,
                    r.reachable
                )
            })
            .collect();
        let more = impossible.len().saturating_sub(SHOWN_IMPOSSIBLE);
        warning.push_str(&format!(
            "; {} read{} during the run {} impossible: {}{}",
            impossible.len(),
            if impossible.len() == 1 { "" } else { "s" },
            if impossible.len() == 1 { "was" } else { "were" },
            shown.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        ));
    }
    let ops = impossible.iter().map(|r| r.index).collect();
    result.anomaly("no-final-read", warning.clone(), ops);
    result.set("warnings", [warning]);
    result.set(
        "impossible_reads",
        impossible
            .iter()
            .map(|r| json!({"op": r.index, "process": r.process, "value": r.value}))
            .collect::<Vec<_>>(),
    );
}

/// An ok read whose value no subset of the adds invoked before it completed sums to.
struct ImpossibleRead {
    index: usize,
    process: Process,
    value: Value,
    /// The values it could have had, as `[[lo, hi], ...]`.
    reachable: Value,
}

/// Every ok read (final or not) that no subset of the adds invoked before its completion can
/// explain, or that is not an integer. Failed adds are counted as possible too (at the read,
/// an add's failure may not be known yet), so the list errs on the side of naming fewer reads.
fn impossible_reads(history: &History) -> Vec<ImpossibleRead> {
    let mut reachable = RangeSet::single(0);
    let mut found = Vec::new();
    for op in history.client_ops() {
        match (op.f.as_str(), op.kind) {
            ("add", OpType::Invoke) => {
                if let Some(delta) = op.value.as_i64() {
                    reachable.with_optional(delta);
                }
            }
            ("read", OpType::Ok) if !op.value.as_i64().is_some_and(|n| reachable.contains(n)) => {
                found.push(ImpossibleRead {
                    index: op.index,
                    process: op.process,
                    value: op.value.to_json().into_owned(),
                    reachable: reachable.to_json(),
                });
            }
            _ => {}
        }
    }
    found
}

fn process_name(process: Process) -> String {
    match process {
        Process::Client(p) => format!("process {p}"),
        Process::Nemesis(_) => "the nemesis".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::build::{history, op};
    use crate::history::Op;

    fn final_op(mut o: Op) -> Op {
        o.is_final = true;
        o
    }

    /// An add by `p` with `outcome` (None: never completes).
    fn add(p: u64, delta: i64, outcome: Option<OpType>, t: u64) -> Vec<Op> {
        let mut ops = vec![op(p, OpType::Invoke, "add", json!(delta), t)];
        match outcome {
            Some(OpType::Ok) => ops.push(op(p, OpType::Ok, "add", json!(delta), t + 1)),
            // Info and fail completions carry no value here, as a timeout's may not.
            Some(kind) => ops.push(op(p, kind, "add", Value::Null, t + 1)),
            None => {}
        }
        ops
    }

    fn final_read(p: u64, value: i64, t: u64) -> Vec<Op> {
        vec![
            final_op(op(p, OpType::Invoke, "read", Value::Null, t)),
            final_op(op(p, OpType::Ok, "read", json!(value), t + 1)),
        ]
    }

    fn read(p: u64, value: i64, t: u64) -> Vec<Op> {
        vec![
            op(p, OpType::Invoke, "read", Value::Null, t),
            op(p, OpType::Ok, "read", json!(value), t + 1),
        ]
    }

    fn build(parts: Vec<Vec<Op>>) -> History {
        history(parts.into_iter().flatten().collect())
    }

    #[test]
    fn a_correct_history_is_valid() {
        let h = build(vec![
            add(0, 3, Some(OpType::Ok), 0),
            read(1, 0, 0), // stale, but not final: not checked
            add(1, 2, Some(OpType::Ok), 5),
            add(0, 4, Some(OpType::Fail), 10),
            final_read(0, 5, 100),
            final_read(1, 5, 100),
        ]);
        let r = check_counter(&h);
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
        assert_eq!(r.figures["acceptable"], json!([[5, 5]]));
        assert_eq!(r.figures["final_reads"], json!([5, 5]));
        assert_eq!(r.figures["errors"], json!([]));
    }

    #[test]
    fn a_lost_increment_is_caught() {
        let h = build(vec![
            add(0, 3, Some(OpType::Ok), 0),
            add(1, 2, Some(OpType::Ok), 5),
            final_read(0, 5, 100),
            final_read(1, 3, 100),
        ]);
        let r = check_counter(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(
            r.figures["errors"],
            json!([{"op": 7, "process": 1, "value": 3}])
        );
        assert_eq!(r.anomalies.len(), 1);
        assert_eq!(r.anomalies[0].kind, "wrong-final-read");
        assert_eq!(r.anomalies[0].ops, vec![6, 7]);
        assert!(r.anomalies[0].message.contains("process 1"));
        assert!(r.anomalies[0].message.contains("[[5,5]]"));
    }

    #[test]
    fn info_adds_make_a_range() {
        let h = build(vec![
            add(0, 1, Some(OpType::Ok), 0),
            add(1, 1, Some(OpType::Info), 0),
            add(2, 2, None, 0), // never completed: indeterminate too
            add(3, 10, Some(OpType::Info), 0),
            final_read(4, 4, 100),
            final_read(5, 11, 100),
        ]);
        let r = check_counter(&h);
        // 1 + any subset of {1, 2, 10}: 1..=4 and 11..=14.
        assert_eq!(r.figures["acceptable"], json!([[1, 4], [11, 14]]));
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);

        let h = build(vec![
            add(0, 1, Some(OpType::Ok), 0),
            add(3, 10, Some(OpType::Info), 0),
            final_read(4, 6, 100),
        ]);
        let r = check_counter(&h);
        assert_eq!(r.figures["acceptable"], json!([[1, 1], [11, 11]]));
        assert_eq!(r.valid, Validity::Invalid);
    }

    #[test]
    fn pn_counter_negative_deltas() {
        let h = build(vec![
            add(0, 4, Some(OpType::Ok), 0),
            add(1, -5, Some(OpType::Ok), 0),
            add(2, -3, Some(OpType::Info), 0),
            add(0, 2, Some(OpType::Info), 10),
            final_read(0, -4, 100),
            final_read(1, -1, 100),
            final_read(2, 1, 100),
        ]);
        let r = check_counter(&h);
        // -1 + subsets of {-3, 2}: -4, -2, -1, 1.
        assert_eq!(r.figures["acceptable"], json!([[-4, -4], [-2, -1], [1, 1]]));
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);

        let h = build(vec![
            add(1, -5, Some(OpType::Ok), 0),
            add(2, -3, Some(OpType::Info), 0),
            final_read(2, -3, 100),
        ]);
        let r = check_counter(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.figures["errors"][0]["value"], json!(-3));
    }

    #[test]
    fn no_final_reads_is_valid() {
        let h = build(vec![
            add(0, 3, Some(OpType::Ok), 0),
            read(1, 1, 5),
            vec![
                final_op(op(0, OpType::Invoke, "read", Value::Null, 100)),
                final_op(op(0, OpType::Info, "read", Value::Null, 200)),
            ],
        ]);
        let r = check_counter(&h);
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.figures["final_reads"], json!([]));
        assert_eq!(r.figures["acceptable"], json!([[3, 3]]));
        // ...with a warning that nothing was checked.
        assert_eq!(r.anomalies[0].kind, "no-final-read");
        // (1 is no sum of {3}.)
        assert!(r.anomalies[0]
            .message
            .contains("1 read during the run was impossible"));
    }

    #[test]
    fn no_final_reads_warns_naming_the_impossible_reads() {
        let failed_final_read = vec![
            final_op(op(0, OpType::Invoke, "read", Value::Null, 100)),
            final_op(op(0, OpType::Info, "read", Value::Null, 200)),
        ];
        let h = build(vec![
            add(0, 3, Some(OpType::Ok), 0),
            read(1, 3, 5),
            read(1, 50, 10), // only 3 was ever added
            read(2, -1, 20), // a g-counter never goes below 0
            add(0, 2, Some(OpType::Info), 30),
            read(1, 5, 40),
            failed_final_read,
        ]);
        let r = check_counter(&h);
        // Faithful to Maelstrom: valid...
        assert_eq!(r.valid, Validity::Valid);
        // ...but the result names what it saw.
        assert_eq!(r.anomalies.len(), 1);
        let warning = &r.anomalies[0];
        assert_eq!(warning.kind, "no-final-read");
        assert!(warning
            .message
            .contains("2 reads during the run were impossible"));
        assert!(
            warning.message.contains("op 5 (process 1) read 50"),
            "{}",
            warning.message
        );
        assert!(
            warning.message.contains("[[0,0],[3,3]]"),
            "{}",
            warning.message
        );
        assert!(warning.message.contains("op 7 (process 2) read -1"));
        assert_eq!(warning.ops, vec![5, 7]);
        assert_eq!(r.figures["warnings"][0], json!(warning.message));
        assert_eq!(r.figures["impossible_reads"][0]["value"], json!(50));
    }

    #[test]
    fn range_set_merges_adjacent_and_overlapping_ranges() {
        let mut s = RangeSet::single(0);
        for _ in 0..3 {
            s.with_optional(1);
        }
        assert_eq!(s.ranges(), &[(0, 3)]);
        s.with_optional(10);
        assert_eq!(s.ranges(), &[(0, 3), (10, 13)]);
        s.with_optional(-7);
        assert_eq!(s.ranges(), &[(-7, -4), (0, 6), (10, 13)]);
        assert!(s.contains(-7) && s.contains(6) && s.contains(13));
        assert!(!s.contains(-8) && !s.contains(7) && !s.contains(14) && !s.contains(-1));
    }

    #[test]
    fn many_info_adds_stay_exact_and_cheap() {
        let mut parts = Vec::new();
        for i in 0..5_000u64 {
            parts.push(add(i, (i % 10) as i64 - 5, Some(OpType::Info), 0));
        }
        let r = check_counter(&build(parts));
        // Sum of negatives: 500 * (-15) = -7500; of positives: 500 * 10 = 5000.
        assert_eq!(r.figures["acceptable"], json!([[-7500, 5000]]));
    }
}
