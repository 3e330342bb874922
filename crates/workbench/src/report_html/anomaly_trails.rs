//! Trails of the transactional and kafka findings: each finding of the `workload` checker drawn
//! over its ops ([`opgraph`]) and told in steps, with the client messages of every op drawn.
//!
//! - txn (rw-register, list-append): a cycle (G0, G1c, G-single, G2-item and their -process /
//!   -realtime forms) as its transactions on their processes' lanes, an arrow per edge labelled
//!   with its kind (ww, wr, rw, process, realtime) and key; G1a, G1b, dirty-update as the write
//!   and the read that saw it; internal, garbage and the other one-transaction findings as the
//!   transaction itself.
//! - kafka: see [`super::kafka_trails`].
//!
//! The checkers' findings say which ops (for txn: `T<invocation index>`) and, in their
//! sentences, which edges; the trails read both from `results.json`, so an older stored run
//! gets them too.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::html::{escape, op_links_in, secs};
use super::opgraph::{self, Arrow, OpBox};
use super::stored::{OpMessages, StoredRun};
use super::trails::{msg_ref, process, Trail};
use crate::history::{OpType, Pair};

/// Findings that get a trail (`results.json` keeps a few examples per type anyway).
const MAX_TRAILS: usize = 40;
/// Characters of an op's value shown in its box.
const DETAIL_CHARS: usize = 44;

/// The history's ops by invocation index (and by completion index, which some findings name).
pub struct OpIndex<'a> {
    pub pairs: Vec<Pair<'a>>,
    at: HashMap<usize, usize>,
}

impl<'a> OpIndex<'a> {
    pub fn new(run: &'a StoredRun<'a>) -> OpIndex<'a> {
        let pairs = run.pairs();
        let mut at = HashMap::new();
        for (k, p) in pairs.iter().enumerate() {
            at.insert(p.invoke.index, k);
            if let Some(c) = p.completion {
                at.insert(c.index, k);
            }
        }
        OpIndex { pairs, at }
    }

    pub fn get(&self, index: usize) -> Option<&Pair<'a>> {
        self.at.get(&index).map(|&k| &self.pairs[k])
    }
}

/// Jepsen's words for an op's outcome.
pub fn outcome_word(p: &Pair<'_>) -> &'static str {
    match p.outcome() {
        OpType::Ok => "ok",
        OpType::Fail => "fail",
        _ => "info",
    }
}

/// A box for an op: `title`, the value as `detail` (cut), its time.
pub fn op_box(p: &Pair<'_>, title: String, detail: String, named: bool) -> OpBox {
    OpBox {
        op: p.invoke.index,
        process: process(p.invoke),
        invoked: p.invoke.time,
        outcome: p.outcome(),
        title,
        detail: cut(&detail, DETAIL_CHARS),
        named,
    }
}

pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// One `<li>` per op: what it was, and its messages in the journal (linked to the diagram).
/// Adds the messages to `msgs`.
pub fn ops_and_messages(
    run: &StoredRun<'_>,
    op_messages: &OpMessages,
    pairs: &[&Pair<'_>],
    msgs: &mut Vec<usize>,
) -> String {
    let mut s = String::from("<ul class=\"trail-ops\">");
    for p in pairs {
        let i = p.invoke.index;
        let done = p.completion;
        let _ = write!(
            s,
            "<li><a class=\"op\" href=\"#op-{i}\">op {i}</a>{}: process {}, <b>{}</b> {} → {} {}{}",
            done.map(|c| format!(" (completion op {})", c.index))
                .unwrap_or_default(),
            escape(&process(p.invoke)),
            escape(&p.invoke.f),
            escape(&cut(&p.invoke.value.to_string(), 120)),
            outcome_word(p),
            escape(&cut(
                &done.map(|c| c.value.to_string()).unwrap_or_default(),
                160
            )),
            match done {
                Some(c) => format!(
                    ", invoked {} completed {}",
                    secs(p.invoke.time),
                    secs(c.time)
                ),
                None => format!(", invoked {}, never completed", secs(p.invoke.time)),
            }
        );
        match op_messages.get(&i).filter(|m| !m.is_empty()) {
            Some(mine) if run.has_journal => {
                s.push_str(" · messages: ");
                let refs: Vec<String> = mine
                    .iter()
                    .map(|&m| {
                        let jm = &run.messages[m];
                        format!(
                            "{} {} → {} {}",
                            msg_ref(jm, m),
                            escape(&jm.src),
                            escape(&jm.dest),
                            escape(jm.kind())
                        )
                    })
                    .collect();
                s.push_str(&refs.join(", "));
                msgs.extend(mine);
            }
            _ if run.has_journal => s.push_str(" · no message of it in the journal"),
            _ => {}
        }
        s.push_str("</li>");
    }
    s.push_str("</ul>");
    s
}

/// Wraps a drawn trail.
pub fn trail_section(
    id: &str,
    headline: &str,
    svg: &str,
    body: &str,
    messages: Vec<usize>,
    ops: Vec<usize>,
    finding: String,
) -> Trail {
    let html = format!(
        "<details class=\"trail\" id=\"{id}\" open><summary>{headline}</summary>\
         <div class=\"opgraph-box\">{svg}</div>{body}\
         <p><a href=\"#{finding}\">↑ the finding</a>{}</p></details>",
        if messages.is_empty() {
            String::new()
        } else {
            format!(
                " <button class=\"show-trail\" data-trail=\"{id}\">Show its messages on the \
                 diagram</button>"
            )
        }
    );
    let mut messages = messages;
    messages.sort_unstable();
    messages.dedup();
    Trail {
        id: id.to_string(),
        html,
        messages,
        ops,
        value: None,
        finding: Some(finding),
    }
}

/// The trails of the `workload` checker's findings, for the txn and kafka workloads.
pub fn trails(run: &StoredRun<'_>, op_messages: &OpMessages) -> Vec<Trail> {
    let workload = run.results["test"]["workload"].as_str().unwrap_or("");
    let anomalies = run.results["workload"]["anomalies"]
        .as_array()
        .map_or(&[][..], |a| &a[..]);
    if anomalies.is_empty() || !(workload.starts_with("txn") || workload == "kafka") {
        return Vec::new();
    }
    let index = OpIndex::new(run);
    let mut out = Vec::new();
    for (i, a) in anomalies.iter().enumerate().take(MAX_TRAILS) {
        let finding = format!("finding-workload-{i}");
        let id = format!("trail-workload-{i}");
        let trail = if workload == "kafka" {
            super::kafka_trails::trail(run, op_messages, &index, a, &id, finding)
        } else {
            txn_trail(run, op_messages, &index, a, &id, finding)
        };
        out.extend(trail);
    }
    out
}

fn anomaly_ops(a: &Value) -> Vec<usize> {
    a["ops"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o.as_u64().map(|o| o as usize))
        .collect()
}

/// `T12` → 12.
fn txn_ids(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    for (i, _) in text.match_indices('T') {
        let boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        let digits: String = text[i + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if boundary && !digits.is_empty() {
            out.push(digits.parse().unwrap_or(usize::MAX));
        }
    }
    out
}

/// The key of a sentence (its first `k<n>`) with the values it names: `k10 14→16` when it
/// names two (`k10=14 ... k10=16`), `k10=14` when one, `k10` when none.
fn key_token(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut key: Option<&str> = None;
    let mut values: Vec<&str> = Vec::new();
    for (i, _) in text.match_indices('k') {
        let boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        let digits = text[i + 1..].bytes().take_while(u8::is_ascii_digit).count();
        if !boundary || digits == 0 {
            continue;
        }
        let end = i + 1 + digits;
        let this = &text[i..end];
        if key.is_some_and(|k| k != this) {
            continue;
        }
        key = Some(this);
        if let Some(v) = text[end..].strip_prefix('=') {
            let cut = v.find([',', ' ', ';']).unwrap_or(v.len());
            values.push(&v[..cut]);
        }
    }
    let key = key?;
    if values.is_empty() {
        // list-append: "appended 4 ...", "read k2 ending in 4 ...", "read k2 empty".
        let mut rest = text;
        while let Some(at) = ["appended ", "ending in "]
            .iter()
            .filter_map(|p| rest.find(p).map(|i| (i, p.len())))
            .min()
        {
            let v = &rest[at.0 + at.1..];
            let end = v.find([',', ' ', ';', ')']).unwrap_or(v.len());
            values.push(&v[..end]);
            rest = &v[end..];
        }
    }
    Some(match values[..] {
        [] => key.to_string(),
        [v] => format!("{key}={v}"),
        [a, b, ..] if a == b => format!("{key}={a}"),
        [a, b, ..] => format!("{key} {a}→{b}"),
    })
}

/// The edge kind a step of a cycle's sentence ends with: `(ww)`.
fn step_kind(step: &str) -> Option<&'static str> {
    let inner = step.trim_end().strip_suffix(')')?;
    let kind = &inner[inner.rfind('(')? + 1..];
    ["ww", "wr", "rw", "process", "realtime"]
        .into_iter()
        .find(|k| *k == kind)
}

/// The txn checker's name for a transaction: `T<completion index>` when it completed ok or
/// failed, `T<invocation index>` otherwise.
fn txn_id(p: &Pair<'_>) -> usize {
    p.completion
        .filter(|c| matches!(c.kind, OpType::Ok | OpType::Fail))
        .map_or(p.invoke.index, |c| c.index)
}

/// A transaction's box: `T<id>` and its micro-ops as completed (as invoked if it did not).
fn txn_box(p: &Pair<'_>, named: bool) -> OpBox {
    let value = p
        .completion
        .filter(|c| c.kind == OpType::Ok)
        .map_or(&p.invoke.value, |c| &c.value)
        .to_json();
    let micro: Vec<String> = value
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            m.as_array()
                .map(|parts| {
                    parts
                        .iter()
                        .map(|x| match x {
                            Value::String(s) => s.clone(),
                            Value::Null => "nil".into(),
                            other => other.to_string().replace(',', " "),
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_else(|| m.to_string())
        })
        .collect();
    op_box(
        p,
        format!(
            "T{} · {} at {}",
            txn_id(p),
            outcome_word(p),
            secs(p.invoke.time)
        ),
        micro.join(" · "),
        named,
    )
}

fn txn_trail(
    run: &StoredRun<'_>,
    op_messages: &OpMessages,
    index: &OpIndex<'_>,
    a: &Value,
    id: &str,
    finding: String,
) -> Option<Trail> {
    let kind = a["kind"].as_str().unwrap_or("anomaly");
    let message = a["message"].as_str().unwrap_or("");
    let ops = anomaly_ops(a);
    let txns: Vec<&Pair<'_>> = ops.iter().filter_map(|&o| index.get(o)).collect();
    if txns.is_empty() {
        return None;
    }
    let slot = |t: usize| txns.iter().position(|p| txn_id(p) == t);
    let mut boxes: Vec<OpBox> = txns.iter().map(|p| txn_box(p, true)).collect();
    let mut arrows = Vec::new();
    let mut steps_html = String::new();
    if let Some((_, steps)) = message.split_once(" transactions: ") {
        // A cycle: one edge per step, `T<from> ... T<to> ... (kind)`.
        steps_html.push_str("<ol class=\"steps\">");
        for step in steps.split("; ") {
            let ids = txn_ids(step);
            let kind = step_kind(step).unwrap_or("then");
            if let (Some(&f), Some(&t)) = (ids.first(), ids.get(1)) {
                if let (Some(from), Some(to)) = (slot(f), slot(t)) {
                    let key = if kind == "process" || kind == "realtime" {
                        String::new()
                    } else {
                        key_token(step).map(|k| format!(" {k}")).unwrap_or_default()
                    };
                    arrows.push(Arrow {
                        from,
                        to,
                        label: format!("{kind}{key}"),
                        title: step.to_string(),
                        kind,
                    });
                }
            }
            let _ = write!(
                steps_html,
                "<li>{}</li>",
                t_links(&op_links_in(&escape(step)))
            );
        }
        steps_html.push_str("</ol>");
    } else if txns.len() == 2 {
        // The write (or append) and the read that saw it.
        let label = key_token(message).unwrap_or_default();
        arrows.push(Arrow {
            from: 0,
            to: 1,
            label: format!("wr {label}"),
            title: message.to_string(),
            kind: "wr",
        });
    }
    if let Some(b) = boxes.first_mut().filter(|_| txns.len() == 1) {
        b.named = true;
    }
    let svg = opgraph::render(id, &boxes, &arrows);
    let mut msgs = Vec::new();
    let listing = ops_and_messages(run, op_messages, &txns, &mut msgs);
    let body = format!(
        "<p class=\"said\">{}</p>{steps_html}<p>The transactions and their messages:</p>{listing}",
        t_links(&op_links_in(&escape(message)))
    );
    let headline = format!(
        "<b>Trail of {}</b>: {} transaction{} ({})",
        escape(kind),
        txns.len(),
        if txns.len() == 1 { "" } else { "s" },
        txns.iter()
            .map(|p| format!("T{}", txn_id(p)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Some(trail_section(
        id,
        &headline,
        &svg,
        &body,
        msgs,
        txns.iter().map(|p| p.invoke.index).collect(),
        finding,
    ))
}

/// Turns every `T<n>` in (already escaped) text into a link to op n.
pub fn t_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('T') {
        let before = if at > 0 {
            rest.as_bytes()[at - 1] as char
        } else {
            out.chars().last().unwrap_or(' ')
        };
        let boundary = !before.is_ascii_alphanumeric();
        let digits = rest[at + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        out.push_str(&rest[..at]);
        if boundary && digits > 0 {
            let n = &rest[at + 1..at + 1 + digits];
            let _ = write!(out, "<a class=\"op\" href=\"#op-{n}\">T{n}</a>");
            rest = &rest[at + 1 + digits..];
        } else {
            out.push('T');
            rest = &rest[at + 1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_cycle_step() {
        let step = "T109 wrote k10=16, T105 wrote k10=14, a later version (ww)";
        assert_eq!(txn_ids(step), vec![109, 105]);
        assert_eq!(step_kind(step), Some("ww"));
        assert_eq!(key_token(step).as_deref(), Some("k10 16→14"));
        assert_eq!(
            key_token("T1 wrote k3=5, T2 read k3=5 (wr)").as_deref(),
            Some("k3=5")
        );
        assert_eq!(key_token("T2 read k3=nil (x)").as_deref(), Some("k3=nil"));
        assert_eq!(
            key_token("T3 appended 4 to k2, T5 appended 6 right after (ww)").as_deref(),
            Some("k2 4→6")
        );
        assert_eq!(
            key_token("T3 read k2 ending in 4, T5 appended 6 after that (rw)").as_deref(),
            Some("k2 4→6")
        );
        assert_eq!(
            step_kind("T1 then T3 on process 0 (process)"),
            Some("process")
        );
        assert_eq!(
            t_links("T12 then T3; OT4"),
            "<a class=\"op\" href=\"#op-12\">T12</a> then <a class=\"op\" href=\"#op-3\">T3</a>; OT4"
        );
    }
}
