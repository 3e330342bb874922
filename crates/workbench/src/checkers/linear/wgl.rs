//! The verdict for one key: a Wing-Gong-Lowe search with memoisation, as Porcupine (Lowe's
//! improvement of Wing and Gong's algorithm).
//!
//! The history's calls and returns form a linked list in history order. The search repeatedly
//! tries to linearize a call that precedes the first return still in the list: if the model
//! accepts the op and the pair (set of linearized ops, register state) was never reached
//! before, the op is lifted out of the list and the search starts over from the head; at a
//! return whose op is not linearized yet it backtracks. Every pair (linearized set, state) is
//! explored at most once, which is what makes the search fast in practice.
//!
//! Indeterminate ops have a call and no return: the search may linearize them wherever they are
//! a candidate, or never. The history is linearizable once every return is lifted.
//!
//! The memo hashes the linearized set incrementally (Zobrist hashing: one random word per op,
//! XORed in and out), so a step costs O(1) plus one set comparison on a hash hit; the sets are
//! stored in one flat arena rather than one allocation each.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::budget::{Budget, Exhausted, Meter};
use super::model::{State, NULL};
use super::ops::{Event, KeyHistory};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    NotLinearizable,
    Unknown(Exhausted),
}

const NIL: u32 = u32::MAX;

/// Decides whether one key's history is linearizable.
pub fn check(key: &KeyHistory, budget: &Budget) -> Verdict {
    match search(key, budget) {
        Ok(true) => Verdict::Linearizable,
        Ok(false) => Verdict::NotLinearizable,
        Err(why) => Verdict::Unknown(why),
    }
}

fn search(key: &KeyHistory, budget: &Budget) -> Result<bool, Exhausted> {
    let mut meter = Meter::new(budget);
    let mut list = EventList::new(key);
    let words = key.ops.len().div_ceil(64);
    let mut memo = Memo::new(words);
    let mut linearized = vec![0u64; words];
    let mut hash = 0u64;
    let zobrist: Vec<u64> = (0..key.ops.len() as u64).map(splitmix64).collect();
    let mut remaining_returns = key.ops.iter().filter(|op| op.is_ok()).count();
    // Ops lifted so far, with the state before each.
    let mut stack: Vec<(u32, State)> = Vec::new();
    let mut state = NULL;
    let mut node = list.first();

    while remaining_returns > 0 {
        meter.step()?;
        let event = if node == NIL {
            None
        } else {
            Some(list.event(node))
        };
        if let Some(Event::Call(op)) = event {
            let i = op as usize;
            let step = key.ops[i].action.step(state);
            // An indeterminate op that would leave the state as it is need not be linearized
            // here: not linearizing it keeps the same state and leaves it available for later.
            let dominated = !key.ops[i].is_ok() && step == Some(state);
            if let Some(next_state) = step.filter(|_| !dominated) {
                linearized[i / 64] |= 1 << (i % 64);
                let next_hash = hash ^ zobrist[i];
                if memo.insert(next_hash ^ state_key(next_state), &linearized, next_state) {
                    meter.charge(memo.entry_bytes())?;
                    stack.push((op, state));
                    state = next_state;
                    hash = next_hash;
                    list.lift(op);
                    if key.ops[i].is_ok() {
                        remaining_returns -= 1;
                    }
                    node = list.first();
                    continue;
                }
                linearized[i / 64] &= !(1 << (i % 64));
            }
            node = list.next(node);
        } else {
            // A return whose op is not linearized: undo the last choice and try the next.
            let Some((op, before)) = stack.pop() else {
                return Ok(false);
            };
            let i = op as usize;
            state = before;
            linearized[i / 64] &= !(1 << (i % 64));
            hash ^= zobrist[i];
            list.unlift(op);
            if key.ops[i].is_ok() {
                remaining_returns += 1;
            }
            node = list.next(list.call_node[i]);
        }
    }
    Ok(true)
}

/// The calls and returns as a doubly linked list over indices; node 0 is the head sentinel and
/// node `e + 1` is event `e`.
struct EventList<'a> {
    events: &'a [Event],
    next: Vec<u32>,
    prev: Vec<u32>,
    call_node: Vec<u32>,
    return_node: Vec<u32>,
}

impl<'a> EventList<'a> {
    fn new(key: &'a KeyHistory) -> EventList<'a> {
        let n = key.events.len() as u32;
        let mut call_node = vec![NIL; key.ops.len()];
        let mut return_node = vec![NIL; key.ops.len()];
        for (e, event) in key.events.iter().enumerate() {
            match *event {
                Event::Call(op) => call_node[op as usize] = e as u32 + 1,
                Event::Return(op) => return_node[op as usize] = e as u32 + 1,
            }
        }
        EventList {
            events: &key.events,
            next: (0..=n).map(|i| if i == n { NIL } else { i + 1 }).collect(),
            prev: (0..=n).map(|i| if i == 0 { NIL } else { i - 1 }).collect(),
            call_node,
            return_node,
        }
    }

    fn first(&self) -> u32 {
        self.next[0]
    }

    fn next(&self, node: u32) -> u32 {
        self.next[node as usize]
    }

    fn event(&self, node: u32) -> Event {
        self.events[node as usize - 1]
    }

    fn unlink(&mut self, node: u32) {
        let (p, n) = (self.prev[node as usize], self.next[node as usize]);
        self.next[p as usize] = n;
        if n != NIL {
            self.prev[n as usize] = p;
        }
    }

    /// Puts back a node unlinked last (its own prev/next still name its old neighbours).
    fn relink(&mut self, node: u32) {
        let (p, n) = (self.prev[node as usize], self.next[node as usize]);
        self.next[p as usize] = node;
        if n != NIL {
            self.prev[n as usize] = node;
        }
    }

    fn lift(&mut self, op: u32) {
        self.unlink(self.call_node[op as usize]);
        let ret = self.return_node[op as usize];
        if ret != NIL {
            self.unlink(ret);
        }
    }

    /// Undoes [`EventList::lift`]: in reverse order, so the list is exactly restored.
    fn unlift(&mut self, op: u32) {
        let ret = self.return_node[op as usize];
        if ret != NIL {
            self.relink(ret);
        }
        self.relink(self.call_node[op as usize]);
    }
}

/// The set of (linearized set, state) pairs already explored.
struct Memo {
    words: usize,
    /// Hash -> first entry with that hash; entries chain through `chain`.
    heads: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
    chain: Vec<u32>,
    states: Vec<State>,
    /// `words` words per entry.
    sets: Vec<u64>,
}

impl Memo {
    fn new(words: usize) -> Memo {
        Memo {
            words,
            heads: HashMap::default(),
            chain: Vec::new(),
            states: Vec::new(),
            sets: Vec::new(),
        }
    }

    /// Bytes one entry costs, the hash table's share included.
    fn entry_bytes(&self) -> usize {
        self.words * 8 + 4 + 4 + 16
    }

    /// Records the pair; false if it was already there.
    fn insert(&mut self, hash: u64, set: &[u64], state: State) -> bool {
        let words = self.words;
        let new = self.states.len() as u32;
        let mut at = match self.heads.get(&hash) {
            Some(&first) => first,
            None => {
                self.heads.insert(hash, new);
                NIL
            }
        };
        let mut last = NIL;
        while at != NIL {
            let i = at as usize;
            if self.states[i] == state && self.sets[i * words..(i + 1) * words] == *set {
                return false;
            }
            last = at;
            at = self.chain[i];
        }
        if last != NIL {
            self.chain[last as usize] = new;
        }
        self.chain.push(NIL);
        self.states.push(state);
        self.sets.extend_from_slice(set);
        true
    }
}

/// The memo's keys are already well-mixed hashes.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

fn state_key(state: State) -> u64 {
    splitmix64(u64::from(state) ^ 0x5851_f42d_4c95_7f2d)
}

/// A well-mixed 64-bit word from `x` (Steele, Lea and Flood's SplitMix64 finaliser).
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
