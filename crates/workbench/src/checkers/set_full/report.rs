//! The checker's result: Jepsen's figures under snake_case keys, and an anomaly per lost
//! element (the first few; the rest summed up in one).

use std::cmp::Reverse;

use serde_json::{json, Map, Value};

use super::analysis::{Analysis, ElementResult, Outcome};
use super::{SHOWN_LOST, WORST_STALE};
use crate::checkers::{quantiles, CheckResult, Validity};
use crate::history::Nanos;

/// Builds the result: Jepsen's figures, under snake_case keys, and one anomaly per lost element.
pub(super) fn report(analysis: &Analysis, outcomes: &[ElementResult], add_f: &str) -> CheckResult {
    let value_of = |r: &ElementResult| analysis.elements[r.slot].value.clone();
    let stable: Vec<&ElementResult> = outcomes
        .iter()
        .filter(|r| r.outcome == Outcome::Stable)
        .collect();
    let lost: Vec<&ElementResult> = outcomes
        .iter()
        .filter(|r| r.outcome == Outcome::Lost)
        .collect();
    let never_read: Vec<&ElementResult> = outcomes
        .iter()
        .filter(|r| r.outcome == Outcome::NeverRead)
        .collect();
    let stale: Vec<&ElementResult> = stable
        .iter()
        .copied()
        .filter(|r| r.stable_latency.unwrap_or(0) > 0)
        .collect();
    // Highest latency first; among equals, the higher element first (Jepsen reverses a stable
    // ascending sort of the value-ordered elements).
    let mut worst = stale.clone();
    worst.reverse();
    worst.sort_by_key(|r| Reverse(r.stable_latency));
    let worst_stale: Vec<Value> = worst
        .iter()
        .take(WORST_STALE)
        .map(|r| {
            let element = &analysis.elements[r.slot];
            json!({
                "element": element.value,
                "stable_latency": r.stable_latency,
                "known": r.known.map(|k| k.index),
                "last_absent": r.last_absent.map(|a| analysis.reads[a as usize].invoke_index),
            })
        })
        .collect();

    let valid = if !lost.is_empty() {
        Validity::Invalid
    } else if stable.is_empty() {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    let mut result = CheckResult::new(valid);
    result.set("attempt_count", outcomes.len());
    result.set("stable_count", stable.len());
    result.set("lost_count", lost.len());
    result.set("lost", lost.iter().map(|r| value_of(r)).collect::<Vec<_>>());
    result.set("never_read_count", never_read.len());
    result.set(
        "never_read",
        never_read.iter().map(|r| value_of(r)).collect::<Vec<_>>(),
    );
    result.set("stale_count", stale.len());
    result.set(
        "stale",
        stale.iter().map(|r| value_of(r)).collect::<Vec<_>>(),
    );
    result.set("worst_stale", worst_stale);
    let mut stable_latencies: Vec<u64> = outcomes.iter().filter_map(|r| r.stable_latency).collect();
    if !stable_latencies.is_empty() {
        result.set("stable_latencies", quantiles(&mut stable_latencies, 1));
    }
    let mut lost_latencies: Vec<u64> = outcomes.iter().filter_map(|r| r.lost_latency).collect();
    if !lost_latencies.is_empty() {
        result.set("lost_latencies", quantiles(&mut lost_latencies, 1));
    }
    // Jepsen's duplicate detection keeps counts below 1, which never happens: it never flags
    // anything, so neither do we (a read returning an element twice counts once above).
    result.set("duplicated_count", 0);
    result.set("duplicated", Map::new());

    for r in lost.iter().take(SHOWN_LOST) {
        let (message, ops) = describe_lost(analysis, r, add_f);
        result.anomaly("lost", message, ops);
    }
    if lost.len() > SHOWN_LOST {
        result.anomaly(
            "lost",
            format!(
                "{} more elements were lost the same way; `lost` lists them all",
                lost.len() - SHOWN_LOST
            ),
            Vec::new(),
        );
    }
    if valid == Validity::Unknown {
        let message = if outcomes.is_empty() {
            format!("no `{add_f}` was ever invoked, so there is nothing to check")
        } else if analysis.ok_reads.is_empty() {
            format!(
                "{} elements were added but no read succeeded, so none can be shown to have \
                 survived: make `read` answer `read_ok`",
                outcomes.len()
            )
        } else {
            format!(
                "none of the {} added elements was returned by a read invoked after the last \
                 read that missed it, so none is known to have survived",
                outcomes.len()
            )
        };
        result.anomaly("nothing-stable", message, Vec::new());
    }
    result
}

fn describe_lost(analysis: &Analysis, r: &ElementResult, add_f: &str) -> (String, Vec<usize>) {
    let element = &analysis.elements[r.slot];
    let known = r.known.expect("a lost element is known");
    let absent = r
        .last_absent
        .expect("a lost element has a last absent read");
    let absent = analysis.reads[absent as usize];
    let how_known = if known.by_add {
        format!(
            "was acknowledged at {} (`{add_f}` ok, op {})",
            secs(known.time),
            known.index
        )
    } else {
        format!(
            "was first returned by a read that completed at {} (op {})",
            secs(known.time),
            known.index
        )
    };
    let seen = match r.last_present {
        Some(p) => {
            let present = analysis.reads[p as usize];
            format!(
                "; the last read that returned it was invoked at {} (op {})",
                secs(present.invoke_time),
                present.invoke_index
            )
        }
        None => "; no read ever returned it".to_string(),
    };
    let message = format!(
        "element {} {how_known}, but the last read, invoked later at {} (op {}), did not \
         return it{seen}: the node that served that read never got it or dropped it, and every \
         acknowledged element must reach, and stay on, every node",
        element.value,
        secs(absent.invoke_time),
        absent.invoke_index,
    );
    let mut ops = vec![element.add_invoke, known.index, absent.invoke_index];
    if let Some(p) = r.last_present {
        ops.push(analysis.reads[p as usize].invoke_index);
    }
    ops.sort_unstable();
    ops.dedup();
    (message, ops)
}

fn secs(time: Nanos) -> String {
    format!("{:.3} s", time as f64 / 1e9)
}
