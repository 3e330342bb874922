//! The runner's time-ordered event queue.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use crate::history::Nanos;

/// Events in order of time, ties in the order they were scheduled.
///
/// Most events go through a binary heap. Those the caller schedules at times that never go
/// down (a client's timeout, always the same delay after now) wait in a plain FIFO instead:
/// they are most of the queue (one per request, long after its reply), and a FIFO keeps them
/// without a heap's sifting. Taking the earlier head of the two gives exactly the heap's order.
pub(super) struct EventQueue<E> {
    heap: BinaryHeap<Reverse<(Nanos, u64, E)>>,
    /// Non-decreasing in time and sequence.
    fifo: VecDeque<(Nanos, u64, E)>,
    sequence: u64,
}

impl<E: Ord + Copy> EventQueue<E> {
    pub(super) fn new() -> EventQueue<E> {
        EventQueue {
            heap: BinaryHeap::new(),
            fifo: VecDeque::new(),
            sequence: 0,
        }
    }

    /// Schedules `event` at `at`. `in_time_order`: the caller expects such events to come at
    /// non-decreasing times (a hint; an earlier one still goes in the right place).
    pub(super) fn push(&mut self, at: Nanos, event: E, in_time_order: bool) {
        self.sequence += 1;
        let entry = (at, self.sequence, event);
        if in_time_order && self.fifo.back().is_none_or(|&(last, _, _)| last <= at) {
            self.fifo.push_back(entry);
        } else {
            self.heap.push(Reverse(entry));
        }
    }

    /// The time of the next event.
    pub(super) fn next_time(&self) -> Option<Nanos> {
        self.head().map(|(at, _)| at)
    }

    /// Removes and returns the next event if it is due at `now` or before.
    pub(super) fn pop_due(&mut self, now: Nanos) -> Option<E> {
        let (at, from_fifo) = self.head()?;
        if at > now {
            return None;
        }
        if from_fifo {
            self.fifo.pop_front().map(|(_, _, e)| e)
        } else {
            self.heap.pop().map(|Reverse((_, _, e))| e)
        }
    }

    /// The earlier head of the two: its time, and whether it is the FIFO's.
    fn head(&self) -> Option<(Nanos, bool)> {
        let heap = self.heap.peek().map(|Reverse((at, seq, _))| (*at, *seq));
        let fifo = self.fifo.front().map(|&(at, seq, _)| (at, seq));
        match (heap, fifo) {
            (Some(h), Some(f)) => Some(if f < h { (f.0, true) } else { (h.0, false) }),
            (Some(h), None) => Some((h.0, false)),
            (None, Some(f)) => Some((f.0, true)),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn events_come_out_as_from_a_single_heap() {
        let mut rng = crate::Rng::seed_from_u64(3);
        let mut queue = EventQueue::new();
        let mut reference = BinaryHeap::new();
        let (mut now, mut sequence, mut ordered_at) = (0u64, 0u64, 0u64);
        for event in 0..5000u32 {
            now += rng.gen_range(0..3);
            // A mix of ordered events (sometimes out of order after all) and others.
            let ordered = rng.gen_bool(0.5);
            let at = if ordered {
                ordered_at = ordered_at.max(now) + rng.gen_range(0..2);
                if rng.gen_bool(0.05) {
                    ordered_at - rng.gen_range(0..3).min(ordered_at)
                } else {
                    ordered_at
                }
            } else {
                now + rng.gen_range(0..10)
            };
            queue.push(at, event, ordered);
            sequence += 1;
            reference.push(Reverse((at, sequence, event)));
            if rng.gen_bool(0.4) {
                let due = now + rng.gen_range(0..5);
                loop {
                    let expected = match reference.peek() {
                        Some(&Reverse((at, _, e))) if at <= due => Some(e),
                        _ => None,
                    };
                    assert_eq!(queue.pop_due(due), expected);
                    match expected {
                        Some(_) => reference.pop(),
                        None => break,
                    };
                }
            }
            assert_eq!(
                queue.next_time(),
                reference.peek().map(|Reverse((at, _, _))| *at)
            );
        }
    }
}
