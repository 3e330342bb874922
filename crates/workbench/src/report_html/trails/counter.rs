//! The trail of a wrong final read of a counter: the acknowledged adds, per node that took
//! them, the gap between their sum and the read, and the adds that alone or together (the
//! latest ones) make up exactly that gap.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::super::html::escape;
use super::super::stored::{OpMessages, StoredRun};
use super::{Context, Trail, MAX_READS};
use crate::history::{OpType, Pair};

pub(super) fn counter_trails(run: &StoredRun<'_>, op_messages: &OpMessages) -> Vec<Trail> {
    let cx = Context {
        run,
        op_messages,
        pairs: run.pairs(),
    };
    let acked: Vec<(&Pair<'_>, i64)> = cx
        .pairs
        .iter()
        .filter(|p| p.invoke.f == "add" && p.outcome() == OpType::Ok)
        .filter_map(|p| p.invoke.value.as_i64().map(|d| (p, d)))
        .collect();
    let sum: i64 = acked.iter().map(|(_, d)| d).sum();
    let indeterminate = cx
        .pairs
        .iter()
        .filter(|p| p.invoke.f == "add" && matches!(p.outcome(), OpType::Info | OpType::Invoke))
        .count();
    let errors: Vec<usize> = run.results["workload"]["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["op"].as_u64().map(|o| o as usize))
        .collect();
    let mut out = Vec::new();
    for done_index in errors {
        let Some(read) = cx
            .pairs
            .iter()
            .find(|p| p.completion.is_some_and(|c| c.index == done_index))
        else {
            continue;
        };
        let Some(got) = read.completion.and_then(|c| c.value.as_i64()) else {
            continue;
        };
        let id = format!("trail-read-{}", read.invoke.index);
        let mut html = String::new();
        let mut msgs: Vec<usize> = op_messages
            .get(&read.invoke.index)
            .cloned()
            .unwrap_or_default();
        let gap = sum - got;
        let _ = write!(
            html,
            "<details class=\"trail\" id=\"{id}\" open><summary><b>Trail of the final read {}</b></summary>\
             <ol class=\"steps\">\
             <li>The read: {} returned <b>{got}</b>.</li>\
             <li>{} acknowledged add{} sum to <b>{sum}</b>{}: the read is {} by <b>{}</b>.</li>",
            read.invoke.index,
            cx.op_line(read),
            acked.len(),
            if acked.len() == 1 { "" } else { "s" },
            if indeterminate > 0 {
                format!(" ({indeterminate} indeterminate adds may add to it)")
            } else {
                String::new()
            },
            if gap > 0 { "short" } else { "over" },
            gap.abs()
        );
        // Per node that took them.
        let mut per_node: BTreeMap<String, (usize, i64)> = BTreeMap::new();
        for (p, d) in &acked {
            let n = cx.node_of(p.invoke.index).unwrap_or_else(|| "?".into());
            let e = per_node.entry(n).or_default();
            e.0 += 1;
            e.1 += d;
        }
        html.push_str("<li>Acknowledged adds by the node that took them: ");
        let parts: Vec<String> = per_node
            .iter()
            .map(|(n, (count, s))| format!("{} took {count} (sum {s})", escape(n)))
            .collect();
        html.push_str(&parts.join(", "));
        html.push_str("</li>");
        if gap > 0 {
            let singles: Vec<&(&Pair<'_>, i64)> = acked
                .iter()
                .filter(|(_, d)| *d == gap)
                .take(MAX_READS)
                .collect();
            if !singles.is_empty() {
                html.push_str(
                    "<li>Adds whose delta alone is the gap (any could be the one missed):<ul>",
                );
                for (p, _) in &singles {
                    msgs.extend(op_messages.get(&p.invoke.index).into_iter().flatten());
                    let _ = write!(html, "<li>{}</li>", cx.op_line(p));
                }
                html.push_str("</ul></li>");
            }
            // The latest adds that make up the gap exactly.
            let mut total = 0;
            let mut latest = Vec::new();
            for (p, d) in acked.iter().rev() {
                total += d;
                latest.push(*p);
                if total >= gap {
                    break;
                }
            }
            if total == gap && latest.len() <= 20 {
                let _ = write!(
                    html,
                    "<li>The last {} acknowledged add{} sum to exactly the gap: a read that missed \
                     {} would give this value:<ul>",
                    latest.len(),
                    if latest.len() == 1 { "" } else { "s" },
                    if latest.len() == 1 { "it" } else { "them" }
                );
                for p in latest.iter().rev() {
                    msgs.extend(op_messages.get(&p.invoke.index).into_iter().flatten());
                    let _ = write!(html, "<li class=\"missed-add\">{}</li>", cx.op_line(p));
                }
                html.push_str("</ul></li>");
            }
        }
        let _ = write!(
            html,
            "</ol><button class=\"show-trail\" data-trail=\"{id}\">Show on the diagram</button>\
             </details>"
        );
        msgs.sort_unstable();
        msgs.dedup();
        out.push(Trail {
            id,
            html,
            messages: msgs,
            ops: vec![read.invoke.index, done_index],
            value: None,
            finding: None,
        });
    }
    out
}
