//! The analysis: one pass pairing the ops (an element per add, the reads numbered in invocation
//! order), one over the ok reads, and each element's verdict.

use super::values::{cmp_values, Interner, NO_SLOT};
use super::READ_F;
use crate::checkers::int_table::IntTable;
use crate::history::{History, Nanos, OpType, Process, NANOS_PER_MS};
use serde_json::Value;

/// A read invocation (ok or not). Reads are numbered (`u32` ids) in invocation order.
#[derive(Clone, Copy, Debug)]
pub(super) struct Read {
    pub(super) invoke_index: usize,
    pub(super) invoke_time: Nanos,
    /// Where its ok completion sits in `History::ops`, if it completed ok.
    pub(super) ok_at: Option<usize>,
}

/// The completion that made an element known.
#[derive(Clone, Copy, Debug)]
pub(super) struct Known {
    pub(super) index: usize,
    pub(super) time: Nanos,
    /// The add's acknowledgement (rather than a read returning the element).
    pub(super) by_add: bool,
}

/// What the history says about one element since its (latest) add invocation.
#[derive(Clone, Debug)]
pub(super) struct Element {
    pub(super) value: Value,
    pub(super) add_invoke: usize,
    /// The completion of its ok add.
    pub(super) add_ok: Option<(usize, Nanos)>,
    /// Reads with this id or above were invoked after the add.
    pub(super) first_read_after: u32,
    /// Reads in flight when the add was invoked; those that complete ok count for it. After the
    /// first pass: only the ok ones, ascending.
    pub(super) concurrent_reads: Vec<u32>,
    /// Position in `Analysis::ok_reads` of the first ok read invoked after the add.
    pub(super) start: usize,
    /// The completion of the first counting read that returned it (lowest history index).
    pub(super) first_seen: Option<(usize, Nanos)>,
    /// Rank (among the reads that count for it, in invocation order) of the last one that
    /// returned it, and of the last one before that which missed it.
    pub(super) last_present_rank: Option<usize>,
    pub(super) last_absent_rank: Option<usize>,
}

impl Element {
    /// The number of reads that count for the element.
    fn counting_reads(&self, ok_reads: &[u32]) -> usize {
        self.concurrent_reads.len() + (ok_reads.len() - self.start)
    }

    /// The read id at a rank.
    fn read_at(&self, rank: usize, ok_reads: &[u32]) -> u32 {
        match rank.checked_sub(self.concurrent_reads.len()) {
            None => self.concurrent_reads[rank],
            Some(after) => ok_reads[self.start + after],
        }
    }

    /// The known point: whichever of the add's ok and the first read returning it came first.
    pub(super) fn known(&self) -> Option<Known> {
        let by_add = self.add_ok.map(|(index, time)| Known {
            index,
            time,
            by_add: true,
        });
        let by_read = self.first_seen.map(|(index, time)| Known {
            index,
            time,
            by_add: false,
        });
        match (by_add, by_read) {
            (Some(a), Some(r)) => Some(if r.index < a.index { r } else { a }),
            (a, r) => a.or(r),
        }
    }
}

/// An ok read as the second pass applies it.
struct ReadAt {
    id: u32,
    /// Its position in `Analysis::ok_reads`.
    position: u32,
    completion_index: usize,
}

/// `Progress::first_seen_index` while no counting read returned the element.
const NOT_SEEN: usize = usize::MAX;

/// The hot state of one element during the pass over the reads (ranks as `u32`, "none"
/// folded into the encoding, no `Option`s).
#[derive(Clone, Copy, Debug)]
struct Progress {
    /// `Element::first_read_after`.
    first_read_after: u32,
    /// Added (wrapping) to an ok-read position to get the rank of a read invoked after the add:
    /// the number of concurrent ok reads minus `Element::start`.
    rank_offset: u32,
    /// The last present rank + 1 (0: none), i.e. the rank expected next.
    next_rank: u32,
    /// The last absent rank + 1 (0: none).
    absent_rank_plus_1: u32,
    /// Where in `Analysis::ok_reads` the read that set `first_seen_index` is.
    first_seen_at: u32,
    /// History index of the earliest completion of a counting read returning it, or [`NOT_SEEN`].
    first_seen_index: usize,
}

impl Progress {
    /// The progress kept for a small integer that is no element (never applied).
    const NONE: Progress = Progress {
        first_read_after: 0,
        rank_offset: 0,
        next_rank: 0,
        absent_rank_plus_1: 0,
        first_seen_at: 0,
        first_seen_index: NOT_SEEN,
    };

    fn of(element: &Element) -> Progress {
        Progress {
            first_read_after: element.first_read_after,
            rank_offset: (element.concurrent_reads.len() as u32).wrapping_sub(element.start as u32),
            next_rank: 0,
            absent_rank_plus_1: 0,
            first_seen_at: 0,
            first_seen_index: NOT_SEEN,
        }
    }

    /// The read returned the element.
    #[inline]
    /// `concurrent_reads` gives `Element::concurrent_reads` (only needed, rarely, for a read
    /// in flight when the add was invoked).
    fn apply<'a>(&mut self, read: &ReadAt, concurrent_reads: impl FnOnce() -> &'a [u32]) {
        // Reads that completed before the (latest) add was invoked do not count.
        let rank = if read.id >= self.first_read_after {
            read.position.wrapping_add(self.rank_offset)
        } else if let Ok(rank) = concurrent_reads().binary_search(&read.id) {
            rank as u32
        } else {
            return;
        };
        if read.completion_index < self.first_seen_index {
            self.first_seen_index = read.completion_index;
            self.first_seen_at = read.position;
        }
        if rank < self.next_rank {
            return; // the same read returned it twice
        }
        if rank > self.next_rank {
            // The reads ranked next_rank .. rank-1 missed it.
            self.absent_rank_plus_1 = rank;
        }
        self.next_rank = rank + 1;
    }
}

/// The element's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Stable,
    Lost,
    NeverRead,
}

#[derive(Clone, Debug)]
pub(super) struct ElementResult {
    pub(super) slot: usize,
    pub(super) outcome: Outcome,
    pub(super) known: Option<Known>,
    pub(super) last_present: Option<u32>,
    pub(super) last_absent: Option<u32>,
    /// Whole milliseconds (only for stable elements).
    pub(super) stable_latency: Option<u64>,
    /// Whole milliseconds (only for lost elements).
    pub(super) lost_latency: Option<u64>,
}

/// What a client process is waiting for.
#[derive(Clone, Copy, Debug)]
enum Pending {
    Add(usize),
    Read(u32),
    Other,
}

pub(super) struct Analysis {
    pub(super) elements: Vec<Element>,
    pub(super) reads: Vec<Read>,
    /// Ids of the ok reads, ascending (so in invocation order).
    pub(super) ok_reads: Vec<u32>,
    /// Whether the reads were painted (see [`super::paint`]) rather than walked.
    pub(super) painted: bool,
}

impl Analysis {
    pub(super) fn of(history: &History, add_f: &str) -> Analysis {
        Analysis::of_with(history, add_f, true)
    }

    /// [`Analysis::of`], painting (see [`super::paint`]) when `paint` and the history allows,
    /// otherwise walking every read's elements.
    pub(super) fn of_with(history: &History, add_f: &str, paint: bool) -> Analysis {
        let mut analysis = Analysis {
            elements: Vec::new(),
            reads: Vec::new(),
            ok_reads: Vec::new(),
            painted: false,
        };
        let interner = analysis.pair_ops(history, add_f);
        analysis.painted = paint && super::paint::apply_reads(&mut analysis, history, &interner);
        if !analysis.painted {
            analysis.apply_reads(history, &interner);
        }
        analysis
    }

    /// First pass, in history order: pairs invocations with completions, creates an element
    /// per add invocation (a value added again starts over, as in Jepsen) and notes which reads
    /// were in flight at that moment.
    fn pair_ops(&mut self, history: &History, add_f: &str) -> Interner {
        let mut interner = Interner::default();
        // By process number (small and dense: a table, not a hash map).
        let mut open: IntTable<Option<Pending>> = IntTable::default();
        let number = |process: Process| match process {
            Process::Client(n) => n as i64,
            Process::Nemesis(_) => unreachable!("only client ops"),
        };
        let mut reads_in_flight: Vec<u32> = Vec::new();
        let client_ops = history
            .ops
            .iter()
            .enumerate()
            .filter(|(_, op)| op.is_client());
        for (position, op) in client_ops {
            if op.kind == OpType::Invoke {
                let pending = if op.f == add_f {
                    let value = op.value.to_json();
                    let element = Element {
                        value: value.clone().into_owned(),
                        add_invoke: op.index,
                        add_ok: None,
                        first_read_after: self.reads.len() as u32,
                        concurrent_reads: reads_in_flight.clone(),
                        start: 0,
                        first_seen: None,
                        last_present_rank: None,
                        last_absent_rank: None,
                    };
                    let slot = match interner.get(&value) {
                        Some(slot) => {
                            self.elements[slot] = element;
                            slot
                        }
                        None => {
                            self.elements.push(element);
                            interner.insert(&value)
                        }
                    };
                    Pending::Add(slot)
                } else if op.f == READ_F {
                    let id = self.reads.len() as u32;
                    self.reads.push(Read {
                        invoke_index: op.index,
                        invoke_time: op.time,
                        ok_at: None,
                    });
                    reads_in_flight.push(id);
                    Pending::Read(id)
                } else {
                    Pending::Other
                };
                *open.get_or_insert_with(number(op.process), || None) = Some(pending);
                continue;
            }
            match open.get_mut(number(op.process)).and_then(Option::take) {
                Some(Pending::Add(slot)) if op.kind == OpType::Ok => {
                    self.elements[slot]
                        .add_ok
                        .get_or_insert((op.index, op.time));
                }
                Some(Pending::Read(id)) => {
                    if let Some(i) = reads_in_flight.iter().position(|&r| r == id) {
                        reads_in_flight.swap_remove(i);
                    }
                    if op.kind == OpType::Ok {
                        self.reads[id as usize].ok_at = Some(position);
                    }
                }
                _ => {}
            }
        }
        self.ok_reads = (0..self.reads.len() as u32)
            .filter(|&id| self.reads[id as usize].ok_at.is_some())
            .collect();
        for element in &mut self.elements {
            let reads = &self.reads;
            element
                .concurrent_reads
                .retain(|&r| reads[r as usize].ok_at.is_some());
            element.concurrent_reads.sort_unstable();
            element.start = self
                .ok_reads
                .partition_point(|&r| r < element.first_read_after);
        }
        interner
    }

    /// Second pass, over the ok reads in invocation order: each read updates the elements it
    /// returned. Ranks reach an element in increasing order, so a jump from rank i to rank j
    /// means the reads ranked i+1 .. j-1 missed it; the last of them is its latest absent read
    /// so far. The per-element state of this loop is kept apart in compact [`Progress`]
    /// records and written back into the elements at the end.
    fn apply_reads(&mut self, history: &History, interner: &Interner) {
        let mut progress: Vec<Progress> = self.elements.iter().map(Progress::of).collect();
        // The elements that are small integers (all of Maelstrom's) get their progress by
        // value, so that a read's range of values walks a slice of it: no slot lookup, no
        // bounds check per element. `progress` keeps the others (and, until the end, stale
        // copies of these). Unless the small integers are sparse (a few large ones would make
        // the vector far larger than the elements): then every element goes by slot.
        let small = interner.small_slots();
        let by_slot_only = small.len() > 4 * self.elements.len() + 1024;
        let mut by_value: Vec<(u32, Progress)> = small
            .iter()
            .take(if by_slot_only { 0 } else { small.len() })
            .map(|&slot| match slot {
                NO_SLOT => (NO_SLOT, Progress::NONE),
                slot => (slot, progress[slot as usize]),
            })
            .collect();
        let elements = &self.elements;
        for (position, &id) in self.ok_reads.iter().enumerate() {
            let completion = &history.ops[self.reads[id as usize].ok_at.expect("ok read")];
            let read = ReadAt {
                id,
                position: position as u32,
                completion_index: completion.index,
            };
            // A read the history kept as a set of integers, or a JSON array; any other value
            // (null) reads as the empty set, as in Jepsen. Values never added are ignored.
            match (
                history.int_set(completion),
                completion.value.as_json().and_then(Value::as_array),
            ) {
                (Some(set), _) => {
                    for &(lo, hi) in set.ranges() {
                        match interner.small_range(lo, hi) {
                            Some(range) if by_slot_only => {
                                for &slot in &small[range] {
                                    if slot != NO_SLOT {
                                        let slot = slot as usize;
                                        progress[slot]
                                            .apply(&read, || &elements[slot].concurrent_reads);
                                    }
                                }
                            }
                            Some(range) => {
                                for (slot, p) in &mut by_value[range] {
                                    if *slot != NO_SLOT {
                                        let slot = *slot as usize;
                                        p.apply(&read, || &elements[slot].concurrent_reads);
                                    }
                                }
                            }
                            None => {}
                        }
                        interner.for_each_large_slot_in(lo, hi, |slot| {
                            progress[slot].apply(&read, || &elements[slot].concurrent_reads)
                        });
                    }
                }
                (None, Some(values)) => {
                    for v in values {
                        let Some(slot) = interner.get(v) else {
                            continue;
                        };
                        let p = match Interner::small_index(v) {
                            Some(i) if !by_slot_only => &mut by_value[i].1,
                            _ => &mut progress[slot],
                        };
                        p.apply(&read, || &elements[slot].concurrent_reads);
                    }
                }
                (None, None) => {}
            }
        }
        for (slot, p) in by_value {
            if slot != NO_SLOT {
                progress[slot as usize] = p;
            }
        }
        let ok_reads = &self.ok_reads;
        for (element, progress) in self.elements.iter_mut().zip(progress) {
            if progress.first_seen_index != NOT_SEEN {
                let read = self.reads[ok_reads[progress.first_seen_at as usize] as usize];
                let ok_at = read.ok_at.expect("ok read");
                element.first_seen = Some((progress.first_seen_index, history.ops[ok_at].time));
            }
            element.last_present_rank = progress.next_rank.checked_sub(1).map(|r| r as usize);
            element.last_absent_rank = progress
                .absent_rank_plus_1
                .checked_sub(1)
                .map(|r| r as usize);
            // Reads after the last one that returned an element all missed it.
            let total = element.counting_reads(ok_reads);
            let after = progress.next_rank as usize;
            if after < total {
                element.last_absent_rank = Some(total - 1);
            }
        }
    }

    /// The verdict on every element, in element order (sorted by value).
    pub(super) fn outcomes(&self) -> Vec<ElementResult> {
        let mut order: Vec<usize> = (0..self.elements.len()).collect();
        order.sort_by(|&a, &b| cmp_values(&self.elements[a].value, &self.elements[b].value));
        order.into_iter().map(|slot| self.judge(slot)).collect()
    }

    fn judge(&self, slot: usize) -> ElementResult {
        let element = &self.elements[slot];
        let read_at = |rank: Option<usize>| rank.map(|r| element.read_at(r, &self.ok_reads));
        let last_present = read_at(element.last_present_rank);
        let last_absent = read_at(element.last_absent_rank);
        let known = element.known();

        // Read ids follow invocation order, so comparing ids compares invocations.
        let stable = last_present.is_some_and(|p| last_absent.is_none_or(|a| a < p));
        let lost = match (known, last_absent) {
            (Some(known), Some(a)) => {
                last_present.is_none_or(|p| p < a)
                    && known.index < self.reads[a as usize].invoke_index
            }
            _ => false,
        };
        let known_time = known.map_or(0, |k| k.time);
        // Jepsen's latencies: from the known point to one nanosecond after the invocation of the
        // last read that disagreed (0 when there was none), never negative, in whole ms.
        let latency_after = |read: Option<u32>| {
            let until = read.map_or(0, |r| self.reads[r as usize].invoke_time + 1);
            until.saturating_sub(known_time) / NANOS_PER_MS
        };
        let outcome = if stable {
            Outcome::Stable
        } else if lost {
            Outcome::Lost
        } else {
            Outcome::NeverRead
        };
        ElementResult {
            slot,
            outcome,
            known,
            last_present,
            last_absent,
            stable_latency: stable.then(|| latency_after(last_absent)),
            lost_latency: lost.then(|| latency_after(last_present)),
        }
    }
}
