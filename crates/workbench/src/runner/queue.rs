//! The runner's time-ordered event queue.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::history::Nanos;

/// Events in order of time, ties in the order they were scheduled.
///
/// Most events go through a binary heap, but one of them, when there is room, waits beside it
/// in a slot: mostly the next op's event (in a test without latency the heap holds only it and
/// a few rare events), which then costs no heap sift going in or out. Those the caller
/// schedules at times that never go down (a client's timeout, always the same delay after
/// now) wait in a plain FIFO instead: they are most of the queue (one per request, long after
/// its reply), and a FIFO keeps them without a heap's sifting. So do events scheduled for the
/// current time (deliveries without latency: all client traffic, and all traffic of a test
/// without `--latency`), in a second FIFO. Taking the earliest head of the four gives exactly
/// the heap's order.
///
/// An event of the first FIFO can be cancelled ([`EventQueue::cancel`]): a timeout whose
/// request was answered is then dropped unseen, instead of coming out to be ignored.
pub(super) struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    /// An event of any time, beside the heap (see above).
    slot: Option<Entry<E>>,
    /// Non-decreasing in key; a cancelled event is `None`, and never at the front.
    fifo: Fifo<Option<E>>,
    /// Non-decreasing in key: events scheduled at the time of scheduling.
    due_now: Fifo<E>,
    sequence: u64,
    /// The earliest head of the four lanes (see [`EventQueue::head`]), kept up to date by
    /// every push, pop and cancel: asking for the next event's time (once per step of the
    /// runner's loop, when nothing more is due) costs no look at the lanes.
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

/// What [`EventQueue::cancel`] takes back: the place of an event in the [`Order::Rising`]
/// lane, counted from the lane's first event ever (never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Ticket(u64);

/// An event under its key: the time in the high half, the scheduling sequence number in the
/// low one, so that one integer comparison orders by time, then by scheduling order (and the
/// heap never compares events).
#[derive(Clone, Copy)]
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

/// A first-in-first-out lane: a vector and the index of its front (no wrapping index as in a
/// `VecDeque`). Taken entries are dropped from the vector when it empties, or when they are
/// most of it.
struct Fifo<T> {
    items: Vec<Entry<T>>,
    /// The front's index in `items`.
    head: usize,
    /// How many entries were dropped from the front of `items` (so that `dropped + i` names
    /// `items[i]` for good: see [`Ticket`]).
    dropped: u64,
}

/// Taken entries are dropped from a lane's vector only past this many (and half of it).
const DROP_TAKEN_AT: usize = 1024;

impl<T: Copy> Fifo<T> {
    fn new() -> Fifo<T> {
        Fifo {
            items: Vec::new(),
            head: 0,
            dropped: 0,
        }
    }

    #[inline]
    fn front(&self) -> Option<&Entry<T>> {
        self.items.get(self.head)
    }

    #[inline]
    fn back(&self) -> Option<&Entry<T>> {
        self.items.last().filter(|_| self.head < self.items.len())
    }

    /// Appends `entry`; its place for good.
    #[inline]
    fn push(&mut self, entry: Entry<T>) -> u64 {
        self.items.push(entry);
        self.dropped + (self.items.len() - 1) as u64
    }

    #[inline]
    fn pop(&mut self) -> Option<Entry<T>> {
        let entry = *self.items.get(self.head)?;
        self.head += 1;
        if self.head == self.items.len() {
            self.dropped += self.head as u64;
            self.items.clear();
            self.head = 0;
        } else if self.head >= DROP_TAKEN_AT && 2 * self.head >= self.items.len() {
            self.dropped += self.head as u64;
            self.items.drain(..self.head);
            self.head = 0;
        }
        Some(entry)
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.head == self.items.len()
    }
}

impl<E: Copy> Fifo<Option<E>> {
    /// Drops cancelled events from the front, so that the front is an event.
    #[inline]
    fn skip_cancelled(&mut self) {
        while self.front().is_some_and(|entry| entry.event.is_none()) {
            self.pop();
        }
    }
}

#[derive(Clone, Copy)]
enum Lane {
    Heap,
    Slot,
    Fifo,
    DueNow,
}

impl<E: Copy> EventQueue<E> {
    pub(super) fn new() -> EventQueue<E> {
        EventQueue {
            heap: BinaryHeap::new(),
            slot: None,
            fifo: Fifo::new(),
            due_now: Fifo::new(),
            sequence: 0,
            first: (NO_KEY, Lane::Heap),
        }
    }

    /// Schedules `event` at `at`, which the caller expects to stand as `order` says. An event
    /// that went into the [`Order::Rising`] lane comes with the ticket to cancel it.
    pub(super) fn push(&mut self, at: Nanos, event: E, order: Order) -> Option<Ticket> {
        self.sequence += 1;
        let key = key(at, self.sequence);
        let fits = |last: Option<u128>| last.is_none_or(|last| last <= key);
        let mut ticket = None;
        let lane = match order {
            Order::Rising if fits(self.fifo.back().map(|e| e.key)) => {
                let place = self.fifo.push(Entry {
                    key,
                    event: Some(event),
                });
                ticket = Some(Ticket(place));
                Lane::Fifo
            }
            Order::Now if fits(self.due_now.back().map(|e| e.key)) => {
                self.due_now.push(Entry { key, event });
                Lane::DueNow
            }
            _ if self.slot.is_none() => {
                self.slot = Some(Entry { key, event });
                Lane::Slot
            }
            _ => {
                self.heap.push(Entry { key, event });
                Lane::Heap
            }
        };
        // Keys are unique: an event before the first is first, and first in its own lane.
        if key < self.first.0 {
            self.first = (key, lane);
        }
        ticket
    }

    /// Takes back an event scheduled in the [`Order::Rising`] lane, if it is still there: it
    /// never comes out.
    pub(super) fn cancel(&mut self, ticket: Ticket) {
        let Some(i) = ticket.0.checked_sub(self.fifo.dropped) else {
            return;
        };
        let i = i as usize;
        if i < self.fifo.head || i >= self.fifo.items.len() {
            return;
        }
        self.fifo.items[i].event = None;
        if i == self.fifo.head {
            self.fifo.skip_cancelled();
            // Only the lane's front can have been the first event.
            if matches!(self.first.1, Lane::Fifo) {
                self.first = self.head();
            }
        }
    }

    /// The time of the next event.
    pub(super) fn next_time(&self) -> Option<Nanos> {
        let (key, _) = self.first;
        (key != NO_KEY).then(|| time_of(key))
    }

    /// Removes and returns the next event if it is due at `now` or before; else the time of
    /// the next event (what [`EventQueue::next_time`] says: the runner's loop asks for it
    /// each time nothing more is due). Inlined: that answer (a third of the calls) costs two
    /// comparisons, and only taking an event calls [`EventQueue::pop_first`].
    #[inline(always)]
    pub(super) fn pop_due(&mut self, now: Nanos) -> Result<E, Option<Nanos>> {
        let (key, lane) = self.first;
        // No event (`NO_KEY`) reads as one at the end of time.
        if time_of(key) > now || key == NO_KEY {
            return Err((key != NO_KEY).then(|| time_of(key)));
        }
        Ok(self.pop_first(lane))
    }

    /// Removes and returns the first event, at the front of `lane`.
    fn pop_first(&mut self, lane: Lane) -> E {
        let event = match lane {
            Lane::Heap => self.heap.pop().map(|entry| entry.event),
            Lane::Slot => self.slot.take().map(|entry| entry.event),
            Lane::Fifo => {
                let entry = self.fifo.pop();
                self.fifo.skip_cancelled();
                entry.and_then(|entry| entry.event)
            }
            Lane::DueNow => self.due_now.pop().map(|entry| entry.event),
        };
        self.first = self.head();
        event.expect("the head's lane holds it")
    }

    /// The earliest head of the four: its key ([`NO_KEY`] if all are empty), and whose it is.
    #[inline]
    fn head(&self) -> (u128, Lane) {
        let mut head = (self.heap.peek().map_or(NO_KEY, |e| e.key), Lane::Heap);
        let slot = self.slot.as_ref().map_or(NO_KEY, |e| e.key);
        if slot < head.0 {
            head = (slot, Lane::Slot);
        }
        let fifo = self.fifo.front().map_or(NO_KEY, |e| e.key);
        if fifo < head.0 {
            head = (fifo, Lane::Fifo);
        }
        let due_now = self.due_now.front().map_or(NO_KEY, |e| e.key);
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

    /// Cancelled events never come out, whenever they are cancelled (also after they came
    /// out, or twice); the others come out as from a single heap, and the next time is that
    /// of the next event not cancelled. Timeouts as the runner schedules them, a constant
    /// delay after now, keep the lane from emptying, so that taken entries are dropped from
    /// its front.
    #[test]
    fn cancelled_events_never_come_out() {
        use std::collections::BTreeMap;
        let mut rng = crate::Rng::seed_from_u64(5);
        let mut queue = EventQueue::new();
        // The events not cancelled, by (time, sequence).
        let mut reference: BTreeMap<(Nanos, u64), u32> = BTreeMap::new();
        let mut tickets = Vec::new();
        let (mut now, mut sequence, mut ordered_at) = (0u64, 0u64, 0u64);
        let (mut cancelled, mut last_dropped, mut dropped_from_front) = (0, 0, false);
        for event in 0..40_000u32 {
            now += rng.gen_range(0..3);
            let (at, order) = match rng.gen_range(0..8) {
                0..=2 => {
                    ordered_at = ordered_at.max(now + 40) + rng.gen_range(0..2);
                    // Now and then out of order after all.
                    let at = ordered_at - rng.gen_range(0..2).min(ordered_at);
                    (at, Order::Rising)
                }
                3..=5 => (now, Order::Now),
                _ => (now + rng.gen_range(0..60), Order::Any),
            };
            sequence += 1;
            if let Some(ticket) = queue.push(at, event, order) {
                tickets.push((ticket, (at, sequence)));
            }
            reference.insert((at, sequence), event);
            if !tickets.is_empty() && rng.gen_bool(0.3) {
                // Mostly the latest (a reply right after its request), else any.
                let k = match rng.gen_bool(0.7) {
                    true => tickets.len() - 1,
                    false => rng.gen_range(0..tickets.len()),
                };
                let (ticket, place) = tickets[k];
                queue.cancel(ticket);
                cancelled += usize::from(reference.remove(&place).is_some());
            }
            while rng.gen_bool(0.6) {
                let expected = match reference.first_key_value() {
                    Some((&(at, _), &e)) if at <= now => Ok(e),
                    next => Err(next.map(|(&(at, _), _)| at)),
                };
                assert_eq!(queue.pop_due(now), expected);
                if expected.is_err() {
                    break;
                }
                reference.pop_first();
            }
            assert_eq!(
                queue.next_time(),
                reference.first_key_value().map(|(&(at, _), _)| at)
            );
            dropped_from_front |= queue.fifo.dropped > last_dropped && !queue.fifo.is_empty();
            last_dropped = queue.fifo.dropped;
        }
        assert!(cancelled > 5000, "{cancelled}");
        assert!(dropped_from_front);
        assert!(queue.fifo.items.len() < 4 * DROP_TAKEN_AT);
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
