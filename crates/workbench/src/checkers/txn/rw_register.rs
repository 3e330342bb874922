//! rw-register: version orders inferred as Elle does (the initial nil before every write, a
//! transaction's read before its own write of the same key), plus our final reads: after the
//! main phase every key is read once more, and the value it ends with was written after every
//! other write of that key. From those orders: ww, wr and rw dependencies.
//!
//! These three are all we infer, because each holds for every correct node, even a
//! read-uncommitted, totally available one (a converged replica holds the last installed
//! version). Real-time order, process order and the order reads observed values are not
//! inferred: such a node may install a later write as the older version, and its reads may
//! return any version. G0 thus shows where final values cross: two transactions that each
//! wrote a key whose final value the other wrote.

use std::collections::BTreeSet;

use super::graph::{Graph, RW, WR, WW};
use super::models::needs_anti_dependencies;
use super::txns::{Mop, Outcome, Txns, NIL};
use super::{show, Found};
use crate::checkers::fast_hash::FastMap;

/// One write of a key: the value, the transaction, and whether it is the transaction's last
/// write of the key (its external write).
#[derive(Clone, Copy)]
struct Write {
    key: i64,
    value: i64,
    txn: u32,
    last: bool,
}

/// A transaction's first access of a key, when it is a read (an external read), and the
/// value the transaction wrote to the key afterwards, if any.
#[derive(Clone, Copy)]
struct ExtRead {
    key: i64,
    value: i64,
    txn: u32,
    /// Whether `written` holds a value (an `Option<i64>` would make this 40 bytes, not 32).
    wrote: bool,
    written: i64,
}

impl ExtRead {
    fn then_wrote(&self) -> Option<i64> {
        self.wrote.then_some(self.written)
    }
}

/// Finds the non-cyclic anomalies into `found` and returns the dependency graph.
///
/// Everything is joined by sorting and merging on `(key, value)`, not by hashing: the
/// history's writes and reads are each sorted once and walked side by side.
pub fn analyze(txns: &Txns, prohibited: &BTreeSet<&str>, found: &mut Vec<Found>) -> Graph {
    let mut writes: Vec<Write> = Vec::with_capacity(txns.mops.len());
    let mut ext_reads: Vec<ExtRead> = Vec::with_capacity(txns.mops.len());
    // (key, value, reader) read in the final phase.
    let mut finals: Vec<(i64, i64)> = Vec::new();
    // Per key of the current transaction: the value it knows, and its external read's index.
    let mut known = Known::default();
    for (t, txn) in txns.txns.iter().enumerate() {
        let mops = txns.mops(t);
        for (i, mop) in mops.iter().enumerate() {
            if let Mop::Write(k, v) = *mop {
                let last = !mops[i + 1..]
                    .iter()
                    .any(|m| matches!(m, Mop::Write(k2, _) if *k2 == k));
                writes.push(Write {
                    key: k,
                    value: v,
                    txn: t as u32,
                    last,
                });
            }
        }
        if txn.outcome != Outcome::Ok {
            continue;
        }
        // Internal consistency and external reads.
        known.clear();
        for mop in mops {
            match *mop {
                Mop::Read(k, v) => match known.find(k) {
                    Some(entry) => {
                        if entry.1 != v {
                            found.push(Found::new(
                                "internal",
                                format!(
                                    "T{} read k{k}={} after it had written or read k{k}={}",
                                    txn.id,
                                    show(v),
                                    show(entry.1)
                                ),
                                vec![txn.id],
                            ));
                        }
                        entry.1 = v;
                    }
                    None => {
                        known.push(k, v, ext_reads.len());
                        ext_reads.push(ExtRead {
                            key: k,
                            value: v,
                            txn: t as u32,
                            wrote: false,
                            written: 0,
                        });
                        if txn.is_final && v != NIL {
                            finals.push((k, v));
                        }
                    }
                },
                Mop::Write(k, v) => match known.find(k) {
                    Some(entry) => {
                        entry.1 = v;
                        if entry.2 != usize::MAX {
                            let read = &mut ext_reads[entry.2];
                            read.wrote = true;
                            read.written = v;
                        }
                    }
                    None => known.push(k, v, usize::MAX),
                },
                Mop::ReadList(..) => {}
            }
        }
    }
    // Values are unique per key: the first write of a value is its writer.
    // Both lists are in transaction order, so a stable sort by (key, value) orders them by
    // (key, value, transaction).
    sort_by_key_and_value(&mut writes, |w| (w.key, w.value));
    writes.dedup_by_key(|w| (w.key, w.value));
    sort_by_key_and_value(&mut ext_reads, |r| (r.key, r.value));
    // Only anti-dependencies need the versions after nil (cycles of versions ignore nil).
    let want_rw = needs_anti_dependencies(prohibited);
    let txn_of = |t: u32| &txns.txns[t as usize];
    let counts = |t: u32| txn_of(t).outcome != Outcome::Fail;

    // Every external read gives at most a wr and a ww edge, every write at most one ww edge
    // (to the final value) and one rw edge per reader of its version.
    let mut graph = Graph::with_capacity(txns.txns.len(), 2 * ext_reads.len() + writes.len());
    // (key, earlier, later, writer of later): version orders, for cyclic versions and rw.
    let mut versions: Vec<(i64, i64, i64, u32)> =
        Vec::with_capacity(2 * writes.len() + ext_reads.len() / 4);
    // Reads against their writers, in one merge: wr edges, and ww edges where the reader
    // wrote the key after reading it (writes follow reads).
    let mut j = 0;
    for r in &ext_reads {
        if let Some(after) = r.then_wrote().filter(|after| *after != r.value) {
            versions.push((r.key, r.value, after, r.txn));
        }
        if r.value == NIL {
            continue;
        }
        while j < writes.len() && (writes[j].key, writes[j].value) < (r.key, r.value) {
            j += 1;
        }
        let reader = txn_of(r.txn).id;
        let (k, v) = (r.key, r.value);
        let Some(w) = writes
            .get(j)
            .filter(|w| (w.key, w.value) == (k, v))
            .copied()
        else {
            found.push(Found::new(
                "garbage-read",
                format!("T{reader} read k{k}={v}, a value no transaction wrote"),
                vec![reader],
            ));
            continue;
        };
        let writer = txn_of(w.txn).id;
        if w.txn == r.txn {
            found.push(Found::new(
                "future-read",
                format!("T{reader} read k{k}={v} before it wrote it itself"),
                vec![reader],
            ));
        } else if !counts(w.txn) {
            found.push(Found::new(
                "G1a",
                format!(
                    "T{reader} read k{k}={v}, written by T{writer}, which failed (aborted read)"
                ),
                vec![writer, reader],
            ));
        } else {
            if !w.last {
                found.push(Found::new(
                    "G1b",
                    format!(
                        "T{reader} read k{k}={v}, an intermediate write of T{writer}, which wrote k{k} again later (intermediate read)"
                    ),
                    vec![writer, reader],
                ));
            }
            graph.add(w.txn, r.txn, WR, k, v, v);
            if let Some(after) = r.then_wrote().filter(|after| *after != v) {
                graph.add(w.txn, r.txn, WW, k, v, after);
            }
        }
    }
    // Nil before every external write; the final value after every other one.
    let from_reads = versions.len();
    writes.retain(|w| w.last && counts(w.txn));
    // (A stable sort of pairs sorts them fully, as `sort_unstable` would, for less.)
    sort_by_key_and_value(&mut finals, |&f| f);
    finals.dedup();
    let mut f = 0;
    let mut i = 0;
    while i < writes.len() {
        let key = writes[i].key;
        let end = i + writes[i..].iter().take_while(|w| w.key == key).count();
        let group = &writes[i..end];
        i = end;
        if want_rw {
            for w in group {
                versions.push((key, NIL, w.value, w.txn));
            }
        }
        while f < finals.len() && finals[f].0 < key {
            f += 1;
        }
        while f < finals.len() && finals[f].0 == key {
            let last = finals[f].1;
            f += 1;
            let Ok(at) = group.binary_search_by_key(&last, |w| w.value) else {
                continue;
            };
            let last_writer = group[at].txn;
            for w in group.iter().filter(|w| w.value != last) {
                versions.push((key, w.value, last, last_writer));
                graph.add(w.txn, last_writer, WW, key, w.value, last);
            }
        }
    }
    sort_two_key_runs(&mut versions, from_reads);
    versions.dedup();
    cyclic_versions(&versions, found);

    if want_rw {
        // Each reader of a version anti-depends on the writers of the versions after it.
        let mut r = 0;
        for &(k, a, b, wb) in &versions {
            while r < ext_reads.len() && (ext_reads[r].key, ext_reads[r].value) < (k, a) {
                r += 1;
            }
            for reader in ext_reads[r..]
                .iter()
                .take_while(|x| (x.key, x.value) == (k, a))
            {
                graph.add(reader.txn, wb, RW, k, a, b);
            }
        }
    }
    graph
}

/// The keys a transaction has read or written so far, each with the value it knows and its
/// external read's index (`usize::MAX`: none). Mostly a few keys, but the final reads' 64
/// would make a search of the list quadratic: small keys also find their entry by a table.
#[derive(Default)]
struct Known {
    entries: Vec<(i64, i64, usize)>,
    /// Indexed by key (below [`Known::TABLE`]): where its entry may be in `entries`; it is
    /// there if that entry has the key (never cleared: entries of an earlier transaction
    /// are gone or hold another key).
    at: Vec<u32>,
}

impl Known {
    const TABLE: i64 = 1 << 16;

    fn clear(&mut self) {
        self.entries.clear();
    }

    #[inline]
    fn find(&mut self, k: i64) -> Option<&mut (i64, i64, usize)> {
        if (0..Self::TABLE).contains(&k) {
            let at = *self.at.get(k as usize)? as usize;
            return self.entries.get_mut(at).filter(|e| e.0 == k);
        }
        self.entries.iter_mut().find(|e| e.0 == k)
    }

    /// Adds a key [`Known::find`] did not find.
    #[inline]
    fn push(&mut self, k: i64, value: i64, read: usize) {
        if (0..Self::TABLE).contains(&k) {
            let i = k as usize;
            if i >= self.at.len() {
                self.at.resize(i + 1, u32::MAX);
            }
            self.at[i] = self.entries.len() as u32;
        }
        self.entries.push((k, value, read));
    }
}

/// A stable sort by `(key, value)`, faster than a comparison sort for the histories
/// generators make: a counting sort into one bucket per key, then a stable sort of each
/// bucket by value, whose values come mostly in increasing order already (a sort of few runs).
fn sort_by_key_and_value<T: Copy>(items: &mut Vec<T>, of: impl Fn(&T) -> (i64, i64)) {
    if sort_dense_keys(items, &of) {
        return;
    }
    // Keys spread out (dense ones took the counting sort): a map numbers their buckets.
    let mut bucket_of: FastMap<i64, u32> = FastMap::default();
    let mut keys: Vec<(i64, usize)> = Vec::new();
    let mut bucket_of_item: Vec<u32> = Vec::with_capacity(items.len());
    for item in items.iter() {
        let key = of(item).0;
        let next = keys.len() as u32;
        let b = *bucket_of.entry(key).or_insert(next);
        if b == next {
            keys.push((key, 0));
        }
        keys[b as usize].1 += 1;
        bucket_of_item.push(b);
    }
    // Bucket starts, in key order.
    let order = buckets_by_key(&keys);
    let mut start = vec![0usize; keys.len()];
    let mut at = 0;
    for &b in &order {
        start[b as usize] = at;
        at += keys[b as usize].1;
    }
    let buckets = bucket_of_item.iter().map(|&b| b as usize);
    // SAFETY: `start` holds where each bucket begins, by the counts of `bucket_of_item`'s
    // buckets, laid end to end in `order`: together they cover `0..items.len()` once.
    *items = unsafe { scatter(items, buckets, start.clone()) };
    for &b in &order {
        let range = start[b as usize]..start[b as usize] + keys[b as usize].1;
        items[range].sort_by_key(|item| of(item).1);
    }
}

/// [`sort_by_key_and_value`] when the keys span not much more values than there are items
/// (the generators' keys are 0, 1, 2, ...): a counting sort by the key's distance from the
/// smallest, with no table numbering the keys; false (nothing done) for other keys.
fn sort_dense_keys<T: Copy>(items: &mut Vec<T>, of: &impl Fn(&T) -> (i64, i64)) -> bool {
    let Some(first) = items.first() else {
        return true;
    };
    let (mut min, mut max) = (of(first).0, of(first).0);
    for item in items.iter() {
        let key = of(item).0;
        min = min.min(key);
        max = max.max(key);
    }
    let span = max as i128 - min as i128 + 1;
    if span > 4 * items.len() as i128 + 64 {
        return false;
    }
    // `start[b]`: where the bucket of key `min + b` starts; `start[span]`: the end.
    let mut start = vec![0usize; span as usize + 1];
    for item in items.iter() {
        start[(of(item).0 - min) as usize + 1] += 1;
    }
    for b in 1..start.len() {
        start[b] += start[b - 1];
    }
    let buckets = items.iter().map(|item| (of(item).0 - min) as usize);
    // SAFETY: `start` holds each bucket's beginning, from the counts of the very buckets
    // `buckets` yields (`of` gives an item the same key each time): they cover
    // `0..items.len()` once.
    *items = unsafe { scatter(items, buckets, start[..start.len() - 1].to_vec()) };
    for bucket in start.windows(2) {
        if bucket[1] - bucket[0] > 1 {
            items[bucket[0]..bucket[1]].sort_by_key(|item| of(item).1);
        }
    }
    true
}

/// `items` placed by bucket (`buckets`: each item's), in their order within each: the first
/// item of bucket `b` at `fill[b]`, the next one after it (`fill`: where each bucket starts).
/// Into fresh room, not over a copy of the items (a copy costs as much again).
///
/// # Safety
/// `fill` must be where each bucket begins when each bucket holds as many items as `buckets`
/// names it for: the buckets then cover `0..items.len()` once, so every slot is written
/// (debug builds check it). Indexing checks that none is written out of bounds.
unsafe fn scatter<T: Copy>(
    items: &[T],
    buckets: impl Iterator<Item = usize>,
    mut fill: Vec<usize>,
) -> Vec<T> {
    let mut sorted: Vec<T> = Vec::with_capacity(items.len());
    let spare = sorted.spare_capacity_mut();
    #[cfg(debug_assertions)]
    let mut written = vec![false; items.len()];
    for (item, b) in items.iter().zip(buckets) {
        #[cfg(debug_assertions)]
        {
            assert!(!written[fill[b]], "scatter: slot {} written twice", fill[b]);
            written[fill[b]] = true;
        }
        spare[fill[b]].write(*item);
        fill[b] += 1;
    }
    #[cfg(debug_assertions)]
    assert!(written.iter().all(|&w| w), "scatter: a slot left unwritten");
    // SAFETY: every slot was written above, as the caller promised.
    unsafe { sorted.set_len(items.len()) };
    sorted
}

/// The buckets (indices in `keys`, whose keys are distinct) in key order. Keys are mostly
/// 0, 1, 2, ...: when they span not much more values than there are keys, each is placed at
/// its value, without a sort.
fn buckets_by_key(keys: &[(i64, usize)]) -> Vec<u32> {
    let min = keys.iter().map(|k| k.0).min().unwrap_or(0);
    let max = keys.iter().map(|k| k.0).max().unwrap_or(0);
    let span = max as i128 - min as i128 + 1;
    if span > 4 * keys.len() as i128 + 64 {
        let mut order: Vec<u32> = (0..keys.len() as u32).collect();
        order.sort_unstable_by_key(|&b| keys[b as usize].0);
        return order;
    }
    let mut at = vec![u32::MAX; span as usize];
    for (b, &(key, _)) in keys.iter().enumerate() {
        at[(key - min) as usize] = b as u32;
    }
    at.retain(|&b| b != u32::MAX);
    at
}

/// Sorts `items`, whose parts before and after `split` are each in key order (the first
/// field): merges them key by key and sorts each key's few items, instead of sorting all.
fn sort_two_key_runs(items: &mut Vec<(i64, i64, i64, u32)>, split: usize) {
    debug_assert!(items[..split].is_sorted_by_key(|v| v.0));
    debug_assert!(items[split..].is_sorted_by_key(|v| v.0));
    let mut sorted = Vec::with_capacity(items.len());
    let (mut i, mut j) = (0, split);
    while i < split || j < items.len() {
        let key = match (items[..split].get(i), items.get(j)) {
            (Some(a), Some(b)) => a.0.min(b.0),
            (Some(a), None) => a.0,
            (None, Some(b)) => b.0,
            (None, None) => unreachable!("one part has items left"),
        };
        let start = sorted.len();
        while i < split && items[i].0 == key {
            sorted.push(items[i]);
            i += 1;
        }
        while j < items.len() && items[j].0 == key {
            sorted.push(items[j]);
            j += 1;
        }
        sorted[start..].sort_unstable();
    }
    *items = sorted;
}

/// A key whose versions are ordered both ways (e.g. replicas that ended with different
/// values, or a read-then-write order contradicting the final value).
fn cyclic_versions(versions: &[(i64, i64, i64, u32)], found: &mut Vec<Found>) {
    cyclic_versions_with(versions, found, true)
}

/// [`cyclic_versions`], with or without the quick answers for keys whose versions cannot form
/// a cycle (tests compare the two).
fn cyclic_versions_with(versions: &[(i64, i64, i64, u32)], found: &mut Vec<Found>, quick: bool) {
    // Per key, reused from key to key: the edges (sorted, since `versions` is), the values
    // (sorted), and each value's in-degree and the values ready to be taken, by position.
    let mut edges: Vec<(i64, i64)> = Vec::new();
    let mut nodes: Vec<i64> = Vec::new();
    let mut indegree: Vec<u32> = Vec::new();
    let mut ready: Vec<usize> = Vec::new();
    let mut dense = DenseKahn::default();
    let mut i = 0;
    while i < versions.len() {
        let k = versions[i].0;
        let j = i + versions[i..].iter().take_while(|v| v.0 == k).count();
        edges.clear();
        edges.extend(
            versions[i..j]
                .iter()
                .filter(|v| v.1 != NIL)
                .map(|v| (v.1, v.2)),
        );
        i = j;
        if edges.is_empty() {
            continue;
        }
        if quick && (!any_target_is_a_source(&edges) || dense.acyclic(&edges) == Some(true)) {
            continue;
        }
        nodes.clear();
        nodes.extend(edges.iter().flat_map(|&(a, b)| [a, b]));
        nodes.sort_unstable();
        nodes.dedup();
        let position = |v: i64| nodes.binary_search(&v).expect("every value is a node");
        indegree.clear();
        indegree.resize(nodes.len(), 0);
        for &(_, b) in &edges {
            indegree[position(b)] += 1;
        }
        // Kahn's algorithm: whatever cannot be ordered lies on a cycle (or after one).
        ready.clear();
        ready.extend((0..nodes.len()).filter(|&n| indegree[n] == 0));
        let mut done = 0;
        while let Some(n) = ready.pop() {
            done += 1;
            let a = nodes[n];
            let first = edges.partition_point(|e| e.0 < a);
            for &(_, b) in edges[first..].iter().take_while(|e| e.0 == a) {
                let at = position(b);
                indegree[at] -= 1;
                if indegree[at] == 0 {
                    ready.push(at);
                }
            }
        }
        if done < nodes.len() {
            let stuck: Vec<String> = nodes
                .iter()
                .zip(&indegree)
                .filter(|(_, d)| **d > 0)
                .map(|(n, _)| n.to_string())
                .collect();
            found.push(Found::new(
                "cyclic-versions",
                format!(
                    "the versions of k{k} are ordered both ways among {{{}}} (did replicas end with different values?)",
                    stuck.join(", ")
                ),
                Vec::new(),
            ));
        }
    }
}

/// Kahn's algorithm over tables indexed by value, for a key's versions that are small
/// integers (the workload writes 1, 2, 3, ... to each key): no sort, no search. Only says
/// whether there is a cycle; the sorted form above names the values on it.
#[derive(Default)]
struct DenseKahn {
    indegree: Vec<u32>,
    /// The first edge leaving each value, or `u32::MAX`.
    first: Vec<u32>,
    ready: Vec<i64>,
}

impl DenseKahn {
    /// Whether the edges (sorted) have no cycle; `None` when their values are not small.
    fn acyclic(&mut self, edges: &[(i64, i64)]) -> Option<bool> {
        let limit = 4 * edges.len() as i64 + 64;
        let mut size = 0;
        for &(a, b) in edges {
            if !(0..limit).contains(&a) || !(0..limit).contains(&b) {
                return None;
            }
            size = size.max(a.max(b) + 1);
        }
        let (indegree, first) = (&mut self.indegree, &mut self.first);
        indegree.clear();
        indegree.resize(size as usize, 0);
        first.clear();
        first.resize(size as usize, u32::MAX);
        for (n, &(a, b)) in edges.iter().enumerate() {
            indegree[b as usize] += 1;
            if first[a as usize] == u32::MAX {
                first[a as usize] = n as u32;
            }
        }
        // Sources with no edge into them; every edge taken off leaves its source behind.
        self.ready.clear();
        for (n, &(a, _)) in edges.iter().enumerate() {
            if first[a as usize] == n as u32 && indegree[a as usize] == 0 {
                self.ready.push(a);
            }
        }
        let mut taken = 0;
        while let Some(a) = self.ready.pop() {
            for &(_, b) in edges[first[a as usize] as usize..]
                .iter()
                .take_while(|e| e.0 == a)
            {
                taken += 1;
                indegree[b as usize] -= 1;
                if indegree[b as usize] == 0 && first[b as usize] != u32::MAX {
                    self.ready.push(b);
                }
            }
        }
        // Edges left over all lie on a cycle or after one.
        Some(taken == edges.len())
    }
}

/// Whether some value is both the target of an edge and the source of one (`edges` sorted):
/// without such a value no path has two edges, so there is no cycle. Mostly every edge of a
/// key points to its final value, which no edge leaves, and the key needs no sort.
fn any_target_is_a_source(edges: &[(i64, i64)]) -> bool {
    let is_source = |v: i64| {
        let at = edges.partition_point(|e| e.0 < v);
        edges.get(at).is_some_and(|e| e.0 == v)
    };
    let mut checked = None;
    edges.iter().any(|&(_, b)| {
        if checked == Some(b) {
            return false;
        }
        checked = Some(b);
        is_source(b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Transactions of random keys (small, negative, large; some repeated), one after the
    /// other in one table: it finds what a search of the transaction's list finds.
    #[test]
    fn known_keys_are_found_as_a_search_finds_them() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
        let mut known = Known::default();
        let mut list: Vec<(i64, i64, usize)> = Vec::new();
        for round in 0..2000 {
            known.clear();
            list.clear();
            for i in 0..rng.gen_range(0..[4, 70][round % 2]) {
                let k = match rng.gen_range(0..10) {
                    0 => rng.gen_range(i64::MIN..0),
                    1 => rng.gen_range(Known::TABLE - 2..Known::TABLE + 2),
                    2 => rng.gen(),
                    _ => rng.gen_range(0..80),
                };
                let expected = list.iter_mut().find(|e| e.0 == k);
                let got = known.find(k);
                assert_eq!(got.as_deref(), expected.as_deref(), "{k}");
                match got {
                    Some(entry) => {
                        entry.1 = i as i64;
                        expected.unwrap().1 = i as i64;
                    }
                    None => {
                        known.push(k, i as i64, i);
                        list.push((k, i as i64, i));
                    }
                }
            }
            assert_eq!(known.entries, list);
        }
    }

    /// Items of keys dense or spread out, values often repeated: sorted as a stable sort by
    /// (key, value) sorts them (each item carries its place, to show the order of equals).
    #[test]
    fn sorts_as_a_stable_sort_by_key_and_value() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let mut dense = 0;
        for round in 0..400 {
            let spread = [1i64, 10, 100, 1 << 40][round % 4];
            let len = rng.gen_range(0..200);
            let mut items: Vec<(i64, i64, usize)> = (0..len)
                .map(|i| (rng.gen_range(-spread..spread), rng.gen_range(0..8), i))
                .collect();
            if round % 9 == 0 {
                items.push((i64::MIN, 0, len));
                items.push((i64::MAX, 0, len + 1));
            }
            let mut expected = items.clone();
            expected.sort_by_key(|&(k, v, _)| (k, v));
            let mut quick = items.clone();
            if sort_dense_keys(&mut quick, &|&(k, v, _)| (k, v)) {
                dense += 1;
                assert_eq!(quick, expected);
            } else {
                assert_eq!(quick, items, "left as it was");
            }
            sort_by_key_and_value(&mut items, |&(k, v, _)| (k, v));
            assert_eq!(items, expected);
        }
        assert!(dense > 150, "{dense}");
    }

    /// Keys dense or spread out, placed or sorted: the buckets come in key order.
    #[test]
    fn buckets_come_in_key_order() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
        for round in 0..300 {
            let spread = [1i64, 3, 1000, i64::MAX / 4][round % 4];
            let mut keys: Vec<(i64, usize)> = (0..rng.gen_range(1..50))
                .map(|_| (rng.gen_range(-spread..spread), 0))
                .collect();
            if round % 7 == 0 {
                keys.push((i64::MIN, 0));
                keys.push((i64::MAX, 0));
            }
            keys.sort_unstable();
            keys.dedup();
            // Shuffled, as buckets are numbered in order of first appearance.
            for i in (1..keys.len()).rev() {
                keys.swap(i, rng.gen_range(0..=i));
            }
            let mut expected: Vec<u32> = (0..keys.len() as u32).collect();
            expected.sort_by_key(|&b| keys[b as usize].0);
            assert_eq!(buckets_by_key(&keys), expected, "{keys:?}");
        }
    }

    /// Random version orders, mostly increasing (as histories make them): the quick answers
    /// agree with Kahn's algorithm on every key.
    #[test]
    fn quick_answers_agree_with_the_full_check() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (mut clean, mut cyclic) = (0, 0);
        for round in 0..500 {
            let down_odds = [0.0, 0.05, 0.2, 0.5][round % 4];
            let mut versions = Vec::new();
            for key in 0..rng.gen_range(1..6) {
                let values = rng.gen_range(2..12);
                for _ in 0..rng.gen_range(0..2 * values) {
                    let (a, b) = (rng.gen_range(0..values), rng.gen_range(0..values));
                    let (a, b) = if rng.gen_bool(down_odds) {
                        (a.max(b), a.min(b))
                    } else {
                        (a.min(b), a.max(b))
                    };
                    // Large values some rounds: the dense check declines those.
                    let shift = if round % 5 == 4 { 1 << 20 } else { 0 };
                    let (a, b) = (a + shift, b + shift);
                    let a = if rng.gen_bool(0.1) { NIL } else { a };
                    if a != b {
                        versions.push((key, a, b, rng.gen_range(0..9)));
                    }
                }
            }
            versions.sort_unstable();
            versions.dedup();
            let (mut quick, mut full) = (Vec::new(), Vec::new());
            cyclic_versions_with(&versions, &mut quick, true);
            cyclic_versions_with(&versions, &mut full, false);
            assert_eq!(format!("{quick:?}"), format!("{full:?}"), "{versions:?}");
            if full.is_empty() {
                clean += 1;
            } else {
                cyclic += 1;
            }
        }
        assert!(clean > 100 && cyclic > 100, "{clean} {cyclic}");
    }
}
