//! The history of a test: every client operation's invocation and completion, plus nemesis
//! operations, in the order they happened. Checkers read it; `history.jsonl` stores it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Write;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Test time in nanoseconds since the test started (virtual time in the simulator).
pub type Nanos = u64;

pub const NANOS_PER_MS: Nanos = 1_000_000;
pub const NANOS_PER_SEC: Nanos = 1_000_000_000;

/// Jepsen's op types: an invocation, then exactly one of ok / fail / info (or nothing, when the
/// test ended while the op was still outstanding, which counts as info).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    Invoke,
    /// Certainly happened.
    Ok,
    /// Certainly did not happen.
    Fail,
    /// Indeterminate: may or may not have happened.
    Info,
}

/// Who performed an op: a client worker's process number (Jepsen gives a worker a new process
/// number after every indeterminate result) or the nemesis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Process {
    Client(u64),
    Nemesis(NemesisTag),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NemesisTag {
    Nemesis,
}

impl Process {
    pub const NEMESIS: Process = Process::Nemesis(NemesisTag::Nemesis);

    pub fn is_client(self) -> bool {
        matches!(self, Process::Client(_))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Op {
    pub index: usize,
    pub time: Nanos,
    #[serde(rename = "type")]
    pub kind: OpType,
    pub process: Process,
    pub f: String,
    pub value: Value,
    /// The error of a failed or indeterminate op: `"net-timeout"`, `["name", "text"]`, or a
    /// description of a malformed response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// Set on the final phase's ops (Maelstrom's `:final? true`).
    #[serde(default, rename = "final", skip_serializing_if = "std::ops::Not::not")]
    pub is_final: bool,
}

impl Op {
    pub fn is_client(&self) -> bool {
        self.process.is_client()
    }
}

/// An invocation paired with its completion (None if it never completed).
#[derive(Clone, Copy, Debug)]
pub struct Pair<'a> {
    pub invoke: &'a Op,
    pub completion: Option<&'a Op>,
}

impl Pair<'_> {
    /// The outcome, treating a missing completion as info.
    pub fn outcome(&self) -> OpType {
        self.completion.map_or(OpType::Info, |c| c.kind)
    }

    /// Latency in nanoseconds, if the op completed.
    pub fn latency(&self) -> Option<Nanos> {
        self.completion.map(|c| c.time - self.invoke.time)
    }
}

#[derive(Clone, Debug, Default)]
pub struct History {
    pub ops: Vec<Op>,
    /// The function whose ok completions are kept as [`IntSet`]s (see
    /// [`History::keep_reads_as_sets`]).
    set_reads_of: Option<&'static str>,
    /// Op index → its value, for the completions kept as sets; the op's own `value` is then
    /// null. Read it through [`History::value`] or [`History::int_set`].
    sets: IndexMap<IntSet>,
    /// Invocation index → the client messages the op sent (see [`OpRequests`]).
    requests: IndexMap<OpRequests>,
}

/// A map keyed by op index (looked up for every op written or checked).
type IndexMap<V> = HashMap<usize, V, BuildHasherDefault<SmallKeyHasher>>;

/// Hashes the history's small integer keys (op indices, process numbers) with a multiply
/// (as rustc's FxHash does): SipHash's defence against chosen keys buys nothing here, and
/// the maps are looked up for every op.
#[derive(Clone, Copy, Default)]
pub struct SmallKeyHasher(u64);

impl Hasher for SmallKeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// Which client sent an op's requests and their `msg_id`s, in order (a kafka op may take
/// several): stored on the invocation's line of `history.jsonl` as `client` and `msg_ids`.
/// With them the journal's messages of an op are found exactly: its requests are the client's
/// messages with those `msg_id`s, its replies those with that `in_reply_to`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpRequests {
    pub client: String,
    pub msg_ids: Vec<u64>,
}

impl History {
    /// Builds a history from ops whose indices are already set (a stored history).
    pub fn from_ops(ops: Vec<Op>) -> History {
        History {
            ops,
            ..History::default()
        }
    }

    /// From now on, ok completions of `f` whose value is an array of non-negative integers are
    /// kept as an [`IntSet`] (sorted ranges) instead of a JSON array. A broadcast read returns
    /// the whole set, so a long run holds thousands of reads of thousands of values: as JSON
    /// that grows quadratically (32 bytes per value per read), as ranges it is a few words per
    /// read. Only for workloads whose checker treats a read as a set (order and duplicates do
    /// not matter): `history.jsonl` then lists such a read in ascending order without
    /// duplicates (`messages.jsonl` keeps the node's reply as sent).
    pub fn keep_reads_as_sets(&mut self, f: &'static str) {
        self.set_reads_of = Some(f);
    }

    /// Appends an op, assigning its index.
    pub fn push(&mut self, mut op: Op) -> usize {
        let index = self.ops.len();
        op.index = index;
        if op.kind == OpType::Ok && self.set_reads_of == Some(op.f.as_str()) {
            if let Some(set) = op.value.as_array().and_then(|a| IntSet::from_values(a)) {
                op.value = Value::Null;
                self.sets.insert(index, set);
            }
        }
        self.ops.push(op);
        index
    }

    /// Appends an ok read whose value is already a set (see [`History::keep_reads_as_sets`]),
    /// assigning its index; the op's own value is then null.
    pub fn push_set(&mut self, mut op: Op, set: IntSet) -> usize {
        let index = self.ops.len();
        op.index = index;
        op.value = Value::Null;
        self.sets.insert(index, set);
        self.ops.push(op);
        index
    }

    /// Records a request sent for the op invoked at history index `invoke`.
    pub fn note_request(&mut self, invoke: usize, client: &str, msg_id: u64) {
        let entry = self.requests.entry(invoke).or_default();
        if entry.client.is_empty() {
            entry.client = client.to_owned();
        }
        entry.msg_ids.push(msg_id);
    }

    /// The requests of the op invoked at history index `invoke`, if they were recorded (a
    /// hand-written or older history has none).
    pub fn requests(&self, invoke: usize) -> Option<&OpRequests> {
        self.requests.get(&invoke)
    }

    /// The op's value as JSON (a read kept as a set is expanded).
    pub fn value<'a>(&'a self, op: &'a Op) -> Cow<'a, Value> {
        match self.sets.get(&op.index) {
            Some(set) => Cow::Owned(set.to_value()),
            None => Cow::Borrowed(&op.value),
        }
    }

    /// The set an op's value was kept as, if it was (see [`History::keep_reads_as_sets`]).
    pub fn int_set(&self, op: &Op) -> Option<&IntSet> {
        self.sets.get(&op.index)
    }

    /// Client ops only (the nemesis's are left out).
    pub fn client_ops(&self) -> impl Iterator<Item = &Op> {
        self.ops.iter().filter(|op| op.is_client())
    }

    /// Every client invocation with its completion, in invocation order.
    pub fn pairs(&self) -> Vec<Pair<'_>> {
        let mut open: HashMap<Process, usize, BuildHasherDefault<SmallKeyHasher>> =
            HashMap::default();
        let mut pairs: Vec<Pair<'_>> = Vec::new();
        for op in self.client_ops() {
            if op.kind == OpType::Invoke {
                open.insert(op.process, pairs.len());
                pairs.push(Pair {
                    invoke: op,
                    completion: None,
                });
            } else if let Some(i) = open.remove(&op.process) {
                pairs[i].completion = Some(op);
            }
        }
        pairs
    }

    /// Number of client invocations (Maelstrom's denominator for msgs-per-op).
    pub fn invocation_count(&self) -> usize {
        self.client_ops()
            .filter(|op| op.kind == OpType::Invoke)
            .count()
    }

    /// Writes the history as JSON lines, one op per line, streaming (never the whole file in
    /// memory).
    ///
    /// A line is what serde_json writes for the [`Op`] (its fields in order, `error` and
    /// `final` only when set), followed by the invocation's `client` and `msg_ids` when it has
    /// them ([`OpRequests`]); a read kept as a set is written as its ascending array. The
    /// fixed fields and the integers are written by hand: through serde, a broadcast run's
    /// reads (hundreds of thousands of integers) cost more than the rest of the store.
    pub fn write_jsonl(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut line = Vec::with_capacity(1024);
        let mut counting = Counting::default();
        for op in &self.ops {
            line.clear();
            self.write_line(op, &mut line, &mut counting)?;
            out.write_all(&line)?;
        }
        out.flush()
    }

    /// One line of [`History::write_jsonl`], with its newline.
    fn write_line(
        &self,
        op: &Op,
        line: &mut Vec<u8>,
        counting: &mut Counting,
    ) -> serde_json::Result<()> {
        line.extend_from_slice(b"{\"index\":");
        push_u64(line, op.index as u64);
        line.extend_from_slice(b",\"time\":");
        push_u64(line, op.time);
        line.extend_from_slice(match op.kind {
            OpType::Invoke => b",\"type\":\"invoke\",\"process\":",
            OpType::Ok => b",\"type\":\"ok\",\"process\":",
            OpType::Fail => b",\"type\":\"fail\",\"process\":",
            OpType::Info => b",\"type\":\"info\",\"process\":",
        });
        match op.process {
            Process::Client(n) => push_u64(line, n),
            Process::Nemesis(NemesisTag::Nemesis) => line.extend_from_slice(b"\"nemesis\""),
        }
        line.extend_from_slice(b",\"f\":");
        serde_json::to_writer(&mut *line, &op.f)?;
        line.extend_from_slice(b",\"value\":");
        match self.sets.get(&op.index) {
            Some(set) => set.write_json_counting(line, counting),
            None => serde_json::to_writer(&mut *line, &op.value)?,
        }
        if let Some(error) = &op.error {
            line.extend_from_slice(b",\"error\":");
            serde_json::to_writer(&mut *line, error)?;
        }
        if op.is_final {
            line.extend_from_slice(b",\"final\":true");
        }
        if let Some(requests) = self.requests.get(&op.index) {
            line.extend_from_slice(b",\"client\":");
            serde_json::to_writer(&mut *line, &requests.client)?;
            line.extend_from_slice(b",\"msg_ids\":[");
            for (i, &id) in requests.msg_ids.iter().enumerate() {
                if i > 0 {
                    line.push(b',');
                }
                push_u64(line, id);
            }
            line.push(b']');
        }
        line.extend_from_slice(b"}\n");
        Ok(())
    }

    /// The history as JSON lines in one string (tests and small histories).
    pub fn to_jsonl(&self) -> String {
        let mut out = Vec::new();
        self.write_jsonl(&mut out).expect("writing to memory");
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    pub fn from_jsonl(text: &str) -> anyhow::Result<History> {
        let mut ops: Vec<Op> = Vec::new();
        let mut requests = IndexMap::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let op: Op = serde_json::from_str(line)
                .map_err(|e| anyhow::anyhow!("history line {}: {e}", i + 1))?;
            // Only invocation lines carry requests, and they are short: read them again.
            if line.contains("\"msg_ids\"") {
                if let Ok(r) = serde_json::from_str::<OpRequests>(line) {
                    requests.insert(op.index, r);
                }
            }
            ops.push(op);
        }
        Ok(History {
            requests,
            ..History::from_ops(ops)
        })
    }
}

/// Appends the decimal digits of `n` (what serde_json writes for an integer).
fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

impl Serialize for IntSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// A set of non-negative integers as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntSet {
    ranges: Vec<(u64, u64)>,
}

impl IntSet {
    /// The set of `values`, or None when one of them is not a non-negative integer.
    pub fn from_values(values: &[Value]) -> Option<IntSet> {
        // Nodes mostly answer in ascending order: then the ranges are built in one pass,
        // without sorting a copy.
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for value in values {
            let i = value.as_u64()?;
            match ranges.last_mut() {
                Some((_, hi)) if i == hi.saturating_add(1) => *hi = i,
                Some((_, hi)) if i <= *hi => return IntSet::from_unsorted(values),
                _ => ranges.push((i, i)),
            }
        }
        ranges.shrink_to_fit();
        Some(IntSet { ranges })
    }

    fn from_unsorted(values: &[Value]) -> Option<IntSet> {
        let mut ints: Vec<u64> = values.iter().map(Value::as_u64).collect::<Option<_>>()?;
        ints.sort_unstable();
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for i in ints {
            match ranges.last_mut() {
                Some((_, hi)) if i <= hi.saturating_add(1) => *hi = (*hi).max(i),
                _ => ranges.push((i, i)),
            }
        }
        ranges.shrink_to_fit();
        Some(IntSet { ranges })
    }

    /// The set of `ranges` (inclusive) when they are as [`IntSet::ranges`] gives them:
    /// ascending, disjoint and non-adjacent; `None` otherwise.
    pub fn from_ranges(ranges: Vec<(u64, u64)>) -> Option<IntSet> {
        let ok = ranges.iter().all(|&(lo, hi)| lo <= hi)
            && ranges.windows(2).all(|w| w[1].0 > w[0].1.saturating_add(1));
        ok.then_some(IntSet { ranges })
    }

    /// Builds a set from integers pushed in any order (ascending is the fast case).
    pub fn builder() -> IntSetBuilder {
        IntSetBuilder::default()
    }

    /// The members, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.ranges.iter().flat_map(|&(lo, hi)| lo..=hi)
    }

    /// The members as sorted, disjoint, non-adjacent inclusive ranges `(lo, hi)`.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    /// Appends the members as a JSON array, ascending, as serde_json writes it.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        self.write_json_counting(out, &mut Counting::default());
    }

    /// [`IntSet::write_json`], taking each range's text from `counting` when it can (the sets
    /// of one history are written with one [`Counting`]).
    fn write_json_counting(&self, out: &mut Vec<u8>, counting: &mut Counting) {
        out.push(b'[');
        for (i, &(lo, hi)) in self.ranges.iter().enumerate() {
            match counting.range(lo, hi) {
                Some(text) => {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(text);
                }
                None => push_ascending(out, lo, hi, i == 0),
            }
        }
        out.push(b']');
    }

    /// The members as a JSON array, ascending.
    pub fn to_value(&self) -> Value {
        Value::Array(self.iter().map(Value::from).collect())
    }
}

/// The text `0,1,2,…` grown as far as it is needed: the text of any range `lo..=hi` below
/// [`Counting::MAX`] is one slice of it, copied at once (a broadcast history's reads are long
/// runs of consecutive integers, written again in every read).
#[derive(Default)]
struct Counting {
    text: Vec<u8>,
    /// The first integer not in `text` yet.
    next: u64,
}

impl Counting {
    /// Integers from here on are written digit by digit (the text up to here is ~8 MB).
    const MAX: u64 = 1 << 20;

    /// The text of `lo..=hi`, or None when `hi` is too large to be counted up to.
    fn range(&mut self, lo: u64, hi: u64) -> Option<&[u8]> {
        if hi >= Counting::MAX {
            return None;
        }
        if self.next <= hi {
            push_ascending(&mut self.text, self.next, hi, self.next == 0);
            self.next = hi + 1;
        }
        let (start, end) = (Counting::offset(lo), Counting::offset(hi + 1) - 1);
        Some(&self.text[start..end])
    }

    /// Where `n` starts in the text: each integer takes its digits and a comma.
    fn offset(n: u64) -> usize {
        let (mut offset, mut first, mut width) = (0u64, 0u64, 1u64);
        let mut limit = 10u64;
        while n >= limit {
            offset += (limit - first) * (width + 1);
            first = limit;
            limit *= 10;
            width += 1;
        }
        (offset + (n - first) * (width + 1)) as usize
    }
}

/// Appends `lo..=hi` as comma-separated decimals (a leading comma unless `first`), counting
/// in the text itself: consecutive integers mostly differ in their last digit.
fn push_ascending(out: &mut Vec<u8>, lo: u64, hi: u64, first: bool) {
    let mut digits = itoa::Buffer::new();
    let mut text: Vec<u8> = digits.format(lo).as_bytes().to_vec();
    let mut n = lo;
    loop {
        if !(first && n == lo) {
            out.push(b',');
        }
        out.extend_from_slice(&text);
        if n == hi {
            return;
        }
        n += 1;
        // Increment the decimal text: trailing 9s become 0s, a carry past the first digit
        // adds one.
        let mut i = text.len();
        loop {
            if i == 0 {
                text.insert(0, b'1');
                break;
            }
            i -= 1;
            if text[i] == b'9' {
                text[i] = b'0';
            } else {
                text[i] += 1;
                break;
            }
        }
    }
}

/// An [`IntSet`] being built (see [`IntSet::builder`]).
#[derive(Debug, Default)]
pub struct IntSetBuilder {
    ranges: Vec<(u64, u64)>,
    /// Members that came after a larger one, merged in at the end.
    out_of_order: Vec<u64>,
}

impl IntSetBuilder {
    #[inline]
    pub fn push(&mut self, i: u64) {
        match self.ranges.last_mut() {
            Some((_, hi)) if i == hi.saturating_add(1) => *hi = i,
            Some((_, hi)) if i <= *hi => self.out_of_order.push(i),
            _ => self.ranges.push((i, i)),
        }
    }

    /// Pushes `lo, lo + 1, ..., hi` (`lo <= hi`), as many [`IntSetBuilder::push`]es would.
    #[inline]
    pub fn push_range(&mut self, lo: u64, hi: u64) {
        match self.ranges.last().map(|&(_, last)| last) {
            Some(last) if lo == last.saturating_add(1) => {
                if let Some((_, last)) = self.ranges.last_mut() {
                    *last = hi;
                }
            }
            Some(last) if lo <= last => (lo..=hi).for_each(|i| self.push(i)),
            _ => self.ranges.push((lo, hi)),
        }
    }

    pub fn finish(mut self) -> IntSet {
        if !self.out_of_order.is_empty() {
            let mut all: Vec<(u64, u64)> = self.ranges;
            all.extend(self.out_of_order.iter().map(|&i| (i, i)));
            all.sort_unstable();
            self.ranges = Vec::with_capacity(all.len());
            for (lo, hi) in all {
                match self.ranges.last_mut() {
                    Some((_, last)) if lo <= last.saturating_add(1) => *last = (*last).max(hi),
                    _ => self.ranges.push((lo, hi)),
                }
            }
        }
        self.ranges.shrink_to_fit();
        IntSet {
            ranges: self.ranges,
        }
    }
}

/// Helpers for building histories in checker tests.
#[cfg(test)]
pub mod build {
    use super::*;

    pub fn op(process: u64, kind: OpType, f: &str, value: Value, time_ms: u64) -> Op {
        Op {
            index: 0,
            time: time_ms * NANOS_PER_MS,
            kind,
            process: Process::Client(process),
            f: f.to_string(),
            value,
            error: None,
            is_final: false,
        }
    }

    pub fn history(ops: Vec<Op>) -> History {
        let mut h = History::default();
        for op in ops {
            h.push(op);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pushed_range_is_its_members_pushed() {
        let pushes = [
            vec![(3, 5)],
            vec![(3, 5), (6, 9)],
            vec![(3, 5), (8, 9), (1, 2)],
            vec![(3, 5), (4, 7), (2, 2)],
            vec![(3, 5), (5, 5), (20, 30), (10, 25)],
            vec![(u64::MAX - 1, u64::MAX), (u64::MAX, u64::MAX)],
        ];
        for ranges in pushes {
            let (mut by_range, mut by_member) = (IntSet::builder(), IntSet::builder());
            for &(lo, hi) in &ranges {
                by_range.push_range(lo, hi);
                (lo..=hi).for_each(|i| by_member.push(i));
            }
            assert_eq!(by_range.finish(), by_member.finish(), "{ranges:?}");
        }
    }
    use serde_json::json;

    fn set(values: Value) -> IntSet {
        IntSet::from_values(values.as_array().unwrap()).unwrap()
    }

    #[test]
    fn an_int_set_is_the_same_whatever_the_order_of_its_values() {
        let sorted = set(json!([1, 2, 3, 7, 9, 10]));
        assert_eq!(set(json!([10, 9, 7, 3, 2, 1, 2])), sorted);
        assert_eq!(set(json!([1, 2, 3, 7, 7, 9, 10])), sorted);
        assert_eq!(sorted.iter().collect::<Vec<_>>(), vec![1, 2, 3, 7, 9, 10]);
        assert_eq!(IntSet::from_values(&[json!(1), json!(-1)]), None);
        assert_eq!(IntSet::from_values(&[json!(1), json!("a")]), None);
    }

    #[test]
    fn a_read_kept_as_a_set_is_written_as_its_ascending_array() {
        let op = |value: Value| Op {
            index: 0,
            time: 5,
            kind: OpType::Ok,
            process: Process::Client(3),
            f: "read".into(),
            value,
            error: None,
            is_final: true,
        };
        let mut kept = History::default();
        kept.keep_reads_as_sets("read");
        kept.push(op(json!([4, 2, 3])));
        assert!(kept.int_set(&kept.ops[0]).is_some());
        let mut plain = History::default();
        plain.push(op(json!([2, 3, 4])));
        assert_eq!(kept.to_jsonl(), plain.to_jsonl());
    }

    /// The line serde_json writes for an op (with its requests flattened in), or for an op
    /// whose value was kept as a set: what `write_jsonl` writes by hand.
    fn serde_line(h: &History, op: &Op) -> String {
        #[derive(Serialize)]
        struct StoredOp<'a> {
            #[serde(flatten)]
            op: &'a Op,
            #[serde(flatten)]
            requests: Option<&'a OpRequests>,
        }
        let mut op = op.clone();
        if let Some(set) = h.int_set(&op) {
            op.value = set.to_value();
        }
        let requests = h.requests(op.index);
        serde_json::to_string(&StoredOp { op: &op, requests }).unwrap() + "\n"
    }

    #[test]
    fn lines_are_written_as_serde_writes_them() {
        let mut h = History::default();
        h.keep_reads_as_sets("read");
        let op = |process, kind, f: &str, value, error, is_final| Op {
            index: 0,
            time: 1_234_567_890_123,
            kind,
            process,
            f: f.into(),
            value,
            error,
            is_final,
        };
        let invoke = h.push(op(
            Process::Client(7),
            OpType::Invoke,
            "read",
            Value::Null,
            None,
            false,
        ));
        h.note_request(invoke, "c\"3", 41);
        h.note_request(invoke, "c\"3", 42);
        let ranges = json!([
            0,
            1,
            2,
            8,
            9,
            10,
            11,
            98,
            99,
            100,
            101,
            999,
            1000,
            9999,
            10000,
            u64::MAX
        ]);
        h.push(op(
            Process::Client(7),
            OpType::Ok,
            "read",
            ranges,
            None,
            true,
        ));
        h.push(op(
            Process::Client(8),
            OpType::Ok,
            "read",
            json!([]),
            None,
            false,
        ));
        h.push(op(
            Process::Client(8),
            OpType::Ok,
            "read",
            json!([5]),
            None,
            false,
        ));
        h.push(op(
            Process::Client(0),
            OpType::Invoke,
            "add",
            json!(2.5),
            None,
            false,
        ));
        h.push(op(
            Process::Client(0),
            OpType::Fail,
            "txn\u{e9}\n",
            json!({"b": [1, -2, null, "x\u{1}"], "a": true}),
            Some(json!(["name", "text"])),
            false,
        ));
        h.push(op(
            Process::Client(1),
            OpType::Info,
            "add",
            json!(-3),
            Some(json!("net-timeout")),
            true,
        ));
        h.push(op(
            Process::NEMESIS,
            OpType::Info,
            "start-partition",
            json!({"n0": ["n1"]}),
            None,
            false,
        ));
        let expected: String = h.ops.iter().map(|op| serde_line(&h, op)).collect();
        assert_eq!(h.to_jsonl(), expected);
        assert!(h.int_set(&h.ops[1]).is_some());
    }

    #[test]
    fn ranges_are_cut_from_the_counting_text() {
        let mut counting = Counting::default();
        for (lo, hi) in [
            (5, 12),
            (0, 0),
            (0, 1),
            (99, 101),
            (3, 3),
            (998, 1_200),
            (0, 15),
        ] {
            let expected: Vec<String> = (lo..=hi).map(|n| n.to_string()).collect();
            let text = counting.range(lo, hi).unwrap();
            assert_eq!(std::str::from_utf8(text).unwrap(), expected.join(","));
        }
        assert!(counting.range(1, Counting::MAX).is_none());
        let set = IntSet {
            ranges: vec![(1, 3), (7, 7), (Counting::MAX - 1, Counting::MAX + 1)],
        };
        let mut text = Vec::new();
        set.write_json_counting(&mut text, &mut counting);
        assert_eq!(
            String::from_utf8(text).unwrap(),
            serde_json::to_string(&set.iter().collect::<Vec<_>>()).unwrap()
        );
    }

    #[test]
    fn ranges_are_written_digit_by_digit_as_itoa_would() {
        for (lo, hi) in [
            (0, 0),
            (0, 1205),
            (8, 12),
            (99_990, 100_011),
            (u64::MAX - 3, u64::MAX),
        ] {
            let mut text = Vec::new();
            push_ascending(&mut text, lo, hi, true);
            let expected: Vec<String> = (lo..=hi).map(|n| n.to_string()).collect();
            assert_eq!(String::from_utf8(text).unwrap(), expected.join(","));
        }
    }
}
