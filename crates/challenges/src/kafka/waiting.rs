//! Tables keyed by numbers the node hands out in order (forward ids, commit numbers), where
//! ordered maps did the work of a queue: [`Waiters`], the clients waiting for news, taken out
//! by number or oldest first; [`SeenIds`], the peer's forward ids already appended.

use std::collections::{BTreeSet, VecDeque};

/// Values by number, numbers inserted in increasing order: a queue with a slot per number
/// from the oldest still waiting (a slot emptied by [`Waiters::remove`] until the ones before
/// it go). Behaves as a `BTreeMap<u64, T>` of increasing inserts (tested against one).
#[derive(Debug)]
pub struct Waiters<T> {
    /// The number of `slots[0]`.
    base: u64,
    /// Never starts with an empty slot.
    slots: VecDeque<Option<T>>,
}

impl<T> Default for Waiters<T> {
    fn default() -> Self {
        Waiters {
            base: 0,
            slots: VecDeque::new(),
        }
    }
}

impl<T> Waiters<T> {
    /// Adds `value` as number `id`, above every number inserted before.
    pub fn insert(&mut self, id: u64, value: T) {
        if self.slots.is_empty() {
            self.base = id;
        }
        debug_assert!(
            id >= self.base + self.slots.len() as u64,
            "numbers out of order"
        );
        while self.base + (self.slots.len() as u64) < id {
            self.slots.push_back(None);
        }
        self.slots.push_back(Some(value));
    }

    /// Takes out number `id`, if it is waiting.
    pub fn remove(&mut self, id: u64) -> Option<T> {
        let slot = self
            .slots
            .get_mut(usize::try_from(id.checked_sub(self.base)?).ok()?)?;
        let value = slot.take();
        self.skip_empty();
        value
    }

    /// The oldest: its number and value.
    pub fn first(&self) -> Option<(u64, &T)> {
        let value = self.slots.front()?.as_ref()?;
        Some((self.base, value))
    }

    /// Takes out the oldest.
    pub fn pop_first(&mut self) -> Option<T> {
        let value = self.slots.pop_front()??;
        self.base += 1;
        self.skip_empty();
        Some(value)
    }

    fn skip_empty(&mut self) {
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.base += 1;
        }
    }
}

/// A set of numbers that mostly arrive in increasing order with no gap (a peer's forward ids,
/// when it forwards to this node alone): every number below `below` is in, and the ones
/// above it that came early are kept apart. Behaves as a `BTreeSet<u64>` (tested against
/// one).
#[derive(Debug, Default)]
pub struct SeenIds {
    below: u64,
    above: BTreeSet<u64>,
}

impl SeenIds {
    /// Adds `id`; whether it was new.
    pub fn insert(&mut self, id: u64) -> bool {
        if id < self.below {
            return false;
        }
        if id > self.below {
            return self.above.insert(id);
        }
        self.below += 1;
        while self.above.first() == Some(&self.below) {
            self.above.pop_first();
            self.below += 1;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glomers_node::rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;

    /// Random inserts (increasing, with gaps), removals (waiting numbers, gone ones, far ones)
    /// and pops of the oldest: the same answers as a `BTreeMap`.
    #[test]
    fn waiters_behave_as_a_map_of_increasing_numbers() {
        let mut rng = glomers_node::rand_chacha::ChaCha8Rng::seed_from_u64(21);
        for _ in 0..300 {
            let mut waiters = Waiters::default();
            let mut model = BTreeMap::new();
            let mut next = rng.gen_range(0..3u64);
            for step in 0..rng.gen_range(0..200) {
                match rng.gen_range(0..4) {
                    0 | 1 => {
                        waiters.insert(next, step);
                        model.insert(next, step);
                        next += rng.gen_range(1..3);
                    }
                    2 => {
                        let id = rng.gen_range(0..next + 3);
                        assert_eq!(waiters.remove(id), model.remove(&id));
                    }
                    _ => {
                        assert_eq!(waiters.pop_first(), model.pop_first().map(|(_, v)| v));
                    }
                }
                let first = model.first_key_value().map(|(&k, v)| (k, v));
                assert_eq!(waiters.first(), first);
            }
        }
    }

    /// Numbers mostly in order, some repeated, some early: the same answers as a `BTreeSet`.
    #[test]
    fn seen_ids_behave_as_a_set() {
        let mut rng = glomers_node::rand_chacha::ChaCha8Rng::seed_from_u64(22);
        for _ in 0..300 {
            let mut seen = SeenIds::default();
            let mut model = BTreeSet::new();
            let mut next = 0u64;
            for _ in 0..rng.gen_range(0..200) {
                let id = match rng.gen_range(0..4) {
                    0 | 1 => {
                        next += 1;
                        next - 1
                    }
                    2 => next.saturating_sub(rng.gen_range(0..5)),
                    _ => next + rng.gen_range(0..5),
                };
                assert_eq!(seen.insert(id), model.insert(id), "{id}");
            }
        }
    }
}
