//! The runner's time-ordered event queue.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use crate::history::Nanos;

/// Events in order of time, ties in the order they were scheduled.
///
/// Most events go through a binary heap. Those the caller schedules at times that never go
/// down (a client's timeout, always the same delay after now) wait in a plain FIFO instead:
/// they are most of the queue (one per request, long after its reply), and a FIFO keeps them
/// without a heap's sifting. Taking the earlier head of the two gives exactly the heap's order.
pub(super) struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    /// Non-decreasing in key.
    fifo: VecDeque<Entry<E>>,
    sequence: u64,
}

/// An event under its key: the time in the high half, the scheduling sequence number in the
/// low one, so that one integer comparison orders by time, then by scheduling order (and the
/// heap never compares events).
struct Entry<E> {
    key: u128,
    event: E,
}

fn key(at: Nanos, sequence: u64) -> u128 {
    (u128::from(at) << 64) | u128::from(sequence)
}

fn time_of(key: u128) -> Nanos {
    (key >> 64) as Nanos
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    /// Reversed: the std heap is a max-heap, the queue wants the least key first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

impl<E: Copy> EventQueue<E> {
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
        let entry = Entry {
            key: key(at, self.sequence),
            event,
        };
        if in_time_order && self.fifo.back().is_none_or(|last| last.key <= entry.key) {
            self.fifo.push_back(entry);
        } else {
            self.heap.push(entry);
        }
    }

    /// The time of the next event.
    pub(super) fn next_time(&self) -> Option<Nanos> {
        self.head().map(|(key, _)| time_of(key))
    }

    /// Removes and returns the next event if it is due at `now` or before.
    pub(super) fn pop_due(&mut self, now: Nanos) -> Option<E> {
        let (key, from_fifo) = self.head()?;
        if time_of(key) > now {
            return None;
        }
        if from_fifo {
            self.fifo.pop_front().map(|entry| entry.event)
        } else {
            self.heap.pop().map(|entry| entry.event)
        }
    }

    /// The earlier head of the two: its key, and whether it is the FIFO's.
    fn head(&self) -> Option<(u128, bool)> {
        let heap = self.heap.peek().map(|entry| entry.key);
        let fifo = self.fifo.front().map(|entry| entry.key);
        match (heap, fifo) {
            (Some(h), Some(f)) => Some(if f < h { (f, true) } else { (h, false) }),
            (Some(h), None) => Some((h, false)),
            (None, Some(f)) => Some((f, true)),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::cmp::Reverse;

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
