//! The trail of a kafka finding: the key's log around the offsets it names (which message each
//! offset holds, as sends and polls tell, and which no poll ever returned), the ops drawn over
//! their processes (the ops it names, the sends that wrote those offsets, and for a lost or
//! unseen write the polls that read past it), an arrow from each such send to each drawn poll
//! that read its offset or skipped it, and every op's client messages; for a lost or unseen
//! write also the server messages that carried the message, as far as the journal tells.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

use super::anomaly_trails::{op_box, ops_and_messages, trail_section, OpIndex};
use super::html::{escape, op_links_in, secs};
use super::opgraph::{self, Arrow, OpBox};
use super::stored::{OpMessages, StoredRun};
use super::trails::{msg_ref, Trail};
use crate::history::{OpType, Pair};

/// Offsets shown around the finding's in the key's log.
const LOG_MARGIN: i64 = 2;
const LOG_CELLS: usize = 24;
/// Context ops drawn beside the ones the finding names.
const MAX_SENDS: usize = 6;
const MAX_POLLS: usize = 4;
const MAX_CARRIERS: usize = 60;

/// What an op did on one key.
#[derive(Default)]
struct OnKey {
    /// An ok send: (offset, message).
    sent: Option<(i64, i64)>,
    /// A send's message, acknowledged or not.
    sending: Option<i64>,
    /// An ok poll: the (offset, message) pairs of the key, as returned.
    polled: Option<Vec<(i64, i64)>>,
    /// An assign: whether it holds the key, and what it said was committed.
    assigned: Option<(bool, Option<i64>)>,
}

fn on_key(p: &Pair<'_>, key: &str) -> OnKey {
    let mut out = OnKey::default();
    let ok = p.completion.filter(|c| c.kind == OpType::Ok);
    let value = ok.map_or(&p.invoke.value, |c| &c.value).to_json();
    match p.invoke.f.as_str() {
        "send" => {
            for m in value.as_array().into_iter().flatten() {
                if m[1].as_str() != Some(key) {
                    continue;
                }
                match &m[2] {
                    Value::Array(om) if ok.is_some() => {
                        if let (Some(o), Some(msg)) = (om[0].as_i64(), om[1].as_i64()) {
                            out.sent = Some((o, msg));
                            out.sending = Some(msg);
                        }
                    }
                    v => out.sending = v.as_i64(),
                }
            }
        }
        "poll" if ok.is_some() => {
            for m in value.as_array().into_iter().flatten() {
                if let Some(msgs) = m[1].get(key).and_then(Value::as_array) {
                    out.polled = Some(
                        msgs.iter()
                            .filter_map(|om| Some((om[0].as_i64()?, om[1].as_i64()?)))
                            .collect(),
                    );
                }
            }
            out.polled.get_or_insert_with(Vec::new);
        }
        "assign" => {
            let holds = value["keys"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k.as_str() == Some(key)));
            out.assigned = Some((holds, value["committed"][key].as_i64()));
        }
        _ => {}
    }
    out
}

/// A poll's offsets of the key, those around `focus` (the finding's offsets) written out.
fn offsets_text(pairs: &[(i64, i64)], focus: (i64, i64)) -> String {
    if pairs.is_empty() {
        return "nothing".into();
    }
    let (lo, hi) = (focus.0 - LOG_MARGIN, focus.1.max(focus.0) + LOG_MARGIN);
    let mut parts: Vec<String> = Vec::new();
    if pairs.iter().any(|(o, _)| *o < lo) {
        parts.push("…".into());
    }
    parts.extend(
        pairs
            .iter()
            .filter(|(o, _)| (lo..=hi).contains(o))
            .map(|(o, _)| o.to_string()),
    );
    if pairs.iter().any(|(o, _)| *o > hi) {
        parts.push("…".into());
    }
    format!("offsets {} ({} in all)", parts.join(","), pairs.len())
}

fn kafka_box(p: &Pair<'_>, key: &str, named: bool, focus: (i64, i64)) -> OpBox {
    let k = on_key(p, key);
    let detail = match (&k.sent, k.sending, &k.polled, k.assigned) {
        (Some((o, m)), _, _, _) => format!("key {key}: msg {m} → offset {o}"),
        (None, Some(m), _, _) => format!("key {key}: msg {m}, not acknowledged"),
        (_, _, Some(polled), _) => format!("key {key}: {}", offsets_text(polled, focus)),
        (_, _, _, Some((holds, committed))) => format!(
            "key {key}{}: committed {}",
            if holds { "" } else { " not assigned" },
            committed.map_or("nothing".into(), |c| c.to_string())
        ),
        _ => p.invoke.value.to_string(),
    };
    op_box(
        p,
        format!(
            "op {} {} · {} at {}",
            p.invoke.index,
            p.invoke.f,
            super::anomaly_trails::outcome_word(p),
            secs(p.invoke.time)
        ),
        detail,
        named,
    )
}

pub fn trail(
    run: &StoredRun<'_>,
    op_messages: &OpMessages,
    index: &OpIndex<'_>,
    a: &Value,
    id: &str,
    finding: String,
) -> Option<Trail> {
    let kind = a["kind"].as_str().unwrap_or("anomaly");
    let message = a["message"].as_str().unwrap_or("");
    // The structured example behind the finding: its key and offsets.
    let example = run.results["workload"]["errors"][kind]["examples"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["message"].as_str() == Some(message));
    let key = example
        .and_then(|e| e["key"].as_str())
        .map(str::to_string)?;
    let offsets: Vec<i64> = example
        .and_then(|e| e["offsets"].as_array())
        .into_iter()
        .flatten()
        .filter_map(Value::as_i64)
        .collect();
    let named: Vec<&Pair<'_>> = a["ops"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| index.get(o.as_u64()? as usize))
        .collect();
    let (lo, hi) = (
        offsets.iter().copied().min().unwrap_or(0),
        offsets.iter().copied().max().unwrap_or(-1),
    );

    // The key's log: offset → messages, from ok sends and ok polls; and what polls returned.
    let mut log: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    let mut polled: BTreeSet<(i64, i64)> = BTreeSet::new();
    let mut sends: Vec<(&Pair<'_>, i64, i64)> = Vec::new();
    let mut polls: Vec<(&Pair<'_>, Vec<(i64, i64)>)> = Vec::new();
    for p in &index.pairs {
        let k = on_key(p, &key);
        if let Some((o, m)) = k.sent {
            log.entry(o).or_default().insert(m);
            sends.push((p, o, m));
        }
        if let Some(got) = k.polled {
            for &(o, m) in &got {
                log.entry(o).or_default().insert(m);
                polled.insert((o, m));
            }
            if !got.is_empty() {
                polls.push((p, got));
            }
        }
    }

    // The ops drawn: the named ones, the sends of the offsets in question, and for a lost or
    // unseen write the first polls after it that read past its offset.
    let mut drawn: Vec<(&Pair<'_>, bool)> = named.iter().map(|p| (*p, true)).collect();
    let is_drawn = |drawn: &[(&Pair<'_>, bool)], p: &Pair<'_>| {
        drawn.iter().any(|(d, _)| d.invoke.index == p.invoke.index)
    };
    for (p, o, _) in &sends {
        if (lo..=hi).contains(o)
            && !is_drawn(&drawn, p)
            && drawn.iter().filter(|(_, n)| !n).count() < MAX_SENDS
        {
            drawn.push((p, false));
        }
    }
    let lost = kind == "lost-write" || kind == "unseen";
    if lost {
        let acked = named
            .first()
            .and_then(|p| p.completion)
            .map_or(0, |c| c.time);
        let mut added = 0;
        for (p, got) in &polls {
            if added == MAX_POLLS {
                break;
            }
            if p.invoke.time >= acked && got.iter().any(|&(o, _)| o > hi) && !is_drawn(&drawn, p) {
                drawn.push((p, false));
                added += 1;
            }
        }
    }
    let boxes: Vec<OpBox> = drawn
        .iter()
        .map(|(p, named)| kafka_box(p, &key, *named, (lo, hi)))
        .collect();
    // Arrows: each drawn send to each drawn poll that read its offset, or skipped it.
    let mut arrows = Vec::new();
    for (s, (sp, _)) in drawn.iter().enumerate() {
        let Some((o, m)) = on_key(sp, &key).sent else {
            continue;
        };
        for (t, (tp, _)) in drawn.iter().enumerate() {
            let Some(got) = on_key(tp, &key).polled else {
                continue;
            };
            if let Some(&(_, seen)) = got.iter().find(|(go, _)| *go == o) {
                arrows.push(Arrow {
                    from: s,
                    to: t,
                    label: if seen == m {
                        format!("read {o}")
                    } else {
                        format!("read {o} as msg {seen}")
                    },
                    title: format!(
                        "op {} put message {m} at offset {o}; op {} polled offset {o} and got \
                         message {seen}",
                        sp.invoke.index, tp.invoke.index
                    ),
                    kind: if seen == m { "read" } else { "skipped" },
                });
            } else if got.iter().any(|&(go, _)| go > o) && tp.invoke.time >= sp.invoke.time {
                arrows.push(Arrow {
                    from: s,
                    to: t,
                    label: format!("skipped {o}"),
                    title: format!(
                        "op {} put message {m} at offset {o}; op {} polled past offset {o} \
                         without it",
                        sp.invoke.index, tp.invoke.index
                    ),
                    kind: "skipped",
                });
            }
        }
    }
    // The named ops in order (a poll, then the next; a commit, then the answer that forgot it).
    for w in 0..named.len().saturating_sub(1) {
        arrows.push(Arrow {
            from: w,
            to: w + 1,
            label: match kind {
                "inconsistent-offsets" => format!("same offset {lo}"),
                "duplicate" => "same message".into(),
                "commit-regression" => "committed, later forgotten".into(),
                "G1c-realtime" => "polled before it was sent".into(),
                "G1a" => "failed, yet polled".into(),
                _ => "then".into(),
            },
            title: format!(
                "op {} then op {}",
                named[w].invoke.index,
                named[w + 1].invoke.index
            ),
            kind: "then",
        });
    }
    let svg = opgraph::render(id, &boxes, &arrows);

    let mut body = format!("<p class=\"said\">{}</p>", op_links_in(&escape(message)));
    if hi >= lo {
        body.push_str(&log_strip(&key, &log, &polled, &offsets));
    }
    let mut msgs = Vec::new();
    let pairs: Vec<&Pair<'_>> = drawn.iter().map(|(p, _)| *p).collect();
    body.push_str("<p>The ops drawn and their messages:</p>");
    body.push_str(&ops_and_messages(run, op_messages, &pairs, &mut msgs));
    if lost {
        if let Some(msg) = named.first().and_then(|p| on_key(p, &key).sending) {
            body.push_str(&carriers(run, &key, msg, &mut msgs));
        }
    }
    let headline = format!(
        "<b>Trail of {}</b>: key {}{}, {} op{} drawn",
        escape(kind),
        escape(&key),
        if offsets.is_empty() {
            String::new()
        } else {
            format!(
                ", offset{} {}",
                if offsets.len() == 1 { "" } else { "s" },
                offsets
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        drawn.len(),
        if drawn.len() == 1 { "" } else { "s" }
    );
    Some(trail_section(
        id,
        &headline,
        &svg,
        &body,
        msgs,
        drawn.iter().map(|(p, _)| p.invoke.index).collect(),
        finding,
    ))
}

/// The key's log around the finding's offsets: a cell per offset with the message(s) it holds.
fn log_strip(
    key: &str,
    log: &BTreeMap<i64, BTreeSet<i64>>,
    polled: &BTreeSet<(i64, i64)>,
    offsets: &[i64],
) -> String {
    let lo = offsets.iter().copied().min().unwrap_or(0);
    let hi = offsets.iter().copied().max().unwrap_or(0);
    let shown: Vec<(&i64, &BTreeSet<i64>)> = log
        .range(lo - LOG_MARGIN..=hi + LOG_MARGIN)
        .take(LOG_CELLS)
        .collect();
    let mut s = format!(
        "<p>The log of key {} around {} (from acknowledged sends and polls; red: the \
         finding's offsets; struck: never returned by a poll; two messages: a conflict):</p>\
         <table class=\"kafka-log\"><tr><th>offset</th>",
        escape(key),
        if offsets.len() == 1 {
            "that offset"
        } else {
            "those offsets"
        }
    );
    for (o, _) in &shown {
        let _ = write!(
            s,
            "<td{}>{o}</td>",
            if offsets.contains(o) {
                " class=\"hit\""
            } else {
                ""
            }
        );
    }
    s.push_str("</tr><tr><th>message</th>");
    for (o, msgs) in &shown {
        let cells: Vec<String> = msgs
            .iter()
            .map(|m| {
                if polled.contains(&(**o, *m)) {
                    m.to_string()
                } else {
                    format!("<s title=\"no poll returned it\">{m}</s>")
                }
            })
            .collect();
        let _ = write!(
            s,
            "<td{}>{}</td>",
            if msgs.len() > 1 {
                " class=\"conflict\""
            } else if offsets.contains(o) {
                " class=\"hit\""
            } else {
                ""
            },
            cells.join(" / ")
        );
    }
    s.push_str("</tr></table>");
    s
}

/// Server messages (not client traffic) whose body names the key and carries the message.
fn carriers(run: &StoredRun<'_>, key: &str, msg: i64, msgs: &mut Vec<usize>) -> String {
    if !run.has_journal {
        return String::new();
    }
    let quoted = format!("\"{key}\"");
    let number = msg.to_string();
    let mut found = Vec::new();
    for (i, m) in run.messages.iter().enumerate() {
        if m.is_client_traffic() {
            continue;
        }
        let text = m.body();
        if !text.contains(&quoted) || !text.contains(&number) {
            continue;
        }
        let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        if carries(&body, msg, true) {
            found.push(i);
        }
    }
    let mut s = format!(
        "<p>{} server message{} name key {} and carry message {msg}{}</p>",
        found.len(),
        if found.len() == 1 { "" } else { "s" },
        escape(key),
        if found.is_empty() {
            ": the node never passed it on (or not in a form the journal shows)."
        } else {
            ":"
        }
    );
    if !found.is_empty() {
        s.push_str("<ul class=\"trail-ops\">");
        for &i in found.iter().take(MAX_CARRIERS) {
            let m = &run.messages[i];
            let _ = write!(
                s,
                "<li>{} {} → {} {} at {}</li>",
                msg_ref(m, i),
                escape(&m.src),
                escape(&m.dest),
                escape(m.kind()),
                secs(m.sent)
            );
        }
        if found.len() > MAX_CARRIERS {
            let _ = write!(s, "<li>… {} more</li>", found.len() - MAX_CARRIERS);
        }
        s.push_str("</ul>");
    }
    msgs.extend(found);
    s
}

/// Whether `msg` is a value in the body, outside the envelope's numbers.
fn carries(v: &Value, msg: i64, top: bool) -> bool {
    match v {
        Value::Array(a) => a.iter().any(|x| carries(x, msg, false)),
        Value::Object(m) => m.iter().any(|(k, x)| {
            !(top && (k == "msg_id" || k == "in_reply_to")) && carries(x, msg, false)
        }),
        _ => v.as_i64() == Some(msg),
    }
}
