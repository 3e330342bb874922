//! The runner's time-ordered event queue.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use crate::history::Nanos;

/// Events in order of time, ties in the order they were scheduled.
///
/// Most events go through a binary heap. Those the caller schedules at times that never go
/// down (a client's timeout, always the same delay after now) wait in a plain FIFO instead:
/// they are most of the queue (one per request, long after its reply), and a FIFO keeps them
/// without a heap's sifting. So do events scheduled for the current time (deliveries without
/// latency: all client traffic, and all traffic of a test without `--latency`), in a second
/// FIFO. Taking the earliest head of the three gives exactly the heap's order.
pub(super) struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    /// Non-decreasing in key.
    fifo: VecDeque<Entry<E>>,
    /// Non-decreasing in key: events scheduled at the time of scheduling.
    due_now: VecDeque<Entry<E>>,
    sequence: u64,
    /// The earliest head of the three lanes (see [`EventQueue::head`]), kept up to date by
    /// every push and pop: asking for the next event's time (once per step of the runner's
    /// loop, when nothing more is due) costs no look at the lanes.
    first: (u128, Lane),
}

/// Where the caller expects an event to stand among those it schedules (a hint: an event that
/// does not fit its lane still goes in the right place).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Order {
    /// At a time that never goes down from one such event to the next.
    Rising,
    /// At the current time (that of the latest event taken, or later).
    Now,
    /// Anywhere.
    Any,
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

/// Above every key (the sequence never reaches `u64::MAX`).
const NO_KEY: u128 = u128::MAX;

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

#[derive(Clone, Copy)]
enum Lane {
    Heap,
    Fifo,
    DueNow,
}

impl<E: Copy> EventQueue<E> {
    pub(super) fn new() -> EventQueue<E> {
        EventQueue {
            heap: BinaryHeap::new(),
            fifo: VecDeque::new(),
            due_now: VecDeque::new(),
            sequence: 0,
            first: (NO_KEY, Lane::Heap),
        }
    }

    /// Schedules `event` at `at`, which the caller expects to stand as `order` says.
    pub(super) fn push(&mut self, at: Nanos, event: E, order: Order) {
        self.sequence += 1;
        let entry = Entry {
            key: key(at, self.sequence),
            event,
        };
        let key = entry.key;
        let fits = |lane: &VecDeque<Entry<E>>| lane.back().is_none_or(|last| last.key <= key);
        let lane = match order {
            Order::Rising if fits(&self.fifo) => {
                self.fifo.push_back(entry);
                Lane::Fifo
            }
            Order::Now if fits(&self.due_now) => {
                self.due_now.push_back(entry);
                Lane::DueNow
            }
            _ => {
                self.heap.push(entry);
                Lane::Heap
            }
        };
        // Keys are unique: an event before the first is first, and first in its own lane.
        if key < self.first.0 {
            self.first = (key, lane);
        }
    }

    /// The time of the next event.
    pub(super) fn next_time(&self) -> Option<Nanos> {
        let (key, _) = self.first;
        (key != NO_KEY).then(|| time_of(key))
    }

    /// Removes and returns the next event if it is due at `now` or before; else the time of
    /// the next event (what [`EventQueue::next_time`] says: the runner's loop asks for it
    /// each time nothing more is due).
    pub(super) fn pop_due(&mut self, now: Nanos) -> Result<E, Option<Nanos>> {
        let (key, lane) = self.first;
        if key == NO_KEY {
            return Err(None);
        }
        if time_of(key) > now {
            return Err(Some(time_of(key)));
        }
        let entry = match lane {
            Lane::Heap => self.heap.pop(),
            Lane::Fifo => self.fifo.pop_front(),
            Lane::DueNow => self.due_now.pop_front(),
        };
        self.first = self.head();
        Ok(entry.expect("the head's lane holds it").event)
    }

    /// The earliest head of the three: its key ([`NO_KEY`] if all are empty), and whose it is.
    #[inline]
    fn head(&self) -> (u128, Lane) {
        let key = |entry: Option<&Entry<E>>| entry.map_or(NO_KEY, |entry| entry.key);
        let mut head = (key(self.heap.peek()), Lane::Heap);
        let fifo = key(self.fifo.front());
        if fifo < head.0 {
            head = (fifo, Lane::Fifo);
        }
        let due_now = key(self.due_now.front());
        if due_now < head.0 {
            head = (due_now, Lane::DueNow);
        }
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::cmp::Reverse;

    /// The reference: one heap of (time, sequence, event), the order the queue must keep.
    type Reference = BinaryHeap<Reverse<(Nanos, u64, u32)>>;

    /// Pops every event due by `due` from both, asserting the same events in the same order.
    fn drain_due(queue: &mut EventQueue<u32>, reference: &mut Reference, due: Nanos) {
        loop {
            let expected = match reference.peek() {
                Some(&Reverse((at, _, e))) if at <= due => Ok(e),
                // Nothing due: the next event's time, if any.
                next => Err(next.map(|&Reverse((at, _, _))| at)),
            };
            assert_eq!(queue.pop_due(due), expected);
            if expected.is_err() {
                break;
            }
            reference.pop();
        }
    }

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
            let order = if ordered { Order::Rising } else { Order::Any };
            queue.push(at, event, order);
            sequence += 1;
            reference.push(Reverse((at, sequence, event)));
            if rng.gen_bool(0.4) {
                let due = now + rng.gen_range(0..5);
                drain_due(&mut queue, &mut reference, due);
            }
            assert_eq!(
                queue.next_time(),
                reference.peek().map(|Reverse((at, _, _))| *at)
            );
        }
    }

    /// Events scheduled at the current time (most deliveries without latency) take their own
    /// lane; the order is still the single heap's, whatever the hints.
    #[test]
    fn events_due_at_once_come_out_as_from_a_single_heap() {
        let mut rng = crate::Rng::seed_from_u64(4);
        let mut queue = EventQueue::new();
        let mut reference = BinaryHeap::new();
        let (mut now, mut sequence, mut ordered_at) = (0u64, 0u64, 0u64);
        let mut used_due_now = false;
        for event in 0..20_000u32 {
            if rng.gen_bool(0.2) {
                now += rng.gen_range(0..3);
            }
            let at = match rng.gen_range(0..10) {
                // Client timeouts, in time order.
                0 => {
                    ordered_at = ordered_at.max(now) + rng.gen_range(0..20);
                    ordered_at
                }
                // Later events, or ones at a time the queue was not asked about.
                1 | 2 => now + rng.gen_range(0..6),
                _ => now,
            };
            // Hints as the runner gives them, and some wrong ones.
            let order = match rng.gen_range(0..10) {
                0 => Order::Any,
                1 => Order::Now,
                _ if at == ordered_at => Order::Rising,
                _ if at == now => Order::Now,
                _ => Order::Any,
            };
            queue.push(at, event, order);
            used_due_now |= !queue.due_now.is_empty();
            sequence += 1;
            reference.push(Reverse((at, sequence, event)));
            if rng.gen_bool(0.5) {
                drain_due(&mut queue, &mut reference, now);
            }
            assert_eq!(
                queue.next_time(),
                reference.peek().map(|Reverse((at, _, _))| *at)
            );
        }
        assert!(used_due_now, "the lane was taken");
    }
}
