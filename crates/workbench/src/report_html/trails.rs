//! The trail of each anomaly, drawn from the history and the message journal.
//!
//! - A lost or stale element of a set (broadcast, g-set): the op that added it, the node that
//!   took it from the client, every server message that carried it and what became of each
//!   (delivered, dropped by a partition, still in flight), the nodes it reached and those it
//!   never did (and why, as far as the journal tells), and the reads that missed it.
//! - A wrong final read of a counter: the acknowledged adds, per node that took them, the gap
//!   between their sum and the read, and the adds that alone or together (the latest ones)
//!   make up exactly that gap.
//! - A kafka or txn finding: drawn over its ops, see [`super::anomaly_trails`].

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::Value;

use super::html::{escape, push_secs, secs};
use super::json_scan;
use super::stored::{serving_node, Fate, JournalMessage, OpMessages, StoredRun};
use crate::history::{IntSet, Nanos, Op, OpType, Pair};

/// Lost elements that get a trail each (the rest are listed by `results.json`).
const MAX_LOST: usize = 50;
/// Reads listed per trail.
const MAX_READS: usize = 8;
/// Carrying messages listed per trail (all of them are highlighted on the diagram).
const MAX_CARRIERS: usize = 200;

/// One anomaly's trail.
pub struct Trail {
    /// The HTML id of its section.
    pub id: String,
    pub html: String,
    /// Journal indices of the messages it involves (highlighted on the diagram).
    pub messages: Vec<usize>,
    /// History indices of the ops it explains (findings naming one link to the trail).
    pub ops: Vec<usize>,
    /// The value to filter the diagram by, if any.
    pub value: Option<String>,
    /// The HTML id of the finding it explains, when it explains one finding (kafka, txn).
    pub finding: Option<String>,
}

mod counter;
mod rows;
mod same_body;
use counter::counter_trails;
use rows::RowNames;
use same_body::{text_hash, SameBodies};

pub fn trails(run: &StoredRun<'_>, op_messages: &OpMessages) -> Vec<Trail> {
    let workload = &run.results["workload"];
    let mut out: Vec<Trail> = Vec::new();
    if workload.get("lost").is_some() && workload.get("stale").is_some() {
        out.extend(set_trails(run, op_messages));
    }
    if workload.get("acceptable").is_some() {
        out.extend(counter_trails(run, op_messages));
    }
    out.extend(super::anomaly_trails::trails(run, op_messages));
    // The first few open, the rest folded (a link to one opens it).
    for t in out.iter_mut().skip(3) {
        t.html = t.html.replacen(" open><summary>", "><summary>", 1);
    }
    out
}

fn key(v: &Value) -> String {
    v.to_string()
}

/// A value's identity for matching: two values match when their JSON texts ([`key`]) are
/// equal. Integers are compared as numbers, without writing them out (a run's messages and
/// reads hold hundreds of thousands of them); an integer's text never equals another value's.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum ValueKey {
    Unsigned(u64),
    Negative(i64),
    Text(String),
}

impl ValueKey {
    fn of(v: &Value) -> ValueKey {
        match v {
            Value::Number(n) if n.is_u64() => ValueKey::Unsigned(n.as_u64().unwrap_or_default()),
            Value::Number(n) if n.is_i64() => ValueKey::Negative(n.as_i64().unwrap_or_default()),
            _ => ValueKey::Text(key(v)),
        }
    }
}

struct Context<'a> {
    run: &'a StoredRun<'a>,
    op_messages: &'a OpMessages,
    pairs: Vec<Pair<'a>>,
}

impl Context<'_> {
    fn node_of(&self, invoke: usize) -> Option<String> {
        serving_node(self.op_messages, &self.run.messages, invoke)
    }

    fn op_line(&self, pair: &Pair<'_>) -> String {
        let invoke = pair.invoke;
        let outcome = match pair.outcome() {
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            _ => "info",
        };
        format!(
            "<a class=\"op\" href=\"#op-{i}\">op {i}</a> ({} by process {}, {outcome}{}{}{})",
            escape(&invoke.f),
            escape(&process(invoke)),
            pair.completion
                .map(|c| format!(" at {}", secs(c.time)))
                .unwrap_or_default(),
            if invoke.is_final { ", final" } else { "" },
            self.node_of(invoke.index)
                .map(|n| format!(", served by {}", escape(&n)))
                .unwrap_or_default(),
            i = invoke.index,
        )
    }
}

pub(super) fn process(op: &Op) -> String {
    super::html::process_text(op.process)
}

pub(super) fn msg_ref(m: &JournalMessage, index: usize) -> String {
    let mut out = String::with_capacity(64);
    push_msg_ref(&mut out, m, index);
    out
}

/// Appends [`msg_ref`] (a table of carriers has hundreds).
fn push_msg_ref(out: &mut String, m: &JournalMessage, index: usize) {
    let mut digits = itoa::Buffer::new();
    let index = digits.format(index);
    out.push_str("<a class=\"msg\" href=\"#msg-");
    out.push_str(index);
    out.push_str("\" data-msg=\"");
    out.push_str(index);
    out.push_str("\">#");
    out.push_str(itoa::Buffer::new().format(m.id));
    out.push_str("</a>");
}

fn node_names(run: &StoredRun<'_>) -> Vec<String> {
    let count = run.results["test"]["node_count"].as_u64().unwrap_or(0) as usize;
    let mut names: Vec<String> = (0..count).map(|i| format!("n{i}")).collect();
    if names.is_empty() {
        let mut seen: Vec<String> = run
            .messages
            .iter()
            .flat_map(|m| [&m.src, &m.dest])
            .filter(|p| p.starts_with('n'))
            .map(|p| p.to_string())
            .collect();
        seen.sort_by_key(|n| (n.len(), n.clone()));
        seen.dedup();
        names = seen;
    }
    names
}

/// The trail slot of each wanted value (a value wanted twice: its last slot).
struct Slots {
    /// Wanted integers, ascending (most wanted values are).
    ints: Vec<(u64, usize)>,
    others: HashMap<ValueKey, usize>,
}

impl Slots {
    fn new<'v>(wanted: impl Iterator<Item = &'v Value>) -> Slots {
        let mut ints: BTreeMap<u64, usize> = BTreeMap::new();
        let mut others = HashMap::new();
        for (i, v) in wanted.enumerate() {
            match ValueKey::of(v) {
                ValueKey::Unsigned(n) => {
                    ints.insert(n, i);
                }
                k => {
                    others.insert(k, i);
                }
            }
        }
        Slots {
            ints: ints.into_iter().collect(),
            others,
        }
    }

    fn get(&self, k: &ValueKey) -> Option<usize> {
        match k {
            ValueKey::Unsigned(n) => self.get_unsigned(*n),
            k => self.others.get(k).copied(),
        }
    }

    /// [`Slots::get`] of an unsigned integer.
    #[inline]
    fn get_unsigned(&self, n: u64) -> Option<usize> {
        // Most integers of a body are no wanted one, and out of their range.
        let (&(lo, _), &(hi, _)) = (self.ints.first()?, self.ints.last()?);
        if n < lo || n > hi {
            return None;
        }
        let i = self.ints.binary_search_by_key(&n, |&(v, _)| v).ok()?;
        Some(self.ints[i].1)
    }

    /// Calls `found` with the slot of each wanted integer in `set`, ascending (each looked up
    /// in the set's ranges: there are few wanted values and many members).
    fn find_in_set(&self, set: &IntSet, mut found: impl FnMut(usize)) {
        let ranges = set.ranges();
        for &(v, s) in &self.ints {
            let i = ranges.partition_point(|&(_, hi)| hi < v);
            if ranges.get(i).is_some_and(|&(lo, _)| lo <= v) {
                found(s);
            }
        }
    }

    /// Whether every wanted value is an unsigned integer (then only a body's unsigned integers
    /// can match, see [`json_scan::unsigned_leaves`]).
    fn only_unsigned(&self) -> bool {
        self.others.is_empty()
    }
}

/// The scalars of a body (an object) as [`ValueKey`]s, read straight from its text, without
/// the envelope's `msg_id`, `in_reply_to` and `type`; none when it is not an object.
fn body_leaves(body: &str, out: &mut Vec<ValueKey>) {
    let mut de = serde_json::Deserializer::from_str(body);
    if serde::de::DeserializeSeed::deserialize(Leaves { top: true, out }, &mut de).is_err() {
        out.clear();
    }
}

/// Collects the scalars of the value it reads as [`ValueKey`]s (at the top, only an object's).
struct Leaves<'o> {
    top: bool,
    out: &'o mut Vec<ValueKey>,
}

impl<'de> serde::de::DeserializeSeed<'de> for Leaves<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Leaves<'_> {
    fn scalar(self, v: Value) {
        if !self.top {
            self.out.push(ValueKey::of(&v));
        }
    }
}

impl<'de> serde::de::Visitor<'de> for Leaves<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a message body")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.scalar(v.into());
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        if !self.top {
            self.out.push(ValueKey::Unsigned(v));
        }
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.scalar(v.into());
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.scalar(v.into());
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.scalar(v.into());
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.scalar(Value::Null);
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.top {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            return Ok(());
        }
        while seq
            .next_element_seed(Leaves {
                top: false,
                out: &mut *self.out,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(envelope) = map.next_key_seed(EnvelopeKey)? {
            if self.top && envelope {
                map.next_value::<serde::de::IgnoredAny>()?;
            } else {
                map.next_value_seed(Leaves {
                    top: false,
                    out: &mut *self.out,
                })?;
            }
        }
        Ok(())
    }
}

/// The envelope's keys: their values are not a body's leaves.
const ENVELOPE: [&str; 3] = ["msg_id", "in_reply_to", "type"];

/// Reads a key as whether it is one of the [`ENVELOPE`]'s.
struct EnvelopeKey;

impl<'de> serde::de::DeserializeSeed<'de> for EnvelopeKey {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for EnvelopeKey {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, key: &str) -> Result<bool, E> {
        Ok(ENVELOPE.contains(&key))
    }
}

fn set_trails(run: &StoredRun<'_>, op_messages: &OpMessages) -> Vec<Trail> {
    let workload = &run.results["workload"];
    let mut wanted: Vec<(Value, &'static str)> = Vec::new();
    for v in workload["lost"]
        .as_array()
        .into_iter()
        .flatten()
        .take(MAX_LOST)
    {
        wanted.push((v.clone(), "lost"));
    }
    for w in workload["worst_stale"].as_array().into_iter().flatten() {
        wanted.push((w["element"].clone(), "stale"));
    }
    if wanted.is_empty() {
        return Vec::new();
    }
    let cx = Context {
        run,
        op_messages,
        pairs: run.pairs(),
    };
    let slot = Slots::new(wanted.iter().map(|(v, _)| v));
    // Server messages carrying each wanted value.
    let mut carriers: Vec<Vec<usize>> = vec![Vec::new(); wanted.len()];
    let mut leaves = Vec::new();
    let mut hit: Vec<usize> = Vec::new();
    // A body seen before is not scanned again (what a scan finds depends on the text alone).
    let mut same = SameBodies::default();
    for (i, m) in run.messages.iter().enumerate() {
        if m.is_client_traffic() {
            continue;
        }
        let body = m.body();
        let hash = text_hash(body);
        if let Some(slots) = same.get(body, hash) {
            for &s in slots {
                carriers[s].push(i);
            }
            continue;
        }
        hit.clear();
        let scanned = slot.only_unsigned()
            && json_scan::unsigned_leaves(body, &ENVELOPE, |n| {
                if let Some(s) = slot.get_unsigned(n) {
                    hit.push(s);
                }
            })
            .is_some();
        if !scanned {
            hit.clear();
            leaves.clear();
            body_leaves(body, &mut leaves);
            hit.extend(leaves.iter().filter_map(|v| slot.get(v)));
        }
        hit.sort_unstable();
        hit.dedup();
        for &s in &hit {
            carriers[s].push(i);
        }
        same.insert(body, hash, &hit);
    }
    // Ok reads, and which wanted values each returned.
    let mut reads: Vec<(&Pair<'_>, Vec<bool>)> = Vec::new();
    for pair in &cx.pairs {
        let Some(done) = pair.completion else {
            continue;
        };
        if pair.invoke.f != "read" || done.kind != OpType::Ok {
            continue;
        }
        let mut has = vec![false; wanted.len()];
        // A read kept as a set has its value in the history's side table (see
        // `History::keep_reads_as_sets`): its members are looked up as they are.
        match cx.run.history.int_set(done) {
            Some(set) => {
                slot.find_in_set(set, |s| has[s] = true);
            }
            None => {
                for v in done
                    .value
                    .as_json()
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(s) = slot.get(&ValueKey::of(v)) {
                        has[s] = true;
                    }
                }
            }
        }
        reads.push((pair, has));
    }
    let nodes = node_names(run);
    // Every op that may add a value, with its value's key (found once, not once per trail).
    let add_keys: Vec<(ValueKey, &Pair<'_>)> = cx
        .pairs
        .iter()
        .filter(|p| p.invoke.f != "read")
        .map(|p| (ValueKey::of(&p.invoke.value.to_json()), p))
        .collect();
    let mut row_names = RowNames::default();
    wanted
        .iter()
        .enumerate()
        .map(|(s, (value, kind))| {
            let missed: Vec<&Pair<'_>> = reads
                .iter()
                .filter(|(_, has)| !has[s])
                .map(|(p, _)| *p)
                .collect();
            set_trail(
                &cx,
                (value, kind),
                (&carriers[s], &missed),
                &nodes,
                &add_keys,
                &mut row_names,
            )
        })
        .collect()
}

fn set_trail(
    cx: &Context<'_>,
    (value, kind): (&Value, &str),
    (carriers, missed): (&[usize], &[&Pair<'_>]),
    nodes: &[String],
    add_keys: &[(ValueKey, &Pair<'_>)],
    row_names: &mut RowNames,
) -> Trail {
    let messages = &cx.run.messages;
    let value_text = key(value);
    let value_key = ValueKey::of(value);
    let id = format!("trail-{kind}-{}", slug(&value_text));
    let mut html = String::new();
    let mut trail_msgs: Vec<usize> = Vec::new();
    let mut ops = Vec::new();
    // The adds of the value (a value added again starts over; usually there is one).
    let adds: Vec<&Pair<'_>> = add_keys
        .iter()
        .filter(|(k, _)| *k == value_key)
        .map(|&(_, p)| p)
        .collect();
    let mut learned: BTreeMap<&str, Nanos> = BTreeMap::new();
    let mut known_at: Option<Nanos> = None;
    html.push_str("<ol class=\"steps\">");
    if adds.is_empty() {
        html.push_str("<li>No op of the history added it.</li>");
    }
    for add in &adds {
        ops.push(add.invoke.index);
        if let Some(done) = add.completion.filter(|c| c.kind == OpType::Ok) {
            known_at = Some(known_at.map_or(done.time, |k: Nanos| k.min(done.time)));
        }
        let _ = write!(html, "<li>Added by {}", cx.op_line(add));
        let request = cx
            .op_messages
            .get(&add.invoke.index)
            .and_then(|m| m.first().copied());
        match request {
            Some(r) => {
                let m = &messages[r];
                trail_msgs.push(r);
                let _ = write!(
                    html,
                    ": <b>{}</b> took it from client {} at {} ({}).",
                    escape(&m.dest),
                    escape(&m.src),
                    secs(m.sent),
                    msg_ref(m, r)
                );
                if let Fate::Delivered(t) = m.fate {
                    learned.entry(&m.dest).or_insert(t);
                }
                // The reply too.
                trail_msgs.extend(cx.op_messages[&add.invoke.index].iter().skip(1));
            }
            None => html.push_str(": its request is not in the journal."),
        }
        html.push_str("</li>");
    }
    // Every server message that carried it.
    let delivered = carriers
        .iter()
        .filter(|&&i| matches!(messages[i].fate, Fate::Delivered(_)))
        .count();
    let dropped = carriers
        .iter()
        .filter(|&&i| matches!(messages[i].fate, Fate::Dropped(_)))
        .count();
    let _ = write!(
        html,
        "<li>{} server message{} carried it: {delivered} delivered, {dropped} dropped by \
         partitions, {} still in flight at the end.",
        carriers.len(),
        if carriers.len() == 1 { "" } else { "s" },
        carriers.len() - delivered - dropped
    );
    if !carriers.is_empty() {
        html.push_str(
            "<table class=\"carriers\"><tr><th>msg</th><th>sent</th><th>from → to</th>\
             <th>type</th><th>fate</th></tr>",
        );
        for &i in carriers.iter().take(MAX_CARRIERS) {
            // Written piece by piece: a run's trails list thousands of rows.
            let m = &messages[i];
            html.push_str("<tr><td>");
            push_msg_ref(&mut html, m, i);
            html.push_str("</td><td>");
            push_secs(&mut html, m.sent);
            html.push_str("</td><td>");
            html.push_str(row_names.of(m));
            html.push_str("</td><td>");
            match m.fate {
                Fate::Delivered(t) => {
                    html.push_str("delivered at ");
                    push_secs(&mut html, t);
                }
                Fate::Dropped(t) => {
                    html.push_str("<b class=\"bad\">dropped by a partition at ");
                    push_secs(&mut html, t);
                    html.push_str("</b>");
                }
                Fate::InFlight => html.push_str("in flight at the end"),
            }
            html.push_str("</td></tr>");
        }
        if carriers.len() > MAX_CARRIERS {
            let _ = write!(
                html,
                "<tr><td colspan=\"5\">… {} more (all highlighted on the diagram)</td></tr>",
                carriers.len() - MAX_CARRIERS
            );
        }
        html.push_str("</table>");
    }
    html.push_str("</li>");
    for &i in carriers {
        trail_msgs.push(i);
        if let Fate::Delivered(t) = messages[i].fate {
            let e = learned.entry(&messages[i].dest).or_insert(t);
            *e = (*e).min(t);
        }
    }
    // Where it reached, and where the trail stopped.
    let reached: Vec<String> = nodes
        .iter()
        .filter_map(|n| {
            learned
                .get(n.as_str())
                .map(|t| format!("{} ({})", escape(n), secs(*t)))
        })
        .collect();
    let _ = write!(
        html,
        "<li>It reached {} of {} nodes: {}.</li>",
        reached.len(),
        nodes.len(),
        if reached.is_empty() {
            "none".to_string()
        } else {
            reached.join(", ")
        }
    );
    let missing: Vec<&String> = nodes
        .iter()
        .filter(|n| !learned.contains_key(n.as_str()))
        .collect();
    if !missing.is_empty() {
        html.push_str("<li class=\"stop\"><b>Where the trail stopped:</b><ul>");
        for n in missing {
            let to_it: Vec<usize> = carriers
                .iter()
                .copied()
                .filter(|&i| *messages[i].dest == **n)
                .collect();
            let drops: Vec<String> = to_it
                .iter()
                .filter_map(|&i| match messages[i].fate {
                    Fate::Dropped(t) => Some(format!(
                        "{} from {} dropped by a partition at {}",
                        msg_ref(&messages[i], i),
                        escape(&messages[i].src),
                        secs(t)
                    )),
                    _ => None,
                })
                .collect();
            let why = if to_it.is_empty() {
                let holders: Vec<&str> = learned.keys().copied().collect();
                format!(
                    "no node ever sent it to {} (it was held by {})",
                    escape(n),
                    escape(&holders.join(", "))
                )
            } else if !drops.is_empty() {
                format!(
                    "{} message{} to it: {}{}",
                    to_it.len(),
                    if to_it.len() == 1 { "" } else { "s" },
                    drops.join("; "),
                    if drops.len() < to_it.len() {
                        "; the others were still in flight at the end"
                    } else {
                        "; no node sent it again"
                    }
                )
            } else {
                format!(
                    "{} message(s) to it were still in flight at the end",
                    to_it.len()
                )
            };
            let _ = write!(html, "<li><b>{}</b>: {why}</li>", escape(n));
        }
        html.push_str("</ul></li>");
    }
    // The reads that missed it once it was known.
    let after: Vec<&&Pair<'_>> = missed
        .iter()
        .filter(|p| known_at.is_some_and(|k| p.invoke.time > k))
        .collect();
    let finals = after.iter().filter(|p| p.invoke.is_final).count();
    let _ = write!(
        html,
        "<li>{} ok read{} invoked after it was acknowledged did not return it ({finals} of them \
         final){}",
        after.len(),
        if after.len() == 1 { "" } else { "s" },
        if after.is_empty() { "." } else { ", the last:" }
    );
    if !after.is_empty() {
        html.push_str("<ul>");
        for p in after.iter().rev().take(MAX_READS) {
            ops.push(p.invoke.index);
            trail_msgs.extend(cx.op_messages.get(&p.invoke.index).into_iter().flatten());
            let _ = write!(html, "<li class=\"missed-read\">{}</li>", cx.op_line(p));
        }
        html.push_str("</ul>");
    }
    html.push_str("</li></ol>");
    let _ = write!(
        html,
        "<button class=\"show-trail\" data-trail=\"{id}\">Show on the diagram</button></details>"
    );
    let stopped: Vec<&str> = nodes
        .iter()
        .filter(|n| !learned.contains_key(n.as_str()))
        .map(String::as_str)
        .collect();
    let header = format!(
        "<details class=\"trail\" id=\"{id}\" open><summary><b>Trail of {kind} element \
         <code>{}</code></b>: reached {} of {} nodes{}; {} later read{} missed it</summary>",
        escape(&value_text),
        reached.len(),
        nodes.len(),
        if stopped.is_empty() {
            String::new()
        } else {
            format!(", never {}", escape(&stopped.join(", ")))
        },
        after.len(),
        if after.len() == 1 { "" } else { "s" }
    );
    html.insert_str(0, &header);
    trail_msgs.sort_unstable();
    trail_msgs.dedup();
    Trail {
        id,
        html,
        messages: trail_msgs,
        ops,
        value: Some(value_text),
        finding: None,
    }
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect()
}

#[cfg(test)]
mod tests;
