//! The data the page's script draws from, as one JSON value of parallel arrays (compact: a
//! 25-node run has tens of thousands of messages). Times are in microseconds.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::html::{json_text, process_text};
use super::plots::Period;
use super::stored::{is_client, Fate, StoredRun};
use super::trails::Trail;
use super::HistoryText;
use crate::history::{IntSet, Nanos, Op, OpType, SmallKeyHasher};

type Fast = std::hash::BuildHasherDefault<SmallKeyHasher>;

/// Bodies and op values longer than this are cut for display (the files have them whole):
/// server messages, client traffic (read replies of a big run are long), op values.
const MAX_BODY: usize = 2_000;
const MAX_CLIENT_BODY: usize = 400;
const MAX_VALUE: usize = 160;

fn us(t: Nanos) -> u64 {
    t / 1_000
}

fn cut(s: &str, max: usize) -> String {
    cut_borrowed(s, max).into_owned()
}

/// [`cut`], borrowing a text that is short enough (most bodies are).
fn cut_borrowed(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}… ({} bytes)", &s[..end], s.len()))
}

/// [`cut`] of the JSON array of a read kept as a set, written only as far as it is shown: the
/// length of the rest is counted from its ranges.
fn cut_set(set: &IntSet, max: usize) -> String {
    let mut text = String::from("[");
    for (i, n) in set.iter().enumerate() {
        if text.len() > max {
            break;
        }
        if i > 0 {
            text.push(',');
        }
        text.push_str(itoa::Buffer::new().format(n));
    }
    let count: u64 = set.ranges().iter().map(|&(lo, hi)| hi - lo + 1).sum();
    let digits: u64 = set.ranges().iter().map(|&(lo, hi)| digits_in(lo, hi)).sum();
    let len = (2 + digits + count.saturating_sub(1)) as usize;
    if text.len() <= max {
        text.push(']');
    }
    if len <= max {
        return text;
    }
    text.truncate(max);
    format!("{text}… ({len} bytes)")
}

/// The decimal digits of all the integers `lo..=hi` together.
fn digits_in(lo: u64, hi: u64) -> u64 {
    let mut total = 0;
    let (mut first, mut width) = (0u64, 1u32);
    loop {
        // Integers of `width` digits: first..=last.
        let last = 10u64.checked_pow(width).map_or(u64::MAX, |p| p - 1);
        let (from, to) = (lo.max(first), hi.min(last));
        if from <= to {
            total += (to - from + 1) * u64::from(width);
        }
        if last >= hi {
            return total;
        }
        first = last + 1;
        width += 1;
    }
}

/// Orders participants into the diagram's lanes: each server node, with the clients that talk
/// to it on a lane just above it, then the services. Returns (lane names, lane of each part).
fn lanes(parts: &[String], home: &HashMap<usize, usize>) -> (Vec<String>, Vec<usize>) {
    let mut nodes: Vec<usize> = (0..parts.len())
        .filter(|&i| !is_client(&parts[i]) && node_number(&parts[i]).is_some())
        .collect();
    nodes.sort_by_key(|&i| node_number(&parts[i]));
    let services: Vec<usize> = (0..parts.len())
        .filter(|&i| !is_client(&parts[i]) && node_number(&parts[i]).is_none())
        .collect();
    let mut names = Vec::new();
    let mut lane_of = vec![usize::MAX; parts.len()];
    let mut client_lane: HashMap<usize, usize> = HashMap::new();
    for &n in &nodes {
        if home.values().any(|&h| h == n) {
            client_lane.insert(n, names.len());
            names.push(format!("clients→{}", parts[n]));
        }
        lane_of[n] = names.len();
        names.push(parts[n].clone());
    }
    for &s in &services {
        lane_of[s] = names.len();
        names.push(parts[s].clone());
    }
    let mut stray = None;
    for (i, lane) in lane_of.iter_mut().enumerate() {
        if *lane != usize::MAX {
            continue;
        }
        *lane = match home.get(&i).and_then(|h| client_lane.get(h)) {
            Some(&l) => l,
            None => *stray.get_or_insert_with(|| {
                names.push("other clients".into());
                names.len() - 1
            }),
        };
    }
    (names, lane_of)
}

fn node_number(id: &str) -> Option<u64> {
    id.strip_prefix('n')?.parse().ok()
}

pub fn page_data<'a>(
    run: &'a StoredRun<'_>,
    end: Nanos,
    periods: &'a [Period],
    op_messages: &'a HashMap<usize, Vec<usize>>,
    trails: &'a [Trail],
    history_txt: Option<&HistoryText>,
) -> PageData<'a> {
    // An op's value or error as JSON text: from history.txt when it was just written.
    let value_text = |op: &Op| match history_txt.and_then(|h| h.value(op)) {
        Some(text) => cut(text, MAX_VALUE),
        None => cut(&json_text(&op.value.to_json()), MAX_VALUE),
    };
    let error_text = |op: &Op| match history_txt.and_then(|h| h.error(op)) {
        Some(text) => text.map(str::to_string),
        None => op.error.as_ref().map(json_text),
    };
    // Names are short: a multiply per byte hashes them faster than SipHash.
    let mut part_index: HashMap<&str, usize, Fast> = HashMap::default();
    let mut parts: Vec<String> = Vec::new();
    let mut type_index: HashMap<&str, usize, Fast> = HashMap::default();
    let mut types: Vec<String> = Vec::new();
    let n = run.messages.len();
    let (mut src, mut dst, mut t0, mut t1, mut state, mut kind, mut ids, mut bodies) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    // A client's home: the first server it talks to.
    let mut home: HashMap<usize, usize> = HashMap::new();
    for m in &run.messages {
        let mut part = |p: &'a str| -> usize {
            if let Some(&i) = part_index.get(p) {
                return i;
            }
            parts.push(p.to_string());
            part_index.insert(p, parts.len() - 1);
            parts.len() - 1
        };
        let (s, d) = (part(&m.src), part(&m.dest));
        if is_client(&m.src) {
            home.entry(s).or_insert(d);
        } else if is_client(&m.dest) {
            home.entry(d).or_insert(s);
        }
        let k = m.kind();
        let ty = match type_index.get(k) {
            Some(&i) => i,
            None => {
                types.push(k.to_string());
                type_index.insert(k, types.len() - 1);
                types.len() - 1
            }
        };
        src.push(s);
        dst.push(d);
        t0.push(us(m.sent));
        let (end_t, st) = match m.fate {
            Fate::Delivered(t) => (us(t), 0),
            Fate::Dropped(t) => (us(t), 1),
            Fate::InFlight => (us(end), 2),
        };
        t1.push(end_t);
        state.push(st);
        kind.push(ty);
        ids.push(m.id);
        bodies.push(cut_borrowed(
            m.body(),
            if m.is_client_traffic() {
                MAX_CLIENT_BODY
            } else {
                MAX_BODY
            },
        ));
    }
    let (lane_names, lane_of) = lanes(&parts, &home);

    let pairs = run.history.pairs();
    let mut ops = Ops::default();
    for p in &pairs {
        let i = p.invoke;
        ops.i.push(i.index);
        ops.c.push(p.completion.map(|c| c.index));
        ops.p.push(process_text(i.process));
        ops.f.push(&i.f);
        ops.t0.push(us(i.time));
        ops.t1.push(p.completion.map(|c| us(c.time)));
        ops.o.push(match p.outcome() {
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            _ => "info",
        });
        ops.v.push(value_text(i));
        ops.r
            .push(p.completion.map(|c| match run.history.int_set(c) {
                Some(set) => cut_set(set, MAX_VALUE),
                None => value_text(c),
            }));
        ops.e.push(p.completion.and_then(error_text));
        ops.fin.push(u8::from(i.is_final));
        ops.m
            .push(op_messages.get(&i.index).map_or(&[], Vec::as_slice));
    }
    PageData {
        end: us(end),
        journal: run.has_journal,
        lane: lane_of,
        lanes: lane_names,
        m: Messages {
            b: bodies,
            d: dst,
            id: ids,
            s: src,
            st: state,
            t0,
            t1,
            ty: kind,
        },
        ops,
        parts,
        periods: periods
            .iter()
            .map(|p| {
                (
                    (p.start * 1e6) as u64,
                    (p.end * 1e6) as u64,
                    p.label.as_str(),
                )
            })
            .collect(),
        trails: trails
            .iter()
            .map(|t| {
                (
                    t.id.as_str(),
                    TrailData {
                        m: &t.messages,
                        o: &t.ops,
                        v: t.value.as_deref(),
                    },
                )
            })
            .collect(),
        types,
    }
}

/// The page's data (see [`page_data`]). Fields are in alphabetical order, as the page has
/// always had them (they were a JSON map).
#[derive(Serialize)]
pub struct PageData<'a> {
    end: u64,
    journal: bool,
    lane: Vec<usize>,
    lanes: Vec<String>,
    m: Messages<'a>,
    ops: Ops<'a>,
    parts: Vec<String>,
    periods: Vec<(u64, u64, &'a str)>,
    trails: BTreeMap<&'a str, TrailData<'a>>,
    types: Vec<String>,
}

impl PageData<'_> {
    /// The page data's JSON text, exactly as serde writes it (compact, fields in order), but
    /// for the message bodies: they are most of the page, have a quote every few bytes, and
    /// are escaped here in one pass ([`push_json_string`]) rather than by serde's writer.
    pub fn to_json(&self) -> String {
        let bodies: usize = self.m.b.iter().map(|b| b.len() + b.len() / 4 + 3).sum();
        let mut out = Vec::with_capacity(bodies + 64 * self.ops.i.len() + 4096);
        out.extend_from_slice(b"{\"end\":");
        push_value(&mut out, &self.end);
        push_field(&mut out, "journal", &self.journal);
        push_field(&mut out, "lane", &self.lane);
        push_field(&mut out, "lanes", &self.lanes);
        out.extend_from_slice(b",\"m\":{\"b\":[");
        for (i, body) in self.m.b.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_json_string(&mut out, body);
        }
        out.push(b']');
        push_field(&mut out, "d", &self.m.d);
        push_field(&mut out, "id", &self.m.id);
        push_field(&mut out, "s", &self.m.s);
        push_field(&mut out, "st", &self.m.st);
        push_field(&mut out, "t0", &self.m.t0);
        push_field(&mut out, "t1", &self.m.t1);
        push_field(&mut out, "ty", &self.m.ty);
        out.push(b'}');
        push_field(&mut out, "ops", &self.ops);
        push_field(&mut out, "parts", &self.parts);
        push_field(&mut out, "periods", &self.periods);
        push_field(&mut out, "trails", &self.trails);
        push_field(&mut out, "types", &self.types);
        out.push(b'}');
        String::from_utf8(out).expect("JSON text is UTF-8")
    }
}

/// Appends `,"name":` and the value's JSON.
fn push_field<T: Serialize + ?Sized>(out: &mut Vec<u8>, name: &str, value: &T) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    push_value(out, value);
}

fn push_value<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    serde_json::to_writer(out, value).expect("page data serializes");
}

/// Appends `s` as a JSON string, escaped exactly as serde_json escapes it: `"` and `\\`
/// with a backslash, `\b \t \n \f \r` by name, other control characters as `\u00xx`,
/// everything else as it is.
pub fn push_json_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + s.len() / 4 + 2);
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x20.. => out.push(b),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]),
        }
    }
    out.push(b'"');
}

/// The journal's messages as parallel arrays.
#[derive(Serialize)]
struct Messages<'a> {
    b: Vec<Cow<'a, str>>,
    d: Vec<usize>,
    id: Vec<u64>,
    s: Vec<usize>,
    st: Vec<u8>,
    t0: Vec<u64>,
    t1: Vec<u64>,
    ty: Vec<usize>,
}

/// The client ops as parallel arrays.
#[derive(Serialize, Default)]
struct Ops<'a> {
    c: Vec<Option<usize>>,
    e: Vec<Option<String>>,
    f: Vec<&'a str>,
    fin: Vec<u8>,
    i: Vec<usize>,
    m: Vec<&'a [usize]>,
    o: Vec<&'static str>,
    p: Vec<String>,
    r: Vec<Option<String>>,
    t0: Vec<u64>,
    t1: Vec<Option<u64>>,
    v: Vec<String>,
}

#[derive(Serialize)]
struct TrailData<'a> {
    m: &'a [usize],
    o: &'a [usize],
    v: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strings are escaped as serde_json escapes them, and the page data is serde's text.
    #[test]
    fn json_strings_are_escaped_as_serde_does() {
        let mut all = String::new();
        for c in (0u32..0x80).chain([0xe9, 0x2028, 0x1f600]) {
            all.push(char::from_u32(c).unwrap());
        }
        for s in ["", "plain", &all, r#"{"type":"send","msg":"a\"b\\c"}"#] {
            let mut out = Vec::new();
            push_json_string(&mut out, s);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
    }

    /// A read kept as a set is shown as its whole JSON text would be cut.
    #[test]
    fn cut_set_matches_cut_of_the_text() {
        for count in [0usize, 1, 2, 9, 10, 11, 30, 31, 32, 33, 200, 5000] {
            for max in [0usize, 1, 2, 5, 20, 21, 22, 160] {
                let mut set = IntSet::builder();
                for i in 0..count as u64 {
                    set.push(i * 7 + i % 3 * 1000);
                    set.push(i + 95);
                }
                let set = set.finish();
                let text = serde_json::to_string(&set.iter().collect::<Vec<_>>()).unwrap();
                assert_eq!(
                    cut_set(&set, max),
                    cut(&text, max),
                    "{count} ints, max {max}"
                );
            }
        }
    }

    #[test]
    fn digits_are_counted_per_width() {
        for (lo, hi) in [
            (0, 0),
            (0, 9),
            (0, 10),
            (5, 123),
            (99, 100),
            (1000, 1000),
            (7, 100_000),
        ] {
            let counted: u64 = (lo..=hi).map(|n: u64| n.to_string().len() as u64).sum();
            assert_eq!(digits_in(lo, hi), counted, "{lo}..={hi}");
        }
        let top = u64::MAX - 5..=u64::MAX;
        assert_eq!(digits_in(*top.start(), *top.end()), 6 * 20);
    }
}
