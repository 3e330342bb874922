//! Jepsen's stats checker: counts of ok / fail / info ops overall and per `f`; invalid when
//! some `f` never succeeded.

use serde::Serialize;
use serde_json::{Map, Value};

use super::op_summary::{FSummary, OpSummary};
use super::{CheckResult, Validity};
use crate::history::{History, OpType};

/// Functions Maelstrom leaves out of the "every f must succeed once" rule (kafka's).
const IGNORED_FS: &[&str] = &["crash", "debug-topic-partitions"];

#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub count: usize,
    pub ok_count: usize,
    pub fail_count: usize,
    pub info_count: usize,
}

impl Counts {
    pub(crate) fn add(&mut self, kind: OpType) {
        self.count += 1;
        match kind {
            OpType::Ok => self.ok_count += 1,
            OpType::Fail => self.fail_count += 1,
            OpType::Info | OpType::Invoke => self.info_count += 1,
        }
    }
}

/// Counts completions (an invocation that never completed counts as info).
pub fn check_stats(history: &History) -> CheckResult {
    stats_of(&OpSummary::of(history))
}

/// [`check_stats`] from a summary already made.
pub fn stats_of(summary: &OpSummary<'_>) -> CheckResult {
    let mut result = CheckResult::new(Validity::Valid);
    for FSummary { f, counts, .. } in &summary.by_f {
        if counts.ok_count == 0 && !IGNORED_FS.contains(f) {
            result.valid = Validity::Invalid;
            result.anomaly(
                "no-ok-op",
                format!(
                    "no {f} op succeeded ({} attempted, {} failed, {} indeterminate)",
                    counts.count, counts.fail_count, counts.info_count
                ),
                Vec::new(),
            );
        }
    }
    let total = summary.total;
    result.set("count", total.count);
    result.set("ok_count", total.ok_count);
    result.set("fail_count", total.fail_count);
    result.set("info_count", total.info_count);
    // `by_f` is sorted by f: a map written in that order.
    let by_f: Map<String, Value> = summary
        .by_f
        .iter()
        .map(|s| {
            let counts = serde_json::to_value(s.counts).expect("counts serialize");
            (s.f.to_string(), counts)
        })
        .collect();
    result.set("by_f", by_f);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::build::{history, op};
    use serde_json::json;

    #[test]
    fn counts_and_requires_an_ok_per_f() {
        let h = history(vec![
            op(0, OpType::Invoke, "read", Value::Null, 0),
            op(0, OpType::Ok, "read", json!([]), 1),
            op(1, OpType::Invoke, "broadcast", json!(1), 0),
            op(1, OpType::Info, "broadcast", json!(1), 1),
            op(2, OpType::Invoke, "broadcast", json!(2), 2),
        ]);
        let r = check_stats(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.figures["count"], json!(3));
        assert_eq!(r.figures["info_count"], json!(2));
        assert_eq!(r.figures["by_f"]["read"]["ok_count"], json!(1));
        assert!(r.anomalies[0].message.contains("broadcast"));
    }

    #[test]
    fn all_fs_succeeding_is_valid() {
        let h = history(vec![
            op(0, OpType::Invoke, "read", Value::Null, 0),
            op(0, OpType::Ok, "read", json!([]), 1),
        ]);
        assert_eq!(check_stats(&h).valid, Validity::Valid);
    }
}
