//! The pass over the reads when every element is a small integer (Maelstrom's case): instead of
//! touching every element of every read, it paints.
//!
//! For an element, the reads that count for it are, in invocation order, the few ok reads in
//! flight when its add was invoked and then every ok read invoked after it (positions
//! `start..` in `Analysis::ok_reads`). What the verdict needs is:
//!
//! - the last counting read that returned it (*last present*),
//! - the last counting read before that one which missed it (*last absent*; when reads after
//!   the last present one exist, the last counting read instead),
//! - the earliest completion of a counting read returning it (*first seen*).
//!
//! Walking the reads backwards, the last present read of an element is the first read met
//! that returns it, and its last absent read is the first read met after that which misses it:
//! a set of the elements still waiting for a present read and one of those waiting for an
//! absent read, as bit sets indexed by value, get painted by each read's ranges (present) and
//! by the gaps between them (absent). A read costs a few words per 64 values, whatever the
//! size of its set. Walking forwards the same way finds the first counting read returning
//! each element; the earliest completion is among it and the few reads invoked before that
//! one completed. Reads in flight at the add's invocation are looked at one by one.

use std::borrow::Cow;

use super::analysis::Analysis;
use super::values::{Interner, NO_SLOT};
use crate::history::{History, IntSet};

/// "None" in the per-value position tables.
const NONE: u32 = u32::MAX;

/// A set of small integers below a fixed bound, with its size and the words its members may
/// be in (`first..=last`, kept narrow so that painting skips the ranges outside: the elements
/// waiting for a read are mostly a few recent ones).
struct Bits {
    words: Vec<u64>,
    count: usize,
    first: usize,
    last: usize,
}

impl Bits {
    fn new(len: usize) -> Bits {
        Bits {
            words: vec![0; len.div_ceil(64)],
            count: 0,
            first: usize::MAX,
            last: 0,
        }
    }

    /// Inclusive bounds of the values its members may have, below `bound` (not empty).
    fn window(&mut self, bound: usize) -> (usize, usize) {
        while self.words[self.first] == 0 {
            self.first += 1;
        }
        while self.words[self.last] == 0 {
            self.last -= 1;
        }
        (self.first * 64, (self.last * 64 + 63).min(bound - 1))
    }

    fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn insert(&mut self, i: usize) {
        let (word, mask) = (&mut self.words[i / 64], 1u64 << (i % 64));
        if *word & mask == 0 {
            *word |= mask;
            if self.count == 0 {
                (self.first, self.last) = (i / 64, i / 64);
            } else {
                self.first = self.first.min(i / 64);
                self.last = self.last.max(i / 64);
            }
            self.count += 1;
        }
    }

    fn remove(&mut self, i: usize) {
        let (word, mask) = (&mut self.words[i / 64], 1u64 << (i % 64));
        if *word & mask != 0 {
            *word &= !mask;
            self.count -= 1;
        }
    }

    /// Removes the members in `lo..=hi` (below the bound), calling `f` with each, ascending.
    #[inline]
    fn drain(&mut self, lo: usize, hi: usize, mut f: impl FnMut(usize)) {
        let (first, last) = (lo / 64, hi / 64);
        for w in first..=last {
            let mut mask = !0u64;
            if w == first {
                mask &= !0u64 << (lo % 64);
            }
            if w == last {
                mask &= !0u64 >> (63 - hi % 64);
            }
            let mut bits = self.words[w] & mask;
            if bits == 0 {
                continue;
            }
            self.words[w] &= !bits;
            self.count -= bits.count_ones() as usize;
            while bits != 0 {
                f(w * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
    }
}

/// Whether sorted, disjoint ranges contain `v`.
fn contains(ranges: &[(u64, u64)], v: u64) -> bool {
    let i = ranges.partition_point(|&(_, hi)| hi < v);
    ranges.get(i).is_some_and(|&(lo, _)| lo <= v)
}

/// Calls `f` with each part of `window` (inclusive bounds) that sorted, disjoint `ranges`
/// cover (`covered`) or leave out (`!covered`), as inclusive bounds.
#[inline]
fn parts(
    ranges: &[(u64, u64)],
    window: (usize, usize),
    covered: bool,
    mut f: impl FnMut(usize, usize),
) {
    let (from, to) = (window.0 as u64, window.1 as u64);
    let mut next = from; // the first value not looked at yet
    let skipped = ranges.partition_point(|&(_, hi)| hi < from);
    for &(lo, hi) in &ranges[skipped..] {
        if lo > to {
            break;
        }
        let (lo, hi) = (lo.max(from), hi.min(to));
        if covered {
            f(lo as usize, hi as usize);
        } else if lo > next {
            f(next as usize, lo as usize - 1);
        }
        next = next.max(hi + 1);
    }
    if !covered && next <= to {
        f(next as usize, to as usize);
    }
}

/// Sets every element's `first_seen`, `last_present_rank` and `last_absent_rank` as
/// `Analysis::apply_reads` would. Returns false, doing nothing, unless every element is an
/// integer in `interner.small_slots()` and those are not sparse, and every ok read is a set of
/// integers or not an array (the empty set).
pub(super) fn apply_reads(analysis: &mut Analysis, history: &History, interner: &Interner) -> bool {
    let small = interner.small_slots();
    let bound = small.len();
    if !interner.only_small()
        || bound == 0
        || bound > 4 * analysis.elements.len() + 1024
        || bound >= NONE as usize
    {
        return false;
    }
    let ok_reads = &analysis.ok_reads;
    let reads = &analysis.reads;
    let count = ok_reads.len();
    // Per position in ok_reads: the set, the invocation's and the completion's index.
    let mut sets: Vec<Cow<'_, [(u64, u64)]>> = Vec::with_capacity(count);
    let mut invoked: Vec<usize> = Vec::with_capacity(count);
    let mut completed: Vec<usize> = Vec::with_capacity(count);
    for &id in ok_reads {
        let read = &reads[id as usize];
        let completion = &history.ops[read.ok_at.expect("ok read")];
        let set = match (
            history.int_set(completion),
            completion
                .value
                .as_json()
                .and_then(serde_json::Value::as_array),
        ) {
            (Some(set), _) => Cow::Borrowed(set.ranges()),
            (None, Some(values)) => {
                // Only small integers can be elements; the rest are ignored.
                let mut builder = IntSet::builder();
                values
                    .iter()
                    .filter_map(|v| v.as_u64())
                    .for_each(|i| builder.push(i));
                Cow::Owned(builder.finish().ranges().to_vec())
            }
            (None, None) => Cow::Borrowed(&[][..]),
        };
        sets.push(set);
        invoked.push(read.invoke_index);
        completed.push(completion.index);
    }
    let mut position_of: Vec<u32> = vec![NONE; reads.len()];
    for (position, &id) in ok_reads.iter().enumerate() {
        position_of[id as usize] = position as u32;
    }

    // (start, value) of every element, by start.
    let mut by_start: Vec<(u32, u32)> = small
        .iter()
        .enumerate()
        .filter(|(_, &slot)| slot != NO_SLOT)
        .map(|(v, &slot)| (analysis.elements[slot as usize].start as u32, v as u32))
        .collect();
    by_start.sort_unstable();
    let elements = &analysis.elements;
    let concurrent = |v: usize| &elements[small[v] as usize].concurrent_reads;

    // Backwards: last present and last absent positions, by value.
    let mut present: Vec<u32> = vec![NONE; bound];
    let mut absent: Vec<u32> = vec![NONE; bound];
    let mut need_present = Bits::new(bound);
    let mut need_absent = Bits::new(bound);
    let mut eligible = by_start.partition_point(|&(start, _)| (start as usize) < count);
    for &(_, v) in &by_start[..eligible] {
        need_present.insert(v as usize);
    }
    for t in (0..count).rev() {
        // Reads invoked before an element's add (at positions below its start) are left to
        // the look at its concurrent reads below.
        while eligible > 0 && by_start[eligible - 1].0 as usize > t {
            let v = by_start[eligible - 1].1 as usize;
            need_present.remove(v);
            need_absent.remove(v);
            eligible -= 1;
        }
        if need_present.is_empty() && need_absent.is_empty() {
            break;
        }
        let set = &sets[t][..];
        if !need_present.is_empty() {
            let window = need_present.window(bound);
            parts(set, window, true, |lo, hi| {
                need_present.drain(lo, hi, |v| {
                    present[v] = t as u32;
                    need_absent.insert(v);
                })
            });
        }
        if !need_absent.is_empty() {
            let window = need_absent.window(bound);
            parts(set, window, false, |lo, hi| {
                need_absent.drain(lo, hi, |v| absent[v] = t as u32)
            });
        }
    }
    for &(_, v) in &by_start {
        let v = v as usize;
        if present[v] != NONE && absent[v] != NONE {
            continue;
        }
        for &id in concurrent(v).iter().rev() {
            let q = position_of[id as usize];
            let here = contains(&sets[q as usize], v as u64);
            if present[v] == NONE {
                if here {
                    present[v] = q;
                }
            } else if !here {
                absent[v] = q;
                break;
            }
        }
    }

    // Forwards: the first counting position that returned it.
    let mut first: Vec<u32> = vec![NONE; bound];
    for &(_, v) in &by_start {
        let v = v as usize;
        if present[v] == NONE {
            continue;
        }
        for &id in concurrent(v) {
            let q = position_of[id as usize];
            if contains(&sets[q as usize], v as u64) {
                first[v] = q;
                break;
            }
        }
    }
    let mut need_first = Bits::new(bound);
    let mut added = 0;
    for (t, set) in sets.iter().enumerate() {
        while added < by_start.len() && by_start[added].0 as usize <= t {
            let v = by_start[added].1 as usize;
            if present[v] != NONE && first[v] == NONE {
                need_first.insert(v);
            }
            added += 1;
        }
        if need_first.is_empty() {
            if added == by_start.len() {
                break;
            }
            continue;
        }
        let window = need_first.window(bound);
        parts(set, window, true, |lo, hi| {
            need_first.drain(lo, hi, |v| first[v] = t as u32)
        });
    }

    // The verdict's inputs, in ranks.
    let elements = &mut analysis.elements;
    for &(_, v) in &by_start {
        let element = &mut elements[small[v as usize] as usize];
        let v = v as usize;
        let start = element.start;
        let concurrent = &element.concurrent_reads;
        let counts = |p: usize| p >= start || concurrent.binary_search(&ok_reads[p]).is_ok();
        let rank = |p: u32| {
            let p = p as usize;
            if p >= start {
                concurrent.len() + (p - start)
            } else {
                concurrent
                    .binary_search(&ok_reads[p])
                    .expect("a concurrent read")
            }
        };
        let total = concurrent.len() + (count - start);
        let last_present = (present[v] != NONE).then(|| rank(present[v]));
        let mut last_absent = (absent[v] != NONE).then(|| rank(absent[v]));
        if last_present.map_or(0, |r| r + 1) < total {
            last_absent = Some(total - 1);
        }
        // The earliest completion among the reads returning it: the first such read's, or that
        // of a later one invoked before it completed.
        let mut first_seen = None;
        if first[v] != NONE {
            let mut best = first[v] as usize;
            let mut p = best + 1;
            while p < count && invoked[p] < completed[best] {
                if completed[p] < completed[best] && counts(p) && contains(&sets[p], v as u64) {
                    best = p;
                }
                p += 1;
            }
            let ok_at = reads[ok_reads[best] as usize].ok_at.expect("ok read");
            first_seen = Some((completed[best], history.ops[ok_at].time));
        }
        element.first_seen = first_seen;
        element.last_present_rank = last_present;
        element.last_absent_rank = last_absent;
    }
    true
}
