//! The data the page's script draws from, as one JSON value of parallel arrays (compact: a
//! 25-node run has tens of thousands of messages). Times are in microseconds.
//!
//! The value is written straight into the page's text ([`PageData::write_json`]), exactly as
//! serde_json writes the struct it used to be built as (fields in alphabetical order, as the
//! page has always had them: they were a JSON map); the tests keep that struct to check it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::html::json_text;
use super::json_out::JsonOut;
use super::plots::Period;
use super::stored::{is_client, Fate, OpMessages, StoredRun};
use super::trails::Trail;
use super::HistoryText;
use crate::history::{IntSet, Nanos, Op, OpType, Pair, Process, SmallKeyHasher};

type Fast = std::hash::BuildHasherDefault<SmallKeyHasher>;

mod interner;
use interner::Interner;

/// Bodies and op values longer than this are cut for display (the files have them whole):
/// server messages, client traffic (read replies of a big run are long), op values.
const MAX_BODY: usize = 2_000;
const MAX_CLIENT_BODY: usize = 400;
const MAX_VALUE: usize = 160;

fn us(t: Nanos) -> u64 {
    t / 1_000
}

/// The length of the JSON array of a read kept as a set, counted from its ranges.
fn set_text_len(set: &IntSet) -> usize {
    let count: u64 = set.ranges().iter().map(|&(lo, hi)| hi - lo + 1).sum();
    let digits: u64 = set.ranges().iter().map(|&(lo, hi)| digits_in(lo, hi)).sum();
    (2 + digits + count.saturating_sub(1)) as usize
}

/// The shown part of the last read set that was cut for display: the next one that begins
/// with the same numbers (up to the last one shown) shows the same text, which is copied
/// instead of written number by number (a broadcast run's later reads all begin alike).
#[derive(Default)]
struct ShownSet {
    /// The set's ranges up to its last number shown (the last range cut there).
    ranges: Vec<(u64, u64)>,
    /// Its shown text, from `[` to the cut.
    text: Vec<u8>,
}

impl ShownSet {
    /// Writes `set`'s JSON array cut to `max` bytes as a JSON string (as
    /// [`JsonOut::cut_u64_array`] does).
    fn write(&mut self, j: &mut JsonOut<'_>, set: &IntSet, max: usize) {
        let len = set_text_len(set);
        if len <= max {
            return j.cut_u64_array(set.iter(), len, max);
        }
        if !self.ranges.is_empty() && self.begins(set) {
            return j.cut_u64_array_shown(&self.text, len);
        }
        let last = j.cut_u64_array_keeping(set.iter(), len, max, Some(&mut self.text));
        self.ranges.clear();
        if let Some(last) = last {
            let clipped = set.ranges().iter().take_while(|&&(lo, _)| lo <= last);
            self.ranges
                .extend(clipped.map(|&(lo, hi)| (lo, hi.min(last))));
        }
    }

    /// Whether `set`'s numbers up to the kept last one are the kept ones.
    fn begins(&self, set: &IntSet) -> bool {
        let (kept, ranges) = (&self.ranges, set.ranges());
        let Some(&(_, last)) = kept.last() else {
            return false;
        };
        let n = kept.len();
        // All but the last kept range whole, and the last one from its start to `last`.
        ranges.len() >= n
            && ranges[..n - 1] == kept[..n - 1]
            && ranges[n - 1].0 == kept[n - 1].0
            && ranges[n - 1].1 >= last
    }
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
/// `home`: each participant's home, if it is a client that talked to a server.
fn lanes(parts: &[&str], home: &[Option<usize>]) -> (Vec<String>, Vec<usize>) {
    let mut nodes: Vec<usize> = (0..parts.len())
        .filter(|&i| !is_client(parts[i]) && node_number(parts[i]).is_some())
        .collect();
    nodes.sort_by_key(|&i| node_number(parts[i]));
    let services: Vec<usize> = (0..parts.len())
        .filter(|&i| !is_client(parts[i]) && node_number(parts[i]).is_none())
        .collect();
    let mut names = Vec::new();
    let mut lane_of = vec![usize::MAX; parts.len()];
    let mut client_lane: HashMap<usize, usize> = HashMap::new();
    for &n in &nodes {
        if home.contains(&Some(n)) {
            client_lane.insert(n, names.len());
            names.push(format!("clients→{}", parts[n]));
        }
        lane_of[n] = names.len();
        names.push(parts[n].to_string());
    }
    for &s in &services {
        lane_of[s] = names.len();
        names.push(parts[s].to_string());
    }
    let mut stray = None;
    for (i, lane) in lane_of.iter_mut().enumerate() {
        if *lane != usize::MAX {
            continue;
        }
        *lane = match home
            .get(i)
            .copied()
            .flatten()
            .and_then(|h| client_lane.get(&h))
        {
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

/// The page's data: what is worth computing before it is written (the participants, the
/// message types and the diagram's lanes); the rest is written as it is read from the run.
pub struct PageData<'a> {
    run: &'a StoredRun<'a>,
    end: Nanos,
    periods: &'a [Period],
    op_messages: &'a OpMessages,
    trails: &'a [Trail],
    history_txt: Option<&'a HistoryText>,
    /// Participants in first-seen order, and whether each is a client.
    parts: Vec<&'a str>,
    client: Vec<bool>,
    types: Vec<&'a str>,
    lane_of: Vec<usize>,
    lane_names: Vec<String>,
    /// Per message: its participants' and type's numbers.
    src: Vec<u32>,
    dst: Vec<u32>,
    kind: Vec<u32>,
    /// [`PageData::size_hint`], found once (the page is sized by it too).
    size_hint: usize,
}

pub fn page_data<'a>(
    run: &'a StoredRun<'_>,
    end: Nanos,
    periods: &'a [Period],
    op_messages: &'a OpMessages,
    trails: &'a [Trail],
    history_txt: Option<&'a HistoryText>,
) -> PageData<'a> {
    let n = run.messages.len();
    let mut parts = Interner::default();
    let mut client: Vec<bool> = Vec::new();
    let mut types = Interner::default();
    let (mut src, mut dst, mut kind) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    // A client's home: the first server it talks to (by participant number).
    let mut home: Vec<Option<usize>> = Vec::new();
    for m in &run.messages {
        let mut part = |name: &'a Arc<str>| -> usize {
            let i = parts.get_shared(name) as usize;
            if i == client.len() {
                client.push(is_client(name));
                home.push(None);
            }
            i
        };
        let (s, d) = (part(&m.src), part(&m.dest));
        if client[s] {
            home[s].get_or_insert(d);
        } else if client[d] {
            home[d].get_or_insert(s);
        }
        src.push(s as u32);
        dst.push(d as u32);
        kind.push(types.get_shared(&m.kind));
    }
    let (lane_names, lane_of) = lanes(&parts.names, &home);
    let mut data = PageData {
        run,
        end,
        periods,
        op_messages,
        trails,
        history_txt,
        parts: parts.names,
        client,
        types: types.names,
        lane_of,
        lane_names,
        src,
        dst,
        kind,
        size_hint: 0,
    };
    data.size_hint = data.find_size_hint();
    data
}

impl PageData<'_> {
    /// The page data's JSON text.
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        self.write_json(&mut out);
        String::from_utf8(out).expect("JSON text is UTF-8")
    }

    /// Appends the page data's JSON text (UTF-8): what serde_json writes for the struct the
    /// tests keep (`SerdePageData`), compact, fields in order.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.reserve(self.size_hint());
        let json = &mut JsonOut::new(out);
        let messages = &self.run.messages;
        let pairs = self.run.pairs();
        json.raw(b"{\"end\":");
        json.u64(us(self.end));
        json.raw(if self.run.has_journal {
            b",\"journal\":true"
        } else {
            b",\"journal\":false"
        });
        json.raw(b",\"lane\":");
        json.u64_array(self.lane_of.iter().map(|&l| l as u64));
        json.raw(b",\"lanes\":");
        json.array(&self.lane_names, |j, s| j.string(s));
        json.raw(b",\"m\":{\"b\":[");
        for (i, m) in messages.iter().enumerate() {
            if i > 0 {
                json.byte(b',');
            }
            let client = self.client[self.src[i] as usize] || self.client[self.dst[i] as usize];
            json.cut_string(m.body(), if client { MAX_CLIENT_BODY } else { MAX_BODY });
        }
        json.raw(b"],\"d\":");
        json.u64_array(self.dst.iter().map(|&d| d.into()));
        json.raw(b",\"id\":");
        json.u64_array(messages.iter().map(|m| m.id));
        json.raw(b",\"s\":");
        json.u64_array(self.src.iter().map(|&s| s.into()));
        json.raw(b",\"st\":");
        json.array(messages, |j, m| {
            j.byte(match m.fate {
                Fate::Delivered(_) => b'0',
                Fate::Dropped(_) => b'1',
                Fate::InFlight => b'2',
            })
        });
        json.raw(b",\"t0\":");
        json.u64_array(messages.iter().map(|m| us(m.sent)));
        json.raw(b",\"t1\":");
        json.u64_array(messages.iter().map(|m| match m.fate {
            Fate::Delivered(t) | Fate::Dropped(t) => us(t),
            Fate::InFlight => us(self.end),
        }));
        json.raw(b",\"ty\":");
        json.u64_array(self.kind.iter().map(|&k| k.into()));
        json.byte(b'}');
        self.write_ops(json, &pairs);
        json.raw(b",\"parts\":");
        json.array(&self.parts, |j, s| j.string(s));
        json.raw(b",\"periods\":");
        json.array(self.periods, |j, p| {
            j.byte(b'[');
            j.u64((p.start * 1e6) as u64);
            j.byte(b',');
            j.u64((p.end * 1e6) as u64);
            j.byte(b',');
            j.string(&p.label);
            j.byte(b']');
        });
        json.raw(b",\"trails\":{");
        // By id (a later trail with an id already seen takes its place, as in a map).
        let by_id: BTreeMap<&str, &Trail> =
            self.trails.iter().map(|t| (t.id.as_str(), t)).collect();
        for (i, (id, t)) in by_id.into_iter().enumerate() {
            if i > 0 {
                json.byte(b',');
            }
            json.string(id);
            json.raw(b":{\"m\":");
            json.u64_array(t.messages.iter().map(|&m| m as u64));
            json.raw(b",\"o\":");
            json.u64_array(t.ops.iter().map(|&o| o as u64));
            json.raw(b",\"v\":");
            match &t.value {
                Some(v) => json.string(v),
                None => json.raw(b"null"),
            }
            json.byte(b'}');
        }
        json.raw(b"},\"types\":");
        json.array(&self.types, |j, s| j.string(s));
        json.byte(b'}');
    }

    /// The client ops as parallel arrays (`ops`).
    fn write_ops(&self, json: &mut JsonOut<'_>, pairs: &[Pair<'_>]) {
        let history_txt = self.history_txt;
        // An op's value as JSON text, cut: from history.txt when it was just written.
        let value = |j: &mut JsonOut<'_>, op: &Op| match history_txt.and_then(|h| h.value(op)) {
            Some(text) => j.cut_string(text, MAX_VALUE),
            None => j.cut_string(&json_text(&op.value.to_json()), MAX_VALUE),
        };
        let null_or = |j: &mut JsonOut<'_>, n: Option<u64>| match n {
            Some(n) => j.u64(n),
            None => j.raw(b"null"),
        };
        json.raw(b",\"ops\":{\"c\":");
        json.array(pairs, |j, p| {
            null_or(j, p.completion.map(|c| c.index as u64))
        });
        json.raw(b",\"e\":");
        json.array(pairs, |j, p| {
            let Some(c) = p.completion else {
                return j.raw(b"null");
            };
            match history_txt.and_then(|h| h.error(c)) {
                Some(Some(text)) => j.string(text),
                Some(None) => j.raw(b"null"),
                None => match &c.error {
                    Some(e) => j.string(&json_text(e)),
                    None => j.raw(b"null"),
                },
            }
        });
        json.raw(b",\"f\":");
        json.array(pairs, |j, p| j.string(&p.invoke.f));
        json.raw(b",\"fin\":");
        json.array(pairs, |j, p| {
            j.byte(if p.invoke.is_final { b'1' } else { b'0' })
        });
        json.raw(b",\"i\":");
        json.u64_array(pairs.iter().map(|p| p.invoke.index as u64));
        json.raw(b",\"m\":");
        json.array(pairs, |j, p| {
            let mine = self.op_messages.get(&p.invoke.index);
            j.u64_array(mine.into_iter().flatten().map(|&m| m as u64))
        });
        json.raw(b",\"o\":");
        json.array(pairs, |j, p| {
            j.raw(match p.outcome() {
                OpType::Ok => b"\"ok\"",
                OpType::Fail => b"\"fail\"",
                _ => b"\"info\"",
            })
        });
        json.raw(b",\"p\":");
        json.array(pairs, |j, p| match p.invoke.process {
            Process::Client(n) => {
                j.byte(b'"');
                j.u64(n);
                j.byte(b'"');
            }
            Process::Nemesis(_) => j.raw(b"\"nemesis\""),
        });
        json.raw(b",\"r\":");
        let mut last_cut = ShownSet::default();
        json.array(pairs, |j, p| match p.completion {
            Some(c) => match self.run.history.int_set(c) {
                Some(set) => last_cut.write(j, set, MAX_VALUE),
                None => value(j, c),
            },
            None => j.raw(b"null"),
        });
        json.raw(b",\"t0\":");
        json.u64_array(pairs.iter().map(|p| us(p.invoke.time)));
        json.raw(b",\"t1\":");
        json.array(pairs, |j, p| null_or(j, p.completion.map(|c| us(c.time))));
        json.raw(b",\"v\":");
        json.array(pairs, |j, p| value(j, p.invoke));
        json.byte(b'}');
    }

    /// About the length of the JSON text (reserved at once, so that the page is not copied as
    /// it grows).
    pub fn size_hint(&self) -> usize {
        self.size_hint
    }

    fn find_size_hint(&self) -> usize {
        let bodies: usize = (self.run.messages.iter().zip(&self.src).zip(&self.dst))
            .map(|((m, &s), &d)| {
                let client = self.client[s as usize] || self.client[d as usize];
                let max = if client { MAX_CLIENT_BODY } else { MAX_BODY };
                m.body().len().min(max + 24) * 9 / 8 + 48
            })
            .sum();
        bodies + self.run.history.ops.len() * 128 + 4096
    }
}

/// Appends `s` as a JSON string, escaped exactly as serde_json escapes it (see
/// [`JsonOut::escaped`]).
pub fn push_json_string(out: &mut Vec<u8>, s: &str) {
    JsonOut::new(out).string(s);
}

#[cfg(test)]
mod tests;
